//! Canonical decoding of one input value before the signature rules look at it.
//!
//! Attackers hide payloads behind layers of encoding that the application (or a framework
//! behind it) peels off: percent-encoding (repeated: `%252e`), `+` for space in query strings,
//! IIS `%uXXXX`, overlong UTF-8 (`%c0%af`), full-width and other look-alike code points,
//! JavaScript / C escapes (`\u003c`, `\x3c`) and HTML character references (`&#60;`). The
//! rules see the value with all of these removed. Values that contain none of the trigger
//! bytes (`%`, `\`, `&`, `+`) and no non-ASCII text are returned borrowed, so the common
//! case allocates nothing.

use std::borrow::Cow;

/// How many percent-decoding passes at most (`%25252e` needs three).
const MAX_PERCENT_PASSES: usize = 4;

/// How many rounds of the whole pipeline (percent, backslash, HTML, UTF-7) at most.
const MAX_ROUNDS: usize = 3;

/// The canonical form of a raw value.
///
/// `plus_is_space` is true for query strings and form bodies, where `+` encodes a space.
pub fn canonicalize(raw: &str, plus_is_space: bool) -> Cow<'_, str> {
    if !has_encoding(raw.as_bytes(), plus_is_space) && raw.is_ascii() {
        return Cow::Borrowed(raw);
    }
    let mut text: String = raw.to_string();
    let mut plus = plus_is_space;
    // Layers can nest in any order (`&#37;3C` is a percent triplet behind an HTML reference,
    // `%26%2360%3B` the other way round), so the whole pipeline repeats until nothing changes.
    for _ in 0..MAX_ROUNDS {
        let mut changed = false;
        for _ in 0..MAX_PERCENT_PASSES {
            match percent_decode_pass(&text, plus) {
                Some(next) => {
                    text = next;
                    changed = true;
                }
                None => break,
            }
            // `+` is a space only in the outer layer; inner layers keep literal pluses.
            plus = false;
        }
        plus = false;
        if let Some(next) = decode_backslash_escapes(&text) {
            text = next;
            changed = true;
        }
        if let Some(next) = decode_html_references(&text) {
            text = next;
            changed = true;
        }
        if let Some(next) = decode_utf7_markup(&text) {
            text = next;
            changed = true;
        }
        // Another round only when the decoded text still holds an encoding trigger.
        if !changed || !has_encoding(text.as_bytes(), false) {
            break;
        }
    }
    if let Some(next) = fold_lookalikes(&text) {
        text = next;
    }
    Cow::Owned(text)
}

/// Whether `bytes` hold anything a decoding layer would change: `%`, `\\`, `&`, a `+` that is
/// a space, or the `+A` that starts a UTF-7 run of ASCII code units (`+ADw-`).
fn has_encoding(bytes: &[u8], plus_is_space: bool) -> bool {
    bytes.iter().enumerate().any(|(i, &b)| match b {
        b'%' | b'\\' | b'&' => true,
        b'+' => plus_is_space || bytes.get(i + 1) == Some(&b'A'),
        _ => false,
    })
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn hex_u32(digits: &[u8]) -> Option<u32> {
    let mut v: u32 = 0;
    for &d in digits {
        v = v.checked_mul(16)?.checked_add(u32::from(hex_val(d)?))?;
    }
    Some(v)
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// One pass of `%XX` / `%uXXXX` (and optionally `+`) decoding; `None` when nothing changed.
fn percent_decode_pass(s: &str, plus_is_space: bool) -> Option<String> {
    let b = s.as_bytes();
    if !b.iter().any(|&c| c == b'%' || (plus_is_space && c == b'+')) {
        return None;
    }
    let mut out = Vec::with_capacity(b.len());
    let mut changed = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            if let (Some(&h), Some(&l)) = (b.get(i + 1), b.get(i + 2))
                && let (Some(h), Some(l)) = (hex_val(h), hex_val(l))
            {
                out.push(h << 4 | l);
                i += 3;
                changed = true;
                continue;
            }
            if matches!(b.get(i + 1), Some(b'u' | b'U'))
                && let Some(digits) = b.get(i + 2..i + 6)
                && let Some(cp) = hex_u32(digits)
            {
                push_char(&mut out, char::from_u32(cp).unwrap_or('\u{fffd}'));
                i += 6;
                changed = true;
                continue;
            }
        } else if c == b'+' && plus_is_space {
            out.push(b' ');
            i += 1;
            changed = true;
            continue;
        }
        out.push(c);
        i += 1;
    }
    if !changed {
        return None;
    }
    Some(bytes_to_text(&out))
}

