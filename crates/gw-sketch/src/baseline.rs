//! Robust baselines: a bounded ring of recent window values with median, MAD and quantiles,
//! and a seasonal baseline that keeps one ring per time-of-day / day-of-week bucket so a normal
//! morning ramp is compared with other mornings, not with the night.

use serde::{Deserialize, Serialize};

use crate::error::{SketchError, bad_param};

/// Scale that turns a MAD into a standard-deviation estimate for normal data.
pub const MAD_TO_SIGMA: f64 = 1.4826;

/// A ring of the last `capacity` values (f32: 4 bytes each).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleRing {
    capacity: u32,
    next: u32,
    values: Vec<f32>,
}

/// Robust summary of a [`SampleRing`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RobustStats {
    pub samples: usize,
    pub median: f64,
    /// Median absolute deviation (unscaled).
    pub mad: f64,
    /// The requested upper quantile.
    pub upper: f64,
    pub max: f64,
}

impl SampleRing {
    pub fn new(capacity: usize) -> Result<Self, SketchError> {
        if capacity == 0 || capacity > 1 << 20 {
            return Err(bad_param(
                "sample ring",
                "capacity",
                capacity,
                "must be between 1 and 1048576",
            ));
        }
        Ok(SampleRing {
            capacity: capacity as u32,
            next: 0,
            values: Vec::new(),
        })
    }

    /// Adds `x`, replacing the oldest value when full. Non-finite values are ignored.
    pub fn push(&mut self, x: f64) {
        if !x.is_finite() {
            return;
        }
        if self.values.len() < self.capacity as usize {
            self.values.push(x as f32);
        } else {
            self.values[self.next as usize] = x as f32;
            self.next = (self.next + 1) % self.capacity;
        }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Median, MAD and the `q` quantile (interpolated) of the held values, `None` when empty.
    /// Uses `scratch` so repeated calls do not allocate.
    pub fn stats(&self, q: f64, scratch: &mut Vec<f64>) -> Option<RobustStats> {
        Self::pooled_stats(&[self], q, scratch)
    }

    /// [`SampleRing::stats`] over the values of several rings together.
    pub fn pooled_stats(
        rings: &[&SampleRing],
        q: f64,
        scratch: &mut Vec<f64>,
    ) -> Option<RobustStats> {
        scratch.clear();
        for r in rings {
            scratch.extend(r.values.iter().map(|&v| f64::from(v)));
        }
        if scratch.is_empty() {
            return None;
        }
        scratch.sort_unstable_by(f64::total_cmp);
        let n = scratch.len();
        let median = interpolated_quantile(scratch, 0.5);
        let upper = interpolated_quantile(scratch, q.clamp(0.0, 1.0));
        let max = scratch[n - 1];
        for v in scratch.iter_mut() {
            *v = (*v - median).abs();
        }
        scratch.sort_unstable_by(f64::total_cmp);
        let mad = interpolated_quantile(scratch, 0.5);
        Some(RobustStats {
            samples: n,
            median,
            mad,
            upper,
            max,
        })
    }
}

/// Interpolated quantile of sorted data.
fn interpolated_quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

/// How time is cut into seasonal buckets (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Season {
    /// One bucket: no seasonality.
    None,
    /// 24 buckets, one per hour of the day.
    HourOfDay,
    /// 48 buckets: hour of the day × (weekday, weekend).
    HourOfDayWeekpart,
    /// 168 buckets, one per hour of the week.
    HourOfWeek,
}

impl Season {
    pub fn buckets(self) -> usize {
        match self {
            Season::None => 1,
            Season::HourOfDay => 24,
            Season::HourOfDayWeekpart => 48,
            Season::HourOfWeek => 168,
        }
    }

