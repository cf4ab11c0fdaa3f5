//! The vocabulary every commit protocol in this crate shares: transaction ids, votes
//! and outcomes.

use core::fmt;
use synod_core::NodeId;

/// Names one distributed transaction, for its whole life and after.
///
/// A transaction id is minted by its coordinator: the coordinator's node id, the
/// coordinator's *epoch* (bumped and made durable once per life of the process, before
/// its first transaction) and a sequence number within the epoch. The epoch is what
/// keeps a restarted coordinator from reusing an id it handed out before a crash —
/// reuse would let a participant confuse a new transaction with an old, decided one.
///
/// ```
/// use synod_core::NodeId;
/// use synod_twophase::TxId;
/// let tx = TxId { coordinator: NodeId(1), epoch: 2, seq: 7 };
/// assert_eq!(tx.to_string(), "tx(n1.2.7)");
/// assert!(tx < TxId { coordinator: NodeId(1), epoch: 3, seq: 0 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TxId {
    /// The node that coordinates the transaction.
    pub coordinator: NodeId,
    /// The coordinator's epoch (one per life of the coordinator process).
    pub epoch: u64,
    /// Sequence number within the epoch.
    pub seq: u64,
}

impl fmt::Display for TxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tx({}.{}.{})", self.coordinator, self.epoch, self.seq)
    }
}

/// A participant's answer to PREPARE.
///
/// ```
/// use synod_twophase::Vote;
/// assert!(Vote::Yes.allows_commit() && Vote::ReadOnly.allows_commit());
/// assert!(!Vote::No.allows_commit());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Vote {
    /// Prepared: the participant made its work durable and promises to commit if told
    /// to. From now on it is *uncertain* until it learns the outcome.
    Yes,
    /// The participant cannot commit; it has already aborted its part.
    No,
    /// The participant only read: it has released its part and takes no part in phase
    /// two (the presumed-abort read-only optimization).
    ReadOnly,
}

impl Vote {
    /// Whether this vote lets the transaction commit.
    pub fn allows_commit(self) -> bool {
        !matches!(self, Vote::No)
    }
}

/// What was decided for a transaction.
///
/// ```
/// use synod_twophase::Outcome;
/// assert_eq!(Outcome::Commit.to_string(), "commit");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Outcome {
    /// Every participant's work takes effect.
    Commit,
    /// No participant's work takes effect.
    Abort,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Commit => "commit",
            Outcome::Abort => "abort",
        })
    }
}

/// A message that broke the protocol: reported to the application as an event, never
/// applied.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Violation {
    /// A vote from a node that is not a participant of the transaction.
    VoteFromNonParticipant,
    /// COMMIT for a transaction this participant voted no on (or refused during
    /// termination).
    CommitAfterNo,
    /// A decision that contradicts one this node already knows.
    ConflictingDecision {
        /// What this node knows.
        known: Outcome,
        /// What the message claimed.
        claimed: Outcome,
    },
    /// A PREPARE that repeats a transaction id with a different participant list.
    InconsistentPrepare,
    /// A PREPARE whose participant list does not contain the receiver, or is empty
    /// or too long.
    MalformedPrepare,
    /// Paxos Commit: a ballot-0 proposal not sent by the resource manager whose vote
    /// it claims to be.
    ImpersonatedProposal,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::VoteFromNonParticipant => f.write_str("vote from a non-participant"),
            Violation::CommitAfterNo => f.write_str("COMMIT after this participant voted no"),
            Violation::ConflictingDecision { known, claimed } => {
                write!(f, "told {claimed} but the outcome is {known}")
            }
            Violation::InconsistentPrepare => {
                f.write_str("PREPARE repeated with a different participant list")
            }
            Violation::MalformedPrepare => f.write_str("malformed PREPARE"),
            Violation::ImpersonatedProposal => {
                f.write_str("ballot-0 proposal not from its resource manager")
            }
        }
    }
}
