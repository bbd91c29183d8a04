//! The single pass that decides which detectors have a candidate in a text. One byte loop
//! collects the digit windows, the IBAN, national-id and IPv6 shapes and the token runs
//! (stretches without blanks, quotes or brackets of at least `MIN_TOKEN_RUN` bytes); the
//! provider prefixes (`ghp_`, `AKIA`, `xoxb-` ...) are searched only inside those runs,
//! the case-insensitive words (secret keywords, sensitive field-name words) in the
//! lowercased text with a vectorised multi-literal search, and the few literals that may
//! sit among blanks (`-----BEGIN `, `://`, `@`) in the whole text. A detector's own pattern
//! only runs when its gate holds, so the cost of a text without candidates does not grow
//! with the number of detectors.

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};

use crate::builtin::Gate;
use crate::context::FIELD_NAME_HINTS;

/// Words (ASCII case-insensitive) that every field name `kind_from_field_name` labels
/// contains; a cheap way to know a body has no such field.
const FIELD_NAME_WORDS: [&str; 29] = [
    "pass", "pwd", "secret", "token", "key", "auth", "cred", "addr", "street", "birth", "dob",
    "ssn", "social", "phone", "tel", "mobile", "cell", "msisdn", "fax", "card", "dni", "nif",
    "nie", "nino", "cpf", "aadhaar", "national", "cookie", "steuer",
];

/// Whether a case-insensitive word is searched on its own rather than with the others in
/// `Prefilter::words`: words of fewer than three bytes (`pw`), so that `words` can use
/// three-byte fingerprints, and `name`, which JSON API bodies hold once per record: a search
/// for the one word reports each at a fraction of the cost of restarting the multi-word
/// search after it. No other word starts with `name` or is a start of it, so the
/// leftmost-longest `words` search reports the other words as it would with `name` among
/// them.
fn searched_alone(word: &[u8]) -> bool {
    word.len() < 3 || word == b"name"
}

/// Qualifiers that make `name` a person's name (`first_name`, `lastName`, `surname`), or
/// an identifier (`codice`).
const NAME_QUALIFIERS: [&[u8]; 19] = [
    b"first",
    b"last",
    b"full",
    b"given",
    b"family",
    b"middle",
    b"maiden",
    b"display",
    b"customer",
    b"holder",
    b"contact",
    b"recipient",
    b"billing",
    b"shipping",
    b"legal",
    b"real",
    b"sur",
    b"fore",
    b"codice",
];

/// Shortest match of a detector gated by `Gate::Literals` (a JWT: `eyJ`, 8, `.`, 2).
pub(crate) const MIN_TOKEN_RUN: usize = 14;

/// Bytes that end a token run: blanks, quotes, brackets and separators of lists and
/// query strings. No `Gate::Literals` detector matches across one.
const DELIMITER: [bool; 256] = {
    let mut t = [false; 256];
    let delims = b" \t\r\n\"'`,;{}[]()<>\\&?#";
    let mut i = 0;
    while i < delims.len() {
        t[delims[i] as usize] = true;
        i += 1;
    }
    t
};

/// What an occurrence of a literal means.
#[derive(Clone, Copy, Debug)]
enum Target {
    /// The pattern with this index may match.
    Pattern(usize),
    /// Like `Pattern`, when an assignment follows (see `Gate::Keyword`).
    Keyword(usize),
    /// The text may hold a sensitive field name.
    FieldHint,
    /// `name`: a field hint when a qualifier comes before it (`first_name`).
    QualifiedName,
    /// A word `kind_from_field_name` looks for that is no field hint on its own (`cc`):
    /// only its position is kept.
    KeyWord,
}

/// One automaton and what each of its patterns means.
#[derive(Debug)]
struct Group {
    ac: AhoCorasick,
    /// Per automaton pattern: the targets of it and of every literal it starts with (a
    /// leftmost-longest search reports only the longest literal at a position).
    targets: Vec<Vec<Target>>,
}

