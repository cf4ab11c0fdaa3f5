//! Linearizable reads at the level of one node fed hand-made messages (thesis §6.4,
//! §6.4.1): when a read index is chosen, which acknowledgements confirm it, batching,
//! failure on step-down, follower forwarding, leases, and hostile read messages.

use bytes::Bytes;
use synod_core::{Action, Actions, Input, Node, NodeId, PersistToken, Ticks};
use synod_raft::{
    AppendOutcome, Config, ConfigError, Event, LogIndex, MemStorage, Message, RaftNode, ReadError,
    ReadSeq, Request, Role, Term,
};

type Out = Actions<Message, synod_raft::Record, Event>;

fn deliver(node: &mut RaftNode, out: &mut Out, from: u64, msg: Message) {
    node.step(
        Input::Message {
            from: NodeId(from),
            msg,
        },
        out,
    );
}

fn read(node: &mut RaftNode, out: &mut Out, ctx: &'static str) {
    node.step(
        Input::Request(Request::Read(Bytes::from_static(ctx.as_bytes()))),
        out,
    );
}

fn ready(out: &Out) -> Vec<(String, u64)> {
    out.as_slice()
        .iter()
        .filter_map(|a| match a {
            Action::Emit(Event::ReadReady { ctx, index }) => {
                Some((String::from_utf8_lossy(ctx).into_owned(), index.0))
            }
            _ => None,
        })
        .collect()
}

fn failed(out: &Out) -> Vec<(String, ReadError)> {
    out.as_slice()
        .iter()
        .filter_map(|a| match a {
            Action::Emit(Event::ReadFailed { ctx, error }) => {
                Some((String::from_utf8_lossy(ctx).into_owned(), error.clone()))
            }
            _ => None,
        })
        .collect()
}

/// Rounds sent: `(to, seq)` of every `ReadHeartbeat`.
fn rounds(out: &Out) -> Vec<(u64, u64)> {
    out.as_slice()
        .iter()
        .filter_map(|a| match a {
            Action::Send {
                to,
                msg: Message::ReadHeartbeat { seq, .. },
            } => Some((to.0, seq.0)),
            _ => None,
        })
        .collect()
}

fn ack(node: &mut RaftNode, out: &mut Out, from: u64, term: u64, seq: u64) {
    let msg = Message::ReadHeartbeatResponse {
        term: Term(term),
        seq: ReadSeq(seq),
    };
    deliver(node, out, from, msg);
}

/// Node 1 of {1, 2, 3}, elected leader of term 1 with node 2's votes; its no-op (index
/// 1) is neither durable nor acknowledged yet.
fn new_leader(config: Config) -> (RaftNode, Out) {
    let mut node = RaftNode::new(config, MemStorage::new()).unwrap();
    let mut out = Actions::new();
    while node.role() != Role::PreCandidate {
        node.step(Input::Tick, &mut out);
    }
    for pre_vote in [true, false] {
        let grant = Message::RequestVoteResponse {
            term: Term(1),
            pre_vote,
            granted: true,
        };
        deliver(&mut node, &mut out, 2, grant);
    }
    assert_eq!((node.role(), node.term()), (Role::Leader, Term(1)));
    out.clear();
    (node, out)
}

fn leader_config() -> Config {
    Config::new(NodeId(1), [1, 2, 3].map(NodeId))
}

/// Commit the leader's no-op: its own write is durable and node 2 matches it.
fn commit_noop(node: &mut RaftNode, out: &mut Out) {
    node.step(Input::Persisted(PersistToken(1)), out);
    let matched = Message::AppendEntriesResponse {
        term: Term(1),
        outcome: AppendOutcome::Matched {
            match_index: LogIndex(1),
        },
    };
    deliver(node, out, 2, matched);
    assert_eq!(node.commit_index(), LogIndex(1));
}

