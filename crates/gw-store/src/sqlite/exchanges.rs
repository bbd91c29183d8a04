//! Writing exchange metadata and bodies: the store's hot path.
//!
//! Rows go in [`CHUNK_ROWS`] at a time, as one multi-row INSERT: executing a statement has a
//! fixed cost (a cursor opened and closed per b-tree, the VM started and halted) that a chunk
//! pays once instead of once per row, and its cursors stay open between rows, which saves
//! most of the seeks for time-ordered ids and times (appended at the right edge).
//!
//! A known id is skipped, as a single-row write would skip it: without bodies the chunk is
//! `INSERT OR IGNORE` and the change count says how many rows were new. With bodies each new
//! row needs its bodies, so the chunk statement has no conflict clause: a known id fails it,
//! SQLite backs the whole statement out, and the batch goes on row by row, with
//! `ON CONFLICT (id) DO NOTHING` telling which rows were new. The outcome (rows, bodies,
//! counts) is the same either way.
//!
//! Measured and left out (issue 9): `exchanges` as a WITHOUT ROWID table keyed by `id` (one
//! b-tree instead of the rowid table and its unique index) cost 2.0k to 3.7k more
//! instructions per record, 1.3k to 3.0k with 16 KiB pages. Its rows (~430 bytes) then live
//! in an index b-tree, whose pages split through `balance_nonroot` every few rows, where the
//! rowid table appends with `balance_quick`.

use std::fmt::Write as _;
use std::sync::LazyLock;

use gw_model::{Body, Exchange};
use rusqlite::{CachedStatement, Connection, ErrorCode, ToSql, TransactionBehavior};

use crate::error::Result;
use crate::sqlite::{Ctx, settings, text, to_sql_int};
use crate::store::{ExchangeStorage, WriteReport};

const COLUMNS: &str = "
    id, observed_at, observed_us, source_kind, method, host, path, query, status,
    client_ip, resolved_ip, principal, consumer_id, consumer_name, credential_fp,
    user_agent, request_size, response_size, duration_ms";

/// The number of [`COLUMNS`], bound by [`bind_row`] in that order.
const COLUMN_COUNT: usize = 19;

/// Rows per multi-row INSERT. Callgrind, 20k records of a realistic size in batches of 1000
/// (`examples/write_workload.rs`, metadata only), instructions per record: 20.4k row by row;
/// 13.9k, 13.6k, 13.6k, 14.3k and 15.2k in chunks of 6, 8, 10, 12 and 16 rows. Past 8 to 10
/// rows the bound texts no longer fit SQLite's lookaside allocator and binds go to malloc.
const CHUNK_ROWS: usize = 8;

/// One row; a known id is skipped and the statement reports no change.
static INSERT_ONE: LazyLock<String> =
    LazyLock::new(|| insert_sql("INSERT", 1, "ON CONFLICT (id) DO NOTHING"));

/// [`CHUNK_ROWS`] rows without bodies; known ids are skipped. `OR IGNORE` also skips a row
/// that breaks NOT NULL, which bound Rust values never do (those columns are not `Option`s);
/// in exchange SQLite needs no statement journal, which costs 0.9k instructions per record
/// when a statement may fail half-way.
static INSERT_CHUNK_IGNORING: LazyLock<String> =
    LazyLock::new(|| insert_sql("INSERT OR IGNORE", CHUNK_ROWS, ""));

/// [`CHUNK_ROWS`] rows with bodies; a known id fails (and backs out) the whole statement.
static INSERT_CHUNK_FAILING: LazyLock<String> =
    LazyLock::new(|| insert_sql("INSERT", CHUNK_ROWS, ""));

/// The bodies of one row.
static INSERT_BODIES_ONE: LazyLock<String> = LazyLock::new(|| insert_bodies_sql(1));

/// The bodies of [`CHUNK_ROWS`] rows, when every row of a chunk has some.
static INSERT_BODIES_CHUNK: LazyLock<String> = LazyLock::new(|| insert_bodies_sql(CHUNK_ROWS));

fn insert_sql(insert: &str, rows: usize, conflict: &str) -> String {
    let values = placeholders(rows, COLUMN_COUNT);
    format!("{insert} INTO exchanges ({COLUMNS})\nVALUES {values}\n{conflict}")
}

fn insert_bodies_sql(rows: usize) -> String {
    let values = placeholders(rows, 4);
    format!(
        "INSERT INTO exchange_bodies (exchange_id, observed_us, request_body, response_body)
         VALUES {values}
         ON CONFLICT (exchange_id) DO NOTHING"
    )
}

