//! End-to-end checks of the simulator: records against ground truth, determinism, traffic shape,
//! PII validity, every scenario on its own, the shared specs as input, and bounded state.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use gw_model::{Capture, EXCHANGE_SCHEMA, Exchange, SourceKind};
use gw_sim::{
    AttackSelection, Profile, Scenario, SimConfig, Simulator, TruthEntry, iban_valid, luhn_valid,
    write_ndjson,
};
use jiff::SignedDuration;

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

fn config(hours: i64, rps: f64) -> SimConfig {
    SimConfig {
        duration: SignedDuration::from_hours(hours),
        rps,
        clients: 3_000,
        payload_dir: Some(shared().join("injection")).filter(|p| p.is_dir()),
        ..SimConfig::default()
    }
}

/// Runs a simulation; returns the NDJSON bytes and the truth.
fn run(cfg: SimConfig) -> (Vec<u8>, Vec<TruthEntry>, Simulator) {
    let mut sim = Simulator::new(cfg).unwrap();
    let mut out = Vec::new();
    let mut truth = Vec::new();
    write_ndjson(&mut sim, &mut out, Some(&mut truth)).unwrap();
    let entries = String::from_utf8(truth)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (out, entries, sim)
}

fn records(bytes: &[u8]) -> Vec<Exchange> {
    std::str::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn truth_matches_the_records() {
    let cfg = config(12, 1.5);
    let (start, end) = (cfg.start, cfg.start + cfg.duration);
    let middle = cfg.start + SignedDuration::from_hours(6);
    let (bytes, truth, sim) = run(cfg);
    let xs = records(&bytes);
    assert!(sim.skipped().is_empty(), "{:?}", sim.skipped());
    assert_eq!(truth.len(), Scenario::ALL.len());
    let by_id: HashMap<&str, &Exchange> = xs.iter().map(|x| (x.id.as_str(), x)).collect();
    assert_eq!(by_id.len(), xs.len(), "record ids are unique");
    let mut labelled = BTreeSet::new();
    for t in &truth {
        assert_eq!(t.count as usize, t.record_ids.len(), "{}", t.scenario);
        assert!(t.count > 0, "{}", t.scenario);
        assert!(
            t.start >= middle && t.end <= end && t.start < t.end,
            "{} window {}..{}",
            t.scenario,
            t.start,
            t.end
        );
        assert_eq!(Scenario::from_name(&t.scenario).unwrap().kind(), t.kind);
        for id in &t.record_ids {
            let x = by_id
                .get(id.as_str())
                .unwrap_or_else(|| panic!("{}: {id} not in the output", t.scenario));
            assert!(
                x.observed_at >= t.start && x.observed_at <= t.end,
                "{} {id}",
                t.scenario
            );
            if let Some(ip) = t.actor.ip {
                assert_eq!(x.client.ip, Some(ip), "{}", t.scenario);
            }
            if let Some(identity) = &t.actor.identity {
                assert_eq!(
                    x.identity.as_ref().and_then(|i| i.actor_key()),
                    Some(identity.as_str()),
                    "{}",
                    t.scenario
                );
            }
            if let Some(ep) = &t.endpoint {
                assert_eq!(
                    (x.request.method.as_str(), x.server.host.as_deref()),
                    (ep.method.as_str(), Some(ep.host.as_str()))
                );
            }
            assert!(labelled.insert(id.clone()), "{id} labelled twice");
        }
    }
    let times: Vec<_> = xs.iter().map(|x| x.observed_at).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "records are in event-time order"
    );
    assert!(
        xs.iter()
            .all(|x| x.observed_at >= start && x.observed_at < end)
    );
    let attack_ips: BTreeSet<_> = truth.iter().filter_map(|t| t.actor.ip).collect();
    let unlabelled_from_attackers = xs
        .iter()
        .filter(|x| {
            !labelled.contains(&x.id) && x.client.ip.is_some_and(|ip| attack_ips.contains(&ip))
        })
        .count();
    assert_eq!(
        unlabelled_from_attackers, 0,
        "attacker addresses never appear in background traffic"
    );
    let shadow = truth
        .iter()
        .find(|t| t.scenario == "shadow-access")
        .unwrap();
    let shadow_hits = xs
        .iter()
        .filter(|x| x.request.path == gw_sim::BUILTIN_SHADOW_TEMPLATE)
        .count();
    assert_eq!(
        shadow_hits as u64, shadow.count,
        "only the scenario calls the undeclared endpoint"
    );
    let deprecated = xs
        .iter()
        .filter(|x| x.request.path.starts_with("/api/v1/v0/products/"))
        .count();
    assert!(deprecated > 0, "the deprecated endpoint still gets traffic");
}

