//! Paths, operations, parameters, request bodies and responses.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::Value;

use super::{Importer, METHODS, PATH_ITEM_FIELDS};
use crate::error::SpecError;
use crate::model::{
    Operation, Parameter, ParameterLocation, RequestBody, ResponseSpec, Schema, SchemaType,
    SecurityScheme, Server, SpecVersion,
};
use crate::node::{Node, kind_of};

/// A parameter as read, before Swagger 2.0 body / form fields are folded into a request body.
#[derive(Clone)]
pub(super) enum ReadParameter {
    Plain(Parameter),
    Body {
        name: String,
        schema: Option<Arc<Schema>>,
        required: bool,
        pointer: String,
    },
    Form {
        name: String,
        schema: Arc<Schema>,
        required: bool,
        is_file: bool,
    },
}

impl ReadParameter {
    fn key(&self) -> (&str, &str) {
        match self {
            Self::Plain(p) => (&p.name, p.location.as_str()),
            Self::Body { name, .. } => (name, "body"),
            Self::Form { name, .. } => (name, "formData"),
        }
    }
}

/// What a path item gives each of its operations.
struct PathContext<'a> {
    template: &'a str,
    parameters: &'a [ReadParameter],
    servers: &'a [Server],
}

impl<'d> Importer<'d> {
    pub(super) fn paths(
        &mut self,
        root: &Node<'d>,
        schemes: &BTreeMap<String, SecurityScheme>,
    ) -> Result<Vec<Operation>, SpecError> {
        let Some(paths) = root.get("paths") else {
            let has_other = root.get("webhooks").is_some() || root.get("components").is_some();
            if self.version == SpecVersion::OpenApi31 && has_other {
                return Ok(Vec::new());
            }
            let reason = if self.version == SpecVersion::OpenApi31 {
                "an OpenAPI 3.1 document needs at least one of \"paths\", \"webhooks\", \"components\""
            } else {
                "missing required field \"paths\""
            };
            return Err(self.invalid(root, reason));
        };
        self.require_object(&paths, "paths")?;
        let mut operations = Vec::new();
        let mut operation_ids: HashMap<String, String> = HashMap::new();
        let entries: Vec<_> = paths.entries().collect();
        for (template, item) in entries {
            if template.starts_with("x-") {
                continue;
            }
            if !template.starts_with('/') {
                self.warn(&item, "path must start with \"/\"");
            }
            self.path_item(template, item, schemes, &mut operations, &mut operation_ids)?;
        }
        Ok(operations)
    }

    fn path_item(
        &mut self,
        template: &str,
        item: Node<'d>,
        schemes: &BTreeMap<String, SecurityScheme>,
        operations: &mut Vec<Operation>,
        operation_ids: &mut HashMap<String, String>,
    ) -> Result<(), SpecError> {
        let listed = item.ptr.clone();
        let item = self.deref(item)?;
        if item.value.is_null() {
            self.warn(&item, "empty path item; skipped");
            return Ok(());
        }
        self.require_object(&item, "a path item")?;
        let unexpected: Vec<&str> = item
            .value
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys())
            .map(String::as_str)
            .filter(|k| {
                !k.starts_with("x-") && !METHODS.contains(k) && !PATH_ITEM_FIELDS.contains(k)
            })
            .collect();
        if !unexpected.is_empty() {
            self.warn(
                &item,
                format!(
                    "unexpected fields in a path item: {} (is this $ref pointing at a path item?)",
                    unexpected.join(", ")
                ),
            );
        }
        let path_params = self.parameter_list(&item)?;
        let path_servers = self.servers(&item)?;
        let mut methods: Vec<(String, Node<'d>)> = METHODS
            .iter()
            .filter_map(|m| item.get(m).map(|n| ((*m).to_owned(), n)))
            .collect();
        if let Some(extra) = item.get("additionalOperations") {
            methods.extend(extra.entries().map(|(m, n)| (m.to_owned(), n)));
        }
        for (method, node) in methods {
            if node.value.is_null() {
                self.warn(&node, "empty operation; skipped");
                continue;
            }
            // Cite the operation where it is listed under /paths, even when the item is a $ref.
            let listed_ptr = format!("{listed}{}", &node.ptr[item.ptr.len()..]);
            let path = PathContext {
                template,
                parameters: &path_params,
                servers: &path_servers,
            };
            let op = self.operation(&path, &method, node, listed_ptr, schemes)?;
            if let Some(id) = &op.operation_id {
                if let Some(first) = operation_ids.get(id) {
                    let at = Node {
                        doc: self.docs.root_key.as_str(),
                        ptr: format!("{}/operationId", op.pointer),
                        value: &Value::Null,
                    };
                    self.warn(
                        &at,
                        format!("duplicate operation id \"{id}\" (first at {first})"),
                    );
                } else {
                    operation_ids.insert(id.clone(), op.pointer.clone());
                }
            }
            operations.push(op);
        }
        Ok(())
    }

