//! Vector clocks (Fidge 1988, Mattern 1989) in two representations behind one API:
//! [`DenseVClock`] for a fixed membership indexed by position, and [`SparseVClock`]
//! (a [`VersionVector`]) mapping node ids to counters.
//!
//! Both satisfy the *strong clock condition*: event `a` happened before event `b`
//! if and only if `V(a) < V(b)`.

use crate::{Causality, ClockError, VersionVector};
use core::cmp::Ordering;
use synod_core::NodeId;

/// A sparse vector clock: node id → counter, absent ids at zero. The same type as
/// [`VersionVector`]; see there for its methods.
pub type SparseVClock = VersionVector;

/// The operations every vector clock offers, whatever its representation.
///
/// ```
/// use synod_clocks::{Causality, DenseVClock, Membership, SparseVClock, VectorClock};
/// use synod_core::NodeId;
///
/// fn message_exchange<C: VectorClock>(mut a: C, mut b: C, ida: C::Member, idb: C::Member)
///     -> Result<Causality, synod_clocks::ClockError>
/// {
///     a.event(ida)?;               // a sends ...
///     b.receive(idb, &a)?;         // ... b receives
///     b.causality_with(&a).map(|c| c.reverse())
/// }
/// let members = Membership::new([NodeId(1), NodeId(2)]);
/// let dense = message_exchange(DenseVClock::new(&members), DenseVClock::new(&members), 0, 1)?;
/// let sparse = message_exchange(SparseVClock::new(), SparseVClock::new(), NodeId(1), NodeId(2))?;
/// assert_eq!(dense, Causality::Before);
/// assert_eq!(sparse, Causality::Before);
/// # Ok::<(), synod_clocks::ClockError>(())
/// ```
pub trait VectorClock: Clone {
    /// How a process is named: a position for dense clocks, a [`NodeId`] for sparse.
    type Member: Copy;

    /// The counter of `member` (0 if it has none).
    fn counter(&self, member: Self::Member) -> u64;

    /// Record a local event (or send) of `member`; returns its new counter.
    ///
    /// # Errors
    /// [`ClockError::Overflow`] at `u64::MAX`; [`ClockError::NotMember`] (dense) for
    /// a position outside the membership.
    fn event(&mut self, member: Self::Member) -> Result<u64, ClockError>;

    /// Pointwise maximum with `other` (the join).
    ///
    /// # Errors
    /// [`ClockError::MembershipMismatch`] for dense clocks of different memberships.
    fn merge(&mut self, other: &Self) -> Result<(), ClockError>;

    /// How `self` relates to `other`.
    ///
    /// # Errors
    /// [`ClockError::MembershipMismatch`] for dense clocks of different memberships.
    fn causality_with(&self, other: &Self) -> Result<Causality, ClockError>;

    /// Receive a message stamped `other` at `member`: merge, then count the receive
    /// as an event. Nothing changes on error.
    ///
    /// # Errors
    /// As [`merge`](Self::merge) and [`event`](Self::event).
    fn receive(&mut self, member: Self::Member, other: &Self) -> Result<u64, ClockError> {
        let mut next = self.clone();
        next.merge(other)?;
        let counter = next.event(member)?;
        *self = next;
        Ok(counter)
    }
}

impl VectorClock for VersionVector {
    type Member = NodeId;
    fn counter(&self, member: NodeId) -> u64 {
        self.get(member)
    }
    fn event(&mut self, member: NodeId) -> Result<u64, ClockError> {
        self.increment(member).map(|dot| dot.counter)
    }
    fn merge(&mut self, other: &Self) -> Result<(), ClockError> {
        self.join(other);
        Ok(())
    }
    fn causality_with(&self, other: &Self) -> Result<Causality, ClockError> {
        Ok(self.causality(other))
    }
}

