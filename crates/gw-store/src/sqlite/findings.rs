//! The `findings` table: upsert by fingerprint, filtered listing, status changes.

use gw_model::{Finding, FindingStatus};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::Result;
use crate::findings::{
    FindingFilter, MAX_EVIDENCE_EXCHANGE_IDS, StoredFinding, UpsertReport, kind_name, severity_rank,
};
use crate::sqlite::{Ctx, to_sql_int};

const INSERT_FINDING: &str = "
    INSERT INTO findings (
        id, fingerprint, kind, rule_id, severity_rank, status, first_seen_us, last_seen_us,
        count, actor_ip, actor_identity, body)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

/// Rewrites every column derived from the finding record, keeping `id` and `status_reason`.
const UPDATE_FINDING: &str = "
    UPDATE findings
       SET fingerprint = ?2, kind = ?3, rule_id = ?4, severity_rank = ?5, status = ?6,
           first_seen_us = ?7, last_seen_us = ?8, count = ?9, actor_ip = ?10,
           actor_identity = ?11, body = ?12
     WHERE id = ?1";

pub(super) fn upsert(
    conn: &mut Connection,
    location: &str,
    findings: &[Finding],
) -> Result<UpsertReport> {
    let cx = Ctx::new(location, "upsert_findings");
    let mut report = UpsertReport::default();
    if findings.is_empty() {
        return Ok(report);
    }
    if let Some(f) = findings
        .iter()
        .find(|f| f.id.is_empty() || f.fingerprint.is_empty())
    {
        return Err(cx.invalid_record(format!(
            "finding {:?} (fingerprint {:?}) needs both an id and a fingerprint",
            f.id, f.fingerprint
        )));
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| cx.sql(e))?;
    for incoming in findings {
        match absorbing_finding(&tx, cx, incoming)? {
            Some(mut stored) => {
                stored.absorb(incoming.clone(), MAX_EVIDENCE_EXCHANGE_IDS);
                write_finding(&tx, cx, UPDATE_FINDING, &stored)?;
                report.absorbed += 1;
            }
            None => {
                write_finding(&tx, cx, INSERT_FINDING, incoming)?;
                report.inserted += 1;
            }
        }
    }
    tx.commit().map_err(|e| cx.sql(e))?;
    Ok(report)
}

