//! SARIF 2.1.0 output of posture findings (spec audit and gateway configuration), for CI and code
//! scanning: one run, the rules that fired (with OWASP tags and `security-severity`), one result
//! per finding located by file, line (when known) and the JSON pointer as a logical location.

use std::collections::BTreeMap;

use gw_model::{Finding, Severity};
use serde_json::{Value, json};

use crate::rule::{EXTRA_SOURCE_COLUMN, EXTRA_SOURCE_LINE, RuleMeta, split_location};

pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
pub const TOOL_NAME: &str = "gatewatch";
const INFORMATION_URI: &str = "https://example.invalid/gatewatch";

/// Every posture rule known to this crate, for SARIF rule descriptors and documentation.
pub fn all_rule_metas() -> impl Iterator<Item = &'static RuleMeta> {
    crate::spec_audit::SPEC_RULES
        .iter()
        .map(|r| &r.meta)
        .chain(crate::config::APIM_RULES.iter().map(|r| &r.meta))
        .chain(crate::config::KONG_RULES.iter().map(|r| &r.meta))
        .chain(crate::config::NGINX_RULES.iter().map(|r| &r.meta))
        .chain(crate::config::ENVOY_RULES.iter().map(|r| &r.meta))
        .chain(crate::inventory::INVENTORY_RULES.iter().map(|r| &r.meta))
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub code scanning ranks security results by this 0–10 number.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

fn rule_descriptor(id: &str, finding: &Finding) -> Value {
    let meta = all_rule_metas().find(|m| m.id == id);
    let mut tags = vec!["security".to_owned()];
    tags.extend(finding.owasp.iter().map(|o| {
        format!(
            "owasp-api-2023:{}",
            o.code().split(':').next().unwrap_or("")
        )
    }));
    let (summary, help, uri) = match meta {
        Some(m) => (m.summary, m.remediation, m.references.first().copied()),
        None => (
            finding.rule.name.as_str(),
            finding.remediation.as_deref().unwrap_or(""),
            finding.references.first().map(String::as_str),
        ),
    };
    let severity = meta.map_or(finding.severity, |m| m.severity);
    let mut d = json!({
        "id": id,
        "name": finding.rule.name,
        "shortDescription": { "text": summary },
        "fullDescription": { "text": summary },
        "help": { "text": help },
        "defaultConfiguration": { "level": level(severity) },
        "properties": { "tags": tags, "security-severity": security_severity(severity) },
    });
    if let Some(uri) = uri {
        d["helpUri"] = json!(uri);
    }
    d
}

fn result(finding: &Finding, rule_index: usize) -> Value {
    let sample = finding.evidence.samples.first();
    let location = sample.and_then(|s| s.location.as_deref()).unwrap_or("");
    let (file, pointer) = split_location(location);
    let extra = &finding.evidence.metrics.extra;
    let mut physical = json!({ "artifactLocation": { "uri": file.replace('\\', "/") } });
    if let Some(&line) = extra.get(EXTRA_SOURCE_LINE).filter(|l| **l >= 1.0) {
        let mut region = json!({ "startLine": line as u64 });
        if let Some(&col) = extra.get(EXTRA_SOURCE_COLUMN).filter(|c| **c >= 1.0) {
            region["startColumn"] = json!(col as u64);
        }
        physical["region"] = region;
    }
    let mut text = finding.title.clone();
    if !finding.description.is_empty() {
        text.push_str(". ");
        text.push_str(&finding.description);
    }
    json!({
        "ruleId": finding.rule.id,
        "ruleIndex": rule_index,
        "level": level(finding.severity),
        "message": { "text": text },
        "locations": [{
            "physicalLocation": physical,
            "logicalLocations": [{ "fullyQualifiedName": pointer, "kind": "member" }],
        }],
        "partialFingerprints": { "gatewatchFingerprint/v1": finding.fingerprint },
        "properties": {
            "severity": finding.severity.as_str(),
            "confidence": format!("{:?}", finding.confidence).to_ascii_lowercase(),
            "remediation": finding.remediation,
        },
    })
}

/// A SARIF 2.1.0 log of `findings`. Rules are listed once each, sorted by id; results keep the
/// order of `findings`.
pub fn to_sarif(findings: &[Finding], tool_version: &str) -> Value {
    let mut rules: BTreeMap<&str, &Finding> = BTreeMap::new();
    for f in findings {
        rules.entry(f.rule.id.as_str()).or_insert(f);
    }
    let index: BTreeMap<&str, usize> = rules.keys().enumerate().map(|(i, id)| (*id, i)).collect();
    let descriptors: Vec<Value> = rules.iter().map(|(id, f)| rule_descriptor(id, f)).collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| result(f, index[f.rule.id.as_str()]))
        .collect();
    json!({
        "version": "2.1.0",
        "$schema": SARIF_SCHEMA,
        "runs": [{
            "tool": { "driver": {
                "name": TOOL_NAME,
                "version": tool_version,
                "informationUri": INFORMATION_URI,
                "rules": descriptors,
            }},
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    })
}
