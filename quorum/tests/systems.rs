//! Every quorum system's claims — overlap, fault tolerance, load, committed value, vote
//! counting — checked against exhaustive enumeration and brute force.

use proptest::prelude::*;
use synod_core::NodeId;
use synod_quorum::analysis::{self, ENUMERATION_LIMIT};
use synod_quorum::{
    Byzantine, Flexible, Grid, Joint, Majority, Overlap, QuorumError, QuorumKind, QuorumSystem,
    VoteResult, Weighted,
};

fn ids(n: usize) -> Vec<NodeId> {
    (1..=n as u64).map(NodeId).collect()
}

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(synod_sim::proptest_cases(256))
}

/// Assert that what enumeration finds matches what the system claims by formula.
fn claims_hold<Q: QuorumSystem + std::fmt::Debug>(system: &Q) {
    let found = analysis::analyze(system).expect("small enough to enumerate");
    assert_eq!(found.overlap, system.overlap(), "overlap of {system:?}");
    for (kind, facts) in [
        (QuorumKind::Read, &found.read),
        (QuorumKind::Write, &found.write),
    ] {
        assert_eq!(
            facts.fault_tolerance,
            system.fault_tolerance(kind),
            "{kind:?} tolerance of {system:?}"
        );
        assert!(
            (facts.load - system.load(kind)).abs() < 1e-9,
            "{kind:?} load of {system:?}: enumerated {} claimed {}",
            facts.load,
            system.load(kind)
        );
    }
}

/// Brute force: the greatest v such that the members holding at least v form a quorum.
fn committed_by_brute_force<Q: QuorumSystem>(
    system: &Q,
    kind: QuorumKind,
    values: &[Option<u64>],
) -> Option<u64> {
    let value = |id: NodeId| values[(id.0 - 1) as usize];
    (0..=10u64)
        .rev()
        .find(|&v| system.is_quorum(kind, |id| value(id).is_some_and(|x| x >= v)))
}

/// Check committed_value and vote_result of `system` on random inputs against brute force.
fn counting_agrees<Q: QuorumSystem>(system: &Q, values: &[Option<u64>], votes: &[Option<bool>]) {
    let value = |id: NodeId| values[(id.0 - 1) as usize];
    let vote = |id: NodeId| votes[(id.0 - 1) as usize];
    for kind in QuorumKind::BOTH {
        assert_eq!(
            system.committed_value(kind, value),
            committed_by_brute_force(system, kind, values)
        );
        let won = system.is_quorum(kind, |id| vote(id) == Some(true));
        let possible = system.is_quorum(kind, |id| vote(id) != Some(false));
        let expected = match (won, possible) {
            (true, _) => VoteResult::Won,
            (false, true) => VoteResult::Pending,
            (false, false) => VoteResult::Lost,
        };
        assert_eq!(system.vote_result(kind, vote), expected);
    }
}

fn inputs(n: usize) -> impl Strategy<Value = (Vec<Option<u64>>, Vec<Option<bool>>)> {
    (
        proptest::collection::vec(proptest::option::of(0..=10u64), n),
        proptest::collection::vec(proptest::option::of(any::<bool>()), n),
    )
}

/// Majorities of 1..=14: overlap 2q − n, tolerance n − q, load q/n, by enumeration.
#[test]
fn majority_claims_hold_for_every_size() {
    for n in 1..=ENUMERATION_LIMIT {
        claims_hold(&Majority::new(ids(n)).unwrap());
    }
}

/// Byzantine systems: the claimed overlap is at least f + 1 (dissemination) or 2f + 1
/// (masking) and enumeration agrees, for every n and f that fit (Malkhi & Reiter §3).
#[test]
fn byzantine_claims_hold_and_reach_the_required_overlap() {
    for n in 1..=ENUMERATION_LIMIT {
        for f in 0..=(n - 1) / 3 {
            let d = Byzantine::dissemination(ids(n), f).unwrap();
            claims_hold(&d);
            assert!(d.overlap().write_write > f, "dissemination n={n} f={f}");
            assert!(
                d.fault_tolerance(QuorumKind::Write) >= f,
                "available with f silent"
            );
            if n > 4 * f {
                let m = Byzantine::masking(ids(n), f).unwrap();
                claims_hold(&m);
                assert!(m.overlap().read_write > 2 * f, "masking n={n} f={f}");
                assert!(m.fault_tolerance(QuorumKind::Read) >= f);
            } else {
                assert!(matches!(
                    Byzantine::masking(ids(n), f),
                    Err(QuorumError::TooFewForByzantine { .. })
                ));
            }
        }
        assert!(matches!(
            Byzantine::dissemination(ids(n), (n - 1) / 3 + 1),
            Err(QuorumError::TooFewForByzantine { .. })
        ));
    }
    let pbft = Byzantine::pbft(ids(7)).unwrap();
    assert_eq!((pbft.faulty(), pbft.size(), pbft.vouch()), (2, 5, 3));
}

