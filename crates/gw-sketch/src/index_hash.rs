//! The hasher of the in-memory lookup tables ([`crate::BoundedMap`]'s key index): cheap, and
//! keyed with a random per-table seed.
//!
//! Keys of those tables are mostly [`crate::stable_hash`] values of attacker-influenced text
//! (client IPs, identities, object ids), and `stable_hash` has a fixed, public seed, so an
//! attacker can choose inputs whose keys collide in a table with a fixed-seed hasher and make
//! every lookup walk a long probe sequence. A random seed per table takes that away; the
//! tables are also capacity-bounded. Table layout never shows in results or snapshots
//! (entries are ordered by the map's own recency list), so the random seed keeps everything
//! deterministic.
//!
//! `u64` keys (the common case) cost two 64×64→128-bit folded multiplies per lookup (the
//! mixing step of foldhash, hashbrown's default); other integers go through the same path and
//! byte strings through xxh3 seeded with the running state.

use std::hash::{BuildHasher, Hasher, RandomState};

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Odd constants (digits of π) that make the folded multiply's output depend on every bit.
const ARBITRARY: [u64; 2] = [0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344];

/// `a × b` as 128 bits, high half xor low half.
#[inline]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}

/// Builds [`IndexHasher`]s with one random seed per table.
#[derive(Clone, Debug)]
pub(crate) struct IndexHashState {
    seed: [u64; 2],
}

impl IndexHashState {
    /// A fresh random seed (from the standard library's per-process random keys).
    pub fn new() -> Self {
        let random = RandomState::new();
        IndexHashState {
            seed: [
                random.hash_one(ARBITRARY[0]) | 1,
                random.hash_one(ARBITRARY[1]),
            ],
        }
    }
}

impl Default for IndexHashState {
    fn default() -> Self {
        Self::new()
    }
}

impl BuildHasher for IndexHashState {
    type Hasher = IndexHasher;

    #[inline]
    fn build_hasher(&self) -> IndexHasher {
        IndexHasher {
            state: self.seed[1],
            seed: self.seed[0],
        }
    }
}

/// See the module documentation.
#[derive(Clone, Debug)]
pub(crate) struct IndexHasher {
    state: u64,
    seed: u64,
}

impl Hasher for IndexHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.write_u64(xxh3_64_with_seed(bytes, self.state));
    }

    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }

    #[inline]
    fn write_u16(&mut self, v: u16) {
        self.write_u64(u64::from(v));
    }

    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }

    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.state = folded_multiply(self.state ^ v, self.seed ^ ARBITRARY[1]);
    }

    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // A second multiply mixes every bit of the state into the low bits (hashbrown's bucket
        // index) and the top bits (its control tag): after one, keys that differ only in high
        // bits crowd into few buckets.
        folded_multiply(self.state, ARBITRARY[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_hash_equal_within_a_table_and_differ_across_tables() {
        let a = IndexHashState::new();
        let b = IndexHashState::new();
        assert_eq!(a.hash_one(42u64), a.hash_one(42u64));
        assert_eq!(a.hash_one("ip:10.0.0.1"), a.clone().hash_one("ip:10.0.0.1"));
        assert_ne!(a.hash_one(42u64), a.hash_one(43u64));
        assert_ne!(a.hash_one("a"), a.hash_one("b"));
        assert_ne!(a.hash_one(42u64), b.hash_one(42u64), "seeds are per table");
    }

    #[test]
    fn keys_differing_only_in_high_bits_spread_over_buckets() {
        // Keys chosen to collide in the low bits (what a fixed-seed table would index by)
        // still land in many of 1024 buckets.
        for _ in 0..50 {
            let s = IndexHashState::new();
            for shift in [0, 20, 40, 52] {
                let mut buckets = std::collections::BTreeSet::new();
                for i in 0..4096u64 {
                    buckets.insert(s.hash_one(i << shift) & 1023);
                }
                // Uniform hashing fills about 1,005 of the 1,024 buckets.
                assert!(buckets.len() > 950, "{} buckets used", buckets.len());
            }
        }
    }
}
