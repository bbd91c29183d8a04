//! Inventory rules end to end: hand-made records through gw-discover's `Discovery` (the same
//! accumulation the pipeline runs), then `assess_inventory` and the risk ranking.

use std::collections::BTreeMap;

use gw_discover::{Discovery, DiscoveryConfig};
use gw_model::{
    AuthType, Body, Capture, Exchange, Identity, SensitiveLabel, Severity, Source, SourceKind,
};
use gw_posture::{InventoryContext, assess_inventory, rank, rank_endpoints, score_apis};
use jiff::{SignedDuration, Timestamp};

fn t0() -> Timestamp {
    "2024-06-03T12:00:00Z".parse().unwrap()
}

fn record(i: i64, method: &str, path: &str) -> Exchange {
    let source = Source {
        kind: SourceKind::Native,
        capture: Capture::Frontend,
        gateway: None,
        raw_ref: None,
    };
    let mut x = Exchange::new(
        format!("r{i}"),
        t0() + SignedDuration::from_millis(i * 50),
        source,
        method,
        path,
    );
    x.server.host = Some("shop.example.com".into());
    x.request.scheme = Some("https".into());
    x.response.status = Some(200);
    x.client.ip = Some("10.0.0.9".parse().unwrap());
    x.identity = Some(Identity {
        auth_type: Some(AuthType::BearerJwt),
        ..Identity::default()
    });
    x
}

/// Traffic of a small shop: a well-behaved internal endpoint, an internet-facing account
/// endpoint that answers anonymous callers with card numbers over plain HTTP, a login with
/// Basic credentials from the internet, a search hammered without throttling, and an order
/// endpoint leaking stack traces.
fn traffic() -> Vec<Exchange> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut next = |method: &str, path: &str| {
        i += 1;
        record(i, method, path)
    };
    for n in 0..50 {
        out.push(next("GET", &format!("/internal/stock/{}", 1000 + n)));
    }
    for n in 0..30 {
        let mut x = next("GET", &format!("/accounts/{}", 500 + n));
        x.client.ip = Some("203.0.113.7".parse().unwrap());
        x.request.scheme = Some("http".into());
        x.identity = Some(Identity {
            auth_type: Some(AuthType::None),
            ..Identity::default()
        });
        x.sensitive.push(SensitiveLabel {
            kind: "credit_card".into(),
            location: "response_body:$.card".into(),
        });
        out.push(x);
    }
    for _ in 0..5 {
        let mut x = next("POST", "/login");
        x.client.ip = Some("198.51.100.4".parse().unwrap());
        x.identity.as_mut().unwrap().auth_type = Some(AuthType::Basic);
        out.push(x);
    }
    for _ in 0..3 {
        let mut x = next("GET", "/profile");
        x.labels.insert("gw.jwt_weakness".into(), "alg_none".into());
        out.push(x);
    }
    for _ in 0..700 {
        let mut x = next("GET", "/search");
        x.request.query = Some("q=shoes".into());
        out.push(x);
    }
    for n in 0..4 {
        let mut x = next("GET", &format!("/orders/{}", 77 + n));
        x.response.status = Some(500);
        x.response.body = Some(Body::utf8(
            "java.lang.IllegalStateException: no order\n\tat com.shop.Orders.get(Orders.java:88)\n",
        ));
        out.push(x);
    }
    out
}

fn assessed() -> (Vec<gw_discover::EndpointState>, Vec<gw_model::Finding>) {
    let mut d = Discovery::new(DiscoveryConfig::default(), Vec::new()).unwrap();
    let mut batch = traffic();
    d.observe_batch(&mut batch);
    let endpoints: Vec<_> = d.inventory().cloned().collect();
    let ctx = InventoryContext::at(t0() + SignedDuration::from_hours(1));
    let findings = assess_inventory(&endpoints, &ctx);
    (endpoints, findings)
}

fn on<'a>(findings: &'a [gw_model::Finding], template: &str) -> Vec<(&'a str, Severity)> {
    let mut v: Vec<(&str, Severity)> = findings
        .iter()
        .filter(|f| f.endpoint.as_ref().is_some_and(|e| e.template == template))
        .map(|f| (f.rule.id.as_str(), f.severity))
        .collect();
    v.sort();
    v
}

#[test]
fn observed_traffic_drives_every_traffic_rule() {
    let (_, findings) = assessed();
    for f in &findings {
        println!("{:<26} {:<9} {}", f.rule.id, f.severity.as_str(), f.title);
    }
    assert_eq!(on(&findings, "/internal/stock/{stockId}"), vec![]);
    assert_eq!(
        on(&findings, "/accounts/{accountId}"),
        vec![
            ("GW-P-ATTACK-PATH", Severity::Critical),
            ("GW-P-EXTERNAL-SENSITIVE", Severity::High),
            ("GW-P-PLAINTEXT", Severity::High),
            ("GW-P-UNAUTHENTICATED", Severity::High),
        ]
    );
    assert_eq!(
        on(&findings, "/login"),
        vec![("GW-P-WEAK-AUTH", Severity::Medium)]
    );
    assert_eq!(
        on(&findings, "/profile"),
        vec![("GW-P-WEAK-AUTH", Severity::High)]
    );
    assert_eq!(
        on(&findings, "/search"),
        vec![("GW-P-MISSING-RATE-LIMIT", Severity::Medium)]
    );
    assert_eq!(
        on(&findings, "/orders/{orderId}"),
        vec![("GW-P-VERBOSE-ERRORS", Severity::Medium)]
    );
    let json = serde_json::to_string(&findings).unwrap();
    assert!(
        !json.contains("IllegalStateException"),
        "no body text in findings"
    );
}

#[test]
fn ranking_puts_the_attack_path_first() {
    let (endpoints, findings) = assessed();
    let ranked = rank(findings, &endpoints, &BTreeMap::new());
    assert_eq!(ranked[0].finding.rule.id, "GW-P-ATTACK-PATH");
    assert_eq!(ranked[0].risk.as_ref().unwrap().score, 80);
    let top = rank_endpoints(&endpoints, &BTreeMap::new());
    assert_eq!(top[0].endpoint.template, "/accounts/{accountId}");
    let apis = score_apis(&endpoints, &BTreeMap::new());
    assert_eq!(apis[0].api, "shop.example.com/accounts");
    assert_eq!(apis[0].risk.score, 80);
}

#[test]
fn an_empty_inventory_assesses_and_ranks_to_nothing() {
    let ctx = InventoryContext::default();
    assert!(assess_inventory(&[], &ctx).is_empty());
    assert!(rank(Vec::new(), &[], &BTreeMap::new()).is_empty());
    assert!(rank_endpoints(&[], &BTreeMap::new()).is_empty());
    assert!(score_apis(&[], &BTreeMap::new()).is_empty());
}
