//! Sensitive-data classification for Gatewatch.
//!
//! This crate owns the built-in and user-configured detectors of sensitive values (contact
//! data, payment data, national identifiers, credentials), their validators, and the one
//! masking function used wherever a value is printed or stored. A pattern hit is only a
//! candidate: every label is confirmed by a validator (checksum, issuer range, number plan,
//! decodable structure) or by context (a field name, a keyword nearby). Detection runs as one
//! multi-pattern pass, so its cost does not grow with the number of detectors.
//!
//! It must not store anything, log values, or hand raw values back to callers: findings carry
//! byte spans into the caller's own text, or masked samples. Storage and aggregation of the
//! per-record `FieldFinding`s belong to the inventory and store crates.
//!
//! Entry points: `Classifier::new(&ClassifyConfig)` (or `Classifier::builtin()`), then
//! `scan_text` for free text, `scan_json` / `scan_body` / `scan_query` / `scan_path` /
//! `scan_headers` for the parts of an exchange (each yields `FieldFinding`s with location,
//! field path, status class, confidence and a masked sample), `mask` / `mask_text` for
//! anything printed or stored, and `run_classify_stream` for `gatewatch classify`.

mod builtin;
mod classifier;
mod config;
mod context;
mod exchange;
mod json_walk;
mod kind;
mod mask;
mod prefilter;
mod sampling;
mod stream;
pub mod validate;

pub use classifier::{Classifier, Match, RuleId};
pub use config::{
    ClassifyConfig, ConfigError, CustomClassifierConfig, CustomValidator, DEFAULT_MAX_BODY_BYTES,
};
pub use context::{BodyScan, FieldFinding, Location, StatusClass};
pub use exchange::{BodyParts, classify_exchange, classify_exchange_parts, sensitive_labels};
pub use kind::{SensitiveKind, Sensitivity};
pub use mask::{mask, mask_text};
pub use sampling::{BodySampler, BodySamplingConfig, MAX_LABELS_PER_KEY, SamplingStats};
pub use stream::{ClassifyStats, run_classify_stream};
