//! DDSketch-style quantile sketch for sizes and latencies: logarithmic buckets give every
//! quantile within relative error `α` of the true value, with a bounded bucket count (the
//! lowest buckets collapse first, so high quantiles, the ones detection reads, stay exact to
//! `α`). Mergeable by adding bucket counts. Values must be finite and ≥ 0.

use serde::{Deserialize, Serialize};

use crate::error::{SketchError, bad_param, incompatible};

const NAME: &str = "ddsketch";

/// Values at or below this go to the zero bucket.
pub const MIN_INDEXABLE: f64 = 1e-9;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "DdRaw")]
pub struct DdSketch {
    alpha: f64,
    max_bins: u32,
    #[serde(skip_serializing)]
    ln_gamma: f64,
    /// Key of `bins[0]`.
    offset: i32,
    bins: Vec<u64>,
    zero: u64,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

#[derive(Deserialize)]
struct DdRaw {
    alpha: f64,
    max_bins: u32,
    offset: i32,
    bins: Vec<u64>,
    zero: u64,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl TryFrom<DdRaw> for DdSketch {
    type Error = SketchError;
    fn try_from(r: DdRaw) -> Result<Self, SketchError> {
        let mut s = DdSketch::new(r.alpha, r.max_bins as usize)?;
        let held: u64 = r.bins.iter().sum::<u64>() + r.zero;
        if r.bins.len() > r.max_bins as usize || held != r.count {
            return Err(SketchError::BadSnapshot {
                structure: NAME,
                reason: format!(
                    "{} bins holding {held} values for a count of {} (max {} bins)",
                    r.bins.len(),
                    r.count,
                    r.max_bins
                ),
            });
        }
        s.offset = r.offset;
        s.bins = r.bins;
        s.zero = r.zero;
        s.count = r.count;
        s.sum = r.sum;
        s.min = r.min;
        s.max = r.max;
        Ok(s)
    }
}

impl DdSketch {
    /// `alpha` in (0, 0.5): relative accuracy; `max_bins` ≥ 16 bounds memory to `8 × max_bins` bytes.
    pub fn new(alpha: f64, max_bins: usize) -> Result<Self, SketchError> {
        if !(alpha > 0.0 && alpha < 0.5) {
            return Err(bad_param(
                NAME,
                "alpha",
                alpha,
                "relative accuracy must be in (0, 0.5)",
            ));
        }
        if !(16..=1 << 16).contains(&max_bins) {
            return Err(bad_param(
                NAME,
                "max_bins",
                max_bins,
                "must be between 16 and 65536",
            ));
        }
        let gamma = (1.0 + alpha) / (1.0 - alpha);
        Ok(DdSketch {
            alpha,
            max_bins: max_bins as u32,
            ln_gamma: gamma.ln(),
            offset: 0,
            bins: Vec::new(),
            zero: 0,
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        })
    }

    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn sum(&self) -> f64 {
        self.sum
    }

    pub fn min(&self) -> Option<f64> {
        (self.count > 0).then_some(self.min)
    }

    pub fn max(&self) -> Option<f64> {
        (self.count > 0).then_some(self.max)
    }

    #[inline]
    fn key(&self, x: f64) -> i32 {
        (x.ln() / self.ln_gamma).ceil() as i32
    }

    fn value_of(&self, key: i32) -> f64 {
        // The midpoint (in relative terms) of (γ^(k-1), γ^k].
        let gamma = self.ln_gamma.exp();
        2.0 * (f64::from(key) * self.ln_gamma).exp() / (gamma + 1.0)
    }

    /// Adds one value.
    pub fn add(&mut self, x: f64) -> Result<(), SketchError> {
        self.add_n(x, 1)
    }

    /// Adds `n` copies of a value.
    pub fn add_n(&mut self, x: f64, n: u64) -> Result<(), SketchError> {
        if !x.is_finite() || x < 0.0 {
            return Err(SketchError::BadValue {
                structure: NAME,
                value: x,
                reason: "values must be finite and not negative",
            });
        }
        if n == 0 {
            return Ok(());
        }
        if x <= MIN_INDEXABLE {
            self.zero += n;
        } else {
            let k = self.key(x);
            self.add_to_key(k, n);
        }
        self.count += n;
        self.sum += x * n as f64;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        Ok(())
    }

    fn add_to_key(&mut self, k: i32, n: u64) {
        if self.bins.is_empty() {
            self.offset = k;
            self.bins.push(0);
        }
        if k < self.offset {
            let grow = (self.offset - k) as usize;
            if self.bins.len() + grow > self.max_bins as usize {
                // Below the kept range: collapse into the lowest bin.
                let room = self.max_bins as usize - self.bins.len();
                if room == 0 {
                    self.bins[0] += n;
                    return;
                }
                let mut v = vec![0; room];
                v.extend_from_slice(&self.bins);
                self.bins = v;
                self.offset -= room as i32;
                self.bins[0] += n;
                return;
            }
            let mut v = vec![0; grow];
            v.extend_from_slice(&self.bins);
            self.bins = v;
            self.offset = k;
        }
        let at = (k - self.offset) as usize;
        if at >= self.bins.len() {
            self.bins.resize(at + 1, 0);
            if self.bins.len() > self.max_bins as usize {
                let excess = self.bins.len() - self.max_bins as usize;
                let folded: u64 = self.bins[..=excess].iter().sum();
                self.bins.drain(..excess);
                self.bins[0] = folded;
                self.offset += excess as i32;
            }
        }
        let at = (k - self.offset) as usize;
        self.bins[at] += n;
    }

