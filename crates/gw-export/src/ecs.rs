//! Elastic `_bulk` NDJSON with Elastic Common Schema (ECS 8.x) documents.
//!
//! Each finding is an action line plus a document line. The action is `index` with
//! `_id` = finding id by default, so a re-exported finding (higher `count`, later `last_seen`)
//! replaces its earlier copy; data streams only accept `create`, chosen with [`BulkAction`].
//!
//! ATT&CK references go to `threat.*` with framework `MITRE ATT&CK`; a finding with OWASP codes
//! but no ATT&CK reference uses framework `OWASP API Security Top 10 2023` with the codes as
//! technique ids. OWASP codes are always in `tags`. `event.severity` is the OCSF 1–5 scale
//! (info 1 … critical 5); `@timestamp` is the finding's `last_seen`. Attributes with no ECS home live under the
//! custom `gatewatch` object.

use std::io::Write;

use gw_model::{Finding, FindingKind};
use serde::Serialize;

use crate::ocsf::{OWASP_STANDARD, kind_name};
use crate::taxonomy::rfc3339_ms;
use crate::{ExportError, Result, mitre_tactic_name, ocsf_severity_id};

/// The bulk action of every document.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    /// `index` with `_id` = finding id: updates replace earlier copies.
    #[default]
    Index,
    /// `create`, as data streams require (duplicates of an id are rejected by Elastic).
    Create,
}

#[derive(Serialize)]
struct ActionMeta<'a> {
    _index: &'a str,
    _id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum ActionLine<'a> {
    Index(ActionMeta<'a>),
    Create(ActionMeta<'a>),
}

/// One ECS document of a finding.
#[derive(Serialize)]
pub struct EcsDocument<'a> {
    #[serde(rename = "@timestamp")]
    timestamp: String,
    message: &'a str,
    event: EcsEvent<'a>,
    rule: EcsRule<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<EcsSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<EcsUser<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<EcsUserAgent<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<EcsUrl<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http: Option<EcsHttp<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    threat: Option<EcsThreat>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<&'static str>,
    gatewatch: GatewatchFields<'a>,
}

#[derive(Serialize)]
struct EcsEvent<'a> {
    kind: &'static str,
    category: Vec<&'static str>,
    #[serde(rename = "type")]
    event_type: Vec<&'static str>,
    severity: u8,
    id: &'a str,
    dataset: &'static str,
    start: String,
    end: String,
}

#[derive(Serialize)]
struct EcsRule<'a> {
    id: &'a str,
    name: &'a str,
    version: String,
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<&'a str>,
}

#[derive(Serialize)]
struct EcsSource {
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    geo: Option<EcsGeo>,
    #[serde(rename = "as", skip_serializing_if = "Option::is_none")]
    autonomous_system: Option<EcsAs>,
}

#[derive(Serialize)]
struct EcsGeo {
    country_iso_code: String,
}

#[derive(Serialize)]
struct EcsAs {
    number: u32,
}

#[derive(Serialize)]
struct EcsUser<'a> {
    id: &'a str,
}

#[derive(Serialize)]
struct EcsUserAgent<'a> {
    original: &'a str,
}

#[derive(Serialize)]
struct EcsUrl<'a> {
    domain: &'a str,
    path: &'a str,
}

#[derive(Serialize)]
struct EcsHttp<'a> {
    request: EcsHttpRequest<'a>,
}

#[derive(Serialize)]
struct EcsHttpRequest<'a> {
    method: &'a str,
}

#[derive(Serialize)]
struct EcsThreat {
    framework: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tactic: Option<EcsIdNames>,
    technique: EcsIdNames,
}

#[derive(Serialize)]
struct EcsIdNames {
    id: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    name: Vec<String>,
}

#[derive(Serialize)]
struct GatewatchFields<'a> {
    fingerprint: &'a str,
    kind: &'static str,
    status: &'static str,
    confidence: &'static str,
    count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tor_exit: Option<bool>,
    evidence: &'a gw_model::Evidence,
    #[serde(skip_serializing_if = "Option::is_none")]
    remediation: Option<&'a str>,
}

/// Maps one finding to its ECS document.
pub fn to_ecs(f: &Finding) -> EcsDocument<'_> {
    let actor = f.actor.as_ref();
    let source = actor.and_then(|a| {
        let s = EcsSource {
            ip: a.ip.map(|ip| ip.to_string()),
            geo: a.country.clone().map(|c| EcsGeo {
                country_iso_code: c,
            }),
            autonomous_system: a.asn.map(|number| EcsAs { number }),
        };
        (s.ip.is_some() || s.geo.is_some() || s.autonomous_system.is_some()).then_some(s)
    });
    let category = match f.kind {
        FindingKind::Threat => vec!["intrusion_detection", "web"],
        FindingKind::Posture | FindingKind::Inventory => vec!["configuration", "web"],
    };
    EcsDocument {
        timestamp: rfc3339_ms(f.last_seen),
        message: &f.title,
        event: EcsEvent {
            kind: "alert",
            category,
            event_type: vec!["info"],
            severity: ocsf_severity_id(f.severity),
            id: &f.id,
            dataset: "gatewatch.finding",
            start: rfc3339_ms(f.first_seen),
            end: rfc3339_ms(f.last_seen),
        },
        rule: EcsRule {
            id: &f.rule.id,
            name: &f.rule.name,
            version: f.rule.version.to_string(),
            description: &f.description,
            reference: f.references.first().map(String::as_str),
        },
        source,
        user: actor
            .and_then(|a| a.identity.as_deref())
            .map(|id| EcsUser { id }),
        user_agent: actor
            .and_then(|a| a.user_agent.as_deref())
            .map(|original| EcsUserAgent { original }),
        url: f.endpoint.as_ref().map(|e| EcsUrl {
            domain: &e.host,
            path: &e.template,
        }),
        http: f.endpoint.as_ref().map(|e| EcsHttp {
            request: EcsHttpRequest { method: &e.method },
        }),
        threat: threat(f),
        tags: f.owasp.iter().map(|o| o.code()).collect(),
        gatewatch: GatewatchFields {
            fingerprint: &f.fingerprint,
            kind: kind_name(f.kind),
            status: f.status.as_str(),
            confidence: match f.confidence {
                gw_model::Confidence::Low => "low",
                gw_model::Confidence::Medium => "medium",
                gw_model::Confidence::High => "high",
            },
            count: f.count,
            endpoint_id: f.endpoint.as_ref().map(|e| e.id.as_str()),
            tor_exit: actor.and_then(|a| a.tor_exit),
            evidence: &f.evidence,
            remediation: f.remediation.as_deref(),
        },
    }
}

