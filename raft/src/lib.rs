//! # synod-raft: Raft as a step-function state machine
//!
//! A Raft node ([`RaftNode`]) implementing [`synod_core::Node`]: it consumes ticks,
//! peer messages, proposals and persistence acknowledgements, and appends ordered
//! actions — persist, send, emit — for its runtime to perform. No I/O, no clock, no
//! global randomness: the same inputs give the same outputs, so the whole cluster runs
//! on the `synod-sim` simulator and a failing seed replays exactly.
//!
//! ## What it guarantees
//!
//! With at most a minority of voters crashed or cut off, and every `Persist` action
//! made durable before later actions (the `synod-core` contract):
//!
//! - **Election safety** (Raft §5.2): at most one leader per term. Votes and terms are
//!   persisted before a grant or request leaves.
//! - **Log matching** (§5.3): two logs holding an entry of the same index and term are
//!   identical up to it.
//! - **Leader completeness** (§5.4): a committed entry is in the log of every later
//!   leader — the up-to-date vote check (§5.4.1) and the current-term commit rule
//!   (§5.4.2, Figure 8).
//! - **State-machine safety**: every node emits the same entry at each index, each
//!   [`Event::Committed`] exactly once per node lifetime, in log order — after
//!   [`Event::RestoreSnapshot`] when it starts from a snapshot.
//! - **Compaction** (§7): a snapshot covers only applied entries; a follower behind
//!   the leader's compaction point receives the snapshot in bounded, offset-checked
//!   chunks and keeps the part of its log that matches it. Chunks are pipelined
//!   (`Config::max_inflight_snapshot_chunks` in flight) and a follower holds at most
//!   `Config::max_snapshot_bytes` of one, refusing a larger snapshot
//!   ([`Event::SnapshotSendRefused`] on the leader).
//! - **Linearizable reads** (thesis §6.4): [`Event::ReadReady`] names an index the
//!   node has applied, and a read of the state machine then reflects every write that
//!   completed before the read was requested — ReadIndex at the leader (a quorum
//!   round after the read arrived), forwarded from followers, or, with
//!   [`Config::lease_read`], within the leader's lease (§6.4.1, which additionally
//!   assumes bounded clock-rate differences; see `docs/raft.md`).
//! - **Liveness** once the network is stable: pre-vote (thesis §9.6) and check-quorum
//!   (thesis §6.2) keep a node that rejoins from a partition from deposing a healthy
//!   leader; randomized election timeouts from a seeded generator elect a new one.
//!   [`Request::TransferLeadership`] hands leadership to an up-to-date voter
//!   (thesis §3.10) or aborts after an election timeout.
//! - **Membership changes** (thesis ch. 4): [`Request::ChangeMembership`] moves the
//!   cluster between arbitrary voter sets through the joint configuration C_old,new
//!   (thesis §4.3) — while it is in force every election, commit, check-quorum and
//!   read round needs a majority of both the old and the new voters — and then C_new,
//!   which the leader appends by itself. Each node uses the latest configuration in
//!   its log ([`RaftNode::membership`]). Learners receive the log but never vote or
//!   count; a leader that removes itself steps down once C_new commits
//!   ([`Event::RemovedFromCluster`]). A new node starts with the cluster's voters in
//!   its [`Config`], itself not among them, and learns the rest from the log.
//!
//! ## What it assumes
//!
//! Crash-stop-recover nodes (no Byzantine faults), `n = 2f + 1` voters tolerate `f`
//! failures; a network that may lose, delay, duplicate and reorder messages; storage
//! that keeps what it acknowledged. Messages from nodes outside the configuration are
//! processed like any other (a joining node hears from a leader it does not know
//! yet); their votes count for nothing.
//!
//! ## How to drive it
//!
//! 1. Build the node with [`RaftNode::new`] from a [`Config`] and its [`LogStorage`]
//!    (fold the durable [`Record`]s in on restart; [`MemStorage::from_records`]).
//! 2. Step it with `Input::Tick` at a steady rate, every decoded [`Message`], every
//!    [`Request`], and `Input::Persisted(token)` when a background write is durable.
//! 3. Perform the actions in order: `Persist(record)` durably before anything after it;
//!    `PersistInBackground` (the leader's own appends, thesis §10.2.1) may overlap the
//!    sends that follow; hand `Emit`s to the application.
//! 4. Apply [`Event::Committed`] entries; on [`Event::RestoreSnapshot`] replace the
//!    application's state with the snapshot's data (on restart this is the first
//!    output). Every so often, hand the node a snapshot of the applied state with
//!    [`Request::Snapshot`]; it persists a [`Record::Snapshot`] and the storage
//!    compacts the log (Raft §7).
//!
//! ## Example
//!
//! A single-voter cluster elects itself, and a proposal commits once the runtime
//! acknowledges the leader's background write:
//!
//! ```
//! use bytes::Bytes;
//! use synod_core::{Action, Actions, Input, Node, NodeId, PersistToken};
//! use synod_raft::{Config, Event, EntryKind, MemStorage, RaftNode, Request, Role};
//!
//! let mut node = RaftNode::new(Config::new(NodeId(1), [NodeId(1)]), MemStorage::new())?;
//! let mut out = Actions::new();
//! let mut tokens = Vec::new();
//! while node.role() != Role::Leader {
//!     node.step(Input::Tick, &mut out);
//! }
//! node.step(Input::Request(Request::Propose(Bytes::from_static(b"x=1"))), &mut out);
//! for action in out.drain() {
//!     if let Action::PersistInBackground { token, .. } = action {
//!         tokens.push(token); // a real runtime writes the record, then acknowledges
//!     }
//! }
//! for token in tokens {
//!     node.step(Input::Persisted(token), &mut out);
//! }
//! let committed: Vec<_> = out.drain().filter_map(|a| match a {
//!     Action::Emit(Event::Committed(e)) if e.kind == EntryKind::Command => Some(e.data),
//!     _ => None,
//! }).collect();
//! assert_eq!(committed, [Bytes::from_static(b"x=1")]);
//! # Ok::<(), synod_raft::ConfigError>(())
//! ```
//!
//! ## Feature flags
//!
//! - `serde` (default): serde derives on messages, entries and persist records.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod election;
mod error;
mod log;
mod membership;
mod message;
mod node;
mod progress;
mod read;
pub mod session;
mod snapshot;
mod storage;
mod types;

pub use config::Config;
pub use error::{
    ConfigError, MembershipError, ProposeError, ReadError, SnapshotError, TransferError,
};
pub use membership::{Membership, MembershipChange};
pub use message::{AppendOutcome, ConflictHint, Message};
pub use node::{Event, RaftNode, Request, Role};
pub use progress::ProgressState;
pub use read::ReadSeq;
pub use snapshot::{Snapshot, SnapshotMeta};
pub use storage::{LogStorage, MemStorage, Record, StorageError};
pub use types::{Entry, EntryKind, HardState, LogIndex, Term};

/// The README's example, compiled and run as a doc test so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
