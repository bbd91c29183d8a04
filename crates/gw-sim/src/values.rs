//! Realistic field values: ids, names, addresses, dates and personal data that passes the
//! checksums real detectors verify (Luhn for card numbers, ISO 13616 mod-97 for IBANs).

use std::fmt::Write as _;

use rand::Rng;

const FIRST_NAMES: &[&str] = &[
    "james", "maria", "wei", "fatima", "lukas", "sofia", "arjun", "chloe", "mateo", "aiko", "olga",
    "kwame", "emma", "noah", "lea", "omar", "ines", "david", "yuki", "priya", "jonas", "ana",
    "liam", "zoe",
];
const LAST_NAMES: &[&str] = &[
    "smith", "garcia", "chen", "khan", "muller", "rossi", "patel", "martin", "silva", "tanaka",
    "novak", "mensah", "johnson", "dubois", "kowalski", "haddad", "lopez", "nguyen", "schmidt",
    "fischer",
];
const MAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "proton.me",
    "icloud.com",
    "web.de",
    "example.org",
];
const WORDS: &[&str] = &[
    "wireless", "organic", "classic", "compact", "premium", "leather", "steel", "cotton", "smart",
    "vintage", "running", "kitchen", "garden", "travel", "studio", "ultra", "mini", "pro", "eco",
    "urban",
];
const NOUNS: &[&str] = &[
    "headphones",
    "backpack",
    "lamp",
    "jacket",
    "kettle",
    "mug",
    "speaker",
    "watch",
    "sneakers",
    "chair",
    "notebook",
    "bottle",
    "charger",
    "blanket",
    "camera",
    "keyboard",
    "wallet",
    "tent",
    "router",
    "desk",
];
const CITIES: &[&str] = &[
    "Berlin",
    "Lisbon",
    "Toronto",
    "Osaka",
    "Nairobi",
    "Austin",
    "Lyon",
    "Krakow",
    "Sao Paulo",
    "Mumbai",
    "Melbourne",
    "Dublin",
    "Seoul",
    "Cape Town",
    "Madrid",
    "Oslo",
];
const STREETS: &[&str] = &[
    "Main St",
    "Oak Avenue",
    "Rue de la Paix",
    "Hauptstrasse",
    "Calle Mayor",
    "High Street",
    "Elm Road",
];
const COUNTRY_CODES: &[&str] = &[
    "DE", "FR", "US", "GB", "ES", "IT", "NL", "PL", "BR", "IN", "JP", "CA",
];
const CURRENCIES: &[&str] = &["EUR", "USD", "GBP", "CHF", "JPY", "PLN"];
const STATUSES: &[&str] = &[
    "active",
    "pending",
    "completed",
    "shipped",
    "cancelled",
    "processing",
];
/// Card prefixes of the big networks (Visa 4, Mastercard 51-55, Amex 37 is 15 digits: kept out
/// so every number is 16 digits).
const CARD_PREFIXES: &[&str] = &["4", "51", "52", "53", "54", "55"];
/// IBAN countries with their BBAN length (digits only, which these countries allow).
const IBAN_COUNTRIES: &[(&str, usize)] = &[
    ("DE", 18),
    ("BE", 12),
    ("PL", 24),
    ("PT", 21),
    ("EE", 16),
    ("FI", 14),
];
const PHONE_FORMATS: &[(&str, usize)] = &[
    ("+1 ", 10),
    ("+44 ", 10),
    ("+49 ", 11),
    ("+33 ", 9),
    ("+34 ", 9),
    ("+81 ", 10),
];

/// What a generated value looks like.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ValueKind {
    IntId,
    Int {
        min: i64,
        max: i64,
    },
    Float {
        min: f64,
        max: f64,
    },
    Money,
    Bool,
    Uuid,
    Slug,
    Email,
    Phone,
    CardNumber,
    Iban,
    Date,
    DateTime,
    FirstName,
    LastName,
    FullName,
    Username,
    Password,
    Title,
    Text,
    Word,
    Search,
    Url,
    Ip,
    Country,
    Currency,
    City,
    Street,
    PostalCode,
    Token,
    Status,
    /// One of these values (`strings`: JSON strings, held escaped but without their quotes).
    OneOf {
        values: Vec<String>,
        strings: bool,
    },
}

impl ValueKind {
    /// True when the JSON form of the value is a string (needs quotes).
    pub(crate) fn is_string(&self) -> bool {
        !matches!(
            self,
            ValueKind::IntId
                | ValueKind::Int { .. }
                | ValueKind::Float { .. }
                | ValueKind::Money
                | ValueKind::Bool
                | ValueKind::OneOf { strings: false, .. }
        )
    }

