//! A located JSON node: the value, its document and its JSON pointer.

use serde_json::Value;

use crate::source::escape_segment;

/// A value inside one of the spec's documents, with the pointer an error or warning will cite.
#[derive(Debug, Clone)]
pub(crate) struct Node<'d> {
    /// Document key (the root file's name, or a referenced file's path relative to it).
    pub doc: &'d str,
    pub ptr: String,
    pub value: &'d Value,
}

impl<'d> Node<'d> {
    /// The member `key` of this node's value, when it is an object holding it.
    pub fn get(&self, key: &str) -> Option<Node<'d>> {
        self.value.get(key).map(|value| Node {
            doc: self.doc,
            ptr: self.child_ptr(key),
            value,
        })
    }

    /// The pointer of member `key` (whether or not it exists).
    pub fn child_ptr(&self, key: &str) -> String {
        let mut ptr = String::with_capacity(self.ptr.len() + key.len() + 1);
        ptr.push_str(&self.ptr);
        ptr.push('/');
        escape_segment(key, &mut ptr);
        ptr
    }

    /// A pseudo-node for member `key` carrying `value` (used to iterate maps and arrays).
    pub fn child(&self, key: &str, value: &'d Value) -> Node<'d> {
        Node {
            doc: self.doc,
            ptr: self.child_ptr(key),
            value,
        }
    }

    /// The members of an object node, in key order (empty for other values).
    pub fn entries(&self) -> impl Iterator<Item = (&'d str, Node<'d>)> + '_ {
        self.value
            .as_object()
            .into_iter()
            .flat_map(|m| m.iter())
            .map(|(k, v)| (k.as_str(), self.child(k, v)))
    }

    /// The items of an array node (empty for other values).
    pub fn items(&self) -> impl Iterator<Item = Node<'d>> + '_ {
        self.value
            .as_array()
            .into_iter()
            .flat_map(|a| a.iter())
            .enumerate()
            .map(|(i, v)| self.child(&i.to_string(), v))
    }
}

/// A short name for a JSON value's type, for messages.
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
