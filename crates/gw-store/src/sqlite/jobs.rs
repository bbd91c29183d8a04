//! Retention (event-time ageing) and privacy (erasure, export) over the stored data.

use std::collections::HashSet;

use gw_model::Finding;
use jiff::Timestamp;
use rusqlite::{Connection, Row, Transaction, TransactionBehavior};
use serde_json::{Value, json};

use crate::error::Result;
use crate::privacy::PrivacyCounts;
use crate::retention::{RetentionPolicy, RetentionReport};
use crate::sqlite::findings::decode;
use crate::sqlite::{Ctx, from_sql_int};

pub(super) fn apply_retention(
    conn: &mut Connection,
    location: &str,
    now: Timestamp,
    policy: &RetentionPolicy,
) -> Result<RetentionReport> {
    policy.validate()?;
    let cx = Ctx::new(location, "apply_retention");
    let ip_cutoff = policy.client_ip_cutoff_us(now);
    // A body never outlives its exchange, whichever limit is shorter.
    let body_cutoff = policy.body_cutoff_us(now).max(ip_cutoff);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| cx.sql(e))?;
    let bodies_deleted = tx
        .execute(
            "DELETE FROM exchange_bodies WHERE observed_us < ?1",
            [body_cutoff],
        )
        .map_err(|e| cx.sql(e))?;
    let exchanges_deleted = tx
        .execute("DELETE FROM exchanges WHERE observed_us < ?1", [ip_cutoff])
        .map_err(|e| cx.sql(e))?;
    // Detections and alert links go with their event (ON DELETE CASCADE).
    let events_deleted = tx
        .execute(
            "DELETE FROM event_records WHERE observed_us < ?1",
            [ip_cutoff],
        )
        .map_err(|e| cx.sql(e))?;
    let stale = findings_where(
        &tx,
        cx,
        "actor_ip IS NOT NULL AND last_seen_us < ?1",
        [ip_cutoff],
    )?;
    let finding_ips_cleared = stale.len() as u64;
    for mut finding in stale {
        if let Some(actor) = finding.actor.as_mut() {
            actor.ip = None;
        }
        rewrite_finding(&tx, cx, &finding)?;
    }
    tx.commit().map_err(|e| cx.sql(e))?;
    Ok(RetentionReport {
        bodies_deleted: bodies_deleted as u64,
        exchanges_deleted: exchanges_deleted as u64,
        finding_ips_cleared,
        events_deleted: events_deleted as u64,
    })
}

/// Whose data an erasure request is about.
pub(super) enum Subject<'a> {
    /// Canonical text form of a client IP (direct peer or resolved).
    Ip(&'a str),
    /// A principal, consumer id or name, or credential fingerprint.
    Identity(&'a str),
}

impl Subject<'_> {
    fn exchange_match(&self) -> &'static str {
        match self {
            Subject::Ip(_) => "client_ip = ?1 OR resolved_ip = ?1",
            Subject::Identity(_) => {
                "principal = ?1 OR consumer_id = ?1 OR consumer_name = ?1 OR credential_fp = ?1"
            }
        }
    }

    fn event_match(&self) -> &'static str {
        match self {
            Subject::Ip(_) => "actor_ip = ?1",
            Subject::Identity(_) => "actor_identity = ?1",
        }
    }

    fn value(&self) -> &str {
        match self {
            Subject::Ip(v) | Subject::Identity(v) => v,
        }
    }

    /// Clears the subject from a finding's actor; true when there was something to clear.
    fn clear_actor(&self, finding: &mut Finding) -> bool {
        let Some(actor) = finding.actor.as_mut() else {
            return false;
        };
        match self {
            Subject::Ip(ip) => {
                let hit = actor.ip.is_some_and(|a| a.to_string() == *ip);
                if hit {
                    actor.ip = None;
                }
                hit
            }
            Subject::Identity(id) => {
                let hit = actor.identity.as_deref() == Some(*id);
                if hit {
                    actor.identity = None;
                }
                hit
            }
        }
    }
}

