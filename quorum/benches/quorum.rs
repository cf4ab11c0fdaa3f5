//! Quorum arithmetic on the hot path of every replication protocol: the committed
//! index (Raft's commit rule) and vote counting, for 3–7 voters, against the obvious
//! implementation (collect into a `Vec`, sort) in the same run.
//!
//! Run: `cargo bench -p synod-quorum --bench quorum`

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use synod_core::NodeId;
use synod_quorum::{Joint, Majority, QuorumKind, QuorumSystem};

/// Match indexes that change every iteration so nothing is hoisted out of the loop.
fn match_indexes(round: u64) -> [u64; 8] {
    let base = 1_000_000 + round;
    [
        0,
        base + 3,
        base,
        base + 7,
        base + 1,
        base + 5,
        base + 2,
        base + 4,
    ]
}

fn committed_index(c: &mut Criterion) {
    let mut group = c.benchmark_group("committed_index");
    for n in [3u64, 5, 7] {
        let voters = Majority::new((1..=n).map(NodeId)).expect("valid");
        let mut round = 0u64;
        group.bench_function(BenchmarkId::new("majority", n), |b| {
            b.iter(|| {
                round += 1;
                let matched = match_indexes(black_box(round));
                voters.committed_value(QuorumKind::Write, |id| Some(matched[id.0 as usize]))
            })
        });
        group.bench_function(BenchmarkId::new("sort_in_vec", n), |b| {
            b.iter(|| {
                round += 1;
                let matched = match_indexes(black_box(round));
                let mut all: Vec<u64> = (1..=n).map(|i| matched[i as usize]).collect();
                all.sort_unstable_by(|a, b| b.cmp(a));
                all[n as usize / 2]
            })
        });
    }
    let joint = Joint::new(
        Majority::new([1, 2, 3].map(NodeId)).expect("valid"),
        Majority::new([3, 4, 5].map(NodeId)).expect("valid"),
    );
    let mut round = 0u64;
    group.bench_function("joint_3_3", |b| {
        b.iter(|| {
            round += 1;
            let matched = match_indexes(black_box(round));
            joint.committed_value(QuorumKind::Write, |id| Some(matched[id.0 as usize]))
        })
    });
    group.finish();
}

fn vote_counting(c: &mut Criterion) {
    let voters = Majority::new((1..=5).map(NodeId)).expect("valid");
    let mut round = 0u64;
    c.bench_function("vote_result/majority/5", |b| {
        b.iter(|| {
            round += 1;
            let r = black_box(round);
            voters.vote_result(QuorumKind::Read, |id| match (id.0 + r) % 3 {
                0 => Some(true),
                1 => Some(false),
                _ => None,
            })
        })
    });
}

criterion_group!(benches, committed_index, vote_counting);
criterion_main!(benches);
