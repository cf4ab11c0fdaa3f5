//! Model tests: when operations are not concurrent (each replica has received every
//! earlier operation before it acts), every set, register and map behaves exactly
//! like its sequential model — the "preservation of sequential semantics" of the
//! course notes. Plus the notes' add-wins example, whose outcome `{x, y}` no
//! sequential execution produces. Replay with `SYNOD_SEED=<seed>`.

use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use synod_core::NodeId;
use synod_crdt::*;

#[derive(Clone, Debug)]
enum Op {
    Add(u8),
    Remove(u8),
}

fn ops() -> impl Strategy<Value = Vec<(u64, Op)>> {
    proptest::collection::vec(
        (
            1..4u64,
            prop_oneof![(0..8u8).prop_map(Op::Add), (0..8u8).prop_map(Op::Remove)],
        ),
        0..60,
    )
}

/// Replays `ops` on three replicas, each op at its replica followed by a full sync,
/// and compares the replicas' contents with the model after every step.
fn against_model<S: Lattice>(
    ops: &[(u64, Op)],
    mut apply: impl FnMut(&mut S, NodeId, &Op) -> S,
    contents: impl Fn(&S) -> BTreeSet<u8>,
    mut model: impl FnMut(&mut BTreeSet<u8>, &Op),
) -> Result<(), TestCaseError> {
    let mut replicas: BTreeMap<u64, S> = (1..4).map(|r| (r, S::default())).collect();
    let mut expected = BTreeSet::new();
    for (r, op) in ops {
        let Some(state) = replicas.get_mut(r) else {
            continue;
        };
        let delta = apply(state, NodeId(*r), op);
        model(&mut expected, op);
        for s in replicas.values_mut() {
            s.join(&delta);
        }
        for s in replicas.values() {
            prop_assert_eq!(contents(s), expected.clone(), "after {:?} at {}", op, r);
        }
    }
    Ok(())
}

fn run(test: impl Fn(&[(u64, Op)]) -> Result<(), TestCaseError>) {
    let mut runner = synod_sim::sim_runner(64);
    runner.run(&ops(), |ops| test(&ops)).unwrap();
}

fn seq_set(m: &mut BTreeSet<u8>, op: &Op) {
    match op {
        Op::Add(e) => {
            m.insert(*e);
        }
        Op::Remove(e) => {
            m.remove(e);
        }
    }
}

// Add-wins set without concurrency is a plain set.
#[test]
fn awset_matches_sequential_set() {
    run(|ops| {
        against_model(
            ops,
            |s: &mut AWSet<u8>, r, op| match op {
                Op::Add(e) => s.insert(r, *e).unwrap(),
                Op::Remove(e) => s.remove(e),
            },
            |s| s.iter().copied().collect(),
            seq_set,
        )
    });
}

// Remove-wins set without concurrency is a plain set.
#[test]
fn rwset_matches_sequential_set() {
    run(|ops| {
        against_model(
            ops,
            |s: &mut RWSet<u8>, r, op| match op {
                Op::Add(e) => s.insert(r, *e).unwrap(),
                Op::Remove(e) => s.remove(r, *e).unwrap(),
            },
            |s| s.iter().copied().collect(),
            seq_set,
        )
    });
}

// Two-phase set: a plain set in which a removed element never returns.
#[test]
fn twopset_matches_sequential_model() {
    run(|ops| {
        let mut removed = BTreeSet::new();
        against_model(
            ops,
            |s: &mut TwoPSet<u8>, _, op| match op {
                Op::Add(e) => s.insert(*e),
                Op::Remove(e) => s.remove(*e),
            },
            |s| s.iter().copied().collect(),
            |m, op| match op {
                Op::Add(e) if !removed.contains(e) => {
                    m.insert(*e);
                }
                Op::Add(_) => {}
                Op::Remove(e) => {
                    removed.insert(*e);
                    m.remove(e);
                }
            },
        )
    });
}

// LWW map with increasing timestamps is a plain map (keys as the set, values checked).
#[test]
fn lwwmap_matches_sequential_map() {
    run(|ops| {
        let mut clock = 0;
        let mut model = BTreeMap::new();
        let mut replica = LwwMap::new();
        for (r, op) in ops {
            clock += 1;
            match op {
                Op::Add(k) => {
                    replica.insert(NodeId(*r), clock, *k, clock);
                    model.insert(*k, clock);
                }
                Op::Remove(k) => {
                    replica.remove(NodeId(*r), clock, *k);
                    model.remove(k);
                }
            }
            let got: BTreeMap<u8, u64> = replica.iter().map(|(k, v)| (*k, *v)).collect();
            prop_assert_eq!(&got, &model);
        }
        Ok(())
    });
}

