//! Majority quorums: any ⌊n/2⌋ + 1 members.

use synod_core::NodeId;

use crate::error::QuorumError;
use crate::system::{Overlap, QuorumKind, QuorumSystem, committed_by_size, count_reaches};
use crate::tally::sorted_members;

/// Majority quorums over a set of voters: any ⌊n/2⌋ + 1 of them, for reads and writes
/// alike. Tolerates ⌈n/2⌉ − 1 failures; two majorities share at least one member.
///
/// This is the quorum system of Raft (votes and commit), Paxos and ABD.
///
/// ```
/// use synod_core::NodeId;
/// use synod_quorum::{Majority, QuorumKind, QuorumSystem};
///
/// let five = Majority::new((1..=5).map(NodeId))?;
/// assert_eq!(five.size(), 3);
/// assert_eq!(five.fault_tolerance(QuorumKind::Write), 2);
/// assert!(five.is_quorum(QuorumKind::Write, |id| id.0 % 2 == 1)); // 1, 3, 5
/// # Ok::<(), synod_quorum::QuorumError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Majority {
    voters: Vec<NodeId>,
}

impl Majority {
    /// Majority quorums over `voters`; an empty or duplicated list is an error.
    pub fn new(voters: impl IntoIterator<Item = NodeId>) -> Result<Self, QuorumError> {
        Ok(Majority {
            voters: sorted_members(voters)?,
        })
    }

    /// The quorum size, ⌊n/2⌋ + 1.
    pub fn size(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    /// Whether `id` is a voter.
    pub fn contains(&self, id: NodeId) -> bool {
        self.voters.binary_search(&id).is_ok()
    }
}

impl QuorumSystem for Majority {
    fn members(&self) -> &[NodeId] {
        &self.voters
    }

    fn is_quorum(&self, _kind: QuorumKind, has: impl Fn(NodeId) -> bool) -> bool {
        count_reaches(&self.voters, self.size(), has)
    }

    fn overlap(&self) -> Overlap {
        let both = 2 * self.size() - self.voters.len();
        Overlap {
            read_write: both,
            write_write: both,
        }
    }

    fn fault_tolerance(&self, _kind: QuorumKind) -> usize {
        self.voters.len() - self.size()
    }

    /// Uniform over all majorities: every voter is in a fraction q/n of them.
    fn load(&self, _kind: QuorumKind) -> f64 {
        self.size() as f64 / self.voters.len() as f64
    }

    fn committed_value(
        &self,
        _kind: QuorumKind,
        value: impl Fn(NodeId) -> Option<u64>,
    ) -> Option<u64> {
        committed_by_size(&self.voters, self.size(), value)
    }
}
