//! The one error type of the store: every variant names the database and the operation.

/// Shorthand for results of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What went wrong, where (`location`: the database path or URL) and while doing what
/// (`operation`: `write_exchanges`, `apply_retention`, ...).
///
/// Following the Rust API guidelines, the underlying cause is reachable through
/// [`std::error::Error::source`] and is not repeated in the message; print the chain
/// (`anyhow`'s `{:#}`) to see it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{location}: cannot open the store")]
    Open {
        location: String,
        #[source]
        source: rusqlite::Error,
    },

    #[error("{location}: {operation} failed")]
    Sqlite {
        location: String,
        operation: &'static str,
        #[source]
        source: rusqlite::Error,
    },

    #[error("{location}: migration {version} ({name}) failed")]
    Migration {
        location: String,
        version: u32,
        name: &'static str,
        #[source]
        source: rusqlite::Error,
    },

    #[error(
        "{location}: the database schema is version {found}, newer than the {supported} this \
         build of gatewatch supports; upgrade gatewatch or point --db at another file"
    )]
    SchemaTooNew {
        location: String,
        found: u32,
        supported: u32,
    },

    #[error("{location}: {operation}: stored {what} is unreadable: {detail}")]
    Corrupt {
        location: String,
        operation: &'static str,
        what: String,
        detail: String,
    },

    #[error("{location}: {operation}: {what} does not exist")]
    NotFound {
        location: String,
        operation: &'static str,
        what: String,
    },

    #[error("{location}: {operation}: {detail}")]
    Conflict {
        location: String,
        operation: &'static str,
        detail: String,
    },

    #[error("{location}: {operation}: {detail}")]
    InvalidRecord {
        location: String,
        operation: &'static str,
        detail: String,
    },

    #[error("{location}: {operation}: cannot encode {what} as JSON")]
    Encode {
        location: String,
        operation: &'static str,
        what: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("retention policy: `{field}` is {value}, above the maximum of {max} {unit}")]
    InvalidPolicy {
        field: &'static str,
        value: u32,
        max: u32,
        unit: &'static str,
    },

    /// The explorer refused a query: a write, a second statement, a table that is not an
    /// explorer view, or too much work.
    #[error("{location}: query refused: {reason}")]
    QueryRefused { location: String, reason: String },

    #[error("{location}: {reason}")]
    UnsupportedBackend { location: String, reason: String },

    #[error("{location}: install_key: the operating system random source failed: {detail}")]
    Random { location: String, detail: String },
}
