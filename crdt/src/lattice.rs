//! The join-semilattice every CRDT of this crate is, and the shape of a delta mutator.

use crate::{CrdtError, InvalidState};
use synod_clocks::VersionVector;
use synod_core::NodeId;

/// A join-semilattice: [`join`](Lattice::join) is commutative, associative and
/// idempotent, and [`Default`] is the bottom element (the state of a fresh replica).
///
/// Deltas are values of the same type: a delta mutator returns the (small) delta
/// `mδ(X)`, and `X ⊔ mδ(X)` is the mutated state. Because a delta is a full value,
/// deltas can be joined into *delta groups* and shipped in place of the whole state.
///
/// Equality must be semantic: two states that represent the same lattice element must
/// compare equal (every type of this crate keeps a canonical representation).
///
/// ```
/// use synod_crdt::{GCounter, Lattice};
/// use synod_core::NodeId;
/// let (a, b) = (NodeId(1), NodeId(2));
/// let mut x = GCounter::new();
/// let mut y = GCounter::new();
/// x.increment(a, 3)?;
/// y.increment(b, 4)?;
/// let mut xy = x.clone();
/// xy.join(&y);
/// let mut yx = y.clone();
/// yx.join(&x);
/// assert_eq!(xy, yx);
/// assert_eq!(xy.value(), 7);
/// # Ok::<(), synod_crdt::CrdtError>(())
/// ```
pub trait Lattice: Clone + PartialEq + std::fmt::Debug + Default {
    /// Least upper bound of `self` and `other`, in place.
    fn join(&mut self, other: &Self);

    /// Check the invariants a value received from elsewhere must satisfy before it
    /// may be joined (for example: every stored dot is in the causal context). Local
    /// mutators always produce valid values.
    ///
    /// # Errors
    /// [`InvalidState`] naming the broken invariant.
    fn validate(&self) -> Result<(), InvalidState> {
        Ok(())
    }

    /// Whether `self ⊑ other` (joining `self` into `other` changes nothing).
    fn leq(&self, other: &Self) -> bool {
        let mut joined = other.clone();
        joined.join(self);
        joined == *other
    }

    // --- garbage-collection hooks (defaults: nothing to collect) ------------------

    /// The dots this value has seen *contiguously* (every dot up to each replica's
    /// counter): what a replica reports for causal stability. Types without dots
    /// report nothing (the default).
    fn seen(&self) -> VersionVector {
        VersionVector::new()
    }

    /// The largest counter of `replica` this value carries: its last dot, or its
    /// counter entry. A retired replica's frontier is frozen, and a value from a peer
    /// that carries it further is refused. Default: 0 (the type carries no
    /// per-replica information).
    fn frontier(&self, replica: NodeId) -> u64 {
        let _ = replica;
        0
    }

    /// Drop metadata kept only for dots that are causally stable (`stable`, from
    /// [`Stability::stable`](crate::stability::Stability::stable)) without changing
    /// what the value reads. Returns how many entries went and the delta the other
    /// replicas must join to drop them too, or `None` if nothing went. Default:
    /// nothing to prune.
    fn prune(&mut self, stable: &VersionVector) -> Option<(usize, Self)> {
        let _ = stable;
        None
    }
}

/// A delta mutator seen from outside: apply operation `op` at `replica` to `state`
/// in place and return the delta `d` with `state_before ⊔ d == state_after`.
///
/// This is the shape the [`laws`](crate::laws) kit and the
/// [`AntiEntropy`](crate::sync::AntiEntropy) node drive a CRDT through.
pub type Mutator<T, O> = fn(&mut T, NodeId, &O) -> Result<T, CrdtError>;
