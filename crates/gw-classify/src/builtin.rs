//! The built-in detectors: one pattern that finds candidates, and one check that confirms each
//! candidate with a validator, boundary rules and (where a format alone is too weak) context
//! words. A table of uniform small units; the engine in `classifier.rs` runs them.

use crate::kind::SensitiveKind;
use crate::validate;

/// A confirmed span inside the scanned text (byte offsets, end exclusive).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Verdict {
    pub start: usize,
    pub end: usize,
    pub confidence: f32,
    pub kind: SensitiveKind,
}

/// What a check sees: the whole text, the pattern match and an optional field name that
/// counts as context (the JSON key, query parameter or header the text came from).
pub(crate) struct Candidate<'t> {
    pub text: &'t str,
    pub start: usize,
    pub end: usize,
    pub field: Option<&'t str>,
}

impl Candidate<'_> {
    pub fn bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }
    pub fn slice(&self, start: usize, end: usize) -> &str {
        self.text.get(start..end).unwrap_or("")
    }
    pub fn before(&self, at: usize) -> Option<u8> {
        at.checked_sub(1).map(|i| self.bytes()[i])
    }
    pub fn after(&self, at: usize) -> Option<u8> {
        self.bytes().get(at).copied()
    }
    /// Whether one of `words` (lowercase ASCII) appears in the 48 bytes before `at`
    /// (ASCII case-insensitive) or in the field name.
    pub fn context(&self, at: usize, words: &[&str]) -> bool {
        if let Some(f) = self.field
            && words
                .iter()
                .any(|w| contains_ci(f.as_bytes(), w.as_bytes()))
        {
            return true;
        }
        let lo = at.saturating_sub(48);
        let mut buf = [0u8; 48];
        let window = &self.bytes()[lo..at];
        for (d, s) in buf.iter_mut().zip(window) {
            *d = s.to_ascii_lowercase();
        }
        let window = &buf[..window.len()];
        // Windows are short: a plain scan beats building a substring searcher per word.
        words.iter().any(|w| {
            let w = w.as_bytes();
            let Some((&first, rest)) = w.split_first() else {
                return true;
            };
            w.len() <= window.len()
                && (0..=window.len() - w.len())
                    .any(|i| window[i] == first && window[i + 1..].starts_with(rest))
        })
    }
}

pub(crate) fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    if needle.len() > hay.len() {
        return false;
    }
    let first = first.to_ascii_lowercase();
    (0..=hay.len() - needle.len()).any(|i| {
        hay[i].to_ascii_lowercase() == first
            && hay[i + 1..i + needle.len()].eq_ignore_ascii_case(rest)
    })
}

/// How the one prefilter pass over a text decides that a detector may have a candidate
/// there. Every match of the detector's pattern satisfies its gate; a gate that holds only
/// means the pattern runs.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Gate {
    /// One of these literals occurs (case-sensitive) inside a run of at least
    /// `prefilter::MIN_TOKEN_RUN` bytes without blanks, quotes or brackets: the detector's
    /// matches are such runs.
    Literals(&'static [&'static str]),
    /// One of these literals occurs anywhere (case-sensitive): matches may hold blanks or
    /// quotes.
    LiteralsAnywhere(&'static [&'static str]),
    /// One of these literals occurs (ASCII case-insensitive).
    LiteralsCi(&'static [&'static str]),
    /// One of these words (ASCII case-insensitive) followed by more name characters and an
    /// assignment operator or a blank (`password =`, `"api_key":`, `--token `).
    Keyword(&'static [&'static str]),
    /// The pattern runs only inside runs of digits and number separators with at least this
    /// many digits and dots.
    /// `phone`: only windows whose digit groups fit a phone layout.
    DigitWindow {
        digits: usize,
        dots: usize,
        phone: bool,
    },
    /// Two capital letters directly before a run of at least two digits.
    IbanShape,
    /// A digit run with the letters around it that one of the national-id layouts needs.
    NationalIdShape,
    /// `::`, or a run of hex digits and colons with at least four colons.
    Ipv6Shape,
    /// A dot, six token characters and a dot, after at least 24 bytes.
    DiscordShape,
}

