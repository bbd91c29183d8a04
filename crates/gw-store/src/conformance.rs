//! The behaviour every [`Store`] back-end must show, as one test suite.
//!
//! A back-end's tests implement [`ConformanceHarness`] and call
//! `gw_store::store_conformance_suite!(TheirHarness);`, which expands to one `#[test]` per check
//! below. SQLite runs it in `tests/sqlite_conformance.rs`; PostgreSQL will run the same.
//! Every check works in event time chosen by the test, never the wall clock.

use std::net::IpAddr;

use gw_model::{
    Actor, Analytic, Body, Capture, Confidence, Evidence, EvidenceSample, Exchange, FINDING_SCHEMA,
    Finding, FindingKind, FindingStatus, Identity, RuleRef, Severity, Source, SourceKind,
};
use jiff::Timestamp;

mod events;
mod explorer;

pub use events::*;
pub use explorer::*;

use crate::{
    ExchangeStorage, FindingFilter, InventoryWriteReport, MAX_EVIDENCE_EXCHANGE_IDS,
    RetentionPolicy, RunStart, RunSummary, Store, StoreError, StoredEndpoint,
};

/// What the suite needs from a back-end under test.
pub trait ConformanceHarness: Sized {
    /// A harness around a new, empty database of its own.
    fn create() -> Self;
    /// Opens (or reopens) this harness's database, migrating it.
    fn open(&self) -> Result<Box<dyn Store>, StoreError>;
    /// Records in the database that schema `version` was applied, as a newer build would.
    fn record_schema_version(&self, version: u32);
    /// The newest schema version this build of the back-end knows.
    fn latest_schema_version() -> u32;
}

