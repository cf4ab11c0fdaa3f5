//! Every CRDT of the crate through the public `laws` kit: commutative, associative,
//! idempotent join; delta correctness (m(X) = X ⊔ mδ(X), Almeida et al. 2018 §4);
//! convergence of 3 replicas under random, duplicated, reordered delivery. Then the
//! kit itself is shown to catch deliberately broken CRDTs. Replay with
//! `SYNOD_SEED=<seed> cargo test -p synod-crdt --test laws`.

use proptest::prelude::*;
use synod_core::NodeId;
use synod_crdt::laws::{Law, Laws, Step};
use synod_crdt::*;

fn kit<T: Lattice, O: Clone + std::fmt::Debug + 'static>(
    ops: impl Strategy<Value = O> + 'static,
    m: Mutator<T, O>,
) -> Laws<T, O> {
    let seed = synod_sim::seed_from_env().unwrap_or(0);
    Laws::new(ops, m)
        .cases(synod_sim::proptest_cases(48))
        .seed(seed)
}

#[derive(Clone, Debug)]
enum SetOp {
    Add(u8),
    Remove(u8),
}

fn set_ops() -> impl Strategy<Value = SetOp> {
    prop_oneof![
        (0..6u8).prop_map(SetOp::Add),
        (0..6u8).prop_map(SetOp::Remove)
    ]
}

#[derive(Clone, Debug)]
enum CountOp {
    Inc(u64),
    Dec(u64),
    Transfer(u64, u64),
}

fn count_ops() -> impl Strategy<Value = CountOp> {
    prop_oneof![
        (0..5u64).prop_map(CountOp::Inc),
        (0..5u64).prop_map(CountOp::Dec),
        (1..4u64, 0..5u64).prop_map(|(to, n)| CountOp::Transfer(to, n)),
    ]
}

// GCounter: lattice laws, delta correctness and convergence.
#[test]
fn gcounter_laws() {
    fn m(c: &mut GCounter, at: NodeId, by: &u64) -> Result<GCounter, CrdtError> {
        c.increment(at, *by)
    }
    kit(0..10u64, m).check().unwrap();
}

// PNCounter: the same laws over increments and decrements.
#[test]
fn pncounter_laws() {
    fn m(c: &mut PNCounter, at: NodeId, op: &CountOp) -> Result<PNCounter, CrdtError> {
        match op {
            CountOp::Inc(n) | CountOp::Transfer(_, n) => c.increment(at, *n),
            CountOp::Dec(n) => c.decrement(at, *n),
        }
    }
    kit(count_ops(), m).check().unwrap();
}

// Bounded counter: the laws, including refused decrements/transfers changing nothing.
#[test]
fn bounded_counter_laws() {
    fn m(c: &mut BoundedCounter, at: NodeId, op: &CountOp) -> Result<BoundedCounter, CrdtError> {
        match op {
            CountOp::Inc(n) => c.increment(at, *n),
            CountOp::Dec(n) => c.decrement(at, *n),
            CountOp::Transfer(to, n) => c.transfer(at, NodeId(*to), *n),
        }
    }
    kit(count_ops(), m).check().unwrap();
}

// Add-wins set: the laws over adds and observed removes.
#[test]
fn awset_laws() {
    fn m(s: &mut AWSet<u8>, at: NodeId, op: &SetOp) -> Result<AWSet<u8>, CrdtError> {
        match op {
            SetOp::Add(e) => s.insert(at, *e),
            SetOp::Remove(e) => Ok(s.remove(e)),
        }
    }
    kit(set_ops(), m).check().unwrap();
}

// Remove-wins set: the laws over add and remove tokens.
#[test]
fn rwset_laws() {
    fn m(s: &mut RWSet<u8>, at: NodeId, op: &SetOp) -> Result<RWSet<u8>, CrdtError> {
        match op {
            SetOp::Add(e) => s.insert(at, *e),
            SetOp::Remove(e) => s.remove(at, *e),
        }
    }
    kit(set_ops(), m).check().unwrap();
}

// Grow-only and two-phase sets.
#[test]
fn gset_and_twopset_laws() {
    fn g(s: &mut GSet<u8>, _: NodeId, op: &SetOp) -> Result<GSet<u8>, CrdtError> {
        match op {
            SetOp::Add(e) | SetOp::Remove(e) => Ok(s.insert(*e)),
        }
    }
    fn t(s: &mut TwoPSet<u8>, _: NodeId, op: &SetOp) -> Result<TwoPSet<u8>, CrdtError> {
        match op {
            SetOp::Add(e) => Ok(s.insert(*e)),
            SetOp::Remove(e) => Ok(s.remove(*e)),
        }
    }
    kit(set_ops(), g).check().unwrap();
    kit(set_ops(), t).check().unwrap();
}

