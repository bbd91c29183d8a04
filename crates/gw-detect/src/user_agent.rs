//! GW-T-SUSPICIOUS-UA: attack tools, scanners and script-like or garbled user agents.
//!
//! Three verdicts, from strongest to weakest: the agent names an attack tool or vulnerability
//! scanner (`sqlmap/1.7`, `Nuclei - Open-source project`, `masscan/1.3`); the agent carries
//! code instead of a product name (`javascript:`, `<script>`, `${jndi:`, the Shellshock
//! `() {`); or the agent is empty or garbled (control characters, no letters). Ordinary HTTP
//! client libraries (curl, okhttp, python-requests, Go-http-client ...) are deliberately not
//! alerts on their own: APIs are called by programs.

use std::sync::LazyLock;

use gw_model::{Confidence, OwaspApi2023, Severity};

use crate::rules::{KeywordSet, RuleMeta};

pub static SUSPICIOUS_UA: RuleMeta = RuleMeta {
    id: "GW-T-SUSPICIOUS-UA",
    name: "Suspicious user agent",
    version: 1,
    severity: Severity::Low,
    owasp: &[OwaspApi2023::Api8],
    mitre: &[("TA0043", "T1595.002")],
    description: "The client identifies as an attack tool or vulnerability scanner, or sends a script-like, empty or garbled User-Agent.",
    remediation: "Check whether the scan was authorised; if not, block the source at the gateway and review the endpoints it reached for successful responses.",
};

/// Lower-case substrings of User-Agent values sent by attack and scanning tools.
const TOOL_TOKEN_LIST: &[&str] = &[
    "sqlmap",
    "nikto",
    "nuclei",
    "masscan",
    "zgrab",
    "nmap",
    "dirbuster",
    "gobuster",
    "dirb/",
    "wfuzz",
    "ffuf",
    "feroxbuster",
    "acunetix",
    "acunetix-",
    "netsparker",
    "invicti",
    "appscan",
    "burpcollaborator",
    "burp suite",
    "owasp zap",
    "zaproxy",
    "w3af",
    "arachni",
    "skipfish",
    "whatweb",
    "wpscan",
    "joomscan",
    "droopescan",
    "openvas",
    "nessus",
    "qualys",
    "wapiti",
    "havij",
    "pangolin",
    "commix",
    "xsser",
    "jaeles",
    "hydra",
    "metasploit",
    "morfeus",
    "zmeu",
    "muieblackcat",
    "fimap",
    "grabber",
    "paros",
    "webinspect",
    "dotdotpwn",
    "sqlninja",
    "bsqlbf",
    "absinthe",
    "webshag",
    "nsauditor",
    "mysqloit",
    "jbrofuzz",
    "brutus",
    "cgichk",
    "grendel-scan",
    "n-stealth",
    "sitelockspider",
    "teh forest lobster",
    "interactsh",
    "l9scan",
    "l9explore",
    "leakix",
    "censysinspect",
    "expanse, a palo alto",
    "httpx - open-source",
    "naabu",
    "katana",
    "xray",
    "goby",
    "fscan",
    "afrog",
    "vega/",
    "webvulnscan",
    "struts-pwn",
    "log4j-scan",
    "mozilla/5.0 sf/",
    "crimscanner",
    "ecarnet",
    "bilbo",
    "sf/",
    "black widow",
    "blackwidow",
    "floodgate",
    "inspath",
    "prog.customcrawler",
    "webtrends security analyzer",
    "automated scanner",
    "vulnerability scanner",
    "security scan",
    "scanbot",
    "detectify",
    "intruder.io",
    "tenable",
    "rapid7",
    "appspider",
    "qualysguard",
    "nmap scripting engine",
    "hexometer",
    "dismap",
    // Injection-specific tools and recon frameworks.
    "xsstrike",
    "ghauri",
    "sstimap",
    "tplmap",
    "jsql",
    "nettacker",
    "cmsmap",
    "wprecon",
    "ironwasp",
    "n-stalker",
    "libwhisker",
    "jorgee",
    "tsunamisecurityscanner",
    "lfisuite",
    "kadimus",
    "lfimap",
    "panoptic",
    "graphw00f",
    "graphql-cop",
    "whatwaf",
    "trufflehog",
    "noseyparker",
    "shortscan",
    "fuzz faster u fool",
    "fuzz faster",
    "yeswehack",
    "bfac",
    "webbandit",
    "wpprobe",
    "tinja",
    "l9tcpid",
    "netlab360",
    "vega",
    "dalfox",
    "kxss",
    "gau/",
    "hakrawler",
    "arjun",
    "paramspider",
    "corsy",
];