/// Expands to one `#[test]` per conformance check, run against the given harness type.
#[macro_export]
macro_rules! store_conformance_suite {
    ($harness:ty) => {
        $crate::store_conformance_suite!(@checks $harness;
            install_key_is_created_once_and_survives_reopen,
            reopening_applies_no_migration_twice,
            a_newer_schema_is_refused,
            runs_are_recorded_and_listed_newest_first,
            finishing_a_run_twice_or_an_unknown_run_fails,
            exchange_writes_are_idempotent_on_record_id,
            storage_modes_keep_what_they_say,
            records_without_an_id_are_refused,
            the_watermark_only_moves_forward,
            findings_with_one_fingerprint_are_absorbed,
            absorbed_evidence_stays_bounded,
            a_resolved_finding_is_not_reopened_by_new_hits,
            findings_filter_and_paginate,
            status_changes_keep_a_reason,
            reopening_a_finding_with_an_active_twin_is_refused,
            retention_deletes_bodies_after_48_hours_of_event_time,
            retention_deletes_exchanges_and_finding_ips_after_30_days,
            lowered_retention_limits_apply,
            retention_runs_on_event_time_not_the_wall_clock,
            retention_refuses_limits_above_the_maximum,
            delete_by_ip_erases_exchanges_and_scrubs_findings,
            delete_by_identity_erases_every_identity_field,
            export_by_ip_returns_exchanges_then_findings,
            inventory_endpoints_upsert_delete_and_survive_reopen,
            inventory_loads_filter_by_api_in_a_stable_order,
            an_inventory_batch_with_a_bad_row_writes_nothing,
            specs_are_kept_by_name_replaced_and_deleted,
            events_round_trip_and_merge_per_exchange,
            one_batch_may_hold_an_exchange_twice,
            event_filters_select_order_and_paginate,
            a_bad_event_batch_writes_nothing,
            retention_deletes_old_events_and_keeps_newer_ones,
            privacy_requests_cover_events,
            sensitive_fields_merge_counts_times_and_sensitivity,
            a_bad_sensitive_field_batch_writes_nothing,
            detector_state_is_replaced_survives_reopen_and_is_bounded,
            explorer_views_show_the_stored_data,
            saved_queries_run_on_a_populated_store,
            explorer_results_are_bounded_and_typed,
            explorer_refuses_writes_and_leaves_data_unchanged,
        );
    };
    (@checks $harness:ty; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                $crate::conformance::$check::<$harness>();
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------------
// Builders. Event time is counted in seconds from a fixed origin, far from today's date, so a
// back-end that consulted the wall clock would fail the retention checks.

/// 2019-01-01T00:00:00Z.
const ORIGIN: i64 = 1_546_300_800;
const HOUR: i64 = 3_600;
const DAY: i64 = 24 * HOUR;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(ORIGIN + seconds).expect("test times are in range")
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test IPs are valid")
}

/// An accepted record at `seconds` past the origin from `client`, with bodies on both sides.
pub fn exchange(id: &str, seconds: i64, client: &str) -> Exchange {
    let source = Source {
        kind: SourceKind::EnvoyJson,
        capture: Capture::Frontend,
        gateway: Some("edge".into()),
        raw_ref: None,
    };
    let mut x = Exchange::new(id, at(seconds), source, "POST", "/v1/orders/42");
    x.client.ip = Some(ip("10.0.0.12"));
    x.client.resolved_ip = Some(ip(client));
    x.client.user_agent = Some("okhttp/4.12.0".into());
    x.server.host = Some("api.example.com".into());
    x.request.query = Some("expand=items".into());
    x.request.size = Some(412);
    x.request.body = Some(Body::utf8(r#"{"sku":"A-1","qty":2}"#));
    x.response.status = Some(201);
    x.response.size = Some(301);
    x.response.body = Some(Body::utf8(r#"{"id":1042}"#));
    x.duration_ms = Some(38.5);
    x.identity = Some(Identity {
        principal: Some(format!("user-{client}@login.example.com")),
        credential_fp: Some("hmac-sha256:9c1f0e".into()),
        ..Identity::default()
    });
    x
}

/// A threat finding seen once at `seconds`, by `actor_ip`, with one evidence record `evidence`.
pub fn finding(
    id: &str,
    fingerprint: &str,
    seconds: i64,
    actor_ip: &str,
    evidence: &str,
) -> Finding {
    Finding {
        schema: FINDING_SCHEMA.into(),
        id: id.into(),
        fingerprint: fingerprint.into(),
        kind: FindingKind::Threat,
        rule: RuleRef {
            id: "GW-T-SQLI".into(),
            name: "SQL injection".into(),
            version: 1,
            analytic: Analytic::Signature,
        },
        title: "SQL injection attempt".into(),
        description: "A query parameter carried SQL syntax.".into(),
        severity: Severity::High,
        confidence: Confidence::High,
        status: FindingStatus::Open,
        first_seen: at(seconds),
        last_seen: at(seconds),
        count: 1,
        endpoint: None,
        actor: Some(Actor {
            ip: Some(ip(actor_ip)),
            identity: Some(format!("user-{actor_ip}@login.example.com")),
            ..Actor::default()
        }),
        owasp: vec![],
        mitre: vec![],
        evidence: Evidence {
            exchange_ids: vec![evidence.into()],
            samples: vec![EvidenceSample {
                exchange_id: Some(evidence.into()),
                observed_at: Some(at(seconds)),
                location: Some("query:id".into()),
                text: "GET /v1/orders?id=1' OR '1'='1 [masked]".into(),
            }],
            ..Evidence::default()
        },
        remediation: None,
        references: vec![],
    }
}

fn open<H: ConformanceHarness>(h: &H) -> Box<dyn Store> {
    h.open()
        .unwrap_or_else(|e| panic!("open: {e}: {:?}", std::error::Error::source(&e)))
}

fn ids(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.id.as_str()).collect()
}

fn all_findings() -> FindingFilter {
    FindingFilter::default()
}

// ---------------------------------------------------------------------------------------------
// Settings and schema.

pub fn install_key_is_created_once_and_survives_reopen<H: ConformanceHarness>() {
    let h = H::create();
    let key = {
        let mut store = open(&h);
        let key = store.install_key().unwrap();
        assert_eq!(
            store.install_key().unwrap(),
            key,
            "the same key on a later call"
        );
        key
    };
    assert_ne!(key, [0u8; 32], "the key comes from a random source");
    let mut store = open(&h);
    assert_eq!(
        store.install_key().unwrap(),
        key,
        "the same key after reopening"
    );
    let other = H::create();
    assert_ne!(
        open(&other).install_key().unwrap(),
        key,
        "each install has its own key"
    );
}

pub fn reopening_applies_no_migration_twice<H: ConformanceHarness>() {
    let h = H::create();
    {
        let mut store = open(&h);
        assert_eq!(store.schema_version().unwrap(), H::latest_schema_version());
        store
            .write_exchanges(
                &[exchange("x1", 0, "203.0.113.45")],
                ExchangeStorage::Metadata,
            )
            .unwrap();
    }
    for _ in 0..2 {
        let store = open(&h);
        assert_eq!(store.schema_version().unwrap(), H::latest_schema_version());
        assert_eq!(
            store.count_exchanges().unwrap(),
            1,
            "data survives reopening"
        );
    }
}

pub fn a_newer_schema_is_refused<H: ConformanceHarness>() {
    let h = H::create();
    let location = open(&h).location().to_string();
    let newer = H::latest_schema_version() + 1;
    h.record_schema_version(newer);
    match h.open() {
        Err(StoreError::SchemaTooNew {
            location: named,
            found,
            supported,
        }) => {
            assert_eq!((found, supported), (newer, H::latest_schema_version()));
            assert_eq!(named, location);
        }
        Err(other) => panic!("expected SchemaTooNew, got {other}"),
        Ok(_) => panic!("a database from a newer build was opened"),
    }
}

// ---------------------------------------------------------------------------------------------
// Runs.

fn run_start(command: &str, seconds: i64) -> RunStart {
    RunStart {
        command: command.into(),
        inputs: vec!["access.log".into(), "-".into()],
        started_at: at(seconds),
    }
}

pub fn runs_are_recorded_and_listed_newest_first<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    let first = store.begin_run(&run_start("ingest", 0)).unwrap();
    let second = store.begin_run(&run_start("demo", 10)).unwrap();
    assert!(second > first);
    let summary = RunSummary {
        finished_at: at(5),
        records_read: 1_000,
        accepted: 990,
        rejected_by_reason: [("parse_error".to_string(), 7), ("too_large".to_string(), 3)]
            .into_iter()
            .collect(),
        bytes: 123_456,
        elapsed_ms: 4_200,
        findings: 2,
        first_event: Some(at(-DAY)),
        last_event: Some(at(-HOUR)),
    };
    store.finish_run(first, &summary).unwrap();
    drop(store);

    let store = open(&h);
    let runs = store.list_runs(10).unwrap();
    assert_eq!(
        runs.iter().map(|r| r.id).collect::<Vec<_>>(),
        [second, first]
    );
    assert_eq!(runs[0].start, run_start("demo", 10));
    assert_eq!(runs[0].summary, None, "an unfinished run has no summary");
    assert_eq!(runs[1].start, run_start("ingest", 0));
    assert_eq!(runs[1].summary.as_ref(), Some(&summary));
    assert_eq!(runs[1].summary.as_ref().map(RunSummary::rejected), Some(10));
    assert_eq!(store.list_runs(1).unwrap().len(), 1);
}

pub fn finishing_a_run_twice_or_an_unknown_run_fails<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    let run = store.begin_run(&run_start("ingest", 0)).unwrap();
    let summary = RunSummary {
        finished_at: at(1),
        ..RunSummary::default()
    };
    store.finish_run(run, &summary).unwrap();
    let err = store.finish_run(run, &summary).unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert!(err.to_string().contains("already finished"), "{err}");
    let unknown = crate::RunId(run.0 + 100);
    let err = store.finish_run(unknown, &summary).unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Exchanges.

pub fn exchange_writes_are_idempotent_on_record_id<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    let batch: Vec<Exchange> = (0..50)
        .map(|i| exchange(&format!("x{i}"), i, "203.0.113.45"))
        .collect();
    let first = store
        .write_exchanges(&batch, ExchangeStorage::MetadataAndBodies)
        .unwrap();
    assert_eq!(
        (first.written, first.duplicates, first.bodies_written),
        (50, 0, 50)
    );
    let again = store
        .write_exchanges(&batch[10..20], ExchangeStorage::MetadataAndBodies)
        .unwrap();
    assert_eq!(
        (again.written, again.duplicates, again.bodies_written),
        (0, 10, 0)
    );
    let counts = store.counts().unwrap();
    assert_eq!((counts.exchanges, counts.bodies), (50, 50));
    assert_eq!(store.count_exchanges().unwrap(), 50);
    assert!(
        store
            .write_exchanges(&[], ExchangeStorage::Metadata)
            .is_ok()
    );
}

pub fn storage_modes_keep_what_they_say<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    let none = store
        .write_exchanges(&[exchange("n1", 100, "203.0.113.1")], ExchangeStorage::None)
        .unwrap();
    assert_eq!(none.written, 0);
    assert_eq!(store.count_exchanges().unwrap(), 0, "None stores no rows");
    assert_eq!(
        store.event_watermark().unwrap(),
        Some(at(100)),
        "None still advances time"
    );

    store
        .write_exchanges(
            &[exchange("m1", 200, "203.0.113.2")],
            ExchangeStorage::Metadata,
        )
        .unwrap();
    assert_eq!(
        store.counts().unwrap().bodies,
        0,
        "Metadata stores no bodies"
    );

    let mut bare = exchange("b2", 300, "203.0.113.3");
    bare.request.body = None;
    bare.response.body = None;
    let report = store
        .write_exchanges(
            &[exchange("b1", 300, "203.0.113.3"), bare],
            ExchangeStorage::MetadataAndBodies,
        )
        .unwrap();
    assert_eq!((report.written, report.bodies_written), (2, 1));
    let counts = store.counts().unwrap();
    assert_eq!((counts.exchanges, counts.bodies), (3, 1));

    // The stored metadata is what the record said.
    let exported = store.export_by_ip(ip("203.0.113.3")).unwrap();
    let b1 = &exported[0]["exchange"];
    assert_eq!(b1["id"], "b1");
    assert_eq!(b1["observed_at"], at(300).to_string());
    assert_eq!(b1["source_kind"], "envoy.json");
    assert_eq!(b1["method"], "POST");
    assert_eq!(b1["host"], "api.example.com");
    assert_eq!(b1["path"], "/v1/orders/42");
    assert_eq!(b1["query"], "expand=items");
    assert_eq!(b1["status"], 201);
    assert_eq!(b1["client_ip"], "10.0.0.12");
    assert_eq!(b1["resolved_ip"], "203.0.113.3");
    assert_eq!(b1["principal"], "user-203.0.113.3@login.example.com");
    assert_eq!(b1["credential_fp"], "hmac-sha256:9c1f0e");
    assert_eq!(b1["user_agent"], "okhttp/4.12.0");
    assert_eq!(
        (b1["request_size"].as_u64(), b1["response_size"].as_u64()),
        (Some(412), Some(301))
    );
    assert_eq!(b1["duration_ms"], 38.5);
    assert_eq!(b1["request_body"]["content"], r#"{"sku":"A-1","qty":2}"#);
    assert_eq!(b1["response_body"]["content"], r#"{"id":1042}"#);
    let b2 = &exported[1]["exchange"];
    assert_eq!(
        (b2["id"].as_str(), &b2["request_body"]),
        (Some("b2"), &serde_json::Value::Null)
    );
}

pub fn records_without_an_id_are_refused<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    let batch = [
        exchange("x1", 0, "203.0.113.1"),
        exchange("", 10, "203.0.113.1"),
    ];
    let err = store
        .write_exchanges(&batch, ExchangeStorage::Metadata)
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidRecord { .. }), "{err}");
    assert!(err.to_string().contains("record 1 of the batch"), "{err}");
    assert_eq!(
        store.count_exchanges().unwrap(),
        0,
        "the whole batch is refused"
    );
    assert_eq!(store.event_watermark().unwrap(), None);
    let err = store
        .upsert_findings(&[finding("f1", "", 0, "203.0.113.1", "x1")])
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidRecord { .. }), "{err}");
    assert_eq!(store.counts().unwrap().findings, 0);
}

