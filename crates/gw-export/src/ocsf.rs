//! OCSF 1.x findings: Detection Finding (2004) for threats, Compliance Finding (2003) for posture
//! and inventory findings, Data Security Finding (2006) for sensitive-data findings.
//!
//! The structs below cover exactly the attributes we emit. They always carry the union of what
//! OCSF 1.1–1.8 require (`finding_info.title`, `metadata.product.vendor_name`,
//! `compliance.standards` …) so SIEMs pinned to older schema versions accept them. Attributes
//! with no OCSF home go to `unmapped.gatewatch`.
//!
//! Activity: `Close` (3) when the finding is resolved, `Suppressed` (4, Data Security only) when
//! suppressed, `Update` (2) once a finding has absorbed repeat hits (`count > 1` and a widened
//! time range), otherwise `Create` (1).

use std::collections::BTreeMap;
use std::io::Write;

use gw_model::{Analytic, Confidence, Finding, FindingKind, FindingStatus};
use serde::{Deserialize, Serialize};

use crate::taxonomy::{epoch_ms, ocsf_severity_id, ocsf_severity_name};
use crate::{ExportError, Producer, Result, is_data_security, mitre_tactic_name};

/// OCSF category `Findings`.
pub const CATEGORY_FINDINGS: u32 = 2;
/// Compliance Finding class.
pub const CLASS_COMPLIANCE_FINDING: u32 = 2003;
/// Detection Finding class.
pub const CLASS_DETECTION_FINDING: u32 = 2004;
/// Data Security Finding class.
pub const CLASS_DATA_SECURITY_FINDING: u32 = 2006;
/// The compliance standard posture findings are checked against.
pub const OWASP_STANDARD: &str = "OWASP API Security Top 10 2023";

/// One OCSF finding event, one variant per class we emit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OcsfFinding {
    Compliance(ComplianceFinding),
    DataSecurity(DataSecurityFinding),
    Detection(DetectionFinding),
}

impl OcsfFinding {
    /// The attributes every finding class shares.
    pub fn base(&self) -> &FindingBase {
        match self {
            OcsfFinding::Detection(e) => &e.base,
            OcsfFinding::Compliance(e) => &e.base,
            OcsfFinding::DataSecurity(e) => &e.base,
        }
    }
}

/// Detection Finding (2004): a runtime threat.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DetectionFinding {
    #[serde(flatten)]
    pub base: FindingBase,
}

/// Compliance Finding (2003): a posture or inventory finding checked against a standard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComplianceFinding {
    #[serde(flatten)]
    pub base: FindingBase,
    pub compliance: Compliance,
}

/// Data Security Finding (2006): sensitive data seen where it should not be.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataSecurityFinding {
    #[serde(flatten)]
    pub base: FindingBase,
    pub data_security: DataSecurity,
}

