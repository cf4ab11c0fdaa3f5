//! Hostile and malformed input to a 2PC node, stepped by hand: never a panic, never
//! a changed outcome, protocol violations reported as events.

mod common;

use common::{deliver as step, violations};
use synod_core::{Action, Actions, Input, Node, NodeId};
use synod_twophase::kv::{KvOp, KvShard};
use synod_twophase::twopc::{
    BeginError, Config, Event, Message, Record, Request, TwoPhaseActions, TwoPhaseNode,
};
use synod_twophase::{Outcome, TxId, Violation, Vote};

const N1: NodeId = NodeId(1);
const N2: NodeId = NodeId(2);
const N3: NodeId = NodeId(3);
const INTRUDER: NodeId = NodeId(66);

type KvNode = TwoPhaseNode<KvShard>;

fn node(id: NodeId) -> KvNode {
    TwoPhaseNode::recover(Config::new(id), KvShard::with_data([(1, 10)]), &[])
}

fn tx() -> TxId {
    TxId {
        coordinator: N1,
        epoch: 1,
        seq: 0,
    }
}

fn prepare(work: Vec<KvOp>) -> Message<Vec<KvOp>> {
    Message::Prepare {
        tx: tx(),
        participants: vec![N2, N3],
        work,
    }
}

#[test]
fn a_vote_from_a_non_participant_is_reported_and_not_counted() {
    // A vote from outside the participant list neither commits nor aborts anything.
    let mut coordinator = node(N1);
    let mut out = Actions::new();
    coordinator.step(
        Input::Request(Request::Begin {
            tag: 0,
            participants: vec![(N2, vec![]), (N3, vec![])],
        }),
        &mut out,
    );
    let out = step(
        &mut coordinator,
        INTRUDER,
        Message::Vote {
            tx: tx(),
            vote: Vote::No,
        },
    );
    assert_eq!(violations(&out), [Violation::VoteFromNonParticipant]);
    assert_eq!(coordinator.coordinating(), 1, "still collecting");
    // Votes for transactions it does not coordinate are ignored.
    let other = TxId { seq: 99, ..tx() };
    assert!(
        step(
            &mut coordinator,
            N2,
            Message::Vote {
                tx: other,
                vote: Vote::Yes
            }
        )
        .is_empty()
    );
}

#[test]
fn decisions_and_acks_for_unknown_transactions_change_nothing() {
    // A COMMIT, ABORT or ACK for a transaction the node never saw is ignored.
    let mut n = node(N2);
    for msg in [
        Message::Decision {
            tx: tx(),
            outcome: Outcome::Commit,
        },
        Message::Decision {
            tx: tx(),
            outcome: Outcome::Abort,
        },
        Message::Ack { tx: tx() },
        Message::Undecided {
            tx: tx(),
            uncertain: true,
        },
    ] {
        assert!(step(&mut n, INTRUDER, msg).is_empty());
    }
    assert_eq!(n.resource().get(1), 10);
    assert_eq!(n.outcome(tx()), None);
}

#[test]
fn a_duplicate_prepare_repeats_the_vote_without_preparing_twice() {
    // The second PREPARE is answered with the same vote and no second log record.
    let mut n = node(N2);
    let work = vec![KvOp::Add {
        key: 1,
        delta: -5,
        min: Some(0),
    }];
    let first = step(&mut n, N1, prepare(work.clone()));
    let prepared = |out: &TwoPhaseActions<KvShard>| {
        out.as_slice()
            .iter()
            .filter(|a| matches!(a, Action::Persist(Record::Prepared { .. })))
            .count()
    };
    assert_eq!(prepared(&first), 1);
    let again = step(&mut n, N1, prepare(work));
    assert_eq!(prepared(&again), 0);
    assert_eq!(
        again.as_slice(),
        [Action::Send {
            to: N1,
            msg: Message::Vote {
                tx: tx(),
                vote: Vote::Yes
            }
        }]
    );
    // The same id with another participant list is a violation.
    let odd = Message::Prepare {
        tx: tx(),
        participants: vec![N2],
        work: vec![],
    };
    assert_eq!(
        violations(&step(&mut n, N1, odd)),
        [Violation::InconsistentPrepare]
    );
}

