//! The record set of `benches/behavioral.rs` and `examples/behavioral_workload.rs`: simulated
//! traffic (seed 7, built-in specs, 3 rps) routed to endpoints, split into warm-up records and
//! records to replay, and the time shift that lets the replayed records be replayed again.

use gw_model::Exchange;
use gw_sim::{AttackSelection, SimConfig, Simulator};
use jiff::{SignedDuration, Timestamp};

#[path = "../../tests/support/router.rs"]
mod router;

/// `hours` simulated hours at 3 rps with `attacks`, routed; the last `timed` records are
/// returned apart from the rest (the warm-up).
pub fn warm_and_timed(
    hours: i64,
    timed: usize,
    attacks: AttackSelection,
) -> (Vec<Exchange>, Vec<Exchange>) {
    let cfg = SimConfig {
        specs: gw_sim::builtin_specs().expect("built-in specs import"),
        duration: SignedDuration::from_hours(hours),
        rps: 3.0,
        attacks,
        seed: 7,
        ..SimConfig::default()
    };
    let r = router::Router::builtin();
    let mut all: Vec<Exchange> = Simulator::new(cfg).expect("simulator config").collect();
    for x in &mut all {
        r.route(x);
    }
    let timed = all.split_off(all.len().saturating_sub(timed));
    (all, timed)
}

/// `timed` shifted forward by `round` spans of itself, so event time keeps advancing from one
/// replay to the next as in a live stream.
pub fn shifted(timed: &[Exchange], round: i64) -> Vec<Exchange> {
    let first = timed.first().map_or(0, |x| x.observed_at.as_microsecond());
    let last = timed.last().map_or(0, |x| x.observed_at.as_microsecond());
    let span = last - first + 1_000_000;
    timed
        .iter()
        .map(|x| {
            let mut y = x.clone();
            y.observed_at =
                Timestamp::from_microsecond(x.observed_at.as_microsecond() + round * span)
                    .expect("in range");
            y
        })
        .collect()
}
