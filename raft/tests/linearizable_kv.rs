//! A linearizable key-value service on synod-raft, judged by the simulator's
//! linearizability checker: put/get/append, exactly-once writes through client
//! sessions (thesis §6.3), gets through ReadIndex (thesis §6.4, at the leader or
//! forwarded by followers) or lease reads (§6.4.1), clients that time out, retry and
//! follow leader hints — under partitions, crashes and restarts, loss, duplication and
//! reordering. Two broken services (test-local variants, not API knobs) show the
//! checker catches what ReadIndex and sessions prevent.

use bytes::Bytes;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use synod_core::{Action, Actions, Input, Node, NodeId};
use synod_raft::session::{ClientId, Sequence, Sessions};
use synod_raft::{
    Config, EntryKind, Event, LogIndex, MemStorage, Message, ProposeError, RaftNode, ReadError,
    Record, Request,
};
use synod_sim::history::{History, OpId};
use synod_sim::linearizability::{CheckError, Checker, check};
use synod_sim::spec::Spec;
use synod_sim::{Fault, LinkConfig, Sim, SimConfig, check_seeds};

// ----- the sequential specification: a map of appendable strings -----

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum KvIn {
    Get(u8),
    Put(u8, String),
    Append(u8, String),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum KvOut {
    Value(String),
    Done,
}

/// Every key an independent string register that starts empty.
struct AppendKv;

impl Spec for AppendKv {
    type State = String;
    type Input = KvIn;
    type Output = KvOut;
    type Key = u8;
    fn init(&self) -> String {
        String::new()
    }
    fn step(&self, value: &String, input: &KvIn, output: Option<&KvOut>) -> Option<String> {
        match (input, output) {
            (KvIn::Get(_), None) => Some(value.clone()),
            (KvIn::Get(_), Some(KvOut::Value(seen))) => (seen == value).then(|| value.clone()),
            (KvIn::Put(_, v), None | Some(KvOut::Done)) => Some(v.clone()),
            (KvIn::Append(_, v), None | Some(KvOut::Done)) => Some(format!("{value}{v}")),
            _ => None,
        }
    }
    fn key(&self, input: &KvIn) -> u8 {
        match input {
            KvIn::Get(k) | KvIn::Put(k, _) | KvIn::Append(k, _) => *k,
        }
    }
}

// ----- the service -----

/// How the service is broken on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    /// Gets through ReadIndex, writes through sessions.
    Correct,
    /// Gets through ReadIndex with lease reads on.
    Lease,
    /// A node that believes it leads answers gets from its own state at once (and,
    /// to make the stale window plain, leaders do not check their quorum).
    LocalReads,
    /// Writes are applied without consulting the session table.
    NoSessions,
    /// Lease reads, but a leader that is cut off also has its clock slowed fourfold:
    /// the clock-rate assumption of §6.4.1 is broken.
    LeaseSlowClock,
}

/// A client's request: `op` names the history operation (or a registration).
#[derive(Clone, Debug)]
struct KvRequest {
    op: usize,
    client: Option<ClientId>,
    seq: u64,
    input: Option<KvIn>, // None: register a session
}

#[derive(Clone, Debug)]
enum Reply {
    Registered(ClientId),
    Output(KvOut),
    /// Try elsewhere (with a hint if the node knows the leader).
    Redirect(Option<NodeId>),
}

#[derive(Clone, Debug)]
struct KvEvent {
    op: usize,
    reply: Reply,
}

/// Commands in the log: `R|op`, or `W|op|client|seq|P or A|key|value`.
fn encode(req: &KvRequest) -> Bytes {
    match (&req.input, req.client) {
        (Some(KvIn::Put(k, v)), Some(c)) => format!("W|{}|{}|{}|P|{k}|{v}", req.op, c.0, req.seq),
        (Some(KvIn::Append(k, v)), Some(c)) => {
            format!("W|{}|{}|{}|A|{k}|{v}", req.op, c.0, req.seq)
        }
        _ => format!("R|{}", req.op),
    }
    .into()
}

/// How gets were served in a run, to show each read path is exercised.
#[derive(Clone, Copy, Debug, Default)]
struct ReadPaths {
    /// Gets a follower forwarded to its leader.
    forwarded: u64,
    /// Gets answered in the step that received them (a lease read on the leader).
    immediate: u64,
}

