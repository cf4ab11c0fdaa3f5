//! # synod-twophase: atomic commitment
//!
//! Transactions that touch several shards must commit everywhere or nowhere. This
//! crate solves that *atomic commitment* problem with two protocols, both pure
//! [`synod_core::Node`] state machines:
//!
//! - [`twopc`]: **two-phase commit** with the *presumed-abort* optimizations (Mohan,
//!   Lindsay & Obermarck 1986), cooperative termination and crash recovery.
//! - [`paxos_commit`]: **Paxos Commit** (Gray & Lamport 2006), one Paxos instance per
//!   participant's vote on 2F + 1 acceptors, which does not block when the
//!   coordinator crashes.
//!
//! Both coordinate a [`Resource`] per participant (prepare → [`Vote`], commit,
//! abort); [`kv::KvShard`] is a reference resource, a key-value shard with strict
//! two-phase locking.
//!
//! ## What it guarantees
//!
//! - **Atomicity** (safety, under any number of crashes, restarts, message loss,
//!   duplication and reordering): no participant commits a transaction that another
//!   aborts, and no node ever applies two different outcomes for one transaction.
//! - **Commit only if all agree**: a transaction commits only if every participant
//!   voted yes or read-only.
//! - **Termination**: a transaction whose participants (and, for 2PC, coordinator)
//!   stay up and connected long enough eventually decides. 2PC *blocks* a prepared
//!   participant while its coordinator is down and no other participant knows the
//!   outcome ([`twopc::Event::Blocked`] says so); Paxos Commit decides as long as a
//!   majority of its 2F + 1 acceptors is up.
//!
//! ## What it assumes
//!
//! Crash-recovery processes (no Byzantine behaviour); asynchronous, lossy links; a
//! storage that honours the [action-order rule](synod_core#the-action-order-rule): a
//! `Persist` record is durable before later messages leave. Each node is rebuilt after
//! a crash from exactly the records it made durable.
//!
//! ## How to drive it
//!
//! Build a node with `recover(config, resource, &log)` (empty log the first time),
//! feed it ticks, peer messages and `Begin` requests, and perform its actions in
//! order. The application learns the outcome from events: `Decided` at the
//! coordinator, `Applied` at each participant.
//!
//! ## Example
//!
//! Three shards on the simulator, a transfer between two of them and a transaction
//! that must abort because it overdraws, with messages lost and duplicated:
//!
//! ```
//! use synod_core::NodeId;
//! use synod_sim::{LinkConfig, Sim, SimConfig};
//! use synod_twophase::kv::{KvOp, KvShard};
//! use synod_twophase::twopc::{Config, Event, Request, TwoPhaseNode};
//! use synod_twophase::Outcome;
//!
//! let ids = [NodeId(1), NodeId(2), NodeId(3)];
//! let mut config = SimConfig::new(42);
//! config.network = LinkConfig { loss: 0.1, duplicate: 0.1, ..LinkConfig::default() };
//! let mut sim = Sim::new(config, ids, |id, log: &Vec<_>| {
//!     TwoPhaseNode::recover(Config::new(id), KvShard::with_data([(id.0, 100)]), log)
//! }).unwrap();
//! let transfer = |from: NodeId, to: NodeId, amount: i64| Request::Begin {
//!     tag: 0,
//!     participants: vec![
//!         (from, vec![KvOp::Add { key: from.0, delta: -amount, min: Some(0) }]),
//!         (to, vec![KvOp::Add { key: to.0, delta: amount, min: None }]),
//!     ],
//! };
//! sim.request(NodeId(1), transfer(NodeId(1), NodeId(2), 30)).unwrap();
//! sim.request(NodeId(3), transfer(NodeId(3), NodeId(1), 500)).unwrap(); // overdraft
//! let done = sim.run_until(|sim| {
//!     sim.events().iter().filter(|(_, _, e)| matches!(e, Event::Decided { .. })).count() == 2
//!         && sim.live_nodes().all(|(_, n)| n.in_doubt().next().is_none())
//! }, 100_000).unwrap();
//! assert!(done);
//! let outcomes: Vec<Outcome> = sim.events().iter().filter_map(|(_, _, e)| match e {
//!     Event::Decided { outcome, .. } => Some(*outcome),
//!     _ => None,
//! }).collect();
//! assert!(outcomes.contains(&Outcome::Commit) && outcomes.contains(&Outcome::Abort));
//! let balance = |id: u64| sim.node(NodeId(id)).unwrap().resource().get(id);
//! assert_eq!((balance(1), balance(2), balance(3)), (70, 130, 100));
//! ```
//!
//! ## Feature flags
//!
//! - `serde` (default): serde derives on ids, votes, messages, records and events.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod api;
mod backoff;
pub mod kv;
mod memory;
pub mod paxos_commit;
mod plumbing;
mod resource;
pub mod twopc;
mod types;

pub use api::{BeginError, Event, Request};
pub use resource::{Prepared, Resource};
pub use types::{Outcome, TxId, Violation, Vote};

/// The README's example, compiled and run as a doc test so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
