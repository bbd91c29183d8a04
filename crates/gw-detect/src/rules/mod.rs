//! The injection rule families. Each family is one file implementing [`ValueRule`] and one
//! line in [`VALUE_RULES`].
//!
//! A rule sees one decoded input value ([`ScanValue`]) and answers with a [`Verdict`] that
//! says *what* in the value made the decision (a libinjection fingerprint, the command after a
//! shell separator, the internal host of a URL ...). Rules must be cheap to reject: each one
//! starts with a byte-level trigger and only then does its real work.

use std::ops::Range;

use gw_model::{Confidence, MitreRef, OwaspApi2023, Severity};

mod cmdi;
mod jndi;
mod ldapi;
mod nosqli;
mod sqli;
mod ssrf;
mod ssti;
mod traversal;
mod xss;
mod xxe;

pub use nosqli::is_mongo_operator_name;

/// Static description of a rule: what it is called, how bad a hit is and where it maps.
#[derive(Debug, PartialEq, Eq)]
pub struct RuleMeta {
    /// Stable id, e.g. `GW-T-SQLI`.
    pub id: &'static str,
    pub name: &'static str,
    pub version: u32,
    pub severity: Severity,
    pub owasp: &'static [OwaspApi2023],
    /// `(tactic, technique)` pairs.
    pub mitre: &'static [(&'static str, &'static str)],
    pub description: &'static str,
    pub remediation: &'static str,
}

impl RuleMeta {
    pub fn mitre_refs(&self) -> Vec<MitreRef> {
        self.mitre
            .iter()
            .map(|(t, q)| MitreRef::new(t, q))
            .collect()
    }
}

/// Where a value was found in the request; decides which rules apply and how it is decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Place {
    /// The whole request path (only path-shaped rules look at it).
    Path,
    PathSegment,
    Query,
    Form,
    JsonBody,
    XmlBody,
    TextBody,
    /// One of the headers that get every rule (User-Agent, Referer, forwarded-for ...).
    Header,
    /// Any other header that is not a credential or a structured protocol header; URL-shaped
    /// rules (SSRF) skip it.
    OtherHeader,
    Cookie,
}

impl Place {
    /// The location prefix used in evidence (`query:id`, `body:$.user`, `header:referer`).
    pub fn prefix(self) -> &'static str {
        match self {
            Place::Path | Place::PathSegment => "path",
            Place::Query => "query",
            Place::Form => "form",
            Place::JsonBody | Place::XmlBody | Place::TextBody => "body",
            Place::Header | Place::OtherHeader => "header",
            Place::Cookie => "cookie",
        }
    }

    /// `+` means space in query strings and form bodies.
    pub fn plus_is_space(self) -> bool {
        matches!(self, Place::Query | Place::Form | Place::Cookie)
    }
}

/// One decoded input value as the rules see it.
#[derive(Debug)]
pub struct ScanValue<'a> {
    pub place: Place,
    /// Parameter name, JSON key or header name; empty when the place has none.
    pub name: &'a str,
    /// The canonical (decoded) text.
    pub text: &'a str,
    /// `text` in ASCII lower case (same byte offsets as `text`).
    pub lower: &'a str,
    /// Which ASCII bytes occur in `text` (bit n = byte n; bit 127 also marks non-ASCII), so
    /// rules can reject a value without rescanning it. Build it with [`byte_mask`].
    pub bytes: u128,
}

/// The [`ScanValue::bytes`] mask of a text.
pub fn byte_mask(text: &str) -> u128 {
    text.bytes().fold(0u128, |m, b| m | (1u128 << b.min(127)))
}

/// A mask with the given bytes set.
pub(crate) const fn mask_of(bytes: &[u8]) -> u128 {
    let mut m = 0u128;
    let mut i = 0;
    while i < bytes.len() {
        m |= 1u128 << bytes[i];
        i += 1;
    }
    m
}

impl ScanValue<'_> {
    /// True when any byte of `mask` occurs in the value.
    pub fn has_any(&self, mask: u128) -> bool {
        self.bytes & mask != 0
    }
}

/// Why a rule fired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub confidence: Confidence,
    /// Human explanation: what in the value made the verdict.
    pub reason: String,
    /// Byte range of the decisive part of `ScanValue::text`.
    pub span: Range<usize>,
}

