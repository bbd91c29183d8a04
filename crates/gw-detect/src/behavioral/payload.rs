//! Size and latency baselines per endpoint: `GW-T-LARGE-REQUEST` and `GW-T-LARGE-RESPONSE`
//! compare one record's body size with the endpoint's learned size distribution for that
//! status class (DDSketch quantiles); `GW-T-LATENCY-SPIKE` compares the endpoint's 90th
//! percentile latency in the open window with the seasonal baseline of past windows.
//!
//! Records flagged as too large are not folded into the size baseline, so an attacker cannot
//! teach it.

use gw_model::{Exchange, Finding};
use gw_sketch::{BoundedMap, DdSketch, SeasonalBaseline, Threshold, stable_hash_parts};

use super::marks::MarkBook;
use super::volume::confidence_for;
use super::{
    Alert, BehavioralConfig, BehavioralConfigError, LARGE_REQUEST, LARGE_RESPONSE, LATENCY_SPIKE,
    StreamClock, Who, endpoint_key, event_secs, finding, human, identity_of, status_class,
    status_class_label, window_words,
};
use serde::{Deserialize, Serialize};

use crate::{DetectorStats, RuleMeta};

/// Window quantile of latency that the latency baseline tracks.
const LATENCY_QUANTILE: f64 = 0.9;
/// Records a window needs before its latency quantile is judged.
const MIN_LATENCY_RECORDS: u64 = 20;
/// Size limits are recomputed after this many new values.
const REFRESH_EVERY: u64 = 256;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct SizeBaseline {
    sizes: DdSketch,
    /// (values at computation, limit, reference quantile, median)
    cached: Option<(u64, f64, f64, f64)>,
}

impl SizeBaseline {
    fn new() -> Self {
        SizeBaseline {
            sizes: DdSketch::new(0.02, 640).expect("constant sketch shape"),
            cached: None,
        }
    }

