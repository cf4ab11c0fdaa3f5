//! Durable state of the anti-entropy node: replicas crash (losing their memory and
//! every message in flight to them) and restart from their durable records alone,
//! through the simulator's factory, under loss, duplication and reordering. They
//! converge, counters to exactly the sum of the accepted increments (no dot is
//! minted twice, no acknowledged value is lost). A broken variant that restarts
//! without its records (so it forgets its dot counter and reuses dots) is caught.
//! Replay with `SYNOD_SEED=<seed> cargo test -p synod-crdt --test sync_crash <name>`.

mod common;

use common::{SetOp, awset_op, bump, converged, lossy, peers, random_set_op, reads_total};
use synod_core::{ActionsOf, InputOf, Node, NodeId};
use synod_crdt::sync::{AntiEntropy, SyncConfig, SyncEvent, SyncMessage, SyncRecord, SyncStore};
use synod_crdt::{Lattice, Mutator};
use synod_sim::{Durable, Fault, Sim, SimConfig, SimRng, check_seeds};

const NODES: [NodeId; 3] = [NodeId(1), NodeId(2), NodeId(3)];

/// The simulator's durable value: the records folded as they become durable (the
/// compaction `SyncStore` allows).
#[derive(Default)]
struct Disk<T>(SyncStore<T>);

impl<T: Lattice> Durable<SyncRecord<T>> for Disk<T> {
    fn apply(&mut self, record: SyncRecord<T>) {
        self.0.apply(record);
    }
}

struct Replica<T, O>(AntiEntropy<T, O>);

impl<T: Lattice, O> Node for Replica<T, O> {
    type Message = SyncMessage<T>;
    type Request = O;
    type Persist = SyncRecord<T>;
    type Event = SyncEvent;
    fn id(&self) -> NodeId {
        self.0.id()
    }
    fn step(&mut self, input: InputOf<Self>, out: &mut ActionsOf<Self>) {
        self.0.step(input, out);
    }
}

/// Runs `ops` operations over 8,000 time units with random crashes and restarts,
/// then heals and settles. Returns the final states and the operations accepted
/// (those handed to a running node).
fn run<T: Lattice + 'static, O: Clone + std::fmt::Debug + 'static>(
    seed: u64,
    mutator: Mutator<T, O>,
    mut op: impl FnMut(&mut SimRng) -> O,
    forget_on_restart: bool,
) -> Result<(Vec<T>, Vec<O>), String> {
    let mut config = SimConfig::new(seed);
    config.network = lossy(20, 0.15);
    let mut sim: Sim<Replica<T, O>, Disk<T>> =
        Sim::new(config, NODES, move |id, disk: &Disk<T>| {
            let config = SyncConfig::new(peers(&NODES, id));
            if forget_on_restart {
                Replica(AntiEntropy::new(id, config, mutator))
            } else {
                Replica(AntiEntropy::restore(id, config, mutator, &disk.0))
            }
        })
        .map_err(|e| e.to_string())?;
    let mut rng = SimRng::new(seed ^ 0xC7A5);
    // Crash and restart each node a few times.
    for _ in 0..6 {
        let node = NODES[rng.below(3) as usize];
        let at = rng.between(200, 7_000);
        let down = rng.between(50, 600);
        sim.schedule(at, Fault::Crash(node))
            .map_err(|e| e.to_string())?;
        sim.schedule(at + down, Fault::Restart(node))
            .map_err(|e| e.to_string())?;
    }
    let mut accepted = Vec::new();
    for _ in 0..150 {
        sim.run_for(rng.between(1, 100))
            .map_err(|v| format!("{v:?}"))?;
        let node = NODES[rng.below(3) as usize];
        let o = op(&mut rng);
        if sim.request(node, o.clone()).is_ok() {
            accepted.push(o);
        }
    }
    sim.run_for(9_000u64.saturating_sub(sim.now()))
        .map_err(|v| format!("{v:?}"))?;
    for node in NODES {
        sim.apply(Fault::Restart(node)).map_err(|e| e.to_string())?;
    }
    common::settle(&mut sim)?;
    let states = NODES
        .iter()
        .map(|id| {
            sim.node(*id)
                .map(|n| n.0.state().clone())
                .ok_or("node down")
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((states, accepted))
}

fn counter_case(seed: u64, forget: bool) -> Result<(), String> {
    let (states, accepted) = run(seed, bump, |rng| rng.between(1, 9), forget)?;
    let total: u128 = accepted.iter().map(|by| u128::from(*by)).sum();
    reads_total(&states, total)
}

fn set_case(seed: u64, forget: bool) -> Result<(), String> {
    let (states, _) = run::<_, SetOp>(seed, awset_op, |rng| random_set_op(rng, 12, 0.3), forget)?;
    converged(&states)
}

// Counters survive crashes: every accepted increment is counted exactly once on
// every replica (persisted before it is sent, received values persisted before they
// are acknowledged).
#[test]
fn counter_survives_crashes() {
    check_seeds("counter_survives_crashes", 12, |seed| {
        counter_case(seed, false)
    });
}

// Add-wins sets survive crashes: replicas restarted from their records converge.
#[test]
fn awset_survives_crashes() {
    check_seeds("awset_survives_crashes", 12, |seed| set_case(seed, false));
}

// A replica restarted without its records forgets its dot counter (and what it
// acknowledged): it reuses dots, and the check catches the divergence or the lost
// increments.
#[test]
fn forgetting_on_restart_is_caught() {
    let caught_counter = (0..8).any(|seed| counter_case(seed, true).is_err());
    let caught_set = (0..8).any(|seed| set_case(seed, true).is_err());
    assert!(
        caught_counter && caught_set,
        "counter {caught_counter}, set {caught_set}"
    );
}
