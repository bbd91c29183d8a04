//! Path templating from traffic: a prefix tree per host whose positions turn into parameters,
//! online and in bounded memory.
//!
//! Each record walks the tree segment by segment. A segment that already has a literal child
//! follows it; an identifier (integer, UUID, hash, token, email, slug with digits) goes to the
//! position's parameter child; a word creates a literal child. A position becomes a parameter
//! (is *promoted*) when
//! - more than `param_cardinality` (10) distinct words sit there and at least half of them look
//!   like values: they share a sub-path (`/country/BR/town`, `/country/DE/town`), their word
//!   also appears at another depth of the tree, or it was already merged into a parameter
//!   elsewhere (cardinality rule with evidence);
//! - more than `param_cardinality_without_evidence` (24) distinct words sit there (user names
//!   that are all leaves), or it reaches `max_literal_children` (memory bound), or the
//!   endpoint cap of the API asks for its busiest fan-out to be merged;
//! - a few (`weak_cardinality`) distinct dates or leading short numbers sit there (weak rule:
//!   one date is an API version, three are values);
//! - `name.json` / `name.xml`: two format suffixes of one stem make `name.{format}`.
//!
//! Promotion merges the literal children that look like values into the parameter child; the
//! others stay (`/users/me`, `/users/search` beside `/users/{userId}`), and merge later only if
//! they come to look like values. It is never undone: templates only get more general, so
//! they do not flip-flop as traffic grows; a word first seen after its position became a
//! parameter is a value of that parameter. Structural changes are reported as `TreeEvent`s so
//! the inventory can merge or rename the endpoints that lived there.
//!
//! The tree is shared by all methods of a host: the resource structure is the same whatever
//! the method, and a rarely used `DELETE /users/alice` then learns from the many
//! `GET /users/bob` calls. Endpoints (per method) hang off the nodes.

use std::sync::Arc;

use crate::config::DiscoveryConfig;
use crate::fxhash::FxMap;
use crate::method::Method;
use crate::segment::{SegmentClass, TypeSet, ValueType, classify_segment};

/// Index of a node in the tree arena.
pub(crate) type NodeId = u32;
/// Index of an endpoint in the inventory arena (owned by `Discovery`).
pub(crate) type EndpointIdx = u32;

const NO_PARENT: NodeId = NodeId::MAX;
/// Words remembered as parameter values (memory bound).
const MAX_KNOWN_VALUES: usize = 8_192;
/// Size of a parameter node's distinct-value bitmap in 64-bit words (1,024 bits, 128 bytes:
/// estimates up to a few thousand distinct values, plenty to tell a value's typical traffic).
const DISTINCT_WORDS: usize = 16;

fn value_hash(value: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(value.as_bytes())
}

fn count_value(n: &mut Node, hash: u64) {
    let bits = n
        .distinct
        .get_or_insert_with(|| Box::new([0; DISTINCT_WORDS]));
    let bit = (hash % (DISTINCT_WORDS as u64 * 64)) as usize;
    bits[bit / 64] |= 1 << (bit % 64);
}

/// Linear counting: `m ln(m / empty)` distinct values for `empty` zero bits out of `m`.
fn distinct_values(n: &Node) -> u64 {
    let Some(bits) = &n.distinct else {
        return 0;
    };
    let m = (DISTINCT_WORDS * 64) as f64;
    let set: u32 = bits.iter().map(|w| w.count_ones()).sum();
    let empty = (m - f64::from(set)).max(1.0);
    (m * (m / empty).ln()).round() as u64
}

/// A structural change the inventory must apply, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TreeEvent {
    /// Endpoint `from` now shares a template with `into`: fold its state into `into`.
    Merged {
        from: EndpointIdx,
        into: EndpointIdx,
    },
    /// Endpoint `endpoint` now lives at `node` (its template, and so its id, changed).
    Moved { endpoint: EndpointIdx, node: NodeId },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Label {
    Root,
    Literal(Box<str>),
    Param,
    /// Segments beyond `max_depth`, folded into one.
    Rest,
    /// A format suffix: `docket.` + `{format}` (`docket.json`, `docket.xml`).
    Format(Box<str>),
}

/// The template of a node: text and the path parameters in it.
#[derive(Debug)]
pub(crate) struct TemplateInfo {
    pub text: Arc<str>,
    /// (depth, name) of every parameter position, depth 0 = first segment.
    pub params: Vec<(u16, Arc<str>)>,
}

#[derive(Debug)]
struct Node {
    parent: NodeId,
    /// Depth of this node's segment (root = 0, its children = 1 ...).
    depth: u16,
    label: Label,
    /// Class of a literal label, for the weak rule.
    weak: bool,
    literals: FxMap<Box<str>, NodeId>,
    param: Option<NodeId>,
    /// Children with a format-suffix label.
    formats: Vec<NodeId>,
    /// Unknown words here go to the parameter child.
    promoted: bool,
    /// Unknown date- and number-like values here go to the parameter child.
    promoted_weak: bool,
    /// Types of the values routed to this (parameter) node.
    types: TypeSet,
    /// Distinct values routed to this (parameter) node, as a linear-counting bitmap
    /// (allocated on first use): with `calls`, the typical traffic of one value.
    distinct: Option<Box<[u64; DISTINCT_WORDS]>>,
    /// Records that reached this node.
    calls: u64,
    endpoints: Vec<(Method, EndpointIdx)>,
    template: Option<Arc<TemplateInfo>>,
    alive: bool,
}

