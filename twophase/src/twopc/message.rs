//! What 2PC nodes exchange, persist, accept from the application and report to it.

use crate::{Outcome, TxId, Vote};
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