#[test]
fn a_commit_after_a_no_vote_is_reported_and_not_applied() {
    // A COMMIT for a transaction this participant voted no on is a protocol
    // violation: reported, not applied; the outcome stays abort.
    let mut n = node(N2);
    let overdraft = vec![KvOp::Add {
        key: 1,
        delta: -50,
        min: Some(0),
    }];
    let out = step(&mut n, N1, prepare(overdraft));
    assert!(out.as_slice().contains(&Action::Send {
        to: N1,
        msg: Message::Vote {
            tx: tx(),
            vote: Vote::No
        }
    }));
    let out = step(
        &mut n,
        N1,
        Message::Decision {
            tx: tx(),
            outcome: Outcome::Commit,
        },
    );
    assert_eq!(violations(&out), [Violation::CommitAfterNo]);
    assert_eq!(n.outcome(tx()), Some(Outcome::Abort));
    assert_eq!(n.resource().get(1), 10);
}

#[test]
fn a_decided_outcome_never_changes() {
    // After committing, an ABORT from a peer is reported, and the commit stands.
    let mut n = node(N2);
    step(&mut n, N1, prepare(vec![KvOp::Write { key: 1, value: 3 }]));
    step(
        &mut n,
        N1,
        Message::Decision {
            tx: tx(),
            outcome: Outcome::Commit,
        },
    );
    let out = step(
        &mut n,
        N3,
        Message::Decision {
            tx: tx(),
            outcome: Outcome::Abort,
        },
    );
    assert_eq!(
        violations(&out),
        [Violation::ConflictingDecision {
            known: Outcome::Commit,
            claimed: Outcome::Abort
        }]
    );
    assert_eq!(n.outcome(tx()), Some(Outcome::Commit));
    assert_eq!(n.resource().get(1), 3);
    // A duplicated COMMIT is acknowledged again (the first ack may have been lost).
    let out = step(
        &mut n,
        N1,
        Message::Decision {
            tx: tx(),
            outcome: Outcome::Commit,
        },
    );
    assert_eq!(
        out.as_slice(),
        [Action::Send {
            to: N1,
            msg: Message::Ack { tx: tx() }
        }]
    );
}

#[test]
fn a_prepare_not_from_its_coordinator_or_not_for_us_is_refused() {
    // PREPAREs from a node other than the transaction's coordinator, or whose
    // participant list leaves us out, are reported and not voted on.
    let mut n = node(N2);
    assert_eq!(
        violations(&step(&mut n, INTRUDER, prepare(vec![]))),
        [Violation::MalformedPrepare]
    );
    let not_us = Message::Prepare {
        tx: tx(),
        participants: vec![N3],
        work: vec![],
    };
    assert_eq!(
        violations(&step(&mut n, N1, not_us)),
        [Violation::MalformedPrepare]
    );
    assert_eq!(n.outcome(tx()), None);
}

#[test]
fn invalid_begins_get_typed_errors() {
    // The application's mistakes are answered with `Rejected`, not a panic.
    let mut n = node(N1);
    let mut out = Actions::new();
    let cases = [
        (vec![], BeginError::NoParticipants),
        (
            vec![(N2, vec![]), (N2, vec![])],
            BeginError::DuplicateParticipant(N2),
        ),
        (
            (0..65).map(|i| (NodeId(i), vec![])).collect(),
            BeginError::TooManyParticipants { count: 65, max: 64 },
        ),
    ];
    for (participants, error) in cases {
        out.clear();
        n.step(
            Input::Request(Request::Begin {
                tag: 4,
                participants,
            }),
            &mut out,
        );
        assert_eq!(
            out.as_slice(),
            [Action::Emit(Event::Rejected { tag: 4, error })]
        );
    }
}
