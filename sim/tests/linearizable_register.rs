//! End to end: clients drive a replicated register on the simulator, their operations
//! are recorded in a history, and the linearizability checker judges it. Reads served
//! at the primary are linearizable even when a backup crashes and writes stay pending
//! forever; reads served by a lagging backup are caught.

use std::collections::{BTreeMap, BTreeSet};
use synod_core::{Actions, Input, Node, NodeId};
use synod_sim::history::{History, OpId};
use synod_sim::linearizability::check;
use synod_sim::spec::{Register, RegisterInput, RegisterOutput};
use synod_sim::{Fault, LinkConfig, Sim, SimConfig, check_seeds};

const PRIMARY: NodeId = NodeId(1);
const BACKUPS: [NodeId; 2] = [NodeId(2), NodeId(3)];

#[derive(Clone, Debug)]
enum Msg {
    Replicate { seq: u64, value: u64 },
    Ack { seq: u64 },
}

#[derive(Debug)]
struct Req {
    op: usize,
    input: RegisterInput<u64>,
}

#[derive(Debug)]
struct Done {
    op: usize,
    output: RegisterOutput<u64>,
}

/// Primary-backup register: the primary applies a write, replicates it, and answers
/// once every backup acknowledged. Any replica answers reads from its own copy.
struct Replica {
    id: NodeId,
    value: u64,
    seq: u64,
    /// Writes waiting for acknowledgements: seq -> (op, backups that acknowledged).
    waiting: BTreeMap<u64, (usize, BTreeSet<NodeId>)>,
}

impl Node for Replica {
    type Message = Msg;
    type Request = Req;
    type Persist = ();
    type Event = Done;
    fn id(&self) -> NodeId {
        self.id
    }
    fn step(&mut self, input: Input<Msg, Req>, out: &mut Actions<Msg, (), Done>) {
        match input {
            Input::Request(Req { op, input }) => match input {
                RegisterInput::Write(value) if self.id == PRIMARY => {
                    self.seq += 1;
                    self.value = value;
                    self.waiting.insert(self.seq, (op, BTreeSet::new()));
                    out.broadcast(Msg::Replicate {
                        seq: self.seq,
                        value,
                    });
                }
                RegisterInput::Read => out.emit(Done {
                    op,
                    output: RegisterOutput::Value(self.value),
                }),
                _ => {} // writes only at the primary; no compare-and-set
            },
            Input::Message {
                from,
                msg: Msg::Replicate { seq, value },
            } => {
                if seq > self.seq {
                    self.seq = seq;
                    self.value = value;
                }
                out.send(from, Msg::Ack { seq });
            }
            Input::Message {
                from,
                msg: Msg::Ack { seq },
            } => {
                if let Some((op, acks)) = self.waiting.get_mut(&seq) {
                    acks.insert(from);
                    if acks.len() == BACKUPS.len() {
                        let op = *op;
                        self.waiting.remove(&seq);
                        out.emit(Done {
                            op,
                            output: RegisterOutput::Written,
                        });
                    }
                }
            }
            Input::Tick | Input::Persisted(_) => {}
        }
    }
}

/// Three clients issue 60 operations each (one at a time per client), reading at the
/// primary or, when `reads_at_backups`, at a random backup. A backup crashes midway.
fn run(seed: u64, reads_at_backups: bool) -> History<RegisterInput<u64>, RegisterOutput<u64>> {
    let mut config = SimConfig::new(seed);
    config.network = LinkConfig {
        reorder: 0.2,
        ..LinkConfig::default()
    };
    let nodes = [PRIMARY, BACKUPS[0], BACKUPS[1]];
    let mut sim = Sim::new(config, nodes, |id, _: &Vec<()>| Replica {
        id,
        value: 0,
        seq: 0,
        waiting: BTreeMap::new(),
    })
    .expect("valid configuration");
    sim.schedule(3_000, Fault::Crash(BACKUPS[1]))
        .expect("known node");

    const CLIENTS: u64 = 3;
    const OPS_PER_CLIENT: u64 = 60;
    let mut history = History::new();
    // client -> (op, invoked at)
    let mut in_flight: BTreeMap<u64, (OpId, u64)> = BTreeMap::new();
    let mut issued = [0u64; CLIENTS as usize];
    let mut next_value = 1;
    let mut client_of: BTreeMap<usize, u64> = BTreeMap::new();
    // History times: the simulated time, refined by the order in which the harness
    // observes things within one instant, so that a client's consecutive operations
    // are strictly ordered (equal times would count as concurrent).
    let mut last_stamp = 0u64;
    let mut stamp = move |now: u64| {
        last_stamp = (now * 1_000).max(last_stamp + 1);
        last_stamp
    };
    sim.run_until(
        |sim| {
            let now = sim.now();
            let done: Vec<Done> = sim.drain_events().map(|(_, _, d)| d).collect();
            for Done { op, output } in done {
                if let Some(client) = client_of.remove(&op) {
                    history
                        .complete(OpId(op), output, stamp(now))
                        .expect("each op completes once");
                    in_flight.remove(&client);
                }
            }
            // A client gives up on an operation after 1,000 time units (a write
            // waiting on the crashed backup); it stays pending in the history.
            in_flight.retain(|_, (op, at)| {
                let waiting = now - *at / 1_000 < 1_000;
                if !waiting {
                    client_of.remove(&op.0);
                }
                waiting
            });
            for client in 0..CLIENTS {
                if in_flight.contains_key(&client) || issued[client as usize] == OPS_PER_CLIENT {
                    continue;
                }
                issued[client as usize] += 1;
                let write = sim.rng().chance(0.4);
                let (input, node) = if write {
                    next_value += 1;
                    (RegisterInput::Write(next_value), PRIMARY)
                } else if reads_at_backups {
                    (RegisterInput::Read, BACKUPS[sim.rng().below(2) as usize])
                } else {
                    (RegisterInput::Read, PRIMARY)
                };
                let at = stamp(now);
                let id = history.invoke(client, input.clone(), at);
                // A request to a crashed node is lost: the operation stays pending
                // and the client moves on.
                if sim.request(node, Req { op: id.0, input }).is_ok() {
                    in_flight.insert(client, (id, at));
                    client_of.insert(id.0, client);
                }
            }
            issued.iter().all(|&n| n == OPS_PER_CLIENT) && in_flight.is_empty()
        },
        200_000,
    )
    .expect("no invariants");
    history
}

#[test]
fn primary_reads_are_linearizable_with_pending_writes() {
    // Reads at the primary are linearizable on every seed, including the writes left
    // pending forever by the crashed backup.
    let mut saw_pending = false;
    check_seeds(
        "primary_reads_are_linearizable_with_pending_writes",
        32,
        |seed| {
            let history = run(seed, false);
            saw_pending |= history.pending().count() > 0;
            check(&Register::new(0), &history)
                .map(|_| ())
                .map_err(|e| e.to_string())
        },
    );
    assert!(saw_pending, "the crash left some writes pending");
}

#[test]
fn reads_at_a_lagging_backup_are_caught() {
    // Backups answer reads before a write reaches every replica; within 32 seeds the
    // checker rejects a history and its counterexample is a handful of its 180
    // operations.
    let rejected = (0..32).find_map(|seed| check(&Register::new(0), &run(seed, true)).err());
    let counterexample = rejected.expect("a stale read within 32 seeds").to_string();
    eprintln!("{counterexample}");
    let ops = counterexample
        .lines()
        .filter(|l| l.contains("client"))
        .count();
    assert!((2..=8).contains(&ops), "{counterexample}");
}
