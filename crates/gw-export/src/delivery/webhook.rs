//! `webhook` sink: one signed `gatewatch.webhook/1` POST per batch.

use std::time::Duration;

use gw_model::Finding;

use super::config::WebhookConfig;
use super::http::HttpClient;
use super::{Failure, Outcome, Transport};
use crate::Result;
use crate::webhook::{SIGNATURE_HEADER, sign_webhook, webhook_body};

pub(crate) struct WebhookTransport {
    client: HttpClient,
    config: WebhookConfig,
}

impl WebhookTransport {
    pub(crate) fn new(sink: &str, config: &WebhookConfig) -> Result<Self> {
        Ok(WebhookTransport {
            client: HttpClient::new(
                sink,
                Duration::from_millis(config.timeout_ms),
                config.ca_file.as_deref(),
            )?,
            config: config.clone(),
        })
    }
}

impl Transport for WebhookTransport {
    fn deliver(&mut self, batch: &[Finding]) -> Outcome {
        let body = match webhook_body(batch) {
            Ok(body) => body,
            Err(e) => return Outcome::all_failed(batch.len(), &Failure::permanent(e.to_string())),
        };
        // Signed at each attempt, so a retry carries a fresh timestamp within the receiver's
        // replay window.
        let signature = self.config.secret.as_ref().map(|s| {
            sign_webhook(
                s.expose().as_bytes(),
                jiff::Timestamp::now().as_second(),
                &body,
            )
        });
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(signature) = &signature {
            headers.push((SIGNATURE_HEADER, signature.as_str()));
        }
        match self.client.post(&self.config.url, &headers, &body) {
            Ok(_) => Outcome::Delivered,
            Err(failure) => Outcome::all_failed(batch.len(), &failure),
        }
    }
}
