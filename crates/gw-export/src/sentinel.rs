//! Microsoft Sentinel / Azure Monitor Logs Ingestion API bodies for the custom table
//! `GatewatchFindings_CL` (stream `Custom-GatewatchFindings_CL`).
//!
//! A body is a JSON array of flat rows matching the stream declaration
//! ([`stream_declaration`], to put in the DCR), at most [`MAX_BODY_BYTES`] per call. Column names
//! follow the service rules: a letter first, at most 45 letters, digits or `_`, none of the
//! reserved names (`Title`, `Type`, `id`, `TenantId`, …) — hence `FindingTitle`, not `Title`.
//! `Severity` uses ASIM's scale (Informational/Low/Medium/High, critical → High) so ASIM-aware
//! analytics work; `SeverityName` keeps Gatewatch's own level.

use gw_model::{Finding, Severity};
use serde::Serialize;

use crate::batch::{BodyShape, pack_bodies};
use crate::ocsf::kind_name;
use crate::taxonomy::{asim_severity, rfc3339_ms};
use crate::{ExportError, Result};

/// Stream name of the findings table.
pub const STREAM_NAME: &str = "Custom-GatewatchFindings_CL";
/// Table the stream writes to.
pub const TABLE_NAME: &str = "GatewatchFindings_CL";
/// Logs Ingestion API limit per call (1 MB, counted in decimal to stay clear of it).
pub const MAX_BODY_BYTES: usize = 1_000_000;

/// One row of `GatewatchFindings_CL`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FindingRow<'a> {
    pub time_generated: String,
    pub finding_id: &'a str,
    pub fingerprint: &'a str,
    pub finding_kind: &'static str,
    pub rule_id: &'a str,
    pub rule_name: &'a str,
    pub rule_version: u32,
    pub finding_title: &'a str,
    pub description: &'a str,
    pub severity: &'static str,
    pub severity_name: &'static str,
    pub confidence: &'static str,
    pub status: &'static str,
    pub first_seen: String,
    pub last_seen: String,
    pub event_count: u64,
    pub endpoint_id: Option<&'a str>,
    pub endpoint_host: Option<&'a str>,
    pub endpoint_method: Option<&'a str>,
    pub endpoint_template: Option<&'a str>,
    pub src_ip_addr: Option<String>,
    pub src_username: Option<&'a str>,
    pub http_user_agent: Option<&'a str>,
    pub src_geo_country: Option<&'a str>,
    pub src_asn: Option<u32>,
    pub src_is_tor_exit: Option<bool>,
    pub owasp_ids: Vec<&'static str>,
    pub mitre_tactics: Vec<&'a str>,
    pub mitre_techniques: Vec<&'a str>,
    pub evidence: &'a gw_model::Evidence,
    pub remediation: Option<&'a str>,
    pub references: &'a [String],
}

/// The DCR `streamDeclarations` columns of [`STREAM_NAME`], in row order: `(name, type)`.
pub const COLUMNS: &[(&str, &str)] = &[
    ("TimeGenerated", "datetime"),
    ("FindingId", "string"),
    ("Fingerprint", "string"),
    ("FindingKind", "string"),
    ("RuleId", "string"),
    ("RuleName", "string"),
    ("RuleVersion", "int"),
    ("FindingTitle", "string"),
    ("Description", "string"),
    ("Severity", "string"),
    ("SeverityName", "string"),
    ("Confidence", "string"),
    ("Status", "string"),
    ("FirstSeen", "datetime"),
    ("LastSeen", "datetime"),
    ("EventCount", "long"),
    ("EndpointId", "string"),
    ("EndpointHost", "string"),
    ("EndpointMethod", "string"),
    ("EndpointTemplate", "string"),
    ("SrcIpAddr", "string"),
    ("SrcUsername", "string"),
    ("HttpUserAgent", "string"),
    ("SrcGeoCountry", "string"),
    ("SrcAsn", "int"),
    ("SrcIsTorExit", "boolean"),
    ("OwaspIds", "dynamic"),
    ("MitreTactics", "dynamic"),
    ("MitreTechniques", "dynamic"),
    ("Evidence", "dynamic"),
    ("Remediation", "string"),
    ("References", "dynamic"),
];

/// The `streamDeclarations` object for the DCR.
pub fn stream_declaration() -> serde_json::Value {
    let columns: Vec<serde_json::Value> = COLUMNS
        .iter()
        .map(|(name, kind)| serde_json::json!({"name": name, "type": kind}))
        .collect();
    serde_json::json!({ STREAM_NAME: { "columns": columns } })
}

