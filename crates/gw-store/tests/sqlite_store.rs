//! Behaviour specific to the SQLite back-end: connection settings, locations, errors.

use gw_store::{ExchangeStorage, SqliteStore, Store, StoreError, open_store};

#[test]
fn a_file_store_runs_in_wal_mode_with_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatewatch.db");
    let store = SqliteStore::open(&path).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal", "WAL is a property of the file");
    assert_eq!(store.location(), path.display().to_string());
    let applied: Vec<(i64, String)> = conn
        .prepare("SELECT version, name FROM schema_migrations ORDER BY version")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        applied,
        [
            (1, "init".to_string()),
            (2, "inventory".to_string()),
            (3, "specs".to_string()),
            (4, "events".to_string())
        ]
    );
}

#[test]
fn a_new_file_gets_16_kib_pages_and_an_existing_one_keeps_its_size() {
    let page_size = |path: &std::path::Path| -> i64 {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.db");
    drop(SqliteStore::open(&fresh).unwrap());
    assert_eq!(page_size(&fresh), 16_384);

    // A file made with SQLite's default 4 KiB pages (as every store before this setting).
    let old = dir.path().join("old.db");
    {
        let conn = rusqlite::Connection::open(&old).unwrap();
        conn.execute_batch("PRAGMA page_size = 4096; CREATE TABLE kept (x)")
            .unwrap();
    }
    let mut store = SqliteStore::open(&old).unwrap();
    assert_eq!(page_size(&old), 4096);
    let one = gw_store::conformance::exchange("one", 0, "203.0.113.1");
    let report = store
        .write_exchanges(&[one], ExchangeStorage::Metadata)
        .unwrap();
    assert_eq!(report.written, 1);
    assert_eq!(store.count_exchanges().unwrap(), 1);
}

#[test]
fn open_store_accepts_urls_and_plain_paths() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.db");
    let url = format!("sqlite://{}", dir.path().join("url.db").display());
    for location in [plain.display().to_string(), url] {
        let mut store = open_store(&location).unwrap();
        store
            .write_exchanges(
                &[gw_store::conformance::exchange("x", 0, "203.0.113.1")],
                ExchangeStorage::Metadata,
            )
            .unwrap();
        drop(store);
        assert_eq!(open_store(&location).unwrap().count_exchanges().unwrap(), 1);
    }
    assert!(dir.path().join("url.db").exists());
    let memory = open_store("sqlite://:memory:").unwrap();
    assert_eq!(memory.count_exchanges().unwrap(), 0);
}

#[test]
fn postgres_urls_are_refused_until_the_back_end_exists() {
    let Err(err) = open_store("postgres://gw@db.internal/gatewatch") else {
        panic!("a postgres URL was accepted");
    };
    assert!(
        matches!(err, StoreError::UnsupportedBackend { .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("PostgreSQL back-end is not built yet"),
        "{err}"
    );
}

#[test]
fn an_unopenable_path_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("gatewatch.db");
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(
        &path,
        "this is not a SQLite database, just some text ".repeat(50),
    )
    .unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        err.to_string().starts_with(&path.display().to_string()),
        "{err}"
    );
    let cause = std::error::Error::source(&err)
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(cause.contains("not a database"), "{cause}");
}

#[test]
fn a_corrupt_finding_is_reported_not_panicked_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatewatch.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store
        .upsert_findings(&[gw_store::conformance::finding(
            "f1",
            "fp",
            0,
            "203.0.113.1",
            "x",
        )])
        .unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE findings SET body = '{\"schema\":' WHERE id = 'f1'",
        [],
    )
    .unwrap();
    let err = store.list_findings(&Default::default()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("finding f1"), "{err}");
}

#[test]
fn two_connections_to_one_file_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatewatch.db");
    let mut writer = SqliteStore::open(&path).unwrap();
    let reader = SqliteStore::open(&path).unwrap();
    let mut writer_key = writer.install_key().unwrap();
    let batch: Vec<_> = (0..10)
        .map(|i| gw_store::conformance::exchange(&format!("x{i}"), i, "203.0.113.1"))
        .collect();
    writer
        .write_exchanges(&batch, ExchangeStorage::Metadata)
        .unwrap();
    assert_eq!(reader.count_exchanges().unwrap(), 10);
    let mut reader = reader;
    assert_eq!(reader.install_key().unwrap(), writer_key);
    writer_key[0] ^= 1;
    assert_ne!(reader.install_key().unwrap(), writer_key);
}

#[test]
fn concurrent_writers_wait_for_each_other_instead_of_failing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatewatch.db");
    SqliteStore::open(&path).unwrap();
    let writers: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|writer| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut store = SqliteStore::open(&path).unwrap();
                for batch in 0..20 {
                    let records: Vec<_> = (0..100)
                        .map(|i| {
                            let id = format!("{writer}-{batch}-{i}");
                            gw_store::conformance::exchange(&id, i, "203.0.113.1")
                        })
                        .collect();
                    store
                        .write_exchanges(&records, ExchangeStorage::Metadata)
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    assert_eq!(
        SqliteStore::open(&path).unwrap().count_exchanges().unwrap(),
        4000
    );
}

#[test]
fn in_memory_stores_can_be_explored_and_stay_private() {
    let mut a = SqliteStore::open_in_memory().unwrap();
    let b = SqliteStore::open_in_memory().unwrap();
    a.upsert_findings(&[gw_store::conformance::finding(
        "f1",
        "fp",
        0,
        "203.0.113.1",
        "x",
    )])
    .unwrap();
    let count = |s: &SqliteStore| s.query("SELECT COUNT(*) FROM alerts", 1).unwrap().rows;
    assert_eq!(count(&a), [vec![serde_json::json!(1)]]);
    assert_eq!(
        count(&b),
        [vec![serde_json::json!(0)]],
        "each store has its own database"
    );
    // The explorer sees later writes too.
    a.upsert_findings(&[gw_store::conformance::finding(
        "f2",
        "fp2",
        0,
        "203.0.113.1",
        "x",
    )])
    .unwrap();
    assert_eq!(count(&a), [vec![serde_json::json!(2)]]);
}

#[test]
fn events_leave_no_detections_or_alert_links_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatewatch.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let e = gw_store::conformance::event("x1", 0, "203.0.113.1", "GW-T-SQLI", "f1");
    store.write_events(&[e]).unwrap();
    let rows = |table: &str| -> i64 {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!((rows("event_detections"), rows("event_alerts")), (1, 1));
    let report = store
        .apply_retention(
            jiff::Timestamp::from_second(1_546_300_800 + 40 * 86_400).unwrap(),
            &gw_store::RetentionPolicy::default(),
        )
        .unwrap();
    assert_eq!(report.events_deleted, 1);
    assert_eq!((rows("event_detections"), rows("event_alerts")), (0, 0));
}

#[test]
fn the_explorer_connection_cannot_write_even_past_the_authorizer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatewatch.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store.set_query_step_limit(10_000_000);
    let err = store
        .query("SELECT * FROM sqlite_master", 1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not an explorer view"), "{err}");
    let err = store
        .query(
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT MAX(x) FROM n",
            1,
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::QueryRefused { .. }), "{err}");
    assert!(err.to_string().contains("stopped after"), "{err}");
}
