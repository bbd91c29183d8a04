//! Maps a JSON pointer back to a line and column of the source text, for SARIF regions.
//!
//! JSON is scanned exactly (keys and array elements are walked without building a tree). YAML is
//! located line by line from indentation, which covers block style; inside flow collections
//! (`{a: 1}`) or when a token is missing, the deepest node found is returned, so the answer is
//! always a real line near the node.

use crate::rule::SourcePosition;

/// The position of the node `pointer` names in `text` (JSON or YAML), or of its deepest
/// ancestor that could be found. `None` only when `text` is empty.
pub fn locate_pointer(text: &str, pointer: &str) -> Option<SourcePosition> {
    if text.trim().is_empty() {
        return None;
    }
    let tokens = pointer_tokens(pointer);
    let first = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .as_bytes()
        .first();
    if matches!(first, Some(b'{') | Some(b'[')) {
        let offset = locate_json(text.as_bytes(), &tokens);
        Some(position_of(text, offset))
    } else {
        Some(locate_yaml(text, &tokens))
    }
}

/// A locator built once per document: JSON sources are indexed in one pass (every node's
/// pointer → byte offset), so locating many findings in a large spec stays linear; YAML sources
/// are walked per pointer (they are small in practice).
pub struct SourceIndex<'t> {
    text: &'t str,
    line_starts: Vec<usize>,
    json: Option<std::collections::HashMap<String, usize>>,
}

impl<'t> SourceIndex<'t> {
    pub fn new(text: &'t str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(
                text.bytes()
                    .enumerate()
                    .filter(|(_, b)| *b == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect();
        let first = text
            .trim_start_matches('\u{feff}')
            .trim_start()
            .as_bytes()
            .first();
        let json = matches!(first, Some(b'{') | Some(b'[')).then(|| {
            let mut index = std::collections::HashMap::new();
            let b = text.as_bytes();
            let start = skip_ws(b, 0);
            index.insert(String::new(), start);
            index_json(b, start, &mut String::new(), &mut index, 0);
            index
        });
        SourceIndex {
            text,
            line_starts,
            json,
        }
    }

    /// Same answer as [`locate_pointer`].
    pub fn locate(&self, pointer: &str) -> Option<SourcePosition> {
        if self.text.trim().is_empty() {
            return None;
        }
        let Some(index) = &self.json else {
            return Some(locate_yaml(self.text, &pointer_tokens(pointer)));
        };
        // the deepest indexed ancestor
        let mut p = pointer;
        loop {
            if let Some(&offset) = index.get(p) {
                return Some(self.position(offset));
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return Some(self.position(0)),
            }
        }
    }

    fn position(&self, offset: usize) -> SourcePosition {
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line - 1];
        let column =
            String::from_utf8_lossy(&self.text.as_bytes()[start..offset.min(self.text.len())])
                .chars()
                .count()
                + 1;
        SourcePosition { line, column }
    }
}

const MAX_INDEX_DEPTH: usize = 256;