    /// Appends the raw (unquoted, unescaped) value. Every generated string is plain ASCII
    /// without quotes or backslashes, so it can be placed inside JSON quotes as is.
    pub(crate) fn write_raw<R: Rng>(&self, rng: &mut R, now_s: i64, out: &mut String) {
        match self {
            ValueKind::IntId => push_int(out, skewed_id(rng)),
            ValueKind::Int { min, max } => push_int(out, rng.random_range(*min..=*max)),
            ValueKind::Float { min, max } => {
                let v = rng.random_range(*min..=*max);
                let _ = write!(out, "{v:.3}");
            }
            ValueKind::Money => {
                let cents: i64 = if rng.random_bool(0.9) {
                    rng.random_range(199..20_000)
                } else {
                    rng.random_range(20_000..500_000)
                };
                push_int(out, cents / 100);
                out.push('.');
                out.push(char::from(b'0' + (cents % 100 / 10) as u8));
                out.push(char::from(b'0' + (cents % 10) as u8));
            }
            ValueKind::Bool => out.push_str(if rng.random_bool(0.5) {
                "true"
            } else {
                "false"
            }),
            ValueKind::Uuid => push_uuid(out, rng.random(), rng.random()),
            ValueKind::Slug => {
                out.push_str(pick(rng, WORDS));
                out.push('-');
                out.push_str(pick(rng, NOUNS));
                if rng.random_bool(0.3) {
                    out.push('-');
                    push_int(out, rng.random_range(2..20));
                }
            }
            ValueKind::Email => push_email(rng, out),
            ValueKind::Phone => push_phone(rng, out),
            ValueKind::CardNumber => push_card_number(rng, out),
            ValueKind::Iban => push_iban(rng, out),
            ValueKind::Date => push_date(out, now_s - rng.random_range(0..400) * 86_400),
            ValueKind::DateTime => push_datetime(out, now_s - rng.random_range(0..30 * 86_400)),
            ValueKind::FirstName => push_capitalised(out, pick(rng, FIRST_NAMES)),
            ValueKind::LastName => push_capitalised(out, pick(rng, LAST_NAMES)),
            ValueKind::FullName => {
                push_capitalised(out, pick(rng, FIRST_NAMES));
                out.push(' ');
                push_capitalised(out, pick(rng, LAST_NAMES));
            }
            ValueKind::Username => {
                out.push_str(pick(rng, FIRST_NAMES));
                out.push_str(if rng.random_bool(0.5) { "." } else { "_" });
                out.push_str(pick(rng, LAST_NAMES));
                push_int(out, rng.random_range(1..99));
            }
            ValueKind::Password => push_alnum(rng, out, 14),
            ValueKind::Title => {
                push_capitalised(out, pick(rng, WORDS));
                out.push(' ');
                push_capitalised(out, pick(rng, NOUNS));
            }
            ValueKind::Text => {
                out.push_str("Great ");
                out.push_str(pick(rng, NOUNS));
                out.push_str(", the ");
                out.push_str(pick(rng, WORDS));
                out.push_str(" finish works well");
            }
            ValueKind::Word => out.push_str(pick(rng, WORDS)),
            ValueKind::Search => {
                out.push_str(pick(rng, WORDS));
                out.push(' ');
                out.push_str(pick(rng, NOUNS));
            }
            ValueKind::Url => {
                out.push_str("https://");
                out.push_str(pick(
                    rng,
                    &[
                        "hooks.partner-shop.com",
                        "callbacks.example.net",
                        "api.crm-cloud.io",
                    ],
                ));
                out.push_str("/notify/");
                push_alnum(rng, out, 10);
            }
            ValueKind::Ip => {
                for (i, octet) in [
                    rng.random_range(11..=223),
                    rng.random_range(0..=255),
                    rng.random_range(0..=255),
                    rng.random_range(1..=254),
                ]
                .into_iter()
                .enumerate()
                {
                    if i > 0 {
                        out.push('.');
                    }
                    push_int(out, octet);
                }
            }
            ValueKind::Country => out.push_str(pick(rng, COUNTRY_CODES)),
            ValueKind::Currency => out.push_str(pick(rng, CURRENCIES)),
            ValueKind::City => out.push_str(pick(rng, CITIES)),
            ValueKind::Street => {
                push_int(out, rng.random_range(1..300));
                out.push(' ');
                out.push_str(pick(rng, STREETS));
            }
            ValueKind::PostalCode => push_int(out, rng.random_range(10_000..99_999)),
            ValueKind::Token => push_hex(out, rng.random(), 16),
            ValueKind::Status => out.push_str(pick(rng, STATUSES)),
            ValueKind::OneOf { values, .. } => {
                if let Some(v) = values.get(rng.random_range(0..values.len().max(1))) {
                    out.push_str(v);
                }
            }
        }
    }

