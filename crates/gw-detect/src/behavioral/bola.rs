//! `GW-T-BOLA-FOREIGN-ID` (OWASP API1): an identity accesses far more object ids that other
//! identities own than it normally does, in a resource namespace where identities normally
//! touch only their own objects (APIClarity's "non-learned identifier" idea, with baselines).
//!
//! Object ids are path parameters and query parameters named `id` or `…id`, in the namespace of
//! their resource (see [`super::BolaRule`]); successful JSON responses add the ids of their
//! `"id"` / `"…Id"` / `"…_id"` fields to the caller's owned ids. Ownership lives in two bounded
//! structures: a global owner map (object → first owner, up to three other identities that
//! fetched it, shared flag; LRU over `max_objects`) and, per identity, a capacity-bounded set of
//! owned id hashes ([`HashSet64`]).
//!
//! Two baselines make the rule precise where some identities legitimately browse others'
//! objects. Per namespace (LRU over `max_namespaces`), an EWMA of the share of identity windows
//! with a foreign access: a namespace where many identities routinely touch others' ids (a
//! catalogue, a directory) is not ownership-scoped and never alerts. Per identity, an EWMA of
//! its distinct foreign ids per active window in ownership-scoped namespaces: support staff who
//! always look at many customers have a high baseline. An identity alerts when its distinct
//! foreign ids in one window reach `max(min_foreign_ids, mean + baseline_z × max(σ, mean / 2,
//! 1))` of its own baseline and make up `min_foreign_share` of its identifier calls, after the
//! learning period. A window that alerted teaches neither baseline, so an attack does not
//! become normal. Evidence: observed count vs baseline and limit, the namespace's foreign
//! share, owners count, a few masked example ids.
//!
//! All state is allocated on the first record with an identifier once the rule is enabled.

use gw_model::{Confidence, EvidenceSample, Exchange, Finding, ParamLocation};
use gw_sketch::{BoundedMap, Evicted, Ewma, HashSet64, stable_hash, stable_hash_parts};
use memchr::memmem;
use serde::{Deserialize, Deserializer, Serialize};

use super::enumeration::is_identifier;
use super::marks::MarkBook;
use super::params::{ExtractedParam, extract_path_and_query};
use super::{
    Alert, BOLA_FOREIGN_ID, BehavioralConfig, BehavioralConfigError, BolaRule, StreamClock, Who,
    event_secs, finding, human, identity_of, location_word, window_words,
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
/// Namespaces one identity window reports to the namespace baselines (the rest are ignored).
const MAX_WINDOW_NAMESPACES: usize = 8;
/// Half-life, in the identity's active windows, of its foreign-id baseline.
const IDENTITY_HALF_LIFE_WINDOWS: f64 = 48.0;
/// Half-life, in identity windows, of a namespace's foreign share.
const NAMESPACE_HALF_LIFE_WINDOWS: f64 = 500.0;
/// Layout of the serialized state. Version 1 (before the baselines) had no `state_format`
/// field and is refused with "missing field `state_format`".
const STATE_FORMAT: u16 = 2;

static RULES: [&RuleMeta; 1] = [&BOLA_FOREIGN_ID];

/// [`STATE_FORMAT`] in a snapshot; any other value is refused when decoding.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(transparent)]
struct StateFormat(u16);

impl<'de> Deserialize<'de> for StateFormat {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = u16::deserialize(d)?;
        if v != STATE_FORMAT {
            return Err(serde::de::Error::custom(format!(
                "BOLA state format {v} is unknown (this build reads {STATE_FORMAT})"
            )));
        }
        Ok(StateFormat(v))
    }
}

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

/// How identities use one resource namespace.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Namespace {
    /// EWMA over identity windows with identifier calls here of "touched a foreign id" (0/1):
    /// its mean is the share of identity windows with foreign accesses.
    foreign_windows: Ewma,
}

impl Namespace {
    fn new() -> Self {
        Namespace {
            foreign_windows: Ewma::with_half_life(NAMESPACE_HALF_LIFE_WINDOWS)
                .expect("constant half-life"),
        }
    }

