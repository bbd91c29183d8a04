//! What one path segment (or parameter value) looks like: a word, a version, or an identifier.
//!
//! The classifier is pure and allocation-free: it looks at the raw (still percent-encoded)
//! bytes once. It decides how strongly a segment suggests a parameter; the learner
//! ([`crate::learn`]) combines that with what it has seen at the same position.

use serde::{Deserialize, Serialize};

/// The inferred type of a parameter value, as shown in the inventory and the OpenAPI export.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "kebab-case")]
pub enum ValueType {
    Integer,
    Number,
    Boolean,
    Uuid,
    /// A run of hexadecimal digits that is not a hash length.
    Hex,
    /// 32, 40, 64 or 128 hexadecimal digits (MD5, SHA-1, SHA-256, SHA-512).
    Hash,
    /// An opaque token: base64/base64url-like, mixed letters and digits.
    Token,
    Date,
    DateTime,
    Email,
    /// Words joined by separators with digits (`wireless-mug-12`, `ORD-000123`).
    Slug,
    #[default]
    String,
}

impl ValueType {
    pub const ALL: [ValueType; 12] = [
        ValueType::Integer,
        ValueType::Number,
        ValueType::Boolean,
        ValueType::Uuid,
        ValueType::Hex,
        ValueType::Hash,
        ValueType::Token,
        ValueType::Date,
        ValueType::DateTime,
        ValueType::Email,
        ValueType::Slug,
        ValueType::String,
    ];

    /// The name used in `ParamRef.type` and the inventory (`integer`, `uuid`, `date-time` ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Integer => "integer",
            ValueType::Number => "number",
            ValueType::Boolean => "boolean",
            ValueType::Uuid => "uuid",
            ValueType::Hex => "hex",
            ValueType::Hash => "hash",
            ValueType::Token => "token",
            ValueType::Date => "date",
            ValueType::DateTime => "date-time",
            ValueType::Email => "email",
            ValueType::Slug => "slug",
            ValueType::String => "string",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of [`ValueType`]s seen at one place; its [`TypeSet::summary`] is the narrowest type
/// covering all of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TypeSet(u16);

impl TypeSet {
    pub fn of(t: ValueType) -> TypeSet {
        TypeSet(t.bit())
    }

    pub fn insert(&mut self, t: ValueType) {
        self.0 |= t.bit();
    }

    pub fn union(&mut self, other: TypeSet) {
        self.0 |= other.0;
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn contains(self, t: ValueType) -> bool {
        self.0 & t.bit() != 0
    }

    pub fn iter(self) -> impl Iterator<Item = ValueType> {
        ValueType::ALL
            .into_iter()
            .filter(move |t| self.contains(*t))
    }

    /// One type for the whole set: itself when alone, `number` for integers mixed with
    /// numbers, `hex` for hex mixed with hashes, `string` otherwise (and when empty).
    pub fn summary(self) -> ValueType {
        let mut it = self.iter();
        match (it.next(), it.next()) {
            (Some(t), None) => t,
            _ => {
                let only = |allowed: &[ValueType]| self.iter().all(|t| allowed.contains(&t));
                if only(&[ValueType::Integer, ValueType::Number]) && !self.is_empty() {
                    ValueType::Number
                } else if only(&[ValueType::Hex, ValueType::Hash]) && !self.is_empty() {
                    ValueType::Hex
                } else if only(&[ValueType::Date, ValueType::DateTime]) && !self.is_empty() {
                    ValueType::DateTime
                } else {
                    ValueType::String
                }
            }
        }
    }

    /// The raw bits, for persistence.
    pub fn bits(self) -> u16 {
        self.0
    }

    pub fn from_bits(bits: u16) -> TypeSet {
        TypeSet(bits & ((1 << ValueType::ALL.len()) - 1))
    }
}

/// How strongly a path segment suggests a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentClass {
    /// A word (`users`, `me`, `search`): literal unless the position's cardinality says otherwise.
    Word,
    /// A version marker (`v1`, `v2beta1`, `1.0`): always literal.
    Version,
    /// Looks like a value but is often a fixed part of a route (a date used as an API version,
    /// a short number as the first segment): a parameter once a few distinct ones are seen.
    Weak(ValueType),
    /// An identifier (integers, UUIDs, hashes, tokens, emails, slugs with digits): a parameter
    /// at once.
    Id(ValueType),
}

/// Classifies a raw path segment at `depth` (0 = first segment after the host).
pub fn classify_segment(segment: &str, depth: usize) -> SegmentClass {
    let b = segment.as_bytes();
    if b.is_empty() {
        return SegmentClass::Word;
    }
    if is_version(b) {
        return SegmentClass::Version;
    }
    if b.iter().all(u8::is_ascii_digit) {
        // `/2/tweets`, `/1/users`: short numbers leading a path are API versions more often
        // than ids.
        return if depth == 0 && b.len() <= 3 {
            SegmentClass::Weak(ValueType::Integer)
        } else {
            SegmentClass::Id(ValueType::Integer)
        };
    }
    if is_date(b) {
        return SegmentClass::Weak(ValueType::Date);
    }
    match value_type(segment) {
        ValueType::String => classify_text(b),
        ValueType::Boolean => SegmentClass::Word,
        ValueType::Number => SegmentClass::Weak(ValueType::Number),
        t => SegmentClass::Id(t),
    }
}

/// Letters and digits mixed in a way words rarely are.
fn classify_text(b: &[u8]) -> SegmentClass {
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return SegmentClass::Word;
    }
    // A word with a short version-like suffix: `oauth2`, `ipv6`, `s3`, `base64`, `sha256`.
    let letters_then_digits = b.iter().take_while(|c| c.is_ascii_alphabetic()).count();
    if letters_then_digits >= 1
        && letters_then_digits + digits == b.len()
        && digits <= 3
        && b[letters_then_digits..].iter().all(u8::is_ascii_digit)
    {
        return SegmentClass::Word;
    }
    if b.len() >= 4 {
        SegmentClass::Id(ValueType::Slug)
    } else {
        SegmentClass::Word
    }
}

