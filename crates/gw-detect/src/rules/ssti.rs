//! GW-T-SSTI: server-side template injection.
//!
//! A value is template code when it opens a template delimiter of a common engine
//! (`{{ }}` Jinja/Twig/Handlebars/Angular, `${ }` Freemarker/Velocity/EL/Mako, `#{ }` Ruby/
//! Thymeleaf, `<%= %>` ERB/JSP, `{% %}`, `*{ }`, `@( )` Razor, `[[ ]]`, `{php}`, `<#assign`,
//! `#set(`) and the inside is an *expression* (arithmetic, a member access, a call, a filter,
//! an index, a dunder attribute) or names an engine's context object (`self`, `config`,
//! `request`). A bare placeholder such as `{{name}}` is not flagged. Log4j-style `${jndi:` and
//! `${env:` lookups are left to GW-T-JNDI.

use std::sync::LazyLock;

use gw_model::{Confidence, Severity};

use super::{INJECTION_OWASP, KeywordSet, RuleMeta, ScanValue, T1190, ValueRule, Verdict, mask_of};

pub struct TemplateInjection;

static META: RuleMeta = RuleMeta {
    id: "GW-T-SSTI",
    name: "Server-side template injection",
    version: 1,
    severity: Severity::High,
    owasp: INJECTION_OWASP,
    mitre: &[T1190, ("TA0002", "T1059")],
    description: "A request value contains template-engine expression syntax.",
    remediation: "Never compile request values as templates; pass them as data to a fixed template, use a sandboxed engine, and escape template delimiters.",
};

const OPENERS: &[(&str, &str)] = &[
    ("{{", "}}"),
    ("${", "}"),
    ("#{", "}"),
    ("<%=", "%>"),
    ("<%", "%>"),
    ("{%", "%}"),
    ("*{", "}"),
    ("@(", ")"),
    ("[[", "]]"),
    ("{php}", "{/php}"),
    ("<#assign", ">"),
    ("[#assign", "]"),
    ("#set(", ")"),
    ("{$smarty", "}"),
    ("@{", "}"),
    ("~{", "}"),
];

/// Context objects whose mere mention inside delimiters probes the engine.
const CONTEXT_OBJECTS: &[&str] = &[
    "self",
    "_self",
    "config",
    "request",
    "settings",
    "app",
    "dump",
    "lipsum",
    "cycler",
    "joiner",
    "namespace",
    "url_for",
    "get_flashed_messages",
    "smarty",
    "this",
    "session",
    "params",
    "environment",
    "ctx",
];

static GADGETS: LazyLock<KeywordSet> = LazyLock::new(|| {
    KeywordSet::new(&[
        "__class__",
        "__mro__",
        "__subclasses__",
        "__globals__",
        "__builtins__",
        "__import__",
        "__init__",
        "getruntime()",
        ".getclass()",
        "freemarker.template.utility",
        "java.lang.runtime",
        "java.lang.system",
        "processbuilder",
        "?new()",
        "t(java.",
        "os.popen",
        "os.system",
        "subprocess",
    ])
});

fn is_expression(inner: &str) -> bool {
    let t = inner.trim();
    if t.is_empty() {
        return false;
    }
    if CONTEXT_OBJECTS.contains(&t) {
        return true;
    }
    let b = t.as_bytes();
    let has_op = b.windows(2).any(|w| {
        w[0].is_ascii_alphanumeric()
            || w[0] == b')'
            || w[0] == b' '
            || w[0] == b'\''
            || w[0] == b'"'
            || w[0] == b']'
    }) && b.iter().any(|&c| {
        matches!(
            c,
            b'*' | b'+'
                | b'/'
                | b'%'
                | b'('
                | b'['
                | b'|'
                | b'.'
                | b'\''
                | b'"'
                | b'='
                | b'<'
                | b'>'
                | b'?'
                | b'~'
        )
    });
    if !has_op {
        return false;
    }
    // Arithmetic on literals (`7*7`), or any call / member access / filter / index.
    b.iter()
        .any(|&c| matches!(c, b'(' | b'[' | b'|' | b'*' | b'+' | b'?' | b'\'' | b'"'))
        || t.split('.').count() > 1
            && t.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || c == b' ')
}

fn log4j_lookup(inner: &str) -> bool {
    let t = inner.trim_start();
    [
        "jndi", "lower:", "upper:", "env:", "sys:", "::-", "date:", "java:", "${",
    ]
    .iter()
    .any(|p| t.starts_with(p))
}

impl ValueRule for TemplateInjection {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, v: &ScanValue<'_>) -> Option<Verdict> {
        let lower = v.lower;
        let b = lower.as_bytes();
        // Every opener needs `{`, `[`, `<`, or `(` after `@` / `#set`.
        let openers =
            v.has_any(mask_of(b"{[<")) || (v.has_any(mask_of(b"(")) && v.has_any(mask_of(b"@#")));
        let gadget_shaped = v.has_any(mask_of(b"_.")) && v.has_any(mask_of(b"(%"));
        if !(openers || gadget_shaped) {
            return None;
        }
        if let Some((at, g)) = GADGETS.find_any(lower)
            && b.iter().any(|&c| matches!(c, b'{' | b'%' | b'[' | b'('))
        {
            return Some(Verdict::new(
                Confidence::High,
                format!("template gadget `{g}`"),
                at..v.text.len(),
            ));
        }
        for (open, close) in OPENERS {
            let mut from = 0;
            while let Some(off) = lower[from..].find(open) {
                let at = from + off;
                let inner_start = at + open.len();
                let inner_end = lower[inner_start..].find(close).map(|e| inner_start + e);
                let inner = &lower[inner_start..inner_end.unwrap_or(lower.len())];
                let keyword_opener = open.starts_with("{php")
                    || open.contains("assign")
                    || open.starts_with("#set")
                    || open.starts_with("{$smarty");
                if keyword_opener
                    || (inner_end.is_some()
                        && !(*open == "${" && log4j_lookup(inner))
                        && is_expression(inner))
                {
                    let shown: String = inner.trim().chars().take(24).collect();
                    return Some(Verdict::new(
                        Confidence::High,
                        format!("template expression `{open}{shown}{close}`"),
                        at..v.text.len(),
                    ));
                }
                from = inner_start;
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
    fn engines_are_recognised() {
        for p in [
            "{{7*7}}",
            "${3*3}",
            "<%= 7 * 7 %>",
            "#{ 7 * 7 }",
            "{{config.items()}}",
            "{{self}}",
            "{{ ''.__class__.__mro__[2] }}",
            "<#assign ex = \"freemarker.template.utility.Execute\"?new()>",
            "@(7*7)",
            "{php}echo `id`;{/php}",
        ] {
            assert!(check(&TemplateInjection, p).is_some(), "{p}");
        }
    }

    #[test]
    fn placeholders_and_prose_pass() {
        for p in [
            "{{name}}",
            "Hello {{ user }}",
            "price (incl. tax)",
            "${jndi:ldap://x/a}",
            "{\"a\": 1}",
            "50% off [today]",
        ] {
            assert!(check(&TemplateInjection, p).is_none(), "{p}");
        }
    }
}
