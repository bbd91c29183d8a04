//! A borrowing JSON walker: visits every scalar (string, number, literal) with the path of
//! object keys and array positions above it, without building a value tree. It tolerates a
//! body cut off at the scan cap: scalars before the cut are visited, then it reports where it
//! stopped.

/// One step of a path: an object member (key span in the body) or an array element.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Step {
    Member { key_start: usize, key_end: usize },
    Element,
}

/// A scalar value and where it sits.
pub(crate) struct Scalar<'a> {
    pub steps: &'a [Step],
    /// Span of the value in the body; for strings, inside the quotes.
    pub start: usize,
    pub end: usize,
}

/// Where the body stopped being JSON.
#[derive(Debug, PartialEq)]
pub(crate) struct NotJson {
    pub offset: usize,
}

const MAX_DEPTH: usize = 128;

/// States of `walk_reference`.
#[cfg(test)]
#[derive(Clone, Copy, PartialEq)]
enum State {
    Value,
    KeyOrClose,
    Key,
    ValueOrClose,
    AfterValue,
}

/// Visit every scalar of `body` in document order.
///
/// `steps` holds one step per open container, pushed when it opens: a `Member` (its key
/// overwritten at each key, empty before the first) for an object, an `Element` for an array.
/// So a visit sees the path of the scalar, and a member costs no push or pop. The loop reads
/// a value, then the commas and closes after it, so that a member of compact JSON
/// (`"key":"value",`) is one pass through it.
pub(crate) fn walk(body: &str, mut visit: impl FnMut(&Scalar<'_>)) -> Result<(), NotJson> {
    let b = body.as_bytes();
    let mut steps: Vec<Step> = Vec::with_capacity(16);
    let mut i = skip_ws(b, 0);
    if i >= b.len() || !matches!(b[i], b'{' | b'[') {
        return Err(NotJson { offset: i });
    }
    loop {
        // A value starts at `i`, after blanks.
        i = skip_ws(b, i);
        let Some(&ch) = b.get(i) else {
            return Err(NotJson { offset: i });
        };
        match ch {
            b'{' | b'[' => {
                if steps.len() >= MAX_DEPTH {
                    return Err(NotJson { offset: i });
                }
                let object = ch == b'{';
                steps.push(if object {
                    Step::Member {
                        key_start: i + 1,
                        key_end: i + 1,
                    }
                } else {
                    Step::Element
                });
                i = skip_ws(b, i + 1);
                match b.get(i) {
                    None => return Err(NotJson { offset: i }),
                    Some(b'}') if object => {}
                    Some(b']') if !object => {}
                    Some(_) if !object => continue,
                    Some(b'"') => {
                        i = member_key(b, i, &mut steps)?;
                        continue;
                    }
                    Some(_) => return Err(NotJson { offset: i }),
                }
                // An empty container.
                steps.pop();
                i += 1;
                if steps.is_empty() {
                    // An empty root still needs a byte after it to count as JSON.
                    i = skip_ws(b, i);
                    return if i < b.len() {
                        Ok(())
                    } else {
                        Err(NotJson { offset: i })
                    };
                }
            }
            b'"' => {
                let end = string_end(b, i + 1).ok_or(NotJson { offset: i })?;
                visit(&Scalar {
                    steps: &steps,
                    start: i + 1,
                    end,
                });
                i = end + 1;
            }
            _ => {
                let start = i;
                while i < b.len()
                    && matches!(b[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E' | b'a'..=b'z')
                {
                    i += 1;
                }
                if i == start {
                    return Err(NotJson { offset: i });
                }
                visit(&Scalar {
                    steps: &steps,
                    start,
                    end: i,
                });
            }
        }
        // After a value, inside at least one container: the closes, then a comma.
        loop {
            i = skip_ws(b, i);
            let Some(&ch) = b.get(i) else {
                return Err(NotJson { offset: i });
            };
            let object = matches!(steps.last(), Some(Step::Member { .. }));
            match ch {
                b',' if object => {
                    i = skip_ws(b, i + 1);
                    if b.get(i) != Some(&b'"') {
                        return Err(NotJson { offset: i });
                    }
                    i = member_key(b, i, &mut steps)?;
                    break;
                }
                b',' => {
                    i += 1;
                    break;
                }
                b'}' if object => {}
                b']' if !object => {}
                _ => return Err(NotJson { offset: i }),
            }
            steps.pop();
            i += 1;
            if steps.is_empty() {
                return Ok(());
            }
        }
    }
}

/// The key whose opening quote is at `i`, as the last step (an object's); returns the offset
/// after the colon that must follow it.
#[inline(always)]
fn member_key(b: &[u8], i: usize, steps: &mut [Step]) -> Result<usize, NotJson> {
    let end = string_end(b, i + 1).ok_or(NotJson { offset: i })?;
    if let Some(last) = steps.last_mut() {
        *last = Step::Member {
            key_start: i + 1,
            key_end: end,
        };
    }
    let colon = skip_ws(b, end + 1);
    if b.get(colon) != Some(&b':') {
        return Err(NotJson { offset: colon });
    }
    Ok(colon + 1)
}

/// The walk as first written, with a push and a pop per member: the reference `walk` must
/// agree with.
#[cfg(test)]
fn walk_reference(body: &str, mut visit: impl FnMut(&Scalar<'_>)) -> Result<(), NotJson> {
    let b = body.as_bytes();
    let mut steps: Vec<Step> = Vec::with_capacity(16);
    // One entry per open container: true for an object.
    let mut open: Vec<bool> = Vec::with_capacity(16);
    let mut i = skip_ws(b, 0);
    if i >= b.len() || !matches!(b[i], b'{' | b'[') {
        return Err(NotJson { offset: i });
    }
    let mut state = State::Value;
    loop {
        i = skip_ws(b, i);
        let Some(&ch) = b.get(i) else {
            return Err(NotJson { offset: i });
        };
        match state {
            State::KeyOrClose | State::Key => {
                if ch == b'}' && state == State::KeyOrClose {
                    open.pop();
                    i += 1;
                    state = State::AfterValue;
                } else if ch == b'"' {
                    let end = string_end(b, i + 1).ok_or(NotJson { offset: i })?;
                    steps.push(Step::Member {
                        key_start: i + 1,
                        key_end: end,
                    });
                    i = skip_ws(b, end + 1);
                    if b.get(i) != Some(&b':') {
                        return Err(NotJson { offset: i });
                    }
                    i += 1;
                    state = State::Value;
                } else {
                    return Err(NotJson { offset: i });
                }
            }
            State::ValueOrClose => {
                if ch == b']' {
                    open.pop();
                    i += 1;
                    state = State::AfterValue;
                } else {
                    steps.push(Step::Element);
                    state = State::Value;
                }
            }
            State::Value => match ch {
                b'{' | b'[' => {
                    if open.len() >= MAX_DEPTH {
                        return Err(NotJson { offset: i });
                    }
                    open.push(ch == b'{');
                    i += 1;
                    state = if ch == b'{' {
                        State::KeyOrClose
                    } else {
                        State::ValueOrClose
                    };
                }
                b'"' => {
                    let end = string_end(b, i + 1).ok_or(NotJson { offset: i })?;
                    visit(&Scalar {
                        steps: &steps,
                        start: i + 1,
                        end,
                    });
                    i = end + 1;
                    state = State::AfterValue;
                }
                _ => {
                    let start = i;
                    while i < b.len()
                        && matches!(b[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E' | b'a'..=b'z')
                    {
                        i += 1;
                    }
                    if i == start {
                        return Err(NotJson { offset: i });
                    }
                    visit(&Scalar {
                        steps: &steps,
                        start,
                        end: i,
                    });
                    state = State::AfterValue;
                }
            },
            State::AfterValue => {
                let Some(&is_object) = open.last() else {
                    return Ok(());
                };
                steps.pop();
                match ch {
                    b',' if is_object => {
                        i += 1;
                        state = State::Key;
                    }
                    b',' => {
                        i += 1;
                        steps.push(Step::Element);
                        state = State::Value;
                    }
                    b'}' if is_object => {
                        open.pop();
                        i += 1;
                    }
                    b']' if !is_object => {
                        open.pop();
                        i += 1;
                    }
                    _ => return Err(NotJson { offset: i }),
                }
                if open.is_empty() {
                    return Ok(());
                }
            }
        }
    }
}

/// The first offset from `i` on that is not a JSON blank. Blanks are all below `!`, so one
/// comparison settles the common case of compact JSON.
#[inline(always)]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(&c) = b.get(i)
        && c <= b' '
        && matches!(c, b' ' | b'\n' | b'\r' | b'\t')
    {
        i += 1;
    }
    i
}

/// The first quote or backslash among the eight bytes of `x` (little-endian), as the top
/// bit of its byte; bits above it may be wrong, so use only the lowest set bit.
fn quote_or_backslash(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOP: u64 = 0x8080_8080_8080_8080;
    let zero_at = |v: u64| v.wrapping_sub(ONES) & !v & TOP;
    zero_at(x ^ (ONES * u64::from(b'"'))) | zero_at(x ^ (ONES * u64::from(b'\\')))
}

/// Index of the closing quote of a string whose content starts at `i`. Strings of JSON
/// bodies are mostly short: eight bytes at a time is cheaper than setting up a vectorised
/// search per string. Inlined: a call costs as much as the search of a short string.
#[inline(always)]
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        while let Some(chunk) = b.get(i..i + 8) {
            let x = u64::from_le_bytes([
                chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7],
            ]);
            let found = quote_or_backslash(x);
            if found != 0 {
                i += (found.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        match b.get(i)? {
            b'"' => return Some(i),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
}

/// Render steps as a JSONPath-like field path: `$.customer.email`, `$.items[*].card`.
#[cfg(test)]
pub(crate) fn render_path(body: &str, steps: &[Step]) -> String {
    let mut out = String::new();
    render_path_into(body, steps, &mut out);
    out
}

/// `render_path` into a reused buffer (cleared first).
pub(crate) fn render_path_into(body: &str, steps: &[Step], out: &mut String) {
    out.clear();
    out.push('$');
    for s in steps {
        match *s {
            Step::Member { key_start, key_end } => {
                let key = body.get(key_start..key_end).unwrap_or("");
                if !key.is_empty()
                    && key
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                {
                    out.push('.');
                    out.push_str(key);
                } else {
                    out.push_str("['");
                    out.push_str(&key.replace('\'', "\\'"));
                    out.push_str("']");
                }
            }
            Step::Element => out.push_str("[*]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(body: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        walk(body, |s| {
            out.push((render_path(body, s.steps), body[s.start..s.end].to_string()))
        })
        .unwrap();
        out
    }

    #[test]
    fn visits_every_scalar_with_its_path() {
        let body = r#"{"a":1,"customer":{"email":"x@y.z","tags":["p","q"],"e":{},"f":[]},"items":[{"card":"4111"}],"weird key":true}"#;
        let got = paths(body);
        let want = [
            ("$.a", "1"),
            ("$.customer.email", "x@y.z"),
            ("$.customer.tags[*]", "p"),
            ("$.customer.tags[*]", "q"),
            ("$.items[*].card", "4111"),
            ("$['weird key']", "true"),
        ];
        assert_eq!(
            got,
            want.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn escaped_quotes_stay_inside_strings() {
        let got = paths(r#"["a\"b", "c"]"#);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1, r#"a\"b"#);
    }

    #[test]
    fn string_ends_skip_escapes_at_every_offset() {
        for pad in 0..20 {
            let body = format!("{}\\\"x\\\\\"tail\"", "a".repeat(pad));
            let b = body.as_bytes();
            assert_eq!(string_end(b, 0), Some(body.len() - 6), "{body}");
            assert_eq!(string_end(&b[..pad + 1], 0), None, "{body}");
            let plain = format!("{}\"", "é".repeat(pad));
            assert_eq!(string_end(plain.as_bytes(), 0), Some(plain.len() - 1));
        }
        assert_eq!(string_end(b"abc", 0), None);
        assert_eq!(string_end(b"abcdefgh\\", 0), None);
    }

    #[test]
    fn truncated_bodies_visit_what_came_before_the_cut() {
        let body = r#"{"a":"one","b":"tw"#;
        let mut seen = Vec::new();
        let r = walk(body, |s| seen.push(body[s.start..s.end].to_string()));
        assert!(r.is_err());
        assert_eq!(seen, vec!["one"]);
    }

    #[test]
    fn not_json_is_reported() {
        assert!(walk("hello", |_| {}).is_err());
        assert!(walk("{\"a\" 1}", |_| {}).is_err());
        assert!(walk("[1,]", |_| {}).is_err());
    }

    /// Every visit (path and span) and the outcome of a walk.
    type Trace = (Vec<(String, usize, usize)>, Result<(), NotJson>);

    fn trace(
        body: &str,
        walker: impl FnOnce(&mut dyn FnMut(&Scalar<'_>)) -> Result<(), NotJson>,
    ) -> Trace {
        let mut seen = Vec::new();
        let outcome = walker(&mut |s| seen.push((render_path(body, s.steps), s.start, s.end)));
        (seen, outcome)
    }

    /// JSON texts, compact or with blanks, with escapes, nesting and empty containers.
    fn json_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let ws = prop::sample::select(vec!["", "", "", " ", "\n  "]);
        let leaf = prop_oneof![
            prop::sample::select(vec![
                "1",
                "-2.5e3",
                "true",
                "null",
                "\"\"",
                "\"a\"",
                "\"x \\\" y\"",
                "\"\\\\\"",
                "\"caf\u{e9}\"",
                "\"a,b:c{d}[e]\"",
            ])
            .prop_map(str::to_string),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            let ws = ws.clone();
            prop_oneof![
                (
                    prop::collection::vec((inner.clone(), ws.clone()), 0..6),
                    ws.clone()
                )
                    .prop_map(|(items, w)| {
                        let items: Vec<String> = items
                            .into_iter()
                            .map(|(v, w2)| format!("{w}{v}{w2}"))
                            .collect();
                        format!("[{}]", items.join(","))
                    }),
                (
                    prop::collection::vec(
                        (
                            prop::sample::select(vec!["k", "name", "a b", "q\\\"", ""]),
                            inner
                        ),
                        0..6
                    ),
                    ws
                )
                    .prop_map(|(members, w)| {
                        let members: Vec<String> = members
                            .into_iter()
                            .map(|(k, v)| format!("{w}\"{k}\"{w}:{w}{v}"))
                            .collect();
                        format!("{{{}}}", members.join(","))
                    }),
            ]
        })
    }

    /// `text` cut at `cut` and with `insert` put in at `at` (both as fractions of its
    /// length, on character boundaries).
    fn damaged(text: &str, cut: f64, at: f64, insert: &str) -> String {
        let boundary = |f: f64| {
            let mut i = (text.len() as f64 * f) as usize;
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let mut out = text[..boundary(cut)].to_string();
        let at = boundary(at).min(out.len());
        out.insert_str(at, insert);
        out
    }

    #[test]
    fn empty_and_cut_roots_are_reported_as_the_reference_does() {
        for body in [
            "{}",
            "[]",
            "{} ",
            "{}x",
            "[] ]",
            "{",
            "[",
            " ",
            "",
            "[[]",
            "{\"a\":{}}",
        ] {
            let lean = trace(body, |v| walk(body, v));
            let reference = trace(body, |v| walk_reference(body, v));
            assert_eq!(lean, reference, "{body:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn walks_as_the_reference_walk(
            text in json_text(),
            cut in 0.0..=1.0f64,
            whole in proptest::bool::ANY,
            at in 0.0..=1.0f64,
            insert in proptest::sample::select(vec![
                "", "", "{", "}", "[", "]", ",", ":", "\"", "\\", " ", "x", "1",
            ]),
        ) {
            let body = if whole { text } else { damaged(&text, cut, at, insert) };
            let lean = trace(&body, |v| walk(&body, v));
            let reference = trace(&body, |v| walk_reference(&body, v));
            proptest::prop_assert_eq!(lean, reference, "{:?}", body);
        }
    }
}