impl Node {
    fn new(parent: NodeId, depth: u16, label: Label) -> Node {
        Node {
            parent,
            depth,
            label,
            weak: false,
            literals: FxMap::default(),
            param: None,
            formats: Vec::new(),
            promoted: false,
            promoted_weak: false,
            types: TypeSet::default(),
            distinct: None,
            calls: 0,
            endpoints: Vec::new(),
            template: None,
            alive: true,
        }
    }
}

/// What a walk found: the node and the parameter positions passed on the way.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    pub node: NodeId,
    /// (depth, byte range of the value in the path) of each parameter position.
    pub params: Vec<(u16, usize, usize)>,
}

/// Learned path state of one persisted endpoint: which positions on its path are promoted and
/// the value types of its parameter positions (restored on restart so learning continues).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LearnedPath {
    /// Depths (0 = the host's root) of promoted positions on the path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub promoted: Vec<u16>,
    /// Value-type bits of each parameter position, in path order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub param_types: Vec<u16>,
}

/// The learner: one tree per host.
#[derive(Debug)]
pub(crate) struct PathLearner {
    nodes: Vec<Node>,
    free: Vec<NodeId>,
    hosts: FxMap<Box<str>, NodeId>,
    events: Vec<TreeEvent>,
    /// Literal labels (format suffix removed) by the depth they were first seen at, and
    /// whether they were also seen at another depth: a word that shows up at several depths
    /// (`/alice`, `/teams/red/alice`) is data, not a route.
    labels: FxMap<Box<str>, (u16, bool, NodeId)>,
    /// Positions to re-examine before the next record (a grandchild arrived).
    pending: Vec<NodeId>,
    /// Words that were merged into a parameter somewhere (bounded): seen again at another
    /// position, they are values there too (`/towns/oslo` and `/postcode/oslo`).
    known_values: FxMap<Box<str>, ()>,
    param_cardinality: usize,
    unconditional_cardinality: usize,
    weak_cardinality: usize,
    max_literal_children: usize,
    keep_factor: u64,
    keep_min_calls: u64,
    max_depth: usize,
}

impl PathLearner {
    pub fn new(cfg: &DiscoveryConfig) -> PathLearner {
        PathLearner {
            nodes: Vec::new(),
            free: Vec::new(),
            hosts: FxMap::default(),
            events: Vec::new(),
            labels: FxMap::default(),
            pending: Vec::new(),
            known_values: FxMap::default(),
            param_cardinality: cfg.param_cardinality,
            unconditional_cardinality: cfg.param_cardinality_without_evidence,
            weak_cardinality: cfg.weak_cardinality,
            max_literal_children: cfg.max_literal_children,
            keep_factor: cfg.keep_literal_factor,
            keep_min_calls: cfg.keep_literal_min_calls,
            max_depth: cfg.max_depth,
        }
    }

    /// Structural changes since the last call, in the order they happened.
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, TreeEvent> {
        self.events.drain(..)
    }

    /// Nodes alive (for memory accounting in tests).
    pub fn node_count(&self) -> usize {
        self.nodes.len() - self.free.len()
    }

    /// Routes `path` on `host`, learning from it. `walk` is reused between calls.
    pub fn observe(&mut self, host: &str, path: &str, walk: &mut Walk) {
        walk.params.clear();
        while let Some(node) = self.pending.pop() {
            if self.nodes[node as usize].alive {
                self.check_cardinality(node, NO_PARENT);
            }
        }
        let root = self.root(host);
        self.nodes[root as usize].calls += 1;
        let mut node = root;
        let body = path.strip_prefix('/').unwrap_or(path);
        if body.is_empty() {
            walk.node = node;
            return;
        }
        let mut start = path.len() - body.len();
        let mut depth = 0usize;
        loop {
            let end = path[start..].find('/').map_or(path.len(), |i| start + i);
            if depth + 1 >= self.max_depth && end < path.len() {
                // Fold everything from here on into one trailing parameter.
                node = self.rest_child(node);
                self.nodes[node as usize].calls += 1;
                walk.params.push((depth as u16, start, path.len()));
                break;
            }
            let segment = &path[start..end];
            node = self.step(node, segment, depth);
            let n = &mut self.nodes[node as usize];
            n.calls += 1;
            match &n.label {
                Label::Param => {
                    count_value(n, value_hash(segment));
                    walk.params.push((depth as u16, start, end));
                }
                Label::Format(prefix) => {
                    walk.params.push((depth as u16, start + prefix.len(), end))
                }
                _ => {}
            }
            if end == path.len() {
                break;
            }
            start = end + 1;
            depth += 1;
        }
        walk.node = node;
    }

    fn root(&mut self, host: &str) -> NodeId {
        if let Some(&r) = self.hosts.get(host) {
            return r;
        }
        let r = self.alloc(Node::new(NO_PARENT, 0, Label::Root));
        self.hosts.insert(host.into(), r);
        r
    }

    fn alloc(&mut self, node: Node) -> NodeId {
        match self.free.pop() {
            Some(id) => {
                self.nodes[id as usize] = node;
                id
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as NodeId
            }
        }
    }

