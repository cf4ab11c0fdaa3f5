//! Quorum-replicated registers on the simulator, judged by the linearizability checker.
//!
//! ABD (Attiya, Bar-Noy & Dolev 1995) must be linearizable while a minority of servers
//! crash and restart and the network loses, duplicates and reorders messages; the same
//! run with reads that skip their write-back (a *regular* register) must be caught. The
//! masking-quorum register must never return a value nobody wrote while f servers lie.

use bytes::Bytes;
use std::collections::BTreeMap;
use synod_core::NodeId;
use synod_quorum::register::{
    AbdClient, AbdConfig, MaskingClient, ReadMode, RegisterEvent, RegisterMessage, RegisterNode,
    RegisterRequest, RegisterServer, Tag, Tagged, Writers,
};
use synod_quorum::{Byzantine, Majority};
use synod_sim::history::{History, OpId};
use synod_sim::linearizability::check;
use synod_sim::spec::{Register, RegisterInput, RegisterOutput};
use synod_sim::{Fault, LinkConfig, Sim, SimConfig, check_seeds};

type Hist = History<RegisterInput<u64>, RegisterOutput<u64>>;

const SERVERS: [NodeId; 5] = [NodeId(1), NodeId(2), NodeId(3), NodeId(4), NodeId(5)];
const CLIENTS: [NodeId; 3] = [NodeId(11), NodeId(12), NodeId(13)];

fn encode(value: u64) -> Bytes {
    Bytes::copy_from_slice(&value.to_le_bytes())
}

fn decode(value: &Bytes) -> u64 {
    // The initial, never-written value is empty: 0 in the model.
    value.as_ref().try_into().map_or(0, u64::from_le_bytes)
}

fn lossy() -> LinkConfig {
    LinkConfig {
        loss: 0.1,
        duplicate: 0.1,
        reorder: 0.3,
        ..LinkConfig::default()
    }
}

/// Crash and restart servers so that at most two of five (a minority) are down at any
/// time: one "fault slot" cycles through servers 1–3, the other through 4–5.
fn schedule_server_crashes(sim: &mut Sim<RegisterNode>) {
    for (slot, group) in [&SERVERS[..3], &SERVERS[3..]].into_iter().enumerate() {
        let mut at = 500 + 700 * slot as u64;
        for _ in 0..6 {
            let victim = group[sim.rng().below(group.len() as u64) as usize];
            let down_for = 200 + sim.rng().below(3_000);
            sim.schedule(at, Fault::Crash(victim)).expect("known node");
            sim.schedule(at + down_for, Fault::Restart(victim))
                .expect("known node");
            at += down_for + 300 + sim.rng().below(2_000);
        }
    }
}

/// Drive `clients` through `ops_per_client` operations each (one at a time per client,
/// writing fresh values when `writes` says so), recording the history. An operation whose client
/// crashed stays pending.
fn drive(
    sim: &mut Sim<RegisterNode>,
    clients: &[NodeId],
    ops_per_client: usize,
    mut writes: impl FnMut(&mut synod_sim::SimRng, NodeId) -> bool,
) -> Hist {
    let mut history = History::new();
    let mut in_flight: BTreeMap<NodeId, OpId> = BTreeMap::new();
    let mut issued: BTreeMap<NodeId, usize> = clients.iter().map(|&c| (c, 0)).collect();
    let mut next_value = 0u64;
    let mut last_stamp = 0u64;
    let mut stamp = move |now: u64| {
        last_stamp = (now * 1_000).max(last_stamp + 1);
        last_stamp
    };
    sim.run_until(
        |sim| {
            let now = sim.now();
            let events: Vec<(NodeId, RegisterEvent)> =
                sim.drain_events().map(|(_, id, e)| (id, e)).collect();
            for (client, event) in events {
                let output = match event {
                    RegisterEvent::Read { read, .. } => RegisterOutput::Value(decode(&read.value)),
                    RegisterEvent::Written { .. } => RegisterOutput::Written,
                    RegisterEvent::Rejected(e) => {
                        panic!("seed {}: client {client} refused: {e}", sim.seed())
                    }
                };
                let op = in_flight
                    .remove(&client)
                    .expect("an event answers the running operation");
                history
                    .complete(op, output, stamp(now))
                    .expect("completes once");
            }
            for &client in clients {
                if in_flight.contains_key(&client)
                    || issued[&client] == ops_per_client
                    || !sim.is_up(client)
                {
                    continue;
                }
                *issued.get_mut(&client).expect("known") += 1;
                let input = if writes(sim.rng(), client) {
                    next_value += 1;
                    RegisterInput::Write(next_value)
                } else {
                    RegisterInput::Read
                };
                let request = match &input {
                    RegisterInput::Write(v) => RegisterRequest::Write(encode(*v)),
                    _ => RegisterRequest::Read,
                };
                let op = history.invoke(client.0, input, stamp(now));
                sim.request(client, request).expect("client is up");
                in_flight.insert(client, op);
            }
            // Done when every client finished its operations or is down (a client
            // crashed for good issues and completes nothing more: running on would
            // only tick the cluster until the step limit, adding nothing to the
            // history).
            clients.iter().all(|c| {
                !sim.is_up(*c) || (issued[c] == ops_per_client && !in_flight.contains_key(c))
            })
        },
        2_000_000,
    )
    .unwrap_or_else(|v| panic!("{v}"));
    history
}

