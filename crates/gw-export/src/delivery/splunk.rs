//! `splunk_hec` sink: concatenated HEC events to `/services/collector/event`, split into bodies
//! under the collector's size limit.

use std::time::Duration;

use gw_model::Finding;

use super::config::SplunkHecConfig;
use super::http::HttpClient;
use super::{Failure, Outcome, Transport, send_bodies};
use crate::batch::{BodyShape, pack_indexed};
use crate::splunk::{HecOptions, to_hec_event};
use crate::{Producer, Result};

/// Path of the HEC event endpoint.
pub(crate) const EVENT_PATH: &str = "/services/collector/event";

pub(crate) struct HecTransport {
    client: HttpClient,
    url: String,
    authorization: String,
    options: HecOptions,
    producer: Producer,
    max_body_bytes: usize,
}

impl HecTransport {
    pub(crate) fn new(sink: &str, config: &SplunkHecConfig, producer: &Producer) -> Result<Self> {
        let base = config.url.trim_end_matches('/');
        let url = if base.ends_with(EVENT_PATH) {
            base.to_string()
        } else {
            format!("{base}{EVENT_PATH}")
        };
        Ok(HecTransport {
            client: HttpClient::new(
                sink,
                Duration::from_millis(config.timeout_ms),
                config.ca_file.as_deref(),
            )?,
            url,
            authorization: format!("Splunk {}", config.token.expose()),
            options: HecOptions {
                source: config.source.clone(),
                sourcetype: config.sourcetype.clone(),
                index: config.index.clone(),
                event: config.event,
            },
            producer: producer.clone(),
            max_body_bytes: config.max_body_bytes,
        })
    }
}

impl Transport for HecTransport {
    fn deliver(&mut self, batch: &[Finding]) -> Outcome {
        let mut failures = Vec::new();
        let mut records = Vec::with_capacity(batch.len());
        let mut positions = Vec::with_capacity(batch.len());
        for (i, finding) in batch.iter().enumerate() {
            match to_hec_event(finding, &self.producer, &self.options) {
                Ok(event) => {
                    records.push(event.into_bytes());
                    positions.push(i);
                }
                Err(e) => failures.push((i, Failure::permanent(e.to_string()))),
            }
        }
        let packed = pack_indexed(&records, BodyShape::CONCATENATED, self.max_body_bytes);
        let headers = [
            ("Authorization", self.authorization.as_str()),
            ("Content-Type", "application/json"),
        ];
        failures.extend(send_bodies(
            packed,
            &positions,
            self.max_body_bytes,
            "splunk-hec",
            |body| self.client.post(&self.url, &headers, body).map(|_| ()),
        ));
        Outcome::from_failures(failures)
    }
}