    fn operation(
        &mut self,
        path: &PathContext<'_>,
        method: &str,
        node: Node<'d>,
        listed_ptr: String,
        schemes: &BTreeMap<String, SecurityScheme>,
    ) -> Result<Operation, SpecError> {
        let template = path.template;
        self.require_object(&node, "an operation")?;
        let own_params = self.parameter_list(&node)?;
        let params = merge_parameters(path.parameters, own_params);
        let consumes = self.media_types(&node, "consumes");
        let produces = self.media_types(&node, "produces");
        self.check_parameters(template, &node, &params, &consumes);

        let mut parameters = Vec::new();
        let mut body = None;
        let mut form = Vec::new();
        for param in params {
            match param {
                ReadParameter::Plain(p) => parameters.push(p),
                ReadParameter::Body {
                    schema,
                    required,
                    pointer,
                    ..
                } => {
                    // Operation parameters come after path-item ones: with several bodies
                    // (already warned about), the operation's own wins.
                    body = Some(RequestBody {
                        content_types: if consumes.is_empty() {
                            vec!["application/json".to_owned()]
                        } else {
                            consumes.clone()
                        },
                        schema,
                        required,
                        pointer,
                    });
                }
                ReadParameter::Form { .. } => form.push(param),
            }
        }
        let request_body = match self.version {
            SpecVersion::Swagger2 => {
                let at = self.display(&node);
                body.or_else(|| form_body(&at, &form, &consumes))
            }
            _ => match node.get("requestBody") {
                Some(rb) => Some(self.request_body(rb)?),
                None => None,
            },
        };
        let responses = match node.get("responses") {
            Some(r) => self.responses(&r, &produces)?,
            None => {
                self.warn(&node, "missing required field \"responses\"");
                Vec::new()
            }
        };
        let security = match node.get("security") {
            Some(s) => self.security_requirements(&s, schemes),
            None => None,
        };
        let mut servers = self.servers(&node)?;
        if servers.is_empty() {
            servers = path.servers.to_vec();
        }
        Ok(Operation {
            method: method.to_ascii_uppercase(),
            path_template: template.to_owned(),
            operation_id: self.opt_str(&node, "operationId").map(str::to_owned),
            summary: self.opt_str(&node, "summary").map(str::to_owned),
            tags: self.string_list(&node, "tags"),
            deprecated: self.flag(&node, "deprecated"),
            parameters,
            request_body,
            responses,
            security,
            servers,
            pointer: listed_ptr,
        })
    }

    /// Swagger 2.0 `consumes` / `produces` of an operation, else of the root.
    fn media_types(&mut self, op: &Node<'d>, key: &str) -> Vec<String> {
        if self.version != SpecVersion::Swagger2 {
            return Vec::new();
        }
        if op.get(key).is_some() {
            return self.string_list(op, key);
        }
        let Some(Ok(root_value)) = self.docs.get(&self.docs.root_key) else {
            return Vec::new();
        };
        let root = Node {
            doc: self.docs.root_key.as_str(),
            ptr: String::new(),
            value: root_value,
        };
        self.string_list(&root, key)
    }

