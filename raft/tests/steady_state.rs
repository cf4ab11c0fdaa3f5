//! The leader's hot path in steady state: three nodes driven by hand (one FIFO queue,
//! background writes acknowledged at once, no ticks after the election), as the
//! replication benchmarks drive them.

use bytes::Bytes;
use std::collections::VecDeque;
use synod_core::{Action, Actions, Input, Node, NodeId, PersistToken};
use synod_raft::{Config, EntryKind, Event, MemStorage, Message, RaftNode, Record, Request, Role};

struct Cluster {
    nodes: Vec<RaftNode>,
    applied: [u64; 3],
    queue: VecDeque<(NodeId, NodeId, Message)>,
    out: Actions<Message, Record, Event>,
    acks: Vec<PersistToken>,
    sent: u64,
}

impl Cluster {
    fn elected() -> Self {
        let ids = [1, 2, 3].map(NodeId);
        let nodes = ids
            .iter()
            .map(|&id| RaftNode::new(Config::new(id, ids), MemStorage::new()).unwrap())
            .collect();
        let mut c = Cluster {
            nodes,
            applied: [0; 3],
            queue: VecDeque::new(),
            out: Actions::new(),
            acks: Vec::new(),
            sent: 0,
        };
        while c.nodes[0].role() != Role::Leader {
            c.step(0, Input::Tick);
            c.quiesce();
        }
        c.quiesce();
        c
    }

    fn step(&mut self, i: usize, input: Input<Message, Request>) {
        self.nodes[i].step(input, &mut self.out);
        for action in self.out.drain() {
            match action {
                Action::Send { to, msg } => {
                    self.sent += 1;
                    self.queue.push_back((NodeId(i as u64 + 1), to, msg));
                }
                Action::PersistInBackground { token, .. } => self.acks.push(token),
                Action::Emit(Event::Committed(e)) if e.kind == EntryKind::Command => {
                    self.applied[i] += 1
                }
                _ => {}
            }
        }
        while let Some(token) = self.acks.pop() {
            self.step(i, Input::Persisted(token));
        }
    }

    fn quiesce(&mut self) {
        while let Some((from, to, msg)) = self.queue.pop_front() {
            self.step((to.0 - 1) as usize, Input::Message { from, msg });
        }
    }
}

// Followers apply a committed batch as soon as the messages settle, without waiting
// for the next heartbeat: the leader tells them the new commit index (etcd/raft's
// commit broadcast), and does so with one message per follower, not one per entry.
#[test]
fn followers_apply_a_batch_without_waiting_for_a_heartbeat() {
    let mut c = Cluster::elected();
    for round in 1..=3u64 {
        let before = c.sent;
        let batch = (0..64).map(|i| Bytes::from(vec![i as u8; 128])).collect();
        c.step(0, Input::Request(Request::ProposeBatch(batch)));
        c.quiesce();
        assert_eq!(c.applied, [64 * round; 3], "round {round}");
        // Per follower: one append, its answer, one commit notice, its answer.
        assert_eq!(c.sent - before, 8, "round {round}");
    }
    for node in &c.nodes {
        assert_eq!(node.applied_index(), node.last_index());
    }
}

// The same with one request per command: every entry is applied everywhere once the
// messages settle, and the commit notice waits for the last answer of a burst — one
// per follower per burst, not one per entry.
#[test]
fn followers_apply_single_proposals_without_waiting_for_a_heartbeat() {
    let mut c = Cluster::elected();
    let mut before = c.sent;
    for i in 0..100u64 {
        let command = Bytes::from(vec![i as u8; 16]);
        c.step(0, Input::Request(Request::Propose(command)));
        if i % 10 == 9 {
            c.quiesce();
            assert_eq!(c.applied, [i + 1; 3]);
            // Per follower: ten appends and answers, one notice and its answer.
            assert_eq!(c.sent - before, 2 * (2 * 10 + 2), "after {}", i + 1);
            before = c.sent;
        }
    }
}