pub fn the_watermark_only_moves_forward<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    assert_eq!(store.event_watermark().unwrap(), None);
    let batch = [
        exchange("a", 50, "203.0.113.1"),
        exchange("b", 500, "203.0.113.1"),
        exchange("c", 5, "203.0.113.1"),
    ];
    store
        .write_exchanges(&batch, ExchangeStorage::Metadata)
        .unwrap();
    assert_eq!(
        store.event_watermark().unwrap(),
        Some(at(500)),
        "the latest, not the last"
    );
    store
        .write_exchanges(
            &[exchange("late", 10, "203.0.113.1")],
            ExchangeStorage::Metadata,
        )
        .unwrap();
    assert_eq!(
        store.event_watermark().unwrap(),
        Some(at(500)),
        "late records do not move it back"
    );
    drop(store);
    assert_eq!(
        open(&h).event_watermark().unwrap(),
        Some(at(500)),
        "kept across reopening"
    );
}

// ---------------------------------------------------------------------------------------------
// Findings.

pub fn findings_with_one_fingerprint_are_absorbed<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    let report = store
        .upsert_findings(&[
            finding("f1", "fp-a", 100, "203.0.113.45", "x1"),
            finding("f2", "fp-a", 300, "203.0.113.45", "x2"),
        ])
        .unwrap();
    assert_eq!(
        (report.inserted, report.absorbed),
        (1, 1),
        "absorbed within one batch"
    );
    let mut later = finding("f3", "fp-a", 50, "203.0.113.45", "x3");
    later.count = 4;
    later.severity = Severity::Critical;
    let report = store.upsert_findings(&[later]).unwrap();
    assert_eq!((report.inserted, report.absorbed), (0, 1));

    let found = store.list_findings(&all_findings()).unwrap();
    assert_eq!(
        ids(&found),
        ["f1"],
        "one finding per fingerprint, the first id kept"
    );
    let f = &found[0];
    assert_eq!(f.count, 6);
    assert_eq!((f.first_seen, f.last_seen), (at(50), at(300)));
    assert_eq!(f.evidence.exchange_ids, ["x1", "x2", "x3"]);
    assert_eq!(
        f.severity,
        Severity::Critical,
        "severity rises with a worse hit"
    );
    let critical = FindingFilter {
        min_severity: Some(Severity::Critical),
        ..FindingFilter::default()
    };
    assert_eq!(
        store.list_findings(&critical).unwrap().len(),
        1,
        "indexed columns follow"
    );
}

