//! The store conformance suite against the embedded back-end, on a real SQLite file.

use std::path::PathBuf;

use gw_store::conformance::ConformanceHarness;
use gw_store::{SQLITE_SCHEMA_VERSION, SqliteStore, Store, StoreError};

/// A SQLite file in a temporary directory that lives as long as the harness.
struct SqliteFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl ConformanceHarness for SqliteFile {
    fn create() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("gatewatch.db");
        SqliteFile { _dir: dir, path }
    }

    fn open(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(Box::new(SqliteStore::open(&self.path)?))
    }

    fn record_schema_version(&self, version: u32) {
        let conn = rusqlite::Connection::open(&self.path).expect("the test database opens");
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at)
             VALUES (?1, 'from a newer build', '2030-01-01T00:00:00Z')",
            [version],
        )
        .expect("the version is recorded");
    }

    fn latest_schema_version() -> u32 {
        SQLITE_SCHEMA_VERSION
    }
}

gw_store::store_conformance_suite!(SqliteFile);