    /// The `q` quantile (0 ≤ q ≤ 1), `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = (q * (self.count - 1) as f64).floor() as u64;
        if rank < self.zero {
            return Some(self.min);
        }
        let mut seen = self.zero;
        for (i, &c) in self.bins.iter().enumerate() {
            seen += c;
            if seen > rank {
                let v = self.value_of(self.offset + i as i32);
                return Some(v.clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    /// Adds `other`'s buckets (same `alpha`).
    pub fn merge(&mut self, other: &DdSketch) -> Result<(), SketchError> {
        if self.alpha != other.alpha {
            return Err(incompatible(
                NAME,
                "relative accuracies",
                self.alpha,
                other.alpha,
            ));
        }
        for (i, &c) in other.bins.iter().enumerate() {
            if c > 0 {
                self.add_to_key(other.offset + i as i32, c);
            }
        }
        self.zero += other.zero;
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        Ok(())
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.bins.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn exact_quantile(sorted: &[f64], q: f64) -> f64 {
        sorted[(q * (sorted.len() - 1) as f64).floor() as usize]
    }

    #[test]
    fn quantiles_of_a_latency_series_are_within_alpha() {
        let mut s = DdSketch::new(0.01, 2048).unwrap();
        let mut v: Vec<f64> = (1..=10_000).map(|i| f64::from(i) * 0.37).collect();
        for &x in &v {
            s.add(x).unwrap();
        }
        v.sort_by(f64::total_cmp);
        for q in [0.0, 0.5, 0.9, 0.99, 1.0] {
            let e = exact_quantile(&v, q);
            let got = s.quantile(q).unwrap();
            assert!(
                (got - e).abs() <= 0.01 * e + 1e-9,
                "q={q} got={got} exact={e}"
            );
        }
        assert_eq!(s.count(), 10_000);
        assert!(s.add(-1.0).is_err() && s.add(f64::NAN).is_err());
        assert_eq!(s.quantile(1.5), None);
    }

    #[test]
    fn collapsing_keeps_high_quantiles_and_the_bin_bound() {
        let mut s = DdSketch::new(0.02, 64).unwrap();
        for i in 0..2000 {
            s.add(1.001f64.powi(i * 10)).unwrap();
        }
        assert!(s.bins.len() <= 64);
        let p99 = s.quantile(0.99).unwrap();
        let mut v: Vec<f64> = (0..2000).map(|i| 1.001f64.powi(i * 10)).collect();
        v.sort_by(f64::total_cmp);
        let e = exact_quantile(&v, 0.99);
        assert!((p99 - e).abs() <= 0.02 * e, "{p99} vs {e}");
    }

    #[test]
    fn zeros_and_snapshots() {
        let mut s = DdSketch::new(0.01, 128).unwrap();
        s.add(0.0).unwrap();
        s.add(0.0).unwrap();
        s.add(100.0).unwrap();
        assert_eq!(s.quantile(0.0), Some(0.0));
        let j = serde_json::to_string(&s).unwrap();
        let back: DdSketch = serde_json::from_str(&j).unwrap();
        assert_eq!(back.quantile(1.0), s.quantile(1.0));
        let bad = j.replace("\"count\":3", "\"count\":4");
        assert!(serde_json::from_str::<DdSketch>(&bad).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn quantile_error_is_relative_alpha(xs in proptest::collection::vec(0.001f64..1e7, 1..500), q in 0.0f64..=1.0) {
            let mut s = DdSketch::new(0.01, 4096).unwrap();
            for &x in &xs { s.add(x).unwrap(); }
            let mut v = xs.clone();
            v.sort_by(f64::total_cmp);
            let e = exact_quantile(&v, q);
            let got = s.quantile(q).unwrap();
            prop_assert!((got - e).abs() <= 0.01 * e * 1.000_001, "got {} exact {}", got, e);
        }

        #[test]
        fn merge_equals_sketching_everything(a in proptest::collection::vec(0.0f64..1e5, 0..300), b in proptest::collection::vec(0.0f64..1e5, 0..300)) {
            let mut x = DdSketch::new(0.02, 1024).unwrap();
            let mut y = DdSketch::new(0.02, 1024).unwrap();
            let mut z = DdSketch::new(0.02, 1024).unwrap();
            for &v in &a { x.add(v).unwrap(); z.add(v).unwrap(); }
            for &v in &b { y.add(v).unwrap(); z.add(v).unwrap(); }
            x.merge(&y).unwrap();
            prop_assert_eq!(x.count(), z.count());
            for q in [0.0, 0.25, 0.5, 0.9, 0.99, 1.0] {
                prop_assert_eq!(x.quantile(q), z.quantile(q));
            }
        }
    }
}