struct KvNode {
    raft: RaftNode,
    paths: Rc<RefCell<ReadPaths>>,
    variant: Variant,
    data: BTreeMap<u8, String>,
    sessions: Sessions<()>,
    /// Requests accepted here and not answered yet: command key → op.
    waiting: BTreeMap<(u64, u64), usize>,
    registering: BTreeMap<usize, ()>,
}

type Out = Actions<Message, Record, KvEvent>;

impl KvNode {
    fn apply(&mut self, index: LogIndex, data: &[u8], out: &mut Out) {
        let text = String::from_utf8_lossy(data);
        let parts: Vec<&str> = text.split('|').collect();
        match parts.as_slice() {
            ["R", op] => {
                let client = self.sessions.register(index);
                let op: usize = op.parse().expect("op");
                if self.registering.remove(&op).is_some() {
                    out.emit(KvEvent {
                        op,
                        reply: Reply::Registered(client),
                    });
                }
            }
            ["W", op, client, seq, kind, key, value] => {
                let (op, client, seq): (usize, u64, u64) = (
                    op.parse().expect("op"),
                    client.parse().expect("client"),
                    seq.parse().expect("seq"),
                );
                let key: u8 = key.parse().expect("key");
                let data = &mut self.data;
                let mut write = || {
                    let slot = data.entry(key).or_default();
                    if *kind == "P" {
                        *slot = value.to_string();
                    } else {
                        slot.push_str(value);
                    }
                };
                let answered = if self.variant == Variant::NoSessions {
                    write();
                    true
                } else {
                    self.sessions
                        .execute(ClientId(client), Sequence(seq), index, write)
                        .is_ok()
                };
                if answered && self.waiting.remove(&(client, seq)).is_some() {
                    out.emit(KvEvent {
                        op,
                        reply: Reply::Output(KvOut::Done),
                    });
                }
            }
            _ => {}
        }
    }
}

impl Node for KvNode {
    type Message = Message;
    type Request = KvRequest;
    type Persist = Record;
    type Event = KvEvent;
    fn id(&self) -> NodeId {
        self.raft.id()
    }
    fn step(&mut self, input: Input<Message, KvRequest>, out: &mut Out) {
        let mut raft_out = Actions::new();
        match input {
            Input::Request(req) => match &req.input {
                Some(KvIn::Get(key)) => {
                    if self.variant == Variant::LocalReads && self.raft.leader() == Some(self.id())
                    {
                        let value = self.data.get(key).cloned().unwrap_or_default();
                        out.emit(KvEvent {
                            op: req.op,
                            reply: Reply::Output(KvOut::Value(value)),
                        });
                        return;
                    }
                    let ctx = Bytes::from(format!("{}|{key}", req.op));
                    self.raft
                        .step(Input::Request(Request::Read(ctx)), &mut raft_out);
                    let mut paths = self.paths.borrow_mut();
                    for action in raft_out.as_slice() {
                        match action {
                            Action::Send {
                                msg: Message::ReadIndexRequest { .. },
                                ..
                            } => paths.forwarded += 1,
                            Action::Emit(Event::ReadReady { .. }) => paths.immediate += 1,
                            _ => {}
                        }
                    }
                }
                _ => {
                    if let (Some(client), Some(_)) = (req.client, &req.input) {
                        self.waiting.insert((client.0, req.seq), req.op);
                    } else {
                        self.registering.insert(req.op, ());
                    }
                    let data = encode(&req);
                    match self.raft.propose(data, &mut raft_out) {
                        Ok(_) => {}
                        Err(ProposeError::NotLeader { leader }) => {
                            self.waiting
                                .remove(&(req.client.map_or(0, |c| c.0), req.seq));
                            self.registering.remove(&req.op);
                            out.emit(KvEvent {
                                op: req.op,
                                reply: Reply::Redirect(leader),
                            });
                        }
                        Err(_) => {}
                    }
                }
            },
            other => {
                let other = match other {
                    Input::Tick => Input::Tick,
                    Input::Message { from, msg } => Input::Message { from, msg },
                    Input::Persisted(t) => Input::Persisted(t),
                    Input::Request(_) => unreachable!("handled above"),
                };
                self.raft.step(other, &mut raft_out);
            }
        }
        for action in raft_out.drain() {
            match action {
                Action::Emit(Event::Committed(entry)) => {
                    if entry.kind == EntryKind::Command {
                        self.apply(entry.index, &entry.data, out);
                    }
                }
                Action::Emit(Event::ReadReady { ctx, .. }) => {
                    // Everything through the read index is applied: answer from here.
                    let text = String::from_utf8_lossy(&ctx).into_owned();
                    let (op, key) = text.split_once('|').expect("ctx");
                    let key: u8 = key.parse().expect("key");
                    out.emit(KvEvent {
                        op: op.parse().expect("op"),
                        reply: Reply::Output(KvOut::Value(
                            self.data.get(&key).cloned().unwrap_or_default(),
                        )),
                    });
                }
                Action::Emit(Event::ReadFailed { ctx, error }) => {
                    let text = String::from_utf8_lossy(&ctx).into_owned();
                    let (op, _) = text.split_once('|').expect("ctx");
                    let hint = match error {
                        ReadError::NotLeader { leader } => leader,
                        _ => None,
                    };
                    out.emit(KvEvent {
                        op: op.parse().expect("op"),
                        reply: Reply::Redirect(hint),
                    });
                }
                Action::Emit(_) => {}
                Action::Send { to, msg } => out.send(to, msg),
                Action::Broadcast { msg } => out.broadcast(msg),
                Action::Persist(record) => out.persist(record),
                Action::PersistInBackground { token, data } => {
                    out.persist_in_background(token, data)
                }
            }
        }
    }
}

