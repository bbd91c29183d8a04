//! The `[enrich]` configuration: intel lists and GeoIP databases.
//!
//! ```toml
//! [[enrich.lists]]
//! name = "feodo"
//! path = "/var/lib/gatewatch/intel/feodo.ipset"
//! category = "malicious"        # malicious | tor | scanner | bogon | custom
//! # format = "auto"             # auto | plain | netset | tor_exit_addresses
//! # severity = "high"           # default by category, see `ListCategory::default_severity`
//!
//! [enrich.geoip]
//! country_db = "/var/lib/gatewatch/GeoLite2-Country.mmdb"
//! asn_db = "/var/lib/gatewatch/GeoLite2-ASN.mmdb"
//! ```
//!
//! Relative paths are taken as they are (relative to the process working directory); the binary
//! resolves them against the configuration file before handing the config over.

use std::path::PathBuf;
use std::time::Duration;

use gw_model::Severity;
use serde::{Deserialize, Serialize};

use crate::error::EnrichError;

/// Enrichment settings. Every field has a default, so an empty `[enrich]` table enables only
/// IP classification.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrichConfig {
    /// IP/CIDR lists (threat intel, TOR exits, bogons, custom). Default: none.
    #[serde(default)]
    pub lists: Vec<IntelListConfig>,
    /// MaxMind-format databases. Default: none (no country/ASN enrichment).
    #[serde(default)]
    pub geoip: GeoIpConfig,
}

/// One IP/CIDR list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntelListConfig {
    /// Unique name; it is what `Enrichment::intel_lists` and findings show.
    pub name: String,
    /// Local file holding the list. Re-read by `IntelHandle::reload_if_changed` when its
    /// size, modification time or inode changes.
    pub path: PathBuf,
    /// File format. Default: `auto` (TorDNSEL `exit-addresses` when the file starts with an
    /// `ExitNode` or `@type tordnsel` line, otherwise one IP/CIDR/range per line).
    #[serde(default)]
    pub format: ListFormat,
    /// What membership means; drives which detector uses the list.
    pub category: ListCategory,
    /// Severity of a finding raised for a member. Default: by category
    /// ([`ListCategory::default_severity`]).
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Periodic download source (`http://` or `https://`). Default: none, and then nothing is
    /// ever fetched. When set, a running reloader ([`crate::spawn_reloader`]) downloads the list
    /// every [`refresh_interval_secs`](Self::refresh_interval_secs), validates it and atomically
    /// replaces `path`; on any failure the previous file stays (see [`crate::download_list`]).
    #[serde(default)]
    pub url: Option<String>,
    /// Seconds between downloads of `url`. Default: 86 400 (24 h); at least 3 600 (1 h).
    #[serde(default)]
    pub refresh_interval_secs: Option<u64>,
    /// A download with fewer prefixes than this is rejected as broken. Default: 1.
    #[serde(default)]
    pub min_entries: Option<usize>,
}

/// Default [`IntelListConfig::refresh_interval_secs`]: 24 hours.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// Smallest accepted [`IntelListConfig::refresh_interval_secs`]: 1 hour (feeds ask clients not
/// to poll more often).
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(3600);

impl IntelListConfig {
    /// A list with the default format and severity.
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>, category: ListCategory) -> Self {
        IntelListConfig {
            name: name.into(),
            path: path.into(),
            format: ListFormat::Auto,
            category,
            severity: None,
            url: None,
            refresh_interval_secs: None,
            min_entries: None,
        }
    }

    /// The download interval: the configured one, or [`DEFAULT_REFRESH_INTERVAL`].
    pub fn effective_refresh_interval(&self) -> Duration {
        self.refresh_interval_secs
            .map_or(DEFAULT_REFRESH_INTERVAL, Duration::from_secs)
    }

    /// The smallest acceptable download: the configured `min_entries`, or 1.
    pub fn effective_min_entries(&self) -> usize {
        self.min_entries.unwrap_or(1).max(1)
    }

    /// The configured severity, or the category's default.
    pub fn effective_severity(&self) -> Severity {
        self.severity
            .unwrap_or_else(|| self.category.default_severity())
    }
}

