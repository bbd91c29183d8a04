//! Errors of discovery: configuration, restoring stored state, persistence.

/// What went wrong; every message names the input and the reason.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("discovery config: `{field}`: {reason}")]
    InvalidConfig { field: &'static str, reason: String },

    #[error("stored inventory endpoint {id} ({method} {template}): {reason}")]
    InvalidStoredEndpoint {
        id: String,
        method: String,
        template: String,
        reason: String,
    },

    #[error("inventory store")]
    Store(#[from] gw_store::StoreError),
}
