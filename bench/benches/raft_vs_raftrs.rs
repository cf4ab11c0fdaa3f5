//! Head-to-head: synod-raft against tikv/raft-rs 0.7 on the BENCHMARKS.md workload
//! `replicate` — steady-state replication on three nodes in memory, messages moved
//! (never serialized) through one FIFO queue in one thread, 128-byte proposals from a
//! pool of 1024 random values in batches of 64, each batch driven to quiescence and
//! checked: every node has applied exactly the entries proposed so far.
//!
//! Contenders, interleaved in every repetition (medians and ratios from the same run):
//!
//! - `synod-raft`: one `Request::ProposeBatch` of 64 commands per batch.
//! - `synod-raft, 64 x Propose`: the same, one `Request::Propose` per command.
//! - `raft-rs default`: `Config::default()` with the workload's timeouts
//!   (`max_size_per_msg` 0, `batch_append` false).
//! - `raft-rs batch_append`: `batch_append = true`, `max_size_per_msg` 1 MiB — its
//!   fastest configuration, the one the 3× goal is measured against.
//!
//! raft-rs runs its documented Ready cycle: send `messages`, apply a snapshot if any,
//! apply `committed_entries`, append `entries` and store the hard state in its
//! `MemStorage`, only then send `persisted_messages`, `advance`, store the light
//! ready's commit index, send its messages, apply its committed entries,
//! `advance_apply`.
//!
//! Run: `cd bench && CARGO_TARGET_DIR=<dir> cargo bench --bench raft_vs_raftrs`
//! (`RAFT_BENCH_ENTRIES` and `RAFT_BENCH_REPS` shorten or lengthen it).

use bytes::Bytes;
use std::collections::VecDeque;
use std::time::Instant;
use synod_core::{Input, Ticks};

const BATCH: usize = 64;
const POOL: usize = 1024;
const PAYLOAD: usize = 128;

/// The payload pool: 1024 pseudo-random 128-byte values (splitmix64, fixed seed).
fn pool() -> Vec<Vec<u8>> {
    let mut state = 0x5EED_u64;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    (0..POOL)
        .map(|_| {
            (0..PAYLOAD / 8)
                .flat_map(|_| next().to_le_bytes())
                .collect()
        })
        .collect()
}

/// One contender: builds a cluster with an elected leader that every node has caught
/// up with, then replicates `n` entries; returns entries per second.
trait Contender {
    fn name(&self) -> &'static str;
    fn run(&self, n: usize, pool: &[Vec<u8>]) -> f64;
}

// ---------------------------------------------------------------- synod-raft

/// The lockstep driver the synod-raft tests use: one FIFO queue, background writes
/// acknowledged at once (barrier persists are already folded into each node's
/// in-memory storage), committed commands counted per node.
#[path = "../../raft/tests/lockstep/mod.rs"]
mod lockstep;

mod synod {
    use super::*;
    use synod_raft::Request;

    pub struct Synod {
        pub batched: bool,
    }

    impl Contender for Synod {
        fn name(&self) -> &'static str {
            if self.batched {
                "synod-raft (ProposeBatch)"
            } else {
                "synod-raft (64 x Propose)"
            }
        }

        fn run(&self, n: usize, pool: &[Vec<u8>]) -> f64 {
            let pool: Vec<Bytes> = pool.iter().map(|v| Bytes::copy_from_slice(v)).collect();
            // Untimed: node 1 campaigns and wins; everyone applies its no-op.
            let mut c = lockstep::Lockstep::elected_with(|config| {
                config.election_ticks = Ticks(10);
                config.heartbeat_ticks = Ticks(3);
                config.max_inflight_messages = 256;
                config.max_append_bytes = 1 << 20;
            });
            let noop = c.nodes[0].last_index();
            assert!(c.nodes.iter().all(|n| n.applied_index() == noop));

            let start = Instant::now();
            let mut proposed = 0;
            while proposed < n {
                let batch = BATCH.min(n - proposed);
                if self.batched {
                    let commands = (proposed..proposed + batch)
                        .map(|i| pool[i % POOL].clone())
                        .collect();
                    c.step(0, Input::Request(Request::ProposeBatch(commands)));
                } else {
                    for i in proposed..proposed + batch {
                        c.step(0, Input::Request(Request::Propose(pool[i % POOL].clone())));
                    }
                }
                proposed += batch;
                c.quiesce();
                assert_eq!(c.applied, [proposed; 3], "not every node applied the batch");
            }
            let secs = start.elapsed().as_secs_f64();
            for node in &c.nodes {
                assert_eq!(node.applied_index(), node.commit_index());
                assert_eq!(node.commit_index(), node.last_index());
                assert_eq!(node.last_index().0, noop.0 + n as u64);
            }
            n as f64 / secs
        }
    }
}

// ---------------------------------------------------------------- raft-rs 0.7

mod raftrs {
    use super::*;
    use raft::eraftpb::{ConfState, EntryType, Message};
    use raft::storage::MemStorage;
    use raft::{Config, RawNode, StateRole};

    pub struct RaftRs {
        pub batch_append: bool,
    }

    struct Cluster {
        nodes: Vec<RawNode<MemStorage>>,
        applied: [usize; 3],
        queue: VecDeque<Message>,
    }

    impl Cluster {
        fn new(batch_append: bool) -> Self {
            let logger = slog::Logger::root(slog::Discard, slog::o!());
            let nodes = (1..=3u64)
                .map(|id| {
                    let mut config = Config {
                        id,
                        election_tick: 10,
                        heartbeat_tick: 3,
                        max_inflight_msgs: 256,
                        ..Config::default()
                    };
                    if batch_append {
                        config.batch_append = true;
                        config.max_size_per_msg = 1 << 20;
                    }
                    let storage =
                        MemStorage::new_with_conf_state(ConfState::from((vec![1, 2, 3], vec![])));
                    RawNode::new(&config, storage, &logger).expect("valid config")
                })
                .collect();
            Cluster {
                nodes,
                applied: [0; 3],
                queue: VecDeque::with_capacity(1024),
            }
        }

