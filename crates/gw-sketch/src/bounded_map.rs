//! A keyed map with a hard capacity and least-recently-used eviction, plus eviction of keys
//! idle for longer than a span of event time. Memory is bounded by the capacity (the number of
//! active keys), never by the number of records.
//!
//! Entries live in one dense `Vec` linked into a recency list by `u32` indices; removal swaps
//! the last entry into the hole, so there are no tombstones and no `unsafe`.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

use crate::error::{SketchError, bad_param};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const NAME: &str = "bounded map";
const NIL: u32 = u32::MAX;

#[derive(Clone, Debug)]
struct Node<K, V> {
    key: K,
    value: V,
    last_seen: i64,
    /// Towards the most recently used end.
    prev: u32,
    /// Towards the least recently used end.
    next: u32,
}

/// Capacity-limited LRU map keyed by `K`, with event-time idle eviction.
#[derive(Clone, Debug)]
pub struct BoundedMap<K, V> {
    capacity: usize,
    /// Keys are often `stable_hash` values of attacker-influenced text (IPs, identities,
    /// object ids), and `stable_hash`'s seed is fixed and public: the index hashes them again
    /// with foldhash's random per-map seed, so chosen collisions cannot make lookups walk long
    /// probe sequences. The table's layout never shows in iteration or snapshots (entries are
    /// ordered by the map's own recency list), so results stay deterministic.
    index: HashMap<K, u32, foldhash::fast::RandomState>,
    nodes: Vec<Node<K, V>>,
    /// Most recently used.
    head: u32,
    /// Least recently used.
    tail: u32,
    evicted: u64,
}

/// An entry pushed out by [`BoundedMap::entry`] or [`BoundedMap::evict_idle`].
#[derive(Clone, Debug, PartialEq)]
pub struct Evicted<K, V> {
    pub key: K,
    pub value: V,
    pub last_seen: i64,
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    /// A map holding at most `capacity` keys (1 ..= 2^31).
    pub fn new(capacity: usize) -> Result<Self, SketchError> {
        if capacity == 0 || capacity > 1 << 31 {
            return Err(bad_param(
                NAME,
                "capacity",
                capacity,
                "must be between 1 and 2147483648",
            ));
        }
        Ok(BoundedMap {
            capacity,
            index: HashMap::with_hasher(foldhash::fast::RandomState::default()),
            nodes: Vec::new(),
            head: NIL,
            tail: NIL,
            evicted: 0,
        })
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Entries evicted so far (capacity or idleness).
    pub fn evictions(&self) -> u64 {
        self.evicted
    }

    fn unlink(&mut self, i: u32) {
        let (p, n) = (self.nodes[i as usize].prev, self.nodes[i as usize].next);
        if p == NIL {
            self.head = n;
        } else {
            self.nodes[p as usize].next = n;
        }
        if n == NIL {
            self.tail = p;
        } else {
            self.nodes[n as usize].prev = p;
        }
    }

    fn push_front(&mut self, i: u32) {
        self.nodes[i as usize].prev = NIL;
        self.nodes[i as usize].next = self.head;
        if self.head != NIL {
            self.nodes[self.head as usize].prev = i;
        }
        self.head = i;
        if self.tail == NIL {
            self.tail = i;
        }
    }

    fn touch(&mut self, i: u32, now: i64) {
        let node = &mut self.nodes[i as usize];
        node.last_seen = node.last_seen.max(now);
        if self.head != i {
            self.unlink(i);
            self.push_front(i);
        }
    }

    /// Removes the node at `i`, moving the last node into its slot.
    fn take(&mut self, i: u32) -> Evicted<K, V> {
        self.unlink(i);
        let last = (self.nodes.len() - 1) as u32;
        if i != last {
            let (p, n) = (
                self.nodes[last as usize].prev,
                self.nodes[last as usize].next,
            );
            if p == NIL {
                self.head = i;
            } else {
                self.nodes[p as usize].next = i;
            }
            if n == NIL {
                self.tail = i;
            } else {
                self.nodes[n as usize].prev = i;
            }
            let moved_key = self.nodes[last as usize].key.clone();
            if let Some(slot) = self.index.get_mut(&moved_key) {
                *slot = i;
            }
        }
        let node = self.nodes.swap_remove(i as usize);
        self.index.remove(&node.key);
        Evicted {
            key: node.key,
            value: node.value,
            last_seen: node.last_seen,
        }
    }

    /// Reads without changing recency.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.index.get(key).map(|&i| &self.nodes[i as usize].value)
    }

