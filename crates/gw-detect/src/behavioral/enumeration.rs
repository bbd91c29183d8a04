//! Identifier enumeration (BOLA probing, OWASP API1): distinct values of identifier parameters
//! per window, from one client (`GW-T-PARAM-ENUMERATION`, IP or identity) or from the whole
//! population of an endpoint (`GW-T-DISTRIBUTED-ENUMERATION`).
//!
//! Identifiers are path parameters and query parameters named `id` or ending in `id`. Distinct
//! values are counted with HyperLogLogs; the per-client limit comes from the client's own EWMA
//! once it has history, else from the peers' distribution of the same count on the endpoint
//! (DDSketch quantile times a factor), the population limit from the endpoint's seasonal baseline. Sequential
//! numeric values and a high 403/404 share raise the confidence and are reported; a window
//! where many calls walk sequential ids needs a smaller excess over the population baseline
//! ([`super::Corroboration`]).

use gw_model::{Confidence, Exchange, Finding, ParamLocation};
use gw_sketch::{
    BoundedMap, DdSketch, Ewma, HyperLogLog, SeasonalBaseline, Threshold, stable_hash,
    stable_hash_parts,
};

use super::marks::MarkBook;
use super::params::{ExtractedParam, extract_path_and_query};
use super::{
    Alert, BehavioralConfig, BehavioralConfigError, DISTRIBUTED_ENUMERATION, PARAM_ENUMERATION,
    StreamClock, Who, endpoint_key, event_secs, finding, human, identity_of, location_word,
    recycle, window_words,
};
use serde::{Deserialize, Serialize};

use crate::{DetectorStats, RuleMeta};

const ACTOR_HLL_P: u8 = 6;
const ENDPOINT_HLL_P: u8 = 11;
const MIN_OWN_WINDOWS: u32 = 6;
const MIN_PEER_WINDOWS: u64 = 200;
/// Keeps the population's mark key apart from the actors' keys.
const POPULATION_MARK_SALT: u64 = 0x706f_7075_6c61_7469;
/// Two numeric identifiers this close count as sequential.
const SEQUENTIAL_GAP: i64 = 3;

/// Counters of identifier use in one window.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct IdWindow {
    window: i64,
    distinct: HyperLogLog,
    calls: u32,
    denied: u32,
    sequential: u32,
    recent: [i64; 4],
    emitted: u8,
}

impl IdWindow {
    fn new(window: i64, p: u8) -> Self {
        IdWindow {
            window,
            distinct: HyperLogLog::new(p).expect("constant precision"),
            calls: 0,
            denied: 0,
            sequential: 0,
            recent: [i64::MIN; 4],
            emitted: 0,
        }
    }

    fn reset(&mut self, window: i64) {
        self.window = window;
        self.distinct.clear();
        self.calls = 0;
        self.denied = 0;
        self.sequential = 0;
        self.recent = [i64::MIN; 4];
        self.emitted = 0;
    }

    fn add(&mut self, ids: &[(u64, Option<i64>)], denied: bool) {
        self.calls += 1;
        self.denied += u32::from(denied);
        for &(h, n) in ids {
            self.distinct.insert_hash(h);
            if let Some(n) = n {
                if self
                    .recent
                    .iter()
                    .any(|&r| r != i64::MIN && r != n && (r - n).abs() <= SEQUENTIAL_GAP)
                {
                    self.sequential += 1;
                }
                self.recent.rotate_right(1);
                self.recent[0] = n;
            }
        }
    }

    fn confidence(&self) -> Confidence {
        let seq = f64::from(self.sequential) / f64::from(self.calls.max(1));
        let denied = f64::from(self.denied) / f64::from(self.calls.max(1));
        if seq >= 0.5 || denied >= 0.3 {
            Confidence::High
        } else if seq >= 0.1 || denied >= 0.1 {
            Confidence::Medium
        } else {
            Confidence::Low
        }
    }