    /// Appends the value as JSON (quoted when it is a string).
    pub(crate) fn write_json<R: Rng>(&self, rng: &mut R, now_s: i64, out: &mut String) {
        if self.is_string() {
            out.push('"');
            self.write_raw(rng, now_s, out);
            out.push('"');
        } else {
            self.write_raw(rng, now_s, out);
        }
    }
}

pub(crate) fn pick<'a, R: Rng>(rng: &mut R, list: &[&'a str]) -> &'a str {
    list[rng.random_range(0..list.len())]
}

/// Ids cluster on recent, low numbers like real auto-increment keys.
fn skewed_id<R: Rng>(rng: &mut R) -> i64 {
    let u: f64 = rng.random();
    1 + (u * u * 250_000.0) as i64
}

/// Appends a decimal integer (hot path: no formatting machinery).
pub(crate) fn push_int(out: &mut String, v: i64) {
    out.push_str(itoa::Buffer::new().format(v));
}

/// Appends the low `digits` hex digits of `v`, zero-padded.
pub(crate) fn push_hex(out: &mut String, v: u64, digits: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..digits.min(16)).rev() {
        out.push(char::from(HEX[((v >> (i * 4)) & 0xF) as usize]));
    }
}

pub(crate) fn push_uuid(out: &mut String, hi: u64, lo: u64) {
    let hi = (hi & !0xF000) | 0x4000; // version 4
    let lo = (lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000; // RFC 4122 variant
    push_hex(out, hi >> 32, 8);
    out.push('-');
    push_hex(out, hi >> 16, 4);
    out.push('-');
    push_hex(out, hi, 4);
    out.push('-');
    push_hex(out, lo >> 48, 4);
    out.push('-');
    push_hex(out, lo, 12);
}

fn push_capitalised(out: &mut String, word: &str) {
    let mut chars = word.chars();
    if let Some(c) = chars.next() {
        out.push(c.to_ascii_uppercase());
        out.push_str(chars.as_str());
    }
}

pub(crate) fn push_alnum<R: Rng>(rng: &mut R, out: &mut String, len: usize) {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    for _ in 0..len {
        out.push(char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]));
    }
}

pub(crate) fn push_email<R: Rng>(rng: &mut R, out: &mut String) {
    out.push_str(pick(rng, FIRST_NAMES));
    out.push('.');
    out.push_str(pick(rng, LAST_NAMES));
    if rng.random_bool(0.4) {
        push_int(out, rng.random_range(1..999));
    }
    out.push('@');
    out.push_str(pick(rng, MAIL_DOMAINS));
}

