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

/// The common values (by length, for the reader). Matching is exact and case-sensitive.
const COMMON: [&str; COMMON_COUNT] = [
    // 1
    "2",
    "3",
    // 2
    "ws",
    // 3
    "GET",
    "PUT",
    "1.1",
    "1.0",
    "wss",
    "via",
    // 4
    "POST",
    "HEAD",
    "host",
    "http",
    "date",
    "etag",
    "vary",
    // 5
    "PATCH",
    "https",
    "TRACE",
    // 6
    "accept",
    "cookie",
    "server",
    "DELETE",
    "origin",
    "pragma",
    "expect",
    // 7
    "OPTIONS",
    "CONNECT",
    "referer",
    "upgrade",
    // 8
    "location",
    "HTTP/1.1",
    "HTTP/1.0",
    "if-match",
    // 9
    "x-api-key",
    "x-real-ip",
    "forwarded",
    // 10
    "user-agent",
    "connection",
    "set-cookie",
    "keep-alive",
    // 11
    "traceparent",
    "retry-after",
    // 12
    "content-type",
    "x-request-id",
    "x-powered-by",
    "x-auth-token",
    // 13
    "authorization",
    "cache-control",
    "last-modified",
    "if-none-match",
    "accept-ranges",
    // 14
    "content-length",
    // 15
    "x-forwarded-for",
    "accept-encoding",
    "accept-language",
    // 16
    "content-encoding",
    "x-forwarded-host",
    "www-authenticate",
    "x-correlation-id",
    // 17
    "x-forwarded-proto",
    "transfer-encoding",
    "x-kong-request-id",
    // 19
    "content-disposition",
    // 20
    "gatewatch.exchange/1",
    // 21
    "x-ratelimit-remaining",
    // 22
    "x-content-type-options",
    // 23
    "x-kong-upstream-latency",
    // 25
    "strict-transport-security",
    // 27
    "access-control-allow-origin",
    // 29
    "x-envoy-upstream-service-time",
];

const COMMON_COUNT: usize = 71;

/// Longest common value plus one: longer text is never looked up (and [`Key`] covers at
/// most 32 bytes).
const LONGEST: usize = 30;
const _: () = assert!(LONGEST <= 33);

/// Which value of [`COMMON`] a text may be, by [`slot`] of its key: an index, or `u8::MAX`
/// for none. No two common values share a slot (checked as the table is built), so a lookup
/// compares one candidate: ≈42 instructions per lookup on simulated traffic (≈10 lookups per
/// native record), against ≈56 scanning the keys of every value of the text's length and ≈80
/// comparing it with each of those values as strings.
const SLOTS: [u8; 256] = {
    let mut slots = [u8::MAX; 256];
    let mut i = 0;
    while i < COMMON_COUNT {
        let n = COMMON[i].len();
        assert!(n < LONGEST, "LONGEST covers every value");
        let at = slot(&KEYS[i], n);
        assert!(
            slots[at] == u8::MAX,
            "common values have slots of their own"
        );
        slots[at] = i as u8;
        i += 1;
    }
    slots
};

/// A multiplier that gives every common value a slot of its own (found by trying random odd
/// ones; change it when the table changes and the build says the slots collide).
const SLOT_MULTIPLIER: u64 = 0xbead_ab1a_7854_5ef3;

/// The slot of a text of length `len` with key `key`: its key words and length folded into
/// one word, multiplied, top eight bits.
const fn slot(key: &Key, len: usize) -> usize {
    let folded = (key.0 as u64)
        ^ ((key.0 >> 64) as u64).rotate_left(13)
        ^ (key.1 as u64).rotate_left(31)
        ^ ((key.1 >> 64) as u64).rotate_left(47)
        ^ len as u64;
    (folded.wrapping_mul(SLOT_MULTIPLIER) >> 56) as usize
}

/// [`Key::of`] of every value of [`COMMON`], at the same index.
const KEYS: [Key; COMMON_COUNT] = {
    let mut keys = [Key(0, 0); COMMON_COUNT];
    let mut i = 0;
    while i < COMMON_COUNT {
        keys[i] = Key::of(COMMON[i].as_bytes());
        i += 1;
    }
    keys
};

