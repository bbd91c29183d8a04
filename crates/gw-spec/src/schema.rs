//! Schema resolution: `$ref`s followed once and shared, cycles cut with a marker, depth bounded.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::SpecError;
use crate::import::Importer;
use crate::model::{AdditionalProperties, Schema, SchemaType, SpecVersion};
use crate::node::{Node, kind_of};

/// Schema nesting (inline levels plus `$ref` hops) expanded before a node is cut. Deeper refs
/// become markers (expanded later on their own); deeper inline nodes are left empty with a warning.
const MAX_SCHEMA_DEPTH: usize = 100;

/// Members next to a `$ref` that do not change the schema (documentation only).
const DOC_ONLY: [&str; 4] = ["$ref", "description", "summary", "title"];

impl<'d> Importer<'d> {
    /// Reads the schema at `node` (a `$ref`, an inline schema, or a 3.1 boolean schema).
    pub(crate) fn schema(
        &mut self,
        node: Node<'d>,
        depth: usize,
    ) -> Result<Arc<Schema>, SpecError> {
        match node.value {
            Value::Bool(_) => Ok(Arc::new(Schema {
                pointer: self.display(&node),
                ..Schema::default()
            })),
            Value::Object(map) => match map.get("$ref") {
                Some(reference) => self.ref_schema(node.clone(), map, reference, depth),
                None => self.inline_schema(&node, depth, false),
            },
            other => Err(self.invalid(
                &node,
                format!("a schema must be an object, found {}", kind_of(other)),
            )),
        }
    }

    /// Resolves a named schema (a component or definition) under its own ref key.
    pub(crate) fn named_schema(&mut self, node: Node<'d>) -> Result<Arc<Schema>, SpecError> {
        let key = self.ref_key(&node);
        self.resolve_target(key, node, 0)
    }

    /// Expands the ref targets that were cut by the depth limit and never expanded elsewhere, so
    /// every marker can be looked up in [`crate::ApiSpec::schemas`].
    pub(crate) fn expand_deferred(&mut self) -> Result<(), SpecError> {
        while let Some((key, node)) = self.deferred.pop() {
            if !self.schema_cache.contains_key(&key) {
                self.resolve_target(key, node, 0)?;
            }
        }
        Ok(())
    }

    fn ref_schema(
        &mut self,
        node: Node<'d>,
        map: &'d Map<String, Value>,
        reference: &'d Value,
        depth: usize,
    ) -> Result<Arc<Schema>, SpecError> {
        let Value::String(reference) = reference else {
            let at = node.get("$ref").unwrap_or(node.clone());
            return Err(self.invalid(
                &at,
                format!("$ref must be a string, found {}", kind_of(reference)),
            ));
        };
        let target = self.follow(&node, reference)?;
        let key = self.ref_key(&target);
        let resolved = self.resolve_target(key, target, depth)?;
        let has_siblings = map
            .keys()
            .any(|k| !DOC_ONLY.contains(&k.as_str()) && !k.starts_with("x-"));
        if !has_siblings || resolved.is_recursive_marker() {
            return Ok(resolved);
        }
        // Keywords beside a `$ref` (3.1 semantics; common in sloppy 3.0 too) refine the target.
        let overlay = self.inline_schema(&node, depth, false)?;
        let mut merged = (*resolved).clone();
        merge(&mut merged, &overlay, true);
        merged.pointer = self.display(&node);
        Ok(Arc::new(merged))
    }

    fn resolve_target(
        &mut self,
        key: String,
        target: Node<'d>,
        depth: usize,
    ) -> Result<Arc<Schema>, SpecError> {
        if let Some(schema) = self.schema_cache.get(&key) {
            return Ok(schema.clone());
        }
        let ref_name = ref_name_of(&target);
        let cycle = self.in_progress.contains(&key);
        if cycle || depth >= MAX_SCHEMA_DEPTH {
            if !cycle {
                self.deferred.push((key.clone(), target.clone()));
            }
            return Ok(Arc::new(Schema {
                pointer: self.display(&target),
                ref_name: Some(ref_name),
                recursive_ref: Some(key),
                ..Schema::default()
            }));
        }
        self.in_progress.push(key.clone());
        let result = self.schema(target, depth + 1);
        self.in_progress.pop();
        let mut schema = result?;
        if schema.ref_name.is_none() {
            Arc::make_mut(&mut schema).ref_name = Some(ref_name);
        }
        self.schema_cache.insert(key, schema.clone());
        Ok(schema)
    }

