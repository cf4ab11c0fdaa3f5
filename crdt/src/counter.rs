//! Counters: grow-only, positive-negative, and bounded (never below zero) with
//! rights transfer.

use crate::{CrdtError, InvalidState, Lattice};
use std::collections::BTreeMap;
use synod_clocks::{Dot, VersionVector};
use synod_core::NodeId;

/// A grow-only counter: one `u64` per replica, joined by pointwise maximum.
///
/// Entries are a vector sorted by replica id, so a join of two counters over the same
/// replicas is one pass of pointwise maxima with no allocation. A replica's entry
/// cannot wrap ([`CrdtError::Overflow`]); the [`value`](GCounter::value) is a `u128`
/// so the sum of any number of full entries cannot overflow either.
///
/// ```
/// use synod_crdt::{GCounter, Lattice};
/// use synod_core::NodeId;
/// let mut x = GCounter::new();
/// let delta = x.increment(NodeId(1), 5)?;   // the delta is a counter too
/// let mut y = GCounter::new();
/// y.join(&delta);                           // shipping the delta is enough
/// assert_eq!(y, x);
/// assert_eq!(y.value(), 5);
/// # Ok::<(), synod_crdt::CrdtError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct GCounter {
    /// A grow-only counter *is* a version vector read as a sum: the same sorted,
    /// zero-free entries and the same pointwise-maximum join, so it reuses the clocks
    /// type (its serialized form is the vector's, `{entries: [...]}`).
    entries: VersionVector,
}

impl GCounter {
    /// The zero counter.
    pub const fn new() -> Self {
        GCounter {
            entries: VersionVector::new(),
        }
    }

    /// `replica`'s own count.
    pub fn get(&self, replica: NodeId) -> u64 {
        self.entries.get(replica)
    }

    /// The sum over all replicas.
    pub fn value(&self) -> u128 {
        self.entries.iter().map(|e| u128::from(e.1)).sum()
    }

    /// Add `by` at `replica`; returns the delta (the replica's new entry alone).
    ///
    /// # Errors
    /// [`CrdtError::Overflow`] if the replica's entry would pass `u64::MAX`.
    pub fn increment(&mut self, replica: NodeId, by: u64) -> Result<GCounter, CrdtError> {
        if by == 0 {
            return Ok(GCounter::new());
        }
        let next = self
            .get(replica)
            .checked_add(by)
            .ok_or(CrdtError::Overflow)?;
        self.entries.insert(Dot::new(replica, next));
        Ok(GCounter {
            entries: VersionVector::from_entries([(replica, next)]),
        })
    }

    /// Every (replica, count) pair, sorted by replica.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (NodeId, u64)> + '_ {
        self.entries.iter()
    }

    /// Forget a retired replica's entry. Only sound once every replica has joined the
    /// same final entry and agreed to fold it elsewhere (see `docs/crdt.md`).
    pub fn remove_replica(&mut self, replica: NodeId) -> u64 {
        self.entries.remove(replica)
    }
}

impl Lattice for GCounter {
    fn join(&mut self, other: &Self) {
        self.entries.join(&other.entries);
    }

    fn frontier(&self, replica: NodeId) -> u64 {
        self.get(replica)
    }

    fn validate(&self) -> Result<(), InvalidState> {
        // A decoded counter must be canonical: sorted, unique, no zeros.
        self.entries
            .validate()
            .map_err(|_| InvalidState::NotCanonical("counter entries"))
    }
}

/// A counter that goes up and down: a pair of [`GCounter`]s, increments and
/// decrements, each joined by pointwise maximum; the value is their difference.
///
/// The course notes' pairs (increments, decrements): B holds `B(10,0)` and learns
/// `A(35,0)`; it meets C's `C(0,5)`, increments twice more, and everyone ends with
/// `{A(35,0), B(12,0), C(0,5)}`, value `35 + 12 - 5 = 42`.
///
/// ```
/// use synod_crdt::{Lattice, PNCounter};
/// use synod_core::NodeId;
/// let (a, b, c) = (NodeId(1), NodeId(2), NodeId(3));
/// let (mut ra, mut rb, mut rc) = (PNCounter::new(), PNCounter::new(), PNCounter::new());
/// ra.increment(a, 35)?;
/// rb.increment(b, 10)?;
/// rc.decrement(c, 5)?;
/// rb.join(&ra);                       // {A(35,0), B(10,0)}
/// rb.join(&rc);
/// rb.increment(b, 2)?;                // {A(35,0), B(12,0), C(0,5)}
/// ra.join(&rb);
/// assert_eq!((ra.increments().get(b), ra.decrements().get(c)), (12, 5));
/// assert_eq!(ra.value(), 42);
/// # Ok::<(), synod_crdt::CrdtError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PNCounter {
    p: GCounter,
    n: GCounter,
}

