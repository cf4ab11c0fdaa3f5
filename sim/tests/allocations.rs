//! The simulator's hot loop does not allocate per message: once the event queue has
//! grown to the run's working size, delivering 100,000 messages under loss,
//! duplication and reordering costs (almost) no allocations. Counted with a counting
//! global allocator. No libtest harness (its threads allocate): `main` runs the check.

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;

mod support {
    pub mod relay;
}

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn delivering_messages_does_not_allocate() {
    // Fewer than one allocation per thousand deliveries in steady state.
    let mut sim = support::relay::relay_ring(3, 5);
    sim.run_for(50_000).unwrap();
    let start = sim.stats().messages_delivered;
    let region = Region::new(GLOBAL);
    while sim.stats().messages_delivered < start + 100_000 {
        sim.step().unwrap();
    }
    let stats = region.change();
    assert!(stats.allocations < 100, "{stats:?}");
}

fn main() {
    delivering_messages_does_not_allocate();
    println!("allocations: 1 passed, 0 failed");
}