/// Bytes to text; overlong UTF-8 forms of ASCII (`c0 af` = `/`) become the ASCII character
/// (old IIS and Java decoders accepted them), other invalid bytes become U+FFFD.
fn bytes_to_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            let mut fixed = Vec::with_capacity(bytes.len());
            let mut i = 0;
            while i < bytes.len() {
                if let Some((ascii, used)) = overlong_ascii(&bytes[i..]) {
                    fixed.push(ascii);
                    i += used;
                } else {
                    fixed.push(bytes[i]);
                    i += 1;
                }
            }
            lossy_with_stray_bytes(&fixed)
        }
    }
}

/// Like `from_utf8_lossy`, but a stray continuation byte (0x80-0xBF, not part of a sequence)
/// becomes its 7-bit character: servers that strip the high bit read `%BCscript%BE` as
/// `<script>`. Broken multi-byte sequences still become U+FFFD.
fn lossy_with_stray_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        let invalid = chunk.invalid();
        if invalid.len() == 1 && (0x80..0xc0).contains(&invalid[0]) {
            out.push(char::from(invalid[0] & 0x7f));
        } else if !invalid.is_empty() {
            out.push('\u{fffd}');
        }
    }
    out
}

/// Decodes an overlong (2-, 3- or 4-byte) encoding of an ASCII code point, leniently: the
/// continuation bytes' top bits are ignored like the vulnerable decoders did (`%c0%2e`).
fn overlong_ascii(b: &[u8]) -> Option<(u8, usize)> {
    let lead = *b.first()?;
    let (len, mut cp) = match lead {
        0xc0 | 0xc1 => (2, u32::from(lead & 0x1f)),
        0xe0 => (3, 0),
        0xf0 => (4, 0),
        0xf8 => (5, 0),
        0xfc => (6, 0),
        _ => return None,
    };
    let tail = b.get(1..len)?;
    // `%c0%5c`: some decoders took a plain ASCII byte after the lead byte as the character.
    if len == 2 && tail[0] < 0x80 {
        // A literal `%` here is a broken encoding (`%c1%pc`), not a character.
        return (tail[0] != b'%').then_some((tail[0], 2));
    }
    for &t in tail {
        cp = (cp << 6) | u32::from(t & 0x3f);
    }
    if cp < 0x80 && (lead >= 0xc0) {
        Some((cp as u8, len))
    } else {
        None
    }
}

/// `\uXXXX`, `\u{...}`, `\xXX` and octal-free C escapes; `None` when nothing changed.
fn decode_backslash_escapes(s: &str) -> Option<String> {
    let b = s.as_bytes();
    memchr::memchr(b'\\', b)?;
    let mut out = Vec::with_capacity(b.len());
    let mut changed = false;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            match b.get(i + 1) {
                Some(b'u') => {
                    if let Some(digits) = b.get(i + 2..i + 6)
                        && let Some(cp) = hex_u32(digits)
                    {
                        push_char(&mut out, char::from_u32(cp).unwrap_or('\u{fffd}'));
                        i += 6;
                        changed = true;
                        continue;
                    }
                }
                Some(b'x') => {
                    if let Some(digits) = b.get(i + 2..i + 4)
                        && let Some(v) = hex_u32(digits)
                    {
                        out.push(v as u8);
                        i += 4;
                        changed = true;
                        continue;
                    }
                }
                _ => {}
            }
        }
        out.push(b[i]);
        i += 1;
    }
    changed.then(|| bytes_to_text(&out))
}

