//! The pipeline operator: route every record to an endpoint (declared or learned), update the
//! endpoint's inventory state, and write the derived `endpoint` / `params` fields.
//!
//! One `Discovery` serves one partition. The pipeline partitions records by API (host + first
//! path segment), so the templating state of a host's first segment stays local to one worker
//! and needs no locks; the inventory of the whole install is the union of the partitions'
//! inventories (declared endpoints without traffic appear in every partition under the same id:
//! deduplicate by id when merging, see [`merge_inventories`]).

use std::sync::Arc;

use gw_model::{EndpointMatch, EndpointRef, Exchange, ParamLocation, ParamRef};
use gw_spec::ApiSpec;
use jiff::Timestamp;

use crate::config::DiscoveryConfig;
use crate::error::DiscoverError;
use crate::fxhash::FxMap;
use crate::inventory::{
    EndpointState, SpecStatus, Update, endpoint_id, learned_api, observe_param,
};
use crate::learn::{NodeId, PathLearner, TreeEvent, Walk};
use crate::method::Method;
use crate::router::{SpecRouter, normalize_host};
use crate::segment::value_type;

/// The host key of records that name no host.
pub const UNKNOWN_HOST: &str = "-";
/// The host of a declared endpoint whose servers name no host.
pub const ANY_HOST: &str = "*";

#[derive(Debug)]
struct Slot {
    state: EndpointState,
    /// The learner node of a learned endpoint.
    node: Option<NodeId>,
    alive: bool,
    dirty: bool,
    /// The reference the last record of this endpoint got; the next one shares it while it
    /// still describes the endpoint (see [`Discovery::shared_ref`]).
    shared: Option<Arc<EndpointRef>>,
}

/// What changed since the last save: endpoints to upsert and ids to delete.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InventoryChanges {
    pub upserts: Vec<EndpointState>,
    /// Ids of endpoints merged into others (their template became more general).
    pub removed: Vec<String>,
}

impl InventoryChanges {
    pub fn is_empty(&self) -> bool {
        self.upserts.is_empty() && self.removed.is_empty()
    }
}

/// Routing, templating and inventory for one partition.
#[derive(Debug)]
pub struct Discovery {
    config: DiscoveryConfig,
    router: SpecRouter,
    learner: PathLearner,
    slots: Vec<Slot>,
    free: Vec<u32>,
    by_id: FxMap<String, u32>,
    /// Spec route index → endpoint slot.
    declared: Vec<u32>,
    learned_count: usize,
    dirty: Vec<u32>,
    removed: Vec<String>,
    walk: Walk,
    latest_event: Option<Timestamp>,
    status_time: Option<Timestamp>,
}

impl Discovery {
    /// A discovery with no traffic yet; every operation of `specs` becomes a declared endpoint.
    pub fn new(config: DiscoveryConfig, specs: Vec<ApiSpec>) -> Result<Discovery, DiscoverError> {
        config.validate()?;
        let router = SpecRouter::new(&specs);
        let mut d = Discovery {
            learner: PathLearner::new(&config),
            config,
            router,
            slots: Vec::new(),
            free: Vec::new(),
            by_id: FxMap::default(),
            declared: Vec::new(),
            learned_count: 0,
            dirty: Vec::new(),
            removed: Vec::new(),
            walk: Walk::default(),
            latest_event: None,
            status_time: None,
        };
        for i in 0..d.router.routes().len() {
            let decl = d.router.routes()[i].declaration.clone();
            let host = decl.host.clone().unwrap_or_else(|| ANY_HOST.to_string());
            let mut state =
                EndpointState::new(&host, decl.method, &decl.template, EndpointMatch::Spec);
            state.api = decl.api.clone();
            state.spec = Some(decl);
            let slot = d.insert_slot(state, None);
            d.declared.push(slot);
        }
        Ok(d)
    }

