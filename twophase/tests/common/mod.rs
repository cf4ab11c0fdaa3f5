//! Shared harness for the simulator tests: a bank spread over four shards, a
//! transfer workload, and the checkers (atomicity after every step; liveness, a
//! constant total and serializability at the end).

#![allow(dead_code)]

use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use synod_core::{Action, Actions, ActionsOf, Input, InputOf, Node, NodeId, PersistToken};
use synod_sim::{
    Delay, Fault, FaultSchedule, Faults, LinkConfig, Sim, SimConfig, SimRng, proptest_cases,
    sim_runner,
};
use synod_twophase::kv::{Key, KvOp, KvRedo, KvShard};
use synod_twophase::paxos_commit::{self, Ballot, PaxosCommitNode, Value};
use synod_twophase::twopc::{self, TwoPhaseNode};
use synod_twophase::{Event, Outcome, Request, TxId, Violation};

/// What the bank harness needs of a commit-protocol node.
pub trait BankNode:
    Node<Request = Request<Vec<KvOp>>, Event = Event, Message: Clone + Debug> + Sized + 'static
{
    fn build(id: NodeId, log: &[Self::Persist]) -> Self;
    fn shard(&self) -> &KvShard;
    /// Nothing in doubt, nothing being coordinated.
    fn idle(&self) -> bool;
}

impl BankNode for TwoPhaseNode<KvShard> {
    fn build(id: NodeId, log: &[Self::Persist]) -> Self {
        let c = twopc::Config::new(id);
        TwoPhaseNode::recover(c, KvShard::with_data(opening(id)).record_history(), log)
    }
    fn shard(&self) -> &KvShard {
        self.resource()
    }
    fn idle(&self) -> bool {
        self.in_doubt().next().is_none() && self.coordinating() == 0
    }
}

/// Paxos Commit with the four shards as its 2F + 1 = 3 acceptors (n1..n3).
impl BankNode for PaxosCommitNode<KvShard> {
    fn build(id: NodeId, log: &[Self::Persist]) -> Self {
        let c = paxos_commit::Config::new(id, SHARDS[..3].to_vec());
        PaxosCommitNode::recover(c, KvShard::with_data(opening(id)).record_history(), log)
    }
    fn shard(&self) -> &KvShard {
        self.resource()
    }
    fn idle(&self) -> bool {
        self.in_doubt().next().is_none() && self.leading() == 0
    }
}

/// A deliberately broken 2PC coordinator, built by tampering with a correct node's
/// outputs: its forced commit-decision record (`Persist(Record::Decision)`, the
/// commit point) becomes a background write placed after the COMMIT messages that
/// follow it. COMMIT can then leave before the decision is durable; a crash in
/// between forgets a commit participants may already have applied, and presumed abort
/// answers "abort" afterwards.
pub struct CommitBeforeDecisionDurable(TwoPhaseNode<KvShard>);

/// Background tokens minted by the tamperer, far from the node's own (which it ignores
/// anyway: `TwoPhaseNode` does not wait for `Persisted`).
const TAMPER_TOKEN: u64 = 1 << 63;

impl Node for CommitBeforeDecisionDurable {
    type Message = <TwoPhaseNode<KvShard> as Node>::Message;
    type Request = <TwoPhaseNode<KvShard> as Node>::Request;
    type Persist = <TwoPhaseNode<KvShard> as Node>::Persist;
    type Event = Event;

    fn id(&self) -> NodeId {
        self.0.id()
    }

    fn step(&mut self, input: InputOf<Self>, out: &mut ActionsOf<Self>) {
        let mut inner = ActionsOf::<Self>::new();
        self.0.step(input, &mut inner);
        let mut delayed = None;
        for action in inner.drain() {
            match action {
                Action::Persist(record @ twopc::Record::Decision { .. }) => {
                    flush_background(&mut delayed, out);
                    delayed = Some(record);
                }
                // The decision's `Decided` event and its COMMIT messages go first ...
                action @ (Action::Send { .. } | Action::Emit(_)) => out.push(action),
                // ... and the decision is written in the background after them.
                other => {
                    flush_background(&mut delayed, out);
                    out.push(other);
                }
            }
        }
        flush_background(&mut delayed, out);
    }
}

fn flush_background<M, E>(
    delayed: &mut Option<twopc::Record<KvRedo>>,
    out: &mut synod_core::Actions<M, twopc::Record<KvRedo>, E>,
) {
    if let Some(data) = delayed.take() {
        out.persist_in_background(PersistToken(TAMPER_TOKEN), data);
    }
}

impl BankNode for CommitBeforeDecisionDurable {
    fn build(id: NodeId, log: &[Self::Persist]) -> Self {
        CommitBeforeDecisionDurable(TwoPhaseNode::build(id, log))
    }
    fn shard(&self) -> &KvShard {
        self.0.shard()
    }
    fn idle(&self) -> bool {
        self.0.idle()
    }
}

