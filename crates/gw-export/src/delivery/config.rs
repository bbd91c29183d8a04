//! The `[delivery]` section of the Gatewatch config: sinks, their transports and filters.
//!
//! Defaults are written once, here, in the `Default` impls and `default_*` functions.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::ecs::BulkAction;
use crate::splunk::HecEvent;
use crate::syslog::SyslogPayload;
use crate::{ExportError, Result, SinkFilter};

/// Delivery of findings to sinks: where undeliverable findings go and how long callers wait.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Directory of the dead-letter files (`<dir>/<sink name>.dead-letter.ndjson`), created at
    /// start; a sink's own `dead_letter` path takes precedence.
    pub dead_letter_dir: PathBuf,
    /// How long [`crate::delivery::Dispatcher::dispatch`] blocks on a full sink queue before it
    /// dead-letters the finding for that sink.
    pub enqueue_timeout_ms: u64,
    /// How long [`crate::delivery::Dispatcher::close`] lets sinks drain their queues; what is
    /// still queued or retrying then is dead-lettered.
    pub shutdown_timeout_ms: u64,
    /// The sinks, each with its own worker thread and queue.
    pub sinks: Vec<SinkConfig>,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            dead_letter_dir: PathBuf::from("dead-letter"),
            enqueue_timeout_ms: 1_000,
            shutdown_timeout_ms: 10_000,
            sinks: Vec::new(),
        }
    }
}

impl DeliveryConfig {
    /// Checks names (non-empty, unique, file-name safe) and each transport's settings.
    pub fn validate(&self) -> Result<()> {
        let mut seen = std::collections::BTreeSet::new();
        for sink in &self.sinks {
            sink.validate()?;
            if !seen.insert(sink.name.as_str()) {
                return Err(config_error(&sink.name, "two sinks have this name".into()));
            }
        }
        Ok(())
    }

    /// The dead-letter file of `sink`.
    pub fn dead_letter_path(&self, sink: &SinkConfig) -> PathBuf {
        sink.dead_letter.clone().unwrap_or_else(|| {
            self.dead_letter_dir
                .join(format!("{}.dead-letter.ndjson", sink.name))
        })
    }
}

/// One sink: a name, a filter, delivery tuning and the transport (`kind = "..."`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SinkConfig {
    /// Unique name (letters, digits, `-`, `_`, `.`); used in stats, logs and file names.
    pub name: String,
    /// Which findings this sink receives; the default passes everything.
    #[serde(default)]
    pub filter: SinkFilter,
    /// Retries of failed deliveries.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Findings waiting for this sink at most; the queue never grows beyond it.
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
    /// Findings per delivery (one request, one file flush) at most; default per kind.
    #[serde(default)]
    pub batch_max: Option<usize>,
    /// How long the worker waits for more findings to fill a batch after the first arrives.
    #[serde(default = "default_flush_interval_ms")]
    pub flush_interval_ms: u64,
    /// Dead-letter file of this sink; default `<dead_letter_dir>/<name>.dead-letter.ndjson`.
    #[serde(default)]
    pub dead_letter: Option<PathBuf>,
    /// `kind` and its settings.
    #[serde(flatten)]
    pub transport: TransportConfig,
}

fn default_queue_capacity() -> usize {
    10_000
}

fn default_flush_interval_ms() -> u64 {
    200
}

impl SinkConfig {
    /// A sink with default tuning and filter.
    pub fn new(name: &str, transport: TransportConfig) -> SinkConfig {
        SinkConfig {
            name: name.to_string(),
            filter: SinkFilter::default(),
            retry: RetryPolicy::default(),
            queue_capacity: default_queue_capacity(),
            batch_max: None,
            flush_interval_ms: default_flush_interval_ms(),
            dead_letter: None,
            transport,
        }
    }

