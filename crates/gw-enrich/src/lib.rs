//! Enrichment of traffic records from the client IP: threat-intel and TOR prefix sets with hot
//! reload, country and ASN from MaxMind-format `.mmdb` databases, and the public / private /
//! reserved class of the address.
//!
//! This crate owns loading and parsing list files (plain, FireHOL `.ipset`/`.netset`, TorDNSEL
//! `exit-addresses`), the longest-prefix lookup structure ([`IntelSet`]), its atomic swap on
//! reload ([`IntelHandle`]), the `.mmdb` readers ([`GeoIp`], reopened on change) and the
//! [`Enricher`] that fills `gw_model::Enrichment`. It is synchronous and does no network I/O: downloading lists is not
//! supported, and signals and timers belong to the binary, which calls
//! [`IntelHandle::reload`] / [`IntelHandle::reload_if_changed`]. It raises no findings either;
//! `gw-detect` turns list membership into `GW-T-MALICIOUS-IP` / `GW-T-TOR-EXIT` alerts through
//! [`IntelSet::lookup`] and [`IntelSet::is_tor_exit`].

mod config;
mod enricher;
mod error;
mod format;
mod geoip;
mod intel;
mod ip_class;
mod reload;
mod table;

pub use config::{EnrichConfig, GeoIpConfig, IntelListConfig, ListCategory, ListFormat};
pub use enricher::Enricher;
pub use error::{EnrichError, LineError};
pub use format::{MAX_REPORTED_LINE_ERRORS, ParseOutcome, parse_list};
pub use geoip::GeoIp;
pub use intel::{IntelMatch, IntelSet, IntelSetBuilder, IntelStats, ListId, ListInfo};
pub use ip_class::{IpClass, ip_class};
pub use reload::{IntelHandle, ReloadOutcome};
