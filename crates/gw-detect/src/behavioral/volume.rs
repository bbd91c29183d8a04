//! Volume baselines: calls per window to one endpoint from the whole population (per status
//! class, `GW-T-POPULATION-SPIKE`), from one IP (`GW-T-IP-SPIKE`) and from one identity
//! (`GW-T-IDENTITY-SPIKE`).
//!
//! The population baseline is a seasonal median/MAD/quantile of past window counts (empty
//! windows count as zero). An actor with six or more active windows of history is judged
//! against its own EWMA mean and spread of window counts; a newer actor against its peers (a
//! quantile of per-actor window counts on the endpoint, kept in a DDSketch, times a factor).
//! Actors are counted per endpoint and over all endpoints at once, so a spike spread over many
//! endpoints is seen too. Each alert is raised as soon as the open window's count crosses the
//! limit.

use gw_model::{Confidence, Exchange, Finding};
use gw_sketch::{
    BoundedMap, DdSketch, Ewma, SeasonalBaseline, Threshold, WindowCount, stable_hash_parts,
};

use super::{
    Alert, BehavioralConfig, BehavioralConfigError, IDENTITY_SPIKE, IP_SPIKE, POPULATION_SPIKE,
    StreamClock, Who, endpoint_key, event_secs, finding, human, identity_of, status_class,
    status_class_label, window_words,
};
use serde::{Deserialize, Serialize};

use crate::{DetectorStats, RuleMeta};

