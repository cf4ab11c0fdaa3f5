//! Steady-state replication throughput: three nodes in memory, messages handed over
//! directly (no serialization), background writes acknowledged at once, 128-byte
//! proposals in batches of 64, measured until all three nodes applied every entry.

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use synod_core::{Input, Ticks};
use synod_raft::Request;

/// The lockstep driver of the steady-state and allocation tests: one FIFO queue,
/// background writes acknowledged at once (a disk that is always fast).
#[path = "../tests/lockstep/mod.rs"]
mod lockstep;
use lockstep::Lockstep;

const BATCHES: u64 = 100;
const BATCH: u64 = 64;
static PAYLOAD: [u8; 128] = [7; 128];

/// Three nodes with a one-tick heartbeat, node 0 elected.
fn cluster() -> Lockstep {
    Lockstep::elected_with(|config| config.heartbeat_ticks = Ticks(1))
}

/// `BATCHES` rounds of `BATCH` proposals, each round delivered to quiescence, then
/// ticks until every node applied every entry.
fn replicate(c: &mut Lockstep) {
    for _ in 0..BATCHES {
        for _ in 0..BATCH {
            c.step(
                0,
                Input::Request(Request::Propose(Bytes::from_static(&PAYLOAD))),
            );
        }
        c.quiesce();
    }
    let target = c.nodes[0].last_index();
    while c.nodes.iter().any(|n| n.applied_index() < target) {
        c.step(0, Input::Tick); // heartbeats carry the final commit index
        c.quiesce();
    }
}

fn replication(c: &mut Criterion) {
    let mut group = c.benchmark_group("replication");
    group.throughput(Throughput::Elements(BATCHES * BATCH));
    group.bench_function("3 nodes, 128 B x 64", |b| {
        b.iter_batched(
            cluster,
            |mut cluster| replicate(&mut cluster),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, replication);
criterion_main!(benches);