pub fn absorbed_evidence_stays_bounded<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    let hits: Vec<Finding> = (0..MAX_EVIDENCE_EXCHANGE_IDS + 15)
        .map(|i| {
            finding(
                &format!("f{i}"),
                "fp",
                i as i64,
                "203.0.113.45",
                &format!("x{i}"),
            )
        })
        .collect();
    store.upsert_findings(&hits).unwrap();
    let stored = store
        .get_finding("f0")
        .unwrap()
        .expect("the first hit holds the finding");
    let f = stored.finding;
    assert_eq!(f.count, hits.len() as u64);
    assert_eq!(f.evidence.exchange_ids.len(), MAX_EVIDENCE_EXCHANGE_IDS);
    assert_eq!(f.evidence.exchange_ids[0], "x0", "the first ids are kept");
    assert_eq!(f.evidence.samples.len(), gw_model::MAX_EVIDENCE_SAMPLES);
}

pub fn a_resolved_finding_is_not_reopened_by_new_hits<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    store
        .upsert_findings(&[finding("f1", "fp-a", 100, "203.0.113.45", "x1")])
        .unwrap();
    store
        .set_finding_status("f1", FindingStatus::Resolved, Some("patched"))
        .unwrap();
    let report = store
        .upsert_findings(&[finding("f2", "fp-a", 200, "203.0.113.45", "x2")])
        .unwrap();
    assert_eq!(
        (report.inserted, report.absorbed),
        (1, 0),
        "a new hit opens a new finding"
    );

    store
        .set_finding_status("f2", FindingStatus::Suppressed, Some("scanner"))
        .unwrap();
    let report = store
        .upsert_findings(&[finding("f3", "fp-a", 300, "203.0.113.45", "x3")])
        .unwrap();
    assert_eq!(
        report.absorbed, 1,
        "a suppressed finding keeps absorbing its hits"
    );
    let f2 = store.get_finding("f2").unwrap().unwrap().finding;
    assert_eq!((f2.status, f2.count), (FindingStatus::Suppressed, 2));
    let f1 = store.get_finding("f1").unwrap().unwrap().finding;
    assert_eq!((f1.status, f1.count), (FindingStatus::Resolved, 1));

    // The same id reported again (a replay) folds into the stored finding, never duplicates it.
    let report = store
        .upsert_findings(&[finding("f1", "fp-a", 400, "203.0.113.45", "x4")])
        .unwrap();
    assert_eq!(report.absorbed, 1);
    assert_eq!(store.counts().unwrap().findings, 2);
    // The same id with another fingerprint is a conflict, not a silent overwrite.
    store
        .set_finding_status("f2", FindingStatus::Resolved, None)
        .unwrap();
    let err = store
        .upsert_findings(&[finding("f1", "fp-other", 500, "203.0.113.45", "x5")])
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
}