#[test]
fn records_are_valid_native_exchanges() {
    let (bytes, _, _) = run(config(2, 2.0));
    for line in std::str::from_utf8(&bytes).unwrap().lines() {
        let x: Exchange = serde_json::from_str(line).unwrap();
        assert_eq!(x.schema, EXCHANGE_SCHEMA);
        assert_eq!(
            (x.source.kind, x.source.capture),
            (SourceKind::Native, Capture::Frontend)
        );
        assert_eq!(uuid::Uuid::parse_str(&x.id).unwrap().get_version_num(), 7);
        assert!(
            x.server.host.is_some()
                && !x.request.path.is_empty()
                && x.request.path.starts_with('/')
        );
        assert!((100..=599).contains(&x.response.status.unwrap()));
        let headers = x.request.headers.as_ref().unwrap();
        assert!(
            headers
                .iter()
                .all(|h| h.name == h.name.to_ascii_lowercase())
        );
        if let Some(auth) = x.request.header("authorization") {
            assert!(
                auth.starts_with("Bearer ey") || auth.starts_with("Basic "),
                "{auth}"
            );
        }
        assert!(x.request.size.is_some() && x.response.size.is_some() && x.duration_ms.is_some());
    }
}

#[test]
fn the_same_seed_reproduces_bytes_and_other_seeds_differ() {
    let a = run(config(3, 2.0)).0;
    let b = run(config(3, 2.0)).0;
    assert!(a == b, "same seed, same bytes");
    let c = run(SimConfig {
        seed: 2,
        ..config(3, 2.0)
    })
    .0;
    assert!(a != c, "another seed, other traffic");
}

#[test]
fn nights_and_weekends_are_quieter() {
    let cfg = SimConfig {
        attacks: AttackSelection::None,
        ..config(24 * 7, 0.5)
    };
    let (bytes, _, _) = run(cfg);
    let xs = records(&bytes);
    let mut per_hour = [0u64; 24];
    let mut per_weekday = [0u64; 7];
    for x in &xs {
        let dt = x.observed_at.to_zoned(jiff::tz::TimeZone::UTC);
        per_hour[dt.hour() as usize] += 1;
        per_weekday[dt.weekday().to_monday_zero_offset() as usize] += 1;
    }
    let night: u64 = per_hour[0..6].iter().sum();
    let day: u64 = per_hour[10..16].iter().sum();
    assert!(night * 2 < day, "night {night} vs day {day}");
    let weekday = per_weekday[0..5].iter().sum::<u64>() as f64 / 5.0;
    let weekend = per_weekday[5..7].iter().sum::<u64>() as f64 / 2.0;
    assert!(
        weekend < weekday * 0.75,
        "weekend {weekend} vs weekday {weekday}"
    );
}

#[test]
fn a_few_clients_make_most_of_the_traffic() {
    let cfg = SimConfig {
        attacks: AttackSelection::None,
        clients: 5_000,
        ..config(24, 1.0)
    };
    let xs = records(&run(cfg).0);
    let mut per_ip: BTreeMap<std::net::IpAddr, u64> = BTreeMap::new();
    for x in &xs {
        *per_ip.entry(x.client.ip.unwrap()).or_default() += 1;
    }
    let mut counts: Vec<u64> = per_ip.values().copied().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let top = counts.len().div_ceil(100);
    let share = counts[..top].iter().sum::<u64>() as f64 / xs.len() as f64;
    assert!(
        share > 0.2,
        "top 1% of {} clients make {share:.2} of {} requests",
        counts.len(),
        xs.len()
    );
    assert!(counts.len() > 1_000, "a broad population: {}", counts.len());
    assert!(xs.iter().any(|x| {
        x.client
            .ip
            .is_some_and(|ip| matches!(ip, std::net::IpAddr::V4(v) if v.is_private()))
    }));
}

fn walk<'a>(v: &'a serde_json::Value, out: &mut Vec<(String, &'a str)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                if let Some(s) = v.as_str() {
                    out.push((k.clone(), s));
                }
                walk(v, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
        _ => {}
    }
}