    /// The effective batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_max
            .unwrap_or(match &self.transport {
                TransportConfig::NdjsonFile(_) | TransportConfig::Stdout(_) => 1_000,
                TransportConfig::Webhook(_) => 100,
                TransportConfig::Syslog(_) => 500,
                TransportConfig::SplunkHec(_) | TransportConfig::Sentinel(_) => 1_000,
                TransportConfig::Elastic(_) => 500,
            })
            .max(1)
    }

    /// Checks this sink's settings.
    pub fn validate(&self) -> Result<()> {
        let fail = |reason: String| Err(config_error(&self.name, reason));
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return fail("sink names use only letters, digits, '-', '_' and '.'".into());
        }
        if self.queue_capacity == 0 {
            return fail("queue_capacity must be at least 1".into());
        }
        if self.retry.attempts == 0 {
            return fail("retry.attempts must be at least 1".into());
        }
        match &self.transport {
            TransportConfig::Webhook(c) => check_url(&self.name, "url", &c.url),
            TransportConfig::SplunkHec(c) => check_url(&self.name, "url", &c.url),
            TransportConfig::Elastic(c) => {
                check_url(&self.name, "url", &c.url)?;
                match (&c.username, &c.password, &c.api_key) {
                    (Some(_), Some(_), None) | (None, None, Some(_)) | (None, None, None) => Ok(()),
                    _ => fail(
                        "set either username and password (basic auth) or api_key, not both".into(),
                    ),
                }
            }
            TransportConfig::Sentinel(c) => {
                check_url(&self.name, "endpoint", &c.endpoint)?;
                if c.dcr_immutable_id.is_empty() || c.stream.is_empty() {
                    return fail("dcr_immutable_id and stream must not be empty".into());
                }
                match (&c.bearer_token, &c.oauth) {
                    (Some(_), None) => Ok(()),
                    (None, Some(oauth)) => oauth
                        .token_url()
                        .map(|_| ())
                        .map_err(|reason| config_error(&self.name, format!("oauth: {reason}"))),
                    _ => fail("set exactly one of bearer_token and [oauth]".into()),
                }
            }
            TransportConfig::Syslog(c) => {
                if crate::syslog::Facility::new(c.facility).is_none() {
                    return fail(format!("facility {} is above 23", c.facility));
                }
                if c.address.rsplit_once(':').is_none() {
                    return fail(format!("address {:?} is not host:port", c.address));
                }
                Ok(())
            }
            TransportConfig::NdjsonFile(c) => {
                if c.max_bytes == 0 {
                    return fail("max_bytes must be at least 1".into());
                }
                Ok(())
            }
            TransportConfig::Stdout(_) => Ok(()),
        }
    }
}

fn check_url(sink: &str, field: &str, url: &str) -> Result<()> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(config_error(
            sink,
            format!("{field} {url:?} must start with http:// or https://"),
        ))
    }
}

pub(crate) fn config_error(sink: &str, reason: String) -> ExportError {
    ExportError::SinkConfig {
        sink: sink.to_string(),
        reason,
    }
}

/// Retries with exponential backoff and jitter: before retry `n` (1-based) the worker waits a
/// random time in `[d/2, d]` where `d = min(cap, base × 2^(n-1))`, or the server's
/// `Retry-After` when that is longer (still at most `cap`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Delivery attempts in total, the first included; then the finding is dead-lettered.
    pub attempts: u32,
    /// First backoff, milliseconds.
    pub base_ms: u64,
    /// Longest backoff, milliseconds.
    pub cap_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base_ms: 500,
            cap_ms: 30_000,
        }
    }
}

impl RetryPolicy {
    /// The upper bound of the wait before retry `retry` (1-based), without jitter.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u64 << retry.saturating_sub(1).min(32);
        Duration::from_millis(self.base_ms.saturating_mul(factor).min(self.cap_ms))
    }

    /// The wait before retry `retry`: jittered in `[ceiling/2, ceiling]`, at least
    /// `retry_after` (capped at `cap_ms`).
    pub fn delay(
        &self,
        retry: u32,
        retry_after: Option<Duration>,
        rng: &mut impl rand::Rng,
    ) -> Duration {
        let ceiling = self.ceiling(retry).as_millis() as u64;
        let jittered = rng.random_range(ceiling / 2..=ceiling);
        let cap = Duration::from_millis(self.cap_ms);
        Duration::from_millis(jittered).max(retry_after.unwrap_or_default().min(cap))
    }
}

