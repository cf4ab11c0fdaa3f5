//! Delta anti-entropy on the simulator with lossy, duplicating, reordering links and
//! partitions: once the network heals, every replica converges to the same state,
//! and no acknowledged update is lost (the counter's value is exactly the sum of the
//! accepted increments). A fire-and-forget variant (no retransmission: each send is
//! treated as acknowledged) is caught by the same check. Replicas in a line (A–B–C,
//! A and C never talk) converge through B by delta forwarding. Replay a failing seed with
//! `SYNOD_SEED=<seed> cargo test -p synod-crdt --test sync_sim <name>`.

mod common;

use common::{SetOp, awset_op, bump, converged, lossy, peers, random_set_op, reads_total};
use synod_core::{Action, ActionsOf, Input, InputOf, Node, NodeId};
use synod_crdt::sync::{AntiEntropy, SyncConfig, SyncEvent, SyncMessage};
use synod_crdt::{Lattice, Mutator};
use synod_sim::{Fault, Sim, SimConfig, SimRng, check_seeds};

const NODES: [NodeId; 4] = [NodeId(1), NodeId(2), NodeId(3), NodeId(4)];

/// The node under test, optionally made fire-and-forget by tampering with its inputs:
/// every delta group it sends is immediately acknowledged to it on the peer's behalf.
struct Tested<T, O> {
    inner: AntiEntropy<T, O>,
    fire_and_forget: bool,
}

impl<T: Lattice, O> Node for Tested<T, O> {
    type Message = SyncMessage<T>;
    type Request = O;
    type Persist = synod_crdt::sync::SyncRecord<T>;
    type Event = SyncEvent;
    fn id(&self) -> NodeId {
        self.inner.id()
    }
    fn step(&mut self, input: InputOf<Self>, out: &mut ActionsOf<Self>) {
        let before = out.len();
        self.inner.step(input, out);
        if !self.fire_and_forget {
            return;
        }
        let fake_acks: Vec<(NodeId, u64)> = out.as_slice()[before..]
            .iter()
            .filter_map(|a| match a {
                Action::Send {
                    to,
                    msg: SyncMessage::Deltas { upto, .. } | SyncMessage::State { upto, .. },
                } => Some((*to, *upto)),
                _ => None,
            })
            .collect();
        let mut ignored = synod_core::Actions::new();
        for (to, upto) in fake_acks {
            self.inner.step(
                Input::Message {
                    from: to,
                    msg: SyncMessage::Ack {
                        upto,
                        seen: synod_clocks::VersionVector::new(),
                    },
                },
                &mut ignored,
            );
        }
    }
}

/// The final replica states and the operations issued (node, op).
type Outcome<T, O> = (Vec<T>, Vec<(NodeId, O)>);

