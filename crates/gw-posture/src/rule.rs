//! The uniform rule shape shared by every posture check, and the one place a rule hit becomes a
//! [`Finding`].
//!
//! A rule is a static value: its metadata plus a plain function over a context type (`SpecContext`
//! for the spec audit, one parsed-config type per gateway, later an inventory context). Registries
//! are static slices of rules, so adding a check is one new `const` and one line in a slice.

use gw_model::{
    Analytic, Confidence, Evidence, EvidenceMetrics, EvidenceSample, FINDING_SCHEMA, Finding,
    FindingKind, FindingStatus, OwaspApi2023, RuleRef, Severity,
};
use jiff::Timestamp;

/// What a rule is, independent of any input: id, name, severity, mapping and advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleMeta {
    /// Stable id, e.g. `GW-S-001` or `GW-C-KONG-002`; never reused for another meaning.
    pub id: &'static str,
    /// Short PascalCase name, e.g. `OperationWithoutSecurity`.
    pub name: &'static str,
    /// Bumped when the rule's logic changes meaningfully.
    pub version: u32,
    /// Default severity of a hit (a hit may raise or lower it with a reason in its text).
    pub severity: Severity,
    pub confidence: Confidence,
    pub owasp: &'static [OwaspApi2023],
    /// One line: what the rule checks.
    pub summary: &'static str,
    /// Concrete fix.
    pub remediation: &'static str,
    pub references: &'static [&'static str],
}

/// One occurrence found by a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// JSON pointer (or config path) of the offending node.
    pub pointer: String,
    /// One line naming the specific node, e.g. `GET /users/v1 has no security requirement`.
    pub title: String,
    /// The specifics: values found, why they matter here.
    pub detail: String,
    /// Overrides the rule's default severity for this hit.
    pub severity: Option<Severity>,
    /// Overrides the rule's default confidence (e.g. a default value rather than an explicit one).
    pub confidence: Option<Confidence>,
    /// 1-based line in the source, when the parser knows it directly (nginx); JSON/YAML sources
    /// are located from the pointer afterwards.
    pub line: Option<usize>,
    /// Numbers backing the hit (counts, thresholds), copied to the finding's evidence metrics.
    pub metrics: EvidenceMetrics,
}

impl Hit {
    pub fn new(
        pointer: impl Into<String>,
        title: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Hit {
            pointer: pointer.into(),
            title: title.into(),
            detail: detail.into(),
            severity: None,
            confidence: None,
            line: None,
            metrics: EvidenceMetrics::default(),
        }
    }

    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = Some(severity);
        self
    }

    pub fn with_confidence(mut self, confidence: Confidence) -> Self {
        self.confidence = Some(confidence);
        self
    }

    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }

    /// Adds a named number to the evidence (`calls`, `days_quiet` ...).
    pub fn with_metric(mut self, name: &str, value: f64) -> Self {
        self.metrics.extra.insert(name.to_owned(), value);
        self
    }

    /// Sets the observed value and, when there is one, the threshold it was compared with.
    pub fn with_observed(mut self, observed: f64, threshold: Option<f64>) -> Self {
        self.metrics.observed = Some(observed);
        self.metrics.threshold = threshold;
        self
    }
}

/// A posture rule: metadata plus its check function `F`. Registries are static slices of rules;
/// see [`ConfigRule`] and [`crate::spec_audit::SpecRule`] for the two check shapes in use.
pub struct Rule<F> {
    pub meta: RuleMeta,
    pub check: F,
}

/// A rule over an owned parsed configuration `C` (one type per gateway kind).
pub type ConfigRule<C> = Rule<fn(&C, &mut Vec<Hit>)>;

/// Where a finding's node lives in its source, once located.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourcePosition {
    pub line: usize,
    pub column: usize,
}

/// `evidence.metrics.extra` keys carrying the located source position (for SARIF regions).
pub const EXTRA_SOURCE_LINE: &str = "source_line";
pub const EXTRA_SOURCE_COLUMN: &str = "source_column";

/// Runs every rule of a configuration registry over `ctx`.
pub fn run_config_rules<C>(
    rules: &'static [ConfigRule<C>],
    ctx: &C,
    file: &str,
    locate: &dyn Fn(&str) -> Option<SourcePosition>,
) -> Vec<Finding> {
    collect_findings(
        rules.iter().map(|rule| {
            let mut hits = Vec::new();
            (rule.check)(ctx, &mut hits);
            (&rule.meta, hits)
        }),
        file,
        locate,
    )
}

