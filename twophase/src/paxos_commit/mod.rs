//! Paxos Commit (Gray & Lamport, "Consensus on Transaction Commit", 2006): atomic
//! commitment that does not block when the coordinator crashes.
//!
//! Each resource manager's vote is decided by its own Paxos instance on a shared set
//! of 2F + 1 acceptors. The transaction commits iff every instance decides
//! [`Value::Prepared`]. Because the decision lives in a majority of acceptors rather
//! than in the coordinator's log, any node can find it after the coordinator crashes —
//! as long as F + 1 acceptors are up.
//!
//! # The protocol
//!
//! - **Fast path (ballot 0)**: the coordinator sends `Prepare` to the resource
//!   managers. Each prepares its resource, forces a `Voted` record, and proposes its
//!   vote directly to every acceptor in [`Ballot::FAST`] (phase 2a; phase 1 is
//!   implicit for ballot 0). Acceptors force an `Accepted` record and tell the
//!   coordinator (phase 2b). When F + 1 acceptors accepted one value for an instance,
//!   that value is chosen; the coordinator decides commit when every instance is
//!   chosen `Prepared`, abort as soon as one is chosen `Aborted`, and tells the
//!   resource managers and acceptors.
//! - **Takeover**: a coordinator missing votes after
//!   [`Config::vote_timeout_ticks`], or an acceptor asked by an uncertain resource
//!   manager, becomes leader with a higher [`Ballot`] and runs phase 1 for all
//!   instances of the transaction at once. For each instance it proposes the value
//!   accepted in the highest ballot among F + 1 promises, or `Aborted` if none was —
//!   so a resource manager that never voted cannot hold the transaction up.
//! - **Recovery**: resource managers re-lock prepared transactions from their `Voted`
//!   records and ask; acceptors keep their promises and accepted values. The
//!   coordinator logs nothing: its decision is recomputable from the acceptors.
//!
//! # Differences from the paper
//!
//! Resource managers send their ballot-0 proposal to all 2F + 1 acceptors (the paper
//! allows F + 1 in the failure-free case), acceptors send one phase 2b per instance
//! rather than bundling, and the outcome goes to acceptors too so they can forget
//! instance state. There is no read-only optimization: a read-only resource manager
//! proposes `Prepared` (with no redo) and ignores the outcome. See `docs/twophase.md`
//! for measured message counts against the paper's table.
//!
//! # Bounds
//!
//! At most [`Config::active_max`] transactions led and as many held by the acceptor;
//! outcome memories hold [`Config::outcomes_max`] entries. An acceptor drops a
//! transaction's instance state when it learns the outcome; it must remember that
//! outcome for as long as a leader might still run phase 1 for it (so size
//! `outcomes_max` well above the transactions in flight).

mod acceptor;
mod leader;
mod message;
mod rm;

pub use crate::api::{BeginError, Event, Request};
pub use message::{Ballot, Message, Record, Value};

use crate::backoff::Inquiry;
use crate::memory::Recent;
use crate::plumbing::{CommitNode, Plumbing};
use crate::{Outcome, Resource, TxId};
use acceptor::AcceptorTx;
use leader::LeaderTx;
use rm::{RmMemo, RmTx};
use std::collections::BTreeMap;
use synod_core::{Actions, Input, Node, NodeId};

/// Tuning and topology of a [`PaxosCommitNode`]. Start from [`Config::new`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This node.
    pub id: NodeId,
    /// The 2F + 1 acceptors, the same list on every node.
    pub acceptors: Vec<NodeId>,
    /// Ticks before the first re-send; doubles up to `resend_max_ticks`.
    pub resend_ticks: u64,
    /// Largest interval between re-sends.
    pub resend_max_ticks: u64,
    /// A coordinator still missing ballot-0 votes after this many ticks takes over
    /// with a higher ballot (which proposes abort for silent resource managers).
    pub vote_timeout_ticks: u64,
    /// An uncertain resource manager starts asking after this many ticks.
    pub termination_ticks: u64,
    /// Most resource managers in one transaction.
    pub participants_max: usize,
    /// Most transactions led, and most held by the acceptor.
    pub active_max: usize,
    /// Outcomes remembered by the resource-manager and acceptor roles.
    pub outcomes_max: usize,
}

impl Config {
    /// Defaults for node `id` with these acceptors; timeouts and limits as in
    /// [`twopc::Config::new`](crate::twopc::Config::new).
    pub fn new(id: NodeId, acceptors: Vec<NodeId>) -> Self {
        Config {
            id,
            acceptors,
            resend_ticks: 3,
            resend_max_ticks: 48,
            vote_timeout_ticks: 30,
            termination_ticks: 10,
            participants_max: 64,
            active_max: 1024,
            outcomes_max: 1 << 16,
        }
    }

    /// F: how many acceptors may fail with the protocol still deciding.
    pub fn faults_tolerated(&self) -> usize {
        self.acceptors.len().saturating_sub(1) / 2
    }

