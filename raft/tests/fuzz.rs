//! Hostile input: arbitrary message sequences from peers and from unknown nodes,
//! stale and far-future terms, indices near `u64::MAX`, never panic a node or break
//! its log's basic shape.

use bytes::Bytes;
use proptest::prelude::*;
use synod_core::{Actions, Input, Node, NodeId, PersistToken};
use synod_raft::{
    AppendOutcome, Config, ConflictHint, Entry, EntryKind, LogIndex, LogStorage, MemStorage,
    Membership, MembershipChange, Message, RaftNode, ReadSeq, Request, SnapshotMeta, Term,
};

fn index() -> impl Strategy<Value = LogIndex> {
    prop_oneof![0u64..8, Just(u64::MAX), Just(u64::MAX - 1)].prop_map(LogIndex)
}
fn term() -> impl Strategy<Value = Term> {
    prop_oneof![0u64..5, Just(u64::MAX)].prop_map(Term)
}
/// Byte offsets of snapshot chunks: small, and near `u64::MAX`.
fn offset() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..12, Just(u64::MAX), Just(u64::MAX - 2)]
}

/// Read rounds and forwarded reads (thesis §6.4): sequence numbers from the past, the
/// present and the far future, contexts that match pending reads or not.
fn read_message() -> impl Strategy<Value = Message> {
    let seq = prop_oneof![0u64..4, Just(u64::MAX)].prop_map(ReadSeq);
    let ctx = prop_oneof![Just(&b"r"[..]), Just(&b"s"[..])].prop_map(Bytes::from_static);
    prop_oneof![
        (term(), seq.clone()).prop_map(|(term, seq)| Message::ReadHeartbeat { term, seq }),
        (term(), seq).prop_map(|(term, seq)| Message::ReadHeartbeatResponse { term, seq }),
        (term(), ctx.clone()).prop_map(|(term, ctx)| Message::ReadIndexRequest { term, ctx }),
        (term(), ctx, index()).prop_map(|(term, ctx, index)| Message::ReadIndexResponse {
            term,
            ctx,
            index
        }),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    // Membership entries carry a well-formed configuration (joint or not, with
    // learners, with or without this node) or bytes that do not decode.
    let config = prop_oneof![
        Just(Membership::new([1, 2, 3].map(NodeId)).encode()),
        Just(
            Membership::new([1, 2, 3].map(NodeId))
                .apply_changes(&[MembershipChange::AddVoter(NodeId(4))])
                .unwrap()
                .encode()
        ),
        Just(
            Membership::new([2, 3, 4].map(NodeId))
                .apply_changes(&[MembershipChange::AddLearner(NodeId(1))])
                .unwrap()
                .encode()
        ),
        Just(Membership::new([NodeId(1)]).encode()),
        Just(Bytes::from_static(b"x")),
        Just(Bytes::from_static(&[1, 0, 0, 0, 0])),
    ];
    let entry = (index(), term(), 0u8..3, config).prop_map(|(index, term, kind, config)| {
        let (kind, data) = match kind {
            0 => (EntryKind::Noop, Bytes::from_static(b"x")),
            1 => (EntryKind::Command, Bytes::from_static(b"x")),
            _ => (EntryKind::Membership, config),
        };
        Entry {
            index,
            term,
            kind,
            data,
        }
    });
    let hint = (proptest::option::of(term()), index())
        .prop_map(|(term, index)| ConflictHint { term, index });
    prop_oneof![
        (term(), any::<bool>(), index(), term(), any::<bool>()).prop_map(
            |(term, pre_vote, last_log_index, last_log_term, transfer)| {
                Message::RequestVote {
                    term,
                    pre_vote,
                    last_log_index,
                    last_log_term,
                    transfer,
                }
            }
        ),
        term().prop_map(|term| Message::TimeoutNow { term }),
        (term(), any::<bool>(), any::<bool>()).prop_map(|(term, pre_vote, granted)| {
            Message::RequestVoteResponse {
                term,
                pre_vote,
                granted,
            }
        }),
        (
            term(),
            index(),
            term(),
            prop::collection::vec(entry, 0..4),
            index()
        )
            .prop_map(
                |(term, prev_log_index, prev_log_term, entries, leader_commit)| {
                    Message::AppendEntries {
                        term,
                        prev_log_index,
                        prev_log_term,
                        entries,
                        leader_commit,
                    }
                }
            ),
        (term(), index()).prop_map(|(term, match_index)| Message::AppendEntriesResponse {
            term,
            outcome: AppendOutcome::Matched { match_index }
        }),
        (
            term(),
            index(),
            term(),
            prop::sample::select(vec![vec![], vec![1u64, 2, 3], vec![1, 4]]),
            offset(),
            prop::collection::vec(any::<u8>(), 0..6),
            any::<bool>(),
        )
            .prop_map(|(term, index, last_term, voters, offset, data, done)| {
                Message::InstallSnapshot {
                    term,
                    meta: SnapshotMeta {
                        index,
                        term: last_term,
                        membership: Membership::new(voters.into_iter().map(NodeId)),
                    },
                    offset,
                    data: Bytes::from(data),
                    done,
                }
            }),
        (term(), index(), offset(), any::<bool>()).prop_map(
            |(term, snapshot_index, next_offset, out_of_order)| Message::InstallSnapshotResponse {
                term,
                snapshot_index,
                next_offset,
                out_of_order,
            }
        ),
        (term(), index(), offset()).prop_map(|(term, snapshot_index, max_snapshot_bytes)| {
            Message::InstallSnapshotRefused {
                term,
                snapshot_index,
                max_snapshot_bytes,
            }
        }),
        (term(), index(), hint).prop_map(|(term, rejected_prev, hint)| {
            Message::AppendEntriesResponse {
                term,
                outcome: AppendOutcome::Conflict {
                    rejected_prev,
                    hint,
                },
            }
        }),
    ]
}

#[derive(Debug, Clone)]
enum Step {
    Tick,
    Deliver(u64, Message),
    Propose,
    Read,
    Persisted(u64),
    Snapshot(LogIndex),
    Transfer(u64),
    Change(MembershipChange),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => Just(Step::Tick),
        6 => ((1u64..=4), message()).prop_map(|(from, m)| Step::Deliver(from, m)),
        3 => ((1u64..=4), read_message()).prop_map(|(from, m)| Step::Deliver(from, m)),
        1 => Just(Step::Propose),
        1 => Just(Step::Read),
        1 => (0u64..10).prop_map(Step::Persisted),
        1 => index().prop_map(Step::Snapshot),
        1 => (1u64..=4).prop_map(Step::Transfer),
        1 => (0u8..4, 1u64..=5).prop_map(|(kind, id)| Step::Change(match kind {
            0 => MembershipChange::AddVoter(NodeId(id)),
            1 => MembershipChange::AddLearner(NodeId(id)),
            2 => MembershipChange::Promote(NodeId(id)),
            _ => MembershipChange::Remove(NodeId(id)),
        })),
    ]
}