/// Deletes the subject's exchanges and bodies, and scrubs findings that name the subject or
/// carry evidence from the deleted exchanges. One transaction.
pub(super) fn erase(
    conn: &mut Connection,
    location: &str,
    subject: Subject<'_>,
) -> Result<PrivacyCounts> {
    let cx = Ctx::new(
        location,
        match subject {
            Subject::Ip(_) => "delete_by_ip",
            Subject::Identity(_) => "delete_by_identity",
        },
    );
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| cx.sql(e))?;
    let erased: HashSet<String> = {
        let mut st = tx
            .prepare(&format!(
                "SELECT id FROM exchanges WHERE {}",
                subject.exchange_match()
            ))
            .map_err(|e| cx.sql(e))?;
        let ids = st
            .query_map([subject.value()], |r| r.get::<_, String>(0))
            .map_err(|e| cx.sql(e))?;
        ids.collect::<rusqlite::Result<_>>()
            .map_err(|e| cx.sql(e))?
    };
    // Before the exchanges go: an event is also the subject's when its exchange was.
    let events_deleted = tx
        .execute(
            &format!(
                "DELETE FROM event_records
                  WHERE {} OR exchange_id IN (SELECT id FROM exchanges WHERE {})",
                subject.event_match(),
                subject.exchange_match()
            ),
            [subject.value()],
        )
        .map_err(|e| cx.sql(e))?;
    let bodies_deleted = tx
        .execute(
            &format!(
                "DELETE FROM exchange_bodies WHERE exchange_id IN (SELECT id FROM exchanges WHERE {})",
                subject.exchange_match()
            ),
            [subject.value()],
        )
        .map_err(|e| cx.sql(e))?;
    let exchanges_deleted = tx
        .execute(
            &format!("DELETE FROM exchanges WHERE {}", subject.exchange_match()),
            [subject.value()],
        )
        .map_err(|e| cx.sql(e))?;

    // Findings are few next to exchanges; decoding each is simpler than matching JSON in SQL
    // and behaves the same on every back-end.
    let mut findings_redacted = 0;
    for mut finding in findings_where(&tx, cx, "1 = 1", ())? {
        let mut changed = subject.clear_actor(&mut finding);
        let evidence = &mut finding.evidence;
        let (ids, samples) = (evidence.exchange_ids.len(), evidence.samples.len());
        evidence.exchange_ids.retain(|id| !erased.contains(id));
        evidence
            .samples
            .retain(|s| !s.exchange_id.as_ref().is_some_and(|id| erased.contains(id)));
        changed |= ids != evidence.exchange_ids.len() || samples != evidence.samples.len();
        if changed {
            rewrite_finding(&tx, cx, &finding)?;
            findings_redacted += 1;
        }
    }
    tx.commit().map_err(|e| cx.sql(e))?;
    Ok(PrivacyCounts {
        exchanges_deleted: exchanges_deleted as u64,
        bodies_deleted: bodies_deleted as u64,
        findings_redacted,
        events_deleted: events_deleted as u64,
    })
}