    /// Reads the schema keywords of `node` (ignoring a `$ref` member). `value_mode` is for
    /// Swagger 2.0 parameters and headers, whose `required` is a boolean about the parameter.
    pub(crate) fn inline_schema(
        &mut self,
        node: &Node<'d>,
        depth: usize,
        value_mode: bool,
    ) -> Result<Arc<Schema>, SpecError> {
        let mut s = Schema {
            pointer: self.display(node),
            ..Schema::default()
        };
        if depth >= MAX_SCHEMA_DEPTH {
            self.warn(
                node,
                format!("schema nested deeper than {MAX_SCHEMA_DEPTH} levels; not expanded"),
            );
            return Ok(Arc::new(s));
        }
        self.read_types(node, &mut s)?;
        self.read_scalars(node, &mut s);
        self.read_children(node, &mut s, depth)?;
        if !value_mode {
            self.read_required(node, &mut s);
        }
        if let Some(all_of) = node.get("allOf") {
            for member in self.schema_list(&all_of, depth)? {
                let member = match &member.recursive_ref {
                    Some(key) => self.schema_cache.get(key).cloned().unwrap_or(member),
                    None => member,
                };
                merge(&mut s, &member, false);
            }
        }
        self.check_schema(node, &s, value_mode);
        Ok(Arc::new(s))
    }

    fn read_types(&mut self, node: &Node<'d>, s: &mut Schema) -> Result<(), SpecError> {
        // Fast path: one common type name needs no located node.
        if let Some(t) = node
            .value
            .get("type")
            .and_then(Value::as_str)
            .and_then(plain_type)
        {
            s.types.push(t);
        } else if let Some(type_node) = node.get("type") {
            match type_node.value {
                Value::String(name) => s.types.push(self.schema_type(&type_node, name)?),
                Value::Array(names) => {
                    for (i, name) in names.iter().enumerate() {
                        let at = type_node.child(&i.to_string(), name);
                        let Value::String(name) = name else {
                            return Err(self.invalid(&at, "a type name must be a string"));
                        };
                        let t = self.schema_type(&at, name)?;
                        if !s.types.contains(&t) {
                            s.types.push(t);
                        }
                    }
                }
                other => {
                    return Err(self.invalid(
                        &type_node,
                        format!(
                            "type must be a string or an array of strings, found {}",
                            kind_of(other)
                        ),
                    ));
                }
            }
        }
        // 3.1 spells nullability as a "null" type; keep one representation: the flag.
        if s.types.len() > 1 && s.types.contains(&SchemaType::Null) {
            s.types.retain(|t| *t != SchemaType::Null);
            s.nullable = true;
        }
        s.nullable |= self.flag(node, "nullable") | self.flag(node, "x-nullable");
        Ok(())
    }

    fn schema_type(&mut self, at: &Node<'d>, name: &str) -> Result<SchemaType, SpecError> {
        if let Some(t) = plain_type(name) {
            return Ok(t);
        }
        if name == "file" {
            if self.version != SpecVersion::Swagger2 {
                self.warn(at, "type \"file\" exists only in Swagger 2.0");
            }
            return Ok(SchemaType::File);
        }
        Err(self.invalid(
            at,
            format!(
                "invalid type \"{name}\" (expected string, number, integer, boolean, array, object or null)"
            ),
        ))
    }

