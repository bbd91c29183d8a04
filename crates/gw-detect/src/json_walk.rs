//! A lenient, allocation-free walk over the string values of a JSON document.
//!
//! Detection needs every string value with its path (`$.items[2].comment`) and every object
//! key; it does not need a tree. Building a `serde_json::Value` per request costs more than
//! all the rules together on benign traffic, so this walker lexes the body once and hands out
//! borrowed slices. It never fails: on malformed or truncated JSON (bodies are often captured
//! only in part) it keeps reporting the strings it can still delimit.

use std::borrow::Cow;
use std::fmt::Write as _;

/// One step of a JSON path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathStep<'a> {
    Key(&'a str),
    Index(usize),
}

/// Formats a path as `$.a.b[0]` (keys that are not identifiers as `['a b']`).
pub fn format_path(steps: &[PathStep<'_>]) -> String {
    let mut out = String::from("$");
    for s in steps {
        match s {
            PathStep::Key(k)
                if !k.is_empty()
                    && k.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
            {
                out.push('.');
                out.push_str(k);
            }
            PathStep::Key(k) => {
                let _ = write!(out, "['{}']", k.replace('\'', "\\'"));
            }
            PathStep::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    out
}

/// What the walker reports.
pub enum JsonItem<'p, 'a> {
    /// An object key, with the path of the object that holds it.
    Key {
        path: &'p [PathStep<'a>],
        key: &'a str,
    },
    /// A string value (unescaped) at `path`.
    Str {
        path: &'p [PathStep<'a>],
        value: Cow<'a, str>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// Inside an object; `expect_key` is true before a key.
    Object {
        expect_key: bool,
    },
    Array {
        index: usize,
    },
}

/// Walks `body`, calling `visit` for every key and string value. Returns false when the text
/// did not look like JSON at all (no container at the start).
pub fn walk_json<'a>(body: &'a str, mut visit: impl FnMut(JsonItem<'_, 'a>)) -> bool {
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    if !matches!(b.get(i), Some(b'{' | b'[')) {
        return false;
    }
    let mut frames: Vec<Frame> = Vec::with_capacity(8);
    let mut path: Vec<PathStep<'a>> = Vec::with_capacity(8);
    // The key most recently read in the current object, pushed when its value starts.
    let mut pending_key: Option<&'a str> = None;
    while i < b.len() {
        let c = b[i];
        match c {
            b'{' | b'[' => {
                enter_value(&mut frames, &mut path, &mut pending_key);
                frames.push(if c == b'{' {
                    Frame::Object { expect_key: true }
                } else {
                    Frame::Array { index: 0 }
                });
                i += 1;
            }
            b'}' | b']' => {
                frames.pop();
                leave_value(&mut frames, &mut path);
                i += 1;
            }
            b',' => {
                match frames.last_mut() {
                    Some(Frame::Object { expect_key }) => *expect_key = true,
                    Some(Frame::Array { index }) => *index += 1,
                    None => {}
                }
                i += 1;
            }
            b'"' => {
                let (raw, next, escaped) = lex_string(b, i + 1);
                let text = &body[i + 1..raw];
                i = next;
                let is_key = matches!(frames.last(), Some(Frame::Object { expect_key: true }));
                if is_key {
                    if let Some(Frame::Object { expect_key }) = frames.last_mut() {
                        *expect_key = false;
                    }
                    pending_key = Some(text);
                    visit(JsonItem::Key {
                        path: &path,
                        key: text,
                    });
                } else {
                    enter_value(&mut frames, &mut path, &mut pending_key);
                    let value = if escaped {
                        Cow::Owned(unescape(text))
                    } else {
                        Cow::Borrowed(text)
                    };
                    visit(JsonItem::Str { path: &path, value });
                    leave_value(&mut frames, &mut path);
                }
            }
            _ => {
                // Numbers, literals, whitespace and `:` carry nothing to scan; skip a run.
                i += 1;
            }
        }
    }
    true
}

fn enter_value<'a>(
    frames: &mut [Frame],
    path: &mut Vec<PathStep<'a>>,
    pending_key: &mut Option<&'a str>,
) {
    match frames.last() {
        Some(Frame::Object { .. }) => path.push(PathStep::Key(pending_key.take().unwrap_or(""))),
        Some(Frame::Array { index }) => path.push(PathStep::Index(*index)),
        None => {}
    }
}

fn leave_value(frames: &mut [Frame], path: &mut Vec<PathStep<'_>>) {
    if !frames.is_empty() {
        path.pop();
    }
}

/// From the byte after an opening quote: (end of content, index after the closing quote,
/// whether the content has escapes). An unterminated string runs to the end.
fn lex_string(b: &[u8], start: usize) -> (usize, usize, bool) {
    let mut i = start;
    let mut escaped = false;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                escaped = true;
                i += 2;
            }
            b'"' => return (i, i + 1, escaped),
            _ => i += 1,
        }
    }
    let end = b.len();
    // A cut-off escape can leave `i` past the end; never split a UTF-8 character.
    (end, end, escaped)
}

/// JSON string unescaping; `\uXXXX` is left for the canonical decoder, which also handles
/// surrogate-free escapes written by attackers in any context.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('/') => out.push('/'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('u') => out.push_str("\\u"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(body: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        walk_json(body, |item| match item {
            JsonItem::Key { path, key } => {
                out.push((format!("key {}", format_path(path)), key.to_string()))
            }
            JsonItem::Str { path, value } => out.push((format_path(path), value.into_owned())),
        });
        out
    }

    #[test]
    fn paths_of_nested_values() {
        let got = collect(r#"{"a":"x","b":[1,"y",{"c":"z\"q"}],"d":{"$ne":null},"e f":"w"}"#);
        let vals: Vec<_> = got
            .iter()
            .filter(|(p, _)| !p.starts_with("key"))
            .cloned()
            .collect();
        assert_eq!(
            vals,
            vec![
                ("$.a".to_string(), "x".to_string()),
                ("$.b[1]".to_string(), "y".to_string()),
                ("$.b[2].c".to_string(), "z\"q".to_string()),
                ("$['e f']".to_string(), "w".to_string()),
            ]
        );
        assert!(got.iter().any(|(p, k)| p == "key $.d" && k == "$ne"));
    }

    #[test]
    fn truncated_and_garbage_input_does_not_panic() {
        for s in [
            "{\"a\":\"b",
            "[\"\\",
            "{{{{",
            "]]]}}}",
            "{\"a\":\"é\\",
            "not json",
        ] {
            let _ = collect(s);
        }
        assert!(!walk_json("plain text", |_| {}));
    }
}