    /// One step down from `node` for `segment` at `depth` (0 = first segment).
    fn step(&mut self, node: NodeId, segment: &str, depth: usize) -> NodeId {
        let n = &self.nodes[node as usize];
        if let Some(&child) = n.literals.get(segment) {
            // A word kept literal at a parameter position is looked at again as its traffic
            // doubles: by then it may have shown up as a value elsewhere.
            if n.promoted && (self.nodes[child as usize].calls + 1).is_power_of_two() {
                self.queue_check(node);
            }
            return child;
        }
        if let Some(f) = self.format_child(node, segment) {
            return f;
        }
        match classify_segment(segment, depth) {
            SegmentClass::Id(t) => self.param_child(node, t),
            SegmentClass::Weak(t) if self.nodes[node as usize].promoted_weak => {
                self.param_child(node, t)
            }
            SegmentClass::Word if self.nodes[node as usize].promoted => {
                self.param_child(node, ValueType::String)
            }
            class => {
                if self.nodes[node as usize].literals.len() >= self.max_literal_children {
                    self.promote(node, true, None);
                    return self.param_child(node, class_type(class));
                }
                if class == SegmentClass::Word
                    && let Some(f) = self.check_format(node, segment)
                {
                    return f;
                }
                let child =
                    self.literal_child(node, segment, matches!(class, SegmentClass::Weak(_)));
                match class {
                    SegmentClass::Weak(_) => self.check_weak(node, child),
                    SegmentClass::Word => self.check_cardinality(node, child),
                    _ => child,
                }
            }
        }
    }

    fn literal_child(&mut self, parent: NodeId, segment: &str, weak: bool) -> NodeId {
        let depth = self.nodes[parent as usize].depth + 1;
        let mut node = Node::new(parent, depth, Label::Literal(segment.into()));
        node.weak = weak;
        let id = self.alloc(node);
        self.nodes[parent as usize]
            .literals
            .insert(segment.into(), id);
        let stem = format_split(segment).map_or(segment, |dot| &segment[..dot]);
        match self.labels.get_mut(stem) {
            Some((first_depth, elsewhere, first)) => {
                if !*elsewhere && *first_depth != depth {
                    *elsewhere = true;
                    // The first sighting's position may now hold a value: look again.
                    let first = *first;
                    if self.nodes[first as usize].alive {
                        let position = self.nodes[first as usize].parent;
                        self.queue_check(position);
                    }
                }
            }
            None => {
                self.labels.insert(stem.into(), (depth, false, id));
            }
        }
        // The parent's siblings may now share this child's label: look again at the
        // grandparent before the next record.
        let grandparent = self.nodes[parent as usize].parent;
        if grandparent != NO_PARENT
            && matches!(self.nodes[parent as usize].label, Label::Literal(_))
        {
            self.queue_check(grandparent);
        }
        id
    }

    /// Queues `position` for a cardinality check before the next record, when it could change.
    fn queue_check(&mut self, position: NodeId) {
        if position == NO_PARENT || self.pending.contains(&position) {
            return;
        }
        let n = &self.nodes[position as usize];
        let worth = (!n.literals.is_empty() && n.param.is_some())
            || n.literals.len() > self.param_cardinality;
        if worth {
            self.pending.push(position);
        }
    }

    fn param_child(&mut self, parent: NodeId, t: ValueType) -> NodeId {
        let id = match self.nodes[parent as usize].param {
            Some(p) => p,
            None => {
                let depth = self.nodes[parent as usize].depth + 1;
                let id = self.alloc(Node::new(parent, depth, Label::Param));
                self.nodes[parent as usize].param = Some(id);
                id
            }
        };
        self.nodes[id as usize].types.insert(t);
        id
    }

    /// The format child whose stem `segment` continues (`docket.` for `docket.csv`).
    fn format_child(&self, node: NodeId, segment: &str) -> Option<NodeId> {
        let n = &self.nodes[node as usize];
        if n.formats.is_empty() {
            return None;
        }
        let dot = format_split(segment)?;
        let stem = &segment[..=dot];
        n.formats
            .iter()
            .copied()
            .find(|f| matches!(&self.nodes[*f as usize].label, Label::Format(p) if **p == *stem))
    }

    /// A new `stem.ext` beside a sibling `stem.other`: both become `stem.{format}`.
    fn check_format(&mut self, node: NodeId, segment: &str) -> Option<NodeId> {
        let dot = format_split(segment)?;
        let stem = &segment[..=dot];
        let mut siblings: Vec<(Box<str>, NodeId)> = self.nodes[node as usize]
            .literals
            .iter()
            .filter(|(k, _)| k.starts_with(stem) && format_split(k) == Some(dot))
            .map(|(k, c)| (k.clone(), *c))
            .collect();
        if siblings.is_empty() {
            return None;
        }
        siblings.sort();
        let depth = self.nodes[node as usize].depth + 1;
        let f = self.alloc(Node::new(node, depth, Label::Format(stem.into())));
        self.nodes[f as usize].types.insert(ValueType::String);
        self.nodes[node as usize].formats.push(f);
        for (label, c) in siblings {
            self.nodes[node as usize].literals.remove(&label);
            self.merge(c, f);
        }
        Some(f)
    }

    fn rest_child(&mut self, parent: NodeId) -> NodeId {
        // The rest node is stored as the parameter child with a distinct label.
        if let Some(p) = self.nodes[parent as usize].param {
            self.nodes[p as usize].types.insert(ValueType::String);
            return p;
        }
        let depth = self.nodes[parent as usize].depth + 1;
        let id = self.alloc(Node::new(parent, depth, Label::Rest));
        self.nodes[id as usize].types.insert(ValueType::String);
        self.nodes[parent as usize].param = Some(id);
        id
    }

