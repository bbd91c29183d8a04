//! `gatewatch.toml`: one file mapped onto typed, validated structs. Every key has a default
//! written once, here; `GATEWATCH_<SECTION>_<KEY>` environment variables override the file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// The default config file, read when present in the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "gatewatch.toml";

/// Environment variables that are not config keys.
const NON_KEY_VARS: &[&str] = &["GATEWATCH_CONFIG", "GATEWATCH_LOG"];

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Version of the config file format.
    pub version: u32,
    /// OpenAPI / Swagger specs of the APIs behind the gateway: records they cover are matched
    /// to the declared operation; what they do not declare is a shadow endpoint.
    pub specs: Vec<PathBuf>,
    pub store: StoreConfig,
    pub retention: RetentionConfig,
    pub ingest: IngestConfig,
    /// Client IP resolution (trusted proxies), credential headers and query parameters.
    pub normalize: gw_ingest::normalize::NormalizeConfig,
    /// Sensitive-data classification: built-ins to switch off, custom classifiers, body cap.
    pub classify: gw_classify::ClassifyConfig,
    /// Threat-intel / TOR lists and GeoIP databases (none by default).
    pub enrich: gw_enrich::EnrichConfig,
    pub detect: DetectConfig,
    /// `gatewatch serve`: listen address, API tokens (SHA-256 only), body and queue limits,
    /// spool directory.
    pub server: gw_server::ServerConfig,
    /// Path templating and inventory.
    pub discovery: gw_discover::DiscoveryConfig,
    /// Learned baselines: volume spikes, large payloads, spray, enumeration, brute force...
    pub behavioral: gw_detect::behavioral::BehavioralConfig,
    /// Where findings are delivered as they are raised (`ingest` and `serve`): NDJSON files,
    /// stdout, webhooks, syslog/CEF, Splunk HEC, Microsoft Sentinel, Elastic — none by default.
    pub delivery: gw_export::delivery::DeliveryConfig,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    /// Hits of one rule on one endpoint by one actor within this many minutes (event time,
    /// epoch-aligned windows) are one alert with a count.
    pub alert_window_minutes: u32,
    /// How late (event time) a record may arrive after later ones and still join its window.
    pub out_of_order_seconds: u32,
    /// Record ids kept as evidence per alert (the first ones).
    pub max_evidence_ids: usize,
    /// Detection events (`gatewatch.event/1`) kept in full per alert; beyond it they are
    /// sampled (`events_sample_every`) and the alert states `events_seen`/`events_kept`.
    pub events_per_alert: u64,
    /// Beyond `events_per_alert`, one event in this many is kept.
    pub events_sample_every: u64,
}

impl DetectConfig {
    pub fn event_budget(&self) -> crate::events::EventBudgetConfig {
        crate::events::EventBudgetConfig {
            per_alert: self.events_per_alert,
            sample_every: self.events_sample_every,
        }
    }
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            alert_window_minutes: 60,
            out_of_order_seconds: 300,
            max_evidence_ids: gw_detect::DEFAULT_MAX_EVIDENCE_IDS,
            events_per_alert: 10_000,
            events_sample_every: 100,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            version: 1,
            specs: Vec::new(),
            store: StoreConfig::default(),
            retention: RetentionConfig::default(),
            ingest: IngestConfig::default(),
            normalize: gw_ingest::normalize::NormalizeConfig::default(),
            classify: gw_classify::ClassifyConfig::default(),
            enrich: gw_enrich::EnrichConfig::default(),
            detect: DetectConfig::default(),
            server: gw_server::ServerConfig::default(),
            discovery: gw_discover::DiscoveryConfig::default(),
            behavioral: gw_detect::behavioral::BehavioralConfig::default(),
            delivery: gw_export::delivery::DeliveryConfig::default(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Where state is kept: a SQLite file path or `sqlite://PATH`.
    pub url: String,
    /// What is kept of each accepted record: `none`, `metadata` (no bodies) or
    /// `metadata_and_bodies` (bodies expire after `retention.body_hours`).
    pub exchanges: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: "./gatewatch.db".into(),
            exchanges: "metadata".into(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days client IPs are kept (at most 30), in event time.
    pub client_ip_days: u32,
    /// Hours bodies are kept (at most 48), in event time.
    pub body_hours: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            client_ip_days: 30,
            body_hours: 48,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Input format when `--format` is not given: `auto` or a format name.
    pub format: String,
    /// Longest input line accepted; longer lines are rejected as `too_large`.
    pub max_line_bytes: usize,
    /// Largest single-document input (HAR, JSON array).
    pub max_document_bytes: u64,
    /// Records per batch handed to a pipeline worker.
    pub batch_size: usize,
    /// Pipeline partitions (worker threads); 0 = one per core.
    pub partitions: usize,
    /// Batches that may queue in front of each worker before ingest waits (back-pressure).
    pub queue_batches: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        let limits = gw_ingest::Limits::default();
        IngestConfig {
            format: "auto".into(),
            max_line_bytes: limits.max_line_bytes,
            max_document_bytes: limits.max_document_bytes,
            batch_size: 512,
            partitions: 0,
            queue_batches: 4,
        }
    }
}

impl Config {
    /// Loads `path` (or `./gatewatch.toml` when present, else the defaults), then applies
    /// `GATEWATCH_*` environment overrides, then validates.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        Self::load_with_env(path, std::env::vars())
    }