// Multi-value register without concurrency holds exactly the last write.
#[test]
fn mvreg_matches_sequential_register() {
    run(|ops| {
        against_model(
            ops,
            |s: &mut MvReg<u8>, r, op| match op {
                Op::Add(v) => s.set(r, *v).unwrap(),
                Op::Remove(_) => s.clear(),
            },
            |s| s.values().copied().collect(),
            |m, op| {
                m.clear();
                if let Op::Add(v) = op {
                    m.insert(*v);
                }
            },
        )
    });
}

// The model test can fail: a "set" that ignores removes is caught.
#[test]
fn model_test_catches_ignored_remove() {
    let ops = [(1, Op::Add(3)), (2, Op::Remove(3))];
    let result = against_model(
        &ops,
        |s: &mut GSet<u8>, _, op| match op {
            Op::Add(e) | Op::Remove(e) => s.insert(*e),
        },
        |s| s.iter().copied().collect(),
        seq_set,
    );
    assert!(result.is_err());
}

// Course notes (Figure 20): A does add(x); rmv(y) while B does add(y); rmv(x)
// concurrently; the add-wins set ends with {x, y}, yet no sequential interleaving of
// the four operations (respecting each replica's order) yields {x, y}.
#[test]
fn add_wins_outcome_no_sequential_execution_produces() {
    let (a, b) = (NodeId(1), NodeId(2));
    let (mut ra, mut rb) = (AWSet::new(), AWSet::new());
    ra.insert(a, 'x').unwrap();
    ra.remove(&'y');
    rb.insert(b, 'y').unwrap();
    rb.remove(&'x');
    ra.join(&rb);
    let concurrent: BTreeSet<char> = ra.iter().copied().collect();
    assert_eq!(concurrent, BTreeSet::from(['x', 'y']));

    let a_ops = [Op::Add(b'x'), Op::Remove(b'y')];
    let b_ops = [Op::Add(b'y'), Op::Remove(b'x')];
    // Every interleaving: choose which 2 of the 4 slots are A's.
    for mask in 0u8..16 {
        if mask.count_ones() != 2 {
            continue;
        }
        let (mut i, mut j, mut model) = (0, 0, BTreeSet::new());
        for slot in 0..4 {
            let op = if mask & (1 << slot) != 0 {
                &a_ops[i]
            } else {
                &b_ops[j]
            };
            if mask & (1 << slot) != 0 {
                i += 1
            } else {
                j += 1
            }
            seq_set(&mut model, op);
        }
        assert_ne!(
            model,
            BTreeSet::from([b'x', b'y']),
            "interleaving {mask:04b}"
        );
    }
}

// Course notes: the PN-counter pairs. B(10,0) meets A(35,0); B and C(0,5) meet, and
// after B increments twice more all three pairs join to {A(35,0), B(12,0), C(0,5)}.
#[test]
fn pn_counter_pairs_from_the_notes() {
    let (a, b, c) = (NodeId(1), NodeId(2), NodeId(3));
    let (mut ra, mut rb, mut rc) = (PNCounter::new(), PNCounter::new(), PNCounter::new());
    ra.increment(a, 35).unwrap();
    rb.increment(b, 10).unwrap();
    rc.decrement(c, 5).unwrap();
    rb.join(&ra);
    rb.join(&rc);
    rb.increment(b, 2).unwrap();
    ra.join(&rb);
    let pairs: Vec<(u64, u64)> = [a, b, c]
        .iter()
        .map(|r| (ra.increments().get(*r), ra.decrements().get(*r)))
        .collect();
    assert_eq!(pairs, [(35, 0), (12, 0), (0, 5)]);
    assert_eq!(ra.value(), 35 + 12 - 5);
}

