//! The document walker: version, info, servers, paths, operations and security.
//!
//! Strict where the document is unusable (not an API description, unsupported version, a
//! parameter without name or location, an unknown type name, a `$ref` that goes nowhere): those
//! are [`SpecError::Invalid`] with the pointer. Lenient elsewhere: what the specification forbids
//! but an inventory can still use (duplicate operation ids, path placeholders without
//! parameters, ...) becomes a [`SpecWarning`] with the pointer, and the import goes on.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;

use crate::error::SpecError;
use crate::model::{ApiSpec, Schema, SpecVersion, SpecWarning};
use crate::node::{Node, kind_of};
use crate::source::DocumentSet;

mod operation;
mod security;
mod servers;

use servers::server_from_url;

/// Methods in the order operations are listed for one path.
const METHODS: [&str; 9] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace", "query",
];
const PATH_ITEM_FIELDS: [&str; 6] = [
    "$ref",
    "summary",
    "description",
    "servers",
    "parameters",
    "additionalOperations",
];
/// `$ref` hops allowed when following a reference to a reference ... (non-schema objects).
const MAX_REF_HOPS: usize = 32;

/// One walk over a document set, producing an [`ApiSpec`].
pub(crate) struct Importer<'d> {
    pub docs: &'d DocumentSet,
    pub file: String,
    pub version: SpecVersion,
    pub warnings: Vec<SpecWarning>,
    warned: HashSet<(String, String)>,
    /// Resolved `$ref` targets by canonical key (`#/definitions/Pet`, `other.yaml#/Pet`).
    pub schema_cache: HashMap<String, Arc<Schema>>,
    /// Keys being expanded right now: meeting one again is a cycle.
    pub in_progress: Vec<String>,
    /// Targets cut by the depth limit before they were ever expanded: expanded at the end.
    pub deferred: Vec<(String, Node<'d>)>,
    /// `$ref`ed parameters already read, by canonical key.
    parameter_cache: HashMap<String, operation::ReadParameter>,
}

/// Imports the root document of `docs`.
pub(crate) fn import(docs: &DocumentSet, file: &str) -> Result<ApiSpec, SpecError> {
    let Some(Ok(root_value)) = docs.get(&docs.root_key) else {
        return Err(SpecError::Syntax {
            file: file.to_owned(),
            reason: "document missing".to_owned(),
        });
    };
    let root = Node {
        doc: &docs.root_key,
        ptr: String::new(),
        value: root_value,
    };
    let mut importer = Importer {
        docs,
        file: file.to_owned(),
        version: SpecVersion::OpenApi30,
        warnings: Vec::new(),
        warned: HashSet::new(),
        schema_cache: HashMap::new(),
        in_progress: Vec::new(),
        deferred: Vec::new(),
        parameter_cache: HashMap::new(),
    };
    importer.document(&root)
}

impl<'d> Importer<'d> {
    // ----- plumbing -------------------------------------------------------------------------

    /// The pointer as shown to users: bare in the root document, `file#pointer` elsewhere.
    pub fn display(&self, node: &Node<'_>) -> String {
        if node.doc == self.docs.root_key {
            node.ptr.clone()
        } else {
            format!("{}#{}", node.doc, node.ptr)
        }
    }

    /// The canonical key of a ref target (`#/definitions/Pet`, `other.yaml#/Pet`).
    pub fn ref_key(&self, node: &Node<'_>) -> String {
        if node.doc == self.docs.root_key {
            format!("#{}", node.ptr)
        } else {
            format!("{}#{}", node.doc, node.ptr)
        }
    }

    pub fn invalid(&self, node: &Node<'_>, reason: impl Into<String>) -> SpecError {
        SpecError::Invalid {
            file: self.file.clone(),
            pointer: self.display(node),
            reason: reason.into(),
        }
    }

    /// Records a tolerated problem once (a shared component would otherwise repeat it per use).
    pub fn warn(&mut self, node: &Node<'_>, message: impl Into<String>) {
        let warning = SpecWarning {
            pointer: self.display(node),
            message: message.into(),
        };
        if self
            .warned
            .insert((warning.pointer.clone(), warning.message.clone()))
        {
            self.warnings.push(warning);
        }
    }

