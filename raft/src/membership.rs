//! The cluster's membership configuration: who votes and who only listens.

use crate::{LogIndex, MembershipError};
use bytes::Bytes;
use synod_core::NodeId;
use synod_quorum::{Joint, Majority, Overlap, QuorumKind, QuorumSystem};

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
    /// Non-voting members. While joint, a voter being demoted to a learner is
    /// listed here and in `outgoing` (it still votes in C_old).
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

    /// Whether `id` is a learner.
    pub fn is_learner(&self, id: NodeId) -> bool {
        self.learners.binary_search(&id).is_ok()
    }

    /// The configuration these changes lead to, or why they are refused
    /// (thesis ch. 4). Changes apply in order to the voters of `self` (which must not
    /// be joint). If the voter set changes, the result is the joint configuration
    /// C_old,new (`outgoing` = the current voters, thesis §4.3); if only learners
    /// change, it is a plain configuration that can take effect directly, since
    /// learners count toward no quorum.
    ///
    /// ```
    /// use synod_core::NodeId;
    /// use synod_raft::{Membership, MembershipChange, MembershipError};
    /// let current = Membership::new([1, 2, 3].map(NodeId));
    /// let joint = current.apply_changes(&[
    ///     MembershipChange::AddVoter(NodeId(4)),
    ///     MembershipChange::Remove(NodeId(1)),
    /// ])?;
    /// assert_eq!(joint.voters, [2, 3, 4].map(NodeId));
    /// assert_eq!(joint.outgoing, [1, 2, 3].map(NodeId));
    /// let learner = current.apply_changes(&[MembershipChange::AddLearner(NodeId(5))])?;
    /// assert!(!learner.is_joint() && learner.is_learner(NodeId(5)));
    /// assert_eq!(
    ///     current.apply_changes(&[MembershipChange::Promote(NodeId(5))]),
    ///     Err(MembershipError::NotALearner(NodeId(5)))
    /// );
    /// # Ok::<(), MembershipError>(())
    /// ```
    pub fn apply_changes(
        &self,
        changes: &[MembershipChange],
    ) -> Result<Membership, MembershipError> {
        if self.is_joint() {
            return Err(MembershipError::Joint);
        }
        let mut voters = self.voters.clone();
        let mut learners = self.learners.clone();
        for &change in changes {
            let is_member = voters.binary_search(&change.node()).is_ok()
                || learners.binary_search(&change.node()).is_ok();
            match change {
                MembershipChange::AddVoter(id) | MembershipChange::AddLearner(id) if is_member => {
                    return Err(MembershipError::AlreadyMember(id));
                }
                MembershipChange::AddVoter(id) => insert_sorted(&mut voters, id),
                MembershipChange::AddLearner(id) => insert_sorted(&mut learners, id),
                MembershipChange::Promote(id) => {
                    let Ok(at) = learners.binary_search(&id) else {
                        return Err(MembershipError::NotALearner(id));
                    };
                    learners.remove(at);
                    insert_sorted(&mut voters, id);
                }
                MembershipChange::Remove(id) => {
                    if let Ok(at) = voters.binary_search(&id) {
                        voters.remove(at);
                    } else if let Ok(at) = learners.binary_search(&id) {
                        learners.remove(at);
                    } else {
                        return Err(MembershipError::NotAMember(id));
                    }
                }
            }
        }
        if voters.is_empty() {
            return Err(MembershipError::NoVoters);
        }
        if voters == self.voters && learners == self.learners {
            return Err(MembershipError::NoChange);
        }
        let outgoing = if voters == self.voters {
            Vec::new()
        } else {
            self.voters.clone()
        };
        Ok(Membership {
            voters,
            outgoing,
            learners,
        })
    }

    /// The configuration that ends a joint change: C_new of C_old,new (thesis §4.3).
    pub fn leave_joint(&self) -> Membership {
        Membership {
            voters: self.voters.clone(),
            outgoing: Vec::new(),
            learners: self.learners.clone(),
        }
    }

    /// The bytes of a [`EntryKind::Membership`](crate::EntryKind::Membership) entry: a
    /// version byte, then for voters, outgoing voters and learners in turn a `u32`
    /// count followed by that many `u64` ids, all little-endian. Owned here so that
    /// the log format does not depend on the optional serde feature.
    ///
    /// ```
    /// use synod_core::NodeId;
    /// use synod_raft::Membership;
    /// let m = Membership { learners: vec![NodeId(9)], ..Membership::new([1, 2].map(NodeId)) };
    /// assert_eq!(Membership::decode(&m.encode()), Some(m));
    /// assert_eq!(Membership::decode(b"junk"), None);
    /// ```
    pub fn encode(&self) -> Bytes {
        let ids = self.voters.len() + self.outgoing.len() + self.learners.len();
        let mut buf = Vec::with_capacity(1 + 3 * 4 + 8 * ids);
        buf.push(ENCODING_VERSION);
        for list in [&self.voters, &self.outgoing, &self.learners] {
            // A configuration of more than u32::MAX members cannot be built in memory
            // anyway; saturate rather than wrap.
            let count = u32::try_from(list.len()).unwrap_or(u32::MAX);
            buf.extend_from_slice(&count.to_le_bytes());
            for id in list.iter().take(count as usize) {
                buf.extend_from_slice(&id.0.to_le_bytes());
            }
        }
        Bytes::from(buf)
    }

    /// Parse [`encode`](Self::encode)'s bytes. `None` for anything malformed: a wrong
    /// version, truncated or trailing bytes, a list not strictly sorted, or a learner
    /// that is also an incoming voter. Bytes from a peer are never trusted beyond this
    /// check.
    pub fn decode(bytes: &[u8]) -> Option<Membership> {
        let (&version, mut rest) = bytes.split_first()?;
        if version != ENCODING_VERSION {
            return None;
        }
        let mut lists: [Vec<NodeId>; 3] = Default::default();
        for list in &mut lists {
            let (count, tail) = rest.split_first_chunk::<4>()?;
            rest = tail;
            let count = u32::from_le_bytes(*count) as usize;
            // Check the length before allocating: a hostile count cannot reserve memory.
            if rest.len() < count.checked_mul(8)? {
                return None;
            }
            list.reserve_exact(count);
            for _ in 0..count {
                let (id, tail) = rest.split_first_chunk::<8>()?;
                rest = tail;
                list.push(NodeId(u64::from_le_bytes(*id)));
            }
        }
        if !rest.is_empty() {
            return None;
        }
        let [voters, outgoing, learners] = lists;
        let m = Membership {
            voters,
            outgoing,
            learners,
        };
        m.is_well_formed().then_some(m)
    }

    /// Voters present, every list strictly sorted, no learner among the incoming
    /// voters: what a configuration from a peer (log entry or snapshot) must satisfy.
    /// A learner may be an outgoing voter: a voter demoted to a learner keeps its vote
    /// in C_old until C_new takes over (what [`apply_changes`](Self::apply_changes)
    /// builds for `[Remove(id), AddLearner(id)]`).
    pub(crate) fn is_well_formed(&self) -> bool {
        let strictly_sorted = |ids: &[NodeId]| ids.windows(2).all(|w| w[0] < w[1]);
        !self.voters.is_empty()
            && strictly_sorted(&self.voters)
            && strictly_sorted(&self.outgoing)
            && strictly_sorted(&self.learners)
            && !self
                .learners
                .iter()
                .any(|id| self.voters.binary_search(id).is_ok())
    }

    /// The quorum arithmetic of this configuration; `None` without voters.
    pub(crate) fn quorum(&self) -> Option<VoterQuorum> {
        let incoming = Majority::new(self.voters.iter().copied()).ok()?;
        if self.outgoing.is_empty() {
            return Some(VoterQuorum::Simple(incoming));
        }
        let outgoing = Majority::new(self.outgoing.iter().copied()).ok()?;
        Some(VoterQuorum::Joint(Joint::new(incoming, outgoing)))
    }
}