    /// After a new weak literal: enough distinct date/number-like values make them a parameter.
    fn check_weak(&mut self, node: NodeId, child: NodeId) -> NodeId {
        let n = &self.nodes[node as usize];
        let weak = n
            .literals
            .values()
            .filter(|c| self.nodes[**c as usize].weak)
            .count();
        if weak < self.weak_cardinality {
            return child;
        }
        let mut weak_children: Vec<(Box<str>, NodeId)> = n
            .literals
            .iter()
            .filter(|(_, c)| self.nodes[**c as usize].weak)
            .map(|(k, c)| (k.clone(), *c))
            .collect();
        weak_children.sort();
        let p = self.param_child(node, ValueType::Date);
        for (label, c) in weak_children {
            self.nodes[node as usize].literals.remove(&label);
            let t = match classify_segment(&label, 1) {
                SegmentClass::Weak(t) | SegmentClass::Id(t) => t,
                _ => ValueType::String,
            };
            self.nodes[p as usize].types.insert(t);
            self.merge(c, p);
        }
        self.nodes[node as usize].promoted_weak = true;
        p
    }

    /// After a new word (or later, when the position is looked at again): more distinct words
    /// than `param_cardinality` make the position a parameter when at least half of them look
    /// like values — they share a sub-path (`/country/BR/town`, `/country/DE/town`) or also
    /// appear at another depth of the tree — and more than `param_cardinality_without_evidence`
    /// make it one anyway. A fixed set of resource names has neither signal (each has its own
    /// sub-paths). Busy words stay literal (see [`PathLearner::promote`]).
    fn check_cardinality(&mut self, node: NodeId, child: NodeId) -> NodeId {
        if self.nodes[node as usize].promoted {
            self.absorb_value_like(node);
            return self.resolve(node, child);
        }
        if self.nodes[node as usize].param.is_some() {
            self.absorb_param_twins(node);
        }
        let distinct = self.nodes[node as usize].literals.len();
        if distinct <= self.param_cardinality {
            // Few words, but most of them are values elsewhere: a parameter already.
            let known = self.nodes[node as usize]
                .literals
                .keys()
                .filter(|label| self.is_known_value(label))
                .count();
            if known < self.weak_cardinality || known * 2 < distinct {
                return self.resolve(node, child);
            }
            let values = self.value_like_children(node);
            self.promote(node, false, Some(&values));
            return self.resolve(node, child);
        }
        if distinct > self.unconditional_cardinality {
            self.promote(node, false, None);
        } else {
            let mut values = self.value_like_children(node);
            // The word that just arrived has no sub-path yet: judge it with the majority.
            if child != NO_PARENT && values.binary_search(&child).is_err() {
                values.push(child);
                values.sort_unstable();
            }
            if values.len() * 2 < distinct {
                return child;
            }
            self.promote(node, false, Some(&values));
        }
        self.resolve(node, child)
    }

    /// Where the walk continues after `child` (a literal of `node`) may have been merged.
    fn resolve(&self, node: NodeId, child: NodeId) -> NodeId {
        if child == NO_PARENT {
            return child;
        }
        match &self.nodes[child as usize] {
            c if c.alive && c.parent == node && matches!(c.label, Label::Literal(_)) => child,
            _ => self.nodes[node as usize].param.unwrap_or(child),
        }
    }

    /// At a promoted position, literals kept as routes that have since come to look like
    /// values (their label recurs elsewhere, or they share a sub-path with the parameter)
    /// merge into the parameter: templates only get more general.
    fn absorb_value_like(&mut self, node: NodeId) {
        let Some(p) = self.nodes[node as usize].param else {
            return;
        };
        let mut values = self.value_like_children(node);
        // Where the values are leaves themselves, leaves no busier than a typical value are
        // values too. (Where the values have sub-paths, a leaf like `/users/me` is different.)
        let param = &self.nodes[p as usize];
        let distinct = distinct_values(param);
        let leaf_values =
            param.literals.is_empty() && param.formats.is_empty() && param.param.is_none();
        if leaf_values && distinct >= self.weak_cardinality as u64 {
            let typical = param.calls / distinct;
            for (label, c) in &self.nodes[node as usize].literals {
                let n = &self.nodes[*c as usize];
                let leaf = n.literals.is_empty() && n.formats.is_empty() && n.param.is_none();
                if leaf
                    && n.calls <= 2 * typical.max(1)
                    && classify_segment(label, 1) != SegmentClass::Version
                    && values.binary_search(c).is_err()
                {
                    values.push(*c);
                }
            }
            values.sort_unstable();
        }
        if values.is_empty() {
            return;
        }
        let mut children: Vec<(Box<str>, NodeId)> = self.nodes[node as usize]
            .literals
            .iter()
            .filter(|(_, c)| values.binary_search(c).is_ok())
            .map(|(k, c)| (k.clone(), *c))
            .collect();
        children.sort();
        for (label, c) in children {
            self.nodes[node as usize].literals.remove(&label);
            self.merge(c, p);
        }
    }

