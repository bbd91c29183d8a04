//! A fast JSON deserializer for well-formed records that gives up instead of explaining.
//!
//! Decoding native records spends most of its time in serde_json's string handling: bodies are
//! JSON documents escaped inside a JSON string, so the scanner stops every few bytes, copies
//! each run into a scratch buffer, and copies the result again into the `String`; on top of
//! that `from_slice` checks every string for UTF-8 on its own. This reader works on input
//! already checked as a whole, finds the end of strings eight bytes at a time (with `memchr2`
//! past 64 bytes), unescapes a word at a time into a scratch buffer the thread keeps, and covers
//! the tokens records are made of (objects, arrays, strings, `null`, booleans, unsigned
//! integers, and short decimals such as `194.947`, converted exactly as serde_json converts
//! them). Everything else (other numbers, `serde_json::Value`s in `extra`, unusual shapes) is
//! handed to serde_json on the exact span of that value, so such values are read by the very
//! code that reads them on the slow path.
//!
//! Cost, in instructions per simulated record (1.9 KB with an escaped JSON body): the first
//! version of this reader took about two thirds of serde_json's; the second went from ≈38,500
//! to ≈32,050 by inlining string scanning into its callers, unescaping at ≈70 instead of ≈95
//! instructions per escape into a reused buffer, reading decimals itself instead of building a
//! serde_json reader per float, and no longer moving the record through `Option` and `Result`
//! wrappers (each move of an `Exchange` is a ≈170-instruction `memcpy`). Measured on
//! `gatewatch simulate --duration 10m --rps 20 --out t.ndjson` with `valgrind --tool=callgrind
//! --dump-instr=no target/release/examples/native_decode_cost t.ndjson 2000 3`: the inclusive
//! cost of `Native::decode` divided by 6,000. That cost includes the example dropping each
//! record (≈2,400), which `gatewatch serve` does on another thread. Reading the values records
//! are made of faster took it on to ≈31,450: `observed_at` (≈345, in `gw_model::exchange`),
//! `Name::common` (≈185) and `DecodeCtx::raw_ref` (≈80).
//!
//! Each record is still checked for UTF-8 on its own (≈950 instructions per record). Checking
//! a request body once in `decode_bytes` and handing its lines over as text was tried: the
//! check costs about as much per byte either way (≈840 per record for the whole body), so it
//! saved ≈70 instructions per record for an extra `Decoder` method, and was left out.
//!
//! The reader makes the same calls on a type's `Deserialize` impl as serde_json does, so a
//! success yields the value serde_json would yield. It never reports why it failed: on any
//! doubt (invalid JSON, a type mismatch, a surrogate escape, a key to look at twice) it returns
//! [`GiveUp`], and the caller parses the input again with serde_json for the real error. A
//! failure therefore costs a second parse but can never change a result.

use std::cell::RefCell;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// Deepest nesting the reader accepts; below serde_json's limit of 128, so everything read
/// here is also within serde_json's reach.
const MAX_DEPTH: usize = 100;

