//! Country and ASN from MaxMind-format (`.mmdb`) databases.
//!
//! Lookups navigate straight to the one field needed (`country.iso_code`, falling back to
//! `registered_country.iso_code`; `autonomous_system_number`) and borrow strings from the
//! database, so a lookup allocates nothing.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use maxminddb::{PathElement, Reader};

use crate::config::GeoIpConfig;
use crate::error::EnrichError;
use crate::reload::FileStamp;

const COUNTRY_ISO: [PathElement<'static>; 2] =
    [PathElement::Key("country"), PathElement::Key("iso_code")];
const REGISTERED_COUNTRY_ISO: [PathElement<'static>; 2] = [
    PathElement::Key("registered_country"),
    PathElement::Key("iso_code"),
];
const ASN: [PathElement<'static>; 1] = [PathElement::Key("autonomous_system_number")];

/// One opened database.
#[derive(Debug)]
struct Database {
    path: PathBuf,
    reader: Reader<Vec<u8>>,
    ipv6: bool,
    /// Taken before reading; `None` if the stat failed (the next poll then reopens).
    stamp: Option<FileStamp>,
}

impl Database {
    fn open(role: &'static str, path: &Path) -> Result<Database, EnrichError> {
        let stamp = FileStamp::of(path).ok();
        let reader = Reader::open_readfile(path).map_err(|source| EnrichError::GeoIp {
            role,
            path: path.to_path_buf(),
            source,
        })?;
        let ipv6 = reader.metadata().ip_version == 6;
        Ok(Database {
            path: path.to_path_buf(),
            reader,
            ipv6,
            stamp,
        })
    }
}

/// Country and ASN databases, either optional.
#[derive(Debug, Default)]
pub struct GeoIp {
    country: Option<Database>,
    asn: Option<Database>,
    /// Lookups that failed on corrupt data (the answer was "unknown").
    lookup_errors: AtomicU64,
}

impl GeoIp {
    /// Opens the configured databases; a missing or invalid file is an error naming it.
    pub fn open(config: &GeoIpConfig) -> Result<GeoIp, EnrichError> {
        Ok(GeoIp {
            country: config
                .country_db
                .as_deref()
                .map(|p| Database::open("country", p))
                .transpose()?,
            asn: config
                .asn_db
                .as_deref()
                .map(|p| Database::open("ASN", p))
                .transpose()?,
            lookup_errors: AtomicU64::new(0),
        })
    }

    /// Whether any database is configured.
    pub fn is_enabled(&self) -> bool {
        self.country.is_some() || self.asn.is_some()
    }

    /// ISO 3166-1 alpha-2 country code (`"DE"`), borrowed from the database.
    pub fn country(&self, ip: IpAddr) -> Option<&str> {
        let db = self.country.as_ref()?;
        let ip = Self::searchable(db, ip)?;
        let found =
            db.reader
                .lookup(ip)
                .and_then(|r| match r.decode_path::<&str>(&COUNTRY_ISO)? {
                    Some(code) => Ok(Some(code)),
                    None => r.decode_path::<&str>(&REGISTERED_COUNTRY_ISO),
                });
        self.count_error(found)
    }

    /// Autonomous system number.
    pub fn asn(&self, ip: IpAddr) -> Option<u32> {
        let db = self.asn.as_ref()?;
        let ip = Self::searchable(db, ip)?;
        let found = db
            .reader
            .lookup(ip)
            .and_then(|r| r.decode_path::<u32>(&ASN));
        self.count_error(found)
    }

    /// The configuration these databases were opened from (for reopening).
    pub fn config(&self) -> GeoIpConfig {
        GeoIpConfig {
            country_db: self.country.as_ref().map(|d| d.path.clone()),
            asn_db: self.asn.as_ref().map(|d| d.path.clone()),
        }
    }

    /// Whether a database file's size, modification time or inode changed since it was opened
    /// (a file that cannot be examined counts as changed, so reopening reports why).
    pub fn changed_on_disk(&self) -> bool {
        [&self.country, &self.asn]
            .into_iter()
            .flatten()
            .any(|db| db.stamp.is_none() || FileStamp::of(&db.path).ok() != db.stamp)
    }

    /// Number of lookups that hit corrupt data since start.
    pub fn lookup_errors(&self) -> u64 {
        self.lookup_errors.load(Ordering::Relaxed)
    }

    /// Paths of the opened databases, for logs: `(country, asn)`.
    pub fn paths(&self) -> (Option<&Path>, Option<&Path>) {
        (
            self.country.as_ref().map(|d| d.path.as_path()),
            self.asn.as_ref().map(|d| d.path.as_path()),
        )
    }

    /// The address in the form the database can search, or `None` when it cannot hold it (an
    /// IPv6 address in an IPv4-only database).
    fn searchable(db: &Database, ip: IpAddr) -> Option<IpAddr> {
        match ip.to_canonical() {
            v4 @ IpAddr::V4(_) => Some(v4),
            v6 @ IpAddr::V6(_) => db.ipv6.then_some(v6),
        }
    }

    fn count_error<T>(&self, found: Result<Option<T>, maxminddb::MaxMindDbError>) -> Option<T> {
        found.unwrap_or_else(|_| {
            self.lookup_errors.fetch_add(1, Ordering::Relaxed);
            None
        })
    }
}
