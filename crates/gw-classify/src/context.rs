//! Classification in context: JSON bodies walked structurally (the field path is the location,
//! the field name is evidence), query and form parameters by name, path segments, selected
//! headers. Output is one `FieldFinding` per (location, field path, label) of a record, the
//! unit a later inventory stage aggregates. Values never leave this module unmasked.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::builtin::{name_segments, secret_name, secret_shape_ok};
use crate::classifier::{Classifier, Match, RuleId};
use crate::json_walk::{self, Scalar, Step};
use crate::kind::{SensitiveKind, Sensitivity};
use crate::mask::mask;

/// Where in an exchange a value was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    Path,
    Query,
    Header,
    RequestBody,
    ResponseBody,
}

impl Location {
    pub fn as_str(self) -> &'static str {
        match self {
            Location::Path => "path",
            Location::Query => "query",
            Location::Header => "header",
            Location::RequestBody => "request_body",
            Location::ResponseBody => "response_body",
        }
    }
}

/// HTTP response status class of the exchange a finding came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum StatusClass {
    #[serde(rename = "1xx")]
    Informational,
    #[serde(rename = "2xx")]
    Success,
    #[serde(rename = "3xx")]
    Redirection,
    #[serde(rename = "4xx")]
    ClientError,
    #[serde(rename = "5xx")]
    ServerError,
}

impl StatusClass {
    pub fn from_status(status: u16) -> Option<StatusClass> {
        match status {
            100..=199 => Some(StatusClass::Informational),
            200..=299 => Some(StatusClass::Success),
            300..=399 => Some(StatusClass::Redirection),
            400..=499 => Some(StatusClass::ClientError),
            500..=599 => Some(StatusClass::ServerError),
            _ => None,
        }
    }
}

/// One label on one field of one record: what an inventory stage counts per endpoint and
/// field (kinds seen, counts, first/last seen, highest sensitivity). Never holds the value;
/// `masked_sample` has gone through `mask`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldFinding {
    pub kind: SensitiveKind,
    /// Kind name, or a custom classifier's name.
    pub label: String,
    /// Detector that decided (`email`, `github_token`, `field_name`, a custom name ...).
    pub rule: String,
    pub location: Location,
    /// `$.customer.email` for JSON, the parameter or header name otherwise, `$` for text.
    pub field_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_class: Option<StatusClass>,
    pub confidence: f32,
    pub sensitivity: Sensitivity,
    /// Occurrences of this label at this field in the record.
    pub count: u32,
    pub masked_sample: String,
}

/// Findings of one body, and whether only its first `max_body_bytes` were scanned.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BodyScan {
    pub findings: Vec<FieldFinding>,
    pub truncated: bool,
}

/// Headers whose values are scanned (the rest carry protocol data, not user data).
const SCANNED_HEADERS: [&str; 10] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-forwarded-for",
    "x-real-ip",
    "forwarded",
    "from",
    "referer",
    "location",
];

thread_local! {
    /// `kind_from_field_name` answers by name: API bodies repeat the same keys.
    /// Seeded per process (`foldhash`): far cheaper than SipHash on short names, and names
    /// cannot be crafted to collide without the seed.
    static NAME_KINDS: RefCell<HashMap<Box<str>, Option<SensitiveKind>, foldhash::fast::RandomState>> =
        RefCell::new(HashMap::default());
}

/// Names remembered per thread before the memo starts over.
const NAME_MEMO_CAP: usize = 4096;

/// `kind_from_field_name`, memoized per thread for names of up to 64 bytes.
pub(crate) fn cached_kind_from_field_name(name: &str) -> Option<SensitiveKind> {
    if name.len() > 64 {
        return kind_from_field_name(name);
    }
    NAME_KINDS.with(|cell| {
        let Ok(mut memo) = cell.try_borrow_mut() else {
            return kind_from_field_name(name);
        };
        if let Some(kind) = memo.get(name) {
            return *kind;
        }
        let kind = kind_from_field_name(name);
        if memo.len() >= NAME_MEMO_CAP {
            memo.clear();
        }
        memo.insert(name.into(), kind);
        kind
    })
}

/// Words (ASCII case-insensitive) of which every field name that `kind_from_field_name`
/// labels contains one. The prefilter reports where each occurs (`Activation::key_words`),
/// so that the JSON walk looks up only keys holding one.
pub(crate) const FIELD_NAME_HINTS: [&str; 30] = [
    "pass", "pwd", "secret", "token", "key", "auth", "cred", "name", "addr", "street", "birth",
    "dob", "ssn", "social", "phone", "tel", "mobile", "cell", "msisdn", "fax", "card", "cc", "pan",
    "dni", "nif", "nino", "cpf", "aadhaar", "national", "cookie",
];

