//! Simulator throughput: delivered messages per second for a trivial protocol with
//! network faults on (loss, duplication, reordering, variable delay) and a partition
//! that comes and goes.
//!
//! Run: `cargo bench -p synod-sim --bench simulator`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, Instant};
use synod_core::{Actions, Input, Node, NodeId};
use synod_sim::{Delay, Fault, LinkConfig, Sim, SimConfig};

/// Passes tokens around a ring; every tick injects a few new ones so that traffic
/// stays steady despite loss.
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
            Input::Message { msg, .. } => out.send(self.next, msg.wrapping_add(1)),
            Input::Tick => {
                for hop in 0..10 {
                    out.send(self.next, hop);
                }
            }
            _ => {}
        }
    }
}

fn relay_sim(nodes: u64) -> Sim<Relay> {
    let mut config = SimConfig::new(1);
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

fn deliveries(c: &mut Criterion) {
    const BATCH: u64 = 100_000;
    let mut group = c.benchmark_group("simulator");
    group.throughput(Throughput::Elements(BATCH));
    group.bench_function("deliver_100k_5_nodes_faulty_network", |b| {
        b.iter_custom(|iterations| {
            let mut sim = relay_sim(5);
            // Reach the steady token population before timing.
            sim.run_for(20_000).expect("no invariants");
            let mut elapsed = Duration::ZERO;
            for i in 0..iterations {
                // A partition comes and goes between batches.
                let fault = if i % 2 == 0 {
                    Fault::Partition(vec![vec![NodeId(1), NodeId(2)]])
                } else {
                    Fault::Heal
                };
                sim.apply(fault).expect("known nodes");
                let target = sim.stats().messages_delivered + BATCH;
                let start = Instant::now();
                while sim.stats().messages_delivered < target {
                    black_box(sim.step().expect("no invariants"));
                }
                elapsed += start.elapsed();
            }
            elapsed
        })
    });
    group.finish();
}

criterion_group!(benches, deliveries);
criterion_main!(benches);
