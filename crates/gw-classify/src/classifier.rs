//! The scanning engine: one prefilter pass over the text (`prefilter.rs`; custom patterns
//! through a `RegexSet`) says which detectors have a candidate at all; only those run their
//! own pattern and validator. Overlapping verdicts are resolved by detector priority, then
//! by length. Per-scan buffers live in a per-thread scratch.

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use serde::Serialize;

use crate::builtin::{self, BuiltIn, Candidate, Gate, Verdict};
use crate::config::{ClassifyConfig, ConfigError, CustomClassifierConfig, CustomValidator};
use crate::kind::{SensitiveKind, Sensitivity};
use crate::prefilter::{Activation, Prefilter};
use crate::validate;

/// Index of the rule (built-in detector or custom classifier) that produced a match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(pub(crate) u16);

/// One sensitive span inside a scanned text (byte offsets, end exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Match {
    pub kind: SensitiveKind,
    #[serde(skip)]
    pub rule: RuleId,
    pub start: usize,
    pub end: usize,
    pub confidence: f32,
}

/// What a rule is, for naming and sensitivity.
pub(crate) struct Rule {
    pub id: String,
    pub kind: SensitiveKind,
    /// The label in output: the kind name, or the custom classifier's name.
    pub label: String,
    pub sensitivity: Sensitivity,
    source: RuleSource,
}

