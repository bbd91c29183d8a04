//! Record marks of the behavioural detectors (see [`crate::detectors::RecordMark`]).
//!
//! A rule that counts records towards an alert files each counted record with
//! [`MarkBook::count`] under its key (rule, endpoint, actor, scope hashed) and window. Until
//! the alert fires, up to `cap` records per key and window are kept; when it fires
//! ([`MarkBook::fire`]) they become marks and later records of the window are marked as they
//! arrive. Keys live in a capacity-bounded LRU map, so memory is bounded by
//! `max_keys × cap` pending records. The number of counted records not kept comes from the
//! caller's own window counter, so it is exact even when a key was evicted.

use gw_model::{Confidence, Exchange, Finding};
use gw_sketch::BoundedMap;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{BehavioralConfigError, MarkRule};
use crate::RuleMeta;
use crate::detectors::RecordMark;

/// The [0, 1] confidence a mark carries.
pub(crate) fn confidence_value(c: Confidence) -> f64 {
    match c {
        Confidence::Low => 0.3,
        Confidence::Medium => 0.6,
        Confidence::High => 0.9,
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Pending {
    exchange_id: String,
    observed_at: Timestamp,
    location: String,
    fragment: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct KeyMarks {
    window: i64,
    kept: Vec<Pending>,
    /// Once fired: the finding fingerprint, its confidence and its event time.
    fired: Option<(String, f64, Timestamp)>,
    /// Records counted before the alert fired that were not kept.
    dropped: u64,
}

impl KeyMarks {
    fn new(window: i64) -> Self {
        KeyMarks {
            window,
            kept: Vec::new(),
            fired: None,
            dropped: 0,
        }
    }

    /// Starts window `w`, forgetting the previous one.
    fn roll(&mut self, w: i64) {
        *self = KeyMarks::new(w);
    }
}

/// Pending and ready marks of one detector.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct MarkBook {
    enabled: bool,
    cap: usize,
    keys: BoundedMap<u64, KeyMarks>,
    /// Ready marks; not part of snapshots (taken after every batch).
    #[serde(skip)]
    ready: Vec<RecordMark>,
    /// Marks discarded because nobody took them (more than [`MAX_READY`] waiting).
    #[serde(skip)]
    unclaimed: u64,
}

/// Ready marks kept for [`crate::Detector::take_marks`]; a caller that never takes them costs
/// at most this many.
pub(crate) const MAX_READY: usize = 1 << 16;

impl MarkBook {
    pub fn new(rule: &MarkRule) -> Result<Self, BehavioralConfigError> {
        Ok(MarkBook {
            enabled: rule.enabled,
            cap: rule.max_pending_per_key,
            keys: BoundedMap::new(rule.max_keys)?,
            ready: Vec::new(),
            unclaimed: 0,
        })
    }

    /// Files one record counted for the alert of `rule` under `key` in window `w`.
    /// `location` and `fragment` are only evaluated when the record is kept or marked.
    pub fn count(
        &mut self,
        key: u64,
        rule: &'static RuleMeta,
        w: i64,
        x: &Exchange,
        what: impl FnOnce() -> (String, Option<String>),
    ) {
        if !self.enabled {
            return;
        }
        let t = x.observed_at.as_second();
        let (k, _) = self.keys.entry(&key, t, || KeyMarks::new(w));
        if k.window != w {
            if w < k.window {
                // A late record of a closed window: its alert state is gone.
                return;
            }
            k.roll(w);
        }
        match &k.fired {
            Some((fp, conf, at)) => {
                let (location, fragment) = what();
                Self::push(
                    &mut self.ready,
                    &mut self.unclaimed,
                    RecordMark {
                        exchange_id: x.id.clone(),
                        rule_id: rule.id,
                        location,
                        fragment,
                        confidence: *conf,
                        fingerprint: fp.clone(),
                        observed_at: x.observed_at,
                        alert_at: *at,
                    },
                );
            }
            None if k.kept.len() < self.cap => {
                let (location, fragment) = what();
                k.kept.push(Pending {
                    exchange_id: x.id.clone(),
                    observed_at: x.observed_at,
                    location,
                    fragment,
                });
            }
            None => {}
        }
    }

    /// The alert of `rule` under `key` fired (or emitted another finding) in window `w` with
    /// `f`; `counted` is the caller's number of records counted for the key in this window
    /// (including the current one). Turns the kept records into marks and states the sampling
    /// in `f`'s evidence when records were not kept.
    pub fn fire(
        &mut self,
        key: u64,
        rule: &'static RuleMeta,
        w: i64,
        counted: u64,
        f: &mut Finding,
    ) {
        if !self.enabled {
            return;
        }
        let t = f.first_seen.as_second();
        let (k, _) = self.keys.entry(&key, t, || KeyMarks::new(w));
        if k.window != w {
            k.roll(w);
        }
        if k.fired.is_none() {
            let conf = confidence_value(f.confidence);
            let at = f.first_seen;
            k.dropped = counted.saturating_sub(k.kept.len() as u64);
            for p in k.kept.drain(..) {
                Self::push(
                    &mut self.ready,
                    &mut self.unclaimed,
                    RecordMark {
                        exchange_id: p.exchange_id,
                        rule_id: rule.id,
                        location: p.location,
                        fragment: p.fragment,
                        confidence: conf,
                        fingerprint: f.fingerprint.clone(),
                        observed_at: p.observed_at,
                        alert_at: at,
                    },
                );
            }
            k.kept = Vec::new();
            k.fired = Some((f.fingerprint.clone(), conf, at));
        }
        if k.dropped > 0 {
            let extra = &mut f.evidence.metrics.extra;
            extra.insert("events_sampled".to_string(), 1.0);
            extra.insert("events_dropped".to_string(), k.dropped as f64);
        }
    }

    /// Marks one record that is itself anomalous (one finding per record rules), with the
    /// fingerprint of the alert it belongs to (`alert_at` is the record's own time).
    pub fn mark_now(
        &mut self,
        rule: &'static RuleMeta,
        x: &Exchange,
        fingerprint: String,
        confidence: Confidence,
        location: String,
        fragment: Option<String>,
    ) {
        if !self.enabled {
            return;
        }
        Self::push(
            &mut self.ready,
            &mut self.unclaimed,
            RecordMark {
                exchange_id: x.id.clone(),
                rule_id: rule.id,
                location,
                fragment,
                confidence: confidence_value(confidence),
                fingerprint,
                observed_at: x.observed_at,
                alert_at: x.observed_at,
            },
        );
    }

    fn push(ready: &mut Vec<RecordMark>, unclaimed: &mut u64, m: RecordMark) {
        if ready.len() < MAX_READY {
            ready.push(m);
        } else {
            *unclaimed += 1;
        }
    }

    /// Marks discarded so far because they were not taken in time.
    pub fn unclaimed(&self) -> u64 {
        self.unclaimed
    }

    pub fn take(&mut self, out: &mut Vec<RecordMark>) {
        out.append(&mut self.ready);
    }
}