    /// One pass over the members (cheaper than a lookup per keyword on large specs).
    fn read_scalars(&mut self, node: &Node<'d>, s: &mut Schema) {
        let Some(map) = node.value.as_object() else {
            return;
        };
        let (mut exclusive_min, mut exclusive_max, mut constant, mut examples) =
            (None, None, None, None);
        for (key, value) in map {
            match key.as_str() {
                "format" => s.format = self.opt_str(node, key).map(str::to_owned),
                "pattern" => s.pattern = self.opt_str(node, key).map(str::to_owned),
                "enum" => match value {
                    Value::Array(values) => s.enum_values = values.clone(),
                    _ => self.warn(&node.child(key, value), "enum must be an array; ignored"),
                },
                "const" => constant = Some(value),
                "default" => s.default = Some(value.clone()),
                "example" => s.example = Some(value.clone()),
                "examples" => examples = value.as_array().and_then(|a| a.first()),
                "minimum" => s.minimum = self.number(node, key),
                "maximum" => s.maximum = self.number(node, key),
                "multipleOf" => s.multiple_of = self.number(node, key),
                "exclusiveMinimum" => exclusive_min = Some(value),
                "exclusiveMaximum" => exclusive_max = Some(value),
                "minLength" => s.min_length = self.count(node, key),
                "maxLength" => s.max_length = self.count(node, key),
                "minItems" => s.min_items = self.count(node, key),
                "maxItems" => s.max_items = self.count(node, key),
                "minProperties" => s.min_properties = self.count(node, key),
                "maxProperties" => s.max_properties = self.count(node, key),
                "uniqueItems" => s.unique_items = self.flag(node, key),
                "readOnly" => s.read_only = self.flag(node, key),
                "writeOnly" => s.write_only = self.flag(node, key),
                "deprecated" => s.deprecated = self.flag(node, key),
                _ => {}
            }
        }
        if let Some(c) = constant
            && s.enum_values.is_empty()
        {
            s.enum_values.push(c.clone());
        }
        if s.example.is_none() {
            s.example = examples.cloned();
        }
        // 2.0 / 3.0: a boolean beside minimum; 3.1: the bound itself.
        for (key, value, is_min) in [
            ("exclusiveMinimum", exclusive_min, true),
            ("exclusiveMaximum", exclusive_max, false),
        ] {
            let (bound, flag) = if is_min {
                (&mut s.minimum, &mut s.exclusive_minimum)
            } else {
                (&mut s.maximum, &mut s.exclusive_maximum)
            };
            match value {
                Some(Value::Bool(b)) => *flag = *b,
                Some(Value::Number(n)) => {
                    *bound = n.as_f64();
                    *flag = true;
                }
                Some(other) => {
                    let at = node.child(key, other);
                    self.warn(&at, "expected a boolean or a number; ignored");
                }
                None => {}
            }
        }
    }

    fn read_children(
        &mut self,
        node: &Node<'d>,
        s: &mut Schema,
        depth: usize,
    ) -> Result<(), SpecError> {
        if let Some(properties) = node.get("properties") {
            if properties.value.is_object() {
                let entries: Vec<_> = properties.entries().collect();
                for (name, child) in entries {
                    let child = self.schema(child, depth + 1)?;
                    s.properties.insert(name.to_owned(), child);
                }
            } else {
                self.warn(&properties, "properties must be an object; ignored");
            }
        }
        if let Some(additional) = node.get("additionalProperties") {
            s.additional_properties = match additional.value {
                Value::Bool(false) => AdditionalProperties::Forbidden,
                Value::Bool(true) => AdditionalProperties::Any,
                Value::Object(_) => {
                    AdditionalProperties::Schema(self.schema(additional, depth + 1)?)
                }
                other => {
                    self.warn(
                        &additional,
                        format!(
                            "additionalProperties must be a boolean or a schema, found {}",
                            kind_of(other)
                        ),
                    );
                    AdditionalProperties::Any
                }
            };
        }
        if let Some(items) = node.get("items") {
            s.items = match items.value {
                Value::Object(_) | Value::Bool(_) => Some(self.schema(items, depth + 1)?),
                Value::Array(list) => {
                    self.warn(
                        &items,
                        "tuple \"items\" (an array) read as its first schema",
                    );
                    match list.first() {
                        Some(first) => Some(self.schema(items.child("0", first), depth + 1)?),
                        None => None,
                    }
                }
                other => {
                    self.warn(
                        &items,
                        format!("items must be a schema, found {}", kind_of(other)),
                    );
                    None
                }
            };
        }
        for (key, is_one_of) in [("oneOf", true), ("anyOf", false)] {
            let Some(list) = node.get(key) else { continue };
            if self.version == SpecVersion::Swagger2 {
                self.warn(
                    &list,
                    format!("\"{key}\" is not supported by Swagger 2.0 (only allOf)"),
                );
            }
            let members = self.schema_list(&list, depth)?;
            if is_one_of {
                s.one_of = members;
            } else {
                s.any_of = members;
            }
        }
        Ok(())
    }

    fn read_required(&mut self, node: &Node<'d>, s: &mut Schema) {
        let Some(required) = node.get("required") else {
            return;
        };
        match required.value {
            Value::Array(names) => {
                s.required = names
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect();
                if s.required.len() != names.len() {
                    self.warn(&required, "required must list property names (strings)");
                }
            }
            other => self.warn(
                &required,
                format!(
                    "required must be an array of property names, found {}; ignored",
                    kind_of(other)
                ),
            ),
        }
    }

