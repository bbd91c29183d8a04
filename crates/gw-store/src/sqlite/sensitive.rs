//! The `sensitive_field_stats` table.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::Result;
use crate::sensitive::{SensitiveFieldObservation, SensitiveLocation, StoredSensitiveField};
use crate::sqlite::{Ctx, from_sql_int, to_sql_int};

const MERGE: &str = "
    INSERT INTO sensitive_field_stats (
        endpoint_id, location, field, kind, status_class, count, first_seen_us, first_seen,
        last_seen_us, last_seen, sensitivity)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
    ON CONFLICT (endpoint_id, location, field, kind, status_class) DO UPDATE SET
        count = count + excluded.count,
        first_seen = CASE WHEN excluded.first_seen_us < first_seen_us
                          THEN excluded.first_seen ELSE first_seen END,
        first_seen_us = CASE WHEN excluded.first_seen_us < first_seen_us
                             THEN excluded.first_seen_us ELSE first_seen_us END,
        last_seen = CASE WHEN excluded.last_seen_us > last_seen_us
                         THEN excluded.last_seen ELSE last_seen END,
        last_seen_us = CASE WHEN excluded.last_seen_us > last_seen_us
                            THEN excluded.last_seen_us ELSE last_seen_us END,
        sensitivity = CASE WHEN excluded.sensitivity > sensitivity
                           THEN excluded.sensitivity ELSE sensitivity END";

pub(super) fn merge(
    conn: &mut Connection,
    location: &str,
    observations: &[SensitiveFieldObservation],
) -> Result<u64> {
    let cx = Ctx::new(location, "merge_sensitive_fields");
    if let Some(p) = observations
        .iter()
        .find_map(SensitiveFieldObservation::problem)
    {
        return Err(cx.invalid_record(p));
    }
    if observations.is_empty() {
        return Ok(0);
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| cx.sql(e))?;
    let mut new_fields = 0;
    {
        let mut exists = tx
            .prepare_cached(
                "SELECT 1 FROM sensitive_field_stats
                  WHERE endpoint_id = ?1 AND location = ?2 AND field = ?3 AND kind = ?4
                    AND status_class = ?5",
            )
            .map_err(|e| cx.sql(e))?;
        let mut merge = tx.prepare_cached(MERGE).map_err(|e| cx.sql(e))?;
        for o in observations {
            let class = o.status_class.as_deref().unwrap_or("");
            let key = (
                &o.endpoint_id,
                o.location.as_str(),
                &o.field,
                &o.kind,
                class,
            );
            let known = exists
                .query_row(key, |_| Ok(()))
                .optional()
                .map_err(|e| cx.sql(e))?
                .is_some();
            if !known {
                new_fields += 1;
            }
            merge
                .execute(rusqlite::params![
                    o.endpoint_id,
                    o.location.as_str(),
                    o.field,
                    o.kind,
                    class,
                    to_sql_int(o.count),
                    o.first_seen.as_microsecond(),
                    o.first_seen.to_string(),
                    o.last_seen.as_microsecond(),
                    o.last_seen.to_string(),
                    o.sensitivity,
                ])
                .map_err(|e| cx.sql(e))?;
        }
    }
    tx.commit().map_err(|e| cx.sql(e))?;
    Ok(new_fields)
}

pub(super) fn list(
    conn: &Connection,
    location: &str,
    endpoint_id: Option<&str>,
) -> Result<Vec<StoredSensitiveField>> {
    let cx = Ctx::new(location, "list_sensitive_fields");
    let mut st = conn
        .prepare_cached(
            "SELECT endpoint_id, location, field, kind, status_class, count, first_seen_us,
                    last_seen_us, sensitivity
               FROM sensitive_field_stats
              WHERE ?1 IS NULL OR endpoint_id = ?1
              ORDER BY endpoint_id, location, field, kind, status_class",
        )
        .map_err(|e| cx.sql(e))?;
    let rows = st
        .query_map([endpoint_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, i64>(8)?,
            ))
        })
        .map_err(|e| cx.sql(e))?;
    let mut out = Vec::new();
    for row in rows {
        let (endpoint_id, loc, field, kind, class, count, first, last, sensitivity) =
            row.map_err(|e| cx.sql(e))?;
        let what = |f: &str| format!("sensitive field {endpoint_id} {field} {f}");
        let location = SensitiveLocation::from_name(&loc)
            .ok_or_else(|| cx.corrupt(what("location"), format!("unknown location {loc:?}")))?;
        let sensitivity = u8::try_from(sensitivity)
            .map_err(|_| cx.corrupt(what("sensitivity"), format!("{sensitivity} is not 0..=3")))?;
        out.push(StoredSensitiveField {
            first_seen: cx.timestamp_us(&what("first_seen"), first)?,
            last_seen: cx.timestamp_us(&what("last_seen"), last)?,
            endpoint_id,
            location,
            field,
            kind,
            status_class: (!class.is_empty()).then_some(class),
            count: from_sql_int(count),
            sensitivity,
        });
    }
    Ok(out)
}