pub(crate) type Check = fn(&Candidate<'_>, &mut Vec<Verdict>);

/// One built-in detector.
pub(crate) struct BuiltIn {
    /// Stable rule id, used in `disabled` config lists and in finding output.
    pub id: &'static str,
    pub kind: SensitiveKind,
    pub pattern: &'static str,
    /// What the shared single-pass prefilter looks for before `pattern` runs at all.
    pub gate: Gate,
    pub check: Check,
    /// Wins over lower priorities when spans overlap.
    pub priority: u8,
}

fn alnum(b: Option<u8>) -> bool {
    b.is_some_and(|b| b.is_ascii_alphanumeric())
}

fn word(b: Option<u8>) -> bool {
    b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn token_char(b: Option<u8>) -> bool {
    b.is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

fn push(out: &mut Vec<Verdict>, kind: SensitiveKind, start: usize, end: usize, confidence: f32) {
    out.push(Verdict {
        start,
        end,
        confidence,
        kind,
    });
}

// ---------------------------------------------------------------- email

fn check_email(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    let mut start = c.start;
    let bytes = c.bytes();
    // Local parts do not start with dots or plus signs picked up from the surrounding text.
    while start < c.end && matches!(bytes[start], b'.' | b'+' | b'-' | b'%') {
        start += 1;
    }
    let s = c.slice(start, c.end);
    let Some(at) = s.find('@') else { return };
    let local = &s[..at];
    if local.is_empty() || local.ends_with('.') || local.contains("..") {
        return;
    }
    if alnum(c.after(c.end)) || c.after(c.end) == Some(b'@') {
        return;
    }
    push(out, SensitiveKind::Email, start, c.end, 0.95);
}

// ---------------------------------------------------------------- digit runs

/// Digit groups of a run such as `4111 1111 1111 1111` with the separator after each group.
struct Groups {
    spans: Vec<(usize, usize)>,
    seps: Vec<u8>,
    lens: Vec<usize>,
}

fn digit_groups(c: &Candidate<'_>) -> Groups {
    let b = c.bytes();
    let mut spans = Vec::new();
    let mut seps = Vec::new();
    let mut i = c.start;
    while i < c.end {
        let s = i;
        while i < c.end && b[i].is_ascii_digit() {
            i += 1;
        }
        spans.push((s, i));
        if i < c.end {
            seps.push(b[i]);
            i += 1;
        }
    }
    let lens = spans.iter().map(|(s, e)| e - s).collect();
    Groups { spans, seps, lens }
}

impl Groups {
    fn digits(&self, i: usize, j: usize) -> usize {
        self.lens[i..=j].iter().sum()
    }
    fn same_sep(&self, i: usize, j: usize) -> bool {
        self.seps[i..j].windows(2).all(|w| w[0] == w[1])
    }
    fn lens(&self, i: usize, j: usize) -> &[usize] {
        &self.lens[i..=j]
    }
}

/// A run must stand alone: no letters glued to it, and it must not continue a longer number
/// written with other separators (`91-415-555-0132` is not `415-555-0132`).
fn run_isolated(c: &Candidate<'_>, start: usize, end: usize) -> bool {
    if alnum(c.before(start)) || alnum(c.after(end)) {
        return false;
    }
    let glued_before = matches!(c.before(start), Some(b'-' | b'.' | b'/'))
        && start >= 2
        && c.bytes()[start - 2].is_ascii_digit();
    let glued_after = matches!(c.after(end), Some(b'-' | b'/'))
        && c.bytes().get(end + 1).is_some_and(u8::is_ascii_digit);
    !(glued_before || glued_after)
}

fn card_layout(lens: &[usize]) -> bool {
    match lens {
        [_] => true,
        [4, 6, 5] | [4, 6, 4] => true,
        [init @ .., last] => init.iter().all(|&l| l == 4) && (1..=4).contains(last),
        [] => false,
    }
}

fn check_digit_run(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    // A number written after `+` is an international phone number, not a card or an id.
    if c.before(c.start) == Some(b'+') {
        return;
    }
    let g = digit_groups(c);
    let n = g.spans.len();
    for i in 0..n {
        // No layout spans more than seven groups (FR NIR); keeps long runs linear.
        for j in (i..n.min(i + 7)).rev() {
            let start = g.spans[i].0;
            let end = g.spans[j].1;
            if !g.same_sep(i, j) {
                continue;
            }
            let sep = if j > i { Some(g.seps[i]) } else { None };
            let digits = g.digits(i, j);
            if digits < 9 {
                continue;
            }
            let isolated = (i == 0 && j == n - 1 && run_isolated(c, start, end))
                || (!alnum(c.before(start)) && !alnum(c.after(end)) && sep != Some(b'.'));
            if !isolated {
                continue;
            }
            let text = c.slice(start, end);
            card(c, &g, (i, j), sep, digits, text, out);
            ssn(c, &g, (i, j), sep, digits, text, out);
            national_numeric(c, &g, (i, j), sep, digits, text, out);
        }
    }
}

fn card(
    _c: &Candidate<'_>,
    g: &Groups,
    (i, j): (usize, usize),
    sep: Option<u8>,
    digits: usize,
    text: &str,
    out: &mut Vec<Verdict>,
) {
    if !(12..=19).contains(&digits) || sep == Some(b'.') || !card_layout(g.lens(i, j)) {
        return;
    }
    let mut ds = [0u8; 19];
    for (slot, b) in ds.iter_mut().zip(text.bytes().filter(u8::is_ascii_digit)) {
        *slot = b - b'0';
    }
    if validate::luhn(text) && validate::card_issuer_range(&ds[..digits], digits) {
        let conf = if sep.is_some() || digits == 16 {
            0.9
        } else {
            0.8
        };
        push(
            out,
            SensitiveKind::CreditCard,
            g.spans[i].0,
            g.spans[j].1,
            conf,
        );
    }
}

fn ssn(
    c: &Candidate<'_>,
    g: &Groups,
    (i, j): (usize, usize),
    sep: Option<u8>,
    digits: usize,
    text: &str,
    out: &mut Vec<Verdict>,
) {
    if digits != 9 || j - i > 2 || sep == Some(b'/') {
        return;
    }
    // Separators may only fall where the SSN has them: after the area and after the group.
    let mut at = 0;
    for l in &g.lens(i, j)[..j - i] {
        at += l;
        if at != 3 && at != 5 {
            return;
        }
    }
    if !validate::ssn(text) {
        return;
    }
    let conf = match (
        j - i,
        c.context(g.spans[i].0, &["ssn", "social security", "social"]),
    ) {
        (_, true) => 0.95,
        (2, false) => 0.85,
        (1, false) => 0.6,
        _ => 0.5,
    };
    push(out, SensitiveKind::Ssn, g.spans[i].0, g.spans[j].1, conf);
}

fn national_numeric(
    c: &Candidate<'_>,
    g: &Groups,
    (i, j): (usize, usize),
    sep: Option<u8>,
    digits: usize,
    text: &str,
    out: &mut Vec<Verdict>,
) {
    let (start, end) = (g.spans[i].0, g.spans[j].1);
    let kind = SensitiveKind::NationalId;
    match digits {
        11 if sep.is_none()
            && c.context(
                start,
                &["steuer", "tax id", "taxid", "idnr", "identifikation"],
            )
            && validate::de_steuer_id(text) =>
        {
            push(out, kind, start, end, 0.85)
        }
        11 if sep.is_none() && c.context(start, &["cpf"]) && validate::br_cpf(text) => {
            push(out, kind, start, end, 0.85)
        }
        12 if c.context(start, &["aadhaar", "aadhar", "uidai"]) && validate::in_aadhaar(text) => {
            push(out, kind, start, end, 0.85)
        }
        15 => {
            let spaced = g.lens(i, j) == [1, 2, 2, 2, 3, 3, 2];
            let ctx = c.context(
                start,
                &["nir", "insee", "sécurité sociale", "securite sociale"],
            );
            if (spaced || ctx) && validate::fr_nir(text) {
                push(out, kind, start, end, 0.85);
            }
        }
        _ => {}
    }
}

/// `529.982.247-25`: the Brazilian CPF has a layout of its own with two separators.
fn check_cpf(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    if alnum(c.before(c.start)) || alnum(c.after(c.end)) {
        return;
    }
    if validate::br_cpf(c.slice(c.start, c.end)) {
        push(out, SensitiveKind::NationalId, c.start, c.end, 0.9);
    }
}

// ---------------------------------------------------------------- national ids with letters

fn check_es_id(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    if alnum(c.before(c.start)) || alnum(c.after(c.end)) {
        return;
    }
    let s = c.slice(c.start, c.end);
    if !validate::es_dni_nie(s) {
        return;
    }
    // NIE (X/Y/Z prefix) is a distinctive layout; a bare DNI needs context.
    let nie = s.as_bytes()[0].is_ascii_alphabetic();
    if nie || c.context(c.start, &["dni", "nif", "nie", "documento", "identidad"]) {
        push(out, SensitiveKind::NationalId, c.start, c.end, 0.85);
    }
}

fn check_nino(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    if alnum(c.before(c.start)) || alnum(c.after(c.end)) {
        return;
    }
    if validate::uk_nino(c.slice(c.start, c.end)) {
        push(out, SensitiveKind::NationalId, c.start, c.end, 0.85);
    }
}

fn check_codice_fiscale(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    if alnum(c.before(c.start)) || alnum(c.after(c.end)) {
        return;
    }
    if validate::it_codice_fiscale(c.slice(c.start, c.end)) {
        push(out, SensitiveKind::NationalId, c.start, c.end, 0.9);
    }
}

fn check_pan(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    if alnum(c.before(c.start)) || alnum(c.after(c.end)) {
        return;
    }
    let s = c.slice(c.start, c.end);
    if validate::in_pan(s) && c.context(c.start, &["pan", "permanent account", "income tax"]) {
        push(out, SensitiveKind::NationalId, c.start, c.end, 0.85);
    }
}

/// One pass for all letter-bearing national ids; the shape says which validator applies.
fn check_national_id(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    let s = c.slice(c.start, c.end);
    let b = s.as_bytes();
    if b.len() == 16 {
        check_codice_fiscale(c, out);
    } else if b.len() == 10 && b[..5].iter().all(u8::is_ascii_uppercase) {
        check_pan(c, out);
    } else if b.contains(&b'.') {
        check_cpf(c, out);
    } else if b[1].is_ascii_alphabetic() {
        check_nino(c, out);
    } else {
        check_es_id(c, out);
    }
}

// ---------------------------------------------------------------- iban

fn check_iban(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    if alnum(c.before(c.start)) {
        return;
    }
    let b = c.bytes();
    // Positions of the alphanumeric characters; paper format puts a space every four.
    let mut chars: Vec<usize> = Vec::with_capacity(34);
    for (i, &ch) in b[c.start..c.end].iter().enumerate() {
        if ch != b' ' {
            chars.push(c.start + i);
        } else if !chars.len().is_multiple_of(4) {
            break;
        }
    }
    let compact: String = chars.iter().map(|&i| char::from(b[i])).collect();
    for len in (15..=compact.len().min(34)).rev() {
        let end = chars[len - 1] + 1;
        if alnum(c.after(end)) {
            continue;
        }
        if validate::iban(&compact[..len]) {
            push(out, SensitiveKind::Iban, c.start, end, 0.95);
            return;
        }
    }
}

// ---------------------------------------------------------------- phone

fn phone_digits(s: &str) -> usize {
    s.bytes().filter(u8::is_ascii_digit).count()
}

fn phone_isolated(c: &Candidate<'_>) -> bool {
    if alnum(c.before(c.start)) || alnum(c.after(c.end)) {
        return false;
    }
    let b = c.bytes();
    let glued_before = matches!(c.before(c.start), Some(b'-' | b'.' | b'/' | b'+'))
        && c.start >= 2
        && b[c.start - 2].is_ascii_digit();
    let glued_after = matches!(c.after(c.end), Some(b'-' | b'.' | b'/'))
        && b.get(c.end + 1).is_some_and(u8::is_ascii_digit);
    !(glued_before || glued_after)
}

const PHONE_WORDS: [&str; 9] = [
    "phone", "tel", "mobile", "cell", "call", "fax", "whatsapp", "contact", "number",
];

fn check_phone_international(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    let s = c.slice(c.start, c.end);
    let n = phone_digits(s);
    if !(8..=15).contains(&n) || !phone_isolated(c) {
        return;
    }
    let conf = if c.context(c.start, &PHONE_WORDS) {
        0.9
    } else {
        0.75
    };
    push(out, SensitiveKind::Phone, c.start, c.end, conf);
}

fn check_phone_national(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    let s = c.slice(c.start, c.end);
    let n = phone_digits(s);
    if !(9..=12).contains(&n) || !phone_isolated(c) {
        return;
    }
    let conf = if c.context(c.start, &PHONE_WORDS) {
        0.85
    } else {
        0.65
    };
    push(out, SensitiveKind::Phone, c.start, c.end, conf);
}

fn check_phone_nanp(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    if !phone_isolated(c) {
        return;
    }
    let conf = if c.context(c.start, &PHONE_WORDS) {
        0.9
    } else {
        0.75
    };
    push(out, SensitiveKind::Phone, c.start, c.end, conf);
}

/// Mobile numbers written without separators are only phones when the context says so.
fn check_phone_bare(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    if !phone_isolated(c) || !c.context(c.start, &PHONE_WORDS) {
        return;
    }
    push(out, SensitiveKind::Phone, c.start, c.end, 0.7);
}

/// One pass for all phone layouts; the shape says which rule applies.
fn check_phone(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    let s = c.slice(c.start, c.end);
    let b = s.as_bytes();
    let nanp_tail = b.len() >= 8 && {
        let t = &b[b.len() - 8..];
        t[..3].iter().all(u8::is_ascii_digit)
            && matches!(t[3], b' ' | b'.' | b'-')
            && t[4..].iter().all(u8::is_ascii_digit)
    };
    if b[0] == b'+' {
        check_phone_international(c, out);
    } else if b.iter().all(u8::is_ascii_digit) {
        check_phone_bare(c, out);
    } else if b[0] == b'0' && !s.contains('(') {
        check_phone_national(c, out);
    } else if nanp_tail {
        check_phone_nanp(c, out);
    }
}

// ---------------------------------------------------------------- ip addresses

fn check_ipv4(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    let b = c.bytes();
    if alnum(c.before(c.start)) || c.before(c.start) == Some(b'.') {
        return;
    }
    let s = c.slice(c.start, c.end);
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let mut end = c.start + addr.len();
    for octet in addr.split('.') {
        if octet.len() > 1 && octet.starts_with('0') {
            return;
        }
        if octet.parse::<u8>().is_err() {
            return;
        }
    }
    if let Some(p) = prefix {
        let with_prefix = c.end;
        if p.parse::<u8>().is_ok_and(|v| v <= 32)
            && !b.get(with_prefix).is_some_and(u8::is_ascii_digit)
        {
            end = with_prefix;
        }
    }
    if end == c.start + addr.len() && alnum(c.after(end)) {
        return;
    }
    push(out, SensitiveKind::IpAddress, c.start, end, 0.9);
}

fn check_ipv6(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    let b = c.bytes();
    if alnum(c.before(c.start)) || matches!(c.before(c.start), Some(b':' | b'.')) {
        return;
    }
    let s = c.slice(c.start, c.end);
    let (head, prefix) = match s.split_once('/') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    let addr_part = head.split_once('%').map_or(head, |(a, _)| a);
    let addr = addr_part.trim_end_matches('.');
    if addr.parse::<std::net::Ipv6Addr>().is_err() {
        return;
    }
    let mut end = if addr.len() < addr_part.len() {
        c.start + addr.len()
    } else {
        c.start + head.len()
    };
    if let Some(p) = prefix
        && end == c.start + head.len()
        && p.parse::<u8>().is_ok_and(|v| v <= 128)
        && !b.get(c.end).is_some_and(u8::is_ascii_digit)
    {
        end = c.end;
    }
    if alnum(c.after(end)) || c.after(end) == Some(b':') {
        return;
    }
    let conf = if addr == "::" { 0.5 } else { 0.85 };
    push(out, SensitiveKind::IpAddress, c.start, end, conf);
}

// ---------------------------------------------------------------- jwt and secrets

fn check_jwt(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    if token_char(c.before(c.start)) {
        return;
    }
    if validate::jwt(c.slice(c.start, c.end)) {
        push(out, SensitiveKind::Jwt, c.start, c.end, 0.95);
    }
}

fn check_private_key(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    let rest = &c.text[c.end..];
    let body = rest.trim_start();
    if body.starts_with("-----END") || body.is_empty() {
        return;
    }
    let end = match rest.find("-----END") {
        Some(i) => {
            let after = c.end + i + 8;
            c.text[after..]
                .find("-----")
                .map_or(after, |k| after + k + 5)
        }
        None => {
            let mut end = c.end + rest.find(['"', '\'']).unwrap_or(rest.len()).min(4096);
            while !c.text.is_char_boundary(end) {
                end -= 1;
            }
            end
        }
    };
    push(out, SensitiveKind::Secret, c.start, end, 0.95);
}

/// A provider token with a distinctive prefix: must not be glued to other token characters,
/// and its body must look machine-generated.
fn provider_token(c: &Candidate<'_>, out: &mut Vec<Verdict>, min_entropy: f64) {
    if token_char(c.before(c.start)) || c.before(c.start) == Some(b'.') {
        return;
    }
    if word(c.after(c.end)) {
        return;
    }
    let s = c.slice(c.start, c.end);
    if validate::random_token(s, min_entropy) {
        push(out, SensitiveKind::Secret, c.start, c.end, 0.95);
    }
}

fn check_token(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    provider_token(c, out, 3.0);
}

fn check_token_low_variety(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    provider_token(c, out, 2.0);
}

fn check_structural_secret(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    if word(c.before(c.start)) {
        return;
    }
    push(out, SensitiveKind::Secret, c.start, c.end, 0.9);
}

/// Artifactory API keys (`AKC`) and encrypted passwords / identity tokens (`AP` and a hex
/// digit), as detect-secrets defines them: standing alone between blanks, quotes or an
/// assignment, and not an upper-case word.
fn check_artifactory(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    let open = |b: Option<u8>| {
        b.is_none_or(|b| b.is_ascii_whitespace() || matches!(b, b'=' | b':' | b'"' | b'\''))
    };
    let close =
        |b: Option<u8>| b.is_none_or(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'\''));
    if !open(c.before(c.start)) || !close(c.after(c.end)) {
        return;
    }
    let body = c.slice(c.start + 3, c.end);
    // Full-length keys (`AKCp` and 69 characters) are random: a long run of one letter is
    // a placeholder.
    let random_enough = body.len() < 20 || validate::random_token(c.slice(c.start, c.end), 2.0);
    if random_enough
        && body
            .bytes()
            .any(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        push(out, SensitiveKind::Secret, c.start, c.end, 0.7);
    }
}

/// A token of a provider without a distinctive prefix, labelled when the provider's name
/// (ASCII case-insensitive) is in the field name or shortly before it.
fn keyword_token(c: &Candidate<'_>, out: &mut Vec<Verdict>, words: &[&str]) {
    if token_char(c.before(c.start)) || token_char(c.after(c.end)) {
        return;
    }
    if c.context(c.start, words) && validate::random_token(c.slice(c.start, c.end), 3.0) {
        push(out, SensitiveKind::Secret, c.start, c.end, 0.85);
    }
}

/// Legacy Sourcegraph access tokens: 40 hex digits after the word `sourcegraph`.
fn check_sourcegraph(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    keyword_token(c, out, &["sourcegraph"]);
}

/// Sumo Logic access ids: `su` and 12 letters and digits after `sumo` (as a word start:
/// `Sumo`, `sumo`, `SUMO`, not `sumObj`).
fn check_sumologic(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    if token_char(c.before(c.start)) || token_char(c.after(c.end)) {
        return;
    }
    let lo = c.start.saturating_sub(48);
    let window = &c.bytes()[lo..c.start];
    let named = |hay: &[u8]| {
        [&b"sumo"[..], b"Sumo", b"SUMO"]
            .iter()
            .any(|w| hay.windows(4).any(|x| x == *w))
    };
    if !(named(window) || c.field.is_some_and(|f| named(f.as_bytes()))) {
        return;
    }
    let v = c.slice(c.start + 2, c.end);
    let classes = [
        v.bytes().any(|b| b.is_ascii_uppercase()),
        v.bytes().any(|b| b.is_ascii_lowercase()),
        v.bytes().any(|b| b.is_ascii_digit()),
    ];
    if classes.iter().all(|&x| x) {
        push(out, SensitiveKind::Secret, c.start, c.end, 0.85);
    }
}

/// A token whose fixed prefix is itself the structure (the base64 of a provider's marker):
/// only its boundaries are checked.
fn check_prefixed_structure(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    let base64 = |b: Option<u8>| token_char(b) || matches!(b, Some(b'+' | b'/'));
    if base64(c.before(c.start)) || base64(c.after(c.end)) {
        return;
    }
    push(out, SensitiveKind::Secret, c.start, c.end, 0.9);
}

fn check_vault_legacy(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    let s = c.slice(c.start + 2, c.end);
    let classes = [
        s.bytes().any(|b| b.is_ascii_uppercase()),
        s.bytes().any(|b| b.is_ascii_lowercase()),
        s.bytes().any(|b| b.is_ascii_digit()),
    ];
    if classes.iter().all(|&x| x) {
        provider_token(c, out, 3.5);
    }
}

/// Short-lived Bedrock keys carry the base64 of the endpoint they were issued for.
fn check_bedrock(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    use base64::Engine as _;
    let body = c.slice(c.start + "bedrock-api-key-".len(), c.end);
    let usable = &body[..body.len() / 4 * 4];
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(usable)
        .unwrap_or_default();
    if decoded.starts_with(b"bedrock.amazonaws.com") {
        provider_token(c, out, 2.0);
    }
}

fn check_notion(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    if c.slice(c.start + 15, c.end)
        .bytes()
        .any(|b| b.is_ascii_alphabetic())
    {
        provider_token(c, out, 3.0);
    }
}

/// `scheme://user:password@host`.
fn check_url_credentials(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    let s = c.slice(c.start, c.end);
    let Some(rest) = s.split_once("://").map(|(_, r)| r) else {
        return;
    };
    let Some((userinfo, _host)) = rest.rsplit_once('@') else {
        return;
    };
    let Some((_user, password)) = userinfo.split_once(':') else {
        return;
    };
    if password.is_empty()
        || password.starts_with(['$', '<', '{', '[', '%'])
        || password.contains("{{")
    {
        return;
    }
    if password
        .chars()
        .all(|ch| ch == '*' || ch == 'x' || ch == 'X')
    {
        return;
    }
    push(out, SensitiveKind::Secret, c.start, c.end, 0.9);
}

const WEAK_PASSWORDS: [&str; 12] = [
    "password", "passwd", "pass", "test", "secret", "token", "changeme", "admin", "user",
    "username", "yyy", "xxx",
];

fn credential_value_ok(v: &str) -> bool {
    let v = v.trim_matches(|ch| ch == '{' || ch == '}');
    v.len() >= 6
        && !validate::is_placeholder(v)
        && !WEAK_PASSWORDS.contains(&v.to_ascii_lowercase().as_str())
        && !v.starts_with('$')
        && !v.contains("${")
        && !v.contains("$(")
        && !v.contains(['<', '>', '[', ']'])
}

/// `curl -u user:password` / `--user`.
fn check_curl_user(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    let b = c.bytes();
    // The shell word after the flag, with its quotes removed.
    let mut i = c.end;
    while i < b.len() && b[i] == b' ' {
        i += 1;
    }
    let start = i;
    let mut word = String::new();
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let ch = b[i];
        match quote {
            Some(q) if ch == q => quote = None,
            Some(_) => word.push(char::from(ch)),
            None if ch == b'"' || ch == b'\'' => quote = Some(ch),
            None if ch.is_ascii_whitespace() => break,
            None => word.push(char::from(ch)),
        }
        if ch >= 0x80 {
            return;
        }
        i += 1;
    }
    let Some((user, password)) = word.split_once(':') else {
        return;
    };
    let secret = if password.is_empty() { user } else { password };
    if credential_value_ok(secret) && !user.contains(['$', '<', '[']) {
        push(out, SensitiveKind::Secret, start, i, 0.85);
    }
}

fn check_auth_header(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    if word(c.before(c.start)) {
        return;
    }
    // header name, separators, an optional scheme word, then the credential.
    let s = c.slice(c.start, c.end);
    let sb = s.as_bytes();
    let mut i = s
        .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '-'))
        .unwrap_or(s.len());
    while i < sb.len() && matches!(sb[i], b'"' | b'\'' | b' ' | b'\t' | b':' | b'=') {
        i += 1;
    }
    if let Some(sp) = s[i..].find([' ', '\t']) {
        i += sp;
        while i < sb.len() && matches!(sb[i], b' ' | b'\t') {
            i += 1;
        }
    }
    let value = &s[i..];
    if value.len() < 8 || validate::is_placeholder(value) || validate::entropy(value) < 2.5 {
        return;
    }
    push(out, SensitiveKind::Secret, c.start + i, c.end, 0.85);
}