/// Records the pointer of every member/element under the value at `at`; returns the index after it.
fn index_json(
    b: &[u8],
    at: usize,
    prefix: &mut String,
    index: &mut std::collections::HashMap<String, usize>,
    depth: usize,
) -> usize {
    if depth > MAX_INDEX_DEPTH {
        return skip_value(b, at);
    }
    match b.get(at) {
        Some(b'{') => {
            let mut i = at + 1;
            loop {
                i = skip_ws(b, i);
                if b.get(i) != Some(&b'"') {
                    return i + usize::from(b.get(i) == Some(&b'}'));
                }
                let key_at = i;
                let (key, after) = read_string(b, i);
                i = skip_ws(b, after);
                if b.get(i) != Some(&b':') {
                    return i;
                }
                i = skip_ws(b, i + 1);
                let len = prefix.len();
                prefix.push('/');
                prefix.push_str(&key.replace('~', "~0").replace('/', "~1"));
                index.insert(prefix.clone(), key_at);
                i = skip_ws(b, index_json(b, i, prefix, index, depth + 1));
                prefix.truncate(len);
                if b.get(i) == Some(&b',') {
                    i += 1;
                } else {
                    return i + usize::from(b.get(i) == Some(&b'}'));
                }
            }
        }
        Some(b'[') => {
            let mut i = skip_ws(b, at + 1);
            let mut n = 0usize;
            loop {
                if matches!(b.get(i), None | Some(b']')) {
                    return i + 1;
                }
                let len = prefix.len();
                prefix.push('/');
                prefix.push_str(&n.to_string());
                index.insert(prefix.clone(), i);
                i = skip_ws(b, index_json(b, i, prefix, index, depth + 1));
                prefix.truncate(len);
                n += 1;
                if b.get(i) == Some(&b',') {
                    i = skip_ws(b, i + 1);
                } else {
                    return i + 1;
                }
            }
        }
        _ => skip_value(b, at),
    }
}

/// Unescaped reference tokens of a pointer (`/a~1b/0` → `["a/b", "0"]`).
pub fn pointer_tokens(pointer: &str) -> Vec<String> {
    if pointer.is_empty() {
        return Vec::new();
    }
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect()
}

fn position_of(text: &str, offset: usize) -> SourcePosition {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    SourcePosition { line, column }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len()
        && (b[i].is_ascii_whitespace() || b[i] == 0xef || b[i] == 0xbb || b[i] == 0xbf)
    {
        i += 1;
    }
    i
}

/// Reads a JSON string starting at its opening quote; returns (unescaped text, index after it).
fn read_string(b: &[u8], start: usize) -> (String, usize) {
    let mut out = Vec::new();
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'"' => return (String::from_utf8_lossy(&out).into_owned(), i + 1),
            b'\\' if i + 1 < b.len() => {
                match b[i + 1] {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'u' if i + 5 < b.len() => {
                        let hex = String::from_utf8_lossy(&b[i + 2..i + 6]).into_owned();
                        if let Some(c) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
                        {
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                        i += 4;
                    }
                    other => out.push(other),
                }
                i += 2;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), i)
}

fn skip_value(b: &[u8], start: usize) -> usize {
    let mut i = start;
    match b.get(i) {
        Some(b'"') => read_string(b, i).1,
        Some(b'{') | Some(b'[') => {
            let mut depth = 0usize;
            while i < b.len() {
                match b[i] {
                    b'"' => {
                        i = read_string(b, i).1;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            i
        }
        _ => {
            while i < b.len() && !matches!(b[i], b',' | b'}' | b']') && !b[i].is_ascii_whitespace()
            {
                i += 1;
            }
            i
        }
    }
}

/// Byte offset of the deepest node of `tokens` found (the key of an object member, the start
/// of an array element).
fn locate_json(b: &[u8], tokens: &[String]) -> usize {
    let mut value = skip_ws(b, 0);
    let mut found = value;
    for token in tokens {
        match b.get(value) {
            Some(b'{') => {
                let mut i = value + 1;
                let mut hit = None;
                loop {
                    i = skip_ws(b, i);
                    if b.get(i) != Some(&b'"') {
                        break;
                    }
                    let key_at = i;
                    let (key, after) = read_string(b, i);
                    i = skip_ws(b, after);
                    if b.get(i) != Some(&b':') {
                        break;
                    }
                    i = skip_ws(b, i + 1);
                    if key == *token {
                        hit = Some((key_at, i));
                        break;
                    }
                    i = skip_ws(b, skip_value(b, i));
                    if b.get(i) == Some(&b',') {
                        i += 1;
                    } else {
                        break;
                    }
                }
                match hit {
                    Some((key_at, v)) => {
                        found = key_at;
                        value = v;
                    }
                    None => return found,
                }
            }
            Some(b'[') => {
                let Ok(index) = token.parse::<usize>() else {
                    return found;
                };
                let mut i = skip_ws(b, value + 1);
                for _ in 0..index {
                    if matches!(b.get(i), None | Some(b']')) {
                        return found;
                    }
                    i = skip_ws(b, skip_value(b, i));
                    if b.get(i) == Some(&b',') {
                        i = skip_ws(b, i + 1);
                    } else {
                        return found;
                    }
                }
                if matches!(b.get(i), None | Some(b']')) {
                    return found;
                }
                found = i;
                value = i;
            }
            _ => return found,
        }
    }
    found
}

/// One logical YAML line: `- key: v` is split into a `-` entry and a `key: v` entry two columns
/// deeper, so sequence items and the mapping they open are walked the same way.
struct YamlLine<'a> {
    indent: usize,
    content: &'a str,
    line: usize,
}

fn yaml_lines(text: &str) -> Vec<YamlLine<'_>> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("---") {
            continue;
        }
        let mut indent = raw.len() - trimmed.len();
        let mut content = trimmed;
        while content == "-" || content.starts_with("- ") {
            out.push(YamlLine {
                indent,
                content: "-",
                line: n + 1,
            });
            let rest = content[1..].trim_start();
            indent += content.len() - rest.len();
            content = rest;
            if content.is_empty() {
                break;
            }
        }
        if !content.is_empty() {
            out.push(YamlLine {
                indent,
                content,
                line: n + 1,
            });
        }
    }
    out
}

