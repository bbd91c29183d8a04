//! Enrichment of traffic records from the client IP: threat-intel and TOR prefix sets with hot
//! reload, country and ASN from MaxMind-format `.mmdb` databases, and the public / private /
//! reserved class of the address.
//!
//! This crate owns loading and parsing list files (plain, FireHOL `.ipset`/`.netset`, TorDNSEL
//! `exit-addresses`), the longest-prefix lookup structure ([`IntelSet`]), its atomic swap on
//! reload ([`IntelHandle`]), the `.mmdb` readers ([`GeoIp`], reopened on change) and the
//! [`Enricher`] that fills `gw_model::Enrichment`, and keeping lists current:
//! [`spawn_reloader`] polls the files for changes, reloads on demand
//! ([`ReloaderHandle::trigger`], for the binary's SIGHUP handler) and, only for lists that set
//! a `url`, downloads them periodically ([`download_list`]: validated, atomically installed,
//! the old file kept on any failure). Without a `url` nothing touches the network. It raises
//! no findings; `gw-detect` turns list membership into `GW-T-MALICIOUS-IP` / `GW-T-TOR-EXIT`
//! alerts through
//! [`IntelSet::lookup`] and [`IntelSet::is_tor_exit`].

mod config;
mod download;
mod enricher;
mod error;
mod format;
mod geoip;
mod intel;
mod ip_class;
mod reload;
mod reloader;
mod table;

pub use config::{
    DEFAULT_REFRESH_INTERVAL, EnrichConfig, GeoIpConfig, IntelListConfig, ListCategory, ListFormat,
    MIN_REFRESH_INTERVAL,
};
pub use download::{DownloadReport, MAX_DOWNLOAD_BYTES, download_list};
pub use enricher::Enricher;
pub use error::{EnrichError, LineError};
pub use format::{MAX_REPORTED_LINE_ERRORS, ParseOutcome, parse_list};
pub use geoip::GeoIp;
pub use intel::{IntelMatch, IntelSet, IntelSetBuilder, IntelStats, ListId, ListInfo};
pub use ip_class::{IpClass, ip_class};
pub use reload::{IntelHandle, ReloadOutcome};
pub use reloader::{DOWNLOAD_TIMEOUT, ReloaderHandle, ReloaderStatus, spawn_reloader};
