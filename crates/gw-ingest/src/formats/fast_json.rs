//! A fast JSON deserializer for well-formed records that gives up instead of explaining.
//!
//! Decoding native records spends most of its time in serde_json's string handling: bodies are
//! JSON documents escaped inside a JSON string, so the scanner stops every few bytes, copies
//! each run into a scratch buffer, and copies the result again into the `String`; on top of
//! that `from_slice` checks every string for UTF-8 on its own. This reader works on input
//! already checked as a whole, finds the end of short strings eight bytes at a time and of long
//! ones with `memchr2`, unescapes straight into the `String` it hands over, and covers the
//! tokens records are made of (objects, arrays, strings, `null`, booleans, unsigned integers).
//! Everything else (floats, negative numbers, `serde_json::Value`s in `extra`, unusual shapes)
//! is handed to serde_json on the exact span of that value, so such values are read by the very
//! code that reads them on the slow path. On simulated traffic (1.9 KB records with escaped
//! JSON bodies) decoding a record costs about two thirds of the instructions it did with
//! serde_json alone (`examples/native_decode_cost.rs`).
//!
//! The reader makes the same calls on a type's `Deserialize` impl as serde_json does, so a
//! success yields the value serde_json would yield. It never reports why it failed: on any
//! doubt (invalid JSON, a type mismatch, a surrogate escape, a key to look at twice) it returns
//! `None`, and the caller parses the input again with serde_json for the real error. A failure
//! therefore costs a second parse but can never change a result.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// Deepest nesting the reader accepts; below serde_json's limit of 128, so everything read
/// here is also within serde_json's reach.
const MAX_DEPTH: usize = 100;

/// Deserializes `text` as one `T` followed only by whitespace, or `None` when the input needs
/// serde_json's slow path (including every input serde_json would refuse).
pub(crate) fn from_str<'de, T: Deserialize<'de>>(text: &'de str) -> Option<T> {
    let mut reader = Reader {
        text,
        pos: 0,
        depth: 0,
    };
    let value = T::deserialize(&mut reader).ok()?;
    reader.skip_whitespace();
    (reader.pos == text.len()).then_some(value)
}

/// "Take the slow path": the only error of the fast path, carrying no message on purpose.
#[derive(Debug)]
pub(crate) struct GiveUp;

impl fmt::Display for GiveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the fast JSON path gave up")
    }
}

impl std::error::Error for GiveUp {}

impl de::Error for GiveUp {
    fn custom<M: fmt::Display>(_msg: M) -> Self {
        GiveUp
    }
}

/// A string token: borrowed from the input when it has no escapes, unescaped otherwise.
enum Text<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl<'de> Text<'de> {
    /// Hands the string to a visitor the way serde_json does (borrowed when it can be), except
    /// that unescaped strings are moved rather than copied once more.
    fn visit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        match self {
            Text::Borrowed(s) => visitor.visit_borrowed_str(s),
            Text::Owned(s) => visitor.visit_string(s),
        }
    }
}

struct Reader<'de> {
    /// The whole input, already known to be valid UTF-8.
    text: &'de str,
    pos: usize,
    /// Objects and arrays currently open.
    depth: usize,
}

impl<'de> Reader<'de> {
    #[inline]
    fn skip_whitespace(&mut self) {
        let bytes = self.text.as_bytes();
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.text.as_bytes().get(self.pos).copied()
    }

    /// Consumes `literal` when the input continues with it.
    fn eat(&mut self, literal: &[u8]) -> bool {
        let found = self.text.as_bytes()[self.pos..].starts_with(literal);
        if found {
            self.pos += literal.len();
        }
        found
    }