    /// The bucket of Unix second `at_secs` (1970-01-01 was a Thursday).
    pub fn bucket(self, at_secs: i64) -> usize {
        let hour = at_secs.div_euclid(3600).rem_euclid(24) as usize;
        // 0 = Monday.
        let dow = (at_secs.div_euclid(86_400) + 3).rem_euclid(7) as usize;
        match self {
            Season::None => 0,
            Season::HourOfDay => hour,
            Season::HourOfDayWeekpart => hour + if dow >= 5 { 24 } else { 0 },
            Season::HourOfWeek => dow * 24 + hour,
        }
    }
}

/// Statistical threshold rule: `limit = max(median + k·σ̂, upper_quantile · factor, min_abs)`
/// with `σ̂ = max(1.4826·MAD, sigma_floor_ratio·median, sigma_floor_abs)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThresholdRule {
    /// Robust z-score above which a value is anomalous.
    pub z: f64,
    /// Upper quantile of the history (e.g. 0.99) ...
    pub quantile: f64,
    /// ... times this factor is a second lower bound on the limit.
    pub quantile_factor: f64,
    /// The limit is never below this absolute value.
    pub min_abs: f64,
    /// σ̂ is at least this fraction of the median (flat histories).
    pub sigma_floor_ratio: f64,
    /// σ̂ is at least this absolute value.
    pub sigma_floor_abs: f64,
}

impl Default for ThresholdRule {
    fn default() -> Self {
        ThresholdRule {
            z: 6.0,
            quantile: 0.99,
            quantile_factor: 1.5,
            min_abs: 0.0,
            sigma_floor_ratio: 0.1,
            sigma_floor_abs: 1.0,
        }
    }
}

/// A threshold computed from history, with the numbers an alert reason needs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    pub baseline: f64,
    pub upper: f64,
    pub limit: f64,
    pub samples: usize,
    /// True when the seasonal bucket had enough history; false when the all-hours ring was used.
    pub seasonal: bool,
}

impl ThresholdRule {
    pub fn apply(&self, s: &RobustStats, seasonal: bool) -> Threshold {
        let sigma = (MAD_TO_SIGMA * s.mad)
            .max(self.sigma_floor_ratio * s.median.abs())
            .max(self.sigma_floor_abs);
        let limit = (s.median + self.z * sigma)
            .max(s.upper * self.quantile_factor)
            .max(self.min_abs);
        Threshold {
            baseline: s.median,
            upper: s.upper,
            limit,
            samples: s.samples,
            seasonal,
        }
    }

    /// Robust z-score of `x` against `s` with the same σ̂ as [`ThresholdRule::apply`].
    pub fn z_score(&self, s: &RobustStats, x: f64) -> f64 {
        let sigma = (MAD_TO_SIGMA * s.mad)
            .max(self.sigma_floor_ratio * s.median.abs())
            .max(self.sigma_floor_abs);
        (x - s.median) / sigma
    }
}

/// One [`SampleRing`] per seasonal bucket plus one for all hours (the fallback while a bucket is
/// still young). Memory: `4 × (per_bucket × buckets + overall)` bytes at most.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeasonalBaseline {
    season: Season,
    min_seasonal_samples: u32,
    buckets: Vec<SampleRing>,
    overall: SampleRing,
    /// Unix second of the first value folded in.
    first_at: Option<i64>,
    observed: u64,
}

impl SeasonalBaseline {
    /// `per_bucket` values are kept per seasonal bucket and `overall` for the all-hours ring; a
    /// seasonal bucket is used once it holds `min_seasonal_samples` values.
    pub fn new(
        season: Season,
        per_bucket: usize,
        overall: usize,
        min_seasonal_samples: usize,
    ) -> Result<Self, SketchError> {
        if min_seasonal_samples == 0 || min_seasonal_samples > per_bucket {
            return Err(bad_param(
                "seasonal baseline",
                "min_seasonal_samples",
                min_seasonal_samples,
                "must be between 1 and per_bucket",
            ));
        }
        let ring = SampleRing::new(per_bucket)?;
        Ok(SeasonalBaseline {
            season,
            min_seasonal_samples: min_seasonal_samples as u32,
            buckets: vec![ring; season.buckets()],
            overall: SampleRing::new(overall)?,
            first_at: None,
            observed: 0,
        })
    }

