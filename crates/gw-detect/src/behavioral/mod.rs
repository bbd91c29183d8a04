//! Behavioural detection: learned baselines per endpoint (and status class), keyed by the whole
//! population, by client IP or by identity, in event time.
//!
//! Each family is one [`crate::Detector`] in its own file:
//! [`VolumeDetector`] (`GW-T-POPULATION-SPIKE`, `GW-T-IP-SPIKE`, `GW-T-IDENTITY-SPIKE`),
//! [`PayloadDetector`] (`GW-T-LARGE-REQUEST`, `GW-T-LARGE-RESPONSE`, `GW-T-LATENCY-SPIKE`),
//! [`SprayDetector`] (`GW-T-ENDPOINT-SPRAY`),
//! [`EnumerationDetector`] (`GW-T-PARAM-ENUMERATION`, `GW-T-DISTRIBUTED-ENUMERATION`),
//! [`ParamProfileDetector`] (`GW-T-UNSEEN-PARAM`, `GW-T-PARAM-TYPE`),
//! [`AuthAbuseDetector`] (`GW-T-BRUTE-FORCE`, `GW-T-CREDENTIAL-STUFFING`),
//! [`ShadowAccessDetector`] (`GW-T-SHADOW-ACCESS`) and
//! [`BolaDetector`] (`GW-T-BOLA-FOREIGN-ID`).
//!
//! Rules shared by all of them: time is the record's `observed_at` (never the wall clock);
//! state lives in `gw-sketch` structures inside capacity-bounded LRU maps, so memory grows with
//! endpoints and active clients, never with records; nothing alerts before the learning period
//! ([`BehavioralConfig::min_learning_secs`]) has passed for the baseline in question; findings
//! carry the statistical reason and metrics, and samples are built from method, endpoint
//! template and status only (never raw values). Findings leave with `count = 1`, at most
//! [`BehavioralConfig::max_findings_per_key_window`] per (rule, endpoint, actor) and window;
//! [`crate::AlertBook`] folds them into alerts.
//!
//! Every detector snapshots its learned state ([`crate::Detector::snapshot`]: a `GWDS` header,
//! the format version, then CBOR) and marks the records it counted towards an alert
//! ([`crate::Detector::take_marks`], see [`BehavioralConfig::marks`]).

use std::fmt::Write as _;
use std::net::IpAddr;

use gw_model::{
    Actor, Analytic, Confidence, Evidence, EvidenceMetrics, EvidenceSample, Exchange,
    FINDING_SCHEMA, Finding, FindingEndpoint, FindingKind, FindingStatus, OwaspApi2023,
    ParamLocation, RuleRef, Severity,
};
use gw_sketch::{Season, SketchError, ThresholdRule, stable_hash_parts};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Detector, DetectorFactory, RuleMeta};

mod auth;
mod bola;
mod enumeration;
mod marks;
mod params;
mod payload;
mod shadow;
mod snapshot;
mod spray;
mod volume;

pub use auth::AuthAbuseDetector;
pub use bola::BolaDetector;
pub use enumeration::EnumerationDetector;
pub use params::{
    ExtractedParam, ParamProfileDetector, ValueType, classify_value, extract_params,
    extract_path_and_query,
};
pub use payload::PayloadDetector;
pub use shadow::ShadowAccessDetector;
pub use spray::SprayDetector;
pub use volume::VolumeDetector;

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// Why a behavioural configuration was rejected.
#[derive(Debug, thiserror::Error)]
pub enum BehavioralConfigError {
    #[error("behavioral config: `{field}` = {value} is invalid: {reason}")]
    Invalid {
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("behavioral config: {0}")]
    Sketch(#[from] SketchError),
}

fn invalid(
    field: &'static str,
    value: impl ToString,
    reason: &'static str,
) -> BehavioralConfigError {
    BehavioralConfigError::Invalid {
        field,
        value: value.to_string(),
        reason,
    }
}

/// Settings of every behavioural detector. Defaults are documented on each field; a TOML or
/// JSON file may set any subset (`deny_unknown_fields`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BehavioralConfig {
    /// Length of the tumbling event-time windows counts are taken over. Default 1200 (20 min).
    pub window_secs: i64,
    /// Out-of-order allowance of the event clock. Default 120 s.
    pub allowed_lateness_secs: i64,
    /// Days of history a baseline keeps. Default 30.
    pub horizon_days: u32,
    /// Event time a baseline must have learned before it may alert. Default 86,400 (24 h).
    pub min_learning_secs: i64,
    /// Calls an endpoint must have had before its baselines may alert. Default 200.
    pub min_endpoint_calls: u64,
    /// Seasonality of population baselines. Default `hour_of_day`.
    pub season: Season,
    /// A seasonal bucket is used once it holds this many windows (else the all-hours
    /// history). Default 6.
    pub min_seasonal_samples: usize,
    /// Capacity of each per-(actor, endpoint) map. Default 1,000,000.
    pub max_actor_endpoints: usize,
    /// Capacity of each per-actor map. Default 500,000.
    pub max_actors: usize,
    /// Capacity of each per-endpoint map. Default 20,000.
    pub max_endpoints: usize,
    /// Actors idle this long (event time) are dropped. Default 604,800 (7 days).
    pub actor_idle_secs: i64,
    /// Findings emitted per (rule, endpoint, actor) and window; later records of the same
    /// window only count. Default 20 (the alert book's evidence id limit).
    pub max_findings_per_key_window: u8,
    pub population_spike: SpikeRule,
    pub actor_spike: SpikeRule,
    pub large_payload: PayloadRule,
    pub latency_spike: SpikeRule,
    pub endpoint_spray: SpikeRule,
    pub param_enumeration: SpikeRule,
    pub distributed_enumeration: SpikeRule,
    /// How sequential identifiers lower the distributed-enumeration limit.
    pub enumeration_corroboration: Corroboration,
    pub params: ParamRule,
    pub brute_force: SpikeRule,
    /// Per-client credential stuffing: distinct failing usernames from one client.
    pub credential_stuffing: SpikeRule,
    /// Population credential stuffing: distinct failing usernames on an endpoint per window.
    pub credential_stuffing_population: SpikeRule,
    pub shadow_access: ShadowRule,
    pub bola: BolaRule,
    /// Record marks of the rules that count records (see [`crate::detectors::RecordMark`]).
    pub marks: MarkRule,
    /// Path segments that make a POST endpoint an authentication endpoint.
    pub auth_segments: Vec<String>,
}

