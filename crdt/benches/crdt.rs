//! Criterion benchmarks of synod-crdt on the BENCHMARKS.md workloads.
//!
//! Run: `CARGO_TARGET_DIR=<dir> cargo bench -p synod-crdt --bench crdt -- --warm-up-time 1 --measurement-time 3`

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use synod_core::NodeId;
use synod_crdt::{AWSet, GCounter, Lattice};

/// Replicas A and B: for i in 0..200,000, i % 4 == 0 both add, 1 → A, 2 → B, 3 → nobody.
fn orswot_pair() -> (AWSet<u64>, AWSet<u64>) {
    let (a, b) = (NodeId(1), NodeId(2));
    let (mut x, mut y) = (AWSet::new(), AWSet::new());
    for i in 0..200_000u64 {
        match i % 4 {
            0 => {
                let _ = x.insert(a, i);
                let _ = y.insert(b, i);
            }
            1 => {
                let _ = x.insert(a, i);
            }
            2 => {
                let _ = y.insert(b, i);
            }
            _ => {}
        }
    }
    (x, y)
}

fn gcounter_pair(seed: u64) -> (GCounter, GCounter) {
    // A small deterministic generator: values in 1..=1,000,000.
    let mut s = seed;
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) % 1_000_000 + 1
    };
    let (mut x, mut y) = (GCounter::new(), GCounter::new());
    for k in 0..64 {
        let _ = x.increment(NodeId(k), next());
        let _ = y.increment(NodeId(k), next());
    }
    (x, y)
}

fn benches(c: &mut Criterion) {
    let (x, y) = orswot_pair();
    c.bench_function("awset_merge_150k", |bench| {
        bench.iter_batched(
            || x.clone(),
            |mut x| {
                x.join(black_box(&y));
                x
            },
            BatchSize::LargeInput,
        )
    });
    c.bench_function("awset_add_1m", |bench| {
        bench.iter(|| {
            let mut s = AWSet::new();
            for i in 0..1_000_000u64 {
                let _ = black_box(s.insert(NodeId(1), i));
            }
            s
        })
    });
    let (g, h) = gcounter_pair(7);
    c.bench_function("gcounter_merge_64", |bench| {
        bench.iter_batched(
            || g.clone(),
            |mut g| {
                g.join(black_box(&h));
                g
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group! {
    name = crdt;
    config = Criterion::default().sample_size(10);
    targets = benches
}
criterion_main!(crdt);