/// The type of a parameter value (query value, path segment, header value).
pub fn value_type(value: &str) -> ValueType {
    let b = value.as_bytes();
    if b.is_empty() {
        return ValueType::String;
    }
    if is_integer(b) {
        return ValueType::Integer;
    }
    if is_number(b) {
        return ValueType::Number;
    }
    if value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false") {
        return ValueType::Boolean;
    }
    if is_uuid(b) {
        return ValueType::Uuid;
    }
    if b.len() >= 8 && b.iter().all(u8::is_ascii_hexdigit) && b.iter().any(u8::is_ascii_digit) {
        return if matches!(b.len(), 32 | 40 | 64 | 128) {
            ValueType::Hash
        } else {
            ValueType::Hex
        };
    }
    if is_date(b) {
        return ValueType::Date;
    }
    if b.len() > 10 && is_date(&b[..10]) && matches!(b[10], b'T' | b't' | b' ') {
        return ValueType::DateTime;
    }
    if is_email(b) {
        return ValueType::Email;
    }
    if is_token(b) {
        return ValueType::Token;
    }
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    let letters = b.iter().filter(|c| c.is_ascii_alphabetic()).count();
    if digits > 0 && letters > 0 && b.iter().any(|c| matches!(c, b'-' | b'_' | b'.')) {
        return ValueType::Slug;
    }
    ValueType::String
}

fn is_integer(b: &[u8]) -> bool {
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    !digits.is_empty() && digits.len() <= 20 && digits.iter().all(u8::is_ascii_digit)
}

fn is_number(b: &[u8]) -> bool {
    let body = b.strip_prefix(b"-").unwrap_or(b);
    let mut parts = body.splitn(2, |c| *c == b'.');
    let (Some(int), Some(frac)) = (parts.next(), parts.next()) else {
        return false;
    };
    !int.is_empty()
        && !frac.is_empty()
        && int.iter().all(u8::is_ascii_digit)
        && frac.iter().all(u8::is_ascii_digit)
}

/// `v1`, `V2`, `v1.2`, `v1beta1`, `v2alpha`, `1.0`, `2.1.3`.
fn is_version(b: &[u8]) -> bool {
    if let Some(rest) = b.strip_prefix(b"v").or_else(|| b.strip_prefix(b"V")) {
        let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 3 {
            return false;
        }
        let tail = &rest[digits..];
        let dotted = tail
            .split(|c| *c == b'.')
            .skip(1)
            .all(|p| !p.is_empty() && p.len() <= 3 && p.iter().all(u8::is_ascii_digit));
        if tail.first() == Some(&b'.') {
            return dotted;
        }
        let letters = tail.iter().take_while(|c| c.is_ascii_alphabetic()).count();
        return tail.is_empty()
            || (letters > 0
                && letters <= 8
                && tail[letters..].len() <= 3
                && tail[letters..].iter().all(u8::is_ascii_digit));
    }
    // `1.0`, `2.1.3`: short dotted numbers.
    let parts: Vec<&[u8]> = b.split(|c| *c == b'.').collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 2 && p.iter().all(u8::is_ascii_digit))
}

/// `2024-01-31`.
fn is_date(b: &[u8]) -> bool {
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (b[5] == b'0' || b[5] == b'1')
}

