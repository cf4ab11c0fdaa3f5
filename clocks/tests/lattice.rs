//! Join is commutative, associative and idempotent for every mergeable type
//! (version vectors, dense vector clocks, causal contexts, DVVSet sync, ITC event
//! trees), and join is an upper bound that agrees with the type's own order. A
//! deliberately broken join (adding counters) is caught by the same checker.

mod support;

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use support::config;
use synod_clocks::{
    CausalContext, Causality, DenseVClock, Dot, DvvSet, Membership, Siblings, Stamp, VersionVector,
};
use synod_core::NodeId;

/// The three lattice laws for `join`, with `eq` as equality of values.
fn laws<T: Clone + std::fmt::Debug>(
    a: &T,
    b: &T,
    c: &T,
    join: impl Fn(&T, &T) -> T,
    eq: impl Fn(&T, &T) -> bool,
) -> Result<(), TestCaseError> {
    prop_assert!(eq(&join(a, b), &join(b, a)), "not commutative: {a:?} {b:?}");
    prop_assert!(
        eq(&join(&join(a, b), c), &join(a, &join(b, c))),
        "not associative: {a:?} {b:?} {c:?}"
    );
    prop_assert!(eq(&join(a, a), a), "not idempotent: {a:?}");
    Ok(())
}

fn vv() -> impl Strategy<Value = VersionVector> {
    prop::collection::vec((0u64..6, 0u64..20), 0..6)
        .prop_map(|pairs| pairs.into_iter().map(|(r, n)| (NodeId(r), n)).collect())
}

fn vv_join(a: &VersionVector, b: &VersionVector) -> VersionVector {
    let mut j = a.clone();
    j.join(b);
    j
}

fn members() -> Membership {
    Membership::new((0..5).map(NodeId))
}

fn dense() -> impl Strategy<Value = DenseVClock> {
    prop::collection::vec(0u64..20, 5)
        .prop_map(|counters| DenseVClock::from_counters(&members(), counters).unwrap())
}

fn context() -> impl Strategy<Value = CausalContext> {
    prop::collection::vec((0u64..4, 1u64..12), 0..12).prop_map(|dots| {
        let mut cc = CausalContext::new();
        for (r, n) in dots {
            cc.insert(Dot::new(NodeId(r), n));
        }
        cc
    })
}

/// DvvSets from one random run of three servers taking writes (with the context of
/// some replica's state) and syncing, so every dot names one write everywhere.
fn dvvsets() -> impl Strategy<Value = Vec<DvvSet<u32>>> {
    prop::collection::vec((0usize..3, 0usize..3, 0u8..3), 1..40).prop_map(|steps| {
        let mut servers: Vec<DvvSet<u32>> = vec![DvvSet::new_empty(); 3];
        let mut pool = Vec::new();
        for (k, (s, other, kind)) in steps.into_iter().enumerate() {
            match kind {
                0 => {
                    let ctx = servers[other].join();
                    servers[s].update(&ctx, NodeId(s as u64), k as u32).unwrap();
                }
                1 => {
                    servers[s]
                        .update(&VersionVector::new(), NodeId(s as u64), k as u32)
                        .unwrap();
                }
                _ => servers[s] = servers[s].sync(&servers[other]),
            }
            pool.push(servers[s].clone());
        }
        pool
    })
}

/// ITC stamps from a random fork/event/join trace (one pool, ids disjoint).
fn stamps() -> impl Strategy<Value = Vec<Stamp>> {
    prop::collection::vec(
        (
            0u8..4,
            any::<prop::sample::Index>(),
            any::<prop::sample::Index>(),
        ),
        1..40,
    )
    .prop_map(|steps| {
        let mut live = vec![Stamp::seed()];
        let mut seen = Vec::new();
        for (kind, i, j) in steps {
            let i = i.index(live.len());
            match kind {
                0 => live[i].event().unwrap(),
                1 => {
                    let (a, b) = live.swap_remove(i).fork();
                    live.push(a);
                    live.push(b);
                }
                2 if live.len() > 1 => {
                    let a = live.swap_remove(i);
                    let j = j.index(live.len());
                    let b = live.swap_remove(j);
                    live.push(a.join(b).unwrap());
                }
                _ => {
                    let j = j.index(live.len());
                    let msg = live[j].peek();
                    let me = live.swap_remove(i);
                    live.push(me.join(msg).unwrap());
                }
            }
            seen.extend(live.iter().cloned());
        }
        seen
    })
}

fn pick3<T: Clone + std::fmt::Debug + 'static>(
    pool: impl Strategy<Value = Vec<T>>,
) -> impl Strategy<Value = (T, T, T)> {
    pool.prop_flat_map(|p| {
        let n = p.len();
        (0..n, 0..n, 0..n).prop_map(move |(a, b, c)| (p[a].clone(), p[b].clone(), p[c].clone()))
    })
}

