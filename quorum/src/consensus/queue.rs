//! A FIFO queue replicated by quorum consensus (the course notes' example).
//!
//! Replicas hold a [`QueueState`]: the items not yet dequeued, keyed by the timestamp
//! of their enqueue, plus a *horizon* — every item enqueued at or before it has been
//! dequeued — and the latest timestamp seen. States merge by a join (max horizon, max
//! timestamp, union of items above the horizon), so the log garbage-collects itself:
//! a dequeue just moves the horizon to the item it removed.
//!
//! A [`QueueClient`] runs each operation in two phases: read the state from an
//! initial quorum and merge it into a *view*; compute the response on the view; write
//! the new view to a final quorum. Quorum sizes come from a [`QuorumAssignment`]
//! checked against [`DEPENDENCIES`].
//!
//! Herlihy's method assumes operations are serialized by the transactions around
//! them; this client gives the queue's semantics to operations that do not overlap in
//! time (two concurrent dequeues can both take the head). The test suite drives it
//! that way, while replicas crash and messages are lost, duplicated and reordered.

use std::collections::BTreeMap;

use bytes::Bytes;
use synod_core::{Actions, Input, Node, NodeId};

use super::assignment::{OperationQuorum, QuorumAssignment};
use crate::register::OpNumber;
use crate::round::Round;

/// The queue's operations, as quorum consensus distinguishes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum QueueOp {
    /// Add an item at the tail.
    Enq,
    /// Remove the head of a non-empty queue ("normal" dequeue).
    Deq,
    /// A dequeue that finds the queue empty ("abnormal"): it changes nothing.
    DeqEmpty,
}

/// Which operation's response depends on which (later, earlier). Enqueues depend on
/// the state-changing operations only through timestamps: a new item must be stamped
/// after every earlier one. An abnormal dequeue writes nothing, so nothing depends on it.
pub const DEPENDENCIES: [(QueueOp, QueueOp); 6] = [
    (QueueOp::Enq, QueueOp::Enq),
    (QueueOp::Enq, QueueOp::Deq),
    (QueueOp::Deq, QueueOp::Enq),
    (QueueOp::Deq, QueueOp::Deq),
    (QueueOp::DeqEmpty, QueueOp::Enq),
    (QueueOp::DeqEmpty, QueueOp::Deq),
];

/// Check a queue quorum assignment on `replicas` replicas against [`DEPENDENCIES`].
///
/// ```
/// use synod_quorum::consensus::OperationQuorum as Q;
/// use synod_quorum::consensus::queue::assignment;
///
/// // The course notes' balanced choice on 5 replicas...
/// assert!(assignment(5, Q::new(3, 3), Q::new(3, 3), Q::new(3, 0)).is_ok());
/// // ... and one where an abnormal dequeue can miss the last enqueue.
/// assert!(assignment(5, Q::new(3, 3), Q::new(3, 3), Q::new(2, 0)).is_err());
/// ```
pub fn assignment(
    replicas: usize,
    enq: OperationQuorum,
    deq: OperationQuorum,
    deq_empty: OperationQuorum,
) -> Result<QuorumAssignment<QueueOp>, super::AssignmentError<QueueOp>> {
    QuorumAssignment::new(
        replicas,
        [
            (QueueOp::Enq, enq),
            (QueueOp::Deq, deq),
            (QueueOp::DeqEmpty, deq_empty),
        ],
        DEPENDENCIES,
    )
}

/// A timestamp: a counter, ties broken by the client that made it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Stamp {
    /// Higher is later.
    pub counter: u64,
    /// The client that made it.
    pub client: NodeId,
}

/// A replica's state, and a client's merged view.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct QueueState {
    /// Every item enqueued at or before this has been dequeued.
    pub horizon: Stamp,
    /// The items not yet dequeued, by enqueue timestamp.
    pub items: BTreeMap<Stamp, Bytes>,
    /// The latest timestamp of any operation seen.
    pub latest: Stamp,
}