// Any sequence of ticks, proposals, reads, membership changes, snapshot requests at any index,
// acknowledgements and messages — read rounds, forwarded reads and snapshot chunks at
// arbitrary offsets and indices near `u64::MAX` included, configuration entries that
// decode or not — (from members and from the
// unknown node 4) leaves the node without a panic, answers reads only at applied indices, with a gap-free log,
// a commit index within its log, and terms that never decrease along the log.
#[test]
fn arbitrary_message_sequences_never_panic() {
    let runner_cases = synod_sim::proptest_cases(256);
    synod_sim::sim_runner(runner_cases)
        .run(&prop::collection::vec(step(), 0..200), |steps| {
            let mut config = Config::new(NodeId(1), [1, 2, 3].map(NodeId));
            config.election_ticks = synod_core::Ticks(3);
            config.heartbeat_ticks = synod_core::Ticks(1);
            let mut node = RaftNode::new(config, MemStorage::new()).unwrap();
            let mut out = Actions::new();
            for s in steps {
                let input = match s {
                    Step::Tick => Input::Tick,
                    Step::Deliver(from, msg) => Input::Message {
                        from: NodeId(from),
                        msg,
                    },
                    Step::Propose => Input::Request(Request::Propose(Bytes::from_static(b"p"))),
                    Step::Read => Input::Request(Request::Read(Bytes::from_static(b"r"))),
                    Step::Persisted(t) => Input::Persisted(PersistToken(t)),
                    Step::Transfer(to) => Input::Request(Request::TransferLeadership(NodeId(to))),
                    Step::Change(c) => Input::Request(Request::ChangeMembership(vec![c])),
                    Step::Snapshot(index) => Input::Request(Request::Snapshot {
                        index,
                        data: Bytes::from_static(b"state"),
                    }),
                };
                node.step(input, &mut out);
                // A read is only ever answered at an index this node has applied.
                for action in out.drain() {
                    if let synod_core::Action::Emit(synod_raft::Event::ReadReady {
                        index, ..
                    }) = action
                    {
                        prop_assert!(index <= node.applied_index());
                    }
                }
                let storage = node.storage();
                // The configuration in force is always a usable one.
                prop_assert!(!node.membership().voters.is_empty());
                prop_assert!(node.commit_index() <= storage.last_index());
                prop_assert!(node.applied_index() <= node.commit_index());
                // A snapshot covers applied entries only.
                prop_assert!(node.snapshot_index() <= node.applied_index());
                let first = storage.first_index();
                let mut entries = Vec::new();
                if storage.last_index() >= first {
                    storage
                        .entries(first, storage.last_index(), u64::MAX, &mut entries)
                        .unwrap();
                }
                let mut prev_term = storage.term(first.prev()).unwrap();
                for (i, e) in entries.iter().enumerate() {
                    prop_assert_eq!(e.index.0, first.0 + i as u64);
                    prop_assert!(prev_term <= e.term);
                    prev_term = e.term;
                }
            }
            Ok(())
        })
        .unwrap();
}

// Invalid configurations are typed errors at construction.
#[test]
fn invalid_configurations_are_refused() {
    use synod_raft::ConfigError;
    let mut c = Config::new(NodeId(1), [1, 2, 3].map(NodeId));
    c.election_ticks = synod_core::Ticks(2);
    assert!(matches!(
        RaftNode::new(c.clone(), MemStorage::new()),
        Err(ConfigError::ElectionNotAboveHeartbeat { .. })
    ));
    c.election_ticks = synod_core::Ticks(10);
    c.voters = vec![NodeId(1), NodeId(1)];
    assert!(matches!(
        RaftNode::new(c.clone(), MemStorage::new()),
        Err(ConfigError::DuplicateVoter(_))
    ));
    c.voters = vec![];
    assert!(matches!(
        RaftNode::new(c, MemStorage::new()),
        Err(ConfigError::NoVoters)
    ));
}