/// Threshold settings of a count/rate rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpikeRule {
    pub enabled: bool,
    /// Robust z, quantile bound and absolute floor (see [`ThresholdRule`]).
    pub threshold: ThresholdRule,
}

impl Default for SpikeRule {
    fn default() -> Self {
        SpikeRule {
            enabled: true,
            threshold: ThresholdRule::default(),
        }
    }
}

fn spike(
    z: f64,
    quantile: f64,
    quantile_factor: f64,
    min_abs: f64,
    sigma_floor_ratio: f64,
    sigma_floor_abs: f64,
) -> SpikeRule {
    SpikeRule {
        enabled: true,
        threshold: ThresholdRule {
            z,
            quantile,
            quantile_factor,
            min_abs,
            sigma_floor_ratio,
            sigma_floor_abs,
        },
    }
}

/// When a window's identifier calls are largely sequential (`GW-T-DISTRIBUTED-ENUMERATION`),
/// the limit becomes `baseline + margin_factor × (limit − baseline)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Corroboration {
    /// Sequential calls (numeric id within 3 of one of the 4 previous ids) needed. Default 50.
    pub min_sequential: u32,
    /// ... and their share of the window's calls. Default 0.2.
    pub sequential_share: f64,
    /// Fraction of the statistical margin still required. Default 0.25.
    pub margin_factor: f64,
}

impl Default for Corroboration {
    fn default() -> Self {
        Corroboration {
            min_sequential: 50,
            sequential_share: 0.2,
            margin_factor: 0.25,
        }
    }
}

/// Settings of `GW-T-LARGE-REQUEST` / `GW-T-LARGE-RESPONSE`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PayloadRule {
    pub enabled: bool,
    /// Quantile of the endpoint's size distribution used as the reference. Default 0.999.
    pub quantile: f64,
    /// The limit is the reference quantile times this factor. Default 4.
    pub factor: f64,
    /// ... and at least this many times the median size. Default 20.
    pub median_factor: f64,
    /// ... and at least this many bytes. Default 16,384.
    pub min_bytes: f64,
}

impl Default for PayloadRule {
    fn default() -> Self {
        PayloadRule {
            enabled: true,
            quantile: 0.999,
            factor: 4.0,
            median_factor: 20.0,
            min_bytes: 16_384.0,
        }
    }
}

/// Settings of `GW-T-UNSEEN-PARAM` / `GW-T-PARAM-TYPE`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ParamRule {
    pub unseen_enabled: bool,
    pub type_enabled: bool,
    /// Parameters tracked per endpoint. Default 64.
    pub max_params_per_endpoint: usize,
    /// A type is anomalous when its share of the parameter's values is below this. Default 0.001.
    pub rare_type_share: f64,
    /// A parameter's types are trusted after this many values. Default 100.
    pub min_param_values: u32,
    /// A parameter first seen after learning becomes normal once this many distinct actors
    /// sent it. Default 5.
    pub adopt_after_actors: u8,
}

impl Default for ParamRule {
    fn default() -> Self {
        ParamRule {
            unseen_enabled: true,
            type_enabled: true,
            max_params_per_endpoint: 64,
            rare_type_share: 0.001,
            min_param_values: 100,
            adopt_after_actors: 5,
        }
    }
}

/// Settings of `GW-T-BOLA-FOREIGN-ID`.
///
/// An object id (a path parameter, or a query parameter named `id` or `…id`, in the namespace
/// of its resource: `/users/{id}` and `?userId=` are both `user`) is *owned* by the identities
/// that fetched it successfully while no other identity owned it, or whose successful
/// responses carried it (`"id"` / `"…Id"` / `"…_id"` fields of a JSON body). An identity's
/// access to an id it does not own, owned by another identity and not shared (fetched
/// successfully by `shared_after` identities or more), is *foreign*.
///
/// A namespace is *ownership-scoped* once `min_namespace_windows` identity windows used it and
/// at most `max_namespace_foreign_share` of them touched a foreign id; only foreign ids of
/// ownership-scoped namespaces count. An identity alerts when its distinct foreign ids in one
/// window reach `max(min_foreign_ids, mean + baseline_z × max(σ, mean / 2, 1))` of its own
/// per-window history (EWMA) and `min_foreign_share` of its identifier calls.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BolaRule {
    /// Default true.
    pub enabled: bool,
    /// Distinct foreign ids one identity must access in one window, whatever its baseline.
    /// Default 10.
    pub min_foreign_ids: u32,
    /// ... and their share of the identity's identifier calls in the window. Default 0.5.
    pub min_foreign_share: f64,
    /// Standard deviations (at least half the mean, at least 1) above the identity's own mean
    /// of distinct foreign ids per window. Default 5.
    pub baseline_z: f64,
    /// A namespace where more than this share of identity windows touch foreign ids is not
    /// ownership-scoped (a catalogue, a directory) and never alerts. Default 0.1.
    pub max_namespace_foreign_share: f64,
    /// Identity windows a namespace must have seen before it may alert. Default 100.
    pub min_namespace_windows: u32,
    /// Owned ids remembered per identity (most recent kept). Default 256.
    pub max_owned_per_identity: usize,
    /// Identities tracked. Default 100,000.
    pub max_identities: usize,
    /// Object ids in the global owner map. Default 1,000,000.
    pub max_objects: usize,
    /// Resource namespaces tracked. Default 4,096.
    pub max_namespaces: usize,
    /// An id fetched successfully by this many distinct identities (2..=4) is shared. Default 3.
    pub shared_after: u8,
}