/// Runs `ops` random operations at random nodes over 10,000 time units with a
/// partition in the middle, heals, runs on, and returns the final replica states.
fn run<T: Lattice + 'static, O: Clone + std::fmt::Debug + 'static>(
    seed: u64,
    mutator: Mutator<T, O>,
    mut op: impl FnMut(&mut SimRng) -> O,
    ops: usize,
    buffer_limit: usize,
    fire_and_forget: bool,
) -> Result<Outcome<T, O>, String> {
    let mut config = SimConfig::new(seed);
    config.network = lossy(30, 0.2);
    let mut sim = Sim::new(config, NODES, move |id, _: &Vec<_>| {
        let mut cfg = SyncConfig::new(peers(&NODES, id));
        cfg.buffer_limit = buffer_limit;
        Tested {
            inner: AntiEntropy::new(id, cfg, mutator),
            fire_and_forget,
        }
    })
    .map_err(|e| e.to_string())?;
    let mut rng = SimRng::new(seed ^ 0xC4D7);
    let mut issued = Vec::new();
    for _ in 0..ops {
        let at = rng.between(0, 10_000);
        let node = NODES[rng.below(NODES.len() as u64) as usize];
        let o = op(&mut rng);
        issued.push((node, o.clone()));
        sim.schedule_request(at, node, o)
            .map_err(|e| e.to_string())?;
    }
    common::partition_heal_settle(&mut sim, &mut rng, &NODES)?;
    let states = NODES
        .iter()
        .map(|id| {
            sim.node(*id)
                .map(|n| n.inner.state().clone())
                .ok_or("node missing")
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((states, issued))
}

fn counter_case(seed: u64, buffer_limit: usize, fire_and_forget: bool) -> Result<(), String> {
    let (states, issued) = run(
        seed,
        bump,
        |rng| rng.between(1, 9),
        200,
        buffer_limit,
        fire_and_forget,
    )?;
    let total: u128 = issued.iter().map(|(_, by)| u128::from(*by)).sum();
    reads_total(&states, total)
}

// Counters converge to exactly the sum of all increments under loss, duplication,
// reordering and a partition (no update lost, none counted twice).
#[test]
fn counter_converges_under_faults() {
    check_seeds("counter_converges_under_faults", 16, |seed| {
        counter_case(seed, 1024, false)
    });
}

// With a buffer of 4 deltas, peers behind get the full state, and still converge.
#[test]
fn counter_converges_with_full_state_fallback() {
    check_seeds("counter_converges_with_full_state_fallback", 8, |seed| {
        counter_case(seed, 4, false)
    });
}

// Add-wins sets with concurrent adds and removes end equal on every replica.
#[test]
fn awset_converges_under_faults() {
    check_seeds("awset_converges_under_faults", 16, |seed| {
        let (states, _) = run::<_, SetOp>(
            seed,
            awset_op,
            |rng| random_set_op(rng, 16, 0.4),
            200,
            64,
            false,
        )?;
        converged(&states)
    });
}

// The check catches a broken variant: fire-and-forget deltas are lost on lossy links
// (in the line, where forwarding by the other replicas cannot make up for them).
#[test]
fn fire_and_forget_is_caught() {
    let caught = (0..8).any(|seed| line_case(seed, true).is_err());
    assert!(
        caught,
        "a fire-and-forget node converged on every seed: the check is blind"
    );
}

/// A–B–C in a line: A and C never talk (both directions blocked for the whole run);
/// operations at A and C must still reach each other through B.
fn line_case(seed: u64, fire_and_forget: bool) -> Result<(), String> {
    let line = [NodeId(1), NodeId(2), NodeId(3)];
    let mut config = SimConfig::new(seed);
    config.network = lossy(30, 0.2);
    let mut sim = Sim::new(config, line, move |id, _: &Vec<_>| {
        let mut cfg = SyncConfig::new(peers(&line, id));
        cfg.buffer_limit = 16;
        Tested {
            inner: AntiEntropy::new(id, cfg, bump),
            fire_and_forget,
        }
    })
    .map_err(|e| e.to_string())?;
    for (from, to) in [(line[0], line[2]), (line[2], line[0])] {
        sim.apply(Fault::BlockLink { from, to })
            .map_err(|e| e.to_string())?;
    }
    let mut rng = SimRng::new(seed ^ 0x11E);
    let mut total = 0u128;
    for _ in 0..100 {
        let at = rng.between(0, 5_000);
        let node = if rng.chance(0.5) { line[0] } else { line[2] };
        let by = rng.between(1, 9);
        total += u128::from(by);
        sim.schedule_request(at, node, by)
            .map_err(|e| e.to_string())?;
    }
    sim.run_for(8_000).map_err(|v| format!("{v:?}"))?;
    for id in line {
        let n = sim.node(id).ok_or("node missing")?;
        if n.inner.state().value() != total {
            return Err(format!(
                "{id} reads {} but {total} was added",
                n.inner.state().value()
            ));
        }
    }
    Ok(())
}

// Delta forwarding (Almeida et al. 2018, Algorithm 2): received deltas that inflate
// the state are buffered and sent on, so replicas that never talk directly converge
// through a third one, also with a small buffer (full-state fallback).
#[test]
fn line_topology_converges_through_the_middle() {
    check_seeds("line_topology_converges_through_the_middle", 16, |seed| {
        line_case(seed, false)
    });
}