// Thesis §6.4 steps 1–4: a read that arrives before the leader committed an entry of
// its term waits for that commit, and even then is served only after a quorum
// acknowledged a round sent after it arrived; its index is the commit index.
#[test]
fn read_index_waits_for_the_current_term_commit_and_a_quorum_round() {
    let (mut node, mut out) = new_leader(leader_config());
    read(&mut node, &mut out, "a");
    assert_eq!(
        rounds(&out),
        [(2, 1), (3, 1)],
        "one round to both followers"
    );
    ack(&mut node, &mut out, 3, 1, 1);
    assert!(
        ready(&out).is_empty(),
        "confirmed, but nothing of term 1 committed"
    );
    commit_noop(&mut node, &mut out);
    assert_eq!(ready(&out), [("a".into(), 1)]);
    out.clear();
    // A read after the commit still needs a fresh round: the old acknowledgement
    // cannot vouch for a read that arrived later.
    read(&mut node, &mut out, "b");
    assert_eq!(rounds(&out), [(2, 2), (3, 2)]);
    assert!(ready(&out).is_empty());
    ack(&mut node, &mut out, 2, 1, 1);
    assert!(
        ready(&out).is_empty(),
        "an ack of round 1 does not confirm round 2"
    );
    ack(&mut node, &mut out, 2, 1, 2);
    assert_eq!(ready(&out), [("b".into(), 1)]);
}

// Batching: reads arriving while a round is in flight share the next round, so a
// hundred reads cost two rounds, not a hundred.
#[test]
fn concurrent_reads_share_rounds() {
    let (mut node, mut out) = new_leader(leader_config());
    commit_noop(&mut node, &mut out);
    out.clear();
    read(&mut node, &mut out, "first");
    for _ in 0..99 {
        read(&mut node, &mut out, "later");
    }
    assert_eq!(rounds(&out).len(), 2, "one round in flight");
    ack(&mut node, &mut out, 3, 1, 1);
    assert_eq!(ready(&out).len(), 1, "round 1 confirms only the first read");
    assert_eq!(rounds(&out).len(), 4, "round 2 starts for the other 99");
    ack(&mut node, &mut out, 2, 1, 2);
    assert_eq!(ready(&out).len(), 100);
}

// A leader that steps down fails its pending reads with a typed error, and a late
// acknowledgement never turns them into answers (thesis §6.4: a deposed leader's
// commit index may be stale).
#[test]
fn a_deposed_leader_fails_its_reads_and_never_answers_them() {
    let (mut node, mut out) = new_leader(leader_config());
    commit_noop(&mut node, &mut out);
    read(&mut node, &mut out, "r");
    // Node 3 answers the round from a newer term: node 1 steps down.
    ack(&mut node, &mut out, 3, 2, 1);
    assert_eq!(node.role(), Role::Follower);
    assert_eq!(failed(&out), [("r".into(), ReadError::LeaderChanged)]);
    out.clear();
    ack(&mut node, &mut out, 2, 2, 1);
    ack(&mut node, &mut out, 2, 1, 1);
    assert!(ready(&out).is_empty());
}

// A leader whose round is never acknowledged (cut off) times out the read after two
// election timeouts instead of holding it forever; lost rounds are resent on
// heartbeats meanwhile.
#[test]
fn unconfirmed_reads_are_retried_then_time_out() {
    let mut config = leader_config();
    config.check_quorum = false; // stay leader while cut off
    let (mut node, mut out) = new_leader(config);
    commit_noop(&mut node, &mut out);
    read(&mut node, &mut out, "r");
    for _ in 0..19 {
        node.step(Input::Tick, &mut out);
    }
    assert!(failed(&out).is_empty());
    assert!(rounds(&out).len() > 2, "rounds are resent on heartbeats");
    node.step(Input::Tick, &mut out);
    assert_eq!(failed(&out), [("r".into(), ReadError::TimedOut)]);
}

/// Node 2 of {1, 2, 3}, a follower of leader 1 in term 1 that holds and has applied
/// the no-op at index 1 (`commit` = 1) or only holds it (`commit` = 0).
fn follower(commit: u64) -> (RaftNode, Out) {
    let mut node = RaftNode::new(
        Config::new(NodeId(2), [1, 2, 3].map(NodeId)),
        MemStorage::new(),
    )
    .unwrap();
    let mut out = Actions::new();
    let append = Message::AppendEntries {
        term: Term(1),
        prev_log_index: LogIndex(0),
        prev_log_term: Term(0),
        entries: vec![synod_raft::Entry {
            index: LogIndex(1),
            term: Term(1),
            kind: synod_raft::EntryKind::Noop,
            data: Bytes::new(),
        }],
        leader_commit: LogIndex(commit),
    };
    deliver(&mut node, &mut out, 1, append);
    assert_eq!(node.leader(), Some(NodeId(1)));
    out.clear();
    (node, out)
}