/// Maps one finding to its row. `TimeGenerated` is the finding's `last_seen`.
pub fn to_row(f: &Finding) -> FindingRow<'_> {
    let actor = f.actor.as_ref();
    let endpoint = f.endpoint.as_ref();
    FindingRow {
        time_generated: rfc3339_ms(f.last_seen),
        finding_id: &f.id,
        fingerprint: &f.fingerprint,
        finding_kind: kind_name(f.kind),
        rule_id: &f.rule.id,
        rule_name: &f.rule.name,
        rule_version: f.rule.version,
        finding_title: &f.title,
        description: &f.description,
        severity: asim_severity(f.severity),
        severity_name: Severity::as_str(f.severity),
        confidence: match f.confidence {
            gw_model::Confidence::Low => "Low",
            gw_model::Confidence::Medium => "Medium",
            gw_model::Confidence::High => "High",
        },
        status: f.status.as_str(),
        first_seen: rfc3339_ms(f.first_seen),
        last_seen: rfc3339_ms(f.last_seen),
        event_count: f.count,
        endpoint_id: endpoint.map(|e| e.id.as_str()),
        endpoint_host: endpoint.map(|e| e.host.as_str()),
        endpoint_method: endpoint.map(|e| e.method.as_str()),
        endpoint_template: endpoint.map(|e| e.template.as_str()),
        src_ip_addr: actor.and_then(|a| a.ip).map(|ip| ip.to_string()),
        src_username: actor.and_then(|a| a.identity.as_deref()),
        http_user_agent: actor.and_then(|a| a.user_agent.as_deref()),
        src_geo_country: actor.and_then(|a| a.country.as_deref()),
        src_asn: actor.and_then(|a| a.asn),
        src_is_tor_exit: actor.and_then(|a| a.tor_exit),
        owasp_ids: f.owasp.iter().map(|o| o.code()).collect(),
        mitre_tactics: f.mitre.iter().map(|m| m.tactic.as_str()).collect(),
        mitre_techniques: f.mitre.iter().map(|m| m.technique.as_str()).collect(),
        evidence: &f.evidence,
        remediation: f.remediation.as_deref(),
        references: &f.references,
    }
}

/// Request bodies (JSON arrays of rows), each at most `limit` bytes, in order, no row dropped.
/// A row that alone exceeds `limit` is an error naming its finding.
pub fn ingestion_bodies(findings: &[Finding], limit: usize) -> Result<Vec<Vec<u8>>> {
    let rows = findings
        .iter()
        .map(|f| {
            serde_json::to_vec(&to_row(f))
                .map(|row| (f.id.as_str(), row))
                .map_err(|e| ExportError::json(&f.id, "sentinel", e))
        })
        .collect::<Result<Vec<_>>>()?;
    pack_bodies(rows, BodyShape::JSON_ARRAY, limit, "sentinel")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{all, spike, sqli};
    use serde_json::Value;

    const RESERVED: &[&str] = &[
        "_ResourceId",
        "id",
        "_SubscriptionId",
        "TenantId",
        "Type",
        "UniqueId",
        "Title",
    ];

    #[test]
    fn row_keys_are_exactly_the_declared_columns_and_valid_names() {
        let row = serde_json::to_value(to_row(&sqli())).unwrap();
        let keys: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut declared: Vec<&str> = COLUMNS.iter().map(|(n, _)| *n).collect();
        let mut sorted_keys = keys.clone();
        sorted_keys.sort_unstable();
        declared.sort_unstable();
        assert_eq!(sorted_keys, declared);
        for (name, _) in COLUMNS {
            assert!(name.len() <= 45 && name.starts_with(|c: char| c.is_ascii_alphabetic()));
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
            assert!(!RESERVED.contains(name), "{name} is reserved");
        }
        let decl = stream_declaration();
        assert_eq!(decl[STREAM_NAME]["columns"][0]["name"], "TimeGenerated");
    }

    #[test]
    fn row_values_map_severity_time_and_actor() {
        let row = serde_json::to_value(to_row(&spike())).unwrap();
        assert_eq!(row["Severity"], "High", "critical maps to ASIM High");
        assert_eq!(row["SeverityName"], "critical");
        assert_eq!(row["TimeGenerated"], "2024-06-10T09:20:00.000Z");
        assert_eq!(row["SrcIpAddr"], "2001:db8::7");
        assert_eq!(row["SrcIsTorExit"], true);
        assert_eq!(row["OwaspIds"][0], "API4:2023");
        assert_eq!(row["Evidence"]["metrics"]["observed"], 912.0);
    }

    #[test]
    fn bodies_split_under_the_limit_and_keep_every_row() {
        let findings: Vec<Finding> = (0..40)
            .flat_map(|i| {
                all().into_iter().map(move |mut f| {
                    f.id = format!("{}-{i}", f.id);
                    f
                })
            })
            .collect();
        let limit = 8_000;
        let bodies = ingestion_bodies(&findings, limit).unwrap();
        assert!(bodies.len() > 1);
        let mut ids = Vec::new();
        for body in &bodies {
            assert!(body.len() <= limit);
            let rows: Vec<Value> = serde_json::from_slice(body).unwrap();
            ids.extend(
                rows.iter()
                    .map(|r| r["FindingId"].as_str().unwrap().to_string()),
            );
        }
        let expected: Vec<String> = findings.iter().map(|f| f.id.clone()).collect();
        assert_eq!(ids, expected);
    }

    #[test]
    fn a_row_over_the_limit_is_an_error_naming_the_finding() {
        let mut big = sqli();
        big.description = "x".repeat(MAX_BODY_BYTES);
        let err = ingestion_bodies(&[posture_like(), big], MAX_BODY_BYTES)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("f-0192a3b4-sqli") && err.contains("sentinel"),
            "{err}"
        );
    }

    fn posture_like() -> Finding {
        crate::test_support::posture()
    }
}