fn yaml_key(content: &str) -> Option<&str> {
    let bytes = content.as_bytes();
    if let Some(&q) = bytes.first().filter(|&&c| c == b'"' || c == b'\'') {
        let end = content[1..].find(q as char)? + 1;
        let rest = content[end + 1..].trim_start();
        return rest.starts_with(':').then(|| &content[1..end]);
    }
    let colon = content
        .find(": ")
        .or_else(|| content.ends_with(':').then(|| content.len() - 1))?;
    Some(content[..colon].trim_end())
}

fn locate_yaml(text: &str, tokens: &[String]) -> SourcePosition {
    let lines = yaml_lines(text);
    let mut found_line = lines.first().map_or(1, |l| l.line);
    let mut found_column = lines.first().map_or(1, |l| l.indent + 1);
    let mut range = 0..lines.len();
    // children of the current node are indented at least this much
    let mut min_indent = 0;
    for token in tokens {
        let Some(first) = lines[range.clone()]
            .iter()
            .position(|l| l.indent >= min_indent)
        else {
            break;
        };
        let child_indent = lines[range.start + first].indent;
        let children: Vec<usize> = (range.clone())
            .filter(|&i| lines[i].indent == child_indent)
            .collect();
        let is_sequence = lines[children[0]].content == "-";
        let hit = if is_sequence {
            token.parse::<usize>().ok().and_then(|n| {
                children
                    .iter()
                    .copied()
                    .filter(|&i| lines[i].content == "-")
                    .nth(n)
            })
        } else {
            children
                .iter()
                .copied()
                .find(|&i| yaml_key(lines[i].content) == Some(token.as_str()))
        };
        let Some(at) = hit else { break };
        found_line = lines[at].line;
        found_column = lines[at].indent + 1;
        // `key:` followed by `- item` at the key's own indentation (an indentless sequence,
        // the usual style of Envoy and Kubernetes documents): the items belong to the key.
        let indentless = lines[at].content != "-"
            && lines
                .get(at + 1)
                .filter(|_| at + 1 < range.end)
                .is_some_and(|n| n.indent == child_indent && n.content == "-");
        let end = (at + 1..range.end)
            .find(|&i| {
                lines[i].indent < child_indent
                    || (lines[i].indent == child_indent && !(indentless && lines[i].content == "-"))
            })
            .unwrap_or(range.end);
        range = at + 1..end;
        min_indent = if indentless {
            child_indent
        } else {
            child_indent + 1
        };
        if range.is_empty() {
            break;
        }
    }
    SourcePosition {
        line: found_line,
        column: found_column,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = r#"{
  "openapi": "3.0.0",
  "paths": {
    "/a/b": {
      "get": { "responses": {} },
      "post": {
        "parameters": [ {"name": "x"},
          {"name": "y\"}"} ]
      }
    }
  }
}"#;

    #[test]
    fn json_pointer_finds_keys_and_elements() {
        let index = SourceIndex::new(JSON);
        for p in [
            "/paths/~1a~1b/get",
            "/paths/~1a~1b/post/parameters/1",
            "/paths/~1a~1b/post/parameters/1/name",
            "/paths/~1a~1b/put",
            "",
            "/paths/~1a~1b/post/parameters/7/x",
        ] {
            assert_eq!(index.locate(p), locate_pointer(JSON, p), "{p}");
        }
        let at = |p: &str| locate_pointer(JSON, p).map(|p| (p.line, p.column));
        assert_eq!(at("/paths/~1a~1b/get"), Some((5, 7)));
        assert_eq!(at("/paths/~1a~1b/post/parameters/1"), Some((8, 11)));
        assert_eq!(at("/paths/~1a~1b/post/parameters/1/name"), Some((8, 12)));
        // a missing token gives the deepest ancestor found
        assert_eq!(at("/paths/~1a~1b/put"), Some((4, 5)));
        assert_eq!(at(""), Some((1, 1)));
    }

    const YAML: &str = "openapi: 3.0.1\n# c\npaths:\n  /users/v1:\n    get:\n      parameters:\n        - name: a\n          in: query\n        - name: b\n          schema: { type: string }\n  '/x':\n    post: {}\n";

    #[test]
    fn yaml_pointer_follows_indentation_and_sequences() {
        let line = |p: &str| SourceIndex::new(YAML).locate(p).map(|p| p.line);
        assert_eq!(line("/paths/~1users~1v1/get"), Some(5));
        assert_eq!(line("/paths/~1users~1v1/get/parameters/1"), Some(9));
        assert_eq!(line("/paths/~1users~1v1/get/parameters/0/in"), Some(8));
        assert_eq!(line("/paths/~1users~1v1/get/parameters/1/name"), Some(9));
        assert_eq!(
            line("/paths/~1users~1v1/get/parameters/1/schema/type"),
            Some(10)
        );
        assert_eq!(line("/paths/~1x/post"), Some(12));
        assert_eq!(line("/nope"), Some(1));
        let column = |p: &str| SourceIndex::new(YAML).locate(p).map(|p| p.column);
        assert_eq!(column("/paths/~1users~1v1/get"), Some(5));
        assert_eq!(column("/paths/~1users~1v1/get/parameters/1"), Some(9));
        assert_eq!(column("/paths/~1users~1v1/get/parameters/1/name"), Some(11));
    }

    #[test]
    fn yaml_indentless_sequences_belong_to_their_key() {
        let text = "static_resources:\n  listeners:\n  - name: a\n    filter_chains:\n    - filters: []\n  - name: b\n    filter_chains:\n    - filters: []\n    - transport_socket: {}\n  clusters:\n  - name: c\nadmin: {}\n";
        let line = |p: &str| SourceIndex::new(text).locate(p).map(|p| p.line);
        assert_eq!(line("/static_resources/listeners/0"), Some(3));
        assert_eq!(line("/static_resources/listeners/1/name"), Some(6));
        assert_eq!(
            line("/static_resources/listeners/1/filter_chains/1"),
            Some(9)
        );
        assert_eq!(line("/static_resources/clusters/0"), Some(11));
        assert_eq!(
            line("/static_resources/listeners/2"),
            Some(2),
            "missing: the key"
        );
        assert_eq!(line("/admin"), Some(12));
    }
}
