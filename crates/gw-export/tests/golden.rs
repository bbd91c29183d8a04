//! Golden files, one per format, from three realistic findings (a SQL injection with actor and
//! endpoint, a posture finding, a rate spike with metrics and unicode). Regenerate with
//! `UPDATE_GOLDEN=1 cargo test -p gw-export --test golden` and review the diff.

#[path = "../src/test_support.rs"]
mod fixtures;

use std::path::{Path, PathBuf};

use gw_export::blocklist::xml_escape;
use gw_export::ecs::{BulkAction, write_bulk};
use gw_export::splunk::{HecEvent, HecOptions, hec_bodies};
use gw_export::syslog::{SyslogOptions, SyslogPayload, finding_message, octet_counted};
use gw_export::{
    AlertFormat, BlockEntry, BlockReason, BlocklistFormat, Producer, blocklist_from_findings,
    render_alerts, render_blocklist, sentinel, webhook,
};
use gw_model::Severity;
use jiff::{SignedDuration, Timestamp};

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Compares `actual` with the golden file `name`, or rewrites it under `UPDATE_GOLDEN=1`.
fn check(name: &str, actual: &[u8]) {
    let path = golden_path(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        panic!(
            "{} differs from the output (run with UPDATE_GOLDEN=1 and review the diff):\n{}",
            path.display(),
            String::from_utf8_lossy(actual)
        );
    }
}

fn producer() -> Producer {
    Producer::new("0.1.0").with_hostname("gw-01")
}

fn now() -> Timestamp {
    "2024-06-10T12:00:00Z".parse().unwrap()
}

#[test]
fn json() {
    let out = render_alerts(&fixtures::all(), AlertFormat::Json, &producer()).unwrap();
    check("json.ndjson", &out);
}

#[test]
fn ocsf() {
    let out = render_alerts(&fixtures::all(), AlertFormat::Ocsf, &producer()).unwrap();
    check("ocsf.ndjson", &out);
}

#[test]
fn cef() {
    let out = render_alerts(&fixtures::all(), AlertFormat::Cef, &producer()).unwrap();
    check("cef.log", &out);
}

#[test]
fn syslog_cef() {
    let out = render_alerts(&fixtures::all(), AlertFormat::SyslogCef, &producer()).unwrap();
    check("syslog-cef.log", &out);
}

/// RFC 6587 octet-counted frames (TCP/TLS) of RFC 5424 messages carrying OCSF JSON.
#[test]
fn syslog_json_octet_counted() {
    let mut out = Vec::new();
    for f in fixtures::all() {
        let msg = finding_message(
            &f,
            &producer(),
            &SyslogOptions::default(),
            SyslogPayload::OcsfJson,
        )
        .unwrap();
        out.extend(octet_counted(&msg));
    }
    check("syslog-json-octet-counted.log", &out);
}

#[test]
fn splunk_hec() {
    let options = HecOptions {
        index: Some("security".into()),
        event: HecEvent::Ocsf,
        ..HecOptions::default()
    };
    let bodies = hec_bodies(&fixtures::all(), &producer(), &options, 1 << 20).unwrap();
    assert_eq!(bodies.len(), 1);
    check("splunk-hec.json", &bodies[0]);
}

#[test]
fn sentinel() {
    let bodies = sentinel::ingestion_bodies(&fixtures::all(), sentinel::MAX_BODY_BYTES).unwrap();
    assert_eq!(bodies.len(), 1);
    check("sentinel.json", &bodies[0]);
    let declaration = serde_json::to_string_pretty(&sentinel::stream_declaration()).unwrap();
    check("sentinel-stream-declaration.json", declaration.as_bytes());
}

#[test]
fn ecs_bulk() {
    let mut out = Vec::new();
    write_bulk(
        &mut out,
        &fixtures::all(),
        "gatewatch-findings",
        BulkAction::Index,
    )
    .unwrap();
    check("ecs-bulk.ndjson", &out);
}

#[test]
fn webhook() {
    let body = webhook::webhook_body(&fixtures::all()).unwrap();
    let t = now().as_second();
    let header = webhook::sign_webhook(b"whsec_golden", t, &body);
    webhook::verify_webhook(b"whsec_golden", &header, &body, t, 300).unwrap();
    let mut out = format!("{}: {header}\n\n", webhook::SIGNATURE_HEADER).into_bytes();
    out.extend(&body);
    out.push(b'\n');
    check("webhook.txt", &out);
}