#[test]
fn response_bodies_carry_valid_pii() {
    let cfg = SimConfig {
        attacks: AttackSelection::None,
        ..config(6, 2.0)
    };
    let xs = records(&run(cfg).0);
    let (mut cards, mut ibans, mut emails) = (0, 0, 0);
    for x in &xs {
        let Some(text) = x.response.body.as_ref().and_then(|b| b.text()) else {
            continue;
        };
        let Ok(doc) = serde_json::from_str::<serde_json::Value>(text) else {
            continue;
        };
        let mut fields = Vec::new();
        walk(&doc, &mut fields);
        for (k, v) in fields {
            let k = k.to_ascii_lowercase();
            if k.contains("cardnumber") {
                assert!(luhn_valid(v), "{v}");
                cards += 1;
            } else if k.contains("iban") {
                assert!(iban_valid(v), "{v}");
                ibans += 1;
            } else if k.contains("email") {
                assert!(v.contains('@'));
                emails += 1;
            }
        }
    }
    assert!(
        cards > 0 && ibans > 0 && emails > 0,
        "cards {cards}, ibans {ibans}, emails {emails}"
    );
}

#[test]
fn every_scenario_can_be_selected_alone() {
    for scenario in Scenario::ALL {
        let cfg = SimConfig {
            attacks: AttackSelection::parse(scenario.name()).unwrap(),
            ..config(2, 0.5)
        };
        let (bytes, truth, sim) = run(cfg);
        assert!(sim.skipped().is_empty(), "{:?}", sim.skipped());
        assert_eq!(truth.len(), 1, "{}", scenario.name());
        assert_eq!(truth[0].scenario, scenario.name());
        assert!(truth[0].count > 0);
        let ids: BTreeSet<String> = records(&bytes).into_iter().map(|x| x.id).collect();
        assert!(
            truth[0].record_ids.iter().all(|id| ids.contains(id)),
            "{}",
            scenario.name()
        );
    }
}

#[test]
fn injection_records_carry_payloads() {
    let cfg = SimConfig {
        attacks: AttackSelection::parse("sqli,xss,traversal,ssrf,cmdi,suspicious-ua").unwrap(),
        ..config(2, 0.5)
    };
    let (bytes, truth, _) = run(cfg);
    let xs = records(&bytes);
    let by_id: HashMap<&str, &Exchange> = xs.iter().map(|x| (x.id.as_str(), x)).collect();
    for t in &truth {
        let distinct: BTreeSet<String> = t
            .record_ids
            .iter()
            .map(|id| {
                let x = by_id[id.as_str()];
                format!(
                    "{}?{}#{:?}#{:?}",
                    x.request.path,
                    x.request.query.as_deref().unwrap_or(""),
                    x.request.body.as_ref().and_then(|b| b.content.clone()),
                    x.client.user_agent
                )
            })
            .collect();
        assert!(distinct.len() > 5, "{}: payloads vary", t.scenario);
    }
}

#[test]
fn the_shared_crapi_and_vampi_specs_drive_the_simulator() {
    let specs_dir = shared().join("specs");
    if !specs_dir.is_dir() {
        return; // the shared corpus is not checked out beside the repository
    }
    for file in ["crapi/crapi-openapi-spec.json", "vampi/openapi3.yml"] {
        let spec = gw_spec::load_spec(specs_dir.join(file)).unwrap();
        let declared: BTreeSet<String> = spec.operations.iter().map(|o| o.method.clone()).collect();
        let cfg = SimConfig {
            specs: vec![spec],
            ..config(4, 2.0)
        };
        let (bytes, truth, sim) = run(cfg);
        let xs = records(&bytes);
        assert!(xs.len() > 1_000, "{file}: {}", xs.len());
        assert!(
            xs.iter()
                .all(|x| declared.contains(x.request.method.as_str())),
            "{file}"
        );
        assert!(
            xs.iter().all(|x| x
                .server
                .host
                .as_deref()
                .is_some_and(|h| h.starts_with("localhost:"))),
            "{file}"
        );
        assert!(
            sim.skipped().is_empty(),
            "{file}: skipped {:?}",
            sim.skipped()
        );
        assert_eq!(truth.len(), Scenario::ALL.len());
        assert!(
            truth.iter().any(|t| t.scenario == "credential-stuffing"),
            "{file} has a login endpoint"
        );
    }
}

