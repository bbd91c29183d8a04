//! HyperLogLog distinct counter with a fixed hash, a sparse exact form for small sets and
//! lossless merge.
//!
//! Own implementation rather than `cardinality-estimator`: that crate keeps its small-set forms
//! behind tagged pointers (`unsafe`), is 64-bit only and hashes with a seeded hasher we do not
//! control, while merging across nodes and snapshots needs a hash that never changes. Here a
//! counter holds up to `m/8` exact 64-bit hashes (`8 × n` bytes, exact count) and then switches
//! to `m = 2^p` one-byte registers (standard error `1.04/√m`: 1.6 % at p = 12).

use serde::{Deserialize, Serialize};

use crate::error::{SketchError, bad_param, incompatible};
use crate::hash::stable_hash;

const NAME: &str = "hyperloglog";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Repr {
    /// Sorted, distinct hashes.
    Sparse(Vec<u64>),
    /// `2^p` registers.
    Dense(Vec<u8>),
}

/// Running terms of the estimate, kept as registers change so [`HyperLogLog::count`] is O(1).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Terms {
    /// Σ 2^-register.
    sum: f64,
    /// Registers still zero.
    zeros: u32,
}

impl Terms {
    fn of(regs: &[u8]) -> Terms {
        Terms {
            sum: regs.iter().map(|&r| inverse_power_of_two(r)).sum(),
            zeros: regs.iter().filter(|&&r| r == 0).count() as u32,
        }
    }
}

/// A mergeable distinct counter.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "HllRaw")]
pub struct HyperLogLog {
    p: u8,
    repr: Repr,
    #[serde(skip)]
    terms: Terms,
}

#[derive(Deserialize)]
struct HllRaw {
    p: u8,
    repr: Repr,
}

impl TryFrom<HllRaw> for HyperLogLog {
    type Error = SketchError;
    fn try_from(raw: HllRaw) -> Result<Self, SketchError> {
        let mut h = HyperLogLog::new(raw.p)?;
        match raw.repr {
            Repr::Dense(r) if r.len() != 1 << raw.p => {
                return Err(SketchError::BadSnapshot {
                    structure: NAME,
                    reason: format!(
                        "{} registers for precision {} (expected {})",
                        r.len(),
                        raw.p,
                        1usize << raw.p
                    ),
                });
            }
            Repr::Dense(r) => {
                h.terms = Terms::of(&r);
                h.repr = Repr::Dense(r);
            }
            Repr::Sparse(mut s) => {
                s.sort_unstable();
                s.dedup();
                for x in s {
                    h.insert_hash(x);
                }
            }
        }
        Ok(h)
    }
}

impl PartialEq for HyperLogLog {
    /// Same precision and same registers (or the same exact set).
    fn eq(&self, other: &Self) -> bool {
        self.p == other.p && self.repr == other.repr
    }
}

impl Eq for HyperLogLog {}

impl HyperLogLog {
    /// A counter with `2^p` registers once dense; `p` in 4..=16.
    pub fn new(p: u8) -> Result<Self, SketchError> {
        if !(4..=16).contains(&p) {
            return Err(bad_param(
                NAME,
                "p",
                p,
                "precision must be between 4 and 16",
            ));
        }
        Ok(HyperLogLog {
            p,
            repr: Repr::Sparse(Vec::new()),
            terms: Terms::default(),
        })
    }

    pub fn precision(&self) -> u8 {
        self.p
    }

    fn sparse_limit(&self) -> usize {
        (1usize << self.p) / 8
    }

    pub fn is_sparse(&self) -> bool {
        matches!(self.repr, Repr::Sparse(_))
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        match &self.repr {
            Repr::Sparse(v) => v.capacity() * 8,
            Repr::Dense(r) => r.capacity(),
        }
    }

    /// Adds an item by its bytes (hashed with the fixed hash).
    #[inline]
    pub fn insert(&mut self, item: &[u8]) {
        self.insert_hash(stable_hash(item));
    }

    /// Adds an item by a 64-bit hash the caller computed with [`stable_hash`].
    pub fn insert_hash(&mut self, h: u64) {
        let limit = self.sparse_limit();
        let p = self.p;
        match &mut self.repr {
            Repr::Sparse(v) => {
                if let Err(at) = v.binary_search(&h) {
                    if v.len() < limit {
                        v.insert(at, h);
                    } else {
                        let mut regs = vec![0u8; 1 << p];
                        for &x in v.iter() {
                            set_register(&mut regs, p, x);
                        }
                        set_register(&mut regs, p, h);
                        self.terms = Terms::of(&regs);
                        self.repr = Repr::Dense(regs);
                    }
                }
            }
            Repr::Dense(regs) => {
                if let Some((old, new)) = set_register(regs, p, h) {
                    self.terms.sum += inverse_power_of_two(new) - inverse_power_of_two(old);
                    self.terms.zeros -= u32::from(old == 0);
                }
            }
        }
    }

    /// Estimated number of distinct items (exact while sparse).
    pub fn count(&self) -> f64 {
        match &self.repr {
            Repr::Sparse(v) => v.len() as f64,
            Repr::Dense(regs) => estimate(regs.len(), self.terms),
        }
    }

    /// Union with `other` (same precision).
    pub fn merge(&mut self, other: &HyperLogLog) -> Result<(), SketchError> {
        if self.p != other.p {
            return Err(incompatible(NAME, "precisions", self.p, other.p));
        }
        match &other.repr {
            Repr::Sparse(v) => v.iter().for_each(|&h| self.insert_hash(h)),
            Repr::Dense(o) => {
                self.densify();
                if let Repr::Dense(regs) = &mut self.repr {
                    for (a, &b) in regs.iter_mut().zip(o) {
                        *a = (*a).max(b);
                    }
                    self.terms = Terms::of(regs);
                }
            }
        }
        Ok(())
    }

