//! Snapshots and record marks of the behavioural detectors.
//!
//! - A simulated week (with the simulator's labelled attacks) run in one go gives exactly the
//!   findings of the same week run in two halves, with every detector snapshotted after the
//!   first half and restored into freshly built detectors; bad snapshots are refused with a
//!   clear error.
//! - One actor enumerating 5,000 ids in one window gives one `GW-T-PARAM-ENUMERATION` alert and
//!   a mark for each of the 5,000 records but the few counted before its count was half way to
//!   the rule's floor, which the alert states exactly (`events_dropped`); with a smaller buffer
//!   the statement stays exact. Every mark names the alert's id through
//!   `AlertBook::alert_id_for`.

use std::collections::BTreeSet;

use gw_detect::behavioral::{BehavioralConfig, EnumerationDetector, build_behavioral};
use gw_detect::detectors::{RecordMark, SNAPSHOT_VERSION, SnapshotError};
use gw_detect::{AlertBook, Detector};
use gw_model::{Exchange, Finding};
use gw_sim::{AttackSelection, SimConfig, Simulator};
use jiff::SignedDuration;

#[path = "support/behav_records.rs"]
mod records;
#[path = "support/router.rs"]
mod router;
use records::{Rng, quick_config, rec};

fn simulator(days: i64) -> Simulator {
    let sim_cfg = SimConfig {
        specs: gw_sim::builtin_specs().expect("built-in specs import"),
        duration: SignedDuration::from_hours(24 * days),
        rps: 2.0,
        clients: 2_000,
        attacks: AttackSelection::All,
        seed: 5,
        ..SimConfig::default()
    };
    Simulator::new(sim_cfg).expect("simulator config")
}

