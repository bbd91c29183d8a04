//! The `detector_states` table: opaque snapshots keyed by detector name.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension};

use crate::detector_state::MAX_DETECTOR_STATE_BYTES;
use crate::error::Result;
use crate::sqlite::Ctx;

pub(super) fn save(
    conn: &Connection,
    location: &str,
    name: &str,
    state: &[u8],
    watermark: Option<Timestamp>,
) -> Result<()> {
    let cx = Ctx::new(location, "save_detector_state");
    if name.trim().is_empty() {
        return Err(cx.invalid_record("a detector state needs a name"));
    }
    if state.len() > MAX_DETECTOR_STATE_BYTES {
        return Err(cx.invalid_record(format!(
            "detector state {name:?} is {} bytes, above the limit of {} bytes (256 MiB); \
             the detector's baseline is not bounded",
            state.len(),
            MAX_DETECTOR_STATE_BYTES
        )));
    }
    conn.execute(
        "INSERT INTO detector_states (name, state, watermark_us) VALUES (?1, ?2, ?3)
         ON CONFLICT (name) DO UPDATE SET state = excluded.state,
                                          watermark_us = excluded.watermark_us",
        rusqlite::params![name, state, watermark.map(|t| t.as_microsecond())],
    )
    .map_err(|e| cx.sql(e))?;
    Ok(())
}

pub(super) fn load(
    conn: &Connection,
    location: &str,
    name: &str,
) -> Result<Option<(Vec<u8>, Option<Timestamp>)>> {
    let cx = Ctx::new(location, "load_detector_state");
    let row: Option<(Vec<u8>, Option<i64>)> = conn
        .query_row(
            "SELECT state, watermark_us FROM detector_states WHERE name = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(|e| cx.sql(e))?;
    row.map(|(state, us)| {
        let watermark = us
            .map(|us| cx.timestamp_us(&format!("detector state {name:?} watermark"), us))
            .transpose()?;
        Ok((state, watermark))
    })
    .transpose()
}
