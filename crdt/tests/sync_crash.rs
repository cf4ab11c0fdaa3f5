//! Durable state of the anti-entropy node: replicas crash (losing their memory and
//! every message in flight to them) and restart from their durable records alone,
//! through the simulator's factory, under loss, duplication and reordering. They
//! converge, counters to exactly the sum of the accepted increments (no dot is
//! minted twice, no acknowledged value is lost). A broken variant that restarts
//! without its records (so it forgets its dot counter and reuses dots) is caught.
//! Replay with `SYNOD_SEED=<seed> cargo test -p synod-crdt --test sync_crash <name>`.

use synod_core::{ActionsOf, InputOf, Node, NodeId};
use synod_crdt::sync::{AntiEntropy, SyncConfig, SyncEvent, SyncMessage, SyncRecord, SyncStore};
use synod_crdt::{AWSet, CrdtError, GCounter, Lattice, Mutator};
use synod_sim::{Delay, Durable, Fault, LinkConfig, Sim, SimConfig, SimRng, check_seeds};

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
    config.network = LinkConfig {
        delay: Delay::Exponential { min: 2, mean: 20 },
        loss: 0.15,
        duplicate: 0.1,
        reorder: 0.2,
    };
    let mut sim: Sim<Replica<T, O>, Disk<T>> =
        Sim::new(config, NODES, move |id, disk: &Disk<T>| {
            let peers = NODES.iter().copied().filter(|p| *p != id).collect();
            let config = SyncConfig::new(peers);
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
    sim.apply(Fault::SetNetwork(LinkConfig::reliable(10)))
        .map_err(|e| e.to_string())?;
    sim.run_for(3_000).map_err(|v| format!("{v:?}"))?;
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

fn bump(c: &mut GCounter, at: NodeId, by: &u64) -> Result<GCounter, CrdtError> {
    c.increment(at, *by)
}

fn counter_case(seed: u64, forget: bool) -> Result<(), String> {
    let (states, accepted) = run(seed, bump, |rng| rng.between(1, 9), forget)?;
    let total: u128 = accepted.iter().map(|by| u128::from(*by)).sum();
    for (i, s) in states.iter().enumerate() {
        if s.value() != total {
            return Err(format!(
                "replica {} reads {} but {total} was added",
                i + 1,
                s.value()
            ));
        }
    }
    Ok(())
}

#[derive(Clone, Debug)]
enum SetOp {
    Add(u8),
    Remove(u8),
}

fn set_op(s: &mut AWSet<u8>, at: NodeId, op: &SetOp) -> Result<AWSet<u8>, CrdtError> {
    match op {
        SetOp::Add(e) => s.insert(at, *e),
        SetOp::Remove(e) => Ok(s.remove(e)),
    }
}

fn set_case(seed: u64, forget: bool) -> Result<(), String> {
    let (states, _) = run(
        seed,
        set_op,
        |rng| {
            let e = rng.below(12) as u8;
            if rng.chance(0.3) {
                SetOp::Remove(e)
            } else {
                SetOp::Add(e)
            }
        },
        forget,
    )?;
    match states.iter().position(|s| *s != states[0]) {
        Some(i) => Err(format!(
            "replica {} holds {:?}, replica 1 {:?}",
            i + 1,
            states[i],
            states[0]
        )),
        None => Ok(()),
    }
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
