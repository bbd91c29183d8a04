//! False positives of the signature rules on benign simulator traffic (background only, no
//! attack scenarios): below 0.5 % of records, the brief's limit.

use std::collections::BTreeMap;

use gw_detect::{Scanner, SignatureHit};
use gw_sim::{AttackSelection, SimConfig, Simulator};
use jiff::SignedDuration;

#[test]
fn benign_simulator_traffic_stays_below_half_a_percent() {
    let cfg = SimConfig {
        specs: gw_sim::builtin_specs().expect("built-in specs import"),
        duration: SignedDuration::from_hours(6),
        rps: 3.0,
        attacks: AttackSelection::None,
        seed: 11,
        ..SimConfig::default()
    };
    let mut scanner = Scanner::new();
    let mut hits: Vec<SignatureHit> = Vec::new();
    let (mut records, mut flagged) = (0usize, 0usize);
    let mut by_rule: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for x in Simulator::new(cfg).expect("simulator config") {
        records += 1;
        hits.clear();
        scanner.scan_exchange(&x, &mut hits);
        if !hits.is_empty() {
            flagged += 1;
            for h in &hits {
                by_rule
                    .entry(h.rule.id)
                    .or_default()
                    .push(format!("{} {} {}", h.location, h.reason, h.fragment));
            }
        }
    }
    let rate = flagged as f64 / records.max(1) as f64;
    println!(
        "simulator benign traffic: {flagged} of {records} records flagged = {:.3}%",
        100.0 * rate
    );
    for (rule, v) in &by_rule {
        println!("  {rule}: {} e.g. {:?}", v.len(), &v[..v.len().min(3)]);
    }
    assert!(records > 20_000, "only {records} records generated");
    assert!(
        rate < 0.005,
        "signature false-positive rate on benign simulator traffic {:.3}% is not below 0.5%",
        100.0 * rate
    );
}
