//! The `QuorumSystem` trait: "is this set of nodes a quorum", and what follows from it.

use synod_core::NodeId;

use crate::tally::kth_largest;

/// Which of a system's two families of quorums an operation needs.
///
/// Many systems use one family for both (a majority); read/write systems separate them
/// so that only the pairs that must overlap do:
///
/// | kind    | Paxos      | Raft               | Gifford / Dynamo | ABD            |
/// |---------|------------|--------------------|------------------|----------------|
/// | `Read`  | phase 1    | election (votes)   | read quorum *r*  | query phase    |
/// | `Write` | phase 2    | commit (match)     | write quorum *w* | store phase    |
///
/// Every read quorum meets every write quorum. Whether two write quorums must meet
/// depends on the system: Gifford's weighted voting requires it (2w > V, so writes are
/// ordered), Flexible Paxos does not (Howard et al. 2016, §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum QuorumKind {
    /// Phase 1 / election / read.
    Read,
    /// Phase 2 / commit / write.
    Write,
}

impl QuorumKind {
    /// Both kinds, read first.
    pub const BOTH: [QuorumKind; 2] = [QuorumKind::Read, QuorumKind::Write];
}

/// The outcome of counting votes so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum VoteResult {
    /// The granted votes include a quorum.
    Won,
    /// Not yet decided: enough voters have not answered that either outcome is possible.
    Pending,
    /// Even if every voter that has not answered grants, there will be no quorum.
    Lost,
}

/// The least number of nodes two quorums are guaranteed to share.
///
/// A crash-tolerant system needs `read_write >= 1`; a Byzantine dissemination system
/// `f + 1` of both; a masking system `2f + 1` (Malkhi & Reiter 1998).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Overlap {
    /// Least overlap of any read quorum with any write quorum.
    pub read_write: usize,
    /// Least overlap of any two write quorums (0 where the system does not need it).
    pub write_write: usize,
}

/// A quorum system over a fixed set of members.
///
/// Implementations answer the question every replication protocol asks — do the nodes
/// that answered form a quorum? — and report the guarantees that make them correct:
/// [`overlap`](QuorumSystem::overlap) (by formula; [`crate::analysis`] re-derives it by
/// enumeration for small systems, and the test suite checks the two agree),
/// [`fault_tolerance`](QuorumSystem::fault_tolerance) and [`load`](QuorumSystem::load).
///
/// Quorum systems here are *monotone*: a superset of a quorum is a quorum. The provided
/// methods [`vote_result`](QuorumSystem::vote_result) and
/// [`committed_value`](QuorumSystem::committed_value) rely on it.
///
/// ```
/// use synod_core::NodeId;
/// use synod_quorum::{Majority, QuorumKind, QuorumSystem, VoteResult};
///
/// let voters = Majority::new([1, 2, 3].map(NodeId))?;
/// let granted = |id: NodeId| match id.0 { 1 => Some(true), 2 => None, _ => Some(false) };
/// assert_eq!(voters.vote_result(QuorumKind::Read, granted), VoteResult::Pending);
///
/// // Raft's commit index: the greatest index a majority has on disk.
/// let match_index = |id: NodeId| Some([0, 7, 5, 2][id.0 as usize]);
/// assert_eq!(voters.committed_value(QuorumKind::Write, match_index), Some(5));
/// # Ok::<(), synod_quorum::QuorumError>(())
/// ```
pub trait QuorumSystem {
    /// Every member, sorted by id, without duplicates.
    fn members(&self) -> &[NodeId];

    /// Whether the members for which `has` is true include a quorum of `kind`.
    ///
    /// Ids that are not members are never asked about and never counted.
    fn is_quorum(&self, kind: QuorumKind, has: impl Fn(NodeId) -> bool) -> bool;

    /// The overlap any two quorums are guaranteed to have, computed by formula.
    fn overlap(&self) -> Overlap;

    /// The most members that may fail (crash, or stay silent) while a quorum of `kind`
    /// is still made of live members.
    fn fault_tolerance(&self, kind: QuorumKind) -> usize;

    /// The load (Naor & Wool 1998) of quorums of `kind`: the probability that the
    /// busiest member is in the quorum an operation uses, under the access strategy the
    /// implementation documents. Lower is better; a majority of *n* has load ≈ 1/2.
    fn load(&self, kind: QuorumKind) -> f64;

    /// Count votes: `vote(id)` is `Some(true)` for granted, `Some(false)` for refused and
    /// `None` for not yet answered.
    fn vote_result(&self, kind: QuorumKind, vote: impl Fn(NodeId) -> Option<bool>) -> VoteResult {
        if self.is_quorum(kind, |id| vote(id) == Some(true)) {
            VoteResult::Won
        } else if self.is_quorum(kind, |id| vote(id) != Some(false)) {
            VoteResult::Pending
        } else {
            VoteResult::Lost
        }
    }

    /// The greatest value `v` such that the members whose value is at least `v` form a
    /// quorum of `kind`; `None` if the members with a value do not form a quorum.
    ///
    /// With `value` = a follower's match index this is Raft's commit index (before the
    /// current-term rule, §5.4.2). The provided implementation works for any monotone
    /// system in O(n²) quorum tests; size-based systems override it with an
    /// allocation-free selection.
    fn committed_value(
        &self,
        kind: QuorumKind,
        value: impl Fn(NodeId) -> Option<u64>,
    ) -> Option<u64> {
        let mut known: Vec<u64> = self.members().iter().filter_map(|&id| value(id)).collect();
        known.sort_unstable_by(|a, b| b.cmp(a));
        known.dedup();
        // Candidates in decreasing order: the first whose supporters form a quorum wins,
        // and by monotonicity no larger candidate can.
        known
            .into_iter()
            .find(|&candidate| self.is_quorum(kind, |id| value(id).is_some_and(|v| v >= candidate)))
    }
}

/// Committed value for a system whose quorums of one kind are "any `size` members":
/// the `size`-th largest known value.
pub(crate) fn committed_by_size(
    members: &[NodeId],
    size: usize,
    value: impl Fn(NodeId) -> Option<u64>,
) -> Option<u64> {
    kth_largest(members.iter().filter_map(|&id| value(id)), size)
}

/// Whether at least `size` members satisfy `has`.
pub(crate) fn count_reaches(members: &[NodeId], size: usize, has: impl Fn(NodeId) -> bool) -> bool {
    let mut count = 0;
    for &id in members {
        if has(id) {
            count += 1;
            if count >= size {
                return true;
            }
        }
    }
    size == 0
}
