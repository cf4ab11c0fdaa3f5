//! A bounded memory of what happened to recent transactions: both protocols keep
//! outcomes (and votes) to answer duplicates and peers, and both must forget the
//! oldest once they hold `capacity` of them so the table stays bounded.

use std::collections::{BTreeMap, VecDeque};

/// A map that keeps the `capacity` most recently *added* keys, forgetting the oldest
/// first. Overwriting a key keeps its place in line: age counts from first insertion,
/// so a transaction whose memo moves on (voted, then applied) is not kept longer.
pub(crate) struct Recent<K, V> {
    entries: BTreeMap<K, V>,
    /// Keys in the order they were first inserted, oldest first.
    order: VecDeque<K>,
    capacity: usize,
}

impl<K: Ord + Copy, V> Recent<K, V> {
    /// An empty memory of at most `capacity` entries (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        Recent {
            entries: BTreeMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Remember `value` for `key`; returns whether an older entry had to be forgotten
    /// to make room.
    pub(crate) fn insert(&mut self, key: K, value: V) -> bool {
        if self.entries.insert(key, value).is_none() {
            self.order.push_back(key);
        }
        let mut forgot = false;
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.entries.remove(&old);
                forgot = true;
            }
        }
        forgot
    }

    /// What is remembered for `key`.
    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key)
    }

    /// Whether anything is remembered for `key`.
    pub(crate) fn contains_key(&self, key: &K) -> bool {
        self.entries.contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::Recent;

    // Checks the memory stays within capacity and forgets in first-inserted order.
    #[test]
    fn forgets_the_oldest_first() {
        let mut m = Recent::new(2);
        assert!(!m.insert(1, 'a'));
        assert!(!m.insert(2, 'b'));
        assert!(!m.insert(1, 'c')); // overwrite: keeps key 1's place in line
        assert!(m.insert(3, 'd'));
        assert!(!m.contains_key(&1));
        assert_eq!(m.get(&2), Some(&'b'));
        assert_eq!(m.get(&3), Some(&'d'));
    }

    // Checks a capacity of zero still remembers the latest entry.
    #[test]
    fn capacity_is_at_least_one() {
        let mut m = Recent::new(0);
        m.insert(1, ());
        assert!(m.contains_key(&1));
    }
}