/// Empty windows folded into a population baseline when an endpoint comes back after a gap.
const MAX_ZERO_FILL: i64 = 72;
/// Per-actor window counts needed before an actor's own history is trusted.
const MIN_OWN_WINDOWS: u32 = 6;
/// Per-actor window counts needed before the peer distribution is trusted.
const MIN_PEER_WINDOWS: u64 = 200;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct EndpointVolume {
    win: WindowCount,
    baseline: SeasonalBaseline,
    calls: u64,
    cached: Option<(i64, Option<Threshold>)>,
    emitted: u8,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct ActorVolume {
    win: WindowCount,
    own: Ewma,
    emitted: u8,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct PeerVolume {
    counts: DdSketch,
    cached: Option<(i64, f64, f64)>,
}

/// See the module documentation.
#[derive(Serialize, Deserialize)]
pub struct VolumeDetector {
    #[serde(skip)]
    cfg: BehavioralConfig,
    clock: StreamClock,
    endpoints: BoundedMap<u64, EndpointVolume>,
    actors: BoundedMap<u64, ActorVolume>,
    peers: BoundedMap<u64, PeerVolume>,
    #[serde(skip)]
    scratch: Vec<f64>,
    swept_window: i64,
    #[serde(skip)]
    stats: DetectorStats,
}

static RULES: [&RuleMeta; 3] = [&POPULATION_SPIKE, &IP_SPIKE, &IDENTITY_SPIKE];

impl VolumeDetector {
    pub fn new(cfg: BehavioralConfig) -> Result<Self, BehavioralConfigError> {
        cfg.validate()?;
        Ok(VolumeDetector {
            clock: StreamClock::new(&cfg)?,
            endpoints: BoundedMap::new(cfg.max_endpoints)?,
            actors: BoundedMap::new(cfg.max_actor_endpoints)?,
            peers: BoundedMap::new(cfg.max_endpoints)?,
            scratch: Vec::new(),
            swept_window: i64::MIN,
            stats: DetectorStats::default(),
            cfg,
        })
    }

    /// Tracked (actor, endpoint) pairs.
    pub fn tracked_actors(&self) -> usize {
        self.actors.len()
    }

    /// Bytes of one tracked (actor, endpoint) pair in the actor map.
    pub fn bytes_per_actor_endpoint() -> usize {
        BoundedMap::<u64, ActorVolume>::bytes_per_entry()
    }

    fn examine(&mut self, x: &Exchange, out: &mut Vec<Finding>) {
        let t = event_secs(x);
        let wm = self.clock.observe(t);
        let tumbling = self.clock.window;
        let w = tumbling.index(t);
        let wm_window = tumbling.index(wm);
        if wm_window > self.swept_window {
            self.swept_window = wm_window;
            self.actors
                .evict_idle(wm - self.cfg.actor_idle_secs, |_| {});
        }
        let learned = self.clock.learned_secs(t) >= self.cfg.min_learning_secs;
        let endpoint = endpoint_key(x);
        let class = status_class(x);
        let ep_hash = stable_hash_parts(&[endpoint.as_bytes(), &[class]]);
        let window_secs = self.cfg.window_secs;
        let max_emit = self.cfg.max_findings_per_key_window;

        // Population, per status class.
        let cfg = &self.cfg;
        let (ep, _) = self.endpoints.entry(&ep_hash, t, || EndpointVolume {
            win: WindowCount::new(w),
            baseline: cfg.seasonal_baseline(),
            calls: 0,
            cached: None,
            emitted: 0,
        });
        if w > ep.win.window {
            let prev = ep.win.window;
            let prev_count = ep.win.count;
            ep.win = WindowCount::new(w);
            if ep.calls > 0 {
                ep.baseline
                    .observe(tumbling.start(prev), f64::from(prev_count));
                for gap in (prev + 1).max(w - MAX_ZERO_FILL)..w {
                    ep.baseline.observe(tumbling.start(gap), 0.0);
                }
            }
            ep.emitted = 0;
        }
        ep.win.add(w, 1);
        ep.calls += 1;
        let endpoint_calls = ep.calls;
        let endpoint_ready = learned
            && endpoint_calls >= cfg.min_endpoint_calls
            && ep.baseline.learned_secs(t) >= cfg.min_learning_secs;
        if cfg.population_spike.enabled && endpoint_ready && ep.emitted < max_emit {
            let window_start = tumbling.start(ep.win.window);
            let th = match ep.cached {
                Some((cw, th)) if cw == ep.win.window => th,
                _ => {
                    let th = ep.baseline.threshold_at(
                        window_start,
                        &cfg.population_spike.threshold,
                        &mut self.scratch,
                    );
                    ep.cached = Some((ep.win.window, th));
                    th
                }
            };
            if let Some(th) = th {
                let observed = f64::from(ep.win.count);
                if observed > th.limit {
                    ep.emitted += 1;
                    let class_label = status_class_label(class);
                    out.push(finding(
                        x,
                        Alert {
                            rule: &POPULATION_SPIKE,
                            who: Who::Population,
                            show_actor: false,
                            scope: &class_label,
                            reason: format!(
                                "observed {} {} req/{} vs baseline {} (p99 {}, limit {}{})",
                                human(observed),
                                class_label,
                                window_words(window_secs),
                                human(th.baseline),
                                human(th.upper),
                                human(th.limit),
                                if th.seasonal {
                                    ", same hour of day"
                                } else {
                                    ""
                                }
                            ),
                            observed,
                            baseline: Some(th.baseline),
                            threshold: Some(th.limit),
                            window: Some(tumbling.label()),
                            extra: vec![
                                ("p99", th.upper),
                                ("status_class", f64::from(class)),
                                ("history_windows", th.samples as f64),
                            ],
                            confidence: confidence_for(observed / th.limit.max(1.0)),
                        },
                    ));
                }
            }
        }

        // Per IP and per identity, all status classes together: on this endpoint and on all
        // endpoints at once (an actor spreading a spike over many endpoints).
        let ip_who = x.actor_ip().map(Who::Ip);
        let id_who = identity_of(x).map(Who::Identity);
        if !cfg.actor_spike.enabled {
            return;
        }
        for (who, rule) in [(ip_who, &IP_SPIKE), (id_who, &IDENTITY_SPIKE)] {
            let Some(who) = who else { continue };
            for scope in [Some(endpoint.as_ref()), None] {
                self.check_actor(x, who, rule, scope, t, w, endpoint_ready, out);
            }
        }
    }

    /// Counts `x` for `who` on `scope` (an endpoint, or all endpoints when `None`) and alerts
    /// when the open window crosses the actor's limit.
    #[allow(clippy::too_many_arguments)]
    fn check_actor(
        &mut self,
        x: &Exchange,
        who: Who<'_>,
        rule: &'static RuleMeta,
        scope: Option<&str>,
        t: i64,
        w: i64,
        ready: bool,
        out: &mut Vec<Finding>,
    ) {
        let scope_bytes = scope.map_or(&b"\x00all"[..], str::as_bytes);
        let key = who.hash_with(&[scope_bytes]);
        // Only needed when a window closes or the actor is past the floor.
        let peer_hash = || stable_hash_parts(&[scope_bytes]);
        let tumbling = self.clock.window;
        let (actor, _) = self.actors.entry(&key, t, || ActorVolume {
            win: WindowCount::new(w),
            own: Ewma::new(0.05).expect("constant alpha"),
            emitted: 0,
        });
        if w > actor.win.window {
            let closed = actor.win.count;
            actor.win = WindowCount::new(w);
            actor.emitted = 0;
            actor.own.update(f64::from(closed));
            let (peer, _) = self.peers.entry(&peer_hash(), t, || PeerVolume {
                counts: DdSketch::new(0.02, 512).expect("constant sketch shape"),
                cached: None,
            });
            let _ = peer.counts.add(f64::from(closed));
        }
        actor.win.add(w, 1);
        let rule_cfg = &self.cfg.actor_spike.threshold;
        let observed = f64::from(actor.win.count);
        if !ready
            || actor.emitted >= self.cfg.max_findings_per_key_window
            || observed <= rule_cfg.min_abs
        {
            return;
        }
        let (peer_limit, peer_q) = match self.peers.get_mut(&peer_hash(), t) {
            Some(p) => match p.cached {
                Some((cw, l, q)) if cw == w => (l, q),
                _ => {
                    let (l, q) = if p.counts.count() >= MIN_PEER_WINDOWS {
                        let q = p.counts.quantile(rule_cfg.quantile).unwrap_or(0.0);
                        (q * rule_cfg.quantile_factor, q)
                    } else {
                        (rule_cfg.min_abs, 0.0)
                    };
                    p.cached = Some((w, l, q));
                    (l, q)
                }
            },
            None => (rule_cfg.min_abs, 0.0),
        };
        let Some(actor) = self.actors.get_mut(&key, t) else {
            return;
        };
        let own_limit = if actor.own.count() >= MIN_OWN_WINDOWS {
            let mean = actor.own.mean();
            let sigma = actor
                .own
                .std_dev()
                .max(rule_cfg.sigma_floor_ratio * mean)
                .max(rule_cfg.sigma_floor_abs);
            mean + rule_cfg.z * sigma
        } else {
            0.0
        };
        // Own history when the actor has it, else its peers'.
        let limit = if own_limit > 0.0 {
            own_limit
        } else {
            peer_limit
        }
        .max(rule_cfg.min_abs);
        if observed <= limit {
            return;
        }
        actor.emitted += 1;
        let own_mean = actor.own.mean();
        let own_windows = f64::from(actor.own.count());
        out.push(finding(
            x,
            Alert {
                rule,
                who,
                show_actor: true,
                scope: if scope.is_some() { "" } else { "all-endpoints" },
                reason: format!(
                    "observed {} req/{} from this {} to {} vs its own baseline {} and peers' p99 {} (limit {})",
                    human(observed),
                    window_words(self.cfg.window_secs),
                    if matches!(who, Who::Ip(_)) { "IP" } else { "identity" },
                    if scope.is_some() { "this endpoint" } else { "all endpoints" },
                    human(own_mean),
                    human(peer_q),
                    human(limit)
                ),
                observed,
                baseline: Some(own_mean),
                threshold: Some(limit),
                window: Some(tumbling.label()),
                extra: vec![("peer_quantile", peer_q), ("own_windows", own_windows), ("all_endpoints", if scope.is_some() { 0.0 } else { 1.0 })],
                confidence: confidence_for(observed / limit.max(1.0)),
            },
        ));
    }
}

/// Confidence from how far past the limit a value is.
pub(crate) fn confidence_for(ratio: f64) -> Confidence {
    if ratio >= 3.0 {
        Confidence::High
    } else if ratio >= 1.5 {
        Confidence::Medium
    } else {
        Confidence::Low
    }
}

super::behavioral_detector!(VolumeDetector, "behavioral.volume");

#[cfg(test)]
mod tests {
    use super::super::test_support::{Rng, quick_config, rec, with_identity};
    use super::*;
    use crate::Detector;

    /// Six hours of steady traffic to two endpoints from 200 clients, then a burst.
    fn run(burst: impl Fn(i64, &mut Vec<Exchange>)) -> Vec<Finding> {
        let mut d = VolumeDetector::new(quick_config()).unwrap();
        let mut rng = Rng(7);
        let mut out = Vec::new();
        let mut id = 0;
        for t in 0..6 * 3600i64 {
            let mut batch = Vec::new();
            if rng.below(2) == 0 {
                id += 1;
                let ip = format!("10.0.{}.{}", rng.below(2), rng.below(100));
                let template = if rng.below(3) == 0 {
                    "/v1/orders"
                } else {
                    "/v1/items"
                };
                batch.push(rec(id, t, "GET", template, template, &ip, 200));
            }
            if t >= 5 * 3600 {
                burst(t, &mut batch);
            }
            d.detect(&batch, &mut out);
        }
        out
    }

    #[test]
    fn steady_traffic_raises_nothing() {
        let out = run(|_, _| {});
        assert!(
            out.is_empty(),
            "{:?}",
            out.iter().map(|f| &f.description).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_burst_from_one_ip_raises_an_ip_spike_and_a_population_spike() {
        let out = run(|t, b| {
            if t < 5 * 3600 + 600 {
                b.push(rec(
                    1_000_000 + t as u64,
                    t,
                    "GET",
                    "/v1/orders",
                    "/v1/orders",
                    "203.0.113.9",
                    200,
                ));
            }
        });
        let ip: Vec<_> = out
            .iter()
            .filter(|f| f.rule.id == "GW-T-IP-SPIKE")
            .collect();
        assert!(!ip.is_empty());
        assert_eq!(
            ip[0].actor.as_ref().unwrap().ip,
            Some("203.0.113.9".parse().unwrap())
        );
        assert!(
            ip[0].description.contains("req/20 min"),
            "{}",
            ip[0].description
        );
        assert!(ip.len() <= 20 * 2, "bounded per window");
        let pop: Vec<_> = out
            .iter()
            .filter(|f| f.rule.id == "GW-T-POPULATION-SPIKE")
            .collect();
        assert!(!pop.is_empty());
        assert!(pop[0].actor.is_none());
        let m = &pop[0].evidence.metrics;
        assert!(m.observed.unwrap() > m.threshold.unwrap() && m.baseline.is_some());
        assert_eq!(pop[0].evidence.samples[0].text, "GET /v1/orders -> 200");
        assert!(out.iter().all(|f| f.first_seen.as_second() >= 5 * 3600));
    }

    #[test]
    fn a_burst_from_one_identity_over_many_ips_raises_an_identity_spike() {
        let out = run(|t, b| {
            if t < 5 * 3600 + 600 {
                let ip = format!("198.51.100.{}", t % 50);
                b.push(with_identity(
                    rec(
                        2_000_000 + t as u64,
                        t,
                        "GET",
                        "/v1/items",
                        "/v1/items",
                        &ip,
                        200,
                    ),
                    "mallory",
                ));
            }
        });
        let f = out
            .iter()
            .find(|f| f.rule.id == "GW-T-IDENTITY-SPIKE")
            .expect("identity spike");
        assert_eq!(
            f.actor.as_ref().unwrap().identity.as_deref(),
            Some("mallory")
        );
        assert!(
            !out.iter().any(|f| f.rule.id == "GW-T-IP-SPIKE"),
            "each IP alone stays small"
        );
    }

    #[test]
    fn nothing_alerts_while_learning() {
        let mut d = VolumeDetector::new(quick_config()).unwrap();
        let mut out = Vec::new();
        let batch: Vec<_> = (0..3000)
            .map(|i| rec(i, i as i64 / 10, "GET", "/a", "/a", "192.0.2.1", 200))
            .collect();
        d.detect(&batch, &mut out);
        assert!(out.is_empty());
        assert_eq!(d.stats().received, 3000);
    }
}