enum RuleSource {
    BuiltIn(&'static BuiltIn),
    Custom(Box<Custom>),
    /// Labels given from field names alone (no pattern).
    FieldName,
}

struct Custom {
    keywords: Vec<String>,
    window: usize,
    field_names: Option<regex::Regex>,
    validator: CustomValidator,
    confidence: f32,
}

/// A detector whose candidates are runs of digits and separators: instead of a gate in the
/// prefilter, it runs on the digit windows of the text that have enough digits for it.
struct Windowed {
    regex: Regex,
    rule: usize,
    min_digits: usize,
    min_dots: usize,
    /// Only in windows with a phone layout (`DigitWindow::phone_shape`).
    phone: bool,
}

/// A detector pattern that runs over the whole text when its gate holds.
struct Pattern {
    regex: Regex,
    rule: usize,
}

/// Buffers reused across scans on one thread.
#[derive(Default)]
struct Scratch {
    activation: Activation,
    found: Vec<(Match, u8)>,
    verdicts: Vec<Verdict>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
    /// Short texts (with their field name) in which the classifier `CleanMemo::classifier`
    /// found nothing: path segments and parameter values repeat on every request of an
    /// endpoint, and a scan costs thousands of instructions even when it finds nothing.
    static CLEAN: RefCell<CleanMemo> = RefCell::new(CleanMemo::default());
}

/// Built-in patterns whose lazy DFA outgrows the regex crate's default cache (2 MiB) on
/// gateway traffic, with the cache they get. Past its capacity a lazy DFA clears its cache and
/// determinizes the same states again: `keyword_assignment` (an optional name prefix, a
/// case-insensitive word, an operator and a value) did so on every few bodies of simulated
/// traffic, about 2,400 instructions per record; with 8 MiB it settles (measured with callgrind
/// on `examples/record_stream.rs`, 4 MiB and 6 MiB still clear). Matches are the same either way.
const LARGE_DFA_CACHE: [(&str, usize); 1] = [("keyword_assignment", 8 << 20)];

/// Classifiers built so far; each gets its own number so that a per-thread memo never answers
/// for another classifier (even one later built at the same address).
static INSTANCES: AtomicU64 = AtomicU64::new(1);

/// Texts of at most this many bytes (and field names as long) are remembered when clean.
/// Below 0x7f: `CleanMemo::set_key` writes a field name's length as one ASCII byte.
const CLEAN_MEMO_TEXT: usize = 64;
/// Clean texts remembered per thread before the memo starts over.
const CLEAN_MEMO_CAP: usize = 4096;

/// Per-thread set of (field name, text) pairs without matches under one classifier. Only
/// texts without matches are kept, so the memo holds nothing the classifier finds sensitive.
#[derive(Default)]
struct CleanMemo {
    /// `Classifier::instance` the entries belong to; 0: none yet.
    classifier: u64,
    /// `\x7f<text>` without a field name, `<len><field><text>` with one, the length of the
    /// field name (at most `CLEAN_MEMO_TEXT`, below 0x7f) as one byte. Hashed with a
    /// per-process random seed: a lookup costs a fraction of SipHash on these short keys, and
    /// crafted keys cannot be made to collide without knowing the seed.
    clean: HashSet<Box<str>, foldhash::fast::RandomState>,
    /// Key of the current lookup (reused, so that a hit allocates nothing).
    key: String,
}

impl CleanMemo {
    /// Callers pass field names of at most `CLEAN_MEMO_TEXT` bytes, so that the length fits
    /// the one-byte prefix.
    fn set_key(&mut self, text: &str, field: Option<&str>) {
        self.key.clear();
        match field {
            None => self.key.push('\u{7f}'),
            Some(f) => {
                debug_assert!(f.len() <= CLEAN_MEMO_TEXT);
                self.key.push(char::from(f.len() as u8));
                self.key.push_str(f);
            }
        }
        self.key.push_str(text);
    }
}

/// The configured set of detectors. Build once, share across threads (`Sync`).
pub struct Classifier {
    /// Built-in patterns, then custom ones.
    patterns: Vec<Pattern>,
    /// Gates of the built-in patterns (the first `prefilter`-gated ones of `patterns`).
    prefilter: Prefilter,
    /// Custom patterns have no declared gate: a set over them says which may match.
    custom_set: Option<RegexSet>,
    /// Index in `patterns` of the first custom pattern.
    first_custom: usize,
    /// Digit-layout detectors, run only inside digit windows.
    windowed: Vec<Windowed>,
    pub(crate) rules: Vec<Rule>,
    disabled_kinds: Vec<SensitiveKind>,
    /// Rule used for labels that come from a field name.
    pub(crate) field_rule: RuleId,
    pub(crate) max_body_bytes: usize,
    min_confidence: f32,
    /// Whether any custom classifier matches on field names.
    pub(crate) has_custom_field_rules: bool,
    /// Number of this classifier among those built (`INSTANCES`), keys the `CLEAN` memo.
    instance: u64,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field(
                "rules",
                &self.rules.iter().map(|r| &r.id).collect::<Vec<_>>(),
            )
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

fn snake_case(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Classifier {
    /// Build a classifier from configuration: the built-in detectors' gates into one
    /// prefilter, custom patterns into one `RegexSet`.
    pub fn new(config: &ClassifyConfig) -> Result<Classifier, ConfigError> {
        if !(0.0..=1.0).contains(&config.min_confidence) {
            return Err(ConfigError::BadMinConfidence(config.min_confidence));
        }
        if config.max_body_bytes == 0 {
            return Err(ConfigError::ZeroBodyCap);
        }
        let mut disabled_kinds = Vec::new();
        let mut disabled_rules = Vec::new();
        for name in &config.disabled {
            if let Some(k) = SensitiveKind::from_name(name) {
                disabled_kinds.push(k);
            } else if builtin::BUILT_INS.iter().any(|b| b.id == name) {
                disabled_rules.push(name.as_str());
            } else {
                let mut known: Vec<&str> =
                    SensitiveKind::BUILT_IN.iter().map(|k| k.as_str()).collect();
                known.extend(builtin::BUILT_INS.iter().map(|b| b.id));
                return Err(ConfigError::UnknownDisabled {
                    name: name.clone(),
                    known: known.join(", "),
                });
            }
        }

        let mut rules = Vec::new();
        let mut patterns: Vec<Pattern> = Vec::new();
        let mut gates: Vec<Option<Gate>> = Vec::new();
        let mut windowed = Vec::new();
        for b in builtin::BUILT_INS {
            if disabled_rules.contains(&b.id)
                || disabled_kinds.contains(&b.kind) && b.id != "digit_run"
            {
                continue;
            }
            let mut builder = RegexBuilder::new(&format!("(?-u:{})", b.pattern));
            builder.size_limit(32 << 20);
            if let Some((_, bytes)) = LARGE_DFA_CACHE.iter().find(|(id, _)| *id == b.id) {
                builder.dfa_size_limit(*bytes);
            }
            let regex = builder
                .build()
                .map_err(|e| ConfigError::BuiltInPattern(b.id, e.to_string()))?;
            let rule = rules.len();
            rules.push(Rule {
                id: b.id.to_string(),
                kind: b.kind,
                label: b.kind.as_str().to_string(),
                sensitivity: b.kind.sensitivity(),
                source: RuleSource::BuiltIn(b),
            });
            if let Gate::DigitWindow {
                digits,
                dots,
                phone,
            } = b.gate
            {
                windowed.push(Windowed {
                    regex,
                    rule,
                    min_digits: digits,
                    min_dots: dots,
                    phone,
                });
            } else {
                patterns.push(Pattern { regex, rule });
                gates.push(Some(b.gate));
            }
        }
        let first_custom = patterns.len();
        let mut custom_patterns = Vec::new();
        for (index, c) in config.custom.iter().enumerate() {
            let rule = custom_rule(index, c)?;
            if let Some(p) = &c.pattern {
                let regex = RegexBuilder::new(p)
                    .size_limit(32 << 20)
                    .build()
                    .map_err(|e| ConfigError::InvalidPattern {
                        index,
                        name: c.name.clone(),
                        reason: e.to_string(),
                    })?;
                patterns.push(Pattern {
                    regex,
                    rule: rules.len(),
                });
                custom_patterns.push(p.as_str());
            }
            rules.push(rule);
        }
        let field_rule = RuleId(rules.len() as u16);
        rules.push(Rule {
            id: "field_name".to_string(),
            kind: SensitiveKind::Custom,
            label: "field_name".to_string(),
            sensitivity: Sensitivity::Low,
            source: RuleSource::FieldName,
        });
        let prefilter =
            Prefilter::new(&gates).map_err(|e| ConfigError::BuiltInPattern("prefilter", e))?;
        let custom_set = if custom_patterns.is_empty() {
            None
        } else {
            let set = RegexSetBuilder::new(&custom_patterns)
                .size_limit(64 << 20)
                .dfa_size_limit(256 << 20)
                .build()
                .map_err(|e| ConfigError::BuiltInPattern("custom_regex_set", e.to_string()))?;
            Some(set)
        };
        Ok(Classifier {
            patterns,
            prefilter,
            custom_set,
            first_custom,
            windowed,
            rules,
            disabled_kinds,
            field_rule,
            max_body_bytes: config.max_body_bytes,
            min_confidence: config.min_confidence,
            has_custom_field_rules: config.custom.iter().any(|c| c.field_names.is_some()),
            instance: INSTANCES.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// The classifier with the default configuration, built once.
    pub fn builtin() -> &'static Classifier {
        static DEFAULT: OnceLock<Classifier> = OnceLock::new();
        DEFAULT.get_or_init(|| {
            Classifier::new(&ClassifyConfig::default())
                .unwrap_or_else(|e| unreachable!("built-in detectors compile: {e}"))
        })
    }

    /// Bytes of a body that are scanned.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// Output label of a match: the kind name, or a custom classifier's name.
    pub fn label(&self, m: &Match) -> &str {
        if m.kind != SensitiveKind::Custom {
            return m.kind.as_str();
        }
        self.rules
            .get(usize::from(m.rule.0))
            .map_or(m.kind.as_str(), |r| r.label.as_str())
    }

    /// Rule id of a match (`email`, `github_token`, `keyword_assignment`, a custom name...).
    pub fn rule_id(&self, rule: RuleId) -> &str {
        self.rules
            .get(usize::from(rule.0))
            .map_or("unknown", |r| r.id.as_str())
    }

    /// Sensitivity of a match's rule.
    pub fn sensitivity(&self, m: &Match) -> Sensitivity {
        self.rules
            .get(usize::from(m.rule.0))
            .map_or(m.kind.sensitivity(), |r| r.sensitivity)
    }

    /// Every sensitive span in free text, in order, non-overlapping.
    pub fn scan_text(&self, text: &str) -> Vec<Match> {
        self.scan_with_field(text, None)
    }

    /// Like `scan_text`, with the name of the field the text came from as context.
    pub fn scan_with_field(&self, text: &str, field: Option<&str>) -> Vec<Match> {
        self.scan_inner(text, field).0
    }

    /// `scan_with_field` for the short texts of request parts (path segments, parameter
    /// values), answering from a per-thread memo of texts this classifier found clean. Callers
    /// pass only texts they may remember: never a value whose field name marks it a secret.
    pub(crate) fn scan_short(&self, text: &str, field: Option<&str>) -> Vec<Match> {
        if text.len() > CLEAN_MEMO_TEXT || field.is_some_and(|f| f.len() > CLEAN_MEMO_TEXT) {
            return self.scan_with_field(text, field);
        }
        let known_clean = CLEAN.with(|cell| {
            let Ok(mut memo) = cell.try_borrow_mut() else {
                return false;
            };
            if memo.classifier != self.instance {
                memo.clean.clear();
                memo.classifier = self.instance;
            }
            memo.set_key(text, field);
            let CleanMemo { clean, key, .. } = &*memo;
            clean.contains(key.as_str())
        });
        if known_clean {
            return Vec::new();
        }
        let matches = self.scan_with_field(text, field);
        if matches.is_empty() {
            CLEAN.with(|cell| {
                if let Ok(mut memo) = cell.try_borrow_mut()
                    && memo.classifier == self.instance
                {
                    if memo.clean.len() >= CLEAN_MEMO_CAP {
                        memo.clean.clear();
                    }
                    memo.set_key(text, field);
                    let key: Box<str> = memo.key.as_str().into();
                    memo.clean.insert(key);
                }
            });
        }
        matches
    }

    /// Matches, and whether the text may contain a sensitive field name.
    pub(crate) fn scan_inner(&self, text: &str, field: Option<&str>) -> (Vec<Match>, bool) {
        self.scan_inner_keys(text, field, None)
    }

    /// `scan_inner`, also filling `key_words` (cleared first) with the ascending offsets of
    /// the words a field name must hold to name a kind (`Activation::key_words`).
    pub(crate) fn scan_inner_keys(
        &self,
        text: &str,
        field: Option<&str>,
        key_words: Option<&mut Vec<usize>>,
    ) -> (Vec<Match>, bool) {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => self.scan_scratch(text, field, &mut scratch, key_words),
            Err(_) => self.scan_scratch(text, field, &mut Scratch::default(), key_words),
        })
    }

    fn scan_scratch(
        &self,
        text: &str,
        field: Option<&str>,
        scratch: &mut Scratch,
        key_words: Option<&mut Vec<usize>>,
    ) -> (Vec<Match>, bool) {
        let bytes = text.as_bytes();
        let Scratch {
            activation,
            found,
            verdicts,
        } = scratch;
        self.prefilter.run(bytes, activation);
        if let Some(out) = key_words {
            out.clear();
            out.extend_from_slice(&activation.key_words);
        }
        activation.active.resize(self.patterns.len(), false);
        if let Some(set) = &self.custom_set {
            for i in set.matches(bytes).iter() {
                activation.active[self.first_custom + i] = true;
            }
        }
        let field_hint = activation.field_hint;
        let any_window = !self.windowed.is_empty() && !activation.windows.is_empty();
        if !any_window && !activation.active.contains(&true) {
            return (Vec::new(), field_hint);
        }
        found.clear();
        for (p, pattern) in self.patterns.iter().enumerate() {
            if !activation.active[p] {
                continue;
            }
            for m in pattern.regex.find_iter(bytes) {
                let span = (m.start(), m.end());
                self.confirm(text, field, pattern.rule, span, verdicts, found);
            }
        }
        if any_window {
            for w in &activation.windows {
                let hay = &bytes[..w.end];
                for d in &self.windowed {
                    if w.digits < d.min_digits || w.dots < d.min_dots || d.phone && !w.phone_shape {
                        continue;
                    }
                    let mut pos = w.start;
                    while pos < w.end {
                        let Some(m) = d.regex.find_at(hay, pos) else {
                            break;
                        };
                        let span = (m.start(), m.end());
                        self.confirm(text, field, d.rule, span, verdicts, found);
                        pos = if m.end() > m.start() {
                            m.end()
                        } else {
                            m.end() + 1
                        };
                    }
                }
            }
        }
        (resolve_overlaps(found), field_hint)
    }

    /// Run the check of rule `rule_index` on one pattern match and keep its verdicts.
    fn confirm(
        &self,
        text: &str,
        field: Option<&str>,
        rule_index: usize,
        (start, end): (usize, usize),
        verdicts: &mut Vec<Verdict>,
        found: &mut Vec<(Match, u8)>,
    ) {
        if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            return;
        }
        let rule = &self.rules[rule_index];
        let cand = Candidate {
            text,
            start,
            end,
            field,
        };
        let priority = match &rule.source {
            RuleSource::BuiltIn(b) => {
                (b.check)(&cand, verdicts);
                b.priority
            }
            RuleSource::Custom(c) => {
                c.check(&cand, rule.kind, verdicts);
                70
            }
            RuleSource::FieldName => 0,
        };
        for v in verdicts.drain(..) {
            // Checks may widen a span (a PEM block to its END line): keep only spans that
            // are valid slices of the text.
            if v.confidence < self.min_confidence
                || self.disabled_kinds.contains(&v.kind)
                || v.end <= v.start
                || v.end > text.len()
                || !text.is_char_boundary(v.start)
                || !text.is_char_boundary(v.end)
            {
                continue;
            }
            let m = Match {
                kind: v.kind,
                rule: RuleId(rule_index as u16),
                start: v.start,
                end: v.end,
                confidence: v.confidence,
            };
            found.push((m, priority));
        }
    }

    /// Every sensitive span of `text` replaced by its masked form.
    pub fn mask_text(&self, text: &str) -> String {
        let matches = self.scan_text(text);
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for m in &matches {
            out.push_str(&text[at..m.start]);
            out.push_str(&crate::mask::mask(m.kind, &text[m.start..m.end]));
            at = m.end;
        }
        out.push_str(&text[at..]);
        out
    }

    /// Custom classifiers whose `field_names` regex matches this field name.
    pub(crate) fn custom_field_rules<'a>(
        &'a self,
        field: &'a str,
    ) -> impl Iterator<Item = (RuleId, &'a Rule)> + 'a {
        self.rules
            .iter()
            .enumerate()
            .filter_map(move |(i, r)| match &r.source {
                RuleSource::Custom(c)
                    if c.field_names.as_ref().is_some_and(|re| re.is_match(field)) =>
                {
                    Some((RuleId(i as u16), r))
                }
                _ => None,
            })
    }

    pub(crate) fn custom_confidence(&self, rule: RuleId) -> f32 {
        match self.rules.get(usize::from(rule.0)).map(|r| &r.source) {
            Some(RuleSource::Custom(c)) => c.confidence,
            _ => 0.8,
        }
    }

    pub(crate) fn kind_enabled(&self, kind: SensitiveKind) -> bool {
        !self.disabled_kinds.contains(&kind)
    }
}

fn custom_rule(index: usize, c: &CustomClassifierConfig) -> Result<Rule, ConfigError> {
    if !snake_case(&c.name) {
        return Err(ConfigError::BadName {
            index,
            name: c.name.clone(),
        });
    }
    if !(0.0..=1.0).contains(&c.confidence) {
        return Err(ConfigError::BadConfidence {
            index,
            name: c.name.clone(),
            value: c.confidence,
        });
    }
    if c.pattern.is_none() && c.field_names.is_none() {
        return Err(ConfigError::NothingToMatch {
            index,
            name: c.name.clone(),
        });
    }
    let field_names = c
        .field_names
        .as_deref()
        .map(|p| {
            regex::RegexBuilder::new(p)
                .case_insensitive(true)
                .build()
                .map_err(|e| ConfigError::InvalidFieldNames {
                    index,
                    name: c.name.clone(),
                    reason: e.to_string(),
                })
        })
        .transpose()?;
    let kind = SensitiveKind::from_name(&c.name).unwrap_or(SensitiveKind::Custom);
    Ok(Rule {
        id: c.name.clone(),
        kind,
        label: c.name.clone(),
        sensitivity: c.severity,
        source: RuleSource::Custom(Box::new(Custom {
            keywords: c.keywords.iter().map(|k| k.to_ascii_lowercase()).collect(),
            window: c.keyword_window,
            field_names,
            validator: c.validator,
            confidence: c.confidence,
        })),
    })
}

impl Custom {
    fn check(&self, c: &Candidate<'_>, kind: SensitiveKind, out: &mut Vec<Verdict>) {
        let value = c.slice(c.start, c.end);
        let valid = match self.validator {
            CustomValidator::None => true,
            CustomValidator::Luhn => validate::luhn(value),
            CustomValidator::Mod97 => validate::mod97(value),
        };
        if !valid {
            return;
        }
        let field_says_so = c
            .field
            .is_some_and(|f| self.field_names.as_ref().is_some_and(|re| re.is_match(f)));
        if !self.keywords.is_empty() && !field_says_so {
            let lo = c.start.saturating_sub(self.window);
            let window = &c.bytes()[lo..c.start];
            let field = c.field.unwrap_or("").as_bytes();
            let near = self.keywords.iter().any(|k| {
                builtin::contains_ci(window, k.as_bytes())
                    || builtin::contains_ci(field, k.as_bytes())
            });
            if !near {
                return;
            }
        }
        out.push(Verdict {
            start: c.start,
            end: c.end,
            confidence: self.confidence,
            kind,
        });
    }
}

/// Keep the best of overlapping verdicts: higher priority, then longer, then earlier.
fn resolve_overlaps(found: &mut [(Match, u8)]) -> Vec<Match> {
    if found.len() <= 1 {
        return found.iter().map(|(m, _)| *m).collect();
    }
    found.sort_by(|(a, pa), (b, pb)| {
        pb.cmp(pa)
            .then((b.end - b.start).cmp(&(a.end - a.start)))
            .then(a.start.cmp(&b.start))
    });
    let mut kept: Vec<Match> = Vec::with_capacity(found.len());
    for (m, _) in found.iter() {
        if kept.iter().all(|k| m.end <= k.start || m.start >= k.end) {
            kept.push(*m);
        }
    }
    kept.sort_by_key(|m| (m.start, m.end));
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(SensitiveKind, &str)> {
        Classifier::builtin()
            .scan_text(text)
            .into_iter()
            .map(|m| (m.kind, &text[m.start..m.end]))
            .collect()
    }

    #[test]
    fn finds_the_common_kinds_in_free_text() {
        let text = "mail j.doe@example.com, card 4111 1111 1111 1111, iban DE89 3704 0044 0532 0130 00, ssn 078-05-1123, ip 203.0.113.9";
        let got = kinds(text);
        assert_eq!(
            got,
            vec![
                (SensitiveKind::Email, "j.doe@example.com"),
                (SensitiveKind::CreditCard, "4111 1111 1111 1111"),
                (SensitiveKind::Iban, "DE89 3704 0044 0532 0130 00"),
                (SensitiveKind::Ssn, "078-05-1123"),
                (SensitiveKind::IpAddress, "203.0.113.9"),
            ]
        );
    }

    #[test]
    fn invalid_checksums_are_not_labelled() {
        assert!(kinds("card 4111 1111 1111 1112").is_empty());
        assert!(kinds("iban DE89 3704 0044 0532 0130 01").is_empty());
        assert!(kinds("ssn 666-05-1123").is_empty());
    }

    #[test]
    fn secrets_by_format_and_by_assignment() {
        let got = kinds("export GITHUB=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");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, SensitiveKind::Secret);
        let got = kinds(r#"db_password = "Xk29!pQz7&mWv""#);
        assert_eq!(got, vec![(SensitiveKind::Secret, "Xk29!pQz7&mWv")]);
        assert!(kinds(r#"db_password = "${DB_PASSWORD}""#).is_empty());
    }

    #[test]
    fn custom_classifier_with_keyword_and_validator() {
        let cfg: ClassifyConfig = serde_json::from_str(
            r#"{"custom":[{"name":"employee_id","pattern":"EMP-[0-9]{6}","keywords":["employee"]},
                          {"name":"loyalty_card","pattern":"\\b[0-9]{12}\\b","validator":"luhn","severity":"high"}]}"#,
        )
        .unwrap();
        let c = Classifier::new(&cfg).unwrap();
        let text =
            "employee EMP-123456 and EMP-654321 later ... far away text ... card 000000000018";
        let m = c.scan_text(text);
        let labels: Vec<&str> = m.iter().map(|m| c.label(m)).collect();
        assert_eq!(labels, vec!["employee_id", "employee_id", "loyalty_card"]);
        assert_eq!(c.sensitivity(&m[2]), Sensitivity::High);
    }

    #[test]
    fn disabling_by_kind_and_by_rule() {
        let cfg = ClassifyConfig {
            disabled: vec!["email".into(), "keyword_assignment".into(), "ssn".into()],
            ..ClassifyConfig::default()
        };
        let c = Classifier::new(&cfg).unwrap();
        assert!(
            c.scan_text("a@example.com 078-05-1123 password=Xk29pQz7mWv")
                .is_empty()
        );
        let bad = ClassifyConfig {
            disabled: vec!["emails".into()],
            ..ClassifyConfig::default()
        };
        assert!(matches!(
            Classifier::new(&bad),
            Err(ConfigError::UnknownDisabled { .. })
        ));
    }

    #[test]
    fn bad_custom_regex_names_the_classifier() {
        let cfg: ClassifyConfig =
            serde_json::from_str(r#"{"custom":[{"name":"broken","pattern":"(["}]}"#).unwrap();
        let err = Classifier::new(&cfg).unwrap_err().to_string();
        assert!(err.contains("broken") && err.contains("pattern"), "{err}");
    }
}