/// A fixed, ordered set of nodes: position `k` of a [`DenseVClock`] counts the
/// events of `ids()[k]`.
///
/// Two memberships are the same if they list the same ids; clocks remember a
/// fingerprint of theirs (64-bit FNV-1a over the ids, plus the length), so combining
/// clocks of different memberships is an error rather than a silent mix-up of
/// positions. Keeping the fingerprint instead of the ids keeps a clock one pointer
/// and one word; two different memberships of equal size collide with probability
/// about 2^-64.
///
/// ```
/// use synod_clocks::Membership;
/// use synod_core::NodeId;
/// let m = Membership::new([NodeId(9), NodeId(3), NodeId(9)]);
/// assert_eq!(m.ids(), &[NodeId(3), NodeId(9)]); // sorted, deduplicated
/// assert_eq!(m.position(NodeId(9)), Some(1));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Membership {
    ids: Vec<NodeId>,
    fingerprint: u64,
}

impl Membership {
    /// The membership of `ids` (sorted and deduplicated).
    pub fn new(ids: impl IntoIterator<Item = NodeId>) -> Self {
        let mut ids: Vec<NodeId> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        // FNV-1a over the ids: deterministic across runs and platforms.
        let mut fingerprint: u64 = 0xcbf2_9ce4_8422_2325;
        for id in &ids {
            for byte in id.0.to_le_bytes() {
                fingerprint ^= u64::from(byte);
                fingerprint = fingerprint.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        Membership { ids, fingerprint }
    }

    /// The members, ascending.
    pub fn ids(&self) -> &[NodeId] {
        &self.ids
    }

    /// The position of `id`, if it is a member.
    pub fn position(&self, id: NodeId) -> Option<usize> {
        self.ids.binary_search(&id).ok()
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// A vector clock over a fixed [`Membership`]: one counter per member, by position.
///
/// Comparison and merge are a single pass over a contiguous array, which is what
/// makes the dense form the fast one (see `docs/clocks.md` for measurements).
///
/// The course notes' three-process diagram (P1: a, b, g; P2: c, d; P3: e, f; b is
/// sent to c and d to f):
///
/// ```
/// use synod_clocks::{Causality, DenseVClock, Membership, VectorClock};
/// use synod_core::NodeId;
/// let m = Membership::new([NodeId(1), NodeId(2), NodeId(3)]);
/// let (mut p1, mut p2, mut p3) = (DenseVClock::new(&m), DenseVClock::new(&m), DenseVClock::new(&m));
/// p1.event(0)?;                      let a = p1.clone();
/// p1.event(0)?;                      let b = p1.clone(); // sent to P2
/// p1.event(0)?;                      let g = p1.clone();
/// p2.receive(1, &b)?;                let c = p2.clone();
/// p2.event(1)?;                      let d = p2.clone(); // sent to P3
/// p3.event(2)?;                      let e = p3.clone();
/// p3.receive(2, &d)?;                let f = p3.clone();
/// assert_eq!(a.counters(), &[1, 0, 0]);
/// assert_eq!(b.counters(), &[2, 0, 0]);
/// assert_eq!(g.counters(), &[3, 0, 0]);
/// assert_eq!(c.counters(), &[2, 1, 0]);
/// assert_eq!(d.counters(), &[2, 2, 0]);
/// assert_eq!(e.counters(), &[0, 0, 1]);
/// assert_eq!(f.counters(), &[2, 2, 2]);
/// assert!(b < f);                                             // b → c → d → f
/// assert_eq!(e.causality(&a)?, Causality::Concurrent);        // "e ??? a"
/// assert_eq!(g.causality(&c)?, Causality::Concurrent);
/// # Ok::<(), synod_clocks::ClockError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DenseVClock {
    fingerprint: u64,
    counters: Vec<u64>,
}

impl DenseVClock {
    /// All counters zero, over `membership`.
    pub fn new(membership: &Membership) -> Self {
        DenseVClock {
            fingerprint: membership.fingerprint,
            counters: vec![0; membership.len()],
        }
    }

    /// A clock over `membership` with the given counters.
    ///
    /// # Errors
    /// [`ClockError::MembershipMismatch`] if the lengths differ.
    pub fn from_counters(membership: &Membership, counters: Vec<u64>) -> Result<Self, ClockError> {
        if counters.len() != membership.len() {
            return Err(ClockError::MembershipMismatch {
                left: membership.len(),
                right: counters.len(),
            });
        }
        Ok(DenseVClock {
            fingerprint: membership.fingerprint,
            counters,
        })
    }

    /// The counters, by member position.
    pub fn counters(&self) -> &[u64] {
        &self.counters
    }

    /// Whether this clock was built over `membership`.
    pub fn is_over(&self, membership: &Membership) -> bool {
        self.fingerprint == membership.fingerprint && self.counters.len() == membership.len()
    }

    #[inline]
    fn check(&self, other: &Self) -> Result<(), ClockError> {
        if self.fingerprint == other.fingerprint && self.counters.len() == other.counters.len() {
            Ok(())
        } else {
            Err(ClockError::MembershipMismatch {
                left: self.counters.len(),
                right: other.counters.len(),
            })
        }
    }

    /// How `self` relates to `other`.
    ///
    /// # Errors
    /// [`ClockError::MembershipMismatch`] if they are over different memberships.
    #[inline]
    pub fn causality(&self, other: &Self) -> Result<Causality, ClockError> {
        self.check(other)?;
        let (mut smaller, mut larger) = (false, false);
        // Branch-free over the whole array: the compiler vectorizes it, and for the
        // 16 or so members a dense clock is meant for this beats an early exit.
        for (a, b) in self.counters.iter().zip(&other.counters) {
            smaller |= a < b;
            larger |= a > b;
        }
        Ok(Causality::from_flags(smaller, larger))
    }

    /// Pointwise maximum with `other`.
    ///
    /// # Errors
    /// [`ClockError::MembershipMismatch`] if they are over different memberships;
    /// nothing changes.
    #[inline]
    pub fn merge(&mut self, other: &Self) -> Result<(), ClockError> {
        self.check(other)?;
        for (a, b) in self.counters.iter_mut().zip(&other.counters) {
            *a = (*a).max(*b);
        }
        Ok(())
    }

    /// Count an event of the member at `position`; returns its new counter.
    ///
    /// # Errors
    /// [`ClockError::Overflow`] at `u64::MAX`, [`ClockError::NotMember`] for a
    /// position outside the membership (reported as `NodeId(position)`).
    pub fn event(&mut self, position: usize) -> Result<u64, ClockError> {
        let counter = self
            .counters
            .get_mut(position)
            .ok_or(ClockError::NotMember(NodeId(position as u64)))?;
        *counter = counter.checked_add(1).ok_or(ClockError::Overflow)?;
        Ok(*counter)
    }

    /// The same history as a sparse clock, naming members by id.
    ///
    /// # Errors
    /// [`ClockError::MembershipMismatch`] if `membership` is not this clock's.
    pub fn to_sparse(&self, membership: &Membership) -> Result<SparseVClock, ClockError> {
        if !self.is_over(membership) {
            return Err(ClockError::MembershipMismatch {
                left: self.counters.len(),
                right: membership.len(),
            });
        }
        Ok(VersionVector::from_entries(
            membership
                .ids
                .iter()
                .copied()
                .zip(self.counters.iter().copied()),
        ))
    }
}

impl PartialOrd for DenseVClock {
    /// `None` for concurrent clocks and for clocks of different memberships.
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.causality(other).ok()?.to_partial_ord()
    }
}

impl VectorClock for DenseVClock {
    type Member = usize;
    fn counter(&self, member: usize) -> u64 {
        self.counters.get(member).copied().unwrap_or(0)
    }
    fn event(&mut self, member: usize) -> Result<u64, ClockError> {
        DenseVClock::event(self, member)
    }
    fn merge(&mut self, other: &Self) -> Result<(), ClockError> {
        DenseVClock::merge(self, other)
    }
    fn causality_with(&self, other: &Self) -> Result<Causality, ClockError> {
        self.causality(other)
    }
}
