//! Space-saving heavy hitters: at most `capacity` monitored keys; every key whose true count
//! exceeds `N / capacity` is monitored, and each reported count over-estimates the truth by at
//! most its recorded `error` (≤ `N / capacity`). Mergeable (Agarwal et al., "Mergeable
//! summaries", 2012). Ties are broken by key order, so results are deterministic.

use std::collections::HashMap;
use std::hash::Hash;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3DefaultBuilder;

use crate::error::{SketchError, bad_param};

const NAME: &str = "space-saving top-k";

/// One monitored key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeavyHitter<K> {
    pub key: K,
    /// Upper bound of the true count.
    pub count: u64,
    /// Over-estimation bound: the true count is at least `count - error`.
    pub error: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(
    try_from = "TopKRaw<K>",
    bound(
        serialize = "K: Serialize",
        deserialize = "K: Deserialize<'de> + Hash + Eq + Ord + Clone"
    )
)]
pub struct SpaceSaving<K: Hash + Eq + Ord + Clone> {
    capacity: usize,
    total: u64,
    entries: Vec<HeavyHitter<K>>,
    #[serde(skip)]
    index: HashMap<K, usize, Xxh3DefaultBuilder>,
}

#[derive(Deserialize)]
struct TopKRaw<K> {
    capacity: usize,
    total: u64,
    entries: Vec<HeavyHitter<K>>,
}

impl<K: Hash + Eq + Ord + Clone> TryFrom<TopKRaw<K>> for SpaceSaving<K> {
    type Error = SketchError;
    fn try_from(r: TopKRaw<K>) -> Result<Self, SketchError> {
        let mut s = SpaceSaving::new(r.capacity)?;
        if r.entries.len() > r.capacity {
            return Err(SketchError::BadSnapshot {
                structure: NAME,
                reason: format!("{} entries exceed capacity {}", r.entries.len(), r.capacity),
            });
        }
        for e in r.entries {
            if s.index.insert(e.key.clone(), s.entries.len()).is_some() {
                return Err(SketchError::BadSnapshot {
                    structure: NAME,
                    reason: "duplicate key".to_string(),
                });
            }
            s.entries.push(e);
        }
        s.total = r.total;
        Ok(s)
    }
}

impl<K: Hash + Eq + Ord + Clone> PartialEq for SpaceSaving<K> {
    fn eq(&self, other: &Self) -> bool {
        self.capacity == other.capacity
            && self.total == other.total
            && self.top(self.capacity) == other.top(other.capacity)
    }
}