    /// A discovery continuing from stored inventory rows (see [`Discovery::changed_since_last_save`]).
    /// Declared rows are matched to the current specs by id; rows of operations no spec
    /// declares any more, and learned rows, rebuild the learned templates.
    pub fn restore(
        config: DiscoveryConfig,
        specs: Vec<ApiSpec>,
        rows: Vec<EndpointState>,
    ) -> Result<Discovery, DiscoverError> {
        let mut d = Discovery::new(config, specs)?;
        for mut row in rows {
            d.latest_event = d.latest_event.max(row.last_seen);
            if row.matched_by == EndpointMatch::Spec
                && let Some(&slot) = d.by_id.get(&row.id)
            {
                let fresh = d.slots[slot as usize].state.clone();
                row.spec = fresh.spec;
                row.api = fresh.api;
                row.template = fresh.template;
                d.slots[slot as usize].state = row;
                continue;
            }
            if row.template.is_empty() || !row.template.starts_with('/') {
                return Err(DiscoverError::InvalidStoredEndpoint {
                    id: row.id,
                    method: row.method.as_str().to_string(),
                    template: row.template,
                    reason: "the template does not start with `/`".into(),
                });
            }
            row.matched_by = EndpointMatch::Learned;
            row.spec = None;
            let learned = row.learned.clone().unwrap_or_default();
            let node = d
                .learner
                .insert_template(&row.host, &row.template, &learned);
            d.place_learned(row, node, false);
        }
        d.learner.drain_events().for_each(drop);
        Ok(d)
    }

    /// Puts a learned endpoint state at `node`, absorbing it into an endpoint already there.
    fn place_learned(&mut self, mut state: EndpointState, node: NodeId, dirty: bool) {
        if let Some(existing) = self.learner.endpoint(node, state.method) {
            self.slots[existing as usize].state.absorb(&state);
            self.mark_dirty(existing);
            return;
        }
        let template = self.learner.template(node).text.to_string();
        if template != state.template {
            self.removed.push(state.id.clone());
            state.id = endpoint_id(&state.host, state.method, &template);
            state.api = learned_api(&state.host, &template);
            state.template = template;
        }
        if let Some(&other) = self.by_id.get(&state.id) {
            self.slots[other as usize].state.absorb(&state);
            self.mark_dirty(other);
            return;
        }
        let method = state.method;
        let slot = self.insert_slot(state, Some(node));
        self.learner.attach(node, method, slot);
        self.learned_count += 1;
        if dirty {
            self.mark_dirty(slot);
        }
    }

    fn insert_slot(&mut self, state: EndpointState, node: Option<NodeId>) -> u32 {
        let slot = Slot {
            state,
            node,
            alive: true,
            dirty: false,
            shared: None,
        };
        let id = slot.state.id.clone();
        let index = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.by_id.insert(id, index);
        index
    }

    fn mark_dirty(&mut self, slot: u32) {
        let s = &mut self.slots[slot as usize];
        if !s.dirty {
            s.dirty = true;
            self.dirty.push(slot);
        }
    }

    /// Adds sensitive-data labels found by a later stage (classification runs after routing)
    /// to the endpoint `endpoint_id`; unknown ids (merged since) are ignored.
    pub fn note_sensitive(&mut self, endpoint_id: &str, labels: &[gw_model::SensitiveLabel]) {
        if let Some(&slot) = self.by_id.get(endpoint_id)
            && self.slots[slot as usize].state.add_sensitive(labels)
        {
            self.mark_dirty(slot);
        }
    }

    /// Routes, templates and inventories every record, and sets its `endpoint` and `params`.
    pub fn observe_batch(&mut self, records: &mut [Exchange]) {
        for x in records.iter_mut() {
            self.observe(x);
        }
    }

