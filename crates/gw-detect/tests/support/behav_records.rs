//! Record builders for the behavioural integration tests (also the unit tests' helpers).

#![allow(dead_code)]

use gw_detect::behavioral::BehavioralConfig;
use gw_model::{Body, Capture, EndpointMatch, EndpointRef, Exchange, Identity, Source, SourceKind};
use jiff::Timestamp;

/// A record with a discovered endpoint, client IP and status.
pub fn rec(
    id: u64,
    t: i64,
    method: &str,
    template: &str,
    path: &str,
    ip: &str,
    status: u16,
) -> Exchange {
    let source = Source {
        kind: SourceKind::Native,
        capture: Capture::Frontend,
        gateway: None,
        raw_ref: None,
    };
    let mut x = Exchange::new(
        format!("r{id}"),
        Timestamp::from_second(t).unwrap(),
        source,
        method,
        path,
    );
    x.server.host = Some("api.test".into());
    x.client.ip = Some(ip.parse().unwrap());
    x.response.status = Some(status);
    x.response.size = Some(300);
    x.request.size = Some(200);
    x.duration_ms = Some(20.0);
    x.endpoint = Some(std::sync::Arc::new(EndpointRef {
        id: format!("api.test {method} {template}"),
        host: "api.test".into(),
        method: method.into(),
        template: template.into(),
        spec_operation_id: None,
        matched_by: EndpointMatch::Spec,
    }));
    x
}

pub fn with_identity(mut x: Exchange, principal: &str) -> Exchange {
    x.identity = Some(Identity {
        principal: Some(principal.into()),
        ..Identity::default()
    });
    x
}

pub fn with_response_json(mut x: Exchange, json: &str) -> Exchange {
    x.response.body = Some(Body::utf8(json));
    x
}

/// Learning in one hour instead of a day, to keep tests small.
pub fn quick_config() -> BehavioralConfig {
    BehavioralConfig {
        min_learning_secs: 3600,
        min_endpoint_calls: 50,
        ..BehavioralConfig::default()
    }
}

/// Small deterministic generator (xorshift) for test traffic.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
