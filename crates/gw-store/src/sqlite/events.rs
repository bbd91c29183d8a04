//! Detection events: `event_records`, `event_detections`, `event_alerts`.

use std::fmt::Write as _;

use gw_model::{Detection, EVENT_SCHEMA, Event, EventActor, EventEndpoint};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::Result;
use crate::events::EventFilter;
use crate::sqlite::{Ctx, from_sql_int};

/// Inserts an event row, or merges into the stored one: the earlier time wins, a known
/// endpoint and known actor fields are kept, unknown ones are filled in.
const UPSERT_EVENT: &str = "
    INSERT INTO event_records (
        exchange_id, observed_at, observed_us, endpoint_id, endpoint_host, endpoint_method,
        endpoint_template, actor_ip, actor_identity, actor_user_agent)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
    ON CONFLICT (exchange_id) DO UPDATE SET
        observed_at = CASE WHEN excluded.observed_us < observed_us
                           THEN excluded.observed_at ELSE observed_at END,
        observed_us = CASE WHEN excluded.observed_us < observed_us
                           THEN excluded.observed_us ELSE observed_us END,
        endpoint_host = CASE WHEN endpoint_id IS NULL
                             THEN excluded.endpoint_host ELSE endpoint_host END,
        endpoint_method = CASE WHEN endpoint_id IS NULL
                               THEN excluded.endpoint_method ELSE endpoint_method END,
        endpoint_template = CASE WHEN endpoint_id IS NULL
                                 THEN excluded.endpoint_template ELSE endpoint_template END,
        endpoint_id = COALESCE(endpoint_id, excluded.endpoint_id),
        actor_ip = COALESCE(actor_ip, excluded.actor_ip),
        actor_identity = COALESCE(actor_identity, excluded.actor_identity),
        actor_user_agent = COALESCE(actor_user_agent, excluded.actor_user_agent)";

/// One detection per (exchange, rule, location): the higher confidence and the first
/// fragment are kept, as [`Event::merge`] does.
const UPSERT_DETECTION: &str = "
    INSERT INTO event_detections (exchange_id, rule_id, location, fragment, confidence)
    VALUES (?1, ?2, ?3, ?4, ?5)
    ON CONFLICT (exchange_id, rule_id, location) DO UPDATE SET
        confidence = CASE WHEN excluded.confidence > confidence
                          THEN excluded.confidence ELSE confidence END,
        fragment = COALESCE(fragment, excluded.fragment)";

const INSERT_ALERT: &str = "
    INSERT INTO event_alerts (alert_id, exchange_id) VALUES (?1, ?2)
    ON CONFLICT (alert_id, exchange_id) DO NOTHING";

const EVENT_COLUMNS: &str = "r.exchange_id, r.observed_at, r.endpoint_id, r.endpoint_host, \
     r.endpoint_method, r.endpoint_template, r.actor_ip, r.actor_identity, r.actor_user_agent";

/// Why an event cannot be stored, if it cannot.
fn problem(i: usize, e: &Event) -> Option<String> {
    if e.exchange_id.is_empty() {
        return Some(format!("event {i} of the batch has an empty exchange_id"));
    }
    for d in &e.detections {
        if d.rule_id.is_empty() || d.location.is_empty() {
            return Some(format!(
                "event {}: a detection needs a rule_id and a location (got {:?} at {:?})",
                e.exchange_id, d.rule_id, d.location
            ));
        }
        if !(0.0..=1.0).contains(&d.confidence) {
            return Some(format!(
                "event {}: detection {} at {}: confidence {} is outside 0..=1",
                e.exchange_id, d.rule_id, d.location, d.confidence
            ));
        }
    }
    if e.alert_ids.iter().any(String::is_empty) {
        return Some(format!("event {}: an alert id is empty", e.exchange_id));
    }
    if let Some(ep) = &e.endpoint
        && ep.id.is_empty()
    {
        return Some(format!("event {}: the endpoint id is empty", e.exchange_id));
    }
    None
}

