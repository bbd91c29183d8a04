//! `GW-T-ENDPOINT-SPRAY`: distinct endpoints one IP or identity calls per window (a small
//! HyperLogLog per actor). An actor with six windows of history is judged against its own EWMA;
//! a newer one against the population's distribution of the same count (DDSketch of closed
//! actor windows, a quantile times a factor).

use gw_model::{Exchange, Finding};
use gw_sketch::{BoundedMap, DdSketch, Ewma, HyperLogLog, stable_hash};

use super::marks::MarkBook;
use super::volume::confidence_for;
use super::{
    Alert, BehavioralConfig, BehavioralConfigError, ENDPOINT_SPRAY, StreamClock, Who, endpoint_key,
    event_secs, finding, human, identity_of, template_of, window_words,
};
use serde::{Deserialize, Serialize};

use crate::{DetectorStats, RuleMeta};

/// HLL precision per actor: 64 one-byte registers (±13 %), exact up to 8 endpoints.
const ACTOR_HLL_P: u8 = 6;
const MIN_OWN_WINDOWS: u32 = 6;
const MIN_PEER_WINDOWS: u64 = 200;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct ActorSpray {
    window: i64,
    distinct: HyperLogLog,
    own: Ewma,
    emitted: u8,
    /// Records of the actor in the window.
    calls: u32,
}

/// See the module documentation.
#[derive(Serialize, Deserialize)]
pub struct SprayDetector {
    #[serde(skip)]
    cfg: BehavioralConfig,
    clock: StreamClock,
    actors: BoundedMap<u64, ActorSpray>,
    peers: DdSketch,
    peer_cache: Option<(i64, f64, f64)>,
    swept_window: i64,
    marks: MarkBook,
    #[serde(skip)]
    stats: DetectorStats,
}

static RULES: [&RuleMeta; 1] = [&ENDPOINT_SPRAY];

impl SprayDetector {
    pub fn new(cfg: BehavioralConfig) -> Result<Self, BehavioralConfigError> {
        cfg.validate()?;
        Ok(SprayDetector {
            clock: StreamClock::new(&cfg)?,
            actors: BoundedMap::new(cfg.max_actors)?,
            peers: DdSketch::new(0.02, 512)?,
            peer_cache: None,
            swept_window: i64::MIN,
            marks: MarkBook::new(&cfg.marks)?,
            stats: DetectorStats::default(),
            cfg,
        })
    }

    /// Bytes of one tracked actor (map tables plus a full HyperLogLog).
    pub fn bytes_per_actor() -> usize {
        BoundedMap::<u64, ActorSpray>::bytes_per_entry() + (1 << ACTOR_HLL_P)
    }

    /// Tracked actors (or (actor, endpoint) pairs) right now.
    pub fn tracked_actors(&self) -> usize {
        self.actors.len()
    }