    /// Follows the `$ref` written in `from` (whose `$ref` member is `reference`).
    pub fn follow(&self, from: &Node<'d>, reference: &str) -> Result<Node<'d>, SpecError> {
        let at_ref = || Node {
            doc: from.doc,
            ptr: from.child_ptr("$ref"),
            value: from.value,
        };
        let target = self
            .docs
            .target(from.doc, reference)
            .map_err(|reason| self.invalid(&at_ref(), reason))?;
        let Some((doc_key, loaded)) = self.docs.entry(&target.doc) else {
            return Err(self.invalid(
                &at_ref(),
                format!("$ref \"{reference}\": file {} was not loaded", target.doc),
            ));
        };
        let doc = loaded
            .as_ref()
            .map_err(|e| self.invalid(&at_ref(), format!("$ref \"{reference}\": {e}")))?;
        let value = doc.pointer(&target.pointer).ok_or_else(|| {
            self.invalid(
                &at_ref(),
                format!("$ref \"{reference}\": target does not exist"),
            )
        })?;
        Ok(Node {
            doc: doc_key,
            ptr: target.pointer,
            value,
        })
    }

    /// Follows `$ref`s until a non-reference object (for parameters, responses, path items ...).
    pub fn deref(&self, node: Node<'d>) -> Result<Node<'d>, SpecError> {
        let mut current = node;
        for _ in 0..MAX_REF_HOPS {
            match current.value.get("$ref") {
                None => return Ok(current),
                Some(Value::String(reference)) => current = self.follow(&current, reference)?,
                Some(other) => {
                    let at = current.get("$ref").unwrap_or(current.clone());
                    return Err(self.invalid(
                        &at,
                        format!("$ref must be a string, found {}", kind_of(other)),
                    ));
                }
            }
        }
        Err(self.invalid(
            &current,
            format!("$ref chain longer than {MAX_REF_HOPS} hops (circular reference?)"),
        ))
    }

    /// An optional string member; another type is a warning and reads as absent.
    pub fn opt_str(&mut self, node: &Node<'d>, key: &str) -> Option<&'d str> {
        let value = node.value.get(key)?;
        let member = || node.child(key, value);
        match value {
            Value::String(s) => Some(s),
            Value::Null => None,
            other => {
                self.warn(
                    &member(),
                    format!("expected a string, found {}; ignored", kind_of(other)),
                );
                None
            }
        }
    }

    /// An optional boolean member; another type is a warning and reads as `false`.
    pub fn flag(&mut self, node: &Node<'d>, key: &str) -> bool {
        let Some(value) = node.value.get(key) else {
            return false;
        };
        let member = || node.child(key, value);
        match value {
            Value::Bool(b) => *b,
            Value::Null => false,
            Value::String(s) if s == "true" || s == "false" => {
                self.warn(&member(), "boolean written as a string");
                s == "true"
            }
            other => {
                self.warn(
                    &member(),
                    format!(
                        "expected a boolean, found {}; read as false",
                        kind_of(other)
                    ),
                );
                false
            }
        }
    }

    fn string_list(&mut self, node: &Node<'d>, key: &str) -> Vec<String> {
        let Some(member) = node.get(key) else {
            return Vec::new();
        };
        let Some(items) = member.value.as_array() else {
            if !member.value.is_null() {
                self.warn(
                    &member,
                    format!(
                        "expected an array of strings, found {}",
                        kind_of(member.value)
                    ),
                );
            }
            return Vec::new();
        };
        let mut out = Vec::with_capacity(items.len());
        for item in member.items() {
            match item.value {
                Value::String(s) => out.push(s.clone()),
                other => self.warn(
                    &item,
                    format!("expected a string, found {}", kind_of(other)),
                ),
            }
        }
        out
    }

    fn require_object(&self, node: &Node<'d>, what: &str) -> Result<(), SpecError> {
        if node.value.is_object() {
            Ok(())
        } else {
            Err(self.invalid(
                node,
                format!("{what} must be an object, found {}", kind_of(node.value)),
            ))
        }
    }

    // ----- document ---------------------------------------------------------------------------

    fn document(&mut self, root: &Node<'d>) -> Result<ApiSpec, SpecError> {
        self.require_object(root, "an API description")?;
        let (version, raw) = self.spec_version(root)?;
        self.version = version;
        let (title, api_version) = self.info(root);
        let servers = match version {
            SpecVersion::Swagger2 => self.swagger_servers(root),
            _ => {
                let servers = self.servers(root)?;
                if servers.is_empty() {
                    vec![server_from_url("/", String::new())]
                } else {
                    servers
                }
            }
        };
        let security_schemes = self.security_schemes(root)?;
        let security = match root.get("security") {
            Some(node) => self
                .security_requirements(&node, &security_schemes)
                .unwrap_or_default(),
            None => Vec::new(),
        };
        self.component_schemas(root)?;
        let operations = self.paths(root, &security_schemes)?;
        self.expand_deferred()?;
        let mut schemas: BTreeMap<String, Arc<Schema>> = BTreeMap::new();
        for (key, schema) in self.schema_cache.drain() {
            schemas.insert(key, schema);
        }
        Ok(ApiSpec {
            title,
            version: api_version,
            spec_version: version,
            spec_version_raw: raw,
            servers,
            operations,
            security_schemes,
            security,
            schemas,
            source_file: self.file.clone(),
            warnings: std::mem::take(&mut self.warnings),
        })
    }

    fn spec_version(&mut self, root: &Node<'d>) -> Result<(SpecVersion, String), SpecError> {
        if let Some(node) = root.get("swagger") {
            let raw = match node.value {
                Value::String(s) => s.clone(),
                Value::Number(n) => {
                    self.warn(
                        &node,
                        "the version must be a string (\"2.0\"), found a number",
                    );
                    n.to_string()
                }
                other => {
                    return Err(self.invalid(
                        &node,
                        format!("the version must be a string, found {}", kind_of(other)),
                    ));
                }
            };
            if raw == "2.0" || raw == "2" {
                return Ok((SpecVersion::Swagger2, raw));
            }
            return Err(self.invalid(
                &node,
                format!("unsupported Swagger version \"{raw}\" (only \"2.0\" is supported)"),
            ));
        }
        if let Some(node) = root.get("openapi") {
            let raw = match node.value {
                Value::String(s) => s.clone(),
                Value::Number(n) => {
                    self.warn(&node, "the version must be a string, found a number");
                    n.to_string()
                }
                other => {
                    return Err(self.invalid(
                        &node,
                        format!("the version must be a string, found {}", kind_of(other)),
                    ));
                }
            };
            let mut parts = raw.split('.');
            let major = parts.next().unwrap_or_default();
            let minor = parts.next().unwrap_or_default();
            return match (major, minor) {
                ("3", "0") => Ok((SpecVersion::OpenApi30, raw)),
                ("3", "1" | "2") => Ok((SpecVersion::OpenApi31, raw)),
                _ => Err(self.invalid(
                    &node,
                    format!(
                        "unsupported OpenAPI version \"{raw}\" (supported: 3.0.x, 3.1.x, 3.2.x)"
                    ),
                )),
            };
        }
        Err(self.invalid(
            root,
            "not an OpenAPI or Swagger document: missing \"openapi\" or \"swagger\" field",
        ))
    }

    fn info(&mut self, root: &Node<'d>) -> (String, String) {
        let Some(info) = root.get("info").filter(|n| n.value.is_object()) else {
            let at = root.get("info").unwrap_or(root.clone());
            self.warn(&at, "missing required object \"info\"");
            return (String::new(), String::new());
        };
        let title = self.opt_str(&info, "title").unwrap_or_default().to_owned();
        let version = match info.get("version") {
            Some(node) => match node.value {
                Value::String(s) => s.clone(),
                Value::Number(n) => {
                    self.warn(&node, "info.version must be a string, found a number");
                    n.to_string()
                }
                other => {
                    self.warn(
                        &node,
                        format!("info.version must be a string, found {}", kind_of(other)),
                    );
                    String::new()
                }
            },
            None => {
                self.warn(&info, "missing required field \"version\"");
                String::new()
            }
        };
        (title, version)
    }

    /// Resolves every named component schema, so audits see them all (and their problems).
    fn component_schemas(&mut self, root: &Node<'d>) -> Result<(), SpecError> {
        let container = match self.version {
            SpecVersion::Swagger2 => root.get("definitions"),
            _ => root.get("components").and_then(|c| c.get("schemas")),
        };
        let Some(container) = container else {
            return Ok(());
        };
        if !container.value.is_object() {
            self.warn(&container, "schema definitions must be an object; ignored");
            return Ok(());
        }
        let entries: Vec<_> = container.entries().collect();
        for (_, node) in entries {
            self.named_schema(node)?;
        }
        Ok(())
    }
}
