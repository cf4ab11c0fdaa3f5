//! Shared harness for the simulator tests: a bank spread over four shards, a
//! transfer workload, and the checkers (atomicity after every step; liveness, a
//! constant total and serializability at the end).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Debug;
use synod_core::{Node, NodeId};
use synod_sim::{Fault, FaultSchedule, LinkConfig, Sim, SimConfig, SimRng};
use synod_twophase::kv::{Key, KvOp, KvRedo, KvShard};
use synod_twophase::paxos_commit::{self, PaxosCommitNode};
use synod_twophase::twopc::{self, Bug, TwoPhaseNode};
use synod_twophase::{Event, Outcome, Request, TxId};

/// What the bank harness needs of a commit-protocol node.
pub trait BankNode:
    Node<Request = Request<Vec<KvOp>>, Event = Event, Message: Clone + Debug> + Sized + 'static
{
    /// `broken`: run the protocol's deliberate bug (see `twopc::Bug`, `paxos_commit::Bug`).
    fn build(id: NodeId, log: &[Self::Persist], broken: bool) -> Self;
    fn shard(&self) -> &KvShard;
    /// Nothing in doubt, nothing being coordinated.
    fn idle(&self) -> bool;
}

impl BankNode for TwoPhaseNode<KvShard> {
    fn build(id: NodeId, log: &[Self::Persist], broken: bool) -> Self {
        let mut c = twopc::Config::new(id);
        c.bug = broken.then_some(Bug::CommitBeforeDecisionDurable);
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
    fn build(id: NodeId, log: &[Self::Persist], broken: bool) -> Self {
        let mut c = paxos_commit::Config::new(id, SHARDS[..3].to_vec());
        c.bug = broken.then_some(paxos_commit::Bug::PreparedForSilentInstances);
        PaxosCommitNode::recover(c, KvShard::with_data(opening(id)).record_history(), log)
    }
    fn shard(&self) -> &KvShard {
        self.resource()
    }
    fn idle(&self) -> bool {
        self.in_doubt().next().is_none() && self.leading() == 0
    }
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
pub fn bank<N: BankNode>(config: SimConfig, broken: bool) -> Bank<N> {
    Sim::new(config, SHARDS, move |id, log: &Vec<N::Persist>| {
        N::build(id, log, broken)
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
