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
    Role, Snapshot, Term,
};
use synod_sim::{LinkConfig, Sim, SimConfig};

/// Ticks in the default config: election timeout 10, heartbeat 2; the simulator ticks
/// every 100 time units.
pub const TICK: u64 = 100;
pub const ELECTION: u64 = 10 * TICK;

/// How long an election may take: split votes happen (two nodes whose randomized
/// timeouts land in the same tick both win their pre-votes), so allow several rounds,
/// as the 6.824 labs do (they allow about 15 timeouts).
pub const LEADER_WITHIN: u64 = 10 * ELECTION;

/// Commands must apply everywhere within this many ticks of being proposed
/// ([`all_apply`]).
pub const APPLY_WITHIN: u64 = 30 * ELECTION;

/// A simulation whose links lose, duplicate and reorder these fractions of messages.
pub fn lossy(seed: u64, loss: f64, duplicate: f64, reorder: f64) -> SimConfig {
    let mut config = SimConfig::new(seed);
    config.network = LinkConfig {
        loss,
        duplicate,
        reorder,
        ..LinkConfig::default()
    };
    config
}

/// How a test node misbehaves on purpose (never part of the public API: the wrapper
/// tampers with the real node's outputs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Breakage {
    /// Drop every hard-state persist: term and vote are forgotten on a crash.
    pub forget_votes: bool,
    /// Claim the leader's whole log is committed in every append it sends (ignores
    /// the quorum and the §5.4.2 current-term rule).
    pub commit_everything: bool,
    /// Accept every snapshot chunk wherever it claims to start, as if it were the
    /// next one (no offset check, Raft §7): lost, duplicated or reordered chunks
    /// splice bytes into the wrong place.
    pub splice_chunks: bool,
    /// Send transfer campaigns' vote requests without the transfer flag, so voters
    /// that heard from the leader recently ignore them (thesis §4.2.3 vs §3.10).
    pub unflagged_transfer_votes: bool,
    /// Drop the follower's barrier persists of appended entries: it acknowledges
    /// entries that a crash then loses (Raft Figure 2: the log must be durable
    /// before answering).
    pub forget_appends: bool,
    /// Append every non-empty AppendEntries at the end of the log, wherever the
    /// leader meant it to go (no §5.3 consistency check): duplicated or reordered
    /// appends land twice or out of place.
    pub append_blindly: bool,
}

/// How the test application snapshots (6.824's `maxraftstate`, in entries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppOptions {
    /// Snapshot once this many entries were applied since the last snapshot
    /// (0: never).
    pub snapshot_every: u64,
    /// `Config::max_snapshot_chunk_bytes`.
    pub chunk_bytes: u64,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            snapshot_every: 0,
            chunk_bytes: 1 << 20,
        }
    }
}

/// The test application's state: a digest over every entry applied, in order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppState {
    pub applied: u64,
    pub digest: u64,
}

impl AppState {
    pub fn apply(&mut self, e: &Entry) {
        let mut h = self.digest ^ 0xcbf2_9ce4_8422_2325;
        for b in e
            .index
            .0
            .to_le_bytes()
            .iter()
            .chain(&e.term.0.to_le_bytes())
            .chain(e.data.iter())
        {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.digest = h;
        self.applied = e.index.0;
    }

    /// The snapshot bytes of this state: long enough to take several chunks.
    pub fn encode(&self) -> Bytes {
        Bytes::from(format!("{}:{:016x};", self.applied, self.digest).repeat(4))
    }

    pub fn decode(data: &[u8]) -> Option<AppState> {
        let text = std::str::from_utf8(data).ok()?;
        let first = text.split(';').next()?;
        let (applied, digest) = first.split_once(':')?;
        let state = AppState {
            applied: applied.parse().ok()?,
            digest: u64::from_str_radix(digest, 16).ok()?,
        };
        (state.encode() == data).then_some(state)
    }
}

/// A Raft node, possibly wrapped in a deliberate bug.
pub struct TestNode {
    pub raft: RaftNode,
    pub breakage: Breakage,
    pub app: AppOptions,
    pub state: AppState,
    /// For `splice_chunks`: bytes accepted so far of the snapshot at this index.
    spliced: Option<(LogIndex, u64)>,
}

impl TestNode {
    pub fn new(raft: RaftNode, breakage: Breakage, app: AppOptions) -> Self {
        TestNode {
            raft,
            breakage,
            app,
            state: AppState::default(),
            spliced: None,
        }
    }

