//! Inventory rules (`GW-P-*`): posture findings from what traffic showed about each endpoint of
//! the inventory ([`gw_discover::EndpointState`]) — unauthenticated successes, dormant, zombie
//! and shadow endpoints, sensitive data exposed to the internet or carried in URLs, plain HTTP,
//! weak credentials, verbose errors, missing rate limiting, and the attack-path combinations.
//!
//! Every rule is a function over one [`EndpointView`] that pushes at most one [`Hit`]; hits
//! become findings through the shared [`collect_findings`], so inventory findings have the same
//! shape as spec and configuration findings. A finding's fingerprint is rule + endpoint id
//! (`fingerprint(rule, "inventory", "/endpoints/<id>")`): assessing the inventory again yields
//! the same fingerprints, so the store updates findings instead of duplicating them. Times are
//! event times: `first_seen`/`last_seen` are the endpoint's, dormancy is measured at
//! [`InventoryContext::now`]. Evidence holds counts and names, never values from traffic.

use std::collections::BTreeMap;

use gw_discover::EndpointState;
use gw_model::{
    Analytic, Confidence, EvidenceSample, Finding, FindingEndpoint, OwaspApi2023 as Owasp, Severity,
};
use jiff::{SignedDuration, Timestamp};

use crate::endpoint_risk::score_endpoint;
use crate::risk::sensitivity_tier;
use crate::rule::{Hit, Rule, RuleMeta, collect_findings};

/// The `file` part of inventory finding locations: `inventory#/endpoints/<endpoint id>`.
pub const INVENTORY_FILE: &str = "inventory";

/// Default of [`InventoryContext::burst_per_minute`]: 600 calls in one minute (10 per second)
/// on a single endpoint without a single 429 suggests nothing limits the rate.
pub const DEFAULT_BURST_PER_MINUTE: u64 = 600;

/// What the inventory rules are evaluated against, besides the endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryContext {
    /// The event-time watermark (end of the input, or the live watermark); never the wall clock.
    pub now: Timestamp,
    /// Quiet time after which an endpoint is dormant (Defender: 30 days).
    pub dormant_after: SignedDuration,
    /// `GW-P-MISSING-RATE-LIMIT` fires when an endpoint's busiest minute exceeded this many calls
    /// and no 429 was ever returned.
    pub burst_per_minute: u64,
    /// Whether any OpenAPI document was imported; without one every endpoint would be "shadow",
    /// so `GW-P-SHADOW` only runs when this is true.
    pub specs_imported: bool,
    /// Open alerts (threat findings) per endpoint id; they raise the endpoint's risk score.
    pub open_alerts: BTreeMap<String, u32>,
}

impl Default for InventoryContext {
    fn default() -> Self {
        InventoryContext {
            now: Timestamp::UNIX_EPOCH,
            dormant_after: SignedDuration::from_hours(30 * 24),
            burst_per_minute: DEFAULT_BURST_PER_MINUTE,
            specs_imported: false,
            open_alerts: BTreeMap::new(),
        }
    }
}

impl InventoryContext {
    /// Defaults (30 days dormancy, 600 calls/minute burst, no specs, no alerts) at event time
    /// `now`.
    pub fn at(now: Timestamp) -> Self {
        InventoryContext {
            now,
            ..InventoryContext::default()
        }
    }
}

/// What an inventory rule sees: one endpoint, the context, and the start of observation.
#[derive(Debug, Clone, Copy)]
pub struct EndpointView<'a> {
    pub endpoint: &'a EndpointState,
    pub ctx: &'a InventoryContext,
    /// The earliest event time of the whole inventory: an endpoint never called is only dormant
    /// once traffic has been watched for `dormant_after`.
    pub observed_since: Option<Timestamp>,
}

impl EndpointView<'_> {
    /// `METHOD host/template`.
    pub fn label(&self) -> String {
        let e = self.endpoint;
        format!("{} {}{}", e.method.as_str(), e.host, e.template)
    }

    fn pointer(&self) -> String {
        format!("/endpoints/{}", self.endpoint.id)
    }

    /// Quiet for at least `dormant_after` at `now` (see [`InventoryContext`]).
    pub fn is_dormant(&self) -> bool {
        let horizon = self.ctx.dormant_after;
        match self.endpoint.last_seen {
            Some(last) => self.ctx.now.duration_since(last) >= horizon,
            None => self
                .observed_since
                .is_some_and(|since| self.ctx.now.duration_since(since) >= horizon),
        }
    }

    /// Sensitive kinds seen in the request path or query string, with their places.
    fn sensitive_in_url(&self) -> Vec<(&str, Vec<&str>)> {
        self.endpoint
            .sensitive
            .iter()
            .filter_map(|(kind, places)| {
                let url: Vec<&str> = places
                    .iter()
                    .map(String::as_str)
                    .filter(|p| is_url_place(p))
                    .collect();
                (!url.is_empty()).then_some((kind.as_str(), url))
            })
            .collect()
    }

    fn top_sensitivity(&self) -> u8 {
        self.endpoint
            .sensitive
            .keys()
            .map(|k| sensitivity_tier(k))
            .max()
            .unwrap_or(0)
    }
}

/// Places of the classifier (`path:...`, `query:...`) and of older labels (`request.query`).
fn is_url_place(place: &str) -> bool {
    ["path", "query", "request.path", "request.query", "url"]
        .iter()
        .any(|p| {
            place
                .strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '.', '/']))
        })
}

/// An inventory rule: a check over one endpoint.
pub type InventoryRule = Rule<for<'a, 'b> fn(&'b EndpointView<'a>, &mut Vec<Hit>)>;

const DEFENDER_RECOMMENDATIONS: &str =
    "https://learn.microsoft.com/en-us/azure/defender-for-cloud/recommendations-reference-api";
const OWASP_TOP10: &str = "https://owasp.org/API-Security/editions/2023/en/0x11-t10/";

