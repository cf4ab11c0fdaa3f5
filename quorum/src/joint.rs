//! Joint quorums: a quorum of each of two systems at once.

use synod_core::NodeId;

use crate::system::{Overlap, QuorumKind, QuorumSystem};

/// A quorum of `incoming` *and* a quorum of `outgoing`: Raft's joint consensus
/// (Ongaro's thesis §4.3), used while a cluster moves from one configuration to
/// another so that no decision can be made by either configuration alone.
///
/// ```
/// use synod_core::NodeId;
/// use synod_quorum::{Joint, Majority, QuorumKind, QuorumSystem};
///
/// let old = Majority::new([1, 2, 3].map(NodeId))?;
/// let new = Majority::new([3, 4, 5].map(NodeId))?;
/// let joint = Joint::new(new, old);
/// // {1, 2, 3} is a majority of the old configuration only.
/// assert!(!joint.is_quorum(QuorumKind::Write, |id| id.0 <= 3));
/// assert!(joint.is_quorum(QuorumKind::Write, |id| [2, 3, 4].contains(&id.0)));
/// // The commit index is the lesser of the two configurations' commit indexes.
/// let matched = |id: NodeId| Some([0, 9, 9, 5, 1, 1][id.0 as usize]);
/// assert_eq!(joint.committed_value(QuorumKind::Write, matched), Some(1));
/// # Ok::<(), synod_quorum::QuorumError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Joint<A, B = A> {
    incoming: A,
    outgoing: B,
    members: Vec<NodeId>,
}

impl<A: QuorumSystem, B: QuorumSystem> Joint<A, B> {
    /// The joint system of the configuration being entered and the one being left.
    pub fn new(incoming: A, outgoing: B) -> Self {
        let mut members: Vec<NodeId> = incoming
            .members()
            .iter()
            .chain(outgoing.members())
            .copied()
            .collect();
        members.sort_unstable();
        members.dedup();
        Joint {
            incoming,
            outgoing,
            members,
        }
    }

    /// The configuration being entered.
    pub fn incoming(&self) -> &A {
        &self.incoming
    }

    /// The configuration being left.
    pub fn outgoing(&self) -> &B {
        &self.outgoing
    }
}

impl<A: QuorumSystem, B: QuorumSystem> QuorumSystem for Joint<A, B> {
    fn members(&self) -> &[NodeId] {
        &self.members
    }

    fn is_quorum(&self, kind: QuorumKind, has: impl Fn(NodeId) -> bool) -> bool {
        self.incoming.is_quorum(kind, &has) && self.outgoing.is_quorum(kind, &has)
    }

    /// Joint quorums contain a quorum of each side, so they overlap at least as much
    /// as the better of the two.
    fn overlap(&self) -> Overlap {
        let (a, b) = (self.incoming.overlap(), self.outgoing.overlap());
        Overlap {
            read_write: a.read_write.max(b.read_write),
            write_write: a.write_write.max(b.write_write),
        }
    }

    /// Losing either side's quorum loses the joint quorum.
    fn fault_tolerance(&self, kind: QuorumKind) -> usize {
        self.incoming
            .fault_tolerance(kind)
            .min(self.outgoing.fault_tolerance(kind))
    }

    /// Using each side's strategy independently: an upper bound (the two quorums may
    /// share members).
    fn load(&self, kind: QuorumKind) -> f64 {
        (self.incoming.load(kind) + self.outgoing.load(kind)).min(1.0)
    }

    /// The lesser of the two sides' committed values: a value is committed jointly
    /// exactly when both sides have committed it.
    fn committed_value(
        &self,
        kind: QuorumKind,
        value: impl Fn(NodeId) -> Option<u64>,
    ) -> Option<u64> {
        let a = self.incoming.committed_value(kind, &value)?;
        let b = self.outgoing.committed_value(kind, &value)?;
        Some(a.min(b))
    }
}