    fn examine(&mut self, x: &Exchange, out: &mut Vec<Finding>) {
        let t = event_secs(x);
        let wm = self.clock.observe(t);
        let tumbling = self.clock.window;
        let w = tumbling.index(t);
        if tumbling.index(wm) > self.swept_window {
            self.swept_window = tumbling.index(wm);
            self.actors
                .evict_idle(wm - self.cfg.actor_idle_secs, |_| {});
        }
        if !self.cfg.endpoint_spray.enabled {
            return;
        }
        let learned = self.clock.learned_secs(t) >= self.cfg.min_learning_secs;
        let endpoint = endpoint_key(x);
        let eh = stable_hash(endpoint.as_bytes());
        let rule = self.cfg.endpoint_spray.threshold;
        let max_emit = self.cfg.max_findings_per_key_window;
        for who in [x.actor_ip().map(Who::Ip), identity_of(x).map(Who::Identity)]
            .into_iter()
            .flatten()
        {
            let key = who.hash_with(&[]);
            let (a, _) = self.actors.entry(&key, t, || ActorSpray {
                window: w,
                distinct: HyperLogLog::new(ACTOR_HLL_P).expect("constant precision"),
                own: Ewma::new(0.05).expect("constant alpha"),
                emitted: 0,
                calls: 0,
            });
            if w > a.window {
                let closed = a.distinct.count().round();
                a.own.update(closed);
                let _ = self.peers.add(closed);
                a.distinct.clear();
                a.window = w;
                a.emitted = 0;
                a.calls = 0;
            }
            a.distinct.insert_hash(eh);
            a.calls += 1;
            let observed = a.distinct.count().round();
            // Records are kept for marks once the actor is half way to the absolute floor:
            // nearly every actor stays below it, and an alert counts the earlier ones as
            // dropped (`events_dropped`).
            if observed * 2.0 > rule.min_abs {
                self.marks.count(key, &ENDPOINT_SPRAY, w, x, || {
                    (
                        format!("endpoint:{} {}", x.request.method, template_of(x)),
                        None,
                    )
                });
            }
            if !learned || a.emitted >= max_emit || observed <= rule.min_abs {
                continue;
            }
            let (peer_limit, peer_q) = match self.peer_cache {
                Some((cw, l, q)) if cw == w => (l, q),
                _ => {
                    let (l, q) = super::peer_limit(&self.peers, &rule, MIN_PEER_WINDOWS);
                    self.peer_cache = Some((w, l, q));
                    (l, q)
                }
            };
            // Own history when the actor has it, else its peers'.
            let limit = super::actor_limit(&a.own, peer_limit, &rule, MIN_OWN_WINDOWS);
            if observed > limit {
                a.emitted += 1;
                let own_mean = a.own.mean();
                let counted = u64::from(a.calls);
                let mut f = finding(
                    x,
                    Alert {
                        rule: &ENDPOINT_SPRAY,
                        who,
                        show_actor: true,
                        scope: "",
                        reason: format!(
                            "observed {} distinct endpoints/{} vs its own baseline {} and peers' p99 {} (limit {})",
                            human(observed),
                            window_words(self.cfg.window_secs),
                            human(own_mean),
                            human(peer_q),
                            human(limit)
                        ),
                        observed,
                        baseline: Some(own_mean),
                        threshold: Some(limit),
                        window: Some(tumbling.label()),
                        extra: vec![("peer_quantile", peer_q)],
                        confidence: confidence_for(observed / limit.max(1.0)),
                    },
                );
                self.marks.fire(key, &ENDPOINT_SPRAY, w, counted, &mut f);
                out.push(f);
            }
        }
    }
}

super::behavioral_detector!(SprayDetector, "behavioral.spray", marks);

#[cfg(test)]
mod tests {
    use super::super::test_support::{Rng, quick_config, rec};
    use super::*;
    use crate::Detector;

    #[test]
    fn one_ip_touching_forty_endpoints_is_a_spray_and_normal_clients_are_not() {
        let mut d = SprayDetector::new(quick_config()).unwrap();
        let mut rng = Rng(11);
        let mut out = Vec::new();
        for t in 0..3 * 3600i64 {
            let ip = format!("10.1.0.{}", rng.below(200));
            let e = format!("/v1/e{}", rng.below(6));
            d.detect(&[rec(t as u64, t, "GET", &e, &e, &ip, 200)], &mut out);
        }
        assert!(out.is_empty());
        for i in 0..40 {
            let e = format!("/v1/scan{i}");
            d.detect(
                &[rec(
                    90_000 + i,
                    3 * 3600 + i as i64,
                    "GET",
                    &e,
                    &e,
                    "203.0.113.7",
                    404,
                )],
                &mut out,
            );
        }
        assert!(!out.is_empty());
        assert_eq!(out[0].rule.id, "GW-T-ENDPOINT-SPRAY");
        assert!(out[0].description.contains("distinct endpoints/20 min"));
        assert!(SprayDetector::bytes_per_actor() < 200);
    }
}