/// The fixtures' actors plus a network, a duplicate and an expired entry.
fn block_entries() -> Vec<BlockEntry> {
    let mut entries = blocklist_from_findings(
        &fixtures::all(),
        Severity::Low,
        SignedDuration::from_hours(24),
        now(),
    );
    let manual = |net: &str, finding: &str, expires: &str, identity: Option<&str>| BlockEntry {
        net: net.parse().unwrap(),
        identity: identity.map(str::to_string),
        reason: BlockReason {
            rule_id: "GW-T-CREDENTIAL-STUFFING".into(),
            finding_id: finding.into(),
        },
        expires_at: expires.parse().unwrap(),
    };
    entries.push(manual(
        "198.51.100.0/24",
        "f-0192a3b4-stuffing",
        "2024-06-12T00:00:00Z",
        Some("bot<&\"x\">"),
    ));
    entries.push(manual(
        "203.0.113.45/32",
        "f-0192a3b4-stuffing",
        "2024-06-10T18:00:00Z",
        None,
    ));
    entries.push(manual(
        "192.0.2.1/32",
        "f-0192a3b4-old",
        "2024-06-10T11:59:59Z",
        None,
    ));
    entries
}

fn blocklist(format: BlocklistFormat, file: &str) -> String {
    let text = render_blocklist(&block_entries(), format, now()).unwrap();
    check(file, text.as_bytes());
    assert!(!text.contains("192.0.2.1"), "expired entry dropped");
    text
}

#[test]
fn blocklist_nginx() {
    let text = blocklist(BlocklistFormat::Nginx, "blocklist-nginx.conf");
    let denies: Vec<&str> = text.lines().filter(|l| l.starts_with("deny ")).collect();
    assert_eq!(denies.len(), 3);
    assert!(denies.iter().all(|l| l.contains("; # ")));
}

#[test]
fn blocklist_envoy_rbac() {
    let text = blocklist(BlocklistFormat::EnvoyRbac, "blocklist-envoy-rbac.yaml");
    let v: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    let rules = &v["typed_config"]["rules"];
    assert_eq!(rules["action"].as_str(), Some("DENY"));
    let principals = rules["policies"]["gatewatch-blocklist"]["principals"]
        .as_sequence()
        .unwrap();
    let prefixes: Vec<(String, u64)> = principals
        .iter()
        .map(|p| {
            (
                p["remote_ip"]["address_prefix"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                p["remote_ip"]["prefix_len"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        prefixes,
        vec![
            ("198.51.100.0".to_string(), 24),
            ("203.0.113.45".to_string(), 32),
            ("2001:db8::7".to_string(), 128),
        ]
    );
}

#[test]
fn blocklist_apim_ip_filter() {
    let text = blocklist(
        BlocklistFormat::ApimIpFilter,
        "blocklist-apim-ip-filter.xml",
    );
    assert!(text.contains("<ip-filter action=\"forbid\">"));
    assert!(text.contains("<address>203.0.113.45</address>"));
    assert!(text.contains("<address-range from=\"198.51.100.0\" to=\"198.51.100.255\" />"));
    let last_address = text.rfind("<address>").unwrap();
    let first_range = text.find("<address-range").unwrap();
    assert!(last_address < first_range, "addresses precede ranges");
    assert_eq!(xml_escape("a<b"), "a&lt;b");
}

#[test]
fn blocklist_kong_ip_restriction() {
    let text = blocklist(
        BlocklistFormat::KongIpRestriction,
        "blocklist-kong-ip-restriction.yaml",
    );
    let v: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    let plugin = &v["plugins"][0];
    assert_eq!(plugin["name"].as_str(), Some("ip-restriction"));
    let deny: Vec<&str> = plugin["config"]["deny"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert_eq!(deny, vec!["198.51.100.0/24", "203.0.113.45", "2001:db8::7"]);
}

#[test]
fn blocklist_plain() {
    let text = blocklist(BlocklistFormat::Plain, "blocklist-plain.txt");
    assert_eq!(text, "198.51.100.0/24\n203.0.113.45\n2001:db8::7\n");
}