/// What a field name alone says the value is.
pub(crate) fn kind_from_field_name(name: &str) -> Option<SensitiveKind> {
    // Cheap rejection first: most keys name none of these.
    if !FIELD_NAME_HINTS
        .iter()
        .any(|h| crate::builtin::contains_ci(name.as_bytes(), h.as_bytes()))
    {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    if secret_name(name)
        || matches!(
            lower.as_str(),
            "cookie" | "set-cookie" | "proxy-authorization"
        )
    {
        return Some(SensitiveKind::Secret);
    }
    let segs = name_segments(name);
    let has = |w: &str| segs.iter().any(|s| s == w);
    let pair = |a: &str, b: &str| segs.windows(2).any(|p| p[0] == a && p[1] == b);
    if ["dob", "birthdate", "birthday", "dateofbirth"]
        .iter()
        .any(|w| has(w))
        || pair("birth", "date")
        || (has("date") && has("birth"))
    {
        return Some(SensitiveKind::DateOfBirth);
    }
    if has("ssn") || pair("social", "security") {
        return Some(SensitiveKind::Ssn);
    }
    const NOT_CONTACT: [&str; 12] = [
        "ip", "mac", "email", "mail", "wallet", "web", "url", "server", "remote", "host", "id",
        "contract",
    ];
    let person_words = [
        "firstname",
        "lastname",
        "fullname",
        "surname",
        "forename",
        "middlename",
    ];
    let qualified_name = [
        "first",
        "last",
        "full",
        "given",
        "family",
        "middle",
        "maiden",
        "display",
        "customer",
        "cardholder",
        "holder",
        "contact",
        "recipient",
        "billing",
        "shipping",
        "legal",
        "real",
    ]
    .iter()
    .any(|q| pair(q, "name"));
    if person_words.iter().any(|w| has(w)) || qualified_name {
        return Some(SensitiveKind::Person);
    }
    if (has("address") || has("addr") || has("street") || pair("address", "line"))
        && !NOT_CONTACT.iter().any(|w| has(w))
    {
        return Some(SensitiveKind::Address);
    }
    if [
        "phone",
        "telephone",
        "tel",
        "mobile",
        "msisdn",
        "fax",
        "cellphone",
    ]
    .iter()
    .any(|w| has(w))
        || pair("cell", "phone")
    {
        return Some(SensitiveKind::Phone);
    }
    if pair("card", "number")
        || has("ccnumber")
        || has("cardnumber")
        || pair("credit", "card")
        || has("pan") && has("card")
    {
        return Some(SensitiveKind::CreditCard);
    }
    if ["dni", "nif", "nie", "nino", "cpf", "aadhaar", "steuerid"]
        .iter()
        .any(|w| has(w))
        || pair("national", "id")
        || pair("codice", "fiscale")
    {
        return Some(SensitiveKind::NationalId);
    }
    None
}

/// Whether a value fits what its field name says (a name field holding `true` is not a name).
fn value_fits(kind: SensitiveKind, value: &str) -> Option<f32> {
    let v = value.trim();
    if v.is_empty() || v.len() > 512 || matches!(v, "null" | "true" | "false") {
        return None;
    }
    let digits = v.bytes().filter(u8::is_ascii_digit).count();
    let letters = v.chars().filter(|c| c.is_alphabetic()).count();
    match kind {
        SensitiveKind::Secret => {
            let ok = v.len() >= 6 && !crate::validate::is_placeholder(v) && !v.contains("***");
            // `v` is trimmed and no placeholder: what `secret_value_ok` checks besides.
            ok.then_some(if secret_shape_ok(v) { 0.9 } else { 0.7 })
        }
        SensitiveKind::Person => (letters >= 2 && digits == 0 && v.len() <= 100).then_some(0.8),
        SensitiveKind::Address => (letters >= 3 && v.len() >= 5).then_some(0.75),
        SensitiveKind::DateOfBirth => (digits >= 4
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b" -/.:T+Z,".contains(&b)))
        .then_some(0.85),
        SensitiveKind::Phone => ((7..=15).contains(&digits)
            && v.bytes()
                .all(|b| b.is_ascii_digit() || b" +-().".contains(&b)))
        .then_some(0.8),
        SensitiveKind::Ssn => crate::validate::ssn(v).then_some(0.9),
        SensitiveKind::CreditCard => {
            ((12..=19).contains(&digits) && crate::validate::luhn(v)).then_some(0.9)
        }
        SensitiveKind::NationalId => ((5..=20).contains(&v.len())
            && digits >= 4
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b" -.".contains(&b)))
        .then_some(0.7),
        _ => None,
    }
}