impl<K: Hash + Eq + Ord + Clone> SpaceSaving<K> {
    pub fn new(capacity: usize) -> Result<Self, SketchError> {
        if capacity == 0 || capacity > 1 << 20 {
            return Err(bad_param(
                NAME,
                "capacity",
                capacity,
                "must be between 1 and 1048576",
            ));
        }
        Ok(SpaceSaving {
            capacity,
            total: 0,
            entries: Vec::with_capacity(capacity.min(1024)),
            index: HashMap::with_capacity_and_hasher(capacity.min(1024), Xxh3DefaultBuilder),
        })
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Index of the smallest entry (ties: largest key, so the smallest keys survive).
    fn min_slot(&self) -> usize {
        let mut best = 0;
        for (i, e) in self.entries.iter().enumerate().skip(1) {
            let b = &self.entries[best];
            if e.count < b.count || (e.count == b.count && e.key > b.key) {
                best = i;
            }
        }
        best
    }

    /// Adds `n` occurrences of `key`. Costs O(1) when monitored, O(capacity) when replacing.
    pub fn add(&mut self, key: &K, n: u64) {
        self.total = self.total.saturating_add(n);
        if let Some(&i) = self.index.get(key) {
            self.entries[i].count = self.entries[i].count.saturating_add(n);
            return;
        }
        if self.entries.len() < self.capacity {
            self.index.insert(key.clone(), self.entries.len());
            self.entries.push(HeavyHitter {
                key: key.clone(),
                count: n,
                error: 0,
            });
            return;
        }
        let i = self.min_slot();
        let old = std::mem::replace(
            &mut self.entries[i],
            HeavyHitter {
                key: key.clone(),
                count: 0,
                error: 0,
            },
        );
        self.index.remove(&old.key);
        self.index.insert(key.clone(), i);
        self.entries[i].count = old.count.saturating_add(n);
        self.entries[i].error = old.count;
    }

    /// Count bound of `key`, if monitored.
    pub fn get(&self, key: &K) -> Option<&HeavyHitter<K>> {
        self.index.get(key).map(|&i| &self.entries[i])
    }

    /// The `n` largest entries, by count then key.
    pub fn top(&self, n: usize) -> Vec<HeavyHitter<K>> {
        let mut v = self.entries.clone();
        v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        v.truncate(n);
        v
    }

    /// The floor an unmonitored key may have had: the smallest count when full, else 0.
    fn floor(&self) -> u64 {
        if self.entries.len() < self.capacity {
            0
        } else {
            self.entries.iter().map(|e| e.count).min().unwrap_or(0)
        }
    }

    /// Merges `other` into `self`; the result keeps the guarantees for the combined stream.
    /// Capacities may differ; the result keeps `self`'s.
    pub fn merge(&mut self, other: &SpaceSaving<K>) {
        let (fa, fb) = (self.floor(), other.floor());
        let mut combined: Vec<HeavyHitter<K>> =
            Vec::with_capacity(self.entries.len() + other.entries.len());
        for e in &self.entries {
            let (cb, eb) = other.get(&e.key).map_or((fb, fb), |o| (o.count, o.error));
            combined.push(HeavyHitter {
                key: e.key.clone(),
                count: e.count + cb,
                error: e.error + eb,
            });
        }
        for o in &other.entries {
            if !self.index.contains_key(&o.key) {
                combined.push(HeavyHitter {
                    key: o.key.clone(),
                    count: o.count + fa,
                    error: o.error + fa,
                });
            }
        }
        combined.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        combined.truncate(self.capacity);
        self.total = self.total.saturating_add(other.total);
        self.index.clear();
        for (i, e) in combined.iter().enumerate() {
            self.index.insert(e.key.clone(), i);
        }
        self.entries = combined;
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.index.clear();
        self.total = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn exact(items: &[u16]) -> BTreeMap<u16, u64> {
        let mut m = BTreeMap::new();
        for &i in items {
            *m.entry(i).or_default() += 1;
        }
        m
    }

    #[test]
    fn finds_the_heavy_hitters_of_a_skewed_stream() {
        let mut s = SpaceSaving::new(10).unwrap();
        for i in 0..10_000u32 {
            let k = if i % 3 == 0 {
                7
            } else if i % 5 == 0 {
                9
            } else {
                100 + i
            };
            s.add(&k, 1);
        }
        let top = s.top(2);
        assert_eq!(top[0].key, 7);
        assert_eq!(top[1].key, 9);
        assert!(top[0].count - top[0].error <= 3334 && top[0].count >= 3334);
        assert!(SpaceSaving::<u32>::new(0).is_err());
    }

    #[test]
    fn snapshots_round_trip() {
        let mut s = SpaceSaving::new(3).unwrap();
        for k in [1u32, 2, 2, 3, 4, 4, 4] {
            s.add(&k, 1);
        }
        let j = serde_json::to_string(&s).unwrap();
        let back: SpaceSaving<u32> = serde_json::from_str(&j).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.get(&4).unwrap().count, s.get(&4).unwrap().count);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn guarantees_hold_against_exact_counts(items in proptest::collection::vec(0u16..200, 1..2_000), cap in 5usize..40) {
            let mut s = SpaceSaving::new(cap).unwrap();
            for i in &items { s.add(i, 1); }
            let n = items.len() as u64;
            for (k, c) in exact(&items) {
                if let Some(e) = s.get(&k) {
                    prop_assert!(e.count >= c && e.count - e.error <= c);
                    prop_assert!(e.error <= n / cap as u64 + 1);
                } else {
                    prop_assert!(c <= n / cap as u64, "heavy key {} (count {}) missing", k, c);
                }
            }
        }

        #[test]
        fn merged_summaries_keep_the_guarantees(a in proptest::collection::vec(0u16..100, 0..1_000), b in proptest::collection::vec(0u16..100, 0..1_000)) {
            let cap = 16;
            let mut x = SpaceSaving::new(cap).unwrap();
            let mut y = SpaceSaving::new(cap).unwrap();
            for i in &a { x.add(i, 1); }
            for i in &b { y.add(i, 1); }
            x.merge(&y);
            let all: Vec<u16> = a.iter().chain(&b).copied().collect();
            let n = all.len() as u64;
            prop_assert_eq!(x.total(), n);
            for (k, c) in exact(&all) {
                match x.get(&k) {
                    Some(e) => prop_assert!(e.count >= c && e.count - e.error <= c),
                    None => prop_assert!(c <= 2 * n / cap as u64 + 1, "heavy key {} missing", k),
                }
            }
            // Deterministic: merging in the other order yields the same top.
            let mut x2 = SpaceSaving::new(cap).unwrap();
            let mut y2 = SpaceSaving::new(cap).unwrap();
            for i in &a { x2.add(i, 1); }
            for i in &b { y2.add(i, 1); }
            y2.merge(&x2);
            prop_assert_eq!(y2.total(), x.total());
        }
    }
}