impl Verdict {
    pub fn new(confidence: Confidence, reason: impl Into<String>, span: Range<usize>) -> Self {
        Verdict {
            confidence,
            reason: reason.into(),
            span,
        }
    }
}

/// One injection family.
pub trait ValueRule: Sync {
    fn meta(&self) -> &'static RuleMeta;
    fn check(&self, value: &ScanValue<'_>) -> Option<Verdict>;

    /// Whether the rule looks at values from `place`. By default: every value location, but
    /// not the whole path (path-shaped rules only) and not a whole XML document (its text
    /// nodes are scanned one by one).
    fn applies_to(&self, place: Place) -> bool {
        !matches!(place, Place::Path | Place::XmlBody)
    }
}

/// Every injection family, in the order hits are reported.
pub static VALUE_RULES: &[&dyn ValueRule] = &[
    &sqli::SqlInjection,
    &xss::CrossSiteScripting,
    &cmdi::CommandInjection,
    &traversal::PathTraversal,
    &ssrf::ServerSideRequestForgery,
    &nosqli::NoSqlInjection,
    &xxe::XmlExternalEntity,
    &ssti::TemplateInjection,
    &jndi::JndiLookup,
    &ldapi::LdapInjection,
];

/// The OWASP mapping every input-injection rule shares: injection flaws sit under
/// API8:2023 (Security Misconfiguration: missing input validation) and API10:2023 when the
/// payload is aimed at a downstream system.
pub(crate) const INJECTION_OWASP: &[OwaspApi2023] = &[OwaspApi2023::Api8, OwaspApi2023::Api10];

/// MITRE ATT&CK Initial Access / Exploit Public-Facing Application.
pub(crate) const T1190: (&str, &str) = ("TA0001", "T1190");

/// A fixed keyword list searched in one pass (Aho-Corasick), for rules that would otherwise
/// run one substring search per keyword on every value.
#[derive(Debug)]
pub(crate) struct KeywordSet {
    ac: aho_corasick::AhoCorasick,
    words: &'static [&'static str],
}

impl KeywordSet {
    /// Builds the automaton over a static keyword list (a few hundred bytes: building cannot
    /// hit the automaton size limits, so a failure is a programming error in the list).
    pub(crate) fn new(words: &'static [&'static str]) -> Self {
        let ac = aho_corasick::AhoCorasick::new(words).expect("static keyword lists build");
        KeywordSet { ac, words }
    }

    /// Every occurrence (overlapping) as `(offset, keyword)`.
    pub(crate) fn occurrences<'h>(
        &'h self,
        hay: &'h str,
    ) -> impl Iterator<Item = (usize, &'static str)> + 'h {
        self.ac
            .find_overlapping_iter(hay)
            .map(|m| (m.start(), self.words[m.pattern().as_usize()]))
    }

    /// The first keyword found anywhere.
    pub(crate) fn find_any(&self, hay: &str) -> Option<(usize, &'static str)> {
        self.ac
            .find(hay)
            .map(|m| (m.start(), self.words[m.pattern().as_usize()]))
    }

    /// The first keyword found as a whole word.
    pub(crate) fn find_word(&self, hay: &str) -> Option<(usize, &'static str)> {
        let h = hay.as_bytes();
        self.occurrences(hay).find(|&(at, w)| {
            let end = at + w.len();
            (at == 0 || !is_word_byte(h[at - 1])) && (end >= h.len() || !is_word_byte(h[end]))
        })
    }
}

pub(crate) fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// Runs `rule` on `raw` as a query value, after canonical decoding.
    pub fn check(rule: &dyn ValueRule, raw: &str) -> Option<Verdict> {
        check_at(rule, Place::Query, "q", raw)
    }

    pub fn check_at(rule: &dyn ValueRule, place: Place, name: &str, raw: &str) -> Option<Verdict> {
        let text = crate::decode::canonicalize(raw, place.plus_is_space());
        let lower = text.to_ascii_lowercase();
        rule.check(&ScanValue {
            place,
            name,
            text: &text,
            lower: &lower,
            bytes: byte_mask(&lower),
        })
    }
}
