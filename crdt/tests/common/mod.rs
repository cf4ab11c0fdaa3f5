//! Shared setup for the anti-entropy simulator tests (`sync_sim`, `sync_crash`,
//! `sync_gc`): lossy links, peer lists, the counter and set workloads, the
//! partition-heal-settle schedule and the convergence checks.

#![allow(dead_code)]

use std::fmt::Debug;
use synod_core::{Node, NodeId};
use synod_crdt::{AWSet, CrdtError, GCounter};
use synod_sim::{Delay, Durable, Fault, LinkConfig, Sim, SimRng};

/// Links that lose `loss` of the messages, duplicate a tenth, reorder a fifth, with
/// exponential delays of mean `mean` (at least 2).
pub fn lossy(mean: u64, loss: f64) -> LinkConfig {
    LinkConfig {
        delay: Delay::Exponential { min: 2, mean },
        loss,
        duplicate: 0.1,
        reorder: 0.2,
    }
}

/// Everyone in `nodes` but `id`.
pub fn peers(nodes: &[NodeId], id: NodeId) -> Vec<NodeId> {
    nodes.iter().copied().filter(|p| *p != id).collect()
}

/// The counter workload's mutator: add `by` at `at`.
pub fn bump(c: &mut GCounter, at: NodeId, by: &u64) -> Result<GCounter, CrdtError> {
    c.increment(at, *by)
}

/// A set workload's operation on a small element.
#[derive(Clone, Debug)]
pub enum SetOp {
    /// Add the element.
    Add(u8),
    /// Remove the element.
    Remove(u8),
}

/// A random operation on one of `elements` elements, a removal with probability
/// `remove_chance`.
pub fn random_set_op(rng: &mut SimRng, elements: u64, remove_chance: f64) -> SetOp {
    let e = rng.below(elements) as u8;
    if rng.chance(remove_chance) {
        SetOp::Remove(e)
    } else {
        SetOp::Add(e)
    }
}

/// The add-wins set workload's mutator.
pub fn awset_op(s: &mut AWSet<u8>, at: NodeId, op: &SetOp) -> Result<AWSet<u8>, CrdtError> {
    match op {
        SetOp::Add(e) => s.insert(at, *e),
        SetOp::Remove(e) => Ok(s.remove(e)),
    }
}

/// Splits `nodes` in two at a random point from time 3,000 to 7,000, runs to 12,000,
/// then makes every link reliable and settles.
pub fn partition_heal_settle<N, D>(
    sim: &mut Sim<N, D>,
    rng: &mut SimRng,
    nodes: &[NodeId],
) -> Result<(), String>
where
    N: Node,
    N::Message: Clone + Debug,
    N::Request: Debug,
    N::Event: Debug,
    D: Durable<N::Persist>,
{
    let split = rng.between(1, nodes.len() as u64 - 1) as usize;
    let (left, right) = nodes.split_at(split);
    sim.schedule(3_000, Fault::Partition(vec![left.to_vec(), right.to_vec()]))
        .map_err(|e| e.to_string())?;
    sim.schedule(7_000, Fault::Heal)
        .map_err(|e| e.to_string())?;
    sim.run_for(12_000).map_err(|v| format!("{v:?}"))?;
    settle(sim)
}

/// Makes every link reliable and gives anti-entropy 3,000 time units to finish.
pub fn settle<N, D>(sim: &mut Sim<N, D>) -> Result<(), String>
where
    N: Node,
    N::Message: Clone + Debug,
    N::Request: Debug,
    N::Event: Debug,
    D: Durable<N::Persist>,
{
    sim.apply(Fault::SetNetwork(LinkConfig::reliable(10)))
        .map_err(|e| e.to_string())?;
    sim.run_for(3_000).map_err(|v| format!("{v:?}"))
}

/// Every replica's counter reads exactly `total`: no increment lost or counted twice.
pub fn reads_total(states: &[GCounter], total: u128) -> Result<(), String> {
    match states.iter().position(|s| s.value() != total) {
        Some(i) => Err(format!(
            "replica {} reads {} but {total} was added",
            i + 1,
            states[i].value()
        )),
        None => Ok(()),
    }
}

/// Every replica holds what replica 1 holds.
pub fn converged<T: PartialEq + Debug>(states: &[T]) -> Result<(), String> {
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