/// Words scanners put in their own names; matched as whole parts of the agent.
const SCANNER_WORDS: &[&str] = &[
    "scanner",
    "scan",
    "security-scan",
    "securityscan",
    "vulnscan",
    "exploit",
    "pwn",
    "fuzzer",
    "sysscan",
    "securityagent",
];

/// Client libraries and tools whose agents are ordinary for APIs.
const BENIGN_CLIENT_LIST: &[&str] = &[
    "curl/",
    "wget/",
    "okhttp/",
    "python-requests/",
    "python-urllib/",
    "python-httpx/",
    "aiohttp/",
    "go-http-client/",
    "apache-httpclient/",
    "java/",
    "axios/",
    "node-fetch/",
    "undici",
    "got ",
    "dart/",
    "postmanruntime/",
    "insomnia/",
    "httpie/",
    "libwww-perl/",
    "lwp::",
    "ruby",
    "faraday",
    "guzzlehttp/",
    "php/",
    "reqwest/",
    "hyper/",
    "restsharp/",
    ".net",
    "dotnet",
    "cfnetwork/",
    "dalvik/",
    "mozilla/",
    "opera/",
    "okhttp",
    "grpc-",
    "k6/",
    "jmeter",
    "powershell/",
    "winhttp",
    "microsoft",
    "azure",
    "aws-sdk",
    "boto",
    "google",
    "kube-probe/",
    "elb-healthchecker/",
    "prometheus/",
    "datadog",
    "newrelic",
];

/// Code in an agent string: nothing a real client sends.
const SCRIPT_MARKER_LIST: &[&str] = &[
    "javascript:",
    "vbscript:",
    "<script",
    "<svg",
    "<img",
    "onerror=",
    "onload=",
    "${",
    "() {",
    "$(",
    "`",
    "<?php",
    "union select",
    "' or ",
    "\" or ",
    "' and ",
    "sleep(",
    "benchmark(",
    "../",
    "..\\",
    "<!entity",
    "eval(",
    "alert(",
    "/etc/passwd",
    "cmd.exe",
    "/bin/sh",
    "|sh",
    "; wget ",
    ";wget ",
    "; curl ",
    "%00",
];

static TOOL_TOKENS: LazyLock<KeywordSet> = LazyLock::new(|| KeywordSet::new(TOOL_TOKEN_LIST));
static BENIGN_CLIENTS: LazyLock<KeywordSet> = LazyLock::new(|| KeywordSet::new(BENIGN_CLIENT_LIST));
static SCRIPT_MARKERS: LazyLock<KeywordSet> = LazyLock::new(|| KeywordSet::new(SCRIPT_MARKER_LIST));

/// Why a user agent is suspicious.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UaVerdict {
    pub confidence: Confidence,
    pub reason: String,
}

/// Classifies a User-Agent value; `None` for ordinary agents and for an unknown (absent)
/// agent — access logs often lack it, so absence alone says nothing.
pub fn classify_user_agent(ua: Option<&str>) -> Option<UaVerdict> {
    let ua = ua?;
    let trimmed = ua.trim();
    if trimmed.is_empty() || trimmed == "-" {
        return Some(UaVerdict {
            confidence: Confidence::Low,
            reason: "empty User-Agent".into(),
        });
    }
    let lower = trimmed.to_ascii_lowercase();
    let lb = lower.as_bytes();
    // Tool tokens start a product token (after a blank, `(`, `;` ...), so `sf/` does not
    // fire inside `Microsoft/` and `grabber` not inside `ecairn-grabber` or a contact URL.
    if let Some((_, tok)) = TOOL_TOKENS.occurrences(&lower).find(|&(at, _)| {
        at == 0
            || matches!(
                lb[at - 1],
                b' ' | b'(' | b';' | b',' | b'\t' | b'"' | b'\'' | b'['
            )
    }) {
        return Some(UaVerdict {
            confidence: Confidence::High,
            reason: format!("attack tool or scanner token `{tok}`"),
        });
    }
    if let Some(w) = scanner_word(&lower) {
        return Some(UaVerdict {
            confidence: Confidence::Medium,
            reason: format!("agent calls itself a scanner (`{w}`)"),
        });
    }
    if let Some(why) = malformed_mozilla(trimmed) {
        return Some(UaVerdict {
            confidence: Confidence::Medium,
            reason: why.into(),
        });
    }
    if let Some((_, m)) = SCRIPT_MARKERS.find_any(&lower) {
        return Some(UaVerdict {
            confidence: Confidence::High,
            reason: format!("script-like User-Agent containing `{m}`"),
        });
    }
    if BENIGN_CLIENTS.find_any(&lower).is_some() {
        return None;
    }
    garbled(trimmed).map(|why| UaVerdict {
        confidence: Confidence::Low,
        reason: why.into(),
    })
}