    /// Literal children with a sub-path the position's parameter also has (`/users/alice/repos`
    /// beside `/users/{userId}/repos`) are values of that parameter, however few they are.
    fn absorb_param_twins(&mut self, node: NodeId) {
        let Some(p) = self.nodes[node as usize].param else {
            return;
        };
        let param_labels = self.sub_labels(p);
        if param_labels.is_empty() {
            return;
        }
        let mut twins: Vec<(Box<str>, NodeId)> = self.nodes[node as usize]
            .literals
            .iter()
            .filter(|(label, c)| {
                classify_segment(label, 1) != SegmentClass::Version
                    && self
                        .sub_labels(**c)
                        .iter()
                        .any(|l| param_labels.contains(l))
            })
            .map(|(k, c)| (k.clone(), *c))
            .collect();
        twins.sort();
        for (label, c) in twins {
            self.nodes[node as usize].literals.remove(&label);
            self.merge(c, p);
        }
    }

    fn is_known_value(&self, label: &str) -> bool {
        let stem = format_split(label).map_or(label, |dot| &label[..dot]);
        classify_segment(label, 1) != SegmentClass::Version && self.known_values.contains_key(stem)
    }

    /// Labels of the literal and format children of `node`.
    fn sub_labels(&self, node: NodeId) -> Vec<Box<str>> {
        let n = &self.nodes[node as usize];
        let mut out: Vec<Box<str>> = n.literals.keys().cloned().collect();
        for f in &n.formats {
            if let Label::Format(stem) = &self.nodes[*f as usize].label {
                out.push(stem.clone());
            }
        }
        out
    }

    /// The literal children of `node` that look like parameter values: those having a
    /// sub-path label most of their siblings (or the position's parameter) have, and those
    /// whose label also appears at another depth. Version-like labels never do.
    fn value_like_children(&self, node: NodeId) -> Vec<NodeId> {
        let n = &self.nodes[node as usize];
        let sub_labels = |c: NodeId| -> Vec<&str> {
            let child = &self.nodes[c as usize];
            let mut out: Vec<&str> = child.literals.keys().map(|k| &**k).collect();
            for f in &child.formats {
                if let Label::Format(stem) = &self.nodes[*f as usize].label {
                    out.push(stem);
                }
            }
            out
        };
        let mut shared: FxMap<&str, usize> = FxMap::default();
        for c in n.literals.values() {
            for label in sub_labels(*c) {
                *shared.entry(label).or_default() += 1;
            }
        }
        let mut common: Vec<&str> = shared
            .iter()
            .filter(|(_, count)| **count >= 3 && **count * 2 >= n.literals.len())
            .map(|(label, _)| *label)
            .collect();
        if let Some(p) = n.param {
            common.extend(sub_labels(p));
        }
        let mut values: Vec<NodeId> = n
            .literals
            .iter()
            .filter(|(label, c)| {
                if classify_segment(label, 1) == SegmentClass::Version {
                    return false;
                }
                let has_common = sub_labels(**c).iter().any(|l| common.contains(l));
                let stem = format_split(label).map_or(&label[..], |dot| &label[..dot]);
                let recurs = self
                    .labels
                    .get(stem)
                    .is_some_and(|(_, elsewhere, _)| *elsewhere);
                has_common || recurs || self.is_known_value(label)
            })
            .map(|(_, c)| *c)
            .collect();
        values.sort_unstable();
        values
    }

    /// Makes `node` a parameter position. With `values` (the children that look like values),
    /// exactly those merge into the parameter child; `/users/me` beside `/users/{id}/repos`
    /// stays. A kept word that later looks like a value, or is a leaf no busier than a typical
    /// value, merges then ([`PathLearner::absorb_value_like`]). Without `values`, the light
    /// literal children merge (and, unless `forced` by a cap, version-like labels stay).
    fn promote(&mut self, node: NodeId, forced: bool, values: Option<&[NodeId]>) {
        let mut children: Vec<(Box<str>, NodeId)> = self.nodes[node as usize]
            .literals
            .iter()
            .map(|(k, c)| (k.clone(), *c))
            .collect();
        children.sort();
        let mut calls: Vec<u64> = children
            .iter()
            .map(|(_, c)| self.nodes[*c as usize].calls)
            .collect();
        calls.sort_unstable();
        let median = calls.get(calls.len() / 2).copied().unwrap_or(0).max(1);
        let keep_above = (median.saturating_mul(self.keep_factor)).max(self.keep_min_calls);
        let p = self.param_child(node, ValueType::String);
        for (label, c) in children {
            let heavy = self.nodes[c as usize].calls >= keep_above;
            let version = classify_segment(&label, 1) == SegmentClass::Version;
            let keep = match values {
                // The others stay for now; those that turn out to be as busy as a typical value
                // merge later (`absorb_value_like`).
                Some(v) => v.binary_search(&c).is_err(),
                None => heavy || (version && !forced),
            };
            if keep {
                continue;
            }
            self.nodes[node as usize].literals.remove(&label);
            self.merge(c, p);
        }
        let n = &mut self.nodes[node as usize];
        n.promoted = true;
        n.promoted_weak = true;
    }