proptest! {
    #![proptest_config(config(256))]

    // Version vectors form a join-semilattice under pointwise max, and the join is
    // the least upper bound in the causal order.
    #[test]
    fn version_vector_join_is_a_lattice(a in vv(), b in vv(), c in vv()) {
        laws(&a, &b, &c, vv_join, |x, y| x == y)?;
        let j = vv_join(&a, &b);
        prop_assert!(j.descends(&a) && j.descends(&b));
        prop_assert_eq!(a.descends(&b), j == a);
    }

    // Dense vector clocks merge as a lattice too.
    #[test]
    fn dense_merge_is_a_lattice(a in dense(), b in dense(), c in dense()) {
        laws(&a, &b, &c, |x, y| { let mut j = x.clone(); j.merge(y).unwrap(); j }, |x, y| x == y)?;
    }

    // Causal contexts: join is a lattice, compact is idempotent, and a context
    // contains exactly the union of the dots of the two (checked dot by dot).
    #[test]
    fn causal_context_join_is_a_lattice(a in context(), b in context(), c in context()) {
        let join = |x: &CausalContext, y: &CausalContext| { let mut j = x.clone(); j.join(y); j };
        laws(&a, &b, &c, join, |x, y| x == y)?;
        let j = join(&a, &b);
        for r in 0..4 {
            for n in 1..14 {
                let d = Dot::new(NodeId(r), n);
                prop_assert_eq!(j.contains(d), a.contains(d) || b.contains(d));
            }
        }
        let mut compacted = j.clone();
        compacted.compact();
        prop_assert_eq!(compacted, j);
    }

    // DVVSet sync (Gonçalves et al. 2014) is a lattice join on states of one run.
    #[test]
    fn dvvset_sync_is_a_lattice((a, b, c) in pick3(dvvsets())) {
        laws(&a, &b, &c, |x, y| x.sync(y), |x, y| x == y)?;
    }

    // Sibling sets (version vectors with values) merge as a
    // lattice of antichains: compared as sets, order of storage aside.
    #[test]
    fn siblings_merge_is_a_lattice(
        a in prop::collection::vec(vv(), 0..4),
        b in prop::collection::vec(vv(), 0..4),
        c in prop::collection::vec(vv(), 0..4),
    ) {
        let siblings = |vs: &Vec<VersionVector>| {
            let mut s = Siblings::new();
            for v in vs {
                // The value is a function of the version, as in a real store.
                s.put(v.clone(), v.to_string());
            }
            s
        };
        let as_set = |s: &Siblings<String>| {
            s.versions().iter().map(|v| v.value.clone()).collect::<std::collections::BTreeSet<_>>()
        };
        let join = |x: &Siblings<String>, y: &Siblings<String>| { let mut j = x.clone(); j.merge(y.clone()); j };
        laws(&siblings(&a), &siblings(&b), &siblings(&c), join, |x, y| as_set(x) == as_set(y))?;
    }

    // ITC event trees join as a lattice (pointwise max of functions), normalized.
    #[test]
    fn itc_event_join_is_a_lattice((a, b, c) in pick3(stamps())) {
        let (a, b, c) = (a.event_tree().clone(), b.event_tree().clone(), c.event_tree().clone());
        laws(&a, &b, &c, |x, y| x.join(y), |x, y| x == y)?;
        let j = a.join(&b);
        prop_assert!(a.leq(&j) && b.leq(&j));
    }
}

// The law checker rejects a join that adds counters instead of taking the maximum
// (not idempotent): the lattice tests above would catch such a bug.
#[test]
fn law_checker_catches_a_summing_join() {
    let sum = |a: &VersionVector, b: &VersionVector| {
        VersionVector::from_entries(a.iter().chain(b.iter()).fold(
            std::collections::BTreeMap::new(),
            |mut m, (r, n)| {
                *m.entry(r).or_insert(0) += n;
                m
            },
        ))
    };
    let mut runner = TestRunner::new(config(64));
    let result = runner.run(&(vv(), vv(), vv()), |(a, b, c)| {
        laws(&a, &b, &c, sum, |x, y| x == y)
    });
    assert!(result.is_err());
}

// Comparing histories of the DVVSet agrees with comparing their joins.
#[test]
fn dvvset_causality_is_on_histories() {
    let mut a = DvvSet::new_empty();
    a.update(&VersionVector::new(), NodeId(1), 1).unwrap();
    let b = a.sync(&DvvSet::new_empty());
    assert_eq!(a.causality(&b), Causality::Equal);
}