fn push_phone<R: Rng>(rng: &mut R, out: &mut String) {
    let (prefix, digits) = PHONE_FORMATS[rng.random_range(0..PHONE_FORMATS.len())];
    out.push_str(prefix);
    out.push(char::from(b'2' + rng.random_range(0..8u8)));
    for i in 1..digits {
        if i == 3 || i == 6 {
            out.push(' ');
        }
        out.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
}

/// A 16-digit card number with a valid Luhn check digit.
pub(crate) fn push_card_number<R: Rng>(rng: &mut R, out: &mut String) {
    let prefix = CARD_PREFIXES[rng.random_range(0..CARD_PREFIXES.len())];
    let mut digits = [0u8; 16];
    for (i, b) in prefix.bytes().enumerate() {
        digits[i] = b - b'0';
    }
    for d in digits.iter_mut().take(15).skip(prefix.len()) {
        *d = rng.random_range(0..10);
    }
    digits[15] = luhn_check_digit(&digits[..15]);
    for d in digits {
        out.push(char::from(b'0' + d));
    }
}

/// The digit that makes `payload` + digit pass the Luhn check.
pub(crate) fn luhn_check_digit(payload: &[u8]) -> u8 {
    let sum: u32 = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// True when a digit string passes the Luhn check.
pub fn luhn_valid(number: &str) -> bool {
    let digits: Vec<u8> = number
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    if digits.len() < 12 {
        return false;
    }
    luhn_check_digit(&digits[..digits.len() - 1]) == digits[digits.len() - 1]
}

/// An IBAN (compact form) whose check digits satisfy ISO 13616 mod-97.
pub(crate) fn push_iban<R: Rng>(rng: &mut R, out: &mut String) {
    let (country, len) = IBAN_COUNTRIES[rng.random_range(0..IBAN_COUNTRIES.len())];
    let mut bban = String::with_capacity(len);
    for _ in 0..len {
        bban.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    let check = 98 - iban_mod97(&bban, country, "00");
    out.push_str(country);
    out.push(char::from(b'0' + (check / 10) as u8));
    out.push(char::from(b'0' + (check % 10) as u8));
    out.push_str(&bban);
}

/// `BBAN + country + check` read as digits (letters as 10..35), mod 97.
fn iban_mod97(bban: &str, country: &str, check: &str) -> u32 {
    let mut rem: u32 = 0;
    for c in bban.chars().chain(country.chars()).chain(check.chars()) {
        let v = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            _ => continue,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem
}

/// True when an IBAN (spaces allowed) passes the mod-97 check.
pub fn iban_valid(iban: &str) -> bool {
    let compact: String = iban.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.len() < 15 || !compact.is_ascii() {
        return false;
    }
    let (head, bban) = compact.split_at(4);
    iban_mod97(bban, &head[..2], &head[2..]) == 1
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's days -> civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn push_2(out: &mut String, v: i64) {
    out.push(char::from(b'0' + (v / 10 % 10) as u8));
    out.push(char::from(b'0' + (v % 10) as u8));
}

pub(crate) fn push_date(out: &mut String, unix_s: i64) {
    let (y, m, d) = civil_from_days(unix_s.div_euclid(86_400));
    push_2(out, y / 100);
    push_2(out, y % 100);
    out.push('-');
    push_2(out, i64::from(m));
    out.push('-');
    push_2(out, i64::from(d));
}

pub(crate) fn push_datetime(out: &mut String, unix_s: i64) {
    push_date(out, unix_s);
    let s = unix_s.rem_euclid(86_400);
    out.push('T');
    push_2(out, s / 3600);
    out.push(':');
    push_2(out, (s / 60) % 60);
    out.push(':');
    push_2(out, s % 60);
    out.push('Z');
}

/// Picks the value kind a field name and its JSON-schema type suggest.
pub(crate) fn kind_for(name: &str, schema: &gw_spec::Schema) -> ValueKind {
    use gw_spec::SchemaType as T;
    let lower: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let is_int = schema.has_type(T::Integer);
    let is_num = schema.has_type(T::Number);
    let format = schema.format.as_deref().unwrap_or("");
    if !schema.enum_values.is_empty() {
        let strings = schema.enum_values.iter().all(|v| v.is_string());
        let values = schema
            .enum_values
            .iter()
            .map(|v| {
                let text = v.to_string();
                if strings {
                    text[1..text.len() - 1].to_string()
                } else {
                    text
                }
            })
            .collect();
        return ValueKind::OneOf { values, strings };
    }
    if schema.has_type(T::Boolean) {
        return ValueKind::Bool;
    }
    if lower.contains("email") || format == "email" {
        return ValueKind::Email;
    }
    if lower.contains("phone") || lower.contains("mobile") {
        return ValueKind::Phone;
    }
    if lower.contains("iban") {
        return ValueKind::Iban;
    }
    if (lower.contains("card") && (lower.contains("number") || lower.contains("pan")))
        || lower == "pan"
    {
        return ValueKind::CardNumber;
    }
    if format == "uuid" || lower.contains("uuid") {
        return ValueKind::Uuid;
    }
    if lower == "id" || lower.ends_with("id") {
        return if is_int || is_num {
            ValueKind::IntId
        } else {
            ValueKind::Uuid
        };
    }
    if format == "date"
        || lower.ends_with("date")
        || lower == "from"
        || lower == "to"
        || lower.contains("birth")
    {
        return ValueKind::Date;
    }
    if format == "date-time"
        || (lower.ends_with("at") && lower.len() > 4)
        || lower.contains("time")
        || lower == "since"
    {
        return ValueKind::DateTime;
    }
    if is_int {
        let min = schema.minimum.map_or(1, |v| v as i64);
        let max = schema.maximum.map_or(
            if lower.contains("page") || lower.contains("limit") || lower.contains("quantity") {
                20
            } else {
                500
            },
            |v| v as i64,
        );
        return ValueKind::Int {
            min,
            max: max.max(min),
        };
    }
    if lower.contains("amount")
        || lower.contains("price")
        || lower.contains("balance")
        || lower.contains("total")
    {
        return ValueKind::Money;
    }
    if is_num {
        let min = schema.minimum.unwrap_or(0.0);
        let max = schema.maximum.unwrap_or(1000.0);
        return ValueKind::Float {
            min,
            max: max.max(min),
        };
    }
    let by_name = [
        ("slug", ValueKind::Slug),
        ("firstname", ValueKind::FirstName),
        ("lastname", ValueKind::LastName),
        ("fullname", ValueKind::FullName),
        ("holder", ValueKind::FullName),
        ("owner", ValueKind::FullName),
        ("username", ValueKind::Username),
        ("login", ValueKind::Username),
        ("password", ValueKind::Password),
        ("url", ValueKind::Url),
        ("uri", ValueKind::Url),
        ("callback", ValueKind::Url),
        ("webhook", ValueKind::Url),
        ("ip", ValueKind::Ip),
        ("country", ValueKind::Country),
        ("currency", ValueKind::Currency),
        ("city", ValueKind::City),
        ("street", ValueKind::Street),
        ("address", ValueKind::Street),
        ("zip", ValueKind::PostalCode),
        ("postal", ValueKind::PostalCode),
        ("token", ValueKind::Token),
        ("status", ValueKind::Status),
        ("description", ValueKind::Text),
        ("comment", ValueKind::Text),
        ("review", ValueKind::Text),
        ("title", ValueKind::Title),
        ("name", ValueKind::Title),
    ];
    if lower == "q" || lower == "query" || lower == "search" || lower == "term" {
        return ValueKind::Search;
    }
    for (needle, kind) in by_name {
        if lower == needle || lower.ends_with(needle) {
            return kind;
        }
    }
    if format == "uri" || format == "url" {
        return ValueKind::Url;
    }
    if format == "ipv4" {
        return ValueKind::Ip;
    }
    ValueKind::Word
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn card_numbers_pass_luhn_and_a_changed_digit_fails() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..200 {
            let mut s = String::new();
            push_card_number(&mut rng, &mut s);
            assert_eq!(s.len(), 16);
            assert!(luhn_valid(&s), "{s}");
            let mut bad = s.into_bytes();
            bad[3] = if bad[3] == b'9' { b'0' } else { bad[3] + 1 };
            assert!(!luhn_valid(std::str::from_utf8(&bad).unwrap()));
        }
        assert!(luhn_valid("4111111111111111"));
    }

    #[test]
    fn ibans_pass_mod97() {
        assert!(iban_valid("DE89 3704 0044 0532 0130 00"));
        assert!(!iban_valid("DE88 3704 0044 0532 0130 00"));
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..200 {
            let mut s = String::new();
            push_iban(&mut rng, &mut s);
            assert!(iban_valid(&s), "{s}");
        }
    }

    #[test]
    fn hand_written_number_formatting_matches_std() {
        for v in [0i64, 7, -7, 10, 99, 1_000_001, i64::MAX, i64::MIN + 1] {
            let mut s = String::new();
            push_int(&mut s, v);
            assert_eq!(s, v.to_string());
        }
        let mut s = String::new();
        push_hex(&mut s, 0xabc, 6);
        assert_eq!(s, "000abc");
        s.clear();
        push_uuid(&mut s, 0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);
        assert_eq!(s, "01234567-89ab-4def-bedc-ba9876543210");
    }

    #[test]
    fn dates_are_civil() {
        let mut s = String::new();
        push_datetime(&mut s, 1_718_010_800);
        assert_eq!(s, "2024-06-10T09:13:20Z");
        s.clear();
        push_date(&mut s, 951_782_400); // 2000-02-29
        assert_eq!(s, "2000-02-29");
    }

    #[test]
    fn names_and_types_choose_kinds() {
        let int = gw_spec::Schema {
            types: vec![gw_spec::SchemaType::Integer],
            ..Default::default()
        };
        let text = gw_spec::Schema {
            types: vec![gw_spec::SchemaType::String],
            ..Default::default()
        };
        assert_eq!(kind_for("userId", &int), ValueKind::IntId);
        assert_eq!(kind_for("orderId", &text), ValueKind::Uuid);
        assert_eq!(kind_for("customer_email", &text), ValueKind::Email);
        assert_eq!(kind_for("cardNumber", &text), ValueKind::CardNumber);
        assert_eq!(kind_for("iban", &text), ValueKind::Iban);
        assert_eq!(kind_for("createdAt", &text), ValueKind::DateTime);
        assert_eq!(kind_for("slug", &text), ValueKind::Slug);
    }
}