macro_rules! meta {
    ($id:literal, $name:literal, $sev:ident, $conf:ident, [$($o:ident),*], $summary:literal, $fix:literal, $reference:expr) => {
        RuleMeta {
            id: $id,
            name: $name,
            version: 1,
            severity: Severity::$sev,
            confidence: Confidence::$conf,
            owasp: &[$(Owasp::$o),*],
            summary: $summary,
            remediation: $fix,
            references: &[$reference, OWASP_TOP10],
        }
    };
}

/// Inventory rules, in id order.
pub static INVENTORY_RULES: &[InventoryRule] = &[
    Rule {
        meta: meta!(
            "GW-P-ATTACK-PATH",
            "AttackPath",
            High,
            High,
            [Api2, Api3, Api8],
            "The endpoint combines risk factors into an attack path: internet-exposed, unauthenticated and carrying sensitive data (critical); plain HTTP with unauthenticated calls; or internet-exposed with weak credentials and personal data",
            "Break the path at its cheapest link: require authentication on the endpoint (validate a signed token or client certificate at the gateway), stop returning sensitive fields that callers do not need, and serve HTTPS only; then re-run the assessment.",
            "https://learn.microsoft.com/en-us/azure/defender-for-cloud/how-to-manage-attack-path"
        ),
        check: attack_path,
    },
    Rule {
        meta: meta!(
            "GW-P-DORMANT",
            "DormantEndpoint",
            Low,
            High,
            [Api9],
            "No traffic for the dormancy period (30 days of event time by default)",
            "Disable the endpoint at the gateway and remove it from the API and its spec; if it must stay, mark it deprecated with a sunset date and keep it authenticated.",
            DEFENDER_RECOMMENDATIONS
        ),
        check: dormant,
    },
    Rule {
        meta: meta!(
            "GW-P-EXTERNAL-SENSITIVE",
            "ExternalSensitiveData",
            Medium,
            High,
            [Api3],
            "Called from the internet and carrying sensitive data",
            "Confirm that internet callers need these fields: remove or mask them in responses (response schema allow-list at the gateway), restrict the endpoint to internal networks if it is not meant to be public, and require strong authentication.",
            DEFENDER_RECOMMENDATIONS
        ),
        check: external_sensitive,
    },
    Rule {
        meta: meta!(
            "GW-P-MISSING-RATE-LIMIT",
            "MissingRateLimit",
            Medium,
            Medium,
            [Api4],
            "Bursts above the per-minute threshold were served and no 429 response was ever returned",
            "Add a rate limit at the gateway (per client or per credential, e.g. Kong rate-limiting, Envoy local_ratelimit, nginx limit_req, APIM rate-limit-by-key) sized from the observed peak, and return 429 with Retry-After.",
            "https://owasp.org/API-Security/editions/2023/en/0xa4-unrestricted-resource-consumption/"
        ),
        check: missing_rate_limit,
    },
    Rule {
        meta: meta!(
            "GW-P-PLAINTEXT",
            "PlaintextCalls",
            High,
            High,
            [Api8],
            "Calls reached the endpoint over plain HTTP",
            "Serve the API over HTTPS only: close or redirect the port-80 listener (answer 301/308 or 426), enable HSTS, and make clients use https:// URLs.",
            DEFENDER_RECOMMENDATIONS
        ),
        check: plaintext,
    },
    Rule {
        meta: meta!(
            "GW-P-SENSITIVE-IN-URL",
            "SensitiveDataInUrl",
            Medium,
            High,
            [Api8, Api3],
            "Sensitive values were sent in the URL path or query string",
            "Move the values into the request body or a header (POST/search endpoints, opaque ids instead of e-mail addresses or card numbers in paths); URLs end up in access logs, proxies, browser history and Referer headers.",
            "https://owasp.org/www-community/vulnerabilities/Information_exposure_through_query_strings_in_url"
        ),
        check: sensitive_in_url,
    },
    Rule {
        meta: meta!(
            "GW-P-SHADOW",
            "ShadowEndpoint",
            Medium,
            High,
            [Api9],
            "Called but declared by no imported spec",
            "Either document the endpoint in the API's OpenAPI document (with its security requirements) and review it, or block it at the gateway if it should not exist.",
            "https://owasp.org/API-Security/editions/2023/en/0xa9-improper-inventory-management/"
        ),
        check: shadow,
    },
    Rule {
        meta: meta!(
            "GW-P-UNAUTHENTICATED",
            "UnauthenticatedEndpoint",
            High,
            High,
            [Api2],
            "Successful calls carried no credentials",
            "Require authentication at the gateway for this operation (validate-jwt / JWT or OIDC plugin, client certificates, or a key in a header), and reject anonymous calls with 401; list deliberately public operations explicitly.",
            DEFENDER_RECOMMENDATIONS
        ),
        check: unauthenticated,
    },
    Rule {
        meta: meta!(
            "GW-P-VERBOSE-ERRORS",
            "VerboseErrors",
            Medium,
            High,
            [Api8],
            "5xx responses exposed server internals (stack traces, SQL errors, framework debug pages)",
            "Return a generic error body (problem+json with a correlation id) from a global error handler, turn off debug modes (DEBUG, developer exception pages, Whitelabel/Whoops), and log the details server-side only.",
            "https://owasp.org/API-Security/editions/2023/en/0xa8-security-misconfiguration/"
        ),
        check: verbose_errors,
    },
    Rule {
        meta: meta!(
            "GW-P-WEAK-AUTH",
            "WeakAuthentication",
            Medium,
            High,
            [Api2],
            "Weak credentials were used: HTTP Basic from the internet, unsigned JWTs (alg: none) or JWTs without expiry",
            "Replace Basic authentication from the internet with short-lived signed tokens (OAuth 2 / OIDC); at the gateway, accept only an allow-list of signing algorithms (never none) and require the exp claim with a short lifetime.",
            "https://datatracker.ietf.org/doc/html/rfc8725"
        ),
        check: weak_auth,
    },
    Rule {
        meta: meta!(
            "GW-P-ZOMBIE",
            "ZombieEndpoint",
            Medium,
            High,
            [Api9],
            "Deprecated in the spec but still called",
            "Find the remaining callers (credentials and clients in the evidence), migrate them to the replacement operation, announce a sunset date (Sunset/Deprecation headers), then disable the operation at the gateway.",
            "https://owasp.org/API-Security/editions/2023/en/0xa9-improper-inventory-management/"
        ),
        check: zombie,
    },
];

