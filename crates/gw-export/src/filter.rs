//! Which findings a sink receives.
//!
//! ```toml
//! [sinks.splunk.filter]
//! min_severity = "medium"
//! rule_ids = ["GW-T-*", "GW-P-UNAUTHENTICATED"]
//! kinds = ["threat"]
//! ```
//!
//! Empty lists mean "all". Rule id patterns are case-sensitive globs where `*` matches any run
//! of characters (including none); there are no other wildcards.

use gw_model::{Finding, FindingKind, Severity};
use serde::{Deserialize, Serialize};

/// A sink's finding filter; the default passes everything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SinkFilter {
    /// Findings below this severity are not sent.
    pub min_severity: Severity,
    /// Allow list of rule ids or `*` globs (`GW-T-*`); empty allows every rule.
    pub rule_ids: Vec<String>,
    /// Allowed kinds; empty allows every kind.
    pub kinds: Vec<FindingKind>,
}

impl Default for SinkFilter {
    fn default() -> Self {
        SinkFilter {
            min_severity: Severity::Info,
            rule_ids: Vec::new(),
            kinds: Vec::new(),
        }
    }
}

impl SinkFilter {
    /// Whether `finding` passes every condition.
    pub fn matches(&self, finding: &Finding) -> bool {
        finding.severity >= self.min_severity
            && (self.kinds.is_empty() || self.kinds.contains(&finding.kind))
            && (self.rule_ids.is_empty()
                || self
                    .rule_ids
                    .iter()
                    .any(|pattern| glob_matches(pattern, &finding.rule.id)))
    }
}

/// `*`-only glob match: literal pieces must appear in order, anchored at both ends.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let mut pieces = pattern.split('*');
    // split always yields at least one piece.
    let first = pieces.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&str> = pieces.collect();
    let Some((last, middle)) = pieces.split_last() else {
        return rest.is_empty();
    };
    for piece in middle {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{posture, spike, sqli};

    #[test]
    fn globs_match_only_star() {
        for (pattern, text, expected) in [
            ("GW-T-*", "GW-T-SQLI", true),
            ("GW-T-*", "GW-P-UNAUTHENTICATED", false),
            ("GW-T-SQLI", "GW-T-SQLI", true),
            ("GW-T-SQLI", "GW-T-SQLIX", false),
            ("*SPIKE", "GW-T-IP-SPIKE", true),
            ("GW-*-SPIKE", "GW-T-IP-SPIKE", true),
            ("GW-*-SPIKE", "GW-SPIKE", false),
            ("*", "", true),
            ("a*a", "a", false),
            ("a*b*c", "abxbc", true),
            ("GW-T-?", "GW-T-X", false),
            ("gw-t-*", "GW-T-SQLI", false),
        ] {
            assert_eq!(glob_matches(pattern, text), expected, "{pattern} vs {text}");
        }
    }

    #[test]
    fn default_passes_everything() {
        let filter = SinkFilter::default();
        assert!(crate::test_support::all().iter().all(|f| filter.matches(f)));
    }

    #[test]
    fn all_conditions_must_hold() {
        let filter = SinkFilter {
            min_severity: Severity::High,
            rule_ids: vec!["GW-T-*".into()],
            kinds: vec![FindingKind::Threat],
        };
        assert!(filter.matches(&sqli()));
        assert!(filter.matches(&spike()));
        assert!(!filter.matches(&posture()));
        let mut low = sqli();
        low.severity = Severity::Medium;
        assert!(!filter.matches(&low));
    }

    #[test]
    fn config_parses_and_rejects_unknown_keys() {
        let filter: SinkFilter = toml::from_str(
            "min_severity = \"medium\"\nrule_ids = [\"GW-P-*\"]\nkinds = [\"posture\"]\n",
        )
        .unwrap();
        assert!(filter.matches(&posture()) && !filter.matches(&sqli()));
        let partial: SinkFilter = toml::from_str("kinds = [\"threat\"]").unwrap();
        assert_eq!(partial.min_severity, Severity::Info);
        let err = toml::from_str::<SinkFilter>("min_severty = \"high\"").unwrap_err();
        assert!(err.to_string().contains("min_severty"), "{err}");
    }
}
