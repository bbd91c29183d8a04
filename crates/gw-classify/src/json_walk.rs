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

#[derive(Clone, Copy, PartialEq)]
enum State {
    Value,
    KeyOrClose,
    Key,
    ValueOrClose,
    AfterValue,
}

/// Visit every scalar of `body` in document order.
pub(crate) fn walk(body: &str, mut visit: impl FnMut(&Scalar<'_>)) -> Result<(), NotJson> {
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

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\n' | b'\r' | b'\t') {
        i += 1;
    }
    i
}

/// Index of the closing quote of a string whose content starts at `i`.
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    while i < b.len() {
        let at = i + memchr::memchr2(b'"', b'\\', &b[i..])?;
        if b[at] == b'"' {
            return Some(at);
        }
        i = at + 2;
    }
    None
}

/// Render steps as a JSONPath-like field path: `$.customer.email`, `$.items[*].card`.
pub(crate) fn render_path(body: &str, steps: &[Step]) -> String {
    let mut out = String::from("$");
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
    out
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
}