/// Assesses every endpoint with every inventory rule. Findings are ordered by endpoint id, then
/// rule id; each carries the endpoint, its event-time range and, in `evidence.metrics.extra`,
/// the rule's counts plus `risk_score` (see [`score_endpoint`]). Works on an empty inventory
/// (no findings).
pub fn assess_inventory(endpoints: &[EndpointState], ctx: &InventoryContext) -> Vec<Finding> {
    let observed_since = endpoints.iter().filter_map(|e| e.first_seen).min();
    let mut out = Vec::new();
    for e in endpoints {
        let view = EndpointView {
            endpoint: e,
            ctx,
            observed_since,
        };
        let hits = INVENTORY_RULES.iter().map(|rule| {
            let mut hits = Vec::new();
            (rule.check)(&view, &mut hits);
            (&rule.meta, hits)
        });
        let findings = collect_findings(hits, INVENTORY_FILE, &|_| None);
        if findings.is_empty() {
            continue;
        }
        let alerts = ctx.open_alerts.get(&e.id).copied().unwrap_or(0);
        let risk = score_endpoint(e, alerts);
        for mut f in findings {
            attach_endpoint(&mut f, &view, risk.score);
            out.push(f);
        }
    }
    out
}

/// Sets what [`collect_findings`] cannot know: the endpoint, event times, the sample line and
/// the analytic (traffic observations, not configuration).
fn attach_endpoint(f: &mut Finding, view: &EndpointView<'_>, risk_score: u8) {
    let e = view.endpoint;
    f.rule.analytic = Analytic::Behavioral;
    f.endpoint = Some(FindingEndpoint {
        id: e.id.clone(),
        host: e.host.clone(),
        method: e.method.as_str().to_owned(),
        template: e.template.clone(),
    });
    f.first_seen = e.first_seen.unwrap_or(view.ctx.now);
    f.last_seen = e.last_seen.unwrap_or(view.ctx.now);
    let location = format!("{INVENTORY_FILE}#{}", view.pointer());
    f.evidence.samples = vec![EvidenceSample {
        exchange_id: None,
        observed_at: e.last_seen,
        location: Some(location),
        text: format!("{}: {}", view.label(), f.title),
    }];
    f.evidence
        .metrics
        .extra
        .insert("risk_score".into(), f64::from(risk_score));
}

fn days(d: SignedDuration) -> f64 {
    (d.as_secs_f64() / 86_400.0 * 10.0).round() / 10.0
}

fn unauthenticated(v: &EndpointView<'_>, hits: &mut Vec<Hit>) {
    let e = v.endpoint;
    if e.unauthenticated_success == 0 {
        return;
    }
    let with_credentials: Vec<&str> = e
        .auth
        .keys()
        .map(String::as_str)
        .filter(|a| !matches!(*a, "none" | "unknown"))
        .collect();
    let mut detail = format!(
        "{} of {} calls succeeded (2xx/3xx) without credentials",
        e.unauthenticated_success, e.calls
    );
    if e.is_external() {
        detail.push_str(&format!(
            "; {} calls came from public addresses",
            e.exposure.public_calls
        ));
    }
    let mut hit = Hit::new(
        v.pointer(),
        format!("{} answers unauthenticated calls", v.label()),
        String::new(),
    )
    .with_observed(e.unauthenticated_success as f64, None)
    .with_metric("calls", e.calls as f64)
    .with_metric("public_calls", e.exposure.public_calls as f64);
    if e.spec.as_ref().is_some_and(|d| d.requires_auth) {
        detail.push_str(
            "; the spec requires authentication for this operation, so the gateway does not enforce it",
        );
        hit = hit.with_severity(Severity::Critical);
    } else if declared_public(e) {
        // Login, token refresh, public catalogues: open by design. The spec audit reports a
        // missing security requirement separately; here it is only worth a look.
        detail.push_str(
            "; the spec declares no security requirement for this operation (public by design?), so this is informational",
        );
        hit = hit.with_severity(Severity::Low);
    }
    if with_credentials.is_empty() {
        detail.push_str(
            "; no caller ever sent credentials (deliberately public? then list it as such)",
        );
        hit = hit.with_confidence(Confidence::Medium);
    } else {
        detail.push_str(&format!(
            "; other callers authenticate with {}, so the endpoint is meant to be protected",
            with_credentials.join(", ")
        ));
    }
    hit.detail = format!("{detail}.");
    hits.push(hit);
}

fn dormant(v: &EndpointView<'_>, hits: &mut Vec<Hit>) {
    if !v.is_dormant() {
        return;
    }
    let e = v.endpoint;
    let threshold = days(v.ctx.dormant_after);
    let hit = match e.last_seen {
        Some(last) => {
            let quiet = days(v.ctx.now.duration_since(last));
            Hit::new(
                v.pointer(),
                format!("{} has had no traffic for {quiet} days", v.label()),
                format!(
                    "Last call at {last} ({} calls in total); no call in the {quiet} days up to {} (threshold {threshold} days).",
                    e.calls, v.ctx.now
                ),
            )
            .with_observed(quiet, Some(threshold))
            .with_metric("calls", e.calls as f64)
        }
        None => {
            let watched = v
                .observed_since
                .map_or(0.0, |s| days(v.ctx.now.duration_since(s)));
            Hit::new(
                v.pointer(),
                format!("{} is declared but was never called", v.label()),
                format!(
                    "No call in {watched} days of observed traffic (threshold {threshold} days); the operation is declared{}.",
                    e.spec
                        .as_ref()
                        .map(|d| format!(" in {} at {}", d.source_file, d.pointer))
                        .unwrap_or_default()
                ),
            )
            .with_observed(watched, Some(threshold))
            .with_metric("calls", 0.0)
        }
    };
    hits.push(hit);
}