/// `kind` of a sink and its transport settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TransportConfig {
    /// Size-rotated NDJSON file.
    NdjsonFile(NdjsonFileConfig),
    /// One line per finding on standard output.
    Stdout(StdoutConfig),
    /// HTTPS POST of `gatewatch.webhook/1` JSON, HMAC-signed.
    Webhook(WebhookConfig),
    /// RFC 5424 syslog over UDP, TCP or TLS.
    Syslog(SyslogConfig),
    /// Splunk HTTP Event Collector.
    SplunkHec(SplunkHecConfig),
    /// Microsoft Sentinel through the Azure Monitor Logs Ingestion API.
    Sentinel(SentinelConfig),
    /// Elastic `_bulk` with ECS documents.
    Elastic(ElasticConfig),
}

impl TransportConfig {
    /// The `kind` name.
    pub fn kind(&self) -> &'static str {
        match self {
            TransportConfig::NdjsonFile(_) => "ndjson_file",
            TransportConfig::Stdout(_) => "stdout",
            TransportConfig::Webhook(_) => "webhook",
            TransportConfig::Syslog(_) => "syslog",
            TransportConfig::SplunkHec(_) => "splunk_hec",
            TransportConfig::Sentinel(_) => "sentinel",
            TransportConfig::Elastic(_) => "elastic",
        }
    }
}

/// How file and stdout sinks write a finding line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineFormat {
    /// `gatewatch.finding/1` JSON.
    #[default]
    Json,
    /// OCSF JSON.
    Ocsf,
    /// CEF.
    Cef,
}

/// `kind = "ndjson_file"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NdjsonFileConfig {
    pub path: PathBuf,
    /// Rotate before the file would exceed this many bytes; default 100 MiB.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// Rotated files kept; default 5.
    #[serde(default = "default_keep")]
    pub keep: usize,
    #[serde(default)]
    pub format: LineFormat,
}

fn default_max_bytes() -> u64 {
    100 << 20
}

fn default_keep() -> usize {
    5
}

/// `kind = "stdout"`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StdoutConfig {
    pub format: LineFormat,
}

/// `kind = "webhook"`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    /// HMAC-SHA256 key of the `Gatewatch-Signature` header; unsigned when absent.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// Per-request timeout; default 10 s.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// PEM file of the CA certificates to trust instead of the Mozilla roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn default_timeout_ms() -> u64 {
    10_000
}

/// Syslog transport protocol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyslogProtocol {
    /// One message per datagram (RFC 5426).
    #[default]
    Udp,
    /// Octet-counted frames (RFC 6587).
    Tcp,
    /// Octet-counted frames over TLS (RFC 5425).
    Tls,
}

/// `kind = "syslog"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    /// `host:port` of the collector.
    pub address: String,
    #[serde(default)]
    pub protocol: SyslogProtocol,
    /// Facility code 0–23; default 14 (log alert).
    #[serde(default = "default_facility")]
    pub facility: u8,
    /// APP-NAME; default `gatewatch`.
    #[serde(default = "default_app_name")]
    pub app_name: String,
    /// MSG content; default CEF.
    #[serde(default)]
    pub payload: SyslogPayload,
    /// Prefix MSG with the UTF-8 BOM.
    #[serde(default)]
    pub utf8_bom: bool,
    /// TLS: CA certificates (PEM) to trust instead of the Mozilla roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// TLS: name to verify the collector's certificate against; default the host of `address`.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Connect and write timeout; default 10 s.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_facility() -> u8 {
    crate::syslog::Facility::LOG_ALERT.code()
}

fn default_app_name() -> String {
    "gatewatch".to_string()
}

