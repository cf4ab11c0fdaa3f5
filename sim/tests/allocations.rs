//! The simulator's hot loop does not allocate per message: once the event queue has
//! grown to the run's working size, delivering 100,000 messages under loss,
//! duplication and reordering costs (almost) no allocations. Counted with a counting
//! global allocator. No libtest harness (its threads allocate): `main` runs the check.

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use synod_core::{Actions, Input, Node, NodeId};
use synod_sim::{LinkConfig, Sim, SimConfig};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Forwards every token to the next node of a ring; injects tokens on ticks.
struct Relay {
    id: NodeId,
    next: NodeId,
}

impl Node for Relay {
    type Message = u64;
    type Request = ();
    type Persist = ();
    type Event = ();
    fn id(&self) -> NodeId {
        self.id
    }
    fn step(&mut self, input: Input<u64, ()>, out: &mut Actions<u64, (), ()>) {
        match input {
            Input::Message { msg, .. } => out.send(self.next, msg + 1),
            Input::Tick => (0..10).for_each(|hop| out.send(self.next, hop)),
            _ => {}
        }
    }
}

fn delivering_messages_does_not_allocate() {
    // Fewer than one allocation per thousand deliveries in steady state.
    let mut config = SimConfig::new(3);
    config.network = LinkConfig {
        loss: 0.02,
        duplicate: 0.01,
        reorder: 0.01,
        ..LinkConfig::default()
    };
    let mut sim = Sim::new(config, (1..=5).map(NodeId), |id, _: &Vec<()>| Relay {
        id,
        next: NodeId(id.0 % 5 + 1),
    })
    .unwrap();
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
