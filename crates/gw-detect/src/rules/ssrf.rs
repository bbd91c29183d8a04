//! GW-T-SSRF: server-side request forgery markers in URL-shaped values.
//!
//! A value is URL-shaped when it starts with `scheme:` (or carries one after `=`/`@` inside
//! it). The rule parses the authority the way lax URL parsers do (every `@`-separated part is
//! a candidate host, `\` ends the authority, ports and IPv6 brackets are stripped), reads IPv4
//! literals with `inet_aton` rules (`127.1`, `0x7f000001`, `2130706433`, `0177.0.0.1`) and
//! flags internal, loopback, link-local and cloud-metadata hosts, and schemes that reach
//! non-HTTP services (`gopher:`, `dict:`, `file:` ...). Headers are not checked: a Referer or a
//! forwarded-for chain naming an internal host is normal.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use gw_model::{Confidence, OwaspApi2023, Severity};

use super::{KeywordSet, Place, RuleMeta, ScanValue, T1190, ValueRule, Verdict};

pub struct ServerSideRequestForgery;

static META: RuleMeta = RuleMeta {
    id: "GW-T-SSRF",
    name: "Server-side request forgery",
    version: 1,
    severity: Severity::High,
    owasp: &[OwaspApi2023::Api7],
    mitre: &[T1190, ("TA0006", "T1552.005")],
    description: "A URL-typed value points at an internal address, a cloud metadata endpoint or a non-HTTP scheme.",
    remediation: "Fetch only allow-listed destinations; resolve the host and reject loopback, private, link-local and metadata addresses after DNS resolution (and on every redirect); allow only http/https; require IMDSv2-style session tokens on cloud metadata services.",
};

const DANGEROUS_SCHEMES: &[&str] = &[
    "gopher", "dict", "file", "ldap", "ldaps", "tftp", "jar", "netdoc", "sftp", "expect", "ftp",
    "smb", "telnet", "imap", "pop3", "smtp", "mailto", "rtsp", "svn", "ssh",
];

const METADATA_HOSTS: &[&str] = &[
    "metadata.packet.net",
    "metadata.platformequinix.com",
    "metadata.google.internal",
    "metadata",
    "instance-data",
    "metadata.azure.com",
    "metadata.tencentyun.com",
    "169.254.169.254",
    "100.100.100.200",
    "192.0.0.192",
    "169.254.170.2",
    "fd00:ec2::254",
];

/// Wildcard-DNS services that resolve a name embedding an IP to that IP.
const IP_ECHO_DOMAINS: &[&str] = &[
    ".nip.io",
    ".xip.io",
    ".sslip.io",
    ".localtest.me",
    ".lvh.me",
    ".traefik.me",
];

/// `inet_aton`: 1 to 4 parts, each decimal, octal (`0` prefix) or hex (`0x`).
fn parse_ipv4_lax(host: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = host.split('.').collect();
    if parts.is_empty() || parts.len() > 4 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let mut nums = Vec::with_capacity(4);
    for p in &parts {
        let v = if let Some(h) = p.strip_prefix("0x") {
            u64::from_str_radix(h, 16).ok()?
        } else if p.len() > 1 && p.starts_with('0') {
            u64::from_str_radix(&p[1..], 8).ok()?
        } else {
            p.parse::<u64>().ok()?
        };
        nums.push(v);
    }
    let (last, head) = nums.split_last()?;
    if head.iter().any(|&v| v > 255) {
        return None;
    }
    let tail_bits = 8 * (4 - head.len() as u32);
    if *last >= 1u64 << tail_bits {
        return None;
    }
    let mut addr: u64 = 0;
    for (i, v) in head.iter().enumerate() {
        addr |= v << (24 - 8 * i as u32);
    }
    addr |= last;
    Some(Ipv4Addr::from(addr as u32))
}

fn internal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if o == [169, 254, 169, 254]
        || o == [100, 100, 100, 200]
        || o == [192, 0, 0, 192]
        || o == [169, 254, 170, 2]
    {
        Some("cloud metadata")
    } else if ip.is_private() || (o[0] == 100 && (64..128).contains(&o[1])) {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_unspecified() || o[0] == 0 {
        Some("unspecified")
    } else {
        None
    }
}

fn internal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return internal_v4(v4);
    }
    let seg = ip.segments();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if seg == [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254] {
        Some("cloud metadata")
    } else if seg[0] & 0xfe00 == 0xfc00 {
        Some("private")
    } else if seg[0] & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else {
        None
    }
}

