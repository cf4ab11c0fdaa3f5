//! A trivial protocol for measuring the simulator itself: tokens travel around a ring
//! and every tick injects ten new ones, so traffic stays steady despite loss.
//! Shared by `benches/simulator.rs` and `tests/allocations.rs`.

use synod_core::{Actions, Input, Node, NodeId};
use synod_sim::{Delay, LinkConfig, Sim, SimConfig};

/// Forwards every token to the next node of the ring.
pub struct Relay {
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
            Input::Message { msg, .. } => out.send(self.next, msg.wrapping_add(1)),
            Input::Tick => (0..10).for_each(|hop| out.send(self.next, hop)),
            _ => {}
        }
    }
}

/// A ring of `nodes` relays on a faulty network: 2% loss, 1% duplication, 1%
/// reordering, delays uniform in 5..=50.
pub fn relay_ring(seed: u64, nodes: u64) -> Sim<Relay> {
    let mut config = SimConfig::new(seed);
    config.network = LinkConfig {
        delay: Delay::Uniform { min: 5, max: 50 },
        loss: 0.02,
        duplicate: 0.01,
        reorder: 0.01,
    };
    let ids: Vec<NodeId> = (1..=nodes).map(NodeId).collect();
    Sim::new(config, ids, move |id, _: &Vec<()>| Relay {
        id,
        next: NodeId(id.0 % nodes + 1),
    })
    .expect("valid configuration")
}