    /// Semantic checks on one operation's merged parameters (warnings only).
    fn check_parameters(
        &mut self,
        template: &str,
        op: &Node<'d>,
        params: &[ReadParameter],
        consumes: &[String],
    ) {
        let placeholders = path_placeholders(template);
        let mut seen = BTreeSet::new();
        for name in &placeholders {
            if !seen.insert(name.as_str()) {
                self.warn(
                    op,
                    format!("path placeholder {{{name}}} appears more than once"),
                );
            }
        }
        let path_params: Vec<&Parameter> = params
            .iter()
            .filter_map(|p| match p {
                ReadParameter::Plain(p) if p.location == ParameterLocation::Path => Some(p),
                _ => None,
            })
            .collect();
        for name in &seen {
            if !path_params.iter().any(|p| p.name == *name) {
                self.warn(
                    op,
                    format!("path placeholder {{{name}}} has no path parameter"),
                );
            }
        }
        for p in &path_params {
            if !seen.contains(p.name.as_str()) {
                let at = pointer_node(&self.docs.root_key, &p.pointer);
                self.warn(
                    &at,
                    format!(
                        "path parameter \"{}\" has no placeholder in {template}",
                        p.name
                    ),
                );
            }
        }
        let bodies = params
            .iter()
            .filter(|p| matches!(p, ReadParameter::Body { .. }))
            .count();
        let has_form = params
            .iter()
            .any(|p| matches!(p, ReadParameter::Form { .. }));
        if bodies > 1 {
            self.warn(
                op,
                format!("{bodies} body parameters; at most one is allowed"),
            );
        }
        if bodies > 0 && has_form {
            self.warn(op, "body and formData parameters cannot be used together");
        }
        let has_file = params
            .iter()
            .any(|p| matches!(p, ReadParameter::Form { is_file: true, .. }));
        let form_capable = consumes
            .iter()
            .any(|c| c.contains("form-data") || c.contains("x-www-form-urlencoded"));
        if has_file && !form_capable {
            self.warn(
                op,
                "a \"file\" parameter needs consumes multipart/form-data or application/x-www-form-urlencoded",
            );
        }
    }

    /// The `parameters` array of a path item or an operation, each read and checked.
    fn parameter_list(&mut self, parent: &Node<'d>) -> Result<Vec<ReadParameter>, SpecError> {
        let Some(list) = parent.get("parameters") else {
            return Ok(Vec::new());
        };
        if !list.value.is_array() {
            self.warn(
                &list,
                format!(
                    "parameters must be an array, found {}; ignored",
                    kind_of(list.value)
                ),
            );
            return Ok(Vec::new());
        }
        let mut out: Vec<ReadParameter> = Vec::new();
        for entry in list.items() {
            let param = self.parameter(entry.clone())?;
            if out.iter().any(|p| p.key() == param.key()) {
                let (name, location) = param.key();
                self.warn(
                    &entry,
                    format!("duplicate parameter \"{name}\" in {location}"),
                );
                continue;
            }
            out.push(param);
        }
        Ok(out)
    }

    /// A parameter; one defined once and `$ref`ed from many places is read once and shared.
    fn parameter(&mut self, node: Node<'d>) -> Result<ReadParameter, SpecError> {
        let is_ref = node.value.get("$ref").is_some();
        let node = self.deref(node)?;
        if !is_ref {
            return self.read_parameter(node);
        }
        let key = self.ref_key(&node);
        if let Some(param) = self.parameter_cache.get(&key) {
            return Ok(param.clone());
        }
        let param = self.read_parameter(node)?;
        self.parameter_cache.insert(key, param.clone());
        Ok(param)
    }