    pub fn load_with_env(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config> {
        let (mut table, origin) = match path {
            Some(p) => (read_table(p)?, p.display().to_string()),
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => (
                read_table(Path::new(DEFAULT_CONFIG_FILE))?,
                DEFAULT_CONFIG_FILE.to_string(),
            ),
            None => (toml::Table::new(), "defaults".to_string()),
        };
        apply_env(&mut table, env)?;
        let config: Config = toml::Value::Table(table)
            .try_into()
            .with_context(|| format!("{origin}: invalid configuration"))?;
        config
            .validate()
            .with_context(|| format!("{origin}: invalid configuration"))?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<()> {
        if self.version != 1 {
            bail!("version: expected 1, found {}", self.version);
        }
        self.delivery.validate().context("delivery")?;
        if self.retention.client_ip_days == 0 || self.retention.client_ip_days > 30 {
            bail!(
                "retention.client_ip_days: must be between 1 and 30, found {}",
                self.retention.client_ip_days
            );
        }
        if self.retention.body_hours > 48 {
            bail!(
                "retention.body_hours: must be at most 48, found {}",
                self.retention.body_hours
            );
        }
        if !["none", "metadata", "metadata_and_bodies"].contains(&self.store.exchanges.as_str()) {
            bail!(
                "store.exchanges: expected none, metadata or metadata_and_bodies, found \"{}\"",
                self.store.exchanges
            );
        }
        self.ingest
            .format
            .parse::<gw_ingest::FormatChoice>()
            .map_err(|e| anyhow::anyhow!("ingest.format: {e}"))?;
        if self.ingest.batch_size == 0 || self.ingest.batch_size > 65_536 {
            bail!(
                "ingest.batch_size: must be between 1 and 65536, found {}",
                self.ingest.batch_size
            );
        }
        gw_ingest::normalize::Normalizer::new(&self.normalize, &[0; 32])
            .map_err(|e| anyhow::anyhow!("normalize: {e}"))?;
        self.enrich
            .validate()
            .map_err(|e| anyhow::anyhow!("enrich: {e}"))?;
        gw_classify::Classifier::new(&self.classify)
            .map_err(|e| anyhow::anyhow!("classify: {e}"))?;
        self.classify
            .sampling
            .validate()
            .map_err(|e| anyhow::anyhow!("classify: {e}"))?;
        if self.detect.alert_window_minutes == 0 || self.detect.alert_window_minutes > 7 * 24 * 60 {
            bail!(
                "detect.alert_window_minutes: must be between 1 and 10080 (a week), found {}",
                self.detect.alert_window_minutes
            );
        }
        if self.detect.events_per_alert == 0 || self.detect.events_sample_every == 0 {
            bail!(
                "detect.events_per_alert and detect.events_sample_every: must be at least 1, found {} and {}",
                self.detect.events_per_alert,
                self.detect.events_sample_every
            );
        }
        if self.detect.max_evidence_ids == 0 || self.detect.max_evidence_ids > 1000 {
            bail!(
                "detect.max_evidence_ids: must be between 1 and 1000, found {}",
                self.detect.max_evidence_ids
            );
        }
        if self.ingest.max_line_bytes < 1024 {
            bail!(
                "ingest.max_line_bytes: must be at least 1024, found {}",
                self.ingest.max_line_bytes
            );
        }
        Ok(())
    }

    pub fn limits(&self) -> gw_ingest::Limits {
        gw_ingest::Limits {
            max_line_bytes: self.ingest.max_line_bytes,
            max_document_bytes: self.ingest.max_document_bytes,
        }
    }

    /// The specs named in the config's `specs` list, imported.
    pub fn load_specs(&self) -> Result<Vec<gw_spec::ApiSpec>> {
        load_spec_files(&self.specs)
    }

    pub fn partitions(&self) -> usize {
        match self.ingest.partitions {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        }
    }

    /// The effective configuration as TOML, for `gatewatch config show`.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("the config always serializes")
    }
}

fn read_table(path: &Path) -> Result<toml::Table> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read config", path.display()))?;
    text.parse::<toml::Table>()
        .with_context(|| format!("{}: not valid TOML", path.display()))
}