/// `(?, ?), (?, ?)` for two rows of two columns.
fn placeholders(rows: usize, columns: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    vec![row; rows].join(",\n    ")
}

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
        text::ip(&mut self.client_ip, x.client.ip);
        text::ip(&mut self.resolved_ip, x.client.resolved_ip);
    }
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// Binds `x` to the parameters `first..first + COLUMN_COUNT` (1-based) of `st`. SQLite copies
/// bound text, so `text` may be refilled for the next row right away.
fn bind_row(
    st: &mut CachedStatement<'_>,
    first: usize,
    x: &Exchange,
    text: &mut RowText,
) -> rusqlite::Result<()> {
    text.fill(x);
    let identity = x.identity.as_ref();
    let mut row = Binder { st, next: first };
    row.bind(&x.id)?;
    row.bind(&text.observed_at)?;
    row.bind(x.observed_at.as_microsecond())?;
    row.bind(x.source.kind.as_str())?;
    row.bind(x.request.method.as_str())?;
    row.bind(&x.server.host)?;
    row.bind(&x.request.path)?;
    row.bind(&x.request.query)?;
    row.bind(x.response.status)?;
    row.bind(non_empty(&text.client_ip))?;
    row.bind(non_empty(&text.resolved_ip))?;
    row.bind(identity.and_then(|i| i.principal.as_deref()))?;
    row.bind(identity.and_then(|i| i.consumer_id.as_deref()))?;
    row.bind(identity.and_then(|i| i.consumer_name.as_deref()))?;
    row.bind(identity.and_then(|i| i.credential_fp.as_deref()))?;
    row.bind(&x.client.user_agent)?;
    row.bind(x.request.size.map(to_sql_int))?;
    row.bind(x.response.size.map(to_sql_int))?;
    row.bind(x.duration_ms)?;
    debug_assert_eq!(row.next, first + COLUMN_COUNT);
    Ok(())
}

/// Binds values to consecutive parameters. Generic rather than `&dyn ToSql`, so that each
/// value's conversion is resolved at compile time: 0.9k instructions less per record
/// (callgrind) than binding a slice of trait objects.
struct Binder<'a, 'conn> {
    st: &'a mut CachedStatement<'conn>,
    next: usize,
}

impl Binder<'_, '_> {
    fn bind<T: ToSql>(&mut self, value: T) -> rusqlite::Result<()> {
        self.st.raw_bind_parameter(self.next, value)?;
        self.next += 1;
        Ok(())
    }
}

/// The statements of one `write_exchanges` transaction and what they wrote so far.
struct RowWriter<'conn> {
    cx: Ctx<'conn>,
    one: CachedStatement<'conn>,
    chunk: CachedStatement<'conn>,
    /// One row's bodies and a chunk's, when bodies are kept.
    bodies: Option<[CachedStatement<'conn>; 2]>,
    text: RowText,
    report: WriteReport,
}

impl<'conn> RowWriter<'conn> {
    fn new(conn: &'conn Connection, cx: Ctx<'conn>, mode: ExchangeStorage) -> Result<Self> {
        let prepare = |sql: &str| conn.prepare_cached(sql).map_err(|e| cx.sql(e));
        Ok(RowWriter {
            cx,
            one: prepare(&INSERT_ONE)?,
            chunk: match mode {
                ExchangeStorage::MetadataAndBodies => prepare(&INSERT_CHUNK_FAILING)?,
                _ => prepare(&INSERT_CHUNK_IGNORING)?,
            },
            bodies: match mode {
                ExchangeStorage::MetadataAndBodies => {
                    Some([prepare(&INSERT_BODIES_ONE)?, prepare(&INSERT_BODIES_CHUNK)?])
                }
                _ => None,
            },
            text: RowText::default(),
            report: WriteReport::default(),
        })
    }

    /// Writes `exchanges` in chunks, the tail row by row. With bodies, a chunk that holds a
    /// known id sends the rest of the batch row by row: a batch with one usually has more (a
    /// file ingested again), and each would fail another chunk.
    fn write_all(&mut self, exchanges: &[Exchange]) -> Result<()> {
        let mut rest = exchanges;
        while let Some((chunk, tail)) = rest.split_at_checked(CHUNK_ROWS) {
            if !self.insert_chunk(chunk)? {
                break;
            }
            rest = tail;
        }
        for x in rest {
            self.insert_one(x)?;
        }
        Ok(())
    }