    fn read_parameter(&mut self, node: Node<'d>) -> Result<ReadParameter, SpecError> {
        self.require_object(&node, "a parameter")?;
        let name = match node.value.get("name") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(self.invalid(
                    &node,
                    format!("field \"name\" must be a string, found {}", kind_of(other)),
                ));
            }
            None => return Err(self.invalid(&node, "missing required field \"name\"")),
        };
        let location = match node.value.get("in") {
            Some(Value::String(s)) => s.as_str(),
            Some(other) => {
                return Err(self.invalid(
                    &node,
                    format!("field \"in\" must be a string, found {}", kind_of(other)),
                ));
            }
            None => return Err(self.invalid(&node, "missing required field \"in\"")),
        };
        let location = match (self.version, location) {
            (_, "path") => ParameterLocation::Path,
            (_, "query") => ParameterLocation::Query,
            (_, "header") => ParameterLocation::Header,
            (SpecVersion::Swagger2, "body") => return self.body_parameter(node, name),
            (SpecVersion::Swagger2, "formData") => return self.form_parameter(node, name),
            (SpecVersion::Swagger2, other) => {
                return Err(self.invalid(
                    &node,
                    format!(
                        "invalid parameter location \"{other}\" (Swagger 2.0 allows path, query, header, formData, body)"
                    ),
                ));
            }
            (_, "cookie") => ParameterLocation::Cookie,
            (_, "querystring") => ParameterLocation::Query,
            (_, other) => {
                return Err(self.invalid(
                    &node,
                    format!(
                        "invalid parameter location \"{other}\" (allowed: path, query, header, cookie)"
                    ),
                ));
            }
        };
        let mut required = self.flag(&node, "required");
        if location == ParameterLocation::Path && !required {
            self.warn(&node, "a path parameter must be required; read as required");
            required = true;
        }
        let schema = if self.version == SpecVersion::Swagger2 {
            self.simple_value_schema(&node, location)?
        } else {
            self.parameter_schema(&node)?
        };
        Ok(ReadParameter::Plain(Parameter {
            name,
            location,
            required,
            deprecated: self.flag(&node, "deprecated"),
            schema,
            style: self.opt_str(&node, "style").map(str::to_owned),
            explode: node.value.get("explode").and_then(Value::as_bool),
            pointer: self.display(&node),
        }))
    }

    /// 3.x: `schema`, else the first `content` media type's schema, else any value.
    fn parameter_schema(&mut self, node: &Node<'d>) -> Result<Arc<Schema>, SpecError> {
        if let Some(schema) = node.get("schema") {
            let schema = self.schema(schema, 0)?;
            return Ok(with_example(schema, declared_example(node.value)));
        }
        if let Some(content) = node.get("content") {
            let (_, schema) = self.content(&content)?;
            if let Some(schema) = schema {
                return Ok(schema);
            }
        }
        self.warn(node, "parameter has neither \"schema\" nor \"content\"");
        Ok(Arc::new(Schema {
            pointer: self.display(node),
            ..Schema::default()
        }))
    }

    /// Swagger 2.0 non-body parameter or header: the value schema is the node itself.
    fn simple_value_schema(
        &mut self,
        node: &Node<'d>,
        location: ParameterLocation,
    ) -> Result<Arc<Schema>, SpecError> {
        let schema = self.inline_schema(node, 0, true)?;
        self.check_simple_value(node, &schema, Some(location));
        Ok(schema)
    }

    /// Swagger 2.0 rules for non-body values (parameters and response headers).
    fn check_simple_value(
        &mut self,
        node: &Node<'d>,
        schema: &Schema,
        location: Option<ParameterLocation>,
    ) {
        if node.value.get("type").is_none() {
            self.warn(node, "missing required field \"type\"");
        }
        if schema.has_type(SchemaType::Object) {
            self.warn(
                node,
                "type \"object\" is not allowed here (only primitive types and arrays)",
            );
        }
        if schema.has_type(SchemaType::File) {
            self.warn(
                node,
                "type \"file\" is only allowed for formData parameters",
            );
        }
        let multi = node.value.get("collectionFormat").and_then(Value::as_str) == Some("multi");
        if multi && !matches!(location, Some(ParameterLocation::Query)) {
            self.warn(
                node,
                "collectionFormat \"multi\" is only allowed for query and formData parameters",
            );
        }
    }

    fn body_parameter(&mut self, node: Node<'d>, name: String) -> Result<ReadParameter, SpecError> {
        let schema = match node.get("schema") {
            Some(s) => {
                let schema = self.schema(s.clone(), 0)?;
                if schema.has_type(SchemaType::File) {
                    self.warn(&s, "type \"file\" cannot be used for a body parameter");
                }
                Some(schema)
            }
            None => {
                self.warn(&node, "body parameter without \"schema\"");
                None
            }
        };
        Ok(ReadParameter::Body {
            name,
            schema,
            required: self.flag(&node, "required"),
            pointer: self.display(&node),
        })
    }

    fn form_parameter(&mut self, node: Node<'d>, name: String) -> Result<ReadParameter, SpecError> {
        let schema = self.inline_schema(&node, 0, true)?;
        if node.value.get("type").is_none() {
            self.warn(&node, "missing required field \"type\"");
        }
        if schema.has_type(SchemaType::Object) {
            self.warn(
                &node,
                "type \"object\" is not allowed for a formData parameter",
            );
        }
        Ok(ReadParameter::Form {
            name,
            is_file: schema.has_type(SchemaType::File),
            schema,
            required: self.flag(&node, "required"),
        })
    }

    /// A 3.x `requestBody`.
    fn request_body(&mut self, node: Node<'d>) -> Result<RequestBody, SpecError> {
        let node = self.deref(node)?;
        self.require_object(&node, "a request body")?;
        let (content_types, schema) = match node.get("content") {
            Some(content) => self.content(&content)?,
            None => {
                self.warn(&node, "request body without \"content\"");
                (Vec::new(), None)
            }
        };
        Ok(RequestBody {
            content_types,
            schema,
            required: self.flag(&node, "required"),
            pointer: self.display(&node),
        })
    }

    /// A 3.x `content` map: its media types and the first schema.
    fn content(
        &mut self,
        content: &Node<'d>,
    ) -> Result<(Vec<String>, Option<Arc<Schema>>), SpecError> {
        if !content.value.is_object() {
            self.warn(content, "content must be an object; ignored");
            return Ok((Vec::new(), None));
        }
        let mut types = Vec::new();
        let mut first = None;
        let entries: Vec<_> = content.entries().collect();
        for (media_type, media) in entries {
            types.push(media_type.to_owned());
            if first.is_none()
                && let Some(schema) = media.get("schema")
            {
                let schema = self.schema(schema, 0)?;
                first = Some(with_example(schema, declared_example(media.value)));
            }
        }
        Ok((types, first))
    }

    fn responses(
        &mut self,
        node: &Node<'d>,
        produces: &[String],
    ) -> Result<Vec<ResponseSpec>, SpecError> {
        if !node.value.is_object() {
            self.warn(node, "responses must be an object; ignored");
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let entries: Vec<_> = node.entries().collect();
        for (status, response) in entries {
            if status.starts_with("x-") {
                continue;
            }
            if !is_status_key(status) {
                self.warn(
                    &response,
                    format!("invalid response code \"{status}\"; skipped"),
                );
                continue;
            }
            let response = self.deref(response)?;
            self.require_object(&response, "a response")?;
            let (content_types, schema) = if self.version == SpecVersion::Swagger2 {
                let schema = match response.get("schema") {
                    Some(s) => Some(self.schema(s, 0)?),
                    None => None,
                };
                self.response_headers(&response)?;
                (produces.to_vec(), schema)
            } else {
                match response.get("content") {
                    Some(content) => self.content(&content)?,
                    None => (Vec::new(), None),
                }
            };
            out.push(ResponseSpec {
                status: status.to_owned(),
                content_types,
                schema,
                pointer: self.display(&response),
            });
        }
        Ok(out)
    }

    /// Swagger 2.0 response headers are simple values: checked like parameters.
    fn response_headers(&mut self, response: &Node<'d>) -> Result<(), SpecError> {
        let Some(headers) = response.get("headers") else {
            return Ok(());
        };
        let entries: Vec<_> = headers.entries().collect();
        for (_, header) in entries {
            let header = self.deref(header)?;
            if !header.value.is_object() {
                self.warn(&header, "a header must be an object; ignored");
                continue;
            }
            let schema = self.inline_schema(&header, 0, true)?;
            self.check_simple_value(&header, &schema, None);
        }
        Ok(())
    }
}

