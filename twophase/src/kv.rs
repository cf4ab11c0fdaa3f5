//! A reference [`Resource`]: an in-memory key-value shard with strict two-phase
//! locking, used by the tests, the benchmarks and the examples.
//!
//! Locks are taken during [`prepare`](Resource::prepare) — shared for reads,
//! exclusive for writes — and held until [`commit`](Resource::commit) or
//! [`abort`](Resource::abort) (*strict* 2PL). A conflicting request does not wait: the
//! transaction votes no (the *no-wait* policy), so the shard can never deadlock, at the
//! price of aborts under contention. Writes are deferred: they change the data only at
//! commit, which the exclusive locks make invisible to everyone else anyway.
//!
//! Because every participant holds all of a transaction's locks at the moment the
//! coordinator decides, committed transactions are serializable in the order of their
//! commit decisions — the property `tests/bank.rs` checks.

use crate::{Prepared, Resource, TxId};
use std::collections::{BTreeMap, BTreeSet};

/// A key of the shard.
pub type Key = u64;

/// One operation of a transaction's work on a shard.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum KvOp {
    /// Read a key (missing keys read as 0).
    Read {
        /// The key.
        key: Key,
    },
    /// Overwrite a key.
    Write {
        /// The key.
        key: Key,
        /// The new value.
        value: i64,
    },
    /// Add `delta` to a key; vote no if the result would fall below `min`.
    Add {
        /// The key.
        key: Key,
        /// What to add (negative to withdraw).
        delta: i64,
        /// The smallest allowed result, if any (a bank account's floor of 0).
        min: Option<i64>,
    },
}

/// What a prepared transaction did on a shard: the values it read and the values it
/// will write. Durable in the participant's prepared record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KvRedo {
    /// Every key read (including by `Add`) with the value seen, first read only.
    pub reads: Vec<(Key, i64)>,
    /// Every key written with its final value.
    pub writes: Vec<(Key, i64)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Lock {
    Shared(BTreeSet<TxId>),
    Exclusive(TxId),
}

/// An in-memory key-value shard with strict two-phase locking (no-wait).
///
/// ```
/// use synod_core::NodeId;
/// use synod_twophase::kv::{KvOp, KvShard};
/// use synod_twophase::{Prepared, Resource, TxId};
///
/// let t1 = TxId { coordinator: NodeId(1), epoch: 1, seq: 1 };
/// let t2 = TxId { coordinator: NodeId(1), epoch: 1, seq: 2 };
/// let mut shard = KvShard::with_data([(7, 100)]);
/// let withdraw = vec![KvOp::Add { key: 7, delta: -30, min: Some(0) }];
/// let Prepared::Yes(redo) = shard.prepare(t1, &withdraw) else { panic!() };
/// // t2 conflicts with t1's exclusive lock and votes no instead of waiting.
/// assert_eq!(shard.prepare(t2, &vec![KvOp::Read { key: 7 }]), Prepared::No);
/// shard.commit(t1, &redo);
/// assert_eq!(shard.get(7), 70);
/// assert_eq!(shard.prepare(t2, &vec![KvOp::Read { key: 7 }]), Prepared::ReadOnly);
/// ```
#[derive(Clone, Debug, Default)]
pub struct KvShard {
    data: BTreeMap<Key, i64>,
    locks: BTreeMap<Key, Lock>,
    /// Keys each prepared transaction holds locks on.
    held: BTreeMap<TxId, Vec<Key>>,
    /// Committed transactions in commit order, if recording is on.
    history: Option<Vec<(TxId, KvRedo)>>,
}

impl KvShard {
    /// An empty shard.
    pub fn new() -> Self {
        KvShard::default()
    }

    /// A shard holding `data`.
    pub fn with_data(data: impl IntoIterator<Item = (Key, i64)>) -> Self {
        KvShard {
            data: data.into_iter().collect(),
            ..KvShard::default()
        }
    }

    /// Record every committed transaction (for serializability checks in tests; the
    /// record grows with every commit, so leave it off in production).
    pub fn record_history(mut self) -> Self {
        self.history = Some(Vec::new());
        self
    }

    /// The committed value of `key` (0 if never written).
    pub fn get(&self, key: Key) -> i64 {
        self.data.get(&key).copied().unwrap_or(0)
    }

    /// Every key with its committed value.
    pub fn data(&self) -> &BTreeMap<Key, i64> {
        &self.data
    }

    /// Committed transactions in the order this shard committed them, if recording.
    pub fn history(&self) -> &[(TxId, KvRedo)] {
        self.history.as_deref().unwrap_or(&[])
    }

    /// Number of transactions currently holding locks.
    pub fn prepared_count(&self) -> usize {
        self.held.len()
    }

    /// Try to take a lock for `tx`; false on conflict.
    fn lock(&mut self, tx: TxId, key: Key, exclusive: bool) -> bool {
        let lock = match self.locks.get_mut(&key) {
            None => {
                let lock = if exclusive {
                    Lock::Exclusive(tx)
                } else {
                    Lock::Shared(BTreeSet::from([tx]))
                };
                self.locks.insert(key, lock);
                self.held.entry(tx).or_default().push(key);
                return true;
            }
            Some(lock) => lock,
        };
        match lock {
            Lock::Exclusive(owner) => *owner == tx,
            Lock::Shared(owners) if !exclusive => {
                if owners.insert(tx) {
                    self.held.entry(tx).or_default().push(key);
                }
                true
            }
            // Upgrade a shared lock only when `tx` is its sole owner.
            Lock::Shared(owners) => {
                if owners.len() == 1 && owners.contains(&tx) {
                    *lock = Lock::Exclusive(tx);
                    true
                } else {
                    false
                }
            }
        }
    }