/// A deliberately broken Paxos Commit leader, built by tampering with a correct
/// node's outputs: in a takeover ballot (above `Ballot::FAST`) it proposes `Prepared`
/// instead of `Aborted` for an instance no acceptor reported a value for — committing
/// for a resource manager that may never have voted (Gray & Lamport §4 require abort).
///
/// The tamperer learns what acceptors reported from the `Phase1b` messages the node
/// receives and what its own acceptor accepted from its `Accepted` records (its own
/// promise never leaves the node); it only rewrites proposals for instances nobody
/// reported, and a rewrite sticks for the ballot so re-sends agree. The proposal the
/// node makes to its own acceptor is delivered inside the step and keeps `Aborted`.
pub struct PreparedForSilentInstances {
    node: PaxosCommitNode<KvShard>,
    /// Per transaction, instances some acceptor reported (or this one accepted) a value for.
    reported: BTreeMap<TxId, BTreeSet<NodeId>>,
    /// (transaction, ballot, instance) proposals this tamperer rewrote.
    rewritten: BTreeSet<(TxId, Ballot, NodeId)>,
}

impl PreparedForSilentInstances {
    fn note_accepted(&mut self, record: &paxos_commit::Record<KvRedo>) {
        if let paxos_commit::Record::Accepted { tx, instance, .. } = record {
            self.reported.entry(*tx).or_default().insert(*instance);
        }
    }
}

impl Node for PreparedForSilentInstances {
    type Message = <PaxosCommitNode<KvShard> as Node>::Message;
    type Request = <PaxosCommitNode<KvShard> as Node>::Request;
    type Persist = <PaxosCommitNode<KvShard> as Node>::Persist;
    type Event = Event;

    fn id(&self) -> NodeId {
        self.node.id()
    }

    fn step(&mut self, input: InputOf<Self>, out: &mut ActionsOf<Self>) {
        if let synod_core::Input::Message {
            msg: paxos_commit::Message::Phase1b { tx, accepted, .. },
            ..
        } = &input
        {
            let seen = self.reported.entry(*tx).or_default();
            seen.extend(accepted.iter().map(|(instance, _, _)| *instance));
        }
        let mut inner = ActionsOf::<Self>::new();
        self.node.step(input, &mut inner);
        for mut action in inner.drain() {
            match &mut action {
                Action::Persist(record) | Action::PersistInBackground { data: record, .. } => {
                    self.note_accepted(record);
                }
                Action::Send {
                    msg:
                        paxos_commit::Message::Phase2a {
                            tx,
                            instance,
                            ballot,
                            value,
                            ..
                        },
                    ..
                } if *ballot != Ballot::FAST => {
                    let key = (*tx, *ballot, *instance);
                    let silent = !self
                        .reported
                        .get(tx)
                        .is_some_and(|seen| seen.contains(instance));
                    if *value == Value::Aborted && (silent || self.rewritten.contains(&key)) {
                        self.rewritten.insert(key);
                        *value = Value::Prepared;
                    }
                }
                _ => {}
            }
            out.push(action);
        }
    }
}

impl BankNode for PreparedForSilentInstances {
    fn build(id: NodeId, log: &[Self::Persist]) -> Self {
        let mut node = PreparedForSilentInstances {
            node: PaxosCommitNode::build(id, log),
            reported: BTreeMap::new(),
            rewritten: BTreeSet::new(),
        };
        for record in log {
            node.note_accepted(record);
        }
        node
    }
    fn shard(&self) -> &KvShard {
        self.node.shard()
    }
    fn idle(&self) -> bool {
        self.node.idle()
    }
}

/// How long transfers arrive and faults strike before the network heals.
pub const HORIZON: u64 = 20_000;

/// One bank run: 200 transfers under `schedule` until `HORIZON`, then healed; the
/// atomicity invariant after every step, liveness and the bank checks at the end.
pub fn run_bank<N: BankNode>(
    seed: u64,
    schedule: FaultSchedule,
    link: LinkConfig,
) -> Result<(), String> {
    let mut config = SimConfig::new(seed);
    config.network = link;
    // Disk writes take a while, so unforced writes have a real window to be lost in.
    config.persist_delay = Delay::Uniform { min: 1, max: 200 };
    let mut sim = bank::<N>(config);
    add_atomicity_invariant(&mut sim);
    schedule_transfers(&mut sim, seed, 200, HORIZON);
    let schedule = schedule.healed_at(HORIZON, &SHARDS, LinkConfig::default());
    sim.schedule_all(&schedule).map_err(|e| e.to_string())?;
    sim.run_for(HORIZON).map_err(|v| v.to_string())?;
    run_to_quiescence(&mut sim, 2_000_000)?;
    check_bank(&sim)
}

