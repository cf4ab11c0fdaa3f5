//! Hybrid logical clocks (Kulkarni et al. 2014) on random executions with skewed,
//! sometimes backward-stepping physical clocks: the clock condition (e → f implies
//! hlc(e) < hlc(f)), monotonicity, the bound on l − pt (Theorem 2: l never exceeds
//! the largest physical clock in the system), the packed form ordering as integers,
//! and rejection beyond the maximum offset. A broken receive is caught.

mod support;

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use support::{Execution, Op, config, executions, happened_before, histories};
use synod_clocks::{ClockError, Hlc, HlcTimestamp, ManualClock};

/// Timestamps of every event. Physical clocks start skewed by `skew[p]` and each
/// event advances the process's clock by `advance[k]` (which may be negative: an
/// NTP step back). Returns (timestamp, largest physical reading in the system then).
fn run(exec: &Execution, skew: &[u64], advance: &[i64], broken: bool) -> Vec<(HlcTimestamp, u64)> {
    let mut clocks: Vec<Hlc<ManualClock>> = (0..exec.processes)
        .map(|p| Hlc::new(ManualClock::new(1_000 + skew[p % skew.len()]), 1 << 40))
        .collect();
    let mut physical: Vec<u64> = (0..exec.processes)
        .map(|p| 1_000 + skew[p % skew.len()])
        .collect();
    let mut sent = std::collections::HashMap::new();
    let mut highest = 0u64;
    exec.ops
        .iter()
        .enumerate()
        .map(|(k, op)| {
            let p = op.process();
            let step = advance[k % advance.len()];
            physical[p] = physical[p].saturating_add_signed(step);
            clocks[p].physical_clock().set(physical[p]);
            highest = highest.max(physical[p]);
            let t = match *op {
                Op::Local { .. } => clocks[p].now().unwrap(),
                Op::Send { message, .. } => {
                    let t = clocks[p].now().unwrap();
                    sent.insert(message, t);
                    t
                }
                Op::Receive { message, .. } if !broken => {
                    clocks[p].receive(sent[&message]).unwrap()
                }
                Op::Receive { .. } => clocks[p].now().unwrap(),
            };
            (t, highest)
        })
        .collect()
}

fn check(exec: &Execution, stamps: &[(HlcTimestamp, u64)]) -> Result<(), TestCaseError> {
    let h = histories(exec);
    for a in 0..stamps.len() {
        // l is at most the largest physical time anyone has read so far.
        prop_assert!(stamps[a].0.physical() <= stamps[a].1);
        for b in 0..stamps.len() {
            if happened_before(&h, a, b) {
                prop_assert!(
                    stamps[a].0 < stamps[b].0,
                    "{a} → {b}: {} !< {}",
                    stamps[a].0,
                    stamps[b].0
                );
                prop_assert!(stamps[a].0.to_u64() < stamps[b].0.to_u64());
            }
        }
    }
    Ok(())
}

fn inputs() -> impl Strategy<Value = (Execution, Vec<u64>, Vec<i64>)> {
    (
        executions(4, 50),
        prop::collection::vec(0u64..200, 4),
        prop::collection::vec(prop_oneof![8 => 0i64..5, 1 => -20i64..0], 1..20),
    )
}

proptest! {
    #![proptest_config(config(256))]

    // The clock condition and the l − pt bound hold whatever the skew and steps.
    #[test]
    fn hlc_clock_condition_and_bound((exec, skew, advance) in inputs()) {
        check(&exec, &run(&exec, &skew, &advance, false))?;
    }

    // Packed timestamps order exactly as the (l, c) pairs do, and round-trip.
    #[test]
    fn packed_form_orders_as_integers(l1 in 0u64..(1 << 48), c1: u16, l2 in 0u64..(1 << 48), c2: u16) {
        let a = HlcTimestamp::new(l1, c1).unwrap();
        let b = HlcTimestamp::new(l2, c2).unwrap();
        prop_assert_eq!(a.cmp(&b), a.to_u64().cmp(&b.to_u64()));
        prop_assert_eq!(HlcTimestamp::from_u64(a.to_u64()), a);
    }
}

// The checker catches an HLC that ignores the timestamps it receives.
#[test]
fn checker_catches_a_receive_that_ignores_the_message() {
    let mut runner = TestRunner::new(config(256));
    let result = runner.run(&inputs(), |(exec, skew, advance)| {
        check(&exec, &run(&exec, &skew, &advance, true))
    });
    assert!(result.is_err());
}

// A timestamp further ahead than the maximum offset is refused and changes nothing;
// one exactly at the bound is accepted.
#[test]
fn remote_beyond_max_offset_is_rejected() {
    let mut hlc = Hlc::new(ManualClock::new(1_000), 100);
    let before = hlc.now().unwrap();
    let too_far = HlcTimestamp::new(1_101, 0).unwrap();
    assert_eq!(
        hlc.receive(too_far),
        Err(ClockError::RemoteTooFarAhead {
            remote_physical: 1_101,
            local_physical: 1_000,
            max_offset: 100
        })
    );
    assert_eq!(hlc.last(), before);
    let at_bound = HlcTimestamp::new(1_100, 7).unwrap();
    assert_eq!(
        hlc.receive(at_bound).unwrap(),
        HlcTimestamp::new(1_100, 8).unwrap()
    );
}

// Limits are typed errors: 2^16 events in one physical instant, a physical time
// beyond 48 bits, a received logical part at its maximum.
#[test]
fn limits_are_typed_errors() {
    let mut hlc = Hlc::new(ManualClock::new(5), 10);
    for _ in 0..=u16::MAX {
        hlc.now().unwrap();
    }
    assert_eq!(hlc.now(), Err(ClockError::Overflow));
    let mut hlc = Hlc::new(ManualClock::new(1 << 48), 10);
    assert_eq!(hlc.now(), Err(ClockError::PhysicalTimeTooLarge(1 << 48)));
    assert!(HlcTimestamp::new(1 << 48, 0).is_err());
    let mut hlc = Hlc::new(ManualClock::new(5), 10);
    let remote = HlcTimestamp::new(9, u16::MAX).unwrap();
    assert_eq!(hlc.receive(remote), Err(ClockError::Overflow));
}

// A physical clock stepping backwards never makes the HLC go backwards.
#[test]
fn monotonic_across_backward_steps() {
    let mut hlc = Hlc::new(ManualClock::new(500), 10);
    let a = hlc.now().unwrap();
    hlc.physical_clock().set(400);
    let b = hlc.now().unwrap();
    assert!(b > a);
    assert_eq!(b.physical(), 500);
}