pub fn findings_filter_and_paginate<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    let mut batch = Vec::new();
    for (i, severity) in Severity::ALL.into_iter().enumerate() {
        let mut f = finding(
            &format!("t{i}"),
            &format!("fp-t{i}"),
            i as i64 * 10,
            "203.0.113.45",
            "x",
        );
        f.severity = severity;
        batch.push(f);
    }
    let mut posture = finding("p0", "fp-p0", 1_000, "203.0.113.45", "x");
    posture.kind = FindingKind::Posture;
    posture.rule.id = "GW-P-UNAUTHENTICATED".into();
    posture.severity = Severity::Medium;
    batch.push(posture);
    // Same last_seen as t4: the id breaks the tie.
    let mut tie = finding("t9", "fp-t9", 40, "203.0.113.45", "x");
    tie.severity = Severity::Info;
    batch.push(tie);
    store.upsert_findings(&batch).unwrap();

    let list = |filter: FindingFilter| ids(&store.list_findings(&filter).unwrap()).join(",");
    assert_eq!(
        list(all_findings()),
        "p0,t4,t9,t3,t2,t1,t0",
        "newest first, then by id"
    );
    assert_eq!(
        list(FindingFilter {
            kind: Some(FindingKind::Posture),
            ..all_findings()
        }),
        "p0"
    );
    assert_eq!(
        list(FindingFilter {
            min_severity: Some(Severity::High),
            ..all_findings()
        }),
        "t4,t3"
    );
    assert_eq!(
        list(FindingFilter {
            rule_id: Some("GW-T-SQLI".into()),
            min_severity: Some(Severity::Medium),
            ..all_findings()
        }),
        "t4,t3,t2"
    );
    assert_eq!(
        list(FindingFilter {
            limit: Some(3),
            ..all_findings()
        }),
        "p0,t4,t9"
    );
    assert_eq!(
        list(FindingFilter {
            limit: Some(3),
            offset: 3,
            ..all_findings()
        }),
        "t3,t2,t1"
    );
    assert_eq!(
        list(FindingFilter {
            limit: Some(3),
            offset: 6,
            ..all_findings()
        }),
        "t0"
    );
    assert_eq!(
        list(FindingFilter {
            offset: 5,
            ..all_findings()
        }),
        "t1,t0"
    );
    assert_eq!(
        list(FindingFilter {
            limit: Some(0),
            ..all_findings()
        }),
        ""
    );

    store
        .set_finding_status("t2", FindingStatus::Acknowledged, None)
        .unwrap();
    let acknowledged = FindingFilter {
        status: Some(FindingStatus::Acknowledged),
        ..all_findings()
    };
    assert_eq!(ids(&store.list_findings(&acknowledged).unwrap()), ["t2"]);
    let open_only = FindingFilter {
        status: Some(FindingStatus::Open),
        ..all_findings()
    };
    assert_eq!(store.list_findings(&open_only).unwrap().len(), 6);
}

pub fn status_changes_keep_a_reason<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    store
        .upsert_findings(&[finding("f1", "fp-a", 100, "203.0.113.45", "x1")])
        .unwrap();
    assert_eq!(
        store.get_finding("f1").unwrap().unwrap().status_reason,
        None
    );
    store
        .set_finding_status(
            "f1",
            FindingStatus::Suppressed,
            Some("false positive: load test"),
        )
        .unwrap();
    drop(store);
    let mut store = open(&h);
    let stored = store.get_finding("f1").unwrap().unwrap();
    assert_eq!(stored.finding.status, FindingStatus::Suppressed);
    assert_eq!(
        stored.status_reason.as_deref(),
        Some("false positive: load test")
    );
    assert_eq!(store.get_finding("nope").unwrap(), None);
    let err = store
        .set_finding_status("nope", FindingStatus::Resolved, None)
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("finding nope"), "{err}");
}

pub fn reopening_a_finding_with_an_active_twin_is_refused<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    store
        .upsert_findings(&[finding("f1", "fp-a", 100, "203.0.113.45", "x1")])
        .unwrap();
    store
        .set_finding_status("f1", FindingStatus::Resolved, None)
        .unwrap();
    store
        .upsert_findings(&[finding("f2", "fp-a", 200, "203.0.113.45", "x2")])
        .unwrap();
    let err = store
        .set_finding_status("f1", FindingStatus::Open, Some("regressed"))
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert!(
        err.to_string().contains("f2"),
        "the active twin is named: {err}"
    );
    store
        .set_finding_status("f2", FindingStatus::Resolved, None)
        .unwrap();
    store
        .set_finding_status("f1", FindingStatus::Open, Some("regressed"))
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Retention.