    /// Folds in the value of the window that started at `at_secs`.
    pub fn observe(&mut self, at_secs: i64, x: f64) {
        self.buckets[self.season.bucket(at_secs)].push(x);
        self.overall.push(x);
        self.first_at = Some(self.first_at.map_or(at_secs, |f| f.min(at_secs)));
        self.observed += 1;
    }

    /// Seconds of event time between the first value and `now_secs`.
    pub fn learned_secs(&self, now_secs: i64) -> i64 {
        self.first_at.map_or(0, |f| (now_secs - f).max(0))
    }

    pub fn observed(&self) -> u64 {
        self.observed
    }

    /// The robust stats for the bucket of `at_secs`, and whether seasonal history was used.
    ///
    /// A young bucket (fewer than `min_seasonal_samples` values) is pooled with the buckets an
    /// hour before and after it (adjacent hours behave alike, and one day of 20-minute windows
    /// gives each hour only three values); when even the pool is young, the all-hours ring is
    /// used.
    pub fn stats_at(
        &self,
        at_secs: i64,
        q: f64,
        scratch: &mut Vec<f64>,
    ) -> Option<(RobustStats, bool)> {
        let i = self.season.bucket(at_secs);
        let b = &self.buckets[i];
        let min = self.min_seasonal_samples as usize;
        if b.len() >= min {
            return b.stats(q, scratch).map(|s| (s, true));
        }
        let n = self.buckets.len();
        if n >= 3 {
            let before = &self.buckets[(i + n - 1) % n];
            let after = &self.buckets[(i + 1) % n];
            if b.len() + before.len() + after.len() >= min {
                return SampleRing::pooled_stats(&[before, b, after], q, scratch)
                    .map(|s| (s, true));
            }
        }
        self.overall.stats(q, scratch).map(|s| (s, false))
    }

