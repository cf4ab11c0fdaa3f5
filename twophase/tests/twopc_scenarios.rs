//! 2PC scenarios on the simulator with fixed 10-unit links: blocking, cooperative
//! termination, and recovery of participants and coordinators.

mod common;

use common::add_atomicity_invariant;
use synod_core::NodeId;
use synod_sim::{Fault, LinkConfig, Sim, SimConfig};
use synod_twophase::kv::{KvOp, KvRedo, KvShard};
use synod_twophase::twopc::{Config, Record, TwoPhaseNode};
use synod_twophase::{Event, Outcome, Request, TxId};

const N1: NodeId = NodeId(1);
const N2: NodeId = NodeId(2);
const N3: NodeId = NodeId(3);

type Trio = Sim<TwoPhaseNode<KvShard>>;

/// Three nodes on reliable 10-unit links; n1 will coordinate a write on n2 and n3.
fn trio() -> Trio {
    let mut config = SimConfig::new(1);
    config.network = LinkConfig::reliable(10);
    let mut sim = Sim::new(config, [N1, N2, N3], |id, log: &Vec<Record<KvRedo>>| {
        TwoPhaseNode::recover(Config::new(id), KvShard::new(), log)
    })
    .unwrap();
    add_atomicity_invariant(&mut sim);
    sim
}

fn begin_write(sim: &mut Trio) -> TxId {
    let write = |key| vec![KvOp::Write { key, value: 1 }];
    sim.request(
        N1,
        Request::Begin {
            tag: 9,
            participants: vec![(N2, write(2)), (N3, write(3))],
        },
    )
    .unwrap();
    sim.events()
        .iter()
        .find_map(|(_, _, e)| match e {
            Event::Begun { tx, .. } => Some(*tx),
            _ => None,
        })
        .unwrap()
}

fn applied(sim: &Trio, node: NodeId, tx: TxId) -> Option<Outcome> {
    sim.events().iter().find_map(|(_, n, e)| match e {
        Event::Applied { tx: t, outcome } if *n == node && *t == tx => Some(*outcome),
        _ => None,
    })
}

fn blocked(sim: &Trio, node: NodeId) -> bool {
    sim.events()
        .iter()
        .any(|(_, n, e)| *n == node && matches!(e, Event::Blocked { .. }))
}

#[test]
fn two_pc_blocks_when_the_coordinator_crashes_after_yes_votes() {
    // The blocking case of 2PC: both participants voted yes and the coordinator
    // crashed before their votes arrived; neither can decide, both say so with
    // `Blocked`, and they stay uncertain however long we wait. On restart the
    // coordinator has no decision record, so presumed abort resolves it as abort.
    let mut sim = trio();
    let tx = begin_write(&mut sim);
    sim.schedule(15, Fault::Crash(N1)).unwrap();
    sim.run_for(50_000).unwrap();
    for n in [N2, N3] {
        assert!(
            sim.node(n).unwrap().in_doubt().any(|t| t == tx),
            "{n} not in doubt"
        );
        assert!(blocked(&sim, n), "{n} did not report blocking");
        assert_eq!(applied(&sim, n, tx), None);
    }
    // A blocked participant holds its locks: a new writer of key 2 votes no.
    sim.request(
        N2,
        Request::Begin {
            tag: 1,
            participants: vec![(N2, vec![KvOp::Write { key: 2, value: 7 }])],
        },
    )
    .unwrap();
    let (_, _, last) = sim.events().last().unwrap();
    assert!(
        matches!(
            last,
            Event::Decided {
                outcome: Outcome::Abort,
                ..
            }
        ),
        "{last:?}"
    );
    sim.apply(Fault::Restart(N1)).unwrap();
    sim.run_for(5_000).unwrap();
    for n in [N2, N3] {
        assert_eq!(applied(&sim, n, tx), Some(Outcome::Abort));
    }
}

#[test]
fn an_uncertain_participant_learns_the_commit_from_a_peer() {
    // Cooperative termination, the "a peer decided" case: n3 never receives COMMIT
    // and the coordinator is down, but n2 committed and tells n3.
    let mut sim = trio();
    let tx = begin_write(&mut sim);
    sim.schedule(12, Fault::BlockLink { from: N1, to: N3 })
        .unwrap();
    sim.schedule(25, Fault::Crash(N1)).unwrap();
    sim.run_for(20_000).unwrap();
    assert!(!sim.is_up(N1));
    assert_eq!(applied(&sim, N2, tx), Some(Outcome::Commit));
    assert_eq!(applied(&sim, N3, tx), Some(Outcome::Commit));
    assert_eq!(sim.node(N3).unwrap().resource().get(3), 1);
}