/// What one run of the simulated week gave.
struct Week {
    findings: Vec<Finding>,
    marks: Vec<RecordMark>,
    records: u64,
    /// Snapshot size per detector, and the event time (Unix s) of the restart.
    sizes: Vec<(&'static str, usize)>,
    restarted_at: i64,
}

/// Runs the simulated week; with `restart_after = Some(n)`, snapshots every detector after
/// `n` records, builds fresh ones and restores them.
fn week(cfg: &BehavioralConfig, restart_after: Option<u64>) -> Week {
    let router = router::Router::builtin();
    let mut sim = simulator(7);
    let mut detectors = build_behavioral(cfg).unwrap();
    let mut findings = Vec::new();
    let mut marks = Vec::new();
    let mut records = 0u64;
    let mut sizes = Vec::new();
    let mut restarted_at = 0;
    let mut batch = Vec::with_capacity(256);
    loop {
        batch.clear();
        batch.extend(sim.by_ref().take(256));
        if batch.is_empty() {
            break;
        }
        for x in &mut batch {
            router.route(x);
        }
        for d in &mut detectors {
            d.detect(&batch, &mut findings);
            d.take_marks(&mut marks);
        }
        records += batch.len() as u64;
        if restart_after.is_some_and(|n| records >= n) && sizes.is_empty() {
            let snaps: Vec<Vec<u8>> = detectors
                .iter()
                .map(|d| d.snapshot().expect("behavioural detectors snapshot"))
                .collect();
            let mut fresh = build_behavioral(cfg).unwrap();
            for (d, s) in fresh.iter_mut().zip(&snaps) {
                d.restore(s).unwrap_or_else(|e| panic!("{}: {e}", d.name()));
                sizes.push((d.name(), s.len()));
            }
            detectors = fresh;
            restarted_at = batch.last().map_or(0, |x| x.observed_at.as_second());
        }
    }
    Week {
        findings,
        marks,
        records,
        sizes,
        restarted_at,
    }
}

#[test]
fn a_restart_from_snapshots_mid_week_changes_no_finding() {
    let cfg = BehavioralConfig::default();
    let whole = week(&cfg, None);
    let records = whole.records;
    let split = week(&cfg, Some(records / 2));
    let sizes = &split.sizes;
    println!(
        "{records} records, {} findings, {} marks; snapshot bytes at mid-week: {sizes:?} (total {})",
        whole.findings.len(),
        whole.marks.len(),
        sizes.iter().map(|s| s.1).sum::<usize>()
    );
    assert_eq!(sizes.len(), 8);
    let rules: BTreeSet<&str> = whole.findings.iter().map(|f| f.rule.id.as_str()).collect();
    assert!(rules.len() >= 5, "the week raises several rules: {rules:?}");
    let after = whole
        .findings
        .iter()
        .filter(|f| f.first_seen.as_second() > split.restarted_at)
        .count();
    println!("{after} findings after the restart");
    assert!(after > 0, "some findings come after the restart");
    assert_eq!(
        whole.findings.len(),
        split.findings.len(),
        "same number of findings"
    );
    for (a, b) in whole.findings.iter().zip(&split.findings) {
        assert_eq!(a, b, "finding differs after the restart");
    }
    assert_eq!(whole.marks, split.marks, "same record marks");
}

#[test]
fn bad_snapshots_are_refused_and_leave_the_detector_unchanged() {
    let cfg = quick_config();
    let mut d = EnumerationDetector::new(cfg.clone()).unwrap();
    let mut out = Vec::new();
    for k in 0..100u64 {
        d.detect(
            &[rec(
                k,
                k as i64,
                "GET",
                "/v1/orders/{id}",
                &format!("/v1/orders/{k}"),
                "10.0.0.1",
                200,
            )],
            &mut out,
        );
    }
    let snap = d.snapshot().unwrap();
    assert_eq!(&snap[..4], b"GWDS");
    assert_eq!(u16::from_le_bytes([snap[4], snap[5]]), SNAPSHOT_VERSION);

    let mut newer = snap.clone();
    newer[4..6].copy_from_slice(&(SNAPSHOT_VERSION + 1).to_le_bytes());
    let err = d.restore(&newer).unwrap_err();
    assert!(
        matches!(err, SnapshotError::UnknownVersion { found, .. } if found == SNAPSHOT_VERSION + 1)
    );
    assert!(
        err.to_string().contains("format version 2 is unknown"),
        "{err}"
    );

    assert!(matches!(
        d.restore(b"{}"),
        Err(SnapshotError::BadMagic { .. })
    ));
    let err = d.restore(&snap[..snap.len() - 3]).unwrap_err();
    assert!(matches!(err, SnapshotError::Decode { .. }), "{err}");

    let mut other = build_behavioral(&cfg).unwrap();
    let volume = other
        .iter_mut()
        .find(|d| d.name() == "behavioral.volume")
        .unwrap();
    let err = volume.restore(&snap).unwrap_err();
    assert!(
        err.to_string()
            .contains("taken from detector `behavioral.enumeration`"),
        "{err}"
    );

    let mut wider = EnumerationDetector::new(BehavioralConfig {
        window_secs: 600,
        ..cfg.clone()
    })
    .unwrap();
    let err = wider.restore(&snap).unwrap_err();
    assert!(err.to_string().contains("window_secs = 1200"), "{err}");

    // The refused attempts changed nothing: the snapshot is the same as before.
    assert_eq!(d.snapshot().unwrap(), snap);
    let mut fresh = EnumerationDetector::new(cfg).unwrap();
    fresh.restore(&snap).unwrap();
    assert_eq!(fresh.snapshot().unwrap(), snap);
}

/// An hour of background on `/v1/orders/{id}` from 250 IPs, then `n` sequential ids from
/// one IP within one 20-minute window. Returns the detector's findings and marks.
fn enumeration(cfg: BehavioralConfig, n: u64) -> (Vec<Finding>, Vec<RecordMark>, Vec<Exchange>) {
    let mut d = EnumerationDetector::new(cfg).unwrap();
    let mut out = Vec::new();
    let mut marks = Vec::new();
    let mut rng = Rng(9);
    for t in 0..3 * 3600 {
        if rng.below(2) == 0 {
            let id = rng.below(100_000);
            let ip = format!("10.2.0.{}", rng.below(250));
            d.detect(
                &[rec(
                    t as u64,
                    t,
                    "GET",
                    "/v1/orders/{id}",
                    &format!("/v1/orders/{id}"),
                    &ip,
                    200,
                )],
                &mut out,
            );
        }
    }
    d.take_marks(&mut marks);
    assert!(out.is_empty() && marks.is_empty(), "quiet background");
    // 5,000 calls in 1,000 s, all inside the window [10,800, 12,000).
    let attack: Vec<Exchange> = (0..n)
        .map(|k| {
            rec(
                1_000_000 + k,
                3 * 3600 + (k / 5) as i64,
                "GET",
                "/v1/orders/{id}",
                &format!("/v1/orders/{}", 500_000 + k),
                "203.0.113.9",
                if k % 4 == 0 { 404 } else { 200 },
            )
        })
        .collect();
    for chunk in attack.chunks(100) {
        d.detect(chunk, &mut out);
        d.take_marks(&mut marks);
    }
    (out, marks, attack)
}

fn one_alert(findings: Vec<Finding>) -> (Finding, AlertBook) {
    let mut book = AlertBook::new(SignedDuration::from_mins(20), 20).unwrap();
    for f in findings
        .into_iter()
        .filter(|f| f.rule.id == "GW-T-PARAM-ENUMERATION")
    {
        book.record(f);
    }
    let alerts: Vec<Finding> = book.open_alerts().cloned().collect();
    assert_eq!(alerts.len(), 1, "one alert for the whole enumeration");
    (alerts.into_iter().next().unwrap(), book)
}

#[test]
fn an_enumeration_of_5000_records_marks_its_records_and_states_the_rest_exactly() {
    let (findings, marks, attack) = enumeration(quick_config(), 5_000);
    let (alert, book) = one_alert(findings);
    let marks: Vec<&RecordMark> = marks
        .iter()
        .filter(|m| m.rule_id == "GW-T-PARAM-ENUMERATION")
        .collect();
    // Records are kept from the first whose distinct count passes half the floor (40 / 2).
    let dropped = alert.evidence.metrics.extra["events_dropped"];
    assert_eq!(alert.evidence.metrics.extra["events_sampled"], 1.0);
    assert!(
        dropped <= 20.0,
        "only the first records are not kept: {dropped}"
    );
    assert_eq!(marks.len() as f64 + dropped, 5_000.0);
    let ids: BTreeSet<&str> = marks.iter().map(|m| m.exchange_id.as_str()).collect();
    let want: BTreeSet<&str> = attack
        .iter()
        .skip(dropped as usize)
        .map(|x| x.id.as_str())
        .collect();
    assert_eq!(
        ids, want,
        "every record from the first kept one on is marked"
    );
    for m in &marks {
        assert_eq!(book.alert_id_for(&m.fingerprint, m.alert_at), alert.id);
        assert_eq!(m.location, "path:id");
        assert!(m.fragment.is_none(), "identifier values never leave");
        assert!(m.confidence >= 0.6);
    }
}

#[test]
fn a_small_mark_buffer_states_exactly_how_many_records_were_not_kept() {
    let mut cfg = quick_config();
    cfg.marks.max_pending_per_key = 16;
    let (findings, marks, _) = enumeration(cfg, 5_000);
    let (alert, _) = one_alert(findings);
    let marked = marks
        .iter()
        .filter(|m| m.rule_id == "GW-T-PARAM-ENUMERATION")
        .count() as f64;
    let extra = &alert.evidence.metrics.extra;
    assert_eq!(extra.get("events_sampled"), Some(&1.0));
    let dropped = extra["events_dropped"];
    assert!(dropped > 0.0);
    assert_eq!(
        marked + dropped,
        5_000.0,
        "marked {marked} + dropped {dropped}"
    );
}