    /// The threshold for a value observed at `at_secs`.
    pub fn threshold_at(
        &self,
        at_secs: i64,
        rule: &ThresholdRule,
        scratch: &mut Vec<f64>,
    ) -> Option<Threshold> {
        self.stats_at(at_secs, rule.quantile, scratch)
            .map(|(s, seasonal)| rule.apply(&s, seasonal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn median_mad_and_quantile_of_a_known_series() {
        let mut r = SampleRing::new(100).unwrap();
        for x in 1..=9 {
            r.push(f64::from(x));
        }
        let s = r.stats(1.0, &mut Vec::new()).unwrap();
        assert_eq!(s.median, 5.0);
        assert_eq!(s.mad, 2.0);
        assert_eq!(s.upper, 9.0);
        assert_eq!(s.max, 9.0);
        r.push(f64::NAN);
        assert_eq!(r.len(), 9);
    }

    #[test]
    fn the_ring_keeps_only_the_newest_values() {
        let mut r = SampleRing::new(3).unwrap();
        for x in [100.0, 1.0, 2.0, 3.0] {
            r.push(x);
        }
        assert_eq!(r.stats(1.0, &mut Vec::new()).unwrap().max, 3.0);
    }

    #[test]
    fn seasons_bucket_by_utc_hour_and_weekday() {
        // 1970-01-05 was a Monday.
        let monday_9 = 4 * 86_400 + 9 * 3600;
        assert_eq!(Season::HourOfWeek.bucket(monday_9), 9);
        assert_eq!(Season::HourOfDay.bucket(monday_9), 9);
        let saturday_9 = monday_9 + 5 * 86_400;
        assert_eq!(Season::HourOfDayWeekpart.bucket(saturday_9), 33);
        assert_eq!(Season::HourOfWeek.bucket(saturday_9), 5 * 24 + 9);
        assert_eq!(Season::None.bucket(saturday_9), 0);
    }

    #[test]
    fn a_morning_ramp_is_not_anomalous_against_other_mornings() {
        let rule = ThresholdRule::default();
        let mut b = SeasonalBaseline::new(Season::HourOfDay, 30, 200, 5).unwrap();
        for day in 0..14 {
            for hour in 0..24 {
                let v = if (8..12).contains(&hour) {
                    1000.0
                } else {
                    50.0
                };
                b.observe(day * 86_400 + hour * 3600, v + (day % 3) as f64 * 10.0);
            }
        }
        let mut scratch = Vec::new();
        let morning = b
            .threshold_at(15 * 86_400 + 9 * 3600, &rule, &mut scratch)
            .unwrap();
        assert!(morning.seasonal && morning.limit > 1050.0 && morning.baseline >= 1000.0);
        let night = b
            .threshold_at(15 * 86_400 + 3 * 3600, &rule, &mut scratch)
            .unwrap();
        assert!(night.limit < 1000.0, "{night:?}");
        assert_eq!(b.learned_secs(14 * 86_400), 14 * 86_400);
    }

    #[test]
    fn a_young_bucket_is_pooled_with_its_neighbouring_hours() {
        let mut b = SeasonalBaseline::new(Season::HourOfDay, 30, 200, 6).unwrap();
        // One day: three windows per hour, hour h carries 100·h.
        for w in 0..72 {
            b.observe(w * 1200, (w / 3) as f64 * 100.0);
        }
        let (s, seasonal) = b
            .stats_at(86_400 + 10 * 3600, 0.99, &mut Vec::new())
            .unwrap();
        assert!(seasonal);
        assert_eq!(s.samples, 9);
        assert_eq!(s.median, 1000.0);
        let (s, _) = b.stats_at(86_400, 0.99, &mut Vec::new()).unwrap();
        assert_eq!(s.samples, 9, "hour 0 pools with hour 23 and hour 1");
    }

    #[test]
    fn young_buckets_fall_back_to_the_overall_ring() {
        let rule = ThresholdRule {
            min_abs: 10.0,
            ..ThresholdRule::default()
        };
        let mut b = SeasonalBaseline::new(Season::HourOfWeek, 8, 64, 4).unwrap();
        b.observe(0, 3.0);
        let t = b.threshold_at(3600 * 5, &rule, &mut Vec::new()).unwrap();
        assert!(!t.seasonal);
        assert_eq!(t.limit, 10.0, "min_abs wins on a tiny history");
        assert!(SeasonalBaseline::new(Season::None, 4, 4, 5).is_err());
    }

    proptest! {
        #[test]
        fn stats_match_an_exact_sort(xs in proptest::collection::vec(0f64..1e6, 1..200)) {
            let mut r = SampleRing::new(500).unwrap();
            for &x in &xs { r.push(x); }
            let s = r.stats(0.9, &mut Vec::new()).unwrap();
            let mut v: Vec<f64> = xs.iter().map(|&x| f64::from(x as f32)).collect();
            v.sort_by(f64::total_cmp);
            prop_assert_eq!(s.median, interpolated_quantile(&v, 0.5));
            prop_assert_eq!(s.upper, interpolated_quantile(&v, 0.9));
            // Robust: at most half the values lie further than MAD from the median, at least half within.
            let within = v.iter().filter(|&&x| (x - s.median).abs() <= s.mad + 1e-9).count();
            prop_assert!(within * 2 >= v.len());
        }

        #[test]
        fn the_limit_is_never_below_median_or_min_abs(xs in proptest::collection::vec(0f64..1e4, 1..100), min_abs in 0f64..100.0) {
            let mut r = SampleRing::new(100).unwrap();
            for &x in &xs { r.push(x); }
            let rule = ThresholdRule { min_abs, ..ThresholdRule::default() };
            let t = rule.apply(&r.stats(0.99, &mut Vec::new()).unwrap(), false);
            prop_assert!(t.limit >= t.baseline && t.limit >= min_abs && t.limit >= t.upper);
        }
    }
}