/// Base event plus the attributes the finding classes share.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FindingBase {
    pub class_uid: u32,
    pub class_name: String,
    pub category_uid: u32,
    pub category_name: String,
    pub activity_id: u8,
    pub activity_name: String,
    pub type_uid: u32,
    pub type_name: String,
    pub severity_id: u8,
    pub severity: String,
    /// Epoch ms of the latest hit (`last_seen`).
    pub time: i64,
    pub start_time: i64,
    pub end_time: i64,
    pub count: u64,
    pub message: String,
    pub status_id: u8,
    pub status: String,
    pub confidence_id: u8,
    pub confidence: String,
    pub is_alert: bool,
    pub metadata: Metadata,
    pub finding_info: FindingInfo,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceDetails>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidences: Vec<EvidenceArtifact>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observables: Vec<Observable>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<Remediation>,
    pub unmapped: Unmapped,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub version: String,
    pub product: Product,
    /// The finding's dedup fingerprint: every update of one finding shares it.
    pub correlation_uid: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub name: String,
    pub vendor_name: String,
    pub version: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FindingInfo {
    pub uid: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
    /// OWASP API Top 10 codes, e.g. `API1:2023`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    pub analytic: AnalyticInfo,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attacks: Vec<Attack>,
    pub first_seen_time: i64,
    pub last_seen_time: i64,
    pub related_events_count: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalyticInfo {
    /// 1 Rule, 2 Behavioral, 3 Statistical.
    pub type_id: u8,
    #[serde(rename = "type")]
    pub type_name: String,
    pub uid: String,
    pub name: String,
    pub version: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attack {
    pub tactic: UidName,
    pub technique: UidName,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UidName {
    pub uid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceDetails {
    pub uid: String,
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub hostname: String,
}

/// One `evidences[]` entry: either the actor and endpoint context, or one masked sample.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EvidenceArtifact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<EvidenceActor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_endpoint: Option<NetworkEndpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_request: Option<HttpRequest>,
    /// A masked evidence sample, copied from the finding as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvidenceActor {
    pub user: User,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkEndpoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autonomous_system: Option<AutonomousSystem>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub country: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutonomousSystem {
    pub number: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Url {
    pub hostname: String,
    /// The endpoint's path template, never a concrete request path.
    pub path: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observable {
    pub name: String,
    pub type_id: u8,
    #[serde(rename = "type")]
    pub type_name: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Remediation {
    pub desc: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Compliance {
    pub standards: Vec<String>,
    pub control: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requirements: Vec<String>,
    /// 1 Pass (resolved), 3 Fail (otherwise).
    pub status_id: u8,
    pub status: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataSecurity {
    /// 2 Data in-Transit: we see the data in API traffic.
    pub data_lifecycle_state_id: u8,
    pub data_lifecycle_state: String,
    /// The rule that matched.
    pub detection_pattern: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Unmapped {
    pub gatewatch: GatewatchUnmapped,
}

/// Finding attributes with no OCSF home.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GatewatchUnmapped {
    pub schema: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tor_exit: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exchange_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, serde_json::Value>,
    /// References when there is no remediation text to attach them to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

/// Maps one finding to its OCSF class.
pub fn to_ocsf(finding: &Finding, producer: &Producer) -> OcsfFinding {
    if is_data_security(finding) {
        let base = base(finding, producer, CLASS_DATA_SECURITY_FINDING);
        return OcsfFinding::DataSecurity(DataSecurityFinding {
            base,
            data_security: DataSecurity {
                data_lifecycle_state_id: 2,
                data_lifecycle_state: "Data in-Transit".to_string(),
                detection_pattern: finding.rule.id.clone(),
            },
        });
    }
    match finding.kind {
        FindingKind::Threat => OcsfFinding::Detection(DetectionFinding {
            base: base(finding, producer, CLASS_DETECTION_FINDING),
        }),
        FindingKind::Posture | FindingKind::Inventory => {
            OcsfFinding::Compliance(ComplianceFinding {
                base: base(finding, producer, CLASS_COMPLIANCE_FINDING),
                compliance: compliance(finding),
            })
        }
    }
}

/// One finding as a single line of OCSF JSON (no trailing newline).
pub fn to_ocsf_json(finding: &Finding, producer: &Producer) -> Result<String> {
    serde_json::to_string(&to_ocsf(finding, producer))
        .map_err(|e| ExportError::json(&finding.id, "ocsf", e))
}

/// Writes findings as OCSF NDJSON, one event per line.
pub fn write_ocsf_ndjson<W: Write>(
    mut out: W,
    findings: &[Finding],
    producer: &Producer,
) -> Result<()> {
    for finding in findings {
        serde_json::to_writer(&mut out, &to_ocsf(finding, producer))
            .map_err(|e| ExportError::json(&finding.id, "ocsf", e))?;
        out.write_all(b"\n").map_err(|source| ExportError::Write {
            format: "ocsf",
            source,
        })?;
    }
    Ok(())
}

fn class_name(class_uid: u32) -> &'static str {
    match class_uid {
        CLASS_COMPLIANCE_FINDING => "Compliance Finding",
        CLASS_DATA_SECURITY_FINDING => "Data Security Finding",
        _ => "Detection Finding",
    }
}

fn activity(finding: &Finding, class_uid: u32) -> (u8, &'static str) {
    match finding.status {
        FindingStatus::Resolved => (3, "Close"),
        FindingStatus::Suppressed if class_uid == CLASS_DATA_SECURITY_FINDING => (4, "Suppressed"),
        _ if finding.count > 1 && finding.last_seen > finding.first_seen => (2, "Update"),
        _ => (1, "Create"),
    }
}

fn status(status: FindingStatus) -> (u8, &'static str) {
    match status {
        FindingStatus::Open => (1, "New"),
        FindingStatus::Acknowledged => (2, "In Progress"),
        FindingStatus::Suppressed => (3, "Suppressed"),
        FindingStatus::Resolved => (4, "Resolved"),
    }
}

fn confidence(confidence: Confidence) -> (u8, &'static str) {
    match confidence {
        Confidence::Low => (1, "Low"),
        Confidence::Medium => (2, "Medium"),
        Confidence::High => (3, "High"),
    }
}

fn analytic_type(analytic: Analytic) -> (u8, &'static str) {
    match analytic {
        Analytic::Signature | Analytic::Config => (1, "Rule"),
        Analytic::Behavioral => (2, "Behavioral"),
        Analytic::Statistical => (3, "Statistical"),
    }
}

fn base(finding: &Finding, producer: &Producer, class_uid: u32) -> FindingBase {
    let (activity_id, activity_name) = activity(finding, class_uid);
    let (status_id, status_name) = status(finding.status);
    let (confidence_id, confidence_name) = confidence(finding.confidence);
    let (analytic_type_id, analytic_type_name) = analytic_type(finding.rule.analytic);
    let class_name = class_name(class_uid);
    FindingBase {
        class_uid,
        class_name: class_name.to_string(),
        category_uid: CATEGORY_FINDINGS,
        category_name: "Findings".to_string(),
        activity_id,
        activity_name: activity_name.to_string(),
        type_uid: class_uid * 100 + u32::from(activity_id),
        type_name: format!("{class_name}: {activity_name}"),
        severity_id: ocsf_severity_id(finding.severity),
        severity: ocsf_severity_name(finding.severity).to_string(),
        time: epoch_ms(finding.last_seen),
        start_time: epoch_ms(finding.first_seen),
        end_time: epoch_ms(finding.last_seen),
        count: finding.count,
        message: finding.title.clone(),
        status_id,
        status: status_name.to_string(),
        confidence_id,
        confidence: confidence_name.to_string(),
        is_alert: finding.kind == FindingKind::Threat,
        metadata: Metadata {
            version: producer.ocsf_version.clone(),
            product: Product {
                name: producer.product_name.clone(),
                vendor_name: producer.vendor_name.clone(),
                version: producer.product_version.clone(),
            },
            correlation_uid: finding.fingerprint.clone(),
        },
        finding_info: FindingInfo {
            uid: finding.id.clone(),
            title: finding.title.clone(),
            desc: (!finding.description.is_empty()).then(|| finding.description.clone()),
            types: finding.owasp.iter().map(|o| o.code().to_string()).collect(),
            analytic: AnalyticInfo {
                type_id: analytic_type_id,
                type_name: analytic_type_name.to_string(),
                uid: finding.rule.id.clone(),
                name: finding.rule.name.clone(),
                version: finding.rule.version.to_string(),
            },
            attacks: finding
                .mitre
                .iter()
                .map(|m| Attack {
                    tactic: UidName {
                        uid: m.tactic.clone(),
                        name: mitre_tactic_name(&m.tactic).map(str::to_string),
                    },
                    technique: UidName {
                        uid: m.technique.clone(),
                        name: None,
                    },
                })
                .collect(),
            first_seen_time: epoch_ms(finding.first_seen),
            last_seen_time: epoch_ms(finding.last_seen),
            related_events_count: finding.count,
        },
        resources: finding
            .endpoint
            .iter()
            .map(|e| ResourceDetails {
                uid: e.id.clone(),
                name: format!("{} {}", e.method, e.template),
                type_name: "API Endpoint".to_string(),
                hostname: e.host.clone(),
            })
            .collect(),
        evidences: evidences(finding),
        observables: observables(finding),
        remediation: finding.remediation.as_ref().map(|desc| Remediation {
            desc: desc.clone(),
            references: finding.references.clone(),
        }),
        unmapped: Unmapped {
            gatewatch: GatewatchUnmapped {
                schema: finding.schema.clone(),
                kind: kind_name(finding.kind).to_string(),
                endpoint_id: finding.endpoint.as_ref().map(|e| e.id.clone()),
                tor_exit: finding.actor.as_ref().and_then(|a| a.tor_exit),
                exchange_ids: finding.evidence.exchange_ids.clone(),
                metrics: metrics(finding),
                references: if finding.remediation.is_none() {
                    finding.references.clone()
                } else {
                    Vec::new()
                },
            },
        },
    }
}

pub(crate) fn kind_name(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::Threat => "threat",
        FindingKind::Posture => "posture",
        FindingKind::Inventory => "inventory",
    }
}

fn compliance(finding: &Finding) -> Compliance {
    let requirements: Vec<String> = finding.owasp.iter().map(|o| o.code().to_string()).collect();
    let (status_id, status) = if finding.status == FindingStatus::Resolved {
        (1, "Pass")
    } else {
        (3, "Fail")
    };
    Compliance {
        standards: vec![OWASP_STANDARD.to_string()],
        control: requirements
            .first()
            .cloned()
            .unwrap_or_else(|| finding.rule.id.clone()),
        requirements,
        status_id,
        status: status.to_string(),
    }
}

/// The actor/endpoint context first (when known), then one entry per masked sample.
fn evidences(finding: &Finding) -> Vec<EvidenceArtifact> {
    let mut out = Vec::with_capacity(1 + finding.evidence.samples.len());
    let actor = finding.actor.as_ref();
    let src_endpoint = actor
        .map(|a| NetworkEndpoint {
            ip: a.ip.map(|ip| ip.to_string()),
            location: a.country.clone().map(|country| Location { country }),
            autonomous_system: a.asn.map(|number| AutonomousSystem { number }),
        })
        .filter(|e| e != &NetworkEndpoint::default());
    let user_agent = actor.and_then(|a| a.user_agent.clone());
    let http_request = (finding.endpoint.is_some() || user_agent.is_some()).then(|| HttpRequest {
        http_method: finding.endpoint.as_ref().map(|e| e.method.clone()),
        url: finding.endpoint.as_ref().map(|e| Url {
            hostname: e.host.clone(),
            path: e.template.clone(),
        }),
        user_agent,
    });
    let context = EvidenceArtifact {
        actor: actor
            .and_then(|a| a.identity.clone())
            .map(|name| EvidenceActor {
                user: User { name },
            }),
        src_endpoint,
        http_request,
        data: None,
    };
    if context != EvidenceArtifact::default() {
        out.push(context);
    }
    for sample in &finding.evidence.samples {
        let data = serde_json::to_value(sample).unwrap_or(serde_json::Value::Null);
        out.push(EvidenceArtifact {
            data: Some(data),
            ..EvidenceArtifact::default()
        });
    }
    out
}

fn observables(finding: &Finding) -> Vec<Observable> {
    let mut out = Vec::new();
    let mut push = |name: &str, type_id: u8, type_name: &str, value: String| {
        out.push(Observable {
            name: name.to_string(),
            type_id,
            type_name: type_name.to_string(),
            value,
        })
    };
    if let Some(e) = &finding.endpoint {
        push("resources.hostname", 1, "Hostname", e.host.clone());
    }
    if let Some(a) = &finding.actor {
        if let Some(ip) = a.ip {
            push("evidences.src_endpoint.ip", 2, "IP Address", ip.to_string());
        }
        if let Some(identity) = &a.identity {
            push(
                "evidences.actor.user.name",
                4,
                "User Name",
                identity.clone(),
            );
        }
        if let Some(country) = &a.country {
            push(
                "evidences.src_endpoint.location.country",
                14,
                "Country",
                country.clone(),
            );
        }
        if let Some(ua) = &a.user_agent {
            push(
                "evidences.http_request.user_agent",
                16,
                "HTTP User-Agent",
                ua.clone(),
            );
        }
    }
    out
}

fn metrics(finding: &Finding) -> BTreeMap<String, serde_json::Value> {
    let m = &finding.evidence.metrics;
    let mut out = BTreeMap::new();
    let named = [
        ("baseline", m.baseline),
        ("observed", m.observed),
        ("threshold", m.threshold),
    ];
    for (name, value) in named {
        if let Some(v) = value.and_then(serde_json::Number::from_f64) {
            out.insert(name.to_string(), serde_json::Value::Number(v));
        }
    }
    for (name, value) in &m.extra {
        if let Some(v) = serde_json::Number::from_f64(*value) {
            out.insert(name.clone(), serde_json::Value::Number(v));
        }
    }
    if let Some(window) = &m.window {
        out.insert(
            "window".to_string(),
            serde_json::Value::String(window.clone()),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{posture, spike, sqli};
    use gw_model::Severity;
    use serde_json::Value;

    fn producer() -> Producer {
        Producer::new("0.1.0")
    }

    fn json(f: &Finding) -> Value {
        serde_json::from_str(&to_ocsf_json(f, &producer()).unwrap()).unwrap()
    }

    /// The attributes every finding class requires in some OCSF version from 1.1 to 1.8.
    fn assert_required_base(v: &Value, class_uid: u64) {
        assert_eq!(v["class_uid"], class_uid);
        assert_eq!(v["category_uid"], 2);
        let activity = v["activity_id"].as_u64().unwrap();
        assert_eq!(v["type_uid"].as_u64().unwrap(), class_uid * 100 + activity);
        assert!((1..=5).contains(&v["severity_id"].as_u64().unwrap()));
        assert!(
            v["time"].as_i64().unwrap() > 1_000_000_000_000,
            "time in ms"
        );
        assert_eq!(v["metadata"]["version"], "1.8.0");
        assert_eq!(v["metadata"]["product"]["name"], "gatewatch");
        assert_eq!(v["metadata"]["product"]["vendor_name"], "Gatewatch project");
        assert_eq!(v["metadata"]["product"]["version"], "0.1.0");
        let info = &v["finding_info"];
        assert!(info["uid"].is_string() && info["title"].is_string());
        assert!(info["first_seen_time"].as_i64() <= info["last_seen_time"].as_i64());
        assert!((1..=5).contains(&v["status_id"].as_u64().unwrap()));
        assert!((1..=3).contains(&v["confidence_id"].as_u64().unwrap()));
        assert!(v["unmapped"]["gatewatch"]["schema"] == "gatewatch.finding/1");
    }

    #[test]
    fn threat_is_a_detection_finding_with_actor_evidence() {
        let v = json(&sqli());
        assert_required_base(&v, 2004);
        assert_eq!(v["class_name"], "Detection Finding");
        assert_eq!(
            v["activity_id"], 2,
            "count 3 over a widened range is an update"
        );
        assert_eq!(v["severity_id"], 4);
        assert_eq!(v["time"], 1_718_011_400_500_i64);
        assert_eq!(v["finding_info"]["types"][0], "API8:2023");
        assert_eq!(v["finding_info"]["analytic"]["uid"], "GW-T-SQLI");
        assert_eq!(v["finding_info"]["analytic"]["type_id"], 1);
        assert_eq!(
            v["finding_info"]["attacks"][0]["tactic"]["name"],
            "Initial Access"
        );
        assert_eq!(v["evidences"][0]["src_endpoint"]["ip"], "203.0.113.45");
        assert_eq!(
            v["evidences"][0]["http_request"]["url"]["path"],
            "/v1/orders/{orderId}"
        );
        assert_eq!(v["evidences"][1]["data"]["location"], "query:id");
        assert_eq!(v["observables"][1]["type_id"], 2);
        assert_eq!(v["remediation"]["references"].as_array().unwrap().len(), 1);
        assert_eq!(v["is_alert"], true);
    }

    #[test]
    fn posture_is_a_compliance_finding_that_fails_the_owasp_control() {
        let v = json(&posture());
        assert_required_base(&v, 2003);
        assert_eq!(v["compliance"]["standards"][0], OWASP_STANDARD);
        assert_eq!(v["compliance"]["control"], "API2:2023");
        assert_eq!(v["compliance"]["status_id"], 3);
        assert_eq!(v["status_id"], 2, "acknowledged is in progress");
        assert_eq!(v["is_alert"], false);
        assert_eq!(v["evidences"][0]["http_request"]["http_method"], "POST");
        assert!(v["evidences"][0].get("src_endpoint").is_none(), "no actor");
        let mut resolved = posture();
        resolved.status = FindingStatus::Resolved;
        let v = json(&resolved);
        assert_eq!(v["compliance"]["status_id"], 1);
        assert_eq!(v["activity_id"], 3);
        assert_eq!(v["type_uid"], 200303);
    }

    #[test]
    fn sensitive_data_rule_is_a_data_security_finding() {
        let mut f = posture();
        f.rule.id = "GW-P-SENSITIVE-IN-URL".into();
        f.status = FindingStatus::Suppressed;
        let v = json(&f);
        assert_required_base(&v, 2006);
        assert_eq!(
            v["data_security"]["detection_pattern"],
            "GW-P-SENSITIVE-IN-URL"
        );
        assert_eq!(v["activity_id"], 4);
        assert_eq!(v["type_uid"], 200604);
    }

    #[test]
    fn spike_metrics_and_tor_flag_go_to_unmapped() {
        let v = json(&spike());
        assert_required_base(&v, 2004);
        assert_eq!(v["severity_id"], 5);
        let g = &v["unmapped"]["gatewatch"];
        assert_eq!(g["metrics"]["observed"], 912.0);
        assert_eq!(g["metrics"]["window"], "20m");
        assert_eq!(g["metrics"]["distinct_paths"], 37.0);
        assert_eq!(g["tor_exit"], true);
        assert_eq!(v["evidences"][0]["src_endpoint"]["ip"], "2001:db8::7");
    }

    #[test]
    fn single_hit_is_a_create_and_severity_ids_span_one_to_five() {
        let mut f = sqli();
        f.count = 1;
        f.last_seen = f.first_seen;
        assert_eq!(json(&f)["activity_id"], 1);
        for (s, id) in Severity::ALL.into_iter().zip(1..) {
            f.severity = s;
            assert_eq!(json(&f)["severity_id"], id);
        }
    }

    #[test]
    fn events_round_trip_through_the_typed_structs() {
        for f in crate::test_support::all() {
            let event = to_ocsf(&f, &producer());
            let text = serde_json::to_string(&event).unwrap();
            let back: OcsfFinding = serde_json::from_str(&text).unwrap();
            assert_eq!(back, event);
        }
    }
}
