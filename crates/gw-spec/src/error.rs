//! The import error: names the file, the JSON pointer and the reason.

use std::fmt;

/// Why a document could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// The bytes are neither valid JSON nor valid YAML.
    #[error("{file}: {reason}")]
    Syntax { file: String, reason: String },
    /// The document parsed but is not a usable API description at `pointer`.
    #[error("{file}: {}: {reason}", DisplayPointer(pointer))]
    Invalid {
        file: String,
        /// JSON pointer of the offending node; in another file, `other.yaml#/pointer`.
        pointer: String,
        reason: String,
    },
}

impl SpecError {
    /// The JSON pointer of the offending node, when the error has one.
    pub fn pointer(&self) -> Option<&str> {
        match self {
            Self::Invalid { pointer, .. } => Some(pointer),
            _ => None,
        }
    }
}

/// Shows the empty (root) pointer readably.
struct DisplayPointer<'a>(&'a str);

impl fmt::Display for DisplayPointer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("(document root)")
        } else {
            f.write_str(self.0)
        }
    }
}
