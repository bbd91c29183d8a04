//! Gateway blocklists built from threat findings (`gatewatch blocklist export`).
//!
//! Output is deterministic: entries whose `expires_at` is not after `now` are dropped, networks
//! are normalised (`10.0.0.5/24` → `10.0.0.0/24`), sorted (IPv4 before IPv6, then by address and
//! prefix) and deduplicated — duplicates merge into one line that keeps every reason and the
//! latest expiry. Reasons are written as comments where the format has them; comment text is
//! reduced to one line (and `--` is broken up inside XML comments) so a hostile identity can
//! never end a comment early.
//!
//! | format | output |
//! |---|---|
//! | `nginx` | include file of `deny <ip>;` lines |
//! | `envoy-rbac` | `envoy.filters.http.rbac` HTTP filter (YAML), one DENY policy on `remote_ip` |
//! | `apim-ip-filter` | Azure APIM `<ip-filter action="forbid">` policy fragment |
//! | `kong-ip-restriction` | Kong declarative YAML with the `ip-restriction` plugin's `deny` list |
//! | `plain` | one address or CIDR per line |
//!
//! `remote_ip` in Envoy is the client address after XFF processing, which matches the resolved
//! client IP our detectors key on; the gateway must be configured with the same trusted hops.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use gw_model::{Finding, FindingKind, FindingStatus, Severity};
use ipnet::IpNet;
use jiff::{SignedDuration, Timestamp};

use crate::taxonomy::rfc3339_ms;
use crate::{ExportError, Result};

/// Why an address is blocked: the rule and the finding.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockReason {
    pub rule_id: String,
    pub finding_id: String,
}

impl fmt::Display for BlockReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.rule_id, self.finding_id)
    }
}

/// One address or network to block until `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockEntry {
    /// A single address is a /32 or /128 network (`IpNet::from(ip)`).
    pub net: IpNet,
    /// The actor identity seen with the address, for the comment only (gateways here block by
    /// address).
    pub identity: Option<String>,
    pub reason: BlockReason,
    pub expires_at: Timestamp,
}

/// The gateway file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlocklistFormat {
    Nginx,
    EnvoyRbac,
    ApimIpFilter,
    KongIpRestriction,
    Plain,
}

impl BlocklistFormat {
    pub const ALL: [BlocklistFormat; 5] = [
        BlocklistFormat::Nginx,
        BlocklistFormat::EnvoyRbac,
        BlocklistFormat::ApimIpFilter,
        BlocklistFormat::KongIpRestriction,
        BlocklistFormat::Plain,
    ];

    /// The CLI name (`--format`).
    pub fn as_str(self) -> &'static str {
        match self {
            BlocklistFormat::Nginx => "nginx",
            BlocklistFormat::EnvoyRbac => "envoy-rbac",
            BlocklistFormat::ApimIpFilter => "apim-ip-filter",
            BlocklistFormat::KongIpRestriction => "kong-ip-restriction",
            BlocklistFormat::Plain => "plain",
        }
    }
}

impl fmt::Display for BlocklistFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BlocklistFormat {
    type Err = ExportError;

    fn from_str(name: &str) -> Result<Self> {
        BlocklistFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == name)
            .ok_or_else(|| ExportError::UnknownFormat {
                what: "blocklist",
                name: name.to_string(),
                expected: "nginx, envoy-rbac, apim-ip-filter, kong-ip-restriction, plain",
            })
    }
}

/// Block entries for the actor IPs of open or acknowledged threat findings at or above
/// `min_severity`, each expiring `ttl` after the finding's `last_seen`; entries already expired
/// at `now` are left out. Suppressed and resolved findings never block anyone, and neither do
/// unspecified, loopback or multicast addresses (a mis-resolved client IP must not take the
/// gateway's own health checks down).
pub fn blocklist_from_findings(
    findings: &[Finding],
    min_severity: Severity,
    ttl: SignedDuration,
    now: Timestamp,
) -> Vec<BlockEntry> {
    findings
        .iter()
        .filter(|f| {
            f.kind == FindingKind::Threat
                && matches!(f.status, FindingStatus::Open | FindingStatus::Acknowledged)
                && f.severity >= min_severity
        })
        .filter_map(|f| {
            let actor = f.actor.as_ref()?;
            let ip = actor
                .ip
                .filter(|ip| !(ip.is_unspecified() || ip.is_loopback() || ip.is_multicast()))?;
            let expires_at = f.last_seen.checked_add(ttl).ok()?;
            (expires_at > now).then(|| BlockEntry {
                net: IpNet::from(ip),
                identity: actor.identity.clone(),
                reason: BlockReason {
                    rule_id: f.rule.id.clone(),
                    finding_id: f.id.clone(),
                },
                expires_at,
            })
        })
        .collect()
}