// ----- clients and faults -----

const NODES: u64 = 3;
const CLIENTS: usize = 4;
const OPS_PER_CLIENT: usize = 30;
/// A client gives up on an attempt after this long (2.5 election timeouts) and retries.
const CLIENT_TIMEOUT: u64 = 2_500;

struct Client {
    session: Option<ClientId>,
    seq: u64,
    done: usize,
    /// The current operation: history id (None while registering), request, and the
    /// time of the next attempt.
    current: Option<(Option<OpId>, KvRequest, u64)>,
    target: NodeId,
    /// The last attempt was redirected (keep the new target) rather than timed out.
    redirected: bool,
    /// No new operation before this time.
    think_until: u64,
}

fn run(seed: u64, variant: Variant) -> Result<(History<KvIn, KvOut>, ReadPaths), String> {
    let mut config = SimConfig::new(seed);
    config.network = LinkConfig {
        loss: 0.05,
        duplicate: 0.05,
        reorder: 0.05,
        ..LinkConfig::default()
    };
    let ids: Vec<NodeId> = (1..=NODES).map(NodeId).collect();
    let voters = ids.clone();
    let paths = Rc::new(RefCell::new(ReadPaths::default()));
    let node_paths = paths.clone();
    let mut sim = Sim::new(config, ids.clone(), move |id, durable: &Vec<Record>| {
        let storage = MemStorage::from_records(durable).expect("durable records fold");
        let mut config = Config::new(id, voters.iter().copied());
        config.seed = seed;
        config.lease_read = matches!(variant, Variant::Lease | Variant::LeaseSlowClock);
        // Check-quorum makes a cut-off leader step down within two election timeouts,
        // which hides the stale window in most runs; the broken variant runs without
        // it so that a deposed leader keeps answering for the whole partition.
        config.check_quorum = variant != Variant::LocalReads;
        KvNode {
            raft: RaftNode::new(config, storage).expect("valid config"),
            paths: node_paths.clone(),
            variant,
            data: BTreeMap::new(),
            sessions: Sessions::new(64),
            waiting: BTreeMap::new(),
            registering: BTreeMap::new(),
        }
    })
    .map_err(|e| e.to_string())?;

    // Faults, every 4,000 units while clients run: cut the current leader (or a
    // random node) off for 3,000, or crash a node and restart it 1,500 later; a
    // majority is connected most of the time.
    let mut next_fault = 1_500;
    let mut inject = move |sim: &mut Sim<KvNode>| {
        let now = sim.now();
        if now < next_fault {
            return;
        }
        next_fault = now + 4_000;
        let leader = sim
            .live_nodes()
            .filter(|(_, n)| n.raft.leader() == Some(n.raft.id()))
            .max_by_key(|(_, n)| n.raft.term())
            .map(|(id, _)| id);
        let random = NodeId(1 + sim.rng().below(NODES));
        let roll = sim.rng().below(3);
        let faults = if roll < 2 {
            // Roll 0: cut the leader off (a deposed leader keeps running for a while).
            let victim = if roll == 0 {
                leader.unwrap_or(random)
            } else {
                random
            };
            let rest: Vec<NodeId> = ids.iter().copied().filter(|&n| n != victim).collect();
            [
                (now, Fault::Partition(vec![vec![victim], rest])),
                (now + 3_000, Fault::Heal),
            ]
        } else {
            [
                (now, Fault::Crash(random)),
                (now + 1_500, Fault::Restart(random)),
            ]
        };
        for (at, fault) in faults {
            sim.schedule(at, fault).expect("known node");
        }
        if let (Variant::LeaseSlowClock, 0, Some(node)) = (variant, roll, leader) {
            for (at, period) in [(now, 400), (now + 3_000, 100)] {
                let skew = Fault::SetTickPeriod { node, period };
                sim.schedule(at, skew).expect("known node");
            }
        }
    };

    let mut history = History::new();
    let mut clients: Vec<Client> = (0..CLIENTS)
        .map(|c| Client {
            session: None,
            seq: 0,
            done: 0,
            current: None,
            target: NodeId(1 + c as u64 % NODES),
            redirected: false,
            think_until: 0,
        })
        .collect();
    let mut next_op = 1_000_000usize; // registration ops, outside the history's ids
    let mut last_stamp = 0u64;
    let mut stamp = move |now: u64| {
        last_stamp = (now * 1_000).max(last_stamp + 1);
        last_stamp
    };
    let finished = sim
        .run_until(
            |sim| {
                inject(sim);
                let now = sim.now();
                let events: Vec<KvEvent> = sim.drain_events().map(|(_, _, e)| e).collect();
                for KvEvent { op, reply } in events {
                    let Some(client) = clients
                        .iter_mut()
                        .find(|c| c.current.as_ref().is_some_and(|(_, req, _)| req.op == op))
                    else {
                        continue; // an answer to an attempt the client gave up on
                    };
                    match reply {
                        Reply::Registered(id) => {
                            client.session = Some(id);
                            client.current = None;
                        }
                        Reply::Output(output) => {
                            if let Some((Some(id), _, _)) = client.current.take() {
                                history
                                    .complete(id, output, stamp(now))
                                    .expect("each op completes once");
                                client.done += 1;
                                // Think before the next operation.
                                client.think_until = now + sim.rng().below(1_200);
                            }
                        }
                        Reply::Redirect(hint) => {
                            client.target = hint.unwrap_or(NodeId(1 + sim.rng().below(NODES)));
                            // Retry shortly at the new target.
                            if let Some((_, _, at)) = &mut client.current {
                                *at = now + 100;
                                client.redirected = true;
                            }
                        }
                    }
                }
                for (c, client) in clients.iter_mut().enumerate() {
                    if client.current.is_none() {
                        if client.done == OPS_PER_CLIENT || now < client.think_until {
                            continue;
                        }
                        let op = match client.session {
                            None => {
                                next_op += 1;
                                KvRequest {
                                    op: next_op,
                                    client: None,
                                    seq: 0,
                                    input: None,
                                }
                            }
                            Some(session) => {
                                let key = sim.rng().below(3) as u8;
                                let value = format!("{c}.{};", client.done);
                                let roll = sim.rng().below(10);
                                let input = match roll {
                                    0..=3 => KvIn::Get(key),
                                    4 => KvIn::Put(key, value),
                                    _ => KvIn::Append(key, value),
                                };
                                client.seq += 1;
                                let id = history.invoke(c as u64, input.clone(), stamp(now));
                                client.current = Some((
                                    Some(id),
                                    KvRequest {
                                        op: id.0,
                                        client: Some(session),
                                        seq: client.seq,
                                        input: Some(input),
                                    },
                                    0,
                                ));
                                continue;
                            }
                        };
                        client.current = Some((None, op, 0));
                    }
                    let Some((_, req, at)) = &mut client.current else {
                        continue;
                    };
                    if now < *at {
                        continue;
                    }
                    if *at != 0 && !client.redirected {
                        // Timed out: try another node (same request, same sequence).
                        client.target = NodeId(1 + sim.rng().below(NODES));
                    }
                    client.redirected = false;
                    *at = now + CLIENT_TIMEOUT;
                    let _ = sim.request(client.target, req.clone()); // a down node loses it
                }
                clients.iter().all(|c| c.done == OPS_PER_CLIENT)
            },
            400_000,
        )
        .map_err(|v| v.to_string())?;
    if !finished {
        return Err(format!(
            "clients did not finish: {:?}",
            clients.iter().map(|c| c.done).collect::<Vec<_>>()
        ));
    }
    let paths = *paths.borrow();
    Ok((history, paths))
}