    /// The broken receiver: rewrite each chunk's offset to "right after what I hold".
    fn splice(&mut self, input: Input<Message, Request>) -> Input<Message, Request> {
        match input {
            Input::Message {
                from,
                msg:
                    Message::InstallSnapshot {
                        term,
                        meta,
                        offset,
                        data,
                        done,
                    },
            } => {
                let held = match self.spliced {
                    Some((index, held)) if index == meta.index && offset != 0 => held,
                    _ => 0,
                };
                self.spliced = Some((meta.index, held + data.len() as u64));
                let _ = offset;
                Input::Message {
                    from,
                    msg: Message::InstallSnapshot {
                        term,
                        meta,
                        offset: held,
                        data,
                        done,
                    },
                }
            }
            other => other,
        }
    }

    /// The broken follower: renumber each append's entries to follow its own last
    /// entry, so the consistency check always passes.
    fn append_blindly(&self, input: Input<Message, Request>) -> Input<Message, Request> {
        match input {
            Input::Message {
                from,
                msg:
                    Message::AppendEntries {
                        term,
                        mut entries,
                        leader_commit,
                        ..
                    },
            } if !entries.is_empty() => {
                let prev_log_index = self.raft.last_index();
                let prev_log_term = self.raft.log_term(prev_log_index).unwrap_or_default();
                for (i, e) in entries.iter_mut().enumerate() {
                    e.index = LogIndex(prev_log_index.0 + 1 + i as u64);
                    e.term = e.term.max(prev_log_term);
                }
                Input::Message {
                    from,
                    msg: Message::AppendEntries {
                        term,
                        prev_log_index,
                        prev_log_term,
                        entries,
                        leader_commit,
                    },
                }
            }
            other => other,
        }
    }

    /// Follow the application's state through the node's events, and snapshot it
    /// when the policy says so.
    fn run_app(&mut self, from: usize, out: &mut Actions<Message, Record, Event>) {
        for action in &out.as_slice()[from..] {
            match action {
                Action::Emit(Event::Committed(e)) => self.state.apply(e),
                Action::Emit(Event::RestoreSnapshot(s)) => {
                    self.state = AppState::decode(&s.data).unwrap_or(AppState {
                        applied: s.meta.index.0,
                        digest: 0,
                    });
                }
                _ => {}
            }
        }
        let every = self.app.snapshot_every;
        let applied = LogIndex(self.state.applied);
        if every > 0 && applied.0 >= self.raft.snapshot_index().0 + every {
            let data = self.state.encode();
            self.raft
                .snapshot(applied, data, out)
                .expect("snapshot at the applied index");
        }
    }
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
        let input = if self.breakage.splice_chunks {
            self.splice(input)
        } else {
            input
        };
        let input = if self.breakage.append_blindly {
            self.append_blindly(input)
        } else {
            input
        };
        let before = out.len();
        self.raft.step(input, out);
        self.run_app(before, out);
        if self.breakage.forget_appends {
            let all: Vec<_> = out.drain().collect();
            for (i, action) in all.into_iter().enumerate() {
                if i >= before && matches!(action, Action::Persist(Record::Entries(_))) {
                    continue;
                }
                out.push(action);
            }
        }
        if !self.breakage.forget_votes
            && !self.breakage.commit_everything
            && !self.breakage.unflagged_transfer_votes
        {
            return;
        }
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
                Action::Send {
                    to,
                    msg:
                        Message::RequestVote {
                            term,
                            pre_vote,
                            last_log_index,
                            last_log_term,
                            ..
                        },
                } if self.breakage.unflagged_transfer_votes => out.push(Action::Send {
                    to,
                    msg: Message::RequestVote {
                        term,
                        pre_vote,
                        last_log_index,
                        last_log_term,
                        transfer: false,
                    },
                }),
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

    /// The state an application holds after applying every entry through `index`,
    /// from what nodes applied (every index a snapshot covers was applied by the node
    /// that first took it).
    fn state_through(&self, index: u64) -> Result<AppState, String> {
        let mut state = AppState::default();
        for i in 1..=index {
            let (term, data) = self
                .applied
                .get(&i)
                .ok_or_else(|| format!("a snapshot covers {i}, which no node applied"))?;
            state.apply(&Entry {
                index: LogIndex(i),
                term: *term,
                kind: synod_raft::EntryKind::Command,
                data: data.clone(),
            });
        }
        Ok(state)
    }

