//! Ballots, values, messages and persist records of Paxos Commit.

use crate::{Outcome, TxId};
use core::fmt;
use synod_core::NodeId;

/// A Paxos ballot number, ordered by `(round, epoch, leader)`.
///
/// Round 0 is [`Ballot::FAST`]: the ballot in which each resource manager proposes
/// its own vote directly to the acceptors (Gray & Lamport's "ballot 0"), skipping
/// phase 1. Every other ballot belongs to one leader in one life of that leader (the
/// epoch), so a restarted leader can never reuse a ballot it used before its crash.
///
/// ```
/// use synod_core::NodeId;
/// use synod_twophase::paxos_commit::Ballot;
/// let b = Ballot { round: 1, epoch: 1, leader: NodeId(3) };
/// assert!(Ballot::FAST < b);
/// assert!(b < Ballot { round: 2, epoch: 1, leader: NodeId(1) });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Ballot {
    /// The round; 0 only for [`Ballot::FAST`].
    pub round: u64,
    /// The leader's epoch when it started the ballot.
    pub epoch: u64,
    /// The leader that owns the ballot.
    pub leader: NodeId,
}

impl Ballot {
    /// Ballot 0, owned by each instance's resource manager.
    pub const FAST: Ballot = Ballot {
        round: 0,
        epoch: 0,
        leader: NodeId(0),
    };
}

impl fmt::Display for Ballot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b{}.{}.{}", self.round, self.epoch, self.leader)
    }
}

/// The value one Paxos instance (one resource manager's vote) decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Value {
    /// The resource manager is prepared (voted yes or read-only).
    Prepared,
    /// The resource manager aborts (voted no, or a leader proposed abort for an
    /// instance that had no value).
    Aborted,
}

/// A message between Paxos Commit nodes. `W` is the resource's work type.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Message<W> {
    /// Leader → resource manager: prepare your share.
    Prepare {
        /// The transaction.
        tx: TxId,
        /// Every resource manager (one Paxos instance each).
        rms: Vec<NodeId>,
        /// This resource manager's work.
        work: W,
    },
    /// Proposer → acceptors: accept `value` for `instance` in `ballot`.
    Phase2a {
        /// The transaction.
        tx: TxId,
        /// Every resource manager of the transaction.
        rms: Vec<NodeId>,
        /// The instance: the resource manager whose vote this is.
        instance: NodeId,
        /// The ballot.
        ballot: Ballot,
        /// The proposed value.
        value: Value,
    },
    /// Acceptor → ballot's leader: accepted.
    Phase2b {
        /// The transaction.
        tx: TxId,
        /// The instance.
        instance: NodeId,
        /// The ballot.
        ballot: Ballot,
        /// The accepted value.
        value: Value,
    },
    /// New leader → acceptors: promise `ballot` for every instance of `tx`.
    Phase1a {
        /// The transaction.
        tx: TxId,
        /// Every resource manager of the transaction.
        rms: Vec<NodeId>,
        /// The new ballot.
        ballot: Ballot,
    },
    /// Acceptor → leader: promised, with what it accepted so far.
    Phase1b {
        /// The transaction.
        tx: TxId,
        /// The ballot promised.
        ballot: Ballot,
        /// `(instance, ballot, value)` for every instance the acceptor accepted.
        accepted: Vec<(NodeId, Ballot, Value)>,
    },
    /// Acceptor → leader: your ballot is below one I promised.
    Reject {
        /// The transaction.
        tx: TxId,
        /// The higher ballot.
        promised: Ballot,
    },
    /// The outcome, from a leader that learned it (or anyone who knows it).
    Decision {
        /// The transaction.
        tx: TxId,
        /// The outcome.
        outcome: Outcome,
    },
    /// An uncertain resource manager asks for the outcome; an acceptor that does
    /// not know it becomes leader and finds out.
    Inquire {
        /// The transaction.
        tx: TxId,
        /// Every resource manager of the transaction.
        rms: Vec<NodeId>,
    },
}

/// A record a Paxos Commit node makes durable. `D` is the resource's redo type.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Record<D> {
    /// A new life began (forced before the first ballot or transaction id of it).
    Epoch(u64),
    /// Resource manager, forced before its ballot-0 proposal: its vote (it must never
    /// propose a different value in ballot 0) and, if prepared, its redo.
    Voted {
        /// The transaction.
        tx: TxId,
        /// Every resource manager.
        rms: Vec<NodeId>,
        /// The vote.
        value: Value,
        /// What to redo and re-lock, when it has work to commit.
        redo: Option<D>,
    },
    /// Resource manager, not forced: the outcome was applied (the acceptors can
    /// always tell it again).
    Applied {
        /// The transaction.
        tx: TxId,
        /// The outcome.
        outcome: Outcome,
    },
    /// Acceptor, forced before its phase 1b: the promise.
    Promised {
        /// The transaction.
        tx: TxId,
        /// The ballot.
        ballot: Ballot,
    },
    /// Acceptor, forced before its phase 2b.
    Accepted {
        /// The transaction.
        tx: TxId,
        /// Every resource manager.
        rms: Vec<NodeId>,
        /// The instance.
        instance: NodeId,
        /// The ballot.
        ballot: Ballot,
        /// The value.
        value: Value,
    },
    /// Acceptor, not forced: the outcome is known; its instance state may go.
    Learned {
        /// The transaction.
        tx: TxId,
        /// The outcome.
        outcome: Outcome,
    },
}