/// `GATEWATCH_RETENTION_CLIENT_IP_DAYS=7` sets `retention.client_ip_days`. Values are read as
/// TOML (numbers, booleans, arrays) and otherwise taken as strings. An unknown section or key is
/// an error, so a typo never goes unnoticed.
fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<()> {
    let defaults = toml::Table::try_from(Config::default()).expect("defaults serialize");
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with("GATEWATCH_") && !NON_KEY_VARS.contains(&k.as_str()))
        .collect();
    vars.sort();
    for (var, raw) in vars {
        let rest = var["GATEWATCH_".len()..].to_ascii_lowercase();
        let (section, key) = defaults
            .iter()
            .filter_map(|(s, v)| v.as_table().map(|t| (s, t)))
            .find_map(|(s, t)| {
                let key = rest.strip_prefix(s.as_str())?.strip_prefix('_')?;
                t.contains_key(key).then(|| (s.clone(), key.to_string()))
            })
            .or_else(|| {
                defaults
                    .contains_key(&rest)
                    .then(|| (String::new(), rest.clone()))
            })
            .ok_or_else(|| {
                anyhow::anyhow!("{var}: not a configuration key (see `gatewatch config show`)")
            })?;
        let value = format!("v = {raw}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or(toml::Value::String(raw));
        if section.is_empty() {
            table.insert(key, value);
        } else {
            let entry = table
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let Some(t) = entry.as_table_mut() else {
                bail!("{section}: expected a table");
            };
            t.insert(key, value);
        }
    }
    Ok(())
}

/// Imports spec files, naming the file that fails.
pub fn load_spec_files(paths: &[PathBuf]) -> Result<Vec<gw_spec::ApiSpec>> {
    paths
        .iter()
        .map(|p| gw_spec::load_spec(p).with_context(|| format!("spec {}", p.display())))
        .collect()
}

/// Resolves the store location from `--db` or the config (`sqlite://` prefix optional).
pub fn store_path(config: &Config, db: Option<&Path>) -> PathBuf {
    match db {
        Some(p) => p.to_path_buf(),
        None => PathBuf::from(
            config
                .store
                .url
                .strip_prefix("sqlite://")
                .unwrap_or(&config.store.url),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_valid_and_print_every_key() {
        let c = Config::load_with_env(None, env(&[])).unwrap();
        assert_eq!(c.to_toml(), Config::default().to_toml());
        let text = c.to_toml();
        for key in [
            "client_ip_days = 30",
            "body_hours = 48",
            "url = \"./gatewatch.db\"",
            "batch_size = 512",
        ] {
            assert!(text.contains(key), "{key} missing from:\n{text}");
        }
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(back.to_toml(), c.to_toml());
    }

    #[test]
    fn file_then_environment_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.toml");
        std::fs::write(
            &path,
            "[retention]\nclient_ip_days = 10\n[ingest]\nformat = \"native\"\n",
        )
        .unwrap();
        let c = Config::load_with_env(
            Some(&path),
            env(&[
                ("GATEWATCH_RETENTION_CLIENT_IP_DAYS", "7"),
                ("GATEWATCH_STORE_URL", "/tmp/x.db"),
                ("GATEWATCH_CONFIG", "ignored"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(c.retention.client_ip_days, 7);
        assert_eq!(c.store.url, "/tmp/x.db");
        assert_eq!(c.ingest.format, "native");
        assert_eq!(c.retention.body_hours, 48);
    }

    #[test]
    fn errors_name_the_key_and_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.toml");
        std::fs::write(&path, "[retention]\nclient_ip_dayz = 10\n").unwrap();
        let err = format!(
            "{:#}",
            Config::load_with_env(Some(&path), env(&[])).unwrap_err()
        );
        assert!(err.contains("client_ip_dayz"), "{err}");

        let err = format!(
            "{:#}",
            Config::load_with_env(None, env(&[("GATEWATCH_RETENTION_BODY_HOURS", "72")]))
                .unwrap_err()
        );
        assert!(
            err.contains("retention.body_hours: must be at most 48, found 72"),
            "{err}"
        );

        let err = format!(
            "{:#}",
            Config::load_with_env(None, env(&[("GATEWATCH_RETENTON_BODY_HOURS", "1")]))
                .unwrap_err()
        );
        assert!(
            err.contains("GATEWATCH_RETENTON_BODY_HOURS: not a configuration key"),
            "{err}"
        );

        let err = format!(
            "{:#}",
            Config::load_with_env(None, env(&[("GATEWATCH_INGEST_FORMAT", "syslog")])).unwrap_err()
        );
        assert!(
            err.contains("ingest.format: unknown format \"syslog\""),
            "{err}"
        );
    }

    #[test]
    fn store_path_accepts_sqlite_urls() {
        let mut c = Config::default();
        c.store.url = "sqlite:///var/lib/gw.db".into();
        assert_eq!(store_path(&c, None), PathBuf::from("/var/lib/gw.db"));
        assert_eq!(
            store_path(&c, Some(Path::new("x.db"))),
            PathBuf::from("x.db")
        );
    }
}
