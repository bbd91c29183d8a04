//! Signature detection for Gatewatch: injection families on every decoded input location of
//! an [`Exchange`](gw_model::Exchange), suspicious user agents, and the dedup that folds
//! repeated hits into one alert per (rule, endpoint, actor, window).
//!
//! This crate owns the [`Detector`] trait and its static registry ([`DETECTORS`]), the
//! canonical decoding of request values, the rule families (`GW-T-SQLI`, `GW-T-XSS`,
//! `GW-T-CMDI`, `GW-T-TRAVERSAL`, `GW-T-SSRF`, `GW-T-NOSQLI`, `GW-T-XXE`, `GW-T-SSTI`,
//! `GW-T-JNDI`, `GW-T-LDAPI`, `GW-T-SUSPICIOUS-UA`), the context alerts on TOR and
//! threat-intel verdicts, the behavioural detectors ([`behavioral`]: learned baselines in
//! bounded `gw-sketch` state, driven by event time) and [`AlertBook`]. It must not do I/O, read
//! wall-clock time, keep threat-intelligence or GeoIP data (that is `gw-enrich`), or put raw
//! request values into findings: evidence goes through [`fragment::evidence_fragment`], the
//! single place where values are cut and masked.

// The shared test record builders (tests/support) name this crate by its package name.
#[cfg(test)]
extern crate self as gw_detect;

pub mod behavioral;
pub mod decode;
pub mod dedup;
pub mod detectors;
pub mod fragment;
pub mod json_walk;
pub mod rules;
pub mod scan;
pub mod user_agent;

pub use dedup::{AlertBook, DEFAULT_MAX_EVIDENCE_IDS, DedupError, Recorded};
pub use detectors::{
    DETECTORS, Detector, DetectorFactory, DetectorStats, ReputationDetector, ThreatList, build_all,
    dedup_key, findings_for_exchange,
};
pub use rules::{Place, RuleMeta, VALUE_RULES, ValueRule, Verdict};
pub use scan::{
    CLEAN_HEADER_CACHE_SIZE, Scanner, SignatureHit, is_safe_value, scan_exchange, scan_injections,
    scan_query_value, scan_user_agent,
};
pub use user_agent::{SUSPICIOUS_UA, UaVerdict, classify_user_agent};
