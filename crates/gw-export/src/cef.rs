//! ArcSight Common Event Format (CEF 0) lines.
//!
//! `CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|Extension`
//!
//! * Header fields escape `\` and `|`; CR and LF (not allowed in a header) become spaces, and
//!   fields are cut (on a character boundary) to the standard's lengths: vendor/product 63,
//!   version 31, signature id 1023, name 512.
//! * Extension values escape `\`, `=`, and encode CR/LF as `\r` / `\n`; pipes stay as they are.
//! * Extension keys come from the CEF dictionary; custom strings use `cs1`–`cs6` with labels,
//!   the rule version goes to `cn1`, metrics to the floating-point `cfp1`–`cfp3`. IPv4 actors use
//!   `src`, IPv6 actors `c6a2` (Source IPv6 Address), as the standard asks.
//!
//! | key | value |
//! |---|---|
//! | `rt` / `start` / `end` | last_seen / first_seen / last_seen (epoch ms) |
//! | `cnt` | count |
//! | `externalId` | finding id |
//! | `cat` | OWASP codes, comma-separated |
//! | `msg` | description |
//! | `src` or `c6a2`, `suser`, `requestClientApplication` | actor ip, identity, user agent |
//! | `dhost`, `requestMethod`, `request` | endpoint host, method, path template |
//! | `dvchost` | producer host name |
//! | `cs1` mitreTechnique, `cs2` endpointId, `cs3` findingStatus, `cs4` confidence, `cs5` findingKind, `cs6` fingerprint | |
//! | `cn1` ruleVersion; `cfp1` observed, `cfp2` baseline, `cfp3` threshold | |

use std::fmt::Write as _;
use std::net::IpAddr;

use gw_model::Finding;

use crate::ocsf::kind_name;
use crate::taxonomy::{cef_severity, epoch_ms};
use crate::{Producer, mitre_tactic_name};

/// Maximum lengths (in characters) of the header fields, from the CEF standard.
const VENDOR_MAX: usize = 63;
const PRODUCT_MAX: usize = 63;
const VERSION_MAX: usize = 31;
const SIGNATURE_MAX: usize = 1023;
const NAME_MAX: usize = 512;
/// The `request` extension holds at most 1023 characters.
const REQUEST_MAX: usize = 1023;

/// One finding as a CEF line (no syslog header, no trailing newline).
pub fn to_cef(finding: &Finding, producer: &Producer) -> String {
    let mut line = String::with_capacity(512);
    line.push_str("CEF:0|");
    for (value, max) in [
        (producer.vendor_name.as_str(), VENDOR_MAX),
        (producer.product_name.as_str(), PRODUCT_MAX),
        (producer.product_version.as_str(), VERSION_MAX),
        (finding.rule.id.as_str(), SIGNATURE_MAX),
        (finding.title.as_str(), NAME_MAX),
    ] {
        push_header_field(&mut line, truncate_chars(value, max));
        line.push('|');
    }
    let _ = write!(line, "{}|", cef_severity(finding.severity));
    push_extension(&mut line, finding, producer);
    line
}

/// Findings as CEF lines, each ended by `\n`.
pub fn to_cef_lines(findings: &[Finding], producer: &Producer) -> String {
    let mut out = String::new();
    for f in findings {
        out.push_str(&to_cef(f, producer));
        out.push('\n');
    }
    out
}

/// Escapes a header field: `\` → `\\`, `|` → `\|`; CR/LF become spaces.
pub fn escape_header(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    push_header_field(&mut out, value);
    out
}

/// Escapes an extension value: `\` → `\\`, `=` → `\=`, LF → `\n`, CR → `\r`.
pub fn escape_extension_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    push_extension_value(&mut out, value);
    out
}

fn push_header_field(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
}

fn push_extension_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn truncate_chars(value: &str, max: usize) -> &str {
    match value.char_indices().nth(max) {
        Some((cut, _)) => &value[..cut],
        None => value,
    }
}

struct Extension<'a> {
    out: &'a mut String,
    first: bool,
}

impl Extension<'_> {
    fn pair(&mut self, key: &str, value: &str) {
        if !self.first {
            self.out.push(' ');
        }
        self.first = false;
        self.out.push_str(key);
        self.out.push('=');
        push_extension_value(self.out, value);
    }

    fn labelled(&mut self, key: &str, label: &str, value: &str) {
        self.pair(&format!("{key}Label"), label);
        self.pair(key, value);
    }
}

