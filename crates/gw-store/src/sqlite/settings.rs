//! The `settings` table: the install key and the event-time watermark; and row counts.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::{Result, StoreError};
use crate::sqlite::{Ctx, from_sql_int};
use crate::store::StoreCounts;

const INSTALL_KEY: &str = "install_key";
const EVENT_WATERMARK_US: &str = "event_watermark_us";

/// Returns the install key, creating it on first use. A key another process stored first wins.
pub(super) fn install_key(conn: &mut Connection, location: &str) -> Result<[u8; 32]> {
    let cx = Ctx::new(location, "install_key");
    if let Some(key) = read_key(conn, cx)? {
        return Ok(key);
    }
    let mut fresh = [0u8; 32];
    getrandom::fill(&mut fresh).map_err(|e| StoreError::Random {
        location: location.to_string(),
        detail: e.to_string(),
    })?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| cx.sql(e))?;
    tx.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
        (INSTALL_KEY, &fresh[..]),
    )
    .map_err(|e| cx.sql(e))?;
    let key = read_key(&tx, cx)?;
    tx.commit().map_err(|e| cx.sql(e))?;
    key.ok_or_else(|| cx.corrupt("install key", "missing right after it was written"))
}

fn read_key(conn: &Connection, cx: Ctx<'_>) -> Result<Option<[u8; 32]>> {
    let stored: Option<Vec<u8>> = conn
        .query_row(
            "SELECT value FROM settings WHERE key = ?1",
            [INSTALL_KEY],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| cx.sql(e))?;
    stored
        .map(|bytes| {
            <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                cx.corrupt("install key", format!("{} bytes, expected 32", bytes.len()))
            })
        })
        .transpose()
}

/// Moves the watermark forward to `observed_us` (never back). Runs inside the caller's
/// transaction.
pub(super) fn advance_watermark(conn: &Connection, cx: Ctx<'_>, observed_us: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
    )
    .and_then(|mut st| st.execute((EVENT_WATERMARK_US, observed_us)))
    .map_err(|e| cx.sql(e))?;
    Ok(())
}

pub(super) fn event_watermark(conn: &Connection, location: &str) -> Result<Option<Timestamp>> {
    let cx = Ctx::new(location, "event_watermark");
    let us: Option<i64> = conn
        .query_row(
            "SELECT value FROM settings WHERE key = ?1",
            [EVENT_WATERMARK_US],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| cx.sql(e))?;
    us.map(|us| cx.timestamp_us("event watermark", us))
        .transpose()
}

pub(super) fn counts(conn: &Connection, location: &str) -> Result<StoreCounts> {
    let cx = Ctx::new(location, "counts");
    conn.query_row(
        "SELECT (SELECT COUNT(*) FROM exchanges),
                (SELECT COUNT(*) FROM exchange_bodies),
                (SELECT COUNT(*) FROM findings),
                (SELECT COUNT(*) FROM ingest_runs),
                (SELECT COUNT(*) FROM event_records)",
        [],
        |r| {
            Ok(StoreCounts {
                exchanges: from_sql_int(r.get(0)?),
                bodies: from_sql_int(r.get(1)?),
                findings: from_sql_int(r.get(2)?),
                runs: from_sql_int(r.get(3)?),
                events: from_sql_int(r.get(4)?),
            })
        },
    )
    .map_err(|e| cx.sql(e))
}
