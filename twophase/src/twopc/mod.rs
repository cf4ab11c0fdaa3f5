//! Two-phase commit with presumed abort, cooperative termination and crash recovery.
//!
//! One [`TwoPhaseNode`] per process plays both roles: it coordinates the transactions
//! its application begins, and it is a participant, with its own [`Resource`], in
//! transactions that any node coordinates (its own included — a message to itself is
//! handled inside the step, never sent).
//!
//! # The protocol, and where each rule lives
//!
//! - **Phase one**: the coordinator sends `Prepare` (with the
//!   participant list) to every participant and collects votes, re-sending `Prepare`
//!   to silent participants every [`Config::resend_ticks`]; it aborts if a vote is
//!   missing after [`Config::vote_timeout_ticks`].
//! - **Voting**: a participant forces its `Prepared` record (with the participant
//!   list) before it votes yes; from then on it is uncertain.
//! - **Phase two**: on all-yes the coordinator forces its `Decision` record, *then*
//!   sends `Commit`, re-sending with exponential backoff until every yes-voter
//!   acknowledges, then writes an unforced `End` and forgets the transaction.
//! - **Presumed abort** (Mohan, Lindsay & Obermarck 1986): aborts are not logged by
//!   the coordinator and not acknowledged; read-only voters skip phase two; a
//!   coordinator with no record of a transaction answers "abort".
//! - **Cooperative termination**: an uncertain participant that hears nothing for
//!   [`Config::termination_ticks`] asks its coordinator *and* the other participants.
//!   A peer that knows the outcome tells it; a peer that has not voted refuses the
//!   transaction (durably) and answers abort; if everyone who answers is uncertain the
//!   participant emits [`Event::Blocked`] and keeps asking.
//! - **Recovery**: the constructor replays the log. A coordinator resumes re-sending
//!   logged commit decisions; a participant re-locks in-doubt transactions and asks for
//!   their outcome at its first tick. Each life begins with a forced `Epoch` record, so
//!   transaction ids are never reused.
//!
//! # Bounds
//!
//! At most [`Config::active_max`] transactions in flight per coordinator and
//! [`Config::participants_max`] participants per transaction; a participant remembers
//! the outcomes of its last [`Config::outcomes_max`] transactions (after which it
//! answers peers "don't know" instead of refusing unknown transactions). The log
//! grows; a storage may drop every record of a transaction once it holds its
//! `Committed`/`Aborted` (participant) or `End` (coordinator) record.

mod coordinator;
mod message;
mod participant;

pub use crate::api::{BeginError, Event, Request};
pub use message::{Message, Record};

use crate::plumbing::{CommitNode, Plumbing};
use crate::{Outcome, Resource, TxId};
use coordinator::Coordinator;
use participant::Participant;
use synod_core::{Actions, Input, Node, NodeId};

/// Tuning and limits of a [`TwoPhaseNode`]. Start from [`Config::new`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This node.
    pub id: NodeId,
    /// Ticks before the first re-send of an unanswered `Prepare`, `Commit` or
    /// `Inquire`; doubles on every re-send up to `resend_max_ticks`.
    pub resend_ticks: u64,
    /// Largest interval between re-sends.
    pub resend_max_ticks: u64,
    /// A coordinator aborts a transaction still missing votes after this many ticks.
    pub vote_timeout_ticks: u64,
    /// An uncertain participant starts asking for the outcome after this many ticks.
    pub termination_ticks: u64,
    /// Most participants in one transaction.
    pub participants_max: usize,
    /// Most transactions one coordinator has in flight.
    pub active_max: usize,
    /// How many outcomes a participant remembers to answer peers and duplicates.
    pub outcomes_max: usize,
}

impl Config {
    /// Defaults for node `id`: re-send after 3 ticks (backoff to 48), abort missing
    /// votes after 30 ticks, ask peers after 10 uncertain ticks, 64 participants, 1024
    /// transactions in flight, 65,536 remembered outcomes.
    pub fn new(id: NodeId) -> Self {
        Config {
            id,
            resend_ticks: 3,
            resend_max_ticks: 48,
            vote_timeout_ticks: 30,
            termination_ticks: 10,
            participants_max: 64,
            active_max: 1024,
            outcomes_max: 1 << 16,
        }
    }
}

/// Counters for diagnosis.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages ignored as stale, duplicated or about unknown transactions.
    pub ignored: u64,
    /// Protocol violations reported.
    pub violations: u64,
    /// Messages re-sent after a timeout.
    pub resent: u64,
}

/// The `Actions` buffer of a [`TwoPhaseNode`] over resource `R`.
pub type TwoPhaseActions<R> =
    Actions<Message<<R as Resource>::Work>, Record<<R as Resource>::Redo>, Event>;

