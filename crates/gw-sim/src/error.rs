//! Errors of the simulator.

use std::path::PathBuf;

/// What went wrong, naming the input, the place and the reason.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("--attacks: unknown scenario {name:?}; known: {known}")]
    UnknownScenario { name: String, known: String },
    #[error("--profile: unknown profile {name:?}; known: defender-4w")]
    UnknownProfile { name: String },
    #[error("simulation config: {field}: {reason}")]
    InvalidConfig { field: &'static str, reason: String },
    #[error("built-in spec {name}: {source}")]
    BuiltinSpec {
        name: &'static str,
        #[source]
        source: gw_spec::SpecError,
    },
    #[error("spec {file}: it declares no operations, so no traffic can be generated for it")]
    EmptySpec { file: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing {what}: {source}")]
    Write {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("serializing record {index}: {source}")]
    Serialize {
        index: u64,
        #[source]
        source: serde_json::Error,
    },
}
