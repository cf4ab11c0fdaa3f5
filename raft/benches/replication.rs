//! Steady-state replication throughput: three nodes in memory, messages handed over
//! directly (no serialization), background writes acknowledged at once, 128-byte
//! proposals in batches of 64, measured until all three nodes applied every entry.

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::collections::VecDeque;
use synod_core::{Action, Actions, Input, Node, NodeId};
use synod_raft::{Config, Event, MemStorage, Message, RaftNode, Record, Request, Role};

const BATCHES: u64 = 100;
const BATCH: u64 = 64;
static PAYLOAD: [u8; 128] = [7; 128];

struct Cluster {
    nodes: Vec<RaftNode>,
    queue: VecDeque<(NodeId, NodeId, Message)>,
    out: Actions<Message, Record, Event>,
}

impl Cluster {
    fn new() -> Self {
        let ids = [1, 2, 3].map(NodeId);
        let nodes = ids
            .iter()
            .map(|&id| {
                let mut config = Config::new(id, ids);
                config.heartbeat_ticks = synod_core::Ticks(1);
                RaftNode::new(config, MemStorage::new()).expect("valid config")
            })
            .collect();
        let mut cluster = Cluster {
            nodes,
            queue: VecDeque::new(),
            out: Actions::with_capacity(256),
        };
        while cluster.nodes[0].role() != Role::Leader {
            cluster.step(0, Input::Tick);
            cluster.pump();
        }
        cluster
    }

    /// Step node `i` and route its actions: sends are queued, background writes are
    /// acknowledged at once (a disk that is always fast).
    fn step(&mut self, i: usize, input: Input<Message, Request>) {
        let from = NodeId(i as u64 + 1);
        self.nodes[i].step(input, &mut self.out);
        let mut acks = Vec::new();
        for action in self.out.drain() {
            match action {
                Action::Send { to, msg } => self.queue.push_back((from, to, msg)),
                Action::PersistInBackground { token, .. } => acks.push(token),
                _ => {}
            }
        }
        for token in acks {
            self.step(i, Input::Persisted(token));
        }
    }

    fn pump(&mut self) {
        while let Some((from, to, msg)) = self.queue.pop_front() {
            self.step((to.0 - 1) as usize, Input::Message { from, msg });
        }
    }

    fn replicate(&mut self) {
        for _ in 0..BATCHES {
            for _ in 0..BATCH {
                self.step(
                    0,
                    Input::Request(Request::Propose(Bytes::from_static(&PAYLOAD))),
                );
            }
            self.pump();
        }
        let target = self.nodes[0].last_index();
        while self.nodes.iter().any(|n| n.applied_index() < target) {
            self.step(0, Input::Tick); // heartbeats carry the final commit index
            self.pump();
        }
    }
}

fn replication(c: &mut Criterion) {
    let mut group = c.benchmark_group("replication");
    group.throughput(Throughput::Elements(BATCHES * BATCH));
    group.bench_function("3 nodes, 128 B x 64", |b| {
        b.iter_batched(
            Cluster::new,
            |mut cluster| cluster.replicate(),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, replication);
criterion_main!(benches);