    fn release(&mut self, tx: TxId) {
        for key in self.held.remove(&tx).unwrap_or_default() {
            let now_free = match self.locks.get_mut(&key) {
                Some(Lock::Exclusive(owner)) => *owner == tx,
                Some(Lock::Shared(owners)) => {
                    owners.remove(&tx);
                    owners.is_empty()
                }
                None => false,
            };
            if now_free {
                self.locks.remove(&key);
            }
        }
    }
}

impl Resource for KvShard {
    type Work = Vec<KvOp>;
    type Redo = KvRedo;

    fn prepare(&mut self, tx: TxId, work: &Vec<KvOp>) -> Prepared<KvRedo> {
        let mut redo = KvRedo::default();
        // The transaction's own tentative writes, which its later reads see.
        let mut overlay: BTreeMap<Key, i64> = BTreeMap::new();
        for op in work {
            let (key, exclusive) = match *op {
                KvOp::Read { key } => (key, false),
                KvOp::Write { key, .. } | KvOp::Add { key, .. } => (key, true),
            };
            if !self.lock(tx, key, exclusive) {
                self.release(tx);
                return Prepared::No;
            }
            let current = match overlay.get(&key) {
                Some(v) => *v,
                None => {
                    let v = self.get(key);
                    if !redo.reads.iter().any(|(k, _)| *k == key)
                        && !matches!(op, KvOp::Write { .. })
                    {
                        redo.reads.push((key, v));
                    }
                    v
                }
            };
            match *op {
                KvOp::Read { .. } => {}
                KvOp::Write { value, .. } => {
                    overlay.insert(key, value);
                }
                KvOp::Add { delta, min, .. } => {
                    let Some(next) = current.checked_add(delta) else {
                        self.release(tx);
                        return Prepared::No;
                    };
                    if min.is_some_and(|m| next < m) {
                        self.release(tx);
                        return Prepared::No;
                    }
                    overlay.insert(key, next);
                }
            }
        }
        if overlay.is_empty() {
            self.release(tx);
            return Prepared::ReadOnly;
        }
        redo.writes = overlay.into_iter().collect();
        Prepared::Yes(redo)
    }

    fn commit(&mut self, tx: TxId, redo: &KvRedo) {
        for &(key, value) in &redo.writes {
            self.data.insert(key, value);
        }
        self.release(tx);
        if let Some(history) = self.history.as_mut() {
            history.push((tx, redo.clone()));
        }
    }

    fn abort(&mut self, tx: TxId) {
        self.release(tx);
    }

    fn restore_prepared(&mut self, tx: TxId, redo: &KvRedo) {
        // Locks granted before the crash did not conflict, so these cannot either.
        for &(key, _) in &redo.reads {
            self.lock(tx, key, false);
        }
        for &(key, _) in &redo.writes {
            self.lock(tx, key, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synod_core::NodeId;

    fn tx(seq: u64) -> TxId {
        TxId {
            coordinator: NodeId(1),
            epoch: 1,
            seq,
        }
    }

    #[test]
    fn shared_locks_coexist_and_block_writers() {
        // Strict 2PL: two readers share a key; a writer conflicts and votes no.
        let mut s = KvShard::with_data([(1, 5)]);
        let read = vec![KvOp::Read { key: 1 }, KvOp::Write { key: 2, value: 1 }];
        assert!(matches!(s.prepare(tx(1), &read), Prepared::Yes(_)));
        assert!(matches!(
            s.prepare(tx(2), &read[..1].to_vec()),
            Prepared::ReadOnly
        ));
        let write = vec![KvOp::Write { key: 1, value: 9 }];
        assert_eq!(s.prepare(tx(3), &write), Prepared::No);
        s.abort(tx(1));
        assert!(matches!(s.prepare(tx(3), &write), Prepared::Yes(_)));
    }

    #[test]
    fn a_failed_floor_check_votes_no_and_releases() {
        // An overdraft votes no and leaves no lock behind.
        let mut s = KvShard::with_data([(1, 5)]);
        let op = vec![KvOp::Add {
            key: 1,
            delta: -6,
            min: Some(0),
        }];
        assert_eq!(s.prepare(tx(1), &op), Prepared::No);
        assert_eq!(s.prepared_count(), 0);
    }

    #[test]
    fn restored_locks_block_others_until_the_outcome() {
        // A restored in-doubt transaction holds its locks again.
        let mut s = KvShard::new();
        let redo = KvRedo {
            reads: vec![],
            writes: vec![(4, 1)],
        };
        s.restore_prepared(tx(1), &redo);
        assert_eq!(s.prepare(tx(2), &vec![KvOp::Read { key: 4 }]), Prepared::No);
        s.commit(tx(1), &redo);
        assert_eq!(s.get(4), 1);
        assert_eq!(
            s.prepare(tx(2), &vec![KvOp::Read { key: 4 }]),
            Prepared::ReadOnly
        );
    }
}
