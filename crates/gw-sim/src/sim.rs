//! The simulator: background and attack streams merged in event-time order, with record ids
//! and ground truth assigned as records leave.

use std::path::PathBuf;

use gw_model::Exchange;
use gw_spec::ApiSpec;

use crate::attacks::{AttackStream, PlanCtx, plan};
use crate::background::{Background, Routing};
use crate::builtin::{BUILTIN_SHADOW_TEMPLATE, builtin_specs};
use crate::config::SimConfig;
use crate::error::SimError;
use crate::keyed::hash3;
use crate::payloads::Payloads;
use crate::population::Population;
use crate::record::World;
use crate::scenario::{Scenario, TruthEntry};
use crate::template::{compile_spec, shadow_operation};

/// A scenario that was selected but could not be planned, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedScenario {
    pub scenario: Scenario,
    pub reason: String,
}

/// What the simulator holds while it runs; none of it grows with the simulated duration
/// (`truth_record_ids` grows with the attack records only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footprint {
    /// Background arrivals scheduled but not yet built (at most 1; only its time is held).
    pub buffered_records: usize,
    pub attack_streams: usize,
    pub truth_record_ids: usize,
}

/// A running simulation; iterate it for the records.
#[derive(Debug)]
pub struct Simulator {
    world: World,
    routing: Routing,
    background: Background,
    /// Event time of the next background record (built when the merge takes it).
    next_background: Option<i64>,
    background_done: bool,
    attacks: Vec<AttackStream>,
    /// `attacks[i].next_time()`, cached: the merge looks at it for every record.
    attack_next: Vec<Option<i64>>,
    truth: Vec<TruthEntry>,
    skipped: Vec<SkippedScenario>,
    emitted: u64,
    attack_records: u64,
    seed: u64,
    payload_dir: Option<PathBuf>,
    start_us: i64,
    end_us: i64,
}

impl Simulator {
    pub fn new(config: SimConfig) -> Result<Simulator, SimError> {
        let effective = config.effective()?;
        let builtin = config.specs.is_empty();
        let specs = if builtin {
            builtin_specs()?
        } else {
            config.specs
        };
        for spec in &specs {
            if spec.operations.is_empty() {
                return Err(SimError::EmptySpec {
                    file: spec.source_file.clone(),
                });
            }
        }
        let mut ops = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            ops.extend(compile_spec(spec, i));
        }
        let shadow_op = ops.len();
        ops.push(shadow_for(&specs, &ops, builtin));
        let issuers = specs
            .iter()
            .enumerate()
            .map(|(i, _)| issuer_for(&ops, i))
            .collect();
        let world = World {
            seed: config.seed,
            ops,
            issuers,
            population: Population::new(effective.clients, config.seed),
            jwt_cache: std::cell::RefCell::new(vec![None; crate::record::JWT_CACHE_SLOTS]),
        };
        let routing = Routing::new(&world, specs.len());
        let end_us = effective.start_us.saturating_add(effective.duration_us);
        let background = Background::new(
            config.seed,
            effective.start_us,
            end_us,
            effective.rps,
            effective.target_record_bytes,
        );
        let payloads = Payloads::load(config.payload_dir.as_deref())?;
        let ctx = PlanCtx {
            world: &world,
            routing: &routing,
            payloads: &payloads,
            start_us: effective.start_us,
            duration_us: effective.duration_us,
            rps: effective.rps,
            shadow_op,
        };
        let mut attacks = Vec::new();
        let mut truth = Vec::new();
        let mut skipped = Vec::new();
        for scenario in config.attacks.scenarios() {
            match plan(scenario, &ctx, config.seed, truth.len()) {
                Ok((stream, entry)) => {
                    attacks.push(stream);
                    truth.push(entry);
                }
                Err(reason) => skipped.push(SkippedScenario { scenario, reason }),
            }
        }
        let payload_dir = payloads.dir.clone();
        let attack_next = attacks.iter().map(AttackStream::next_time).collect();
        Ok(Simulator {
            world,
            routing,
            background,
            next_background: None,
            background_done: false,
            attacks,
            attack_next,
            truth,
            skipped,
            emitted: 0,
            attack_records: 0,
            seed: config.seed,
            payload_dir,
            start_us: effective.start_us,
            end_us,
        })
    }

    /// Ground truth, one entry per planned scenario; record ids are complete once the iterator
    /// is exhausted.
    pub fn truth(&self) -> &[TruthEntry] {
        &self.truth
    }

    /// Selected scenarios the APIs offered no target for.
    pub fn skipped(&self) -> &[SkippedScenario] {
        &self.skipped
    }

    /// The payload directory in use (`None` = the built-in payload set).
    pub fn payload_dir(&self) -> Option<&std::path::Path> {
        self.payload_dir.as_deref()
    }

    /// Records emitted so far, and how many of them belong to attacks.
    pub fn emitted(&self) -> (u64, u64) {
        (self.emitted, self.attack_records)
    }

    /// Planned attack records (all scenarios).
    pub fn planned_attack_records(&self) -> u64 {
        self.attacks.iter().map(AttackStream::count).sum()
    }

    /// The simulated period as (start, end) in microseconds since the Unix epoch.
    pub fn period_us(&self) -> (i64, i64) {
        (self.start_us, self.end_us)
    }

    pub fn footprint(&self) -> Footprint {
        Footprint {
            buffered_records: usize::from(self.next_background.is_some()),
            attack_streams: self.attacks.len(),
            truth_record_ids: self.truth.iter().map(|t| t.record_ids.len()).sum(),
        }
    }

    /// The background stream's position (microseconds since the epoch).
    pub fn clock_us(&self) -> i64 {
        self.background.now_us()
    }

    fn record_id(&self, x: &Exchange) -> String {
        let ms = x.observed_at.as_millisecond().max(0) as u64;
        let a = hash3(self.seed, 0x1d, self.emitted).to_le_bytes();
        let b = hash3(self.seed, 0x1e, self.emitted).to_le_bytes();
        let mut random = [0u8; 10];
        random[..8].copy_from_slice(&a);
        random[8..].copy_from_slice(&b[..2]);
        uuid::Builder::from_unix_timestamp_millis(ms, &random)
            .into_uuid()
            .hyphenated()
            .to_string()
    }
}