/// Collects findings of one record part, merging repeats of a label at a field.
struct Collector<'c> {
    classifier: &'c Classifier,
    location: Location,
    status: Option<StatusClass>,
    out: Vec<FieldFinding>,
}

impl<'c> Collector<'c> {
    fn new(classifier: &'c Classifier, location: Location, status: Option<StatusClass>) -> Self {
        Collector {
            classifier,
            location,
            status,
            out: Vec::new(),
        }
    }

    fn add(&mut self, path: &str, kind: SensitiveKind, rule: RuleId, value: &str, confidence: f32) {
        let c = self.classifier;
        let m = Match {
            kind,
            rule,
            start: 0,
            end: 0,
            confidence,
        };
        let label = if rule == c.field_rule {
            kind.as_str()
        } else {
            c.label(&m)
        };
        if let Some(f) = self
            .out
            .iter_mut()
            .find(|f| f.field_path == path && f.label == label)
        {
            f.count += 1;
            if confidence > f.confidence {
                f.confidence = confidence;
            }
            return;
        }
        let sensitivity = if rule == c.field_rule {
            kind.sensitivity()
        } else {
            c.sensitivity(&m)
        };
        self.out.push(FieldFinding {
            kind,
            label: label.to_string(),
            rule: c.rule_id(rule).to_string(),
            location: self.location,
            field_path: path.to_string(),
            status_class: self.status,
            confidence,
            sensitivity,
            count: 1,
            masked_sample: mask(kind, value),
        });
    }

    /// A named field with a value: value detectors with the name as context, then what the
    /// name alone says, then custom field-name classifiers.
    fn field(&mut self, path: &str, name: &str, value: &str) {
        let c = self.classifier;
        let named = cached_kind_from_field_name(name);
        // Values of fields whose name says nothing are scanned through the clean memo; a value
        // named a secret (or personal data, or matched by a custom field rule) never enters it.
        let matches = if named.is_none() && !c.has_custom_field_rules {
            c.scan_short(value, Some(name))
        } else {
            c.scan_with_field(value, Some(name))
        };
        let by_name = named.filter(|k| c.kind_enabled(*k));
        let mut named_kind_found = false;
        for m in &matches {
            named_kind_found |= Some(m.kind) == by_name;
            self.add(path, m.kind, m.rule, &value[m.start..m.end], m.confidence);
        }
        // Without custom field-name classifiers there are no rules to walk for every field.
        let custom_name = Some(name).filter(|_| c.has_custom_field_rules);
        self.name_evidence(path, value, by_name, named_kind_found, custom_name, |id| {
            matches.iter().any(|m| m.rule == id)
        });
    }

    /// What a field's name adds once the value detectors have reported: the kind the name
    /// names, when the value fits it and no detector found that kind already; then every
    /// custom field-name rule matching `custom_name` that did not already match the value
    /// (`reported(rule)`), so a value found by a custom rule's pattern and named by its field
    /// names is counted once.
    fn name_evidence(
        &mut self,
        path: &str,
        value: &str,
        by_name: Option<SensitiveKind>,
        named_kind_found: bool,
        custom_name: Option<&str>,
        reported: impl Fn(RuleId) -> bool,
    ) {
        let c = self.classifier;
        if let Some(kind) = by_name
            && !named_kind_found
            && let Some(conf) = value_fits(kind, value)
        {
            self.add(path, kind, c.field_rule, value, conf);
        }
        let Some(name) = custom_name.filter(|_| !value.trim().is_empty()) else {
            return;
        };
        for (id, rule) in c.custom_field_rules(name) {
            if !reported(id) {
                self.add(path, rule.kind, id, value, c.custom_confidence(id));
            }
        }
    }
}

/// `a == b`, rejecting most different keys before a full comparison.
fn same_key(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.first() == b.first() && a.last() == b.last() && a == b
}

