//! What 2PC nodes exchange, persist, accept from the application and report to it.

use crate::{Outcome, TxId, Violation, Vote};
use synod_core::NodeId;

/// A message between 2PC nodes. `W` is the resource's work type.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Message<W> {
    /// Coordinator → participant: phase one. Carries the participant list so an
    /// uncertain participant knows whom to ask during cooperative termination.
    Prepare {
        /// The transaction.
        tx: TxId,
        /// Every participant of the transaction, in the order the application gave.
        participants: Vec<NodeId>,
        /// This participant's share of the work.
        work: W,
    },
    /// Participant → coordinator: the answer to `Prepare`.
    Vote {
        /// The transaction.
        tx: TxId,
        /// The vote.
        vote: Vote,
    },
    /// The outcome: coordinator → participant in phase two, or the answer to an
    /// `Inquire` from the coordinator or from a peer that knows it.
    Decision {
        /// The transaction.
        tx: TxId,
        /// The outcome.
        outcome: Outcome,
    },
    /// Participant → coordinator: the COMMIT is applied and durable. (Presumed abort:
    /// aborts are never acknowledged.)
    Ack {
        /// The transaction.
        tx: TxId,
    },
    /// An uncertain participant asks for the outcome: its coordinator (recovery) or
    /// its fellow participants (cooperative termination).
    Inquire {
        /// The transaction.
        tx: TxId,
    },
    /// A peer's answer to `Inquire` when it cannot resolve it.
    Undecided {
        /// The transaction.
        tx: TxId,
        /// Whether the peer is itself uncertain (it voted yes and waits) — as opposed
        /// to knowing nothing useful (it voted read-only, or forgot).
        uncertain: bool,
    },
}

/// A record a 2PC node makes durable. `D` is the resource's redo type.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Record<D> {
    /// A new life of the process began (forced before its first vote, answer or
    /// transaction). Gives coordinators fresh transaction ids, and tells a restarted
    /// participant that it may have forgotten read-only votes.
    Epoch(u64),
    /// Participant, forced before voting yes: the transaction is prepared.
    Prepared {
        /// The transaction.
        tx: TxId,
        /// Every participant, for cooperative termination after a restart.
        participants: Vec<NodeId>,
        /// What to redo (and re-lock) after a crash.
        redo: D,
    },
    /// Participant, forced before acknowledging: the transaction committed here.
    Committed {
        /// The transaction.
        tx: TxId,
    },
    /// Participant, not forced (presumed abort): the transaction aborted here.
    Aborted {
        /// The transaction.
        tx: TxId,
    },
    /// Participant, forced before answering a peer: this node never voted on the
    /// transaction and now never will vote yes (cooperative termination).
    Refused {
        /// The transaction.
        tx: TxId,
    },
    /// Coordinator, forced before any COMMIT leaves: the commit decision, with the
    /// participants that must acknowledge it. Aborts are never logged.
    Decision {
        /// The transaction.
        tx: TxId,
        /// The participants that voted yes.
        participants: Vec<NodeId>,
    },
    /// Coordinator, not forced: every participant acknowledged; forget the decision.
    End {
        /// The transaction.
        tx: TxId,
    },
}

/// What the application asks of a 2PC node.
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
    /// More participants than [`Config::participants_max`](super::Config::participants_max).
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
    /// [`Config::active_max`](super::Config::active_max) transactions are in flight; retry later.
    #[error("{0} transactions in flight; retry later")]
    Busy(usize),
}

/// What a 2PC node tells the application.
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
    /// Participant: it is uncertain, its coordinator is silent and every other
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
