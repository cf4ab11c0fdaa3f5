//! Simulator throughput: delivered messages per second for a trivial protocol with
//! network faults on (loss, duplication, reordering, variable delay) and a partition
//! that comes and goes.
//!
//! Run: `cargo bench -p synod-sim --bench simulator`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, Instant};
use synod_core::NodeId;
use synod_sim::Fault;

#[path = "../tests/support/relay.rs"]
mod relay;

fn deliveries(c: &mut Criterion) {
    const BATCH: u64 = 100_000;
    let mut group = c.benchmark_group("simulator");
    group.throughput(Throughput::Elements(BATCH));
    group.bench_function("deliver_100k_5_nodes_faulty_network", |b| {
        b.iter_custom(|iterations| {
            let mut sim = relay::relay_ring(1, 5);
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
