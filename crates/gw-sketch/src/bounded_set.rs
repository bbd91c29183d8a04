//! A set of 64-bit hashes with a hard capacity: 8-way set-associative buckets, each kept in
//! recency order; inserting into a full bucket evicts that bucket's least recently inserted or
//! touched entry. Lookups and inserts are O(1) and never allocate once the table reached its
//! capacity; the table starts small and doubles (rehashing) until it does, so memory follows
//! the number of distinct members up to the capacity. Members are stored in full, so there are
//! no false positives; eviction makes false negatives possible once the set is full.

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{SketchError, bad_param};
use crate::hash::mix64;

const NAME: &str = "hash set";
const WAYS: usize = 8;
const MIN_SLOTS: usize = 16;
/// Marks an empty slot; the member 0 is stored as [`ZERO_STANDIN`].
const EMPTY: u64 = 0;
const ZERO_STANDIN: u64 = u64::MAX;

/// Capacity-bounded set of 64-bit hashes (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HashSet64 {
    capacity: usize,
    len: usize,
    slots: Vec<u64>,
}

#[derive(Deserialize)]
struct Raw {
    capacity: usize,
    len: usize,
    slots: Vec<u64>,
}

impl<'de> Deserialize<'de> for HashSet64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = Raw::deserialize(d)?;
        let bad = |reason: String| {
            serde::de::Error::custom(SketchError::BadSnapshot {
                structure: NAME,
                reason,
            })
        };
        let max = table_size(r.capacity).map_err(serde::de::Error::custom)?;
        if r.slots.len() < MIN_SLOTS.min(max)
            || r.slots.len() > max
            || !r.slots.len().is_power_of_two()
        {
            return Err(bad(format!(
                "{} slots for capacity {} (expected a power of two up to {max})",
                r.slots.len(),
                r.capacity
            )));
        }
        let occupied = r.slots.iter().filter(|&&s| s != EMPTY).count();
        if occupied != r.len {
            return Err(bad(format!(
                "length {} but {occupied} occupied slots",
                r.len
            )));
        }
        Ok(HashSet64 {
            capacity: r.capacity,
            len: r.len,
            slots: r.slots,
        })
    }
}

/// Slots of a full table for `capacity` members: a power of two of at least `capacity`.
fn table_size(capacity: usize) -> Result<usize, SketchError> {
    if capacity == 0 || capacity > 1 << 28 {
        return Err(bad_param(
            NAME,
            "capacity",
            capacity,
            "must be between 1 and 268435456",
        ));
    }
    Ok(capacity.next_power_of_two().max(WAYS))
}

impl HashSet64 {
    /// An empty set holding at most about `capacity` members (rounded up to a power of two,
    /// at least 8; 1 ..= 2^28).
    pub fn new(capacity: usize) -> Result<Self, SketchError> {
        let max = table_size(capacity)?;
        Ok(HashSet64 {
            capacity,
            len: 0,
            slots: vec![EMPTY; MIN_SLOTS.min(max)],
        })
    }

    /// Members right now.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The most members the set can hold (the full table's slots).
    pub fn capacity(&self) -> usize {
        table_size(self.capacity).unwrap_or(MIN_SLOTS)
    }

    /// Heap bytes of the table right now.
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<u64>()
    }

    #[inline]
    fn stored(h: u64) -> u64 {
        if h == EMPTY { ZERO_STANDIN } else { h }
    }

    #[inline]
    fn bucket(&self, v: u64) -> usize {
        let buckets = self.slots.len() / WAYS;
        (mix64(v) as usize & (buckets - 1)) * WAYS
    }

    /// Whether `h` is a member.
    #[inline]
    pub fn contains(&self, h: u64) -> bool {
        let v = Self::stored(h);
        let b = self.bucket(v);
        self.slots[b..b + WAYS].contains(&v)
    }

    /// Adds `h` (or marks it most recent in its bucket). Returns true when it was not a member.
    pub fn insert(&mut self, h: u64) -> bool {
        let v = Self::stored(h);
        let b = self.bucket(v);
        let bucket = &mut self.slots[b..b + WAYS];
        if let Some(i) = bucket.iter().position(|&s| s == v) {
            bucket[..=i].rotate_right(1);
            return false;
        }
        let full_table = self.slots.len() >= self.capacity();
        if self.slots[b + WAYS - 1] != EMPTY && !full_table {
            self.grow();
            return self.insert(h);
        }
        let bucket = &mut self.slots[b..b + WAYS];
        if bucket[WAYS - 1] == EMPTY {
            self.len += 1;
        }
        bucket.rotate_right(1);
        bucket[0] = v;
        true
    }

    /// Removes every member (keeps the table).
    pub fn clear(&mut self) {
        self.slots.fill(EMPTY);
        self.len = 0;
    }

    fn grow(&mut self) {
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; 0]);
        self.slots = vec![EMPTY; old.len() * 2];
        self.len = 0;
        // Oldest first per bucket, so the rebuilt buckets keep their recency order.
        for chunk in old.chunks(WAYS) {
            for &v in chunk.iter().rev().filter(|&&v| v != EMPTY) {
                let b = self.bucket(v);
                let bucket = &mut self.slots[b..b + WAYS];
                if bucket[WAYS - 1] == EMPTY {
                    self.len += 1;
                }
                bucket.rotate_right(1);
                bucket[0] = v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_found_and_the_table_grows_to_its_capacity() {
        let mut s = HashSet64::new(1024).unwrap();
        assert!(s.is_empty());
        for i in 0..500u64 {
            assert!(s.insert(i * 7919));
        }
        // Half full: a bucket overflows only rarely.
        let found = (0..500u64).filter(|&i| s.contains(i * 7919)).count();
        assert!(found >= 490, "found {found} of 500");
        assert_eq!(s.len(), found);
        assert!(!s.contains(3));
        assert!(
            s.contains(0) && !s.insert(0),
            "0 is a member like any other"
        );
        assert!(s.heap_bytes() <= 1024 * 8);
    }

    #[test]
    fn a_full_set_stays_within_its_capacity_and_keeps_recent_members() {
        let mut s = HashSet64::new(64).unwrap();
        for i in 0..10_000u64 {
            s.insert(i);
        }
        assert!(s.len() <= 64);
        assert_eq!(s.heap_bytes(), 64 * 8);
        let recent = (9_990..10_000u64).filter(|&i| s.contains(i)).count();
        assert!(recent >= 8, "recent members survive: {recent}");
        s.clear();
        assert!(s.is_empty() && !s.contains(9_999));
    }

    #[test]
    fn snapshots_round_trip_and_bad_ones_are_rejected() {
        let mut s = HashSet64::new(100).unwrap();
        for i in 0..80u64 {
            s.insert(i.wrapping_mul(0x9e37_79b9));
        }
        let j = serde_json::to_string(&s).unwrap();
        let back: HashSet64 = serde_json::from_str(&j).unwrap();
        assert_eq!(back, s);
        let err = serde_json::from_str::<HashSet64>(r#"{"capacity":8,"len":1,"slots":[1,0,0]}"#)
            .unwrap_err();
        assert!(err.to_string().contains("slots"), "{err}");
        assert!(HashSet64::new(0).is_err());
    }
}
