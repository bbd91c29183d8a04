//! The hand-written migration runner: numbered SQL files applied in order, each in its own
//! transaction, each recorded in `schema_migrations`.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::{Result, StoreError};
use crate::sqlite::Ctx;

/// One schema step. `version` numbers start at 1 and increase by one.
pub(crate) struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration of the SQLite schema, in order. Append only: a released migration never
/// changes, a change is a new file.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "inventory",
        sql: include_str!("../../migrations/sqlite/0002_inventory.sql"),
    },
    Migration {
        version: 3,
        name: "specs",
        sql: include_str!("../../migrations/sqlite/0003_specs.sql"),
    },
    Migration {
        version: 4,
        name: "events",
        sql: include_str!("../../migrations/sqlite/0004_events.sql"),
    },
];

/// The schema version this build creates and understands.
pub const SQLITE_SCHEMA_VERSION: u32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

const CREATE_LEDGER: &str = "
    CREATE TABLE IF NOT EXISTS schema_migrations (
        version    INTEGER PRIMARY KEY,
        name       TEXT    NOT NULL,
        applied_at TEXT    NOT NULL  -- the database clock; bookkeeping only, never read back
    )";

/// Brings the schema up to [`SQLITE_SCHEMA_VERSION`] and returns it. Refuses a database
/// written by a newer build. Safe against a second process migrating at the same time: each
/// step re-reads the version under the write lock.
pub(crate) fn migrate(conn: &mut Connection, location: &str) -> Result<u32> {
    let cx = Ctx::new(location, "migrate");
    conn.execute_batch(CREATE_LEDGER).map_err(|e| cx.sql(e))?;
    if current_version(conn, cx)? == SQLITE_SCHEMA_VERSION {
        return Ok(SQLITE_SCHEMA_VERSION);
    }
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| cx.sql(e))?;
        let current = current_version(&tx, cx)?;
        let Some(next) = MIGRATIONS.iter().find(|m| m.version > current) else {
            return Ok(current);
        };
        let failed = |source| StoreError::Migration {
            location: location.to_string(),
            version: next.version,
            name: next.name,
            source,
        };
        tx.execute_batch(next.sql).map_err(failed)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at)
             VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            (next.version, next.name),
        )
        .map_err(failed)?;
        tx.commit().map_err(failed)?;
    }
}

/// The last applied migration, 0 for an empty database; an error when it is newer than this
/// build knows.
pub(crate) fn current_version(conn: &Connection, cx: Ctx<'_>) -> Result<u32> {
    let found: Option<i64> = conn
        .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|e| cx.sql(e))?
        .flatten();
    let found = match found {
        None => 0,
        Some(v) => u32::try_from(v).map_err(|_| {
            cx.corrupt("schema_migrations.version", format!("{v} is not a version"))
        })?,
    };
    if found > SQLITE_SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            location: cx.location.to_string(),
            found,
            supported: SQLITE_SCHEMA_VERSION,
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_start_at_one_and_increase_by_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "migration {}", m.name);
            assert!(
                !m.sql.to_ascii_uppercase().contains("COMMIT;"),
                "{}",
                m.name
            );
        }
    }

    #[test]
    fn a_fresh_database_reaches_the_latest_version_once() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn, "mem").unwrap(), SQLITE_SCHEMA_VERSION);
        assert_eq!(migrate(&mut conn, "mem").unwrap(), SQLITE_SCHEMA_VERSION);
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, MIGRATIONS.len() as i64);
    }

    #[test]
    fn a_failing_migration_names_itself_and_leaves_nothing_behind() {
        let mut conn = Connection::open_in_memory().unwrap();
        // Occupy a table name the first migration creates.
        conn.execute_batch("CREATE TABLE findings (x)").unwrap();
        let err = migrate(&mut conn, "mem").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("mem: migration 1 (init) failed"),
            "{err}"
        );
        let applied: i64 = conn
            .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(applied, 0);
        let settings: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'settings'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(settings, 0, "the failed step was rolled back");
    }
}
