//! The read-only SQL explorer of the SQLite back-end.
//!
//! Queries run on a connection of their own, opened read-only, with `query_only` on, an
//! authorizer that allows reading the documented views and nothing else (no writes, no schema
//! changes, no PRAGMA, no ATTACH, no transactions, no raw tables such as `settings`, which
//! holds the install key), a check that the prepared statement is read-only and single, and a
//! bound on the work one query may do.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use crate::error::{Result, StoreError};
use crate::explorer::{EXPLORER_VIEWS, QueryResult};
use crate::sqlite::Ctx;

const VIEWS_SQL: &str = include_str!("explorer.sql");

const ONE_STATEMENT: &str = "one statement at a time: remove everything after the first `;`";

/// The progress handler runs every this many virtual machine steps.
const STEPS_PER_TICK: i32 = 10_000;

/// The default work bound of one explorer query: 10^9 SQLite VM steps (about ten seconds).
pub const DEFAULT_QUERY_STEP_LIMIT: u64 = 1_000_000_000;

/// The explorer's own connection and the state its hooks share with `query`.
pub(super) struct Explorer {
    conn: Connection,
    /// Why the authorizer last refused something, for the error message.
    refusal: Arc<Mutex<Option<String>>>,
    ticks: Arc<AtomicU64>,
    step_limit: u64,
}

impl Explorer {
    /// Opens `path` (a file path, or a `file:` URI of a shared in-memory database) read-only.
    pub(super) fn open(path: &str, location: &str, step_limit: u64) -> Result<Explorer> {
        let cx = Ctx::new(location, "query");
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(|e| cx.sql(e))?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|e| cx.sql(e))?;
        conn.execute_batch(VIEWS_SQL).map_err(|e| cx.sql(e))?;
        conn.pragma_update(None, "query_only", "ON")
            .map_err(|e| cx.sql(e))?;
        let refusal = Arc::new(Mutex::new(None));
        let seen = Arc::clone(&refusal);
        conn.authorizer(Some(move |ctx: AuthContext<'_>| {
            let verdict = authorize(&ctx);
            if let Err(reason) = &verdict
                && let Ok(mut slot) = seen.lock()
                && slot.is_none()
            {
                *slot = Some(reason.clone());
            }
            match verdict {
                Ok(()) => Authorization::Allow,
                Err(_) => Authorization::Deny,
            }
        }))
        .map_err(|e| cx.sql(e))?;
        let ticks = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&ticks);
        let max_ticks = step_limit.div_ceil(STEPS_PER_TICK as u64).max(1);
        conn.progress_handler(
            STEPS_PER_TICK,
            Some(move || counter.fetch_add(1, Ordering::Relaxed) + 1 > max_ticks),
        )
        .map_err(|e| cx.sql(e))?;
        Ok(Explorer {
            conn,
            refusal,
            ticks,
            step_limit,
        })
    }

    /// Runs one read-only statement and returns at most `max_rows` rows.
    pub(super) fn query(&self, location: &str, sql: &str, max_rows: usize) -> Result<QueryResult> {
        let cx = Ctx::new(location, "query");
        let refused = |reason: String| StoreError::QueryRefused {
            location: location.to_string(),
            reason,
        };
        match first_keyword(sql) {
            None => return Err(refused("the query is empty".into())),
            Some(word) if !["SELECT", "WITH", "VALUES"].contains(&word.as_str()) => {
                return Err(refused(format!(
                    "the explorer is read-only: only SELECT statements are allowed, not {word}"
                )));
            }
            Some(_) => {}
        }
        if has_second_statement(sql) {
            return Err(refused(ONE_STATEMENT.into()));
        }
        if let Ok(mut slot) = self.refusal.lock() {
            *slot = None;
        }
        self.ticks.store(0, Ordering::Relaxed);
        let mut st = match self.conn.prepare(sql) {
            Ok(st) => st,
            Err(rusqlite::Error::MultipleStatement) => {
                return Err(refused(ONE_STATEMENT.into()));
            }
            Err(e) => {
                // The authorizer's reason when it refused; a plain SQL error otherwise.
                let reason = self.refusal.lock().ok().and_then(|mut s| s.take());
                return Err(match (reason, &e) {
                    (Some(reason), _) => refused(reason),
                    // A write to a view fails before the authorizer is asked.
                    (None, rusqlite::Error::SqliteFailure(_, Some(msg)))
                        if msg.starts_with("cannot modify") =>
                    {
                        refused(format!("the explorer is read-only: {msg}"))
                    }
                    (None, _) => cx.sql(e),
                });
            }
        };
        if !st.readonly() || st.column_count() == 0 {
            return Err(refused(
                "only SELECT statements over the explorer views are allowed".into(),
            ));
        }
        let columns: Vec<String> = st.column_names().map(String::from).collect();
        let mut rows = st.query([]).map_err(|e| self.failure(cx, e))?;
        let mut out = QueryResult {
            columns,
            ..QueryResult::default()
        };
        while let Some(row) = rows.next().map_err(|e| self.failure(cx, e))? {
            if out.rows.len() == max_rows {
                out.truncated = true;
                break;
            }
            let values = (0..out.columns.len())
                .map(|i| row.get_ref(i).map(json_value))
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| cx.sql(e))?;
            out.rows.push(values);
        }
        Ok(out)
    }

    fn failure(&self, cx: Ctx<'_>, e: rusqlite::Error) -> StoreError {
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted) {
            return StoreError::QueryRefused {
                location: cx.location.to_string(),
                reason: format!(
                    "the query was stopped after {} steps; narrow it with WHERE or LIMIT",
                    self.step_limit
                ),
            };
        }
        cx.sql(e)
    }
}

