//! Configuration of the classifier: which built-ins run, user-defined classifiers, the body
//! scan cap. Mapped from the `[classify]` table of the Gatewatch TOML file:
//!
//! ```toml
//! [classify]
//! disabled = ["ip_address", "keyword_assignment"]   # kind names or rule ids
//! max_body_bytes = 65536
//! min_confidence = 0.0
//!
//! [[classify.custom]]
//! name = "employee_id"            # label in findings and inventory
//! pattern = "EMP-[0-9]{6}"
//! keywords = ["employee", "staff"] # one must occur in the 48 bytes before, or in the field name
//! field_names = "^(emp|employee)_?id$"
//! validator = "none"               # none | luhn | mod97
//! severity = "high"                # low | medium | high | critical
//! confidence = 0.8
//! ```

use serde::{Deserialize, Serialize};

use crate::kind::Sensitivity;
use crate::sampling::BodySamplingConfig;

/// Default number of body bytes scanned; larger bodies are scanned up to here and marked
/// truncated.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// `[classify]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifyConfig {
    /// Built-in detectors to switch off, by kind name (`phone`, `ip_address`) or by rule id
    /// (`keyword_assignment`, `national_id`). Default: none.
    pub disabled: Vec<String>,
    /// User-defined classifiers, run in the same single pass as the built-ins.
    pub custom: Vec<CustomClassifierConfig>,
    /// Bytes of a body that are scanned. Default: 65536.
    pub max_body_bytes: usize,
    /// Findings below this confidence (0.0..=1.0) are dropped. Default: 0.0 (keep all).
    pub min_confidence: f32,
    /// Body sampling per endpoint once its labels are stable (pipeline stage only; `gatewatch
    /// classify` and `scan_*` always scan everything).
    pub sampling: BodySamplingConfig,
}

impl Default for ClassifyConfig {
    fn default() -> Self {
        ClassifyConfig {
            disabled: Vec::new(),
            custom: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            min_confidence: 0.0,
            sampling: BodySamplingConfig::default(),
        }
    }
}

/// A validator a custom classifier may require of its candidates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomValidator {
    #[default]
    None,
    /// Luhn mod-10 over the digits of the match.
    Luhn,
    /// ISO 7064 mod-97 as used by IBAN (letters as 10..35, first four characters moved last).
    Mod97,
}

/// `[[classify.custom]]`: a regex, optional context, optional validator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomClassifierConfig {
    /// Label in findings and inventory, snake_case (`employee_id`). A built-in kind name
    /// (`email`) adds a detector to that kind instead.
    pub name: String,
    /// Regex (Rust `regex` syntax) that finds candidate values in text. Optional when
    /// `field_names` is given.
    #[serde(default)]
    pub pattern: Option<String>,
    /// If non-empty, one of these words (case-insensitive) must occur within
    /// `keyword_window` bytes before the value, or in its field name.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Bytes before a match searched for `keywords`. Default: 48.
    #[serde(default = "default_keyword_window")]
    pub keyword_window: usize,
    /// Regex on field names (JSON keys, query/form parameters, header names): any non-empty
    /// value of a matching field is labelled, and a `pattern` match inside it needs no keyword.
    #[serde(default)]
    pub field_names: Option<String>,
    /// Validator a candidate must pass. Default: none.
    #[serde(default)]
    pub validator: CustomValidator,
    /// Sensitivity recorded in inventory. Default: medium.
    #[serde(default = "default_sensitivity")]
    pub severity: Sensitivity,
    /// Confidence reported for a match (0.0..=1.0). Default: 0.8.
    #[serde(default = "default_confidence")]
    pub confidence: f32,
}

fn default_keyword_window() -> usize {
    48
}

fn default_sensitivity() -> Sensitivity {
    Sensitivity::Medium
}

fn default_confidence() -> f32 {
    0.8
}

/// Why a configuration was rejected.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("classify.sampling: {0}")]
    BadSampling(&'static str),
    #[error("classify.custom[{index}] ({name:?}): field \"pattern\": invalid regex: {reason}")]
    InvalidPattern {
        index: usize,
        name: String,
        reason: String,
    },
    #[error("classify.custom[{index}] ({name:?}): field \"field_names\": invalid regex: {reason}")]
    InvalidFieldNames {
        index: usize,
        name: String,
        reason: String,
    },
    #[error(
        "classify.custom[{index}] ({name:?}): needs \"pattern\" or \"field_names\", found neither"
    )]
    NothingToMatch { index: usize, name: String },
    #[error("classify.custom[{index}]: field \"name\": expected a snake_case name, found {name:?}")]
    BadName { index: usize, name: String },
    #[error(
        "classify.custom[{index}] ({name:?}): field \"confidence\": expected 0.0..=1.0, found {value}"
    )]
    BadConfidence {
        index: usize,
        name: String,
        value: f32,
    },
    #[error(
        "classify.disabled: {name:?} is neither a kind name nor a built-in rule id (known: {known})"
    )]
    UnknownDisabled { name: String, known: String },
    #[error("classify.min_confidence: expected 0.0..=1.0, found {0}")]
    BadMinConfidence(f32),
    #[error("classify.max_body_bytes: expected at least 1, found 0")]
    ZeroBodyCap,
    #[error("built-in detector {0}: pattern failed to compile: {1}")]
    BuiltInPattern(&'static str, String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_documented_values() {
        let c = ClassifyConfig::default();
        assert_eq!(c.max_body_bytes, 65536);
        assert!(c.disabled.is_empty() && c.custom.is_empty());
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = serde_json::from_str::<ClassifyConfig>(r#"{"disable":["phone"]}"#);
        assert!(err.is_err());
        let err = serde_json::from_str::<CustomClassifierConfig>(
            r#"{"name":"x","pattern":"a","severty":"high"}"#,
        );
        assert!(err.is_err());
    }

    #[test]
    fn custom_defaults_fill_in() {
        let c: CustomClassifierConfig =
            serde_json::from_str(r#"{"name":"employee_id","pattern":"EMP-[0-9]{6}"}"#).unwrap();
        assert_eq!(c.keyword_window, 48);
        assert_eq!(c.validator, CustomValidator::None);
        assert_eq!(c.severity, Sensitivity::Medium);
        assert!((c.confidence - 0.8).abs() < f32::EPSILON);
    }
}
