//! Parsers for the list file formats. A bad line is skipped and reported; it never aborts the
//! list.

use std::net::IpAddr;
use std::path::Path;

use ipnet::{IpNet, Ipv4Subnets, Ipv6Subnets};

use crate::config::ListFormat;
use crate::error::LineError;

/// At most this many skipped lines are kept per list with their reasons; the rest are counted.
pub const MAX_REPORTED_LINE_ERRORS: usize = 20;

/// What parsing one file produced besides its prefixes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParseOutcome {
    /// The format actually used (`auto` resolved).
    pub format: ListFormat,
    /// Prefixes delivered to the sink (a range counts once per CIDR it splits into).
    pub prefixes: usize,
    /// Lines skipped because they could not be parsed.
    pub skipped: usize,
    /// The first [`MAX_REPORTED_LINE_ERRORS`] skipped lines, with their reasons.
    pub errors: Vec<LineError>,
}

/// Parses `text` (the content of `path`) and hands every prefix to `sink`.
pub fn parse_list(
    text: &str,
    format: ListFormat,
    path: &Path,
    mut sink: impl FnMut(IpNet),
) -> ParseOutcome {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let format = match format {
        ListFormat::Auto => detect_format(text),
        other => other,
    };
    let mut out = ParseOutcome {
        format,
        ..ParseOutcome::default()
    };
    let mut in_exit_node = false;
    for (i, line) in text.lines().enumerate() {
        let mut emit = |net: IpNet| {
            out.prefixes += 1;
            sink(net);
        };
        let result = match format {
            ListFormat::TorExitAddresses => {
                parse_exit_addresses_line(line, &mut in_exit_node, &mut emit)
            }
            _ => parse_prefix_line(line, &mut emit),
        };
        if let Err(reason) = result {
            out.skipped += 1;
            if out.errors.len() < MAX_REPORTED_LINE_ERRORS {
                out.errors.push(LineError {
                    path: path.to_path_buf(),
                    line: i + 1,
                    reason,
                });
            }
        }
    }
    out
}

/// `tor_exit_addresses` when the first meaningful line is TorDNSEL's, `netset` otherwise.
fn detect_format(text: &str) -> ListFormat {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    match first {
        Some(l) if l.starts_with("ExitNode ") || l.starts_with("@type tordnsel") => {
            ListFormat::TorExitAddresses
        }
        _ => ListFormat::Netset,
    }
}

/// One line of `plain` / `netset`: an IP, a CIDR (host bits are cleared) or a `first-last` range,
/// optionally followed by a `#` or `;` comment.
fn parse_prefix_line(line: &str, sink: &mut impl FnMut(IpNet)) -> Result<(), String> {
    let content = line.find(['#', ';']).map_or(line, |at| &line[..at]).trim();
    if content.is_empty() {
        return Ok(());
    }
    let mut tokens = content.split_whitespace();
    let token = tokens.next().unwrap_or(content);
    if let Some(extra) = tokens.next() {
        return Err(format!(
            "\"{}\": unexpected \"{extra}\" after the address",
            shorten(content)
        ));
    }
    if let Some((first, last)) = token.split_once('-') {
        return parse_range(first, last, sink).map_err(|r| format!("\"{}\": {r}", shorten(token)));
    }
    let net = if token.contains('/') {
        token
            .parse::<IpNet>()
            .map_err(|_| format!("\"{}\": not a CIDR prefix", shorten(token)))?
            .trunc()
    } else {
        IpNet::from(parse_ip(token)?)
    };
    sink(net);
    Ok(())
}

fn parse_range(first: &str, last: &str, sink: &mut impl FnMut(IpNet)) -> Result<(), String> {
    let (first, last) = (parse_ip(first.trim())?, parse_ip(last.trim())?);
    match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) if a <= b => {
            Ipv4Subnets::new(a, b, 0).for_each(|n| sink(n.into()));
        }
        (IpAddr::V6(a), IpAddr::V6(b)) if a <= b => {
            Ipv6Subnets::new(a, b, 0).for_each(|n| sink(n.into()));
        }
        (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
            return Err("range ends before it starts".into());
        }
        _ => return Err("range mixes IPv4 and IPv6".into()),
    }
    Ok(())
}

fn parse_ip(token: &str) -> Result<IpAddr, String> {
    token
        .parse::<IpAddr>()
        .map_err(|_| format!("\"{}\": not an IP address", shorten(token)))
}

/// One line of TorDNSEL `exit-addresses`:
///
/// ```text
/// ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E
/// Published 2024-01-08 14:07:42
/// LastStatus 2024-01-09 05:00:00
/// ExitAddress 162.247.74.201 2024-01-09 05:14:04
/// ```
///
/// Only `ExitAddress` carries an address; the other keywords are checked for shape. `@` lines
/// (CollecTor's `@type tordnsel 1.0` header) are annotations and are ignored.
fn parse_exit_addresses_line(
    line: &str,
    in_exit_node: &mut bool,
    sink: &mut impl FnMut(IpNet),
) -> Result<(), String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('@') || line.starts_with('#') {
        return Ok(());
    }
    let mut tokens = line.split_whitespace();
    let keyword = tokens.next().unwrap_or_default();
    let argument = tokens.next();
    match (keyword, argument) {
        ("ExitNode", Some(fingerprint)) => {
            if fingerprint.len() != 40 || !fingerprint.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "ExitNode: \"{}\" is not a 40-hex-digit relay fingerprint",
                    shorten(fingerprint)
                ));
            }
            *in_exit_node = true;
            Ok(())
        }
        ("Published" | "LastStatus", Some(_)) => Ok(()),
        ("ExitAddress", Some(address)) => {
            if !*in_exit_node {
                return Err("ExitAddress before any ExitNode line".into());
            }
            sink(IpNet::from(
                parse_ip(address).map_err(|r| format!("ExitAddress: {r}"))?,
            ));
            Ok(())
        }
        ("ExitNode" | "Published" | "LastStatus" | "ExitAddress", None) => {
            Err(format!("{keyword}: missing value"))
        }
        _ => Err(format!("unknown keyword \"{}\"", shorten(keyword))),
    }
}

