//! Causal delivery (Birman, Schiper, Stephenson 1991) on random executions where the
//! network reorders and duplicates: no message is delivered before any broadcast
//! that happened before it, every message is delivered exactly once once the
//! network drains, and the buffer bound is a typed error. A buffer that delivers on
//! arrival is caught by the same checker.

mod support;

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use std::collections::BTreeSet;
use support::config;
use synod_clocks::{CausalBuffer, CausalMessage, DeliveryError, Receipt};
use synod_core::NodeId;

#[derive(Clone, Debug)]
enum Step {
    Broadcast(usize),
    /// Deliver (a copy of) an in-flight message; `keep` leaves a duplicate behind.
    Arrive {
        pick: prop::sample::Index,
        keep: bool,
    },
    /// The oldest message in flight arrives (after the trace, until none is left).
    Drain,
}

fn steps(n: usize) -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            1 => (0..n).prop_map(Step::Broadcast),
            3 => (any::<prop::sample::Index>(), prop::bool::weighted(0.2))
                .prop_map(|(pick, keep)| Step::Arrive { pick, keep }),
        ],
        1..80,
    )
}

const N: usize = 4;

fn run(trace: &[Step], deliver_on_arrival: bool) -> Result<(), TestCaseError> {
    let mut nodes: Vec<CausalBuffer<u32>> = (0..N)
        .map(|p| CausalBuffer::new(NodeId(p as u64), 1_000))
        .collect();
    // Ground truth: broadcasts each node's past contains, and each broadcast's past.
    let mut past: Vec<BTreeSet<u32>> = vec![BTreeSet::new(); N];
    let mut history: Vec<BTreeSet<u32>> = Vec::new();
    let mut delivered: Vec<Vec<u32>> = vec![Vec::new(); N];
    let mut in_flight: Vec<(usize, CausalMessage<u32>)> = Vec::new();
    let deliver = |p: usize,
                   id: u32,
                   past: &mut Vec<BTreeSet<u32>>,
                   history: &Vec<BTreeSet<u32>>,
                   delivered: &mut Vec<Vec<u32>>|
     -> Result<(), TestCaseError> {
        for dep in &history[id as usize] {
            prop_assert!(
                *dep == id || delivered[p].contains(dep),
                "node {} delivered {} before its cause {}",
                p,
                id,
                dep
            );
        }
        prop_assert!(
            !delivered[p].contains(&id),
            "node {} delivered {} twice",
            p,
            id
        );
        delivered[p].push(id);
        past[p].extend(history[id as usize].iter().copied());
        Ok(())
    };
    // Run the trace, then let every message in flight arrive (liveness).
    let mut steps = trace
        .iter()
        .cloned()
        .map(Some)
        .chain(std::iter::repeat(None));
    loop {
        let step = match steps.next().flatten() {
            Some(step) => step,
            None if in_flight.is_empty() => break,
            None => Step::Drain,
        };
        match step {
            Step::Broadcast(p) => {
                let id = history.len() as u32;
                let mut h = past[p].clone();
                h.insert(id);
                history.push(h);
                let msg = nodes[p].broadcast(id).unwrap();
                deliver(p, id, &mut past, &history, &mut delivered)?;
                for q in (0..N).filter(|&q| q != p) {
                    in_flight.push((q, msg.clone()));
                }
            }
            Step::Arrive { .. } | Step::Drain => {
                if in_flight.is_empty() {
                    continue;
                }
                let (to, msg) = match step {
                    Step::Arrive { pick, keep: true } => {
                        in_flight[pick.index(in_flight.len())].clone()
                    }
                    Step::Arrive { pick, .. } => in_flight.remove(pick.index(in_flight.len())),
                    _ => in_flight.remove(0),
                };
                if deliver_on_arrival {
                    if !delivered[to].contains(&msg.payload) {
                        deliver(to, msg.payload, &mut past, &history, &mut delivered)?;
                    }
                    continue;
                }
                nodes[to].receive(msg).unwrap();
                while let Some(m) = nodes[to].pop_ready() {
                    deliver(to, m.payload, &mut past, &history, &mut delivered)?;
                }
            }
        }
    }
    for p in 0..N {
        prop_assert_eq!(
            delivered[p].len(),
            history.len(),
            "node {} missed messages",
            p
        );
        prop_assert_eq!(nodes[p].pending(), 0);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    // Causal order, exactly-once and eventual delivery under reordering and duplication.
    #[test]
    fn causal_delivery_respects_happened_before(trace in steps(N)) {
        run(&trace, false)?;
    }
}

// The checker catches delivery on arrival (no causal buffering).
#[test]
fn checker_catches_delivery_on_arrival() {
    let mut runner = TestRunner::new(config(256));
    assert!(runner.run(&steps(N), |t| run(&t, true)).is_err());
}

// A full buffer refuses with a typed error naming the bound; duplicates are not
// counted against it.
#[test]
fn full_buffer_is_a_typed_error() {
    let (a, b) = (NodeId(1), NodeId(2));
    let mut sender = CausalBuffer::new(a, 8);
    let mut receiver = CausalBuffer::new(b, 2);
    let msgs: Vec<_> = (0..4).map(|k| sender.broadcast(k).unwrap()).collect();
    // Messages 2, 3 and 4 wait for message 1; only two fit.
    assert_eq!(receiver.receive(msgs[1].clone()), Ok(Receipt::Buffered));
    assert_eq!(receiver.receive(msgs[1].clone()), Ok(Receipt::Duplicate));
    assert_eq!(receiver.receive(msgs[2].clone()), Ok(Receipt::Buffered));
    assert_eq!(
        receiver.receive(msgs[3].clone()),
        Err(DeliveryError::Full { capacity: 2 })
    );
    // The missing message is deliverable at once, so it is accepted even now, and
    // it unblocks everything.
    assert_eq!(receiver.receive(msgs[0].clone()), Ok(Receipt::Buffered));
    let order: Vec<u32> = std::iter::from_fn(|| receiver.pop_ready())
        .map(|m| m.payload)
        .collect();
    assert_eq!(order, [0, 1, 2]);
    assert_eq!(receiver.receive(msgs[3].clone()), Ok(Receipt::Buffered));
    assert_eq!(receiver.pop_ready().map(|m| m.payload), Some(3));
}