impl Default for BolaRule {
    fn default() -> Self {
        BolaRule {
            enabled: true,
            min_foreign_ids: 10,
            min_foreign_share: 0.5,
            baseline_z: 5.0,
            max_namespace_foreign_share: 0.1,
            min_namespace_windows: 100,
            max_owned_per_identity: 256,
            max_identities: 100_000,
            max_objects: 1_000_000,
            max_namespaces: 4_096,
            shared_after: 3,
        }
    }
}

/// Settings of the record marks (see [`crate::detectors::RecordMark`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarkRule {
    pub enabled: bool,
    /// Records kept per alert key and window before the alert fires; beyond it the alert's
    /// evidence states `events_sampled` and `events_dropped`. Default 256.
    pub max_pending_per_key: usize,
    /// Alert keys with pending records, per detector (least recently used evicted); pending
    /// records are bounded by `max_keys × max_pending_per_key`. Default 4,096.
    pub max_keys: usize,
}

impl Default for MarkRule {
    fn default() -> Self {
        MarkRule {
            enabled: true,
            max_pending_per_key: 256,
            max_keys: 4_096,
        }
    }
}

/// Settings of `GW-T-SHADOW-ACCESS`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShadowRule {
    pub enabled: bool,
    /// Whether API specs are imported. `None` (default): inferred, true once a record matched
    /// a spec operation.
    pub specs_imported: Option<bool>,
}

impl Default for ShadowRule {
    fn default() -> Self {
        ShadowRule {
            enabled: true,
            specs_imported: None,
        }
    }
}