impl Group {
    fn new(lits: &[(Vec<u8>, Target)], kind: MatchKind) -> Result<Group, String> {
        let mut texts: Vec<&[u8]> = Vec::new();
        for (bytes, _) in lits {
            if !texts.contains(&bytes.as_slice()) {
                texts.push(bytes);
            }
        }
        let targets = texts
            .iter()
            .map(|t| {
                lits.iter()
                    .filter(|(l, _)| {
                        if kind == MatchKind::Standard {
                            l.as_slice() == *t
                        } else {
                            t.starts_with(l)
                        }
                    })
                    .map(|(_, target)| *target)
                    .collect()
            })
            .collect();
        let ac = AhoCorasick::builder()
            .match_kind(kind)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&texts)
            .map_err(|e| e.to_string())?;
        Ok(Group { ac, targets })
    }

    /// Every position where some literal starts, with the longest literal there.
    fn each_start(&self, hay: &[u8], mut f: impl FnMut(&[Target], usize, usize)) {
        let mut pos = 0;
        while pos < hay.len() {
            let Some(m) = self.ac.find(Input::new(hay).span(pos..hay.len())) else {
                break;
            };
            f(&self.targets[m.pattern().as_usize()], m.start(), m.end());
            pos = m.start() + 1;
        }
    }
}

/// A maximal run of digits and number separators.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DigitWindow {
    pub start: usize,
    pub end: usize,
    pub digits: usize,
    pub dots: usize,
    /// Whether a phone layout fits: a `+`, a digit group of at least three after the
    /// first group, or a group of at least eleven digits.
    pub phone_shape: bool,
}

/// Shape gates found while collecting digit windows.
#[derive(Clone, Copy, Debug, Default)]
struct Shapes {
    iban: bool,
    national_id: bool,
    ipv6: bool,
}

/// The result of one prefilter pass, kept in a per-thread scratch between calls.
#[derive(Debug, Default)]
pub(crate) struct Activation {
    /// Per pattern: whether its gate holds.
    pub active: Vec<bool>,
    /// Digit windows with at least four digits, in order.
    pub windows: Vec<DigitWindow>,
    /// Whether the text may contain a sensitive field name.
    pub field_hint: bool,
    /// Ascending start offsets of every word that `kind_from_field_name` looks for (field
    /// hints, `name`, `cc`, `pan`): a key holding none of them names no kind.
    pub key_words: Vec<usize>,
    /// The text in ASCII lowercase.
    lower: Vec<u8>,
    /// Token runs of at least `MIN_TOKEN_RUN` bytes.
    runs: Vec<(usize, usize)>,
}

