//! The `inventory_endpoints` table.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::Result;
use crate::inventory::{InventoryWriteReport, StoredEndpoint};
use crate::sqlite::{Ctx, from_sql_int, to_sql_int};

pub(super) fn save(
    conn: &mut Connection,
    location: &str,
    upserts: &[StoredEndpoint],
    removed: &[String],
) -> Result<InventoryWriteReport> {
    let cx = Ctx::new(location, "save_endpoints");
    for e in upserts {
        if e.id.is_empty() {
            return Err(cx.invalid_record(format!(
                "endpoint {} {} has an empty id",
                e.method, e.template
            )));
        }
        if !e.state.is_object() {
            return Err(
                cx.invalid_record(format!("endpoint {}: state must be a JSON object", e.id))
            );
        }
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| cx.sql(e))?;
    let mut report = InventoryWriteReport::default();
    {
        let mut upsert = tx
            .prepare_cached(
                "INSERT INTO inventory_endpoints
                    (id, api, host, method, template, first_seen_us, last_seen_us, calls, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (id) DO UPDATE SET
                    api = excluded.api, host = excluded.host, method = excluded.method,
                    template = excluded.template, first_seen_us = excluded.first_seen_us,
                    last_seen_us = excluded.last_seen_us, calls = excluded.calls,
                    state = excluded.state",
            )
            .map_err(|e| cx.sql(e))?;
        for e in upserts {
            let state = serde_json::to_string(&e.state)
                .map_err(|err| cx.encode(format!("endpoint {} state", e.id), err))?;
            upsert
                .execute(rusqlite::params![
                    e.id,
                    e.api,
                    e.host,
                    e.method,
                    e.template,
                    e.first_seen.map(|t| t.as_microsecond()),
                    e.last_seen.map(|t| t.as_microsecond()),
                    to_sql_int(e.calls),
                    state,
                ])
                .map_err(|err| cx.sql(err))?;
            report.upserted += 1;
        }
        let mut delete = tx
            .prepare_cached("DELETE FROM inventory_endpoints WHERE id = ?1")
            .map_err(|e| cx.sql(e))?;
        for id in removed {
            report.removed += delete.execute([id]).map_err(|e| cx.sql(e))? as u64;
        }
    }
    tx.commit().map_err(|e| cx.sql(e))?;
    Ok(report)
}

pub(super) fn load(
    conn: &Connection,
    location: &str,
    api: Option<&str>,
) -> Result<Vec<StoredEndpoint>> {
    let cx = Ctx::new(location, "load_endpoints");
    let mut st = conn
        .prepare_cached(
            "SELECT id, api, host, method, template, first_seen_us, last_seen_us, calls, state
               FROM inventory_endpoints
              WHERE ?1 IS NULL OR api = ?1
              ORDER BY api, host, template, method, id",
        )
        .map_err(|e| cx.sql(e))?;
    let rows = st
        .query_map([api], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<i64>>(5)?,
                r.get::<_, Option<i64>>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, String>(8)?,
            ))
        })
        .map_err(|e| cx.sql(e))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, api, host, method, template, first, last, calls, state) =
            row.map_err(|e| cx.sql(e))?;
        let what = |field: &str| format!("endpoint {id} {field}");
        let state: serde_json::Value =
            serde_json::from_str(&state).map_err(|e| cx.corrupt(what("state"), e))?;
        let first_seen = first
            .map(|us| cx.timestamp_us(&what("first_seen"), us))
            .transpose()?;
        let last_seen = last
            .map(|us| cx.timestamp_us(&what("last_seen"), us))
            .transpose()?;
        out.push(StoredEndpoint {
            id,
            api,
            host,
            method,
            template,
            first_seen,
            last_seen,
            calls: from_sql_int(calls),
            state,
        });
    }
    Ok(out)
}