impl Default for BehavioralConfig {
    fn default() -> Self {
        BehavioralConfig {
            window_secs: 1200,
            allowed_lateness_secs: 120,
            horizon_days: 30,
            min_learning_secs: 86_400,
            min_endpoint_calls: 200,
            season: Season::HourOfDay,
            min_seasonal_samples: 6,
            max_actor_endpoints: 1_000_000,
            max_actors: 500_000,
            max_endpoints: 20_000,
            actor_idle_secs: 7 * 86_400,
            max_findings_per_key_window: 20,
            // Population counts are roughly Poisson: σ̂ ≥ 0.15·median and ≥ 3 calls.
            population_spike: spike(7.0, 0.99, 1.6, 60.0, 0.15, 3.0),
            actor_spike: spike(8.0, 0.99, 3.0, 100.0, 0.3, 3.0),
            large_payload: PayloadRule::default(),
            latency_spike: spike(8.0, 0.99, 2.0, 250.0, 0.2, 5.0),
            endpoint_spray: spike(8.0, 0.99, 2.0, 12.0, 0.3, 1.0),
            param_enumeration: spike(8.0, 0.99, 3.0, 40.0, 0.3, 2.0),
            distributed_enumeration: spike(6.0, 0.99, 1.5, 100.0, 0.1, 3.0),
            enumeration_corroboration: Corroboration::default(),
            params: ParamRule::default(),
            brute_force: spike(8.0, 0.99, 3.0, 25.0, 0.3, 2.0),
            credential_stuffing: spike(8.0, 0.999, 2.0, 10.0, 0.3, 2.0),
            credential_stuffing_population: spike(7.0, 0.99, 2.0, 40.0, 0.2, 3.0),
            shadow_access: ShadowRule::default(),
            bola: BolaRule::default(),
            marks: MarkRule::default(),
            auth_segments: [
                "login",
                "logon",
                "signin",
                "sign-in",
                "token",
                "auth",
                "authenticate",
                "oauth",
                "oauth2",
                "session",
                "sessions",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl BehavioralConfig {
    /// Checks ranges; every detector constructor calls it.
    pub fn validate(&self) -> Result<(), BehavioralConfigError> {
        if self.window_secs < 60 || self.window_secs > 86_400 {
            return Err(invalid(
                "window_secs",
                self.window_secs,
                "must be between 60 and 86400",
            ));
        }
        if self.allowed_lateness_secs < 0 || self.allowed_lateness_secs > self.window_secs {
            return Err(invalid(
                "allowed_lateness_secs",
                self.allowed_lateness_secs,
                "must be between 0 and window_secs",
            ));
        }
        if self.horizon_days == 0 || self.horizon_days > 366 {
            return Err(invalid(
                "horizon_days",
                self.horizon_days,
                "must be between 1 and 366",
            ));
        }
        if self.min_learning_secs < 0 {
            return Err(invalid(
                "min_learning_secs",
                self.min_learning_secs,
                "must not be negative",
            ));
        }
        if self.min_seasonal_samples == 0 || self.min_seasonal_samples > self.per_bucket_samples() {
            return Err(invalid(
                "min_seasonal_samples",
                self.min_seasonal_samples,
                "must be between 1 and the windows one seasonal bucket holds",
            ));
        }
        for (field, cap) in [
            ("max_actor_endpoints", self.max_actor_endpoints),
            ("max_actors", self.max_actors),
            ("max_endpoints", self.max_endpoints),
        ] {
            if cap == 0 || cap > 1 << 31 {
                return Err(invalid(field, cap, "must be between 1 and 2147483648"));
            }
        }
        if self.actor_idle_secs <= 0 {
            return Err(invalid(
                "actor_idle_secs",
                self.actor_idle_secs,
                "must be positive",
            ));
        }
        if self.max_findings_per_key_window == 0 {
            return Err(invalid(
                "max_findings_per_key_window",
                0,
                "must be at least 1",
            ));
        }
        let p = &self.large_payload;
        if !(p.quantile > 0.0 && p.quantile <= 1.0)
            || p.factor <= 0.0
            || p.median_factor < 0.0
            || p.min_bytes < 0.0
        {
            return Err(invalid(
                "large_payload",
                format!("{p:?}"),
                "quantile must be in (0,1], factors and min_bytes positive",
            ));
        }
        let c = &self.enumeration_corroboration;
        if !(0.0..=1.0).contains(&c.sequential_share) || !(0.0..=1.0).contains(&c.margin_factor) {
            return Err(invalid(
                "enumeration_corroboration",
                format!("{c:?}"),
                "sequential_share and margin_factor must be in [0,1]",
            ));
        }
        if !(0.0..1.0).contains(&self.params.rare_type_share)
            || self.params.max_params_per_endpoint == 0
        {
            return Err(invalid(
                "params",
                format!("{:?}", self.params),
                "rare_type_share must be in [0,1) and max_params_per_endpoint at least 1",
            ));
        }
        let b = &self.bola;
        if b.min_foreign_ids == 0
            || !(0.0..=1.0).contains(&b.min_foreign_share)
            || !b.baseline_z.is_finite()
            || b.baseline_z < 0.0
            || !(0.0..=1.0).contains(&b.max_namespace_foreign_share)
            || b.max_namespaces == 0
            || b.max_namespaces > 1 << 31
            || b.max_owned_per_identity == 0
            || b.max_owned_per_identity > 1 << 20
            || b.max_identities == 0
            || b.max_identities > 1 << 31
            || b.max_objects == 0
            || b.max_objects > 1 << 31
            || !(2..=4).contains(&b.shared_after)
        {
            return Err(invalid(
                "bola",
                format!("{b:?}"),
                "min_foreign_ids at least 1, min_foreign_share and max_namespace_foreign_share in [0,1], baseline_z finite and >= 0, max_owned_per_identity 1..=1048576, max_identities, max_objects and max_namespaces 1..=2147483648, shared_after 2..=4",
            ));
        }
        let m = &self.marks;
        if m.max_pending_per_key == 0
            || m.max_pending_per_key > 1 << 20
            || m.max_keys == 0
            || m.max_keys > 1 << 31
        {
            return Err(invalid(
                "marks",
                format!("{m:?}"),
                "max_pending_per_key must be 1..=1048576 and max_keys 1..=2147483648",
            ));
        }
        Ok(())
    }

    /// Windows kept per seasonal bucket: the horizon's windows spread over the buckets.
    pub(crate) fn per_bucket_samples(&self) -> usize {
        let windows = self.horizon_windows();
        (windows / self.season.buckets()).clamp(1, 4096)
    }

    /// Windows in the horizon.
    pub(crate) fn horizon_windows(&self) -> usize {
        ((i64::from(self.horizon_days) * 86_400) / self.window_secs.max(1)).clamp(1, 1 << 16)
            as usize
    }

    /// Windows kept in the all-hours history (at most 7 days' worth, at least 72).
    pub(crate) fn overall_samples(&self) -> usize {
        (7 * 86_400 / self.window_secs.max(1)).clamp(72, 4096) as usize
    }

    pub(crate) fn seasonal_baseline(&self) -> gw_sketch::SeasonalBaseline {
        gw_sketch::SeasonalBaseline::new(
            self.season,
            self.per_bucket_samples(),
            self.overall_samples(),
            self.min_seasonal_samples.min(self.per_bucket_samples()),
        )
        .expect("validated sizes")
    }
}

// ---------------------------------------------------------------------------------------------
// Construction
// ---------------------------------------------------------------------------------------------

/// Builds every behavioural detector from one configuration, in a fixed order.
pub fn build_behavioral(
    config: &BehavioralConfig,
) -> Result<Vec<Box<dyn Detector>>, BehavioralConfigError> {
    config.validate()?;
    Ok(vec![
        Box::new(VolumeDetector::new(config.clone())?),
        Box::new(PayloadDetector::new(config.clone())?),
        Box::new(SprayDetector::new(config.clone())?),
        Box::new(EnumerationDetector::new(config.clone())?),
        Box::new(ParamProfileDetector::new(config.clone())?),
        Box::new(AuthAbuseDetector::new(config.clone())?),
        Box::new(ShadowAccessDetector::new(config.clone())?),
        Box::new(BolaDetector::new(config.clone())?),
    ])
}

/// Registry factories: each builds one family with [`BehavioralConfig::default`].
pub struct BehavioralFactory {
    name: &'static str,
    build: fn(BehavioralConfig) -> Result<Box<dyn Detector>, BehavioralConfigError>,
}

impl DetectorFactory for BehavioralFactory {
    fn name(&self) -> &'static str {
        self.name
    }

    fn build(&self) -> Box<dyn Detector> {
        (self.build)(BehavioralConfig::default()).expect("the default behavioral config is valid")
    }
}

macro_rules! factory {
    ($static:ident, $name:literal, $ty:ty) => {
        pub static $static: BehavioralFactory = BehavioralFactory {
            name: $name,
            build: |c| Ok(Box::new(<$ty>::new(c)?)),
        };
    };
}

factory!(VOLUME_FACTORY, "behavioral.volume", VolumeDetector);
factory!(PAYLOAD_FACTORY, "behavioral.payload", PayloadDetector);
factory!(SPRAY_FACTORY, "behavioral.spray", SprayDetector);
factory!(
    ENUMERATION_FACTORY,
    "behavioral.enumeration",
    EnumerationDetector
);
factory!(PARAMS_FACTORY, "behavioral.params", ParamProfileDetector);
factory!(AUTH_FACTORY, "behavioral.auth", AuthAbuseDetector);
factory!(SHADOW_FACTORY, "behavioral.shadow", ShadowAccessDetector);
factory!(BOLA_FACTORY, "behavioral.bola", BolaDetector);

/// Every behavioural factory, for the static registry.
pub static BEHAVIORAL_FACTORIES: [&BehavioralFactory; 8] = [
    &VOLUME_FACTORY,
    &PAYLOAD_FACTORY,
    &SPRAY_FACTORY,
    &ENUMERATION_FACTORY,
    &PARAMS_FACTORY,
    &AUTH_FACTORY,
    &SHADOW_FACTORY,
    &BOLA_FACTORY,
];

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

const IMPACT_DOS: (&str, &str) = ("TA0040", "T1499");
const INITIAL_ACCESS: (&str, &str) = ("TA0001", "T1190");
const EXFIL: (&str, &str) = ("TA0010", "T1567");
const DISCOVERY_SCAN: (&str, &str) = ("TA0043", "T1595");
const DISCOVERY_API: (&str, &str) = ("TA0007", "T1526");
const BRUTE: (&str, &str) = ("TA0006", "T1110.001");
const STUFFING: (&str, &str) = ("TA0006", "T1110.004");
const SPRAYING: (&str, &str) = ("TA0006", "T1110.003");
const COLLECTION: (&str, &str) = ("TA0009", "T1213");

macro_rules! rule {
    ($name:ident, $id:literal, $title:literal, $sev:ident, [$($o:ident),*], [$($m:expr),*], $desc:literal, $fix:literal) => {
        pub static $name: RuleMeta = RuleMeta {
            id: $id,
            name: $title,
            version: 1,
            severity: Severity::$sev,
            owasp: &[$(OwaspApi2023::$o),*],
            mitre: &[$($m),*],
            description: $desc,
            remediation: $fix,
        };
    };
}

rule!(
    POPULATION_SPIKE,
    "GW-T-POPULATION-SPIKE",
    "Population-level spike in traffic to an endpoint",
    Medium,
    [Api4, Api6],
    [IMPACT_DOS],
    "The volume to this endpoint from all clients, for this status class, is far above its learned baseline for this time of day.",
    "Check whether a release, a campaign or an automated client explains the change; otherwise rate-limit the endpoint and look for the clients behind the increase."
);
rule!(
    IP_SPIKE,
    "GW-T-IP-SPIKE",
    "Spike in traffic from one IP to an endpoint",
    Medium,
    [Api4, Api6],
    [IMPACT_DOS],
    "One client IP sent far more calls to this endpoint in one window than its own history and its peers' allow.",
    "Apply a per-client rate limit on the endpoint and review what the client fetched."
);
rule!(
    IDENTITY_SPIKE,
    "GW-T-IDENTITY-SPIKE",
    "Spike in traffic from one identity to an endpoint",
    Medium,
    [Api4, Api6],
    [IMPACT_DOS],
    "One identity (user, consumer or credential) sent far more calls to this endpoint in one window than its history and its peers' allow, possibly from many IPs.",
    "Apply per-identity quotas; if the calls come from many IPs, treat the credential as possibly stolen and rotate it."
);
rule!(
    LARGE_REQUEST,
    "GW-T-LARGE-REQUEST",
    "Unusually large request body to an endpoint",
    Medium,
    [Api4, Api8],
    [INITIAL_ACCESS],
    "The request body is far larger than this endpoint's learned size distribution.",
    "Enforce a maximum body size per operation at the gateway and validate bodies against the schema."
);
rule!(
    LARGE_RESPONSE,
    "GW-T-LARGE-RESPONSE",
    "Unusually large response from an endpoint",
    Medium,
    [Api3],
    [EXFIL],
    "The response is far larger than this endpoint's learned size distribution: possibly bulk data extraction.",
    "Enforce server-side page-size limits and return only the properties the client needs."
);
rule!(
    LATENCY_SPIKE,
    "GW-T-LATENCY-SPIKE",
    "Spike in latency of an endpoint",
    Medium,
    [Api4],
    [IMPACT_DOS],
    "The median latency of this endpoint in this window is far above its learned baseline.",
    "Look for expensive queries driven by clients (large pages, heavy filters) and back-end trouble; add timeouts and limits."
);
rule!(
    ENDPOINT_SPRAY,
    "GW-T-ENDPOINT-SPRAY",
    "One client touches unusually many distinct endpoints",
    Medium,
    [Api9],
    [DISCOVERY_SCAN, DISCOVERY_API],
    "One IP or identity called far more distinct endpoints in one window than clients normally do: API reconnaissance.",
    "Block or challenge the client; make sure undocumented and deprecated endpoints are not exposed."
);
rule!(
    PARAM_ENUMERATION,
    "GW-T-PARAM-ENUMERATION",
    "Parameter enumeration by one client",
    High,
    [Api1],
    [COLLECTION, INITIAL_ACCESS],
    "One client requested far more distinct values of an identifier parameter than clients normally do in one window (BOLA probing).",
    "Check object-level authorization on this endpoint for every object id; use non-sequential ids and rate-limit per client."
);
rule!(
    DISTRIBUTED_ENUMERATION,
    "GW-T-DISTRIBUTED-ENUMERATION",
    "Distributed parameter enumeration on an endpoint",
    High,
    [Api1],
    [COLLECTION, INITIAL_ACCESS],
    "The whole population requested far more distinct values of an identifier parameter in one window than this endpoint's baseline: enumeration spread over many clients.",
    "Check object-level authorization on this endpoint; use non-sequential ids and look for the client group behind the traffic."
);
rule!(
    UNSEEN_PARAM,
    "GW-T-UNSEEN-PARAM",
    "Previously unseen parameter",
    Medium,
    [Api3, Api8],
    [INITIAL_ACCESS],
    "A parameter never seen while the endpoint was learned was sent: possible mass assignment or probing for hidden options.",
    "Reject unknown properties (additionalProperties: false) and bind only allow-listed fields."
);
rule!(
    PARAM_TYPE,
    "GW-T-PARAM-TYPE",
    "Parameter value of an anomalous type",
    Medium,
    [Api3, Api8],
    [INITIAL_ACCESS],
    "A parameter carried a value of a type it (almost) never had during learning.",
    "Validate parameter types against the schema at the gateway."
);
rule!(
    BRUTE_FORCE,
    "GW-T-BRUTE-FORCE",
    "Brute force on an authentication endpoint",
    High,
    [Api2],
    [BRUTE],
    "One client failed authentication far more often in one window than clients normally do.",
    "Lock out or slow down after repeated failures, require MFA and alert the account owners."
);
rule!(
    CREDENTIAL_STUFFING,
    "GW-T-CREDENTIAL-STUFFING",
    "Credential stuffing on an authentication endpoint",
    High,
    [Api2],
    [STUFFING, SPRAYING],
    "Failed authentications for many distinct usernames, from one client or across the population, far above the endpoint's baseline.",
    "Rate-limit per IP and per username, check passwords against breach lists and require MFA."
);
rule!(
    SHADOW_ACCESS,
    "GW-T-SHADOW-ACCESS",
    "Traffic to an endpoint that no imported spec declares",
    Medium,
    [Api9],
    [DISCOVERY_API],
    "API specs are imported but this endpoint is in none of them: a shadow or forgotten endpoint is being called.",
    "Document the endpoint in its API spec or remove it from the gateway."
);

rule!(
    BOLA_FOREIGN_ID,
    "GW-T-BOLA-FOREIGN-ID",
    "Identity accesses objects owned by other identities",
    High,
    [Api1],
    [COLLECTION, INITIAL_ACCESS],
    "One identity accessed far more object ids owned by other identities than it normally does, in a resource where identities normally touch only their own objects: broken object-level authorization (BOLA) being exploited or probed.",
    "Enforce object-level authorization on this endpoint (check the caller owns or may read every object id), and review what the identity fetched."
);

/// Every behavioural rule.
pub static BEHAVIORAL_RULES: [&RuleMeta; 15] = [
    &POPULATION_SPIKE,
    &IP_SPIKE,
    &IDENTITY_SPIKE,
    &LARGE_REQUEST,
    &LARGE_RESPONSE,
    &LATENCY_SPIKE,
    &ENDPOINT_SPRAY,
    &PARAM_ENUMERATION,
    &DISTRIBUTED_ENUMERATION,
    &UNSEEN_PARAM,
    &PARAM_TYPE,
    &BRUTE_FORCE,
    &CREDENTIAL_STUFFING,
    &SHADOW_ACCESS,
    &BOLA_FOREIGN_ID,
];

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// Whom a baseline is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Who<'a> {
    Population,
    Ip(IpAddr),
    Identity(&'a str),
}

impl Who<'_> {
    pub(crate) fn key(&self) -> String {
        match self {
            Who::Population => "population".to_string(),
            Who::Ip(ip) => format!("ip:{ip}"),
            Who::Identity(id) => format!("id:{id}"),
        }
    }

    /// Bytes for hashing: a kind tag then the actor.
    pub(crate) fn hash_with(&self, parts: &[&[u8]]) -> u64 {
        let mut buf = [0u8; 17];
        let (tag, actor): (&[u8], &[u8]) = match self {
            Who::Population => (b"p", b""),
            Who::Ip(IpAddr::V4(v4)) => {
                buf[..4].copy_from_slice(&v4.octets());
                (b"4", &buf[..4])
            }
            Who::Ip(IpAddr::V6(v6)) => {
                buf[..16].copy_from_slice(&v6.octets());
                (b"6", &buf[..16])
            }
            Who::Identity(id) => (b"i", id.as_bytes()),
        };
        let mut all: [&[u8]; 6] = [tag, actor, b"", b"", b"", b""];
        let n = parts.len().min(4);
        all[2..2 + n].copy_from_slice(&parts[..n]);
        stable_hash_parts(&all[..2 + n])
    }
}

/// An empty vector with `v`'s allocation, for items borrowed from another record (`T` and `U`
/// are one type with different lifetimes), so a detector keeps one buffer instead of
/// allocating for every record. Collecting the emptied vector's `into_iter` into an element
/// type of the same size and alignment reuses its allocation; for any other `U` it is simply a
/// new empty vector.
pub(crate) fn recycle<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

/// `s.split(sep as char)` for an ASCII separator, as a plain byte scan: the standard
/// library's char searcher sets up a `memchr` per piece, which dominates for the short path
/// segments and query pairs the detectors split on every record.
#[inline]
pub(crate) fn split_ascii(s: &str, sep: u8) -> impl Iterator<Item = &str> {
    debug_assert!(sep.is_ascii());
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.bytes().position(|b| b == sep) {
            Some(i) => {
                // An ASCII byte is a char boundary on both sides.
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// `s.split_once(sep as char)` for an ASCII separator (see [`split_ascii`]).
#[inline]
pub(crate) fn split_once_ascii(s: &str, sep: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == sep)?;
    Some((&s[..i], &s[i + 1..]))
}

/// An actor's limit from its peers: `quantile × factor` of the peers' per-window values once
/// there are `min_windows` of them, else the rule's absolute floor. Returns the limit and the
/// peer quantile (for the evidence).
pub(crate) fn peer_limit(
    peers: &gw_sketch::DdSketch,
    rule: &gw_sketch::ThresholdRule,
    min_windows: u64,
) -> (f64, f64) {
    if peers.count() >= min_windows {
        let q = peers.quantile(rule.quantile).unwrap_or(0.0);
        (q * rule.quantile_factor, q)
    } else {
        (rule.min_abs, 0.0)
    }
}

/// The limit one actor's window is judged against: its own history (mean + z·σ, σ floored by
/// ratio and absolute value) once it has `min_own_windows`, else its peers' limit; never below
/// the rule's absolute floor.
pub(crate) fn actor_limit(
    own: &gw_sketch::Ewma,
    peer_limit: f64,
    rule: &gw_sketch::ThresholdRule,
    min_own_windows: u32,
) -> f64 {
    let own_limit = if own.count() >= min_own_windows {
        let m = own.mean();
        m + rule.z
            * own
                .std_dev()
                .max(rule.sigma_floor_ratio * m)
                .max(rule.sigma_floor_abs)
    } else {
        0.0
    };
    let limit = if own_limit > 0.0 {
        own_limit
    } else {
        peer_limit
    };
    limit.max(rule.min_abs)
}

/// The identity key of a record (principal, consumer or credential fingerprint).
pub(crate) fn identity_of(x: &Exchange) -> Option<&str> {
    x.identity.as_ref().and_then(|i| i.actor_key())
}

/// The endpoint id a record is counted under: the discovered endpoint, else method + host + path.
pub(crate) fn endpoint_key(x: &Exchange) -> std::borrow::Cow<'_, str> {
    match &x.endpoint {
        Some(e) => std::borrow::Cow::Borrowed(e.id.as_str()),
        None => std::borrow::Cow::Owned(format!(
            "{} {}{}",
            x.request.method,
            x.server.host.as_deref().unwrap_or(""),
            x.request.path
        )),
    }
}

/// The endpoint template of a record, or its raw path when discovery did not run.
pub(crate) fn template_of(x: &Exchange) -> &str {
    x.endpoint
        .as_ref()
        .map_or(x.request.path.as_str(), |e| e.template.as_str())
}

/// `1xx`..`5xx` as 1..=5, 0 when unknown.
pub(crate) fn status_class(x: &Exchange) -> u8 {
    x.response.status.map_or(0, |s| (s / 100).min(9) as u8)
}

pub(crate) fn status_class_label(c: u8) -> String {
    if c == 0 {
        "unknown".to_string()
    } else {
        format!("{c}xx")
    }
}

pub(crate) fn event_secs(x: &Exchange) -> i64 {
    x.observed_at.as_second()
}

/// `1840` → `1,840`; fractions keep one decimal below 100.
pub(crate) fn human(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v.abs() < 100.0 && v.fract().abs() > 1e-9 {
        return format!("{v:.1}");
    }
    let n = v.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Everything a behavioural finding says beyond the record it was raised on.
pub(crate) struct Alert<'a> {
    pub rule: &'static RuleMeta,
    pub who: Who<'a>,
    /// The actor shown on the finding (for population rules: none).
    pub show_actor: bool,
    /// Extra key material for the fingerprint (e.g. the status class or parameter name).
    pub scope: &'a str,
    pub reason: String,
    pub observed: f64,
    pub baseline: Option<f64>,
    pub threshold: Option<f64>,
    pub window: Option<String>,
    pub extra: Vec<(&'static str, f64)>,
    pub confidence: Confidence,
}

/// Builds the finding for `alert` raised on record `x`.
pub(crate) fn finding(x: &Exchange, alert: Alert<'_>) -> Finding {
    let fingerprint = alert_fingerprint(alert.rule, x, alert.scope, alert.who);
    let endpoint = x.endpoint.as_ref().map(|e| FindingEndpoint {
        id: e.id.clone(),
        host: e.host.clone(),
        method: e.method.clone(),
        template: e.template.clone(),
    });
    let where_ = format!("{} {}", x.request.method, template_of(x));
    let mut sample = String::with_capacity(where_.len() + 8);
    let _ = write!(
        sample,
        "{where_} -> {}",
        x.response
            .status
            .map_or_else(|| "-".to_string(), |s| s.to_string())
    );
    let actor = if alert.show_actor {
        Some(Actor {
            ip: match alert.who {
                Who::Ip(ip) => Some(ip),
                _ => x.actor_ip(),
            },
            identity: match alert.who {
                Who::Identity(id) => Some(id.to_string()),
                _ => identity_of(x).map(str::to_string),
            },
            user_agent: x.client.user_agent.clone(),
            country: x.enrich.as_ref().and_then(|e| e.country.clone()),
            asn: x.enrich.as_ref().and_then(|e| e.asn),
            tor_exit: x.enrich.as_ref().map(|e| e.tor_exit),
        })
    } else {
        None
    };
    let rule = alert.rule;
    Finding {
        schema: FINDING_SCHEMA.to_string(),
        id: format!("{fingerprint}:{}", x.id),
        fingerprint,
        kind: FindingKind::Threat,
        rule: RuleRef {
            id: rule.id.to_string(),
            name: rule.name.to_string(),
            version: rule.version,
            analytic: Analytic::Behavioral,
        },
        title: format!("{} on {where_}", rule.name),
        description: format!("{} {}.", rule.description, alert.reason),
        severity: rule.severity,
        confidence: alert.confidence,
        status: FindingStatus::Open,
        first_seen: x.observed_at,
        last_seen: x.observed_at,
        count: 1,
        endpoint,
        actor,
        owasp: rule.owasp.to_vec(),
        mitre: rule.mitre_refs(),
        evidence: Evidence {
            exchange_ids: vec![x.id.clone()],
            samples: vec![EvidenceSample {
                exchange_id: Some(x.id.clone()),
                observed_at: Some(x.observed_at),
                location: None,
                text: sample,
            }],
            metrics: EvidenceMetrics {
                baseline: alert.baseline,
                observed: Some(alert.observed),
                threshold: alert.threshold,
                window: alert.window,
                extra: alert
                    .extra
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
            },
        },
        remediation: Some(rule.remediation.to_string()),
        references: rule
            .mitre
            .iter()
            .map(|(_, t)| {
                format!(
                    "https://attack.mitre.org/techniques/{}/",
                    t.replace('.', "/")
                )
            })
            .collect(),
    }
}

/// The dedup fingerprint of `rule`'s findings on `x`'s endpoint for `who` and `scope`.
pub(crate) fn alert_fingerprint(
    rule: &RuleMeta,
    x: &Exchange,
    scope: &str,
    who: Who<'_>,
) -> String {
    let endpoint_id = endpoint_key(x);
    hex_digest(&[rule.id, &endpoint_id, scope, &who.key()])
}

fn hex_digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0x1f]);
    }
    h.finalize()[..16]
        .iter()
        .fold(String::with_capacity(32), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The event-time learning gate every detector shares: the stream's first timestamp and its
/// clock.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct StreamClock {
    pub clock: gw_sketch::EventClock,
    pub first: Option<i64>,
    pub window: gw_sketch::Tumbling,
}

impl StreamClock {
    pub fn new(c: &BehavioralConfig) -> Result<Self, BehavioralConfigError> {
        Ok(StreamClock {
            clock: gw_sketch::EventClock::new(c.allowed_lateness_secs)?,
            first: None,
            window: gw_sketch::Tumbling::new(c.window_secs)?,
        })
    }