pub(super) fn write(conn: &mut Connection, location: &str, events: &[Event]) -> Result<u64> {
    let cx = Ctx::new(location, "write_events");
    if let Some(p) = events.iter().enumerate().find_map(|(i, e)| problem(i, e)) {
        return Err(cx.invalid_record(p));
    }
    if events.is_empty() {
        return Ok(0);
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| cx.sql(e))?;
    let mut new_events = 0;
    {
        let mut exists = tx
            .prepare_cached("SELECT 1 FROM event_records WHERE exchange_id = ?1")
            .map_err(|e| cx.sql(e))?;
        let mut upsert = tx.prepare_cached(UPSERT_EVENT).map_err(|e| cx.sql(e))?;
        let mut detection = tx.prepare_cached(UPSERT_DETECTION).map_err(|e| cx.sql(e))?;
        let mut alert = tx.prepare_cached(INSERT_ALERT).map_err(|e| cx.sql(e))?;
        for e in events {
            let known = exists
                .query_row([&e.exchange_id], |_| Ok(()))
                .optional()
                .map_err(|err| cx.sql(err))?
                .is_some();
            if !known {
                new_events += 1;
            }
            let ep = e.endpoint.as_ref();
            upsert
                .execute(rusqlite::params![
                    e.exchange_id,
                    e.observed_at.to_string(),
                    e.observed_at.as_microsecond(),
                    ep.map(|p| &p.id),
                    ep.map(|p| &p.host),
                    ep.map(|p| &p.method),
                    ep.map(|p| &p.template),
                    e.actor.ip.map(|ip| ip.to_string()),
                    e.actor.identity,
                    e.actor.user_agent,
                ])
                .map_err(|err| cx.sql(err))?;
            for d in &e.detections {
                detection
                    .execute(rusqlite::params![
                        e.exchange_id,
                        d.rule_id,
                        d.location,
                        d.fragment,
                        d.confidence
                    ])
                    .map_err(|err| cx.sql(err))?;
            }
            for id in &e.alert_ids {
                alert
                    .execute((id, &e.exchange_id))
                    .map_err(|err| cx.sql(err))?;
            }
        }
    }
    tx.commit().map_err(|e| cx.sql(e))?;
    Ok(new_events)
}

/// The WHERE clause and arguments of a filter over `event_records r`.
fn filter_clause(filter: &EventFilter) -> (String, Vec<Value>) {
    let mut sql = String::from(" WHERE 1 = 1");
    let mut args = Vec::new();
    let text = |s: &str| Value::Text(s.to_string());
    if let Some(alert) = &filter.alert_id {
        sql.push_str(
            " AND r.exchange_id IN (SELECT exchange_id FROM event_alerts WHERE alert_id = ?)",
        );
        args.push(text(alert));
    }
    if let Some(rule) = &filter.rule_id {
        sql.push_str(
            " AND r.exchange_id IN (SELECT exchange_id FROM event_detections WHERE rule_id = ?)",
        );
        args.push(text(rule));
    }
    if let Some(ip) = filter.ip {
        sql.push_str(" AND r.actor_ip = ?");
        args.push(Value::Text(ip.to_string()));
    }
    if let Some(identity) = &filter.identity {
        sql.push_str(" AND r.actor_identity = ?");
        args.push(text(identity));
    }
    if let Some(endpoint) = &filter.endpoint_id {
        sql.push_str(" AND r.endpoint_id = ?");
        args.push(text(endpoint));
    }
    if let Some(since) = filter.since {
        sql.push_str(" AND r.observed_us >= ?");
        args.push(Value::Integer(since.as_microsecond()));
    }
    if let Some(until) = filter.until {
        sql.push_str(" AND r.observed_us < ?");
        args.push(Value::Integer(until.as_microsecond()));
    }
    (sql, args)
}

