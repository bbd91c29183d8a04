//! `elastic` sink: `_bulk` NDJSON of ECS documents; per-document errors in the response are
//! retried (429, 5xx) or dead-lettered with Elastic's reason.

use std::time::Duration;

use base64::Engine as _;
use gw_model::Finding;
use serde_json::Value;

use super::config::ElasticConfig;
use super::http::{HttpClient, is_retryable_status};
use super::{Failure, Outcome, Transport};
use crate::Result;
use crate::ecs::{BulkAction, write_bulk};

pub(crate) struct ElasticTransport {
    client: HttpClient,
    url: String,
    index: String,
    action: BulkAction,
    authorization: Option<String>,
}

impl ElasticTransport {
    pub(crate) fn new(sink: &str, config: &ElasticConfig) -> Result<Self> {
        let authorization = match (&config.username, &config.password, &config.api_key) {
            (Some(user), Some(password), _) => {
                let pair = format!("{user}:{}", password.expose());
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ))
            }
            (_, _, Some(key)) => Some(format!("ApiKey {}", key.expose())),
            _ => None,
        };
        Ok(ElasticTransport {
            client: HttpClient::new(
                sink,
                Duration::from_millis(config.timeout_ms),
                config.ca_file.as_deref(),
            )?,
            url: format!("{}/_bulk", config.url.trim_end_matches('/')),
            index: config.index.clone(),
            action: config.action,
            authorization,
        })
    }
}

impl Transport for ElasticTransport {
    fn deliver(&mut self, batch: &[Finding]) -> Outcome {
        let mut body = Vec::new();
        if let Err(e) = write_bulk(&mut body, batch, &self.index, self.action) {
            return Outcome::all_failed(batch.len(), &Failure::permanent(e.to_string()));
        }
        let mut headers = vec![("Content-Type", "application/x-ndjson")];
        if let Some(auth) = &self.authorization {
            headers.push(("Authorization", auth.as_str()));
        }
        match self.client.post(&self.url, &headers, &body) {
            Ok(reply) => item_failures(&reply.body, batch.len()),
            Err(failure) => Outcome::all_failed(batch.len(), &failure),
        }
    }
}

/// Reads the `_bulk` response: `errors` false means all were accepted; otherwise each item
/// with a status of 300 or more failed.
pub(crate) fn item_failures(response: &str, len: usize) -> Outcome {
    let parsed: Value = match serde_json::from_str(response) {
        Ok(v) => v,
        Err(e) => {
            let reason = format!("_bulk response is not JSON ({e}); outcome unknown");
            return Outcome::all_failed(len, &Failure::retryable(reason));
        }
    };
    if parsed["errors"] == Value::Bool(false) {
        return Outcome::Delivered;
    }
    let items = parsed["items"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if items.len() != len {
        let reason = format!(
            "_bulk response has {} items for {len} documents; outcome unknown",
            items.len()
        );
        return Outcome::all_failed(len, &Failure::retryable(reason));
    }
    let mut failures = Vec::new();
    for (i, item) in items.iter().enumerate() {
        // Each item is {"index": {...}} or {"create": {...}}.
        let result = item
            .as_object()
            .and_then(|o| o.values().next())
            .unwrap_or(&Value::Null);
        let status = result["status"].as_u64().unwrap_or(0) as u16;
        if (200..300).contains(&status) {
            continue;
        }
        let error = &result["error"];
        let reason = format!(
            "Elastic rejected the document: status {status}, {}: {}",
            error["type"].as_str().unwrap_or("unknown error"),
            error["reason"].as_str().unwrap_or("")
        );
        let failure = if is_retryable_status(status) {
            Failure::retryable(reason)
        } else {
            Failure::permanent(reason)
        };
        failures.push((i, failure));
    }
    Outcome::from_failures(failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_response_items_map_to_retry_or_dead_letter() {
        assert!(matches!(
            item_failures(r#"{"errors":false,"items":[]}"#, 2),
            Outcome::Delivered
        ));
        let response = r#"{"errors":true,"items":[
            {"index":{"status":201}},
            {"index":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"bad field"}}},
            {"create":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue"}}}]}"#;
        let Outcome::Failed(f) = item_failures(response, 3) else {
            panic!("expected failures");
        };
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].0, 1);
        assert!(
            !f[0].1.retryable
                && f[0]
                    .1
                    .reason
                    .contains("mapper_parsing_exception: bad field")
        );
        assert_eq!(f[1].0, 2);
        assert!(f[1].1.retryable);
        let Outcome::Failed(f) = item_failures(r#"{"errors":true,"items":[]}"#, 1) else {
            panic!("expected failures");
        };
        assert!(f[0].1.retryable && f[0].1.reason.contains("0 items for 1"));
    }
}