    fn limit(&mut self, rule: &super::PayloadRule) -> (f64, f64, f64) {
        let n = self.sizes.count();
        match self.cached {
            Some((at, l, q, m)) if n < at + REFRESH_EVERY => (l, q, m),
            _ => {
                let q = self.sizes.quantile(rule.quantile).unwrap_or(0.0);
                let m = self.sizes.quantile(0.5).unwrap_or(0.0);
                let l = (q * rule.factor)
                    .max(m * rule.median_factor)
                    .max(rule.min_bytes);
                self.cached = Some((n, l, q, m));
                (l, q, m)
            }
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct EndpointSizes {
    request: SizeBaseline,
    response: SizeBaseline,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct EndpointLatency {
    window: i64,
    current: DdSketch,
    baseline: SeasonalBaseline,
    cached: Option<(i64, Option<Threshold>)>,
    emitted: u8,
}

/// See the module documentation.
#[derive(Serialize, Deserialize)]
pub struct PayloadDetector {
    #[serde(skip)]
    cfg: BehavioralConfig,
    clock: StreamClock,
    sizes: BoundedMap<u64, EndpointSizes>,
    latency: BoundedMap<u64, EndpointLatency>,
    emitted: BoundedMap<u64, (i64, u8)>,
    marks: MarkBook,
    #[serde(skip)]
    scratch: Vec<f64>,
    #[serde(skip)]
    stats: DetectorStats,
}

static RULES: [&RuleMeta; 3] = [&LARGE_REQUEST, &LARGE_RESPONSE, &LATENCY_SPIKE];

fn request_size(x: &Exchange) -> Option<u64> {
    x.request
        .body
        .as_ref()
        .and_then(|b| b.size)
        .or(x.request.size)
}

fn response_size(x: &Exchange) -> Option<u64> {
    x.response
        .body
        .as_ref()
        .and_then(|b| b.size)
        .or(x.response.size)
}

impl PayloadDetector {
    pub fn new(cfg: BehavioralConfig) -> Result<Self, BehavioralConfigError> {
        cfg.validate()?;
        Ok(PayloadDetector {
            clock: StreamClock::new(&cfg)?,
            sizes: BoundedMap::new(cfg.max_endpoints)?,
            latency: BoundedMap::new(cfg.max_endpoints)?,
            emitted: BoundedMap::new(cfg.max_actors)?,
            marks: MarkBook::new(&cfg.marks)?,
            scratch: Vec::new(),
            stats: DetectorStats::default(),
            cfg,
        })
    }

    fn examine(&mut self, x: &Exchange, out: &mut Vec<Finding>) {
        let t = event_secs(x);
        self.clock.observe(t);
        let tumbling = self.clock.window;
        let w = tumbling.index(t);
        let learned = self.clock.learned_secs(t) >= self.cfg.min_learning_secs;
        let endpoint = endpoint_key(x);
        let class = status_class(x);
        let key = stable_hash_parts(&[endpoint.as_bytes(), &[class]]);
        let rule = self.cfg.large_payload.clone();
        let min_calls = self.cfg.min_endpoint_calls;
        let max_emit = self.cfg.max_findings_per_key_window;
        let who = identity_of(x)
            .map(Who::Identity)
            .or(x.actor_ip().map(Who::Ip))
            .unwrap_or(Who::Population);

        let (sizes, _) = self.sizes.entry(&key, t, || EndpointSizes {
            request: SizeBaseline::new(),
            response: SizeBaseline::new(),
        });
        let mut hits: Vec<(&'static RuleMeta, f64, f64, f64, f64)> = Vec::new();
        for (rule_meta, size, base) in [
            (&LARGE_REQUEST, request_size(x), &mut sizes.request),
            (&LARGE_RESPONSE, response_size(x), &mut sizes.response),
        ] {
            let Some(size) = size else { continue };
            let size = size as f64;
            if rule.enabled && learned && base.sizes.count() >= min_calls {
                let (limit, q, median) = base.limit(&rule);
                if size > limit {
                    hits.push((rule_meta, size, limit, q, median));
                    continue;
                }
            }
            let _ = base.sizes.add(size);
        }
        for (rule_meta, size, limit, q, median) in hits {
            let ekey = who.hash_with(&[endpoint.as_bytes(), rule_meta.id.as_bytes()]);
            let (slot, _) = self.emitted.entry(&ekey, t, || (w, 0));
            if slot.0 != w {
                *slot = (w, 0);
            }
            let class_label = status_class_label(class);
            let location = if rule_meta.id == LARGE_REQUEST.id {
                "request:body"
            } else {
                "response:body"
            };
            let confidence = confidence_for(size / limit.max(1.0));
            if slot.1 >= max_emit {
                // Past the findings limit the record still belongs to the alert.
                let fp = super::alert_fingerprint(rule_meta, x, &class_label, who);
                self.marks
                    .mark_now(rule_meta, x, fp, confidence, location.to_string(), None);
                continue;
            }
            slot.1 += 1;
            let f = finding(
                x,
                Alert {
                    rule: rule_meta,
                    who,
                    show_actor: true,
                    scope: &class_label,
                    reason: format!(
                        "observed {} bytes vs the endpoint's median {} and p99.9 {} for {} (limit {})",
                        human(size),
                        human(median),
                        human(q),
                        class_label,
                        human(limit)
                    ),
                    observed: size,
                    baseline: Some(median),
                    threshold: Some(limit),
                    window: None,
                    extra: vec![("p999", q)],
                    confidence,
                },
            );
            self.marks.mark_now(
                rule_meta,
                x,
                f.fingerprint.clone(),
                confidence,
                location.to_string(),
                None,
            );
            out.push(f);
        }

        // Latency: one baseline per endpoint, all status classes (slow calls often end in 5xx).
        let Some(ms) = x.duration_ms.filter(|d| d.is_finite() && *d >= 0.0) else {
            return;
        };
        if !self.cfg.latency_spike.enabled {
            return;
        }
        let lkey = stable_hash_parts(&[endpoint.as_bytes()]);
        let cfg = &self.cfg;
        let (lat, _) = self.latency.entry(&lkey, t, || EndpointLatency {
            window: w,
            current: DdSketch::new(0.02, 256).expect("constant sketch shape"),
            baseline: cfg.seasonal_baseline(),
            cached: None,
            emitted: 0,
        });
        if w > lat.window {
            if lat.current.count() >= MIN_LATENCY_RECORDS
                && let Some(q) = lat.current.quantile(LATENCY_QUANTILE)
            {
                lat.baseline.observe(tumbling.start(lat.window), q);
            }
            lat.window = w;
            lat.current = DdSketch::new(0.02, 256).expect("constant sketch shape");
            lat.emitted = 0;
        }
        let _ = lat.current.add(ms);
        let n = lat.current.count();
        if !(learned
            && lat.baseline.learned_secs(t) >= cfg.min_learning_secs
            && n >= MIN_LATENCY_RECORDS
            && n % 16 == 0
            && lat.emitted < max_emit)
        {
            return;
        }
        let th = match lat.cached {
            Some((cw, th)) if cw == lat.window => th,
            _ => {
                let th = lat.baseline.threshold_at(
                    tumbling.start(lat.window),
                    &cfg.latency_spike.threshold,
                    &mut self.scratch,
                );
                lat.cached = Some((lat.window, th));
                th
            }
        };
        let (Some(th), Some(observed)) = (th, lat.current.quantile(LATENCY_QUANTILE)) else {
            return;
        };
        if observed > th.limit {
            lat.emitted += 1;
            out.push(finding(
                x,
                Alert {
                    rule: &LATENCY_SPIKE,
                    who: Who::Population,
                    show_actor: false,
                    scope: "",
                    reason: format!(
                        "observed p90 latency {} ms over {} calls in this {} window vs baseline {} ms (p99 {} ms, limit {} ms)",
                        human(observed),
                        human(n as f64),
                        window_words(cfg.window_secs),
                        human(th.baseline),
                        human(th.upper),
                        human(th.limit)
                    ),
                    observed,
                    baseline: Some(th.baseline),
                    threshold: Some(th.limit),
                    window: Some(tumbling.label()),
                    extra: vec![("calls_in_window", n as f64), ("p99_of_windows", th.upper)],
                    confidence: confidence_for(observed / th.limit.max(1.0)),
                },
            ));
        }
    }
}

super::behavioral_detector!(PayloadDetector, "behavioral.payload", marks);

#[cfg(test)]
mod tests {
    use super::super::test_support::{Rng, quick_config, rec};
    use super::*;
    use crate::Detector;

    #[test]
    fn a_huge_response_and_a_slow_window_are_flagged_and_normal_traffic_is_not() {
        let mut d = PayloadDetector::new(quick_config()).unwrap();
        let mut rng = Rng(3);
        let mut out = Vec::new();
        for t in 0..4 * 3600i64 {
            let mut x = rec(
                t as u64,
                t,
                "GET",
                "/v1/orders",
                "/v1/orders",
                "10.0.0.1",
                200,
            );
            x.response.size = Some(1000 + rng.below(4000));
            x.duration_ms = Some(20.0 + rng.below(30) as f64);
            d.detect(&[x], &mut out);
        }
        assert!(
            out.is_empty(),
            "{:?}",
            out.iter().map(|f| &f.description).collect::<Vec<_>>()
        );
        let mut x = rec(
            1,
            4 * 3600,
            "GET",
            "/v1/orders",
            "/v1/orders",
            "203.0.113.5",
            200,
        );
        x.response.size = Some(50_000_000);
        d.detect(&[x], &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].rule.id, "GW-T-LARGE-RESPONSE");
        assert!(
            out[0].description.contains("observed 50,000,000 bytes"),
            "{}",
            out[0].description
        );
        out.clear();
        for t in 4 * 3600 + 1..4 * 3600 + 600 {
            let mut x = rec(
                t as u64,
                t,
                "GET",
                "/v1/orders",
                "/v1/orders",
                "10.0.0.2",
                200,
            );
            x.duration_ms = Some(4000.0);
            d.detect(&[x], &mut out);
        }
        assert!(out.iter().any(|f| f.rule.id == "GW-T-LATENCY-SPIKE"));
    }
}
