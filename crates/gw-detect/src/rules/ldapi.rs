//! GW-T-LDAPI: LDAP filter injection.
//!
//! An LDAP search filter is a prefix expression: `(&(uid=alice)(objectClass=person))`. A value
//! that closes the current filter and opens another (`*)(uid=*`, `admin)(|(password=*)`), or
//! that brings its own boolean filter (`*(|(mail=*))`), rewrites the query. The rule looks
//! for a close-open pair `)(` next to a filter operator or attribute test, and for a value
//! that starts with a wildcard or operator followed by a parenthesised filter.

use gw_model::{Confidence, Severity};

use super::{INJECTION_OWASP, RuleMeta, ScanValue, T1190, ValueRule, Verdict};

pub struct LdapInjection;

static META: RuleMeta = RuleMeta {
    id: "GW-T-LDAPI",
    name: "LDAP injection",
    version: 1,
    severity: Severity::High,
    owasp: INJECTION_OWASP,
    mitre: &[T1190],
    description: "A request value closes or opens LDAP search filters.",
    remediation: "Escape LDAP filter metacharacters (RFC 4515: `*`, `(`, `)`, `\\`, NUL) in every value placed in a filter, and validate identifiers against a strict pattern.",
};

/// `(attr=` or `(|`/`(&`/`(!` starting a filter at `at` (which points at `(`).
fn filter_start(b: &[u8], at: usize) -> bool {
    match b.get(at + 1) {
        Some(b'|' | b'&' | b'!') => true,
        Some(c) if c.is_ascii_alphabetic() => {
            let mut i = at + 1;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || b[i] == b'-' || b[i] == b'.' || b[i] == b';')
            {
                i += 1;
            }
            matches!(b.get(i), Some(b'=' | b'~' | b'>' | b'<'))
        }
        _ => false,
    }
}

impl ValueRule for LdapInjection {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, v: &ScanValue<'_>) -> Option<Verdict> {
        let b = v.lower.as_bytes();
        memchr::memchr2(b'(', b')', b)?;
        // `)(` followed by a filter, or `)` + operator + `(`.
        for at in memchr::memmem::find_iter(b, b")(") {
            if filter_start(b, at + 1) || b.get(at + 2) == Some(&b'(') {
                return Some(Verdict::new(
                    Confidence::High,
                    "closes the LDAP filter and opens another `)(`",
                    at..v.text.len(),
                ));
            }
        }
        let t = v.lower.trim_start();
        let lead = v.lower.len() - t.len();
        let tb = t.as_bytes();
        if matches!(tb.first(), Some(b'*' | b'|' | b'&' | b'!'))
            && let Some(p) = memchr::memchr(b'(', tb)
            && (filter_start(tb, p) || tb.get(p + 1) == Some(&b'('))
            && tb[..p]
                .iter()
                .all(|&c| matches!(c, b'*' | b'|' | b'&' | b'!' | b')' | b'(' | b' '))
        {
            return Some(Verdict::new(
                Confidence::High,
                "value is an LDAP filter expression",
                lead..v.text.len(),
            ));
        }
        if v.lower.contains("(|(") || v.lower.contains("(&(") {
            let at = v
                .lower
                .find("(|(")
                .or_else(|| v.lower.find("(&("))
                .unwrap_or(0);
            if filter_start(b, at + 2) {
                return Some(Verdict::new(
                    Confidence::Medium,
                    "nested LDAP boolean filter",
                    at..v.text.len(),
                ));
            }
        }
        if let Some(at) = v.lower.find("*))") {
            return Some(Verdict::new(
                Confidence::Medium,
                "wildcard closing LDAP filters `*))`",
                at..v.text.len(),
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::check;

    #[test]
    fn filter_breakouts() {
        for p in [
            "*)(uid=*))(|(uid=*",
            "admin*)((|userpassword=*)",
            "*(|(mail=*))",
            "%2A%28%7C%28objectclass%3D%2A%29%29",
            "x)(|(cn=*)",
            "*))%00",
        ] {
            assert!(check(&LdapInjection, p).is_some(), "{p}");
        }
        for p in ["John (Jack) Smith", "f(x)(y)", "a*b", "(555) 123-4567"] {
            assert!(check(&LdapInjection, p).is_none(), "{p}");
        }
    }
}