/// A scanner word as a whole part of the agent (split at anything but letters and digits),
/// or as the suffix of a product name (`sysscan`, `TsunamiSecurityScanner`).
fn scanner_word(lower: &str) -> Option<&'static str> {
    for part in lower.split(|c: char| !c.is_ascii_alphanumeric()) {
        if part.is_empty() {
            continue;
        }
        if let Some(w) = SCANNER_WORDS.iter().find(|w| {
            part == **w || (part.len() > w.len() + 2 && part.ends_with(**w) && w.len() >= 4)
        }) {
            return Some(w);
        }
    }
    SCANNER_WORDS
        .iter()
        .find(|w| w.contains('-') && lower.contains(**w))
        .copied()
}

/// Browsers always send `Mozilla/<digit>.<digit>`; tools that fake it often get it wrong
/// (`Mozlila/5.0`, `Mozilla/5.g`).
fn malformed_mozilla(ua: &str) -> Option<&'static str> {
    let lower = ua.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("mozilla/") {
        let b = rest.as_bytes();
        let ok = b.len() >= 3 && b[0].is_ascii_digit() && b[1] == b'.' && b[2].is_ascii_digit();
        return (!ok).then_some("malformed Mozilla version token");
    }
    let head = lower.split(['/', ' ']).next().unwrap_or("");
    let is_typo = head.len() == 7 && head != "mozilla" && head.starts_with("moz") && {
        let mut a: Vec<char> = head.chars().collect();
        let mut m: Vec<char> = "mozilla".chars().collect();
        a.sort_unstable();
        m.sort_unstable();
        a == m
    };
    is_typo.then_some("misspelt Mozilla product token")
}

fn garbled(ua: &str) -> Option<&'static str> {
    if ua.chars().any(|c| c.is_control() || c == '\u{fffd}') {
        return Some("garbled User-Agent (control or undecodable characters)");
    }
    let letters = ua.chars().filter(|c| c.is_alphabetic()).count();
    if letters == 0 {
        return Some("garbled User-Agent (no letters)");
    }
    if ua.chars().count() < 3 {
        return Some("garbled User-Agent (too short to name a client)");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_scripts_and_garbage_are_flagged() {
        for ua in [
            "Mozlila/5.0 (Linux)",
            "Mozilla/5.g",
            "SysScan/1.0",
            "sqlmap/1.7.2#stable (https://sqlmap.org)",
            "Mozilla/5.0 (compatible; Nmap Scripting Engine)",
            "javascript:alert(1)",
            "() { :; }; /bin/bash -c id",
            "",
            "\u{1}\u{2}",
            "12345",
            "masscan/1.3",
        ] {
            assert!(classify_user_agent(Some(ua)).is_some(), "{ua:?}");
        }
    }

    #[test]
    fn clients_and_browsers_pass() {
        for ua in [
            "mozilla/5.0 ecairn-grabber/1.0 (+http://ecairn.com/grabber)",
            "curl/8.5.0",
            "okhttp/4.12.0",
            "python-requests/2.31.0",
            "Go-http-client/1.1",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
            "Microsoft Office/16.0",
        ] {
            assert!(classify_user_agent(Some(ua)).is_none(), "{ua}");
        }
        assert!(classify_user_agent(None).is_none());
    }
}
