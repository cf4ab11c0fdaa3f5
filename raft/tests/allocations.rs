//! Steady-state replication allocates at most twice per committed entry (issue 3's
//! goal), counted with a counting global allocator, not by reasoning: three nodes in
//! memory, one FIFO queue, background writes acknowledged at once, 128-byte commands
//! in batches of 64, every node applying every entry. Everything in the measured loop
//! is counted — the three nodes, their in-memory storage, and the driver's own batch
//! vectors.
//!
//! The counter is process-wide, so this test binary has no libtest harness (whose
//! threads allocate while tests run): `main` runs the checks on one thread.

use bytes::Bytes;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use synod_core::Input;
use synod_raft::Request;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const BATCH: usize = 64;
const WARM_UP_BATCHES: usize = 50;
const MEASURED_BATCHES: usize = 1_000;

mod lockstep;
use lockstep::Lockstep as Cluster;

/// Propose `batches` batches (as one `ProposeBatch` each, or one `Propose` per
/// command) and settle each; every node must apply every entry.
fn replicate(c: &mut Cluster, pool: &[Bytes], batches: usize, batched: bool) {
    for _ in 0..batches {
        let before = c.applied[0];
        if batched {
            let commands = (before..before + BATCH)
                .map(|i| pool[i % pool.len()].clone())
                .collect();
            c.step(0, Input::Request(Request::ProposeBatch(commands)));
        } else {
            for i in before..before + BATCH {
                let command = pool[i % pool.len()].clone();
                c.step(0, Input::Request(Request::Propose(command)));
            }
        }
        c.quiesce();
        assert_eq!(c.applied, [before + BATCH; 3]);
    }
}

fn pool() -> Vec<Bytes> {
    (0..1024u32)
        .map(|i| Bytes::from(i.to_le_bytes().repeat(32)))
        .collect()
}

/// Allocations (fresh and grown) per committed entry after a warm-up.
fn allocations_per_entry(batched: bool) -> f64 {
    let pool = pool();
    let mut c = Cluster::elected();
    replicate(&mut c, &pool, WARM_UP_BATCHES, batched);
    let region = Region::new(GLOBAL);
    replicate(&mut c, &pool, MEASURED_BATCHES, batched);
    let stats = region.change();
    (stats.allocations + stats.reallocations) as f64 / (MEASURED_BATCHES * BATCH) as f64
}

fn batched_replication_allocates_at_most_twice_per_entry() {
    let per_entry = allocations_per_entry(true);
    println!("allocations per committed entry, ProposeBatch of {BATCH}: {per_entry:.3}");
    assert!(per_entry <= 2.0, "{per_entry} allocations per entry");
}

fn single_proposals_allocate_a_bounded_amount_per_entry() {
    // One request per command: the leader's write record and each follower's append
    // are built per command, so more than the batched path, but still a constant.
    let per_entry = allocations_per_entry(false);
    println!("allocations per committed entry, {BATCH} x Propose: {per_entry:.3}");
    assert!(per_entry <= 4.0, "{per_entry} allocations per entry");
}

fn the_counter_sees_allocations() {
    // The checks above can fail: allocating work inside a region is counted.
    let region = Region::new(GLOBAL);
    let pool = pool();
    assert!(region.change().allocations > pool.len());
}

fn main() {
    batched_replication_allocates_at_most_twice_per_entry();
    single_proposals_allocate_a_bounded_amount_per_entry();
    the_counter_sees_allocations();
    println!("allocations: 3 passed, 0 failed");
}
