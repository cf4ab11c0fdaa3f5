//! Head-to-head: synod-clocks against `crdts` 7.3 on the `vclock_cmp` workload of
//! BENCHMARKS.md (16 nodes, 1024 pairs, a quarter each equal/less/greater/
//! concurrent), plus merge on the same pairs. Every implementation runs on identical
//! pairs, interleaved, several repetitions; the report gives medians and the ratios
//! taken in this run.
//!
//! Run: `cd bench && CARGO_TARGET_DIR=<dir> cargo bench --bench clocks_vs_crdts`

use crdts::{CvRDT, Dot as CrdtsDot, VClock};
use std::cmp::Ordering;
use std::hint::black_box;
use std::time::Instant;
use synod_clocks::{DenseVClock, Membership, VersionVector};
use synod_core::NodeId;

#[path = "../../clocks/benches/vclock_workload.rs"]
mod workload;
use workload::{NODES, Relation};

const COMPARISONS: usize = 1_000_000;
const MERGES: usize = 200_000;
const REPETITIONS: usize = 7;

fn expected(r: Relation) -> Option<Ordering> {
    match r {
        Relation::Equal => Some(Ordering::Equal),
        Relation::Less => Some(Ordering::Less),
        Relation::Greater => Some(Ordering::Greater),
        Relation::Concurrent => None,
    }
}

/// ns per operation of `run(n)`, which performs `n` operations.
fn time(n: usize, mut run: impl FnMut(usize) -> std::time::Duration) -> f64 {
    run(n / 10); // warm caches and branch predictors
    run(n).as_nanos() as f64 / n as f64
}

/// `n` comparisons, cycling through the pairs (rounded up to whole passes).
fn compare<T>(pairs: &[(T, T)], n: usize, cmp: impl Fn(&T, &T) -> Option<Ordering>) -> std::time::Duration {
    let passes = n.div_ceil(pairs.len());
    let start = Instant::now();
    for _ in 0..passes {
        for (a, b) in pairs {
            black_box(cmp(black_box(a), black_box(b)));
        }
    }
    start.elapsed() * n as u32 / (passes * pairs.len()) as u32
}

/// Merge `b` into a fresh copy of `a` for every pair; copies are made off the clock.
fn merge<T: Clone>(pairs: &[(T, T)], n: usize, join: impl Fn(&mut T, T)) -> std::time::Duration {
    let mut elapsed = std::time::Duration::ZERO;
    let mut done = 0;
    while done < n {
        let mut left: Vec<T> = pairs.iter().map(|p| p.0.clone()).collect();
        let mut right: Vec<T> = pairs.iter().map(|p| p.1.clone()).collect();
        let start = Instant::now();
        for (a, b) in left.iter_mut().zip(right.drain(..)) {
            join(a, black_box(b));
            black_box(&*a);
        }
        elapsed += start.elapsed();
        black_box(left); // dropped off the clock
        done += pairs.len();
    }
    elapsed * n as u32 / done as u32
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let raw = workload::pairs();
    let members = Membership::new((0..NODES as u64).map(NodeId));
    let crdts_pairs: Vec<(VClock<u64>, VClock<u64>)> = raw
        .iter()
        .map(|(a, b, _)| {
            let vc = |c: &[u64; NODES]| {
                c.iter()
                    .enumerate()
                    .map(|(i, &n)| CrdtsDot::new(i as u64, n))
                    .collect::<VClock<u64>>()
            };
            (vc(a), vc(b))
        })
        .collect();
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
                VersionVector::from_entries(c.iter().enumerate().map(|(i, &n)| (NodeId(i as u64), n)))
            };
            (vv(a), vv(b))
        })
        .collect();
    // All three agree with the workload's relation before anything is timed.
    for (k, (_, _, r)) in raw.iter().enumerate() {
        assert_eq!(crdts_pairs[k].0.partial_cmp(&crdts_pairs[k].1), expected(*r));
        assert_eq!(dense[k].0.partial_cmp(&dense[k].1), expected(*r));
        assert_eq!(sparse[k].0.partial_cmp(&sparse[k].1), expected(*r));
    }

    let (mut c_cmp, mut d_cmp, mut s_cmp) = (Vec::new(), Vec::new(), Vec::new());
    let (mut c_mrg, mut d_mrg, mut s_mrg) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..REPETITIONS {
        c_cmp.push(time(COMPARISONS, |n| compare(&crdts_pairs, n, |a, b| a.partial_cmp(b))));
        d_cmp.push(time(COMPARISONS, |n| compare(&dense, n, |a, b| a.partial_cmp(b))));
        s_cmp.push(time(COMPARISONS, |n| compare(&sparse, n, |a, b| a.partial_cmp(b))));
        c_mrg.push(time(MERGES, |n| merge(&crdts_pairs, n, |a, b| a.merge(b))));
        d_mrg.push(time(MERGES, |n| merge(&dense, n, |a, b| a.merge(&b).unwrap())));
        s_mrg.push(time(MERGES, |n| merge(&sparse, n, |a, b| a.join(&b))));
    }
    let (c, d, s) = (median(c_cmp), median(d_cmp), median(s_cmp));
    let (cm, dm, sm) = (median(c_mrg), median(d_mrg), median(s_mrg));
    println!("vclock_cmp, 16 nodes, {COMPARISONS} comparisons, median of {REPETITIONS} interleaved runs");
    println!("  crdts 7.3 VClock      {c:8.1} ns/compare");
    println!("  synod DenseVClock     {d:8.1} ns/compare   {:6.1}x faster", c / d);
    println!("  synod SparseVClock    {s:8.1} ns/compare   {:6.1}x faster", c / s);
    println!("vclock merge, same pairs, {MERGES} merges (copies made off the clock)");
    println!("  crdts 7.3 VClock      {cm:8.1} ns/merge");
    println!("  synod DenseVClock     {dm:8.1} ns/merge     {:6.1}x faster", cm / dm);
    println!("  synod SparseVClock    {sm:8.1} ns/merge     {:6.1}x faster", cm / sm);
}