/// How a list file is laid out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListFormat {
    /// Detect from the content (see [`IntelListConfig::format`]).
    #[default]
    Auto,
    /// One IP, CIDR or `first-last` range per line; `#` and `;` start comments. The Tor
    /// Project's bulk exit list and most vendor feeds.
    Plain,
    /// FireHOL `.ipset` / `.netset`: the same grammar as `plain`, with a `#` header.
    Netset,
    /// TorDNSEL `exit-addresses`: `ExitNode`, `Published`, `LastStatus`, `ExitAddress` lines.
    TorExitAddresses,
}

/// What membership in a list means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListCategory {
    /// Known-bad infrastructure (botnet C2, malware hosts): `GW-T-MALICIOUS-IP`.
    Malicious,
    /// TOR exit relays: `GW-T-TOR-EXIT` and `Enrichment::tor_exit`.
    Tor,
    /// Known scanners and crawlers of the attacking kind.
    Scanner,
    /// Unallocated or unrouteable space; traffic from it is spoofed or misrouted.
    Bogon,
    /// Anything else the operator wants tagged.
    Custom,
}

impl ListCategory {
    pub const ALL: [ListCategory; 5] = [
        ListCategory::Malicious,
        ListCategory::Tor,
        ListCategory::Scanner,
        ListCategory::Bogon,
        ListCategory::Custom,
    ];

    /// Severity used when a list does not set one: malicious → high, tor / scanner / custom →
    /// medium, bogon → low.
    pub fn default_severity(self) -> Severity {
        match self {
            ListCategory::Malicious => Severity::High,
            ListCategory::Tor | ListCategory::Scanner | ListCategory::Custom => Severity::Medium,
            ListCategory::Bogon => Severity::Low,
        }
    }

    /// Bit of this category in a category mask.
    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// MaxMind-format (`.mmdb`) databases: GeoLite2 / GeoIP2 Country, City and ASN, or any database
/// with the same field names (`country.iso_code`, `autonomous_system_number`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoIpConfig {
    /// Country or City database for `Enrichment::country`. Default: none.
    #[serde(default)]
    pub country_db: Option<PathBuf>,
    /// ASN database for `Enrichment::asn`. Default: none.
    #[serde(default)]
    pub asn_db: Option<PathBuf>,
}

impl EnrichConfig {
    /// Checks what serde cannot: unique non-empty names, download URL scheme and interval.
    pub fn validate(&self) -> Result<(), EnrichError> {
        validate_lists(&self.lists)
    }
}