pub fn retention_deletes_bodies_after_48_hours_of_event_time<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    let now = 10 * DAY;
    let mut at_limit = exchange("at-limit", now - 48 * HOUR, "203.0.113.1");
    let mut past_limit = exchange("past-limit", now - 48 * HOUR, "203.0.113.1");
    at_limit.observed_at = at(now - 48 * HOUR);
    past_limit.observed_at = at(now - 48 * HOUR)
        .checked_sub(jiff::SignedDuration::from_micros(1))
        .unwrap();
    let batch = [
        exchange("fresh", now - HOUR, "203.0.113.1"),
        at_limit,
        past_limit,
        exchange("old", now - 3 * DAY, "203.0.113.1"),
        exchange("now", now, "203.0.113.1"),
    ];
    store
        .write_exchanges(&batch, ExchangeStorage::MetadataAndBodies)
        .unwrap();
    let watermark = store.event_watermark().unwrap().unwrap();
    assert_eq!(watermark, at(now));

    let report = store
        .apply_retention(watermark, &RetentionPolicy::default())
        .unwrap();
    assert_eq!(report.bodies_deleted, 2, "past-limit and old");
    assert_eq!(report.exchanges_deleted, 0, "metadata stays for 30 days");
    let counts = store.counts().unwrap();
    assert_eq!((counts.exchanges, counts.bodies), (5, 3));
    let kept: Vec<String> = store
        .export_by_ip(ip("203.0.113.1"))
        .unwrap()
        .iter()
        .filter(|r| !r["exchange"]["request_body"].is_null())
        .map(|r| r["exchange"]["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        kept,
        ["at-limit", "fresh", "now"],
        "exactly 48 hours old is kept"
    );

    let again = store
        .apply_retention(watermark, &RetentionPolicy::default())
        .unwrap();
    assert_eq!(again, Default::default(), "a second pass finds nothing");
}

pub fn retention_deletes_exchanges_and_finding_ips_after_30_days<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    let now = 100 * DAY;
    let batch = [
        exchange("recent", now - 29 * DAY, "203.0.113.1"),
        exchange("at-limit", now - 30 * DAY, "203.0.113.1"),
        exchange("past-limit", now - 30 * DAY - 1, "203.0.113.1"),
        exchange("ancient", now - 90 * DAY, "203.0.113.1"),
    ];
    store
        .write_exchanges(&batch, ExchangeStorage::MetadataAndBodies)
        .unwrap();
    store
        .upsert_findings(&[
            finding("kept", "fp-1", now - 30 * DAY, "203.0.113.1", "at-limit"),
            finding("aged", "fp-2", now - 31 * DAY, "203.0.113.1", "ancient"),
        ])
        .unwrap();

    let report = store
        .apply_retention(at(now), &RetentionPolicy::default())
        .unwrap();
    assert_eq!(report.exchanges_deleted, 2, "past-limit and ancient");
    assert_eq!(
        report.bodies_deleted, 4,
        "every body is older than 48 hours"
    );
    assert_eq!(report.finding_ips_cleared, 1);
    assert_eq!(store.count_exchanges().unwrap(), 2);

    let aged = store.get_finding("aged").unwrap().unwrap().finding;
    let actor = aged.actor.expect("the actor stays");
    assert_eq!(actor.ip, None, "the IP is gone");
    assert!(
        actor.identity.is_some(),
        "only the IP is subject to this limit"
    );
    assert_eq!(aged.count, 1, "the finding itself stays");
    let kept = store.get_finding("kept").unwrap().unwrap().finding;
    assert_eq!(kept.actor.and_then(|a| a.ip), Some(ip("203.0.113.1")));
    let exported = store.export_by_ip(ip("203.0.113.1")).unwrap();
    let findings: Vec<&str> = exported
        .iter()
        .filter(|r| r["record"] == "finding")
        .filter_map(|r| r["finding"]["id"].as_str())
        .collect();
    assert_eq!(
        findings,
        ["kept"],
        "the cleared IP no longer finds the aged finding"
    );
}

pub fn lowered_retention_limits_apply<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    let now = 100 * DAY;
    let batch = [
        exchange("a", now - 30 * 60, "203.0.113.1"),
        exchange("b", now - 2 * HOUR, "203.0.113.1"),
        exchange("c", now - 3 * DAY, "203.0.113.1"),
    ];
    store
        .write_exchanges(&batch, ExchangeStorage::MetadataAndBodies)
        .unwrap();
    let one_hour = RetentionPolicy::new(30, 1).unwrap();
    let report = store.apply_retention(at(now), &one_hour).unwrap();
    assert_eq!((report.bodies_deleted, report.exchanges_deleted), (2, 0));
    let two_days = RetentionPolicy::new(2, 1).unwrap();
    let report = store.apply_retention(at(now), &two_days).unwrap();
    assert_eq!((report.bodies_deleted, report.exchanges_deleted), (0, 1));
    // Keeping no IPs at all removes every exchange before `now`, and their bodies with them.
    let nothing = RetentionPolicy::new(0, 0).unwrap();
    let report = store.apply_retention(at(now), &nothing).unwrap();
    assert_eq!((report.bodies_deleted, report.exchanges_deleted), (1, 2));
    assert_eq!(store.counts().unwrap(), Default::default());
}

pub fn retention_runs_on_event_time_not_the_wall_clock<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    // Years before today's date: a store that consulted the clock would delete everything.
    let batch = [exchange("x", 0, "203.0.113.1")];
    store
        .write_exchanges(&batch, ExchangeStorage::MetadataAndBodies)
        .unwrap();
    store
        .upsert_findings(&[finding("f", "fp", 0, "203.0.113.1", "x")])
        .unwrap();
    let now = store.event_watermark().unwrap().unwrap();
    let report = store
        .apply_retention(now, &RetentionPolicy::default())
        .unwrap();
    assert_eq!(report, Default::default());
    let counts = store.counts().unwrap();
    assert_eq!(
        (counts.exchanges, counts.bodies, counts.findings),
        (1, 1, 1)
    );
}