/// One output line: a network and everything known about why it is blocked.
struct Merged {
    net: IpNet,
    reasons: Vec<BlockReason>,
    identities: Vec<String>,
    expires_at: Timestamp,
}

/// Drops expired entries, normalises, sorts and merges duplicates.
fn merge(entries: &[BlockEntry], now: Timestamp) -> Vec<Merged> {
    let mut live: Vec<&BlockEntry> = entries.iter().filter(|e| e.expires_at > now).collect();
    live.sort_by_key(|e| e.net.trunc());
    let mut out: Vec<Merged> = Vec::new();
    for e in live {
        let net = e.net.trunc();
        if out.last().is_none_or(|m| m.net != net) {
            out.push(Merged {
                net,
                reasons: Vec::new(),
                identities: Vec::new(),
                expires_at: e.expires_at,
            });
        }
        let Some(m) = out.last_mut() else { continue };
        m.expires_at = m.expires_at.max(e.expires_at);
        m.reasons.push(e.reason.clone());
        if let Some(id) = &e.identity {
            m.identities.push(id.clone());
        }
    }
    for m in &mut out {
        m.reasons.sort();
        m.reasons.dedup();
        m.identities.sort();
        m.identities.dedup();
    }
    out
}

/// Address text: bare for a single host, CIDR otherwise.
fn address(net: &IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// `GW-T-SQLI f-1; identity alice; expires 2024-06-11T09:23:20Z`, on one line.
fn comment(m: &Merged) -> String {
    let reasons: Vec<String> = m.reasons.iter().map(ToString::to_string).collect();
    let mut text = reasons.join(", ");
    if !m.identities.is_empty() {
        let _ = write!(text, "; identity {}", m.identities.join(", "));
    }
    let _ = write!(text, "; expires {}", rfc3339_ms(m.expires_at));
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Renders the live entries of `entries` (relative to `now`) as a file `format` loads.
///
/// Formats whose gateway rejects an empty list (`apim-ip-filter`, `kong-ip-restriction`) return
/// [`ExportError::EmptyBlocklist`] when nothing is left to block.
pub fn render_blocklist(
    entries: &[BlockEntry],
    format: BlocklistFormat,
    now: Timestamp,
) -> Result<String> {
    let merged = merge(entries, now);
    if merged.is_empty()
        && matches!(
            format,
            BlocklistFormat::ApimIpFilter | BlocklistFormat::KongIpRestriction
        )
    {
        return Err(ExportError::EmptyBlocklist {
            format: format.as_str(),
        });
    }
    Ok(match format {
        BlocklistFormat::Nginx => nginx(&merged, now),
        BlocklistFormat::EnvoyRbac => envoy_rbac(&merged, now),
        BlocklistFormat::ApimIpFilter => apim_ip_filter(&merged, now),
        BlocklistFormat::KongIpRestriction => kong_ip_restriction(&merged, now),
        BlocklistFormat::Plain => plain(&merged),
    })
}

fn banner(prefix: &str, merged: &[Merged], now: Timestamp) -> String {
    format!(
        "{prefix} Generated by gatewatch blocklist export at {now}; {} entries.\n",
        merged.len()
    )
}

fn nginx(merged: &[Merged], now: Timestamp) -> String {
    let mut out = banner("#", merged, now);
    for m in merged {
        let _ = writeln!(out, "deny {}; # {}", address(&m.net), comment(m));
    }
    out
}

fn envoy_rbac(merged: &[Merged], now: Timestamp) -> String {
    let mut out = banner("#", merged, now);
    out.push_str(
        "name: envoy.filters.http.rbac\n\
         typed_config:\n  \
         \"@type\": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC\n  \
         rules:\n    \
         action: DENY\n",
    );
    if merged.is_empty() {
        out.push_str("    policies: {}\n");
        return out;
    }
    out.push_str(
        "    policies:\n      \
         gatewatch-blocklist:\n        \
         permissions:\n        \
         - any: true\n        \
         principals:\n",
    );
    for m in merged {
        let _ = write!(
            out,
            "        # {}\n        - remote_ip:\n            address_prefix: \"{}\"\n            prefix_len: {}\n",
            comment(m),
            m.net.network(),
            m.net.prefix_len()
        );
    }
    out
}

fn apim_ip_filter(merged: &[Merged], now: Timestamp) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!-- {} -->\n<ip-filter action=\"forbid\">\n",
        xml_comment_text(banner("", merged, now).trim())
    );
    // APIM wants child elements in the statement's order: every `address`, then every
    // `address-range` (ranges, because it takes no CIDR notation).
    let (hosts, networks): (Vec<&Merged>, Vec<&Merged>) = merged
        .iter()
        .partition(|m| m.net.prefix_len() == m.net.max_prefix_len());
    for m in hosts {
        let _ = writeln!(out, "    <!-- {} -->", xml_comment_text(&comment(m)));
        let _ = writeln!(
            out,
            "    <address>{}</address>",
            xml_escape(&m.net.addr().to_string())
        );
    }
    for m in networks {
        let _ = writeln!(out, "    <!-- {} -->", xml_comment_text(&comment(m)));
        let _ = writeln!(
            out,
            "    <address-range from=\"{}\" to=\"{}\" />",
            xml_escape(&m.net.network().to_string()),
            xml_escape(&m.net.broadcast().to_string())
        );
    }
    out.push_str("</ip-filter>\n");
    out
}