/// Why `host` is internal, if it is.
fn internal_host(host: &str) -> Option<&'static str> {
    let host = host.trim_end_matches('.');
    if METADATA_HOSTS.contains(&host) {
        return Some("cloud metadata");
    }
    if matches!(
        host,
        "localhost"
            | "localhost4"
            | "localhost6"
            | "localhost.localdomain"
            | "localhost4.localdomain4"
            | "localhost6.localdomain6"
            | "ip6-localhost"
            | "ip6-loopback"
            | "ipv6-localhost"
            | "0"
    ) || host.ends_with(".localhost")
    {
        return Some("loopback");
    }
    if host.ends_with(".internal")
        || host.ends_with(".local")
        || host == "kubernetes.default"
        || host.starts_with("kubernetes.default.")
    {
        return Some("internal name");
    }
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let inner = inner.split('%').next().unwrap_or(inner);
        return inner.parse::<Ipv6Addr>().ok().and_then(internal_v6);
    }
    if let Some(ip) = parse_ipv4_lax(host) {
        return internal_v4(ip);
    }
    for d in IP_ECHO_DOMAINS {
        if let Some(prefix) = host.strip_suffix(d) {
            let ip_part = prefix.rsplit(['-', '.']).collect::<Vec<_>>();
            // `127.0.0.1.nip.io`, `app.10.0.0.1.nip.io`, `127-0-0-1.sslip.io`
            let dotted = prefix.replace('-', ".");
            let last4: Vec<&str> = dotted
                .rsplit('.')
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if let Some(ip) = parse_ipv4_lax(&last4.join(".")) {
                return internal_v4(ip).or(Some("IP-echo domain"));
            }
            if ip_part.is_empty() || *d == ".localtest.me" || *d == ".lvh.me" {
                return Some("loopback");
            }
        }
    }
    if host == "localtest.me" || host == "lvh.me" {
        return Some("loopback");
    }
    None
}

/// The scheme and the text after `scheme:` of the first URL in the value.
fn find_url(lower: &str) -> Option<(usize, &str, &str)> {
    let colon = lower.find(':')?;
    let b = lower.as_bytes();
    let mut scheme_start = colon;
    while scheme_start > 0
        && (b[scheme_start - 1].is_ascii_alphanumeric()
            || matches!(b[scheme_start - 1], b'+' | b'-' | b'.'))
    {
        scheme_start -= 1;
    }
    let scheme = &lower[scheme_start..colon];
    if scheme.is_empty() || !scheme.as_bytes()[0].is_ascii_alphabetic() {
        return None;
    }
    Some((scheme_start, scheme, &lower[colon + 1..]))
}

/// The authority after `scheme:`; lax parsers accept `http:host` and `http:/host` too.
fn authority(rest: &str) -> Option<&str> {
    let r = rest.trim_start_matches(['/', '\\']);
    if r.is_empty() {
        return None;
    }
    let end = r.find(['/', '?', '#']).unwrap_or(r.len());
    Some(&r[..end])
}

/// Candidate hosts of an authority: every `@` part, backslash tricks split, port removed.
fn candidate_hosts(auth: &str) -> impl Iterator<Item = &str> {
    auth.split(['@', '\\'])
        .filter(|p| !p.is_empty())
        .map(|part| {
            if part.starts_with('[') {
                part.find(']').map_or(part, |e| &part[..=e])
            } else {
                part.rsplit_once(':').map_or(part, |(h, port)| {
                    if port.bytes().all(|b| b.is_ascii_digit()) {
                        h
                    } else {
                        part
                    }
                })
            }
        })
}

/// Parameter names that carry a URL or host the server will fetch.
fn is_url_param(name: &str) -> bool {
    static HINTS: LazyLock<KeywordSet> = LazyLock::new(|| {
        KeywordSet::new(&[
            "url", "uri", "link", "href", "src", "host", "domain", "callback", "webhook",
            "redirect", "dest", "target", "endpoint", "proxy", "fetch", "feed", "ssrf", "site",
            "server",
        ])
    });
    if name.is_empty() || name.len() > 40 {
        return false;
    }
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        HINTS.find_any(&name.to_ascii_lowercase()).is_some()
    } else {
        HINTS.find_any(name).is_some()
    }
}

impl ValueRule for ServerSideRequestForgery {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn applies_to(&self, place: Place) -> bool {
        !matches!(
            place,
            Place::Path | Place::Header | Place::OtherHeader | Place::Cookie | Place::XmlBody
        )
    }

