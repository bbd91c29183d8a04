//! Authentication abuse (OWASP API2) on endpoints whose template has an authentication segment
//! (`/login`, `/token`, `/auth`, `/signin`, `/oauth` ..., configurable):
//! `GW-T-BRUTE-FORCE` when one client's failed authentications (401/403) in a window exceed
//! its own history (or, for a new client, its peers'); `GW-T-CREDENTIAL-STUFFING` when one client fails for many
//! distinct usernames, or when the endpoint as a whole sees far more distinct failing usernames
//! than its seasonal baseline (stuffing spread over many IPs).
//!
//! Usernames are read from body fields whose name contains `user`, `email` or `login`, else
//! from the identity; only their hashes are kept.

use gw_model::{Exchange, Finding};
use gw_sketch::{
    BoundedMap, DdSketch, Ewma, HyperLogLog, SeasonalBaseline, Threshold, stable_hash,
};

use super::marks::MarkBook;
use super::volume::confidence_for;
use super::{
    Alert, BRUTE_FORCE, BehavioralConfig, BehavioralConfigError, CREDENTIAL_STUFFING, StreamClock,
    Who, endpoint_key, event_secs, finding, human, identity_of, template_of, window_words,
};
use serde::{Deserialize, Serialize};

use crate::{DetectorStats, RuleMeta};

const ACTOR_HLL_P: u8 = 6;
const ENDPOINT_HLL_P: u8 = 10;
const MIN_OWN_WINDOWS: u32 = 6;
const MIN_PEER_WINDOWS: u64 = 100;
/// Keep the mark keys of the three alerts (population, brute force, stuffing) apart.
const MARK_SALT_POPULATION: u64 = 0x706f_7075_6c61_7469;
const MARK_SALT_BRUTE: u64 = 0x6272_7574_6566_6f72;
const MARK_SALT_STUFFING: u64 = 0x7374_7566_6669_6e67;

