//! `GW-T-BOLA-FOREIGN-ID` (OWASP API1): an identity accesses object ids that never appeared in
//! its own successful requests or responses while other identities own them (APIClarity's
//! "non-learned identifier" idea).
//!
//! Object ids are path parameters and query parameters named `id` or `…id`, in the namespace of
//! their resource (see [`super::BolaRule`]); successful JSON responses add the ids of their
//! `"id"` / `"…Id"` / `"…_id"` fields to the caller's owned ids. Ownership lives in two bounded
//! structures: a global owner map (object → first owner, up to three other identities that
//! fetched it, shared flag; LRU over `max_objects`) and, per identity, a capacity-bounded set of
//! owned id hashes ([`HashSet64`]). Per identity and window the detector counts identifier
//! calls, foreign calls, distinct foreign ids and their distinct owners; it alerts once the
//! distinct foreign ids reach `min_foreign_ids` and make up `min_foreign_share` of the calls,
//! after the learning period. Evidence: counts, a few masked example ids, owners count.

use gw_model::{Confidence, EvidenceSample, Exchange, Finding, ParamLocation};
use gw_sketch::{BoundedMap, HashSet64, stable_hash, stable_hash_parts};
use memchr::memmem;
use serde::{Deserialize, Serialize};

use super::enumeration::is_identifier;
use super::marks::MarkBook;
use super::params::extract_path_and_query;
use super::{
    Alert, BOLA_FOREIGN_ID, BehavioralConfig, BehavioralConfigError, StreamClock, Who, event_secs,
    finding, human, identity_of, location_word, window_words,
};
use crate::fragment::evidence_fragment;
use crate::{DetectorStats, RuleMeta};

/// Response bodies longer than this are not scanned for ids.
const MAX_BODY_SCAN: usize = 64 * 1024;
/// Ids taken from one response body.
const MAX_BODY_IDS: usize = 32;
/// Distinct foreign ids tracked per identity and window (the count saturates here).
const WINDOW_FOREIGN_CAP: usize = 1024;
/// Distinct owners tracked per identity and window.
const MAX_OWNERS: usize = 64;
/// Masked example ids kept per identity and window.
const MAX_EXAMPLES: usize = 3;
/// Longest id value considered.
const MAX_ID_LEN: usize = 64;

static RULES: [&RuleMeta; 1] = [&BOLA_FOREIGN_ID];

/// One object id in the global owner map.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Object {
    /// Identity hash of the first identity that fetched it successfully or was given it.
    owner: u64,
    /// Other identities that fetched it successfully (0 = free slot).
    others: [u64; 3],
    /// Fetched successfully by `shared_after` identities: nobody's alone.
    shared: bool,
}

/// Ownership and the open window of one identity.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct IdentityIds {
    owned: HashSet64,
    window: i64,
    id_calls: u32,
    foreign_calls: u32,
    /// Foreign calls answered with 2xx.
    foreign_ok: u32,
    foreign: HashSet64,
    foreign_distinct: u32,
    owners: Vec<u64>,
    examples: Vec<String>,
    emitted: u8,
}

impl IdentityIds {
    fn new(owned_cap: usize, w: i64) -> Self {
        IdentityIds {
            owned: HashSet64::new(owned_cap).expect("validated capacity"),
            window: w,
            id_calls: 0,
            foreign_calls: 0,
            foreign_ok: 0,
            foreign: HashSet64::new(WINDOW_FOREIGN_CAP).expect("constant capacity"),
            foreign_distinct: 0,
            owners: Vec::new(),
            examples: Vec::new(),
            emitted: 0,
        }
    }

    fn roll(&mut self, w: i64) {
        self.window = w;
        self.id_calls = 0;
        self.foreign_calls = 0;
        self.foreign_ok = 0;
        self.foreign.clear();
        self.foreign_distinct = 0;
        self.owners.clear();
        self.examples.clear();
        self.emitted = 0;
    }
}

/// One object id of a record.
struct IdRef<'a> {
    hash: u64,
    location: ParamLocation,
    name: &'a str,
    value: &'a str,
}