const ENCODING_VERSION: u8 = 1;

/// One step of a membership change (thesis ch. 4), applied with
/// [`Membership::apply_changes`] or requested with
/// [`Request::ChangeMembership`](crate::Request::ChangeMembership).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum MembershipChange {
    /// Add a new voter (through the joint configuration).
    AddVoter(NodeId),
    /// Add a non-voting member that receives the log (takes effect directly).
    AddLearner(NodeId),
    /// Make a learner a voter (through the joint configuration). Promote a learner
    /// once it has caught up (thesis §4.2.1).
    Promote(NodeId),
    /// Remove a voter (through the joint configuration) or a learner (directly).
    Remove(NodeId),
}

impl MembershipChange {
    /// The node this change is about.
    pub fn node(self) -> NodeId {
        match self {
            MembershipChange::AddVoter(id)
            | MembershipChange::AddLearner(id)
            | MembershipChange::Promote(id)
            | MembershipChange::Remove(id) => id,
        }
    }
}

/// Who decides: a majority of the voters, or while joint a majority of each half
/// (thesis §4.3). Counts elections, pre-votes, commits, check-quorum and read rounds.
#[derive(Clone, Debug)]
pub(crate) enum VoterQuorum {
    Simple(Majority),
    Joint(Joint<Majority>),
}

