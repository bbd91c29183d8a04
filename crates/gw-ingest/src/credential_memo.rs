//! A small bounded memo of what is derived from a credential (its HMAC fingerprint, a JWT's
//! claims): one client sends the same API key, token or basic-auth pair on every request, and
//! HMAC-SHA256 or base64 + JSON decoding of it costs thousands of instructions.
//!
//! The table is direct-mapped (a credential has one slot; a new credential in that slot
//! evicts the old one), so its size is fixed at construction and never grows. It never holds
//! a credential: a slot keeps a 128-bit keyed hash of the credential (XXH3-128 seeded from the
//! install key, so the table does not hold an unkeyed hash of a guessable password either), its
//! length, and the derived value. A hit is trusted without comparing credentials: two
//! different credentials of the same length agreeing on 128 hash bits happens with probability
//! about 2^-128 per pair, far below any other failure of the store.
//! Each slot has its own lock, so threads sharing a `Normalizer` rarely wait on each other.

use std::sync::Mutex;

use xxhash_rust::xxh3::xxh3_128_with_seed;

/// Slots of a cache (a power of two): a few thousand clients' credentials.
pub(crate) const SLOTS: usize = 4096;

/// One remembered derivation.
struct Entry<V> {
    hash: u128,
    len: usize,
    value: V,
}

/// Credential hash → derived value, at most [`SLOTS`] (or the count given) entries.
pub(crate) struct CredentialMemo<V> {
    seed: u64,
    slots: Box<[Mutex<Option<Entry<V>>>]>,
}

impl<V> std::fmt::Debug for CredentialMemo<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialMemo")
            .field("slots", &self.slots.len())
            .finish_non_exhaustive()
    }
}

impl<V: Clone> CredentialMemo<V> {
    /// An empty memo of `slots` entries (rounded up to a power of two); `seed` keys the
    /// credential hash and should come from the install key.
    pub(crate) fn new(slots: usize, seed: u64) -> Self {
        let n = slots.max(1).next_power_of_two();
        CredentialMemo {
            seed,
            slots: (0..n).map(|_| Mutex::new(None)).collect(),
        }
    }

    /// The value derived from `credential`, computed by `compute` on a miss and remembered.
    pub(crate) fn get_or_compute(&self, credential: &[u8], compute: impl FnOnce(&[u8]) -> V) -> V {
        let hash = xxh3_128_with_seed(credential, self.seed);
        let len = credential.len();
        // Low bits pick the slot; all 128 bits are compared.
        let slot = &self.slots[(hash as usize) & (self.slots.len() - 1)];
        // A poisoned slot only means another thread panicked while holding it: an entry is
        // written whole, so it is either the old or the new one, and the lock is taken anyway.
        if let Some(e) = &*slot.lock().unwrap_or_else(|p| p.into_inner())
            && e.hash == hash
            && e.len == len
        {
            return e.value.clone();
        }
        let value = compute(credential);
        *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(Entry {
            hash,
            len,
            value: value.clone(),
        });
        value
    }

    /// Entries held now (at most the slot count).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.lock().unwrap().is_some())
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn digest_of(c: &[u8]) -> [u8; 32] {
        let mut d = [0u8; 32];
        for (i, b) in c.iter().enumerate() {
            d[i % 32] ^= b.wrapping_add(i as u8);
        }
        d[31] = c.len() as u8;
        d
    }

    #[test]
    fn a_repeated_credential_is_computed_once() {
        let cache = CredentialMemo::new(64, 1);
        let calls = Cell::new(0);
        let compute = |c: &[u8]| {
            calls.set(calls.get() + 1);
            digest_of(c)
        };
        let a = cache.get_or_compute(b"key-a", compute);
        let again = cache.get_or_compute(b"key-a", compute);
        assert_eq!(a, again);
        assert_eq!(a, digest_of(b"key-a"));
        assert_eq!(calls.get(), 1);
        let b = cache.get_or_compute(b"key-b", compute);
        assert_ne!(a, b, "different credentials keep their own digests");
        assert_eq!(b, digest_of(b"key-b"));
    }

    #[test]
    fn the_cache_stays_bounded_and_evicts() {
        let cache = CredentialMemo::new(8, 7);
        let calls = Cell::new(0);
        let compute = |c: &[u8]| {
            calls.set(calls.get() + 1);
            digest_of(c)
        };
        let keys: Vec<String> = (0..1000).map(|i| format!("credential-{i}")).collect();
        for k in &keys {
            assert_eq!(
                cache.get_or_compute(k.as_bytes(), compute),
                digest_of(k.as_bytes())
            );
        }
        assert_eq!(calls.get(), 1000);
        assert_eq!(cache.len(), 8);
        // Every slot was overwritten many times: the first keys are gone and are recomputed,
        // still to the right digest.
        let before = calls.get();
        for k in &keys[..16] {
            assert_eq!(
                cache.get_or_compute(k.as_bytes(), compute),
                digest_of(k.as_bytes())
            );
        }
        assert!(calls.get() > before, "early entries were evicted");
        assert_eq!(cache.len(), 8);
    }

    #[test]
    fn slot_count_is_a_power_of_two() {
        assert_eq!(CredentialMemo::<u8>::new(0, 0).slots.len(), 1);
        assert_eq!(CredentialMemo::<u8>::new(3000, 0).slots.len(), 4096);
        assert_eq!(CredentialMemo::<u8>::new(SLOTS, 0).slots.len(), SLOTS);
    }
}