/// `+` as a space and `%XX` escapes decoded (invalid UTF-8 replaced); text without either is
/// borrowed as it is.
fn percent_decode(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    if !b.iter().any(|&c| c == b'%' || c == b'+') {
        return Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |c: Option<&u8>| c.and_then(|&c| char::from(c).to_digit(16));
                match (hex(b.get(i + 1)), hex(b.get(i + 2))) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// What `scan_json` carries through its walk: the value detector matches and key words of
/// the prefilter pass over the body, and the findings so far.
struct JsonScan<'b, 'c> {
    classifier: &'c Classifier,
    body: &'b str,
    /// In document order; `matches[next..]` lie at or after the current scalar.
    matches: &'b [Match],
    next: usize,
    /// Ascending offsets of the words a field name must hold to name a kind
    /// (`Activation::key_words`); `key_words[word]` is the first at or after `last_key_start`.
    key_words: &'b [usize],
    word: usize,
    last_key_start: usize,
    /// Keys repeat (arrays of objects): each distinct name is classified once per body.
    names: Vec<(&'b str, (Option<SensitiveKind>, bool))>,
    /// Indices of the matches inside the current scalar (reused across scalars).
    here: Vec<usize>,
    path_buf: String,
    col: Collector<'c>,
}

impl<'b> JsonScan<'b, '_> {
    /// Whether a key word starts inside the key at `key_start..key_end`.
    fn key_has_word(&mut self, key_start: usize, key_end: usize) -> bool {
        // Keys mostly come in document order: move the cursor forward, and search again only
        // for a key before the last one.
        if key_start < self.last_key_start {
            self.word = self.key_words.partition_point(|&p| p < key_start);
        } else {
            while self
                .key_words
                .get(self.word)
                .is_some_and(|&p| p < key_start)
            {
                self.word += 1;
            }
        }
        self.last_key_start = key_start;
        self.key_words.get(self.word).is_some_and(|&p| p < key_end)
    }

    /// One scalar of the walk. Most scalars hold no match and sit directly under a key that
    /// names nothing: those are passed over here, without the call to `visit_candidate`.
    #[inline]
    fn visit(&mut self, s: &Scalar<'_>) {
        if !self.classifier.has_custom_field_rules
            && self.matches.get(self.next).is_none_or(|m| m.start >= s.end)
            && let Some(&Step::Member { key_start, key_end }) = s.steps.last()
            && !self.key_has_word(key_start, key_end)
        {
            return;
        }
        self.visit_candidate(s);
    }

    /// A scalar that may hold a match or sit under a key that names a kind.
    #[inline(never)]
    fn visit_candidate(&mut self, s: &Scalar<'_>) {
        self.take_matches_before(s);
        let (name, by_name, custom_by_name) = self.name_verdict(s.steps);
        if self.here.is_empty() && by_name.is_none() && !custom_by_name {
            return;
        }
        let body = self.body;
        let path = &mut self.path_buf;
        json_walk::render_path_into(body, s.steps, path);
        let value = &body[s.start..s.end];
        // Weak formats (an unformatted 9-digit number) need the field name's support.
        let supported = |m: &Match| m.confidence >= 0.6 || Some(m.kind) == by_name;
        let (here, matches) = (&self.here, self.matches);
        let mut named_kind_found = false;
        for m in here.iter().map(|&i| &matches[i]).filter(|m| supported(m)) {
            named_kind_found |= Some(m.kind) == by_name;
            self.col
                .add(path, m.kind, m.rule, &body[m.start..m.end], m.confidence);
        }
        let custom_name = name.filter(|_| custom_by_name);
        self.col
            .name_evidence(path, value, by_name, named_kind_found, custom_name, |id| {
                here.iter()
                    .map(|&i| &matches[i])
                    .any(|m| m.rule == id && supported(m))
            });
    }

    /// The matches that start before the end of scalar `s` into `here` (those inside it), or
    /// at the root (those spanning tokens).
    fn take_matches_before(&mut self, s: &Scalar<'_>) {
        self.here.clear();
        while let Some(m) = self.matches.get(self.next).filter(|m| m.start < s.end) {
            if m.start >= s.start && m.end <= s.end {
                self.here.push(self.next);
            } else {
                let value = &self.body[m.start..m.end];
                self.col.add("$", m.kind, m.rule, value, m.confidence);
            }
            self.next += 1;
        }
    }

    /// The nearest key above a scalar (when it holds a key word, or custom field rules
    /// exist), the kind it names, and whether a custom field rule matches it.
    fn name_verdict(&mut self, steps: &[Step]) -> (Option<&'b str>, Option<SensitiveKind>, bool) {
        let c = self.classifier;
        let nearest_key = steps.iter().rev().find_map(|st| match *st {
            Step::Member { key_start, key_end } => Some((key_start, key_end)),
            Step::Element => None,
        });
        let Some((key_start, key_end)) = nearest_key else {
            return (None, None, false);
        };
        let has_word = self.key_has_word(key_start, key_end);
        if !has_word && !c.has_custom_field_rules {
            return (None, None, false);
        }
        let Some(name) = self.body.get(key_start..key_end) else {
            return (None, None, false);
        };
        let (by_name, custom) = self.cached_name_verdict(name);
        (Some(name), by_name, custom)
    }

    /// What `name` says, classified once per distinct name of the body.
    fn cached_name_verdict(&mut self, name: &'b str) -> (Option<SensitiveKind>, bool) {
        if let Some((_, verdict)) = self.names.iter().find(|(k, _)| same_key(k, name)) {
            return *verdict;
        }
        let c = self.classifier;
        let verdict = (
            cached_kind_from_field_name(name).filter(|k| c.kind_enabled(*k)),
            c.has_custom_field_rules && c.custom_field_rules(name).next().is_some(),
        );
        if self.names.len() < 64 {
            self.names.push((name, verdict));
        }
        verdict
    }
}

impl Classifier {
    /// Classify a JSON body: field paths as locations, field names as evidence. A body that
    /// is not JSON is classified as text at field path `$`. Bodies longer than
    /// `max_body_bytes` are scanned up to the cap and marked truncated.
    pub fn scan_json(
        &self,
        body: &str,
        location: Location,
        status: Option<StatusClass>,
    ) -> BodyScan {
        let (body, truncated) = self.capped(body);
        // Offsets of the words a field name must hold to name a kind: keys holding none
        // skip the name lookup.
        let mut key_words: Vec<usize> = Vec::new();
        let (matches, field_hint) = self.scan_inner_keys(body, None, Some(&mut key_words));
        if matches.is_empty() && !field_hint && !self.has_custom_field_rules {
            return BodyScan {
                findings: Vec::new(),
                truncated,
            };
        }
        let mut scan = JsonScan {
            classifier: self,
            body,
            matches: &matches,
            next: 0,
            key_words: &key_words,
            word: 0,
            last_key_start: 0,
            // Sized for a typical body, so that they do not grow while it is walked.
            names: Vec::with_capacity(16),
            here: Vec::with_capacity(4),
            path_buf: String::with_capacity(64),
            col: Collector::new(self, location, status),
        };
        let walked = json_walk::walk(body, |s| scan.visit(s));
        let (next, mut col) = (scan.next, scan.col);
        match walked {
            Ok(()) => {
                for m in &matches[next..] {
                    col.add("$", m.kind, m.rule, &body[m.start..m.end], m.confidence);
                }
            }
            Err(e) if e.offset == 0 || (next == 0 && !truncated) => {
                // Not JSON at all: a text body.
                let mut text = Collector::new(self, location, status);
                for m in &matches {
                    text.add("$", m.kind, m.rule, &body[m.start..m.end], m.confidence);
                }
                return BodyScan {
                    findings: text.out,
                    truncated,
                };
            }
            Err(_) => {
                for m in &matches[next..] {
                    col.add("$", m.kind, m.rule, &body[m.start..m.end], m.confidence);
                }
            }
        }
        BodyScan {
            findings: col.out,
            truncated,
        }
    }

    /// Classify a body by its media type: JSON structurally, form-encoded by parameter,
    /// anything else as text.
    pub fn scan_body(
        &self,
        body: &str,
        content_type: Option<&str>,
        location: Location,
        status: Option<StatusClass>,
    ) -> BodyScan {
        let ct = content_type.unwrap_or("").to_ascii_lowercase();
        if ct.contains("x-www-form-urlencoded") {
            let (capped, truncated) = self.capped(body);
            return BodyScan {
                findings: self.scan_query(capped, location, status),
                truncated,
            };
        }
        self.scan_json(body, location, status)
    }

    /// Classify `a=1&b=2` parameters (a query string or a form body) by name and value.
    pub fn scan_query(
        &self,
        query: &str,
        location: Location,
        status: Option<StatusClass>,
    ) -> Vec<FieldFinding> {
        let mut col = Collector::new(self, location, status);
        for pair in query.trim_start_matches('?').split('&') {
            if pair.is_empty() {
                continue;
            }
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = percent_decode(name);
            let value = percent_decode(value);
            col.field(&name, &name, &value);
        }
        col.out
    }

    /// Classify the segments of a URL path; the field path is the segment position
    /// (`/users/{1}` style: `path[1]`).
    pub fn scan_path(&self, path: &str, status: Option<StatusClass>) -> Vec<FieldFinding> {
        let mut col = Collector::new(self, Location::Path, status);
        // Path segments are short: a byte loop beats setting up a vectorised search.
        let end = (path.bytes())
            .position(|c| c == b'?' || c == b'#')
            .unwrap_or(path.len());
        let path = &path[..end];
        for (i, seg) in path.split('/').filter(|s| !s.is_empty()).enumerate() {
            let seg = percent_decode(seg);
            let matches = self.scan_short(&seg, None);
            if matches.is_empty() {
                continue;
            }
            let field_path = format!("path[{i}]");
            for m in matches {
                col.add(
                    &field_path,
                    m.kind,
                    m.rule,
                    &seg[m.start..m.end],
                    m.confidence,
                );
            }
        }
        col.out
    }

    /// Classify selected headers (credentials, cookies, forwarding and contact headers, and
    /// any header whose name says it holds a secret or personal data).
    pub fn scan_headers<'h>(
        &self,
        headers: impl IntoIterator<Item = (&'h str, &'h str)>,
        location: Location,
        status: Option<StatusClass>,
    ) -> Vec<FieldFinding> {
        let mut col = Collector::new(self, location, status);
        for (name, value) in headers {
            // Most headers are neither listed nor named like personal data: decided without
            // lowercasing a copy of the name.
            let selected = SCANNED_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
                || cached_kind_from_field_name(name).is_some();
            if !selected {
                continue;
            }
            // Header names usually arrive lowercased already (HTTP/2, the ingest normalizer).
            let lower: Cow<'_, str> = if name.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(name.to_ascii_lowercase())
            } else {
                Cow::Borrowed(name)
            };
            if lower == "authorization" || lower == "proxy-authorization" {
                // The scheme is not secret; the credential after it is.
                let cred = value.split_once(' ').map_or(value, |(_, c)| c).trim();
                let m = self.scan_with_field(cred, Some(&lower));
                let kind = m
                    .iter()
                    .find(|m| m.kind == SensitiveKind::Jwt)
                    .map_or(SensitiveKind::Secret, |m| m.kind);
                if !cred.is_empty() && self.kind_enabled(kind) {
                    let rule = m.first().map_or(self.field_rule, |m| m.rule);
                    col.add(&lower, kind, rule, cred, 0.95);
                }
                continue;
            }
            col.field(&lower, &lower, value);
        }
        col.out
    }

    fn capped<'b>(&self, body: &'b str) -> (&'b str, bool) {
        if body.len() <= self.max_body_bytes {
            return (body, false);
        }
        let mut cut = self.max_body_bytes;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        (&body[..cut], true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClassifyConfig;

    fn labels(findings: &[FieldFinding]) -> Vec<(String, String)> {
        findings
            .iter()
            .map(|f| (f.field_path.clone(), f.label.clone()))
            .collect()
    }

    #[test]
    fn json_fields_get_paths_and_name_evidence() {
        let body = r#"{"customer":{"email":"ada@example.com","first_name":"Ada","password":"Xk29!pQz7&mWv",
            "address":"12 Crescent Road, London","dob":"1990-04-01","phone":"4155550132","id":123456789},
            "items":[{"card":"4111111111111111"}],"status":"ok"}"#;
        let scan = Classifier::builtin().scan_json(
            body,
            Location::ResponseBody,
            StatusClass::from_status(200),
        );
        assert!(!scan.truncated);
        let got = labels(&scan.findings);
        for want in [
            ("$.customer.email", "email"),
            ("$.customer.first_name", "person"),
            ("$.customer.password", "secret"),
            ("$.customer.address", "address"),
            ("$.customer.dob", "date_of_birth"),
            ("$.customer.phone", "phone"),
            ("$.items[*].card", "credit_card"),
        ] {
            assert!(
                got.contains(&(want.0.to_string(), want.1.to_string())),
                "missing {want:?} in {got:?}"
            );
        }
        // An unformatted 9-digit number under "id" is not an SSN.
        assert!(!got.iter().any(|(p, _)| p == "$.customer.id"), "{got:?}");
        assert!(
            scan.findings
                .iter()
                .all(|f| f.status_class == Some(StatusClass::Success))
        );
        let card = scan
            .findings
            .iter()
            .find(|f| f.label == "credit_card")
            .unwrap();
        assert_eq!(card.masked_sample, "4111********1111");
    }

    #[test]
    fn repeated_labels_at_one_path_are_counted() {
        let body = r#"{"users":[{"email":"a@example.com"},{"email":"b@example.com"}]}"#;
        let scan = Classifier::builtin().scan_json(body, Location::ResponseBody, None);
        assert_eq!(scan.findings.len(), 1);
        assert_eq!(scan.findings[0].count, 2);
        assert_eq!(scan.findings[0].field_path, "$.users[*].email");
    }

    #[test]
    fn oversized_bodies_are_scanned_to_the_cap_and_marked() {
        let cfg = ClassifyConfig {
            max_body_bytes: 64,
            ..ClassifyConfig::default()
        };
        let c = Classifier::new(&cfg).unwrap();
        let body = format!(
            r#"{{"email":"ada@example.com","pad":"{}","late":"bob@example.com"}}"#,
            "x".repeat(100)
        );
        let scan = c.scan_json(&body, Location::RequestBody, None);
        assert!(scan.truncated);
        assert_eq!(
            labels(&scan.findings),
            vec![("$.email".into(), "email".into())]
        );
    }

    #[test]
    fn text_bodies_fall_back_to_the_root_path() {
        let scan =
            Classifier::builtin().scan_json("contact ada@example.com", Location::RequestBody, None);
        assert_eq!(labels(&scan.findings), vec![("$".into(), "email".into())]);
    }

    #[test]
    fn query_parameters_by_name() {
        let f = Classifier::builtin().scan_query(
            "?email=ada%40example.com&api_key=Zf3D0LXCM3EIMbgJpUNnkRtO&page=2&lastName=Lovelace",
            Location::Query,
            None,
        );
        assert_eq!(
            labels(&f),
            vec![
                ("email".into(), "email".into()),
                ("api_key".into(), "secret".into()),
                ("lastName".into(), "person".into())
            ]
        );
    }

    #[test]
    fn headers_and_path_segments() {
        let c = Classifier::builtin();
        let h = c.scan_headers(
            [
                ("Authorization", "Bearer abcdef123456XYZ"),
                ("User-Agent", "curl/8.0 a@example.com"),
                ("X-Forwarded-For", "203.0.113.7"),
            ],
            Location::Header,
            None,
        );
        assert_eq!(
            labels(&h),
            vec![
                ("authorization".into(), "secret".into()),
                ("x-forwarded-for".into(), "ip_address".into())
            ]
        );
        assert_eq!(h[0].masked_sample, "********");
        let p = c.scan_path("/v1/users/ada@example.com/cards", None);
        assert_eq!(labels(&p), vec![("path[2]".into(), "email".into())]);
    }

    #[test]
    fn custom_field_name_classifier() {
        let cfg: ClassifyConfig = serde_json::from_str(
            r#"{"custom":[{"name":"employee_id","field_names":"^(emp|employee)_?id$","severity":"high"}]}"#,
        )
        .unwrap();
        let c = Classifier::new(&cfg).unwrap();
        let scan = c.scan_json(
            r#"{"empId":"E-1","employee_id":"E-2","id":"3"}"#,
            Location::ResponseBody,
            None,
        );
        assert_eq!(
            labels(&scan.findings),
            vec![
                ("$.empId".into(), "employee_id".into()),
                ("$.employee_id".into(), "employee_id".into())
            ]
        );
        assert_eq!(scan.findings[0].sensitivity, Sensitivity::High);
    }

    /// A custom classifier with both a value pattern and field names used to count a value
    /// twice in JSON bodies (once by the pattern, once by the name) but once in query strings.
    #[test]
    fn custom_classifier_matching_value_and_name_counts_once_everywhere() {
        let cfg: ClassifyConfig = serde_json::from_str(
            r#"{"custom":[{"name":"employee_id","pattern":"E-\\d{5}","field_names":"^emp_?id$"}]}"#,
        )
        .unwrap();
        let c = Classifier::new(&cfg).unwrap();
        let json = c.scan_json(
            r#"{"emp_id":"E-12345","other":"E-54321","empid":"n/a"}"#,
            Location::ResponseBody,
            None,
        );
        let query = c.scan_query(
            "emp_id=E-12345&other=E-54321&empid=n/a",
            Location::ResponseBody,
            None,
        );
        let summary = |fs: &[FieldFinding]| {
            let mut v: Vec<(String, String, u32)> = fs
                .iter()
                .map(|f| {
                    let path = f.field_path.trim_start_matches("$.").to_string();
                    (path, f.label.clone(), f.count)
                })
                .collect();
            v.sort();
            v
        };
        let want = vec![
            ("emp_id".to_string(), "employee_id".to_string(), 1),
            ("empid".to_string(), "employee_id".to_string(), 1),
            ("other".to_string(), "employee_id".to_string(), 1),
        ];
        assert_eq!(summary(&json.findings), want);
        assert_eq!(summary(&query), want);
    }

    #[test]
    fn field_names_that_are_not_personal() {
        for n in [
            "ip_address",
            "username",
            "name",
            "key",
            "token_url",
            "page",
            "email_address",
        ] {
            let k = kind_from_field_name(n);
            assert!(
                k.is_none() || n == "email_address" && k.is_none(),
                "{n} -> {k:?}"
            );
        }
        assert_eq!(
            kind_from_field_name("billingAddress"),
            Some(SensitiveKind::Address)
        );
        assert_eq!(
            kind_from_field_name("date_of_birth"),
            Some(SensitiveKind::DateOfBirth)
        );
        assert_eq!(
            kind_from_field_name("client_secret"),
            Some(SensitiveKind::Secret)
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%40b+c%zz%4"), "a@b c%zz%4");
        assert!(matches!(percent_decode("orders"), Cow::Borrowed("orders")));
        assert_eq!(percent_decode("%C3%A9t%E9"), "ét\u{FFFD}");
    }

    #[test]
    fn remembered_clean_segments_give_the_same_findings() {
        let c = Classifier::builtin();
        let paths = [
            "/v2/customers/81723/orders",
            "/v1/users/ada@example.com/cards",
            "/v2/customers/81723/ada%40example.com",
            "/v1/cards/4111111111111111",
        ];
        let first: Vec<_> = paths.iter().map(|p| c.scan_path(p, None)).collect();
        let again: Vec<_> = paths.iter().map(|p| c.scan_path(p, None)).collect();
        assert_eq!(first, again);
        assert_eq!(labels(&first[0]), vec![]);
        assert_eq!(labels(&first[2]), vec![("path[3]".into(), "email".into())]);
        assert_eq!(
            labels(&first[3]),
            vec![("path[2]".into(), "credit_card".into())]
        );
    }

    #[test]
    fn memoized_scans_equal_fresh_scans() {
        let c = Classifier::builtin();
        let texts = [
            "v2",
            "customers",
            "81723",
            "ada@example.com",
            "4111111111111111",
            "203.0.113.7",
            "123-45-6789",
            "+1 415 555 0132",
            "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
            "9f1c2b7e-5d4a-4c3b-9a8e-1f2d3c4b5a69",
            "2024-06-10",
            "",
            "red shoes",
            "ét",
        ];
        for field in [None, Some("q"), Some("ip"), Some("page")] {
            for text in texts {
                let fresh = c.scan_with_field(text, field);
                for round in 0..2 {
                    assert_eq!(
                        c.scan_short(text, field),
                        fresh,
                        "{field:?} {text} #{round}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_clean_memo_is_per_classifier() {
        // `ref-1234` is clean for the built-in detectors; a custom classifier labels it, and
        // must do so even after the built-in classifier remembered it clean on this thread.
        let builtin = Classifier::builtin();
        assert!(builtin.scan_path("/orders/ref-1234", None).is_empty());
        assert!(
            builtin
                .scan_query("ref=ref-1234", Location::Query, None)
                .is_empty()
        );
        let cfg: ClassifyConfig = serde_json::from_str(
            r#"{"custom":[{"name":"order_ref","pattern":"ref-[0-9]{4}","severity":"low"}]}"#,
        )
        .unwrap();
        let custom = Classifier::new(&cfg).unwrap();
        assert_eq!(
            labels(&custom.scan_path("/orders/ref-1234", None)),
            vec![("path[1]".into(), "order_ref".into())]
        );
        assert_eq!(
            labels(&custom.scan_query("ref=ref-1234", Location::Query, None)),
            vec![("ref".into(), "order_ref".into())]
        );
        assert!(builtin.scan_path("/orders/ref-1234", None).is_empty());
    }
}