fn zombie(v: &EndpointView<'_>, hits: &mut Vec<Hit>) {
    let e = v.endpoint;
    let Some(decl) = e.spec.as_ref().filter(|d| d.deprecated) else {
        return;
    };
    if e.calls == 0 || v.is_dormant() {
        return;
    }
    let mut hit = Hit::new(
        v.pointer(),
        format!("Deprecated {} is still called", v.label()),
        format!(
            "{} marks the operation deprecated ({}), yet it received {} calls, the last at {}.",
            decl.source_file,
            decl.pointer,
            e.calls,
            e.last_seen.map(|t| t.to_string()).unwrap_or_default()
        ),
    )
    .with_observed(e.calls as f64, None)
    .with_metric("public_calls", e.exposure.public_calls as f64);
    if e.is_external() {
        hit = hit.with_severity(Severity::High);
        hit.detail
            .push_str(" Callers include internet clients, so it is still exposed.");
    }
    hits.push(hit);
}

fn shadow(v: &EndpointView<'_>, hits: &mut Vec<Hit>) {
    let e = v.endpoint;
    if !v.ctx.specs_imported || e.spec.is_some() || e.calls == 0 || v.is_dormant() {
        return;
    }
    let mut hit = Hit::new(
        v.pointer(),
        format!("{} is called but declared by no spec", v.label()),
        format!(
            "{} calls since {} to an operation that no imported OpenAPI document declares.",
            e.calls,
            e.first_seen.map(|t| t.to_string()).unwrap_or_default()
        ),
    )
    .with_observed(e.calls as f64, None)
    .with_metric("public_calls", e.exposure.public_calls as f64);
    if e.is_external() {
        hit = hit.with_severity(Severity::High);
        hit.detail.push_str(&format!(
            " {} of them came from public addresses.",
            e.exposure.public_calls
        ));
    }
    hits.push(hit);
}