    /// Files `t`; returns the watermark.
    pub fn observe(&mut self, t: i64) -> i64 {
        self.clock.observe(t);
        self.first = Some(self.first.map_or(t, |f| f.min(t)));
        self.clock.watermark().unwrap_or(t)
    }

    pub fn learned_secs(&self, now: i64) -> i64 {
        self.first.map_or(0, |f| now - f)
    }
}

/// Where a parameter location is, as a short word.
pub(crate) fn location_word(l: ParamLocation) -> &'static str {
    match l {
        ParamLocation::Path => "path",
        ParamLocation::Query => "query",
        ParamLocation::Header => "header",
        ParamLocation::Cookie => "cookie",
        ParamLocation::Body => "body",
    }
}

/// The window label for reasons (`20 min`).
pub(crate) fn window_words(secs: i64) -> String {
    if secs % 3600 == 0 {
        format!("{} h", secs / 3600)
    } else if secs % 60 == 0 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

/// The `impl Detector` of a behavioural detector: `name`, `rules` (the file's `RULES`),
/// `detect` (calls `examine` per record and keeps the counters), `stats`, versioned
/// snapshots of every field not marked `#[serde(skip)]` (the type derives serde), and, with
/// `marks`, the marks of its `marks: MarkBook` field.
macro_rules! behavioral_detector {
    ($ty:ty, $name:literal $(, $marks:ident)?) => {
        impl $crate::Detector for $ty {
            fn name(&self) -> &'static str {
                $name
            }

            fn rules(&self) -> &'static [&'static $crate::RuleMeta] {
                &RULES
            }

            fn detect(&mut self, batch: &[gw_model::Exchange], out: &mut Vec<gw_model::Finding>) {
                let before = out.len();
                for x in batch {
                    self.examine(x, out);
                }
                self.stats.received += batch.len() as u64;
                self.stats.findings += (out.len() - before) as u64;
            }

            fn stats(&self) -> $crate::DetectorStats {
                self.stats
            }

            fn snapshot(&self) -> Option<Vec<u8>> {
                Some($crate::behavioral::snapshot::encode($name, &self.cfg, self))
            }

            fn restore(&mut self, bytes: &[u8]) -> Result<(), $crate::detectors::SnapshotError> {
                let mut restored: Self =
                    $crate::behavioral::snapshot::decode($name, &self.cfg, bytes)?;
                restored.cfg = self.cfg.clone();
                restored.stats = self.stats;
                *self = restored;
                Ok(())
            }

            $(
                fn take_marks(&mut self, out: &mut Vec<$crate::detectors::RecordMark>) {
                    self.$marks.take(out);
                }
            )?
        }

        $(
            impl $ty {
                /// Record marks discarded because more than 65,536 waited for
                /// [`crate::Detector::take_marks`].
                pub fn unclaimed_marks(&self) -> u64 {
                    self.$marks.unclaimed()
                }
            }
        )?
    };
}
pub(crate) use behavioral_detector;