    fn densify(&mut self) {
        if let Repr::Sparse(v) = &self.repr {
            let mut regs = vec![0u8; 1 << self.p];
            for &x in v {
                set_register(&mut regs, self.p, x);
            }
            self.terms = Terms::of(&regs);
            self.repr = Repr::Dense(regs);
        }
    }

    /// Forgets every item, keeping the precision.
    pub fn clear(&mut self) {
        self.repr = Repr::Sparse(Vec::new());
        self.terms = Terms::default();
    }
}

/// `2^-r`, built from its bits: the same value as `(-r).exp2()` (a power of two is exact)
/// without a call into libm on every register change. Registers stay far below 1023.
#[inline]
fn inverse_power_of_two(r: u8) -> f64 {
    f64::from_bits((1023 - u64::from(r)) << 52)
}

/// Raises the register of `h`; returns (old, new) when it changed.
#[inline]
fn set_register(regs: &mut [u8], p: u8, h: u64) -> Option<(u8, u8)> {
    let idx = (h >> (64 - p)) as usize;
    // A guard bit keeps rho <= 64 - p + 1.
    let w = (h << p) | (1u64 << (p - 1));
    let rho = (w.leading_zeros() + 1) as u8;
    let old = regs[idx];
    if old < rho {
        regs[idx] = rho;
        Some((old, rho))
    } else {
        None
    }
}

fn estimate(registers: usize, t: Terms) -> f64 {
    let m = registers as f64;
    let alpha = match registers {
        16 => 0.673,
        32 => 0.697,
        64 => 0.709,
        _ => 0.7213 / (1.0 + 1.079 / m),
    };
    let raw = alpha * m * m / t.sum;
    if raw <= 2.5 * m && t.zeros > 0 {
        m * (m / f64::from(t.zeros)).ln()
    } else {
        raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn inverse_powers_of_two_equal_exp2() {
        for r in 0..=u8::MAX {
            assert_eq!(inverse_power_of_two(r), (-f64::from(r)).exp2(), "2^-{r}");
        }
    }

    fn filled(p: u8, from: u64, to: u64) -> HyperLogLog {
        let mut h = HyperLogLog::new(p).unwrap();
        for i in from..to {
            h.insert(&i.to_le_bytes());
        }
        h
    }

    #[test]
    fn small_sets_are_exact_and_duplicates_do_not_count() {
        let mut h = HyperLogLog::new(12).unwrap();
        for _ in 0..3 {
            for i in 0..100u32 {
                h.insert(&i.to_le_bytes());
            }
        }
        assert!(h.is_sparse());
        assert_eq!(h.count(), 100.0);
        h.clear();
        assert_eq!(h.count(), 0.0);
        assert!(HyperLogLog::new(3).is_err() && HyperLogLog::new(17).is_err());
    }

    #[test]
    fn large_sets_are_within_four_standard_errors() {
        for (p, n) in [(10u8, 50_000u64), (12, 200_000), (14, 1_000_000)] {
            let h = filled(p, 0, n);
            assert!(!h.is_sparse());
            let err = (h.count() - n as f64).abs() / n as f64;
            let se = 1.04 / f64::from(1u32 << p).sqrt();
            assert!(err < 4.0 * se, "p={p} n={n} est={} err={err}", h.count());
        }
    }

    #[test]
    fn running_terms_match_a_full_recount() {
        let h = filled(10, 0, 30_000);
        if let Repr::Dense(regs) = &h.repr {
            let full = Terms::of(regs);
            assert_eq!(full.zeros, h.terms.zeros);
            assert!((full.sum - h.terms.sum).abs() < 1e-9);
        } else {
            panic!("dense expected");
        }
    }

    #[test]
    fn snapshots_round_trip_and_bad_ones_are_rejected() {
        for h in [filled(8, 0, 10), filled(8, 0, 10_000)] {
            let s = serde_json::to_string(&h).unwrap();
            assert_eq!(serde_json::from_str::<HyperLogLog>(&s).unwrap(), h);
        }
        let err =
            serde_json::from_str::<HyperLogLog>(r#"{"p":8,"repr":{"dense":[1,2]}}"#).unwrap_err();
        assert!(
            err.to_string().contains("2 registers for precision 8"),
            "{err}"
        );
        let mut a = filled(8, 0, 10);
        assert!(a.merge(&filled(9, 0, 10)).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn merge_equals_the_union(a in 0u64..5_000, b in 0u64..5_000, overlap in 0u64..2_000) {
            let x = filled(10, 0, a);
            let y = filled(10, a.saturating_sub(overlap), a.saturating_sub(overlap) + b);
            let mut merged = x.clone();
            merged.merge(&y).unwrap();
            let mut direct = filled(10, 0, a);
            for i in a.saturating_sub(overlap)..a.saturating_sub(overlap) + b {
                direct.insert(&i.to_le_bytes());
            }
            // Same registers (or the same exact set) whichever way it was built.
            prop_assert_eq!(merged.count(), direct.count());
            let mut other_way = y.clone();
            other_way.merge(&x).unwrap();
            prop_assert_eq!(other_way.count(), merged.count());
        }

        #[test]
        fn estimate_error_is_bounded(n in 1u64..20_000, offset in 0u64..1_000_000) {
            let h = filled(12, offset, offset + n);
            let err = (h.count() - n as f64).abs() / n as f64;
            prop_assert!(err < 0.07, "n={} est={}", n, h.count());
        }
    }
}
