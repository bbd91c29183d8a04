//! Memory of the behavioural detectors is bounded by their map capacities (active actors and
//! endpoints), never by the number of records or of distinct clients seen.

use gw_detect::Detector;
use gw_detect::behavioral::{
    BehavioralConfig, EnumerationDetector, SprayDetector, VolumeDetector, build_behavioral,
};
use gw_model::{Capture, EndpointMatch, EndpointRef, Exchange, Identity, Source, SourceKind};
use jiff::Timestamp;

/// Record `i` of a stream where every record comes from a new client IP, spread over
/// `seconds` of event time and 50 endpoints; a third carry an identity.
fn record(i: u64, n: u64, seconds: i64) -> Exchange {
    let source = Source {
        kind: SourceKind::Native,
        capture: Capture::Frontend,
        gateway: None,
        raw_ref: None,
    };
    let t = 1_717_372_800 + (i as i64 * seconds) / n as i64;
    let e = i % 50;
    let template = format!("/v1/things{e}/{{id}}");
    let path = format!("/v1/things{e}/{}", i % 1000);
    let mut x = Exchange::new(
        format!("m{i}"),
        Timestamp::from_second(t).unwrap(),
        source,
        "GET",
        path,
    );
    x.client.ip = Some(std::net::IpAddr::V4(std::net::Ipv4Addr::from(
        0x0b00_0000u32 + i as u32,
    )));
    x.response.status = Some(200);
    x.response.size = Some(500);
    x.duration_ms = Some(25.0);
    if i.is_multiple_of(3) {
        x.identity = Some(Identity {
            principal: Some(format!("user{i}")),
            ..Identity::default()
        });
    }
    x.endpoint = Some(std::sync::Arc::new(EndpointRef {
        id: format!("api GET {template}"),
        host: "api".into(),
        method: "GET".into(),
        template,
        spec_operation_id: None,
        matched_by: EndpointMatch::Spec,
    }));
    x
}

#[test]
fn tracked_actors_never_exceed_the_configured_capacity() {
    let cfg = BehavioralConfig {
        max_actor_endpoints: 2_000,
        max_actors: 1_000,
        ..BehavioralConfig::default()
    };
    let mut volume = VolumeDetector::new(cfg.clone()).unwrap();
    let mut spray = SprayDetector::new(cfg.clone()).unwrap();
    let mut enumeration = EnumerationDetector::new(cfg).unwrap();
    let n = 50_000;
    let mut out = Vec::new();
    let batch: Vec<Exchange> = (0..n).map(|i| record(i, n, 3 * 86_400)).collect();
    for chunk in batch.chunks(256) {
        volume.detect(chunk, &mut out);
        spray.detect(chunk, &mut out);
        enumeration.detect(chunk, &mut out);
    }
    assert_eq!(volume.tracked_actors(), 2_000);
    assert_eq!(spray.tracked_actors(), 1_000);
    assert_eq!(enumeration.tracked_actors(), 2_000);
    println!(
        "bytes per tracked entry: volume (actor, endpoint) {} B, spray actor <= {} B, enumeration (actor, endpoint) <= {} B",
        VolumeDetector::bytes_per_actor_endpoint(),
        SprayDetector::bytes_per_actor(),
        EnumerationDetector::bytes_per_actor_endpoint()
    );
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[test]
#[ignore = "5 million records; run with --release -- --ignored"]
fn five_million_distinct_ips_over_four_weeks_stay_under_two_gib() {
    let mut detectors = build_behavioral(&BehavioralConfig::default()).unwrap();
    let n = 5_000_000u64;
    let mut out = Vec::new();
    let mut batch = Vec::with_capacity(1024);
    let before = peak_rss_kib();
    for start in (0..n).step_by(1024) {
        batch.clear();
        batch.extend((start..(start + 1024).min(n)).map(|i| record(i, n, 28 * 86_400)));
        for d in &mut detectors {
            d.detect(&batch, &mut out);
        }
        out.clear();
    }
    let after = peak_rss_kib();
    println!(
        "peak RSS before {before:?} KiB, after 5,000,000 distinct IPs over 28 days: {after:?} KiB"
    );
    if let Some(kib) = after {
        assert!(kib < 2 * 1024 * 1024, "peak RSS {kib} KiB");
    }
}