#[test]
fn state_does_not_grow_with_the_duration() {
    let short = Simulator::new(SimConfig {
        clients: 1_000_000,
        ..config(24, 0.02)
    })
    .unwrap();
    let mut long = Simulator::new(SimConfig {
        clients: 1_000_000,
        ..config(24 * 90, 0.02)
    })
    .unwrap();
    assert_eq!(
        short.planned_attack_records(),
        long.planned_attack_records(),
        "attack sizes do not scale with duration"
    );
    let streams = long.footprint().attack_streams;
    let mut n = 0u64;
    while let Some(x) = long.next() {
        n += 1;
        let f = long.footprint();
        assert!(f.buffered_records <= 1);
        assert_eq!(f.attack_streams, streams);
        assert!(f.truth_record_ids as u64 <= long.planned_attack_records());
        assert!(!x.id.is_empty());
    }
    assert!(n > 150_000, "{n}");
    assert_eq!(
        long.footprint().truth_record_ids as u64,
        long.planned_attack_records()
    );
}

#[test]
fn gzip_output_holds_the_same_records() {
    let dir = tempfile::tempdir().unwrap();
    let plain = run(config(1, 2.0)).0;
    let path = dir.path().join("traffic.ndjson.gz");
    let out = gw_sim::open_output(&path).unwrap();
    let mut out = out;
    let mut sim = Simulator::new(config(1, 2.0)).unwrap();
    write_ndjson(&mut sim, &mut out, None::<std::io::Sink>).unwrap();
    out.finish().unwrap();
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_end(&mut unzipped)
        .unwrap();
    assert!(unzipped == plain);
}

#[test]
fn the_defender_profile_reproduces_its_shape_at_a_fraction() {
    let cfg = SimConfig {
        profile: Some(Profile::Defender4w),
        scale: 0.000_05,
        ..config(1, 1.0)
    };
    let (start, shape) = (cfg.start, Profile::Defender4w.shape());
    let mut sim = Simulator::new(cfg).unwrap();
    let mut ips = BTreeSet::new();
    let mut countries = BTreeSet::new();
    let (mut n, mut last) = (0u64, start);
    let mut sizes = Vec::new();
    for x in sim.by_ref() {
        n += 1;
        sizes.push((
            x.id.clone(),
            x.request.size.unwrap() + x.response.size.unwrap(),
        ));
        let ip = x.client.ip.unwrap();
        if let Some(c) = gw_sim::simulated_country(ip) {
            countries.insert(c);
        }
        ips.insert(ip);
        last = x.observed_at;
    }
    let background = n - sim.emitted().1;
    let expected = shape.requests as f64 * 0.000_05;
    assert!(
        (background as f64 - expected).abs() < expected * 0.05,
        "{background} vs {expected}"
    );
    assert!(
        last > start + SignedDuration::from_hours(24 * 27),
        "four weeks: {last}"
    );
    // Background volume: the few huge attack records (exfiltration) would dominate a tiny fraction.
    let attack_ids: BTreeSet<&String> = sim.truth().iter().flat_map(|t| &t.record_ids).collect();
    let bytes: u64 = sizes
        .iter()
        .filter(|(id, _)| !attack_ids.contains(id))
        .map(|(_, b)| b)
        .sum();
    let per_record = bytes as f64 / background as f64;
    let target = shape.bytes as f64 / shape.requests as f64;
    assert!(
        (per_record - target).abs() < target * 0.25,
        "{per_record:.0} bytes/record vs {target:.0}"
    );
    assert!(countries.len() >= 60, "{} countries", countries.len());
    assert!(ips.len() > 100, "{} clients", ips.len());
}

#[test]
fn the_fast_writer_matches_serde_json() {
    let mut configs = vec![config(3, 2.0)];
    let specs_dir = shared().join("specs");
    if specs_dir.is_dir() {
        for file in ["crapi/crapi-openapi-spec.json", "vampi/openapi3.yml"] {
            configs.push(SimConfig {
                specs: vec![gw_spec::load_spec(specs_dir.join(file)).unwrap()],
                ..config(3, 1.0)
            });
        }
    }
    for cfg in configs {
        let mut sim = Simulator::new(cfg).unwrap();
        let mut fast = Vec::new();
        for mut x in sim.by_ref() {
            fast.clear();
            gw_sim::append_ndjson_line(&x, &mut fast).unwrap();
            let mut slow = serde_json::to_vec(&x).unwrap();
            slow.push(b'\n');
            assert!(
                fast == slow,
                "{}\n{}",
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&slow)
            );
            // Members the simulator never fills take the serde path and still match.
            x.labels.insert("env".into(), "prod".into());
            fast.clear();
            gw_sim::append_ndjson_line(&x, &mut fast).unwrap();
            let mut slow = serde_json::to_vec(&x).unwrap();
            slow.push(b'\n');
            assert!(fast == slow);
        }
    }
}