/// The `example` of a parameter or media type, else the value of its first `examples` entry.
fn declared_example(node: &Value) -> Option<&Value> {
    node.get("example").or_else(|| {
        node.get("examples")
            .and_then(Value::as_object)
            .and_then(|m| m.values().next())
            .and_then(|e| e.get("value"))
    })
}

/// A schema without an example takes the one declared beside it (parameter or media type),
/// so traffic generation and audits find it in one place. A shared schema is copied, not changed.
fn with_example(mut schema: Arc<Schema>, example: Option<&Value>) -> Arc<Schema> {
    if let Some(example) = example
        && schema.example.is_none()
        && !schema.is_recursive_marker()
    {
        Arc::make_mut(&mut schema).example = Some(example.clone());
    }
    schema
}

/// Operation parameters override path-item parameters with the same name and location.
fn merge_parameters(path: &[ReadParameter], own: Vec<ReadParameter>) -> Vec<ReadParameter> {
    let mut merged: Vec<ReadParameter> = path
        .iter()
        .filter(|p| !own.iter().any(|o| o.key() == p.key()))
        .cloned()
        .collect();
    merged.extend(own);
    merged
}

/// Swagger 2.0 `formData` parameters as one object request body.
fn form_body(op_pointer: &str, form: &[ReadParameter], consumes: &[String]) -> Option<RequestBody> {
    if form.is_empty() {
        return None;
    }
    let mut schema = Schema {
        pointer: format!("{op_pointer}/parameters"),
        types: vec![SchemaType::Object],
        ..Schema::default()
    };
    let mut any_required = false;
    let mut has_file = false;
    for param in form {
        if let ReadParameter::Form {
            name,
            schema: field,
            required,
            is_file,
            ..
        } = param
        {
            schema.properties.insert(name.clone(), field.clone());
            if *required {
                schema.required.push(name.clone());
                any_required = true;
            }
            has_file |= is_file;
        }
    }
    let content_types = if !consumes.is_empty() {
        consumes.to_vec()
    } else if has_file {
        vec!["multipart/form-data".to_owned()]
    } else {
        vec!["application/x-www-form-urlencoded".to_owned()]
    };
    Some(RequestBody {
        content_types,
        schema: Some(Arc::new(schema)),
        required: any_required,
        pointer: format!("{op_pointer}/parameters"),
    })
}