/// Grids of every shape up to 14 cells: cover/column formulas agree with enumeration.
#[test]
fn grid_claims_hold_for_every_shape() {
    for rows in 1..=ENUMERATION_LIMIT {
        for cols in 1..=ENUMERATION_LIMIT / rows {
            let cells = ids(rows * cols);
            let grid = Grid::new(cells.chunks(cols).map(<[NodeId]>::to_vec).collect()).unwrap();
            claims_hold(&grid);
        }
    }
    assert_eq!(
        Grid::new(vec![vec![NodeId(1)], vec![]]),
        Err(QuorumError::NotRectangular)
    );
    assert_eq!(Grid::new(vec![]), Err(QuorumError::NotRectangular));
}

/// A deliberately broken system — "majority" of ⌊n/2⌋ — is caught: enumeration finds
/// disjoint quorums, contradicting the overlap such a system would claim.
#[test]
fn enumeration_catches_a_broken_system() {
    #[derive(Debug)]
    struct HalfIsEnough(Vec<NodeId>);
    impl QuorumSystem for HalfIsEnough {
        fn members(&self) -> &[NodeId] {
            &self.0
        }
        fn is_quorum(&self, _: QuorumKind, has: impl Fn(NodeId) -> bool) -> bool {
            self.0.iter().filter(|&&id| has(id)).count() >= self.0.len() / 2
        }
        fn overlap(&self) -> Overlap {
            Overlap {
                read_write: 1,
                write_write: 1,
            }
        }
        fn fault_tolerance(&self, _: QuorumKind) -> usize {
            self.0.len() - self.0.len() / 2
        }
        fn load(&self, _: QuorumKind) -> f64 {
            0.5
        }
    }
    let broken = HalfIsEnough(ids(4));
    let found = analysis::analyze(&broken).unwrap();
    assert_eq!(found.overlap.read_write, 0, "two halves of 4 are disjoint");
    assert_ne!(found.overlap, broken.overlap());
    assert!(std::panic::catch_unwind(|| claims_hold(&broken)).is_err());
}

/// Analysis refuses systems too large to enumerate instead of running for hours.
#[test]
fn analysis_has_a_limit() {
    let big = Majority::new(ids(ENUMERATION_LIMIT + 1)).unwrap();
    assert!(matches!(
        analysis::analyze(&big),
        Err(QuorumError::TooLargeToEnumerate { .. })
    ));
}

/// Construction rejects every system that cannot intersect or has no quorum.
#[test]
fn impossible_systems_are_typed_errors() {
    assert_eq!(Majority::new([]), Err(QuorumError::NoMembers));
    assert_eq!(
        Majority::new([NodeId(1), NodeId(1)]),
        Err(QuorumError::DuplicateMember(NodeId(1)))
    );
    assert_eq!(
        Flexible::new(ids(5), 2, 3),
        Err(QuorumError::ReadWriteDisjoint {
            read: 2,
            write: 3,
            total: 5
        })
    );
    assert_eq!(
        Flexible::new(ids(5), 0, 5),
        Err(QuorumError::SizeOutOfRange { size: 0, total: 5 })
    );
    assert_eq!(
        Flexible::new(ids(5), 6, 5),
        Err(QuorumError::SizeOutOfRange { size: 6, total: 5 })
    );
    let three = || ids(3).into_iter().map(|id| (id, 1));
    assert_eq!(
        Weighted::new(three(), 1, 2),
        Err(QuorumError::ReadWriteDisjoint {
            read: 1,
            write: 2,
            total: 3
        })
    );
    assert_eq!(
        Weighted::new(ids(4).into_iter().map(|id| (id, 1)), 3, 2),
        Err(QuorumError::WriteWriteDisjoint { write: 2, total: 4 })
    );
    assert_eq!(
        Weighted::new([(NodeId(1), 0)], 1, 1),
        Err(QuorumError::InvalidWeight(NodeId(1)))
    );
    assert_eq!(
        Weighted::new([(NodeId(1), u64::MAX), (NodeId(2), 1)], 1, 1),
        Err(QuorumError::InvalidWeight(NodeId(2)))
    );
    assert!(matches!(
        Weighted::new(ids(21).into_iter().map(|id| (id, 1)), 11, 11),
        Err(QuorumError::TooLargeToEnumerate { .. })
    ));
    // Extreme but valid: one member with all the votes.
    let dictator = Weighted::new([(NodeId(1), u64::MAX)], u64::MAX, u64::MAX).unwrap();
    assert!(dictator.is_quorum(QuorumKind::Write, |id| id == NodeId(1)));
}

