//! Shared harness for the simulator tests: a cluster of Raft nodes on `synod-sim`,
//! Raft's safety invariants (Raft Figure 3) checked after every step, and test-only
//! wrappers that break a node on purpose.

#![allow(dead_code)]

use bytes::Bytes;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use synod_core::{Action, Actions, Input, Node, NodeId};
use synod_raft::{
    Config, Entry, Event, LogIndex, LogStorage, MemStorage, Message, RaftNode, Record, Request,
    Role, Term,
};
use synod_sim::{Sim, SimConfig};

/// Ticks in the default config: election timeout 10, heartbeat 2; the simulator ticks
/// every 100 time units.
pub const TICK: u64 = 100;
pub const ELECTION: u64 = 10 * TICK;

/// How a test node misbehaves on purpose (never part of the public API: the wrapper
/// tampers with the real node's outputs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Breakage {
    /// Drop every hard-state persist: term and vote are forgotten on a crash.
    pub forget_votes: bool,
    /// Claim the leader's whole log is committed in every append it sends (ignores
    /// the quorum and the §5.4.2 current-term rule).
    pub commit_everything: bool,
}

/// A Raft node, possibly wrapped in a deliberate bug.
pub struct TestNode {
    pub raft: RaftNode,
    pub breakage: Breakage,
}

impl Node for TestNode {
    type Message = Message;
    type Request = Request;
    type Persist = Record;
    type Event = Event;
    fn id(&self) -> NodeId {
        self.raft.id()
    }
    fn step(&mut self, input: Input<Message, Request>, out: &mut Actions<Message, Record, Event>) {
        if self.breakage == Breakage::default() {
            return self.raft.step(input, out);
        }
        let before = out.len();
        self.raft.step(input, out);
        let all: Vec<_> = out.drain().collect();
        let last = self.raft.last_index();
        for (i, action) in all.into_iter().enumerate() {
            if i < before {
                out.push(action);
                continue;
            }
            match action {
                Action::Persist(Record::HardState(_)) if self.breakage.forget_votes => {}
                Action::Send {
                    to,
                    msg:
                        Message::AppendEntries {
                            term,
                            prev_log_index,
                            prev_log_term,
                            entries,
                            ..
                        },
                } if self.breakage.commit_everything => {
                    let leader_commit = last;
                    out.push(Action::Send {
                        to,
                        msg: Message::AppendEntries {
                            term,
                            prev_log_index,
                            prev_log_term,
                            entries,
                            leader_commit,
                        },
                    });
                }
                other => out.push(other),
            }
        }
    }
}

pub type Cluster = Sim<TestNode, Vec<Record>>;

pub fn ids(n: u64) -> Vec<NodeId> {
    (1..=n).map(NodeId).collect()
}

pub fn config(id: NodeId, voters: &[NodeId], seed: u64) -> Config {
    let mut config = Config::new(id, voters.iter().copied());
    config.seed = seed;
    config
}

/// What the invariant checker has learnt so far about the run.
#[derive(Default, Debug)]
pub struct Observer {
    leaders: BTreeMap<Term, NodeId>,
    /// `(index, term)` → (data, term of the previous entry): log matching.
    entries: BTreeMap<(u64, Term), (Bytes, Term)>,
    /// index → (term, first term in which some node saw it committed).
    committed: BTreeMap<u64, (Term, Term)>,
    /// index → (term, data) of what some node applied.
    applied: BTreeMap<u64, (Term, Bytes)>,
    /// Per node: next index it must apply, and its last commit index, this lifetime.
    next_apply: BTreeMap<NodeId, u64>,
    last_commit: BTreeMap<NodeId, LogIndex>,
    /// Per node: commands applied this lifetime.
    commands: BTreeMap<NodeId, usize>,
    events_seen: usize,
    pub max_term: Term,
}

impl Observer {
    pub fn restarted(&mut self, id: NodeId) {
        self.next_apply.insert(id, 1);
        self.last_commit.insert(id, LogIndex(0));
        self.commands.insert(id, 0);
    }

    /// Commands `id` applied in its current lifetime.
    pub fn commands_applied(&self, id: NodeId) -> usize {
        self.commands.get(&id).copied().unwrap_or(0)
    }