    /// One record (see [`Discovery::observe_batch`]).
    pub fn observe(&mut self, x: &mut Exchange) {
        let method = Method::parse(&x.request.method);
        self.latest_event = Some(
            self.latest_event
                .map_or(x.observed_at, |t| t.max(x.observed_at)),
        );
        let mut params = std::mem::take(&mut x.params);
        params.clear();
        let host = x.server.host.as_deref();
        let (slot, host, operation, matched_by) =
            match self.router.route(host, method, &x.request.path) {
                Some(route) => {
                    let (slot, host) = self.observe_declared(route, x, &mut params);
                    let declaration = &self.router.routes()[route as usize].declaration;
                    let operation = declaration.operation_id.as_deref();
                    (slot, host, operation, EndpointMatch::Spec)
                }
                None => {
                    let slot = self.observe_learned(x, method, &mut params);
                    (slot, None, None, EndpointMatch::Learned)
                }
            };
        let endpoint = Self::shared_ref(
            &mut self.slots[slot as usize],
            host.as_deref(),
            method,
            operation,
            matched_by,
        );
        self.query_params(slot, x, &mut params);
        let s = &mut self.slots[slot as usize];
        let sample_body = s.state.body_offers < self.config.body_samples_full
            || s.state
                .body_offers
                .is_multiple_of(self.config.body_sample_every);
        let sample_details = s.state.calls < self.config.body_samples_full
            || s.state
                .calls
                .is_multiple_of(self.config.detail_sample_every);
        Update {
            record: x,
            sample_details,
            sample_body,
            max_params: self.config.max_params_per_endpoint,
        }
        .apply(&mut s.state);
        self.mark_dirty(slot);
        x.params = params;
        x.endpoint = Some(endpoint);
        if self.learned_count > self.config.max_endpoints {
            self.enforce_endpoint_cap();
        }
    }

    fn observe_declared(
        &mut self,
        route: u32,
        x: &Exchange,
        params: &mut Vec<ParamRef>,
    ) -> (u32, Option<String>) {
        let slot = self.declared[route as usize];
        let spec_route = &self.router.routes()[route as usize];
        let state = &mut self.slots[slot as usize].state;
        let host = x.server.host.as_deref().map(normalize_host);
        if state.host == ANY_HOST
            && let Some(h) = &host
        {
            state.host = h.clone();
        }
        let body = x.request.path.strip_prefix('/').unwrap_or(&x.request.path);
        let mut wanted = spec_route.params.iter().peekable();
        for (position, segment) in body.split('/').enumerate() {
            let Some((depth, param)) = wanted.peek() else {
                break;
            };
            if usize::from(*depth) == position {
                let t = value_type(segment);
                observe_param(
                    state,
                    &param.name,
                    ParamLocation::Path,
                    t,
                    self.config.max_params_per_endpoint,
                );
                params.push(ParamRef {
                    name: param.name.to_string(),
                    location: ParamLocation::Path,
                    value_type: t.as_str().to_string(),
                });
                wanted.next();
            }
        }
        (slot, host)
    }

    /// The endpoint reference of a record of `slot`: its id, `host` (the endpoint's own when
    /// `None`), method, template and how it was matched. Consecutive records of an endpoint
    /// share one reference; a new one is made when any of these changed.
    fn shared_ref(
        slot: &mut Slot,
        host: Option<&str>,
        method: Method,
        operation: Option<&str>,
        matched_by: EndpointMatch,
    ) -> Arc<EndpointRef> {
        let state = &slot.state;
        let host = host.unwrap_or(&state.host);
        if let Some(r) = &slot.shared
            && r.id == state.id
            && r.host == host
            && r.method == method.as_str()
            && r.template == state.template
            && r.spec_operation_id.as_deref() == operation
            && r.matched_by == matched_by
        {
            return r.clone();
        }
        let r = Arc::new(EndpointRef {
            id: state.id.clone(),
            host: host.to_string(),
            method: method.as_str().to_string(),
            template: state.template.clone(),
            spec_operation_id: operation.map(str::to_string),
            matched_by,
        });
        slot.shared = Some(r.clone());
        r
    }