impl PNCounter {
    /// The zero counter.
    pub const fn new() -> Self {
        PNCounter {
            p: GCounter::new(),
            n: GCounter::new(),
        }
    }

    /// Increments minus decrements (an `i128`: it cannot overflow).
    pub fn value(&self) -> i128 {
        // Each side is a sum of u64s over at most 2^64 replicas in practice far fewer;
        // both fit i128 for any realistic replica count.
        self.p.value() as i128 - self.n.value() as i128
    }

    /// The increments.
    pub fn increments(&self) -> &GCounter {
        &self.p
    }

    /// The decrements.
    pub fn decrements(&self) -> &GCounter {
        &self.n
    }

    /// Add `by` at `replica`; returns the delta.
    ///
    /// # Errors
    /// [`CrdtError::Overflow`] if the replica's increments would pass `u64::MAX`.
    pub fn increment(&mut self, replica: NodeId, by: u64) -> Result<PNCounter, CrdtError> {
        Ok(PNCounter {
            p: self.p.increment(replica, by)?,
            n: GCounter::new(),
        })
    }

    /// Subtract `by` at `replica`; returns the delta.
    ///
    /// # Errors
    /// [`CrdtError::Overflow`] if the replica's decrements would pass `u64::MAX`.
    pub fn decrement(&mut self, replica: NodeId, by: u64) -> Result<PNCounter, CrdtError> {
        Ok(PNCounter {
            p: GCounter::new(),
            n: self.n.increment(replica, by)?,
        })
    }
}

impl Lattice for PNCounter {
    fn join(&mut self, other: &Self) {
        self.p.join(&other.p);
        self.n.join(&other.n);
    }

    fn frontier(&self, replica: NodeId) -> u64 {
        // Both halves only grow, so their sum does too.
        self.p.get(replica).saturating_add(self.n.get(replica))
    }

    fn validate(&self) -> Result<(), InvalidState> {
        self.p.validate()?;
        self.n.validate()
    }
}

/// A counter that never goes below zero without coordination on every decrement:
/// each replica holds *rights* (what it incremented, plus what others transferred to
/// it, minus what it decremented or transferred away) and may only spend its own.
/// (Balegas et al., "Extending eventually consistent cloud databases for enforcing
/// numeric invariants", 2015.)
///
/// ```
/// use synod_crdt::{BoundedCounter, CrdtError, Lattice};
/// use synod_core::NodeId;
/// let (a, b) = (NodeId(1), NodeId(2));
/// let mut ra = BoundedCounter::new();
/// ra.increment(a, 10)?;
/// let mut rb = ra.clone();
/// assert!(matches!(rb.decrement(b, 1), Err(CrdtError::InsufficientRights { .. })));
/// let delta = ra.transfer(a, b, 4)?;        // A gives B four of its rights
/// rb.join(&delta);
/// rb.decrement(b, 4)?;
/// ra.join(&rb);
/// assert_eq!(ra.value(), 6);
/// assert_eq!((ra.rights(a), ra.rights(b)), (6, 0));
/// # Ok::<(), synod_crdt::CrdtError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BoundedCounter {
    counts: PNCounter,
    /// (from, to) → total transferred; grow-only, joined by maximum, only `from`
    /// writes its rows.
    transfers: BTreeMap<(NodeId, NodeId), u64>,
}

impl BoundedCounter {
    /// The zero counter with no rights anywhere.
    pub const fn new() -> Self {
        BoundedCounter {
            counts: PNCounter::new(),
            transfers: BTreeMap::new(),
        }
    }

