//! Risk score of an endpoint or API from a few factors, returned with the factors that made it
//! so the CLI can explain the number.
//!
//! The score is additive and capped per factor, so each factor's `weight` is exactly the points it
//! contributed and they sum to the score: exposure (up to 25), authentication (up to 30), data
//! sensitivity (up to 25) and open alerts (up to 20). An internet-facing, unauthenticated endpoint
//! that returns card numbers scores 80 before any alert fires.

use gw_model::Severity;
use serde::{Deserialize, Serialize};

/// Where the endpoint can be reached from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exposure {
    /// Reachable from the internet (public clients observed or a public host).
    External,
    /// Only internal / private clients.
    Internal,
    Unknown,
}

/// How callers authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Authentication {
    /// Successful calls without credentials.
    None,
    /// Credentials that are replayable or leak easily: HTTP Basic, API keys in the query string,
    /// static shared keys.
    Weak,
    /// Signed tokens, OAuth 2 / OIDC, mutual TLS.
    Strong,
    Unknown,
}

/// The input of [`score_risk`]; the caller fills it from the inventory and the alert store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskInput {
    pub exposure: Exposure,
    pub authentication: Authentication,
    /// Sensitive data kinds seen in requests or responses (`credit_card`, `email`, `secret` ...,
    /// the gw-classify names); the highest-ranked one counts.
    pub sensitive_kinds: Vec<String>,
    /// Open findings of this endpoint, counted by severity.
    pub open_alerts: AlertCounts,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertCounts {
    pub critical: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
}

impl AlertCounts {
    pub fn add(&mut self, severity: Severity) {
        match severity {
            Severity::Critical => self.critical += 1,
            Severity::High => self.high += 1,
            Severity::Medium => self.medium += 1,
            Severity::Low => self.low += 1,
            Severity::Info => {}
        }
    }
}

/// One contribution to a score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RiskFactor {
    /// `exposure`, `authentication`, `data_sensitivity`, `open_alerts`.
    pub name: &'static str,
    /// Points added to the score.
    pub weight: u8,
    /// Human text: the value that produced the points.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RiskScore {
    /// 0–100.
    pub score: u8,
    /// Every factor, in fixed order, including those that added 0.
    pub factors: Vec<RiskFactor>,
}

/// Sensitivity tier of a data kind: 3 = regulated / directly abusable (cards, bank accounts,
/// national ids, secrets), 2 = personal data, 1 = quasi-identifiers, 0 = unknown kinds.
pub fn sensitivity_tier(kind: &str) -> u8 {
    let k = kind.to_ascii_lowercase();
    let k = k.as_str();
    if matches!(
        k,
        "credit_card"
            | "iban"
            | "ssn"
            | "secret"
            | "password"
            | "api_key"
            | "jwt"
            | "private_key"
            | "bank_account"
            | "passport"
            | "medical"
            | "crypto"
    ) || k.ends_with("_ssn")
        || k.ends_with("_nin")
        || k.ends_with("_tnin")
        || k.ends_with("passport")
        || k.ends_with("_personal_identity_code")
    {
        3
    } else if matches!(
        k,
        "email"
            | "phone"
            | "person"
            | "address"
            | "date_of_birth"
            | "location"
            | "us_driver_license"
    ) || k.ends_with("phone_number")
        || k.ends_with("_mobile_number")
        || k.contains("license")
    {
        2
    } else if matches!(
        k,
        "ip_address" | "url" | "date_time" | "nrp" | "mac_address" | "user_agent"
    ) {
        1
    } else {
        0
    }
}