    /// Enough identity windows seen and few of them foreign: identities here own their ids.
    fn ownership_scoped(&self, rule: &BolaRule) -> bool {
        self.foreign_windows.count() >= rule.min_namespace_windows
            && self.foreign_windows.mean() <= rule.max_namespace_foreign_share
    }
}

/// Ownership, baseline and the open window of one identity.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct IdentityIds {
    owned: HashSet64,
    /// Distinct foreign ids in ownership-scoped namespaces per active window.
    baseline: Ewma,
    window: i64,
    id_calls: u32,
    /// Calls with a foreign id in an ownership-scoped namespace.
    foreign_calls: u32,
    /// Foreign calls answered with 2xx.
    foreign_ok: u32,
    foreign: HashSet64,
    foreign_distinct: u32,
    /// Namespaces with identifier calls this window, and whether one of them was foreign
    /// (in any namespace, scoped or not: this feeds the namespace baselines).
    spaces: Vec<(u64, bool)>,
    owners: Vec<u64>,
    examples: Vec<String>,
    emitted: u8,
}

impl IdentityIds {
    fn new(owned_cap: usize, w: i64) -> Self {
        IdentityIds {
            owned: HashSet64::new(owned_cap).expect("validated capacity"),
            baseline: Ewma::with_half_life(IDENTITY_HALF_LIFE_WINDOWS).expect("constant half-life"),
            window: w,
            id_calls: 0,
            foreign_calls: 0,
            foreign_ok: 0,
            foreign: HashSet64::new(WINDOW_FOREIGN_CAP).expect("constant capacity"),
            foreign_distinct: 0,
            spaces: Vec::new(),
            owners: Vec::new(),
            examples: Vec::new(),
            emitted: 0,
        }
    }

    /// Notes an identifier call in namespace `ns`, foreign or not.
    fn touch_space(&mut self, ns: u64, foreign: bool) {
        if let Some(s) = self.spaces.iter_mut().find(|s| s.0 == ns) {
            s.1 |= foreign;
        } else if self.spaces.len() < MAX_WINDOW_NAMESPACES {
            self.spaces.push((ns, foreign));
        }
    }

    /// Folds the open window into the identity's and the namespaces' baselines (unless it
    /// alerted or had no identifier call).
    fn fold(&mut self, namespaces: &mut BoundedMap<u64, Namespace>, t: i64) {
        if self.id_calls == 0 || self.emitted > 0 {
            return;
        }
        self.baseline.update(f64::from(self.foreign_distinct));
        for &(ns, foreign) in &self.spaces {
            let (n, _) = namespaces.entry(&ns, t, Namespace::new);
            n.foreign_windows.update(if foreign { 1.0 } else { 0.0 });
        }
    }

    /// Closes the open window (folding it) and opens window `w`.
    fn roll(&mut self, w: i64, namespaces: &mut BoundedMap<u64, Namespace>, t: i64) {
        self.fold(namespaces, t);
        self.window = w;
        self.id_calls = 0;
        self.foreign_calls = 0;
        self.foreign_ok = 0;
        self.foreign.clear();
        self.foreign_distinct = 0;
        self.spaces.clear();
        self.owners.clear();
        self.examples.clear();
        self.emitted = 0;
    }
}

/// The distinct foreign ids per window at which an identity with `baseline` alerts.
fn foreign_limit(baseline: &Ewma, rule: &BolaRule) -> f64 {
    let floor = f64::from(rule.min_foreign_ids);
    if baseline.count() == 0 {
        return floor;
    }
    let m = baseline.mean();
    let sigma = baseline.std_dev().max(0.5 * m).max(1.0);
    (m + rule.baseline_z * sigma).max(floor)
}

/// One object id of a record.
struct IdRef<'a> {
    hash: u64,
    namespace: u64,
    location: ParamLocation,
    name: &'a str,
    literal_before: &'a str,
    value: &'a str,
}