    fn schema_list(
        &mut self,
        list: &Node<'d>,
        depth: usize,
    ) -> Result<Vec<Arc<Schema>>, SpecError> {
        if !list.value.is_array() {
            self.warn(list, "expected an array of schemas; ignored");
            return Ok(Vec::new());
        }
        let items: Vec<_> = list.items().collect();
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(self.schema(item, depth + 1)?);
        }
        Ok(out)
    }

    /// Problems the specification forbids but an import can live with.
    fn check_schema(&mut self, node: &Node<'d>, s: &Schema, value_mode: bool) {
        if s.has_type(SchemaType::Array)
            && s.items.is_none()
            && self.version != SpecVersion::OpenApi31
        {
            self.warn(node, "is an array, so it must include an \"items\" schema");
        }
        let object_like = s.types.is_empty() || s.has_type(SchemaType::Object);
        if !value_mode && object_like && !s.properties.is_empty() {
            for name in &s.required {
                if !s.properties.contains_key(name) {
                    self.warn(
                        node,
                        format!("property \"{name}\" is listed as required but is not defined"),
                    );
                }
            }
        }
    }

    fn number(&mut self, node: &Node<'d>, key: &str) -> Option<f64> {
        let value = node.value.get(key)?;
        let member = || node.child(key, value);
        match value {
            Value::Number(n) => n.as_f64(),
            other => {
                self.warn(
                    &member(),
                    format!("expected a number, found {}; ignored", kind_of(other)),
                );
                None
            }
        }
    }

    fn count(&mut self, node: &Node<'d>, key: &str) -> Option<u64> {
        let value = node.value.get(key)?;
        let member = || node.child(key, value);
        let as_count = value.as_u64().or_else(|| {
            value
                .as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f <= u64::MAX as f64)
                .map(|f| f as u64)
        });
        if as_count.is_none() {
            self.warn(&member(), "expected a non-negative integer; ignored");
        }
        as_count
    }
}

/// A type name valid in every version (`file` is not: it warns outside Swagger 2.0).
fn plain_type(name: &str) -> Option<SchemaType> {
    Some(match name {
        "string" => SchemaType::String,
        "number" => SchemaType::Number,
        "integer" => SchemaType::Integer,
        "boolean" => SchemaType::Boolean,
        "array" => SchemaType::Array,
        "object" => SchemaType::Object,
        "null" => SchemaType::Null,
        _ => return None,
    })
}

/// The name a ref target is known by: its last pointer segment, else the file's stem.
fn ref_name_of(target: &Node<'_>) -> String {
    match target.ptr.rsplit('/').next() {
        Some(last) if !target.ptr.is_empty() => last.replace("~1", "/").replace("~0", "~"),
        _ => {
            let file = target.doc.rsplit('/').next().unwrap_or(target.doc);
            file.split('.').next().unwrap_or(file).to_owned()
        }
    }
}

/// Folds `other` into `target`. `overwrite`: `other`'s declared values win (ref siblings);
/// otherwise only gaps are filled (allOf members, where the schema's own keywords win).
fn merge(target: &mut Schema, other: &Schema, overwrite: bool) {
    macro_rules! take {
        ($($field:ident),*) => {$(
            if other.$field.is_some() && (overwrite || target.$field.is_none()) {
                target.$field = other.$field.clone();
            }
        )*};
    }
    take!(
        format,
        default,
        example,
        items,
        minimum,
        maximum,
        multiple_of,
        min_length,
        max_length,
        pattern,
        min_items,
        max_items,
        min_properties,
        max_properties
    );
    if !other.types.is_empty() && (overwrite || target.types.is_empty()) {
        target.types = other.types.clone();
    }
    if !other.enum_values.is_empty() && (overwrite || target.enum_values.is_empty()) {
        target.enum_values = other.enum_values.clone();
    }
    for (name, schema) in &other.properties {
        if overwrite || !target.properties.contains_key(name) {
            target.properties.insert(name.clone(), schema.clone());
        }
    }
    for name in &other.required {
        if !target.required.contains(name) {
            target.required.push(name.clone());
        }
    }
    if !matches!(other.additional_properties, AdditionalProperties::Any)
        && (overwrite || matches!(target.additional_properties, AdditionalProperties::Any))
    {
        target.additional_properties = other.additional_properties.clone();
    }
    if target.one_of.is_empty() || overwrite && !other.one_of.is_empty() {
        target.one_of = other.one_of.clone();
    }
    if target.any_of.is_empty() || overwrite && !other.any_of.is_empty() {
        target.any_of = other.any_of.clone();
    }
    target.nullable |= other.nullable;
    target.exclusive_minimum |= other.exclusive_minimum;
    target.exclusive_maximum |= other.exclusive_maximum;
    target.unique_items |= other.unique_items;
    target.read_only |= other.read_only;
    target.write_only |= other.write_only;
    target.deprecated |= other.deprecated;
}