    /// Inserts the rows of `chunk` whose ids are new, and their bodies. With bodies, returns
    /// false and inserts nothing when an id in it is already stored (or repeated).
    fn insert_chunk(&mut self, chunk: &[Exchange]) -> Result<bool> {
        for (i, x) in chunk.iter().enumerate() {
            bind_row(&mut self.chunk, 1 + i * COLUMN_COUNT, x, &mut self.text)
                .map_err(|e| self.cx.sql(e))?;
        }
        let inserted = match self.chunk.raw_execute() {
            Ok(n) => n as u64,
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == ErrorCode::ConstraintViolation =>
            {
                return Ok(false);
            }
            Err(e) => return Err(self.cx.sql(e)),
        };
        self.report.written += inserted;
        self.report.duplicates += chunk.len() as u64 - inserted;
        if self.bodies.is_none() {
            return Ok(true);
        }
        if chunk.iter().all(has_body) {
            self.insert_chunk_bodies(chunk)?;
        } else {
            for x in chunk {
                self.insert_bodies(x)?;
            }
        }
        Ok(true)
    }

    /// Inserts `x` and its bodies, or counts it as a duplicate.
    fn insert_one(&mut self, x: &Exchange) -> Result<()> {
        bind_row(&mut self.one, 1, x, &mut self.text).map_err(|e| self.cx.sql(e))?;
        let inserted = self.one.raw_execute().map_err(|e| self.cx.sql(e))?;
        if inserted == 0 {
            self.report.duplicates += 1;
            return Ok(());
        }
        self.report.written += 1;
        self.insert_bodies(x)
    }

    /// Stores the bodies of a just-inserted `x`, when bodies are kept and it has any.
    fn insert_bodies(&mut self, x: &Exchange) -> Result<()> {
        let Some([st, _]) = self.bodies.as_mut() else {
            return Ok(());
        };
        if !has_body(x) {
            return Ok(());
        }
        bind_bodies(self.cx, st, 1, x)?;
        self.report.bodies_written += st.raw_execute().map_err(|e| self.cx.sql(e))? as u64;
        Ok(())
    }

    /// Stores the bodies of a just-inserted chunk whose every row has some, when bodies are
    /// kept.
    fn insert_chunk_bodies(&mut self, chunk: &[Exchange]) -> Result<()> {
        let Some([_, st]) = self.bodies.as_mut() else {
            return Ok(());
        };
        for (i, x) in chunk.iter().enumerate() {
            bind_bodies(self.cx, st, 1 + i * 4, x)?;
        }
        self.report.bodies_written += st.raw_execute().map_err(|e| self.cx.sql(e))? as u64;
        Ok(())
    }
}

fn has_body(x: &Exchange) -> bool {
    x.request.body.is_some() || x.response.body.is_some()
}

/// Binds the body row of `x` to the parameters `first..first + 4` (1-based) of `st`.
fn bind_bodies(
    cx: Ctx<'_>,
    st: &mut CachedStatement<'_>,
    first: usize,
    x: &Exchange,
) -> Result<()> {
    let request = body_json(cx, &x.id, "request", x.request.body.as_ref())?;
    let response = body_json(cx, &x.id, "response", x.response.body.as_ref())?;
    let mut row = Binder { st, next: first };
    row.bind(&x.id)
        .and_then(|()| row.bind(x.observed_at.as_microsecond()))
        .and_then(|()| row.bind(request))
        .and_then(|()| row.bind(response))
        .map_err(|e| cx.sql(e))
}