#[test]
fn a_participant_that_has_not_voted_refuses_and_the_transaction_aborts() {
    // Cooperative termination, the "a peer has not voted" case: n3 never received
    // PREPARE; asked by the uncertain n2 while the coordinator is down, it refuses
    // (durably) and answers abort. A later PREPARE for it gets a no.
    let mut sim = trio();
    sim.apply(Fault::BlockLink { from: N1, to: N3 }).unwrap();
    let tx = begin_write(&mut sim);
    sim.schedule(25, Fault::Crash(N1)).unwrap();
    sim.run_for(20_000).unwrap();
    assert_eq!(applied(&sim, N2, tx), Some(Outcome::Abort));
    assert_eq!(sim.node(N3).unwrap().outcome(tx), Some(Outcome::Abort));
    // The refusal survives a crash of n3.
    sim.apply(Fault::Crash(N3)).unwrap();
    sim.apply(Fault::Restart(N3)).unwrap();
    assert_eq!(sim.node(N3).unwrap().outcome(tx), Some(Outcome::Abort));
}

#[test]
fn a_restarted_participant_recovers_its_prepared_transaction_and_commits() {
    // Recovery of a participant: n3 crashes right after voting yes and misses the
    // COMMIT; restarted from its log it re-locks the transaction, asks, and commits.
    let mut sim = trio();
    let tx = begin_write(&mut sim);
    sim.schedule(15, Fault::Crash(N3)).unwrap();
    sim.run_for(2_000).unwrap();
    assert_eq!(applied(&sim, N2, tx), Some(Outcome::Commit));
    assert_eq!(
        sim.node(N1).unwrap().coordinating(),
        1,
        "n3 has not acknowledged"
    );
    sim.apply(Fault::Restart(N3)).unwrap();
    assert!(sim.node(N3).unwrap().in_doubt().any(|t| t == tx));
    sim.run_for(5_000).unwrap();
    assert_eq!(applied(&sim, N3, tx), Some(Outcome::Commit));
    assert_eq!(sim.node(N3).unwrap().resource().get(3), 1);
    assert_eq!(
        sim.node(N1).unwrap().coordinating(),
        0,
        "acknowledged and forgotten"
    );
}

#[test]
fn a_restarted_coordinator_resends_its_logged_commit() {
    // Recovery of a coordinator: its COMMITs are lost and it crashes right after
    // forcing the decision; both participants are blocked until it restarts, replays
    // the decision and re-sends it. Nothing is decided twice differently (the
    // atomicity invariant runs after every step).
    let mut sim = trio();
    let tx = begin_write(&mut sim);
    sim.schedule(19, Fault::BlockLink { from: N1, to: N2 })
        .unwrap();
    sim.schedule(19, Fault::BlockLink { from: N1, to: N3 })
        .unwrap();
    sim.schedule(25, Fault::Crash(N1)).unwrap();
    sim.schedule(30, Fault::Heal).unwrap();
    sim.run_for(10_000).unwrap();
    assert!(blocked(&sim, N2) && blocked(&sim, N3));
    sim.apply(Fault::Restart(N1)).unwrap();
    assert_eq!(sim.node(N1).unwrap().coordinating(), 1);
    sim.run_for(5_000).unwrap();
    for n in [N2, N3] {
        assert_eq!(applied(&sim, n, tx), Some(Outcome::Commit));
    }
    assert_eq!(sim.node(N1).unwrap().coordinating(), 0);
}

#[test]
fn read_only_participants_skip_phase_two() {
    // Presumed abort's read-only optimization: a participant that only reads votes
    // read-only and gets no COMMIT; an all-read-only transaction commits with no log
    // write at the coordinator at all.
    let mut sim = trio();
    sim.request(
        N1,
        Request::Begin {
            tag: 1,
            participants: vec![
                (N2, vec![KvOp::Read { key: 5 }]),
                (N3, vec![KvOp::Write { key: 3, value: 4 }]),
            ],
        },
    )
    .unwrap();
    sim.run_for(2_000).unwrap();
    let persists_before = sim.stats().persists;
    let to_n2 = sim.stats().messages_sent;
    assert!(sim.events().iter().any(|(_, _, e)| matches!(
        e,
        Event::Decided {
            outcome: Outcome::Commit,
            ..
        }
    )));
    assert!(
        !sim.events()
            .iter()
            .any(|(_, n, e)| *n == N2 && matches!(e, Event::Applied { .. }))
    );
    // Prepare ×2, vote ×2, commit ×1, ack ×1.
    assert_eq!(to_n2, 6);
    sim.request(
        N1,
        Request::Begin {
            tag: 2,
            participants: vec![
                (N2, vec![KvOp::Read { key: 5 }]),
                (N3, vec![KvOp::Read { key: 3 }]),
            ],
        },
    )
    .unwrap();
    sim.run_for(2_000).unwrap();
    let commits = sim
        .events()
        .iter()
        .filter(|(_, _, e)| {
            matches!(
                e,
                Event::Decided {
                    outcome: Outcome::Commit,
                    ..
                }
            )
        })
        .count();
    assert_eq!(commits, 2);
    assert_eq!(
        sim.stats().persists,
        persists_before,
        "read-only commit wrote nothing"
    );
}