    /// Folds the subtree at `src` into `dst` (same depth), reporting endpoint merges and moves.
    fn merge(&mut self, src: NodeId, dst: NodeId) {
        if src == dst {
            return;
        }
        let (calls, types, promoted, promoted_weak) = {
            let s = &self.nodes[src as usize];
            (s.calls, s.types, s.promoted, s.promoted_weak)
        };
        if let (Label::Literal(label), Label::Param) = (
            &self.nodes[src as usize].label,
            &self.nodes[dst as usize].label,
        ) && self.known_values.len() < MAX_KNOWN_VALUES
        {
            let stem = format_split(label).map_or(&label[..], |dot| &label[..dot]);
            self.known_values.insert(stem.into(), ());
        }
        if let Label::Literal(label) = &self.nodes[src as usize].label
            && self.nodes[dst as usize].label == Label::Param
        {
            let h = value_hash(label);
            count_value(&mut self.nodes[dst as usize], h);
        }
        if let Some(bits) = self.nodes[src as usize].distinct.take() {
            let d = self.nodes[dst as usize]
                .distinct
                .get_or_insert_with(|| Box::new([0; DISTINCT_WORDS]));
            for (a, b) in d.iter_mut().zip(bits.iter()) {
                *a |= *b;
            }
        }
        let endpoints = std::mem::take(&mut self.nodes[src as usize].endpoints);
        let literals = std::mem::take(&mut self.nodes[src as usize].literals);
        let formats = std::mem::take(&mut self.nodes[src as usize].formats);
        let param = self.nodes[src as usize].param.take();
        {
            let d = &mut self.nodes[dst as usize];
            d.calls += calls;
            d.types.union(types);
            d.promoted |= promoted;
            d.promoted_weak |= promoted_weak;
        }
        for (method, e) in endpoints {
            let existing = self.nodes[dst as usize]
                .endpoints
                .iter()
                .find(|(m, _)| *m == method)
                .map(|(_, e)| *e);
            match existing {
                Some(into) => self.events.push(TreeEvent::Merged { from: e, into }),
                None => {
                    self.nodes[dst as usize].endpoints.push((method, e));
                    self.events.push(TreeEvent::Moved {
                        endpoint: e,
                        node: dst,
                    });
                }
            }
        }
        let mut literals: Vec<(Box<str>, NodeId)> = literals.into_iter().collect();
        literals.sort();
        for (label, c) in literals {
            match self.nodes[dst as usize].literals.get(&label).copied() {
                Some(d) => self.merge(c, d),
                None => {
                    self.nodes[dst as usize].literals.insert(label, c);
                    self.nodes[c as usize].parent = dst;
                    self.retemplate_subtree(c);
                }
            }
        }
        for sf in formats {
            let label = self.nodes[sf as usize].label.clone();
            let existing = self.nodes[dst as usize]
                .formats
                .iter()
                .copied()
                .find(|f| self.nodes[*f as usize].label == label);
            match existing {
                Some(df) => self.merge(sf, df),
                None => {
                    self.nodes[dst as usize].formats.push(sf);
                    self.nodes[sf as usize].parent = dst;
                    self.retemplate_subtree(sf);
                }
            }
        }
        if let Some(sp) = param {
            match self.nodes[dst as usize].param {
                Some(dp) => self.merge(sp, dp),
                None => {
                    self.nodes[dst as usize].param = Some(sp);
                    self.nodes[sp as usize].parent = dst;
                    self.retemplate_subtree(sp);
                }
            }
        }
        let s = &mut self.nodes[src as usize];
        s.alive = false;
        s.template = None;
        self.free.push(src);
        // `dst` gained children: its position may now call for a (further) promotion.
        self.queue_check(dst);
        if self.nodes[dst as usize].literals.len() > self.max_literal_children {
            self.promote(dst, true, None);
        }
    }

    /// Forgets cached templates below `node` and reports every endpoint there as moved.
    fn retemplate_subtree(&mut self, node: NodeId) {
        let mut stack = vec![node];
        while let Some(id) = stack.pop() {
            let n = &mut self.nodes[id as usize];
            n.template = None;
            for (_, e) in &n.endpoints {
                self.events.push(TreeEvent::Moved {
                    endpoint: *e,
                    node: id,
                });
            }
            stack.extend(n.literals.values().copied());
            stack.extend(n.formats.iter().copied());
            stack.extend(n.param);
        }
    }