impl VoterQuorum {
    /// Whether `id` votes in either half.
    pub(crate) fn contains(&self, id: NodeId) -> bool {
        self.members().binary_search(&id).is_ok()
    }
}

impl QuorumSystem for VoterQuorum {
    fn members(&self) -> &[NodeId] {
        match self {
            VoterQuorum::Simple(q) => q.members(),
            VoterQuorum::Joint(q) => q.members(),
        }
    }
    fn is_quorum(&self, kind: QuorumKind, has: impl Fn(NodeId) -> bool) -> bool {
        match self {
            VoterQuorum::Simple(q) => q.is_quorum(kind, has),
            VoterQuorum::Joint(q) => q.is_quorum(kind, has),
        }
    }
    fn overlap(&self) -> Overlap {
        match self {
            VoterQuorum::Simple(q) => q.overlap(),
            VoterQuorum::Joint(q) => q.overlap(),
        }
    }
    fn fault_tolerance(&self, kind: QuorumKind) -> usize {
        match self {
            VoterQuorum::Simple(q) => q.fault_tolerance(kind),
            VoterQuorum::Joint(q) => q.fault_tolerance(kind),
        }
    }
    fn load(&self, kind: QuorumKind) -> f64 {
        match self {
            VoterQuorum::Simple(q) => q.load(kind),
            VoterQuorum::Joint(q) => q.load(kind),
        }
    }
    fn committed_value(
        &self,
        kind: QuorumKind,
        value: impl Fn(NodeId) -> Option<u64>,
    ) -> Option<u64> {
        match self {
            VoterQuorum::Simple(q) => q.committed_value(kind, value),
            VoterQuorum::Joint(q) => q.committed_value(kind, value),
        }
    }
}

fn insert_sorted(ids: &mut Vec<NodeId>, id: NodeId) {
    if let Err(at) = ids.binary_search(&id) {
        ids.insert(at, id);
    }
}