        fn apply(applied: &mut usize, entries: Vec<raft::eraftpb::Entry>) {
            for entry in entries {
                if entry.get_entry_type() == EntryType::EntryNormal && !entry.data.is_empty() {
                    *applied += 1;
                }
            }
        }

        /// The documented Ready cycle (raft-rs README / `examples/single_mem_node`).
        fn on_ready(&mut self, i: usize) {
            let node = &mut self.nodes[i];
            if !node.has_ready() {
                return;
            }
            let store = node.raft.raft_log.store.clone();
            let mut ready = node.ready();
            self.queue.extend(ready.take_messages());
            if !ready.snapshot().is_empty() {
                store
                    .wl()
                    .apply_snapshot(ready.snapshot().clone())
                    .expect("snapshot");
            }
            Self::apply(&mut self.applied[i], ready.take_committed_entries());
            if !ready.entries().is_empty() {
                store.wl().append(ready.entries()).expect("append");
            }
            if let Some(hs) = ready.hs() {
                store.wl().set_hardstate(hs.clone());
            }
            // Durable now (in memory): the messages that depend on it may go.
            self.queue.extend(ready.take_persisted_messages());
            let mut light = node.advance(ready);
            if let Some(commit) = light.commit_index() {
                store.wl().mut_hard_state().set_commit(commit);
            }
            self.queue.extend(light.take_messages());
            Self::apply(&mut self.applied[i], light.take_committed_entries());
            node.advance_apply();
        }

        /// Deliver every queued message, run every node's Ready cycle, until nothing
        /// moves.
        fn quiesce(&mut self) {
            loop {
                while let Some(msg) = self.queue.pop_front() {
                    let to = (msg.to - 1) as usize;
                    self.nodes[to].step(msg).expect("step");
                }
                for i in 0..self.nodes.len() {
                    self.on_ready(i);
                }
                if self.queue.is_empty() && self.nodes.iter().all(|n| !n.has_ready()) {
                    return;
                }
            }
        }
    }

    impl Contender for RaftRs {
        fn name(&self) -> &'static str {
            if self.batch_append {
                "raft-rs 0.7 batch_append"
            } else {
                "raft-rs 0.7 default"
            }
        }

        fn run(&self, n: usize, pool: &[Vec<u8>]) -> f64 {
            let mut c = Cluster::new(self.batch_append);
            // Untimed: node 1 campaigns and wins; everyone applies its empty entry.
            c.nodes[0].campaign().expect("campaign");
            c.quiesce();
            assert_eq!(c.nodes[0].raft.state, StateRole::Leader);
            let first = c.nodes[0].raft.raft_log.last_index();
            assert!(c.nodes.iter().all(|n| n.raft.raft_log.applied == first));

            let start = Instant::now();
            let mut proposed = 0;
            while proposed < n {
                let batch = BATCH.min(n - proposed);
                for i in proposed..proposed + batch {
                    c.nodes[0]
                        .propose(vec![], pool[i % POOL].clone())
                        .expect("propose");
                }
                proposed += batch;
                c.quiesce();
                assert_eq!(c.applied, [proposed; 3], "not every node applied the batch");
            }
            let secs = start.elapsed().as_secs_f64();
            for node in &c.nodes {
                let log = &node.raft.raft_log;
                assert_eq!(log.applied, log.committed);
                assert_eq!(log.committed, log.last_index());
                assert_eq!(log.last_index(), first + n as u64);
            }
            n as f64 / secs
        }
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs a tiny smoke version.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let n = env("RAFT_BENCH_ENTRIES", if smoke { 2_000 } else { 200_000 });
    let reps = env("RAFT_BENCH_REPS", if smoke { 1 } else { 5 });
    let pool = pool();
    let contenders: Vec<Box<dyn Contender>> = vec![
        Box::new(synod::Synod { batched: true }),
        Box::new(synod::Synod { batched: false }),
        Box::new(raftrs::RaftRs {
            batch_append: false,
        }),
        Box::new(raftrs::RaftRs { batch_append: true }),
    ];
    // `RAFT_BENCH_ONLY=<index>` runs one contender alone (for a profiler).
    if let Some(only) = std::env::var("RAFT_BENCH_ONLY")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        let c = &contenders[only];
        let rates: Vec<f64> = (0..reps).map(|_| c.run(n, &pool)).collect();
        println!(
            "  {:<28} {:>6.3} M entries/s",
            c.name(),
            median(rates) / 1e6
        );
        return;
    }
    let mut rates = vec![Vec::new(); contenders.len()];
    for _ in 0..reps {
        for (c, r) in contenders.iter().zip(&mut rates) {
            r.push(c.run(n, &pool));
        }
    }
    println!(
        "replicate: 3 nodes, {n} entries of {PAYLOAD} B in batches of {BATCH}, \
         median of {reps} interleaved runs"
    );
    let medians: Vec<f64> = rates.into_iter().map(median).collect();
    for (c, m) in contenders.iter().zip(&medians) {
        println!("  {:<28} {:>6.3} M entries/s", c.name(), m / 1e6);
    }
    let best_raftrs = medians[3];
    println!(
        "  ratio synod (ProposeBatch) / raft-rs batch_append: {:.2}x; \
         synod (64 x Propose) / raft-rs batch_append: {:.2}x; \
         raft-rs batch_append / default: {:.2}x",
        medians[0] / best_raftrs,
        medians[1] / best_raftrs,
        best_raftrs / medians[2]
    );
}