/// The stored finding a new hit folds into: the active one with its fingerprint, else a stored
/// finding with the very same id and fingerprint (a detector re-reporting a resolved finding).
/// The same id with another fingerprint is a conflict.
fn absorbing_finding(
    conn: &Connection,
    cx: Ctx<'_>,
    incoming: &Finding,
) -> Result<Option<Finding>> {
    let active: Option<(String, String)> = conn
        .prepare_cached(
            "SELECT id, body FROM findings WHERE fingerprint = ?1 AND status <> 'resolved'",
        )
        .and_then(|mut st| {
            st.query_row([&incoming.fingerprint], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(|e| cx.sql(e))?;
    if let Some((id, body)) = active {
        return decode(cx, &id, &body).map(Some);
    }
    let same_id: Option<(String, String)> = conn
        .prepare_cached("SELECT fingerprint, body FROM findings WHERE id = ?1")
        .and_then(|mut st| {
            st.query_row([&incoming.id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(|e| cx.sql(e))?;
    match same_id {
        None => Ok(None),
        Some((fingerprint, body)) if fingerprint == incoming.fingerprint => {
            decode(cx, &incoming.id, &body).map(Some)
        }
        Some((fingerprint, _)) => Err(cx.conflict(format!(
            "finding {} is already stored with fingerprint {fingerprint}, not {}",
            incoming.id, incoming.fingerprint
        ))),
    }
}

/// Runs `sql` (INSERT_FINDING or UPDATE_FINDING) with the finding's columns.
fn write_finding(conn: &Connection, cx: Ctx<'_>, sql: &str, f: &Finding) -> Result<()> {
    let body = serde_json::to_string(f).map_err(|e| cx.encode(format!("finding {}", f.id), e))?;
    let actor = f.actor.as_ref();
    conn.prepare_cached(sql)
        .and_then(|mut st| {
            st.execute(rusqlite::params![
                f.id,
                f.fingerprint,
                kind_name(f.kind),
                f.rule.id,
                severity_rank(f.severity),
                f.status.as_str(),
                f.first_seen.as_microsecond(),
                f.last_seen.as_microsecond(),
                to_sql_int(f.count),
                actor.and_then(|a| a.ip).map(|ip| ip.to_string()),
                actor.and_then(|a| a.identity.as_deref()),
                body,
            ])
        })
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(ref code, _)
                if code.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                cx.conflict(format!(
                    "finding {} conflicts with a stored finding (same id, or another active \
                     finding with fingerprint {})",
                    f.id, f.fingerprint
                ))
            }
            e => cx.sql(e),
        })?;
    Ok(())
}

pub(super) fn decode(cx: Ctx<'_>, id: &str, body: &str) -> Result<Finding> {
    serde_json::from_str(body).map_err(|e| cx.corrupt(format!("finding {id}"), e))
}

pub(super) fn list(
    conn: &Connection,
    location: &str,
    filter: &FindingFilter,
) -> Result<Vec<Finding>> {
    let cx = Ctx::new(location, "list_findings");
    let mut sql = String::from("SELECT id, body FROM findings WHERE 1 = 1");
    let mut args: Vec<Value> = Vec::new();
    if let Some(kind) = filter.kind {
        sql.push_str(" AND kind = ?");
        args.push(Value::Text(kind_name(kind).to_string()));
    }
    if let Some(severity) = filter.min_severity {
        sql.push_str(" AND severity_rank >= ?");
        args.push(Value::Integer(severity_rank(severity)));
    }
    if let Some(rule_id) = &filter.rule_id {
        sql.push_str(" AND rule_id = ?");
        args.push(Value::Text(rule_id.clone()));
    }
    if let Some(status) = filter.status {
        sql.push_str(" AND status = ?");
        args.push(Value::Text(status.as_str().to_string()));
    }
    // LIMIT -1 is SQLite for "no limit".
    sql.push_str(" ORDER BY last_seen_us DESC, id ASC LIMIT ? OFFSET ?");
    args.push(Value::Integer(filter.limit.map_or(-1, i64::from)));
    args.push(Value::Integer(i64::from(filter.offset)));

    let mut st = conn.prepare_cached(&sql).map_err(|e| cx.sql(e))?;
    let rows = st
        .query_map(rusqlite::params_from_iter(args), |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(|e| cx.sql(e))?;
    let mut findings = Vec::new();
    for row in rows {
        let (id, body) = row.map_err(|e| cx.sql(e))?;
        findings.push(decode(cx, &id, &body)?);
    }
    Ok(findings)
}

pub(super) fn get(conn: &Connection, location: &str, id: &str) -> Result<Option<StoredFinding>> {
    let cx = Ctx::new(location, "get_finding");
    let row: Option<(String, Option<String>)> = conn
        .prepare_cached("SELECT body, status_reason FROM findings WHERE id = ?1")
        .and_then(|mut st| {
            st.query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(|e| cx.sql(e))?;
    row.map(|(body, status_reason)| {
        Ok(StoredFinding {
            finding: decode(cx, id, &body)?,
            status_reason,
        })
    })
    .transpose()
}

pub(super) fn set_status(
    conn: &mut Connection,
    location: &str,
    id: &str,
    status: FindingStatus,
    reason: Option<&str>,
) -> Result<()> {
    let cx = Ctx::new(location, "set_finding_status");
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| cx.sql(e))?;
    let body: Option<String> = tx
        .query_row("SELECT body FROM findings WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|e| cx.sql(e))?;
    let Some(body) = body else {
        return Err(cx.not_found(format!("finding {id}")));
    };
    let mut finding = decode(cx, id, &body)?;
    if finding.status == FindingStatus::Resolved && status != FindingStatus::Resolved {
        let other: Option<String> = tx
            .query_row(
                "SELECT id FROM findings
                  WHERE fingerprint = ?1 AND status <> 'resolved' AND id <> ?2",
                [&finding.fingerprint, id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| cx.sql(e))?;
        if let Some(other) = other {
            return Err(cx.conflict(format!(
                "finding {id} cannot be reopened: finding {other} with the same fingerprint is active"
            )));
        }
    }
    finding.status = status;
    write_finding(&tx, cx, UPDATE_FINDING, &finding)?;
    tx.execute(
        "UPDATE findings SET status_reason = ?2 WHERE id = ?1",
        (id, reason),
    )
    .map_err(|e| cx.sql(e))?;
    tx.commit().map_err(|e| cx.sql(e))
}
