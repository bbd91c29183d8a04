//! Typed errors of posture checks: each names the input, the place and the reason.

use std::path::PathBuf;

/// Why a configuration or spec could not be assessed.
#[derive(Debug, thiserror::Error)]
pub enum PostureError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The document is not valid JSON / YAML / nginx syntax.
    #[error("{file}:{line}: {reason}")]
    Syntax {
        file: String,
        /// 1-based line, 0 when the parser could not tell.
        line: usize,
        reason: String,
    },
    /// The kind of gateway configuration could not be recognised from the content.
    #[error(
        "{file}: cannot tell which gateway this configuration is for ({reason}); pass --kind apim|kong|nginx|envoy"
    )]
    UnknownKind { file: String, reason: String },
    /// The content does not have the shape the named gateway kind requires.
    #[error("{file}: not a {kind} configuration: {reason}")]
    WrongShape {
        file: String,
        kind: &'static str,
        reason: String,
    },
    /// The gateway kind is known but has no checks in this version.
    #[error(
        "{file}: {kind} configuration checks are not available; supported kinds: apim, kong, nginx, envoy"
    )]
    Unsupported { file: String, kind: &'static str },
    /// The OpenAPI document could not be imported.
    #[error(transparent)]
    Spec(#[from] gw_spec::SpecError),
}
