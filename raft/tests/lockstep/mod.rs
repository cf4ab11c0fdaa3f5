//! Three Raft nodes driven by hand in lockstep, as the replication benchmarks drive
//! them: one FIFO queue of messages, background writes acknowledged at once, no ticks
//! after the election. Shared by the steady-state and allocation tests and by the
//! replication benchmarks (`raft/benches/replication.rs`, and
//! `bench/benches/raft_vs_raftrs.rs`, which includes this file by path).

#![allow(dead_code)]

use std::collections::VecDeque;
use synod_core::{Action, Actions, Input, Node, NodeId, PersistToken};
use synod_raft::{Config, EntryKind, Event, MemStorage, Message, RaftNode, Record, Request, Role};

/// The cluster: node `i` has id `i + 1`; node 0 leads once [`Lockstep::elected`] returns.
pub struct Lockstep {
    pub nodes: Vec<RaftNode>,
    /// Command entries each node has applied.
    pub applied: [usize; 3],
    /// Messages sent so far.
    pub sent: u64,
    queue: VecDeque<(NodeId, NodeId, Message)>,
    out: Actions<Message, Record, Event>,
    acks: Vec<PersistToken>,
}

impl Lockstep {
    /// Three fresh nodes with the default configuration, node 0 elected, every
    /// message settled. Buffers are preallocated so that steady state does not count
    /// their growth.
    pub fn elected() -> Self {
        Self::elected_with(|_| {})
    }

    /// [`Lockstep::elected`] with each node's configuration adjusted by `configure`.
    pub fn elected_with(configure: impl Fn(&mut Config)) -> Self {
        let ids = [1, 2, 3].map(NodeId);
        let nodes = ids
            .iter()
            .map(|&id| {
                let mut config = Config::new(id, ids);
                configure(&mut config);
                RaftNode::new(config, MemStorage::new()).expect("valid config")
            })
            .collect();
        let mut c = Lockstep {
            nodes,
            applied: [0; 3],
            sent: 0,
            queue: VecDeque::with_capacity(1024),
            out: Actions::with_capacity(1024),
            acks: Vec::with_capacity(16),
        };
        while c.nodes[0].role() != Role::Leader {
            c.step(0, Input::Tick);
            c.quiesce();
        }
        c.quiesce();
        c
    }

    /// Step node `i`, queue its sends, acknowledge its background writes at once.
    pub fn step(&mut self, i: usize, input: Input<Message, Request>) {
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

    /// Deliver queued messages in order until none are left.
    pub fn quiesce(&mut self) {
        while let Some((from, to, msg)) = self.queue.pop_front() {
            self.step((to.0 - 1) as usize, Input::Message { from, msg });
        }
    }
}