    /// Reads a string token; `self.pos` is at its opening quote.
    fn read_str(&mut self) -> Result<Text<'de>, GiveUp> {
        let bytes = self.text.as_bytes();
        let start = self.pos + 1;
        let i = special_byte(bytes, start);
        match bytes.get(i) {
            Some(b'"') => {
                self.pos = i + 1;
                return Ok(Text::Borrowed(&self.text[start..i]));
            }
            Some(b'\\') => {}
            _ => return Err(GiveUp),
        }
        let (out, end) = unescape(bytes, start, i)?;
        self.pos = end;
        Ok(Text::Owned(out))
    }

    /// Reads the string token at `self.pos` when it has no escapes; otherwise leaves it for
    /// the caller to delegate.
    fn unescaped_str(&mut self) -> Option<&'de str> {
        let bytes = self.text.as_bytes();
        let end = special_byte(bytes, self.pos + 1);
        if bytes.get(end) != Some(&b'"') {
            return None;
        }
        let s = &self.text[self.pos + 1..end];
        self.pos = end + 1;
        Some(s)
    }

    /// Reads a non-negative integer without sign, fraction or exponent, which serde_json hands
    /// to `visit_u64`; `None` when the number is anything else (left unconsumed).
    fn read_plain_u64(&mut self) -> Option<u64> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let mut end = start;
        while bytes.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        let digits = &bytes[start..end];
        let plain = !digits.is_empty()
            && (digits[0] != b'0' || digits.len() == 1)
            && !matches!(bytes.get(end), Some(b'.' | b'e' | b'E'));
        if !plain {
            return None;
        }
        let n = digits.iter().try_fold(0u64, |n, d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })?;
        self.pos = end;
        Some(n)
    }

    /// Where the value starting at `self.pos` ends, and how deep it nests; only as exact as
    /// needed to cut a span that serde_json then reads (and refuses if the span is wrong).
    fn value_end(&self) -> Result<(usize, usize), GiveUp> {
        let bytes = self.text.as_bytes();
        let (mut i, mut depth, mut deepest) = (self.pos, 0usize, 0usize);
        loop {
            match bytes.get(i) {
                None => return Err(GiveUp),
                Some(b'"') => i = string_end(bytes, i)?,
                Some(b'{' | b'[') => {
                    depth += 1;
                    deepest = deepest.max(depth);
                    i += 1;
                }
                Some(b'}' | b']') => {
                    depth = depth.checked_sub(1).ok_or(GiveUp)?;
                    i += 1;
                }
                Some(_) if depth > 0 => i += 1,
                Some(_) => {
                    // A scalar: up to the next separator.
                    while !matches!(
                        bytes.get(i),
                        None | Some(b',' | b'}' | b']' | b' ' | b'\n' | b'\t' | b'\r')
                    ) {
                        i += 1;
                    }
                }
            }
            if depth == 0 {
                return Ok((i, deepest));
            }
        }
    }

    /// Lets serde_json read the next value with the same `Deserializer` method, on exactly
    /// that value's span.
    fn delegate<T>(
        &mut self,
        read: impl FnOnce(
            &mut serde_json::Deserializer<serde_json::de::StrRead<'de>>,
        ) -> Result<T, serde_json::Error>,
    ) -> Result<T, GiveUp> {
        self.skip_whitespace();
        let (end, nesting) = self.value_end()?;
        if self.depth + nesting > MAX_DEPTH {
            return Err(GiveUp);
        }
        let mut de = serde_json::Deserializer::from_str(&self.text[self.pos..end]);
        let value = read(&mut de).map_err(|_| GiveUp)?;
        de.end().map_err(|_| GiveUp)?;
        self.pos = end;
        Ok(value)
    }

    /// Enters an object or array whose opening bracket is at `self.pos`.
    fn open(&mut self) -> Result<(), GiveUp> {
        if self.depth == MAX_DEPTH {
            return Err(GiveUp);
        }
        self.depth += 1;
        self.pos += 1;
        Ok(())
    }

    /// Leaves an object or array, which must end here with `close`.
    fn close(&mut self, close: u8) -> Result<(), GiveUp> {
        if self.peek() != Some(close) {
            return Err(GiveUp);
        }
        self.depth -= 1;
        self.pos += 1;
        Ok(())
    }

    /// Before an element or member: `true` when one follows, `false` at the closing bracket;
    /// the comma between items is consumed here (a trailing comma gives up). Leaves `self.pos`
    /// on the first byte of what follows.
    fn has_next(&mut self, first: &mut bool, close: u8) -> Result<bool, GiveUp> {
        match self.peek() {
            Some(b) if b == close => Ok(false),
            Some(b',') if !*first => {
                self.pos += 1;
                match self.peek() {
                    Some(b) if b == close => Err(GiveUp),
                    Some(_) => Ok(true),
                    None => Err(GiveUp),
                }
            }
            Some(_) if *first => {
                *first = false;
                Ok(true)
            }
            _ => Err(GiveUp),
        }
    }
}

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);