/// Everything the rule learns; allocated on first use (see [`BolaDetector`]).
#[derive(Serialize, Deserialize)]
struct Ownership {
    objects: BoundedMap<u64, Object>,
    identities: BoundedMap<u64, IdentityIds>,
    namespaces: BoundedMap<u64, Namespace>,
}

impl Ownership {
    fn new(rule: &BolaRule) -> Self {
        Ownership {
            objects: BoundedMap::new(rule.max_objects).expect("validated capacity"),
            identities: BoundedMap::new(rule.max_identities).expect("validated capacity"),
            namespaces: BoundedMap::new(rule.max_namespaces).expect("validated capacity"),
        }
    }
}

/// See the module documentation.
#[derive(Serialize, Deserialize)]
pub struct BolaDetector {
    #[serde(skip)]
    cfg: BehavioralConfig,
    state_format: StateFormat,
    clock: StreamClock,
    /// `None` until the first record with an identifier while the rule is enabled.
    state: Option<Box<Ownership>>,
    swept_window: i64,
    marks: MarkBook,
    /// The parameters, ids and response-body ids of the record being examined (kept for
    /// their allocations).
    #[serde(skip)]
    buffers: Buffers<'static>,
    #[serde(skip)]
    stats: DetectorStats,
}

/// Per-record working vectors of [`BolaDetector`], borrowed from the record.
#[derive(Default)]
struct Buffers<'a> {
    params: Vec<ExtractedParam<'a>>,
    ids: Vec<IdRef<'a>>,
    body_ids: Vec<(&'a str, &'a str)>,
}

impl Buffers<'_> {
    /// The same allocations, empty, for another record.
    fn recycle<'b>(self) -> Buffers<'b> {
        Buffers {
            params: super::recycle(self.params),
            ids: super::recycle(self.ids),
            body_ids: super::recycle(self.body_ids),
        }
    }
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

/// The hashes of the namespace of id parameter `name` and of its `value` in that namespace.
fn id_hashes(name: &str, literal_before: &str, value: &str) -> (u64, u64) {
    let mut buf = [0u8; 48];
    let ns = namespace(name, literal_before, &mut buf);
    (stable_hash(ns), stable_hash_parts(&[ns, value.as_bytes()]))
}

fn id_hash(name: &str, literal_before: &str, value: &str) -> u64 {
    id_hashes(name, literal_before, value).1
}

/// The namespace of an id parameter as text, for evidence.
fn namespace_text(name: &str, literal_before: &str) -> String {
    let mut buf = [0u8; 48];
    String::from_utf8_lossy(namespace(name, literal_before, &mut buf)).into_owned()
}

