//! A steady-state step allocates nothing: the action buffer is reused, so a node whose
//! own state does not grow produces its outputs without touching the allocator.
//! Counted with a counting global allocator, not by reasoning.
//!
//! The counter is process-wide, so this test binary has no libtest harness (whose
//! threads allocate while tests run): `main` runs the checks on one thread.

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use synod_core::{Action, Actions, Input, Node, NodeId, PersistToken};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Acknowledges every message: persists the sequence number in the background, sends
/// an acknowledgement and emits an event — every action kind in one step.
struct Acker {
    id: NodeId,
    highest: u64,
}

impl Node for Acker {
    type Message = u64;
    type Request = ();
    type Persist = u64;
    type Event = u64;
    fn id(&self) -> NodeId {
        self.id
    }
    fn step(&mut self, input: Input<u64, ()>, out: &mut Actions<u64, u64, u64>) {
        match input {
            Input::Message { from, msg } => {
                self.highest = self.highest.max(msg);
                out.persist_in_background(PersistToken(msg), msg);
                out.persist(msg);
                out.send(from, msg);
                out.broadcast(msg);
                out.emit(msg);
            }
            Input::Tick | Input::Request(()) | Input::Persisted(_) => {}
        }
    }
}

fn steady_state_steps_do_not_allocate() {
    // After one warm-up step sizes the buffer, 10,000 steps and drains allocate zero
    // times.
    let mut node = Acker {
        id: NodeId(1),
        highest: 0,
    };
    let mut out = Actions::new();
    let mut checksum = 0u64;
    node.step(
        Input::Message {
            from: NodeId(2),
            msg: 0,
        },
        &mut out,
    );
    out.clear();
    let region = Region::new(GLOBAL);
    for i in 1..=10_000u64 {
        node.step(
            Input::Message {
                from: NodeId(2),
                msg: i,
            },
            &mut out,
        );
        node.step(Input::Tick, &mut out);
        for action in out.drain() {
            if let Action::Send { msg, .. } = action {
                checksum += msg;
            }
        }
    }
    let stats = region.change();
    assert_eq!(checksum, (1..=10_000u64).sum::<u64>());
    assert_eq!(stats.allocations, 0, "{stats:?}");
    assert_eq!(stats.reallocations, 0, "{stats:?}");
}

fn the_counter_sees_allocations() {
    // The check above can fail: a step that allocates is counted.
    let region = Region::new(GLOBAL);
    let mut out: Actions<Vec<u8>, (), ()> = Actions::new();
    for _ in 0..10 {
        out.send(NodeId(1), vec![0u8; 16]);
        out.clear();
    }
    assert!(region.change().allocations >= 10);
}

fn main() {
    steady_state_steps_do_not_allocate();
    the_counter_sees_allocations();
    println!("allocations: 2 passed, 0 failed");
}