/// The compiled gates of every pattern of a classifier.
#[derive(Debug)]
pub(crate) struct Prefilter {
    /// Case-insensitive words, searched in the lowercased text.
    words: Group,
    /// Case-insensitive words searched on their own (`searched_alone`).
    lone_words: Vec<(memchr::memmem::Finder<'static>, Target)>,
    /// Single-byte literals searched in the whole text (`@`).
    anywhere_bytes: Vec<(u8, usize)>,
    /// Longer literals searched in the whole text.
    anywhere: Option<Group>,
    /// Literals searched in token runs only (overlapping, so every occurrence counts).
    tokens: Option<Group>,
    iban: Vec<usize>,
    national_id: Vec<usize>,
    ipv6: Vec<usize>,
    discord: Vec<usize>,
    patterns: usize,
}

impl Prefilter {
    /// Compile the gates; `gates[i]` belongs to pattern `i` (`None`: no gate of its own).
    pub fn new(gates: &[Option<Gate>]) -> Result<Prefilter, String> {
        let mut words: Vec<(Vec<u8>, Target)> = Vec::new();
        let mut anywhere: Vec<(Vec<u8>, Target)> = Vec::new();
        let mut tokens: Vec<(Vec<u8>, Target)> = Vec::new();
        let (mut iban, mut national_id, mut ipv6, mut discord) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (i, gate) in gates.iter().enumerate() {
            match *gate {
                Some(Gate::Literals(l)) => {
                    for w in l {
                        let w = w.as_bytes().to_vec();
                        if w.iter().any(|&c| DELIMITER[usize::from(c)]) {
                            anywhere.push((w, Target::Pattern(i)));
                        } else {
                            tokens.push((w, Target::Pattern(i)));
                        }
                    }
                }
                Some(Gate::LiteralsAnywhere(l)) => {
                    anywhere.extend(
                        l.iter()
                            .map(|w| (w.as_bytes().to_vec(), Target::Pattern(i))),
                    );
                }
                Some(Gate::LiteralsCi(l)) => words.extend(
                    l.iter()
                        .map(|w| (w.to_ascii_lowercase().into_bytes(), Target::Pattern(i))),
                ),
                Some(Gate::Keyword(l)) => words.extend(
                    l.iter()
                        .map(|w| (w.to_ascii_lowercase().into_bytes(), Target::Keyword(i))),
                ),
                Some(Gate::IbanShape) => iban.push(i),
                Some(Gate::NationalIdShape) => national_id.push(i),
                Some(Gate::Ipv6Shape) => ipv6.push(i),
                Some(Gate::DiscordShape) => discord.push(i),
                Some(Gate::DigitWindow { .. }) | None => {}
            }
        }
        words.extend(
            FIELD_NAME_WORDS
                .iter()
                .map(|w| (w.as_bytes().to_vec(), Target::FieldHint)),
        );
        words.push((b"name".to_vec(), Target::QualifiedName));
        // The rest of the words `kind_from_field_name` looks for (`cc`, `pan`), so that
        // `key_words` holds the offset of every one of them.
        words.extend(
            FIELD_NAME_HINTS
                .iter()
                .filter(|w| **w != "name" && !FIELD_NAME_WORDS.contains(w))
                .map(|w| (w.to_ascii_lowercase().into_bytes(), Target::KeyWord)),
        );
        // What `searched_alone` relies on: a lone word of three or more bytes shares no start
        // with a word of `words` (a leftmost-longest search would report only the longer).
        for (lone, _) in words
            .iter()
            .filter(|(w, _)| w.len() >= 3 && searched_alone(w))
        {
            if let Some((other, _)) = words
                .iter()
                .find(|(w, _)| !searched_alone(w) && (w.starts_with(lone) || lone.starts_with(w)))
            {
                return Err(format!(
                    "word {:?} is searched alone but shares a start with {:?}",
                    String::from_utf8_lossy(lone),
                    String::from_utf8_lossy(other)
                ));
            }
        }
        let optional = |lits: &[(Vec<u8>, Target)], kind| {
            if lits.is_empty() {
                Ok(None)
            } else {
                Group::new(lits, kind).map(Some)
            }
        };
        Ok(Prefilter {
            lone_words: words
                .iter()
                .filter(|(w, _)| searched_alone(w))
                .map(|(w, t)| (memchr::memmem::Finder::new(w).into_owned(), *t))
                .collect(),
            words: Group::new(
                &words
                    .iter()
                    .filter(|(w, _)| !searched_alone(w))
                    .cloned()
                    .collect::<Vec<_>>(),
                MatchKind::LeftmostLongest,
            )?,
            anywhere_bytes: anywhere
                .iter()
                .filter_map(|(w, t)| match (w.as_slice(), t) {
                    ([b], Target::Pattern(p)) => Some((*b, *p)),
                    _ => None,
                })
                .collect(),
            anywhere: optional(
                &anywhere
                    .iter()
                    .filter(|(w, _)| w.len() > 1)
                    .cloned()
                    .collect::<Vec<_>>(),
                MatchKind::LeftmostLongest,
            )?,
            tokens: optional(&tokens, MatchKind::Standard)?,
            iban,
            national_id,
            ipv6,
            discord,
            patterns: gates.len(),
        })
    }