/// A string of at most 32 bytes as two integers that cover all of its bytes: two strings of
/// the same length are equal exactly when their keys are. Comparing keys costs two integer
/// compares where comparing strings was a `bcmp` call.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key(u128, u128);

impl Key {
    /// The first and the last 16, 8, 4 (overlapping in the middle) or 1 byte(s) of `b`, by its
    /// length; for three bytes or fewer, the first, middle and last byte.
    const fn of(b: &[u8]) -> Key {
        let n = b.len();
        if n >= 16 {
            Key(
                u128::from_le_bytes(*chunk::<16>(b, 0)),
                u128::from_le_bytes(*chunk::<16>(b, n - 16)),
            )
        } else if n >= 8 {
            Key(
                u64::from_le_bytes(*chunk::<8>(b, 0)) as u128,
                u64::from_le_bytes(*chunk::<8>(b, n - 8)) as u128,
            )
        } else if n >= 4 {
            Key(
                u32::from_le_bytes(*chunk::<4>(b, 0)) as u128,
                u32::from_le_bytes(*chunk::<4>(b, n - 4)) as u128,
            )
        } else if n >= 1 {
            Key(
                b[0] as u128 | (b[n / 2] as u128) << 8 | (b[n - 1] as u128) << 16,
                0,
            )
        } else {
            Key(0, 0)
        }
    }
}

/// The `N` bytes of `b` from `at`; `b` holds them.
const fn chunk<const N: usize>(b: &[u8], at: usize) -> &[u8; N] {
    match b.split_at(at).1.first_chunk::<N>() {
        Some(c) => c,
        None => panic!("the chunk lies inside the slice"),
    }
}

impl Name {
    /// A name holding a `'static` string, without allocating or looking it up.
    pub const fn from_static(s: &'static str) -> Self {
        Name(Cow::Borrowed(s))
    }

    /// The `'static` copy of `s` when it is one of the common values (exact, case-sensitive).
    pub fn common(s: &str) -> Option<&'static str> {
        if s.len() >= LONGEST {
            return None;
        }
        let key = Key::of(s.as_bytes());
        let i = usize::from(SLOTS[slot(&key, s.len())]);
        let candidate = *COMMON.get(i)?;
        (candidate.len() == s.len() && KEYS[i] == key).then_some(candidate)
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
    fn every_common_value_is_found_once_and_borrowed() {
        let mut seen = std::collections::BTreeSet::new();
        for c in COMMON {
            assert!(seen.insert(c), "{c:?} twice");
            assert_eq!(Name::common(c), Some(c));
            assert!(Name::from(c).is_static());
            assert!(Name::from(c.to_string()).is_static());
        }
        let used = SLOTS.iter().filter(|&&i| i != u8::MAX).count();
        assert_eq!(used, COMMON_COUNT);
    }

    /// Strings one byte away from a common value (a key differing in one place, which may
    /// well land in the slot of a common value) are found only when they are common values
    /// themselves (`1.0` next to `1.1`): every byte of a value is in its key.
    #[test]
    fn values_one_byte_off_a_common_value_are_not_common() {
        for c in COMMON {
            for at in 0..c.len() {
                for b in [b'-', b'x', b'A', b'0', b'/', b'.', b'\x7f'] {
                    let mut bytes = c.as_bytes().to_vec();
                    if bytes[at] == b {
                        continue;
                    }
                    bytes[at] = b;
                    let s = String::from_utf8(bytes).unwrap();
                    let expected = COMMON.iter().copied().find(|v| *v == s);
                    assert_eq!(Name::common(&s), expected, "{s:?} from {c:?}");
                }
            }
            // Prefixes and extensions are common only when they are values themselves.
            for other in [
                format!("{c}x"),
                format!("x{c}"),
                c[..c.len() - 1].to_string(),
            ] {
                let expected = COMMON.iter().copied().find(|v| *v == other);
                assert_eq!(Name::common(&other), expected, "{other:?}");
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