// Follower reads (thesis §6.4): the follower forwards the read to its leader and
// serves it only once it has applied through the leader's read index. Answers from
// another node, from another term, or repeated, are ignored.
#[test]
fn follower_forwards_and_waits_for_its_own_apply() {
    let (mut node, mut out) = follower(0);
    read(&mut node, &mut out, "f");
    let forwarded: Vec<_> = out
        .as_slice()
        .iter()
        .filter_map(|a| match a {
            Action::Send {
                to,
                msg: Message::ReadIndexRequest { ctx, .. },
            } => Some((to.0, ctx.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(forwarded, [(1, Bytes::from_static(b"f"))]);
    let answer = |term, index| Message::ReadIndexResponse {
        term: Term(term),
        ctx: Bytes::from_static(b"f"),
        index: LogIndex(index),
    };
    deliver(&mut node, &mut out, 3, answer(1, 0)); // a stranger, not the leader
    deliver(&mut node, &mut out, 1, answer(0, 0)); // a stale term
    assert!(ready(&out).is_empty());
    deliver(&mut node, &mut out, 1, answer(1, 1));
    assert!(ready(&out).is_empty(), "index 1 not applied here yet");
    let heartbeat = Message::AppendEntries {
        term: Term(1),
        prev_log_index: LogIndex(1),
        prev_log_term: Term(1),
        entries: Vec::new(),
        leader_commit: LogIndex(1),
    };
    deliver(&mut node, &mut out, 1, heartbeat);
    assert_eq!(ready(&out), [("f".into(), 1)]);
    out.clear();
    deliver(&mut node, &mut out, 1, answer(1, 1)); // duplicated answer
    assert!(ready(&out).is_empty());
}

// The leader side of follower reads: a forwarded read is confirmed like a local one
// and answered to the follower with the read index.
#[test]
fn leader_answers_forwarded_reads_after_a_round() {
    let (mut node, mut out) = new_leader(leader_config());
    commit_noop(&mut node, &mut out);
    let request = Message::ReadIndexRequest {
        term: Term(1),
        ctx: Bytes::from_static(b"f"),
    };
    deliver(&mut node, &mut out, 3, request);
    let answers = |out: &Out| {
        out.as_slice()
            .iter()
            .filter(|a| {
                matches!(
                    a,
                    Action::Send {
                        to: NodeId(3),
                        msg: Message::ReadIndexResponse {
                            index: LogIndex(1),
                            ..
                        }
                    }
                )
            })
            .count()
    };
    assert_eq!(answers(&out), 0);
    ack(&mut node, &mut out, 2, 1, 1);
    assert_eq!(answers(&out), 1);
    assert!(ready(&out).is_empty(), "not a local read");
}

// A candidate, or a follower that knows no leader, refuses with NotLeader.
#[test]
fn reads_without_a_leader_are_refused() {
    let mut node = RaftNode::new(
        Config::new(NodeId(2), [1, 2, 3].map(NodeId)),
        MemStorage::new(),
    )
    .unwrap();
    let mut out = Actions::new();
    read(&mut node, &mut out, "x");
    assert_eq!(
        failed(&out),
        [("x".into(), ReadError::NotLeader { leader: None })]
    );
}

// Thesis §6.4.1: lease reads need check-quorum, and a margin below the election
// timeout; both are typed configuration errors.
#[test]
fn lease_configuration_is_validated() {
    let mut config = leader_config();
    config.lease_read = true;
    config.check_quorum = false;
    assert_eq!(
        RaftNode::new(config.clone(), MemStorage::new()).unwrap_err(),
        ConfigError::LeaseWithoutCheckQuorum
    );
    config.check_quorum = true;
    config.lease_drift_ticks = Ticks(10);
    assert!(matches!(
        RaftNode::new(config, MemStorage::new()),
        Err(ConfigError::LeaseDriftNotBelowElection { .. })
    ));
}

// Thesis §6.4.1: with a lease, a read is served at once while less than an election
// timeout minus the drift margin has passed since a quorum-acknowledged round was
// sent; after that it needs a round again.
#[test]
fn lease_reads_skip_the_round_only_while_the_lease_holds() {
    let mut config = leader_config();
    config.lease_read = true;
    config.lease_drift_ticks = Ticks(3);
    let (mut node, mut out) = new_leader(config);
    commit_noop(&mut node, &mut out);
    read(&mut node, &mut out, "a");
    ack(&mut node, &mut out, 2, 1, 1); // round 1, sent at tick 0 of the leadership
    assert_eq!(ready(&out), [("a".into(), 1)]);
    out.clear();
    read(&mut node, &mut out, "b");
    assert_eq!(ready(&out), [("b".into(), 1)], "served in the lease");
    assert!(rounds(&out).is_empty());
    // Keep ticking without acknowledgements: heartbeats carry rounds, nobody answers.
    let mut served_until = 0;
    for t in 1..=10 {
        node.step(Input::Tick, &mut out);
        out.clear();
        read(&mut node, &mut out, "c");
        if ready(&out).iter().any(|(c, _)| c == "c") {
            served_until = t;
        }
    }
    // The round was sent when the leader's tick count was `t0`; the lease holds while
    // now + 3 < t0 + 10, so exactly 6 more ticks are served without a round.
    assert!(
        (5..=7).contains(&served_until),
        "lease served until tick {served_until}"
    );
}

// Bad input (thesis §6.4): acknowledgements of a round never sent ("from the future"),
// from a node outside the cluster, from an older term, or repeated, confirm nothing.
#[test]
fn bogus_acknowledgements_confirm_nothing() {
    let (mut node, mut out) = new_leader(leader_config());
    commit_noop(&mut node, &mut out);
    read(&mut node, &mut out, "r"); // round 1 in flight
    ack(&mut node, &mut out, 2, 1, 7); // round 7 was never sent
    ack(&mut node, &mut out, 2, 1, u64::MAX);
    ack(&mut node, &mut out, 9, 1, 1); // a stranger
    ack(&mut node, &mut out, 2, 0, 1); // a stale term
    assert!(ready(&out).is_empty());
    assert_eq!(node.role(), Role::Leader);
    ack(&mut node, &mut out, 3, 1, 1);
    assert_eq!(ready(&out), [("r".into(), 1)]);
    out.clear();
    ack(&mut node, &mut out, 3, 1, 1); // duplicated
    ack(&mut node, &mut out, 2, 1, 1);
    assert!(ready(&out).is_empty(), "each read is answered once");
}

// Thesis §3.10 with §6.4.1: once the leader has sent TimeoutNow, voters may grant the
// target's flagged vote inside their leader lease, so a new leader can commit writes
// while this one's lease still looks valid. A lease read then could be stale: after
// TimeoutNow the leader confirms every read with a round — for the rest of its term,
// since a delayed or duplicated TimeoutNow can still start the target's campaign
// after the transfer aborted.
#[test]
fn no_lease_reads_once_timeout_now_was_sent() {
    let mut config = leader_config();
    config.lease_read = true;
    let (mut node, mut out) = new_leader(config);
    commit_noop(&mut node, &mut out);
    read(&mut node, &mut out, "a");
    ack(&mut node, &mut out, 2, 1, 1);
    out.clear();
    read(&mut node, &mut out, "b");
    assert_eq!(ready(&out), [("b".into(), 1)], "the lease holds");
    out.clear();
    // Node 2 holds the whole log: the leader tells it to campaign at once.
    node.step(
        Input::Request(Request::TransferLeadership(NodeId(2))),
        &mut out,
    );
    assert!(
        out.as_slice().iter().any(|a| matches!(
            a,
            Action::Send {
                to: NodeId(2),
                msg: Message::TimeoutNow { .. }
            }
        )),
        "TimeoutNow sent"
    );
    out.clear();
    read(&mut node, &mut out, "c");
    assert!(ready(&out).is_empty(), "a lease read during the transfer");
    // Node 3 keeps acknowledging every round until the transfer aborts; the lease
    // must not come back in this term.
    for _ in 0..12 {
        node.step(Input::Tick, &mut out);
        for (to, seq) in rounds(&out) {
            if to == 3 {
                ack(&mut node, &mut out, 3, 1, seq);
            }
        }
        out.clear();
    }
    assert_eq!(node.role(), Role::Leader);
    read(&mut node, &mut out, "d");
    assert!(
        ready(&out).is_empty(),
        "a lease read after the aborted transfer"
    );
    let round = rounds(&out);
    assert!(!round.is_empty(), "the read starts a round");
    out.clear();
    ack(&mut node, &mut out, 3, 1, round[0].1);
    assert_eq!(ready(&out), [("d".into(), 1)], "served after the round");
}

// Thesis §4.3 with §6.4: while C_old,new is in force a read round is confirmed only by
// a majority of each half — here {1, 2, 3} → {1, 4, 5}: node 2's acknowledgement makes
// a majority of C_old but not of C_new, node 4's completes it.
#[test]
fn read_rounds_need_both_majorities_while_joint() {
    use synod_raft::MembershipChange;
    let (mut node, mut out) = new_leader(leader_config());
    commit_noop(&mut node, &mut out);
    let changes = vec![
        MembershipChange::AddVoter(NodeId(4)),
        MembershipChange::AddVoter(NodeId(5)),
        MembershipChange::Remove(NodeId(2)),
        MembershipChange::Remove(NodeId(3)),
    ];
    node.step(Input::Request(Request::ChangeMembership(changes)), &mut out);
    assert!(node.membership().is_joint());
    out.clear();
    read(&mut node, &mut out, "j");
    let round = rounds(&out);
    assert!(
        round.iter().any(|&(to, _)| to == 4),
        "the round reaches C_new"
    );
    let seq = round[0].1;
    ack(&mut node, &mut out, 2, 1, seq);
    ack(&mut node, &mut out, 3, 1, seq);
    assert!(ready(&out).is_empty(), "confirmed by C_old alone");
    ack(&mut node, &mut out, 4, 1, seq);
    assert_eq!(ready(&out), [("j".into(), 1)]);
}

/// Every `RequestVoteResponse` (real votes) `out` sends: `(to, term, granted)`.
fn votes_sent(out: &Out) -> Vec<(u64, u64, bool)> {
    out.as_slice()
        .iter()
        .filter_map(|a| match a {
            Action::Send {
                to,
                msg:
                    Message::RequestVoteResponse {
                        term,
                        pre_vote: false,
                        granted,
                    },
            } => Some((to.0, term.0, *granted)),
            _ => None,
        })
        .collect()
}

// Thesis §6.4.1 with §4.2.3: a voter that acknowledged the leader's round must not
// help elect another leader for an election timeout, or the leader's lease reads go
// stale. A stale answer carrying a higher term (here a late pre-vote denial) moves
// the voter to that term and makes it forget its leader — it must still refuse
// unflagged votes in that term and the next until the timeout has passed.
#[test]
fn a_term_bump_does_not_end_the_voters_leader_lease() {
    let mut config = Config::new(NodeId(2), [1, 2, 3].map(NodeId));
    config.lease_read = true;
    let mut node = RaftNode::new(config, MemStorage::new()).unwrap();
    let mut out = Actions::new();
    // Past the restart quiet period: the node starts a pre-vote (asking node 3 too).
    while node.role() != Role::PreCandidate {
        node.step(Input::Tick, &mut out);
    }
    // Leader 1 of term 1 appears; the node acknowledges its round.
    let append = Message::AppendEntries {
        term: Term(1),
        prev_log_index: LogIndex(0),
        prev_log_term: Term(0),
        entries: vec![synod_raft::Entry {
            index: LogIndex(1),
            term: Term(1),
            kind: synod_raft::EntryKind::Noop,
            data: Bytes::new(),
        }],
        leader_commit: LogIndex(1),
    };
    deliver(&mut node, &mut out, 1, append);
    let round = Message::ReadHeartbeat {
        term: Term(1),
        seq: ReadSeq(1),
    };
    deliver(&mut node, &mut out, 1, round);
    assert_eq!(node.leader(), Some(NodeId(1)));
    // Node 3 (cut off from the leader, campaigning without pre-vote) answers the old
    // pre-vote late, with its term 5.
    let late = Message::RequestVoteResponse {
        term: Term(5),
        pre_vote: true,
        granted: false,
    };
    deliver(&mut node, &mut out, 3, late);
    assert_eq!(node.term(), Term(5));
    out.clear();
    for term in [5, 6] {
        let ask = Message::RequestVote {
            term: Term(term),
            pre_vote: false,
            transfer: false,
            last_log_index: LogIndex(1),
            last_log_term: Term(1),
        };
        deliver(&mut node, &mut out, 3, ask);
    }
    assert!(
        votes_sent(&out).iter().all(|(_, _, granted)| !granted),
        "a vote inside leader 1's lease: {:?}",
        votes_sent(&out)
    );
    assert_eq!(node.voted_for(), None);
    // Once an election timeout has passed without the leader, the vote is free.
    for _ in 0..10 {
        node.step(Input::Tick, &mut out);
    }
    out.clear();
    let ask = Message::RequestVote {
        term: Term(9),
        pre_vote: false,
        transfer: false,
        last_log_index: LogIndex(1),
        last_log_term: Term(1),
    };
    deliver(&mut node, &mut out, 3, ask);
    assert_eq!(votes_sent(&out), [(3, 9, true)]);
}