/// HTML character references: numeric (`&#60;`, `&#x3c`, semicolon optional) and the named
/// ones that matter for markup and script; `None` when nothing changed.
fn decode_html_references(s: &str) -> Option<String> {
    const NAMED: &[(&str, char)] = &[
        ("lt;", '<'),
        ("gt;", '>'),
        ("quot;", '"'),
        ("apos;", '\''),
        ("amp;", '&'),
        ("sol;", '/'),
        ("bsol;", '\\'),
        ("colon;", ':'),
        ("lpar;", '('),
        ("rpar;", ')'),
        ("semi;", ';'),
        ("equals;", '='),
        ("tab;", '\t'),
        ("newline;", '\n'),
        ("nbsp;", ' '),
        ("period;", '.'),
        ("grave;", '`'),
        ("lbrace;", '{'),
        ("lcub;", '{'),
        ("rbrace;", '}'),
        ("rcub;", '}'),
        ("dollar;", '$'),
        ("lsqb;", '['),
        ("rsqb;", ']'),
        ("verbar;", '|'),
        ("excl;", '!'),
        ("num;", '#'),
        ("percnt;", '%'),
        ("commat;", '@'),
        ("lbrace", '{'),
        ("rbrace", '}'),
        // Legacy references HTML parsers accept without the semicolon.
        ("quot", '"'),
        ("amp", '&'),
        ("lt", '<'),
        ("gt", '>'),
    ];
    let b = s.as_bytes();
    memchr::memchr(b'&', b)?;
    let mut out = String::with_capacity(s.len());
    let mut changed = false;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'&' {
            if b.get(i + 1) == Some(&b'#') {
                let (hex, start) = match b.get(i + 2) {
                    Some(b'x' | b'X') => (true, i + 3),
                    _ => (false, i + 2),
                };
                // Leading zeros are padding (`&#0000000060`), not part of the length limit.
                let mut digits_start = start;
                while b.get(digits_start) == Some(&b'0') {
                    digits_start += 1;
                }
                let mut end = digits_start;
                while end < b.len()
                    && end - digits_start < 8
                    && (if hex {
                        b[end].is_ascii_hexdigit()
                    } else {
                        b[end].is_ascii_digit()
                    })
                {
                    end += 1;
                }
                if end > start {
                    let digits = if end > digits_start {
                        &s[digits_start..end]
                    } else {
                        "0"
                    };
                    let cp = if hex {
                        u32::from_str_radix(digits, 16).ok()
                    } else {
                        digits.parse::<u32>().ok()
                    };
                    if let Some(c) = cp.and_then(char::from_u32) {
                        out.push(c);
                        i = if b.get(end) == Some(&b';') {
                            end + 1
                        } else {
                            end
                        };
                        changed = true;
                        continue;
                    }
                }
            } else if let Some(&(name, c)) = NAMED.iter().find(|(name, _)| {
                b.get(i + 1..i + 1 + name.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(name.as_bytes()))
            }) {
                out.push(c);
                i += 1 + name.len();
                changed = true;
                continue;
            }
        }
        // Copy one whole UTF-8 character.
        let ch_len = utf8_len(b[i]);
        out.push_str(&s[i..(i + ch_len).min(s.len())]);
        i += ch_len;
    }
    changed.then_some(out)
}