/// What a mark of a failed authentication shows.
fn failed_status() -> (String, Option<String>) {
    ("response:status".to_string(), None)
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct ActorAuth {
    window: i64,
    failures: u32,
    users: HyperLogLog,
    own: Ewma,
    emitted_bf: u8,
    emitted_cs: u8,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct EndpointAuth {
    window: i64,
    failures: u32,
    users: HyperLogLog,
    baseline: SeasonalBaseline,
    calls: u64,
    cached: Option<(i64, Option<Threshold>)>,
    emitted: u8,
}

/// See the module documentation.
#[derive(Serialize, Deserialize)]
pub struct AuthAbuseDetector {
    #[serde(skip)]
    cfg: BehavioralConfig,
    clock: StreamClock,
    actors: BoundedMap<u64, ActorAuth>,
    endpoints: BoundedMap<u64, EndpointAuth>,
    peers: DdSketch,
    peer_cache: Option<(i64, f64, f64)>,
    marks: MarkBook,
    #[serde(skip)]
    scratch: Vec<f64>,
    #[serde(skip)]
    stats: DetectorStats,
}

static RULES: [&RuleMeta; 2] = [&BRUTE_FORCE, &CREDENTIAL_STUFFING];

/// True when a path segment of `template` is one of `segments` (case-insensitive), possibly
/// followed by a non-letter (`oauth2`, `token.json`).
pub(crate) fn is_auth_template(template: &str, segments: &[String]) -> bool {
    super::split_ascii(template, b'/').any(|seg| {
        segments.iter().any(|s| {
            seg.len() >= s.len()
                && seg.as_bytes()[..s.len()].eq_ignore_ascii_case(s.as_bytes())
                && seg
                    .as_bytes()
                    .get(s.len())
                    .is_none_or(|c| !c.is_ascii_alphabetic())
        })
    })
}

/// Hash of the username an authentication attempt names.
fn username_hash(x: &Exchange) -> Option<u64> {
    if let Some(body) = x
        .request
        .body
        .as_ref()
        .and_then(|b| b.text())
        .filter(|b| b.len() <= 16 * 1024)
    {
        let t = body.trim_start();
        if t.starts_with('{') {
            if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(t)
            {
                for (k, v) in &map {
                    let k = k.to_ascii_lowercase();
                    if (k.contains("user") || k.contains("email") || k.contains("login"))
                        && let Some(s) = v.as_str()
                    {
                        return Some(stable_hash(s.as_bytes()));
                    }
                }
            }
        } else {
            for pair in super::split_ascii(t, b'&') {
                if let Some((k, v)) = super::split_once_ascii(pair, b'=') {
                    let k = k.to_ascii_lowercase();
                    if k.contains("user") || k.contains("email") || k.contains("login") {
                        return Some(stable_hash(v.as_bytes()));
                    }
                }
            }
        }
    }
    identity_of(x).map(|i| stable_hash(i.as_bytes()))
}

impl AuthAbuseDetector {
    pub fn new(cfg: BehavioralConfig) -> Result<Self, BehavioralConfigError> {
        cfg.validate()?;
        Ok(AuthAbuseDetector {
            clock: StreamClock::new(&cfg)?,
            actors: BoundedMap::new(cfg.max_actors)?,
            endpoints: BoundedMap::new(cfg.max_endpoints)?,
            peers: DdSketch::new(0.02, 512)?,
            peer_cache: None,
            scratch: Vec::new(),
            marks: MarkBook::new(&cfg.marks)?,
            stats: DetectorStats::default(),
            cfg,
        })
    }

    fn examine(&mut self, x: &Exchange, out: &mut Vec<Finding>) {
        let t = event_secs(x);
        self.clock.observe(t);
        if !(self.cfg.brute_force.enabled
            || self.cfg.credential_stuffing.enabled
            || self.cfg.credential_stuffing_population.enabled)
        {
            return;
        }
        if !is_auth_template(template_of(x), &self.cfg.auth_segments) {
            return;
        }
        let tumbling = self.clock.window;
        let w = tumbling.index(t);
        let failed = matches!(x.response.status, Some(401 | 403));
        let user = if failed { username_hash(x) } else { None };
        let learned = self.clock.learned_secs(t) >= self.cfg.min_learning_secs;
        let endpoint = endpoint_key(x);
        let max_emit = self.cfg.max_findings_per_key_window;
        let window_secs = self.cfg.window_secs;
        let cfg = &self.cfg;

        // Population view of the endpoint.
        let ekey = stable_hash(endpoint.as_bytes());
        let pop_key = ekey ^ MARK_SALT_POPULATION;
        let (ep, _) = self.endpoints.entry(&ekey, t, || EndpointAuth {
            window: w,
            failures: 0,
            users: HyperLogLog::new(ENDPOINT_HLL_P).expect("constant precision"),
            baseline: cfg.seasonal_baseline(),
            calls: 0,
            cached: None,
            emitted: 0,
        });
        if w > ep.window {
            if ep.calls > 0 {
                ep.baseline
                    .observe(tumbling.start(ep.window), ep.users.count().round());
            }
            ep.window = w;
            ep.failures = 0;
            ep.users.clear();
            ep.emitted = 0;
        }
        ep.calls += 1;
        if failed {
            ep.failures += 1;
            if let Some(u) = user {
                ep.users.insert_hash(u);
            }
            self.marks
                .count(pop_key, &CREDENTIAL_STUFFING, w, x, failed_status);
        }
        let ready = learned && ep.baseline.learned_secs(t) >= cfg.min_learning_secs;
        if failed && ready && cfg.credential_stuffing_population.enabled && ep.emitted < max_emit {
            let th = match ep.cached {
                Some((cw, th)) if cw == w => th,
                _ => {
                    let th = ep.baseline.threshold_at(
                        tumbling.start(w),
                        &cfg.credential_stuffing_population.threshold,
                        &mut self.scratch,
                    );
                    ep.cached = Some((w, th));
                    th
                }
            };
            let observed = ep.users.count().round();
            if let Some(th) = th.filter(|th| observed > th.limit) {
                ep.emitted += 1;
                let counted = u64::from(ep.failures);
                let mut f = finding(
                    x,
                    Alert {
                        rule: &CREDENTIAL_STUFFING,
                        who: Who::Population,
                        show_actor: false,
                        scope: "population",
                        reason: format!(
                            "observed {} distinct failing usernames ({} failures)/{} on this endpoint vs baseline {} (p99 {}, limit {})",
                            human(observed),
                            human(f64::from(ep.failures)),
                            window_words(window_secs),
                            human(th.baseline),
                            human(th.upper),
                            human(th.limit)
                        ),
                        observed,
                        baseline: Some(th.baseline),
                        threshold: Some(th.limit),
                        window: Some(tumbling.label()),
                        extra: vec![("failures", f64::from(ep.failures)), ("p99", th.upper)],
                        confidence: confidence_for(observed / th.limit.max(1.0)),
                    },
                );
                self.marks
                    .fire(pop_key, &CREDENTIAL_STUFFING, w, counted, &mut f);
                out.push(f);
            }
        }

        // Per client IP.
        let Some(ip) = x.actor_ip() else { return };
        let who = Who::Ip(ip);
        let akey = who.hash_with(&[endpoint.as_bytes()]);
        let (a, _) = self.actors.entry(&akey, t, || ActorAuth {
            window: w,
            failures: 0,
            users: HyperLogLog::new(ACTOR_HLL_P).expect("constant precision"),
            own: Ewma::new(0.05).expect("constant alpha"),
            emitted_bf: 0,
            emitted_cs: 0,
        });
        if w > a.window {
            a.own.update(f64::from(a.failures));
            let _ = self.peers.add(f64::from(a.failures));
            a.window = w;
            a.failures = 0;
            a.users.clear();
            a.emitted_bf = 0;
            a.emitted_cs = 0;
        }
        if !failed {
            return;
        }
        a.failures += 1;
        if let Some(u) = user {
            a.users.insert_hash(u);
        }
        let (bf_key, cs_key) = (akey ^ MARK_SALT_BRUTE, akey ^ MARK_SALT_STUFFING);
        self.marks.count(bf_key, &BRUTE_FORCE, w, x, failed_status);
        self.marks
            .count(cs_key, &CREDENTIAL_STUFFING, w, x, failed_status);
        let counted = u64::from(a.failures);
        if !learned {
            return;
        }
        let bf = &cfg.brute_force.threshold;
        let observed = f64::from(a.failures);
        if cfg.brute_force.enabled && a.emitted_bf < max_emit && observed > bf.min_abs {
            let (peer_limit, peer_q) = match self.peer_cache {
                Some((cw, l, q)) if cw == w => (l, q),
                _ => {
                    let (l, q) = super::peer_limit(&self.peers, bf, MIN_PEER_WINDOWS);
                    self.peer_cache = Some((w, l, q));
                    (l, q)
                }
            };
            // Own history when the actor has it, else its peers'.
            let limit = super::actor_limit(&a.own, peer_limit, bf, MIN_OWN_WINDOWS);
            if observed > limit {
                a.emitted_bf += 1;
                let mut f = finding(
                    x,
                    Alert {
                        rule: &BRUTE_FORCE,
                        who,
                        show_actor: true,
                        scope: "",
                        reason: format!(
                            "observed {} failed authentications/{} from this IP ({} distinct usernames) vs its baseline {} and peers' p99 {} (limit {})",
                            human(observed),
                            window_words(window_secs),
                            human(a.users.count().round()),
                            human(a.own.mean()),
                            human(peer_q),
                            human(limit)
                        ),
                        observed,
                        baseline: Some(a.own.mean()),
                        threshold: Some(limit),
                        window: Some(tumbling.label()),
                        extra: vec![
                            ("distinct_usernames", a.users.count().round()),
                            ("peer_quantile", peer_q),
                        ],
                        confidence: confidence_for(observed / limit.max(1.0)),
                    },
                );
                self.marks.fire(bf_key, &BRUTE_FORCE, w, counted, &mut f);
                out.push(f);
            }
        }
        let cs = &cfg.credential_stuffing.threshold;
        let users = a.users.count().round();
        if cfg.credential_stuffing.enabled && a.emitted_cs < max_emit && users > cs.min_abs {
            a.emitted_cs += 1;
            let mut f = finding(
                x,
                Alert {
                    rule: &CREDENTIAL_STUFFING,
                    who,
                    show_actor: true,
                    scope: "client",
                    reason: format!(
                        "observed {} distinct failing usernames ({} failures)/{} from this IP (limit {})",
                        human(users),
                        human(observed),
                        window_words(window_secs),
                        human(cs.min_abs)
                    ),
                    observed: users,
                    baseline: None,
                    threshold: Some(cs.min_abs),
                    window: Some(tumbling.label()),
                    extra: vec![("failures", observed)],
                    confidence: confidence_for(users / cs.min_abs.max(1.0)),
                },
            );
            self.marks
                .fire(cs_key, &CREDENTIAL_STUFFING, w, counted, &mut f);
            out.push(f);
        }
    }
}

super::behavioral_detector!(AuthAbuseDetector, "behavioral.auth", marks);

#[cfg(test)]
mod tests {
    use super::super::test_support::{Rng, quick_config, rec};
    use super::*;
    use crate::Detector;

    fn login(id: u64, t: i64, ip: &str, user: &str, status: u16) -> Exchange {
        let mut x = rec(
            id,
            t,
            "POST",
            "/v1/auth/login",
            "/v1/auth/login",
            ip,
            status,
        );
        x.request.body = Some(gw_model::Body::utf8(format!(
            r#"{{"username":"{user}","password":"x"}}"#
        )));
        x
    }

    #[test]
    fn auth_templates_are_recognised() {
        let segs = BehavioralConfig::default().auth_segments;
        assert!(is_auth_template("/v1/auth/login", &segs));
        assert!(is_auth_template("/oauth2/token", &segs));
        assert!(is_auth_template("/api/SignIn", &segs));
        assert!(!is_auth_template("/v1/authors/{id}", &segs));
        assert!(!is_auth_template("/v1/orders", &segs));
    }

    #[test]
    fn brute_force_and_stuffing_are_told_apart() {
        let mut d = AuthAbuseDetector::new(quick_config()).unwrap();
        let mut rng = Rng(13);
        let mut out = Vec::new();
        for t in (0..3 * 3600i64).step_by(5) {
            let ip = format!("10.3.0.{}", rng.below(200));
            let status = if rng.below(10) == 0 { 401 } else { 200 };
            d.detect(
                &[login(
                    t as u64,
                    t,
                    &ip,
                    &format!("user{}", rng.below(500)),
                    status,
                )],
                &mut out,
            );
        }
        assert!(
            out.is_empty(),
            "{:?}",
            out.iter().map(|f| &f.description).collect::<Vec<_>>()
        );
        let start = 3 * 3600;
        for k in 0..100 {
            d.detect(
                &[login(
                    100_000 + k,
                    start + k as i64,
                    "203.0.113.66",
                    "alice",
                    401,
                )],
                &mut out,
            );
        }
        assert!(out.iter().any(|f| f.rule.id == "GW-T-BRUTE-FORCE"));
        assert!(
            !out.iter().any(|f| f.rule.id == "GW-T-CREDENTIAL-STUFFING"),
            "one username is not stuffing"
        );
        out.clear();
        for k in 0..300 {
            let ip = format!("198.51.100.{}", k % 30);
            d.detect(
                &[login(
                    200_000 + k,
                    start + 200 + k as i64,
                    &ip,
                    &format!("victim{k}"),
                    401,
                )],
                &mut out,
            );
        }
        let cs: Vec<_> = out
            .iter()
            .filter(|f| f.rule.id == "GW-T-CREDENTIAL-STUFFING")
            .collect();
        assert!(
            cs.iter().any(|f| f.actor.is_none()),
            "population-level stuffing"
        );
    }
}
