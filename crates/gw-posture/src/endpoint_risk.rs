//! Risk scores of inventoried endpoints and APIs ([`gw_discover::EndpointState`]) through the
//! one scoring function [`score_risk`], and the ranking of findings and endpoints by risk.
//!
//! What traffic says is mapped onto the score's factors: exposure from calls by public
//! addresses, authentication from the credentials seen (falling back to the spec declaration for
//! endpoints without traffic), data sensitivity from the sensitive kinds seen, and open alerts.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use gw_discover::EndpointState;
use gw_model::Finding;
use serde::Serialize;

use crate::risk::{AlertCounts, Authentication, Exposure, RiskInput, RiskScore, score_risk};

/// Where an endpoint is reachable from: `External` once a public address called it, `Internal`
/// when it was called only by private addresses (or callers whose address was not logged),
/// `Unknown` without traffic.
pub fn endpoint_exposure(e: &EndpointState) -> Exposure {
    if e.is_external() {
        Exposure::External
    } else if e.calls > 0 {
        Exposure::Internal
    } else {
        Exposure::Unknown
    }
}

/// How an endpoint's callers authenticate, the weakest observed alternative counting:
/// `None` when successful calls carried no credentials; `Weak` for HTTP Basic, unsigned JWTs or
/// JWTs without expiry; `Strong` for signed tokens, opaque bearer tokens, API keys in headers or
/// client certificates. Without traffic the spec declaration decides (`None` when the operation
/// declares no security, `Strong` when it does); otherwise `Unknown`.
pub fn endpoint_authentication(e: &EndpointState) -> Authentication {
    if e.unauthenticated_success > 0 {
        return Authentication::None;
    }
    if e.weak_auth.any() || e.auth.contains_key("basic") {
        return Authentication::Weak;
    }
    let strong = ["bearer_jwt", "bearer_opaque", "mtls", "api_key"];
    if strong.iter().any(|a| e.auth.contains_key(*a)) {
        return Authentication::Strong;
    }
    match &e.spec {
        Some(d) if e.calls == 0 => {
            if d.requires_auth {
                Authentication::Strong
            } else {
                Authentication::None
            }
        }
        _ => Authentication::Unknown,
    }
}

/// The input of [`score_risk`] for one endpoint with its open alerts by severity.
pub fn endpoint_risk_input(e: &EndpointState, open_alerts: AlertCounts) -> RiskInput {
    RiskInput {
        exposure: endpoint_exposure(e),
        authentication: endpoint_authentication(e),
        sensitive_kinds: e.sensitive.keys().cloned().collect(),
        open_alerts,
    }
}

/// Alerts whose severity the caller does not have count as medium.
fn unrated_alerts(n: u32) -> AlertCounts {
    AlertCounts {
        medium: n,
        ..AlertCounts::default()
    }
}

/// Risk score of one endpoint with `open_alerts` open alerts (each weighted as a medium-severity
/// alert; use [`score_endpoint_with_alerts`] when severities are known).
pub fn score_endpoint(e: &EndpointState, open_alerts: u32) -> RiskScore {
    score_risk(&endpoint_risk_input(e, unrated_alerts(open_alerts)))
}

/// Risk score of one endpoint with its open alerts counted by severity.
pub fn score_endpoint_with_alerts(e: &EndpointState, open_alerts: AlertCounts) -> RiskScore {
    score_risk(&endpoint_risk_input(e, open_alerts))
}

/// Higher = riskier, for taking the worst authentication of several endpoints.
fn auth_risk(a: Authentication) -> u8 {
    match a {
        Authentication::None => 3,
        Authentication::Weak => 2,
        Authentication::Unknown => 1,
        Authentication::Strong => 0,
    }
}

fn exposure_risk(x: Exposure) -> u8 {
    match x {
        Exposure::External => 2,
        Exposure::Unknown => 1,
        Exposure::Internal => 0,
    }
}

