//! The cluster's membership configuration: who votes and who only listens.

use synod_core::NodeId;

/// A membership configuration (thesis ch. 4): the voters, the voters of the outgoing
/// configuration while a joint change is in progress (C_old of C_old,new, thesis
/// §4.3; empty otherwise), and learners that receive the log but never vote or count
/// toward a quorum.
///
/// It is part of every snapshot's metadata, so a node restored from a snapshot knows
/// whom to talk to. Lists are kept sorted and free of duplicates.
///
/// ```
/// use synod_core::NodeId;
/// use synod_raft::Membership;
/// let m = Membership::new([3, 1, 2].map(NodeId));
/// assert_eq!(m.voters, [1, 2, 3].map(NodeId));
/// assert!(m.is_voter(NodeId(2)) && !m.is_joint());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Membership {
    /// Voters of the configuration (C_new while joint).
    pub voters: Vec<NodeId>,
    /// Voters of the outgoing configuration while joint; empty otherwise.
    pub outgoing: Vec<NodeId>,
    /// Non-voting members.
    pub learners: Vec<NodeId>,
}

impl Membership {
    /// A plain (non-joint) configuration of these voters, without learners.
    pub fn new(voters: impl IntoIterator<Item = NodeId>) -> Self {
        Membership {
            voters: sorted(voters),
            outgoing: Vec::new(),
            learners: Vec::new(),
        }
    }

    /// Whether a joint change is in progress (thesis §4.3).
    pub fn is_joint(&self) -> bool {
        !self.outgoing.is_empty()
    }

    /// Whether `id` votes in either half of the configuration.
    pub fn is_voter(&self, id: NodeId) -> bool {
        self.voters.binary_search(&id).is_ok() || self.outgoing.binary_search(&id).is_ok()
    }

    /// Whether `id` is a member at all (voter or learner).
    pub fn contains(&self, id: NodeId) -> bool {
        self.is_voter(id) || self.learners.binary_search(&id).is_ok()
    }

    /// Every member, voters and learners, sorted, each once.
    pub fn members(&self) -> Vec<NodeId> {
        sorted(
            self.voters
                .iter()
                .chain(&self.outgoing)
                .chain(&self.learners)
                .copied(),
        )
    }
}

fn sorted(ids: impl IntoIterator<Item = NodeId>) -> Vec<NodeId> {
    let mut ids: Vec<NodeId> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}