/// Turns rule hits into findings about `file`, de-duplicated by fingerprint (rule + pointer) and
/// sorted by (rule id, pointer).
pub fn collect_findings<'r>(
    hits: impl IntoIterator<Item = (&'r RuleMeta, Vec<Hit>)>,
    file: &str,
    locate: &dyn Fn(&str) -> Option<SourcePosition>,
) -> Vec<Finding> {
    let mut out: std::collections::BTreeMap<(&'static str, String), Finding> =
        std::collections::BTreeMap::new();
    for (meta, rule_hits) in hits {
        for hit in rule_hits {
            let position = match hit.line {
                Some(line) => Some(SourcePosition { line, column: 1 }),
                None => locate(&hit.pointer),
            };
            out.entry((meta.id, hit.pointer.clone()))
                .or_insert_with(|| finding_from_hit(meta, file, hit, position));
        }
    }
    out.into_values().collect()
}

/// The stable fingerprint of a posture finding: rule + file + pointer.
pub fn fingerprint(rule_id: &str, file: &str, pointer: &str) -> String {
    let key = format!("{rule_id}\u{0}{file}\u{0}{pointer}");
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(key.as_bytes()))
}

/// Builds the finding for one hit. Posture findings have no event time: `first_seen` and
/// `last_seen` are the Unix epoch, for the caller to set to the assessment time if it wants one
/// (keeping this crate free of the wall clock).
pub fn finding_from_hit(
    meta: &RuleMeta,
    file: &str,
    hit: Hit,
    position: Option<SourcePosition>,
) -> Finding {
    let fingerprint = fingerprint(meta.id, file, &hit.pointer);
    let mut evidence = Evidence {
        metrics: hit.metrics,
        ..Evidence::default()
    };
    let location = format!("{file}#{}", hit.pointer);
    let text = match position {
        Some(p) => format!("{file}:{}:{}: {}", p.line, p.column, hit.title),
        None => format!("{file}: {}", hit.title),
    };
    evidence.samples.push(EvidenceSample {
        exchange_id: None,
        observed_at: None,
        location: Some(location),
        text,
    });
    if let Some(p) = position {
        evidence
            .metrics
            .extra
            .insert(EXTRA_SOURCE_LINE.into(), p.line as f64);
        evidence
            .metrics
            .extra
            .insert(EXTRA_SOURCE_COLUMN.into(), p.column as f64);
    }
    Finding {
        schema: FINDING_SCHEMA.into(),
        id: format!("gw-posture-{fingerprint}"),
        fingerprint,
        kind: FindingKind::Posture,
        rule: RuleRef {
            id: meta.id.into(),
            name: meta.name.into(),
            version: meta.version,
            analytic: Analytic::Config,
        },
        title: hit.title,
        description: hit.detail,
        severity: hit.severity.unwrap_or(meta.severity),
        confidence: hit.confidence.unwrap_or(meta.confidence),
        status: FindingStatus::Open,
        first_seen: Timestamp::UNIX_EPOCH,
        last_seen: Timestamp::UNIX_EPOCH,
        count: 1,
        endpoint: None,
        actor: None,
        owasp: meta.owasp.to_vec(),
        mitre: Vec::new(),
        evidence,
        remediation: Some(meta.remediation.into()),
        references: meta.references.iter().map(|r| (*r).to_owned()).collect(),
    }
}

/// Splits a finding's evidence location `file#pointer` back into its parts (the first `#/`
/// starts the pointer).
pub fn split_location(location: &str) -> (&str, &str) {
    match location.find("#/").or_else(|| location.rfind('#')) {
        Some(i) => (&location[..i], &location[i + 1..]),
        None => (location, ""),
    }
}

/// Escapes one JSON pointer reference token (`~` → `~0`, `/` → `~1`).
pub fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_stable_and_distinguishes_inputs() {
        let a = fingerprint("GW-S-001", "a.json", "/paths/~1x/get");
        assert_eq!(a, fingerprint("GW-S-001", "a.json", "/paths/~1x/get"));
        assert_ne!(a, fingerprint("GW-S-001", "b.json", "/paths/~1x/get"));
        assert_ne!(a, fingerprint("GW-S-002", "a.json", "/paths/~1x/get"));
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn location_splits_at_last_hash() {
        assert_eq!(
            split_location("dir/a#b.json#/x/0"),
            ("dir/a#b.json", "/x/0")
        );
        assert_eq!(split_location("a.json"), ("a.json", ""));
        assert_eq!(escape_token("a/b~c"), "a~1b~0c");
    }
}