/// Risk score of an API from its endpoints: the widest exposure of an endpoint with traffic,
/// the weakest authentication, the union of sensitive kinds and the sum of open alerts (by
/// endpoint id, each weighted as medium). Endpoints without traffic count only when none has
/// traffic.
pub fn score_api<'a>(
    endpoints: impl IntoIterator<Item = &'a EndpointState>,
    open_alerts: &BTreeMap<String, u32>,
) -> RiskScore {
    let endpoints: Vec<&EndpointState> = endpoints.into_iter().collect();
    let called: Vec<&EndpointState> = endpoints.iter().copied().filter(|e| e.calls > 0).collect();
    let considered = if called.is_empty() {
        &endpoints
    } else {
        &called
    };
    let exposure = considered
        .iter()
        .map(|e| endpoint_exposure(e))
        .max_by_key(|x| exposure_risk(*x))
        .unwrap_or(Exposure::Unknown);
    let authentication = considered
        .iter()
        .map(|e| endpoint_authentication(e))
        .max_by_key(|a| auth_risk(*a))
        .unwrap_or(Authentication::Unknown);
    let mut kinds: Vec<String> = endpoints
        .iter()
        .flat_map(|e| e.sensitive.keys().cloned())
        .collect();
    kinds.sort();
    kinds.dedup();
    let alerts = endpoints
        .iter()
        .map(|e| open_alerts.get(&e.id).copied().unwrap_or(0))
        .fold(0u32, u32::saturating_add);
    score_risk(&RiskInput {
        exposure,
        authentication,
        sensitive_kinds: kinds,
        open_alerts: unrated_alerts(alerts),
    })
}

/// The risk of one API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiRisk {
    pub api: String,
    pub endpoints: usize,
    pub risk: RiskScore,
}

/// Scores every API of the inventory (grouped by [`EndpointState::api`]), riskiest first, ties
/// by API name.
pub fn score_apis(
    endpoints: &[EndpointState],
    open_alerts: &BTreeMap<String, u32>,
) -> Vec<ApiRisk> {
    let mut by_api: BTreeMap<&str, Vec<&EndpointState>> = BTreeMap::new();
    for e in endpoints {
        by_api.entry(e.api.as_str()).or_default().push(e);
    }
    let mut out: Vec<ApiRisk> = by_api
        .into_iter()
        .map(|(api, eps)| ApiRisk {
            api: api.to_owned(),
            endpoints: eps.len(),
            risk: score_api(eps.iter().copied(), open_alerts),
        })
        .collect();
    out.sort_by(|a, b| b.risk.score.cmp(&a.risk.score).then(a.api.cmp(&b.api)));
    out
}

/// An endpoint with its score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedEndpoint<'a> {
    pub endpoint: &'a EndpointState,
    pub risk: RiskScore,
}

/// Endpoints riskiest first; ties by calls (busier first), then id, so the order is stable.
pub fn rank_endpoints<'a>(
    endpoints: &'a [EndpointState],
    open_alerts: &BTreeMap<String, u32>,
) -> Vec<RankedEndpoint<'a>> {
    let mut out: Vec<RankedEndpoint<'a>> = endpoints
        .iter()
        .map(|e| RankedEndpoint {
            endpoint: e,
            risk: score_endpoint(e, open_alerts.get(&e.id).copied().unwrap_or(0)),
        })
        .collect();
    out.sort_by(|a, b| {
        b.risk
            .score
            .cmp(&a.risk.score)
            .then(b.endpoint.calls.cmp(&a.endpoint.calls))
            .then(a.endpoint.id.cmp(&b.endpoint.id))
    });
    out
}

/// A finding with the risk score of its endpoint (`None` for findings about a spec or a
/// configuration file, or about an endpoint not in the inventory).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedFinding {
    pub finding: Finding,
    pub risk: Option<RiskScore>,
}

