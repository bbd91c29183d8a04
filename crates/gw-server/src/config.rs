//! The `[server]` section of `gatewatch.toml`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What a bearer token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Send records to the `/v1/ingest*` endpoints.
    Ingest,
    /// Read findings, inventory and metrics through the API.
    Read,
    /// Everything, including configuration changes.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }
}

/// One API token. Only the SHA-256 of the secret is configured (`gatewatch serve hash-token`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Name of the token, shown in logs and metrics and used as the rate-limit key.
    pub id: String,
    /// Lower-case hex SHA-256 of the secret the client sends as `Authorization: Bearer <secret>`.
    pub sha256: String,
    pub scopes: Vec<Scope>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address the HTTP server listens on.
    pub listen: String,
    /// API tokens; with none configured every `/v1` request is refused (401).
    pub tokens: Vec<TokenConfig>,
    /// Largest request body accepted as sent (compressed), in bytes; larger bodies get 413.
    pub max_body_bytes: usize,
    /// Largest request body after gzip/zstd decompression, in bytes; larger bodies get 413.
    pub max_decompressed_bytes: usize,
    /// Directory of the ingest spool: every acknowledged batch is fsynced here first.
    pub spool_dir: PathBuf,
    /// Bytes the spool may hold before ingest answers 503 with `Retry-After`.
    pub spool_max_bytes: u64,
    /// Acknowledged batches that may wait for the pipeline before ingest answers 429.
    pub queue_batches: usize,
    /// Milliseconds a request waits for room in a full queue before it is answered 429: a
    /// short saturation becomes latency instead of a client backing off for `Retry-After`
    /// (the body stays unread in the socket meanwhile). 0 answers 429 at once.
    pub queue_wait_ms: u64,
    /// Requests per second each token may send (sustained).
    pub rate_per_second: u32,
    /// Requests a token may send in a burst above the sustained rate.
    pub rate_burst: u32,
    /// Seconds a graceful shutdown waits for in-flight requests before closing.
    pub shutdown_grace_seconds: u64,
    /// `[server.tls]`: serve HTTPS (rustls) with this certificate and key; plain HTTP without.
    pub tls: Option<crate::tls::TlsConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            tokens: Vec::new(),
            max_body_bytes: 16 * 1024 * 1024,
            max_decompressed_bytes: 128 * 1024 * 1024,
            spool_dir: PathBuf::from("./gatewatch-spool"),
            spool_max_bytes: 1024 * 1024 * 1024,
            queue_batches: 64,
            queue_wait_ms: 500,
            rate_per_second: 200,
            rate_burst: 400,
            shutdown_grace_seconds: 30,
            tls: None,
        }
    }
}

/// Upper bound of `queue_wait_ms`.
const MAX_QUEUE_WAIT_MS: u64 = 30_000;

impl ServerConfig {
    /// Checks what serde cannot: token hashes, unique ids, non-zero bounds.
    pub fn validate(&self) -> Result<(), crate::ServerError> {
        let invalid = |msg: String| Err(crate::ServerError::Config(msg));
        let mut seen = std::collections::HashSet::new();
        for (i, t) in self.tokens.iter().enumerate() {
            if t.id.is_empty() {
                return invalid(format!("server.tokens[{i}].id: must not be empty"));
            }
            if !seen.insert(t.id.as_str()) {
                return invalid(format!(
                    "server.tokens[{i}].id: \"{}\" is used by another token",
                    t.id
                ));
            }
            if crate::auth::parse_hex_sha256(&t.sha256).is_none() {
                return invalid(format!(
                    "server.tokens[{i}].sha256: expected 64 hex digits (gatewatch serve hash-token), found {} characters",
                    t.sha256.len()
                ));
            }
            if t.scopes.is_empty() {
                return invalid(format!(
                    "server.tokens[{i}].scopes: token \"{}\" has no scope (ingest, read, admin)",
                    t.id
                ));
            }
        }
        if self.queue_wait_ms > MAX_QUEUE_WAIT_MS {
            return invalid(format!(
                "server.queue_wait_ms: {} is more than {MAX_QUEUE_WAIT_MS} (a longer wait only holds connections; clients retry on 429)",
                self.queue_wait_ms
            ));
        }
        for (name, value) in [
            ("max_body_bytes", self.max_body_bytes as u64),
            ("max_decompressed_bytes", self.max_decompressed_bytes as u64),
            ("spool_max_bytes", self.spool_max_bytes),
            ("queue_batches", self.queue_batches as u64),
            ("rate_per_second", u64::from(self.rate_per_second)),
            ("rate_burst", u64::from(self.rate_burst)),
        ] {
            if value == 0 {
                return invalid(format!("server.{name}: must be greater than 0"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_section_parses_with_defaults_and_refuses_unknown_keys() {
        let c: ServerConfig = serde_json::from_value(serde_json::json!({
            "listen": "0.0.0.0:9000",
            "tokens": [{"id": "gw-shipper", "sha256": "ab".repeat(32), "scopes": ["ingest"]}]
        }))
        .unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!(c.max_body_bytes, 16 * 1024 * 1024);
        assert_eq!(c.tokens[0].scopes, vec![Scope::Ingest]);
        assert_eq!(c.tls, None);
        c.validate().unwrap();
        let c: ServerConfig = serde_json::from_value(serde_json::json!({
            "tls": {"cert": "/etc/gw/cert.pem", "key": "/etc/gw/key.pem"}
        }))
        .unwrap();
        let tls = c.tls.unwrap();
        assert_eq!(tls.cert, PathBuf::from("/etc/gw/cert.pem"));
        assert_eq!(tls.key, PathBuf::from("/etc/gw/key.pem"));
        let err = serde_json::from_value::<ServerConfig>(serde_json::json!({"tls": {"cert": "c"}}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing field `key`"), "{err}");
        let err = serde_json::from_value::<ServerConfig>(serde_json::json!({"listn": "x"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field"), "{err}");
    }

    #[test]
    fn validation_names_the_bad_token() {
        let mut c = ServerConfig::default();
        c.tokens.push(TokenConfig {
            id: "a".into(),
            sha256: "xyz".into(),
            scopes: vec![Scope::Read],
        });
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("server.tokens[0].sha256"), "{err}");
        c.tokens[0].sha256 = "00".repeat(32);
        c.tokens.push(c.tokens[0].clone());
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("server.tokens[1].id"), "{err}");
    }
}