/// The modified-base64 alphabet of UTF-7 (RFC 2152).
fn base64_val(b: u8) -> Option<u32> {
    match b {
        b'A'..=b'Z' => Some(u32::from(b - b'A')),
        b'a'..=b'z' => Some(u32::from(b - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(b - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes one UTF-7 shifted run (the base64 text after `+`) into ASCII, or `None` when it
/// is not a clean run of whole UTF-16 units that are all ASCII.
fn utf7_run_ascii(run: &[u8]) -> Option<String> {
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut out = String::new();
    for &c in run {
        bits = (bits << 6) | base64_val(c)?;
        nbits += 6;
        if nbits >= 16 {
            nbits -= 16;
            let unit = (bits >> nbits) & 0xffff;
            bits &= (1 << nbits) - 1;
            out.push(char::from(u8::try_from(unit).ok().filter(u8::is_ascii)?));
        }
    }
    (nbits < 6 && bits == 0 && !out.is_empty()).then_some(out)
}

/// UTF-7 encoded markup (`+ADw-script+AD4-`): browsers that sniffed UTF-7 ran it, and
/// filters that look for `<` miss it. Only runs that decode to ASCII with at least one
/// character that is not a letter or digit are decoded, so ordinary text with a `+`
/// (`C++`, `+1-555`, `a+b`) stays as it is; `None` when nothing changed.
fn decode_utf7_markup(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if !memchr::memchr_iter(b'+', b).any(|i| b.get(i + 1) == Some(&b'A')) {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    let mut changed = false;
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'+' && b.get(i + 1) == Some(&b'A') {
            let run_end = (i + 1..b.len())
                .find(|&j| base64_val(b[j]).is_none() || b[j] == b'+')
                .unwrap_or(b.len());
            if let Some(ascii) = utf7_run_ascii(&b[i + 1..run_end])
                && ascii.bytes().any(|c| !c.is_ascii_alphanumeric())
            {
                out.push_str(&s[copied..i]);
                out.push_str(&ascii);
                i = if b.get(run_end) == Some(&b'-') {
                    run_end + 1
                } else {
                    run_end
                };
                copied = i;
                changed = true;
                continue;
            }
        }
        i += 1;
    }
    if !changed {
        return None;
    }
    out.push_str(&s[copied..]);
    Some(out)
}

fn utf8_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

/// Full-width forms and Unicode look-alikes of the characters injections are made of
/// (`．` U+FF0E, `∕` U+2215, `＜` U+FF1C ...) folded to ASCII; `None` when nothing changed.
fn fold_lookalikes(s: &str) -> Option<String> {
    if s.is_ascii() {
        return None;
    }
    let mut changed = false;
    let folded: String = s
        .chars()
        .map(|c| {
            let f = fold_char(c);
            changed |= f != c;
            f
        })
        .collect();
    changed.then_some(folded)
}

fn fold_char(c: char) -> char {
    match c {
        // Full-width ASCII block.
        '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xff01 + 0x21).unwrap_or(c),
        // U+EFC8 / U+F025: private-use code points old IIS Unicode mappings read as `/` / `\`.
        '\u{2215}' | '\u{2044}' | '\u{29f8}' | '\u{efc8}' => '/',
        '\u{f025}' => '\\',
        '\u{2216}' | '\u{29f5}' | '\u{29f9}' | '\u{fe68}' => '\\',
        '\u{2024}' | '\u{fe52}' => '.',
        '\u{2039}' | '\u{2329}' | '\u{3008}' | '\u{fe64}' | '\u{02c2}' => '<',
        '\u{203a}' | '\u{232a}' | '\u{3009}' | '\u{fe65}' | '\u{02c3}' => '>',
        '\u{02bc}' | '\u{2018}' | '\u{2019}' | '\u{2032}' => '\'',
        '\u{201c}' | '\u{201d}' | '\u{2033}' => '"',
        '\u{00a0}' | '\u{3000}' => ' ',
        // US-ASCII high-bit-set forms (`¼script¾`): only the markup characters.
        '\u{00bc}' => '<',
        '\u{00be}' => '>',
        '\u{00a2}' => '"',
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_are_borrowed() {
        assert!(matches!(
            canonicalize("hello-world_42", true),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn double_percent_encoding_and_plus() {
        assert_eq!(canonicalize("%2527+or+1%3d1", true), "' or 1=1");
        assert_eq!(canonicalize("a+b", false), "a+b");
    }

    #[test]
    fn overlong_utf8_and_iis_unicode() {
        assert_eq!(canonicalize("..%c0%af..%c0%afetc", false), "../../etc");
        assert_eq!(canonicalize("%uff0e%uff0e%u2215etc", false), "../etc");
        assert_eq!(canonicalize("..%e0%80%afx", false), "../x");
        assert_eq!(canonicalize("..%c0%5cx", false), "..\\x");
    }

    #[test]
    fn escapes_and_html_references() {
        assert_eq!(canonicalize("\\u003cscript\\x3e", false), "<script>");
        assert_eq!(
            canonicalize("&#60;img&#x20;src&equals;x&gt;", false),
            "<img src=x>"
        );
        assert_eq!(canonicalize("&#0000106avascript", false), "javascript");
        assert_eq!(canonicalize("fish & chips", false), "fish & chips");
        assert_eq!(canonicalize("$&LBRACE;jndi:x&rcub;", false), "${jndi:x}");
    }

    #[test]
    fn utf7_markup() {
        assert_eq!(
            canonicalize("+ADw-script+AD4-alert(1)+ADw-/script+AD4-", false),
            "<script>alert(1)</script>"
        );
        // Delivered in a query string the `+` must be percent-encoded to survive.
        assert_eq!(canonicalize("%2BADw-img src=x%2BAD4-", true), "<img src=x>");
        // Runs longer than one character and without the closing `-`.
        assert_eq!(canonicalize("+ADwAPg x", false), "<> x");
        // Ordinary pluses and base64-looking words stay.
        for s in [
            "C++ and C#",
            "+1-555-0100",
            "a+b=c",
            "+AB-",
            "x +Abc- y",
            "+AGE-",
        ] {
            assert_eq!(canonicalize(s, false), s, "{s}");
        }
    }

    #[test]
    fn overlong_and_iis_forms() {
        // 2-, 3- and 4-byte overlong `/` and `.`, double-encoded, and IIS `%u` forms.
        assert_eq!(canonicalize("%c0%ae%c0%ae%c0%af", false), "../");
        assert_eq!(canonicalize("%e0%80%ae%e0%80%ae/", false), "../");
        assert_eq!(canonicalize("%f0%80%80%ae.%f0%80%80%af", false), "../");
        assert_eq!(canonicalize("%25c0%25ae%25c0%25ae%25c0%25af", false), "../");
        assert_eq!(canonicalize("%u002e%u002e%u002fetc", false), "../etc");
        assert_eq!(canonicalize("%25u002e%25u002e%25u2215", false), "../");
        assert_eq!(canonicalize("%U003Cscript%U003E", false), "<script>");
        assert_eq!(canonicalize("%%35%63", false), "\\");
    }

    #[test]
    fn html_references_without_semicolons() {
        assert_eq!(canonicalize("&#60script&#62", false), "<script>");
        assert_eq!(canonicalize("&#x3Cimg&#X3E", false), "<img>");
        assert_eq!(canonicalize("&#00000000060;x", false), "<x");
        assert_eq!(
            canonicalize("&#0000000000106avascript", false),
            "javascript"
        );
        assert_eq!(canonicalize("a=&quotx&quot", false), "a=\"x\"");
        assert_eq!(canonicalize("&ltsvg onload=1&gt", false), "<svg onload=1>");
    }

    #[test]
    fn nested_encodings_in_any_order() {
        // HTML reference hiding a percent triplet, and the other way round.
        assert_eq!(canonicalize("&#37;3Cscript&#37;3E", false), "<script>");
        assert_eq!(canonicalize("%26%2360%3Bscript%26gt%3B", false), "<script>");
        // Backslash escape of a percent triplet, and an HTML reference to a backslash escape.
        assert_eq!(canonicalize("\\x25\\x33\\x63", false), "<");
        assert_eq!(canonicalize("&#92;u003cscript", false), "<script");
        // Triple percent encoding of a UTF-7 run.
        assert_eq!(canonicalize("%25252BADw-x", false), "<x");
    }

    #[test]
    fn broken_encodings_do_not_panic() {
        for s in [
            "%",
            "%u12",
            "\\u",
            "\\x4",
            "&#",
            "&#x;",
            "%c0",
            "%f0%80",
            "é%e9",
            "+A",
            "+A-",
            "+AAAA",
            "+/v8-",
            "&#",
            "&#0000000000000000000",
        ] {
            let _ = canonicalize(s, true);
        }
    }
}
