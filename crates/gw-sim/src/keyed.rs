//! Keyed hashing: everything the simulator derives "by index" (a client's address, user agent,
//! credentials; a record's id) is a pure function of the seed and the index, so nothing about the
//! population has to be stored.

/// SplitMix64 finaliser: a fast, well-mixing bijection on `u64`.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash of `(key, domain, index)`; `domain` separates independent derivations.
pub(crate) fn hash3(key: u64, domain: u64, index: u64) -> u64 {
    mix64(mix64(key ^ domain.wrapping_mul(0xA076_1D64_78BD_642F)) ^ index)
}

/// A stable 64-bit hash of a string (FNV-1a, then mixed); used to key per-name streams.
pub(crate) fn hash_str(s: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix64(h)
}

/// A keyed pseudo-random permutation of `0..n` (a balanced Feistel network on the next even
/// power of two, with cycle walking). Distinct indices map to distinct values, so client `i`'s
/// address is unique without a table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Permutation {
    n: u64,
    half_bits: u32,
    key: u64,
}

impl Permutation {
    pub(crate) fn new(n: u64, key: u64) -> Self {
        let bits = 64 - n.max(2).saturating_sub(1).leading_zeros();
        let half_bits = bits.div_ceil(2).max(1);
        Permutation {
            n: n.max(1),
            half_bits,
            key,
        }
    }

    pub(crate) fn apply(&self, index: u64) -> u64 {
        let mut x = index % self.n;
        loop {
            x = self.round_trip(x);
            if x < self.n {
                return x;
            }
        }
    }

    fn round_trip(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half_bits) - 1;
        let (mut left, mut right) = (x >> self.half_bits, x & mask);
        for round in 0..4u64 {
            let f = hash3(self.key, round, right) & mask;
            (left, right) = (right, left ^ f);
        }
        (left << self.half_bits) | right
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_is_a_bijection() {
        for n in [1u64, 2, 7, 1000, 4097] {
            let p = Permutation::new(n, 42);
            let mut seen: Vec<u64> = (0..n).map(|i| p.apply(i)).collect();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len() as u64, n, "n = {n}");
            assert!(seen.iter().all(|&v| v < n));
        }
    }

    #[test]
    fn different_keys_permute_differently() {
        let a = Permutation::new(1000, 1);
        let b = Permutation::new(1000, 2);
        assert!((0..1000).any(|i| a.apply(i) != b.apply(i)));
    }
}
