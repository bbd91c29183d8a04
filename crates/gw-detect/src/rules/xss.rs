//! GW-T-XSS: cross-site scripting via an HTML tokenizer plus script-context checks.
//!
//! The HTML side is libinjection's HTML5 tokenizer, run in the five contexts a value can land
//! in (text, unquoted / single / double / back-quoted attribute): it flags dangerous tags,
//! event-handler attributes, `javascript:`-style URLs and DOCTYPEs. Values that land inside
//! an existing `<script>` block (`';alert(1)//`) contain no markup at all, so a second check
//! looks for a quote or operator break-out followed by a call of a script sink, and for
//! script URL schemes with whitespace tricks removed.

use gw_model::{Confidence, Severity};
use libinjectionrs::detect_xss;

use std::sync::LazyLock;

use super::{
    INJECTION_OWASP, KeywordSet, RuleMeta, ScanValue, T1190, ValueRule, Verdict, is_word_byte,
    mask_of,
};

pub struct CrossSiteScripting;

static META: RuleMeta = RuleMeta {
    id: "GW-T-XSS",
    name: "Cross-site scripting",
    version: 1,
    severity: Severity::Medium,
    owasp: INJECTION_OWASP,
    mitre: &[T1190, ("TA0001", "T1189")],
    description: "A request value carries markup or script that would execute if reflected or stored and rendered.",
    remediation: "Encode output for its context (HTML, attribute, JavaScript, URL) in every client, validate input against the API schema, and send a restrictive Content-Security-Policy. APIs should return application/json, never text/html, for data.",
};

/// Script sinks and gadgets whose call in a value means script, not prose.
static SCRIPT_SINKS: LazyLock<KeywordSet> = LazyLock::new(|| {
    KeywordSet::new(&[
        "alert",
        "prompt",
        "confirm",
        "eval",
        "settimeout",
        "setinterval",
        "fromcharcode",
        "atob",
        "document.write",
        "document.cookie",
        "document.domain",
        "document.location",
        "window.location",
        "location.href",
        "constructor",
        "import",
        "fetch",
        "top[",
        "self[",
        "window[",
        "parent[",
        "globalthis",
        "print",
        "execscript",
        "expression",
        "unescape",
    ])
});

/// DOM and JavaScript gadgets that only script uses: reading the page or the URL, writing
/// markup, building code from strings; and markup that loads script without a `<script>`
/// tag (server-side includes, CSS bindings, IE behaviours and imports, Netscape layers).
static DOM_GADGETS: LazyLock<KeywordSet> = LazyLock::new(|| {
    KeywordSet::new(&[
        "document.cookie",
        "document.domain",
        "document.write",
        "document.url",
        "document.location",
        "location.hash",
        "location.href",
        "location.search",
        ".innerhtml",
        ".outerhtml",
        "unescape(",
        "__proto__",
        "__parent__",
        "fromcharcode(",
        "createelement(",
        "appendchild(",
        "getelementsbytagname(",
        "getelementbyid(",
        "window.open(",
        "with(document)",
        ".call(this",
        "/.source",
        "string.prototype",
        "constructor.constructor",
        "<!--#exec",
        "<!--#include",
        "-moz-binding",
        "behavior:url",
        "behavior: url",
        "<?import",
        "<layer",
        "<ilayer",
        // Closing a raw-text element breaks out of the script, style or textarea it sits in.
        "</script",
        "</style",
        "</title",
        "</textarea",
        "</noscript",
        "</xmp",
        "</iframe",
        ":script",
    ])
});

/// An event-handler attribute inside a tag: `<x onxxx=1`, `<x/onfoo=`, `<a 1='1'onclick=`.
/// Any `on<letters>=` counts, not only the events browsers know today.
fn event_handler_attribute(lower: &str) -> Option<usize> {
    let b = lower.as_bytes();
    for lt in memchr::memchr_iter(b'<', b) {
        if !b
            .get(lt + 1)
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'/')
        {
            continue;
        }
        let end = memchr::memchr(b'>', &b[lt..]).map_or(b.len(), |e| lt + e);
        let tag = &b[lt..end];
        for at in memchr::memmem::find_iter(tag, b"on") {
            let before = tag[at - 1];
            if !(before.is_ascii_whitespace() || matches!(before, b'/' | b'"' | b'\'' | b'`')) {
                continue;
            }
            let name_len = tag[at + 2..]
                .iter()
                .take_while(|c| c.is_ascii_alphabetic())
                .count();
            let mut i = at + 2 + name_len;
            while i < tag.len() && tag[i].is_ascii_whitespace() {
                i += 1;
            }
            if name_len >= 3 && tag.get(i) == Some(&b'=') {
                return Some(lt + at);
            }
        }
    }
    None
}

/// A script sink used as a value (`a=eval;b=alert;a(b(1))`, `x=alert;x(1)`).
fn sink_reference(lower: &str) -> Option<(usize, &'static str)> {
    let b = lower.as_bytes();
    SCRIPT_SINKS.occurrences(lower).find(|&(at, sink)| {
        if !matches!(
            sink,
            "eval" | "alert" | "prompt" | "confirm" | "unescape" | "settimeout" | "setinterval"
        ) {
            return false;
        }
        let mut p = at;
        while p > 0 && b[p - 1] == b' ' {
            p -= 1;
        }
        let before_assign = p > 0 && matches!(b[p - 1], b'=' | b',' | b':' | b'[' | b'?');
        let after_ok = matches!(
            b.get(at + sink.len()),
            None | Some(b';' | b',' | b')' | b']' | b'}' | b'.')
        );
        before_assign && after_ok
    })
}