/// Keeps error messages short when a line is garbage (a binary file, an HTML error page).
fn shorten(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, format: ListFormat) -> (Vec<String>, ParseOutcome) {
        let mut nets = Vec::new();
        let outcome = parse_list(text, format, Path::new("list.txt"), |n| {
            nets.push(n.to_string())
        });
        (nets, outcome)
    }

    #[test]
    fn netset_with_header_comments_hosts_cidrs_and_ranges() {
        let text = "#\n# feodo\n#\n1.2.3.4\n10.0.0.0/8 ; SBL123\n  192.0.2.7/24  # host bits set\n\
                    2001:db8::/32\n198.51.100.0-198.51.100.9\n\n";
        let (nets, out) = parse(text, ListFormat::Auto);
        assert_eq!(out.format, ListFormat::Netset);
        assert_eq!(
            nets,
            [
                "1.2.3.4/32",
                "10.0.0.0/8",
                "192.0.2.0/24",
                "2001:db8::/32",
                "198.51.100.0/29",
                "198.51.100.8/31"
            ]
        );
        assert_eq!(out.skipped, 0);
        assert_eq!(out.prefixes, 6);
    }

    #[test]
    fn bad_lines_are_skipped_counted_and_named_by_line() {
        let text = "1.2.3.4\n1.2.3.999\nhello world\n10.0.0.0/33\n5.6.7.8\n2.2.2.2-1.1.1.1\n";
        let (nets, out) = parse(text, ListFormat::Plain);
        assert_eq!(nets, ["1.2.3.4/32", "5.6.7.8/32"]);
        assert_eq!(out.skipped, 4);
        let messages: Vec<String> = out.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "list.txt:2: \"1.2.3.999\": not an IP address",
                "list.txt:3: \"hello world\": unexpected \"world\" after the address",
                "list.txt:4: \"10.0.0.0/33\": not a CIDR prefix",
                "list.txt:6: \"2.2.2.2-1.1.1.1\": range ends before it starts",
            ]
        );
    }

    #[test]
    fn only_the_first_errors_are_kept_but_all_are_counted() {
        let text = "x\n".repeat(MAX_REPORTED_LINE_ERRORS + 5);
        let (_, out) = parse(&text, ListFormat::Plain);
        assert_eq!(out.skipped, MAX_REPORTED_LINE_ERRORS + 5);
        assert_eq!(out.errors.len(), MAX_REPORTED_LINE_ERRORS);
    }

    #[test]
    fn tordnsel_exit_addresses_are_detected_and_parsed() {
        let text = "@type tordnsel 1.0\n\
            Downloaded 2024-01-09 06:00:00\n\
            ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E\n\
            Published 2024-01-08 14:07:42\n\
            LastStatus 2024-01-09 05:00:00\n\
            ExitAddress 162.247.74.201 2024-01-09 05:14:04\n\
            ExitAddress 2001:db8::7 2024-01-09 05:14:04\n\
            ExitNode 00D0F6B0A3F05E3FDA3A3B7CF4D1B8E3A2C1D0F0\n\
            Published 2024-01-08 10:00:00\n\
            LastStatus 2024-01-09 04:00:00\n\
            ExitAddress 185.220.101.1 2024-01-09 04:10:00\n";
        let (nets, out) = parse(text, ListFormat::Auto);
        assert_eq!(out.format, ListFormat::TorExitAddresses);
        assert_eq!(
            nets,
            ["162.247.74.201/32", "2001:db8::7/128", "185.220.101.1/32"]
        );
        // `Downloaded` is not a TorDNSEL keyword
        assert_eq!(out.skipped, 1);
        assert_eq!(out.errors[0].line, 2);
    }

    #[test]
    fn tordnsel_shape_errors() {
        let text = "ExitAddress 1.1.1.1 2024-01-09 05:14:04\n\
            ExitNode XYZ\n\
            ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E\n\
            ExitAddress\n\
            ExitAddress not-an-ip 2024-01-09\n\
            ExitAddress 2.2.2.2 2024-01-09 05:14:04\n";
        let (nets, out) = parse(text, ListFormat::TorExitAddresses);
        assert_eq!(nets, ["2.2.2.2/32"]);
        let reasons: Vec<&str> = out.errors.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "ExitAddress before any ExitNode line",
                "ExitNode: \"XYZ\" is not a 40-hex-digit relay fingerprint",
                "ExitAddress: missing value",
                "ExitAddress: \"not-an-ip\": not an IP address",
            ]
        );
    }

    #[test]
    fn a_byte_order_mark_and_crlf_line_ends_are_tolerated() {
        let (nets, out) = parse("\u{feff}1.2.3.4\r\n5.6.7.8/31\r\n", ListFormat::Auto);
        assert_eq!(nets, ["1.2.3.4/32", "5.6.7.8/31"]);
        assert_eq!(out.skipped, 0);
    }

    #[test]
    fn long_garbage_is_shortened_in_messages() {
        let garbage = "a".repeat(500);
        let (_, out) = parse(&garbage, ListFormat::Plain);
        assert!(out.errors[0].reason.len() < 100);
    }
}