    /// One pass over `b`: which patterns may match, the digit windows, the field hint.
    pub fn run(&self, b: &[u8], out: &mut Activation) {
        out.active.clear();
        out.active.resize(self.patterns, false);
        out.field_hint = false;
        out.key_words.clear();
        out.lower.clear();
        // Branch-free, so that it vectorises.
        out.lower.extend(
            b.iter()
                .map(|&c| c | (u8::from(c.wrapping_sub(b'A') < 26) << 5)),
        );
        let shapes = scan_bytes(b, &mut out.windows, &mut out.runs);
        let Activation {
            active,
            field_hint,
            key_words,
            lower,
            runs,
            ..
        } = out;
        for &(byte, p) in &self.anywhere_bytes {
            if !active[p] && memchr::memchr(byte, b).is_some() {
                active[p] = true;
            }
        }
        let mut hit = |targets: &[Target], hay: &[u8], start: usize, end: usize| {
            for &t in targets {
                match t {
                    Target::Pattern(p) => active[p] = true,
                    Target::Keyword(p) => {
                        if !active[p] && keyword_tail(hay, end) {
                            active[p] = true;
                        }
                    }
                    Target::FieldHint => {
                        *field_hint = true;
                        key_words.push(start);
                    }
                    Target::QualifiedName => {
                        key_words.push(start);
                        if !*field_hint && qualified_name(hay, start) {
                            *field_hint = true;
                        }
                    }
                    Target::KeyWord => key_words.push(start),
                }
            }
        };
        self.words
            .each_start(lower, |t, start, end| hit(t, lower, start, end));
        if let Some(g) = &self.anywhere {
            g.each_start(b, |t, start, end| hit(t, b, start, end));
        }
        for (finder, target) in &self.lone_words {
            for start in finder.find_iter(lower.as_slice()) {
                hit(
                    std::slice::from_ref(target),
                    lower,
                    start,
                    start + finder.needle().len(),
                );
            }
        }
        if let Some(g) = &self.tokens {
            for &(start, end) in runs.iter() {
                for m in g.ac.find_overlapping_iter(Input::new(b).span(start..end)) {
                    hit(&g.targets[m.pattern().as_usize()], b, m.start(), m.end());
                }
            }
        }
        // The lone words were searched apart: keep the offsets ascending.
        if !key_words.is_sorted() {
            key_words.sort_unstable();
        }
        if shapes.iban {
            for &p in &self.iban {
                active[p] = true;
            }
        }
        if shapes.national_id {
            for &p in &self.national_id {
                active[p] = true;
            }
        }
        if shapes.ipv6 {
            for &p in &self.ipv6 {
                active[p] = true;
            }
        }
        if !self.discord.is_empty() && discord_shape(b) {
            for &p in &self.discord {
                active[p] = true;
            }
        }
    }
}

/// Whether a person-name qualifier (`first`, `last_`, `given-`) ends where `name` starts in
/// the lowercased text.
fn qualified_name(lower: &[u8], at: usize) -> bool {
    let end = if at > 0 && matches!(lower[at - 1], b'_' | b'-') {
        at - 1
    } else {
        at
    };
    NAME_QUALIFIERS.iter().any(|q| lower[..end].ends_with(q))
}

/// After a secret word: more name characters (up to 40), an optional closing quote or
/// bracket, then an assignment operator or a blank.
fn keyword_tail(b: &[u8], end: usize) -> bool {
    let mut i = end;
    let limit = (end + 40).min(b.len());
    while i < limit && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'.' | b'-')) {
        i += 1;
    }
    if i < b.len() && matches!(b[i], b'"' | b'\'' | b']') {
        i += 1;
    }
    i < b.len() && matches!(b[i], b' ' | b'\t' | b':' | b'=' | b',' | b'?')
}

/// Bytes that may occur inside a written number: digits and ` .-/()+`.
const NUMBER_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut d = b'0';
    while d <= b'9' {
        t[d as usize] = true;
        d += 1;
    }
    t[b' ' as usize] = true;
    t[b'.' as usize] = true;
    t[b'-' as usize] = true;
    t[b'/' as usize] = true;
    t[b'(' as usize] = true;
    t[b')' as usize] = true;
    t[b'+' as usize] = true;
    t
};

/// Bytes that can open a written number.
const NUMBER_OPENER: [bool; 256] = {
    let mut t = [false; 256];
    let mut d = b'0';
    while d <= b'9' {
        t[d as usize] = true;
        d += 1;
    }
    t[b'(' as usize] = true;
    t[b'+' as usize] = true;
    t
};

/// Classes of `BYTE_CLASS`.
const PLAIN: u8 = 0;
const DELIM: u8 = 1;
const OPENER: u8 = 2;
const COLON: u8 = 3;

/// Per byte: `OPENER` if it can open a written number, else `DELIM` if it ends a token
/// run, else `PLAIN`.
const BYTE_CLASS: [u8; 256] = {
    let mut t = [PLAIN; 256];
    let mut c = 0;
    while c < 256 {
        if NUMBER_OPENER[c] {
            t[c] = OPENER;
        } else if DELIMITER[c] {
            t[c] = DELIM;
        } else if c == b':' as usize {
            t[c] = COLON;
        }
        c += 1;
    }
    t
};

