//! Fast log backtracking (Raft §5.3): a follower 50 entries behind with a divergent
//! tail is repaired in a couple of round trips, not 50. Nodes are driven by hand so
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

// A leader-to-be whose log is 1..=10 in t1 then 11..=60 in t3 repairs a follower
// whose 11..=60 are from t2: with the conflict-term hint the follower is caught up
// after one rejection, and its log ends equal to the leader's.
#[test]
fn fast_backup_over_50_divergent_entries() {
    let ids = [1, 2, 3].map(NodeId);
    let config = |id| Config::new(id, ids);
    let leader_log = log(&[(1, 10, 1), (11, 60, 3)], 3);
    let mut nodes = vec![
        RaftNode::new(config(ids[0]), leader_log.clone()).unwrap(),
        RaftNode::new(config(ids[1]), log(&[(1, 10, 1), (11, 60, 2)], 2)).unwrap(),
        RaftNode::new(config(ids[2]), leader_log).unwrap(),
    ];
    let mut queue: VecDeque<(NodeId, NodeId, Message)> = VecDeque::new();
    let mut out = Actions::new();
    let (mut rejections, mut appends_to_b) = (0, 0);
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
                if to == NodeId(2)
                    && let Message::AppendEntries { .. } = msg
                {
                    appends_to_b += 1;
                }
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
    // Only node 1 ticks: it runs, wins with node 3's vote, and replicates.
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
    assert!(
        rejections <= 1,
        "{rejections} rejections to repair 50 divergent entries"
    );
    let _ = appends_to_b;
}