    /// Mutable access that marks the key used at event time `now`.
    pub fn get_mut<Q>(&mut self, key: &Q, now: i64) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = *self.index.get(key)?;
        self.touch(i, now);
        Some(&mut self.nodes[i as usize].value)
    }

    /// The value of `key`, inserted with `make` if absent, marked used at `now`. When the map
    /// is full, inserting evicts the least recently used entry, which is handed back.
    pub fn entry(
        &mut self,
        key: &K,
        now: i64,
        make: impl FnOnce() -> V,
    ) -> (&mut V, Option<Evicted<K, V>>) {
        if let Some(&i) = self.index.get(key) {
            self.touch(i, now);
            return (&mut self.nodes[i as usize].value, None);
        }
        let evicted = if self.nodes.len() >= self.capacity {
            self.evicted += 1;
            Some(self.take(self.tail))
        } else {
            None
        };
        let i = self.nodes.len() as u32;
        self.nodes.push(Node {
            key: key.clone(),
            value: make(),
            last_seen: now,
            prev: NIL,
            next: NIL,
        });
        self.index.insert(key.clone(), i);
        self.push_front(i);
        (&mut self.nodes[i as usize].value, evicted)
    }

    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = *self.index.get(key)?;
        Some(self.take(i).value)
    }

    /// Evicts entries whose last use is before `cutoff` (event time), walking from the least
    /// recently used end, and hands each to `sink`. Returns how many were evicted. Entries
    /// touched out of event-time order may survive one extra pass.
    pub fn evict_idle(&mut self, cutoff: i64, mut sink: impl FnMut(Evicted<K, V>)) -> usize {
        let mut n = 0;
        while self.tail != NIL && self.nodes[self.tail as usize].last_seen < cutoff {
            let e = self.take(self.tail);
            self.evicted += 1;
            n += 1;
            sink(e);
        }
        n
    }

    /// Entries from most to least recently used.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        let mut at = self.head;
        std::iter::from_fn(move || {
            if at == NIL {
                return None;
            }
            let n = &self.nodes[at as usize];
            at = n.next;
            Some((&n.key, &n.value))
        })
    }

    /// Mutable values in storage order (not recency order).
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.nodes.iter_mut().map(|n| &mut n.value)
    }

    /// Bytes held by the map's own tables (not by heap data inside values).
    pub fn table_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node<K, V>>()
            + self.index.capacity() * (std::mem::size_of::<(K, u32)>() + 1)
    }

    /// Bytes per entry of the map's own tables at full load.
    pub fn bytes_per_entry() -> usize {
        std::mem::size_of::<Node<K, V>>() + std::mem::size_of::<(K, u32)>() + 1
    }
}

#[derive(Serialize)]
struct SnapshotRef<'a, K, V> {
    capacity: usize,
    /// Least recently used first: (key, value, last_seen).
    entries: Vec<(&'a K, &'a V, i64)>,
}

#[derive(Deserialize)]
struct Snapshot<K, V> {
    capacity: usize,
    entries: Vec<(K, V, i64)>,
}

impl<K: Hash + Eq + Clone + Serialize, V: Serialize> Serialize for BoundedMap<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut entries = Vec::with_capacity(self.nodes.len());
        let mut at = self.tail;
        while at != NIL {
            let n = &self.nodes[at as usize];
            entries.push((&n.key, &n.value, n.last_seen));
            at = n.prev;
        }
        SnapshotRef {
            capacity: self.capacity,
            entries,
        }
        .serialize(s)
    }
}

