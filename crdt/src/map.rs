//! Maps: last-writer-wins per key.

use crate::{Lattice, LwwReg};
use std::collections::BTreeMap;
use synod_core::NodeId;

/// A map whose every key is an [`LwwReg`] of `Option<V>`: a removal is a `None`
/// write, so it orders against concurrent inserts by timestamp like any write.
///
/// Removed keys keep their tombstone (the winning `None` write) so a late, older
/// insert cannot resurrect them.
///
/// ```
/// use synod_crdt::{Lattice, LwwMap};
/// use synod_core::NodeId;
/// let (a, b) = (NodeId(1), NodeId(2));
/// let mut x = LwwMap::new();
/// x.insert(a, 1, "k", 10);
/// let mut y = x.clone();
/// y.remove(b, 2, "k");
/// x.insert(a, 3, "k", 30);        // later than the removal: wins
/// x.join(&y);
/// assert_eq!(x.get(&"k"), Some(&30));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LwwMap<K: Ord, V> {
    entries: BTreeMap<K, LwwReg<Option<V>>>,
}

impl<K: Ord, V> Default for LwwMap<K, V> {
    fn default() -> Self {
        LwwMap {
            entries: BTreeMap::new(),
        }
    }
}

impl<K: Ord + Clone, V: Ord + Clone> LwwMap<K, V> {
    /// The empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Write `key → value` at `timestamp`; returns the delta.
    pub fn insert(&mut self, replica: NodeId, timestamp: u64, key: K, value: V) -> LwwMap<K, V> {
        self.write(replica, timestamp, key, Some(value))
    }

    /// Remove `key` at `timestamp` (a tombstone write); returns the delta.
    pub fn remove(&mut self, replica: NodeId, timestamp: u64, key: K) -> LwwMap<K, V> {
        self.write(replica, timestamp, key, None)
    }

    fn write(&mut self, replica: NodeId, timestamp: u64, key: K, v: Option<V>) -> LwwMap<K, V> {
        let reg = self
            .entries
            .entry(key.clone())
            .or_default()
            .set(replica, timestamp, v);
        LwwMap {
            entries: BTreeMap::from([(key, reg)]),
        }
    }

    /// The live value of `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.entries
            .get(key)
            .and_then(|r| r.get())
            .and_then(Option::as_ref)
    }

    /// The live (key, value) pairs, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.entries
            .iter()
            .filter_map(|(k, r)| r.get().and_then(Option::as_ref).map(|v| (k, v)))
    }
}

impl<K: Ord + Clone + std::fmt::Debug, V: Ord + Clone + std::fmt::Debug> Lattice for LwwMap<K, V> {
    fn join(&mut self, other: &Self) {
        for (k, r) in &other.entries {
            self.entries.entry(k.clone()).or_default().join(r);
        }
    }
    fn frontier(&self, replica: synod_core::NodeId) -> u64 {
        // The latest timestamp `replica` wrote that this map still holds.
        self.entries
            .values()
            .map(|r| r.frontier(replica))
            .max()
            .unwrap_or(0)
    }
}