const SCRIPT_SCHEMES: &[&str] = &[
    "javascript:",
    "vbscript:",
    "livescript:",
    "mocha:",
    "data:text/html",
    "data:image/svg+xml",
    "data:application/x-javascript",
];

fn html_trigger(b: &[u8]) -> bool {
    b.iter()
        .any(|&c| matches!(c, b'<' | b'>' | b'=' | b'"' | b'\'' | b'`' | b':'))
}

/// `lower` with ASCII whitespace and control characters removed, when it has any.
fn squeezed(lower: &str) -> Option<String> {
    lower.bytes().any(|b| b <= b' ').then(|| {
        lower
            .chars()
            .filter(|c| !(c.is_ascii_control() || *c == ' '))
            .collect()
    })
}

fn script_scheme(lower: &str) -> Option<(usize, &'static str)> {
    let check = |s: &str| {
        SCRIPT_SCHEMES
            .iter()
            .find_map(|sch| s.find(sch).map(|at| (at, *sch)))
    };
    if !lower.contains(':') {
        return None;
    }
    check(lower).or_else(|| {
        let sq = squeezed(lower)?;
        check(&sq).map(|(_, sch)| (0, sch))
    })
}

/// A call of a script sink: `alert(1)`, ``alert`1` ``, `document.cookie`, `top['al'+'ert']`.
fn script_sink(lower: &str) -> Option<(usize, &'static str)> {
    let b = lower.as_bytes();
    SCRIPT_SINKS.occurrences(lower).find(|&(at, sink)| {
        if sink.ends_with('[') || sink.contains('.') && sink != "document.write" {
            return true;
        }
        if at > 0 && is_word_byte(b[at - 1]) {
            return false;
        }
        let mut end = at + sink.len();
        while end < b.len() && (b[end] == b' ' || b[end] == b'\t') {
            end += 1;
        }
        matches!(b.get(end), Some(b'(' | b'`'))
    })
}

/// The value breaks out of a script string or expression before the sink: a quote, `;`,
/// `</`, an operator or a brace appears before it.
fn has_breakout(before: &str) -> bool {
    before.bytes().any(|c| {
        matches!(
            c,
            b'\''
                | b'"'
                | b'`'
                | b';'
                | b'<'
                | b'>'
                | b'-'
                | b'+'
                | b'*'
                | b'|'
                | b'&'
                | b'{'
                | b'}'
                | b'('
                | b')'
                | b'='
                | b','
        )
    })
}

impl ValueRule for CrossSiteScripting {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, v: &ScanValue<'_>) -> Option<Verdict> {
        let b = v.text.as_bytes();
        if !html_trigger(b) && !b.iter().any(|&c| matches!(c, b'(' | b'.' | b';' | b',')) {
            return None;
        }
        if let Some((at, scheme)) = script_scheme(v.lower) {
            return Some(Verdict::new(
                Confidence::High,
                format!("script URL scheme `{scheme}`"),
                at..v.text.len(),
            ));
        }
        // Markup needs a tag or an attribute assignment; the five-context tokenizer is the
        // costly part of this rule, so plain text with quotes or colons skips it.
        if b.iter().any(|&c| matches!(c, b'<' | b'=' | b'`')) && detect_xss(b).is_injection() {
            let at = memchr::memchr(b'<', b).unwrap_or(0);
            let tag: String = v.lower[at..].chars().take(24).collect();
            return Some(Verdict::new(
                Confidence::High,
                format!(
                    "HTML tokenizer found executable markup near `{}`",
                    tag.trim()
                ),
                at..v.text.len(),
            ));
        }
        if v.has_any(mask_of(b"<"))
            && let Some(at) = event_handler_attribute(v.lower)
        {
            return Some(Verdict::new(
                Confidence::High,
                "event-handler attribute inside a tag",
                at..v.text.len(),
            ));
        }
        if let Some((at, g)) = DOM_GADGETS.find_any(v.lower) {
            return Some(Verdict::new(
                Confidence::Medium,
                format!("DOM / script gadget `{g}`"),
                at..v.text.len(),
            ));
        }
        if let Some((at, sink)) = sink_reference(v.lower) {
            return Some(Verdict::new(
                Confidence::Medium,
                format!("script sink `{sink}` used as a value"),
                at..v.text.len(),
            ));
        }
        if let Some((at, sink)) = script_sink(v.lower)
            && (has_breakout(&v.lower[..at]) || at == 0)
        {
            let confidence = if at == 0 {
                Confidence::Medium
            } else {
                Confidence::High
            };
            return Some(Verdict::new(
                confidence,
                format!("script sink `{sink}` called after a string/expression break-out"),
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
    fn markup_and_script_contexts() {
        for p in [
            "<script>alert(1)</script>",
            "\"><img src=x onerror=alert(1)>",
            "java%0ascript:alert(1)",
            "';alert(String.fromCharCode(88,83,83))//",
            "\"-alert`1`-\"",
            "&lt;svg/onload=prompt(1)&gt;",
            "a=eval;b=alert;a(b(1));//",
            "%BCscript%BEalert(%A2XSS%A2)%BC/script%BE",
            "<x%09onxxx=1",
            "</script><b>",
        ] {
            assert!(check(&CrossSiteScripting, p).is_some(), "{p}");
        }
    }

    #[test]
    fn prose_and_math_pass() {
        for p in [
            "a < b and c > d",
            "Tom's \"best\" offer",
            "x=1",
            "see https://example.com/a?b=c",
            "print shop",
        ] {
            assert!(check(&CrossSiteScripting, p).is_none(), "{p}");
        }
    }
}