    /// F + 1: acceptors that must agree for a value to be chosen.
    pub fn quorum(&self) -> usize {
        self.acceptors.len() / 2 + 1
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
    /// Ballots this node started above ballot 0.
    pub takeovers: u64,
}

/// The `Actions` buffer of a [`PaxosCommitNode`] over resource `R`.
pub type PaxosActions<R> =
    Actions<Message<<R as Resource>::Work>, Record<<R as Resource>::Redo>, Event>;

/// A process in Paxos Commit: coordinator (leader) of the transactions its
/// application begins, resource manager with its local [`Resource`], and — if listed
/// in [`Config::acceptors`] — an acceptor for every transaction.
///
/// Driven exactly like [`TwoPhaseNode`](crate::twopc::TwoPhaseNode): build it with
/// [`recover`](PaxosCommitNode::recover), feed ticks, messages and
/// [`Request::Begin`], perform the actions in order.
///
/// # Example
///
/// The coordinator crashes right after the resource managers voted; with 2PC they
/// would block. Here an acceptor takes over and the transaction commits:
///
/// ```
/// use synod_core::NodeId;
/// use synod_sim::{Fault, LinkConfig, Sim, SimConfig};
/// use synod_twophase::kv::{KvOp, KvShard};
/// use synod_twophase::paxos_commit::{Config, PaxosCommitNode};
/// use synod_twophase::{Event, Outcome, Request};
///
/// let ids = [NodeId(1), NodeId(2), NodeId(3)];
/// let mut config = SimConfig::new(5);
/// config.network = LinkConfig::reliable(10);
/// let mut sim = Sim::new(config, ids, move |id, log: &Vec<_>| {
///     PaxosCommitNode::recover(Config::new(id, ids.to_vec()), KvShard::new(), log)
/// }).unwrap();
/// let write = |key| vec![KvOp::Write { key, value: 1 }];
/// sim.request(NodeId(1), Request::Begin {
///     tag: 0,
///     participants: vec![(NodeId(2), write(2)), (NodeId(3), write(3))],
/// }).unwrap();
/// sim.schedule(15, Fault::Crash(NodeId(1))).unwrap(); // votes are in flight
/// sim.run_for(20_000).unwrap();
/// let applied = sim.events().iter()
///     .filter(|(_, _, e)| matches!(e, Event::Applied { outcome: Outcome::Commit, .. }))
///     .count();
/// assert_eq!(applied, 2);
/// ```
pub struct PaxosCommitNode<R: Resource> {
    config: Config,
    epoch: u64,
    next_seq: u64,
    resource: R,
    /// Resource manager: in-doubt transactions, and what it remembers of others.
    rm: BTreeMap<TxId, RmTx<R::Redo>>,
    rm_memo: Recent<TxId, RmMemo>,
    /// Acceptor: per-transaction promises and accepted values; learned outcomes.
    acceptor: BTreeMap<TxId, AcceptorTx>,
    learned: Recent<TxId, Outcome>,
    /// Leader: ballots in progress.
    leader: BTreeMap<TxId, LeaderTx<R::Work>>,
    plumbing: Plumbing<Message<R::Work>>,
    stats: Stats,
}

impl<R: Resource> PaxosCommitNode<R> {
    /// Rebuild a node from its configuration, a fresh `resource` and every record it
    /// made durable, in order (empty for a new node).
    pub fn recover(config: Config, resource: R, log: &[Record<R::Redo>]) -> Self {
        let mut node = PaxosCommitNode {
            epoch: 1,
            next_seq: 0,
            resource,
            rm: BTreeMap::new(),
            rm_memo: Recent::new(config.outcomes_max),
            acceptor: BTreeMap::new(),
            learned: Recent::new(config.outcomes_max),
            leader: BTreeMap::new(),
            plumbing: Plumbing::new(config.id),
            stats: Stats::default(),
            config,
        };
        let mut prepared: BTreeMap<TxId, (Vec<NodeId>, R::Redo)> = BTreeMap::new();
        for record in log {
            match record {
                Record::Epoch(e) => node.epoch = node.epoch.max(e.saturating_add(1)),
                Record::Voted {
                    tx,
                    rms,
                    value,
                    redo,
                } => match redo {
                    Some(redo) => {
                        prepared.insert(*tx, (rms.clone(), redo.clone()));
                    }
                    None => node.remember_rm(*tx, RmMemo::Voted(*value)),
                },
                Record::Applied { tx, outcome } => {
                    if let Some((_, redo)) = prepared.remove(tx)
                        && *outcome == Outcome::Commit
                    {
                        node.resource.commit(*tx, &redo);
                    }
                    node.remember_rm(*tx, RmMemo::Done(*outcome));
                }
                Record::Promised { tx, ballot } => {
                    if !node.learned.contains_key(tx) {
                        let entry = node
                            .acceptor
                            .entry(*tx)
                            .or_insert_with(|| AcceptorTx::new(Vec::new()));
                        entry.promised = entry.promised.max(*ballot);
                    }
                }
                Record::Accepted {
                    tx,
                    rms,
                    instance,
                    ballot,
                    value,
                } => {
                    if !node.learned.contains_key(tx) {
                        let entry = node
                            .acceptor
                            .entry(*tx)
                            .or_insert_with(|| AcceptorTx::new(rms.clone()));
                        entry.rms.clone_from(rms);
                        entry.promised = entry.promised.max(*ballot);
                        entry.accepted.insert(*instance, (*ballot, *value));
                    }
                }
                Record::Learned { tx, outcome } => {
                    node.acceptor.remove(tx);
                    node.remember_learned(*tx, *outcome);
                }
            }
        }
        for (tx, (rms, redo)) in prepared {
            node.resource.restore_prepared(tx, &redo);
            node.rm.insert(
                tx,
                RmTx {
                    rms,
                    redo,
                    // A recovering resource manager asks at its first tick.
                    inquiry: Inquiry::after(0),
                    rounds: 0,
                },
            );
        }
        node
    }

