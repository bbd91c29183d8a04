//! Splunk HTTP Event Collector (`/services/collector/event`) envelopes.
//!
//! `{"time":<epoch s.ms>,"host":..,"source":..,"sourcetype":"gatewatch:finding","index":..,
//! "fields":{..},"event":{..}}`, batched as concatenated objects (not a JSON array). `time` is
//! the finding's `last_seen` with exactly three decimals. Index-time `fields` carry the rule id,
//! severity, OWASP codes and MITRE techniques so searches can filter without parsing `event`.

use std::collections::BTreeMap;

use gw_model::Finding;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::batch::{BodyShape, pack_bodies};
use crate::taxonomy::epoch_seconds_ms;
use crate::{ExportError, Producer, Result, ocsf};

/// Default `sourcetype`.
pub const SOURCETYPE: &str = "gatewatch:finding";

/// What the `event` member holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HecEvent {
    /// The `gatewatch.finding/1` record as is.
    #[default]
    Native,
    /// The OCSF finding event ([`ocsf::to_ocsf`]).
    Ocsf,
}

/// Envelope metadata the sink is configured with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HecOptions {
    /// `source`; default `gatewatch`.
    pub source: String,
    /// `sourcetype`; default [`SOURCETYPE`].
    pub sourcetype: String,
    /// `index`; omitted when `None` (the token's default index applies).
    pub index: Option<String>,
    pub event: HecEvent,
}

impl Default for HecOptions {
    fn default() -> Self {
        HecOptions {
            source: "gatewatch".to_string(),
            sourcetype: SOURCETYPE.to_string(),
            index: None,
            event: HecEvent::Native,
        }
    }
}

#[derive(Serialize)]
struct Envelope<'a, E: Serialize> {
    time: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    source: &'a str,
    sourcetype: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<&'a str>,
    fields: BTreeMap<&'static str, HecField>,
    event: E,
}

#[derive(Serialize)]
#[serde(untagged)]
enum HecField {
    One(String),
    Many(Vec<String>),
}

/// One finding as one HEC event object (no separator, no newline).
pub fn to_hec_event(
    finding: &Finding,
    producer: &Producer,
    options: &HecOptions,
) -> Result<String> {
    let time_text = epoch_seconds_ms(finding.last_seen);
    let time = RawValue::from_string(time_text)
        .map_err(|e| ExportError::json(&finding.id, "splunk-hec", e))?;
    let mut fields = BTreeMap::new();
    fields.insert("rule_id", HecField::One(finding.rule.id.clone()));
    fields.insert(
        "severity",
        HecField::One(finding.severity.as_str().to_string()),
    );
    if !finding.owasp.is_empty() {
        let codes = finding.owasp.iter().map(|o| o.code().to_string()).collect();
        fields.insert("owasp", HecField::Many(codes));
    }
    if !finding.mitre.is_empty() {
        let techniques = finding.mitre.iter().map(|m| m.technique.clone()).collect();
        fields.insert("mitre_technique", HecField::Many(techniques));
    }
    let result = match options.event {
        HecEvent::Native => {
            serde_json::to_string(&envelope(&time, producer, options, fields, finding))
        }
        HecEvent::Ocsf => serde_json::to_string(&envelope(
            &time,
            producer,
            options,
            fields,
            ocsf::to_ocsf(finding, producer),
        )),
    };
    result.map_err(|e| ExportError::json(&finding.id, "splunk-hec", e))
}

fn envelope<'a, E: Serialize>(
    time: &'a RawValue,
    producer: &'a Producer,
    options: &'a HecOptions,
    fields: BTreeMap<&'static str, HecField>,
    event: E,
) -> Envelope<'a, E> {
    Envelope {
        time,
        host: producer.hostname.as_deref(),
        source: &options.source,
        sourcetype: &options.sourcetype,
        index: options.index.as_deref(),
        fields,
        event,
    }
}

/// HEC request bodies (concatenated event objects), each at most `max_bytes`
/// (Splunk's `max_content_length`, 1 MB unless raised).
pub fn hec_bodies(
    findings: &[Finding],
    producer: &Producer,
    options: &HecOptions,
    max_bytes: usize,
) -> Result<Vec<Vec<u8>>> {
    let records = findings
        .iter()
        .map(|f| {
            Ok((
                f.id.as_str(),
                to_hec_event(f, producer, options)?.into_bytes(),
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    pack_bodies(records, BodyShape::CONCATENATED, max_bytes, "splunk-hec")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{all, sqli};
    use serde_json::Value;

    #[test]
    fn envelope_has_millisecond_time_and_index_fields() {
        let p = Producer::new("0.1.0").with_hostname("gw-01");
        let options = HecOptions {
            index: Some("security".into()),
            ..HecOptions::default()
        };
        let text = to_hec_event(&sqli(), &p, &options).unwrap();
        assert!(
            text.starts_with(
                r#"{"time":1718011400.500,"host":"gw-01","source":"gatewatch","sourcetype":"gatewatch:finding","index":"security","fields":{"mitre_technique":["T1190"],"owasp":["API8:2023"],"rule_id":"GW-T-SQLI","severity":"high"},"event":{"schema":"gatewatch.finding/1""#
            ),
            "{text}"
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["event"]["id"], "f-0192a3b4-sqli");
    }

    #[test]
    fn ocsf_event_body_and_no_index_when_unset() {
        let options = HecOptions {
            event: HecEvent::Ocsf,
            ..HecOptions::default()
        };
        let v: Value = serde_json::from_str(
            &to_hec_event(&sqli(), &Producer::new("0.1.0"), &options).unwrap(),
        )
        .unwrap();
        assert_eq!(v["event"]["class_uid"], 2004);
        assert!(v.get("index").is_none() && v.get("host").is_none());
    }

    #[test]
    fn batches_are_concatenated_objects_that_parse_back() {
        let p = Producer::new("0.1.0");
        let bodies = hec_bodies(&all(), &p, &HecOptions::default(), 1 << 20).unwrap();
        assert_eq!(bodies.len(), 1);
        let n = serde_json::Deserializer::from_slice(&bodies[0])
            .into_iter::<Value>()
            .count();
        assert_eq!(n, 3);
        let largest = all()
            .iter()
            .map(|f| to_hec_event(f, &p, &HecOptions::default()).unwrap().len())
            .max()
            .unwrap();
        let small = hec_bodies(&all(), &p, &HecOptions::default(), largest).unwrap();
        assert_eq!(small.len(), 3, "each event alone");
    }
}
