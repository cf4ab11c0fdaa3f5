//! Quorum arithmetic on the replication hot path allocates nothing: the committed
//! index of 3–7 voters (majority and joint) and vote counting. Counted with a counting
//! global allocator, not by reasoning.
//!
//! The counter is process-wide, so this binary has no libtest harness: `main` runs
//! the checks on one thread.

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use std::hint::black_box;
use synod_core::NodeId;
use synod_quorum::{Joint, Majority, QuorumKind, QuorumSystem};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn main() {
    let joint = Joint::new(
        Majority::new([1, 2, 3, 4, 5].map(NodeId)).unwrap(),
        Majority::new([4, 5, 6, 7].map(NodeId)).unwrap(),
    );
    let sevens: Vec<Majority> = (3..=7)
        .map(|n| Majority::new((1..=n).map(NodeId)).unwrap())
        .collect();
    let matched = [0u64, 9, 4, 7, 1, 8, 3, 6];

    let region = Region::new(GLOBAL);
    let mut sink = 0u64;
    for round in 0..10_000u64 {
        let value = |id: NodeId| Some(matched[id.0 as usize] + round);
        for voters in &sevens {
            sink ^= voters
                .committed_value(QuorumKind::Write, value)
                .unwrap_or(0);
            let granted = |id: NodeId| Some((id.0 + round).is_multiple_of(2));
            sink ^= voters.vote_result(QuorumKind::Read, granted) as u64;
        }
        sink ^= joint.committed_value(QuorumKind::Write, value).unwrap_or(0);
    }
    let stats = region.change();
    black_box(sink);
    assert_eq!(
        stats.allocations, 0,
        "quorum arithmetic allocated {} times in 10,000 rounds",
        stats.allocations
    );
    println!("quorum arithmetic: 0 allocations in 10,000 rounds of 3-7 voters");
}