pub(super) fn write(
    conn: &mut Connection,
    location: &str,
    exchanges: &[Exchange],
    mode: ExchangeStorage,
) -> Result<WriteReport> {
    let cx = Ctx::new(location, "write_exchanges");
    let Some(latest_us) = exchanges
        .iter()
        .map(|x| x.observed_at.as_microsecond())
        .max()
    else {
        return Ok(WriteReport::default());
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
    let mut report = WriteReport::default();
    if mode != ExchangeStorage::None {
        let mut rows = RowWriter::new(&tx, cx, mode)?;
        rows.write_all(exchanges)?;
        report = rows.report;
    }
    settings::advance_watermark(&tx, cx, latest_us)?;
    tx.commit().map_err(|e| cx.sql(e))?;
    Ok(report)
}

fn body_json(cx: Ctx<'_>, id: &str, side: &str, body: Option<&Body>) -> Result<Option<String>> {
    body.map(|b| serde_json::to_string(b).map_err(|e| cx.encode(format!("{side} body of {id}"), e)))
        .transpose()
}

#[cfg(test)]
mod tests {
    use rusqlite::types::Value;

    use super::*;
    use crate::conformance::exchange;
    use crate::sqlite::migrate::migrate;

    fn database() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, "mem").unwrap();
        conn
    }

    /// `n` records with distinct ids, `id-000`, `id-001`, ...; every third has no bodies.
    fn records(n: usize) -> Vec<Exchange> {
        (0..n)
            .map(|i| {
                let mut x = exchange(&format!("id-{i:03}"), i as i64, "203.0.113.45");
                if i % 3 == 2 {
                    x.request.body = None;
                    x.response.body = None;
                }
                x
            })
            .collect()
    }

    fn dump(conn: &Connection, table: &str, order: &str) -> Vec<Vec<Value>> {
        let mut st = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))
            .unwrap();
        let columns = st.column_count();
        st.query_map([], |r| (0..columns).map(|i| r.get(i)).collect())
            .unwrap()
            .map(|row| row.unwrap())
            .collect()
    }

    fn report(written: u64, duplicates: u64, bodies_written: u64) -> WriteReport {
        WriteReport {
            written,
            duplicates,
            bodies_written,
        }
    }

    #[test]
    fn chunked_rows_equal_rows_written_one_by_one() {
        let batch = records(2 * CHUNK_ROWS + 3);
        let mut chunked = database();
        let mut single = database();
        let mode = ExchangeStorage::MetadataAndBodies;
        let written = write(&mut chunked, "mem", &batch, mode).unwrap();
        for x in &batch {
            write(&mut single, "mem", std::slice::from_ref(x), mode).unwrap();
        }
        assert_eq!(written, report(19, 0, 13));
        for (table, order) in [("exchanges", "id"), ("exchange_bodies", "exchange_id")] {
            assert_eq!(
                dump(&chunked, table, order),
                dump(&single, table, order),
                "{table}"
            );
        }
    }

    #[test]
    fn a_known_id_in_a_chunk_is_skipped_and_keeps_its_missing_body() {
        let batch = records(3 * CHUNK_ROWS);
        let mut conn = database();
        // Stored before without its body: writing it again must not add one.
        let known = &batch[CHUNK_ROWS + 1];
        write(
            &mut conn,
            "mem",
            std::slice::from_ref(known),
            ExchangeStorage::Metadata,
        )
        .unwrap();
        let written = write(&mut conn, "mem", &batch, ExchangeStorage::MetadataAndBodies).unwrap();
        let with_bodies = batch.iter().filter(|x| has_body(x)).count() as u64;
        assert_eq!(written, report(23, 1, with_bodies - 1));
        let stored: i64 = conn
            .query_row("SELECT COUNT(*) FROM exchanges", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, 24);
        let body_of_known: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM exchange_bodies WHERE exchange_id = ?1",
                [&known.id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(body_of_known, 0);
    }

    #[test]
    fn an_id_repeated_within_a_chunk_is_written_once() {
        let mut batch = records(CHUNK_ROWS + 2);
        batch[3].id = batch[1].id.clone();
        batch[3].request.path = "/the/second/copy".into();
        for (mode, bodies) in [
            (ExchangeStorage::Metadata, 0),
            (ExchangeStorage::MetadataAndBodies, 6),
        ] {
            let mut conn = database();
            let written = write(&mut conn, "mem", &batch, mode).unwrap();
            assert_eq!(written, report(9, 1, bodies), "{mode:?}");
            let path: String = conn
                .query_row(
                    "SELECT path FROM exchanges WHERE id = ?1",
                    [&batch[1].id],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(path, batch[1].request.path, "{mode:?}: the first copy wins");
        }
    }

    #[test]
    fn a_batch_written_again_is_all_duplicates() {
        let batch = records(2 * CHUNK_ROWS + 1);
        for mode in [
            ExchangeStorage::Metadata,
            ExchangeStorage::MetadataAndBodies,
        ] {
            let mut conn = database();
            write(&mut conn, "mem", &batch, mode).unwrap();
            let before = dump(&conn, "exchanges", "id");
            assert_eq!(
                write(&mut conn, "mem", &batch, mode).unwrap(),
                report(0, 17, 0),
                "{mode:?}"
            );
            assert_eq!(dump(&conn, "exchanges", "id"), before, "{mode:?}");
        }
    }

    #[test]
    fn metadata_chunks_count_known_ids_as_duplicates() {
        let batch = records(2 * CHUNK_ROWS);
        let mut conn = database();
        let known = [&batch[0], &batch[5], &batch[CHUNK_ROWS + 2]].map(Clone::clone);
        write(&mut conn, "mem", &known, ExchangeStorage::Metadata).unwrap();
        let written = write(&mut conn, "mem", &batch, ExchangeStorage::Metadata).unwrap();
        assert_eq!(written, report(13, 3, 0));
        let mut single = database();
        for x in &batch {
            write(
                &mut single,
                "mem",
                std::slice::from_ref(x),
                ExchangeStorage::Metadata,
            )
            .unwrap();
        }
        assert_eq!(
            dump(&conn, "exchanges", "id"),
            dump(&single, "exchanges", "id")
        );
    }
}