fn push_extension(out: &mut String, f: &Finding, producer: &Producer) {
    let mut ext = Extension { out, first: true };
    ext.pair("rt", &epoch_ms(f.last_seen).to_string());
    ext.pair("start", &epoch_ms(f.first_seen).to_string());
    ext.pair("end", &epoch_ms(f.last_seen).to_string());
    ext.pair("cnt", &f.count.to_string());
    ext.pair("externalId", &f.id);
    if !f.owasp.is_empty() {
        let codes: Vec<&str> = f.owasp.iter().map(|o| o.code()).collect();
        ext.pair("cat", &codes.join(","));
    }
    if let Some(actor) = &f.actor {
        match actor.ip {
            Some(IpAddr::V4(ip)) => ext.pair("src", &ip.to_string()),
            Some(IpAddr::V6(ip)) => ext.labelled("c6a2", "Source IPv6 Address", &ip.to_string()),
            None => {}
        }
        if let Some(identity) = &actor.identity {
            ext.pair("suser", identity);
        }
        if let Some(ua) = &actor.user_agent {
            ext.pair("requestClientApplication", ua);
        }
    }
    if let Some(e) = &f.endpoint {
        ext.pair("dhost", &e.host);
        ext.pair("requestMethod", &e.method);
        ext.pair("request", truncate_chars(&e.template, REQUEST_MAX));
    }
    if let Some(host) = &producer.hostname {
        ext.pair("dvchost", host);
    }
    if !f.mitre.is_empty() {
        let techniques: Vec<String> = f
            .mitre
            .iter()
            .map(|m| match mitre_tactic_name(&m.tactic) {
                Some(name) => format!("{} ({} {name})", m.technique, m.tactic),
                None => format!("{} ({})", m.technique, m.tactic),
            })
            .collect();
        ext.labelled("cs1", "mitreTechnique", &techniques.join(","));
    }
    if let Some(e) = &f.endpoint {
        ext.labelled("cs2", "endpointId", &e.id);
    }
    ext.labelled("cs3", "findingStatus", f.status.as_str());
    ext.labelled("cs4", "confidence", confidence_name(f.confidence));
    ext.labelled("cs5", "findingKind", kind_name(f.kind));
    ext.labelled("cs6", "fingerprint", &f.fingerprint);
    ext.labelled("cn1", "ruleVersion", &f.rule.version.to_string());
    let m = &f.evidence.metrics;
    for (key, label, value) in [
        ("cfp1", "observed", m.observed),
        ("cfp2", "baseline", m.baseline),
        ("cfp3", "threshold", m.threshold),
    ] {
        if let Some(v) = value.filter(|v| v.is_finite()) {
            ext.labelled(key, label, &v.to_string());
        }
    }
    if !f.description.is_empty() {
        ext.pair("msg", &f.description);
    }
}

fn confidence_name(c: gw_model::Confidence) -> &'static str {
    match c {
        gw_model::Confidence::Low => "low",
        gw_model::Confidence::Medium => "medium",
        gw_model::Confidence::High => "high",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{spike, sqli};

    #[test]
    fn header_escapes_backslash_and_pipe_only() {
        assert_eq!(escape_header(r"a\b|c=d"), r"a\\b\|c=d");
        assert_eq!(escape_header("two\r\nlines"), "two  lines");
    }

    #[test]
    fn extension_escapes_backslash_equals_and_newlines_not_pipes() {
        assert_eq!(
            escape_extension_value("a\\b=c|d\ne\rf ü"),
            "a\\\\b\\=c|d\\ne\\rf ü"
        );
    }

    #[test]
    fn nasty_title_and_rule_id_are_escaped_in_the_header() {
        let mut f = sqli();
        f.title = r"x|y\z".into();
        f.rule.id = "GW|T".into();
        let line = to_cef(&f, &Producer::new("0.1.0"));
        assert!(
            line.starts_with(r"CEF:0|Gatewatch project|gatewatch|0.1.0|GW\|T|x\|y\\z|8|rt="),
            "{line}"
        );
    }

    #[test]
    fn line_has_seven_unescaped_pipes_and_no_raw_newline() {
        for f in crate::test_support::all() {
            let line = to_cef(&f, &Producer::new("0.1.0").with_hostname("gw-01"));
            assert!(!line.contains('\n') && !line.contains('\r'), "{line}");
            let header_end = line.find("|rt=").unwrap();
            let mut unescaped = 0;
            let mut escaped = false;
            for c in line[..=header_end].chars() {
                match (escaped, c) {
                    (false, '\\') => escaped = true,
                    (false, '|') => unescaped += 1,
                    _ => escaped = false,
                }
            }
            assert_eq!(unescaped, 7, "{line}");
        }
    }

    #[test]
    fn ipv6_actor_uses_c6a2_and_ipv4_uses_src() {
        let p = Producer::new("0.1.0");
        assert!(to_cef(&spike(), &p).contains(" c6a2Label=Source IPv6 Address c6a2=2001:db8::7"));
        assert!(to_cef(&sqli(), &p).contains(" src=203.0.113.45 "));
    }

    #[test]
    fn long_names_are_cut_on_character_boundaries() {
        let mut f = sqli();
        f.title = "é".repeat(600);
        let line = to_cef(&f, &Producer::new("0.1.0"));
        let name = line.split('|').nth(5).unwrap();
        assert_eq!(name.chars().count(), NAME_MAX);
    }
}