/// Findings matching a WHERE clause, decoded, in id order.
fn findings_where<P: rusqlite::Params>(
    tx: &Transaction<'_>,
    cx: Ctx<'_>,
    clause: &str,
    params: P,
) -> Result<Vec<Finding>> {
    let mut st = tx
        .prepare(&format!(
            "SELECT id, body FROM findings WHERE {clause} ORDER BY id"
        ))
        .map_err(|e| cx.sql(e))?;
    let rows = st
        .query_map(params, |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(|e| cx.sql(e))?;
    let mut found = Vec::new();
    for row in rows {
        let (id, body) = row.map_err(|e| cx.sql(e))?;
        found.push(decode(cx, &id, &body)?);
    }
    Ok(found)
}

/// Writes back a finding changed by a job: the record and the actor columns copied from it.
fn rewrite_finding(tx: &Transaction<'_>, cx: Ctx<'_>, f: &Finding) -> Result<()> {
    let body = serde_json::to_string(f).map_err(|e| cx.encode(format!("finding {}", f.id), e))?;
    let actor = f.actor.as_ref();
    tx.execute(
        "UPDATE findings SET actor_ip = ?2, actor_identity = ?3, body = ?4 WHERE id = ?1",
        (
            &f.id,
            actor.and_then(|a| a.ip).map(|ip| ip.to_string()),
            actor.and_then(|a| a.identity.as_deref()),
            body,
        ),
    )
    .map_err(|e| cx.sql(e))?;
    Ok(())
}

pub(super) fn export_by_ip(conn: &Connection, location: &str, ip: &str) -> Result<Vec<Value>> {
    let cx = Ctx::new(location, "export_by_ip");
    let mut out = Vec::new();
    {
        let mut st = conn
            .prepare(
                "SELECT e.id, e.observed_at, e.source_kind, e.method, e.host, e.path, e.query,
                        e.status, e.client_ip, e.resolved_ip, e.principal, e.consumer_id,
                        e.consumer_name, e.credential_fp, e.user_agent, e.request_size,
                        e.response_size, e.duration_ms, b.request_body, b.response_body
                   FROM exchanges e LEFT JOIN exchange_bodies b ON b.exchange_id = e.id
                  WHERE e.client_ip = ?1 OR e.resolved_ip = ?1
                  ORDER BY e.observed_us, e.id",
            )
            .map_err(|e| cx.sql(e))?;
        let rows = st.query_map([ip], exchange_row).map_err(|e| cx.sql(e))?;
        for row in rows {
            let (mut exchange, bodies) = row.map_err(|e| cx.sql(e))?;
            for (side, body) in ["request_body", "response_body"].into_iter().zip(bodies) {
                let value = match body {
                    None => Value::Null,
                    Some(json) => serde_json::from_str(&json).map_err(|e| {
                        cx.corrupt(format!("{side} of exchange {}", exchange["id"]), e)
                    })?,
                };
                exchange[side] = value;
            }
            out.push(json!({ "record": "exchange", "exchange": exchange }));
        }
    }
    for event in crate::sqlite::events::by_ip(conn, cx, ip)? {
        let event = serde_json::to_value(&event)
            .map_err(|e| cx.encode(format!("event {}", event.exchange_id), e))?;
        out.push(json!({ "record": "event", "event": event }));
    }
    let mut st = conn
        .prepare(
            "SELECT id, body, status_reason FROM findings WHERE actor_ip = ?1
              ORDER BY first_seen_us, id",
        )
        .map_err(|e| cx.sql(e))?;
    let rows = st
        .query_map([ip], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })
        .map_err(|e| cx.sql(e))?;
    for row in rows {
        let (id, body, status_reason) = row.map_err(|e| cx.sql(e))?;
        let finding: Value =
            serde_json::from_str(&body).map_err(|e| cx.corrupt(format!("finding {id}"), e))?;
        out.push(
            json!({ "record": "finding", "finding": finding, "status_reason": status_reason }),
        );
    }
    Ok(out)
}

/// One exchange row as JSON metadata, plus its raw body JSON texts.
fn exchange_row(r: &Row<'_>) -> rusqlite::Result<(Value, [Option<String>; 2])> {
    let size =
        |i| -> rusqlite::Result<Option<u64>> { Ok(r.get::<_, Option<i64>>(i)?.map(from_sql_int)) };
    let exchange = json!({
        "id": r.get::<_, String>(0)?,
        "observed_at": r.get::<_, String>(1)?,
        "source_kind": r.get::<_, String>(2)?,
        "method": r.get::<_, String>(3)?,
        "host": r.get::<_, Option<String>>(4)?,
        "path": r.get::<_, String>(5)?,
        "query": r.get::<_, Option<String>>(6)?,
        "status": r.get::<_, Option<i64>>(7)?,
        "client_ip": r.get::<_, Option<String>>(8)?,
        "resolved_ip": r.get::<_, Option<String>>(9)?,
        "principal": r.get::<_, Option<String>>(10)?,
        "consumer_id": r.get::<_, Option<String>>(11)?,
        "consumer_name": r.get::<_, Option<String>>(12)?,
        "credential_fp": r.get::<_, Option<String>>(13)?,
        "user_agent": r.get::<_, Option<String>>(14)?,
        "request_size": size(15)?,
        "response_size": size(16)?,
        "duration_ms": r.get::<_, Option<f64>>(17)?,
    });
    Ok((exchange, [r.get(18)?, r.get(19)?]))
}
