//! [`Name`]: a string from a small, mostly fixed vocabulary (header names, methods, schemes,
//! HTTP versions, the schema tag) that does not allocate for the common values.
//!
//! Records are decoded on one thread and dropped on another; every allocation saved here is a
//! malloc in the decoder and a cross-thread free in the store writer. On the wire a `Name` is
//! exactly a JSON string.

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::ops::Deref;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A short string that borrows a `'static` value when it is one of the common ones
/// ([`Name::common`]) and owns its text otherwise. Compares, hashes, orders and serializes
/// exactly like the `str` it holds.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(Cow<'static, str>);

/// The common values, bucketed by length so that a lookup compares against a handful of
/// candidates. Matching is exact and case-sensitive.
const COMMON_BY_LEN: [&[&str]; 34] = [
    // 0
    &[],
    // 1
    &["2", "3"],
    // 2
    &["ws"],
    // 3
    &["GET", "PUT", "1.1", "1.0", "wss", "via"],
    // 4
    &["POST", "HEAD", "host", "http", "date", "etag", "vary"],
    // 5
    &["PATCH", "https", "TRACE"],
    // 6
    &[
        "accept", "cookie", "server", "DELETE", "origin", "pragma", "expect",
    ],
    // 7
    &["OPTIONS", "CONNECT", "referer", "upgrade"],
    // 8
    &["location", "HTTP/1.1", "HTTP/1.0", "if-match"],
    // 9
    &["x-api-key", "x-real-ip", "forwarded"],
    // 10
    &["user-agent", "connection", "set-cookie", "keep-alive"],
    // 11
    &["traceparent", "retry-after"],
    // 12
    &[
        "content-type",
        "x-request-id",
        "x-powered-by",
        "x-auth-token",
    ],
    // 13
    &[
        "authorization",
        "cache-control",
        "last-modified",
        "if-none-match",
        "accept-ranges",
    ],
    // 14
    &["content-length"],
    // 15
    &["x-forwarded-for", "accept-encoding", "accept-language"],
    // 16
    &[
        "content-encoding",
        "x-forwarded-host",
        "www-authenticate",
        "x-correlation-id",
    ],
    // 17
    &[
        "x-forwarded-proto",
        "transfer-encoding",
        "x-kong-request-id",
    ],
    // 18
    &[],
    // 19
    &["content-disposition"],
    // 20
    &["gatewatch.exchange/1"],
    // 21
    &["x-ratelimit-remaining"],
    // 22
    &["x-content-type-options"],
    // 23
    &["x-kong-upstream-latency"],
    // 24
    &[],
    // 25
    &["strict-transport-security"],
    // 26
    &[],
    // 27
    &["access-control-allow-origin"],
    // 28
    &[],
    // 29
    &["x-envoy-upstream-service-time"],
    // 30
    &[],
    // 31
    &[],
    // 32
    &[],
    // 33
    &[],
];

impl Name {
    /// A name holding a `'static` string, without allocating or looking it up.
    pub const fn from_static(s: &'static str) -> Self {
        Name(Cow::Borrowed(s))
    }

    /// The `'static` copy of `s` when it is one of the common values (exact, case-sensitive).
    pub fn common(s: &str) -> Option<&'static str> {
        COMMON_BY_LEN
            .get(s.len())?
            .iter()
            .copied()
            .find(|c| *c == s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the text is a borrowed `'static` value (no heap allocation behind it).
    pub fn is_static(&self) -> bool {
        matches!(self.0, Cow::Borrowed(_))
    }

    /// The ASCII-lowercase form of `s`, borrowed when that is a common value (no copy is made
    /// when `s` is already lower case and common).
    pub fn from_ascii_lowercase(s: &str) -> Self {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Name::from(s.to_ascii_lowercase())
        } else {
            Name::from(s)
        }
    }

    /// ASCII-lowercases in place; a value that becomes a common one is then borrowed again.
    pub fn make_ascii_lowercase(&mut self) {
        if !self.0.bytes().any(|b| b.is_ascii_uppercase()) {
            return;
        }
        let mut text = std::mem::take(&mut self.0).into_owned();
        text.make_ascii_lowercase();
        *self = Name::from(text);
    }
}

impl Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        match Name::common(&s) {
            Some(c) => Name(Cow::Borrowed(c)),
            None => Name(Cow::Owned(s)),
        }
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        match Name::common(s) {
            Some(c) => Name(Cow::Borrowed(c)),
            None => Name(Cow::Owned(s.to_owned())),
        }
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<Name> for str {
    fn eq(&self, other: &Name) -> bool {
        *self == *other.0
    }
}

impl PartialEq<Name> for &str {
    fn eq(&self, other: &Name) -> bool {
        **self == *other.0
    }
}

impl PartialEq<Name> for String {
    fn eq(&self, other: &Name) -> bool {
        **self == *other.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(NameVisitor)
    }
}

/// Looks the text up before copying it, so common values never allocate (`visit_str` and
/// `visit_borrowed_str` included) and an owned `String` is moved, not copied.
struct NameVisitor;

impl Visitor<'_> for NameVisitor {
    type Value = Name;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Name, E> {
        Ok(Name::from(v))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Name, E> {
        Ok(Name::from(v))
    }
}

impl JsonSchema for Name {
    fn inline_schema() -> bool {
        String::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        String::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        String::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        String::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_common_value_sits_in_the_bucket_of_its_length_once() {
        let mut seen = std::collections::BTreeSet::new();
        for (len, bucket) in COMMON_BY_LEN.iter().enumerate() {
            for c in *bucket {
                assert_eq!(c.len(), len, "{c:?}");
                assert!(seen.insert(*c), "{c:?} twice");
                assert_eq!(Name::common(c), Some(*c));
                assert!(Name::from(*c).is_static());
                assert!(Name::from(c.to_string()).is_static());
            }
        }
    }

    #[test]
    fn uncommon_and_differently_cased_values_are_owned() {
        for s in [
            "",
            "x-tag",
            "Host",
            "get",
            "a-header-name-longer-than-the-table-is",
        ] {
            let n = Name::from(s);
            assert_eq!(n, s);
            assert!(!n.is_static());
        }
    }

    #[test]
    fn lowercasing_interns_again() {
        let mut n = Name::from("Content-Type");
        assert!(!n.is_static());
        n.make_ascii_lowercase();
        assert_eq!(n, "content-type");
        assert!(n.is_static());
        let m = Name::from_ascii_lowercase("Content-Type");
        assert_eq!(m, "content-type");
        assert!(m.is_static());
        assert_eq!(Name::from_ascii_lowercase("X-Tag"), "x-tag");
    }

    #[test]
    fn json_is_a_plain_string_and_common_values_are_borrowed() {
        let n: Name = serde_json::from_str(r#""user-agent""#).unwrap();
        assert!(n.is_static());
        assert_eq!(serde_json::to_string(&n).unwrap(), r#""user-agent""#);
        // Escaped input arrives as an owned String and is still interned.
        let e: Name = serde_json::from_str(r#""ho\u0073t""#).unwrap();
        assert!(e.is_static());
        assert_eq!(e, "host");
        let o: Name = serde_json::from_str(r#""x-tag""#).unwrap();
        assert!(!o.is_static());
        assert_eq!(format!("{o:?} {o}"), r#""x-tag" x-tag"#);
        assert_eq!(
            serde_json::to_value(schemars::schema_for!(Name)).unwrap(),
            serde_json::to_value(schemars::schema_for!(String)).unwrap()
        );
    }
}