/// The literal template segment before path parameter `name`, and the template's last
/// literal segment (for query and body ids).
fn literal_before<'t>(template: &'t str, param: Option<&str>) -> &'t str {
    let mut last = "";
    for seg in super::split_ascii(template, b'/') {
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
        let Some(start) = memchr::memrchr(b'"', &b[..pos]) else {
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
            let window = &b[s..b.len().min(s + MAX_ID_LEN + 1)];
            let e = memchr::memchr2(b'"', b'\\', window).map(|n| s + n);
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

/// Folds the open window of an identity the map dropped into the namespace baselines.
fn fold_evicted(mut e: Evicted<u64, IdentityIds>, namespaces: &mut BoundedMap<u64, Namespace>) {
    e.value.fold(namespaces, e.last_seen);
}

impl BolaDetector {
    pub fn new(cfg: BehavioralConfig) -> Result<Self, BehavioralConfigError> {
        cfg.validate()?;
        HashSet64::new(cfg.bola.max_owned_per_identity)?;
        Ok(BolaDetector {
            state_format: StateFormat(STATE_FORMAT),
            clock: StreamClock::new(&cfg)?,
            state: None,
            swept_window: i64::MIN,
            marks: MarkBook::new(&cfg.marks)?,
            buffers: Buffers::default(),
            stats: DetectorStats::default(),
            cfg,
        })
    }

    /// Identities tracked right now.
    pub fn tracked_identities(&self) -> usize {
        self.state.as_ref().map_or(0, |s| s.identities.len())
    }

    /// Object ids in the owner map right now.
    pub fn tracked_objects(&self) -> usize {
        self.state.as_ref().map_or(0, |s| s.objects.len())
    }

    fn examine(&mut self, x: &Exchange, out: &mut Vec<Finding>) {
        let mut buffers = std::mem::take(&mut self.buffers).recycle();
        self.examine_ids(x, &mut buffers, out);
        self.buffers = buffers.recycle();
    }

    /// [`Self::examine`] with `buffers` (empty) for the record's parameters and ids.
    fn examine_ids<'a>(
        &mut self,
        x: &'a Exchange,
        buffers: &mut Buffers<'a>,
        out: &mut Vec<Finding>,
    ) {
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
        let template = super::template_of(x);
        let Buffers {
            params,
            ids,
            body_ids: body_ids_buf,
        } = buffers;
        extract_path_and_query(x, params);
        ids.extend(params.iter().filter(|p| is_identifier(p)).filter_map(|p| {
            let value = p.value.filter(|v| !v.is_empty() && v.len() <= MAX_ID_LEN)?;
            let name: &str = match &p.name {
                std::borrow::Cow::Borrowed(n) => n,
                std::borrow::Cow::Owned(_) => return None,
            };
            let before = literal_before(
                template,
                (p.location == ParamLocation::Path).then_some(name),
            );
            let (namespace, hash) = id_hashes(name, before, value);
            Some(IdRef {
                hash,
                namespace,
                location: p.location,
                name,
                literal_before: before,
                value,
            })
        }));
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
        let cfg = &self.cfg.bola;
        let Ownership {
            objects,
            identities,
            namespaces,
        } = &mut **self
            .state
            .get_or_insert_with(|| Box::new(Ownership::new(cfg)));
        if tumbling.index(wm) > self.swept_window {
            self.swept_window = tumbling.index(wm);
            identities.evict_idle(wm - self.cfg.actor_idle_secs, |e| {
                fold_evicted(e, namespaces);
            });
        }
        let me = identity_hash(identity);
        let owned_cap = cfg.max_owned_per_identity;
        let (ident, evicted) = identities.entry(&me, t, || IdentityIds::new(owned_cap, w));
        if let Some(e) = evicted {
            fold_evicted(e, namespaces);
        }
        if w > ident.window {
            ident.roll(w, namespaces, t);
        }
        // The first foreign id of the record in an ownership-scoped namespace.
        let mut foreign_here: Option<&IdRef<'_>> = None;
        if !ids.is_empty() {
            ident.id_calls += 1;
        }
        for id in ids.iter() {
            let own = ident.owned.contains(id.hash);
            let obj = objects.get_mut(&id.hash, t);
            let foreign = !own
                && obj
                    .as_ref()
                    .is_some_and(|o| o.owner != me && !o.shared && !o.others.contains(&me));
            ident.touch_space(id.namespace, foreign);
            let scoped = foreign
                && namespaces
                    .get(&id.namespace)
                    .is_some_and(|n| n.ownership_scoped(cfg));
            if scoped {
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
                    objects.entry(&id.hash, t, || Object {
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
            body_ids(body, body_ids_buf);
            let collection = literal_before(template, None);
            for &(key, value) in body_ids_buf.iter() {
                let h = id_hash(key, collection, value);
                let (o, _) = objects.entry(&h, t, || Object {
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
        let limit = foreign_limit(&ident.baseline, cfg);
        let observed = f64::from(ident.foreign_distinct);
        if !learned
            || ident.emitted >= self.cfg.max_findings_per_key_window
            || observed < limit
            || share < cfg.min_foreign_share
        {
            return;
        }
        ident.emitted += 1;
        let ns_share = namespaces
            .get(&fid.namespace)
            .map_or(0.0, |n| n.foreign_windows.mean());
        let baseline = ident.baseline.mean();
        let baseline_windows = ident.baseline.count();
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
                    "observed {} foreign ids/window vs baseline {} over {} windows (limit {}) in {}, owned by {} other identities; namespace `{}` is ownership-scoped ({}% of identity windows touch foreign ids, limit {}%); {} of {} identifier calls were to foreign ids, {} of them answered 2xx",
                    human(observed),
                    human(baseline),
                    human(f64::from(baseline_windows)),
                    human(limit),
                    window_words(self.cfg.window_secs),
                    human(ident.owners.len() as f64),
                    namespace_text(fid.name, fid.literal_before),
                    human(100.0 * ns_share),
                    human(100.0 * cfg.max_namespace_foreign_share),
                    human(f64::from(ident.foreign_calls)),
                    human(f64::from(ident.id_calls)),
                    human(f64::from(ident.foreign_ok)),
                ),
                observed,
                baseline: Some(baseline),
                threshold: Some(limit),
                window: Some(tumbling.label()),
                extra: vec![
                    ("foreign_ids", observed),
                    ("owners", ident.owners.len() as f64),
                    ("foreign_calls", f64::from(ident.foreign_calls)),
                    ("identifier_calls", f64::from(ident.id_calls)),
                    ("foreign_share", share),
                    ("foreign_2xx", f64::from(ident.foreign_ok)),
                    ("baseline_windows", f64::from(baseline_windows)),
                    ("namespace_foreign_share", ns_share),
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

    /// `user{u}` GETs `/v1/{coll}/{id}` at `t` (answer `status`).
    fn get(
        d: &mut BolaDetector,
        out: &mut Vec<Finding>,
        t: i64,
        user: &str,
        coll: &str,
        id: u64,
        status: u16,
    ) {
        let x = with_identity(
            rec(
                t as u64,
                t,
                "GET",
                &format!("/v1/{coll}/{{id}}"),
                &format!("/v1/{coll}/{id}"),
                "10.0.0.1",
                status,
            ),
            user,
        );
        d.detect(&[x], out);
    }

    /// Two hours of 20 users reading their own 30 documents each.
    fn owners_reading_their_documents(d: &mut BolaDetector, out: &mut Vec<Finding>) {
        for t in 0..7200 {
            if t % 6 == 0 {
                let u = (t / 6) % 20;
                let doc = u as u64 * 1000 + (t as u64 / 120) % 30;
                get(d, out, t, &format!("user{u}"), "docs", doc, 200);
            }
        }
    }

    #[test]
    fn limits_follow_the_identitys_own_baseline() {
        let rule = BolaRule::default();
        let mut quiet = Ewma::with_half_life(IDENTITY_HALF_LIFE_WINDOWS).unwrap();
        assert_eq!(foreign_limit(&quiet, &rule), 10.0, "no history: the floor");
        for _ in 0..200 {
            quiet.update(0.0);
        }
        assert_eq!(
            foreign_limit(&quiet, &rule),
            10.0,
            "0 + 5 × 1 is below the floor"
        );
        let mut support = quiet;
        for _ in 0..400 {
            support.update(20.0);
        }
        // 20 + 5 × max(σ ≈ 0, 20 / 2, 1) = 70.
        let limit = foreign_limit(&support, &rule);
        assert!((limit - 70.0).abs() < 0.5, "{limit}");
    }

    #[test]
    fn invalid_baseline_settings_are_refused() {
        for set in [
            (|c: &mut BolaRule| c.baseline_z = -1.0) as fn(&mut BolaRule),
            |c| c.baseline_z = f64::NAN,
            |c| c.max_namespace_foreign_share = 1.5,
            |c| c.max_namespaces = 0,
        ] {
            let mut cfg = BehavioralConfig::default();
            set(&mut cfg.bola);
            let err = BolaDetector::new(cfg).err().expect("refused").to_string();
            assert!(
                err.contains("`bola`") && err.contains("baseline_z finite and >= 0"),
                "{err}"
            );
        }
    }

    #[test]
    fn state_is_allocated_only_once_the_enabled_rule_sees_an_identifier() {
        let mut off = quick_config();
        off.bola.enabled = false;
        let mut out = Vec::new();
        let mut d = BolaDetector::new(off).unwrap();
        get(&mut d, &mut out, 0, "user0", "docs", 7, 200);
        assert!(d.state.is_none(), "disabled: nothing allocated");
        let mut d = BolaDetector::new(quick_config()).unwrap();
        assert!(d.state.is_none(), "enabled: allocated on first use");
        get(&mut d, &mut out, 0, "user0", "docs", 7, 200);
        assert_eq!((d.tracked_identities(), d.tracked_objects()), (1, 1));
    }

    #[test]
    fn a_catalogue_everyone_browses_is_not_ownership_scoped_and_never_alerts() {
        let mut d = BolaDetector::new(quick_config()).unwrap();
        let mut out = Vec::new();
        let mut rng = super::super::test_support::Rng(5);
        // Three hours of 20 users browsing a catalogue of 5,000 items (the first reader of an
        // item "owns" it until three identities read it).
        for t in 0..10_800 {
            if t % 6 == 0 {
                let u = (t / 6) % 20;
                get(
                    &mut d,
                    &mut out,
                    t,
                    &format!("user{u}"),
                    "items",
                    rng.below(5000),
                    200,
                );
            }
        }
        // user0 browses 40 more items in a minute.
        for k in 0..40 {
            get(
                &mut d,
                &mut out,
                10_800 + k,
                "user0",
                "items",
                rng.below(5000),
                200,
            );
        }
        assert!(
            out.is_empty(),
            "{:?}",
            out.iter().map(|f| &f.description).collect::<Vec<_>>()
        );
        let state = d.state.as_ref().unwrap();
        let mut buf = [0u8; 48];
        let items = stable_hash(namespace("id", "items", &mut buf));
        let ns = state.namespaces.get(&items).expect("the items namespace");
        assert!(
            ns.foreign_windows.count() >= 100 && !ns.ownership_scoped(&d.cfg.bola),
            "share {}",
            ns.foreign_windows.mean()
        );
    }

    #[test]
    fn snapshots_keep_the_baselines_and_refuse_other_layouts() {
        let cfg = quick_config();
        let mut d = BolaDetector::new(cfg.clone()).unwrap();
        let mut out = Vec::new();
        owners_reading_their_documents(&mut d, &mut out);
        let snap = crate::Detector::snapshot(&d).unwrap();
        let mut r = BolaDetector::new(cfg.clone()).unwrap();
        crate::Detector::restore(&mut r, &snap).unwrap();
        let (a, b) = (d.state.as_ref().unwrap(), r.state.as_ref().unwrap());
        let me = identity_hash("user3");
        let baseline = |s: &Ownership| s.identities.get(&me).unwrap().baseline;
        assert_eq!(baseline(a), baseline(b));
        assert!(baseline(b).count() >= 5);
        assert_eq!(a.namespaces.len(), b.namespaces.len());
        assert_eq!(a.objects.len(), b.objects.len());

        #[derive(Serialize)]
        struct Version1 {
            swept_window: i64,
        }
        #[derive(Serialize)]
        struct Version3 {
            state_format: u16,
        }
        let mut refused = |bytes: Vec<u8>| match crate::Detector::restore(&mut r, &bytes) {
            Err(crate::detectors::SnapshotError::Decode { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        let v1 =
            super::super::snapshot::encode("behavioral.bola", &cfg, &Version1 { swept_window: 0 });
        assert!(refused(v1).contains("missing field `state_format`"));
        let v3 =
            super::super::snapshot::encode("behavioral.bola", &cfg, &Version3 { state_format: 3 });
        assert!(refused(v3).contains("BOLA state format 3 is unknown (this build reads 2)"));
        assert_eq!(
            baseline(r.state.as_ref().unwrap()),
            baseline(a),
            "unchanged on error"
        );
    }

    #[test]
    fn foreign_ids_of_other_owners_alert_and_own_ids_do_not() {
        let cfg = quick_config();
        assert!(cfg.bola.enabled, "on by default");
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