    /// Merges the busiest fan-out (most literal children) into a parameter, for the endpoint
    /// cap. Returns false when no position has two or more literal children left.
    pub fn reduce_fanout(&mut self) -> bool {
        let best = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.alive && n.literals.len() >= 2)
            .max_by_key(|(i, n)| (n.literals.len(), n.depth, std::cmp::Reverse(*i)))
            .map(|(i, _)| i as NodeId);
        match best {
            Some(node) => {
                let before = self.nodes[node as usize].literals.len();
                self.promote(node, true, None);
                if self.nodes[node as usize].literals.len() == before {
                    // Every child was heavy: merge them all, the cap wins.
                    self.merge_all_literals(node);
                }
                true
            }
            None => false,
        }
    }

    fn merge_all_literals(&mut self, node: NodeId) {
        let mut children: Vec<(Box<str>, NodeId)> =
            self.nodes[node as usize].literals.drain().collect();
        children.sort();
        let p = self.param_child(node, ValueType::String);
        for (_, c) in children {
            self.merge(c, p);
        }
    }

    /// The endpoint of `method` at `node`, if any.
    pub fn endpoint(&self, node: NodeId, method: Method) -> Option<EndpointIdx> {
        self.nodes[node as usize]
            .endpoints
            .iter()
            .find(|(m, _)| *m == method)
            .map(|(_, e)| *e)
    }

    pub fn attach(&mut self, node: NodeId, method: Method, endpoint: EndpointIdx) {
        self.nodes[node as usize].endpoints.push((method, endpoint));
    }

    /// Removes an endpoint from its node (used when the inventory drops it).
    pub fn detach(&mut self, node: NodeId, endpoint: EndpointIdx) {
        self.nodes[node as usize]
            .endpoints
            .retain(|(_, e)| *e != endpoint);
    }

    /// The template of `node` (cached until the structure above it changes).
    pub fn template(&mut self, node: NodeId) -> Arc<TemplateInfo> {
        if let Some(t) = &self.nodes[node as usize].template {
            return t.clone();
        }
        let info = Arc::new(self.build_template(node));
        self.nodes[node as usize].template = Some(info.clone());
        info
    }

    fn build_template(&self, node: NodeId) -> TemplateInfo {
        let mut chain = Vec::new();
        let mut id = node;
        while self.nodes[id as usize].parent != NO_PARENT {
            chain.push(id);
            id = self.nodes[id as usize].parent;
        }
        chain.reverse();
        let mut text = String::new();
        let mut params: Vec<(u16, Arc<str>)> = Vec::new();
        let mut previous_literal: Option<&str> = None;
        for (depth, id) in chain.iter().enumerate() {
            text.push('/');
            let n = &self.nodes[*id as usize];
            match &n.label {
                Label::Literal(l) => {
                    text.push_str(l);
                    previous_literal = Some(l);
                }
                Label::Param | Label::Rest => {
                    let base = param_name(previous_literal, n.label == Label::Rest, n.types);
                    let mut name = base.clone();
                    let mut k = 2;
                    while params.iter().any(|(_, p)| **p == *name) {
                        name = format!("{base}{k}");
                        k += 1;
                    }
                    text.push('{');
                    text.push_str(&name);
                    text.push('}');
                    params.push((depth as u16, name.into()));
                    previous_literal = None;
                }
                Label::Format(prefix) => {
                    let mut name = "format".to_string();
                    let mut k = 2;
                    while params.iter().any(|(_, p)| **p == *name) {
                        name = format!("format{k}");
                        k += 1;
                    }
                    text.push_str(prefix);
                    text.push('{');
                    text.push_str(&name);
                    text.push('}');
                    params.push((depth as u16, name.into()));
                    previous_literal = None;
                }
                Label::Root => {}
            }
        }
        if text.is_empty() {
            text.push('/');
        }
        TemplateInfo {
            text: text.into(),
            params,
        }
    }

    /// The learned state along the path of `node`, for persistence.
    pub fn learned_path(&self, node: NodeId) -> LearnedPath {
        let mut chain = vec![node];
        let mut id = node;
        while self.nodes[id as usize].parent != NO_PARENT {
            id = self.nodes[id as usize].parent;
            chain.push(id);
        }
        chain.reverse();
        let mut out = LearnedPath::default();
        for (depth, id) in chain.iter().enumerate() {
            let n = &self.nodes[*id as usize];
            if n.promoted {
                out.promoted.push(depth as u16);
            }
            if matches!(n.label, Label::Param | Label::Rest) {
                out.param_types.push(n.types.bits());
            }
        }
        out
    }

    /// Rebuilds the path of a stored template (`/users/{id}/orders`) and returns its node.
    /// `{...}` segments become the position's parameter child.
    pub fn insert_template(&mut self, host: &str, template: &str, learned: &LearnedPath) -> NodeId {
        let mut node = self.root(host);
        let body = template.strip_prefix('/').unwrap_or(template);
        let mut param_index = 0;
        if learned.promoted.contains(&0) {
            self.nodes[node as usize].promoted = true;
            self.nodes[node as usize].promoted_weak = true;
        }
        if !body.is_empty() {
            for (i, segment) in body.split('/').enumerate() {
                let is_param =
                    segment.starts_with('{') && segment.ends_with('}') && segment.len() >= 2;
                let format_stem = segment
                    .find('{')
                    .filter(|open| {
                        *open > 0 && segment.ends_with('}') && segment[..*open].ends_with('.')
                    })
                    .map(|open| &segment[..open]);
                node = if let Some(stem) = format_stem {
                    let existing = self.nodes[node as usize]
                        .formats
                        .iter()
                        .copied()
                        .find(|f| matches!(&self.nodes[*f as usize].label, Label::Format(p) if **p == *stem));
                    match existing {
                        Some(f) => f,
                        None => {
                            let depth = self.nodes[node as usize].depth + 1;
                            let f = self.alloc(Node::new(node, depth, Label::Format(stem.into())));
                            self.nodes[node as usize].formats.push(f);
                            f
                        }
                    }
                } else if is_param {
                    let bits = learned.param_types.get(param_index).copied().unwrap_or(0);
                    param_index += 1;
                    let p = self.param_child(node, ValueType::String);
                    let types = TypeSet::from_bits(bits);
                    if !types.is_empty() {
                        self.nodes[p as usize].types = types;
                    }
                    p
                } else {
                    match self.nodes[node as usize].literals.get(segment) {
                        Some(&c) => c,
                        None => {
                            let weak =
                                matches!(classify_segment(segment, i), SegmentClass::Weak(_));
                            self.literal_child(node, segment, weak)
                        }
                    }
                };
                if learned.promoted.contains(&((i + 1) as u16)) {
                    self.nodes[node as usize].promoted = true;
                    self.nodes[node as usize].promoted_weak = true;
                }
            }
        }
        node
    }
}