fn abd_cluster(seed: u64, config: AbdConfig) -> Sim<RegisterNode> {
    let servers = Majority::new(SERVERS).expect("valid");
    let mut sim_config = SimConfig::new(seed);
    sim_config.network = lossy();
    let ids = SERVERS.iter().chain(&CLIENTS).copied();
    let mut sim = Sim::new(sim_config, ids, move |id, durable: &Vec<Tagged>| {
        if SERVERS.contains(&id) {
            RegisterNode::Server(RegisterServer::recover(id, durable))
        } else {
            RegisterNode::Abd(AbdClient::new(id, servers.clone(), config))
        }
    })
    .expect("valid configuration");
    // A server's tag never goes back, not even across a crash: it persists before acking.
    let mut highest: BTreeMap<NodeId, Tag> = BTreeMap::new();
    sim.add_invariant("server tags are monotonic", move |sim| {
        for (id, node) in sim.live_nodes() {
            if let RegisterNode::Server(server) = node {
                let tag = server.stored().tag;
                let seen = highest.entry(id).or_default();
                if tag < *seen {
                    return Err(format!("{id} went back from {seen:?} to {tag:?}"));
                }
                *seen = tag;
            }
        }
        Ok(())
    });
    schedule_server_crashes(&mut sim);
    sim
}

fn run_abd(seed: u64, config: AbdConfig) -> Hist {
    let mut sim = abd_cluster(seed, config);
    // Half the runs lose a client mid-operation for good: its operation stays pending,
    // possibly half-written.
    if seed % 2 == 1 {
        let at = 1_000 + sim.rng().below(4_000);
        sim.schedule(at, Fault::Crash(CLIENTS[2]))
            .expect("known node");
    }
    drive(&mut sim, &CLIENTS, 40, |rng, _| rng.chance(0.4))
}

/// MWMR ABD is linearizable with a minority of servers crashing and restarting, 10%
/// loss, 10% duplication, reordering and a crashed client (ABD §4, Theorem 4.1).
#[test]
fn abd_multi_writer_is_linearizable_under_faults() {
    check_seeds(
        "abd_multi_writer_is_linearizable_under_faults",
        64,
        |seed| {
            let history = run_abd(seed, AbdConfig::default());
            check(&Register::new(0), &history)
                .map(|_| ())
                .map_err(|e| e.to_string())
        },
    );
}

/// SWMR ABD: one writer that counts timestamps itself (one round trip per write after
/// the first), readers that write back. Linearizable under the same faults.
#[test]
fn abd_single_writer_is_linearizable_under_faults() {
    check_seeds(
        "abd_single_writer_is_linearizable_under_faults",
        64,
        |seed| {
            let mut sim = abd_cluster(
                seed,
                AbdConfig {
                    writers: Writers::Single,
                    ..AbdConfig::default()
                },
            );
            // Client 11 writes; 12 and 13 only read.
            let writer = drive(&mut sim, &CLIENTS, 40, |_, client| client == CLIENTS[0]);
            check(&Register::new(0), &writer)
                .map(|_| ())
                .map_err(|e| e.to_string())
        },
    );
}