    /// The local resource.
    pub fn resource(&self) -> &R {
        &self.resource
    }

    /// This node's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Diagnostic counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Transactions this node leads (as coordinator or after a takeover).
    pub fn leading(&self) -> usize {
        self.leader.len()
    }

    /// Transactions this resource manager prepared and has no outcome for.
    pub fn in_doubt(&self) -> impl Iterator<Item = TxId> + '_ {
        self.rm.keys().copied()
    }

    /// The outcome this resource manager applied for `tx`, if it remembers one.
    pub fn outcome(&self, tx: TxId) -> Option<Outcome> {
        match self.rm_memo.get(&tx)? {
            RmMemo::Done(outcome) => Some(*outcome),
            RmMemo::Voted(_) => None,
        }
    }

    fn remember_rm(&mut self, tx: TxId, memo: RmMemo) {
        self.rm_memo.insert(tx, memo);
    }

    fn remember_learned(&mut self, tx: TxId, outcome: Outcome) {
        self.learned.insert(tx, outcome);
    }

    /// Whatever role knows the outcome of `tx`.
    fn known_outcome(&self, tx: TxId) -> Option<Outcome> {
        self.learned.get(&tx).copied().or_else(|| self.outcome(tx))
    }
}

impl<R: Resource> Node for PaxosCommitNode<R> {
    type Message = Message<R::Work>;
    type Request = Request<R::Work>;
    type Persist = Record<R::Redo>;
    type Event = Event;

    fn id(&self) -> NodeId {
        self.config.id
    }

    fn step(&mut self, input: Input<Self::Message, Self::Request>, out: &mut PaxosActions<R>) {
        match input {
            Input::Tick => {
                self.leader_tick(out);
                self.rm_tick(out);
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

impl<R: Resource> CommitNode for PaxosCommitNode<R> {
    fn plumbing(&mut self) -> &mut Plumbing<Message<R::Work>> {
        &mut self.plumbing
    }

    fn epoch_record(&self) -> Record<R::Redo> {
        Record::Epoch(self.epoch)
    }

    fn violations(&mut self) -> &mut u64 {
        &mut self.stats.violations
    }

    fn on_message(&mut self, from: NodeId, msg: Message<R::Work>, out: &mut PaxosActions<R>) {
        match msg {
            Message::Prepare { tx, rms, work } => self.on_prepare(from, tx, rms, work, out),
            Message::Phase2a {
                tx,
                rms,
                instance,
                ballot,
                value,
            } => self.on_phase2a(from, tx, rms, instance, ballot, value, out),
            Message::Phase2b {
                tx,
                instance,
                ballot,
                value,
            } => self.on_phase2b(from, tx, instance, ballot, value, out),
            Message::Phase1a { tx, rms, ballot } => self.on_phase1a(from, tx, rms, ballot, out),
            Message::Phase1b {
                tx,
                ballot,
                accepted,
            } => self.on_phase1b(from, tx, ballot, accepted, out),
            Message::Reject { tx, promised } => self.on_reject(from, tx, promised, out),
            Message::Decision { tx, outcome } => {
                // Every role this node plays learns it (crash faults only: whoever
                // sends a decision learned it from a majority of acceptors or a peer).
                self.rm_learn(from, tx, outcome, out);
                self.acceptor_learn(tx, outcome, out);
                self.decide(tx, outcome, out);
            }
            Message::Inquire { tx, rms } => {
                if let Some(outcome) = self.known_outcome(tx) {
                    self.send(from, Message::Decision { tx, outcome }, out);
                } else if self.leader.contains_key(&tx) {
                    // Already finding out; the answer comes with the decision.
                } else if self.config.acceptors.contains(&self.config.id)
                    || tx.coordinator == self.config.id
                {
                    if rms.len() <= self.config.participants_max && rms.contains(&from) {
                        self.take_over(tx, rms, out);
                    } else {
                        self.stats.ignored += 1;
                    }
                } else {
                    self.stats.ignored += 1;
                }
            }
        }
    }
}