/// The position of the dot of a format suffix: `name.json` → 4. The extension is 1 to 8
/// ASCII letters or digits with at least one letter; the stem is not empty.
fn format_split(segment: &str) -> Option<usize> {
    let dot = segment.rfind('.')?;
    let ext = &segment[dot + 1..];
    (dot > 0
        && (1..=8).contains(&ext.len())
        && ext.bytes().all(|b| b.is_ascii_alphanumeric())
        && ext.bytes().any(|b| b.is_ascii_alphabetic()))
    .then_some(dot)
}

fn class_type(class: SegmentClass) -> ValueType {
    match class {
        SegmentClass::Id(t) | SegmentClass::Weak(t) => t,
        SegmentClass::Word | SegmentClass::Version => ValueType::String,
    }
}

/// `users` → `userId`, `categories` → `categoryId`; `date` for dates; `id` after a parameter.
fn param_name(previous_literal: Option<&str>, rest: bool, types: TypeSet) -> String {
    if rest {
        return "path".to_string();
    }
    let summary = types.summary();
    if matches!(summary, ValueType::Date | ValueType::DateTime) {
        return "date".to_string();
    }
    let word = previous_literal.filter(|w| {
        !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            && w.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
    });
    match word {
        Some(w) => {
            let singular = singular(w);
            let mut camel = String::with_capacity(singular.len() + 2);
            let mut upper = false;
            for c in singular.chars() {
                if c == '_' || c == '-' {
                    upper = true;
                } else if upper {
                    camel.extend(c.to_uppercase());
                    upper = false;
                } else {
                    camel.push(c);
                }
            }
            camel.push_str("Id");
            camel
        }
        None => "id".to_string(),
    }
}

fn singular(word: &str) -> String {
    if let Some(stem) = word.strip_suffix("ies").filter(|s| s.len() >= 2) {
        format!("{stem}y")
    } else if word.ends_with("sses") || word.ends_with("xes") || word.ends_with("ches") {
        word[..word.len() - 2].to_string()
    } else if word.len() > 3 && word.ends_with('s') && !word.ends_with("ss") {
        word[..word.len() - 1].to_string()
    } else {
        word.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn learner() -> PathLearner {
        PathLearner::new(&DiscoveryConfig::default())
    }

    fn template(l: &mut PathLearner, path: &str) -> String {
        let mut walk = Walk::default();
        l.observe("api.example.com", path, &mut walk);
        l.template(walk.node).text.to_string()
    }

    #[test]
    fn numeric_ids_and_uuids_become_parameters() {
        let mut l = learner();
        assert_eq!(
            template(&mut l, "/users/42/orders/7"),
            "/users/{userId}/orders/{orderId}"
        );
        assert_eq!(
            template(&mut l, "/users/3f2504e0-4f89-11d3-9a0c-0305e82c3301"),
            "/users/{userId}"
        );
        assert_eq!(template(&mut l, "/"), "/");
        assert_eq!(template(&mut l, "/users/"), "/users/");
    }

    #[test]
    fn parameter_names_are_unique_and_singular() {
        assert_eq!(singular("categories"), "category");
        assert_eq!(singular("boxes"), "box");
        assert_eq!(singular("status"), "statu");
        assert_eq!(singular("address"), "address");
        let mut l = learner();
        assert_eq!(template(&mut l, "/a/1/2"), "/a/{aId}/{id}");
        assert_eq!(
            template(&mut l, "/line_items/9"),
            "/line_items/{lineItemId}"
        );
    }

    #[test]
    fn the_walk_reports_parameter_value_ranges() {
        let mut l = learner();
        let mut walk = Walk::default();
        let path = "/users/42/orders/7";
        l.observe("h", path, &mut walk);
        let values: Vec<&str> = walk.params.iter().map(|(_, s, e)| &path[*s..*e]).collect();
        assert_eq!(values, ["42", "7"]);
    }

    #[test]
    fn format_suffixes_with_several_values_become_a_parameter() {
        let mut l = learner();
        assert_eq!(template(&mut l, "/docket.json"), "/docket.json");
        assert_eq!(template(&mut l, "/docket.xml"), "/docket.{format}");
        assert_eq!(template(&mut l, "/docket.json"), "/docket.{format}");
        assert_eq!(template(&mut l, "/docket.csv"), "/docket.{format}");
        assert_eq!(template(&mut l, "/other.json"), "/other.json");
        let mut walk = Walk::default();
        l.observe("api.example.com", "/docket.kml", &mut walk);
        assert_eq!(walk.params, [(0, 8, 11)]);
        assert_eq!(format_split("a.json"), Some(1));
        assert_eq!(format_split(".json"), None);
        assert_eq!(format_split("v1.2"), None);
    }

    #[test]
    fn distinct_values_are_estimated_within_a_few_percent() {
        let mut n = Node::new(NO_PARENT, 1, Label::Param);
        assert_eq!(distinct_values(&n), 0);
        for i in 0..500 {
            count_value(&mut n, value_hash(&format!("user{i}")));
            count_value(&mut n, value_hash(&format!("user{i}")));
        }
        let estimate = distinct_values(&n);
        assert!((470..=530).contains(&estimate), "{estimate}");
    }

    #[test]
    fn deep_paths_fold_into_a_trailing_parameter() {
        let cfg = DiscoveryConfig {
            max_depth: 3,
            ..DiscoveryConfig::default()
        };
        let mut l = PathLearner::new(&cfg);
        let mut walk = Walk::default();
        l.observe("h", "/a/b/c/d/e", &mut walk);
        assert_eq!(&*l.template(walk.node).text, "/a/b/{path}");
    }
}