pub(crate) fn validate_lists(lists: &[IntelListConfig]) -> Result<(), EnrichError> {
    if lists.len() > usize::from(u16::MAX) {
        return Err(EnrichError::InvalidConfig {
            reason: format!(
                "{} intel lists configured; at most {} are supported",
                lists.len(),
                u16::MAX
            ),
        });
    }
    for (i, list) in lists.iter().enumerate() {
        if list.name.trim().is_empty() {
            return Err(EnrichError::InvalidConfig {
                reason: format!(
                    "enrich.lists[{i}] ({}): `name` is empty",
                    list.path.display()
                ),
            });
        }
        let field_error = |reason: String| EnrichError::InvalidConfig {
            reason: format!("enrich.lists[{i}] (\"{}\"): {reason}", list.name),
        };
        match &list.url {
            Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => {
                return Err(field_error(format!(
                    "`url = \"{url}\"`: only http:// and https:// URLs can be downloaded"
                )));
            }
            Some(_) => {}
            None if list.refresh_interval_secs.is_some() || list.min_entries.is_some() => {
                return Err(field_error(
                    "`refresh_interval_secs` / `min_entries` need a `url` to download from".into(),
                ));
            }
            None => {}
        }
        if let Some(secs) = list.refresh_interval_secs
            && Duration::from_secs(secs) < MIN_REFRESH_INTERVAL
        {
            return Err(field_error(format!(
                "`refresh_interval_secs = {secs}` is below the minimum of {}",
                MIN_REFRESH_INTERVAL.as_secs()
            )));
        }
        if lists[..i].iter().any(|other| other.name == list.name) {
            return Err(EnrichError::InvalidConfig {
                reason: format!(
                    "enrich.lists[{i}]: list name \"{}\" is used twice",
                    list.name
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_config_parses_and_defaults_apply() {
        let cfg: EnrichConfig = toml::from_str(
            r#"
            [[lists]]
            name = "feodo"
            path = "feodo.ipset"
            category = "malicious"

            [[lists]]
            name = "tor"
            path = "exit-addresses"
            format = "tor_exit_addresses"
            category = "tor"
            severity = "high"

            [geoip]
            country_db = "country.mmdb"
            "#,
        )
        .unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.lists[0].format, ListFormat::Auto);
        assert_eq!(cfg.lists[0].effective_severity(), Severity::High);
        assert_eq!(cfg.lists[1].format, ListFormat::TorExitAddresses);
        assert_eq!(cfg.lists[1].effective_severity(), Severity::High);
        assert_eq!(cfg.geoip.country_db, Some(PathBuf::from("country.mmdb")));
        assert_eq!(cfg.geoip.asn_db, None);
    }

    #[test]
    fn an_empty_table_is_the_default() {
        let cfg: EnrichConfig = toml::from_str("").unwrap();
        assert_eq!(cfg, EnrichConfig::default());
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = toml::from_str::<EnrichConfig>(
            "[[lists]]\nname='a'\npath='a'\ncategory='tor'\nrefresh='1h'\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("refresh"), "{err}");
    }

    #[test]
    fn download_settings_are_checked() {
        let mut list = IntelListConfig::new("spamhaus", "drop.txt", ListCategory::Malicious);
        list.url = Some("https://www.spamhaus.org/drop/drop.txt".into());
        validate_lists(std::slice::from_ref(&list)).unwrap();
        assert_eq!(list.effective_refresh_interval(), DEFAULT_REFRESH_INTERVAL);
        assert_eq!(list.effective_min_entries(), 1);

        list.refresh_interval_secs = Some(600);
        let err = validate_lists(std::slice::from_ref(&list))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("spamhaus") && err.contains("below the minimum"),
            "{err}"
        );
        list.refresh_interval_secs = Some(7200);
        validate_lists(std::slice::from_ref(&list)).unwrap();
        assert_eq!(list.effective_refresh_interval(), Duration::from_secs(7200));

        list.url = Some("ftp://example.com/x".into());
        let err = validate_lists(std::slice::from_ref(&list))
            .unwrap_err()
            .to_string();
        assert!(err.contains("only http://"), "{err}");

        list.url = None;
        let err = validate_lists(&[list]).unwrap_err().to_string();
        assert!(err.contains("need a `url`"), "{err}");
    }

    #[test]
    fn duplicate_and_empty_names_are_rejected() {
        let a = IntelListConfig::new("a", "a.txt", ListCategory::Custom);
        let err = validate_lists(&[a.clone(), a]).unwrap_err().to_string();
        assert!(err.contains("used twice"), "{err}");
        let blank = IntelListConfig::new(" ", "b.txt", ListCategory::Custom);
        let err = validate_lists(&[blank]).unwrap_err().to_string();
        assert!(err.contains("`name` is empty"), "{err}");
    }

    #[test]
    fn default_severity_follows_the_category() {
        assert_eq!(ListCategory::Malicious.default_severity(), Severity::High);
        assert_eq!(ListCategory::Tor.default_severity(), Severity::Medium);
        assert_eq!(ListCategory::Bogon.default_severity(), Severity::Low);
    }
}
