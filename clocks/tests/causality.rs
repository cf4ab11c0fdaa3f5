//! The clock conditions on random executions, checked against causal histories
//! computed from the definition of happened-before: Lamport's (a → b implies
//! L(a) < L(b)) and the strong one for vector clocks (a → b iff V(a) < V(b)), for
//! the dense and the sparse representation. Each checker is also run against a
//! deliberately broken clock to show it fails.

mod support;

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use support::{Execution, Op, config, executions, happened_before, histories};
use synod_clocks::{
    Causality, DenseVClock, LamportClock, LamportTimestamp, Membership, SparseVClock, VectorClock,
};
use synod_core::NodeId;

/// Lamport timestamps of every event; `broken` forgets the max on receive.
fn lamport(exec: &Execution, broken: bool) -> Vec<LamportTimestamp> {
    let mut clocks: Vec<LamportClock> = (0..exec.processes)
        .map(|p| LamportClock::new(NodeId(p as u64)))
        .collect();
    let mut sent = std::collections::HashMap::new();
    exec.ops
        .iter()
        .map(|op| match *op {
            Op::Local { process } => clocks[process].event().unwrap(),
            Op::Send { process, message } => {
                let t = clocks[process].send().unwrap();
                sent.insert(message, t.time);
                t
            }
            Op::Receive { process, message } => {
                if broken {
                    clocks[process].event().unwrap()
                } else {
                    clocks[process].receive(sent[&message]).unwrap()
                }
            }
        })
        .collect()
}

/// Stamps of every event under any vector clock; `broken` skips the merge.
fn vector<C: VectorClock>(
    exec: &Execution,
    fresh: impl Fn() -> C,
    member: impl Fn(usize) -> C::Member,
    broken: bool,
) -> Vec<C> {
    let mut clocks: Vec<C> = (0..exec.processes).map(|_| fresh()).collect();
    let mut sent: std::collections::HashMap<usize, C> = std::collections::HashMap::new();
    exec.ops
        .iter()
        .map(|op| {
            let p = op.process();
            match *op {
                Op::Local { .. } => {
                    clocks[p].event(member(p)).unwrap();
                }
                Op::Send { message, .. } => {
                    clocks[p].event(member(p)).unwrap();
                    sent.insert(message, clocks[p].clone());
                }
                Op::Receive { message, .. } => {
                    if broken {
                        clocks[p].event(member(p)).unwrap();
                    } else {
                        clocks[p].receive(member(p), &sent[&message]).unwrap();
                    }
                }
            }
            clocks[p].clone()
        })
        .collect()
}

fn check_lamport(exec: &Execution, stamps: &[LamportTimestamp]) -> Result<(), TestCaseError> {
    let h = histories(exec);
    for a in 0..stamps.len() {
        for b in 0..stamps.len() {
            if happened_before(&h, a, b) {
                prop_assert!(
                    stamps[a] < stamps[b],
                    "event {a} → {b} but L = {:?} !< {:?}",
                    stamps[a],
                    stamps[b]
                );
            }
            if a != b {
                prop_assert_ne!(
                    stamps[a],
                    stamps[b],
                    "a total order: distinct events differ"
                );
            }
        }
    }
    Ok(())
}

fn check_strong<C: VectorClock>(exec: &Execution, stamps: &[C]) -> Result<(), TestCaseError> {
    let h = histories(exec);
    for a in 0..stamps.len() {
        for b in 0..stamps.len() {
            let truth = if a == b {
                Causality::Equal
            } else if happened_before(&h, a, b) {
                Causality::Before
            } else if happened_before(&h, b, a) {
                Causality::After
            } else {
                Causality::Concurrent
            };
            let got = stamps[a].causality_with(&stamps[b]).unwrap();
            prop_assert_eq!(got, truth, "events {} and {}", a, b);
        }
    }
    Ok(())
}

fn dense(exec: &Execution, broken: bool) -> Vec<DenseVClock> {
    let m = Membership::new((0..exec.processes as u64).map(NodeId));
    vector(exec, || DenseVClock::new(&m), |p| p, broken)
}

fn sparse(exec: &Execution, broken: bool) -> Vec<SparseVClock> {
    vector(exec, SparseVClock::new, |p| NodeId(p as u64), broken)
}

proptest! {
    #![proptest_config(config(256))]

    // Lamport 1978, the clock condition: a → b implies L(a) < L(b), and (node id as
    // tie-break) the order is total.
    #[test]
    fn lamport_clock_condition(exec in executions(5, 60)) {
        check_lamport(&exec, &lamport(&exec, false))?;
    }

    // The strong clock condition for dense vector clocks (Mattern 1989): the clock
    // comparison equals happened-before exactly, concurrency included.
    #[test]
    fn dense_vector_clock_strong_condition(exec in executions(5, 60)) {
        check_strong(&exec, &dense(&exec, false))?;
    }

    // The same for the sparse representation, and both agree with each other and
    // with PartialOrd.
    #[test]
    fn sparse_vector_clock_strong_condition(exec in executions(6, 60)) {
        let s = sparse(&exec, false);
        check_strong(&exec, &s)?;
        let d = dense(&exec, false);
        let m = Membership::new((0..exec.processes as u64).map(NodeId));
        for (x, y) in d.iter().zip(&s) {
            prop_assert_eq!(&x.to_sparse(&m).unwrap(), y);
        }
        for a in 0..s.len() {
            for b in 0..s.len() {
                prop_assert_eq!(s[a].partial_cmp(&s[b]), d[a].partial_cmp(&d[b]));
            }
        }
    }
}

/// Run a property over executions and report whether any case failed.
fn finds_violation(check: impl Fn(&Execution) -> Result<(), TestCaseError>) -> bool {
    let mut runner = TestRunner::new(config(256));
    runner.run(&executions(4, 40), |exec| check(&exec)).is_err()
}

// The Lamport checker catches a clock that ignores received timestamps.
#[test]
fn lamport_checker_catches_missing_max() {
    assert!(finds_violation(|e| check_lamport(e, &lamport(e, true))));
}

// The strong-condition checker catches vector clocks that do not merge on receive
// (both representations).
#[test]
fn vector_checker_catches_missing_merge() {
    assert!(finds_violation(|e| check_strong(e, &dense(e, true))));
    assert!(finds_violation(|e| check_strong(e, &sparse(e, true))));
}

// Dense clocks of different memberships (even of equal size) refuse to combine.
#[test]
fn dense_membership_mismatch_is_an_error() {
    let m1 = Membership::new([NodeId(1), NodeId(2)]);
    let m2 = Membership::new([NodeId(1), NodeId(3)]);
    let mut a = DenseVClock::new(&m1);
    let b = DenseVClock::new(&m2);
    assert!(matches!(
        a.merge(&b),
        Err(synod_clocks::ClockError::MembershipMismatch { .. })
    ));
    assert!(a.causality(&b).is_err());
    assert_eq!(a.partial_cmp(&b), None);
    assert!(a.event(2).is_err());
}