/// The authentication an operation declares in its spec: `None` without an effective
/// requirement (or with an anonymous `{}` alternative), `Weak` when some alternative relies only on
/// HTTP Basic/Digest or API keys in the query string or a cookie, `Strong` otherwise.
pub fn spec_authentication(spec: &gw_spec::ApiSpec, op: &gw_spec::Operation) -> Authentication {
    use gw_spec::{ApiKeyLocation, SecuritySchemeKind};
    if !spec.requires_auth(op) {
        return Authentication::None;
    }
    let weak_scheme = |name: &str| match spec.security_schemes.get(name).map(|s| &s.kind) {
        Some(SecuritySchemeKind::Http { scheme, .. }) => {
            matches!(scheme.as_str(), "basic" | "digest")
        }
        Some(SecuritySchemeKind::ApiKey { location, .. }) => *location != ApiKeyLocation::Header,
        Some(_) => false,
        // an undefined scheme protects nothing reliably
        None => true,
    };
    let weak = spec
        .effective_security(op)
        .iter()
        .any(|r| r.schemes.keys().all(|name| weak_scheme(name)));
    if weak {
        Authentication::Weak
    } else {
        Authentication::Strong
    }
}

const ALERT_CAP: u32 = 20;

/// Scores an endpoint or API. Pure: the same input always gives the same score and factors.
pub fn score_risk(input: &RiskInput) -> RiskScore {
    let (exposure_pts, exposure_detail) = match input.exposure {
        Exposure::External => (25, "reachable from the internet"),
        Exposure::Unknown => (12, "exposure unknown"),
        Exposure::Internal => (5, "internal clients only"),
    };
    let (auth_pts, auth_detail) = match input.authentication {
        Authentication::None => (30, "no authentication on successful calls"),
        Authentication::Weak => (
            18,
            "weak authentication (basic, query-string or static keys)",
        ),
        Authentication::Unknown => (10, "authentication unknown"),
        Authentication::Strong => (0, "strong authentication"),
    };
    let top = input
        .sensitive_kinds
        .iter()
        .map(|k| (sensitivity_tier(k), k.as_str()))
        .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(a.1)));
    let (data_pts, data_detail) = match top {
        Some((3, k)) => (
            25,
            format!("highest sensitive kind `{k}` (regulated or secret)"),
        ),
        Some((2, k)) => (15, format!("highest sensitive kind `{k}` (personal data)")),
        Some((1, k)) => (
            6,
            format!("highest sensitive kind `{k}` (quasi-identifier)"),
        ),
        Some((_, k)) => (6, format!("sensitive kind `{k}` (unranked)")),
        None => (0, "no sensitive data observed".to_owned()),
    };
    let a = input.open_alerts;
    let raw = a
        .critical
        .saturating_mul(12)
        .saturating_add(a.high.saturating_mul(6))
        .saturating_add(a.medium.saturating_mul(3))
        .saturating_add(a.low);
    let alert_pts = raw.min(ALERT_CAP) as u8;
    let alert_detail = if raw == 0 {
        "no open alerts".to_owned()
    } else {
        format!(
            "{} critical, {} high, {} medium, {} low open",
            a.critical, a.high, a.medium, a.low
        )
    };
    let factors = vec![
        RiskFactor {
            name: "exposure",
            weight: exposure_pts,
            detail: exposure_detail.to_owned(),
        },
        RiskFactor {
            name: "authentication",
            weight: auth_pts,
            detail: auth_detail.to_owned(),
        },
        RiskFactor {
            name: "data_sensitivity",
            weight: data_pts,
            detail: data_detail,
        },
        RiskFactor {
            name: "open_alerts",
            weight: alert_pts,
            detail: alert_detail,
        },
    ];
    let score = factors
        .iter()
        .map(|f| u32::from(f.weight))
        .sum::<u32>()
        .min(100) as u8;
    RiskScore { score, factors }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(
        exposure: Exposure,
        authentication: Authentication,
        kinds: &[&str],
        alerts: AlertCounts,
    ) -> RiskInput {
        RiskInput {
            exposure,
            authentication,
            sensitive_kinds: kinds.iter().map(|s| s.to_string()).collect(),
            open_alerts: alerts,
        }
    }

    #[test]
    fn worst_case_is_100_and_factors_sum_to_score() {
        let r = score_risk(&input(
            Exposure::External,
            Authentication::None,
            &["email", "credit_card"],
            AlertCounts {
                critical: 3,
                ..AlertCounts::default()
            },
        ));
        assert_eq!(r.score, 100);
        assert_eq!(
            r.factors.iter().map(|f| u32::from(f.weight)).sum::<u32>(),
            100
        );
        assert!(
            r.factors[2].detail.contains("credit_card"),
            "{:?}",
            r.factors[2]
        );
    }

    #[test]
    fn best_case_is_low_and_ordering_is_monotonic() {
        let best = score_risk(&input(
            Exposure::Internal,
            Authentication::Strong,
            &[],
            AlertCounts::default(),
        ));
        assert_eq!(best.score, 5);
        let ext_open_pii = score_risk(&input(
            Exposure::External,
            Authentication::None,
            &["email"],
            AlertCounts::default(),
        ));
        let ext_weak_pii = score_risk(&input(
            Exposure::External,
            Authentication::Weak,
            &["email"],
            AlertCounts::default(),
        ));
        let int_strong_pii = score_risk(&input(
            Exposure::Internal,
            Authentication::Strong,
            &["email"],
            AlertCounts::default(),
        ));
        assert_eq!(ext_open_pii.score, 70);
        assert!(
            ext_open_pii.score > ext_weak_pii.score && ext_weak_pii.score > int_strong_pii.score
        );
        let mut alerts = AlertCounts::default();
        alerts.add(Severity::High);
        alerts.add(Severity::Info);
        let with_alert = score_risk(&input(
            Exposure::Internal,
            Authentication::Strong,
            &["email"],
            alerts,
        ));
        assert_eq!(with_alert.score, int_strong_pii.score + 6);
    }

    #[test]
    fn spec_authentication_grades_schemes() {
        let yaml = br#"
openapi: 3.0.3
info: { title: t, version: "1" }
paths:
  /open: { get: { responses: { "200": { description: ok } } } }
  /basic: { get: { security: [ { basic: [] } ], responses: { "200": { description: ok } } } }
  /mixed: { get: { security: [ { basic: [] }, { jwt: [] } ], responses: { "200": { description: ok } } } }
  /jwt: { get: { security: [ { jwt: [] } ], responses: { "200": { description: ok } } } }
  /hdrkey: { get: { security: [ { hkey: [] } ], responses: { "200": { description: ok } } } }
components:
  securitySchemes:
    basic: { type: http, scheme: basic }
    jwt: { type: http, scheme: bearer, bearerFormat: JWT }
    hkey: { type: apiKey, in: header, name: X-Key }
"#;
        let spec = gw_spec::parse_spec(yaml, "t.yaml").unwrap();
        let grade = |path: &str| {
            let op = spec
                .operations
                .iter()
                .find(|o| o.path_template == path)
                .unwrap();
            spec_authentication(&spec, op)
        };
        assert_eq!(grade("/open"), Authentication::None);
        assert_eq!(grade("/basic"), Authentication::Weak);
        assert_eq!(
            grade("/mixed"),
            Authentication::Weak,
            "the weakest accepted alternative counts"
        );
        assert_eq!(grade("/jwt"), Authentication::Strong);
        assert_eq!(grade("/hdrkey"), Authentication::Strong);
    }

    #[test]
    fn alert_points_are_capped_and_do_not_overflow() {
        let r = score_risk(&input(
            Exposure::Unknown,
            Authentication::Unknown,
            &["ip_address"],
            AlertCounts {
                critical: u32::MAX,
                high: u32::MAX,
                medium: u32::MAX,
                low: u32::MAX,
            },
        ));
        assert_eq!(r.factors[3].weight, 20);
        assert_eq!(r.score, 12 + 10 + 6 + 20);
    }
}