fn threat(f: &Finding) -> Option<EcsThreat> {
    if !f.mitre.is_empty() {
        let mut tactic_ids: Vec<String> = Vec::new();
        let mut tactic_names: Vec<String> = Vec::new();
        for m in &f.mitre {
            if !tactic_ids.contains(&m.tactic) {
                tactic_ids.push(m.tactic.clone());
                if let Some(name) = mitre_tactic_name(&m.tactic) {
                    tactic_names.push(name.to_string());
                }
            }
        }
        // ECS pairs id and name arrays by position, so names are only given when all are known.
        if tactic_names.len() != tactic_ids.len() {
            tactic_names.clear();
        }
        return Some(EcsThreat {
            framework: "MITRE ATT&CK",
            tactic: Some(EcsIdNames {
                id: tactic_ids,
                name: tactic_names,
            }),
            technique: EcsIdNames {
                id: f.mitre.iter().map(|m| m.technique.clone()).collect(),
                name: Vec::new(),
            },
        });
    }
    (!f.owasp.is_empty()).then(|| EcsThreat {
        framework: OWASP_STANDARD,
        tactic: None,
        technique: EcsIdNames {
            id: f.owasp.iter().map(|o| o.code().to_string()).collect(),
            name: f.owasp.iter().map(|o| o.title().to_string()).collect(),
        },
    })
}

/// Writes `_bulk` NDJSON for `findings` into `index`: an action line and a document line each.
pub fn write_bulk<W: Write>(
    mut out: W,
    findings: &[Finding],
    index: &str,
    action: BulkAction,
) -> Result<()> {
    for f in findings {
        let meta = ActionMeta {
            _index: index,
            _id: &f.id,
        };
        let line = match action {
            BulkAction::Index => ActionLine::Index(meta),
            BulkAction::Create => ActionLine::Create(meta),
        };
        let json_err = |e| ExportError::json(&f.id, "ecs", e);
        serde_json::to_writer(&mut out, &line).map_err(json_err)?;
        newline(&mut out)?;
        serde_json::to_writer(&mut out, &to_ecs(f)).map_err(json_err)?;
        newline(&mut out)?;
    }
    Ok(())
}

fn newline<W: Write>(out: &mut W) -> Result<()> {
    out.write_all(b"\n").map_err(|source| ExportError::Write {
        format: "ecs",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{all, posture, sqli};
    use serde_json::Value;

    fn doc(f: &Finding) -> Value {
        serde_json::to_value(to_ecs(f)).unwrap()
    }

    #[test]
    fn threat_document_carries_ecs_alert_fields() {
        let v = doc(&sqli());
        assert_eq!(v["@timestamp"], "2024-06-10T09:23:20.500Z");
        assert_eq!(v["event"]["kind"], "alert");
        assert_eq!(v["event"]["category"][0], "intrusion_detection");
        assert_eq!(v["event"]["severity"], 4);
        assert_eq!(v["rule"]["id"], "GW-T-SQLI");
        assert_eq!(v["source"]["ip"], "203.0.113.45");
        assert_eq!(v["url"]["path"], "/v1/orders/{orderId}");
        assert_eq!(v["http"]["request"]["method"], "GET");
        assert_eq!(v["user"]["id"], "alice@example.com");
        assert_eq!(v["threat"]["framework"], "MITRE ATT&CK");
        assert_eq!(v["threat"]["technique"]["id"][0], "T1190");
        assert_eq!(v["threat"]["tactic"]["name"][0], "Initial Access");
        assert_eq!(v["tags"][0], "API8:2023");
    }

    #[test]
    fn posture_without_attack_uses_the_owasp_framework() {
        let v = doc(&posture());
        assert_eq!(v["event"]["category"][0], "configuration");
        assert_eq!(v["threat"]["framework"], OWASP_STANDARD);
        assert_eq!(v["threat"]["technique"]["id"][0], "API2:2023");
        assert_eq!(v["threat"]["technique"]["name"][0], "Broken Authentication");
        assert!(v.get("source").is_none());
    }

    #[test]
    fn bulk_is_action_then_document_per_finding() {
        let mut out = Vec::new();
        write_bulk(&mut out, &all(), "gatewatch-findings", BulkAction::Create).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6);
        assert_eq!(
            lines[0],
            r#"{"create":{"_index":"gatewatch-findings","_id":"f-0192a3b4-sqli"}}"#
        );
        assert!(text.ends_with('\n'));
        for doc in lines.iter().skip(1).step_by(2) {
            let v: Value = serde_json::from_str(doc).unwrap();
            assert_eq!(v["event"]["kind"], "alert");
        }
    }
}