    /// State-machine safety for snapshots (Raft §7): a restored snapshot holds exactly
    /// the state of applying the committed log through its index.
    fn check_restored(&mut self, id: NodeId, s: &Snapshot) -> Result<(), String> {
        let index = s.meta.index.0;
        let expected = self.state_through(index)?;
        if s.data != expected.encode() {
            return Err(format!(
                "state-machine safety: {id} restored a snapshot at {index} whose data differs from the applied log"
            ));
        }
        if self.applied.get(&index).map(|(t, _)| *t) != Some(s.meta.term) {
            return Err(format!(
                "{id} restored a snapshot with the wrong term at {index}"
            ));
        }
        self.next_apply.insert(id, index + 1);
        let commands = self
            .applied
            .range(1..=index)
            .filter(|(_, (_, data))| !data.is_empty())
            .count();
        self.commands.insert(id, commands);
        Ok(())
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
            let first = storage.first_index();
            let mut log = Vec::new();
            if last >= first {
                storage
                    .entries(first, last, u64::MAX, &mut log)
                    .map_err(|e| e.to_string())?;
            }
            // The compaction point is a committed entry: its term must agree.
            let mut prev_term = storage.term(first.prev()).map_err(|e| e.to_string())?;
            if first.0 > 1 {
                let (term, _) = *self
                    .committed
                    .entry(first.0 - 1)
                    .or_insert((prev_term, raft.term()));
                if term != prev_term {
                    return Err(format!(
                        "{id} compacted through {} in {prev_term}, but {term} committed there",
                        first.prev()
                    ));
                }
            }
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
            for e in log.iter().take_while(|e| e.index <= commit) {
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
            let compacted = raft.snapshot_index().0;
            for (&index, &(term, seen_in)) in self.committed.range(compacted..) {
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
            match event {
                Event::Committed(e) => self.check_applied(*id, e)?,
                Event::RestoreSnapshot(s) => self.check_restored(*id, s)?,
                _ => {}
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

    /// Every index some node was seen to commit, with the entry's term.
    pub fn committed_terms(&self) -> impl Iterator<Item = (LogIndex, Term)> + '_ {
        self.committed
            .iter()
            .map(|(&index, &(term, _))| (LogIndex(index), term))
    }
}

/// A cluster of `n` nodes with every invariant checked after every step.
pub fn cluster(
    sim_config: SimConfig,
    n: u64,
    breakage: Breakage,
) -> (Cluster, Rc<RefCell<Observer>>) {
    cluster_with(sim_config, n, breakage, AppOptions::default())
}

/// [`cluster`] with an application that snapshots as `app` says.
pub fn cluster_with(
    sim_config: SimConfig,
    n: u64,
    breakage: Breakage,
    app: AppOptions,
) -> (Cluster, Rc<RefCell<Observer>>) {
    cluster_configured(sim_config, n, breakage, app, |_| {})
}

/// [`cluster_with`], each node's configuration then adjusted by `configure`.
pub fn cluster_configured(
    sim_config: SimConfig,
    n: u64,
    breakage: Breakage,
    app: AppOptions,
    configure: impl Fn(&mut Config) + 'static,
) -> (Cluster, Rc<RefCell<Observer>>) {
    let voters = ids(n);
    let observer = Rc::new(RefCell::new(Observer::default()));
    let seed = sim_config.seed;
    let factory_observer = observer.clone();
    let factory_voters = voters.clone();
    let mut sim = Sim::new(sim_config, voters, move |id, durable: &Vec<Record>| {
        factory_observer.borrow_mut().restarted(id);
        let storage = if breakage.forget_appends {
            // The dropped writes leave gaps: keep what still folds, as a disk that
            // lost them would (a correct node's records always fold).
            let mut storage = MemStorage::new();
            for record in durable {
                let _ = storage.apply(record);
            }
            storage
        } else {
            MemStorage::from_records(durable).expect("durable records fold")
        };
        let mut config = config(id, &factory_voters, seed);
        config.max_snapshot_chunk_bytes = app.chunk_bytes;
        configure(&mut config);
        let raft = RaftNode::new(config, storage).expect("valid config");
        TestNode::new(raft, breakage, app)
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

/// Propose `data` on node `id`: where it landed, or `None` if it was refused (or the
/// node is down).
pub fn propose_to(sim: &mut Cluster, id: NodeId, data: &str) -> Option<(LogIndex, Term)> {
    let before = sim.events().len();
    sim.request(
        id,
        Request::Propose(Bytes::copy_from_slice(data.as_bytes())),
    )
    .ok()?;
    sim.events()[before..]
        .iter()
        .find_map(|(_, from, e)| match e {
            Event::Proposed { index, term } if *from == id => Some((*index, *term)),
            _ => None,
        })
}

/// The entries `id` holds through its commit index (from its first stored entry).
pub fn committed_log(sim: &Cluster, id: NodeId) -> Result<Vec<Entry>, String> {
    let raft = &sim.node(id).ok_or(format!("{id} is down"))?.raft;
    let storage = raft.storage();
    let mut log = Vec::new();
    let (first, commit) = (storage.first_index(), raft.commit_index());
    if commit >= first {
        storage
            .entries(first, commit, u64::MAX, &mut log)
            .map_err(|e| e.to_string())?;
    }
    Ok(log)
}

/// Run until some node leads, for at most [`LEADER_WITHIN`]; the leader.
pub fn run_to_leader(sim: &mut Cluster) -> Result<NodeId, String> {
    let start = sim.now();
    sim.run_until(
        |s| leader(s).is_some() || s.now() > start + LEADER_WITHIN,
        1_000_000,
    )
    .map_err(|v| v.to_string())?;
    leader(sim).ok_or_else(|| {
        format!(
            "no leader within {LEADER_WITHIN} time units (at {})",
            sim.now()
        )
    })
}

/// Run until `target` leads or `within` time units passed; whether it leads.
pub fn run_until_leader_is(sim: &mut Cluster, target: NodeId, within: u64) -> Result<bool, String> {
    let start = sim.now();
    sim.run_until(
        |s| leader(s) == Some(target) || s.now() > start + within,
        1_000_000,
    )
    .map_err(|v| v.to_string())?;
    Ok(leader(sim) == Some(target))
}

/// Propose `count` commands named `prefix{i}`, retrying while there is no leader.
pub fn propose_all(sim: &mut Cluster, prefix: &str, count: usize) -> Result<(), String> {
    for i in 0..count {
        let start = sim.now();
        while !propose(sim, &format!("{prefix}{i}")) {
            if sim.now() > start + 20 * ELECTION {
                return Err(format!("no leader took {prefix}{i}"));
            }
            sim.run_for(ELECTION / 2).map_err(|v| v.to_string())?;
        }
        sim.run_for(TICK / 2).map_err(|v| v.to_string())?;
    }
    Ok(())
}

/// Run until every live node's application holds at least `count` commands, for at
/// most [`APPLY_WITHIN`].
pub fn all_apply(
    sim: &mut Cluster,
    observer: &Rc<RefCell<Observer>>,
    count: usize,
) -> Result<(), String> {
    let start = sim.now();
    let done = sim
        .run_until(
            |s| {
                let o = observer.borrow();
                s.live_nodes()
                    .all(|(id, _)| o.commands_applied(id) >= count)
                    || s.now() > start + APPLY_WITHIN
            },
            2_000_000,
        )
        .map_err(|v| v.to_string())?;
    let o = observer.borrow();
    let behind: Vec<_> = sim
        .live_nodes()
        .filter(|(id, _)| o.commands_applied(*id) < count)
        .map(|(id, _)| id)
        .collect();
    if !done || !behind.is_empty() {
        return Err(format!(
            "{behind:?} did not apply {count} commands by {}",
            sim.now()
        ));
    }
    Ok(())
}

/// Whether the cluster has settled: a leader whose whole log is committed, and every
/// node in `ids` up and applied through that commit index.
pub fn converged(sim: &Cluster, ids: &[NodeId]) -> bool {
    let Some(l) = leader(sim) else { return false };
    let raft = &sim.node(l).unwrap().raft;
    let commit = raft.commit_index();
    raft.last_index() == commit
        && ids.iter().all(|&id| {
            sim.node(id)
                .is_some_and(|n| n.raft.applied_index() == commit)
        })
}
