//! Validators that turn a pattern candidate into a label: checksums, issuer ranges, number-plan
//! rules and structural checks. Each takes the candidate text and answers yes or no; none
//! allocates on the common path.

use std::sync::OnceLock;

use aho_corasick::AhoCorasick;
use base64::Engine as _;

/// Digits of `s`, ignoring everything else, as values 0..=9. At most 32 are kept.
fn digits(s: &str) -> ([u8; 32], usize) {
    let mut out = [0u8; 32];
    let mut n = 0;
    for b in s.bytes() {
        if b.is_ascii_digit() {
            if n == out.len() {
                return (out, n + 1);
            }
            out[n] = b - b'0';
            n += 1;
        }
    }
    (out, n)
}

/// The Luhn (mod 10) check over the digits of `s`.
pub fn luhn(s: &str) -> bool {
    let (d, n) = digits(s);
    if n == 0 || n > 32 {
        return false;
    }
    let mut sum = 0u32;
    for (i, &v) in d[..n].iter().rev().enumerate() {
        let mut v = u32::from(v);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// Whether a payment card number of `len` digits starting with `d` (its digits) falls into an
/// issuer range of a card scheme that issues numbers of that length.
pub fn card_issuer_range(d: &[u8], len: usize) -> bool {
    if d.len() < 6 {
        return false;
    }
    let p = |k: usize| d[..k].iter().fold(0u32, |a, &x| a * 10 + u32::from(x));
    let (p1, p2, p3, p4, p6) = (p(1), p(2), p(3), p(4), p(6));
    match p1 {
        // UATP
        1 => len == 15,
        // Mastercard 2-series
        2 => (2221..=2720).contains(&p4) && len == 16,
        3 => {
            (matches!(p2, 34 | 37) && len == 15)
                || ((300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39)
                    && (14..=19).contains(&len)
                || (3528..=3589).contains(&p4) && (16..=19).contains(&len)
        }
        4 => matches!(len, 13 | 16 | 19),
        5 => {
            ((51..=55).contains(&p2) && len == 16)
                // Maestro / Dankort / local debit schemes
                || (p2 == 50 || (56..=59).contains(&p2)) && (12..=19).contains(&len)
        }
        6 => {
            // Discover, UnionPay, Maestro, RuPay, Troy: the whole 6-series is issued.
            (12..=19).contains(&len) && p6 >= 600_000
        }
        _ => false,
    }
}

/// US Social Security Number rules (SSA): area 001-899 except 666, group 01-99, serial
/// 0001-9999, and the numbers published in advertising that were never valid.
pub fn ssn(s: &str) -> bool {
    let (d, n) = digits(s);
    if n != 9 {
        return false;
    }
    let area = u32::from(d[0]) * 100 + u32::from(d[1]) * 10 + u32::from(d[2]);
    let group = u32::from(d[3]) * 10 + u32::from(d[4]);
    let serial = d[5..9].iter().fold(0u32, |a, &x| a * 10 + u32::from(x));
    if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
        return false;
    }
    let whole = d[..9].iter().fold(0u64, |a, &x| a * 10 + u64::from(x));
    // Woolworth wallet card, 1962 SSA pamphlet, and the all-same / ascending test numbers.
    const NEVER_VALID: [u64; 3] = [78_051_120, 219_099_999, 123_456_789];
    if NEVER_VALID.contains(&whole) {
        return false;
    }
    !d[..9].iter().all(|&x| x == d[0])
}

/// An IBAN in electronic or paper format: country length and mod-97 via `iban_validate`.
pub fn iban(compact: &str) -> bool {
    compact.parse::<iban::Iban>().is_ok()
}

/// ISO 7064 MOD 97-10 as IBAN uses it: the first four characters moved to the end, letters
/// read as 10..=35, and the whole number mod 97 equal to 1. Spaces are ignored.
pub fn mod97(s: &str) -> bool {
    let c: Vec<u8> = s.bytes().filter(|b| *b != b' ').collect();
    if c.len() < 5 || !c.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let mut rem = 0u32;
    for &ch in c[4..].iter().chain(&c[..4]) {
        let v = if ch.is_ascii_digit() {
            u32::from(ch - b'0')
        } else {
            u32::from(ch.to_ascii_uppercase() - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// Shannon entropy of the bytes of `s` in bits per symbol.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[usize::from(b)] += 1;
    }
    let n = s.len() as f64;
    if n == 0.0 {
        return 0.0;
    }
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Words that mark a value as a documentation placeholder or a template, never a live secret.
const PLACEHOLDER_WORDS: [&str; 21] = [
    "example",
    "placeholder",
    "your_",
    "your-",
    "yourkey",
    "insert",
    "_here",
    "-here",
    "changeme",
    "change_me",
    "redacted",
    "dummy",
    "sample",
    "replace",
    "todo",
    "secret_key_",
    "put_your",
    "not_set",
    "undefined",
    "password",
    "passwd",
];

/// Template marks (`{{`, `${`, `...`), masks (`***`, `###`), filler (`xxxx`, `qwerty` ...)
/// and `PLACEHOLDER_WORDS` in one ASCII case-insensitive automaton (the marks hold no
/// letters, so they still match exactly): one pass over the value instead of a lowercased
/// copy and a search per word.
fn placeholder_words() -> &'static AhoCorasick {
    static WORDS: OnceLock<AhoCorasick> = OnceLock::new();
    WORDS.get_or_init(|| {
        let filler = [
            "{{",
            "${",
            "...",
            "***",
            "###",
            "xxxx",
            "0000000000",
            "abcdefghij",
            "qwerty",
        ];
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(PLACEHOLDER_WORDS.iter().chain(filler.iter()))
            .unwrap_or_else(|e| unreachable!("placeholder words compile: {e}"))
    })
}

/// Whether `v` looks like a placeholder, template or masked value rather than a real secret.
pub fn is_placeholder(v: &str) -> bool {
    let t = v.trim();
    if t.is_empty() {
        return true;
    }
    let first = t.as_bytes()[0];
    if matches!(first, b'$' | b'%' | b'<' | b'{' | b'[' | b'#' | b'*' | b'(') {
        return true;
    }
    if placeholder_words().is_match(t) {
        return true;
    }
    if [
        "null", "none", "nil", "true", "false", "test", "secret", "token", "pass",
    ]
    .iter()
    .any(|w| t.eq_ignore_ascii_case(w))
    {
        return true;
    }
    longest_run(t) * 3 > t.len() && t.len() >= 8
}

/// Length of the longest run of one repeated byte.
fn longest_run(s: &str) -> usize {
    let mut best = 0;
    let mut run = 0;
    let mut prev = None;
    for b in s.bytes() {
        if Some(b) == prev {
            run += 1;
        } else {
            run = 1;
            prev = Some(b);
        }
        best = best.max(run);
    }
    best
}

/// Whether a random-looking token body is plausibly a machine-generated credential: long
/// enough, not a placeholder, and with enough symbol variety.
pub fn random_token(body: &str, min_entropy: f64) -> bool {
    !is_placeholder(body) && entropy(body) >= min_entropy
}

/// Decode base64url (or standard base64) without padding, tolerating a truncated tail.
fn b64_decode(part: &str) -> Option<Vec<u8>> {
    let trimmed = part.trim_end_matches('=');
    let usable = match trimmed.len() % 4 {
        1 => &trimmed[..trimmed.len() - 1],
        _ => trimmed,
    };
    if usable.contains(['+', '/']) {
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(usable)
            .ok()
    } else {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(usable)
            .ok()
    }
}

/// A JSON Web Token (JWS compact form, signature optional): the header decodes to a JSON
/// object naming `alg`, `typ` or `kid`, and the payload decodes to something opening a JSON
/// object. The header must be complete; the payload may be cut off (tokens in logs often are).
pub fn jwt(token: &str) -> bool {
    let mut parts = token.split('.');
    let (Some(header), Some(payload)) = (parts.next(), parts.next()) else {
        return false;
    };
    let Some(h) = b64_decode(header) else {
        return false;
    };
    let h = h.trim_ascii();
    if !(h.starts_with(b"{\"") && h.ends_with(b"}")) {
        return false;
    }
    let names_a_header_field = [&b"\"alg\""[..], b"\"typ\"", b"\"kid\"", b"\"enc\""]
        .iter()
        .any(|k| h.windows(k.len()).any(|w| w == *k));
    if !names_a_header_field {
        return false;
    }
    match b64_decode(payload) {
        Some(p) => p.trim_ascii_start().starts_with(b"{"),
        None => false,
    }
}

/// Whether `s` is a JWT-shaped string whose header decodes: used for masking decisions.
pub fn jwt_header_only(header: &str) -> bool {
    b64_decode(header).is_some_and(|h| h.trim_ascii().starts_with(b"{\""))
}

fn letter_value_es(n: u32) -> u8 {
    b"TRWAGMYFPDXBNJZSQVHLCKE"[(n % 23) as usize]
}

/// Spanish DNI (8 digits + control letter) or NIE (X/Y/Z + 7 digits + control letter).
pub fn es_dni_nie(s: &str) -> bool {
    let c: Vec<u8> = s
        .bytes()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if c.len() != 9 {
        return false;
    }
    let (prefix, rest) = match c[0] {
        b'X' => (0u32, &c[1..]),
        b'Y' => (1, &c[1..]),
        b'Z' => (2, &c[1..]),
        b'0'..=b'9' => (0, &c[..]),
        _ => return false,
    };
    let (num, letter) = rest.split_at(rest.len() - 1);
    if !num.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut n = prefix;
    for d in num {
        n = n * 10 + u32::from(d - b'0');
    }
    letter[0] == letter_value_es(n)
}

/// UK National Insurance number: prefix letters and suffix rules of HMRC.
pub fn uk_nino(s: &str) -> bool {
    let c: Vec<u8> = s
        .bytes()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if c.len() != 9 {
        return false;
    }
    let (a, b) = (c[0], c[1]);
    let bad_first = b"DFIQUV";
    let bad_second = b"DFIQUVO";
    if bad_first.contains(&a) || bad_second.contains(&b) || !a.is_ascii_alphabetic() {
        return false;
    }
    if !b.is_ascii_alphabetic() {
        return false;
    }
    let pair = [a, b];
    if [b"BG", b"GB", b"NK", b"KN", b"TN", b"NT", b"ZZ"]
        .iter()
        .any(|p| **p == pair)
    {
        return false;
    }
    c[2..8].iter().all(u8::is_ascii_digit) && matches!(c[8], b'A'..=b'D')
}

/// Italian codice fiscale: 16 characters with the odd/even control character.
pub fn it_codice_fiscale(s: &str) -> bool {
    let c: Vec<u8> = s.bytes().map(|b| b.to_ascii_uppercase()).collect();
    if c.len() != 16 || !c.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    const ODD: [u32; 26] = [
        1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24,
        23,
    ];
    let mut sum = 0u32;
    for (i, &ch) in c[..15].iter().enumerate() {
        let idx = if ch.is_ascii_digit() {
            u32::from(ch - b'0')
        } else {
            u32::from(ch - b'A')
        };
        sum += if i % 2 == 0 { ODD[idx as usize] } else { idx };
    }
    c[15] == b'A' + (sum % 26) as u8
}

/// French NIR (numéro de sécurité sociale): 13 digits (Corsica 2A/2B allowed) + 2-digit key
/// = 97 - (number mod 97).
pub fn fr_nir(s: &str) -> bool {
    let c: Vec<u8> = s
        .bytes()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if c.len() != 15 || !matches!(c[0], b'1' | b'2' | b'3' | b'7' | b'8') {
        return false;
    }
    let mut num = 0u64;
    for (i, &ch) in c[..13].iter().enumerate() {
        let v = match (i, ch) {
            (_, b'0'..=b'9') => u64::from(ch - b'0'),
            // Corsica: 2A -> 19, 2B -> 18 in the key computation
            (6, b'A') => {
                num -= 1;
                0
            }
            (6, b'B') => {
                num -= 2;
                0
            }
            _ => return false,
        };
        num = num * 10 + v;
    }
    let key = c[13..15].iter().try_fold(0u64, |a, &d| {
        d.is_ascii_digit().then(|| a * 10 + u64::from(d - b'0'))
    });
    key == Some(97 - num % 97)
}

/// German Steuerliche Identifikationsnummer: 11 digits, no leading zero, no digit more than
/// three times among the first ten, ISO 7064 MOD 11,10 check digit.
pub fn de_steuer_id(s: &str) -> bool {
    let (d, n) = digits(s);
    if n != 11 || d[0] == 0 {
        return false;
    }
    let mut counts = [0u8; 10];
    for &x in &d[..10] {
        counts[usize::from(x)] += 1;
    }
    if counts.iter().any(|&c| c > 3) {
        return false;
    }
    let mut product = 10u32;
    for &x in &d[..10] {
        let mut sum = (u32::from(x) + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (sum * 2) % 11;
    }
    let check = (11 - product) % 10;
    check == u32::from(d[10])
}

/// Indian Aadhaar: 12 digits, first digit 2-9, Verhoeff check digit.
pub fn in_aadhaar(s: &str) -> bool {
    const D: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const P: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    let (d, n) = digits(s);
    if n != 12 || d[0] < 2 {
        return false;
    }
    let mut c = 0u8;
    for (i, &x) in d[..12].iter().rev().enumerate() {
        c = D[usize::from(c)][usize::from(P[i % 8][usize::from(x)])];
    }
    c == 0
}

/// Indian PAN: 5 letters (the fourth one a holder-type code), 4 digits, 1 letter.
pub fn in_pan(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[..5].iter().all(u8::is_ascii_uppercase)
        && b"ABCFGHLJPTK".contains(&b[3])
        && b[5..9].iter().all(u8::is_ascii_digit)
        && b[9].is_ascii_uppercase()
}

/// Brazilian CPF: 11 digits with two mod-11 check digits, not all equal.
pub fn br_cpf(s: &str) -> bool {
    let (d, n) = digits(s);
    if n != 11 || d[..11].iter().all(|&x| x == d[0]) {
        return false;
    }
    let check = |len: usize| {
        let sum: u32 = d[..len]
            .iter()
            .enumerate()
            .map(|(i, &x)| u32::from(x) * (len as u32 + 1 - i as u32))
            .sum();
        let r = (sum * 10) % 11;
        if r == 10 { 0 } else { r }
    };
    check(9) == u32::from(d[9]) && check(10) == u32::from(d[10])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_test_cards_and_rejects_one_digit_off() {
        assert!(luhn("4111 1111 1111 1111"));
        assert!(luhn("378282246310005"));
        assert!(!luhn("4111 1111 1111 1112"));
    }

    #[test]
    fn issuer_ranges_follow_scheme_lengths() {
        let d = |s: &str| s.bytes().map(|b| b - b'0').collect::<Vec<_>>();
        assert!(card_issuer_range(&d("4111111111111111"), 16));
        assert!(card_issuer_range(&d("378282246310005"), 15));
        assert!(!card_issuer_range(&d("3782822463100050"), 16));
        assert!(!card_issuer_range(&d("0003204654562755"), 16));
        assert!(!card_issuer_range(&d("9111111111111111"), 16));
    }

    #[test]
    fn ssn_rules() {
        assert!(ssn("078-05-1123"));
        assert!(!ssn("078-05-1120"));
        assert!(!ssn("666-12-3456"));
        assert!(!ssn("900-12-3456"));
        assert!(!ssn("123-00-4567"));
        assert!(!ssn("123-45-0000"));
        assert!(!ssn("12345678"));
    }

    #[test]
    fn iban_checks_country_length_and_mod97() {
        assert!(iban("DE89370400440532013000"));
        assert!(iban("GB82WEST12345698765432"));
        assert!(!iban("DE89370400440532013001"));
        assert!(!iban("DE8937040044053201300"));
        assert!(mod97("DE89 3704 0044 0532 0130 00"));
        assert!(!mod97("DE89 3704 0044 0532 0130 01"));
    }

    #[test]
    fn jwt_needs_a_json_header() {
        let t = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig";
        assert!(jwt(t));
        assert!(!jwt(
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ.eyJzdWIiOiIxMjM0NTY3ODkwIn0.x"
        ));
        assert!(!jwt("eyJBB.eyJCC.eyJDDDD"));
    }

    #[test]
    fn national_ids() {
        assert!(es_dni_nie("12345678Z"));
        assert!(es_dni_nie("X9613851N"));
        assert!(!es_dni_nie("12345678A"));
        assert!(uk_nino("AB 12 34 56 C"));
        assert!(!uk_nino("BG123456A"));
        assert!(!uk_nino("AB123456E"));
        assert!(it_codice_fiscale("RSSMRA85T10A562S"));
        assert!(!it_codice_fiscale("RSSMRA85T10A562T"));
        assert!(de_steuer_id("12345678903"));
        assert!(!de_steuer_id("12345678901"));
        assert!(in_aadhaar("312345678909"));
        assert!(!in_aadhaar("123456789012"));
        assert!(in_pan("ABCPD1234Z"));
        assert!(!in_pan("ABCDE1234F"));
        assert!(br_cpf("529.982.247-25"));
        assert!(!br_cpf("529.982.247-26"));
        assert!(fr_nir("255081416802538"));
        assert!(!fr_nir("255081416802539"));
    }

    #[test]
    fn placeholders_are_not_secrets() {
        for p in [
            "xxxxxxxxxxxxxxxx",
            "${API_KEY}",
            "<token>",
            "insert_key_here",
            "AKIAIOSFODNN7EXAMPLE",
            "aaaaaaaaaaaaaaaa",
        ] {
            assert!(is_placeholder(p), "{p}");
        }
        assert!(!is_placeholder("hE1hlYILrSqpqh9v2"));
    }

    #[test]
    fn placeholder_marks_and_words_match_anywhere_in_any_case() {
        for p in [
            "ab{{token}}",
            "pre${KEY}",
            "sk_live_...",
            "abc***def",
            "ab###cd",
            "Xk2XXXX9",
            "k-0000000000-z",
            "ABCDEFGHIJk1",
            "QwErTy12",
            "My_Password_1",
            "NULL",
            " Token ",
        ] {
            assert!(is_placeholder(p), "{p}");
        }
        for p in ["ab{cd}", "k8s.io", "x#y", "Xk2XX9qz", "nullable"] {
            assert!(!is_placeholder(p), "{p}");
        }
    }

    #[test]
    fn entropy_orders_random_above_repetitive() {
        assert!(entropy("aZ3kQ9mP2xL7vB1n") > entropy("aaaaaaaabbbbbbbb"));
    }
}
