//! Bytes to `serde_json::Value`, and the set of documents a spec spans (its file `$ref`s).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Number, Value};

use crate::error::SpecError;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
/// A spec that needs more files than this is refused rather than read without end.
const MAX_DOCUMENTS: usize = 256;

/// Parses JSON or YAML (detected from the first significant byte; a UTF-8 BOM is skipped).
pub(crate) fn parse_document(bytes: &[u8], file: &str) -> Result<Value, SpecError> {
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        None => Err(SpecError::Syntax {
            file: file.to_owned(),
            reason: "empty document".to_owned(),
        }),
        Some(b'{') | Some(b'[') => serde_json::from_slice(bytes).map_err(|e| SpecError::Syntax {
            file: file.to_owned(),
            reason: format!(
                "invalid JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ),
        }),
        Some(_) => parse_yaml(bytes, file),
    }
}

fn parse_yaml(bytes: &[u8], file: &str) -> Result<Value, SpecError> {
    let syntax = |reason: String| SpecError::Syntax {
        file: file.to_owned(),
        reason,
    };
    let mut yaml: yaml_serde::Value =
        yaml_serde::from_slice(bytes).map_err(|e| syntax(format!("invalid YAML: {e}")))?;
    yaml.apply_merge()
        .map_err(|e| syntax(format!("invalid YAML merge key: {e}")))?;
    Ok(yaml_to_json(yaml))
}

/// YAML allows non-string keys (`200:` is an integer); JSON pointers and OpenAPI want strings.
fn yaml_to_json(yaml: yaml_serde::Value) -> Value {
    match yaml {
        yaml_serde::Value::Null => Value::Null,
        yaml_serde::Value::Bool(b) => Value::Bool(b),
        yaml_serde::Value::Number(n) => yaml_number(&n),
        yaml_serde::Value::String(s) => Value::String(s),
        yaml_serde::Value::Sequence(items) => {
            Value::Array(items.into_iter().map(yaml_to_json).collect())
        }
        yaml_serde::Value::Mapping(mapping) => {
            let mut map = Map::with_capacity(mapping.len());
            for (k, v) in mapping {
                map.insert(yaml_key(k), yaml_to_json(v));
            }
            Value::Object(map)
        }
        yaml_serde::Value::Tagged(tagged) => yaml_to_json(tagged.value),
    }
}

fn yaml_number(n: &yaml_serde::Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::Number(i.into())
    } else if let Some(u) = n.as_u64() {
        Value::Number(u.into())
    } else {
        let f = n.as_f64().unwrap_or(f64::NAN);
        Number::from_f64(f).map_or_else(|| Value::String(n.to_string()), Value::Number)
    }
}

fn yaml_key(key: yaml_serde::Value) -> String {
    match key {
        yaml_serde::Value::String(s) => s,
        yaml_serde::Value::Null => "null".to_owned(),
        yaml_serde::Value::Bool(b) => b.to_string(),
        yaml_serde::Value::Number(n) => n.to_string(),
        other => match yaml_to_json(other) {
            Value::String(s) => s,
            v => v.to_string(),
        },
    }
}

/// A `$ref` split into its document part and its fragment (a JSON pointer, percent-decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RefTarget {
    /// Document key (see [`DocumentSet`]).
    pub doc: String,
    pub pointer: String,
}

/// The root document and every file it reaches through `$ref`s, parsed up front so resolution
/// can borrow them. A file that fails to load is kept as its error: it only matters if a
/// resolution actually goes there (refs inside example values are never followed).
pub(crate) struct DocumentSet {
    pub root_key: String,
    /// Directory file refs are relative to; `None` when parsing bytes without a path.
    base_dir: Option<PathBuf>,
    docs: BTreeMap<String, Result<Value, String>>,
}

impl DocumentSet {
    pub fn new(root: Value, file_name: &str, base_dir: Option<PathBuf>) -> Self {
        let root_key = Path::new(file_name).file_name().map_or_else(
            || file_name.to_owned(),
            |n| n.to_string_lossy().into_owned(),
        );
        let mut set = Self {
            root_key: root_key.clone(),
            base_dir,
            docs: BTreeMap::new(),
        };
        set.docs.insert(root_key, Ok(root));
        set.load_referenced_files();
        set
    }

    pub fn get(&self, key: &str) -> Option<&Result<Value, String>> {
        self.docs.get(key)
    }

    /// The document under `key` with the map's own copy of the key (borrowable for the set's life).
    pub fn entry(&self, key: &str) -> Option<(&str, &Result<Value, String>)> {
        self.docs.get_key_value(key).map(|(k, v)| (k.as_str(), v))
    }