fn kinds_with_places(pairs: &[(&str, Vec<&str>)]) -> String {
    pairs
        .iter()
        .map(|(k, places)| format!("{k} ({})", places.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

fn external_sensitive(v: &EndpointView<'_>, hits: &mut Vec<Hit>) {
    let e = v.endpoint;
    if !e.is_external() || e.sensitive.is_empty() {
        return;
    }
    let tier = v.top_sensitivity();
    let severity = match tier {
        3 => Severity::High,
        2 => Severity::Medium,
        _ => Severity::Low,
    };
    let pairs: Vec<(&str, Vec<&str>)> = e
        .sensitive
        .iter()
        .map(|(k, p)| (k.as_str(), p.iter().map(String::as_str).collect()))
        .collect();
    hits.push(
        Hit::new(
            v.pointer(),
            format!("Internet-exposed {} carries sensitive data", v.label()),
            format!(
                "{} calls from public addresses (first at {}); sensitive kinds seen: {}.",
                e.exposure.public_calls,
                e.exposure
                    .first_public_seen
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
                kinds_with_places(&pairs)
            ),
        )
        .with_severity(severity)
        .with_observed(e.exposure.public_calls as f64, None)
        .with_metric("sensitive_kinds", e.sensitive.len() as f64)
        .with_metric("sensitivity_tier", f64::from(tier)),
    );
}

fn sensitive_in_url(v: &EndpointView<'_>, hits: &mut Vec<Hit>) {
    let pairs = v.sensitive_in_url();
    if pairs.is_empty() {
        return;
    }
    let tier = pairs
        .iter()
        .map(|(k, _)| sensitivity_tier(k))
        .max()
        .unwrap_or(0);
    let mut hit = Hit::new(
        v.pointer(),
        format!("{} carries sensitive values in its URL", v.label()),
        format!(
            "Sensitive kinds seen in the path or query string: {}.",
            kinds_with_places(&pairs)
        ),
    )
    .with_observed(pairs.len() as f64, None)
    .with_metric("sensitivity_tier", f64::from(tier));
    if tier >= 3 {
        hit = hit.with_severity(Severity::High);
    }
    hits.push(hit);
}

fn plaintext(v: &EndpointView<'_>, hits: &mut Vec<Hit>) {
    let e = v.endpoint;
    if e.plaintext_calls == 0 {
        return;
    }
    let credentials: Vec<&str> = e
        .auth
        .keys()
        .map(String::as_str)
        .filter(|a| !matches!(*a, "none" | "unknown"))
        .collect();
    let mut detail = format!("{} of {} calls used plain HTTP", e.plaintext_calls, e.calls);
    if !credentials.is_empty() {
        detail.push_str(&format!(
            "; the endpoint receives credentials ({}) that may travel unencrypted",
            credentials.join(", ")
        ));
    }
    if !e.sensitive.is_empty() {
        detail.push_str("; it carries sensitive data");
    }
    hits.push(
        Hit::new(
            v.pointer(),
            format!("{} is called over plain HTTP", v.label()),
            format!("{detail}."),
        )
        .with_observed(e.plaintext_calls as f64, None)
        .with_metric("calls", e.calls as f64),
    );
}

fn weak_auth(v: &EndpointView<'_>, hits: &mut Vec<Hit>) {
    let w = v.endpoint.weak_auth;
    if !w.any() {
        return;
    }
    let mut reasons = Vec::new();
    if w.jwt_alg_none > 0 {
        reasons.push(format!(
            "{} calls with unsigned JWTs (alg: none)",
            w.jwt_alg_none
        ));
    }
    if w.basic_public > 0 {
        reasons.push(format!(
            "{} calls with HTTP Basic credentials from public addresses",
            w.basic_public
        ));
    }
    if w.jwt_no_exp > 0 {
        reasons.push(format!(
            "{} calls with JWTs that have no exp claim",
            w.jwt_no_exp
        ));
    }
    let mut hit = Hit::new(
        v.pointer(),
        format!("{} accepts weak credentials", v.label()),
        format!("{}.", reasons.join("; ")),
    )
    .with_observed(
        (w.basic_public + w.jwt_alg_none + w.jwt_no_exp) as f64,
        None,
    )
    .with_metric("basic_public", w.basic_public as f64)
    .with_metric("jwt_alg_none", w.jwt_alg_none as f64)
    .with_metric("jwt_no_exp", w.jwt_no_exp as f64);
    if w.jwt_alg_none > 0 {
        hit = hit.with_severity(Severity::High);
    }
    hits.push(hit);
}

fn verbose_errors(v: &EndpointView<'_>, hits: &mut Vec<Hit>) {
    let e = v.endpoint;
    if e.verbose_errors.is_empty() {
        return;
    }
    let total: u64 = e.verbose_errors.values().sum();
    let patterns: Vec<String> = e
        .verbose_errors
        .iter()
        .map(|(p, n)| format!("{p} ×{n}"))
        .collect();
    let mut hit = Hit::new(
        v.pointer(),
        format!("{} leaks server internals in errors", v.label()),
        format!(
            "Server internals in 5xx response bodies ({} 5xx responses in all): {}.",
            e.status_classes.server_error,
            patterns.join(", ")
        ),
    )
    .with_observed(total as f64, None);
    for (p, n) in &e.verbose_errors {
        hit = hit.with_metric(p, *n as f64);
    }
    if e.verbose_errors.contains_key("sql_error") {
        hit = hit.with_severity(Severity::High);
        hit.detail
            .push_str(" SQL error texts reveal queries and often an injectable parameter.");
    }
    hits.push(hit);
}

fn missing_rate_limit(v: &EndpointView<'_>, hits: &mut Vec<Hit>) {
    let r = v.endpoint.rate;
    if r.throttled > 0 || r.peak_per_minute <= v.ctx.burst_per_minute {
        return;
    }
    hits.push(
        Hit::new(
            v.pointer(),
            format!("{} served bursts without rate limiting", v.label()),
            format!(
                "{} calls in the minute starting {} (threshold {} per minute) and no 429 response in {} calls.",
                r.peak_per_minute,
                r.peak_minute.map(|t| t.to_string()).unwrap_or_default(),
                v.ctx.burst_per_minute,
                v.endpoint.calls
            ),
        )
        .with_observed(r.peak_per_minute as f64, Some(v.ctx.burst_per_minute as f64))
        .with_metric("responses_429", 0.0),
    );
}

/// Declared by an imported spec without any security requirement: public by design.
fn declared_public(e: &EndpointState) -> bool {
    e.spec.as_ref().is_some_and(|d| !d.requires_auth)
}

fn attack_path(v: &EndpointView<'_>, hits: &mut Vec<Hit>) {
    let e = v.endpoint;
    let external = e.is_external();
    // An operation its spec declares public is not an authentication gap on the path.
    let unauthenticated = e.unauthenticated_success > 0 && !declared_public(e);
    let sensitive = !e.sensitive.is_empty();
    let tier = v.top_sensitivity();
    let mut paths: Vec<(&str, Severity)> = Vec::new();
    if external && unauthenticated && sensitive {
        paths.push((
            "internet-exposed, unauthenticated, carries sensitive data",
            Severity::Critical,
        ));
    }
    if e.plaintext_calls > 0 && unauthenticated {
        paths.push((
            "unencrypted protocol with unauthenticated calls",
            Severity::High,
        ));
    }
    if external && e.weak_auth.any() && tier >= 2 {
        paths.push((
            "internet-exposed, weak credentials, carries personal or secret data",
            Severity::High,
        ));
    }
    let Some(worst) = paths.iter().map(|p| p.1).max() else {
        return;
    };
    let mut factors = Vec::new();
    if external {
        factors.push(format!(
            "internet-exposed: {} calls from public addresses",
            e.exposure.public_calls
        ));
    }
    if unauthenticated {
        factors.push(format!(
            "unauthenticated: {} successful calls without credentials",
            e.unauthenticated_success
        ));
    }
    if e.plaintext_calls > 0 {
        factors.push(format!("plain HTTP: {} calls", e.plaintext_calls));
    }
    if e.weak_auth.any() {
        factors.push("weak credentials (see GW-P-WEAK-AUTH)".to_owned());
    }
    if sensitive {
        let kinds: Vec<&str> = e.sensitive.keys().map(String::as_str).collect();
        factors.push(format!("sensitive data: {}", kinds.join(", ")));
    }
    if let Some(n) = v.ctx.open_alerts.get(&e.id).filter(|n| **n > 0) {
        factors.push(format!("open alerts: {n}"));
    }
    let names: Vec<&str> = paths.iter().map(|p| p.0).collect();
    hits.push(
        Hit::new(
            v.pointer(),
            format!("Attack path on {}: {}", v.label(), paths[0].0),
            format!(
                "Attack paths: {}. Factors: {}.",
                names.join(" | "),
                factors.join("; ")
            ),
        )
        .with_severity(worst)
        .with_observed(paths.len() as f64, None)
        .with_metric("internet_exposed", f64::from(u8::from(external)))
        .with_metric("unauthenticated", f64::from(u8::from(unauthenticated)))
        .with_metric("sensitivity_tier", f64::from(tier))
        .with_metric("plaintext_calls", e.plaintext_calls as f64),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use gw_discover::{Method, SpecDeclaration};
    use gw_model::{EndpointMatch, FindingKind};

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    const NOW: &str = "2024-06-30T00:00:00Z";

    fn ctx() -> InventoryContext {
        InventoryContext::at(t(NOW))
    }

    /// A busy, internal, JWT-authenticated endpoint called an hour ago: no rule fires.
    fn clean() -> EndpointState {
        let mut e = EndpointState::new(
            "api.example.com",
            Method::Get,
            "/users/{userId}",
            EndpointMatch::Learned,
        );
        e.first_seen = Some(t("2024-06-01T00:00:00Z"));
        e.last_seen = Some(t("2024-06-29T23:00:00Z"));
        e.calls = 1000;
        e.status_classes.success = 990;
        e.status_classes.server_error = 10;
        e.auth.insert("bearer_jwt".into(), 1000);
        e.rate.peak_per_minute = 40;
        e
    }

    fn declared(mut e: EndpointState, deprecated: bool, requires_auth: bool) -> EndpointState {
        e.matched_by = EndpointMatch::Spec;
        e.spec = Some(SpecDeclaration {
            api: "Users".into(),
            host: None,
            method: e.method,
            template: e.template.clone(),
            operation_id: Some("getUser".into()),
            deprecated,
            requires_auth,
            pointer: "/paths/~1users~1{userId}/get".into(),
            source_file: "users.yaml".into(),
        });
        e
    }

    fn external(mut e: EndpointState, public_calls: u64) -> EndpointState {
        e.exposure.public_calls = public_calls;
        e.exposure.first_public_seen = e.first_seen;
        e
    }

    fn sensitive(mut e: EndpointState, kind: &str, place: &str) -> EndpointState {
        e.sensitive
            .entry(kind.into())
            .or_default()
            .insert(place.into());
        e
    }

    fn unauthenticated_calls(mut e: EndpointState, n: u64) -> EndpointState {
        e.auth.insert("none".into(), n);
        e.unauthenticated_success = n;
        e
    }

    fn assess(endpoints: &[EndpointState], ctx: &InventoryContext) -> Vec<Finding> {
        assess_inventory(endpoints, ctx)
    }

    /// (rule id, severity) of every finding on `e` assessed alone.
    fn fired(e: EndpointState, ctx: &InventoryContext) -> Vec<(String, Severity)> {
        assess(&[e], ctx)
            .into_iter()
            .map(|f| (f.rule.id, f.severity))
            .collect()
    }

    fn one(e: EndpointState, ctx: &InventoryContext, rule: &str) -> Option<Finding> {
        assess(&[e], ctx).into_iter().find(|f| f.rule.id == rule)
    }

    #[test]
    fn an_empty_inventory_has_no_findings() {
        assert!(assess(&[], &ctx()).is_empty());
        assert!(assess(&[], &InventoryContext::default()).is_empty());
    }

    #[test]
    fn a_clean_endpoint_fires_nothing_even_with_specs_imported() {
        let mut c = ctx();
        c.specs_imported = true;
        assert_eq!(fired(declared(clean(), false, true), &c), vec![]);
        // undeclared endpoints need imported specs to be shadow
        assert_eq!(fired(clean(), &ctx()), vec![]);
    }

    #[test]
    fn unauthenticated_successes_fire_and_a_spec_requiring_auth_makes_it_critical() {
        let f = one(
            unauthenticated_calls(clean(), 37),
            &ctx(),
            "GW-P-UNAUTHENTICATED",
        )
        .unwrap();
        assert_eq!(f.severity, Severity::High);
        assert_eq!(
            f.confidence,
            Confidence::High,
            "mixed auth: meant to be protected"
        );
        assert_eq!(f.evidence.metrics.observed, Some(37.0));
        assert!(f.description.contains("bearer_jwt"), "{}", f.description);
        assert_eq!(f.owasp, vec![Owasp::Api2]);

        let spec = declared(unauthenticated_calls(clean(), 1), false, true);
        let f = one(spec, &ctx(), "GW-P-UNAUTHENTICATED").unwrap();
        assert_eq!(f.severity, Severity::Critical);

        // Declared without any security requirement (a login, a public catalogue): open by
        // design, so only worth a look.
        let public = declared(unauthenticated_calls(clean(), 1), false, false);
        let f = one(public, &ctx(), "GW-P-UNAUTHENTICATED").unwrap();
        assert_eq!(f.severity, Severity::Low);
        assert!(
            f.description.contains("public by design"),
            "{}",
            f.description
        );

        let mut only_anonymous = unauthenticated_calls(clean(), 5);
        only_anonymous.auth.remove("bearer_jwt");
        let f = one(only_anonymous, &ctx(), "GW-P-UNAUTHENTICATED").unwrap();
        assert_eq!(f.confidence, Confidence::Medium);

        // anonymous calls that were all refused: authentication is enforced
        let mut refused = clean();
        refused.auth.insert("none".into(), 20);
        refused.status_classes.client_error = 20;
        assert!(one(refused, &ctx(), "GW-P-UNAUTHENTICATED").is_none());
    }

    #[test]
    fn dormant_after_30_days_of_event_time_and_never_called_after_30_days_watched() {
        let mut quiet = clean();
        quiet.last_seen = Some(t("2024-05-30T00:00:00Z"));
        let f = one(quiet.clone(), &ctx(), "GW-P-DORMANT").unwrap();
        assert_eq!(f.severity, Severity::Low);
        assert_eq!(f.evidence.metrics.observed, Some(31.0));
        assert_eq!(f.evidence.metrics.threshold, Some(30.0));
        assert_eq!(
            f.last_seen,
            t("2024-05-30T00:00:00Z"),
            "event time, not now"
        );

        quiet.last_seen = Some(t("2024-06-01T00:00:00Z"));
        assert!(one(quiet, &ctx(), "GW-P-DORMANT").is_none(), "29 days");

        let never = declared(
            EndpointState::new("*", Method::Delete, "/users/{userId}", EndpointMatch::Spec),
            false,
            true,
        );
        let mut old_traffic = clean();
        old_traffic.first_seen = Some(t("2024-05-01T00:00:00Z"));
        let findings = assess(&[never.clone(), old_traffic], &ctx());
        let d = findings
            .iter()
            .find(|f| f.rule.id == "GW-P-DORMANT")
            .expect("declared, never called, 60 days watched");
        assert!(d.title.contains("never called"), "{}", d.title);
        assert!(d.description.contains("users.yaml"), "{}", d.description);
        assert_eq!(d.first_seen, t(NOW));

        // only five days of traffic watched: too early to call it unused
        let mut recent = clean();
        recent.first_seen = Some(t("2024-06-25T00:00:00Z"));
        let findings = assess(&[never.clone(), recent], &ctx());
        assert!(findings.iter().all(|f| f.rule.id != "GW-P-DORMANT"));
        assert!(assess(&[never], &ctx()).is_empty(), "no traffic at all");

        let mut custom = ctx();
        custom.dormant_after = SignedDuration::from_hours(24);
        let mut day_old = clean();
        day_old.last_seen = Some(t("2024-06-28T00:00:00Z"));
        assert!(one(day_old, &custom, "GW-P-DORMANT").is_some());
    }

    #[test]
    fn zombie_is_deprecated_and_still_called() {
        let z = declared(clean(), true, true);
        let f = one(z.clone(), &ctx(), "GW-P-ZOMBIE").unwrap();
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.description.contains("users.yaml"), "{}", f.description);
        let f = one(external(z.clone(), 3), &ctx(), "GW-P-ZOMBIE").unwrap();
        assert_eq!(f.severity, Severity::High);

        assert!(one(declared(clean(), false, true), &ctx(), "GW-P-ZOMBIE").is_none());
        let mut gone_quiet = z;
        gone_quiet.last_seen = Some(t("2024-04-01T00:00:00Z"));
        assert_eq!(
            fired(gone_quiet, &ctx()),
            vec![("GW-P-DORMANT".to_owned(), Severity::Low)],
            "a deprecated endpoint nobody calls is dormant, not zombie"
        );
    }

    #[test]
    fn shadow_needs_imported_specs_and_no_declaration() {
        let mut c = ctx();
        c.specs_imported = true;
        let f = one(clean(), &c, "GW-P-SHADOW").unwrap();
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.evidence.metrics.observed, Some(1000.0));
        let f = one(external(clean(), 10), &c, "GW-P-SHADOW").unwrap();
        assert_eq!(f.severity, Severity::High);
        assert!(one(clean(), &ctx(), "GW-P-SHADOW").is_none());
        assert!(one(declared(clean(), false, true), &c, "GW-P-SHADOW").is_none());
    }

    #[test]
    fn external_sensitive_grades_by_the_most_sensitive_kind() {
        let card = sensitive(external(clean(), 5), "credit_card", "response_body:$.card");
        let f = one(card, &ctx(), "GW-P-EXTERNAL-SENSITIVE").unwrap();
        assert_eq!(f.severity, Severity::High);
        assert!(f.description.contains("credit_card (response_body:$.card)"));
        let email = sensitive(external(clean(), 5), "email", "response_body:$.email");
        assert_eq!(
            one(email, &ctx(), "GW-P-EXTERNAL-SENSITIVE")
                .unwrap()
                .severity,
            Severity::Medium
        );
        let ip = sensitive(external(clean(), 5), "ip_address", "response_body:$.ip");
        assert_eq!(
            one(ip, &ctx(), "GW-P-EXTERNAL-SENSITIVE").unwrap().severity,
            Severity::Low
        );
        let internal = sensitive(clean(), "credit_card", "response_body:$.card");
        assert!(one(internal, &ctx(), "GW-P-EXTERNAL-SENSITIVE").is_none());
        assert!(one(external(clean(), 5), &ctx(), "GW-P-EXTERNAL-SENSITIVE").is_none());
    }

    #[test]
    fn sensitive_in_url_reads_path_and_query_places_only() {
        let q = sensitive(clean(), "email", "query:email");
        let f = one(q, &ctx(), "GW-P-SENSITIVE-IN-URL").unwrap();
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.description.contains("email (query:email)"));
        let p = sensitive(clean(), "ssn", "path:ssn");
        assert_eq!(
            one(p, &ctx(), "GW-P-SENSITIVE-IN-URL").unwrap().severity,
            Severity::High
        );
        let legacy = sensitive(clean(), "email", "request.query");
        assert!(one(legacy, &ctx(), "GW-P-SENSITIVE-IN-URL").is_some());
        for place in [
            "response_body:$.email",
            "request_body:$.query",
            "header:x-path",
        ] {
            let b = sensitive(clean(), "email", place);
            assert!(one(b, &ctx(), "GW-P-SENSITIVE-IN-URL").is_none(), "{place}");
        }
    }

    #[test]
    fn plaintext_fires_on_any_plain_http_call() {
        let mut e = clean();
        e.plaintext_calls = 12;
        let f = one(e, &ctx(), "GW-P-PLAINTEXT").unwrap();
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.evidence.metrics.observed, Some(12.0));
        assert!(
            f.description.contains("credentials (bearer_jwt)"),
            "{}",
            f.description
        );
        assert!(one(clean(), &ctx(), "GW-P-PLAINTEXT").is_none());
    }

    #[test]
    fn weak_auth_grades_unsigned_tokens_above_basic_and_no_exp() {
        let mut basic = clean();
        basic.weak_auth.basic_public = 4;
        let f = one(basic, &ctx(), "GW-P-WEAK-AUTH").unwrap();
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.evidence.metrics.extra["basic_public"], 4.0);
        let mut no_exp = clean();
        no_exp.weak_auth.jwt_no_exp = 2;
        assert_eq!(
            one(no_exp, &ctx(), "GW-P-WEAK-AUTH").unwrap().severity,
            Severity::Medium
        );
        let mut none = clean();
        none.weak_auth.jwt_alg_none = 1;
        none.weak_auth.jwt_no_exp = 1;
        let f = one(none, &ctx(), "GW-P-WEAK-AUTH").unwrap();
        assert_eq!(f.severity, Severity::High);
        assert!(f.description.starts_with("1 calls with unsigned JWTs"));
        assert!(one(clean(), &ctx(), "GW-P-WEAK-AUTH").is_none());
    }

    #[test]
    fn verbose_errors_count_patterns_and_sql_errors_are_high() {
        let mut e = clean();
        e.verbose_errors.insert("java_stack_trace".into(), 3);
        let f = one(e.clone(), &ctx(), "GW-P-VERBOSE-ERRORS").unwrap();
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.evidence.metrics.extra["java_stack_trace"], 3.0);
        assert!(f.description.contains("java_stack_trace ×3"));
        e.verbose_errors.insert("sql_error".into(), 1);
        let f = one(e, &ctx(), "GW-P-VERBOSE-ERRORS").unwrap();
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.evidence.metrics.observed, Some(4.0));
        assert!(one(clean(), &ctx(), "GW-P-VERBOSE-ERRORS").is_none());
    }

    #[test]
    fn missing_rate_limit_needs_a_burst_and_no_429() {
        let mut e = clean();
        e.rate.peak_per_minute = 700;
        e.rate.peak_minute = Some(t("2024-06-12T10:31:00Z"));
        let f = one(e.clone(), &ctx(), "GW-P-MISSING-RATE-LIMIT").unwrap();
        assert_eq!(f.evidence.metrics.observed, Some(700.0));
        assert_eq!(f.evidence.metrics.threshold, Some(600.0));
        assert!(f.description.contains("2024-06-12T10:31:00Z"));
        assert_eq!(f.owasp, vec![Owasp::Api4]);
        let mut throttled = e.clone();
        throttled.rate.throttled = 1;
        assert!(one(throttled, &ctx(), "GW-P-MISSING-RATE-LIMIT").is_none());
        e.rate.peak_per_minute = 600;
        assert!(
            one(e.clone(), &ctx(), "GW-P-MISSING-RATE-LIMIT").is_none(),
            "at the threshold"
        );
        let mut strict = ctx();
        strict.burst_per_minute = 100;
        assert!(one(e, &strict, "GW-P-MISSING-RATE-LIMIT").is_some());
    }

    #[test]
    fn attack_path_internet_unauthenticated_sensitive_is_critical_with_factors() {
        let e = sensitive(
            unauthenticated_calls(external(clean(), 412), 37),
            "credit_card",
            "response_body:$.card",
        );
        let mut c = ctx();
        c.open_alerts.insert(e.id.clone(), 2);
        let f = one(e.clone(), &c, "GW-P-ATTACK-PATH").unwrap();
        assert_eq!(f.severity, Severity::Critical);
        assert!(
            f.title
                .ends_with("internet-exposed, unauthenticated, carries sensitive data"),
            "{}",
            f.title
        );
        for factor in [
            "internet-exposed: 412 calls from public addresses",
            "unauthenticated: 37 successful calls without credentials",
            "sensitive data: credit_card",
            "open alerts: 2",
        ] {
            assert!(
                f.description.contains(factor),
                "{factor}: {}",
                f.description
            );
        }
        assert_eq!(f.evidence.metrics.extra["internet_exposed"], 1.0);
        // 25 exposure + 30 no auth + 25 card + 2 medium alerts (6)
        assert_eq!(f.evidence.metrics.extra["risk_score"], 86.0);

        // The same endpoint declared public by its spec is no authentication gap on the path.
        let public = declared(e.clone(), false, false);
        assert!(one(public, &c, "GW-P-ATTACK-PATH").is_none());

        let mut plain = unauthenticated_calls(clean(), 3);
        plain.plaintext_calls = 3;
        let f = one(plain, &ctx(), "GW-P-ATTACK-PATH").unwrap();
        assert_eq!(f.severity, Severity::High);
        assert!(f.title.contains("unencrypted protocol"), "{}", f.title);

        let mut weak = sensitive(external(clean(), 9), "email", "response_body:$.email");
        weak.weak_auth.basic_public = 9;
        assert_eq!(
            one(weak, &ctx(), "GW-P-ATTACK-PATH").unwrap().severity,
            Severity::High
        );

        // two factors out of three are not a path
        let no_data = unauthenticated_calls(external(clean(), 5), 5);
        assert!(one(no_data, &ctx(), "GW-P-ATTACK-PATH").is_none());
        let internal = sensitive(
            unauthenticated_calls(clean(), 5),
            "ssn",
            "response_body:$.ssn",
        );
        assert!(one(internal, &ctx(), "GW-P-ATTACK-PATH").is_none());
    }

    #[test]
    fn findings_carry_endpoint_event_times_and_stable_fingerprints() {
        let e = sensitive(
            unauthenticated_calls(external(clean(), 412), 37),
            "email",
            "query:email",
        );
        let a = assess(std::slice::from_ref(&e), &ctx());
        assert!(a.len() >= 4, "{a:?}");
        for f in &a {
            assert_eq!(f.kind, FindingKind::Posture);
            assert_eq!(f.rule.analytic, Analytic::Behavioral);
            assert_eq!(
                f.fingerprint,
                crate::fingerprint(&f.rule.id, INVENTORY_FILE, &format!("/endpoints/{}", e.id))
            );
            let ep = f.endpoint.as_ref().unwrap();
            assert_eq!(
                (ep.id.as_str(), ep.template.as_str()),
                (e.id.as_str(), "/users/{userId}")
            );
            assert_eq!(f.first_seen, e.first_seen.unwrap());
            assert_eq!(f.last_seen, e.last_seen.unwrap());
            assert!(f.remediation.as_deref().is_some_and(|r| r.len() > 40));
            assert!(!f.owasp.is_empty());
            let sample = &f.evidence.samples[0];
            assert_eq!(
                sample.location.as_deref(),
                Some(format!("inventory#/endpoints/{}", e.id).as_str())
            );
            assert!(
                sample
                    .text
                    .starts_with("GET api.example.com/users/{userId}: ")
            );
            assert!(f.evidence.metrics.extra.contains_key("risk_score"));
        }
        // more traffic later: same findings (by fingerprint), updated numbers
        let mut later = e.clone();
        later.calls += 500;
        later.unauthenticated_success += 10;
        later.last_seen = Some(t("2024-06-29T23:59:00Z"));
        let b = assess(&[later], &ctx());
        let fps = |v: &[Finding]| v.iter().map(|f| f.fingerprint.clone()).collect::<Vec<_>>();
        assert_eq!(fps(&a), fps(&b));
        let unauth = b
            .iter()
            .find(|f| f.rule.id == "GW-P-UNAUTHENTICATED")
            .unwrap();
        assert_eq!(unauth.evidence.metrics.observed, Some(47.0));
        // another endpoint gets other fingerprints
        let mut other = e;
        other.id = "ep_other".into();
        assert!(
            fps(&assess(&[other], &ctx()))
                .iter()
                .all(|f| !fps(&a).contains(f))
        );
    }

    #[test]
    fn every_rule_has_an_id_remediation_and_owasp_mapping() {
        let mut ids: Vec<&str> = INVENTORY_RULES.iter().map(|r| r.meta.id).collect();
        let sorted = {
            let mut s = ids.clone();
            s.sort_unstable();
            s
        };
        assert_eq!(ids, sorted, "registry in id order");
        ids.dedup();
        assert_eq!(ids.len(), 11);
        for r in INVENTORY_RULES {
            assert!(r.meta.id.starts_with("GW-P-"));
            assert!(!r.meta.owasp.is_empty() && !r.meta.remediation.is_empty());
        }
    }
}