/// One pass over `b`: the digit windows (runs of number bytes with at least four digits)
/// into `windows`, with the IBAN and national-id shapes at the start of each digit run, and
/// the token runs of at least `MIN_TOKEN_RUN` bytes into `runs`.
fn scan_bytes(b: &[u8], windows: &mut Vec<DigitWindow>, runs: &mut Vec<(usize, usize)>) -> Shapes {
    windows.clear();
    runs.clear();
    let mut shapes = Shapes::default();
    let n = b.len();
    // Length of the token run that ends at `i`.
    let mut run = 0usize;
    // Colons before this offset sit in a run `ipv6_at` found no IPv6 in (timestamps).
    let mut ipv6_looked_to = 0;
    let mut i = 0;
    while i < n {
        match BYTE_CLASS[usize::from(b[i])] {
            PLAIN => {
                // The common case: a stretch of bytes that neither open a number nor end a
                // token run.
                let from = i;
                i = plain_end(b, i + 1);
                run += i - from;
                continue;
            }
            DELIM => {
                if run >= MIN_TOKEN_RUN {
                    runs.push((i - run, i));
                }
                run = 0;
                i += 1;
                continue;
            }
            COLON => {
                if !shapes.ipv6 && i >= ipv6_looked_to {
                    (shapes.ipv6, ipv6_looked_to) = ipv6_at(b, i);
                }
                run += 1;
                i += 1;
                continue;
            }
            _ => {}
        }
        let start = i;
        let (mut digits, mut dots) = (0, 0);
        // Digit groups: the current one, and whether a later group or a long one fits a
        // phone layout.
        let (mut group, mut groups, mut last_group) = (0usize, 0usize, 0usize);
        let mut phone_shape = b[i] == b'+';
        while i < n && NUMBER_BYTE[usize::from(b[i])] {
            if b[i].is_ascii_digit() {
                digits += 1;
                group += 1;
                run += 1;
            } else {
                if group > 0 {
                    phone_shape |= groups > 0 && group >= 3 || group >= 11;
                    groups += 1;
                    last_group = group;
                }
                group = 0;
                dots += usize::from(b[i] == b'.');
                if DELIMITER[usize::from(b[i])] {
                    if run >= MIN_TOKEN_RUN {
                        runs.push((i - run, i));
                    }
                    run = 0;
                } else {
                    run += 1;
                }
            }
            i += 1;
        }
        phone_shape |= groups > 0 && group >= 3 || group >= 11;
        if group > 0 {
            last_group = group;
        }
        // Where the letters before the run end: directly before it, or before one space
        // (`AB 12 34 56 C`).
        let lead = if start >= 2 && b[start - 1] == b' ' {
            start - 1
        } else {
            start
        };
        if b[start].is_ascii_digit() && lead > 0 && b[lead - 1].is_ascii_alphabetic() {
            note_shapes(b, (lead, start), i, digits, &mut shapes);
        }
        if !shapes.national_id && (last_group >= 8 || digits == 11 && dots >= 2) {
            // DNI (`12345678Z`, `12345678-Z`) and CPF (`529.982.247-25`) need no letter
            // before them.
            shapes.national_id = digits == 11 && dots >= 2
                || last_group >= 8 && b.get(i).is_some_and(u8::is_ascii_alphabetic);
        }
        if digits >= 4 {
            windows.push(DigitWindow {
                start,
                end: i,
                digits,
                dots,
                phone_shape,
            });
        }
    }
    if run >= MIN_TOKEN_RUN {
        runs.push((n - run, n));
    }
    shapes
}

/// The ASCII letters of `x` (eight bytes), as the top bit of each of their bytes.
fn ascii_letters(x: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const TOP: u64 = 0x8080_8080_8080_8080;
    // Fold case: letters become 0x61..=0x7a, and no byte exceeds 0x7f.
    let u = (x & LOW7) | 0x2020_2020_2020_2020;
    // No sum overflows its byte (0x7f + 0x1f < 0x100).
    let at_least_a = u.wrapping_add(0x1f1f_1f1f_1f1f_1f1f);
    let at_most_z = !u.wrapping_add(0x0505_0505_0505_0505);
    at_least_a & at_most_z & !x & TOP
}

