//! What the application asks of a commit protocol node and what it is told: shared by
//! [`twopc`](crate::twopc) and [`paxos_commit`](crate::paxos_commit).

use crate::{Outcome, TxId, Violation};
use synod_core::NodeId;

/// What the application asks of a commit-protocol node.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Request<W> {
    /// Coordinate a new transaction over these participants, each with its work. The
    /// node answers [`Event::Begun`] (with the transaction id and `tag`) or
    /// [`Event::Rejected`].
    Begin {
        /// Echoed back in `Begun`/`Rejected` so the caller can match them up.
        tag: u64,
        /// Each participant with its share of the work (the coordinator may be one).
        participants: Vec<(NodeId, W)>,
    },
}

/// A `Begin` the node refused. The caller can fix all of these.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum BeginError {
    /// No participants.
    #[error("a transaction needs at least one participant")]
    NoParticipants,
    /// More participants than the node's `participants_max`.
    #[error("{count} participants, more than the limit of {max}")]
    TooManyParticipants {
        /// How many were given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The same participant twice.
    #[error("participant {0} is listed twice")]
    DuplicateParticipant(NodeId),
    /// The node's `active_max` transactions are in flight; retry later.
    #[error("{0} transactions in flight; retry later")]
    Busy(usize),
}

/// What a commit-protocol node tells the application.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Event {
    /// Coordinator: the transaction started with this id.
    Begun {
        /// The caller's tag.
        tag: u64,
        /// The new transaction.
        tx: TxId,
    },
    /// Coordinator: the `Begin` with this tag was refused.
    Rejected {
        /// The caller's tag.
        tag: u64,
        /// Why.
        error: BeginError,
    },
    /// Coordinator: the outcome is decided (and, for a commit, durable).
    Decided {
        /// The transaction.
        tx: TxId,
        /// The outcome.
        outcome: Outcome,
    },
    /// Participant: the outcome was applied to the local resource.
    Applied {
        /// The transaction.
        tx: TxId,
        /// The outcome.
        outcome: Outcome,
    },
    /// 2PC participant: it is uncertain, its coordinator is silent and every other
    /// participant that answered is uncertain too, so it cannot decide and keeps
    /// waiting (2PC's blocking case). Emitted once per transaction.
    Blocked {
        /// The transaction.
        tx: TxId,
    },
    /// A peer broke the protocol; the message was not applied.
    ProtocolViolation {
        /// The transaction.
        tx: TxId,
        /// The sender.
        from: NodeId,
        /// What was wrong.
        violation: Violation,
    },
}

/// Check a `Begin`'s participant list: non-empty, at most `max`, no duplicates.
pub(crate) fn validate_participants<W>(
    participants: &[(NodeId, W)],
    max: usize,
) -> Result<(), BeginError> {
    if participants.is_empty() {
        return Err(BeginError::NoParticipants);
    }
    if participants.len() > max {
        return Err(BeginError::TooManyParticipants {
            count: participants.len(),
            max,
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    for (p, _) in participants {
        if !seen.insert(*p) {
            return Err(BeginError::DuplicateParticipant(*p));
        }
    }
    Ok(())
}