/// See the module documentation.
#[derive(Serialize, Deserialize)]
pub struct BolaDetector {
    #[serde(skip)]
    cfg: BehavioralConfig,
    clock: StreamClock,
    objects: BoundedMap<u64, Object>,
    identities: BoundedMap<u64, IdentityIds>,
    swept_window: i64,
    marks: MarkBook,
    #[serde(skip)]
    stats: DetectorStats,
}

/// Lower-cased, singular resource name of an id parameter: the name without an `id` suffix
/// (`userId`, `user_id` → `user`), else the template's literal segment before the parameter
/// (`/users/{id}` → `user`), into `buf`.
fn namespace<'b>(name: &str, literal_before: &str, buf: &'b mut [u8; 48]) -> &'b [u8] {
    let lower_ends = |s: &str, suf: &str| {
        s.len() >= suf.len()
            && s.as_bytes()[s.len() - suf.len()..].eq_ignore_ascii_case(suf.as_bytes())
    };
    let mut base = name;
    for suf in ["_id", "-id", "id"] {
        if lower_ends(base, suf) {
            base = &base[..base.len() - suf.len()];
            break;
        }
    }
    if base.is_empty() {
        base = literal_before;
    }
    let bytes = base.as_bytes();
    let bytes = if bytes.len() > 1 && matches!(bytes[bytes.len() - 1], b's' | b'S') {
        &bytes[..bytes.len() - 1]
    } else {
        bytes
    };
    let n = bytes.len().min(buf.len());
    for (d, s) in buf.iter_mut().zip(&bytes[..n]) {
        *d = s.to_ascii_lowercase();
    }
    &buf[..n]
}

fn id_hash(name: &str, literal_before: &str, value: &str) -> u64 {
    let mut buf = [0u8; 48];
    let ns = namespace(name, literal_before, &mut buf);
    stable_hash_parts(&[ns, value.as_bytes()])
}

/// The literal template segment before path parameter `name`, and the template's last
/// literal segment (for query and body ids).
fn literal_before<'t>(template: &'t str, param: Option<&str>) -> &'t str {
    let mut last = "";
    for seg in template.split('/') {
        if seg.starts_with('{') {
            if let Some(p) = param
                && seg.len() == p.len() + 2
                && seg[1..seg.len() - 1] == *p
            {
                return last;
            }
        } else if !seg.is_empty() {
            last = seg;
        }
    }
    last
}

fn is_id_key(key: &str) -> bool {
    key.eq_ignore_ascii_case("id")
        || key.ends_with("Id")
        || key.ends_with("ID")
        || key.ends_with("_id")
        || key.ends_with("-id")
}