/// Reads that skip the write-back (a regular register) are NOT linearizable, and the
/// checker finds it: a read returns a half-stored new value and a later read the old
/// one. This proves both that the write-back matters and that the harness can fail.
#[test]
fn reads_without_write_back_are_caught() {
    let regular = AbdConfig {
        reads: ReadMode::Regular,
        ..AbdConfig::default()
    };
    let found = (0..200).find_map(|seed| {
        let history = run_abd(seed, regular);
        check(&Register::new(0), &history)
            .err()
            .map(|e| (seed, e.to_string()))
    });
    let (seed, counterexample) =
        found.expect("a regular register shows a new-old inversion within 200 seeds");
    println!("seed {seed}: {counterexample}");
}

/// A client of the five servers that has started a read (its queries already taken
/// from the returned, empty, output buffer).
fn client_reading() -> (
    AbdClient<Majority>,
    synod_core::Actions<RegisterMessage, Tagged, RegisterEvent>,
) {
    let mut client = AbdClient::new(
        NodeId(10),
        Majority::new(SERVERS).unwrap(),
        AbdConfig::default(),
    );
    let mut out = synod_core::Actions::new();
    client.read(&mut out);
    out.clear();
    (client, out)
}

/// Replies from nodes outside the replica set and duplicated replies never complete an
/// operation: a client waits for a real majority.
#[test]
fn forged_and_duplicated_replies_do_not_count() {
    let (mut client, mut out) = client_reading();
    let reply = |ts: u64| RegisterMessage::QueryReply {
        op: synod_quorum::register::OpNumber(1),
        stored: Tagged {
            tag: Tag {
                timestamp: ts,
                writer: NodeId(1),
            },
            value: encode(ts),
        },
    };
    // Server 1 three times, two strangers: still one server heard.
    for from in [NodeId(1), NodeId(1), NodeId(99), NodeId(1), NodeId(100)] {
        client.on_message(from, reply(7), &mut out);
    }
    // A reply to another operation.
    client.on_message(
        NodeId(2),
        RegisterMessage::QueryReply {
            op: synod_quorum::register::OpNumber(9),
            stored: Tagged::default(),
        },
        &mut out,
    );
    assert!(
        out.as_slice().is_empty(),
        "no quorum yet: {:?}",
        out.as_slice()
    );
    assert!(client.is_busy());
    client.on_message(NodeId(2), reply(3), &mut out);
    client.on_message(NodeId(3), reply(3), &mut out);
    // A majority answered; the highest tag (7, from server 1) is written back.
    assert!(out.as_slice().iter().any(|a| matches!(a, synod_core::Action::Send { msg: RegisterMessage::Store { stored, .. }, .. } if stored.tag.timestamp == 7)));
}

/// A client runs one operation at a time: a second request is a typed error.
#[test]
fn a_busy_client_refuses_a_second_request() {
    let (mut client, mut out) = client_reading();
    client.write(encode(1), &mut out);
    assert!(matches!(
        out.as_slice(),
        [synod_core::Action::Emit(RegisterEvent::Rejected(
            synod_quorum::register::RequestError::Busy(_)
        ))]
    ));
}

/// The masking register with f = 1 of n = 5 servers lying — forging a value with a
/// huge timestamp, or staying silent — never returns a value nobody wrote, and a read
/// that overlaps no write returns the last value written (Malkhi & Reiter, safe
/// semantics).
#[test]
fn masking_register_survives_a_lying_server() {
    check_seeds("masking_register_survives_a_lying_server", 64, |seed| {
        let liar = SERVERS[(seed % 5) as usize];
        masking_run(seed, &[liar])
    });
}

/// The same check catches a broken assumption: two servers colluding on one forged
/// value (f = 1 exceeded) get it believed, and the check reports the forgery.
#[test]
fn masking_check_catches_colluding_liars() {
    let caught = (0..16).any(|seed| masking_run(seed, &[SERVERS[0], SERVERS[1]]).is_err());
    assert!(
        caught,
        "two colluding liars must be able to fool a masking client built for f = 1"
    );
}

