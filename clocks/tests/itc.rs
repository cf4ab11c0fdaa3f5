//! Interval tree clocks (Almeida, Baquero, Fonte 2008) against version vectors on
//! random fork/event/join/peek traces: the ITC causal order must equal the order of
//! the causal histories, which a version vector with a fresh id per stamp lifetime
//! tracks exactly. A broken ITC (an event that does not inflate) is caught.

mod support;

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use support::config;
use synod_clocks::{Causality, Stamp, VersionVector};
use synod_core::NodeId;

#[derive(Clone, Debug)]
enum Step {
    Event(prop::sample::Index),
    Fork(prop::sample::Index),
    Retire(prop::sample::Index, prop::sample::Index),
    Send(prop::sample::Index, prop::sample::Index),
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let idx = any::<prop::sample::Index>;
    prop::collection::vec(
        prop_oneof![
            3 => idx().prop_map(Step::Event),
            2 => idx().prop_map(Step::Fork),
            1 => (idx(), idx()).prop_map(|(a, b)| Step::Retire(a, b)),
            2 => (idx(), idx()).prop_map(|(a, b)| Step::Send(a, b)),
        ],
        1..60,
    )
}

/// Run the trace; every stamp ever live is recorded with its shadow version vector.
fn run(trace: &[Step], broken_event: bool) -> Vec<(Stamp, VersionVector)> {
    let mut next_id = 0u64;
    let mut fresh = || {
        next_id += 1;
        NodeId(next_id)
    };
    // (stamp, shadow history, the shadow id this stamp counts its events under)
    let mut live: Vec<(Stamp, VersionVector, NodeId)> =
        vec![(Stamp::seed(), VersionVector::new(), fresh())];
    let mut seen = Vec::new();
    for step in trace {
        match step {
            Step::Event(i) => {
                let i = i.index(live.len());
                if !broken_event {
                    live[i].0.event().unwrap();
                }
                let id = live[i].2;
                live[i].1.increment(id).unwrap();
            }
            Step::Fork(i) => {
                let (s, vv, _) = live.swap_remove(i.index(live.len()));
                let (a, b) = s.fork();
                live.push((a, vv.clone(), fresh()));
                live.push((b, vv, fresh()));
            }
            Step::Retire(i, j) if live.len() > 1 => {
                let (a, va, _) = live.swap_remove(i.index(live.len()));
                let (b, vb, _) = live.swap_remove(j.index(live.len()));
                let mut vv = va;
                vv.join(&vb);
                live.push((a.join(b).unwrap(), vv, fresh()));
            }
            Step::Retire(..) => {}
            Step::Send(i, j) => {
                let (i, j) = (i.index(live.len()), j.index(live.len()));
                let msg = live[j].0.peek();
                let history = live[j].1.clone();
                let (s, mut vv, id) = live.swap_remove(i);
                vv.join(&history);
                live.push((s.join(msg).unwrap(), vv, id));
            }
        }
        seen.extend(live.iter().map(|(s, vv, _)| (s.clone(), vv.clone())));
    }
    seen
}

fn agrees(seen: &[(Stamp, VersionVector)]) -> Result<(), TestCaseError> {
    for (sa, va) in seen {
        for (sb, vb) in seen {
            prop_assert_eq!(sa.causality(sb), va.causality(vb), "{} vs {}", sa, sb);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    // ITC order agrees with version vectors (causal histories) on every pair of
    // stamps of a random trace (paper §4: leq characterizes causality).
    #[test]
    fn itc_order_agrees_with_version_vectors(trace in steps()) {
        agrees(&run(&trace, false))?;
    }

    // Encode then decode is the identity on every stamp a trace produces (§6), and
    // the encoding stays small.
    #[test]
    fn itc_encoding_roundtrips(trace in steps()) {
        for (stamp, _) in run(&trace, false) {
            let bytes = stamp.encode();
            prop_assert_eq!(Stamp::decode(&bytes), Ok(stamp));
        }
    }
}

// The agreement checker catches an ITC whose events do not inflate the clock.
#[test]
fn checker_catches_non_inflating_events() {
    let mut runner = TestRunner::new(config(256));
    let result = runner.run(&steps(), |trace| agrees(&run(&trace, true)));
    assert!(result.is_err());
}

// Retiring every participant gives back a stamp with the whole id and a constant
// event tree: the clock shrinks back (what a version vector cannot do).
#[test]
fn retiring_everyone_shrinks_the_clock() {
    let (mut a, b) = Stamp::seed().fork();
    let (mut b, mut c) = b.fork();
    for _ in 0..5 {
        a.event().unwrap();
        b.event().unwrap();
        c.event().unwrap();
    }
    let all = a.join(b).unwrap().join(c).unwrap();
    let mut all = all;
    all.event().unwrap();
    assert_eq!(all.encode().len(), Stamp::seed().encode().len() + 1);
    assert_eq!(Stamp::seed().causality(&all), Causality::Before);
}