/// `"…id": value` pairs of a JSON text, by a byte scan (no full parse): keys ending in `id`
/// per [`is_id_key`], string or number values up to [`MAX_ID_LEN`] bytes.
fn body_ids<'a>(body: &'a str, out: &mut Vec<(&'a str, &'a str)>) {
    let b = body.as_bytes();
    for pos in memmem::find_iter(b, b"d\"") {
        if out.len() >= MAX_BODY_IDS {
            break;
        }
        if pos == 0 || !matches!(b[pos - 1], b'i' | b'I') {
            continue;
        }
        let Some(start) = b[..pos].iter().rposition(|&c| c == b'"') else {
            continue;
        };
        let key = &body[start + 1..=pos];
        if key.len() > 40 || key.bytes().any(|c| c.is_ascii_whitespace() || c == b'\\') {
            continue;
        }
        if !is_id_key(key) {
            continue;
        }
        let mut i = pos + 2;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() || b[i] != b':' {
            continue;
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = if i < b.len() && b[i] == b'"' {
            let s = i + 1;
            let e = b[s..]
                .iter()
                .take(MAX_ID_LEN + 1)
                .position(|&c| c == b'"' || c == b'\\')
                .map(|n| s + n);
            match e {
                Some(e) if b[e] == b'"' => &body[s..e],
                _ => continue,
            }
        } else {
            let s = i;
            let mut e = s;
            while e < b.len()
                && (b[e].is_ascii_alphanumeric() || b[e] == b'-')
                && e - s <= MAX_ID_LEN
            {
                e += 1;
            }
            &body[s..e]
        };
        if !value.is_empty() && value.len() <= MAX_ID_LEN && value != "null" {
            out.push((key, value));
        }
    }
}

/// An id for evidence: a short prefix, the rest masked, through the evidence fragment cutter.
fn mask_id(v: &str) -> String {
    let n = v.chars().count();
    let keep = (n / 4).min(3);
    let mut s: String = v.chars().take(keep).collect();
    s.extend(std::iter::repeat_n('*', (n - keep).clamp(1, 12)));
    evidence_fragment(&s, 0..s.len())
}

fn identity_hash(id: &str) -> u64 {
    stable_hash(id.as_bytes()).max(1)
}

impl BolaDetector {
    pub fn new(cfg: BehavioralConfig) -> Result<Self, BehavioralConfigError> {
        cfg.validate()?;
        HashSet64::new(cfg.bola.max_owned_per_identity)?;
        Ok(BolaDetector {
            clock: StreamClock::new(&cfg)?,
            objects: BoundedMap::new(cfg.bola.max_objects)?,
            identities: BoundedMap::new(cfg.bola.max_identities)?,
            swept_window: i64::MIN,
            marks: MarkBook::new(&cfg.marks)?,
            stats: DetectorStats::default(),
            cfg,
        })
    }

    /// Identities tracked right now.
    pub fn tracked_identities(&self) -> usize {
        self.identities.len()
    }

    /// Object ids in the owner map right now.
    pub fn tracked_objects(&self) -> usize {
        self.objects.len()
    }

    fn examine(&mut self, x: &Exchange, out: &mut Vec<Finding>) {
        if !self.cfg.bola.enabled {
            return;
        }
        let Some(identity) = identity_of(x) else {
            return;
        };
        let t = event_secs(x);
        let wm = self.clock.observe(t);
        let tumbling = self.clock.window;
        let w = tumbling.index(t);
        if tumbling.index(wm) > self.swept_window {
            self.swept_window = tumbling.index(wm);
            self.identities
                .evict_idle(wm - self.cfg.actor_idle_secs, |_| {});
        }
        let template = super::template_of(x);
        let mut params = Vec::new();
        extract_path_and_query(x, &mut params);
        let ids: Vec<IdRef<'_>> = params
            .iter()
            .filter(|p| is_identifier(p))
            .filter_map(|p| {
                let value = p.value.filter(|v| !v.is_empty() && v.len() <= MAX_ID_LEN)?;
                let name: &str = match &p.name {
                    std::borrow::Cow::Borrowed(n) => n,
                    std::borrow::Cow::Owned(_) => return None,
                };
                let before = literal_before(
                    template,
                    (p.location == ParamLocation::Path).then_some(name),
                );
                Some(IdRef {
                    hash: id_hash(name, before, value),
                    location: p.location,
                    name,
                    value,
                })
            })
            .collect();
        let ok = x.response.status.is_some_and(|s| (200..300).contains(&s));
        let body = if ok {
            x.response
                .body
                .as_ref()
                .and_then(|b| b.text())
                .filter(|b| b.len() <= MAX_BODY_SCAN)
        } else {
            None
        };
        if ids.is_empty() && body.is_none() {
            return;
        }
        let me = identity_hash(identity);
        let cfg = &self.cfg.bola;
        let owned_cap = cfg.max_owned_per_identity;
        let (ident, _) = self
            .identities
            .entry(&me, t, || IdentityIds::new(owned_cap, w));
        if w > ident.window {
            ident.roll(w);
        }
        let mut foreign_here: Option<&IdRef<'_>> = None;
        if !ids.is_empty() {
            ident.id_calls += 1;
        }
        for id in &ids {
            let own = ident.owned.contains(id.hash);
            let obj = self.objects.get_mut(&id.hash, t);
            let foreign = !own
                && obj
                    .as_ref()
                    .is_some_and(|o| o.owner != me && !o.shared && !o.others.contains(&me));
            if foreign {
                let o = obj.as_ref().map_or(0, |o| o.owner);
                if ident.foreign.insert(id.hash) {
                    ident.foreign_distinct += 1;
                    if ident.examples.len() < MAX_EXAMPLES {
                        ident.examples.push(format!(
                            "{}:{} = {}",
                            location_word(id.location),
                            id.name,
                            mask_id(id.value)
                        ));
                    }
                }
                if ident.owners.len() < MAX_OWNERS && !ident.owners.contains(&o) {
                    ident.owners.push(o);
                }
                foreign_here.get_or_insert(id);
            }
            if !ok {
                continue;
            }
            match obj {
                None => {
                    self.objects.entry(&id.hash, t, || Object {
                        owner: me,
                        others: [0; 3],
                        shared: false,
                    });
                    ident.owned.insert(id.hash);
                }
                Some(o) if o.owner == me => {
                    ident.owned.insert(id.hash);
                }
                Some(o) => {
                    if !o.shared && !o.others.contains(&me) {
                        if let Some(slot) = o.others.iter_mut().find(|s| **s == 0) {
                            *slot = me;
                        }
                        let fetched_by = 1 + o.others.iter().filter(|s| **s != 0).count();
                        if fetched_by >= usize::from(cfg.shared_after) {
                            o.shared = true;
                        }
                    }
                }
            }
        }
        // Ids in the caller's own successful response are its own (unless someone owns them).
        if let Some(body) = body {
            let mut found = Vec::new();
            body_ids(body, &mut found);
            let collection = literal_before(template, None);
            for (key, value) in found {
                let h = id_hash(key, collection, value);
                let (o, _) = self.objects.entry(&h, t, || Object {
                    owner: me,
                    others: [0; 3],
                    shared: false,
                });
                if o.owner == me || o.shared || o.others.contains(&me) {
                    ident.owned.insert(h);
                }
            }
        }
        let Some(fid) = foreign_here else {
            return;
        };
        ident.foreign_calls += 1;
        ident.foreign_ok += u32::from(ok);
        let key = me;
        let counted = u64::from(ident.foreign_calls);
        self.marks.count(key, &BOLA_FOREIGN_ID, w, x, || {
            (
                format!("{}:{}", location_word(fid.location), fid.name),
                Some(mask_id(fid.value)),
            )
        });
        let learned = self.clock.learned_secs(t) >= self.cfg.min_learning_secs;
        let share = f64::from(ident.foreign_calls) / f64::from(ident.id_calls.max(1));
        if !learned
            || ident.emitted >= self.cfg.max_findings_per_key_window
            || ident.foreign_distinct < cfg.min_foreign_ids
            || share < cfg.min_foreign_share
        {
            return;
        }
        ident.emitted += 1;
        let observed = f64::from(ident.foreign_distinct);
        let ok_share = f64::from(ident.foreign_ok) / f64::from(ident.foreign_calls.max(1));
        let confidence = if ok_share >= 0.5 {
            Confidence::High
        } else {
            Confidence::Medium
        };
        let mut f = finding(
            x,
            Alert {
                rule: &BOLA_FOREIGN_ID,
                who: Who::Identity(identity),
                show_actor: true,
                scope: "",
                reason: format!(
                    "accessed {} object ids owned by {} other identities in {} (limit {}); {} of {} identifier calls were to foreign ids, {} of them answered 2xx",
                    human(observed),
                    human(ident.owners.len() as f64),
                    window_words(self.cfg.window_secs),
                    human(f64::from(cfg.min_foreign_ids)),
                    human(f64::from(ident.foreign_calls)),
                    human(f64::from(ident.id_calls)),
                    human(f64::from(ident.foreign_ok)),
                ),
                observed,
                baseline: None,
                threshold: Some(f64::from(cfg.min_foreign_ids)),
                window: Some(tumbling.label()),
                extra: vec![
                    ("foreign_ids", observed),
                    ("owners", ident.owners.len() as f64),
                    ("foreign_calls", f64::from(ident.foreign_calls)),
                    ("identifier_calls", f64::from(ident.id_calls)),
                    ("foreign_share", share),
                    ("foreign_2xx", f64::from(ident.foreign_ok)),
                ],
                confidence,
            },
        );
        for e in &ident.examples {
            f.evidence.samples.push(EvidenceSample {
                exchange_id: None,
                observed_at: None,
                location: None,
                text: format!("foreign id {e}"),
            });
        }
        self.marks.fire(key, &BOLA_FOREIGN_ID, w, counted, &mut f);
        out.push(f);
    }
}

super::behavioral_detector!(BolaDetector, "behavioral.bola", marks);

#[cfg(test)]
mod tests {
    use super::super::test_support::{quick_config, rec, with_identity};
    use super::*;
    use crate::Detector;

    #[test]
    fn namespaces_join_path_query_and_body_ids_of_one_resource() {
        let h = |name: &str, tpl: &str, param: Option<&str>| {
            id_hash(name, literal_before(tpl, param), "42")
        };
        let path = h("id", "/v1/users/{id}", Some("id"));
        assert_eq!(path, h("userId", "/v1/users/{userId}", Some("userId")));
        assert_eq!(path, h("user_id", "/v1/search", None));
        assert_eq!(
            path,
            h("id", "/v1/users", None),
            "body id of the users list"
        );
        assert_ne!(path, h("id", "/v1/orders/{id}", Some("id")));
        assert_eq!(literal_before("/a/{x}/b/{y}", Some("y")), "b");
    }

    #[test]
    fn body_ids_are_found_without_parsing() {
        let mut out = Vec::new();
        body_ids(
            r#"{"id": 17, "ownerId":"u-9", "paid": true, "items":[{"order_id":5}], "note":"x"}"#,
            &mut out,
        );
        assert_eq!(
            out,
            vec![("id", "17"), ("ownerId", "u-9"), ("order_id", "5")]
        );
    }

    #[test]
    fn masked_ids_keep_at_most_a_short_prefix() {
        assert_eq!(mask_id("12345678"), "12******");
        assert_eq!(mask_id("7"), "*");
        assert!(!mask_id("a1b2c3d4e5f6a7b8c9d0").contains("c3d4"));
    }

    #[test]
    fn foreign_ids_of_other_owners_alert_and_own_ids_do_not() {
        let mut cfg = quick_config();
        cfg.bola.enabled = true;
        let mut d = BolaDetector::new(cfg).unwrap();
        let mut out = Vec::new();
        let mut n = 0u64;
        let mut get = |d: &mut BolaDetector,
                       out: &mut Vec<Finding>,
                       t: i64,
                       user: &str,
                       id: u64,
                       status: u16| {
            n += 1;
            let x = with_identity(
                rec(
                    n,
                    t,
                    "GET",
                    "/v1/docs/{id}",
                    &format!("/v1/docs/{id}"),
                    "10.0.0.1",
                    status,
                ),
                user,
            );
            d.detect(&[x], out);
        };
        // Two hours of 20 users reading their own 30 documents each.
        for t in 0..7200 {
            if t % 6 == 0 {
                let u = (t / 6) % 20;
                let doc = u as u64 * 1000 + (t as u64 / 120) % 30;
                get(&mut d, &mut out, t, &format!("user{u}"), doc, 200);
            }
        }
        assert!(
            out.is_empty(),
            "{:?}",
            out.iter().map(|f| &f.description).collect::<Vec<_>>()
        );
        // user0 reads 12 documents of 6 other users.
        for k in 0..12u64 {
            get(
                &mut d,
                &mut out,
                7200 + k as i64,
                "user0",
                (1 + k % 6) * 1000 + k % 30,
                200,
            );
        }
        let f = out.first().expect("BOLA alert");
        assert_eq!(f.rule.id, "GW-T-BOLA-FOREIGN-ID");
        assert_eq!(f.confidence, Confidence::High);
        assert_eq!(
            f.actor.as_ref().and_then(|a| a.identity.as_deref()),
            Some("user0")
        );
        assert_eq!(f.evidence.metrics.extra["owners"], 6.0);
        assert_eq!(f.evidence.metrics.extra["foreign_ids"], 10.0);
        assert!(
            f.evidence
                .samples
                .iter()
                .any(|s| s.text.starts_with("foreign id path:id = "))
        );
        assert!(!f.evidence.samples.iter().any(|s| s.text.contains("1001")));
        let mut marks = Vec::new();
        crate::Detector::take_marks(&mut d, &mut marks);
        assert_eq!(marks.len(), 12, "every foreign access is marked");
        assert!(
            marks
                .iter()
                .all(|m| m.fingerprint == f.fingerprint && m.rule_id == "GW-T-BOLA-FOREIGN-ID")
        );
    }
}