/// The record builders the integration tests use, shared with the unit tests.
#[cfg(test)]
#[path = "../../tests/support/behav_records.rs"]
pub(crate) mod test_support;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recycled_buffers_keep_their_allocation() {
        let mut v: Vec<&str> = Vec::with_capacity(16);
        let owned = String::from("borrowed for a while");
        v.push(&owned);
        let w: Vec<&'static str> = recycle(v);
        assert!(w.is_empty());
        assert_eq!(w.capacity(), 16);
    }

    #[test]
    fn ascii_splits_match_the_standard_library() {
        for s in [
            "",
            "/",
            "//",
            "/v1/orders/{id}",
            "/v1/orders/42/",
            "a=1&b=&&c",
            "é/ü&x=ß",
            "no-sep",
        ] {
            for sep in [b'/', b'&', b'='] {
                let ours: Vec<&str> = split_ascii(s, sep).collect();
                let std_: Vec<&str> = s.split(char::from(sep)).collect();
                assert_eq!(ours, std_, "{s:?} on {:?}", char::from(sep));
                assert_eq!(split_once_ascii(s, sep), s.split_once(char::from(sep)));
            }
        }
    }

    #[test]
    fn numbers_read_well_in_reasons() {
        assert_eq!(human(1840.0), "1,840");
        assert_eq!(human(95.0), "95");
        assert_eq!(human(1_234_567.0), "1,234,567");
        assert_eq!(human(2.5), "2.5");
        assert_eq!(human(-1200.0), "-1,200");
        assert_eq!(window_words(1200), "20 min");
    }

    #[test]
    fn the_default_config_is_valid_and_round_trips() {
        let c = BehavioralConfig::default();
        c.validate().unwrap();
        let j = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<BehavioralConfig>(&j).unwrap(), c);
        let err = serde_json::from_str::<BehavioralConfig>(r#"{"window_sec":60}"#).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `window_sec`"),
            "{err}"
        );
        let bad = BehavioralConfig {
            window_secs: 5,
            ..BehavioralConfig::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("window_secs")
        );
        assert_eq!(c.per_bucket_samples(), 90);
    }

    #[test]
    fn every_rule_maps_to_owasp_and_mitre() {
        for r in BEHAVIORAL_RULES {
            assert!(
                r.id.starts_with("GW-T-") && !r.owasp.is_empty() && !r.mitre.is_empty(),
                "{}",
                r.id
            );
        }
        assert_eq!(
            build_behavioral(&BehavioralConfig::default())
                .unwrap()
                .len(),
            8
        );
        for f in BEHAVIORAL_FACTORIES {
            assert_eq!(f.build().name(), f.name());
        }
    }
}