    /// Splits `reference` (as written in document `from`) into document key and pointer.
    pub fn target(&self, from: &str, reference: &str) -> Result<RefTarget, String> {
        let (file, fragment) = match reference.split_once('#') {
            Some((file, fragment)) => (file, fragment),
            None => (reference, ""),
        };
        let pointer = percent_decode(fragment);
        if !pointer.is_empty() && !pointer.starts_with('/') {
            return Err(format!(
                "$ref \"{reference}\": only JSON-pointer fragments are supported"
            ));
        }
        if file.is_empty() {
            return Ok(RefTarget {
                doc: from.to_owned(),
                pointer,
            });
        }
        if file.contains("://") {
            return Err(format!(
                "$ref \"{reference}\": remote references are not fetched"
            ));
        }
        let Some(doc) = join_relative(from, file) else {
            return Err(format!(
                "$ref \"{reference}\": files outside the spec's directory are not read"
            ));
        };
        if doc == self.root_key || self.base_dir.is_some() {
            Ok(RefTarget { doc, pointer })
        } else {
            Err(format!(
                "$ref \"{reference}\": a file reference needs the spec to be loaded from a path"
            ))
        }
    }

    fn load_referenced_files(&mut self) {
        let Some(base_dir) = self.base_dir.clone() else {
            return;
        };
        let mut queue = vec![self.root_key.clone()];
        let mut seen: BTreeSet<String> = queue.iter().cloned().collect();
        while let Some(key) = queue.pop() {
            let mut refs = Vec::new();
            if let Some(Ok(value)) = self.docs.get(&key) {
                collect_file_refs(value, &mut refs);
            }
            for file in refs {
                let Some(doc) = join_relative(&key, &file) else {
                    continue;
                };
                if file.contains("://") || !seen.insert(doc.clone()) {
                    continue;
                }
                if self.docs.len() >= MAX_DOCUMENTS {
                    self.docs.insert(
                        doc,
                        Err(format!("more than {MAX_DOCUMENTS} referenced files")),
                    );
                    continue;
                }
                let loaded = std::fs::read(base_dir.join(&doc))
                    .map_err(|e| format!("cannot read {doc}: {e}"))
                    .and_then(|bytes| parse_document(&bytes, &doc).map_err(|e| e.to_string()));
                if loaded.is_ok() {
                    queue.push(doc.clone());
                }
                self.docs.insert(doc, loaded);
            }
        }
    }
}

/// Every distinct file part of a `$ref` string in `value`.
fn collect_file_refs(value: &Value, out: &mut Vec<String>) {
    let mut stack = vec![value];
    let mut seen = BTreeSet::new();
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    let file = r.split('#').next().unwrap_or_default();
                    if !file.is_empty() && seen.insert(file.to_owned()) {
                        out.push(file.to_owned());
                    }
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
}

/// `from`'s directory joined with `relative`, normalised lexically (`a/b.yaml` + `../c.yaml` =
/// `c.yaml`). `None` when the result is absolute or climbs above the root spec's directory: a
/// spec must not make the importer read arbitrary local files.
fn join_relative(from: &str, relative: &str) -> Option<String> {
    let dir = Path::new(from).parent().unwrap_or(Path::new(""));
    let mut parts: Vec<String> = Vec::new();
    for component in dir.join(relative).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

/// Decodes `%XX` escapes (URI fragments may encode `{`, `}` and spaces); invalid escapes stay.
fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|b| (*b as char).to_digit(16)),
                bytes.get(i + 2).and_then(|b| (*b as char).to_digit(16)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Escapes one JSON-pointer segment (`~` → `~0`, `/` → `~1`).
pub(crate) fn escape_segment(segment: &str, out: &mut String) {
    if !segment.bytes().any(|b| b == b'~' || b == b'/') {
        out.push_str(segment);
        return;
    }
    for c in segment.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_and_yaml_integer_keys() {
        let doc = parse_document(b"\xEF\xBB\xBFa:\n  200: ok\n  true: x\n", "t.yaml").unwrap();
        assert_eq!(doc["a"]["200"], "ok");
        assert_eq!(doc["a"]["true"], "x");
    }

    #[test]
    fn json_error_names_line() {
        let err = parse_document(b"{\n \"a\": ,}", "t.json").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("t.json: invalid JSON at line 2"),
            "{err}"
        );
    }

    #[test]
    fn relative_joins() {
        assert_eq!(
            join_relative("a/b.yaml", "../c.yaml").as_deref(),
            Some("c.yaml")
        );
        assert_eq!(
            join_relative("a/b.yaml", "./c.yaml").as_deref(),
            Some("a/c.yaml")
        );
        assert_eq!(
            join_relative("x.yaml", "defs/p.yaml").as_deref(),
            Some("defs/p.yaml")
        );
        assert_eq!(join_relative("x.yaml", "../up.yaml"), None);
        assert_eq!(join_relative("x.yaml", "/etc/passwd"), None);
    }

    #[test]
    fn fragments_are_percent_decoded() {
        assert_eq!(percent_decode("/paths/~1a~1%7Bid%7D"), "/paths/~1a~1{id}");
        assert_eq!(percent_decode("/bad%zz"), "/bad%zz");
    }
}