// Observed-remove map of registers without concurrency is a plain map of last writes.
#[test]
fn ormap_matches_sequential_map() {
    use synod_crdt::ormap::{DotFun, ORMap};
    run(|ops| {
        let mut replicas: Vec<ORMap<u8, DotFun<u8>>> = vec![ORMap::new(); 3];
        let mut model: BTreeMap<u8, u8> = BTreeMap::new();
        for (i, (r, op)) in ops.iter().enumerate() {
            let at = NodeId(*r);
            let state = &mut replicas[(*r - 1) as usize];
            let delta = match op {
                Op::Add(k) => {
                    let v = i as u8;
                    model.insert(*k, v);
                    state
                        .apply(at, |m, dot| m.update(*k, |reg| reg.write(dot, v)))
                        .unwrap()
                }
                Op::Remove(k) => {
                    model.remove(k);
                    state.apply(at, |m, _| m.remove(k)).unwrap()
                }
            };
            for s in replicas.iter_mut() {
                s.join(&delta);
            }
            for s in &replicas {
                let got: BTreeMap<u8, Vec<u8>> = s
                    .iter()
                    .map(|(k, reg)| (*k, reg.values().copied().collect()))
                    .collect();
                let want: BTreeMap<u8, Vec<u8>> =
                    model.iter().map(|(k, v)| (*k, vec![*v])).collect();
                prop_assert_eq!(got, want);
            }
        }
        Ok(())
    });
}

/// Replays `ops` (key k = element / 4, element e = element % 4) on three replicas of
/// a map with a sequential model `BTreeMap<key, V>` and compares after every step.
fn map_against_model<S: Lattice, V: PartialEq + std::fmt::Debug + Clone>(
    ops: &[(u64, Op)],
    mut apply: impl FnMut(&mut S, NodeId, &Op) -> S,
    read: impl Fn(&S) -> BTreeMap<u8, V>,
    mut model: impl FnMut(&mut BTreeMap<u8, V>, &Op),
) -> Result<(), TestCaseError> {
    let mut replicas: Vec<S> = vec![S::default(); 3];
    let mut expected = BTreeMap::new();
    for (r, op) in ops {
        let delta = apply(&mut replicas[(*r - 1) as usize], NodeId(*r), op);
        model(&mut expected, op);
        for s in replicas.iter_mut() {
            s.join(&delta);
        }
        for s in &replicas {
            prop_assert_eq!(read(s), expected.clone(), "after {:?} at {}", op, r);
        }
    }
    Ok(())
}