    /// The value: increments minus decrements, never negative.
    pub fn value(&self) -> u128 {
        u128::try_from(self.counts.value()).unwrap_or(0)
    }

    /// The rights `replica` may spend, as this replica knows them.
    pub fn rights(&self, replica: NodeId) -> u128 {
        let received: i128 = self
            .transfers
            .iter()
            .filter(|((_, to), _)| *to == replica)
            .map(|(_, n)| i128::from(*n))
            .sum();
        let given: i128 = self
            .transfers
            .range((replica, NodeId(0))..=(replica, NodeId(u64::MAX)))
            .map(|(_, n)| i128::from(*n))
            .sum();
        let own = i128::from(self.counts.p.get(replica)) - i128::from(self.counts.n.get(replica));
        u128::try_from(own + received - given).unwrap_or(0)
    }

    /// Add `by` at `replica` (which gains `by` rights); returns the delta.
    ///
    /// # Errors
    /// [`CrdtError::Overflow`] at `u64::MAX`.
    pub fn increment(&mut self, replica: NodeId, by: u64) -> Result<BoundedCounter, CrdtError> {
        Ok(BoundedCounter {
            counts: self.counts.increment(replica, by)?,
            transfers: BTreeMap::new(),
        })
    }

    /// Subtract `by` at `replica`, spending its rights; returns the delta.
    ///
    /// # Errors
    /// [`CrdtError::InsufficientRights`] if `replica` holds fewer than `by`;
    /// [`CrdtError::Overflow`] at `u64::MAX`.
    pub fn decrement(&mut self, replica: NodeId, by: u64) -> Result<BoundedCounter, CrdtError> {
        self.check_rights(replica, by)?;
        Ok(BoundedCounter {
            counts: self.counts.decrement(replica, by)?,
            transfers: BTreeMap::new(),
        })
    }

    /// Move `by` rights from `from` (the local replica) to `to`; returns the delta.
    ///
    /// # Errors
    /// [`CrdtError::InsufficientRights`], [`CrdtError::SelfTransfer`],
    /// [`CrdtError::Overflow`].
    pub fn transfer(
        &mut self,
        from: NodeId,
        to: NodeId,
        by: u64,
    ) -> Result<BoundedCounter, CrdtError> {
        if from == to {
            return Err(CrdtError::SelfTransfer);
        }
        self.check_rights(from, by)?;
        if by == 0 {
            // Keep the table canonical: no zero rows.
            return Ok(BoundedCounter::new());
        }
        let row = self.transfers.entry((from, to)).or_insert(0);
        let next = row.checked_add(by).ok_or(CrdtError::Overflow)?;
        *row = next;
        Ok(BoundedCounter {
            counts: PNCounter::new(),
            transfers: BTreeMap::from([((from, to), next)]),
        })
    }

    fn check_rights(&self, replica: NodeId, by: u64) -> Result<(), CrdtError> {
        let available = self.rights(replica);
        if available < u128::from(by) {
            return Err(CrdtError::InsufficientRights {
                replica,
                available,
                requested: by,
            });
        }
        Ok(())
    }
}

impl Lattice for BoundedCounter {
    fn join(&mut self, other: &Self) {
        self.counts.join(&other.counts);
        for (k, v) in &other.transfers {
            let e = self.transfers.entry(*k).or_insert(0);
            *e = (*e).max(*v);
        }
    }

    fn frontier(&self, replica: NodeId) -> u64 {
        // The counts and the transfer rows `replica` writes only grow.
        self.transfers
            .range((replica, NodeId(0))..=(replica, NodeId(u64::MAX)))
            .fold(self.counts.frontier(replica), |acc, (_, n)| {
                acc.saturating_add(*n)
            })
    }

    fn validate(&self) -> Result<(), InvalidState> {
        self.counts.validate()?;
        if self.transfers.iter().any(|((f, t), n)| f == t || *n == 0) {
            return Err(InvalidState::NotCanonical("transfer rows"));
        }
        // Rights are not checked here: a delta (one decrement, say) legitimately
        // shows a replica in deficit on its own.
        Ok(())
    }
}