impl QueueState {
    /// Join `other` into this state; returns whether anything changed.
    pub fn merge(&mut self, other: &QueueState) -> bool {
        let before = (self.horizon, self.latest, self.items.len());
        self.horizon = self.horizon.max(other.horizon);
        self.latest = self.latest.max(other.latest);
        let horizon = self.horizon;
        let mut grew = false;
        for (stamp, item) in other.items.range(horizon..) {
            if *stamp > horizon && !self.items.contains_key(stamp) {
                self.items.insert(*stamp, item.clone());
                grew = true;
            }
        }
        self.items.retain(|stamp, _| *stamp > horizon);
        grew || before != (self.horizon, self.latest, self.items.len())
    }
}

/// Messages between queue clients and replicas.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum QueueMessage {
    /// Client → replica: send me your state.
    Read {
        /// The client's operation.
        op: OpNumber,
    },
    /// Replica → client.
    ReadReply {
        /// The operation.
        op: OpNumber,
        /// The replica's state.
        state: QueueState,
    },
    /// Client → replica: merge this view.
    Write {
        /// The client's operation.
        op: OpNumber,
        /// The new view.
        state: QueueState,
    },
    /// Replica → client: merged (and durable).
    WriteAck {
        /// The operation.
        op: OpNumber,
    },
}

/// What the application asks a queue client.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum QueueRequest {
    /// Enqueue an item.
    Enq(Bytes),
    /// Dequeue the head.
    Deq,
}

/// What a queue node tells the application.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum QueueEvent {
    /// The item is enqueued.
    Enqueued,
    /// The head was removed: here it is.
    Dequeued(Bytes),
    /// The queue was empty (an abnormal dequeue).
    Empty,
    /// The request was refused: a client runs one operation at a time, and replicas
    /// take no requests.
    Refused,
}

type QueueActions = Actions<QueueMessage, QueueState, QueueEvent>;

/// A replica: answers reads, merges writes, persists before acknowledging.
#[derive(Clone, Debug)]
pub struct QueueReplica {
    id: NodeId,
    state: QueueState,
}

impl QueueReplica {
    /// A replica restarted from its persisted states (empty the first time).
    pub fn recover<'a>(id: NodeId, durable: impl IntoIterator<Item = &'a QueueState>) -> Self {
        let mut state = QueueState::default();
        for record in durable {
            state.merge(record);
        }
        QueueReplica { id, state }
    }

    /// The state held.
    pub fn state(&self) -> &QueueState {
        &self.state
    }

    fn on_message(&mut self, from: NodeId, msg: QueueMessage, out: &mut QueueActions) {
        match msg {
            QueueMessage::Read { op } => out.send(
                from,
                QueueMessage::ReadReply {
                    op,
                    state: self.state.clone(),
                },
            ),
            QueueMessage::Write { op, state } => {
                if self.state.merge(&state) {
                    out.persist(self.state.clone());
                }
                out.send(from, QueueMessage::WriteAck { op });
            }
            QueueMessage::ReadReply { .. } | QueueMessage::WriteAck { .. } => {}
        }
    }
}

#[derive(Clone, Debug)]
enum Phase {
    Idle,
    Read {
        round: Round<QueueState, QueueMessage>,
        enq: Option<Bytes>,
    },
    Write {
        round: Round<(), QueueMessage>,
        needed: usize,
        done: QueueEvent,
    },
}

/// A front end that runs queue operations by quorum consensus.
#[derive(Clone, Debug)]
pub struct QueueClient {
    id: NodeId,
    replicas: Vec<NodeId>,
    assignment: QuorumAssignment<QueueOp>,
    next_op: u64,
    phase: Phase,
}

impl QueueClient {
    /// A client of the queue on `replicas`, with a checked `assignment` whose replica
    /// count must match.
    pub fn new(
        id: NodeId,
        replicas: Vec<NodeId>,
        assignment: QuorumAssignment<QueueOp>,
    ) -> Option<Self> {
        let mut replicas = replicas;
        replicas.sort_unstable();
        replicas.dedup();
        (replicas.len() == assignment.replicas()).then_some(QueueClient {
            id,
            replicas,
            assignment,
            next_op: 0,
            phase: Phase::Idle,
        })
    }

    fn size(&self, op: QueueOp) -> OperationQuorum {
        self.assignment.quorum(&op).unwrap_or(OperationQuorum::new(
            self.replicas.len(),
            self.replicas.len(),
        ))
    }