    fn extra(&self) -> Vec<(&'static str, f64)> {
        let calls = f64::from(self.calls.max(1));
        vec![
            ("calls", f64::from(self.calls)),
            ("sequential_share", f64::from(self.sequential) / calls),
            ("denied_share", f64::from(self.denied) / calls),
        ]
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct ActorIds {
    ids: IdWindow,
    own: Ewma,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct EndpointIds {
    ids: IdWindow,
    baseline: SeasonalBaseline,
    calls: u64,
    peers: DdSketch,
    cached: Option<(i64, Option<Threshold>, f64, f64)>,
}

/// See the module documentation.
#[derive(Serialize, Deserialize)]
pub struct EnumerationDetector {
    #[serde(skip)]
    cfg: BehavioralConfig,
    clock: StreamClock,
    endpoints: BoundedMap<u64, EndpointIds>,
    actors: BoundedMap<u64, ActorIds>,
    #[serde(skip)]
    scratch: Vec<f64>,
    swept_window: i64,
    marks: MarkBook,
    /// The parameters and identifier (hash, numeric value) pairs of the record being examined
    /// (kept for their allocations).
    #[serde(skip)]
    params: Vec<ExtractedParam<'static>>,
    #[serde(skip)]
    ids: Vec<(u64, Option<i64>)>,
    #[serde(skip)]
    stats: DetectorStats,
}

static RULES: [&RuleMeta; 2] = [&PARAM_ENUMERATION, &DISTRIBUTED_ENUMERATION];

pub(super) fn is_identifier(p: &ExtractedParam<'_>) -> bool {
    match p.location {
        ParamLocation::Path => true,
        ParamLocation::Query => {
            let n = p.name.as_bytes();
            n.len() >= 2 && n[n.len() - 2..].eq_ignore_ascii_case(b"id")
        }
        _ => false,
    }
}

impl EnumerationDetector {
    pub fn new(cfg: BehavioralConfig) -> Result<Self, BehavioralConfigError> {
        cfg.validate()?;
        Ok(EnumerationDetector {
            clock: StreamClock::new(&cfg)?,
            endpoints: BoundedMap::new(cfg.max_endpoints)?,
            actors: BoundedMap::new(cfg.max_actor_endpoints)?,
            scratch: Vec::new(),
            swept_window: i64::MIN,
            marks: MarkBook::new(&cfg.marks)?,
            params: Vec::new(),
            ids: Vec::new(),
            stats: DetectorStats::default(),
            cfg,
        })
    }

    /// Bytes of one tracked (actor, endpoint) pair (map tables plus a full HyperLogLog).
    pub fn bytes_per_actor_endpoint() -> usize {
        BoundedMap::<u64, ActorIds>::bytes_per_entry() + (1 << ACTOR_HLL_P)
    }

    /// Tracked actors (or (actor, endpoint) pairs) right now.
    pub fn tracked_actors(&self) -> usize {
        self.actors.len()
    }

    fn examine(&mut self, x: &Exchange, out: &mut Vec<Finding>) {
        let mut params = recycle(std::mem::take(&mut self.params));
        let mut ids = std::mem::take(&mut self.ids);
        self.examine_ids(x, &mut params, &mut ids, out);
        self.params = recycle(params);
        self.ids = ids;
    }

    /// [`Self::examine`] with `params` and `ids` as the buffers of the record's parameters
    /// and identifiers.
    fn examine_ids<'a>(
        &mut self,
        x: &'a Exchange,
        params: &mut Vec<ExtractedParam<'a>>,
        ids: &mut Vec<(u64, Option<i64>)>,
        out: &mut Vec<Finding>,
    ) {
        let t = event_secs(x);
        let wm = self.clock.observe(t);
        let tumbling = self.clock.window;
        let w = tumbling.index(t);
        if tumbling.index(wm) > self.swept_window {
            self.swept_window = tumbling.index(wm);
            self.actors
                .evict_idle(wm - self.cfg.actor_idle_secs, |_| {});
        }
        params.clear();
        extract_path_and_query(x, params);
        ids.clear();
        ids.extend(params.iter().filter(|p| is_identifier(p)).filter_map(|p| {
            p.value.map(|v| {
                (
                    stable_hash_parts(&[p.name.as_bytes(), v.as_bytes()]),
                    v.parse::<i64>().ok(),
                )
            })
        }));
        if ids.is_empty() {
            return;
        }
        // What a mark of this record shows: the first identifier (its value never leaves).
        let first_id = params.iter().find(|p| is_identifier(p));
        let what = || {
            (
                first_id.map_or_else(
                    || "identifier".to_string(),
                    |p| format!("{}:{}", location_word(p.location), p.name),
                ),
                None,
            )
        };
        let denied = matches!(x.response.status, Some(403 | 404));
        let learned = self.clock.learned_secs(t) >= self.cfg.min_learning_secs;
        let endpoint = endpoint_key(x);
        let ekey = stable_hash(endpoint.as_bytes());
        let max_emit = self.cfg.max_findings_per_key_window;
        let window_secs = self.cfg.window_secs;
        let cfg = &self.cfg;

        let (ep, _) = self.endpoints.entry(&ekey, t, || EndpointIds {
            ids: IdWindow::new(w, ENDPOINT_HLL_P),
            baseline: cfg.seasonal_baseline(),
            calls: 0,
            peers: DdSketch::new(0.02, 512).expect("constant sketch shape"),
            cached: None,
        });
        if w > ep.ids.window {
            if ep.calls > 0 {
                ep.baseline.observe(
                    tumbling.start(ep.ids.window),
                    ep.ids.distinct.count().round(),
                );
            }
            ep.ids.reset(w);
        }
        ep.ids.add(ids, denied);
        ep.calls += 1;
        let pop_key = ekey ^ POPULATION_MARK_SALT;
        let ready = learned
            && ep.calls >= cfg.min_endpoint_calls
            && ep.baseline.learned_secs(t) >= cfg.min_learning_secs;
        let (pop_th, peer_limit, peer_q) = match ep.cached {
            Some((cw, th, l, q)) if cw == w => (th, l, q),
            _ => {
                let th = ep.baseline.threshold_at(
                    tumbling.start(w),
                    &cfg.distributed_enumeration.threshold,
                    &mut self.scratch,
                );
                let rule = &cfg.param_enumeration.threshold;
                let (l, q) = super::peer_limit(&ep.peers, rule, MIN_PEER_WINDOWS);
                ep.cached = Some((w, th, l, q));
                (th, l, q)
            }
        };
        let observed = ep.ids.distinct.count().round();
        // Sequential identifiers corroborate enumeration: the required excess over the
        // baseline shrinks to `margin_factor` of the statistical one.
        let corr = &cfg.enumeration_corroboration;
        let corroborated = ep.ids.sequential >= corr.min_sequential
            && f64::from(ep.ids.sequential) >= corr.sequential_share * f64::from(ep.ids.calls);
        let pop_th = pop_th.map(|th| {
            if corroborated {
                Threshold {
                    limit: th.baseline + (th.limit - th.baseline) * corr.margin_factor,
                    ..th
                }
            } else {
                th
            }
        });
        // Records are kept for marks once a count is half way to its limit (population) or to
        // the absolute floor (one client): the rest of the traffic costs nothing, and an
        // alert states the earlier records as dropped (`events_dropped`).
        if pop_th.is_some_and(|th| observed * 2.0 > th.limit) {
            self.marks
                .count(pop_key, &DISTRIBUTED_ENUMERATION, w, x, what);
        }
        if cfg.distributed_enumeration.enabled
            && ready
            && ep.ids.emitted < max_emit
            && let Some(th) = pop_th.filter(|th| observed > th.limit)
        {
            ep.ids.emitted += 1;
            let mut extra = ep.ids.extra();
            extra.push(("p99", th.upper));
            let counted = u64::from(ep.ids.calls);
            let mut f = finding(
                x,
                Alert {
                    rule: &DISTRIBUTED_ENUMERATION,
                    who: Who::Population,
                    show_actor: false,
                    scope: "",
                    reason: format!(
                        "observed {} distinct identifier values/{} from all clients vs baseline {} (p99 {}, limit {}); {} of {} calls sequential, {} denied (403/404)",
                        human(observed),
                        window_words(window_secs),
                        human(th.baseline),
                        human(th.upper),
                        human(th.limit),
                        human(f64::from(ep.ids.sequential)),
                        human(f64::from(ep.ids.calls)),
                        human(f64::from(ep.ids.denied))
                    ),
                    observed,
                    baseline: Some(th.baseline),
                    threshold: Some(th.limit),
                    window: Some(tumbling.label()),
                    extra,
                    confidence: ep.ids.confidence(),
                },
            );
            self.marks
                .fire(pop_key, &DISTRIBUTED_ENUMERATION, w, counted, &mut f);
            out.push(f);
        }

        for who in [x.actor_ip().map(Who::Ip), identity_of(x).map(Who::Identity)]
            .into_iter()
            .flatten()
        {
            let key = who.hash_with(&[endpoint.as_bytes()]);
            let (a, _) = self.actors.entry(&key, t, || ActorIds {
                ids: IdWindow::new(w, ACTOR_HLL_P),
                own: Ewma::new(0.05).expect("constant alpha"),
            });
            if w > a.ids.window {
                let closed = a.ids.distinct.count().round();
                a.own.update(closed);
                if let Some(ep) = self.endpoints.get_mut(&ekey, t) {
                    let _ = ep.peers.add(closed);
                }
                a.ids.reset(w);
            }
            a.ids.add(ids, denied);
            let rule = &self.cfg.param_enumeration.threshold;
            let observed = a.ids.distinct.count().round();
            if observed * 2.0 > rule.min_abs {
                self.marks.count(key, &PARAM_ENUMERATION, w, x, what);
            }
            if !(self.cfg.param_enumeration.enabled && ready)
                || a.ids.emitted >= max_emit
                || observed <= rule.min_abs
            {
                continue;
            }
            // Own history when the actor has it, else its peers'.
            let limit = super::actor_limit(&a.own, peer_limit, rule, MIN_OWN_WINDOWS);
            if observed > limit {
                a.ids.emitted += 1;
                let mut extra = a.ids.extra();
                extra.push(("peer_quantile", peer_q));
                let counted = u64::from(a.ids.calls);
                let mut f = finding(
                    x,
                    Alert {
                        rule: &PARAM_ENUMERATION,
                        who,
                        show_actor: true,
                        scope: "",
                        reason: format!(
                            "observed {} distinct identifier values/{} from this client vs its baseline {} and peers' p99 {} (limit {}); {} of {} calls sequential, {} denied (403/404)",
                            human(observed),
                            window_words(window_secs),
                            human(a.own.mean()),
                            human(peer_q),
                            human(limit),
                            human(f64::from(a.ids.sequential)),
                            human(f64::from(a.ids.calls)),
                            human(f64::from(a.ids.denied))
                        ),
                        observed,
                        baseline: Some(a.own.mean()),
                        threshold: Some(limit),
                        window: Some(tumbling.label()),
                        extra,
                        confidence: a.ids.confidence(),
                    },
                );
                self.marks.fire(key, &PARAM_ENUMERATION, w, counted, &mut f);
                out.push(f);
            }
        }
    }
}

super::behavioral_detector!(EnumerationDetector, "behavioral.enumeration", marks);

#[cfg(test)]
mod tests {
    use super::super::test_support::{Rng, quick_config, rec};
    use super::*;
    use crate::Detector;

    fn background(d: &mut EnumerationDetector, until: i64, out: &mut Vec<Finding>) {
        let mut rng = Rng(9);
        for t in 0..until {
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
                    out,
                );
            }
        }
    }

