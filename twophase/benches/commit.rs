//! Commit throughput and CPU cost per transaction for 2PC and Paxos Commit, with
//! nodes stepped directly over an in-memory FIFO (no simulator, no disk): the cost
//! of the protocol logic itself.
//!
//! `cargo bench -p synod-twophase --bench commit -- --warm-up-time 1 --measurement-time 3`

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::collections::VecDeque;
use std::hint::black_box;
use synod_core::{Action, Actions, Input, Node, NodeId};
use synod_twophase::kv::{KvOp, KvShard};
use synod_twophase::paxos_commit::{self, PaxosCommitNode};
use synod_twophase::twopc::{self, TwoPhaseNode};
use synod_twophase::{Event, Outcome, Request};

/// A cluster whose messages are delivered in FIFO order until none is left.
struct Cluster<N: Node> {
    nodes: Vec<N>,
    queue: VecDeque<(NodeId, NodeId, N::Message)>,
    out: Actions<N::Message, N::Persist, N::Event>,
    tag: u64,
}

impl<N> Cluster<N>
where
    N: Node<Request = Request<Vec<KvOp>>, Event = Event>,
    N::Message: Clone,
{
    fn new(nodes: Vec<N>) -> Self {
        Cluster {
            nodes,
            queue: VecDeque::new(),
            out: Actions::with_capacity(256),
            tag: 0,
        }
    }

    fn perform(&mut self, from: NodeId, commits: &mut u64) {
        for action in self.out.drain() {
            match action {
                Action::Send { to, msg } => self.queue.push_back((from, to, msg)),
                Action::Broadcast { msg } => {
                    for n in &self.nodes {
                        if n.id() != from {
                            self.queue.push_back((from, n.id(), msg.clone()));
                        }
                    }
                }
                Action::Emit(Event::Decided {
                    outcome: Outcome::Commit,
                    ..
                }) => *commits += 1,
                // Durable at once: this measures protocol logic, not storage.
                _ => {}
            }
        }
    }

    /// One transaction writing one key on each of `participants` nodes, begun at n1,
    /// run to quiescence. Returns the number of commit decisions (1).
    fn transaction(&mut self, participants: u64) -> u64 {
        self.tag += 1;
        let value = self.tag as i64;
        let request = Request::Begin {
            tag: self.tag,
            participants: (1..=participants)
                .map(|i| (NodeId(i), vec![KvOp::Write { key: i, value }]))
                .collect(),
        };
        let mut commits = 0;
        self.nodes[0].step(Input::Request(request), &mut self.out);
        self.perform(NodeId(1), &mut commits);
        while let Some((from, to, msg)) = self.queue.pop_front() {
            let i = (to.0 - 1) as usize;
            self.nodes[i].step(Input::Message { from, msg }, &mut self.out);
            self.perform(to, &mut commits);
        }
        commits
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("commit");
    for n in [2u64, 4, 8, 16] {
        let mut two_pc = Cluster::new(
            (1..=n)
                .map(|i| TwoPhaseNode::recover(twopc::Config::new(NodeId(i)), KvShard::new(), &[]))
                .collect(),
        );
        group.bench_with_input(BenchmarkId::new("2pc", n), &n, |b, &n| {
            b.iter(|| assert_eq!(black_box(two_pc.transaction(n)), 1))
        });
        let acceptors: Vec<NodeId> = (1..=3).map(NodeId).collect();
        let mut paxos = Cluster::new(
            (1..=n.max(3))
                .map(|i| {
                    PaxosCommitNode::recover(
                        paxos_commit::Config::new(NodeId(i), acceptors.clone()),
                        KvShard::new(),
                        &[],
                    )
                })
                .collect(),
        );
        group.bench_with_input(BenchmarkId::new("paxos_commit_f1", n), &n, |b, &n| {
            b.iter(|| assert_eq!(black_box(paxos.transaction(n)), 1))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
