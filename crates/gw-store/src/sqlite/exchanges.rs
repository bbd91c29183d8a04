//! Writing exchange metadata and bodies: the store's hot path.

use std::fmt::Write as _;
use std::net::IpAddr;

use gw_model::{Body, Exchange};
use rusqlite::{Connection, TransactionBehavior};

use crate::error::Result;
use crate::sqlite::{Ctx, settings, to_sql_int};
use crate::store::{ExchangeStorage, WriteReport};

const INSERT_EXCHANGE: &str = "
    INSERT INTO exchanges (
        id, observed_at, observed_us, source_kind, method, host, path, query, status,
        client_ip, resolved_ip, principal, consumer_id, consumer_name, credential_fp,
        user_agent, request_size, response_size, duration_ms)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
    ON CONFLICT (id) DO NOTHING";

const INSERT_BODIES: &str = "
    INSERT INTO exchange_bodies (exchange_id, observed_us, request_body, response_body)
    VALUES (?1, ?2, ?3, ?4)
    ON CONFLICT (exchange_id) DO NOTHING";

/// Text buffers reused across the records of a batch, so a row costs no allocation for its
/// timestamp and IPs.
#[derive(Default)]
struct RowText {
    observed_at: String,
    client_ip: String,
    resolved_ip: String,
}

impl RowText {
    fn fill(&mut self, x: &Exchange) {
        self.observed_at.clear();
        // Writing to a String cannot fail.
        let _ = write!(self.observed_at, "{}", x.observed_at);
        fill_ip(&mut self.client_ip, x.client.ip);
        fill_ip(&mut self.resolved_ip, x.client.resolved_ip);
    }
}

fn fill_ip(buf: &mut String, ip: Option<IpAddr>) {
    buf.clear();
    if let Some(ip) = ip {
        let _ = write!(buf, "{ip}");
    }
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

pub(super) fn write(
    conn: &mut Connection,
    location: &str,
    exchanges: &[Exchange],
    mode: ExchangeStorage,
) -> Result<WriteReport> {
    let cx = Ctx::new(location, "write_exchanges");
    let mut report = WriteReport::default();
    let Some(latest_us) = exchanges
        .iter()
        .map(|x| x.observed_at.as_microsecond())
        .max()
    else {
        return Ok(report);
    };
    // The id is the idempotency key: an empty one would make unrelated records duplicates.
    if let Some(i) = exchanges.iter().position(|x| x.id.is_empty()) {
        return Err(cx.invalid_record(format!(
            "record {i} of the batch has an empty id (ids are assigned at ingest)"
        )));
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| cx.sql(e))?;
    if mode != ExchangeStorage::None {
        let mut insert = tx.prepare_cached(INSERT_EXCHANGE).map_err(|e| cx.sql(e))?;
        let mut insert_bodies = match mode {
            ExchangeStorage::MetadataAndBodies => {
                Some(tx.prepare_cached(INSERT_BODIES).map_err(|e| cx.sql(e))?)
            }
            _ => None,
        };
        let mut text = RowText::default();
        for x in exchanges {
            text.fill(x);
            let observed_us = x.observed_at.as_microsecond();
            let identity = x.identity.as_ref();
            let inserted = insert
                .execute(rusqlite::params![
                    x.id,
                    text.observed_at,
                    observed_us,
                    x.source.kind.as_str(),
                    x.request.method,
                    x.server.host,
                    x.request.path,
                    x.request.query,
                    x.response.status,
                    non_empty(&text.client_ip),
                    non_empty(&text.resolved_ip),
                    identity.and_then(|i| i.principal.as_deref()),
                    identity.and_then(|i| i.consumer_id.as_deref()),
                    identity.and_then(|i| i.consumer_name.as_deref()),
                    identity.and_then(|i| i.credential_fp.as_deref()),
                    x.client.user_agent,
                    x.request.size.map(to_sql_int),
                    x.response.size.map(to_sql_int),
                    x.duration_ms,
                ])
                .map_err(|e| cx.sql(e))?;
            if inserted == 0 {
                report.duplicates += 1;
                continue;
            }
            report.written += 1;
            if let Some(st) = insert_bodies.as_mut() {
                let (request, response) = (x.request.body.as_ref(), x.response.body.as_ref());
                if request.is_none() && response.is_none() {
                    continue;
                }
                let request = body_json(cx, &x.id, "request", request)?;
                let response = body_json(cx, &x.id, "response", response)?;
                st.execute((&x.id, observed_us, request, response))
                    .map_err(|e| cx.sql(e))?;
                report.bodies_written += 1;
            }
        }
    }
    settings::advance_watermark(&tx, cx, latest_us)?;
    tx.commit().map_err(|e| cx.sql(e))?;
    Ok(report)
}

fn body_json(cx: Ctx<'_>, id: &str, side: &str, body: Option<&Body>) -> Result<Option<String>> {
    body.map(|b| serde_json::to_string(b).map_err(|e| cx.encode(format!("{side} body of {id}"), e)))
        .transpose()
}