/// Orders findings by what to fix first: severity, then the risk score of the finding's
/// endpoint (findings without an endpoint count as 0), then confidence, then rule id and
/// fingerprint for a stable order.
pub fn rank(
    findings: Vec<Finding>,
    endpoints: &[EndpointState],
    open_alerts: &BTreeMap<String, u32>,
) -> Vec<RankedFinding> {
    let by_id: BTreeMap<&str, &EndpointState> =
        endpoints.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut out: Vec<RankedFinding> = findings
        .into_iter()
        .map(|finding| {
            let risk = finding
                .endpoint
                .as_ref()
                .and_then(|fe| by_id.get(fe.id.as_str()))
                .map(|e| score_endpoint(e, open_alerts.get(&e.id).copied().unwrap_or(0)));
            RankedFinding { finding, risk }
        })
        .collect();
    out.sort_by_key(|r| {
        (
            Reverse(r.finding.severity),
            Reverse(r.risk.as_ref().map_or(0, |s| s.score)),
            Reverse(r.finding.confidence),
            r.finding.rule.id.clone(),
            r.finding.fingerprint.clone(),
        )
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gw_discover::{Method, SpecDeclaration};
    use gw_model::{Analytic, EndpointMatch, FindingEndpoint, Severity};

    fn endpoint(template: &str) -> EndpointState {
        let mut e = EndpointState::new(
            "api.example.com",
            Method::Get,
            template,
            EndpointMatch::Learned,
        );
        e.api = "api.example.com/v1".into();
        e.calls = 10;
        e.auth.insert("bearer_jwt".into(), 10);
        e
    }

    fn factor<'a>(r: &'a RiskScore, name: &str) -> &'a crate::RiskFactor {
        r.factors.iter().find(|f| f.name == name).unwrap()
    }

    #[test]
    fn endpoint_factors_come_from_traffic() {
        let mut e = endpoint("/a");
        assert_eq!(endpoint_exposure(&e), Exposure::Internal);
        assert_eq!(endpoint_authentication(&e), Authentication::Strong);
        let quiet = score_endpoint(&e, 0);
        assert_eq!(quiet.score, 5);

        e.exposure.public_calls = 3;
        e.unauthenticated_success = 2;
        e.sensitive
            .entry("credit_card".into())
            .or_default()
            .insert("response_body:$.card".into());
        let r = score_endpoint(&e, 0);
        assert_eq!(r.score, 80);
        assert_eq!(factor(&r, "exposure").weight, 25);
        assert_eq!(factor(&r, "authentication").weight, 30);
        assert!(
            factor(&r, "data_sensitivity")
                .detail
                .contains("credit_card")
        );
        let with_alerts = score_endpoint(&e, 2);
        assert_eq!(
            factor(&with_alerts, "open_alerts").weight,
            6,
            "2 unrated alerts = 2 medium"
        );
        let critical = score_endpoint_with_alerts(
            &e,
            crate::AlertCounts {
                critical: 1,
                ..Default::default()
            },
        );
        assert_eq!(critical.score, 92);
    }

    #[test]
    fn weak_credentials_and_spec_declarations_grade_authentication() {
        let mut basic = endpoint("/b");
        basic.auth.insert("basic".into(), 1);
        assert_eq!(endpoint_authentication(&basic), Authentication::Weak);
        let mut no_exp = endpoint("/c");
        no_exp.weak_auth.jwt_no_exp = 1;
        assert_eq!(endpoint_authentication(&no_exp), Authentication::Weak);
        let mut unknown = endpoint("/d");
        unknown.auth.clear();
        unknown.auth.insert("unknown".into(), 10);
        assert_eq!(endpoint_authentication(&unknown), Authentication::Unknown);

        let mut never_called = EndpointState::new("*", Method::Post, "/e", EndpointMatch::Spec);
        never_called.spec = Some(SpecDeclaration {
            api: "x".into(),
            host: None,
            method: Method::Post,
            template: "/e".into(),
            operation_id: None,
            deprecated: false,
            requires_auth: false,
            pointer: "/paths/~1e/post".into(),
            source_file: "x.yaml".into(),
        });
        assert_eq!(endpoint_exposure(&never_called), Exposure::Unknown);
        assert_eq!(endpoint_authentication(&never_called), Authentication::None);
        never_called.spec.as_mut().unwrap().requires_auth = true;
        assert_eq!(
            endpoint_authentication(&never_called),
            Authentication::Strong
        );
    }

    #[test]
    fn api_score_takes_the_worst_endpoint_and_sums_alerts() {
        let a = endpoint("/a");
        let mut b = endpoint("/b");
        b.exposure.public_calls = 1;
        let mut c = endpoint("/c");
        c.unauthenticated_success = 1;
        c.sensitive
            .entry("email".into())
            .or_default()
            .insert("query:email".into());
        let mut other = endpoint("/x");
        other.api = "other".into();
        let alerts = BTreeMap::from([(a.id.clone(), 1), (c.id.clone(), 1)]);
        let r = score_api([&a, &b, &c], &alerts);
        // external (25) + none (30) + email (15) + 2 medium alerts (6)
        assert_eq!(r.score, 76);
        let all = [a, b, c, other];
        let apis = score_apis(&all, &alerts);
        assert_eq!(apis.len(), 2);
        assert_eq!(
            (apis[0].api.as_str(), apis[0].endpoints),
            ("api.example.com/v1", 3)
        );
        assert_eq!(apis[0].risk.score, 76);
        assert_eq!(apis[1].risk.score, 5);
        assert_eq!(score_api([], &BTreeMap::new()).score, 12 + 10);
    }

    fn finding(id: &str, severity: Severity, endpoint: Option<&EndpointState>) -> Finding {
        let meta = crate::RuleMeta {
            id: "GW-X",
            name: "X",
            version: 1,
            severity,
            confidence: gw_model::Confidence::High,
            owasp: &[],
            summary: "",
            remediation: "",
            references: &[],
        };
        let mut f = crate::rule::finding_from_hit(&meta, "f", crate::Hit::new(id, id, ""), None);
        f.rule.analytic = Analytic::Behavioral;
        f.endpoint = endpoint.map(|e| FindingEndpoint {
            id: e.id.clone(),
            host: e.host.clone(),
            method: e.method.as_str().into(),
            template: e.template.clone(),
        });
        f
    }

    #[test]
    fn ranking_orders_by_severity_then_endpoint_risk() {
        let safe = endpoint("/safe");
        let mut risky = endpoint("/risky");
        risky.exposure.public_calls = 1;
        risky.unauthenticated_success = 1;
        let endpoints = [safe.clone(), risky.clone()];
        let ranked = rank(
            vec![
                finding("/1", Severity::Medium, Some(&safe)),
                finding("/2", Severity::Medium, Some(&risky)),
                finding("/3", Severity::High, None),
                finding("/4", Severity::Low, Some(&risky)),
            ],
            &endpoints,
            &BTreeMap::new(),
        );
        let order: Vec<&str> = ranked.iter().map(|r| r.finding.title.as_str()).collect();
        assert_eq!(order, ["/3", "/2", "/1", "/4"]);
        assert!(ranked[0].risk.is_none());
        assert_eq!(ranked[1].risk.as_ref().unwrap().score, 25 + 30);

        let ranked = rank_endpoints(&endpoints, &BTreeMap::new());
        assert_eq!(ranked[0].endpoint.template, "/risky");
        let alerts = BTreeMap::from([(safe.id.clone(), 20)]);
        let ranked = rank_endpoints(&endpoints, &alerts);
        assert_eq!(ranked[0].risk.score, 55);
        assert_eq!(ranked[1].risk.score, 25, "5 + 20 capped alert points");
    }
}