/// `kind = "splunk_hec"`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplunkHecConfig {
    /// Base URL of the collector, e.g. `https://splunk.example.com:8088`; the path
    /// `/services/collector/event` is appended.
    pub url: String,
    /// HEC token (`Authorization: Splunk <token>`).
    pub token: Secret,
    #[serde(default)]
    pub index: Option<String>,
    #[serde(default = "default_source")]
    pub source: String,
    #[serde(default = "default_sourcetype")]
    pub sourcetype: String,
    /// `native` (`gatewatch.finding/1`) or `ocsf`.
    #[serde(default)]
    pub event: HecEvent,
    /// Request body limit (Splunk's `max_content_length`); default 1 000 000.
    #[serde(default = "default_body_limit")]
    pub max_body_bytes: usize,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn default_source() -> String {
    "gatewatch".to_string()
}

fn default_sourcetype() -> String {
    crate::splunk::SOURCETYPE.to_string()
}

fn default_body_limit() -> usize {
    crate::sentinel::MAX_BODY_BYTES
}

/// `kind = "sentinel"`: `POST {endpoint}/dataCollectionRules/{dcr_immutable_id}/streams/{stream}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelConfig {
    /// Logs ingestion endpoint of the DCR or the data collection endpoint (DCE).
    pub endpoint: String,
    pub dcr_immutable_id: String,
    /// Default `Custom-GatewatchFindings_CL`.
    #[serde(default = "default_stream")]
    pub stream: String,
    /// A fixed bearer token; or use `[oauth]`.
    #[serde(default)]
    pub bearer_token: Option<Secret>,
    /// OAuth 2.0 client-credentials flow; tokens are cached until shortly before expiry.
    #[serde(default)]
    pub oauth: Option<OAuthConfig>,
    /// Request body limit; default and maximum of the service 1 000 000.
    #[serde(default = "default_body_limit")]
    pub max_body_bytes: usize,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn default_stream() -> String {
    crate::sentinel::STREAM_NAME.to_string()
}

/// OAuth 2.0 client credentials of a Microsoft Entra app registration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthConfig {
    /// Token endpoint; default `https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token`.
    #[serde(default)]
    pub token_url: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
    pub client_id: String,
    pub client_secret: Secret,
    /// Default `https://monitor.azure.com//.default`.
    #[serde(default = "default_scope")]
    pub scope: String,
}

fn default_scope() -> String {
    "https://monitor.azure.com//.default".to_string()
}

impl OAuthConfig {
    /// The token endpoint: `token_url`, else derived from `tenant_id`.
    pub fn token_url(&self) -> std::result::Result<String, String> {
        match (&self.token_url, &self.tenant_id) {
            (Some(url), _) if url.starts_with("http://") || url.starts_with("https://") => {
                Ok(url.clone())
            }
            (Some(url), _) => Err(format!(
                "token_url {url:?} must start with http:// or https://"
            )),
            (None, Some(tenant)) if !tenant.is_empty() => Ok(format!(
                "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
            )),
            _ => Err("set token_url or tenant_id".to_string()),
        }
    }
}

/// `kind = "elastic"`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElasticConfig {
    /// Base URL of the cluster; `/_bulk` is appended.
    pub url: String,
    /// Index or data stream; default `gatewatch-findings`.
    #[serde(default = "default_index")]
    pub index: String,
    /// `index` (default; replaces earlier copies) or `create` (data streams).
    #[serde(default)]
    pub action: BulkAction,
    /// Basic auth user.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    /// Encoded API key (`Authorization: ApiKey <api_key>`).
    #[serde(default)]
    pub api_key: Option<Secret>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn default_index() -> String {
    "gatewatch-findings".to_string()
}

/// A token, password or key. Its value never appears in `Debug`, serialized config, logs or
/// errors. In TOML it is a string, `{ env = "VAR" }` or `{ file = "/run/secrets/x" }` (read
/// when the config is loaded, trailing newline removed).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    value: String,
    source: SecretSource,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum SecretSource {
    Inline,
    Env(String),
    File(PathBuf),
}

