//! The fixed hash every sketch uses, so sketches built on different nodes or in different
//! processes can be merged and snapshots stay valid across restarts.

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Seed of [`stable_hash`]. Changing it invalidates every stored sketch.
pub const STABLE_SEED: u64 = 0x6761_7465_7761_7463; // "gatewatc"

/// 64-bit xxh3 of `bytes` with the fixed [`STABLE_SEED`].
#[inline]
pub fn stable_hash(bytes: &[u8]) -> u64 {
    xxh3_64_with_seed(bytes, STABLE_SEED)
}

/// [`stable_hash`] of the parts joined with a 0x1f separator, without allocating for up to
/// 256 bytes of input.
pub fn stable_hash_parts(parts: &[&[u8]]) -> u64 {
    let total: usize = parts.iter().map(|p| p.len() + 1).sum();
    // Most keys (an actor and an endpoint) are short: a small buffer is cheaper to zero.
    if total <= 64 {
        joined_hash::<64>(parts)
    } else if total <= 256 {
        joined_hash::<256>(parts)
    } else {
        let mut v = Vec::with_capacity(total);
        for p in parts {
            v.extend_from_slice(p);
            v.push(0x1f);
        }
        stable_hash(&v)
    }
}

/// [`stable_hash`] of the parts joined with 0x1f in an `N`-byte stack buffer (the caller
/// checked they fit).
#[inline]
fn joined_hash<const N: usize>(parts: &[&[u8]]) -> u64 {
    let mut buf = [0u8; N];
    let mut at = 0;
    for p in parts {
        buf[at..at + p.len()].copy_from_slice(p);
        at += p.len();
        buf[at] = 0x1f;
        at += 1;
    }
    stable_hash(&buf[..at])
}

/// SplitMix64 finaliser: spreads a 64-bit value (used to derive per-row hashes from one hash).
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PINNED: u64 = 8_888_486_913_910_373_454;

    #[test]
    fn the_hash_is_fixed_across_builds() {
        // A pinned value: if this changes, stored sketches from older builds are unreadable.
        assert_eq!(stable_hash(b"GET /v1/orders/{id}"), PINNED);
        assert_ne!(stable_hash(b"a"), stable_hash(b"b"));
        assert_eq!(
            stable_hash_parts(&[b"ab", b"c"]),
            stable_hash(b"ab\x1fc\x1f")
        );
        let mid = vec![b'y'; 100];
        assert_eq!(
            stable_hash_parts(&[b"a", &mid]),
            stable_hash(&[b"a\x1f", mid.as_slice(), b"\x1f"].concat())
        );
        let long = vec![b'x'; 300];
        assert_eq!(
            stable_hash_parts(&[&long]),
            stable_hash(&[long.as_slice(), b"\x1f"].concat())
        );
        assert_ne!(
            stable_hash_parts(&[b"a", b"bc"]),
            stable_hash_parts(&[b"ab", b"c"])
        );
    }
}