// Registers: LWW (timestamp, replica tie-break) and dot-based multi-value.
#[test]
fn register_laws() {
    fn lww(r: &mut LwwReg<u8>, at: NodeId, op: &(u64, u8)) -> Result<LwwReg<u8>, CrdtError> {
        Ok(r.set(at, op.0, op.1))
    }
    fn mv(r: &mut MvReg<u8>, at: NodeId, op: &(u64, u8)) -> Result<MvReg<u8>, CrdtError> {
        if op.0 == 0 {
            Ok(r.clear())
        } else {
            r.set(at, op.1)
        }
    }
    kit((0..4u64, 0..4u8), lww).check().unwrap();
    kit((0..4u64, 0..4u8), mv).check().unwrap();
}

// Flags: enable-wins and disable-wins.
#[test]
fn flag_laws() {
    fn ew(f: &mut EWFlag, at: NodeId, on: &bool) -> Result<EWFlag, CrdtError> {
        if *on { f.enable(at) } else { Ok(f.disable()) }
    }
    fn dw(f: &mut DWFlag, at: NodeId, on: &bool) -> Result<DWFlag, CrdtError> {
        if *on { f.enable(at) } else { f.disable(at) }
    }
    kit(any::<bool>(), ew).check().unwrap();
    kit(any::<bool>(), dw).check().unwrap();
}

// LWW map: inserts and tombstone removes.
#[test]
fn lwwmap_laws() {
    fn m(
        s: &mut LwwMap<u8, u8>,
        at: NodeId,
        op: &(u64, u8, Option<u8>),
    ) -> Result<LwwMap<u8, u8>, CrdtError> {
        Ok(match op.2 {
            Some(v) => s.insert(at, op.0, op.1, v),
            None => s.remove(at, op.0, op.1),
        })
    }
    kit((0..4u64, 0..3u8, proptest::option::of(0..3u8)), m)
        .check()
        .unwrap();
}

// --- the kit catches broken CRDTs -------------------------------------------------

/// A counter whose join adds instead of taking the maximum: not idempotent.
#[derive(Clone, Debug, Default, PartialEq)]
struct SummingCounter(u64);

impl Lattice for SummingCounter {
    fn join(&mut self, other: &Self) {
        self.0 += other.0;
    }
}

// The kit reports a join that is not idempotent.
#[test]
fn kit_catches_non_idempotent_join() {
    fn m(c: &mut SummingCounter, _: NodeId, by: &u64) -> Result<SummingCounter, CrdtError> {
        c.0 += by;
        Ok(SummingCounter(*by))
    }
    let err = kit(1..5u64, m).check().unwrap_err();
    assert!(err.contains("violated"), "{err}");
}

/// An observed-remove set whose remove forgets to put the removed dots in the
/// delta's context: the removal never reaches other replicas (crdts issue #160's
/// symptom: a remove silently dropped).
// The kit reports the divergence (as a delta-correctness failure).
#[test]
fn kit_catches_dropped_remove() {
    fn m(s: &mut AWSet<u8>, at: NodeId, op: &SetOp) -> Result<AWSet<u8>, CrdtError> {
        match op {
            SetOp::Add(e) => s.insert(at, *e),
            SetOp::Remove(e) => {
                s.remove(e);
                Ok(AWSet::new())
            }
        }
    }
    let laws = kit(set_ops(), m);
    let schedule = [
        Step::Op {
            replica: 0,
            op: SetOp::Add(1),
        },
        Step::Op {
            replica: 0,
            op: SetOp::Remove(1),
        },
    ];
    let v = laws.check_schedule(&schedule).unwrap_err();
    assert_eq!(v.law, Law::DeltaCorrect);
    assert!(laws.check().is_err());
}

/// A delta mutator whose delta is right but whose in-place update forgets the
/// context: replicas look fine locally and then disagree.
// The kit reports a join that is not commutative (first-writer-wins by arrival).
#[test]
fn kit_catches_order_dependent_join() {
    #[derive(Clone, Debug, Default, PartialEq)]
    struct FirstWins(Option<u8>);
    impl Lattice for FirstWins {
        fn join(&mut self, other: &Self) {
            if self.0.is_none() {
                self.0 = other.0;
            }
        }
    }
    fn m(r: &mut FirstWins, _: NodeId, v: &u8) -> Result<FirstWins, CrdtError> {
        let d = FirstWins(Some(*v));
        r.join(&d);
        Ok(d)
    }
    let err = kit(0..4u8, m).check().unwrap_err();
    assert!(err.contains("violated"), "{err}");
}

