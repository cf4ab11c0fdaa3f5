//! Head-to-head: synod-crdt against `crdts` 7.3 on the BENCHMARKS.md workloads
//! `orswot_merge`, `orswot_add` and `gcounter_merge`, plus the memory per element of
//! the 150,000-element merged set (bytes allocated by a clone, counted by a global
//! allocator) and the bytes on the wire of one add into a 100,000-element set shipped
//! as a delta versus as the full state (postcard). Implementations are interleaved,
//! several repetitions; medians and ratios come from the same run.
//!
//! Run: `cd bench && CARGO_TARGET_DIR=<dir> cargo bench --bench crdt_vs_crdts`

use crdts::{CmRDT, CvRDT, GCounter as CGCounter, Orswot};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use synod_core::NodeId;
use synod_crdt::{AWSet, GCounter, Lattice};

/// Counts live heap bytes so a clone's footprint can be measured.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const REPETITIONS: usize = 5;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

fn bytes_of<T: Clone>(x: &T) -> usize {
    let before = LIVE.load(Ordering::Relaxed);
    let copy = x.clone();
    let after = LIVE.load(Ordering::Relaxed);
    drop(copy);
    after - before
}

/// Who adds element i: 0 → both, 1 → A, 2 → B, 3 → nobody.
fn orswot_pairs() -> (
    (AWSet<u64>, AWSet<u64>),
    (Orswot<u64, u64>, Orswot<u64, u64>),
) {
    let (a, b) = (NodeId(1), NodeId(2));
    let (mut sa, mut sb) = (AWSet::new(), AWSet::new());
    let (mut ca, mut cb) = (Orswot::new(), Orswot::new());
    let add_c = |s: &mut Orswot<u64, u64>, actor: u64, i: u64| {
        let op = s.add(i, s.read_ctx().derive_add_ctx(actor));
        s.apply(op);
    };
    for i in 0..200_000u64 {
        if i % 4 == 0 || i % 4 == 1 {
            sa.insert(a, i).unwrap();
            add_c(&mut ca, 1, i);
        }
        if i % 4 == 0 || i % 4 == 2 {
            sb.insert(b, i).unwrap();
            add_c(&mut cb, 2, i);
        }
    }
    ((sa, sb), (ca, cb))
}

fn time_once(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn main() {
    // ---- orswot_merge ----
    let ((sa, sb), (ca, cb)) = orswot_pairs();
    let mut merged = sa.clone();
    merged.join(&sb);
    let mut cmerged = ca.clone();
    cmerged.merge(cb.clone());
    let n = merged.len();
    assert_eq!(n, 150_000);
    assert_eq!(cmerged.read().val.len(), n);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..REPETITIONS {
        let (mut x, y) = (sa.clone(), sb.clone());
        ours.push(time_once(|| x.join(black_box(&y))).as_nanos() as f64 / n as f64);
        black_box(x);
        let (mut x, y) = (ca.clone(), cb.clone());
        theirs.push(time_once(|| x.merge(black_box(y))).as_nanos() as f64 / n as f64);
        black_box(x);
    }
    let (o, t) = (median(ours), median(theirs));
    println!("orswot_merge: 2 x 100,000 elements, 150,000 merged; median of {REPETITIONS}");
    println!("  crdts 7.3 Orswot   {t:8.1} ns/element");
    println!(
        "  synod AWSet        {o:8.1} ns/element   {:5.1}x faster",
        t / o
    );
    let (mo, mt) = (bytes_of(&merged), bytes_of(&cmerged));
    println!(
        "  memory of the merged set: crdts {:.1} B/element, synod {:.1} B/element ({:.2}x)",
        mt as f64 / n as f64,
        mo as f64 / n as f64,
        mo as f64 / mt as f64
    );

    // ---- one add by delta vs full state ----
    let mut big = AWSet::new();
    for i in 0..100_000u64 {
        big.insert(NodeId(1), i).unwrap();
    }
    let delta = big.insert(NodeId(1), 100_000).unwrap();
    let delta_bytes = postcard::to_allocvec(&delta).unwrap().len();
    let state_bytes = postcard::to_allocvec(&big).unwrap().len();
    println!(
        "one add into a 100,000-element AWSet: delta {delta_bytes} B on the wire, full state {state_bytes} B"
    );

    // ---- orswot_add ----
    const ADDS: u64 = 1_000_000;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let mut s = AWSet::new();
        ours.push(
            time_once(|| {
                for i in 0..ADDS {
                    black_box(s.insert(NodeId(1), i).unwrap());
                }
            })
            .as_nanos() as f64
                / ADDS as f64,
        );
        drop(s);
        let mut c: Orswot<u64, u64> = Orswot::new();
        theirs.push(
            time_once(|| {
                for i in 0..ADDS {
                    let op = c.add(i, c.read_ctx().derive_add_ctx(1));
                    c.apply(op);
                }
            })
            .as_nanos() as f64
                / ADDS as f64,
        );
        drop(c);
    }
    let (o, t) = (median(ours), median(theirs));
    println!("orswot_add: {ADDS} adds on one replica, median of 3");
    println!("  crdts 7.3 Orswot   {t:8.1} ns/add");
    println!(
        "  synod AWSet        {o:8.1} ns/add       {:5.1}x faster",
        t / o
    );

    // ---- gcounter_merge ----
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % 1_000_000 + 1
    };
    let (mut ga, mut gb) = (GCounter::new(), GCounter::new());
    let (mut cga, mut cgb) = (CGCounter::<u64>::new(), CGCounter::<u64>::new());
    for k in 0..64u64 {
        let (x, y) = (next(), next());
        ga.increment(NodeId(k), x).unwrap();
        gb.increment(NodeId(k), y).unwrap();
        cga.apply(cga.inc_many(k, x));
        cgb.apply(cgb.inc_many(k, y));
    }
    const MERGES: usize = 1_000_000;
    const BATCH: usize = 1000;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..REPETITIONS {
        let mut total = Duration::ZERO;
        for _ in 0..MERGES / BATCH {
            let mut xs: Vec<GCounter> = (0..BATCH).map(|_| ga.clone()).collect();
            total += time_once(|| {
                for x in &mut xs {
                    x.join(black_box(&gb));
                }
            });
            black_box(xs);
        }
        ours.push(total.as_nanos() as f64 / MERGES as f64);
        let mut total = Duration::ZERO;
        for _ in 0..MERGES / BATCH {
            let mut xs: Vec<CGCounter<u64>> = (0..BATCH).map(|_| cga.clone()).collect();
            let ys: Vec<CGCounter<u64>> = (0..BATCH).map(|_| cgb.clone()).collect();
            total += time_once(|| {
                for (x, y) in xs.iter_mut().zip(ys) {
                    x.merge(black_box(y));
                }
            });
            black_box(xs);
        }
        theirs.push(total.as_nanos() as f64 / MERGES as f64);
    }
    let mut check = ga.clone();
    check.join(&gb);
    let mut ccheck = cga.clone();
    ccheck.merge(cgb.clone());
    assert_eq!(
        check.value(),
        u128::from(*ccheck.read().to_u64_digits().first().unwrap_or(&0))
            + ((ccheck.read().to_u64_digits().get(1).copied().unwrap_or(0) as u128) << 64)
    );
    let (o, t) = (median(ours), median(theirs));
    println!(
        "gcounter_merge: 64 replicas, {MERGES} merges of fresh clones, median of {REPETITIONS}"
    );
    println!("  crdts 7.3 GCounter {t:8.1} ns/merge");
    println!(
        "  synod GCounter     {o:8.1} ns/merge     {:5.1}x faster",
        t / o
    );
}