// Each new OR-map value kind without concurrency behaves like its sequential model:
// a map of flags (enable-wins and disable-wins alike: Add enables, Remove of an even
// element disables, of an odd one removes the key), a map of sets (add-wins and
// remove-wins alike), and a map of counters where removing the key resets it.
#[test]
fn ormap_value_kinds_match_sequential_models() {
    use synod_crdt::stores::*;
    fn key(e: u8) -> (u8, u8) {
        (e / 4, e % 4)
    }
    fn flag_model(m: &mut BTreeMap<u8, bool>, op: &Op) {
        match op {
            Op::Add(e) => {
                m.insert(key(*e).0, true);
            }
            Op::Remove(e) if e % 2 == 0 => {
                m.remove(&key(*e).0); // a disabled flag is bottom: the key disappears
            }
            Op::Remove(e) => {
                m.remove(&key(*e).0);
            }
        }
    }
    fn set_model(m: &mut BTreeMap<u8, BTreeSet<u8>>, op: &Op) {
        match op {
            Op::Add(e) => {
                m.entry(key(*e).0).or_default().insert(key(*e).1);
            }
            Op::Remove(e) if e % 2 == 0 => {
                let (k, x) = key(*e);
                if let Some(s) = m.get_mut(&k) {
                    s.remove(&x);
                    if s.is_empty() {
                        m.remove(&k);
                    }
                }
            }
            Op::Remove(e) => {
                m.remove(&key(*e).0);
            }
        }
    }
    fn counter_model(m: &mut BTreeMap<u8, i128>, op: &Op) {
        match op {
            Op::Add(e) => *m.entry(key(*e).0).or_default() += i128::from(key(*e).1) + 1,
            Op::Remove(e) if e % 2 == 0 => *m.entry(key(*e).0).or_default() -= 1,
            Op::Remove(e) => {
                m.remove(&key(*e).0);
            }
        }
    }
    run(|ops| {
        map_against_model(
            ops,
            |s: &mut ORMap<u8, DotSet>, at, op| {
                match op {
                    Op::Add(e) => s.apply(at, |m, d| m.update(key(*e).0, |f| f.enable(d))),
                    Op::Remove(e) if e % 2 == 0 => {
                        s.apply(at, |m, _| m.update(key(*e).0, |f| f.disable()))
                    }
                    Op::Remove(e) => s.apply(at, |m, _| m.remove(&key(*e).0)),
                }
                .unwrap()
            },
            |s| s.iter().map(|(k, f)| (*k, f.is_enabled())).collect(),
            flag_model,
        )?;
        map_against_model(
            ops,
            |s: &mut ORMap<u8, DWFlagStore>, at, op| {
                match op {
                    Op::Add(e) => s.apply(at, |m, d| m.update(key(*e).0, |f| f.enable(d))),
                    Op::Remove(e) if e % 2 == 0 => s.apply(at, |m, _| m.remove(&key(*e).0)),
                    Op::Remove(e) => s.apply(at, |m, _| m.remove(&key(*e).0)),
                }
                .unwrap()
            },
            |s| s.iter().map(|(k, f)| (*k, f.is_enabled())).collect(),
            flag_model,
        )?;
        map_against_model(
            ops,
            |s: &mut ORMap<u8, AWSetStore<u8>>, at, op| {
                match op {
                    Op::Add(e) => {
                        s.apply(at, |m, d| m.update(key(*e).0, |x| x.insert(d, key(*e).1)))
                    }
                    Op::Remove(e) if e % 2 == 0 => {
                        s.apply(at, |m, _| m.update(key(*e).0, |x| x.remove(&key(*e).1)))
                    }
                    Op::Remove(e) => s.apply(at, |m, _| m.remove(&key(*e).0)),
                }
                .unwrap()
            },
            |s| {
                s.iter()
                    .map(|(k, x)| (*k, x.iter().copied().collect()))
                    .collect()
            },
            set_model,
        )?;
        map_against_model(
            ops,
            |s: &mut ORMap<u8, RWSetStore<u8>>, at, op| {
                match op {
                    Op::Add(e) => {
                        s.apply(at, |m, d| m.update(key(*e).0, |x| x.insert(d, key(*e).1)))
                    }
                    Op::Remove(e) if e % 2 == 0 => {
                        s.apply(at, |m, d| m.update(key(*e).0, |x| x.remove(d, key(*e).1)))
                    }
                    Op::Remove(e) => s.apply(at, |m, _| m.remove(&key(*e).0)),
                }
                .unwrap()
            },
            // A remove-wins set keeps remove tokens: a key whose elements are all
            // removed is still stored, and reads as the empty set.
            |s| {
                s.iter()
                    .map(|(k, x)| (*k, x.iter().copied().collect::<BTreeSet<u8>>()))
                    .filter(|(_, x)| !x.is_empty())
                    .collect()
            },
            set_model,
        )?;
        map_against_model(
            ops,
            |s: &mut ORMap<u8, CounterStore>, at, op| {
                match op {
                    Op::Add(e) => s.try_apply(at, |m, d| {
                        m.try_update(key(*e).0, |c| c.increment(d, u64::from(key(*e).1) + 1))
                    }),
                    Op::Remove(e) if e % 2 == 0 => {
                        s.try_apply(at, |m, d| m.try_update(key(*e).0, |c| c.decrement(d, 1)))
                    }
                    Op::Remove(e) => s.apply(at, |m, _| m.remove(&key(*e).0)),
                }
                .unwrap()
            },
            |s| s.iter().map(|(k, c)| (*k, c.value())).collect(),
            counter_model,
        )
    });
}

// The documented reset-on-remove rule of counters in a map: a reset removes the
// contributions it observed; an increment concurrent with it keeps the incrementing
// replica's whole contribution (its own earlier increments included), and nothing
// of the other replicas' observed contributions.
#[test]
fn map_counter_reset_keeps_only_concurrent_contributions() {
    use synod_crdt::stores::CounterStore;
    let (a, b) = (NodeId(1), NodeId(2));
    let inc = |m: &mut ORMap<u8, CounterStore>, at: NodeId, by: u64| {
        m.try_apply(at, |m, d| m.try_update(0, |c| c.increment(d, by)))
            .unwrap()
    };
    let mut x: ORMap<u8, CounterStore> = ORMap::new();
    let mut y = x.clone();
    y.join(&inc(&mut x, a, 5));
    x.join(&inc(&mut y, b, 7));
    assert_eq!(x.get(&0).map(CounterStore::value), Some(12));
    let reset = y.apply(b, |m, _| m.remove(&0)).unwrap();
    inc(&mut x, a, 1); // concurrent with the reset: A's contribution is now 6
    x.join(&reset);
    y.join(&x);
    assert_eq!(x, y);
    assert_eq!(x.get(&0).map(CounterStore::value), Some(6));
}
