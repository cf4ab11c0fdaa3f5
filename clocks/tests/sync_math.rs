//! The synchronization arithmetic against generated ground truth: NTP's θ ± δ/2 and
//! Cristian's estimate ± RTT/2 contain the true offset for any path asymmetry
//! (RFC 5905 §8; Cristian 1989); Marzullo's interval is where the most sources
//! agree (checked by brute force); NTP's intersection keeps the true time and
//! rejects falsetickers while truechimers are a majority (RFC 5905 §11.2.1).

mod support;

use proptest::prelude::*;
use support::config;
use synod_clocks::sync::{
    ClockFilter, CristianSample, Interval, NtpSample, Reading, berkeley_average, intersection,
    marzullo,
};
use synod_core::NodeId;

proptest! {
    #![proptest_config(config(512))]

    // θ ± δ/2 contains the true offset, δ is the true round trip, whatever the
    // split between the two directions and the server's processing time.
    #[test]
    fn ntp_interval_contains_true_offset(
        t1 in -1_000_000i64..1_000_000, offset in -100_000i64..100_000,
        out in 0i64..5_000, back in 0i64..5_000, processing in 0i64..1_000,
    ) {
        let t2 = t1 + out + offset;
        let t3 = t2 + processing;
        let t4 = t3 - offset + back;
        let s = NtpSample::from_timestamps(t1, t2, t3, t4).unwrap();
        prop_assert_eq!(s.delay, out + back);
        prop_assert!(s.interval().contains(offset), "{:?} misses {}", s, offset);
    }

    // Cristian: the estimate is within its error bound of the truth, for any split.
    #[test]
    fn cristian_estimate_within_bound(
        sent in -1_000_000i64..1_000_000, offset in -100_000i64..100_000,
        out in 0i64..5_000, back in 0i64..5_000,
    ) {
        let s = CristianSample {
            request_sent: sent,
            server_time: sent + out + offset,
            reply_received: sent + out + back,
        };
        let e = s.estimate().unwrap();
        prop_assert!((e.offset - offset).abs() <= e.error, "{:?} vs {}", e, offset);
    }

    // Marzullo's result is contained in `count` sources, and no point is in more.
    #[test]
    fn marzullo_finds_the_best_agreement(
        raw in prop::collection::vec((-100i64..100, 0i64..50), 1..8)
    ) {
        let sources: Vec<Interval> = raw.iter().map(|&(lo, w)| Interval::new(lo, lo + w).unwrap()).collect();
        let best = marzullo(&sources).unwrap();
        let cover = |x: i64| sources.iter().filter(|s| s.contains(x)).count();
        let most = (-100..=150).map(cover).max().unwrap();
        prop_assert_eq!(best.count, most);
        for x in best.interval.lo..=best.interval.hi {
            prop_assert_eq!(cover(x), most, "point {} of {:?}", x, best.interval);
        }
    }

    // With a majority of truechimers around the true time and falsetickers far
    // away, whatever the intersection returns contains the true time and names
    // exactly the falsetickers; with symmetric truechimers it always succeeds.
    #[test]
    fn intersection_keeps_truth_and_rejects_falsetickers(
        truth in -1_000i64..1_000,
        trues in prop::collection::vec((-50i64..=0, 0i64..=50), 2..7),
        falses in prop::collection::vec((5_000i64..50_000, 0i64..100), 0..3),
        symmetric: bool,
    ) {
        let falses = &falses[..falses.len().min(trues.len() - 1)];
        let mut sources: Vec<Interval> = trues.iter().map(|&(l, h)| {
            if symmetric { Interval::around(truth, h as u64) } else { Interval::new(truth + l, truth + h).unwrap() }
        }).collect();
        let first_false = sources.len();
        sources.extend(falses.iter().map(|&(at, w)| Interval::new(truth + at, truth + at + w).unwrap()));
        match intersection(&sources) {
            Some(sel) => {
                prop_assert!(sel.interval.contains(truth), "{:?} misses {}", sel, truth);
                prop_assert_eq!(sel.falsetickers, (first_false..sources.len()).collect::<Vec<_>>());
            }
            None => prop_assert!(!symmetric, "symmetric truechimers must be selected"),
        }
    }

    // Berkeley: with fewer than half the readings arbitrarily wrong, the average
    // stays within the range of the correct ones and every wrong one is excluded.
    #[test]
    fn berkeley_average_ignores_a_minority_of_liars(
        good in prop::collection::vec(-100i64..100, 2..8),
        bad in prop::collection::vec(prop_oneof![-1_000_000i64..-10_000, 10_000i64..1_000_000], 0..3),
    ) {
        // Keep the liars a minority of all readings.
        let bad = &bad[..bad.len().min((good.len() - 1) / 2)];
        let readings: Vec<Reading> = good.iter().chain(bad).enumerate()
            .map(|(k, &offset)| Reading { node: NodeId(k as u64), offset }).collect();
        let round = berkeley_average(&readings, 500).unwrap();
        let (lo, hi) = (*good.iter().min().unwrap(), *good.iter().max().unwrap());
        prop_assert!(lo <= round.average && round.average <= hi);
        prop_assert_eq!(round.excluded.len(), bad.len());
        for (r, (node, delta)) in readings.iter().zip(&round.adjustments) {
            prop_assert_eq!(r.node, *node);
            prop_assert_eq!(r.offset + delta, round.average);
        }
    }
}

// The clock filter trusts the least-delayed of its last samples and forgets old ones.
#[test]
fn clock_filter_keeps_the_last_samples() {
    let mut f = ClockFilter::new(3);
    f.push(NtpSample {
        offset: 1,
        delay: 1,
    });
    for k in 0..3 {
        f.push(NtpSample {
            offset: 10 + k,
            delay: 50 - k,
        });
    }
    assert_eq!(f.len(), 3);
    assert_eq!(
        f.best(),
        Some(NtpSample {
            offset: 12,
            delay: 48
        })
    );
    assert_eq!(f.jitter(), 1);
}

// Measurements that cannot be right are typed errors.
#[test]
fn impossible_measurements_are_errors() {
    assert!(NtpSample::from_timestamps(100, 0, 50, 90).is_err());
    let backwards = CristianSample {
        request_sent: 10,
        server_time: 0,
        reply_received: 5,
    };
    assert!(backwards.estimate().is_err());
    assert!(Interval::new(5, 4).is_err());
    assert_eq!(marzullo(&[]), None);
    assert_eq!(intersection(&[]), None);
    assert_eq!(berkeley_average(&[], 10), None);
    // Extreme values saturate instead of overflowing.
    let s = NtpSample::from_timestamps(i64::MIN, i64::MAX, i64::MAX, i64::MIN).unwrap();
    assert_eq!(s.offset, i64::MAX);
}