    fn on_request(&mut self, request: QueueRequest, out: &mut QueueActions) {
        if !matches!(self.phase, Phase::Idle) {
            out.emit(QueueEvent::Refused);
            return;
        }
        self.next_op += 1;
        let op = OpNumber(self.next_op);
        let enq = match request {
            QueueRequest::Enq(item) => Some(item),
            QueueRequest::Deq => None,
        };
        let round = Round::start(op, QueueMessage::Read { op }, &self.replicas, out);
        self.phase = Phase::Read { round, enq };
        self.advance(out);
    }

    fn on_message(&mut self, from: NodeId, msg: QueueMessage, out: &mut QueueActions) {
        match (msg, &mut self.phase) {
            (QueueMessage::ReadReply { op, state }, Phase::Read { round, .. }) => {
                round.record(op, from, state);
            }
            (QueueMessage::WriteAck { op }, Phase::Write { round, .. }) => {
                round.record(op, from, ());
            }
            _ => return,
        }
        self.advance(out);
    }

    fn on_tick(&mut self, out: &mut QueueActions) {
        match &mut self.phase {
            Phase::Idle => {}
            Phase::Read { round, .. } => round.on_tick(5, out),
            Phase::Write { round, .. } => round.on_tick(5, out),
        }
    }

    /// Move to the next phase once the current one has its quorum.
    fn advance(&mut self, out: &mut QueueActions) {
        if let Phase::Read { round, enq } = &self.phase {
            // The outcome of a dequeue is unknown until the view is read, so read the
            // larger of the normal and abnormal initial quorums.
            let needed = match enq {
                Some(_) => self.size(QueueOp::Enq).initial,
                None => self
                    .size(QueueOp::Deq)
                    .initial
                    .max(self.size(QueueOp::DeqEmpty).initial),
            };
            if round.replies.count() < needed {
                return;
            }
            let mut view = QueueState::default();
            for (_, state) in round.replies.replies() {
                view.merge(state);
            }
            let op = round.op;
            let stamp = Stamp {
                counter: view.latest.counter.saturating_add(1),
                client: self.id,
            };
            let (kind, done) = match enq.clone() {
                Some(item) => {
                    view.items.insert(stamp, item);
                    view.latest = stamp;
                    (QueueOp::Enq, QueueEvent::Enqueued)
                }
                None => match view.items.pop_first() {
                    Some((head, item)) => {
                        view.horizon = head;
                        view.latest = stamp;
                        (QueueOp::Deq, QueueEvent::Dequeued(item))
                    }
                    None => (QueueOp::DeqEmpty, QueueEvent::Empty),
                },
            };
            let needed = self.size(kind).final_;
            // An empty final quorum (an abnormal dequeue) writes nothing at all.
            let targets = if needed == 0 {
                &[][..]
            } else {
                &self.replicas[..]
            };
            let round = Round::start(op, QueueMessage::Write { op, state: view }, targets, out);
            self.phase = Phase::Write {
                round,
                needed,
                done,
            };
        }
        let written = matches!(&self.phase, Phase::Write { round, needed, .. } if round.replies.count() >= *needed);
        if written
            && let Phase::Write { done, .. } = std::mem::replace(&mut self.phase, Phase::Idle)
        {
            out.emit(done);
        }
    }
}

/// A queue replica or client, as one [`Node`].
#[derive(Clone, Debug)]
pub enum QueueNode {
    /// A replica.
    Replica(QueueReplica),
    /// A front end.
    Client(QueueClient),
}

impl Node for QueueNode {
    type Message = QueueMessage;
    type Request = QueueRequest;
    type Persist = QueueState;
    type Event = QueueEvent;

    fn id(&self) -> NodeId {
        match self {
            QueueNode::Replica(r) => r.id,
            QueueNode::Client(c) => c.id,
        }
    }

    fn step(&mut self, input: Input<QueueMessage, QueueRequest>, out: &mut QueueActions) {
        match (self, input) {
            (QueueNode::Replica(r), Input::Message { from, msg }) => r.on_message(from, msg, out),
            (QueueNode::Replica(_), Input::Request(_)) => out.emit(QueueEvent::Refused),
            (QueueNode::Client(c), Input::Message { from, msg }) => c.on_message(from, msg, out),
            (QueueNode::Client(c), Input::Request(request)) => c.on_request(request, out),
            (QueueNode::Client(c), Input::Tick) => c.on_tick(out),
            (_, Input::Tick | Input::Persisted(_)) => {}
        }
    }
}