/// Bundler credentials for a private gem host: `BUNDLE_GEMS__EXAMPLE__COM=user:password`.
fn check_bundler(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    let s = c.slice(c.start, c.end);
    let Some(pos) = s
        .rfind(['=', ':', ' ', '"', '\''])
        .filter(|&p| p + 1 < s.len())
    else {
        return;
    };
    let _ = pos;
    // Value begins after the assignment operator that follows the variable name.
    let name_end = s.find(['=', ':', ' ', '"', '\'']).unwrap_or(s.len());
    let value_start = s[name_end..]
        .find(|ch: char| ch.is_ascii_alphanumeric())
        .map_or(s.len(), |k| name_end + k);
    let value = &s[value_start..];
    if value.contains(':') && value.len() >= 8 {
        push(
            out,
            SensitiveKind::Secret,
            c.start + value_start,
            c.end,
            0.85,
        );
    }
}

// ---------------------------------------------------------------- keyword assignments

/// Segments of an identifier: `ibm_cloudIamApiKey` -> ibm, cloud, iam, api, key.
pub(crate) fn name_segments(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in name.chars() {
        if !ch.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if ch.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
        cur.push(ch.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Segments that say a name is *about* a secret without holding one (`token_url`, `key_id`).
const NOT_A_SECRET_SEGMENTS: [&str; 32] = [
    "id",
    "ids",
    "name",
    "names",
    "url",
    "uri",
    "endpoint",
    "length",
    "len",
    "size",
    "file",
    "path",
    "type",
    "format",
    "version",
    "public",
    "pub",
    "count",
    "max",
    "min",
    "enabled",
    "expiry",
    "expires",
    "ttl",
    "prefix",
    "field",
    "label",
    "hint",
    "policy",
    "csrf",
    "xsrf",
    "authenticity",
];

/// What a field or variable name says about its value, if anything.
pub(crate) fn secret_name(name: &str) -> bool {
    let segs = name_segments(name);
    if segs.is_empty()
        || segs
            .iter()
            .any(|s| NOT_A_SECRET_SEGMENTS.contains(&s.as_str()))
    {
        return false;
    }
    let strong = segs.iter().any(|s| {
        matches!(
            s.as_str(),
            "password"
                | "passwd"
                | "passphrase"
                | "pwd"
                | "pass"
                | "pw"
                | "secret"
                | "token"
                | "apikey"
                | "credential"
                | "credentials"
                | "auth"
                | "authorization"
                | "bearer"
                | "privatekey"
                | "accesskey"
                | "secretkey"
                | "apitoken"
                | "authtoken"
                | "accesstoken"
        )
    }) || segs.iter().any(|s| {
        // run-together names: IBMCLOUDIAMAPIKEY, softlayerapikey, clientsecret
        s.len() > 6
            && ["apikey", "password", "secret", "token", "passwd"]
                .iter()
                .any(|w| s.ends_with(w))
    });
    // "key" counts as the last segment of a qualified name (`api_key`, `HEROKU_KEY`).
    let keyed = segs.len() >= 2 && segs.last().is_some_and(|s| s == "key" || s == "keys");
    strong || keyed
}

/// Values that are code or configuration references rather than literal secrets.
fn looks_like_code(v: &str) -> bool {
    let dotted_ident = v.contains('.')
        && v.split('.').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
    let constant = v.len() < 24
        && v.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    let path = v.starts_with(['/', '.', '~']) || v.contains("://");
    let file = [
        ".pem", ".p12", ".key", ".keytab", ".cer", ".crt", ".json", ".txt", ".jks",
    ]
    .iter()
    .any(|ext| {
        v.len() >= ext.len()
            && v.as_bytes()[v.len() - ext.len()..].eq_ignore_ascii_case(ext.as_bytes())
    });
    dotted_ident || constant || path || file
}

pub(crate) fn secret_value_ok(v: &str) -> bool {
    let v = v.trim();
    secret_shape_ok(v) && !validate::is_placeholder(v)
}

/// [`secret_value_ok`] for a trimmed value the caller already knows is no placeholder
/// (`validate::is_placeholder`): length, not code or a path, not joined-up words, random
/// enough.
pub(crate) fn secret_shape_ok(v: &str) -> bool {
    if v.len() < 8 || v.len() > 512 || looks_like_code(v) {
        return false;
    }
    if v.contains(' ') && v.split(' ').count() > 2 {
        return false;
    }
    if v.contains('.') && v.len() < 20 {
        return false;
    }
    // `not_long_enough`, `a-fake-api-key`, `DOC_Vector_5_32`: words joined up, not random.
    let words = v.split(['-', '_']).count();
    if words >= 3 && v.len() < 24 {
        return false;
    }
    if (words >= 3 || v.len() < 24)
        && words >= 2
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_')
    {
        return false;
    }
    if v.bytes().all(|b| b.is_ascii_digit()) && v.len() < 12 {
        return false;
    }
    let e = validate::entropy(v);
    let classes = [
        v.bytes().any(|b| b.is_ascii_uppercase()),
        v.bytes().any(|b| b.is_ascii_lowercase()),
        v.bytes().any(|b| b.is_ascii_digit()),
        v.bytes().any(|b| !b.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|&&x| x)
    .count();
    if v.len() >= 16 {
        e >= 2.8
    } else {
        e >= 2.5 && classes >= 2
    }
}

fn check_assignment(c: &Candidate<'_>, out: &mut Vec<Verdict>) {
    let s = c.slice(c.start, c.end);
    let sb = s.as_bytes();
    let name_end = s
        .find(|ch: char| !(ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-')))
        .unwrap_or(s.len());
    let name = &s[..name_end];
    let login = !secret_name(name) && name_segments(name).last().is_some_and(|l| l == "login");
    if !secret_name(name) && !login {
        return;
    }
    let passwordish = name_segments(name)
        .iter()
        .any(|g| g.contains("pass") || g.contains("pwd") || g == "pw");
    // name ["'\]]? ws* operator ws* ["'`]? value ["'`]?
    let mut i = name_end;
    if i < sb.len() && matches!(sb[i], b'"' | b'\'' | b']') {
        i += 1;
    }
    let ws = |i: &mut usize| {
        while *i < sb.len() && matches!(sb[*i], b' ' | b'\t') {
            *i += 1;
        }
    };
    ws(&mut i);
    let op_start = i;
    let quoted_name = name_end < sb.len() && matches!(sb[name_end], b'"' | b'\'');
    if i < sb.len() && sb[i] == b',' {
        // `get("api_token", "...")`: a quoted name and a quoted value as call arguments.
        if !quoted_name {
            return;
        }
        i += 1;
    }
    while i < sb.len() && matches!(sb[i], b'=' | b':' | b'?' | b'>') {
        i += 1;
    }
    if i == op_start {
        // `--api-key value`: a bare space only separates a command-line flag from its value.
        let flag = c.start >= 2 && c.bytes()[c.start - 1] == b'-' && c.bytes()[c.start - 2] == b'-';
        if !flag {
            return;
        }
    }
    ws(&mut i);
    let quoted = i < sb.len() && matches!(sb[i], b'"' | b'\'' | b'`');
    let mut vstart = i;
    if quoted {
        vstart += 1;
    }
    let mut vend = s.len();
    if quoted && vend > vstart && matches!(sb[vend - 1], b'"' | b'\'' | b'`') {
        vend -= 1;
    }
    if vend <= vstart {
        return;
    }
    let value = &s[vstart..vend];
    // An unquoted value followed by `(` is a call, not a literal.
    if !quoted && c.after(c.end) == Some(b'(') {
        return;
    }
    // A login is usually a user name; only a long random value under it is a token.
    let min_len = if login {
        20
    } else if passwordish {
        8
    } else {
        10
    };
    if value.len() >= min_len && secret_value_ok(value) {
        push(
            out,
            SensitiveKind::Secret,
            c.start + vstart,
            c.start + vend,
            0.75,
        );
    }
}

// ---------------------------------------------------------------- the table

/// Every built-in detector. Patterns are ASCII-only and bytes-oriented; checks decide.
pub(crate) const BUILT_INS: &[BuiltIn] = &[
    BuiltIn {
        id: "email",
        kind: SensitiveKind::Email,
        pattern: r"[A-Za-z0-9._%+\-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.){1,8}(?:[A-Za-z]{2,24}|xn--[A-Za-z0-9]{2,59})",
        gate: Gate::LiteralsAnywhere(&["@"]),
        check: check_email,
        priority: 60,
    },
    BuiltIn {
        id: "digit_run",
        kind: SensitiveKind::CreditCard,
        pattern: r"[0-9](?:[ .\-/]?[0-9]){8,}",
        gate: Gate::DigitWindow {
            digits: 9,
            dots: 0,
            phone: false,
        },
        check: check_digit_run,
        priority: 80,
    },
    BuiltIn {
        id: "national_id",
        kind: SensitiveKind::NationalId,
        pattern: r"[A-Za-z]{6}[0-9LMNPQRSTUVlmnpqrstuv]{2}[A-Za-z][0-9LMNPQRSTUVlmnpqrstuv]{2}[A-Za-z][0-9LMNPQRSTUVlmnpqrstuv]{3}[A-Za-z]|[A-Z]{5}[0-9]{4}[A-Z]|[A-Za-z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-Da-d]|[XYZxyz0-9][0-9]{7}-?[A-Za-z]|[0-9]{3}\.[0-9]{3}\.[0-9]{3}-[0-9]{2}",
        gate: Gate::NationalIdShape,
        check: check_national_id,
        priority: 70,
    },
    BuiltIn {
        id: "phone",
        kind: SensitiveKind::Phone,
        pattern: r"\+[1-9][0-9]{0,2}(?:[ .\-]?\(?[0-9]{1,5}\)?)(?:[ .\-]?[0-9]{2,5}){1,5}|(?:1[ .\-]?)?(?:\([2-9][0-9]{2}\)[ .\-]?|[2-9][0-9]{2}[ .\-])[2-9][0-9]{2}[ .\-][0-9]{4}|0[0-9]{1,4}[ \-][0-9]{3,8}(?:[ \-][0-9]{2,5}){0,2}|1[3-9][0-9]{9}",
        gate: Gate::DigitWindow {
            digits: 8,
            dots: 0,
            phone: true,
        },
        check: check_phone,
        priority: 50,
    },
    BuiltIn {
        id: "iban",
        kind: SensitiveKind::Iban,
        pattern: r"[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,32}",
        gate: Gate::IbanShape,
        check: check_iban,
        priority: 85,
    },
    BuiltIn {
        id: "ipv4",
        kind: SensitiveKind::IpAddress,
        pattern: r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(?:/[0-9]{1,3})?",
        gate: Gate::DigitWindow {
            digits: 4,
            dots: 3,
            phone: false,
        },
        check: check_ipv4,
        priority: 45,
    },
    BuiltIn {
        id: "ipv6",
        kind: SensitiveKind::IpAddress,
        pattern: r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.[0-9]{1,3}){0,3}(?:%[0-9A-Za-z]{1,16})?(?:/[0-9]{1,4})?",
        gate: Gate::Ipv6Shape,
        check: check_ipv6,
        priority: 46,
    },
    BuiltIn {
        id: "jwt",
        kind: SensitiveKind::Jwt,
        pattern: r"eyJ[A-Za-z0-9_\-]{8,}={0,2}\.[A-Za-z0-9_\-]{2,}={0,2}(?:\.[A-Za-z0-9_\-]*)?",
        gate: Gate::Literals(&["eyJ"]),
        check: check_jwt,
        priority: 95,
    },
    BuiltIn {
        id: "private_key",
        kind: SensitiveKind::Secret,
        pattern: r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----",
        gate: Gate::LiteralsAnywhere(&["-----BEGIN "]),
        check: check_private_key,
        priority: 99,
    },
    BuiltIn {
        id: "aws_access_key_id",
        kind: SensitiveKind::Secret,
        pattern: r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}",
        gate: Gate::Literals(&["A3T", "AKIA", "ASIA", "ABIA", "ACCA"]),
        check: check_token_low_variety,
        priority: 90,
    },
    BuiltIn {
        id: "github_token",
        kind: SensitiveKind::Secret,
        pattern: r"gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}",
        gate: Gate::Literals(&["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"]),
        check: check_token,
        priority: 90,
    },
    BuiltIn {
        id: "gitlab_token",
        kind: SensitiveKind::Secret,
        pattern: r"glpat-[A-Za-z0-9_\-]{20,}(?:\.[A-Za-z0-9_\-]{6,})?|gl(?:dt|soat|cbt|rt|ft|ffct|cd|wt)-[A-Za-z0-9_\-]{20,}|glptt-[A-Za-z0-9_\-]{40}|gloas-[A-Za-z0-9_\-]{64}|glagent-[A-Za-z0-9_\-]{50,}|glimt-[A-Za-z0-9_\-]{25}|GR1348941[A-Za-z0-9_\-]{20,}",
        gate: Gate::Literals(&[
            "glpat-",
            "gldt-",
            "glsoat-",
            "glcbt-",
            "glrt-",
            "glft-",
            "glffct-",
            "glcd-",
            "glwt-",
            "glptt-",
            "gloas-",
            "glagent-",
            "glimt-",
            "GR1348941",
        ]),
        check: check_token,
        priority: 90,
    },
    BuiltIn {
        id: "slack_token",
        kind: SensitiveKind::Secret,
        pattern: r"xox[abposre]-(?:[0-9]-)?[0-9]{6,}-[0-9A-Za-z\-]{8,}|xox[a-z]\.xox[a-z]-[0-9]-[A-Za-z0-9]{40,}|xoxe-[0-9]-[A-Za-z0-9]{40,}|xapp-[0-9]-[A-Z0-9]{9,}-[0-9]{9,}-[a-z0-9]{32,}",
        gate: Gate::Literals(&["xox", "xapp-"]),
        check: check_token_low_variety,
        priority: 90,
    },
    BuiltIn {
        id: "slack_webhook",
        kind: SensitiveKind::Secret,
        pattern: r"hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9+/_]{20,}",
        gate: Gate::Literals(&["hooks.slack.com/"]),
        check: check_structural_secret,
        priority: 90,
    },
    BuiltIn {
        id: "stripe_key",
        kind: SensitiveKind::Secret,
        pattern: r"(?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{10,}",
        gate: Gate::Literals(&[
            "sk_live_", "sk_test_", "sk_prod_", "rk_live_", "rk_test_", "rk_prod_",
        ]),
        check: check_token,
        priority: 90,
    },
    BuiltIn {
        id: "google_api_key",
        kind: SensitiveKind::Secret,
        pattern: r"AIza[0-9A-Za-z_\-]{35}",
        gate: Gate::Literals(&["AIza"]),
        check: check_token,
        priority: 90,
    },
    BuiltIn {
        id: "sendgrid_key",
        kind: SensitiveKind::Secret,
        pattern: r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}",
        gate: Gate::Literals(&["SG."]),
        check: check_token,
        priority: 90,
    },
    BuiltIn {
        id: "openai_key",
        kind: SensitiveKind::Secret,
        pattern: r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}T3BlbkFJ[A-Za-z0-9_\-]{16,}|sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{80,}",
        gate: Gate::Literals(&["sk-"]),
        check: check_token,
        priority: 90,
    },
    BuiltIn {
        id: "anthropic_key",
        kind: SensitiveKind::Secret,
        pattern: r"sk-ant-(?:api|admin)[0-9]{2}-[A-Za-z0-9_\-]{93}AA",
        gate: Gate::Literals(&["sk-ant-"]),
        check: check_token,
        priority: 90,
    },
    BuiltIn {
        id: "huggingface_token",
        kind: SensitiveKind::Secret,
        pattern: r"hf_[A-Za-z]{34}|api_org_[A-Za-z]{34}",
        gate: Gate::Literals(&["hf_", "api_org_"]),
        check: check_token,
        priority: 90,
    },
    BuiltIn {
        id: "package_registry_token",
        kind: SensitiveKind::Secret,
        pattern: r"npm_[A-Za-z0-9]{36}|pypi-Ag[A-Za-z0-9_\-]{100,}|rubygems_[a-f0-9]{48}",
        gate: Gate::Literals(&["npm_", "pypi-Ag", "rubygems_"]),
        check: check_token,
        priority: 90,
    },
    BuiltIn {
        id: "twilio_key",
        kind: SensitiveKind::Secret,
        pattern: r"(?:SK|AC)[0-9a-f]{32}",
        gate: Gate::Literals(&["SK", "AC"]),
        check: check_token,
        priority: 90,
    },
    BuiltIn {
        id: "mailchimp_key",
        kind: SensitiveKind::Secret,
        pattern: r"[0-9a-f]{32}-us[0-9]{1,2}",
        gate: Gate::Literals(&["-us"]),
        check: check_token,
        priority: 90,
    },
    BuiltIn {
        id: "telegram_bot_token",
        kind: SensitiveKind::Secret,
        pattern: r"[0-9]{8,10}:AA[0-9A-Za-z_\-]{33}",
        gate: Gate::Literals(&[":AA"]),
        check: check_token,
        priority: 90,
    },
    BuiltIn {
        id: "discord_bot_token",
        kind: SensitiveKind::Secret,
        pattern: r"[MNO][A-Za-z0-9_\-]{23,25}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,}",
        gate: Gate::DiscordShape,
        check: check_token,
        priority: 90,
    },
    BuiltIn {
        id: "azure_storage_key",
        kind: SensitiveKind::Secret,
        pattern: r"AccountKey=[A-Za-z0-9+/]{80,100}={0,2}",
        gate: Gate::Literals(&["AccountKey="]),
        check: check_structural_secret,
        priority: 90,
    },
    BuiltIn {
        id: "azure_ad_client_secret",
        kind: SensitiveKind::Secret,
        pattern: r"[A-Za-z0-9_~.\-]{3}[0-9]Q~[A-Za-z0-9_~.\-]{31,34}",
        gate: Gate::Literals(&["Q~"]),
        check: check_token,
        priority: 90,
    },
    BuiltIn {
        id: "onepassword_token",
        kind: SensitiveKind::Secret,
        pattern: r"ops_eyJ[A-Za-z0-9+/]{100,}={0,3}|A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}",
        gate: Gate::Literals(&["ops_eyJ", "A3-"]),
        check: check_token,
        priority: 90,
    },
    BuiltIn {
        id: "age_secret_key",
        kind: SensitiveKind::Secret,
        pattern: r"AGE-SECRET-KEY-1[0-9A-Z]{58}",
        gate: Gate::Literals(&["AGE-SECRET-KEY-1"]),
        check: check_structural_secret,
        priority: 90,
    },
    BuiltIn {
        id: "saas_token",
        kind: SensitiveKind::Secret,
        pattern: r"dapi[a-f0-9]{32}(?:-[0-9])?|dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}|shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}|sntr(?:ys|yu)_[A-Za-z0-9+/=_]{50,}|fo1_[A-Za-z0-9_\-]{40,50}|FlyV1 fm[12][ar]?_[A-Za-z0-9+/=_]{50,}|hv[sb]\.[A-Za-z0-9_\-]{90,}|[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=\-]{60,70}|HRKU-AA[0-9A-Za-z_\-]{58}|glc_[A-Za-z0-9+/]{32,400}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|sq0(?:atp|csp)-[0-9A-Za-z_\-]{22,43}|EAAA[A-Za-z0-9_\-]{60}|EAA[A-Za-z0-9]{90,}|sha256~[A-Za-z0-9_\-]{43}|ico-[A-Za-z0-9]{32}|s-s4t2(?:ud|af)-[a-f0-9]{64}|pplx-[A-Za-z0-9]{48}|sq[pua]_[A-Za-z0-9]{40}|sgp_(?:[A-Fa-f0-9]{16}_|local_)?[A-Fa-f0-9]{40}|tk-us-[A-Za-z0-9_\-]{48}|API-[A-Z0-9]{26}|ATATT3[A-Za-z0-9_\-=]{150,}|4b1d[A-Za-z0-9]{38}|v1\.0-[a-f0-9]{24}-[a-f0-9]{146}|[0-9]{15,16}\|[A-Za-z0-9_\-]{27}|doo_v1_[a-f0-9]{64}|dop_v1_[a-f0-9]{64}|lin_api_[A-Za-z0-9]{40}|pat[A-Za-z0-9]{14}\.[a-f0-9]{64}|xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}|CLOJARS_[a-z0-9]{60}|AKCp[A-Za-z0-9]{69}|cmVmdGtu[A-Za-z0-9]{56}|LTAI[A-Za-z0-9]{20}|p8e-[A-Za-z0-9]{32}|CFPAT-[A-Za-z0-9_\-]{43}|dor_v1_[a-f0-9]{64}|duffel_(?:test|live)_[A-Za-z0-9_\-=]{43}|dt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}|EZ[AT]K[A-Za-z0-9]{54}|fio-u-[A-Za-z0-9_\-=]{64}|NRAK-[A-Z0-9]{27}|PMAK-[a-f0-9]{24}-[a-f0-9]{34}|pul-[a-f0-9]{40}|pscale_(?:tkn|pw|oauth)_[A-Za-z0-9=_.\-]{32,64}|pnu_[A-Za-z0-9]{36}|rdme_[a-z0-9]{70}|shippo_(?:live|test)_[a-f0-9]{40}|whsec_[A-Za-z0-9]{32,}|tfp_[A-Za-z0-9_.=\-]{59}|GOCSPX-[A-Za-z0-9_\-]{28}|ya29\.[A-Za-z0-9_\-]{30,}|key-[0-9a-f]{32}|SharedAccessKey=[A-Za-z0-9+/]{43}=|dnkey-[a-z0-9=_\-]{26}-[a-z0-9=_\-]{52}|sl\.[A-Za-z0-9=_\-]{135}|FLWSECK(?:_TEST)?-[a-h0-9]{32}-X|pubkey-[a-f0-9]{32}|sk\.eyJ1[A-Za-z0-9_\-]{40,}\.[A-Za-z0-9_\-]{20,}|NRII-[a-z0-9\-]{32}|NRJS-[a-f0-9]{19}|access-(?:sandbox|development|production)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|AAAAAAAAAAAAAAAAAAAAA[A-Za-z0-9%]{30,}|AQVN[A-Za-z0-9_\-]{35,38}|sk-or-v1-[a-f0-9]{64}|gsk_[A-Za-z0-9]{52}|xai-[A-Za-z0-9]{80}|r8_[A-Za-z0-9]{37}|lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}",
        gate: Gate::Literals(&[
            "dapi",
            "dp.pt.",
            "dp.st.",
            "dp.sa.",
            "dp.ct.",
            "dp.scim.",
            "dp.audit.",
            "shpat_",
            "shpca_",
            "shppa_",
            "shpss_",
            "sntrys_",
            "sntryu_",
            "fo1_",
            "FlyV1 fm",
            "hvs.",
            "hvb.",
            ".atlasv1.",
            "HRKU-AA",
            "glc_",
            "glsa_",
            "sq0atp-",
            "sq0csp-",
            "EAA",
            "sha256~",
            "ico-",
            "s-s4t2",
            "pplx-",
            "sqp_",
            "squ_",
            "sqa_",
            "sgp_",
            "tk-us-",
            "API-",
            "ATATT3",
            "4b1d",
            "v1.0-",
            "|",
            "doo_v1_",
            "dop_v1_",
            "lin_api_",
            "pat",
            "xkeysib-",
            "CLOJARS_",
            "AKCp",
            "cmVmdGtu",
            "LTAI",
            "p8e-",
            "CFPAT-",
            "dor_v1_",
            "duffel_",
            "dt0c01.",
            "EZAK",
            "EZTK",
            "fio-u-",
            "NRAK-",
            "PMAK-",
            "pul-",
            "pscale_",
            "pnu_",
            "rdme_",
            "shippo_",
            "whsec_",
            "tfp_",
            "GOCSPX-",
            "ya29.",
            "key-",
            "SharedAccessKey=",
            "dnkey-",
            "sl.",
            "FLWSECK",
            "sk.eyJ1",
            "NRII-",
            "NRJS-",
            "access-sandbox-",
            "access-development-",
            "access-production-",
            "AAAAAAAAAAAAAAAAAAAAA",
            "AQVN",
            "sk-or-v1-",
            "gsk_",
            "xai-",
            "r8_",
            "lsv2_",
        ]),
        check: check_token,
        priority: 90,
    },
    BuiltIn {
        id: "maxmind_license_key",
        kind: SensitiveKind::Secret,
        pattern: r"[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk",
        gate: Gate::Literals(&["_mmk"]),
        check: check_token,
        priority: 90,
    },
    BuiltIn {
        id: "softlayer_api_url",
        kind: SensitiveKind::Secret,
        pattern: r"api\.softlayer\.com/soap/v3(?:\.1)?/[a-z0-9]{64}",
        gate: Gate::Literals(&["api.softlayer.com/"]),
        check: check_structural_secret,
        priority: 92,
    },
    BuiltIn {
        id: "sourcegraph_legacy_token",
        kind: SensitiveKind::Secret,
        pattern: r"[a-fA-F0-9]{40}",
        gate: Gate::LiteralsCi(&["sourcegraph"]),
        check: check_sourcegraph,
        priority: 88,
    },
    BuiltIn {
        id: "sumologic_access_id",
        kind: SensitiveKind::Secret,
        pattern: r"su[A-Za-z0-9]{12}",
        gate: Gate::LiteralsCi(&["sumo"]),
        check: check_sumologic,
        priority: 88,
    },
    BuiltIn {
        id: "aws_bedrock_long_lived_key",
        kind: SensitiveKind::Secret,
        // `ABSK` and the base64 of `BedrockAPIKey-`.
        pattern: r"ABSKQmVkcm9ja0FQSUtleS[A-Za-z0-9+/]{91,251}={0,2}",
        gate: Gate::Literals(&["ABSKQmVkcm9ja0FQSUtleS"]),
        check: check_prefixed_structure,
        priority: 90,
    },
    BuiltIn {
        id: "artifactory_token",
        kind: SensitiveKind::Secret,
        pattern: r"AKC[A-Za-z0-9]{10,}|AP[0-9A-F][A-Za-z0-9]{8,}",
        gate: Gate::LiteralsAnywhere(&["AKC", "AP"]),
        check: check_artifactory,
        priority: 85,
    },
    BuiltIn {
        id: "gcp_service_account_key",
        kind: SensitiveKind::Secret,
        pattern: r#""type"[ \t]*:[ \t]*"service_account""#,
        gate: Gate::LiteralsAnywhere(&["service_account"]),
        check: check_structural_secret,
        priority: 90,
    },
    BuiltIn {
        id: "aws_bedrock_short_lived_key",
        kind: SensitiveKind::Secret,
        pattern: r"bedrock-api-key-[A-Za-z0-9+/]{20,}={0,2}",
        gate: Gate::Literals(&["bedrock-api-key-"]),
        check: check_bedrock,
        priority: 90,
    },
    BuiltIn {
        id: "notion_token",
        kind: SensitiveKind::Secret,
        pattern: r"ntn_[0-9]{11}[A-Za-z0-9]{35}",
        gate: Gate::Literals(&["ntn_"]),
        check: check_notion,
        priority: 90,
    },
    BuiltIn {
        id: "vault_legacy_token",
        kind: SensitiveKind::Secret,
        pattern: r"s\.[A-Za-z0-9]{24}",
        gate: Gate::Literals(&["s."]),
        check: check_vault_legacy,
        priority: 90,
    },
    BuiltIn {
        id: "url_credentials",
        kind: SensitiveKind::Secret,
        pattern: r#"[A-Za-z][A-Za-z0-9+.\-]{1,15}://[^\s:/@"'<>]{0,64}:[^\s/@"'<>]{1,128}@[A-Za-z0-9][A-Za-z0-9.\-_]*"#,
        gate: Gate::LiteralsAnywhere(&["://"]),
        check: check_url_credentials,
        priority: 92,
    },
    BuiltIn {
        id: "curl_user",
        kind: SensitiveKind::Secret,
        pattern: r"curl\s(?:(?:[^\n\\]|\\[\s\S])*?\s)?(?:-u|--user)\s",
        gate: Gate::LiteralsAnywhere(&["curl"]),
        check: check_curl_user,
        priority: 92,
    },
    BuiltIn {
        id: "authorization_header",
        kind: SensitiveKind::Secret,
        pattern: r#"(?i:authorization|x-api-key|x-auth-token|api-token)["']?[ \t]*[:=][ \t]*["']?(?:(?i:bearer|basic|token|api-token|apikey|digest|negotiate)[ \t]+)?[A-Za-z0-9+/=._~\-@!]{8,}"#,
        gate: Gate::LiteralsCi(&["authorization", "x-api-key", "x-auth-token", "api-token"]),
        check: check_auth_header,
        priority: 88,
    },
    BuiltIn {
        id: "bundler_credentials",
        kind: SensitiveKind::Secret,
        pattern: r#"BUNDLE_[A-Z0-9_]+__[A-Z]+["']?[ \t]*[:=][ \t]*["']?[A-Za-z0-9]+:[A-Za-z0-9]+"#,
        gate: Gate::LiteralsAnywhere(&["BUNDLE_"]),
        check: check_bundler,
        priority: 90,
    },
    BuiltIn {
        id: "keyword_assignment",
        kind: SensitiveKind::Secret,
        pattern: r#"(?:[A-Za-z_][A-Za-z0-9_.\-]{0,60})?(?i:pass|pwd|secret|token|key|auth|credential|pw|login)[A-Za-z0-9_.\-]{0,40}["'\]]?(?:[ \t]{0,8}(?:=|:=|::=|:::=|\?=|=>|:|,)[ \t]{0,8}|[ \t]+)(?:"[^"\r\n]{1,256}"|'[^'\r\n]{1,256}'|`[^`\r\n]{1,256}`|[^\s"'`,;<>(){}\[\]]{1,256})"#,
        gate: Gate::Keyword(&[
            "pass",
            "pwd",
            "secret",
            "token",
            "key",
            "auth",
            "credential",
            "pw",
            "login",
        ]),
        check: check_assignment,
        priority: 40,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for n in [
            "password",
            "api_key",
            "IBMCLOUDIAMAPIKEY",
            "clientSecret",
            "HEROKU_KEY",
            "access_token",
            "sl_pass",
            "user_auth",
        ] {
            assert!(secret_name(n), "{n}");
        }
        for n in [
            "public_key",
            "token_url",
            "kms_key_id",
            "keyPressed",
            "csrf-token",
            "key",
            "author",
            "monkey",
        ] {
            assert!(!secret_name(n), "{n}");
        }
    }

    #[test]
    fn segments_split_camel_and_snake() {
        assert_eq!(
            name_segments("ibm_cloudIamApiKey"),
            ["ibm", "cloud", "iam", "api", "key"]
        );
    }

    /// Every provider format fires on a random-looking body and not on a placeholder one.
    #[test]
    fn provider_formats() {
        let c = crate::Classifier::builtin();
        let mut seed = 0x5EC2E7u64;
        let mut random = |n: usize, alphabet: &[u8]| -> String {
            (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    char::from(alphabet[(seed >> 33) as usize % alphabet.len()])
                })
                .collect()
        };
        let alnum = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let hex = b"0123456789abcdef";
        let upper = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let tokens = [
            format!("AKIA{}", random(16, upper)),
            format!("ghp_{}", random(36, alnum)),
            format!("glpat-{}", random(20, alnum)),
            format!("xoxb-{}-{}", random(12, b"0123456789"), random(24, alnum)),
            format!("sk_live_{}", random(24, alnum)),
            format!("AIza{}", random(35, alnum)),
            format!("SG.{}.{}", random(22, alnum), random(43, alnum)),
            format!(
                "hf_{}",
                random(34, b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
            ),
            format!("npm_{}", random(36, alnum)),
            format!("SK{}", random(32, hex)),
            format!("{}-us12", random(32, hex)),
            format!("123456789:AA{}", random(33, alnum)),
            format!("AKCp{}", random(69, alnum)),
            format!("GOCSPX-{}", random(28, alnum)),
            format!("whsec_{}", random(32, alnum)),
            format!("NRAK-{}", random(27, upper)),
            format!("dapi{}", random(32, hex)),
            format!("shpat_{}", random(32, hex)),
        ];
        for t in &tokens {
            let text = format!("value: {t} end");
            let m = c.scan_text(&text);
            assert!(
                m.iter()
                    .any(|m| m.kind == SensitiveKind::Secret && &text[m.start..m.end] == t),
                "{t} -> {m:?}"
            );
        }
        for placeholder in [
            "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "AKIAXXXXXXXXXXXXXXXX",
        ] {
            assert!(c.scan_text(placeholder).is_empty(), "{placeholder}");
        }
    }

    #[test]
    fn provider_formats_without_prefix_need_their_word() {
        let c = crate::Classifier::builtin();
        let secret = |t: &str| {
            c.scan_text(t)
                .iter()
                .any(|m| m.kind == SensitiveKind::Secret)
        };
        assert!(secret(r#"SUMO_ACCESS_ID = "suQ3xT7bLk9pZw""#));
        assert!(!secret("sumObj = suQ3xT7bLk9pZw"));
        assert!(!secret(r#"access_id = "suQ3xT7bLk9pZw""#));
        assert!(secret(
            "sourcegraph: 9f3b2c71ad04e8b6c5d7a1e0f2b49c83d6e17a5b"
        ));
        assert!(!secret("commit 9f3b2c71ad04e8b6c5d7a1e0f2b49c83d6e17a5b"));
        assert!(secret("X-JFrog-Art-Api: AKCp2WXCWmk3u8Hq"));
        assert!(secret("password=AP6Gq2Tz81bN"));
        assert!(!secret("see APACHEHTTPDCONF"));
        assert!(!secret("testAKCwithinsomeirrelevantstring"));
        assert!(!secret(&format!("key := AKCp{}", "X".repeat(69))));
    }

    #[test]
    fn secret_values() {
        assert!(secret_value_ok("hE1hlYILrSqpqh9v2x"));
        assert!(!secret_value_ok("X25519.secret_length"));
        assert!(!secret_value_ok("K8S_CRED"));
        assert!(!secret_value_ok("${API_KEY}"));
        assert!(!secret_value_ok("env/cert.p12"));
    }
}
