//! Count-min sketch with fixed row seeds: over-estimates only, by at most `ε·N` with
//! probability `1 − δ`, and two sketches of the same shape merge by addition (so per-node
//! sketches can be combined).

use serde::{Deserialize, Serialize};

use crate::error::{SketchError, bad_param, incompatible};
use crate::hash::{mix64, stable_hash};

const NAME: &str = "count-min sketch";

/// Row seeds; fixed forever so sketches from any process merge.
const ROW_SEEDS: [u64; 16] = [
    0x243f_6a88_85a3_08d3,
    0x1319_8a2e_0370_7344,
    0xa409_3822_299f_31d0,
    0x082e_fa98_ec4e_6c89,
    0x4528_21e6_38d0_1377,
    0xbe54_66cf_34e9_0c6c,
    0xc0ac_29b7_c97c_50dd,
    0x3f84_d5b5_b547_0917,
    0x9216_d5d9_8979_fb1b,
    0xd131_0ba6_98df_b5ac,
    0x2ffd_72db_d01a_dfb7,
    0xb8e1_afed_6a26_7e96,
    0xba7c_9045_f12c_7f99,
    0x24a1_9947_b391_6cf7,
    0x0801_f2e2_858e_fc16,
    0x6369_20d8_7157_1c2d,
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CmsRaw")]
pub struct CountMinSketch {
    width: u32,
    depth: u32,
    total: u64,
    table: Vec<u32>,
}

#[derive(Deserialize)]
struct CmsRaw {
    width: u32,
    depth: u32,
    total: u64,
    table: Vec<u32>,
}

impl TryFrom<CmsRaw> for CountMinSketch {
    type Error = SketchError;
    fn try_from(r: CmsRaw) -> Result<Self, SketchError> {
        let mut s = CountMinSketch::new(r.width as usize, r.depth as usize)?;
        if r.table.len() != s.table.len() {
            return Err(SketchError::BadSnapshot {
                structure: NAME,
                reason: format!(
                    "table has {} cells, expected {}×{}",
                    r.table.len(),
                    r.width,
                    r.depth
                ),
            });
        }
        s.table = r.table;
        s.total = r.total;
        Ok(s)
    }
}

impl CountMinSketch {
    /// `width` counters per row (1..=2^24) and `depth` rows (1..=16).
    pub fn new(width: usize, depth: usize) -> Result<Self, SketchError> {
        if width == 0 || width > 1 << 24 {
            return Err(bad_param(
                NAME,
                "width",
                width,
                "must be between 1 and 16777216",
            ));
        }
        if depth == 0 || depth > ROW_SEEDS.len() {
            return Err(bad_param(NAME, "depth", depth, "must be between 1 and 16"));
        }
        Ok(CountMinSketch {
            width: width as u32,
            depth: depth as u32,
            total: 0,
            table: vec![0; width * depth],
        })
    }

    /// The smallest sketch with error at most `epsilon·N` with probability `1 − delta`.
    pub fn with_error(epsilon: f64, delta: f64) -> Result<Self, SketchError> {
        if !(epsilon > 0.0 && epsilon < 1.0) {
            return Err(bad_param(NAME, "epsilon", epsilon, "must be in (0, 1)"));
        }
        if !(delta > 0.0 && delta < 1.0) {
            return Err(bad_param(NAME, "delta", delta, "must be in (0, 1)"));
        }
        let width = (std::f64::consts::E / epsilon).ceil() as usize;
        let depth = (1.0 / delta).ln().ceil().max(1.0) as usize;
        Self::new(width, depth)
    }

    pub fn width(&self) -> usize {
        self.width as usize
    }

    pub fn depth(&self) -> usize {
        self.depth as usize
    }

    /// Sum of everything added.
    pub fn total(&self) -> u64 {
        self.total
    }

    #[inline]
    fn cell(&self, row: usize, h: u64) -> usize {
        let x = mix64(h ^ ROW_SEEDS[row]);
        row * self.width as usize + ((u128::from(x) * u128::from(self.width)) >> 64) as usize
    }

    /// Adds `n` to the item with hash `h` (see [`stable_hash`]).
    pub fn add_hash(&mut self, h: u64, n: u32) {
        for row in 0..self.depth as usize {
            let c = self.cell(row, h);
            self.table[c] = self.table[c].saturating_add(n);
        }
        self.total = self.total.saturating_add(u64::from(n));
    }

    /// Conservative update: raises only the cells below the new estimate. Tighter estimates;
    /// still an upper bound, still mergeable by addition.
    pub fn add_hash_conservative(&mut self, h: u64, n: u32) {
        let target = self.estimate_hash(h).saturating_add(n);
        for row in 0..self.depth as usize {
            let c = self.cell(row, h);
            if self.table[c] < target {
                self.table[c] = target;
            }
        }
        self.total = self.total.saturating_add(u64::from(n));
    }

    pub fn add(&mut self, item: &[u8], n: u32) {
        self.add_hash(stable_hash(item), n);
    }

    /// Upper-bound estimate of the count of the item with hash `h`.
    pub fn estimate_hash(&self, h: u64) -> u32 {
        (0..self.depth as usize)
            .map(|row| self.table[self.cell(row, h)])
            .min()
            .unwrap_or(0)
    }

    pub fn estimate(&self, item: &[u8]) -> u32 {
        self.estimate_hash(stable_hash(item))
    }

    /// Adds `other` cell by cell (same width and depth).
    pub fn merge(&mut self, other: &CountMinSketch) -> Result<(), SketchError> {
        if (self.width, self.depth) != (other.width, other.depth) {
            return Err(incompatible(
                NAME,
                "shapes",
                format!("{}x{}", self.width, self.depth),
                format!("{}x{}", other.width, other.depth),
            ));
        }
        for (a, &b) in self.table.iter_mut().zip(&other.table) {
            *a = a.saturating_add(b);
        }
        self.total = self.total.saturating_add(other.total);
        Ok(())
    }

    pub fn clear(&mut self) {
        self.table.iter_mut().for_each(|c| *c = 0);
        self.total = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[test]
    fn parameters_are_checked_and_sized_from_the_error() {
        let s = CountMinSketch::with_error(0.001, 0.01).unwrap();
        assert_eq!((s.width(), s.depth()), (2719, 5));
        assert!(CountMinSketch::new(0, 4).is_err());
        assert!(CountMinSketch::new(10, 17).is_err());
        let mut a = CountMinSketch::new(10, 2).unwrap();
        assert!(a.merge(&CountMinSketch::new(11, 2).unwrap()).is_err());
    }

    #[test]
    fn snapshots_round_trip() {
        let mut s = CountMinSketch::new(64, 4).unwrap();
        s.add(b"x", 5);
        let j = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<CountMinSketch>(&j).unwrap(), s);
        let bad = j.replace("\"width\":64", "\"width\":65");
        assert!(
            serde_json::from_str::<CountMinSketch>(&bad)
                .unwrap_err()
                .to_string()
                .contains("cells")
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn never_underestimates_and_rarely_exceeds_the_bound(items in proptest::collection::vec(0u16..2_000, 1..3_000), conservative in any::<bool>()) {
            let mut s = CountMinSketch::with_error(0.01, 0.01).unwrap();
            let mut exact: HashMap<u16, u32> = HashMap::new();
            for &i in &items {
                if conservative { s.add_hash_conservative(stable_hash(&i.to_le_bytes()), 1) } else { s.add(&i.to_le_bytes(), 1) }
                *exact.entry(i).or_default() += 1;
            }
            let bound = 0.01 * items.len() as f64;
            let mut over = 0usize;
            for (&k, &v) in &exact {
                let e = s.estimate(&k.to_le_bytes());
                prop_assert!(e >= v);
                if f64::from(e - v) > bound { over += 1; }
            }
            // delta = 1 %: allow 5 % of keys over the bound to keep the test stable.
            prop_assert!(over * 20 <= exact.len().max(20), "{} of {} over", over, exact.len());
        }

        #[test]
        fn merging_equals_sketching_the_concatenation(a in proptest::collection::vec(0u32..500, 0..500), b in proptest::collection::vec(0u32..500, 0..500)) {
            let mut x = CountMinSketch::new(128, 4).unwrap();
            let mut y = CountMinSketch::new(128, 4).unwrap();
            let mut z = CountMinSketch::new(128, 4).unwrap();
            for i in &a { x.add(&i.to_le_bytes(), 1); z.add(&i.to_le_bytes(), 1); }
            for i in &b { y.add(&i.to_le_bytes(), 1); z.add(&i.to_le_bytes(), 1); }
            x.merge(&y).unwrap();
            prop_assert_eq!(x, z);
        }
    }
}