/// Deserializes `text` as one `T` followed only by whitespace, or [`GiveUp`] when the input
/// needs serde_json's slow path (including every input serde_json would refuse).
///
/// The `Result` of `T::deserialize` is returned as it is (not unpacked and wrapped again), here
/// and in [`Reader::deserialize_map`], so that a large `T` is written once into the caller's
/// slot: every rewrap of an `Exchange` was a `memcpy` call of ≈170 instructions.
pub(crate) fn from_str<'de, T: Deserialize<'de>>(text: &'de str) -> Result<T, GiveUp> {
    let mut reader = Reader {
        text,
        pos: 0,
        depth: 0,
    };
    let result = T::deserialize(&mut reader);
    reader.skip_whitespace();
    if reader.pos != text.len() {
        return Err(GiveUp);
    }
    result
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

    /// Reads a string token; `self.pos` is at its opening quote. Inlined: most strings are keys
    /// and short values without escapes, for which a call would cost more than the scan.
    #[inline(always)]
    fn read_str(&mut self) -> Result<Text<'de>, GiveUp> {
        let bytes = self.text.as_bytes();
        let start = self.pos + 1;
        let i = special_byte(bytes, start);
        if bytes.get(i) == Some(&b'"') {
            self.pos = i + 1;
            return Ok(Text::Borrowed(&self.text[start..i]));
        }
        self.read_escaped_str(start, i)
    }

    /// [`Reader::read_str`] for a string whose first special byte at `special` is not its end.
    #[inline(never)]
    fn read_escaped_str(&mut self, start: usize, special: usize) -> Result<Text<'de>, GiveUp> {
        if self.text.as_bytes().get(special) != Some(&b'\\') {
            return Err(GiveUp);
        }
        let (out, end) = unescape(self.text.as_bytes(), start, special)?;
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
    ///
    /// The digits are scanned and summed in one pass, without overflow checks: nineteen digits
    /// never overflow a `u64`; longer numbers are summed again with checks.
    fn read_plain_u64(&mut self) -> Option<u64> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let (n, end) = read_digits(bytes, start, 0);
        let digits = &bytes[start..end];
        let plain = !digits.is_empty()
            && (digits[0] != b'0' || digits.len() == 1)
            && !matches!(bytes.get(end), Some(b'.' | b'e' | b'E'));
        if !plain {
            return None;
        }
        let n = if digits.len() <= 19 {
            n
        } else {
            digits.iter().try_fold(0u64, |n, d| {
                n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
            })?
        };
        self.pos = end;
        Some(n)
    }

    /// Reads a number of the form `-?(0|[1-9][0-9]*)\.[0-9]+` (no exponent) with at most
    /// [`MAX_DECIMAL_DIGITS`] digits, which serde_json hands to `visit_f64`; `None` (nothing
    /// consumed) for any other number.
    ///
    /// serde_json (without `float_roundtrip`) computes such a number as `digits as f64 /
    /// 10^fraction_digits` with the same `u64` significand, and that is exactly what is computed
    /// here. Both operands are exact in an `f64` (below 2^53 and at most 10^22) and IEEE division
    /// rounds correctly, so the result is also the correctly rounded value `float_roundtrip`
    /// would give: the bits match whichever way serde_json is built.
    fn read_short_decimal(&mut self) -> Option<f64> {
        let bytes = self.text.as_bytes();
        let negative = bytes.get(self.pos) == Some(&b'-');
        let int_start = self.pos + usize::from(negative);
        let (significand, int_end) = read_digits(bytes, int_start, 0);
        let int_digits = int_end - int_start;
        if int_digits == 0 || (bytes[int_start] == b'0' && int_digits > 1) {
            return None;
        }
        if bytes.get(int_end) != Some(&b'.') {
            return None;
        }
        let (significand, end) = read_digits(bytes, int_end + 1, significand);
        let fraction_digits = end - (int_end + 1);
        if fraction_digits == 0
            || int_digits + fraction_digits > MAX_DECIMAL_DIGITS
            || matches!(bytes.get(end), Some(b'e' | b'E'))
        {
            return None;
        }
        let f = significand as f64 / POW10[fraction_digits];
        self.pos = end;
        Some(if negative { -f } else { f })
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

/// Most digits [`Reader::read_short_decimal`] reads: any such significand is below 2^53, so
/// it converts to `f64` exactly, and so does the power of ten it is divided by.
const MAX_DECIMAL_DIGITS: usize = 15;

/// `10^k` for `k` up to [`MAX_DECIMAL_DIGITS`], the same (exact) values as serde_json's table.
const POW10: [f64; MAX_DECIMAL_DIGITS + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// Reads ASCII digits from `from` onto `n` (`n * 10 + digit`, wrapping: a caller that can
/// overflow discards the value by counting digits); returns the value and where the digits end.
#[inline]
fn read_digits(bytes: &[u8], from: usize, mut n: u64) -> (u64, usize) {
    let mut i = from;
    while let Some(&b) = bytes.get(i)
        && b.is_ascii_digit()
    {
        n = n.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
        i += 1;
    }
    (n, i)
}

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);

/// The high bit of every byte of `w` (little-endian) that is `"`, `\` or a control character.
/// Bytes above the first such byte may be flagged wrongly (a borrow), so only the lowest set
/// bit is meaningful.
fn special_mask(w: u64) -> u64 {
    quote_or_backslash_mask(w) | (w.wrapping_sub(ONES * 0x20) & !w & HIGH)
}

/// [`special_mask`] without control characters.
fn quote_or_backslash_mask(w: u64) -> u64 {
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    ((quote.wrapping_sub(ONES) & !quote) | (backslash.wrapping_sub(ONES) & !backslash)) & HIGH
}

const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);