/// `default`, a status code 100-599, or a range `1XX`-`5XX`.
fn is_status_key(key: &str) -> bool {
    if key == "default" {
        return true;
    }
    let b = key.as_bytes();
    if b.len() != 3 || !(b'1'..=b'5').contains(&b[0]) {
        return false;
    }
    let digits = b[1].is_ascii_digit() && b[2].is_ascii_digit();
    let range = b[1].eq_ignore_ascii_case(&b'x') && b[2].eq_ignore_ascii_case(&b'x');
    digits || range
}

/// The `{name}` placeholders of a path template, in order (duplicates kept).
pub(crate) fn path_placeholders(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push(rest[open + 1..open + close].to_owned());
        rest = &rest[open + close + 1..];
    }
    out
}

/// A node standing for an already-read part, so a warning cites its display pointer as is.
fn pointer_node<'a>(root_key: &'a str, display: &str) -> Node<'a> {
    Node {
        doc: root_key,
        ptr: display.to_owned(),
        value: &Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_keys() {
        for ok in ["200", "default", "4XX", "5xx", "101"] {
            assert!(is_status_key(ok), "{ok}");
        }
        for bad in ["888", "foobar", "20", "2000", "6XX", "0XX"] {
            assert!(!is_status_key(bad), "{bad}");
        }
    }

    #[test]
    fn placeholders() {
        assert_eq!(path_placeholders("/a/{id}/b/{x}.{fmt}"), ["id", "x", "fmt"]);
        assert!(path_placeholders("/a/{unclosed").is_empty());
    }
}
