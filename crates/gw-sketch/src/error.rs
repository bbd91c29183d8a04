//! The one error type of this crate.

/// Why a sketch could not be built, fed or merged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SketchError {
    /// A constructor parameter is out of its documented range.
    #[error("{structure}: parameter `{name}` = {value} is invalid: {reason}")]
    BadParameter {
        structure: &'static str,
        name: &'static str,
        value: String,
        reason: &'static str,
    },
    /// Two sketches with different shapes cannot be merged.
    #[error("{structure}: cannot merge, {what} differ ({left} vs {right})")]
    Incompatible {
        structure: &'static str,
        what: &'static str,
        left: String,
        right: String,
    },
    /// A value that a sketch cannot hold (NaN, infinite or negative).
    #[error("{structure}: value {value} rejected: {reason}")]
    BadValue {
        structure: &'static str,
        value: f64,
        reason: &'static str,
    },
    /// A snapshot does not describe a valid structure.
    #[error("{structure}: snapshot rejected: {reason}")]
    BadSnapshot {
        structure: &'static str,
        reason: String,
    },
}

pub(crate) fn bad_param(
    structure: &'static str,
    name: &'static str,
    value: impl ToString,
    reason: &'static str,
) -> SketchError {
    SketchError::BadParameter {
        structure,
        name,
        value: value.to_string(),
        reason,
    }
}

pub(crate) fn incompatible(
    structure: &'static str,
    what: &'static str,
    left: impl ToString,
    right: impl ToString,
) -> SketchError {
    SketchError::Incompatible {
        structure,
        what,
        left: left.to_string(),
        right: right.to_string(),
    }
}