pub fn retention_refuses_limits_above_the_maximum<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    store
        .write_exchanges(
            &[exchange("x", 0, "203.0.113.1")],
            ExchangeStorage::MetadataAndBodies,
        )
        .unwrap();
    let too_long = RetentionPolicy {
        client_ip_days: 31,
        body_hours: 48,
    };
    let err = store.apply_retention(at(DAY), &too_long).unwrap_err();
    assert!(err.to_string().contains("client_ip_days"), "{err}");
    let err = store
        .apply_retention(
            at(DAY),
            &RetentionPolicy {
                client_ip_days: 30,
                body_hours: 72,
            },
        )
        .unwrap_err();
    assert!(err.to_string().contains("body_hours"), "{err}");
    assert_eq!(store.counts().unwrap().bodies, 1, "nothing was deleted");
}

// ---------------------------------------------------------------------------------------------
// Privacy.

pub fn delete_by_ip_erases_exchanges_and_scrubs_findings<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    let mut peer_only = exchange("peer", 30, "203.0.113.9");
    peer_only.client.ip = Some(ip("198.51.100.7"));
    peer_only.client.resolved_ip = None;
    let batch = [
        exchange("mine-1", 10, "198.51.100.7"),
        exchange("mine-2", 20, "198.51.100.7"),
        peer_only,
        exchange("other", 40, "203.0.113.9"),
    ];
    store
        .write_exchanges(&batch, ExchangeStorage::MetadataAndBodies)
        .unwrap();
    let mut shared = finding("shared", "fp-shared", 40, "203.0.113.9", "other");
    shared.evidence.exchange_ids.push("mine-1".into());
    store
        .upsert_findings(&[
            finding("mine", "fp-mine", 20, "198.51.100.7", "mine-2"),
            shared,
        ])
        .unwrap();

    let counts = store.delete_by_ip(ip("198.51.100.7")).unwrap();
    assert_eq!(
        counts.exchanges_deleted, 3,
        "direct peer and resolved IP both match"
    );
    assert_eq!(counts.bodies_deleted, 3);
    assert_eq!(counts.findings_redacted, 2);
    assert_eq!(store.count_exchanges().unwrap(), 1);
    assert!(store.export_by_ip(ip("198.51.100.7")).unwrap().is_empty());

    let mine = store.get_finding("mine").unwrap().unwrap().finding;
    assert_eq!(mine.actor.as_ref().and_then(|a| a.ip), None);
    assert!(mine.evidence.exchange_ids.is_empty() && mine.evidence.samples.is_empty());
    let shared = store.get_finding("shared").unwrap().unwrap().finding;
    assert_eq!(
        shared.evidence.exchange_ids,
        ["other"],
        "only the erased evidence goes"
    );
    assert_eq!(shared.actor.and_then(|a| a.ip), Some(ip("203.0.113.9")));

    let again = store.delete_by_ip(ip("198.51.100.7")).unwrap();
    assert_eq!(again, Default::default());
}

pub fn delete_by_identity_erases_every_identity_field<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    let mut by_consumer = exchange("consumer", 10, "203.0.113.1");
    by_consumer.identity = Some(Identity {
        consumer_name: Some("acme-mobile".into()),
        ..Identity::default()
    });
    let mut by_fp = exchange("fp", 20, "203.0.113.1");
    by_fp.identity = Some(Identity {
        credential_fp: Some("acme-mobile".into()),
        ..Identity::default()
    });
    let mut by_principal = exchange("principal", 30, "203.0.113.1");
    by_principal.identity = Some(Identity {
        principal: Some("acme-mobile".into()),
        ..Identity::default()
    });
    let batch = [
        by_consumer,
        by_fp,
        by_principal,
        exchange("other", 40, "203.0.113.1"),
    ];
    store
        .write_exchanges(&batch, ExchangeStorage::Metadata)
        .unwrap();
    let mut named = finding("named", "fp-1", 40, "203.0.113.1", "other");
    if let Some(actor) = named.actor.as_mut() {
        actor.identity = Some("acme-mobile".into());
    }
    store.upsert_findings(&[named]).unwrap();

    let counts = store.delete_by_identity("acme-mobile").unwrap();
    assert_eq!((counts.exchanges_deleted, counts.bodies_deleted), (3, 0));
    assert_eq!(counts.findings_redacted, 1);
    assert_eq!(store.count_exchanges().unwrap(), 1);
    let named = store.get_finding("named").unwrap().unwrap().finding;
    let actor = named.actor.expect("the actor stays");
    assert_eq!(actor.identity, None);
    assert_eq!(
        actor.ip,
        Some(ip("203.0.113.1")),
        "only the identity was asked for"
    );
    assert_eq!(named.evidence.exchange_ids, ["other"]);
}

