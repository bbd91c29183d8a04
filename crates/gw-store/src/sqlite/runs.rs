//! The `ingest_runs` table.

use std::collections::BTreeMap;

use rusqlite::{Connection, Row, TransactionBehavior};

use crate::error::Result;
use crate::run::{RunId, RunRecord, RunStart, RunSummary};
use crate::sqlite::{Ctx, from_sql_int, to_sql_int};

pub(super) fn begin(conn: &Connection, location: &str, start: &RunStart) -> Result<RunId> {
    let cx = Ctx::new(location, "begin_run");
    let inputs = serde_json::to_string(&start.inputs).map_err(|e| cx.encode("run inputs", e))?;
    conn.execute(
        "INSERT INTO ingest_runs (command, inputs, started_at) VALUES (?1, ?2, ?3)",
        (&start.command, &inputs, start.started_at.to_string()),
    )
    .map_err(|e| cx.sql(e))?;
    Ok(RunId(conn.last_insert_rowid()))
}

pub(super) fn finish(
    conn: &mut Connection,
    location: &str,
    id: RunId,
    summary: &RunSummary,
) -> Result<()> {
    let cx = Ctx::new(location, "finish_run");
    let rejected_by_reason = serde_json::to_string(&summary.rejected_by_reason)
        .map_err(|e| cx.encode("rejected_by_reason", e))?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| cx.sql(e))?;
    let updated = tx
        .execute(
            "UPDATE ingest_runs
                SET finished_at = ?2, records_read = ?3, accepted = ?4, rejected = ?5,
                    rejected_by_reason = ?6, bytes = ?7, elapsed_ms = ?8, findings = ?9,
                    first_event_at = ?10, last_event_at = ?11
              WHERE id = ?1 AND finished_at IS NULL",
            rusqlite::params![
                id.0,
                summary.finished_at.to_string(),
                to_sql_int(summary.records_read),
                to_sql_int(summary.accepted),
                to_sql_int(summary.rejected()),
                rejected_by_reason,
                to_sql_int(summary.bytes),
                to_sql_int(summary.elapsed_ms),
                to_sql_int(summary.findings),
                summary.first_event.map(|t| t.to_string()),
                summary.last_event.map(|t| t.to_string()),
            ],
        )
        .map_err(|e| cx.sql(e))?;
    if updated == 0 {
        let exists: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM ingest_runs WHERE id = ?1)",
                [id.0],
                |r| r.get(0),
            )
            .map_err(|e| cx.sql(e))?;
        return Err(if exists {
            cx.conflict(format!("{id} is already finished"))
        } else {
            cx.not_found(id.to_string())
        });
    }
    tx.commit().map_err(|e| cx.sql(e))
}

pub(super) fn list(conn: &Connection, location: &str, limit: u32) -> Result<Vec<RunRecord>> {
    let cx = Ctx::new(location, "list_runs");
    let mut st = conn
        .prepare_cached(
            "SELECT id, command, inputs, started_at, finished_at, records_read, accepted,
                    rejected_by_reason, bytes, elapsed_ms, findings, first_event_at, last_event_at
               FROM ingest_runs ORDER BY id DESC LIMIT ?1",
        )
        .map_err(|e| cx.sql(e))?;
    let rows = st
        .query_map([i64::from(limit)], StoredRun::from_row)
        .map_err(|e| cx.sql(e))?;
    let mut runs = Vec::new();
    for row in rows {
        runs.push(row.map_err(|e| cx.sql(e))?.decode(cx)?);
    }
    Ok(runs)
}

/// A row as SQLite returns it, before the JSON and time columns are decoded.
struct StoredRun {
    id: i64,
    command: String,
    inputs: String,
    started_at: String,
    finished_at: Option<String>,
    records_read: Option<i64>,
    accepted: Option<i64>,
    rejected_by_reason: Option<String>,
    bytes: Option<i64>,
    elapsed_ms: Option<i64>,
    findings: Option<i64>,
    first_event_at: Option<String>,
    last_event_at: Option<String>,
}

impl StoredRun {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<StoredRun> {
        Ok(StoredRun {
            id: r.get(0)?,
            command: r.get(1)?,
            inputs: r.get(2)?,
            started_at: r.get(3)?,
            finished_at: r.get(4)?,
            records_read: r.get(5)?,
            accepted: r.get(6)?,
            rejected_by_reason: r.get(7)?,
            bytes: r.get(8)?,
            elapsed_ms: r.get(9)?,
            findings: r.get(10)?,
            first_event_at: r.get(11)?,
            last_event_at: r.get(12)?,
        })
    }

    fn decode(self, cx: Ctx<'_>) -> Result<RunRecord> {
        let id = RunId(self.id);
        let what = |field: &str| format!("{id} {field}");
        let inputs: Vec<String> =
            serde_json::from_str(&self.inputs).map_err(|e| cx.corrupt(what("inputs"), e))?;
        let start = RunStart {
            command: self.command,
            inputs,
            started_at: cx.timestamp_text(&what("started_at"), &self.started_at)?,
        };
        let summary = match self.finished_at {
            None => None,
            Some(finished_at) => {
                let rejected_by_reason: BTreeMap<String, u64> = match self.rejected_by_reason {
                    None => BTreeMap::new(),
                    Some(json) => serde_json::from_str(&json)
                        .map_err(|e| cx.corrupt(what("rejected_by_reason"), e))?,
                };
                let event = |field: &str, text: Option<String>| {
                    text.map(|t| cx.timestamp_text(&what(field), &t))
                        .transpose()
                };
                Some(RunSummary {
                    finished_at: cx.timestamp_text(&what("finished_at"), &finished_at)?,
                    records_read: from_sql_int(self.records_read.unwrap_or(0)),
                    accepted: from_sql_int(self.accepted.unwrap_or(0)),
                    rejected_by_reason,
                    bytes: from_sql_int(self.bytes.unwrap_or(0)),
                    elapsed_ms: from_sql_int(self.elapsed_ms.unwrap_or(0)),
                    findings: from_sql_int(self.findings.unwrap_or(0)),
                    first_event: event("first_event_at", self.first_event_at)?,
                    last_event: event("last_event_at", self.last_event_at)?,
                })
            }
        };
        Ok(RunRecord { id, start, summary })
    }
}