// Observed-remove maps: a map of multi-value registers, and a map of maps of them
// (nested values sharing the outer map's causal context).
#[test]
fn ormap_laws() {
    use synod_crdt::ormap::{DotFun, DotMap, ORMap};
    type Flat = ORMap<u8, DotFun<u8>>;
    type Nested = ORMap<u8, DotMap<u8, DotFun<u8>>>;
    fn flat(m: &mut Flat, at: NodeId, op: &(u8, Option<u8>)) -> Result<Flat, CrdtError> {
        let (k, v) = *op;
        match v {
            Some(v) => m.apply(at, |map, dot| map.update(k, |r| r.write(dot, v))),
            None => m.apply(at, |map, _| map.remove(&k)),
        }
    }
    fn nested(m: &mut Nested, at: NodeId, op: &(u8, u8, Option<u8>)) -> Result<Nested, CrdtError> {
        let (k, f, v) = *op;
        match v {
            Some(v) => m.apply(at, |map, dot| {
                map.update(k, |inner| inner.update(f, |r| r.write(dot, v)))
            }),
            None if f == 0 => m.apply(at, |map, _| map.remove(&k)),
            None => m.apply(at, |map, _| map.update(k, |inner| inner.remove(&f))),
        }
    }
    kit((0..3u8, proptest::option::of(0..3u8)), flat)
        .check()
        .unwrap();
    kit((0..3u8, 0..3u8, proptest::option::of(0..3u8)), nested)
        .check()
        .unwrap();
}

// Every causal CRDT of the crate as an OR-map value, sharing the map's one causal
// context: enable-wins and disable-wins flags, add-wins and remove-wins sets and the
// reset-on-remove counter (laws, delta correctness and convergence for each, key
// removal included); then sets nested two maps deep.
#[test]
fn ormap_value_kinds_laws() {
    use synod_crdt::ormap::{DotMap, ORMap};
    use synod_crdt::stores::*;
    /// (key, operation): 0 removes the key, 1/2 enable/disable (or add/remove
    /// element `e`), 3 decrements.
    type Op = (u8, u8, u8);
    fn ew(m: &mut ORMap<u8, DotSet>, at: NodeId, op: &Op) -> Result<ORMap<u8, DotSet>, CrdtError> {
        let &(k, what, _) = op;
        match what {
            0 => m.apply(at, |m, _| m.remove(&k)),
            1 => m.apply(at, |m, dot| m.update(k, |f| f.enable(dot))),
            _ => m.apply(at, |m, _| m.update(k, |f| f.disable())),
        }
    }
    fn dw(
        m: &mut ORMap<u8, DWFlagStore>,
        at: NodeId,
        op: &Op,
    ) -> Result<ORMap<u8, DWFlagStore>, CrdtError> {
        let &(k, what, _) = op;
        match what {
            0 => m.apply(at, |m, _| m.remove(&k)),
            1 => m.apply(at, |m, dot| m.update(k, |f| f.enable(dot))),
            _ => m.apply(at, |m, dot| m.update(k, |f| f.disable(dot))),
        }
    }
    fn aw(
        m: &mut ORMap<u8, AWSetStore<u8>>,
        at: NodeId,
        op: &Op,
    ) -> Result<ORMap<u8, AWSetStore<u8>>, CrdtError> {
        let &(k, what, e) = op;
        match what {
            0 => m.apply(at, |m, _| m.remove(&k)),
            1 => m.apply(at, |m, dot| m.update(k, |s| s.insert(dot, e))),
            _ => m.apply(at, |m, _| m.update(k, |s| s.remove(&e))),
        }
    }
    fn rw(
        m: &mut ORMap<u8, RWSetStore<u8>>,
        at: NodeId,
        op: &Op,
    ) -> Result<ORMap<u8, RWSetStore<u8>>, CrdtError> {
        let &(k, what, e) = op;
        match what {
            0 => m.apply(at, |m, _| m.remove(&k)),
            1 => m.apply(at, |m, dot| m.update(k, |s| s.insert(dot, e))),
            _ => m.apply(at, |m, dot| m.update(k, |s| s.remove(dot, e))),
        }
    }
    fn counter(
        m: &mut ORMap<u8, CounterStore>,
        at: NodeId,
        op: &Op,
    ) -> Result<ORMap<u8, CounterStore>, CrdtError> {
        let &(k, what, by) = op;
        let by = u64::from(by);
        match what {
            0 => m.apply(at, |m, _| m.remove(&k)),
            3 => m.try_apply(at, |m, dot| m.try_update(k, |c| c.decrement(dot, by))),
            _ => m.try_apply(at, |m, dot| m.try_update(k, |c| c.increment(dot, by))),
        }
    }
    type Nested = ORMap<u8, DotMap<u8, AWSetStore<u8>>>;
    fn nested(m: &mut Nested, at: NodeId, op: &Op) -> Result<Nested, CrdtError> {
        let &(k, what, e) = op;
        let inner = k % 2;
        match what {
            0 => m.apply(at, |m, _| m.remove(&k)),
            3 => m.apply(at, |m, _| m.update(k, |i| i.remove(&inner))),
            1 => m.apply(at, |m, dot| {
                m.update(k, |i| i.update(inner, |s| s.insert(dot, e)))
            }),
            _ => m.apply(at, |m, _| {
                m.update(k, |i| i.update(inner, |s| s.remove(&e)))
            }),
        }
    }
    let ops = || (0..3u8, 0..4u8, 0..3u8);
    kit(ops(), ew).check().unwrap();
    kit(ops(), dw).check().unwrap();
    kit(ops(), aw).check().unwrap();
    kit(ops(), rw).check().unwrap();
    kit(ops(), counter).check().unwrap();
    kit(ops(), nested).check().unwrap();
}