    fn check(&self, v: &ScanValue<'_>) -> Option<Verdict> {
        if memchr::memchr(b':', v.lower.as_bytes()).is_none() && !is_url_param(v.name) {
            return None;
        }
        let trimmed = v.lower.trim_start();
        let offset = v.lower.len() - trimmed.len();
        if is_url_param(v.name) && !trimmed.contains("://") {
            // A URL-typed parameter holding a bare host (`url=localhost/`, `target=10.0.0.5:8080`).
            let host_part = trimmed.split(['/', '?', '#']).next().unwrap_or("");
            if let Some(host) = candidate_hosts(host_part).next()
                && let Some(why) = internal_host(host)
            {
                return Some(Verdict::new(
                    Confidence::Medium,
                    format!(
                        "URL-typed parameter `{}` names host `{host}` ({why})",
                        v.name
                    ),
                    offset..v.text.len(),
                ));
            }
        }
        let (at, scheme, rest) = find_url(trimmed)?;
        // Only a URL at the start of the value (a URL-typed value), not prose mentioning one.
        if at != 0 {
            return None;
        }
        let span = offset..v.text.len();
        if DANGEROUS_SCHEMES.contains(&scheme)
            && (rest.starts_with('/')
                || scheme == "dict"
                || scheme == "gopher"
                || scheme == "jar"
                || scheme == "netdoc")
        {
            let confidence = if matches!(
                scheme,
                "ftp" | "ssh" | "mailto" | "svn" | "smb" | "imap" | "pop3" | "smtp" | "rtsp"
            ) {
                Confidence::Low
            } else {
                Confidence::High
            };
            if confidence == Confidence::High
                || authority(rest)
                    .is_some_and(|a| candidate_hosts(a).any(|h| internal_host(h).is_some()))
            {
                return Some(Verdict::new(
                    Confidence::High,
                    format!("`{scheme}:` URL reaches a non-HTTP service"),
                    span,
                ));
            }
        }
        if !matches!(
            scheme,
            "http" | "https" | "ws" | "wss" | "ftp" | "gopher" | "dict" | "ldap" | "tftp"
        ) {
            return None;
        }
        let auth = authority(rest)?;
        for host in candidate_hosts(auth) {
            if let Some(why) = internal_host(host) {
                let confidence = if why == "cloud metadata" || why == "loopback" {
                    Confidence::High
                } else {
                    Confidence::Medium
                };
                return Some(Verdict::new(
                    confidence,
                    format!("URL host `{host}` is {why}"),
                    span,
                ));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::check;

    #[test]
    fn internal_and_metadata_urls() {
        for p in [
            "http://169.254.169.254/latest/meta-data/",
            "http://127.1",
            "http://0x7f000001/admin",
            "http://2130706433/",
            "http://[::1]:80/",
            "http://[0000::1]:80/",
            "http://evil.com@127.0.0.1/",
            "http://127.1.1.1:80\\@evil.com/",
            "gopher://127.0.0.1:6379/_INFO",
            "dict://127.0.0.1:6379/SAVE",
            "file:///etc/passwd",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://169.254.169.254.nip.io/",
            "http://[::ffff:169.254.169.254]/",
        ] {
            assert!(check(&ServerSideRequestForgery, p).is_some(), "{p}");
        }
    }

    #[test]
    fn public_urls_and_prose_pass() {
        for p in [
            "https://example.com/a?b=1",
            "http://8.8.8.8/",
            "see http://localhost for details",
            "mailto:a@b.c",
            "10:30",
        ] {
            assert!(check(&ServerSideRequestForgery, p).is_none(), "{p}");
        }
        assert!(
            crate::rules::testing::check_at(
                &ServerSideRequestForgery,
                Place::Query,
                "url",
                "localhost/admin"
            )
            .is_some()
        );
        assert!(
            crate::rules::testing::check_at(
                &ServerSideRequestForgery,
                Place::Query,
                "url",
                "example.com/x"
            )
            .is_none()
        );
    }

    #[test]
    fn lax_ipv4_forms() {
        assert_eq!(
            parse_ipv4_lax("0177.0.0.1"),
            Some(Ipv4Addr::new(127, 0, 0, 1))
        );
        assert_eq!(parse_ipv4_lax("127.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(parse_ipv4_lax("999.1.1.1"), None);
    }
}