fn judge(seed: u64, variant: Variant, total: &mut ReadPaths) -> Result<(), String> {
    let (history, paths) = run(seed, variant)?;
    total.forwarded += paths.forwarded;
    total.immediate += paths.immediate;
    check(&AppendKv, &history)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The first of seeds `0..40` on which the broken `variant` produces a history the
/// checker proves non-linearizable (a run that fails otherwise, or a search out of
/// budget, does not count), with the shrunk counterexample.
fn first_violation(variant: Variant) -> Option<(u64, String)> {
    (0..200).find_map(|seed| {
        let (history, _) = run(seed, variant).ok()?;
        match Checker::new(&AppendKv)
            .shrink_states(2_000_000)
            .check(&history)
        {
            Err(CheckError::NonLinearizable(violation)) => Some((seed, violation.to_string())),
            _ => None,
        }
    })
}

// The service is linearizable on every seed with ReadIndex gets (at the leader or
// forwarded by followers) and session-deduplicated writes, under partitions, crashes
// and restarts, 5 % loss, duplication and reordering (thesis §6.3, §6.4).
#[test]
fn kv_with_read_index_and_sessions_is_linearizable() {
    let mut paths = ReadPaths::default();
    check_seeds(
        "kv_with_read_index_and_sessions_is_linearizable",
        64,
        |seed| judge(seed, Variant::Correct, &mut paths),
    );
    assert!(paths.forwarded > 0, "followers forwarded reads: {paths:?}");
    assert_eq!(paths.immediate, 0, "every ReadIndex read waits for a round");
}

// The same with lease reads (thesis §6.4.1): the leader skips the round while its
// lease holds, and the history stays linearizable.
#[test]
fn kv_with_lease_reads_is_linearizable() {
    let mut paths = ReadPaths::default();
    check_seeds("kv_with_lease_reads_is_linearizable", 32, |seed| {
        judge(seed, Variant::Lease, &mut paths)
    });
    assert!(
        paths.immediate > 0,
        "some reads were served in the lease: {paths:?}"
    );
}

// A leader answering gets from its own state without ReadIndex serves stale values
// once it is partitioned away and a new leader takes writes (thesis §6.4: "a leader
// may not know it has been deposed"): the checker rejects some history within 40
// seeds.
#[test]
fn local_reads_without_read_index_are_caught() {
    let (seed, counterexample) =
        first_violation(Variant::LocalReads).expect("a stale read within 200 seeds");
    eprintln!("seed {seed}: {counterexample}");
}

// Retries without sessions apply an append twice when the first attempt committed
// after the client gave up on it: the checker rejects some history within 200 seeds.
#[test]
fn retries_without_sessions_are_caught() {
    let (seed, counterexample) =
        first_violation(Variant::NoSessions).expect("a double append within 200 seeds");
    eprintln!("seed {seed}: {counterexample}");
}

// Lease reads rest on bounded clock-rate differences (thesis §6.4.1): when the cut-off
// leader's clock runs four times slow, its lease outlives the followers' promise not to
// vote, a new leader takes writes, and the old one serves stale reads in its "lease".
// The checker rejects some history within 200 seeds.
#[test]
fn lease_reads_with_a_slow_clock_are_caught() {
    let (seed, counterexample) =
        first_violation(Variant::LeaseSlowClock).expect("a stale lease read within 200 seeds");
    eprintln!("seed {seed}: {counterexample}");
}