    #[test]
    fn one_client_walking_sequential_ids_is_enumeration() {
        let mut d = EnumerationDetector::new(quick_config()).unwrap();
        let mut out = Vec::new();
        background(&mut d, 3 * 3600, &mut out);
        assert!(
            out.is_empty(),
            "{:?}",
            out.iter().map(|f| &f.description).collect::<Vec<_>>()
        );
        for k in 0..120 {
            let status = if k % 3 == 0 { 404 } else { 200 };
            d.detect(
                &[rec(
                    500_000 + k,
                    3 * 3600 + k as i64,
                    "GET",
                    "/v1/orders/{id}",
                    &format!("/v1/orders/{}", 7000 + k),
                    "203.0.113.3",
                    status,
                )],
                &mut out,
            );
        }
        let f = out
            .iter()
            .find(|f| f.rule.id == "GW-T-PARAM-ENUMERATION")
            .expect("enumeration");
        assert_eq!(f.confidence, Confidence::High);
        assert!(f.description.contains("sequential"), "{}", f.description);
        assert!(!f.evidence.samples[0].text.contains("7000"));
    }

    #[test]
    fn many_clients_walking_ids_together_is_distributed_enumeration() {
        let mut d = EnumerationDetector::new(quick_config()).unwrap();
        let mut out = Vec::new();
        background(&mut d, 3 * 3600, &mut out);
        // Twice the usual number of distinct ids in one window, spread over 60 IPs.
        for k in 0..1500 {
            let ip = format!("198.51.100.{}", k % 60);
            d.detect(
                &[rec(
                    600_000 + k,
                    3 * 3600 + k as i64 * 3 / 4,
                    "GET",
                    "/v1/orders/{id}",
                    &format!("/v1/orders/{}", 20_000_000 + k),
                    &ip,
                    404,
                )],
                &mut out,
            );
        }
        assert!(
            out.iter()
                .any(|f| f.rule.id == "GW-T-DISTRIBUTED-ENUMERATION"),
            "{:?}",
            out.iter().map(|f| &f.description).collect::<Vec<_>>()
        );
        assert!(
            !out.iter().any(|f| f.rule.id == "GW-T-PARAM-ENUMERATION"),
            "each client alone stays small"
        );
    }
}