/// Index of the first `"`, `\` or control character at or after `from` (or `bytes.len()`).
/// The first word is checked inline, which is where keys and short values end; the next ones
/// out of line, up to [`SWAR_WORDS`] words; longer strings (tokens, bodies) are searched with
/// `memchr2`, then checked for control characters in one pass the compiler vectorizes.
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

/// Words [`special_byte`] checks eight bytes at a time before it hands over to `memchr2`. Ids,
/// timestamps, paths and header values are 20 to 60 bytes long, and a `memchr2` call with the
/// control-character pass after it cost ≈130 instructions there, against ≈15 per word; raising
/// this from two words to eight saved ≈400 instructions per simulated record.
const SWAR_WORDS: usize = 8;

/// [`special_byte`] past the first word, kept out of line so the first word's check inlines.
#[inline(never)]
fn special_byte_after_first_word(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    for _ in 1..SWAR_WORDS {
        let Some(chunk) = bytes.get(i..i + 8) else {
            return special_byte_in_tail(bytes, i);
        };
        let hits = special_mask(u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    let rest = &bytes[i..];
    let end = memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
    let run = &rest[..end];
    if has_control(run) {
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
/// backslash at `escape`; returns it with the index after its closing quote.
///
/// The text is unescaped into a scratch buffer kept by the thread, then copied into a `String`
/// of its size. The rest of the input bounds the unescaped length (an escape is never shorter
/// than what it stands for; the spare eight bytes take the last word copied), so the buffer
/// never grows while a string is read and finding the closing quote first is not needed. A
/// fresh buffer per string cost ≈500 instructions more per escaped body on simulated traffic
/// (zeroing it for the rest of the record, then giving the excess back).
fn unescape(bytes: &[u8], start: usize, escape: usize) -> Result<(String, usize), GiveUp> {
    let need = bytes.len() - start + 8;
    if need > KEPT_SCRATCH {
        // Sized by the string itself, not by the rest of the input: a long record with many
        // escaped strings would otherwise zero a buffer of its whole tail for each of them.
        let end = string_end(bytes, start - 1)?;
        return unescape_into(&mut vec![0; end - start + 8], bytes, start, escape);
    }
    SCRATCH.with_borrow_mut(|scratch| {
        if scratch.len() < need {
            scratch.resize(need, 0);
        }
        unescape_into(scratch, bytes, start, escape)
    })
}

/// Largest scratch buffer a thread keeps for [`unescape`]; longer inputs get their own.
const KEPT_SCRATCH: usize = 64 * 1024;

thread_local! {
    /// [`unescape`]'s output buffer. Only the bytes written for the current string are read,
    /// so what earlier strings left in it does not matter.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// [`unescape`] into `out`, which has room for the rest of the input and eight bytes more.
///
/// Escaped JSON bodies have an escape every few bytes, so the loop is built around one word:
/// each step copies eight bytes to the output unconditionally, then advances past the plain
/// bytes among them and, when it stopped on a backslash, writes the escaped byte. The output
/// is written at an index kept in a register rather than grown by `push` and
/// `extend_from_slice`, whose length and capacity went through memory on every escape.
/// Together that took an escape, with the plain words around it, from ≈95 instructions to ≈70
/// on simulated traffic.
fn unescape_into(
    out: &mut [u8],
    bytes: &[u8],
    start: usize,
    escape: usize,
) -> Result<(String, usize), GiveUp> {
    let mut o = escape - start;
    out.get_mut(..o)
        .ok_or(GiveUp)?
        .copy_from_slice(&bytes[start..escape]);
    let mut i = escape;
    loop {
        let Some(chunk) = bytes.get(i..i + 8) else {
            return unescape_tail(bytes, start, i, out, o);
        };
        let chunk: [u8; 8] = chunk.try_into().expect("eight bytes");
        out.get_mut(o..o + 8).ok_or(GiveUp)?.copy_from_slice(&chunk);
        // Control characters are looked for once, over the whole string, at its end.
        let hits = quote_or_backslash_mask(u64::from_le_bytes(chunk));
        if hits == 0 {
            i += 8;
            o += 8;
            continue;
        }
        let run = (hits.trailing_zeros() / 8) as usize;
        i += run;
        o += run;
        match chunk[run] {
            b'"' if has_control(&bytes[start..i]) => return Err(GiveUp),
            b'"' => return finish_unescaped(out, o, i),
            // An escaped quote, by far the most common escape in JSON bodies, without the
            // jump table of `unescape_one`.
            b'\\' if bytes.get(i + 1) == Some(&b'"') => {
                *out.get_mut(o).ok_or(GiveUp)? = b'"';
                i += 2;
                o += 1;
            }
            b'\\' => (i, o) = unescape_one(bytes, i, out, o)?,
            _ => return Err(GiveUp),
        }
    }
}

/// Whether `run` holds a control character, which JSON strings may not.
fn has_control(run: &[u8]) -> bool {
    // A fold rather than `any`, so that the compiler vectorizes it.
    run.iter().fold(false, |control, &b| control | (b < 0x20))
}

/// [`unescape_into`] for the last few bytes of the input, one byte at a time; the string
/// starts at `start`.
#[inline(never)]
fn unescape_tail(
    bytes: &[u8],
    start: usize,
    mut i: usize,
    out: &mut [u8],
    mut o: usize,
) -> Result<(String, usize), GiveUp> {
    loop {
        match *bytes.get(i).ok_or(GiveUp)? {
            b'"' if has_control(&bytes[start..i]) => return Err(GiveUp),
            b'"' => return finish_unescaped(out, o, i),
            b'\\' => (i, o) = unescape_one(bytes, i, out, o)?,
            b if b < 0x20 => return Err(GiveUp),
            b => {
                *out.get_mut(o).ok_or(GiveUp)? = b;
                i += 1;
                o += 1;
            }
        }
    }
}

/// The unescaped string: the first `len` bytes of `out`, with the index after its closing
/// quote at `quote`.
fn finish_unescaped(out: &[u8], len: usize, quote: usize) -> Result<(String, usize), GiveUp> {
    // Only ASCII escapes were replaced, by whole characters: this check never fails.
    let text = std::str::from_utf8(out.get(..len).ok_or(GiveUp)?).map_err(|_| GiveUp)?;
    Ok((text.to_owned(), quote + 1))
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

/// Unescapes the escape sequence whose backslash is at `at` into `out` at `o`; returns the
/// index after it and the new end of the output. Surrogate escapes (`\ud83d\ude00`) are left
/// to serde_json. The output never outgrows the input: a `\u` escape takes six bytes and
/// stands for at most three.
#[inline(always)]
fn unescape_one(
    bytes: &[u8],
    at: usize,
    out: &mut [u8],
    o: usize,
) -> Result<(usize, usize), GiveUp> {
    let b = match bytes.get(at + 1).ok_or(GiveUp)? {
        b'"' => b'"',
        b'\\' => b'\\',
        b'/' => b'/',
        b'b' => 0x08,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'u' => return unescape_unicode(bytes, at, out, o),
        _ => return Err(GiveUp),
    };
    *out.get_mut(o).ok_or(GiveUp)? = b;
    Ok((at + 2, o + 1))
}

/// [`unescape_one`] for a `\u` escape, out of line: rare in records.
#[inline(never)]
fn unescape_unicode(
    bytes: &[u8],
    at: usize,
    out: &mut [u8],
    o: usize,
) -> Result<(usize, usize), GiveUp> {
    let hex = bytes.get(at + 2..at + 6).ok_or(GiveUp)?;
    let code = hex.iter().try_fold(0u32, |n, &h| {
        let d = (h as char).to_digit(16).ok_or(GiveUp)?;
        Ok(n * 16 + d)
    })?;
    let c = char::from_u32(code).ok_or(GiveUp)?;
    let encoded = c.encode_utf8(&mut [0; 4]).len();
    c.encode_utf8(out.get_mut(o..o + encoded).ok_or(GiveUp)?);
    Ok((at + 6, o + encoded))
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
        deserialize_char();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        self.skip_whitespace();
        match self.read_short_decimal() {
            Some(f) => visitor.visit_f64(f),
            None => self.delegate(|de| de::Deserializer::deserialize_f64(de, visitor)),
        }
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
        let result = visitor.visit_seq(Items {
            reader: self,
            first: true,
        });
        self.close(b']')?;
        result
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        if self.peek() != Some(b'{') {
            return self.delegate(|de| de::Deserializer::deserialize_map(de, visitor));
        }
        self.open()?;
        let result = visitor.visit_map(Members {
            reader: self,
            first: true,
        });
        self.close(b'}')?;
        result
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
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn special_bytes_are_found_in_and_after_whole_words() {
        // Positions in the first word, the next ones, the `memchr2` stretch and the tail, for
        // inputs that end inside and after the word-at-a-time stretch.
        for len in [70, 8 * SWAR_WORDS + 3, 150] {
            for at in 0..len {
                for special in [b'"', b'\\', b'\n', 0u8, 0x1f] {
                    let mut s = vec![b'a'; len];
                    s[at] = special;
                    assert_eq!(special_byte(&s, 0), at, "{special:#x} at {at} of {len}");
                    let from_second = if at == 0 { len } else { at };
                    assert_eq!(special_byte(&s, 1), from_second, "{special:#x} at {at}");
                }
            }
            assert_eq!(special_byte(&vec![b'a'; len], 0), len);
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

    /// Escapes at every offset from the word boundaries and from the end of the input, so that
    /// the word loop, the escaped-quote shortcut, the other escapes and the byte-at-a-time tail
    /// all run; each string is read alone and followed by more input.
    #[test]
    fn escapes_anywhere_unescape_like_serde_json() {
        for escape in [
            r#"\""#, r"\\", r"\/", r"\n", r"\t", r"\u00e9", r"\u20ac", r"\u0041",
        ] {
            for before in 0..20 {
                for after in 0..20 {
                    let s = format!(
                        "\"{}{escape}{}\"",
                        "ä".repeat(before / 2) + &"b".repeat(before % 2),
                        "c".repeat(after)
                    );
                    let expected = serde_json::from_str::<String>(&s).unwrap();
                    assert_eq!(
                        from_str::<String>(&s).expect("fast path reads it"),
                        expected
                    );
                    let list = format!("[{s}, {s}{}]", " ".repeat(after));
                    let fast: Vec<String> = from_str(&list).expect("fast path reads it");
                    assert_eq!(fast, [expected.clone(), expected], "{list}");
                }
            }
        }
        // Dense escaped quotes, as in a JSON body carried in a string.
        let body = serde_json::json!({"a": "b\"c", "list": [1, "x", {"k": "v"}]}).to_string();
        let text = serde_json::to_string(&body.repeat(7)).unwrap();
        assert_eq!(from_str::<String>(&text).unwrap(), body.repeat(7));
    }

    /// Control characters are refused anywhere in an escaped string: before and after its
    /// escapes, in the word loop (found at the closing quote) and in the byte-at-a-time tail.
    #[test]
    fn control_characters_in_escaped_strings_give_up() {
        let clean = format!(
            "[\"{}\", \"{}\"]",
            r#"ab\"cd\\efgh\nijklmnop\"qrstuvwxyz0123456789AB"#,
            "1".repeat(9)
        );
        assert!(from_str::<Vec<String>>(&clean).is_ok());
        for control in ['\u{0}', '\n', '\u{1f}'] {
            for at in 0..40 {
                let mut content: Vec<char> = r#"ab\"cd\\efgh\nijklmnop\"qrstuvwxyz0123456789AB"#
                    .chars()
                    .collect();
                content.insert(at, control);
                let content: String = content.into_iter().collect();
                for text in [
                    format!("\"{content}\""),
                    format!("[\"{content}\", \"{}\"]", "1".repeat(9)),
                ] {
                    assert!(serde_json::from_str::<serde_json::Value>(&text).is_err());
                    assert!(from_str::<Vec<String>>(&text).is_err(), "{text:?}");
                    assert!(from_str::<String>(&text).is_err(), "{text:?}");
                }
            }
        }
    }

    /// The thread's scratch buffer keeps what longer strings left in it: a shorter string read
    /// after them must come out exactly, and so must one too long for the kept buffer.
    #[test]
    fn unescaping_reuses_scratch_without_leaking_earlier_strings() {
        let long = format!("\"{}\"", r#"x\"yz"#.repeat(500));
        let short = r#""a\"b""#;
        let list = format!("[{long}, {short}, {long}, \"c\\n\"]");
        let fast: Vec<String> = from_str(&list).expect("fast path reads it");
        assert_eq!(fast, serde_json::from_str::<Vec<String>>(&list).unwrap());
        assert_eq!(from_str::<String>(short).unwrap(), "a\"b");

        let huge = format!("\"{}\"", r#"q\"\\"#.repeat(KEPT_SCRATCH / 3));
        assert!(huge.len() > KEPT_SCRATCH);
        let fast: String = from_str(&huge).expect("fast path reads it");
        assert_eq!(fast, serde_json::from_str::<String>(&huge).unwrap());
        assert_eq!(from_str::<String>(short).unwrap(), "a\"b");

        // Many escaped strings in an input past the kept size: each gets a buffer of its own
        // length, the last one ending at the input's very end included.
        let many = format!("[{}\"z\\n\"]", r#""a\"b", "#.repeat(KEPT_SCRATCH / 4));
        assert!(many.len() > KEPT_SCRATCH);
        let fast: Vec<String> = from_str(&many).expect("fast path reads it");
        assert_eq!(fast, serde_json::from_str::<Vec<String>>(&many).unwrap());
    }

    #[test]
    fn broken_escapes_give_up_in_the_word_loop_and_in_the_tail() {
        let padding = "p".repeat(24);
        for broken in [
            r"\x",
            r"\u12",
            r"\u12g4",
            r"\ud800",
            "\u{1}",
            "\u{1f}",
            r"\",
            "\\\n\u{2}",
        ] {
            for text in [
                format!("\"a\\\"{broken}\""),
                format!("\"a\\\"{broken}{padding}\""),
                format!("\"a\\\"{broken}"),
                format!("\"a\\\"{padding}{broken}"),
            ] {
                assert!(serde_json::from_str::<String>(&text).is_err() || broken == r"\ud800");
                assert!(from_str::<String>(&text).is_err(), "{text}");
            }
        }
    }

    /// Integers around the nineteen digits summed without overflow checks.
    #[test]
    fn long_integers_read_like_serde_json() {
        let text = "[0, 7, 1234567890123456789, 9999999999999999999, 10000000000000000000, \
                    18446744073709551615, 00]";
        assert!(from_str::<Vec<u64>>(text).is_err());
        assert!(serde_json::from_str::<Vec<u64>>(text).is_err());
        let text = text.replace(", 00]", "]");
        let fast: Vec<u64> = from_str(&text).expect("fast path reads it");
        assert_eq!(fast, serde_json::from_str::<Vec<u64>>(&text).unwrap());
        for too_big in [
            "18446744073709551616",
            "99999999999999999999",
            "123456789012345678901",
        ] {
            let text = format!("[{too_big}]");
            assert!(serde_json::from_str::<Vec<u64>>(&text).is_err());
            assert!(from_str::<Vec<u64>>(&text).is_err(), "{too_big}");
            let mut reader = Reader {
                text: too_big,
                pos: 0,
                depth: 0,
            };
            assert_eq!(reader.read_plain_u64(), None);
            assert_eq!(reader.pos, 0);
        }
    }

    /// Decimals the reader converts itself, with the bits serde_json gives them.
    #[test]
    fn short_decimals_have_serde_jsons_bits() {
        let cases = [
            "0.0",
            "-0.0",
            "0.1",
            "0.2",
            "0.3",
            "194.947",
            "181.301",
            "38.5",
            "1.5",
            "-3.25",
            "0.00000000000001",
            "99999999999999.9",
            "9.99999999999999",
            "123456789012.345",
            "0.12345678901234",
            "-99999999999999.0",
            "5e-324.0",
        ];
        for text in cases {
            let expected = serde_json::from_str::<f64>(text);
            let mut reader = Reader {
                text,
                pos: 0,
                depth: 0,
            };
            match reader.read_short_decimal() {
                Some(f) => {
                    assert_eq!(f.to_bits(), expected.unwrap().to_bits(), "{text}");
                    assert_eq!(reader.pos, text.len(), "{text}");
                }
                None => assert!(text.contains('e'), "{text} was not read"),
            }
        }
    }

    /// Numbers the decimal reader must leave alone (unconsumed) for serde_json, which still
    /// reads them on the delegated path with the same result.
    #[test]
    fn other_numbers_are_left_to_serde_json() {
        for text in [
            "3",
            "-3",
            "1.",
            "-.5",
            ".5",
            "01.5",
            "-01.5",
            "1.5e3",
            "1.5E-3",
            "2e3",
            "-",
            "1234567890123456.0",
            "0.1234567890123456",
            "1.0000000000000000000000001",
            "18446744073709551616.5",
            "1.5x",
        ] {
            let mut reader = Reader {
                text,
                pos: 0,
                depth: 0,
            };
            if text == "1.5x" {
                assert_eq!(reader.read_short_decimal(), Some(1.5));
                assert!(from_str::<f64>(text).is_err());
                continue;
            }
            assert_eq!(reader.read_short_decimal(), None, "{text}");
            assert_eq!(reader.pos, 0);
            let expected = serde_json::from_str::<f64>(text).ok().map(f64::to_bits);
            assert_eq!(
                from_str::<f64>(text).ok().map(f64::to_bits),
                expected,
                "{text}"
            );
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
            assert!(from_str::<String>(s).is_err(), "{s}");
        }
        assert!(from_str::<Vec<u16>>("[1,2,]").is_err());
        assert!(from_str::<Vec<u16>>("[1 2]").is_err());
        assert!(from_str::<Vec<u16>>("[012]").is_err());
        assert!(from_str::<Vec<u16>>("[70000]").is_err());
        assert!(from_str::<Option<u16>>("nul").is_err());
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

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 2048,
            failure_persistence: None,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x6465_6369),
            ..ProptestConfig::default()
        })]

        /// Any decimal, fast path or not, reads to serde_json's bits.
        #[test]
        fn decimals_read_to_serde_jsons_bits(
            negative: bool,
            int in "(0|[1-9][0-9]{0,17})",
            fraction in "[0-9]{0,19}",
        ) {
            let text = format!("{}{int}.{fraction}", if negative { "-" } else { "" });
            let expected = serde_json::from_str::<Vec<f64>>(&format!("[{text}]"));
            let fast = from_str::<Vec<f64>>(&format!("[{text}]"));
            match (fast, expected) {
                (Ok(fast), Ok(expected)) => {
                    prop_assert_eq!(fast[0].to_bits(), expected[0].to_bits(), "{}", text)
                }
                (Err(GiveUp), Err(_)) => {}
                (fast, expected) => prop_assert!(false, "{text}: {fast:?} / {expected:?}"),
            }
        }
    }

    #[test]
    fn nesting_beyond_the_limit_is_left_to_serde_json() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(from_str::<serde_json::Value>(&deep).is_err());
        let fine = format!("{}{}", "[".repeat(10), "]".repeat(10));
        assert!(from_str::<serde_json::Value>(&fine).is_ok());
    }
}
