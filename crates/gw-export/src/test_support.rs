//! Realistic findings shared by the unit tests and, through `#[path]`, the golden tests:
//! a SQL injection threat with an actor and endpoint, a posture finding, and a traffic spike
//! with metrics. Evidence samples are masked the way the detectors mask them.
#![allow(dead_code)]

use std::collections::BTreeMap;

use gw_model::{
    Actor, Analytic, Confidence, Evidence, EvidenceMetrics, EvidenceSample, FINDING_SCHEMA,
    Finding, FindingEndpoint, FindingKind, FindingStatus, MitreRef, OwaspApi2023, RuleRef,
    Severity,
};
use jiff::Timestamp;

fn at(rfc3339: &str) -> Timestamp {
    rfc3339.parse().expect("fixture timestamps are valid")
}

/// A SQL injection attempt from one IP against one endpoint.
pub fn sqli() -> Finding {
    Finding {
        schema: FINDING_SCHEMA.into(),
        id: "f-0192a3b4-sqli".into(),
        fingerprint: "fp-sqli-orders-203.0.113.45".into(),
        kind: FindingKind::Threat,
        rule: RuleRef {
            id: "GW-T-SQLI".into(),
            name: "SQL injection".into(),
            version: 2,
            analytic: Analytic::Signature,
        },
        title: "SQL injection attempt on GET /v1/orders/{orderId}".into(),
        description: "3 requests with SQL syntax in query:id; tautology = OR 1=1 | UNION".into(),
        severity: Severity::High,
        confidence: Confidence::High,
        status: FindingStatus::Open,
        first_seen: at("2024-06-10T09:20:00.120Z"),
        last_seen: at("2024-06-10T09:23:20.500Z"),
        count: 3,
        endpoint: Some(FindingEndpoint {
            id: "GET api.example.com /v1/orders/{orderId}".into(),
            host: "api.example.com".into(),
            method: "GET".into(),
            template: "/v1/orders/{orderId}".into(),
        }),
        actor: Some(Actor {
            ip: Some("203.0.113.45".parse().unwrap()),
            identity: Some("alice@example.com".into()),
            user_agent: Some("sqlmap/1.8#stable (https://sqlmap.org)".into()),
            country: Some("DE".into()),
            asn: Some(64500),
            tor_exit: Some(false),
        }),
        owasp: vec![OwaspApi2023::Api8],
        mitre: vec![MitreRef::new("TA0001", "T1190")],
        evidence: Evidence {
            exchange_ids: vec![
                "01905c2e-7a1b-7cc0-9d7e-000000000001".into(),
                "01905c2e-7a1b-7cc0-9d7e-000000000002".into(),
            ],
            samples: vec![EvidenceSample {
                exchange_id: Some("01905c2e-7a1b-7cc0-9d7e-000000000001".into()),
                observed_at: Some(at("2024-06-10T09:20:00.120Z")),
                location: Some("query:id".into()),
                text: "1' OR '1'='1' -- \\ | [MASKED]\nnext".into(),
            }],
            metrics: EvidenceMetrics::default(),
        },
        remediation: Some("Use parameterised queries; block the source at the gateway.".into()),
        references: vec![
            "https://owasp.org/API-Security/editions/2023/en/0xa8-security-misconfiguration/"
                .into(),
        ],
    }
}

/// An unauthenticated operation found in the spec and traffic.
pub fn posture() -> Finding {
    Finding {
        schema: FINDING_SCHEMA.into(),
        id: "f-0192a3b4-unauth".into(),
        fingerprint: "fp-unauth-users".into(),
        kind: FindingKind::Posture,
        rule: RuleRef {
            id: "GW-P-UNAUTHENTICATED".into(),
            name: "Unauthenticated endpoint".into(),
            version: 1,
            analytic: Analytic::Config,
        },
        title: "POST /v1/users accepts unauthenticated calls".into(),
        description: "1,204 calls in 24 h without credentials; spec declares security: []".into(),
        severity: Severity::Medium,
        confidence: Confidence::Medium,
        status: FindingStatus::Acknowledged,
        first_seen: at("2024-06-09T00:00:00Z"),
        last_seen: at("2024-06-10T00:00:00Z"),
        count: 1204,
        endpoint: Some(FindingEndpoint {
            id: "POST api.example.com /v1/users".into(),
            host: "api.example.com".into(),
            method: "POST".into(),
            template: "/v1/users".into(),
        }),
        actor: None,
        owasp: vec![OwaspApi2023::Api2],
        mitre: vec![],
        evidence: Evidence::default(),
        remediation: Some("Require an API key or OAuth 2.0 bearer token on this operation.".into()),
        references: vec![],
    }
}

/// A traffic spike from one IP, with baseline metrics and unicode in the text.
pub fn spike() -> Finding {
    let mut extra = BTreeMap::new();
    extra.insert("distinct_paths".into(), 37.0);
    Finding {
        schema: FINDING_SCHEMA.into(),
        id: "f-0192a3b4-spike".into(),
        fingerprint: "fp-spike-2001:db8::7".into(),
        kind: FindingKind::Threat,
        rule: RuleRef {
            id: "GW-T-IP-SPIKE".into(),
            name: "Request spike from one IP".into(),
            version: 1,
            analytic: Analytic::Statistical,
        },
        title: "Request rate from 2001:db8::7 is 14× its baseline".into(),
        description: "912 req in 20m vs baseline 64.5 (threshold 300) — café=\"ok\"\r\nsee metrics"
            .into(),
        severity: Severity::Critical,
        confidence: Confidence::Medium,
        status: FindingStatus::Open,
        first_seen: at("2024-06-10T09:00:00Z"),
        last_seen: at("2024-06-10T09:20:00Z"),
        count: 912,
        endpoint: None,
        actor: Some(Actor {
            ip: Some("2001:db8::7".parse().unwrap()),
            identity: None,
            user_agent: None,
            country: None,
            asn: None,
            tor_exit: Some(true),
        }),
        owasp: vec![OwaspApi2023::Api4],
        mitre: vec![MitreRef::new("TA0040", "T1499.002")],
        evidence: Evidence {
            exchange_ids: vec![],
            samples: vec![],
            metrics: EvidenceMetrics {
                baseline: Some(64.5),
                observed: Some(912.0),
                threshold: Some(300.0),
                window: Some("20m".into()),
                extra,
            },
        },
        remediation: None,
        references: vec![],
    }
}

/// The three fixtures in a stable order.
pub fn all() -> Vec<Finding> {
    vec![sqli(), posture(), spike()]
}
