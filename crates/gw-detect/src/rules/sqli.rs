//! GW-T-SQLI: SQL injection by lexical analysis (libinjection tokenizer and fingerprints).
//!
//! libinjection tokenizes the value as SQL in three quote contexts (none, after `'`, after
//! `"`) and two dialects, folds the token stream to a fingerprint such as `s&sos` and looks
//! the fingerprint up in its list of known-injection shapes. The tokenizer costs a few
//! microseconds, so a cheap trigger runs first: a value must contain a byte that SQL syntax
//! needs to break out of a literal (quote, operator, parenthesis, comment) or a whole SQL
//! keyword. The trigger is validated against the payload corpus in `tests/corpus.rs`.

use gw_model::{Confidence, Severity};
use libinjectionrs::{SqliFlags, SqliState};

use std::sync::LazyLock;

use super::{INJECTION_OWASP, KeywordSet, RuleMeta, ScanValue, T1190, ValueRule, Verdict};

pub struct SqlInjection;

static META: RuleMeta = RuleMeta {
    id: "GW-T-SQLI",
    name: "SQL injection",
    version: 1,
    severity: Severity::High,
    owasp: INJECTION_OWASP,
    mitre: &[T1190],
    description: "A request value tokenizes as SQL that breaks out of a literal (libinjection fingerprint).",
    remediation: "Use parameterized queries or prepared statements for every database call; never build SQL by string concatenation. Validate the parameter against its schema type and reject unexpected characters at the gateway.",
};

/// Bytes SQL needs to leave a literal, compare or chain a statement. Deliberately absent:
/// `,` `.` `-` `/` `%` `+` `:` `!` `#` `@` (prose, dates, URLs, numbers, hashtags); their
/// SQL uses (`--`, `!=`, `@@`) are checked as pairs, and `'` and `(` get their own checks
/// because prose is full of them (`don't`, `(maybe)`).
fn is_sql_syntax_byte(b: u8) -> bool {
    matches!(
        b,
        b'"' | b'`'
            | b';'
            | b'='
            | b'<'
            | b'>'
            | b'|'
            | b'&'
            | b'*'
            | b'~'
            | b'^'
            | b'\\'
            | b'{'
            | b'}'
    )
}

/// An apostrophe inside a word (`don't`, `O'Brien`) cannot close a SQL literal unless what
/// follows is a SQL operator word (`x'or'1`).
fn is_prose_apostrophe(b: &[u8], at: usize) -> bool {
    let letter_before = at > 0 && b[at - 1].is_ascii_alphabetic();
    let rest = &b[at + 1..];
    let word_len = rest.iter().take_while(|c| c.is_ascii_alphabetic()).count();
    if !letter_before || word_len == 0 {
        return false;
    }
    let word = &rest[..word_len];
    !matches!(
        word,
        b"or"
            | b"and"
            | b"xor"
            | b"union"
            | b"like"
            | b"rlike"
            | b"div"
            | b"is"
            | b"not"
            | b"having"
            | b"order"
            | b"group"
            | b"waitfor"
            | b"into"
            | b"limit"
            | b"procedure"
    )
}

/// A `#` that ends the value or is followed by a blank or newline: a MySQL comment
/// (`1 or 1#`), not a hashtag (`#1 seller`).
fn sql_hash_comment(b: &[u8], at: usize) -> bool {
    matches!(b.get(at + 1), None | Some(b' ' | b'\n' | b'\r' | b'\t'))
}

/// SQL functions whose call is worth tokenizing (`char(`, `sleep(`, `concat(` ...).
static SQL_CALLS: LazyLock<KeywordSet> = LazyLock::new(|| {
    KeywordSet::new(&[
        "char",
        "chr",
        "concat",
        "concat_ws",
        "group_concat",
        "ascii",
        "substring",
        "substr",
        "mid",
        "count",
        "cast",
        "convert",
        "if",
        "ifnull",
        "iif",
        "sleep",
        "benchmark",
        "user",
        "database",
        "version",
        "length",
        "hex",
        "unhex",
        "md5",
        "sha1",
        "extractvalue",
        "updatexml",
        "exp",
        "floor",
        "rand",
        "load_file",
        "row",
        "elt",
        "make_set",
        "now",
        "current_user",
        "system_user",
        "db_name",
        "schema",
        "coalesce",
        "nullif",
        "ord",
        "lower",
        "upper",
        "left",
        "right",
        "instr",
        "locate",
        "position",
        "replace",
        "reverse",
        "trim",
        "space",
        "repeat",
        "waitfor",
        "exec",
        "execute",
        "select",
        "union",
        "exists",
        "xor",
        "values",
        "pg_sleep",
        "randomblob",
        "json_extract",
        "to_char",
        "dbms_pipe",
        "utl_inaddr",
        "tochar",
        "user_name",
        "suser_name",
        "is_srvrolemember",
        "updatexml",
    ])
});