impl Iterator for Simulator {
    type Item = Exchange;

    fn next(&mut self) -> Option<Exchange> {
        if self.next_background.is_none() && !self.background_done {
            self.next_background = self.background.advance();
            self.background_done = self.next_background.is_none();
        }
        let attack = self
            .attack_next
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.map(|t| (t, i)))
            .min();
        let take_background = match (self.next_background, attack) {
            (Some(b), Some((a, _))) => b <= a,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        let mut x = if take_background {
            let at = self.next_background.take()?;
            self.background.build(&self.world, &self.routing, at)
        } else {
            let (_, i) = attack?;
            let x = self.attacks[i].generate(&self.world);
            self.attack_next[i] = self.attacks[i].next_time();
            x
        };
        x.id = self.record_id(&x);
        if let Some((_, i)) = attack.filter(|_| !take_background) {
            let entry = &mut self.truth[self.attacks[i].truth_index];
            entry.record_ids.push(x.id.clone());
            entry.count += 1;
            self.attack_records += 1;
        }
        self.emitted += 1;
        Some(x)
    }
}

/// The undeclared endpoint the simulator serves: a customer export under the first API.
fn shadow_for(
    specs: &[ApiSpec],
    ops: &[crate::template::OpTemplate],
    builtin: bool,
) -> crate::template::OpTemplate {
    let first = ops.first();
    let host = first.map_or("api.example.com", |o| o.host.as_str());
    let scheme = first.map_or("https", |o| o.scheme.as_str());
    let template = if builtin {
        BUILTIN_SHADOW_TEMPLATE.to_string()
    } else {
        let base = specs
            .first()
            .and_then(|s| s.servers.first())
            .map_or("", |s| s.base_path.as_str());
        format!("{base}/internal/debug/export")
    };
    shadow_operation(host, scheme, &template, 0)
}

/// `https://auth.<domain>` for the API's host (`api.shop.example.com` -> `auth.shop.example.com`).
fn issuer_for(ops: &[crate::template::OpTemplate], spec: usize) -> String {
    let host = ops
        .iter()
        .find(|o| o.spec_index == spec)
        .map_or("example.com", |o| o.host.as_str());
    let host = host.split(':').next().unwrap_or(host);
    let labels: Vec<&str> = host.split('.').collect();
    let domain = if labels.len() > 2 {
        labels[1..].join(".")
    } else {
        host.to_string()
    };
    format!("https://auth.{domain}")
}