pub(super) fn list(conn: &Connection, location: &str, filter: &EventFilter) -> Result<Vec<Event>> {
    let cx = Ctx::new(location, "list_events");
    let (clause, mut args) = filter_clause(filter);
    let mut sql = format!("SELECT {EVENT_COLUMNS} FROM event_records r{clause}");
    // LIMIT -1 is SQLite for "no limit".
    let _ = write!(
        sql,
        " ORDER BY r.observed_us, r.exchange_id LIMIT ? OFFSET ?"
    );
    args.push(Value::Integer(filter.limit.map_or(-1, i64::from)));
    args.push(Value::Integer(i64::from(filter.offset)));
    load(conn, cx, &sql, rusqlite::params_from_iter(args))
}

pub(super) fn count(conn: &Connection, location: &str, filter: &EventFilter) -> Result<u64> {
    let cx = Ctx::new(location, "count_events");
    let (clause, args) = filter_clause(filter);
    let sql = format!("SELECT COUNT(*) FROM event_records r{clause}");
    conn.prepare_cached(&sql)
        .and_then(|mut st| st.query_row(rusqlite::params_from_iter(args), |r| r.get(0)))
        .map(from_sql_int)
        .map_err(|e| cx.sql(e))
}

/// Events selected by `sql` (which must select [`EVENT_COLUMNS`]), with their detections and
/// alert ids.
pub(super) fn load<P: rusqlite::Params>(
    conn: &Connection,
    cx: Ctx<'_>,
    sql: &str,
    params: P,
) -> Result<Vec<Event>> {
    let mut st = conn.prepare_cached(sql).map_err(|e| cx.sql(e))?;
    type Row = (
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows = st
        .query_map(params, |r| -> rusqlite::Result<Row> {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
            ))
        })
        .map_err(|e| cx.sql(e))?;
    let mut detections = conn
        .prepare_cached(
            "SELECT rule_id, location, fragment, confidence FROM event_detections
              WHERE exchange_id = ?1 ORDER BY rule_id, location",
        )
        .map_err(|e| cx.sql(e))?;
    let mut alerts = conn
        .prepare_cached(
            "SELECT alert_id FROM event_alerts WHERE exchange_id = ?1 ORDER BY alert_id",
        )
        .map_err(|e| cx.sql(e))?;
    let mut out = Vec::new();
    for row in rows {
        let (exchange_id, observed_at, ep_id, host, method, template, ip, identity, ua) =
            row.map_err(|e| cx.sql(e))?;
        let what = |field: &str| format!("event {exchange_id} {field}");
        let ip = ip
            .map(|text| {
                text.parse()
                    .map_err(|e| cx.corrupt(what("actor_ip"), format!("{text:?}: {e}")))
            })
            .transpose()?;
        let endpoint = ep_id.map(|id| EventEndpoint {
            id,
            host: host.unwrap_or_default(),
            method: method.unwrap_or_default(),
            template: template.unwrap_or_default(),
        });
        let found: Vec<Detection> = detections
            .query_map([&exchange_id], |r| {
                Ok(Detection {
                    rule_id: r.get(0)?,
                    location: r.get(1)?,
                    fragment: r.get(2)?,
                    confidence: r.get(3)?,
                })
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| cx.sql(e))?;
        let alert_ids: Vec<String> = alerts
            .query_map([&exchange_id], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| cx.sql(e))?;
        out.push(Event {
            schema: EVENT_SCHEMA.to_string(),
            observed_at: cx.timestamp_text(&what("observed_at"), &observed_at)?,
            exchange_id,
            endpoint,
            actor: EventActor {
                ip,
                identity,
                user_agent: ua,
            },
            detections: found,
            alert_ids,
        });
    }
    Ok(out)
}

/// Events of a client IP (as actor, or through their exchange), oldest first; for exports.
pub(super) fn by_ip(conn: &Connection, cx: Ctx<'_>, ip: &str) -> Result<Vec<Event>> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM event_records r
          WHERE r.actor_ip = ?1
             OR r.exchange_id IN (SELECT id FROM exchanges WHERE client_ip = ?1 OR resolved_ip = ?1)
          ORDER BY r.observed_us, r.exchange_id"
    );
    load(conn, cx, &sql, [ip])
}
