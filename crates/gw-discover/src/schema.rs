//! Example-free JSON schemas inferred from sampled bodies, bounded in depth and width.
//!
//! Only the shape is kept (types, property names, array items, which properties were always
//! present); never a value, so a schema can be stored and exported without leaking data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Nesting kept; deeper values are typed but not described.
const MAX_DEPTH: usize = 6;
/// Properties kept per object; further ones are counted in `more_properties`.
const MAX_PROPERTIES: usize = 64;

/// The inferred shape of JSON values seen at one place.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InferredSchema {
    /// JSON types seen (`object`, `array`, `string`, `integer`, `number`, `boolean`, `null`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    /// Object members with their shapes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, InferredSchema>,
    /// Member names present in every object seen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Box<InferredSchema>>,
    /// Objects seen here (for `required`).
    #[serde(default)]
    pub objects: u64,
    /// Properties not kept because of the width bound.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub more_properties: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl InferredSchema {
    /// Widens this schema to also describe `value`.
    pub fn observe(&mut self, value: &Value) {
        self.observe_at(value, 0);
    }

    fn add_type(&mut self, t: &str) {
        if !self.types.iter().any(|x| x == t) {
            self.types.push(t.to_string());
            self.types.sort();
        }
    }

    fn observe_at(&mut self, value: &Value, depth: usize) {
        match value {
            Value::Null => self.add_type("null"),
            Value::Bool(_) => self.add_type("boolean"),
            Value::Number(n) => self.add_type(if n.is_f64() { "number" } else { "integer" }),
            Value::String(_) => self.add_type("string"),
            Value::Array(items) => {
                self.add_type("array");
                if depth < MAX_DEPTH {
                    let schema = self.items.get_or_insert_with(Box::default);
                    for item in items.iter().take(16) {
                        schema.observe_at(item, depth + 1);
                    }
                }
            }
            Value::Object(map) => {
                self.add_type("object");
                let first = self.objects == 0;
                self.objects += 1;
                if depth >= MAX_DEPTH {
                    return;
                }
                for (name, member) in map {
                    let room = self.properties.len() < MAX_PROPERTIES;
                    match self.properties.get_mut(name) {
                        Some(p) => p.observe_at(member, depth + 1),
                        None if room => {
                            let mut p = InferredSchema::default();
                            p.observe_at(member, depth + 1);
                            self.properties.insert(name.clone(), p);
                        }
                        None => self.more_properties += 1,
                    }
                }
                if first {
                    self.required = map
                        .keys()
                        .filter(|k| self.properties.contains_key(*k))
                        .cloned()
                        .collect();
                    self.required.sort();
                } else {
                    self.required.retain(|k| map.contains_key(k));
                }
            }
        }
    }

    /// Folds another inferred schema of the same place into this one.
    pub fn merge(&mut self, other: &InferredSchema) {
        for t in &other.types {
            self.add_type(t);
        }
        for (name, p) in &other.properties {
            let room = self.properties.len() < MAX_PROPERTIES;
            match self.properties.get_mut(name) {
                Some(mine) => mine.merge(p),
                None if room => {
                    self.properties.insert(name.clone(), p.clone());
                }
                None => self.more_properties += 1,
            }
        }
        if let Some(items) = &other.items {
            match &mut self.items {
                Some(mine) => mine.merge(items),
                None => self.items = Some(items.clone()),
            }
        }
        if self.objects == 0 {
            self.required = other.required.clone();
        } else if other.objects > 0 {
            self.required.retain(|k| other.required.contains(k));
        }
        self.objects += other.objects;
        self.more_properties += other.more_properties;
    }

    /// The shape as a JSON Schema (OpenAPI 3.1 dialect).
    pub fn to_json_schema(&self) -> Value {
        let mut out = serde_json::Map::new();
        match self.types.as_slice() {
            [] => {}
            [one] => {
                out.insert("type".into(), json!(one));
            }
            many => {
                out.insert("type".into(), json!(many));
            }
        }
        if !self.properties.is_empty() {
            let props: serde_json::Map<String, Value> = self
                .properties
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json_schema()))
                .collect();
            out.insert("properties".into(), Value::Object(props));
            if !self.required.is_empty() {
                out.insert("required".into(), json!(self.required));
            }
        }
        if let Some(items) = &self.items {
            out.insert("items".into(), items.to_json_schema());
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_widen_and_required_narrows() {
        let mut s = InferredSchema::default();
        s.observe(&json!({"id": 1, "name": "a", "tags": ["x"]}));
        s.observe(&json!({"id": 2.5, "tags": []}));
        let js = s.to_json_schema();
        assert_eq!(js["type"], "object");
        assert_eq!(js["properties"]["id"]["type"], json!(["integer", "number"]));
        assert_eq!(js["properties"]["tags"]["items"]["type"], "string");
        assert_eq!(js["required"], json!(["id", "tags"]));
        let text = serde_json::to_string(&js).unwrap();
        assert!(!text.contains("\"a\""), "no example values: {text}");
    }

    #[test]
    fn width_and_depth_are_bounded() {
        let wide: serde_json::Map<String, Value> =
            (0..100).map(|i| (format!("k{i}"), json!(i))).collect();
        let mut s = InferredSchema::default();
        s.observe(&Value::Object(wide));
        assert_eq!(s.properties.len(), MAX_PROPERTIES);
        assert_eq!(s.more_properties, 36);
        let mut deep = json!(1);
        for _ in 0..50 {
            deep = json!({ "a": deep });
        }
        let mut d = InferredSchema::default();
        d.observe(&deep);
        let text = serde_json::to_string(&d).unwrap();
        assert!(text.len() < 2_000, "{}", text.len());
    }

    #[test]
    fn merging_equals_observing_both() {
        let mut a = InferredSchema::default();
        a.observe(&json!({"x": 1}));
        let mut b = InferredSchema::default();
        b.observe(&json!({"x": "s", "y": null}));
        a.merge(&b);
        assert_eq!(a.properties["x"].types, ["integer", "string"]);
        assert_eq!(a.required, ["x"]);
        assert_eq!(a.objects, 2);
    }
}