    /// Check Raft's safety properties (Figure 3) against the cluster's current state.
    pub fn check(&mut self, sim: &Cluster) -> Result<(), String> {
        for (id, node) in sim.live_nodes() {
            let raft = &node.raft;
            self.max_term = self.max_term.max(raft.term());
            // Election safety (§5.2).
            if raft.role() == Role::Leader {
                let leader = *self.leaders.entry(raft.term()).or_insert(id);
                if leader != id {
                    return Err(format!("two leaders in {}: {leader} and {id}", raft.term()));
                }
            }
            // Log matching (§5.3), by induction over (index, term) → previous term.
            let storage = raft.storage();
            let last = storage.last_index();
            let mut log = Vec::new();
            if last.0 >= 1 {
                storage
                    .entries(LogIndex(1), last, u64::MAX, &mut log)
                    .map_err(|e| e.to_string())?;
            }
            let mut prev_term = Term(0);
            for e in &log {
                let seen = self
                    .entries
                    .entry((e.index.0, e.term))
                    .or_insert((e.data.clone(), prev_term));
                if *seen != (e.data.clone(), prev_term) {
                    return Err(format!(
                        "log matching: {id} holds {e:?} after a {prev_term} entry, another log differs"
                    ));
                }
                prev_term = e.term;
            }
            // Commit index never moves back within a lifetime.
            let commit = raft.commit_index();
            let last_commit = self.last_commit.entry(id).or_default();
            if commit < *last_commit {
                return Err(format!(
                    "{id} commit index went back from {last_commit} to {commit}"
                ));
            }
            *last_commit = commit;
            if commit > last {
                return Err(format!(
                    "{id} commits {commit} beyond its last entry {last}"
                ));
            }
            for e in log.iter().take(commit.0 as usize) {
                let (term, _) = *self
                    .committed
                    .entry(e.index.0)
                    .or_insert((e.term, raft.term()));
                if term != e.term {
                    return Err(format!(
                        "{id} committed {e:?}, another node committed term {term} there"
                    ));
                }
            }
        }
        // Leader completeness (§5.4): a leader of a later term holds every entry
        // committed before its term.
        for (id, node) in sim.live_nodes() {
            let raft = &node.raft;
            if raft.role() != Role::Leader {
                continue;
            }
            for (&index, &(term, seen_in)) in &self.committed {
                if raft.term() > seen_in && raft.log_term(LogIndex(index)) != Some(term) {
                    return Err(format!(
                        "leader {id} of {} lacks index {index} ({term}) committed in {seen_in}",
                        raft.term()
                    ));
                }
            }
        }
        // State-machine safety, and each entry applied once, in order, per lifetime.
        let events = sim.events();
        for (_, id, event) in &events[self.events_seen..] {
            if let Event::Committed(e) = event {
                self.check_applied(*id, e)?;
            }
        }
        self.events_seen = events.len();
        Ok(())
    }

    fn check_applied(&mut self, id: NodeId, e: &Entry) -> Result<(), String> {
        let next = self.next_apply.entry(id).or_insert(1);
        if e.index.0 != *next {
            return Err(format!("{id} applied {} but {} was next", e.index, next));
        }
        *next += 1;
        if e.kind == synod_raft::EntryKind::Command {
            *self.commands.entry(id).or_default() += 1;
        }
        let seen = self
            .applied
            .entry(e.index.0)
            .or_insert((e.term, e.data.clone()));
        if *seen != (e.term, e.data.clone()) {
            return Err(format!(
                "state-machine safety: {id} applied {e:?}, another node applied {seen:?}"
            ));
        }
        Ok(())
    }

    pub fn applied_count(&self) -> usize {
        self.applied.len()
    }
}

/// A cluster of `n` nodes with every invariant checked after every step.
pub fn cluster(
    sim_config: SimConfig,
    n: u64,
    breakage: Breakage,
) -> (Cluster, Rc<RefCell<Observer>>) {
    let voters = ids(n);
    let observer = Rc::new(RefCell::new(Observer::default()));
    let seed = sim_config.seed;
    let factory_observer = observer.clone();
    let factory_voters = voters.clone();
    let mut sim = Sim::new(sim_config, voters, move |id, durable: &Vec<Record>| {
        factory_observer.borrow_mut().restarted(id);
        let storage = MemStorage::from_records(durable).expect("durable records fold");
        let raft = RaftNode::new(config(id, &factory_voters, seed), storage).expect("valid config");
        TestNode { raft, breakage }
    })
    .expect("valid simulation");
    let check = observer.clone();
    sim.add_invariant("raft safety", move |sim| check.borrow_mut().check(sim));
    (sim, observer)
}

/// The live leader with the highest term, if any.
pub fn leader(sim: &Cluster) -> Option<NodeId> {
    sim.live_nodes()
        .filter(|(_, n)| n.raft.role() == Role::Leader)
        .max_by_key(|(_, n)| n.raft.term())
        .map(|(id, _)| id)
}

/// Propose `data` on the current leader; whether a leader took it.
pub fn propose(sim: &mut Cluster, data: &str) -> bool {
    match leader(sim) {
        Some(id) => sim
            .request(
                id,
                Request::Propose(Bytes::copy_from_slice(data.as_bytes())),
            )
            .is_ok(),
        None => false,
    }
}

/// Propose three commands as one batch on the current leader.
pub fn propose_batch(sim: &mut Cluster, data: &str) -> bool {
    let batch = (0..3).map(|i| Bytes::from(format!("{data}.{i}"))).collect();
    match leader(sim) {
        Some(id) => sim.request(id, Request::ProposeBatch(batch)).is_ok(),
        None => false,
    }
}

/// Commands (not no-ops) a node applied this lifetime, in order.
pub fn applied_commands(sim: &Cluster, id: NodeId) -> Vec<Bytes> {
    sim.events()
        .iter()
        .filter(|(_, from, _)| *from == id)
        .filter_map(|(_, _, e)| match e {
            Event::Committed(entry) if entry.kind == synod_raft::EntryKind::Command => {
                Some(entry.data.clone())
            }
            _ => None,
        })
        .collect()
}

/// Run until every live node has applied through the leader's commit index and
/// holds `count` commands at least.
pub fn run_until_applied(
    sim: &mut Cluster,
    observer: &Rc<RefCell<Observer>>,
    count: usize,
    max_steps: u64,
) -> Result<bool, String> {
    sim.run_until(
        |sim| {
            let observer = observer.borrow();
            sim.live_nodes()
                .all(|(id, _)| observer.commands_applied(id) >= count)
        },
        max_steps,
    )
    .map_err(|v| v.to_string())
}
