//! Fast log backtracking (Raft §5.3): a follower 50, or 1,000, entries behind with a
//! divergent tail is repaired in a few round trips, not 50 or 1,000. Nodes are driven by hand so
//! every round trip is counted.

use bytes::Bytes;
use std::collections::VecDeque;
use synod_core::{Action, Actions, Input, Node, NodeId};
use synod_raft::{
    AppendOutcome, Config, Entry, EntryKind, HardState, LogIndex, LogStorage, MemStorage, Message,
    RaftNode, Record, Role, Term,
};

fn log(terms: &[(u64, u64, u64)], hard_term: u64) -> MemStorage {
    let mut storage = MemStorage::new();
    let mut entries = Vec::new();
    for &(from, to, term) in terms {
        for i in from..=to {
            let data = Bytes::from(format!("{term}:{i}"));
            entries.push(Entry {
                index: LogIndex(i),
                term: Term(term),
                kind: EntryKind::Command,
                data,
            });
        }
    }
    storage.apply(&Record::Entries(entries)).unwrap();
    storage
        .apply(&Record::HardState(HardState {
            term: Term(hard_term),
            voted_for: None,
        }))
        .unwrap();
    storage
}

/// Nodes 1 and 3 hold `leader_log` (hard term `leader_term`), node 2 holds
/// `follower_log`; only node 1 ticks, so it is elected with node 3's vote and repairs
/// node 2. Every message is delivered in order, so each rejection is one round trip.
/// Asserts that node 1 leads and that node 2's log ends equal to node 1's; returns
/// the number of conflict rejections node 2 sent.
fn repair_follower(
    leader_log: &[(u64, u64, u64)],
    leader_term: u64,
    follower_log: &[(u64, u64, u64)],
    follower_term: u64,
) -> usize {
    let ids = [1, 2, 3].map(NodeId);
    let config = |id| Config::new(id, ids);
    let leader_storage = log(leader_log, leader_term);
    let mut nodes = vec![
        RaftNode::new(config(ids[0]), leader_storage.clone()).unwrap(),
        RaftNode::new(config(ids[1]), log(follower_log, follower_term)).unwrap(),
        RaftNode::new(config(ids[2]), leader_storage).unwrap(),
    ];
    let mut queue: VecDeque<(NodeId, NodeId, Message)> = VecDeque::new();
    let mut out = Actions::new();
    let mut rejections = 0;
    let mut deliver =
        |nodes: &mut Vec<RaftNode>, out: &mut Actions<_, _, _>, queue: &mut VecDeque<_>| {
            let mut from = NodeId(1);
            loop {
                let mut acks = Vec::new();
                for action in out.drain() {
                    match action {
                        Action::Send { to, msg } => queue.push_back((from, to, msg)),
                        Action::PersistInBackground { token, .. } => acks.push(token),
                        _ => {}
                    }
                }
                for token in acks {
                    nodes[(from.0 - 1) as usize].step(Input::Persisted(token), out);
                }
                if !out.is_empty() {
                    continue;
                }
                let Some((sender, to, msg)) = queue.pop_front() else {
                    return;
                };
                if sender == NodeId(2)
                    && let Message::AppendEntriesResponse {
                        outcome: AppendOutcome::Conflict { .. },
                        ..
                    } = msg
                {
                    rejections += 1;
                }
                from = to;
                nodes[(to.0 - 1) as usize].step(Input::Message { from: sender, msg }, out);
            }
        };
    for _ in 0..200 {
        nodes[0].step(Input::Tick, &mut out);
        deliver(&mut nodes, &mut out, &mut queue);
    }
    assert_eq!(nodes[0].role(), Role::Leader);
    let (a, b) = (nodes[0].storage(), nodes[1].storage());
    assert_eq!(a.last_index(), b.last_index());
    for i in 1..=a.last_index().0 {
        assert_eq!(a.term(LogIndex(i)), b.term(LogIndex(i)), "index {i}");
    }
    rejections
}

// A leader-to-be whose log is 1..=10 in t1 then 11..=60 in t3 repairs a follower
// whose 11..=60 are from t2: with the conflict-term hint the follower is caught up
// after one rejection, and its log ends equal to the leader's.
#[test]
fn fast_backup_over_50_divergent_entries() {
    let rejections = repair_follower(&[(1, 10, 1), (11, 60, 3)], 3, &[(1, 10, 1), (11, 60, 2)], 2);
    assert!(
        rejections <= 1,
        "{rejections} rejections to repair 50 divergent entries"
    );
}

// Raft §5.3 (the issue's "1,000 entries behind with a divergent tail, repaired in a
// few round trips"): a follower whose 11..=60 are from t2 while the leader holds
// 11..=1060 from t3 is repaired with two rejections — one for the missing length (the
// index hint jumps to its log end), one for its whole t2 term — not a thousand.
#[test]
fn fast_backup_over_1000_entries_behind() {
    let rejections = repair_follower(
        &[(1, 10, 1), (11, 1060, 3)],
        3,
        &[(1, 10, 1), (11, 60, 2)],
        2,
    );
    assert!(
        rejections <= 2,
        "{rejections} rejections to repair a follower 1,000 entries behind"
    );
    // The divergent tail spans three terms (t2, t4, t5) and the leader's log two
    // (t3, t6): one rejection per conflicting follower term plus one for the length.
    let rejections = repair_follower(
        &[(1, 10, 1), (11, 500, 3), (501, 1060, 6)],
        6,
        &[(1, 10, 1), (11, 30, 2), (31, 45, 4), (46, 60, 5)],
        5,
    );
    assert!(
        rejections <= 4,
        "{rejections} rejections to repair a three-term divergent tail 1,000 entries behind"
    );
}