impl Secret {
    /// A secret given in the config itself.
    pub fn new(value: &str) -> Secret {
        Secret {
            value: value.to_string(),
            source: SecretSource::Inline,
        }
    }

    /// The value; only for building a request.
    pub fn expose(&self) -> &str {
        &self.value
    }

    fn from_env(name: &str) -> std::result::Result<Secret, String> {
        let value = std::env::var(name)
            .map_err(|e| format!("secret from environment variable {name}: {e}"))?;
        Ok(Secret {
            value,
            source: SecretSource::Env(name.to_string()),
        })
    }

    fn from_file(path: &Path) -> std::result::Result<Secret, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("secret from file {}: {e}", path.display()))?;
        Ok(Secret {
            value: text.trim_end_matches(['\r', '\n']).to_string(),
            source: SecretSource::File(path.to_path_buf()),
        })
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            SecretSource::Inline => f.write_str("Secret(<redacted>)"),
            SecretSource::Env(name) => write!(f, "Secret(env {name})"),
            SecretSource::File(path) => write!(f, "Secret(file {})", path.display()),
        }
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match &self.source {
            SecretSource::Inline => serializer.serialize_str("<redacted>"),
            SecretSource::Env(name) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("env", name)?;
                map.end()
            }
            SecretSource::File(path) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("file", path)?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct SecretVisitor;
        impl<'de> Visitor<'de> for SecretVisitor {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, { env = \"VAR\" } or { file = \"path\" }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Secret, E> {
                Ok(Secret::new(v))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Secret, A::Error> {
                let Some((key, value)) = map.next_entry::<String, String>()? else {
                    return Err(de::Error::custom("empty secret table"));
                };
                if map.next_key::<String>()?.is_some() {
                    return Err(de::Error::custom("a secret table has exactly one key"));
                }
                match key.as_str() {
                    "env" => Secret::from_env(&value).map_err(de::Error::custom),
                    "file" => Secret::from_file(Path::new(&value)).map_err(de::Error::custom),
                    other => Err(de::Error::unknown_field(other, &["env", "file"])),
                }
            }
        }
        deserializer.deserialize_any(SecretVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let policy = RetryPolicy {
            attempts: 10,
            base_ms: 100,
            cap_ms: 1_000,
        };
        let ceilings: Vec<u64> = (1..=6)
            .map(|n| policy.ceiling(n).as_millis() as u64)
            .collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1_000, 1_000]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for n in 1..=6 {
            let d = policy.delay(n, None, &mut rng);
            let c = policy.ceiling(n);
            assert!(d >= c / 2 && d <= c, "retry {n}: {d:?}");
        }
        let long = policy.delay(1, Some(Duration::from_millis(700)), &mut rng);
        assert_eq!(long, Duration::from_millis(700));
        let capped = policy.delay(1, Some(Duration::from_secs(60)), &mut rng);
        assert_eq!(capped, Duration::from_millis(1_000));
    }

    #[test]
    fn secrets_are_redacted_in_debug_and_serialization() {
        let s: Secret = toml::from_str::<toml::Table>("s = \"hunter2\"").unwrap()["s"]
            .clone()
            .try_into()
            .unwrap();
        assert_eq!(s.expose(), "hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"<redacted>\"");
    }

    #[test]
    fn secret_from_file_and_missing_env_name_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "tok-123\n").unwrap();
        let table: toml::Table = toml::from_str(&format!(
            "s = {{ file = {:?} }}",
            path.display().to_string()
        ))
        .unwrap();
        let s: Secret = table["s"].clone().try_into().unwrap();
        assert_eq!(s.expose(), "tok-123");
        assert!(format!("{s:?}").contains("file"));
        let table: toml::Table =
            toml::from_str("s = { env = \"GW_EXPORT_TEST_SURELY_UNSET_VAR\" }").unwrap();
        let err = table["s"].clone().try_into::<Secret>().unwrap_err();
        assert!(
            err.to_string().contains("GW_EXPORT_TEST_SURELY_UNSET_VAR"),
            "{err}"
        );
    }
}
