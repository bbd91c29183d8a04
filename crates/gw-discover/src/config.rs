//! The `[discovery]` configuration: thresholds of the path learner and the inventory.

use serde::{Deserialize, Serialize};

use crate::error::DiscoverError;

/// Tuning of path templating and inventory. Defaults are written once, here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscoveryConfig {
    /// Distinct word-like values at one position (under the same prefix) beyond which the
    /// position becomes a parameter when most of them look like values (they share a
    /// sub-path, or also appear at another depth). Busy values stay literal
    /// (`keep_literal_factor`).
    pub param_cardinality: usize,
    /// Distinct word-like values beyond which the position becomes a parameter without
    /// further evidence (user names that are all leaves).
    pub param_cardinality_without_evidence: usize,
    /// Distinct date-like or version-number-like values at one position that make it a
    /// parameter (`/reports/2024-01-01`, `/reports/2024-01-02` ...).
    pub weak_cardinality: usize,
    /// Hard cap of literal children per position: reaching it always makes the position a
    /// parameter (memory stays bounded whatever the traffic).
    pub max_literal_children: usize,
    /// When a position becomes a parameter, a literal sibling stays literal if it had at least
    /// this many times the median calls of its siblings (`/users/me` beside `/users/{id}`).
    pub keep_literal_factor: u64,
    /// ... and at least this many calls.
    pub keep_literal_min_calls: u64,
    /// Learned endpoints per API (per `Discovery`) before the busiest fan-out is merged into a
    /// parameter, repeatedly, to protect against scanners and cardinality explosions.
    pub max_endpoints: usize,
    /// Path segments learned; deeper segments are folded into one trailing parameter.
    pub max_depth: usize,
    /// Days without traffic (in event time) after which an endpoint is dormant.
    pub dormant_after_days: u32,
    /// JSON bodies sampled per endpoint for schema inference: every body until this many,
    /// then one in `body_sample_every`. Header details (header and cookie parameters,
    /// content types) likewise: every call until this many, then one in `detail_sample_every`.
    pub body_samples_full: u64,
    pub body_sample_every: u64,
    pub detail_sample_every: u64,
    /// Distinct parameters kept per endpoint (the rest are counted, not named).
    pub max_params_per_endpoint: usize,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            param_cardinality: 10,
            param_cardinality_without_evidence: 24,
            weak_cardinality: 3,
            max_literal_children: 64,
            keep_literal_factor: 8,
            keep_literal_min_calls: 4,
            max_endpoints: 2_000,
            max_depth: 24,
            dormant_after_days: 30,
            body_samples_full: 32,
            body_sample_every: 256,
            detail_sample_every: 16,
            max_params_per_endpoint: 64,
        }
    }
}

impl DiscoveryConfig {
    /// Checks the values make sense together.
    pub fn validate(&self) -> Result<(), DiscoverError> {
        let bad =
            |field: &'static str, reason: String| DiscoverError::InvalidConfig { field, reason };
        if self.param_cardinality < 2 {
            return Err(bad(
                "param_cardinality",
                format!("{} is below 2", self.param_cardinality),
            ));
        }
        if self.param_cardinality_without_evidence < self.param_cardinality {
            return Err(bad(
                "param_cardinality_without_evidence",
                format!(
                    "{} is below param_cardinality ({})",
                    self.param_cardinality_without_evidence, self.param_cardinality
                ),
            ));
        }
        if self.max_literal_children <= self.param_cardinality_without_evidence {
            return Err(bad(
                "max_literal_children",
                format!(
                    "{} must be above param_cardinality_without_evidence ({})",
                    self.max_literal_children, self.param_cardinality_without_evidence
                ),
            ));
        }
        if self.weak_cardinality < 2 {
            return Err(bad(
                "weak_cardinality",
                format!("{} is below 2", self.weak_cardinality),
            ));
        }
        if self.max_endpoints == 0 {
            return Err(bad("max_endpoints", "0 endpoints allowed".into()));
        }
        if !(1..=128).contains(&self.max_depth) {
            return Err(bad(
                "max_depth",
                format!("{} is outside 1..=128", self.max_depth),
            ));
        }
        if self.detail_sample_every == 0 {
            return Err(bad(
                "detail_sample_every",
                "0 (use a large value to sample rarely)".into(),
            ));
        }
        if self.body_sample_every == 0 {
            return Err(bad(
                "body_sample_every",
                "0 (use a large value to sample rarely)".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_unknown_fields_rejected() {
        DiscoveryConfig::default().validate().unwrap();
        let err = serde_json::from_str::<DiscoveryConfig>(r#"{"param_cardinalty":3}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `param_cardinalty`"), "{err}");
        let partial: DiscoveryConfig = serde_json::from_str(r#"{"max_endpoints":10}"#).unwrap();
        assert_eq!(partial.max_endpoints, 10);
        assert_eq!(partial.param_cardinality, 10);
    }

    #[test]
    fn inconsistent_values_name_the_field() {
        let cfg = DiscoveryConfig {
            max_literal_children: 5,
            ..DiscoveryConfig::default()
        };
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("max_literal_children"), "{err}");
    }
}
