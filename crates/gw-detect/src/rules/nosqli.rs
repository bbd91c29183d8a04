//! GW-T-NOSQLI: NoSQL (MongoDB-style) operator and server-side JavaScript injection.
//!
//! Two shapes: a query operator where the application expects a plain value (`{"$ne": null}`
//! in JSON, `password[$ne]=x` in a query string, `{ $gt: '' }` inside a string), and a string
//! that breaks out of a `$where` JavaScript expression (`' && this.password.match(/.*/)//`,
//! `';return true;var x='`). Operator *keys* are checked by the walker through
//! [`is_mongo_operator_name`]; values go through the rule.

use std::sync::LazyLock;

use gw_model::{Confidence, Severity};

use super::{
    INJECTION_OWASP, KeywordSet, RuleMeta, ScanValue, T1190, ValueRule, Verdict, is_word_byte,
    mask_of,
};

pub struct NoSqlInjection;

pub(crate) static META: RuleMeta = RuleMeta {
    id: "GW-T-NOSQLI",
    name: "NoSQL injection",
    version: 1,
    severity: Severity::High,
    owasp: INJECTION_OWASP,
    mitre: &[T1190],
    description: "A request carries a MongoDB query operator or server-side JavaScript where a plain value is expected.",
    remediation: "Validate request values against their schema type (a string must not become an object), cast or sanitize operator keys (`$`-prefixed) before building queries, and disable server-side JavaScript ($where, mapReduce) in the database.",
};

const OPERATORS: &[&str] = &[
    "ne",
    "eq",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "nin",
    "regex",
    "where",
    "exists",
    "or",
    "and",
    "nor",
    "not",
    "expr",
    "function",
    "accumulator",
    "elemmatch",
    "size",
    "type",
    "mod",
    "all",
    "text",
    "jsonschema",
    "comment",
    "lookup",
    "out",
    "merge",
    "where",
];

/// True for a key or parameter name that is (or ends in a bracketed) MongoDB operator:
/// `$ne`, `password[$ne]`, `user[$regex]`.
pub fn is_mongo_operator_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let candidates = lower.split(['[', ']']).filter(|p| !p.is_empty());
    for part in candidates {
        if let Some(op) = part.trim().strip_prefix('$')
            && OPERATORS.contains(&op)
        {
            return true;
        }
    }
    false
}

/// `$op` inside a value followed by `:`, `]`, `"` or `'` (`{ $ne: 1 }`, `[$ne]=1`).
fn operator_in_value(lower: &str) -> Option<(usize, &str)> {
    let b = lower.as_bytes();
    for at in memchr::memchr_iter(b'$', b) {
        let start = at + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_alphabetic() {
            end += 1;
        }
        let op = &lower[start..end];
        if !OPERATORS.contains(&op) {
            continue;
        }
        let mut next = end;
        while next < b.len() && b[next] == b' ' {
            next += 1;
        }
        let prev_ok = at == 0 || matches!(b[at - 1], b'{' | b'[' | b'"' | b'\'' | b' ' | b',');
        if prev_ok && matches!(b.get(next), Some(b':' | b']' | b'"' | b'\'')) {
            return Some((at, op));
        }
    }
    None
}

/// JavaScript that only makes sense inside a `$where` / mapReduce expression.
static JS_MARKERS: LazyLock<KeywordSet> = LazyLock::new(|| {
    KeywordSet::new(&[
        "this.",
        "db.",
        "mapreduce(",
        "tojson(",
        "objectid(",
        "isodate(",
        "new date(",
        "emit(",
    ])
});

/// Operators and statements that turn a string into script once it breaks out.
static JS_LOGIC: LazyLock<KeywordSet> = LazyLock::new(|| {
    KeywordSet::new(&[
        "&&",
        "||",
        ";return",
        "; return",
        "return true",
        "return(",
        "==",
        "sleep(",
    ])
});

/// Break-out tails that need a preceding quote.
static JS_TAILS: LazyLock<KeywordSet> = LazyLock::new(|| {
    KeywordSet::new(&[
        ";return",
        "; return",
        "return true",
        "';sleep(",
        "\";sleep(",
        "while(",
        "||1==1",
        "|| 1==1",
        "'=='",
        "\"==\"",
    ])
});

fn js_breakout(lower: &str) -> Option<(usize, &'static str)> {
    let b = lower.as_bytes();
    let quote = b.iter().position(|&c| c == b'\'' || c == b'"');
    if let Some((at, m)) = JS_MARKERS
        .occurrences(lower)
        .find(|&(at, _)| at == 0 || !is_word_byte(b[at - 1]))
        && (quote.is_some() || m.starts_with("db.") || JS_LOGIC.find_any(lower).is_some())
    {
        return Some((at, m));
    }
    let q = quote?;
    JS_TAILS
        .occurrences(lower)
        .find(|&(at, _)| at >= q.saturating_sub(1))
}

impl ValueRule for NoSqlInjection {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, v: &ScanValue<'_>) -> Option<Verdict> {
        let span = 0..v.text.len();
        if !v.name.is_empty() && v.name.contains('$') && is_mongo_operator_name(v.name) {
            return Some(Verdict::new(
                Confidence::High,
                format!("query operator in parameter name `{}`", v.name),
                span,
            ));
        }
        if v.has_any(mask_of(b"$"))
            && let Some((at, op)) = operator_in_value(v.lower)
        {
            return Some(Verdict::new(
                Confidence::High,
                format!("MongoDB operator `${op}`"),
                at..v.text.len(),
            ));
        }
        let js_shaped = v.has_any(mask_of(b"'\"|&;="))
            || (v.has_any(mask_of(b".")) && v.has_any(mask_of(b"(")));
        if !js_shaped {
            return None;
        }
        if let Some((at, m)) = js_breakout(v.lower) {
            return Some(Verdict::new(
                Confidence::Medium,
                format!("server-side JavaScript `{m}`"),
                at..v.text.len(),
            ));
        }
        if v.lower.trim_start().starts_with("|| 1==1") || v.lower.contains("||1==1") {
            return Some(Verdict::new(
                Confidence::Medium,
                "JavaScript tautology `|| 1==1`",
                span,
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Place;
    use crate::rules::testing::{check, check_at};

    #[test]
    fn operators_and_where_breakouts() {
        for p in [
            "{ $ne: 1 }",
            "[$ne]=1",
            "{\"$gt\": \"\"}",
            "' && this.password.match(/.*/)//",
            "';return 'a'=='a' && ''=='",
            "db.injection.insert({success:1});",
            "true, $where: '1 == 1'",
        ] {
            assert!(check(&NoSqlInjection, p).is_some(), "{p}");
        }
        assert!(check_at(&NoSqlInjection, Place::Query, "password[$ne]", "x").is_some());
        assert!(is_mongo_operator_name("$where"));
        assert!(!is_mongo_operator_name("price$"));
    }

    #[test]
    fn money_and_prose_pass() {
        for p in [
            "$5 off",
            "costs $10.00 today",
            "this.is a sentence",
            "US$ 40",
            "a == b",
        ] {
            assert!(check(&NoSqlInjection, p).is_none(), "{p}");
        }
    }
}