/// A process that coordinates its own transactions and participates, with its local
/// resource, in anyone's: two-phase commit with presumed abort.
///
/// # How to drive it
///
/// Build it with [`TwoPhaseNode::recover`] from its configuration, a fresh resource
/// and every record it made durable (empty the first time). Then feed it:
/// [`Input::Request`] with [`Request::Begin`] to start a transaction,
/// [`Input::Message`] for what peers send, [`Input::Tick`] at a steady rate (re-sends,
/// timeouts and termination run on ticks). Perform its actions in order: a
/// [`Record`] in `Persist` must be durable before the messages after it leave.
///
/// # Example
///
/// Two shards, one transaction that moves 10 from key 1 on node 1 to key 2 on node 2,
/// delivered by hand:
///
/// ```
/// use synod_core::{Action, Actions, Input, Node, NodeId};
/// use synod_twophase::kv::{KvOp, KvShard};
/// use synod_twophase::twopc::{Config, Event, Request, TwoPhaseNode};
/// use synod_twophase::Outcome;
///
/// let (n1, n2) = (NodeId(1), NodeId(2));
/// let mut nodes = [
///     TwoPhaseNode::recover(Config::new(n1), KvShard::with_data([(1, 50)]), &[]),
///     TwoPhaseNode::recover(Config::new(n2), KvShard::new(), &[]),
/// ];
/// let mut out = Actions::new();
/// nodes[0].step(Input::Request(Request::Begin { tag: 0, participants: vec![
///     (n1, vec![KvOp::Add { key: 1, delta: -10, min: Some(0) }]),
///     (n2, vec![KvOp::Add { key: 2, delta: 10, min: None }]),
/// ]}), &mut out);
/// // A tiny network: deliver every send until none is left; collect events.
/// let mut events = Vec::new();
/// let mut from = n1;
/// let mut pending: Vec<_> = out.drain().map(|a| (from, a)).collect();
/// while let Some((sender, action)) = pending.pop() {
///     match action {
///         Action::Send { to, msg } => {
///             let i = (to.0 - 1) as usize;
///             nodes[i].step(Input::Message { from: sender, msg }, &mut out);
///             from = to;
///             pending.extend(out.drain().map(|a| (from, a)));
///         }
///         Action::Emit(e) => events.push(e),
///         _ => {} // persist: durable at once in this toy
///     }
/// }
/// assert!(events.iter().any(|e| matches!(e, Event::Decided { outcome: Outcome::Commit, .. })));
/// assert_eq!(nodes[0].resource().get(1), 40);
/// assert_eq!(nodes[1].resource().get(2), 10);
/// ```
pub struct TwoPhaseNode<R: Resource> {
    config: Config,
    /// This life's epoch; transaction ids minted now carry it.
    epoch: u64,
    /// Whether this process had an earlier life (so it may have forgotten votes).
    restarted: bool,
    coordinator: Coordinator<R::Work>,
    participant: Participant<R>,
    plumbing: Plumbing<Message<R::Work>>,
    stats: Stats,
}

impl<R: Resource> TwoPhaseNode<R> {
    /// Rebuild a node from its configuration, a fresh `resource` and every record it
    /// made durable, in order (empty for a new node). Committed work is redone into
    /// `resource`; in-doubt transactions are re-locked and will be asked about at the
    /// first tick; logged commit decisions are re-sent.
    pub fn recover(config: Config, resource: R, log: &[Record<R::Redo>]) -> Self {
        let mut node = TwoPhaseNode {
            epoch: 1,
            restarted: false,
            coordinator: Coordinator::new(),
            participant: Participant::new(resource, config.outcomes_max),
            plumbing: Plumbing::new(config.id),
            stats: Stats::default(),
            config,
        };
        for record in log {
            match record {
                Record::Epoch(e) => {
                    node.epoch = node.epoch.max(e.saturating_add(1));
                    node.restarted = true;
                }
                Record::Decision { tx, participants } => {
                    node.coordinator.replay_decision(*tx, participants);
                }
                Record::End { tx } => node.coordinator.replay_end(*tx),
                other => node.participant.replay(other),
            }
        }
        node.participant.finish_replay();
        node
    }

    /// The local resource.
    pub fn resource(&self) -> &R {
        self.participant.resource()
    }

    /// This node's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Diagnostic counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Transactions this node coordinates that are not yet forgotten.
    pub fn coordinating(&self) -> usize {
        self.coordinator.len()
    }

    /// Transactions this node is uncertain about (voted yes, outcome unknown).
    pub fn in_doubt(&self) -> impl Iterator<Item = TxId> + '_ {
        self.participant.in_doubt()
    }

    /// The outcome this node knows for `tx` as a participant, if it remembers one.
    pub fn outcome(&self, tx: TxId) -> Option<Outcome> {
        self.participant.outcome(tx)
    }
}

impl<R: Resource> Node for TwoPhaseNode<R> {
    type Message = Message<R::Work>;
    type Request = Request<R::Work>;
    type Persist = Record<R::Redo>;
    type Event = Event;

    fn id(&self) -> NodeId {
        self.config.id
    }

    fn step(&mut self, input: Input<Self::Message, Self::Request>, out: &mut TwoPhaseActions<R>) {
        match input {
            Input::Tick => {
                self.coordinator_tick(out);
                self.participant_tick(out);
            }
            Input::Message { from, msg } => self.on_message(from, msg, out),
            Input::Request(Request::Begin { tag, participants }) => {
                self.begin(tag, participants, out)
            }
            Input::Persisted(_) => {}
        }
        self.handle_local(out);
    }
}

impl<R: Resource> CommitNode for TwoPhaseNode<R> {
    fn plumbing(&mut self) -> &mut Plumbing<Message<R::Work>> {
        &mut self.plumbing
    }

    fn epoch_record(&self) -> Record<R::Redo> {
        Record::Epoch(self.epoch)
    }

    fn violations(&mut self) -> &mut u64 {
        &mut self.stats.violations
    }

    fn on_message(&mut self, from: NodeId, msg: Message<R::Work>, out: &mut TwoPhaseActions<R>) {
        match msg {
            Message::Prepare {
                tx,
                participants,
                work,
            } => self.on_prepare(from, tx, participants, work, out),
            Message::Vote { tx, vote } => self.on_vote(from, tx, vote, out),
            Message::Decision { tx, outcome } => self.on_decision(from, tx, outcome, out),
            Message::Ack { tx } => self.on_ack(from, tx, out),
            Message::Inquire { tx } => {
                if tx.coordinator == self.config.id {
                    self.on_inquire_as_coordinator(from, tx, out);
                } else {
                    self.on_inquire_as_peer(from, tx, out);
                }
            }
            Message::Undecided { tx, uncertain } => self.on_undecided(from, tx, uncertain, out),
        }
    }
}