/// The high bit of every byte of `w` (little-endian) that is `"`, `\` or a control character.
/// Bytes above the first such byte may be flagged wrongly (a borrow), so only the lowest set
/// bit is meaningful.
fn special_mask(w: u64) -> u64 {
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    let hits = (quote.wrapping_sub(ONES) & !quote)
        | (backslash.wrapping_sub(ONES) & !backslash)
        | (w.wrapping_sub(ONES * 0x20) & !w);
    hits & HIGH
}

/// Index of the first `"`, `\` or control character at or after `from` (or `bytes.len()`).
/// The first two words are checked eight bytes at a time (the first inline), which is where keys
/// and short values end; longer strings (tokens, user agents, bodies) are searched with `memchr2`, then checked
/// for control characters in one pass the compiler vectorizes.
#[inline(always)]
fn special_byte(bytes: &[u8], from: usize) -> usize {
    let Some(chunk) = bytes.get(from..from + 8) else {
        return special_byte_in_tail(bytes, from);
    };
    let hits = special_mask(u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
    if hits != 0 {
        return from + (hits.trailing_zeros() / 8) as usize;
    }
    special_byte_after_first_word(bytes, from + 8)
}

/// [`special_byte`] past the first word, kept out of line so the first word's check inlines.
#[inline(never)]
fn special_byte_after_first_word(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    if let Some(chunk) = bytes.get(i..i + 8) {
        let hits = special_mask(u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    } else {
        return special_byte_in_tail(bytes, i);
    }
    let rest = &bytes[i..];
    let end = memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
    let run = &rest[..end];
    if run.iter().fold(false, |control, &b| control | (b < 0x20)) {
        return i + run.iter().position(|&b| b < 0x20).unwrap_or(end);
    }
    i + end
}

/// [`special_byte`] for the last few bytes of the input, one byte at a time.
fn special_byte_in_tail(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            return i;
        }
        i += 1;
    }
    i
}

/// Unescapes the string that starts at `start` (after its opening quote) and has its first
/// backslash at `escape`; returns it with the index after its closing quote. Runs between
/// escapes are copied eight bytes at a time (then cut back), since in escaped JSON bodies they
/// are a few bytes long and a copy call per run would cost more than the run.
fn unescape(bytes: &[u8], start: usize, escape: usize) -> Result<(String, usize), GiveUp> {
    // The rest of the input bounds the unescaped length (the spare eight bytes take the last
    // word copied); the excess is given back at the end, which is cheaper than finding the
    // closing quote first.
    let mut out = Vec::with_capacity(bytes.len() - start + 8);
    out.extend_from_slice(&bytes[start..escape]);
    let mut i = escape;
    loop {
        // `bytes[i]` is a backslash.
        i = unescape_one(bytes, i, &mut out)?;
        while let Some(chunk) = bytes.get(i..i + 8) {
            let chunk: [u8; 8] = chunk.try_into().expect("eight bytes");
            let hits = special_mask(u64::from_le_bytes(chunk));
            out.extend_from_slice(&chunk);
            if hits != 0 {
                let run = (hits.trailing_zeros() / 8) as usize;
                out.truncate(out.len() - 8 + run);
                i += run;
                break;
            }
            i += 8;
        }
        if bytes.len() < i + 8 {
            let run = special_byte_in_tail(bytes, i);
            out.extend_from_slice(bytes.get(i..run).ok_or(GiveUp)?);
            i = run;
        }
        match bytes.get(i) {
            Some(b'"') => break,
            Some(b'\\') => {}
            _ => return Err(GiveUp),
        }
    }
    out.shrink_to_fit();
    // Only ASCII escapes were replaced, by whole characters: this check never fails.
    let out = String::from_utf8(out).map_err(|_| GiveUp)?;
    Ok((out, i + 1))
}

/// Index just past the closing quote of the string whose opening quote is at `open`.
fn string_end(bytes: &[u8], open: usize) -> Result<usize, GiveUp> {
    let mut i = special_byte(bytes, open + 1);
    loop {
        match bytes.get(i) {
            Some(b'"') => return Ok(i + 1),
            // Skips the escaped byte (a `\u` escape's hex digits are never special).
            Some(b'\\') => i = special_byte(bytes, i + 2),
            _ => return Err(GiveUp),
        }
    }
}