    fn observe_learned(&mut self, x: &Exchange, method: Method, params: &mut Vec<ParamRef>) -> u32 {
        let host: std::borrow::Cow<'_, str> = match x.server.host.as_deref() {
            Some(h) if h.bytes().any(|b| b.is_ascii_uppercase() || b == b':') => {
                normalize_host(h).into()
            }
            Some(h) => h.into(),
            None => UNKNOWN_HOST.into(),
        };
        let path = x.request.path.as_str();
        let mut walk = std::mem::take(&mut self.walk);
        self.learner.observe(&host, path, &mut walk);
        self.apply_tree_events();
        let node = walk.node;
        let slot = match self.learner.endpoint(node, method) {
            Some(e) => e,
            None => {
                let template = self.learner.template(node).text.to_string();
                let state = EndpointState::new(&host, method, &template, EndpointMatch::Learned);
                let slot = self.insert_slot(state, Some(node));
                self.learner.attach(node, method, slot);
                self.learned_count += 1;
                slot
            }
        };
        let info = self.learner.template(node);
        let state = &mut self.slots[slot as usize].state;
        for (depth, start, end) in &walk.params {
            let Some((_, name)) = info.params.iter().find(|(d, _)| d == depth) else {
                continue;
            };
            let t = value_type(&path[*start..*end]);
            observe_param(
                state,
                name,
                ParamLocation::Path,
                t,
                self.config.max_params_per_endpoint,
            );
            params.push(ParamRef {
                name: name.to_string(),
                location: ParamLocation::Path,
                value_type: t.as_str().to_string(),
            });
        }
        self.walk = walk;
        slot
    }

    fn query_params(&mut self, slot: u32, x: &Exchange, params: &mut Vec<ParamRef>) {
        let Some(query) = x.request.query.as_deref() else {
            return;
        };
        let state = &mut self.slots[slot as usize].state;
        for pair in query.split('&') {
            if pair.is_empty() {
                continue;
            }
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if name.is_empty() {
                continue;
            }
            let t = value_type(value);
            observe_param(
                state,
                name,
                ParamLocation::Query,
                t,
                self.config.max_params_per_endpoint,
            );
            params.push(ParamRef {
                name: name.to_string(),
                location: ParamLocation::Query,
                value_type: t.as_str().to_string(),
            });
        }
    }

    /// Applies the learner's merges and moves to the inventory.
    fn apply_tree_events(&mut self) {
        let events: Vec<TreeEvent> = self.learner.drain_events().collect();
        for event in events {
            match event {
                TreeEvent::Merged { from, into } => self.merge_slots(from, into),
                TreeEvent::Moved { endpoint, node } => self.move_slot(endpoint, node),
            }
        }
    }

    fn merge_slots(&mut self, from: u32, into: u32) {
        if from == into || !self.slots[from as usize].alive {
            return;
        }
        let gone = std::mem::replace(
            &mut self.slots[from as usize].state,
            EndpointState::new("", Method::Other, "", EndpointMatch::Learned),
        );
        self.slots[into as usize].state.absorb(&gone);
        self.mark_dirty(into);
        self.by_id.remove(&gone.id);
        self.removed.push(gone.id);
        let s = &mut self.slots[from as usize];
        s.alive = false;
        s.node = None;
        self.free.push(from);
        self.learned_count = self.learned_count.saturating_sub(1);
    }

    fn move_slot(&mut self, slot: u32, node: NodeId) {
        if !self.slots[slot as usize].alive {
            return;
        }
        self.slots[slot as usize].node = Some(node);
        let template = self.learner.template(node).text.to_string();
        let state = &self.slots[slot as usize].state;
        if state.template == template {
            return;
        }
        let new_id = endpoint_id(&state.host, state.method, &template);
        if let Some(&other) = self.by_id.get(&new_id)
            && other != slot
        {
            self.learner.detach(node, slot);
            self.merge_slots(slot, other);
            return;
        }
        let s = &mut self.slots[slot as usize];
        let old_id = std::mem::replace(&mut s.state.id, new_id.clone());
        s.state.api = learned_api(&s.state.host, &template);
        s.state.template = template;
        self.by_id.remove(&old_id);
        self.by_id.insert(new_id, slot);
        self.removed.push(old_id);
        self.mark_dirty(slot);
    }

    fn enforce_endpoint_cap(&mut self) {
        while self.learned_count > self.config.max_endpoints {
            if !self.learner.reduce_fanout() {
                break;
            }
            self.apply_tree_events();
        }
    }

    /// Every endpoint: declared ones (with or without traffic) and learned ones.
    pub fn inventory(&self) -> impl Iterator<Item = &EndpointState> {
        self.slots.iter().filter(|s| s.alive).map(|s| &s.state)
    }

    /// Number of endpoints learned from traffic (the figure the endpoint cap bounds).
    pub fn learned_endpoints(&self) -> usize {
        self.learned_count
    }

    /// Nodes of the templating trees (memory accounting).
    pub fn template_nodes(&self) -> usize {
        self.learner.node_count()
    }

    /// Fixes the event time at which statuses are evaluated (dormancy), normally the end of the
    /// input or the event-time watermark, and returns the inventory rows.
    pub fn finish(&mut self, now: Timestamp) -> Vec<crate::render::InventoryRow> {
        self.status_time = Some(now);
        let mut rows: Vec<_> = self
            .inventory()
            .map(|e| crate::render::InventoryRow::new(e, now, self.config.dormant_after_days))
            .collect();
        crate::render::sort_rows(&mut rows);
        rows
    }

    /// The status of `endpoint` at the time given to [`Discovery::finish`], else the latest
    /// event time seen.
    pub fn spec_status(&self, endpoint: &EndpointState) -> SpecStatus {
        let now = self
            .status_time
            .or(self.latest_event)
            .unwrap_or(Timestamp::UNIX_EPOCH);
        endpoint.spec_status(now, self.config.dormant_after_days)
    }

    /// The latest event time seen (restored rows included).
    pub fn latest_event(&self) -> Option<Timestamp> {
        self.latest_event
    }

    pub fn config(&self) -> &DiscoveryConfig {
        &self.config
    }

    /// Endpoints changed (and ids removed) since the previous call; the caller saves them
    /// (see [`Discovery::save`]). Learned endpoints carry their learned-path state.
    pub fn changed_since_last_save(&mut self) -> InventoryChanges {
        let dirty = std::mem::take(&mut self.dirty);
        let mut upserts = Vec::with_capacity(dirty.len());
        for slot in dirty {
            let s = &mut self.slots[slot as usize];
            s.dirty = false;
            if !s.alive {
                continue;
            }
            if let Some(node) = s.node {
                s.state.learned = Some(self.learner.learned_path(node));
            }
            upserts.push(s.state.clone());
        }
        let alive: std::collections::HashSet<&str> =
            upserts.iter().map(|e| e.id.as_str()).collect();
        let mut removed: Vec<String> = std::mem::take(&mut self.removed)
            .into_iter()
            .filter(|id| !alive.contains(id.as_str()) && !self.by_id.contains_key(id))
            .collect();
        removed.sort();
        removed.dedup();
        upserts.sort_by(|a, b| a.id.cmp(&b.id));
        InventoryChanges { upserts, removed }
    }
}

/// Unions the inventories of several partitions: endpoints with the same id (declared
/// endpoints appear in every partition) are folded together.
pub fn merge_inventories<'a>(
    parts: impl IntoIterator<Item = &'a EndpointState>,
) -> Vec<EndpointState> {
    let mut by_id: std::collections::BTreeMap<&str, EndpointState> =
        std::collections::BTreeMap::new();
    for e in parts {
        match by_id.get_mut(e.id.as_str()) {
            Some(existing) => {
                if existing.host == ANY_HOST {
                    existing.host = e.host.clone();
                }
                existing.absorb(e);
            }
            None => {
                by_id.insert(&e.id, e.clone());
            }
        }
    }
    by_id.into_values().collect()
}