const FORGED: u64 = 666;

fn masking_run(seed: u64, liars: &[NodeId]) -> Result<(), String> {
    let servers = Byzantine::masking(SERVERS, 1).expect("n = 4f + 1");
    let mut config = SimConfig::new(seed);
    config.network = LinkConfig {
        loss: 0.05,
        duplicate: 0.05,
        reorder: 0.3,
        ..LinkConfig::default()
    };
    let ids = SERVERS.iter().chain(&CLIENTS[..2]).copied();
    let mut sim = Sim::new(config, ids, move |id, durable: &Vec<Tagged>| {
        if SERVERS.contains(&id) {
            RegisterNode::Server(RegisterServer::recover(id, durable))
        } else {
            RegisterNode::<Majority>::Masking(
                MaskingClient::new(id, servers.clone()).expect("masking"),
            )
        }
    })
    .expect("valid configuration");
    for &liar in liars {
        sim.set_byzantine(liar, move |rng, _to, msg| match msg {
            RegisterMessage::QueryReply { op, .. } => Some(RegisterMessage::QueryReply {
                op,
                stored: Tagged {
                    tag: Tag {
                        timestamp: 1_000_000,
                        writer: NodeId(66),
                    },
                    value: encode(FORGED),
                },
            }),
            _ if rng.chance(0.3) => None,
            other => Some(other),
        })
        .expect("known node");
    }
    // Client 11 writes 1..=20 one after another; client 12 reads concurrently; at the
    // end, with no write running, client 12 reads once more.
    let history = drive_masking(&mut sim)?;
    for (read, _) in history.iter().filter(|(_, w)| w.is_none()) {
        if *read == Some(FORGED) {
            return Err(format!("read {FORGED}, which nobody wrote"));
        }
    }
    match history.last() {
        Some((Some(20), None)) => Ok(()),
        last => Err(format!(
            "final quiet read returned {last:?}, expected the last write, 20"
        )),
    }
}

/// Runs the masking scenario; returns (read value, written value) per completed op.
/// (value read, value written) of one completed operation.
type Completed = (Option<u64>, Option<u64>);

fn drive_masking(sim: &mut Sim<RegisterNode>) -> Result<Vec<Completed>, String> {
    let (writer, reader) = (CLIENTS[0], CLIENTS[1]);
    let mut done = Vec::new();
    let mut writes = 0u64;
    let mut reads = 0u64;
    let mut busy: BTreeMap<NodeId, Option<u64>> = BTreeMap::new();
    let mut final_read = false;
    let mut refused = None;
    sim.run_until(
        |sim| {
            let events: Vec<(NodeId, RegisterEvent)> =
                sim.drain_events().map(|(_, id, e)| (id, e)).collect();
            for (client, event) in events {
                let write = busy.remove(&client).flatten();
                match event {
                    RegisterEvent::Read { read, .. } => {
                        done.push((Some(decode(&read.value)), None))
                    }
                    RegisterEvent::Written { .. } => done.push((None, write)),
                    RegisterEvent::Rejected(e) => {
                        refused = Some(e.to_string());
                        return true;
                    }
                }
            }
            if writes < 20 && !busy.contains_key(&writer) {
                writes += 1;
                sim.request(writer, RegisterRequest::Write(encode(writes)))
                    .expect("up");
                busy.insert(writer, Some(writes));
            }
            if reads < 30 && !busy.contains_key(&reader) {
                reads += 1;
                sim.request(reader, RegisterRequest::Read).expect("up");
                busy.insert(reader, None);
            }
            if writes == 20 && reads == 30 && busy.is_empty() {
                if final_read {
                    return true;
                }
                final_read = true;
                sim.request(reader, RegisterRequest::Read).expect("up");
                busy.insert(reader, None);
            }
            false
        },
        2_000_000,
    )
    .unwrap_or_else(|v| panic!("{v}"));
    match refused {
        Some(why) => Err(format!("refused: {why}")),
        None => Ok(done),
    }
}