impl<'de, K: Hash + Eq + Clone + DeserializeOwned, V: DeserializeOwned> Deserialize<'de>
    for BoundedMap<K, V>
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let snap = Snapshot::<K, V>::deserialize(d)?;
        let mut m = BoundedMap::new(snap.capacity).map_err(serde::de::Error::custom)?;
        if snap.entries.len() > snap.capacity {
            return Err(serde::de::Error::custom(SketchError::BadSnapshot {
                structure: NAME,
                reason: format!(
                    "{} entries exceed capacity {}",
                    snap.entries.len(),
                    snap.capacity
                ),
            }));
        }
        for (k, v, t) in snap.entries {
            let mut v = Some(v);
            let (slot, _) = m.entry(&k, t, || v.take().expect("value moved once"));
            if let Some(v) = v {
                // A duplicate key in the snapshot: the later entry wins.
                *slot = v;
            }
            let i = m.index[&k];
            m.nodes[i as usize].last_seen = t;
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap as StdMap;

    #[test]
    fn evicts_the_least_recently_used_at_capacity() {
        let mut m = BoundedMap::new(2).unwrap();
        *m.entry(&"a", 1, || 0).0 += 1;
        *m.entry(&"b", 2, || 0).0 += 1;
        assert!(m.get_mut(&"a", 3).is_some());
        let (_, ev) = m.entry(&"c", 4, || 7);
        assert_eq!(ev.unwrap().key, "b");
        assert_eq!(m.len(), 2);
        assert_eq!(m.evictions(), 1);
        let order: Vec<_> = m.iter().map(|(k, _)| *k).collect();
        assert_eq!(order, vec!["c", "a"]);
        assert!(BoundedMap::<u8, u8>::new(0).is_err());
    }

    #[test]
    fn evicts_idle_keys_by_event_time() {
        let mut m = BoundedMap::new(10).unwrap();
        for (k, t) in [(1u32, 100), (2, 200), (3, 300)] {
            m.entry(&k, t, || ());
        }
        let mut gone = Vec::new();
        assert_eq!(m.evict_idle(250, |e| gone.push(e.key)), 2);
        assert_eq!(gone, vec![1, 2]);
        assert_eq!(m.len(), 1);
        assert_eq!(m.remove(&3), Some(()));
        assert!(m.is_empty());
    }

    #[test]
    fn snapshots_keep_order_and_times() {
        let mut m = BoundedMap::new(3).unwrap();
        for k in 0..5u32 {
            *m.entry(&k, i64::from(k), || 0u64).0 += u64::from(k);
        }
        let j = serde_json::to_string(&m).unwrap();
        let back: BoundedMap<u32, u64> = serde_json::from_str(&j).unwrap();
        assert_eq!(
            back.iter().collect::<Vec<_>>(),
            m.iter().collect::<Vec<_>>()
        );
        assert_eq!(serde_json::to_string(&back).unwrap(), j);
        let too_many = r#"{"capacity":1,"entries":[[1,1,0],[2,2,0]]}"#;
        assert!(serde_json::from_str::<BoundedMap<u32, u64>>(too_many).is_err());
    }

    proptest! {
        #[test]
        fn behaves_like_an_exact_lru(ops in proptest::collection::vec((0u8..20, any::<bool>()), 1..400), cap in 1usize..12) {
            let mut m = BoundedMap::new(cap).unwrap();
            // Model: key -> (value, recency stamp).
            let mut model: StdMap<u8, (u32, usize)> = StdMap::new();
            for (step, (k, remove)) in ops.into_iter().enumerate() {
                if remove {
                    prop_assert_eq!(m.remove(&k), model.remove(&k).map(|v| v.0));
                    continue;
                }
                let (v, ev) = m.entry(&k, step as i64, || 0u32);
                *v += 1;
                if let Some(ev) = ev {
                    let lru = *model.iter().min_by_key(|(_, (_, s))| *s).unwrap().0;
                    prop_assert_eq!(ev.key, lru);
                    prop_assert_eq!(ev.value, model.remove(&lru).unwrap().0);
                }
                let e = model.entry(k).or_insert((0, step));
                e.0 += 1;
                e.1 = step;
                prop_assert!(m.len() <= cap);
                prop_assert_eq!(m.len(), model.len());
            }
            for (k, (v, _)) in &model {
                prop_assert_eq!(m.get(k), Some(v));
            }
        }
    }
}