/// A `(` that looks like SQL: a known SQL function right before it, or a number, quote,
/// comma, operator or nothing inside.
fn sql_like_paren(lower: &str) -> bool {
    let b = lower.as_bytes();
    for open in memchr::memchr_iter(b'(', b) {
        let mut p = open;
        while p > 0 && b[p - 1] == b' ' {
            p -= 1;
        }
        let start = b[..p]
            .iter()
            .rposition(|c| !(c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.'))
            .map_or(0, |i| i + 1);
        let word = &lower[start..p];
        if !word.is_empty()
            && SQL_CALLS
                .find_word(word)
                .is_some_and(|(at, w)| at == 0 && w.len() == word.len())
        {
            return true;
        }
        let inner = b[open + 1..].iter().take_while(|&&c| c != b')');
        let mut empty = true;
        for &c in inner {
            empty = false;
            if c.is_ascii_digit()
                || matches!(
                    c,
                    b',' | b'\''
                        | b'"'
                        | b'='
                        | b'<'
                        | b'>'
                        | b'('
                        | b'@'
                        | b'-'
                        | b'+'
                        | b'*'
                        | b'/'
                )
            {
                return true;
            }
        }
        if empty {
            return true;
        }
    }
    false
}

/// Keywords that make an injection out of plain words and numbers (`1 union select 2`,
/// `x order by 3`). Common English words (`and`, `or`, `not`, `from`, `like`) are not here:
/// without any SQL syntax byte they only form an injection after a number (see
/// [`needs_sql_parse`]).
static STRONG_WORDS: LazyLock<KeywordSet> = LazyLock::new(|| {
    KeywordSet::new(&[
        "union",
        "select",
        "sleep",
        "benchmark",
        "waitfor",
        "having",
        "insert",
        "update",
        "delete",
        "drop",
        "exec",
        "execute",
        "declare",
        "procedure",
        "shutdown",
        "rlike",
        "regexp",
        "xor",
        "div",
        "truncate",
        "pg_sleep",
        "load_file",
        "outfile",
        "dumpfile",
        "information_schema",
        "order by",
        "group by",
        "case when",
        "limit",
        "null",
        "into",
        "table",
    ])
});

static LOGIC_WORDS: LazyLock<KeywordSet> =
    LazyLock::new(|| KeywordSet::new(&["or", "and", "like", "is", "not", "in", "between"]));

/// The cheap trigger in front of the tokenizer; validated on the corpus (`tests/corpus.rs`).
fn needs_sql_parse(v: &ScanValue<'_>) -> bool {
    let b = v.lower.as_bytes();
    if b.iter().copied().any(is_sql_syntax_byte) {
        return true;
    }
    if [&b"--"[..], b"/*", b"!=", b"@@", b"#"].iter().any(|p| {
        memchr::memmem::find(b, p).is_some_and(|at| p.len() == 2 || sql_hash_comment(b, at))
    }) {
        return true;
    }
    if memchr::memchr_iter(b'\'', b).any(|at| !is_prose_apostrophe(b, at)) {
        return true;
    }
    if memchr::memchr(b'(', b).is_some() && sql_like_paren(v.lower) {
        return true;
    }
    if STRONG_WORDS.find_word(v.lower).is_some() {
        return true;
    }
    // `1 or 1`, `5 and 2 between 1 and 3`: a number followed by a logic word.
    b.first().is_some_and(u8::is_ascii_digit) && LOGIC_WORDS.find_word(v.lower).is_some()
}

/// Runs the libinjection detector; returns the fingerprint that matched.
pub(crate) fn sqli_fingerprint(text: &[u8]) -> Option<String> {
    if text.is_empty() {
        return None;
    }
    let mut state = SqliState::new(text, SqliFlags::FLAG_NONE);
    state.detect().then(|| state.fingerprint_string())
}

/// Removes `/* ... */` comments (MySQL keyword splitting: `UN/**/ION`).
fn strip_block_comments(text: &str) -> Option<String> {
    if !text.contains("/*") {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        match rest[start + 2..].find("*/") {
            Some(end) => rest = &rest[start + 2 + end + 2..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    Some(out)
}

/// SQL constructs with no use outside a database: time delays, system tables and variables,
/// procedure execution. Found lexically; the functions must be followed by `(`.
static SQL_ONLY: LazyLock<KeywordSet> = LazyLock::new(|| {
    KeywordSet::new(&[
        "waitfor delay",
        "sleep",
        "pg_sleep",
        "benchmark",
        "dbms_pipe.receive_message",
        "dbms_lock.sleep",
        "randomblob",
        "@@version",
        "xp_cmdshell",
        "information_schema",
        "pg_shadow",
        "sysobjects",
        "sysusers",
        "mysql.user",
        "load_file",
        "into outfile",
        "into dumpfile",
        "utl_inaddr",
        "utl_http",
        "extractvalue",
        "updatexml",
        "sp_executesql",
        "sp_password",
        "master..",
        "pg_read_file",
    ])
});

const SQL_FUNCTIONS: &[&str] = &[
    "sleep",
    "pg_sleep",
    "benchmark",
    "dbms_pipe.receive_message",
    "dbms_lock.sleep",
    "randomblob",
    "load_file",
    "extractvalue",
    "updatexml",
    "pg_read_file",
];

fn sql_only_construct(lower: &str) -> Option<&'static str> {
    let b = lower.as_bytes();
    SQL_ONLY.occurrences(lower).find_map(|(at, word)| {
        let end = at + word.len();
        let starts_word = at == 0 || !super::is_word_byte(b[at - 1]) || word.starts_with('@');
        if !starts_word {
            return None;
        }
        if SQL_FUNCTIONS.contains(&word) {
            let mut i = end;
            while i < b.len() && b[i] == b' ' {
                i += 1;
            }
            if b.get(i) != Some(&b'(') {
                return None;
            }
        } else if !word.ends_with('.') && end < b.len() && super::is_word_byte(b[end]) {
            return None;
        }
        Some(word)
    })
}

/// Words that continue a SQL statement when a value is appended to an existing literal
/// (`<value> ORDER BY 3--`, `<value> UNION SELECT ...`).
const CONTINUATIONS: &[&str] = &[
    "order",
    "group",
    "having",
    "union",
    "waitfor",
    "rlike",
    "procedure",
    "limit",
    "into",
    "xor",
    "div",
    "regexp",
];

/// English words that also continue SQL; only when a number, quote or variable follows
/// (`or 1=1`, `and '1'='1`, `and @@version`), not prose (`or maybe`).
const LOGIC_CONTINUATIONS: &[&str] = &["or", "and", "where", "like", "not", "as"];

/// The value as the tail of a statement: `1` is put in front when the value starts with a
/// blank, `)` or `;`, or with a continuation keyword, so the tokenizer sees `1 OR 1=1`.
fn as_appended(text: &str, lower: &str) -> Option<String> {
    let first = lower.as_bytes().first()?;
    let mut words =
        lower.split(|c: char| !c.is_ascii_alphanumeric() && c != '_' && c != '\'' && c != '@');
    let w0 = words.next().unwrap_or("");
    let w1 = words.find(|w| !w.is_empty()).unwrap_or("");
    let logic_tail = LOGIC_CONTINUATIONS.contains(&w0)
        && w1.starts_with(|c: char| c.is_ascii_digit() || c == '\'' || c == '@');
    let starts_like_tail =
        matches!(first, b' ' | b'\t' | b')' | b';') || CONTINUATIONS.contains(&w0) || logic_tail;
    starts_like_tail.then(|| format!("1 {text}"))
}

impl ValueRule for SqlInjection {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, v: &ScanValue<'_>) -> Option<Verdict> {
        if !needs_sql_parse(v) {
            return None;
        }
        let span = 0..v.text.len();
        if let Some(fp) = sqli_fingerprint(v.text.as_bytes()) {
            let confidence = if fp.len() >= 3 {
                Confidence::High
            } else {
                Confidence::Medium
            };
            return Some(Verdict::new(
                confidence,
                format!("libinjection fingerprint `{fp}`"),
                span,
            ));
        }
        if let Some(stripped) = strip_block_comments(v.text)
            && let Some(fp) = sqli_fingerprint(stripped.as_bytes())
        {
            return Some(Verdict::new(
                Confidence::Medium,
                format!("libinjection fingerprint `{fp}` after removing inline comments"),
                span,
            ));
        }
        if let Some(appended) = as_appended(v.text, v.lower)
            && let Some(fp) = sqli_fingerprint(appended.as_bytes())
        {
            return Some(Verdict::new(
                Confidence::Medium,
                format!("libinjection fingerprint `{fp}` when appended to a value"),
                span,
            ));
        }
        if let Some(word) = sql_only_construct(v.lower) {
            return Some(Verdict::new(
                Confidence::Medium,
                format!("SQL-only construct `{word}`"),
                span,
            ));
        }
        if let Some(at) = mysql_executable_comment(v.lower) {
            return Some(Verdict::new(
                Confidence::High,
                "MySQL executable comment `/*!`",
                at..v.text.len(),
            ));
        }
        let (at, statement) = stacked_statement(v.lower)?;
        Some(Verdict::new(
            Confidence::High,
            format!("stacked SQL statement `{statement}` after `;`"),
            at..v.text.len(),
        ))
    }
}

/// `text` with every `/* ... */` comment replaced by one blank.
fn comments_to_blanks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        out.push(' ');
        match rest[start + 2..].find("*/") {
            Some(end) => rest = &rest[start + 2 + end + 2..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// `/*!` followed by a version number or a keyword: MySQL runs the comment's content
/// (`/*!50000select*/`), which exists only to slip SQL past filters.
fn mysql_executable_comment(lower: &str) -> Option<usize> {
    let b = lower.as_bytes();
    memchr::memmem::find_iter(b, b"/*!").find(|&at| {
        let rest = &lower[at + 3..];
        rest.starts_with(|c: char| c.is_ascii_digit())
            || ["select", "union", "from", "and", "or ", "where"]
                .iter()
                .any(|k| rest.starts_with(k))
    })
}

/// A `;` that ends the statement, followed by a complete data-changing statement
/// (`; INSERT INTO t(...) VALUES`, `;replace/**/t(...) values`, `; UPDATE t SET c=`,
/// `; DELETE FROM t`, `; DROP TABLE t`, `; TRUNCATE t`). The structure, not the keyword, is
/// the signal, so prose after a semicolon (`; update the docs`) passes. Returns the offset of
/// the statement and its keyword.
fn stacked_statement(lower: &str) -> Option<(usize, &'static str)> {
    let b = lower.as_bytes();
    for semi in memchr::memchr_iter(b';', b) {
        let tail = &lower[semi + 1..];
        // A comment separates tokens like a blank (`replace/**/t`).
        let tail: std::borrow::Cow<'_, str> = if tail.contains("/*") {
            comments_to_blanks(tail).into()
        } else {
            tail.into()
        };
        let words: Vec<&str> = tail
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '=' || c == '@'))
            .filter(|w| !w.is_empty())
            .take(12)
            .collect();
        let ident = |w: Option<&&str>| {
            w.is_some_and(|w| {
                w.bytes()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
                    && w.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
            })
        };
        let has = |k: &str| words.iter().skip(1).any(|w| *w == k);
        let at = semi + 1 + (lower.len() - semi - 1 - lower[semi + 1..].trim_start().len());
        let found = match words.first().copied() {
            Some("insert") => (words.get(1) == Some(&"into")
                && ident(words.get(2))
                && (has("values") || has("select")))
            .then_some("INSERT"),
            Some("replace") => (ident(words.get(1)) && has("values")).then_some("REPLACE"),
            Some("update") => {
                (ident(words.get(1)) && words.get(2) == Some(&"set") && tail.contains('='))
                    .then_some("UPDATE")
            }
            Some("delete") => (words.get(1) == Some(&"from")
                && ident(words.get(2))
                && matches!(words.get(3).copied(), None | Some("where")))
            .then_some("DELETE"),
            Some("drop") => (matches!(
                words.get(1).copied(),
                Some("table" | "database" | "schema" | "function" | "procedure" | "user")
            ) && ident(words.get(2))
                && words.len() <= 4)
                .then_some("DROP"),
            Some("truncate") => (ident(words.get(1))
                && (words.len() == 2 || (words[1] == "table" && words.len() == 3)))
                .then_some("TRUNCATE"),
            Some("shutdown") => (words.len() == 1).then_some("SHUTDOWN"),
            _ => None,
        };
        if let Some(statement) = found {
            return Some((at, statement));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::check;

    #[test]
    fn classic_tautology_has_its_fingerprint() {
        let v = check(&SqlInjection, "1' OR '1'='1").unwrap();
        assert!(v.reason.contains("s&sos"), "{}", v.reason);
    }

    #[test]
    fn union_select_and_comment_splitting() {
        assert!(check(&SqlInjection, "1+union+select+password+from+users--").is_some());
        assert!(check(&SqlInjection, "1 UN/**/ION SEL/**/ECT 1,2").is_some());
    }

    #[test]
    fn stacked_statements_and_executable_comments() {
        for p in [
            "mod(1,2);INSERT /*test*/INTO category(id) VALUES (3)-- -",
            "x;RePLAcE/*test*/test/*test*/(id, name) VALUES (1, 'test');",
            "1; update users set role='admin' where id=1",
            "abc; DELETE FROM sessions",
            "abc; drop table users--",
            "q;truncate table logs",
            "9999 or {if length((/*!5000select username/*!50000from*/user where id=1))>0}",
        ] {
            assert!(check(&SqlInjection, p).is_some(), "{p}");
        }
        for p in [
            "Done; update the docs and set the date",
            "Meeting moved; delete from calendar if needed please",
        ] {
            assert!(check(&SqlInjection, p).is_none(), "{p}");
        }
    }

    #[test]
    fn ordinary_values_pass() {
        for v in [
            "O'Brien",
            "rock and roll",
            "user@example.com",
            "2024-01-01",
            "Hello, world!",
        ] {
            assert!(check(&SqlInjection, v).is_none(), "{v}");
        }
    }
}