/// The explorer's policy: read the documented views (and what they read), call functions,
/// recurse; refuse everything else with a reason.
fn authorize(ctx: &AuthContext<'_>) -> std::result::Result<(), String> {
    let via_view = ctx.accessor.is_some_and(|v| EXPLORER_VIEWS.contains(&v));
    match ctx.action {
        AuthAction::Select | AuthAction::Function { .. } | AuthAction::Recursive => Ok(()),
        // An empty column name reads no value (`COUNT(*)` over a flattened view reaches the
        // table without the view as accessor).
        AuthAction::Read {
            column_name: "", ..
        } => Ok(()),
        AuthAction::Read { table_name, .. } => {
            // `main.findings` names the table, not the view (which lives in TEMP).
            let is_view = ctx.database_name == Some("temp") && EXPLORER_VIEWS.contains(&table_name);
            if via_view || is_view || matches!(table_name, "json_each" | "json_tree") {
                Ok(())
            } else {
                Err(format!(
                    "`{table_name}` is not an explorer view; query one of: {}",
                    EXPLORER_VIEWS.join(", ")
                ))
            }
        }
        AuthAction::Insert { .. } | AuthAction::Update { .. } | AuthAction::Delete { .. } => {
            Err("the explorer is read-only: INSERT, UPDATE and DELETE are refused".into())
        }
        AuthAction::Pragma { pragma_name, .. } => Err(format!(
            "the explorer is read-only: PRAGMA {pragma_name} is refused"
        )),
        AuthAction::Attach { .. } | AuthAction::Detach { .. } => {
            Err("the explorer is read-only: ATTACH and DETACH are refused".into())
        }
        AuthAction::Transaction { .. } | AuthAction::Savepoint { .. } => {
            Err("the explorer is read-only: transaction statements are refused".into())
        }
        other => Err(format!(
            "the explorer is read-only: only SELECT is allowed, not {other:?}"
        )),
    }
}

/// Whether a `;` outside quotes and comments is followed by more than whitespace and comments.
fn has_second_statement(sql: &str) -> bool {
    let mut chars = sql.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\'' | '"' | '`' | '[' => {
                let close = if c == '[' { ']' } else { c };
                for (_, d) in chars.by_ref() {
                    if d == close {
                        break;
                    }
                }
            }
            '-' if chars.peek().is_some_and(|(_, d)| *d == '-') => {
                for (_, d) in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek().is_some_and(|(_, d)| *d == '*') => {
                chars.next();
                let mut star = false;
                for (_, d) in chars.by_ref() {
                    if star && d == '/' {
                        break;
                    }
                    star = d == '*';
                }
            }
            ';' => {
                let rest = &sql[i + 1..];
                if first_keyword(rest).is_some_and(|w| w != ";") {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// The first keyword of `sql`, upper-cased, after whitespace, comments and opening
/// parentheses; the first other character when no keyword comes first.
fn first_keyword(sql: &str) -> Option<String> {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, next)| next);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, next)| next);
        } else {
            break;
        }
    }
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if !word.is_empty() {
        Some(word.to_ascii_uppercase())
    } else {
        rest.chars().next().map(String::from)
    }
}

fn json_value(v: ValueRef<'_>) -> serde_json::Value {
    use serde_json::Value;
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => {
            let mut hex = String::with_capacity(b.len() * 2);
            for byte in b {
                use std::fmt::Write as _;
                let _ = write!(hex, "{byte:02x}");
            }
            Value::String(hex)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_keyword_skips_comments_and_parentheses() {
        assert_eq!(first_keyword("  select 1").as_deref(), Some("SELECT"));
        assert_eq!(
            first_keyword("-- note\n/* block */ (WITH x AS (SELECT 1) SELECT * FROM x)").as_deref(),
            Some("WITH")
        );
        assert_eq!(
            first_keyword("/* x */ delete from t").as_deref(),
            Some("DELETE")
        );
        assert_eq!(first_keyword(";").as_deref(), Some(";"));
        assert_eq!(first_keyword(" -- only a comment"), None);
        assert_eq!(first_keyword(""), None);
    }

    #[test]
    fn second_statements_are_found_outside_quotes_and_comments() {
        assert!(has_second_statement("SELECT 1; DELETE FROM t"));
        assert!(has_second_statement("SELECT ';'; SELECT 2"));
        assert!(!has_second_statement("SELECT ';' AS x"));
        assert!(!has_second_statement("SELECT 1; -- done"));
        assert!(!has_second_statement("SELECT 1 /* ; DROP */ ;  "));
        assert!(!has_second_statement("SELECT \"a;b\" FROM [x;y]"));
    }
}
