//! Gifford's weighted voting.

use synod_core::NodeId;

use crate::analysis;
use crate::error::QuorumError;
use crate::system::{Overlap, QuorumKind, QuorumSystem};

/// Weighted voting (Gifford 1979): each member holds some votes; a read needs `r`
/// votes and a write `w`, with `r + w > V` (every read sees the last write) and
/// `2w > V` (writes are ordered), where V is the total.
///
/// Heavier members make quorums smaller where they are fast or reliable. Weighted
/// systems are meant for small replica sets: at most 20 members, so that
/// [`load`](QuorumSystem::load) can be computed by enumerating minimal quorums.
///
/// ```
/// use synod_core::NodeId;
/// use synod_quorum::{QuorumKind, QuorumSystem, Weighted};
///
/// // One heavy primary (2 votes) and two light replicas: V = 4, r = 2, w = 3.
/// let gifford = Weighted::new([(NodeId(1), 2), (NodeId(2), 1), (NodeId(3), 1)], 2, 3)?;
/// assert!(gifford.is_quorum(QuorumKind::Read, |id| id == NodeId(1)));
/// assert!(!gifford.is_quorum(QuorumKind::Write, |id| id != NodeId(1)));
/// # Ok::<(), synod_quorum::QuorumError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Weighted {
    members: Vec<NodeId>,
    /// Votes of `members[i]`.
    votes: Vec<u64>,
    total: u64,
    read: u64,
    write: u64,
}

/// The most members a [`Weighted`] system may have.
pub const WEIGHTED_MEMBERS_MAX: usize = 20;

impl Weighted {
    /// Weighted voting over `(member, votes)` pairs; a typed error for zero votes,
    /// duplicates, more than [`WEIGHTED_MEMBERS_MAX`] members, thresholds outside
    /// 1..=V, `r + w <= V` or `2w <= V`.
    pub fn new(
        members: impl IntoIterator<Item = (NodeId, u64)>,
        read: u64,
        write: u64,
    ) -> Result<Self, QuorumError> {
        let mut pairs: Vec<(NodeId, u64)> = members.into_iter().collect();
        let ids = crate::tally::sorted_members(pairs.iter().map(|&(id, _)| id))?;
        if ids.len() > WEIGHTED_MEMBERS_MAX {
            return Err(QuorumError::TooLargeToEnumerate {
                members: ids.len(),
                limit: WEIGHTED_MEMBERS_MAX,
            });
        }
        pairs.sort_unstable_by_key(|&(id, _)| id);
        let mut total = 0u64;
        for &(id, votes) in &pairs {
            total = match total.checked_add(votes) {
                Some(t) if votes > 0 => t,
                _ => return Err(QuorumError::InvalidWeight(id)),
            };
        }
        for size in [read, write] {
            if size == 0 || size > total {
                return Err(QuorumError::SizeOutOfRange { size, total });
            }
        }
        // Neither sum can overflow: both thresholds are at most `total <= u64::MAX`,
        // so compare in u128.
        if u128::from(read) + u128::from(write) <= u128::from(total) {
            return Err(QuorumError::ReadWriteDisjoint { read, write, total });
        }
        if 2 * u128::from(write) <= u128::from(total) {
            return Err(QuorumError::WriteWriteDisjoint { write, total });
        }
        Ok(Weighted {
            members: ids,
            votes: pairs.iter().map(|&(_, v)| v).collect(),
            total,
            read,
            write,
        })
    }

    /// The votes needed for `kind`.
    pub fn threshold(&self, kind: QuorumKind) -> u64 {
        match kind {
            QuorumKind::Read => self.read,
            QuorumKind::Write => self.write,
        }
    }

    /// The votes `id` holds (0 for a non-member).
    pub fn votes(&self, id: NodeId) -> u64 {
        self.members.binary_search(&id).map_or(0, |i| self.votes[i])
    }

    /// The total number of votes, V.
    pub fn total(&self) -> u64 {
        self.total
    }
}

impl QuorumSystem for Weighted {
    fn members(&self) -> &[NodeId] {
        &self.members
    }

    fn is_quorum(&self, kind: QuorumKind, has: impl Fn(NodeId) -> bool) -> bool {
        let needed = self.threshold(kind);
        let mut held = 0u64;
        for (&id, &votes) in self.members.iter().zip(&self.votes) {
            if has(id) {
                held += votes; // cannot overflow: the total fit in u64
                if held >= needed {
                    return true;
                }
            }
        }
        false
    }

    /// At least one member in common for read/write and write/write (the vote
    /// inequalities guarantee shared *votes*; one member is what that means in nodes).
    fn overlap(&self) -> Overlap {
        Overlap {
            read_write: 1,
            write_write: 1,
        }
    }

    /// Failing the heaviest members first is the quickest way to leave fewer than the
    /// threshold's votes alive; one fewer than that many failures is tolerated.
    fn fault_tolerance(&self, kind: QuorumKind) -> usize {
        let mut heaviest = self.votes.clone();
        heaviest.sort_unstable_by(|a, b| b.cmp(a));
        let needed = self.threshold(kind);
        let mut alive = self.total;
        for (failed, votes) in heaviest.into_iter().enumerate() {
            alive -= votes;
            if alive < needed {
                return failed;
            }
        }
        unreachable!("failing every member leaves no votes, below any threshold >= 1")
    }

    /// Uniform over the minimal quorums, found by enumeration (an upper bound on the
    /// optimal load; exact when all members hold equal votes).
    fn load(&self, kind: QuorumKind) -> f64 {
        analysis::uniform_minimal_load(self, kind).expect(
            "construction caps members at WEIGHTED_MEMBERS_MAX, within the enumeration limit",
        )
    }

    fn committed_value(
        &self,
        kind: QuorumKind,
        value: impl Fn(NodeId) -> Option<u64>,
    ) -> Option<u64> {
        let mut known: Vec<(u64, u64)> = self
            .members
            .iter()
            .zip(&self.votes)
            .filter_map(|(&id, &votes)| value(id).map(|v| (v, votes)))
            .collect();
        known.sort_unstable_by_key(|&(v, _)| std::cmp::Reverse(v));
        let needed = self.threshold(kind);
        let mut held = 0u64;
        known.into_iter().find_map(|(v, votes)| {
            held += votes;
            (held >= needed).then_some(v)
        })
    }
}
