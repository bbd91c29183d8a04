//! Errors of this crate. Messages name the input, the place and the reason.

use std::fmt;
use std::path::PathBuf;

/// Why a list, a database or the configuration could not be loaded. A bad line inside a list is
/// not an error of this kind: it is skipped and reported as a [`LineError`].
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    #[error("intel list \"{name}\": cannot read {}: {source}", path.display())]
    ReadList {
        name: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A download of a list failed; the previous file was kept.
    #[error(
        "intel list \"{name}\": download from {url} failed, keeping the previous file: {reason}"
    )]
    Download {
        name: String,
        url: String,
        reason: String,
    },
    #[error("invalid enrich configuration: {reason}")]
    InvalidConfig { reason: String },
    #[error("intel lists: {reason}")]
    Build { reason: String },
    #[error("GeoIP {role} database {}: {source}", path.display())]
    GeoIp {
        role: &'static str,
        path: PathBuf,
        #[source]
        source: maxminddb::MaxMindDbError,
    },
}

/// One skipped line of a list file: `feodo.ipset:42: "1.2.3.999": not an IP address`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    pub path: PathBuf,
    /// 1-based.
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.reason)
    }
}

impl std::error::Error for LineError {}