/// Votes from non-members never count, whatever the closure says about them.
#[test]
fn non_members_never_count() {
    let voters = Majority::new([NodeId(1), NodeId(2), NodeId(3)]).unwrap();
    let only_strangers = |id: NodeId| id.0 > 3;
    assert!(!voters.is_quorum(QuorumKind::Write, only_strangers));
    assert_eq!(
        voters.committed_value(QuorumKind::Write, |id| (id.0 > 3).then_some(9)),
        None
    );
}

proptest! {
    #![proptest_config(config())]

    /// Flexible systems of random shape: claims hold, counting agrees with brute force.
    #[test]
    fn flexible_claims_and_counting((n, r, w) in (1..=10usize).prop_flat_map(|n| (Just(n), 1..=n, 1..=n)),
                                    (values, votes) in inputs(10)) {
        match Flexible::new(ids(n), r, w) {
            Ok(system) => {
                claims_hold(&system);
                counting_agrees(&system, &values, &votes);
            }
            Err(e) => prop_assert_eq!(e, QuorumError::ReadWriteDisjoint { read: r as u64, write: w as u64, total: n as u64 }),
        }
    }

    /// Weighted systems of random weights: claims hold (load by the same enumeration, so
    /// only overlap and tolerance are independent here), counting agrees with brute force.
    #[test]
    fn weighted_claims_and_counting(weights in proptest::collection::vec(1..=4u64, 1..=9),
                                    r_frac in 0.0..1.0f64, w_frac in 0.5..1.0f64,
                                    (values, votes) in inputs(9)) {
        let total: u64 = weights.iter().sum();
        let w = ((total as f64 * w_frac) as u64 + 1).min(total);
        let r = (total - w + 1 + ((w as f64 - 1.0) * r_frac) as u64).min(total);
        let system = Weighted::new(ids(weights.len()).into_iter().zip(weights.iter().copied()), r, w).unwrap();
        let found = analysis::analyze(&system).unwrap();
        prop_assert!(found.overlap.read_write >= 1 && found.overlap.write_write >= 1);
        prop_assert_eq!(found.read.fault_tolerance, system.fault_tolerance(QuorumKind::Read));
        prop_assert_eq!(found.write.fault_tolerance, system.fault_tolerance(QuorumKind::Write));
        counting_agrees(&system, &values, &votes);
    }

    /// Joint majorities of random overlapping configurations: a joint quorum is exactly a
    /// quorum of both; the committed value is the lesser of the two; counting agrees.
    #[test]
    fn joint_majorities(a in proptest::collection::btree_set(1..=8u64, 1..=5),
                        b in proptest::collection::btree_set(1..=8u64, 1..=5),
                        (values, votes) in inputs(8)) {
        let a = Majority::new(a.into_iter().map(NodeId)).unwrap();
        let b = Majority::new(b.into_iter().map(NodeId)).unwrap();
        let joint = Joint::new(a.clone(), b.clone());
        claims_are_bounds(&joint);
        counting_agrees(&joint, &values, &votes);
        let value = |id: NodeId| values[(id.0 - 1) as usize];
        let expected = a.committed_value(QuorumKind::Write, value)
            .zip(b.committed_value(QuorumKind::Write, value))
            .map(|(x, y)| x.min(y));
        prop_assert_eq!(joint.committed_value(QuorumKind::Write, value), expected);
    }

    /// Majority and Byzantine counting (the size-based fast path) agree with brute force.
    #[test]
    fn size_based_counting(n in 1..=10usize, (values, votes) in inputs(10)) {
        counting_agrees(&Majority::new(ids(n)).unwrap(), &values, &votes);
        counting_agrees(&Byzantine::pbft(ids(n)).unwrap(), &values, &votes);
    }
}

/// For joint systems overlap is a lower bound and tolerance exact; load an upper bound.
fn claims_are_bounds<Q: QuorumSystem>(system: &Q) {
    let found = analysis::analyze(system).unwrap();
    assert!(found.overlap.read_write >= system.overlap().read_write);
    assert!(found.overlap.write_write >= system.overlap().write_write);
    for (kind, facts) in [
        (QuorumKind::Read, &found.read),
        (QuorumKind::Write, &found.write),
    ] {
        assert_eq!(facts.fault_tolerance, system.fault_tolerance(kind));
        assert!(facts.load <= system.load(kind) + 1e-9);
    }
}