/// `run_bank` under generated schedules of crashes, restarts, pauses, partitions,
/// lossy links and clock skew (`SYNOD_PROPTEST_CASES` cases, 48 by default).
pub fn check_random_fault_schedules<N: BankNode>() {
    let strategy = (
        any::<u64>(),
        Faults::new(&SHARDS, HORIZON).max_faults(12).strategy(),
    );
    sim_runner(proptest_cases(48))
        .run(&strategy, |(seed, schedule)| {
            run_bank::<N>(seed, schedule, LinkConfig::default()).map_err(TestCaseError::fail)
        })
        .unwrap();
}

pub const SHARDS: [NodeId; 4] = [NodeId(1), NodeId(2), NodeId(3), NodeId(4)];
pub const ACCOUNTS_PER_SHARD: u64 = 3;
pub const OPENING_BALANCE: i64 = 100;

pub type Bank<N> = Sim<N, Vec<<N as Node>::Persist>>;

pub fn account(shard: NodeId, j: u64) -> Key {
    shard.0 * 100 + j
}

pub fn opening(shard: NodeId) -> Vec<(Key, i64)> {
    (0..ACCOUNTS_PER_SHARD)
        .map(|j| (account(shard, j), OPENING_BALANCE))
        .collect()
}

pub fn total_money() -> i64 {
    SHARDS.len() as i64 * ACCOUNTS_PER_SHARD as i64 * OPENING_BALANCE
}

/// A bank of four shards, each node coordinating and participating.
pub fn bank<N: BankNode>(config: SimConfig) -> Bank<N> {
    Sim::new(config, SHARDS, |id, log: &Vec<N::Persist>| {
        N::build(id, log)
    })
    .expect("valid simulation")
}

/// A transfer of `amount` between two accounts (one or two shards), sometimes with a
/// read-only third participant that only looks at an account.
pub fn transfer(rng: &mut SimRng, tag: u64) -> Request<Vec<KvOp>> {
    let pick = |rng: &mut SimRng| {
        let shard = SHARDS[rng.below(SHARDS.len() as u64) as usize];
        (shard, account(shard, rng.below(ACCOUNTS_PER_SHARD)))
    };
    let (from_shard, from) = pick(rng);
    let (mut to_shard, mut to) = pick(rng);
    if to == from {
        to_shard = SHARDS[(SHARDS.iter().position(|s| *s == from_shard).unwrap() + 1) % 4];
        to = account(to_shard, 0);
    }
    let amount = 1 + rng.below(60) as i64;
    let withdraw = KvOp::Add {
        key: from,
        delta: -amount,
        min: Some(0),
    };
    let deposit = KvOp::Add {
        key: to,
        delta: amount,
        min: None,
    };
    let mut participants: Vec<(NodeId, Vec<KvOp>)> = if from_shard == to_shard {
        vec![(from_shard, vec![withdraw, deposit])]
    } else {
        vec![(from_shard, vec![withdraw]), (to_shard, vec![deposit])]
    };
    if rng.chance(0.2)
        && let Some(&reader) = SHARDS
            .iter()
            .find(|s| !participants.iter().any(|(p, _)| p == *s))
    {
        participants.push((
            reader,
            vec![KvOp::Read {
                key: account(reader, 1),
            }],
        ));
    }
    Request::Begin { tag, participants }
}

/// Schedule `count` transfers at random times in `0..horizon` on random coordinators.
pub fn schedule_transfers<N: BankNode>(sim: &mut Bank<N>, seed: u64, count: u64, horizon: u64) {
    let mut rng = SimRng::new(seed ^ 0x7A11_5FE7);
    for tag in 0..count {
        let at = rng.below(horizon);
        let coordinator = SHARDS[rng.below(SHARDS.len() as u64) as usize];
        let request = transfer(&mut rng, tag);
        sim.schedule_request(at, coordinator, request)
            .expect("known node");
    }
}

/// After every step: every node that decided or applied an outcome for a transaction
/// agrees with every other (atomicity, across crashes and lives), and no correct node
/// ever reports a protocol violation.
pub fn add_atomicity_invariant<N: BankNode>(sim: &mut Bank<N>) {
    let mut seen = 0;
    let mut known: BTreeMap<TxId, (Outcome, NodeId, u64)> = BTreeMap::new();
    sim.add_invariant("atomicity", move |sim| {
        for (time, node, event) in &sim.events()[seen..] {
            match event {
                Event::Decided { tx, outcome } | Event::Applied { tx, outcome } => {
                    match known.get(tx) {
                        None => {
                            known.insert(*tx, (*outcome, *node, *time));
                        }
                        Some((first, by, at)) if first != outcome => {
                            return Err(format!(
                                "{tx}: {by} saw {first} at {at}, but {node} saw {outcome} at {time}"
                            ));
                        }
                        Some(_) => {}
                    }
                }
                Event::ProtocolViolation { .. } => {
                    return Err(format!("{node} reported {event:?} at {time}"));
                }
                _ => {}
            }
        }
        seen = sim.events().len();
        Ok(())
    });
}

