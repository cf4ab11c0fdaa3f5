//! Criterion benchmarks of the hot operations: vector-clock comparison and merge
//! (the `vclock_cmp` workload of BENCHMARKS.md), version-vector and causal-context
//! joins, DVVSet update, ITC event/fork/join, HLC timestamps, encodings.
//!
//! Run: `cargo bench -p synod-clocks --bench clocks -- --warm-up-time 1 --measurement-time 3`

#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use synod_clocks::{
    CausalContext, Causality, DenseVClock, Dot, DvvSet, Hlc, ManualClock, Membership, Stamp,
    VersionVector,
};
use synod_core::NodeId;

#[path = "vclock_workload.rs"]
mod workload;
use workload::{NODES, Relation};

fn expected(r: Relation) -> Causality {
    match r {
        Relation::Equal => Causality::Equal,
        Relation::Less => Causality::Before,
        Relation::Greater => Causality::After,
        Relation::Concurrent => Causality::Concurrent,
    }
}

fn vclocks(c: &mut Criterion) {
    let members = Membership::new((0..NODES as u64).map(NodeId));
    let raw = workload::pairs();
    let dense: Vec<(DenseVClock, DenseVClock)> = raw
        .iter()
        .map(|(a, b, _)| {
            (
                DenseVClock::from_counters(&members, a.to_vec()).unwrap(),
                DenseVClock::from_counters(&members, b.to_vec()).unwrap(),
            )
        })
        .collect();
    let sparse: Vec<(VersionVector, VersionVector)> = raw
        .iter()
        .map(|(a, b, _)| {
            let vv = |c: &[u64; NODES]| {
                VersionVector::from_entries(
                    c.iter().enumerate().map(|(i, &n)| (NodeId(i as u64), n)),
                )
            };
            (vv(a), vv(b))
        })
        .collect();
    for (k, (_, _, r)) in raw.iter().enumerate() {
        assert_eq!(dense[k].0.causality(&dense[k].1).unwrap(), expected(*r));
        assert_eq!(sparse[k].0.causality(&sparse[k].1), expected(*r));
    }

    let mut group = c.benchmark_group("vclock_16");
    group.throughput(Throughput::Elements(raw.len() as u64));
    group.bench_function("dense_compare", |b| {
        b.iter(|| {
            for (x, y) in &dense {
                black_box(black_box(x).causality(black_box(y)).ok());
            }
        })
    });
    group.bench_function("sparse_compare", |b| {
        b.iter(|| {
            for (x, y) in &sparse {
                black_box(black_box(x).causality(black_box(y)));
            }
        })
    });
    group.bench_function("dense_merge", |b| {
        let mut scratch = dense.clone();
        b.iter(|| {
            for ((x, _), (_, y)) in scratch.iter_mut().zip(&dense) {
                black_box(x.merge(black_box(y)).ok());
            }
        })
    });
    group.bench_function("sparse_merge", |b| {
        let mut scratch = sparse.clone();
        b.iter(|| {
            for ((x, _), (_, y)) in scratch.iter_mut().zip(&sparse) {
                x.join(black_box(y));
            }
        })
    });
    group.finish();
}

fn contexts(c: &mut Criterion) {
    let mut group = c.benchmark_group("causal");
    group.bench_function("causal_context_insert_1k_out_of_order", |b| {
        b.iter(|| {
            let mut cc = CausalContext::new();
            for k in 0..1_000u64 {
                // Every other dot first, then the gaps: the cloud grows and compacts.
                let n = if k < 500 {
                    2 * k + 2
                } else {
                    2 * (k - 500) + 1
                };
                cc.insert(Dot::new(NodeId(k % 4), n));
            }
            black_box(cc)
        })
    });
    group.bench_function("dvvset_update_3_servers_1k", |b| {
        b.iter(|| {
            let mut set: DvvSet<u64> = DvvSet::new_empty();
            for k in 0..1_000u64 {
                let ctx = if k % 3 == 0 {
                    VersionVector::new()
                } else {
                    set.join()
                };
                set.update(&ctx, NodeId(k % 3), k).unwrap();
            }
            black_box(set)
        })
    });
    group.finish();
}

fn itc(c: &mut Criterion) {
    let mut group = c.benchmark_group("itc");
    group.bench_function("fork_event_join_8_participants", |b| {
        b.iter(|| {
            let mut live = vec![Stamp::seed()];
            while live.len() < 8 {
                let (x, y) = live.remove(0).fork();
                live.push(x);
                live.push(y);
            }
            for round in 0..10 {
                for s in &mut live {
                    s.event().unwrap();
                }
                let msg = live[round % 8].peek();
                let k = (round + 3) % 8;
                let me = live.remove(k);
                live.insert(k, me.join(msg).unwrap());
            }
            let all = live.into_iter().reduce(|a, b| a.join(b).unwrap()).unwrap();
            black_box(all.encode())
        })
    });
    group.finish();
}

fn hlc(c: &mut Criterion) {
    let mut group = c.benchmark_group("hlc");
    group.throughput(Throughput::Elements(1_000));
    group.bench_function("now_1k", |b| {
        let mut hlc = Hlc::new(ManualClock::new(1_000), 100);
        b.iter(|| {
            for _ in 0..1_000 {
                black_box(hlc.now().unwrap());
            }
            hlc.physical_clock().advance(1);
        })
    });
    group.finish();
}

criterion_group!(benches, vclocks, contexts, itc, hlc);
criterion_main!(benches);