/// Unescapes the escape sequence whose backslash is at `at` into `out`; returns the index
/// after it. Surrogate escapes (`\ud83d\ude00`) are left to serde_json.
fn unescape_one(bytes: &[u8], at: usize, out: &mut Vec<u8>) -> Result<usize, GiveUp> {
    let b = match bytes.get(at + 1).ok_or(GiveUp)? {
        b'"' => b'"',
        b'\\' => b'\\',
        b'/' => b'/',
        b'b' => 0x08,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'u' => {
            let hex = bytes.get(at + 2..at + 6).ok_or(GiveUp)?;
            let code = hex.iter().try_fold(0u32, |n, &h| {
                let d = (h as char).to_digit(16).ok_or(GiveUp)?;
                Ok(n * 16 + d)
            })?;
            let c = char::from_u32(code).ok_or(GiveUp)?;
            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            return Ok(at + 6);
        }
        _ => return Err(GiveUp),
    };
    out.push(b);
    Ok(at + 2)
}

/// `Deserializer` methods the reader leaves to serde_json, on the span of the value.
macro_rules! delegate_to_serde_json {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, GiveUp> {
            self.delegate(|de| de::Deserializer::$method(de, $($arg,)* visitor))
        }
    )*};
}

/// Integer methods: plain non-negative integers are read here (serde_json hands them to
/// `visit_u64` whatever the target type), anything else is delegated.
macro_rules! plain_integers {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
            self.skip_whitespace();
            match self.read_plain_u64() {
                Some(n) => visitor.visit_u64(n),
                None => self.delegate(|de| de::Deserializer::$method(de, visitor)),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for &mut Reader<'de> {
    type Error = GiveUp;

    plain_integers! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
    }

    delegate_to_serde_json! {
        deserialize_any();
        deserialize_ignored_any();
        deserialize_i128();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        self.skip_whitespace();
        if self.eat(b"true") {
            visitor.visit_bool(true)
        } else if self.eat(b"false") {
            visitor.visit_bool(false)
        } else {
            self.delegate(|de| de::Deserializer::deserialize_bool(de, visitor))
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        if self.peek() == Some(b'"') {
            self.read_str()?.visit(visitor)
        } else {
            self.delegate(|de| de::Deserializer::deserialize_str(de, visitor))
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        if self.peek() == Some(b'n') {
            if !self.eat(b"null") {
                return Err(GiveUp);
            }
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        if self.peek() != Some(b'[') {
            return self.delegate(|de| de::Deserializer::deserialize_seq(de, visitor));
        }
        self.open()?;
        let value = visitor.visit_seq(Items {
            reader: self,
            first: true,
        })?;
        self.close(b']')?;
        Ok(value)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        if self.peek() != Some(b'{') {
            return self.delegate(|de| de::Deserializer::deserialize_map(de, visitor));
        }
        self.open()?;
        let value = visitor.visit_map(Members {
            reader: self,
            first: true,
        })?;
        self.close(b'}')?;
        Ok(value)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GiveUp> {
        if self.peek() != Some(b'{') {
            return self
                .delegate(|de| de::Deserializer::deserialize_struct(de, name, fields, visitor));
        }
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GiveUp> {
        // A unit variant written as a plain string, read as serde_json reads it (an identifier,
        // then nothing); every other form is serde_json's.
        if self.peek() == Some(b'"')
            && let Some(s) = self.unescaped_str()
        {
            return visitor.visit_enum(de::value::BorrowedStrDeserializer::new(s));
        }
        self.delegate(|de| de::Deserializer::deserialize_enum(de, name, variants, visitor))
    }
}

/// The elements of an array.
struct Items<'a, 'de> {
    reader: &'a mut Reader<'de>,
    first: bool,
}

impl<'de> SeqAccess<'de> for Items<'_, 'de> {
    type Error = GiveUp;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, GiveUp> {
        if !self.reader.has_next(&mut self.first, b']')? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.reader).map(Some)
    }
}

/// The members of an object.
struct Members<'a, 'de> {
    reader: &'a mut Reader<'de>,
    first: bool,
}

impl<'de> MapAccess<'de> for Members<'_, 'de> {
    type Error = GiveUp;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, GiveUp> {
        if !self.reader.has_next(&mut self.first, b'}')? {
            return Ok(None);
        }
        // `has_next` stopped on the member's first byte.
        if self.reader.text.as_bytes()[self.reader.pos] != b'"' {
            return Err(GiveUp);
        }
        let key = self.reader.read_str()?;
        let key = seed.deserialize(Key(key))?;
        if self.reader.peek() != Some(b':') {
            return Err(GiveUp);
        }
        self.reader.pos += 1;
        Ok(Some(key))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, GiveUp> {
        seed.deserialize(&mut *self.reader)
    }
}

/// An object key. Keys are read as strings whatever the target type; serde_json parses
/// numeric and boolean keys instead, but a target that is not string-like then fails here
/// and serde_json decides.
struct Key<'de>(Text<'de>);

impl<'de> de::Deserializer<'de> for Key<'de> {
    type Error = GiveUp;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        self.0.visit(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_bytes_are_found_in_and_after_whole_words() {
        // Positions in the first word, the second, the `memchr2` stretch and the tail.
        for at in 0..70 {
            for special in [b'"', b'\\', b'\n', 0u8, 0x1f] {
                let mut s = vec![b'a'; 70];
                s[at] = special;
                assert_eq!(special_byte(&s, 0), at, "{special:#x} at {at}");
            }
        }
        let text = "héllo wörld ✓ done";
        assert_eq!(special_byte(text.as_bytes(), 0), text.len());
        assert_eq!(special_byte(b"abc", 1), 3);
    }

    #[test]
    fn strings_unescape_like_serde_json() {
        for s in [
            r#""plain""#,
            r#""{\"a\":[1,2],\"b\":\"x\\y\"}""#,
            r#""tab\there\nnew \/ \b\f\r""#,
            r#""\u00e9t\u00E9 \u0000 \u20ac""#,
            r#""ünï \"cödé\" ✓""#,
            r#""\\""#,
        ] {
            let fast: String = from_str(s).expect("fast path reads it");
            assert_eq!(fast, serde_json::from_str::<String>(s).unwrap(), "{s}");
        }
    }

    #[test]
    fn gives_up_where_serde_json_refuses_or_differs() {
        for s in [
            "\"unterminated",
            "\"bad escape \\x\"",
            "\"control \u{1} char\"",
            "\"\\ud83d\\ude00\"",
            "\"a\" trailing",
        ] {
            assert!(from_str::<String>(s).is_none(), "{s}");
        }
        assert!(from_str::<Vec<u16>>("[1,2,]").is_none());
        assert!(from_str::<Vec<u16>>("[1 2]").is_none());
        assert!(from_str::<Vec<u16>>("[012]").is_none());
        assert!(from_str::<Vec<u16>>("[70000]").is_none());
        assert!(from_str::<Option<u16>>("nul").is_none());
    }

    #[test]
    fn numbers_and_values_match_serde_json() {
        let cases = [
            "[0, 7, 18446744073709551615]",
            "[1.5, -3, 2e3, 0.1]",
            r#"{"a": [1, {"b": null}], "c": "d", "e": -0.0, "f": true}"#,
        ];
        for s in cases {
            let fast: serde_json::Value = from_str(s).expect("fast path reads it");
            assert_eq!(fast, serde_json::from_str::<serde_json::Value>(s).unwrap());
        }
        let f: Vec<f64> = from_str("[38.5, 1e-7, 194.947, 3]").unwrap();
        assert_eq!(
            f,
            serde_json::from_str::<Vec<f64>>("[38.5, 1e-7, 194.947, 3]").unwrap()
        );
        let n: Vec<i64> = from_str("[-5, 12]").unwrap();
        assert_eq!(n, vec![-5, 12]);
    }

    #[test]
    fn nesting_beyond_the_limit_is_left_to_serde_json() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(from_str::<serde_json::Value>(&deep).is_none());
        let fine = format!("{}{}", "[".repeat(10), "]".repeat(10));
        assert!(from_str::<serde_json::Value>(&fine).is_some());
    }
}
