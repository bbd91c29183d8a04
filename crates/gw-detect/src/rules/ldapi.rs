//! GW-T-LDAPI: LDAP filter injection.
//!
//! An LDAP search filter is a prefix expression: `(&(uid=alice)(objectClass=person))`. A value
//! that closes the current filter and opens another (`*)(uid=*`, `admin)(|(password=*)`), or
//! that brings its own boolean filter (`*(|(mail=*))`), rewrites the query. The rule looks
//! for a close-open pair `)(` next to a filter operator or attribute test, and for a value
//! that starts with a wildcard or operator followed by a parenthesised filter.
//!
//! XPath injection is the same attack on the other common lookup language (XML user stores,
//! LDAP gateways that speak XPath): a quote that closes a string literal followed by `or` /
//! `and` and an XPath function (`' or name()='admin`), or a location step with an explicit
//! axis (`/child::node()`), so this rule reports it too.

use gw_model::{Confidence, Severity};

use super::{INJECTION_OWASP, RuleMeta, ScanValue, T1190, ValueRule, Verdict, mask_of};

pub struct LdapInjection;

static META: RuleMeta = RuleMeta {
    id: "GW-T-LDAPI",
    name: "LDAP / XPath injection",
    version: 2,
    severity: Severity::High,
    owasp: INJECTION_OWASP,
    mitre: &[T1190],
    description: "A request value closes or opens LDAP search filters, or breaks out of an XPath string literal into XPath syntax.",
    remediation: "Escape LDAP filter metacharacters (RFC 4515: `*`, `(`, `)`, `\\`, NUL) in every value placed in a filter, bind XPath values as variables instead of concatenating them, and validate identifiers against a strict pattern.",
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

/// XPath axes; `axis::` after `/`, `(` or `[` is a location step.
const XPATH_AXES: &[&str] = &[
    "ancestor-or-self",
    "ancestor",
    "attribute",
    "child",
    "descendant-or-self",
    "descendant",
    "following-sibling",
    "following",
    "namespace",
    "parent",
    "preceding-sibling",
    "preceding",
    "self",
];

/// XPath functions that injections call right after the boolean break (`' or name()=`).
const XPATH_FUNCTIONS: &[&str] = &[
    "name",
    "local-name",
    "count",
    "string-length",
    "substring",
    "contains",
    "starts-with",
    "text",
    "node",
    "position",
    "last",
    "normalize-space",
    "translate",
    "string",
];

/// An XPath location step with an explicit axis (`/child::node()`); the offset of the axis.
fn xpath_axis_step(lower: &str) -> Option<usize> {
    let b = lower.as_bytes();
    memchr::memmem::find_iter(b, b"::").find_map(|colons| {
        let word_start = b[..colons]
            .iter()
            .rposition(|&c| !(c.is_ascii_alphabetic() || c == b'-'))
            .map_or(0, |p| p + 1);
        let axis = &lower[word_start..colons];
        (word_start > 0
            && matches!(b[word_start - 1], b'/' | b'(' | b'[')
            && XPATH_AXES.contains(&axis))
        .then_some(word_start)
    })
}

/// A quote, then `or`/`and`, then an XPath function call; the offset of the quote.
fn xpath_boolean_break(lower: &str) -> Option<usize> {
    let b = lower.as_bytes();
    let quote = memchr::memchr2(b'\'', b'"', b)?;
    let mut i = quote + 1;
    while i < b.len() {
        let rest = &b[i..];
        let op_len = if rest.starts_with(b"or ") {
            3
        } else if rest.starts_with(b"and ") {
            4
        } else {
            i += 1;
            continue;
        };
        if super::is_word_byte(b[i - 1]) {
            i += 1;
            continue;
        }
        let call = rest[op_len..].trim_ascii_start();
        if XPATH_FUNCTIONS.iter().any(|f| {
            call.strip_prefix(f.as_bytes())
                .is_some_and(|after| after.first() == Some(&b'('))
        }) {
            return Some(quote);
        }
        i += op_len;
    }
    None
}

impl ValueRule for LdapInjection {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, v: &ScanValue<'_>) -> Option<Verdict> {
        let b = v.lower.as_bytes();
        if v.has_any(mask_of(b":"))
            && let Some(at) = xpath_axis_step(v.lower)
        {
            return Some(Verdict::new(
                Confidence::Medium,
                "XPath location step with an explicit axis",
                at..v.text.len(),
            ));
        }
        memchr::memchr2(b'(', b')', b)?;
        if v.has_any(mask_of(b"'\""))
            && let Some(at) = xpath_boolean_break(v.lower)
        {
            return Some(Verdict::new(
                Confidence::High,
                "closes a string literal and calls an XPath function after `or`/`and`",
                at..v.text.len(),
            ));
        }
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

    #[test]
    fn xpath_breakouts() {
        for p in [
            "x' or name()='username' or 'x'='y",
            "' or count(/*)=1 or '",
            "\" and string-length(name(/*[1]))>3 and \"",
            "count(/child::node())",
            "//user[1]/descendant::password",
        ] {
            assert!(check(&LdapInjection, p).is_some(), "{p}");
        }
        for p in [
            "Tom's name (or nickname)",
            "rock 'n' roll and count (me) in",
            "use self::foo; Foo::new()",
            "std::vector<int> (x)",
        ] {
            assert!(check(&LdapInjection, p).is_none(), "{p}");
        }
    }
}
