//! `sentinel` sink: Azure Monitor Logs Ingestion API, with a fixed bearer token or tokens from
//! the OAuth 2.0 client-credentials flow, cached until shortly before they expire.

use std::time::{Duration, Instant};

use gw_model::Finding;
use serde_json::Value;

use super::config::{OAuthConfig, Secret, SentinelConfig, config_error};
use super::http::HttpClient;
use super::{Failure, Outcome, Transport, send_bodies};
use crate::Result;
use crate::batch::{BodyShape, pack_indexed};
use crate::sentinel::to_row;

/// `api-version` of the Logs Ingestion API.
pub(crate) const API_VERSION: &str = "2023-01-01";

/// Tokens are renewed this long before they expire (or at half their life when shorter).
const EXPIRY_MARGIN: Duration = Duration::from_secs(300);

pub(crate) struct SentinelTransport {
    client: HttpClient,
    url: String,
    auth: Auth,
    max_body_bytes: usize,
}

enum Auth {
    Fixed(Secret),
    OAuth {
        config: OAuthConfig,
        token_url: String,
        cached: Option<(Secret, Instant)>,
    },
}

impl SentinelTransport {
    pub(crate) fn new(sink: &str, config: &SentinelConfig) -> Result<Self> {
        let auth = match (&config.bearer_token, &config.oauth) {
            (Some(token), _) => Auth::Fixed(token.clone()),
            (None, Some(oauth)) => Auth::OAuth {
                token_url: oauth
                    .token_url()
                    .map_err(|reason| config_error(sink, format!("oauth: {reason}")))?,
                config: oauth.clone(),
                cached: None,
            },
            (None, None) => {
                return Err(config_error(sink, "set bearer_token or [oauth]".into()));
            }
        };
        Ok(SentinelTransport {
            client: HttpClient::new(
                sink,
                Duration::from_millis(config.timeout_ms),
                config.ca_file.as_deref(),
            )?,
            url: format!(
                "{}/dataCollectionRules/{}/streams/{}?api-version={API_VERSION}",
                config.endpoint.trim_end_matches('/'),
                config.dcr_immutable_id,
                config.stream
            ),
            auth,
            max_body_bytes: config.max_body_bytes.min(crate::sentinel::MAX_BODY_BYTES),
        })
    }

    /// The bearer token, fetching a new one when there is none or it is about to expire.
    fn token(&mut self) -> std::result::Result<String, Failure> {
        match &mut self.auth {
            Auth::Fixed(token) => Ok(token.expose().to_string()),
            Auth::OAuth {
                config,
                token_url,
                cached,
            } => {
                if let Some((token, renew_at)) = cached.as_ref()
                    && Instant::now() < *renew_at
                {
                    return Ok(token.expose().to_string());
                }
                let (token, lifetime) = fetch_token(&self.client, token_url, config)?;
                let margin = EXPIRY_MARGIN.min(lifetime / 2);
                let value = token.expose().to_string();
                *cached = Some((token, Instant::now() + lifetime - margin));
                Ok(value)
            }
        }
    }

    /// Forgets a cached OAuth token the service refused.
    fn forget_token(&mut self) {
        if let Auth::OAuth { cached, .. } = &mut self.auth {
            *cached = None;
        }
    }
}

/// Client-credentials token request. Errors carry the endpoint's `error` and
/// `error_description`, never the client secret.
fn fetch_token(
    client: &HttpClient,
    token_url: &str,
    config: &OAuthConfig,
) -> std::result::Result<(Secret, Duration), Failure> {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", config.client_id.as_str()),
        ("client_secret", config.client_secret.expose()),
        ("scope", config.scope.as_str()),
    ];
    let reply = client.post_form(token_url, &form).map_err(|mut f| {
        f.reason = format!("OAuth token request: {}", f.reason);
        f
    })?;
    let parsed: Value = serde_json::from_str(&reply.body).map_err(|e| {
        Failure::retryable(format!(
            "OAuth token response from {token_url} is not JSON: {e}"
        ))
    })?;
    let token = parsed["access_token"].as_str().ok_or_else(|| {
        Failure::permanent(format!(
            "OAuth token response from {token_url} has no access_token"
        ))
    })?;
    // expires_in is a number (v2.0 endpoint) or a numeric string (v1.0 endpoint).
    let expires_in = match &parsed["expires_in"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .unwrap_or(300);
    Ok((Secret::new(token), Duration::from_secs(expires_in.max(1))))
}

impl Transport for SentinelTransport {
    fn deliver(&mut self, batch: &[Finding]) -> Outcome {
        let mut failures = Vec::new();
        let mut records = Vec::with_capacity(batch.len());
        let mut positions = Vec::with_capacity(batch.len());
        for (i, finding) in batch.iter().enumerate() {
            match serde_json::to_vec(&to_row(finding)) {
                Ok(row) => {
                    records.push(row);
                    positions.push(i);
                }
                Err(e) => failures.push((
                    i,
                    Failure::permanent(format!(
                        "finding {}: serializing as sentinel: {e}",
                        finding.id
                    )),
                )),
            }
        }
        let token = match self.token() {
            Ok(token) => token,
            Err(failure) => return Outcome::all_failed(batch.len(), &failure),
        };
        let authorization = format!("Bearer {token}");
        let headers = [
            ("Authorization", authorization.as_str()),
            ("Content-Type", "application/json"),
        ];
        let packed = pack_indexed(&records, BodyShape::JSON_ARRAY, self.max_body_bytes);
        let mut refused = false;
        let client = &self.client;
        let url = &self.url;
        failures.extend(send_bodies(
            packed,
            &positions,
            self.max_body_bytes,
            "sentinel",
            |body| {
                client
                    .post(url, &headers, body)
                    .map(|_| ())
                    .map_err(|mut f| {
                        // An expired or revoked token: fetch a new one on the retry.
                        if f.reason.starts_with("HTTP 401 ")
                            && matches!(self.auth, Auth::OAuth { .. })
                        {
                            refused = true;
                            f.retryable = true;
                        }
                        f
                    })
            },
        ));
        if refused {
            self.forget_token();
        }
        failures.sort_by_key(|(i, _)| *i);
        Outcome::from_failures(failures)
    }
}
