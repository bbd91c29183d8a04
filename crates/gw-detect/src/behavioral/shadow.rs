//! `GW-T-SHADOW-ACCESS`: traffic to an endpoint that discovery learned from traffic
//! (`exchange.endpoint.matched_by == learned`) while API specs are imported, i.e. an endpoint
//! no spec declares. Whether specs are imported comes from the configuration or, by default,
//! from the stream itself: once any record matched a spec operation.

use gw_model::{Confidence, EndpointMatch, Exchange, Finding};
use gw_sketch::BoundedMap;

use super::{
    Alert, BehavioralConfig, BehavioralConfigError, SHADOW_ACCESS, StreamClock, Who, endpoint_key,
    event_secs, finding,
};
use serde::{Deserialize, Serialize};

use crate::{DetectorStats, RuleMeta};

/// See the module documentation.
#[derive(Serialize, Deserialize)]
pub struct ShadowAccessDetector {
    #[serde(skip)]
    cfg: BehavioralConfig,
    clock: StreamClock,
    specs_seen: bool,
    emitted: BoundedMap<u64, (i64, u8)>,
    #[serde(skip)]
    stats: DetectorStats,
}

static RULES: [&RuleMeta; 1] = [&SHADOW_ACCESS];

impl ShadowAccessDetector {
    pub fn new(cfg: BehavioralConfig) -> Result<Self, BehavioralConfigError> {
        cfg.validate()?;
        Ok(ShadowAccessDetector {
            clock: StreamClock::new(&cfg)?,
            specs_seen: false,
            emitted: BoundedMap::new(cfg.max_actors)?,
            stats: DetectorStats::default(),
            cfg,
        })
    }

    fn examine(&mut self, x: &Exchange, out: &mut Vec<Finding>) {
        let Some(e) = &x.endpoint else { return };
        if e.matched_by == EndpointMatch::Spec {
            self.specs_seen = true;
            return;
        }
        let specs = self
            .cfg
            .shadow_access
            .specs_imported
            .unwrap_or(self.specs_seen);
        if !(self.cfg.shadow_access.enabled && specs) {
            return;
        }
        let t = event_secs(x);
        self.clock.observe(t);
        let w = self.clock.window.index(t);
        let who = x.actor_ip().map(Who::Ip).unwrap_or(Who::Population);
        let endpoint = endpoint_key(x);
        let key = who.hash_with(&[endpoint.as_bytes()]);
        let (slot, _) = self.emitted.entry(&key, t, || (w, 0));
        if slot.0 != w {
            *slot = (w, 0);
        }
        if slot.1 >= self.cfg.max_findings_per_key_window {
            return;
        }
        slot.1 += 1;
        out.push(finding(
            x,
            Alert {
                rule: &SHADOW_ACCESS,
                who,
                show_actor: true,
                scope: "",
                reason: format!(
                    "{} {} was learned from traffic and is in no imported spec",
                    e.method, e.template
                ),
                observed: 1.0,
                baseline: None,
                threshold: None,
                window: Some(self.clock.window.label()),
                extra: Vec::new(),
                confidence: if x.response.status.is_some_and(|s| s < 400) {
                    Confidence::High
                } else {
                    Confidence::Medium
                },
            },
        ));
    }
}

super::behavioral_detector!(ShadowAccessDetector, "behavioral.shadow");

#[cfg(test)]
mod tests {
    use super::super::test_support::{quick_config, rec};
    use super::*;
    use crate::Detector;

    #[test]
    fn learned_endpoints_alert_only_once_specs_are_known() {
        let mut d = ShadowAccessDetector::new(quick_config()).unwrap();
        let mut out = Vec::new();
        let mut shadow = rec(
            1,
            10,
            "GET",
            "/internal/export",
            "/internal/export",
            "203.0.113.2",
            200,
        );
        std::sync::Arc::make_mut(shadow.endpoint.as_mut().unwrap()).matched_by =
            EndpointMatch::Learned;
        d.detect(std::slice::from_ref(&shadow), &mut out);
        assert!(out.is_empty(), "no spec seen yet");
        d.detect(
            &[
                rec(2, 11, "GET", "/v1/orders", "/v1/orders", "10.0.0.1", 200),
                shadow.clone(),
            ],
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].rule.id, "GW-T-SHADOW-ACCESS");
        assert_eq!(out[0].confidence, Confidence::High);
    }
}