/// The first index from `i` on whose byte is not `PLAIN` (or `b.len()`). Skips eight
/// letters or non-ASCII bytes at a time; any other byte is looked up in `BYTE_CLASS`.
fn plain_end(b: &[u8], mut i: usize) -> usize {
    const TOP: u64 = 0x8080_8080_8080_8080;
    loop {
        while let Some(chunk) = b.get(i..i + 8) {
            let x = u64::from_le_bytes([
                chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7],
            ]);
            let other = !(ascii_letters(x) | x) & TOP;
            if other != 0 {
                i += (other.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        match b.get(i) {
            None => return b.len(),
            Some(&c) if BYTE_CLASS[usize::from(c)] != PLAIN => return i,
            Some(_) => i += 1,
        }
    }
}

/// Shapes of a digit run at `start..end` that follows a letter at `lead - 1`.
fn note_shapes(
    b: &[u8],
    (lead, start): (usize, usize),
    end: usize,
    digits: usize,
    shapes: &mut Shapes,
) {
    if !shapes.iban
        && start >= 2
        && b[start - 2].is_ascii_uppercase()
        && b[start - 1].is_ascii_uppercase()
        && b.get(start + 1).is_some_and(u8::is_ascii_digit)
    {
        shapes.iban = true;
    }
    if shapes.national_id {
        return;
    }
    let letters = b[lead.saturating_sub(6)..lead]
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_alphabetic())
        .count();
    let after = b.get(end).copied();
    // Only the NINO may have a blank between its letters and digits.
    let glued = lead == start;
    shapes.national_id = glued && letters >= 6 // IT codice fiscale
        || glued && letters >= 5 && digits == 4 && after.is_some_and(|c| c.is_ascii_uppercase()) // IN PAN
        || letters >= 2 && digits == 6 && after.is_some_and(|c| matches!(c, b'A'..=b'D' | b'a'..=b'd')) // UK NINO
        || glued && matches!(b[lead - 1], b'X' | b'Y' | b'Z' | b'x' | b'y' | b'z') && digits >= 7; // ES NIE
}

fn hex_or_colon(c: u8) -> bool {
    c.is_ascii_hexdigit() || c == b':'
}

/// Whether the colon at `p` belongs to `::` or to a run of hex digits and colons holding
/// at least four colons; and the offset up to which colons need no look: the end of the run
/// when it was read and holds neither (every colon in it gets the same answer: one that starts
/// a `::` would have put the `::` in the run), else `p + 1`.
fn ipv6_at(b: &[u8], p: usize) -> (bool, usize) {
    if b.get(p + 1) == Some(&b':') {
        return (true, p + 1);
    }
    // Inside an address every single colon sits between hex digits; JSON's `"key":` never
    // does.
    if p == 0 || !b[p - 1].is_ascii_hexdigit() || !b.get(p + 1).is_some_and(u8::is_ascii_hexdigit) {
        return (false, p + 1);
    }
    let mut s = p;
    while s > 0 && hex_or_colon(b[s - 1]) {
        s -= 1;
    }
    let mut e = p + 1;
    while e < b.len() && hex_or_colon(b[e]) {
        e += 1;
    }
    let run = &b[s..e];
    let found =
        run.iter().filter(|&&c| c == b':').count() >= 4 || run.windows(2).any(|w| w == b"::");
    (found, e)
}

/// `::`, or a run of hex digits and colons holding at least four colons.
#[cfg(test)]
fn ipv6_shape(b: &[u8]) -> bool {
    memchr::memchr_iter(b':', b).any(|p| ipv6_at(b, p).0)
}

fn token_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// `.xxxxxx.` (six token characters between dots) at least 24 bytes into the text.
fn discord_shape(b: &[u8]) -> bool {
    memchr::memchr_iter(b'.', b).any(|p| {
        p >= 24 && b.get(p + 7) == Some(&b'.') && b[p + 1..p + 7].iter().all(|&c| token_byte(c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(s: &str) -> (Vec<(usize, usize, usize)>, Shapes) {
        let mut out = Vec::new();
        let shapes = scan_bytes(s.as_bytes(), &mut out, &mut Vec::new());
        (
            out.iter().map(|w| (w.start, w.end, w.digits)).collect(),
            shapes,
        )
    }

    #[test]
    fn digit_windows_and_shapes() {
        let (w, s) = windows("call +44 20 7946 0123 or 12 now");
        assert_eq!(w, vec![(5, 22, 12)]);
        assert!(!s.iban && !s.national_id);
        assert!(windows("iban DE89 3704 0044 0532 0130 00").1.iban);
        assert!(windows("GB82WEST12345698765432").1.iban);
        assert!(!windows("at 2024-06-13T09:13:20Z").1.national_id);
        assert!(!windows("user123456@example.com").1.national_id);
        assert!(!windows("steel bottle 750 ml").1.national_id);
        for id in [
            "RSSMRA85T10A562S",
            "ABCDE1234F",
            "AB 12 34 56 C",
            "QQ123456C",
            "X1234567L",
            "12345678Z",
            "529.982.247-25",
        ] {
            assert!(windows(id).1.national_id, "{id}");
        }
    }

    #[test]
    fn ipv6_shapes_after_timestamps_are_still_found() {
        // The byte loop skips colons of a hex-and-colon run already found clean.
        for text in [
            "at 09:13:20Z",
            "at 09:13:20Z from fe80::1",
            "t 1:2:3 then 1:2:3:4:5",
            "x:12:34:56:78",
            "a:b:c::d",
            "ab:cd:ef:01:23",
            "{\"t\":\"09:13\",\"u\":\"10:14\"}",
        ] {
            assert_eq!(windows(text).1.ipv6, ipv6_shape(text.as_bytes()), "{text}");
        }
    }

    #[test]
    fn phone_shapes() {
        let shape = |s: &str| {
            let mut out = Vec::new();
            scan_bytes(s.as_bytes(), &mut out, &mut Vec::new());
            out.first().is_some_and(|w| w.phone_shape)
        };
        for p in [
            "+44 20 7946 0123",
            "(415) 555-0132",
            "020 7946 0958",
            "13912345678",
        ] {
            assert!(shape(p), "{p}");
        }
        for p in ["2024-06-13", "12.34 56", "1999/12/31"] {
            assert!(!shape(p), "{p}");
        }
    }

    #[test]
    fn name_hints() {
        let c = Prefilter::new(&[]).unwrap();
        let mut a = Activation::default();
        for (text, hint) in [
            (r#"{"first_name":"Ada"}"#, true),
            (r#"{"lastName":"Lovelace"}"#, true),
            (r#"{"name":"bottle","sku":"A-1"}"#, false),
            (r#"{"Password":"x"}"#, true),
        ] {
            c.run(text.as_bytes(), &mut a);
            assert_eq!(a.field_hint, hint, "{text}");
        }
    }

    #[test]
    fn plain_ends_match_the_byte_classes() {
        for c in 0..=255u8 {
            let x = u64::from_le_bytes([c, b'a', b'Z', c, 0x80, b'q', c, b'M']);
            let got = ascii_letters(x);
            for (k, &byte) in x.to_le_bytes().iter().enumerate() {
                let bit = got >> (8 * k + 7) & 1 == 1;
                assert_eq!(bit, byte.is_ascii_alphabetic(), "byte {byte:#x}");
            }
        }
        let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        let texts: [&[u8]; 5] = [
            &all,
            br#"{"created_at":"2024-06-13T09:13:20Z","name":"Organic cotton t-shirt"}"#,
            b"abcdefghijklmnopqrstuvwxyz_ABCDEFGHIJKLMNOP.QRSTUVWXYZ",
            "na\\u00efve caf\u{e9} \u{fc}ber-l\u{e4}ngerer Text".as_bytes(),
            b"",
        ];
        for t in texts {
            for i in 0..=t.len() {
                let want = (i..t.len())
                    .find(|&j| BYTE_CLASS[usize::from(t[j])] != PLAIN)
                    .unwrap_or(t.len());
                assert_eq!(plain_end(t, i), want, "{i} in {t:?}");
            }
        }
    }

    #[test]
    fn token_runs() {
        let mut runs = Vec::new();
        let text = r#"{"k":"ghp_abcdefghij1234567890","n":12345678901234567 x}"#;
        scan_bytes(text.as_bytes(), &mut Vec::new(), &mut runs);
        let got: Vec<&str> = runs.iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(got, ["ghp_abcdefghij1234567890", ":12345678901234567"]);
    }

    #[test]
    fn keyword_tails() {
        let t = |s: &str, at: usize| keyword_tail(s.as_bytes(), at);
        assert!(t(r#""password":"x""#, 9));
        assert!(t("db_password = x", 11));
        assert!(t("--token abc", 7));
        assert!(!t("tokenizer(x)", 5));
        assert!(!t("keyboard", 3));
    }

    #[test]
    fn ipv6_and_discord_shapes() {
        assert!(ipv6_shape(b"addr ::1"));
        assert!(ipv6_shape(b"2001:db8:0:0:1"));
        assert!(ipv6_shape(b"ssh user@2001:db8::1"));
        assert!(!ipv6_shape(b"{\"t\":\"09:13:20\"}"));
        assert!(discord_shape(
            b"MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.abcdefghijklmnopqrstuvwxyz0"
        ));
        assert!(!discord_shape(b"price 12.50 and 13.75 and example.com"));
    }
}