fn kong_ip_restriction(merged: &[Merged], now: Timestamp) -> String {
    let mut out = banner("#", merged, now);
    out.push_str(
        "_format_version: \"3.0\"\n\
         plugins:\n\
         - name: ip-restriction\n  \
         tags:\n  \
         - gatewatch-blocklist\n  \
         config:\n    \
         status: 403\n    \
         message: Forbidden\n    \
         deny:\n",
    );
    for m in merged {
        let _ = write!(out, "    # {}\n    - \"{}\"\n", comment(m), address(&m.net));
    }
    out
}

fn plain(merged: &[Merged]) -> String {
    let mut out = String::new();
    for m in merged {
        out.push_str(&address(&m.net));
        out.push('\n');
    }
    out
}

/// Escapes the five XML special characters.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Text safe inside `<!-- … -->`: no `--`, and not ending in `-`.
fn xml_comment_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '-' && out.ends_with('-') {
            out.push(' ');
        }
        out.push(c);
    }
    if out.ends_with('-') {
        out.push(' ');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{all, posture, sqli};

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn entry(net: &str, finding: &str, expires: &str) -> BlockEntry {
        BlockEntry {
            net: net.parse().unwrap(),
            identity: None,
            reason: BlockReason {
                rule_id: "GW-T-SQLI".into(),
                finding_id: finding.into(),
            },
            expires_at: ts(expires),
        }
    }

    const NOW: &str = "2024-06-10T10:00:00Z";

    #[test]
    fn from_findings_takes_live_open_threat_actors_only() {
        let mut resolved = sqli();
        resolved.status = FindingStatus::Resolved;
        let mut findings = all();
        findings.push(resolved);
        findings.push(posture());
        let ttl = SignedDuration::from_hours(24);
        let entries = blocklist_from_findings(&findings, Severity::High, ttl, ts(NOW));
        let nets: Vec<String> = entries.iter().map(|e| e.net.to_string()).collect();
        assert_eq!(nets, vec!["203.0.113.45/32", "2001:db8::7/128"]);
        assert_eq!(entries[0].expires_at, ts("2024-06-11T09:23:20.500Z"));
        assert_eq!(entries[0].identity.as_deref(), Some("alice@example.com"));
        // Critical only keeps the spike; a short TTL expires everything.
        let critical = blocklist_from_findings(&findings, Severity::Critical, ttl, ts(NOW));
        assert_eq!(critical.len(), 1);
        let short = SignedDuration::from_mins(10);
        assert!(blocklist_from_findings(&findings, Severity::Info, short, ts(NOW)).is_empty());
    }

    #[test]
    fn loopback_and_unspecified_actors_are_never_blocked() {
        let ttl = SignedDuration::from_hours(24);
        for ip in ["127.0.0.1", "::1", "0.0.0.0", "224.0.0.1"] {
            let mut f = sqli();
            f.actor.as_mut().unwrap().ip = Some(ip.parse().unwrap());
            assert!(
                blocklist_from_findings(&[f], Severity::Info, ttl, ts(NOW)).is_empty(),
                "{ip}"
            );
        }
    }

    #[test]
    fn merge_drops_expired_sorts_normalises_and_dedups() {
        let entries = vec![
            entry("2001:db8::1/128", "f-3", "2024-06-11T00:00:00Z"),
            entry("10.0.0.5/24", "f-2", "2024-06-11T00:00:00Z"),
            entry("198.51.100.7/32", "f-1", "2024-06-10T09:00:00Z"),
            entry("10.0.0.0/24", "f-1", "2024-06-12T00:00:00Z"),
            entry("10.0.0.0/24", "f-1", "2024-06-11T00:00:00Z"),
            entry("9.9.9.9/32", "f-4", NOW),
        ];
        let merged = merge(&entries, ts(NOW));
        let nets: Vec<String> = merged.iter().map(|m| address(&m.net)).collect();
        assert_eq!(nets, vec!["10.0.0.0/24", "2001:db8::1"]);
        assert_eq!(merged[0].reasons.len(), 2);
        assert_eq!(merged[0].expires_at, ts("2024-06-12T00:00:00Z"));
        assert_eq!(
            render_blocklist(&entries, BlocklistFormat::Plain, ts(NOW)).unwrap(),
            "10.0.0.0/24\n2001:db8::1\n"
        );
    }

    #[test]
    fn empty_lists_are_errors_only_where_the_gateway_rejects_them() {
        for format in BlocklistFormat::ALL {
            let result = render_blocklist(&[], format, ts(NOW));
            match format {
                BlocklistFormat::ApimIpFilter | BlocklistFormat::KongIpRestriction => {
                    let err = result.unwrap_err().to_string();
                    assert!(err.contains(format.as_str()), "{err}");
                }
                _ => assert!(result.is_ok(), "{format}"),
            }
        }
        assert_eq!(
            render_blocklist(&[], BlocklistFormat::Plain, ts(NOW)).unwrap(),
            ""
        );
    }

    #[test]
    fn hostile_identity_cannot_break_out_of_comments() {
        let mut e = entry("203.0.113.9/32", "f-9", "2024-06-11T00:00:00Z");
        e.identity = Some("x\ndeny all; --> <script>&".into());
        for format in BlocklistFormat::ALL {
            let text = render_blocklist(std::slice::from_ref(&e), format, ts(NOW)).unwrap();
            assert!(!text.contains("\ndeny all"), "{format}: {text}");
            if format == BlocklistFormat::ApimIpFilter {
                assert!(
                    !text.contains("-->  <script>") && text.contains("- ->"),
                    "{text}"
                );
                assert_eq!(text.matches("-->").count(), 2, "{text}");
            }
        }
    }

    #[test]
    fn apim_uses_ranges_for_networks() {
        let text = render_blocklist(
            &[entry("10.1.2.0/23", "f-1", "2024-06-11T00:00:00Z")],
            BlocklistFormat::ApimIpFilter,
            ts(NOW),
        )
        .unwrap();
        assert!(
            text.contains(r#"<address-range from="10.1.2.0" to="10.1.3.255" />"#),
            "{text}"
        );
    }

    #[test]
    fn format_names_round_trip() {
        for format in BlocklistFormat::ALL {
            assert_eq!(format.as_str().parse::<BlocklistFormat>().unwrap(), format);
        }
        let err = "iptables"
            .parse::<BlocklistFormat>()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("iptables") && err.contains("envoy-rbac"),
            "{err}"
        );
        assert_eq!(
            xml_escape(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;"
        );
    }
}