/// Run until every node is up and nothing is in doubt or in flight.
pub fn run_to_quiescence<N: BankNode>(sim: &mut Bank<N>, max_steps: u64) -> Result<(), String> {
    let quiet = sim
        .run_until(
            |sim| SHARDS.iter().all(|id| sim.is_up(*id)) && sim.live_nodes().all(|(_, n)| n.idle()),
            max_steps,
        )
        .map_err(|v| v.to_string())?;
    if quiet {
        return Ok(());
    }
    let stuck: Vec<String> = sim
        .live_nodes()
        .filter(|(_, n)| !n.idle())
        .map(|(id, _)| id.to_string())
        .collect();
    Err(format!("no quiescence after healing; busy: {stuck:?}"))
}

/// At the end: money is conserved, and the committed transactions, replayed in the
/// order of their commit decisions, read exactly what each shard says they read and
/// leave exactly the state each shard has (serializability).
pub fn check_bank<N: BankNode>(sim: &Bank<N>) -> Result<(), String> {
    let mut total = 0;
    for (_, node) in sim.live_nodes() {
        total += node.shard().data().values().sum::<i64>();
    }
    if total != total_money() {
        return Err(format!("total is {total}, expected {}", total_money()));
    }
    // Decision order: the time each coordinator decided commit.
    let mut decided: BTreeMap<TxId, u64> = BTreeMap::new();
    for (time, _, event) in sim.events() {
        if let Event::Decided {
            tx,
            outcome: Outcome::Commit,
        } = event
        {
            decided.entry(*tx).or_insert(*time);
        }
    }
    let mut work: BTreeMap<TxId, Vec<KvRedo>> = BTreeMap::new();
    for (id, node) in sim.live_nodes() {
        for (tx, redo) in node.shard().history() {
            if !decided.contains_key(tx) {
                return Err(format!(
                    "{id} committed {tx}, which no coordinator decided to commit"
                ));
            }
            work.entry(*tx).or_default().push(redo.clone());
        }
    }
    let mut order: Vec<(u64, TxId)> = work.keys().map(|tx| (decided[tx], *tx)).collect();
    order.sort();
    let mut model: BTreeMap<Key, i64> = SHARDS.iter().flat_map(|s| opening(*s)).collect();
    for (_, tx) in order {
        for redo in &work[&tx] {
            for (key, seen) in &redo.reads {
                let value = model.get(key).copied().unwrap_or(0);
                if value != *seen {
                    return Err(format!(
                        "not serializable in decision order: {tx} read {key} = {seen}, serial value {value}"
                    ));
                }
            }
        }
        for redo in &work[&tx] {
            for (key, value) in &redo.writes {
                model.insert(*key, *value);
            }
        }
    }
    for (id, node) in sim.live_nodes() {
        for (key, value) in node.shard().data() {
            if model.get(key) != Some(value) {
                return Err(format!(
                    "{id} holds {key} = {value}, the serial replay {:?}",
                    model.get(key)
                ));
            }
        }
    }
    Ok(())
}

pub fn lossy() -> LinkConfig {
    LinkConfig {
        loss: 0.15,
        duplicate: 0.05,
        reorder: 0.05,
        ..LinkConfig::default()
    }
}

/// Random crashes and restarts of random nodes (each crash followed by a restart
/// 50–1500 units later) until `horizon`.
pub fn crash_storm(seed: u64, horizon: u64) -> FaultSchedule {
    let mut rng = SimRng::new(seed ^ 0xC4A5);
    let mut schedule = FaultSchedule::new();
    let mut t = 0;
    loop {
        t += 200 + rng.below(800);
        if t >= horizon {
            break;
        }
        let node = SHARDS[rng.below(SHARDS.len() as u64) as usize];
        schedule = schedule
            .at(t, Fault::Crash(node))
            .at(t + 50 + rng.below(1_450), Fault::Restart(node));
    }
    schedule
}

/// Steps `node` with one message `msg` from `from` and returns what it did (for tests
/// that drive a node by hand).
pub fn deliver<N: Node>(node: &mut N, from: NodeId, msg: N::Message) -> ActionsOf<N> {
    let mut out = Actions::new();
    node.step(Input::Message { from, msg }, &mut out);
    out
}

/// The protocol violations a node reported among `out`, in order.
pub fn violations<M, P>(out: &Actions<M, P, Event>) -> Vec<Violation> {
    out.as_slice()
        .iter()
        .filter_map(|a| match a {
            Action::Emit(Event::ProtocolViolation { violation, .. }) => Some(violation.clone()),
            _ => None,
        })
        .collect()
}