/// 8-4-4-4-12 hexadecimal digits.
fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `local@domain.tld`, also with the `@` percent-encoded.
fn is_email(b: &[u8]) -> bool {
    let text = std::str::from_utf8(b).unwrap_or("");
    let (local, domain) = match text.split_once('@') {
        Some(parts) => parts,
        None => match text.split_once("%40") {
            Some(parts) => parts,
            None => return false,
        },
    };
    !local.is_empty()
        && domain.len() >= 3
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
}

/// Base64 / base64url / random alphanumerics: long, mixed letters and digits, no separators
/// that make it read like words.
fn is_token(b: &[u8]) -> bool {
    if b.len() < 16 {
        return false;
    }
    let mut digits = 0;
    let mut upper = 0;
    let mut lower = 0;
    for c in b {
        match c {
            b'0'..=b'9' => digits += 1,
            b'A'..=b'Z' => upper += 1,
            b'a'..=b'z' => lower += 1,
            b'-' | b'_' | b'=' | b'+' | b'~' | b'.' => {}
            b'%' => {}
            _ => return false,
        }
    }
    digits >= 2 && (upper + lower) > 0 && (digits * 8 >= b.len() || (upper > 0 && lower > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> SegmentClass {
        classify_segment(s, 1)
    }

    #[test]
    fn identifiers_are_parameters_at_once() {
        assert_eq!(class("12345"), SegmentClass::Id(ValueType::Integer));
        assert_eq!(class("7"), SegmentClass::Id(ValueType::Integer));
        assert_eq!(
            class("3f2504e0-4f89-11d3-9a0c-0305e82c3301"),
            SegmentClass::Id(ValueType::Uuid)
        );
        assert_eq!(
            class("d41d8cd98f00b204e9800998ecf8427e"),
            SegmentClass::Id(ValueType::Hash)
        );
        assert_eq!(class("5f1a2b3c4d"), SegmentClass::Id(ValueType::Hex));
        assert_eq!(
            class("jane.doe%40example.org"),
            SegmentClass::Id(ValueType::Email)
        );
        assert_eq!(class("a@b.io"), SegmentClass::Id(ValueType::Email));
        assert_eq!(
            class("eyJhbGciOiJIUzI1NiJ9abc"),
            SegmentClass::Id(ValueType::Token)
        );
        assert_eq!(class("wireless-mug-12"), SegmentClass::Id(ValueType::Slug));
        assert_eq!(class("ORD-000123"), SegmentClass::Id(ValueType::Slug));
        assert_eq!(class("maria.chen42"), SegmentClass::Id(ValueType::Slug));
        assert_eq!(
            class("2024-06-10T09:13:20Z"),
            SegmentClass::Id(ValueType::DateTime)
        );
    }

    #[test]
    fn versions_and_words_stay_literal() {
        for v in ["v1", "V2", "v1.2", "v1beta1", "v2alpha", "1.0", "2.1.3"] {
            assert_eq!(class(v), SegmentClass::Version, "{v}");
        }
        for w in [
            "users",
            "me",
            "search",
            "oauth2",
            "ipv6",
            "s3",
            "base64",
            "findByStatus",
            "",
        ] {
            assert_eq!(class(w), SegmentClass::Word, "{w}");
        }
    }

    #[test]
    fn dates_and_leading_short_numbers_are_weak() {
        assert_eq!(class("2024-01-01"), SegmentClass::Weak(ValueType::Date));
        assert_eq!(
            classify_segment("2", 0),
            SegmentClass::Weak(ValueType::Integer)
        );
        assert_eq!(
            classify_segment("2", 1),
            SegmentClass::Id(ValueType::Integer)
        );
    }

    #[test]
    fn value_types_of_query_values() {
        assert_eq!(value_type("42"), ValueType::Integer);
        assert_eq!(value_type("-3"), ValueType::Integer);
        assert_eq!(value_type("4.25"), ValueType::Number);
        assert_eq!(value_type("TRUE"), ValueType::Boolean);
        assert_eq!(value_type("2024-02-29"), ValueType::Date);
        assert_eq!(value_type("hello"), ValueType::String);
        assert_eq!(value_type(""), ValueType::String);
    }

    #[test]
    fn type_sets_summarise_to_the_narrowest_cover() {
        let mut s = TypeSet::of(ValueType::Integer);
        assert_eq!(s.summary(), ValueType::Integer);
        s.insert(ValueType::Number);
        assert_eq!(s.summary(), ValueType::Number);
        s.insert(ValueType::Uuid);
        assert_eq!(s.summary(), ValueType::String);
        assert_eq!(TypeSet::default().summary(), ValueType::String);
        assert_eq!(TypeSet::from_bits(s.bits()), s);
    }
}