fn sorted(ids: impl IntoIterator<Item = NodeId>) -> Vec<NodeId> {
    let mut ids: Vec<NodeId> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The configurations a node's log holds (thesis §4.1: a node uses the latest one in
/// its log, committed or not): the one in force at the compaction point (from the
/// snapshot, or the initial [`Config::voters`](crate::Config::voters)) and every
/// configuration entry after it, in log order. Bounded by the uncompacted log; a
/// snapshot folds the entries it covers into the base.
#[derive(Clone, Debug)]
pub(crate) struct ConfigHistory {
    base: Membership,
    entries: Vec<(LogIndex, Membership)>,
}

impl ConfigHistory {
    pub(crate) fn new(base: Membership) -> Self {
        ConfigHistory {
            base,
            entries: Vec::new(),
        }
    }

    /// The configuration in force: the latest in the log.
    pub(crate) fn latest(&self) -> &Membership {
        self.entries.last().map_or(&self.base, |(_, m)| m)
    }

    /// Index of the latest configuration entry (0 if the base is in force).
    pub(crate) fn latest_index(&self) -> LogIndex {
        self.entries.last().map_or(LogIndex(0), |(i, _)| *i)
    }

    /// The configuration in force at `index` (the latest entry at or before it).
    pub(crate) fn at(&self, index: LogIndex) -> &Membership {
        self.entries
            .iter()
            .rev()
            .find(|(i, _)| *i <= index)
            .map_or(&self.base, |(_, m)| m)
    }

    /// A configuration entry was appended at `index`.
    pub(crate) fn push(&mut self, index: LogIndex, m: Membership) {
        self.truncate_after(index.prev());
        self.entries.push((index, m));
    }

    /// The log was cut after `last`: configurations beyond it are gone, and the latest
    /// one still in the log applies again.
    pub(crate) fn truncate_after(&mut self, last: LogIndex) {
        while self.entries.last().is_some_and(|(i, _)| *i > last) {
            self.entries.pop();
        }
    }

    /// The log was compacted through `index`, where `base` was in force.
    pub(crate) fn compact(&mut self, index: LogIndex, base: Membership) {
        self.entries.retain(|(i, _)| *i > index);
        self.base = base;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The configuration encoding (a peer's bytes): anything but a well-formed
    // configuration is refused, without panicking or allocating for a hostile count.
    #[test]
    fn decode_refuses_malformed_bytes() {
        let m = Membership {
            learners: vec![NodeId(7)],
            ..Membership::new([1, 2].map(NodeId))
        };
        let good = m.encode();
        assert_eq!(Membership::decode(&good), Some(m));
        assert_eq!(
            Membership::decode(&good[..good.len() - 1]),
            None,
            "truncated"
        );
        let mut trailing = good.to_vec();
        trailing.push(0);
        assert_eq!(Membership::decode(&trailing), None, "trailing bytes");
        let mut version = good.to_vec();
        version[0] = 2;
        assert_eq!(Membership::decode(&version), None, "unknown version");
        let huge = [1, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(Membership::decode(&huge), None, "count beyond the bytes");
        let unsorted = Membership {
            voters: vec![NodeId(2), NodeId(1)],
            outgoing: vec![],
            learners: vec![],
        };
        assert_eq!(Membership::decode(&unsorted.encode()), None);
        let voting_learner = Membership {
            learners: vec![NodeId(1)],
            ..Membership::new([1].map(NodeId))
        };
        assert_eq!(Membership::decode(&voting_learner.encode()), None);
        assert_eq!(
            Membership::decode(&Membership::default().encode()),
            None,
            "no voters"
        );
    }

    // Every configuration a change produces is one that peers accept: the leader
    // replicates exactly these bytes, and a follower ignores an append whose
    // configuration does not decode (so a refused encoding would stall the cluster).
    // All one- and two-step changes over five ids, from plain configurations with and
    // without learners — including demoting a voter to a learner in one change.
    #[test]
    fn every_changed_configuration_decodes() {
        let ids = [1, 2, 3, 4, 5].map(NodeId);
        let steps: Vec<MembershipChange> = ids
            .iter()
            .flat_map(|&id| {
                [
                    MembershipChange::AddVoter(id),
                    MembershipChange::AddLearner(id),
                    MembershipChange::Promote(id),
                    MembershipChange::Remove(id),
                ]
            })
            .collect();
        let bases = [
            Membership::new([1, 2, 3].map(NodeId)),
            Membership {
                learners: vec![NodeId(4)],
                ..Membership::new([1, 2].map(NodeId))
            },
        ];
        let mut checked = 0;
        for base in &bases {
            for &a in &steps {
                for b in std::iter::once(None).chain(steps.iter().copied().map(Some)) {
                    let changes: Vec<_> = std::iter::once(a).chain(b).collect();
                    if let Ok(m) = base.apply_changes(&changes) {
                        assert_eq!(
                            Membership::decode(&m.encode()).as_ref(),
                            Some(&m),
                            "{changes:?} on {base:?}"
                        );
                        if m.is_joint() {
                            let next = m.leave_joint();
                            assert_eq!(Membership::decode(&next.encode()), Some(next));
                        }
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 50, "only {checked} valid changes");
    }

    // Thesis §4.1: the configuration in force is the latest in the log; cutting the
    // log reverts to an earlier one, compaction folds entries into the base.
    #[test]
    fn history_follows_appends_truncation_and_compaction() {
        let c = |ids: &[u64]| Membership::new(ids.iter().copied().map(NodeId));
        let mut h = ConfigHistory::new(c(&[1]));
        h.push(LogIndex(3), c(&[1, 2]));
        h.push(LogIndex(7), c(&[1, 2, 3]));
        assert_eq!(
            (h.latest(), h.latest_index()),
            (&c(&[1, 2, 3]), LogIndex(7))
        );
        assert_eq!(h.at(LogIndex(5)), &c(&[1, 2]));
        assert_eq!(h.at(LogIndex(2)), &c(&[1]));
        h.truncate_after(LogIndex(6));
        assert_eq!(h.latest(), &c(&[1, 2]));
        h.compact(LogIndex(4), c(&[1, 2]));
        assert_eq!((h.latest(), h.latest_index()), (&c(&[1, 2]), LogIndex(0)));
        h.push(LogIndex(5), c(&[2]));
        h.push(LogIndex(5), c(&[3])); // replaced at the same index
        assert_eq!(h.latest(), &c(&[3]));
    }
}
