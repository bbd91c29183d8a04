//! The registry, the `Detector` contract and the alert book working together on a batch.

use gw_detect::{AlertBook, DEFAULT_MAX_EVIDENCE_IDS, DETECTORS, build_all};
use gw_model::{
    Analytic, Capture, EndpointMatch, EndpointRef, Exchange, FindingKind, Header, OwaspApi2023,
    Source, SourceKind,
};
use jiff::{SignedDuration, Timestamp};

fn request(i: i64, ip: &str, query: &str, ua: &str) -> Exchange {
    let src = Source {
        kind: SourceKind::NginxCombined,
        capture: Capture::AccessLog,
        gateway: None,
        raw_ref: None,
    };
    let mut x = Exchange::new(
        format!("r{i}"),
        Timestamp::from_second(1_700_000_000 + i).unwrap(),
        src,
        "GET",
        "/v1/items",
    );
    x.client.ip = Some(ip.parse().unwrap());
    x.client.user_agent = Some(ua.to_string());
    x.request.query = Some(query.to_string());
    x.request.headers = Some(vec![Header::new("user-agent", ua)]);
    x.endpoint = Some(std::sync::Arc::new(EndpointRef {
        id: "ep-items".into(),
        host: "api.example.com".into(),
        method: "GET".into(),
        template: "/v1/items".into(),
        spec_operation_id: None,
        matched_by: EndpointMatch::Learned,
    }));
    x
}

#[test]
fn registry_lists_each_detector_once_with_its_rules() {
    let names: Vec<_> = DETECTORS.iter().map(|f| f.name()).collect();
    assert_eq!(names, ["signature.injection", "signature.user_agent"]);
    let mut rule_ids: Vec<&str> = build_all()
        .iter()
        .flat_map(|d| d.rules().iter().map(|r| r.id))
        .collect();
    let n = rule_ids.len();
    rule_ids.sort_unstable();
    rule_ids.dedup();
    assert_eq!(rule_ids.len(), n, "a rule id is claimed twice");
    assert!(rule_ids.contains(&"GW-T-SQLI") && rule_ids.contains(&"GW-T-SUSPICIOUS-UA"));
}

#[test]
fn an_attack_run_becomes_one_alert_per_rule_endpoint_actor() {
    // 50 sqlmap requests from one IP, benign traffic from another, one XSS from a third.
    let mut batch = Vec::new();
    for i in 0..50 {
        batch.push(request(
            i,
            "203.0.113.9",
            &format!("id=1%27%20AND%20{i}%3D{i}--%20-"),
            "sqlmap/1.7.2#stable (https://sqlmap.org)",
        ));
        batch.push(request(
            i,
            "198.51.100.7",
            "id=42&sort=name",
            "okhttp/4.12.0",
        ));
    }
    batch.push(request(
        60,
        "192.0.2.1",
        "q=%3Cscript%3Ealert(1)%3C/script%3E",
        "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
    ));

    let mut findings = Vec::new();
    let mut detectors = build_all();
    for d in detectors.iter_mut() {
        d.detect(&batch, &mut findings);
    }
    let received: u64 = detectors.iter().map(|d| d.stats().received).sum();
    assert_eq!(received, 2 * batch.len() as u64);
    assert_eq!(
        detectors.iter().map(|d| d.stats().findings).sum::<u64>(),
        findings.len() as u64
    );
    assert!(
        findings
            .iter()
            .all(|f| f.kind == FindingKind::Threat && f.rule.analytic == Analytic::Signature)
    );

    let mut book = AlertBook::new(SignedDuration::from_mins(15), DEFAULT_MAX_EVIDENCE_IDS).unwrap();
    for f in findings {
        book.record(f);
    }
    let alerts = book.drain();
    let by_rule = |id: &str| {
        alerts
            .iter()
            .filter(|a| a.rule.id == id)
            .collect::<Vec<_>>()
    };
    let sqli = by_rule("GW-T-SQLI");
    assert_eq!(sqli.len(), 1, "{alerts:#?}");
    assert_eq!(sqli[0].count, 50);
    assert_eq!(
        sqli[0].evidence.exchange_ids.len(),
        DEFAULT_MAX_EVIDENCE_IDS
    );
    assert_eq!(sqli[0].endpoint.as_ref().unwrap().template, "/v1/items");
    assert_eq!(
        sqli[0].actor.as_ref().unwrap().ip,
        Some("203.0.113.9".parse().unwrap())
    );
    assert!(sqli[0].owasp.contains(&OwaspApi2023::Api8));
    assert!(sqli[0].mitre.iter().any(|m| m.technique == "T1190"));
    let sample = &sqli[0].evidence.samples[0];
    assert_eq!(sample.location.as_deref(), Some("query:id"));
    assert!(
        sample.text.contains("libinjection fingerprint"),
        "{}",
        sample.text
    );
    assert_eq!(by_rule("GW-T-SUSPICIOUS-UA").len(), 1);
    assert_eq!(by_rule("GW-T-SUSPICIOUS-UA")[0].count, 50);
    assert_eq!(by_rule("GW-T-XSS").len(), 1);
    assert!(
        alerts
            .iter()
            .all(|a| a.actor.as_ref().unwrap().ip != Some("198.51.100.7".parse().unwrap())),
        "benign client alerted"
    );
}