pub fn export_by_ip_returns_exchanges_then_findings<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    let batch = [
        exchange("late", 20, "198.51.100.7"),
        exchange("early", 10, "198.51.100.7"),
        exchange("stranger", 15, "203.0.113.9"),
    ];
    store
        .write_exchanges(&batch, ExchangeStorage::Metadata)
        .unwrap();
    store
        .upsert_findings(&[
            finding("f-mine", "fp-1", 20, "198.51.100.7", "late"),
            finding("f-other", "fp-2", 20, "203.0.113.9", "stranger"),
        ])
        .unwrap();
    store
        .set_finding_status("f-mine", FindingStatus::Acknowledged, Some("ticket 7"))
        .unwrap();

    let exported = store.export_by_ip(ip("198.51.100.7")).unwrap();
    let summary: Vec<(String, String)> = exported
        .iter()
        .map(|r| {
            let record = r["record"].as_str().unwrap_or_default().to_string();
            let id = r[record.as_str()]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            (record, id)
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("exchange".to_string(), "early".to_string()),
            ("exchange".to_string(), "late".to_string()),
            ("finding".to_string(), "f-mine".to_string()),
        ]
    );
    assert_eq!(exported[2]["status_reason"], "ticket 7");
    assert_eq!(exported[2]["finding"]["schema"], FINDING_SCHEMA);
    assert!(store.export_by_ip(ip("192.0.2.1")).unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Inventory.

/// An inventory endpoint called `calls` times, last at `seconds` past the origin.
pub fn stored_endpoint(
    id: &str,
    api: &str,
    template: &str,
    calls: u64,
    seconds: i64,
) -> StoredEndpoint {
    StoredEndpoint {
        id: id.into(),
        api: api.into(),
        host: "api.example.com".into(),
        method: "GET".into(),
        template: template.into(),
        first_seen: Some(at(0)),
        last_seen: Some(at(seconds)),
        calls,
        state: serde_json::json!({ "id": id, "calls": calls, "params": [{"name": "id", "in": "path"}] }),
    }
}

pub fn inventory_endpoints_upsert_delete_and_survive_reopen<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    let a = stored_endpoint("ep_a", "shop", "/users/{id}", 3, 10);
    let b = stored_endpoint("ep_b", "shop", "/users/me", 1, 20);
    let report = store.save_endpoints(&[a.clone(), b.clone()], &[]).unwrap();
    assert_eq!(
        report,
        InventoryWriteReport {
            upserted: 2,
            removed: 0
        }
    );

    let a2 = stored_endpoint("ep_a", "shop", "/users/{id}", 7, 30);
    let report = store
        .save_endpoints(
            std::slice::from_ref(&a2),
            &["ep_b".to_string(), "ep_never".to_string()],
        )
        .unwrap();
    assert_eq!(
        report,
        InventoryWriteReport {
            upserted: 1,
            removed: 1
        },
        "unknown ids do not count"
    );
    drop(store);

    let store = open(&h);
    let loaded = store.load_endpoints(None).unwrap();
    assert_eq!(
        loaded,
        vec![a2],
        "the replacement is stored verbatim, state included"
    );
}

pub fn inventory_loads_filter_by_api_in_a_stable_order<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    let mut never_called = stored_endpoint("ep_d", "billing", "/invoices", 0, 0);
    never_called.first_seen = None;
    never_called.last_seen = None;
    let rows = [
        stored_endpoint("ep_c", "shop", "/orders", 1, 1),
        stored_endpoint("ep_a", "shop", "/carts", 1, 1),
        never_called.clone(),
    ];
    store.save_endpoints(&rows, &[]).unwrap();
    let ids = |v: Vec<StoredEndpoint>| v.into_iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.load_endpoints(None).unwrap()),
        ["ep_d", "ep_a", "ep_c"]
    );
    assert_eq!(
        ids(store.load_endpoints(Some("shop")).unwrap()),
        ["ep_a", "ep_c"]
    );
    assert!(store.load_endpoints(Some("nope")).unwrap().is_empty());
    assert_eq!(
        store.load_endpoints(Some("billing")).unwrap(),
        vec![never_called]
    );
}

pub fn an_inventory_batch_with_a_bad_row_writes_nothing<H: ConformanceHarness>() {
    let h = H::create();
    let mut store = open(&h);
    let good = stored_endpoint("ep_a", "shop", "/a", 1, 1);
    let mut bad = stored_endpoint("ep_b", "shop", "/b", 1, 1);
    bad.state = serde_json::json!("not an object");
    let err = store.save_endpoints(&[good.clone(), bad], &[]).unwrap_err();
    assert!(matches!(err, StoreError::InvalidRecord { .. }), "{err}");
    assert!(err.to_string().contains("ep_b"), "{err}");
    let mut unnamed = good.clone();
    unnamed.id = String::new();
    assert!(store.save_endpoints(&[unnamed], &[]).is_err());
    assert!(store.load_endpoints(None).unwrap().is_empty());
}

/// Imported specs survive a reopen, are replaced by name and can be deleted.
pub fn specs_are_kept_by_name_replaced_and_deleted<H: ConformanceHarness>() {
    let h = H::create();
    let spec = |name: &str, content: &str| crate::StoredSpec {
        name: name.to_string(),
        file: format!("{name}.yaml"),
        content: content.to_string(),
        imported_at: Timestamp::from_second(1_700_000_000).unwrap(),
    };
    {
        let mut store = h.open().unwrap();
        assert!(!store.save_spec(&spec("shop", "openapi: 3.0.0")).unwrap());
        assert!(!store.save_spec(&spec("bank", "openapi: 3.1.0")).unwrap());
        assert!(
            store.save_spec(&spec("shop", "openapi: 3.0.3")).unwrap(),
            "same name replaces"
        );
        assert!(
            store.save_spec(&spec(" ", "x")).is_err(),
            "a spec needs a name"
        );
    }
    let mut store = h.open().unwrap();
    let specs = store.load_specs().unwrap();
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["bank", "shop"]);
    assert_eq!(specs[1].content, "openapi: 3.0.3");
    assert_eq!(
        specs[1].imported_at,
        Timestamp::from_second(1_700_000_000).unwrap()
    );
    assert!(store.delete_spec("bank").unwrap());
    assert!(!store.delete_spec("bank").unwrap());
    assert_eq!(store.load_specs().unwrap().len(), 1);
}
