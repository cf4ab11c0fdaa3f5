//! Where a register client is in its operation: the query-then-store shape that
//! [`AbdClient`](super::AbdClient) and [`MaskingClient`](super::MaskingClient) share.
//! Each client decides what a finished round means; this module runs the rounds.

use bytes::Bytes;
use synod_core::NodeId;

use super::RegisterActions;
use super::message::{OpNumber, RegisterEvent, RegisterMessage, RequestError, Tagged};
use crate::round::Round;
use crate::system::{QuorumKind, QuorumSystem};

/// One operation at a time: idle, querying a read quorum, or storing at a write
/// quorum. `S` is what the client keeps about a store until it completes.
#[derive(Clone, Debug)]
pub(super) enum Phase<S> {
    Idle,
    /// Asking a read quorum for the highest tag, in order to read or to write
    /// `Some(value)`.
    Query {
        round: Round<Tagged, RegisterMessage>,
        write: Option<Bytes>,
    },
    /// Storing at a write quorum.
    Store {
        round: Round<(), RegisterMessage>,
        then: S,
    },
}

impl<S> Phase<S> {
    /// Whether an operation is running.
    pub(super) fn is_busy(&self) -> bool {
        !matches!(self, Phase::Idle)
    }

    /// The number of a new operation, or — while one runs — a `Busy` rejection
    /// emitted and `None`.
    pub(super) fn begin(&self, next_op: &mut u64, out: &mut RegisterActions) -> Option<OpNumber> {
        match self {
            Phase::Query { round, .. } => {
                out.emit(RegisterEvent::Rejected(RequestError::Busy(round.op)))
            }
            Phase::Store { round, .. } => {
                out.emit(RegisterEvent::Rejected(RequestError::Busy(round.op)))
            }
            Phase::Idle => {
                *next_op += 1;
                return Some(OpNumber(*next_op));
            }
        }
        None
    }

    /// Start querying for operation `op`.
    pub(super) fn query(
        op: OpNumber,
        write: Option<Bytes>,
        servers: &[NodeId],
        out: &mut RegisterActions,
    ) -> Self {
        let round = Round::start(op, RegisterMessage::Query { op }, servers, out);
        Phase::Query { round, write }
    }

    /// Start storing `stored` for operation `op`.
    pub(super) fn store(
        op: OpNumber,
        stored: Tagged,
        then: S,
        servers: &[NodeId],
        out: &mut RegisterActions,
    ) -> Self {
        let round = Round::start(op, RegisterMessage::Store { op, stored }, servers, out);
        Phase::Store { round, then }
    }

    /// Count a tick: retransmit to silent servers every `every` ticks.
    pub(super) fn on_tick(&mut self, every: u32, out: &mut RegisterActions) {
        match self {
            Phase::Idle => {}
            Phase::Query { round, .. } => round.on_tick(every, out),
            Phase::Store { round, .. } => round.on_tick(every, out),
        }
    }

    /// Record a server's reply; true when it completes the running round (a read
    /// quorum of query replies, a write quorum of store acks). Replies to other
    /// operations, duplicates and replies from non-servers count for nothing.
    pub(super) fn on_reply<Q: QuorumSystem>(
        &mut self,
        from: NodeId,
        msg: RegisterMessage,
        servers: &Q,
    ) -> bool {
        match (msg, self) {
            (RegisterMessage::QueryReply { op, stored }, Phase::Query { round, .. }) => {
                round.record(op, from, stored) && round.replies.is_quorum(servers, QuorumKind::Read)
            }
            (RegisterMessage::StoreAck { op }, Phase::Store { round, .. }) => {
                round.record(op, from, ()) && round.replies.is_quorum(servers, QuorumKind::Write)
            }
            _ => false,
        }
    }
}
