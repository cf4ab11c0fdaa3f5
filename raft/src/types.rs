//! The protocol's vocabulary: terms, log indices, entries and the hard state.

use bytes::Bytes;
use core::fmt;
use synod_core::NodeId;

/// A Raft term: a logical epoch with at most one leader (Raft §5.1).
///
/// ```
/// use synod_raft::Term;
/// assert!(Term(2) > Term(1));
/// assert_eq!(Term(1).next(), Term(2));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Term(pub u64);

impl Term {
    /// The term after this one (saturating: a term near `u64::MAX` from a peer cannot wrap).
    pub const fn next(self) -> Term {
        Term(self.0.saturating_add(1))
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}", self.0)
    }
}

/// A position in the replicated log, starting at 1; index 0 is the empty prefix
/// (Raft §5.3).
///
/// ```
/// use synod_raft::LogIndex;
/// assert_eq!(LogIndex(4).next(), LogIndex(5));
/// assert_eq!(LogIndex(0).prev(), LogIndex(0)); // saturates
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct LogIndex(pub u64);

impl LogIndex {
    /// The index after this one (saturating).
    pub const fn next(self) -> LogIndex {
        LogIndex(self.0.saturating_add(1))
    }
    /// The index before this one (saturating at 0).
    pub const fn prev(self) -> LogIndex {
        LogIndex(self.0.saturating_sub(1))
    }
}

impl fmt::Display for LogIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "i{}", self.0)
    }
}

/// What an entry carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum EntryKind {
    /// The empty entry a new leader appends to commit its predecessors' entries
    /// (Raft §5.4.2 and §8; thesis §6.4). Applications skip it.
    Noop,
    /// An application command.
    Command,
    /// A membership configuration (thesis ch. 4): `data` is a
    /// [`Membership::encode`](crate::Membership::encode)d configuration. It takes effect
    /// on each node as soon as it is in that node's log, committed or not (thesis
    /// §4.1). Applications skip it (or decode it to follow the membership).
    Membership,
}

/// One log entry (Raft Figure 2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Entry {
    /// Where it sits in the log.
    pub index: LogIndex,
    /// The term of the leader that created it.
    pub term: Term,
    /// What it carries.
    pub kind: EntryKind,
    /// The command (empty for a no-op).
    pub data: Bytes,
}

impl Entry {
    /// Bytes this entry counts for in batching and flow-control limits: its payload
    /// plus a fixed header allowance, so that empty entries are not free.
    pub fn size_bytes(&self) -> u64 {
        self.data.len() as u64 + 24
    }
}

/// The state a node must make durable before answering anything that depends on it:
/// its current term and the candidate it voted for in that term (Raft Figure 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HardState {
    /// The latest term this node has seen.
    pub term: Term,
    /// Whom it voted for in `term`, if anyone.
    pub voted_for: Option<NodeId>,
}
