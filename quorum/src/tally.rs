//! Counting replies: each member once, non-members never.

use synod_core::NodeId;

use crate::error::QuorumError;
use crate::system::{QuorumKind, QuorumSystem};

/// What [`Tally::record`] did with a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Recorded {
    /// The first reply from this member: counted.
    New,
    /// This member already replied: ignored, the first reply is kept.
    Duplicate,
    /// The sender is not a member: ignored.
    NotMember,
}

/// The replies to one round of a quorum protocol, at most one per member.
///
/// Protocols (ABD, the Dynamo coordinator, the masking register) collect replies here
/// so that a duplicated or replayed message, or a reply from a node outside the replica
/// set, can never be counted twice or at all. A Byzantine member that sends two
/// different replies is held to its first.
///
/// ```
/// use synod_core::NodeId;
/// use synod_quorum::{Majority, QuorumKind, QuorumSystem, Recorded, Tally};
///
/// let replicas = Majority::new([1, 2, 3].map(NodeId))?;
/// let mut tally = Tally::new(replicas.members());
/// assert_eq!(tally.record(NodeId(1), "v1"), Recorded::New);
/// assert_eq!(tally.record(NodeId(1), "v1"), Recorded::Duplicate);
/// assert_eq!(tally.record(NodeId(9), "forged"), Recorded::NotMember);
/// assert!(!tally.is_quorum(&replicas, QuorumKind::Read));
/// tally.record(NodeId(3), "v3");
/// assert!(tally.is_quorum(&replicas, QuorumKind::Read));
/// # Ok::<(), synod_quorum::QuorumError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Tally<T> {
    members: Vec<NodeId>,
    replies: Vec<Option<T>>,
    count: usize,
}

impl<T> Tally<T> {
    /// An empty tally over `members` (sorted, without duplicates, as
    /// [`QuorumSystem::members`] returns them).
    pub fn new(members: &[NodeId]) -> Self {
        debug_assert!(
            members.windows(2).all(|w| w[0] < w[1]),
            "members must be sorted"
        );
        Tally {
            members: members.to_vec(),
            replies: members.iter().map(|_| None).collect(),
            count: 0,
        }
    }

    /// Record `reply` from `from`, unless it is a duplicate or from a non-member.
    pub fn record(&mut self, from: NodeId, reply: T) -> Recorded {
        let Ok(slot) = self.members.binary_search(&from) else {
            return Recorded::NotMember;
        };
        if self.replies[slot].is_some() {
            return Recorded::Duplicate;
        }
        self.replies[slot] = Some(reply);
        self.count += 1;
        Recorded::New
    }

    /// The reply recorded for `id`, if any.
    pub fn get(&self, id: NodeId) -> Option<&T> {
        let slot = self.members.binary_search(&id).ok()?;
        self.replies[slot].as_ref()
    }

    /// Whether `id` has replied.
    pub fn has(&self, id: NodeId) -> bool {
        self.get(id).is_some()
    }

    /// How many members have replied.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Whether the members that replied include a quorum of `kind` of `system`.
    pub fn is_quorum<Q: QuorumSystem>(&self, system: &Q, kind: QuorumKind) -> bool {
        system.is_quorum(kind, |id| self.has(id))
    }

    /// The replies so far, in member order.
    pub fn replies(&self) -> impl Iterator<Item = (NodeId, &T)> + '_ {
        self.members
            .iter()
            .zip(&self.replies)
            .filter_map(|(&id, reply)| reply.as_ref().map(|r| (id, r)))
    }

    /// The members that have not replied, in order (to retransmit to).
    pub fn missing(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.members
            .iter()
            .zip(&self.replies)
            .filter(|(_, reply)| reply.is_none())
            .map(|(&id, _)| id)
    }

    /// Forget every reply, keeping the allocation for the next round.
    pub fn clear(&mut self) {
        self.replies.iter_mut().for_each(|r| *r = None);
        self.count = 0;
    }
}

/// Validate and sort a member list: non-empty, no duplicates.
pub(crate) fn sorted_members(
    members: impl IntoIterator<Item = NodeId>,
) -> Result<Vec<NodeId>, QuorumError> {
    let mut sorted: Vec<NodeId> = members.into_iter().collect();
    if sorted.is_empty() {
        return Err(QuorumError::NoMembers);
    }
    sorted.sort_unstable();
    if let Some(pair) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(QuorumError::DuplicateMember(pair[0]));
    }
    Ok(sorted)
}

/// Up to this many top values are selected on the stack; above it, in a `Vec`.
const INLINE_TOP: usize = 16;

/// The `k`-th largest of `values` (1-based), or `None` if there are fewer than `k`.
///
/// Allocation-free for `k <= 16`, which covers the committed index of every voter set
/// up to 31 members: the top `k` are kept sorted in a stack array by insertion.
pub(crate) fn kth_largest(values: impl Iterator<Item = u64>, k: usize) -> Option<u64> {
    if k == 0 {
        return None;
    }
    if k > INLINE_TOP {
        let mut all: Vec<u64> = values.collect();
        if all.len() < k {
            return None;
        }
        let (_, kth, _) = all.select_nth_unstable_by(k - 1, |a, b| b.cmp(a));
        return Some(*kth);
    }
    let mut top = [0u64; INLINE_TOP];
    let mut len = 0;
    for v in values {
        if len == k {
            if v <= top[k - 1] {
                continue;
            }
            len -= 1; // the smallest of the top k falls out
        }
        let mut at = len;
        while at > 0 && top[at - 1] < v {
            top[at] = top[at - 1];
            at -= 1;
        }
        top[at] = v;
        len += 1;
    }
    (len == k).then(|| top[k - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// kth_largest agrees with sorting, on the stack path and the heap path.
    #[test]
    fn kth_largest_matches_sorting() {
        let mut seed = 7u64;
        for n in 0..40usize {
            for k in 0..=n + 1 {
                let values: Vec<u64> = (0..n)
                    .map(|_| {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                        (seed >> 33) % 10
                    })
                    .collect();
                let mut sorted = values.clone();
                sorted.sort_unstable_by(|a, b| b.cmp(a));
                let expected = if k == 0 {
                    None
                } else {
                    sorted.get(k - 1).copied()
                };
                assert_eq!(kth_largest(values.into_iter(), k), expected, "n={n} k={k}");
            }
        }
    }

    /// Members are validated: empty and duplicated lists are typed errors.
    #[test]
    fn members_are_validated() {
        assert_eq!(sorted_members([]), Err(QuorumError::NoMembers));
        assert_eq!(
            sorted_members([NodeId(2), NodeId(1), NodeId(2)]),
            Err(QuorumError::DuplicateMember(NodeId(2)))
        );
        assert_eq!(
            sorted_members([NodeId(2), NodeId(1)]),
            Ok(vec![NodeId(1), NodeId(2)])
        );
    }
}
