//! # synod-core: the step-function contract
//!
//! Every Synod protocol — Raft, PBFT, two-phase commit, quorum registers, CRDT
//! anti-entropy, DHTs — is a pure state machine implementing one trait, [`Node`]. This
//! crate defines that trait and everything around it: [`NodeId`], logical time in
//! [`Ticks`] with a [`Timer`], the ordered [`Actions`] buffer a node writes its outputs
//! into, the [`Transport`], [`Storage`] and [`Codec`] traits users implement, and a
//! runtime-agnostic async [`Driver`] that runs any node on any executor.
//!
//! A node never touches a socket, a disk, a clock or a global random source. That is
//! what makes it possible to run the same node on tokio in production and on the
//! deterministic simulator (`synod-sim`) in tests, replaying any failure from a seed.
//!
//! ## How to drive a node
//!
//! 1. Build the node from its configuration and its durable state.
//! 2. Feed it inputs with [`Node::step`]: [`Input::Tick`] at a steady rate,
//!    [`Input::Message`] for every decoded frame, [`Input::Request`] for the
//!    application, [`Input::Persisted`] when a background write becomes durable.
//! 3. After each step, perform the actions in the buffer **in order**, then clear it
//!    (reusing the buffer means a steady-state step allocates nothing).
//!
//! The [`Driver`] does all of this for you; write your own loop only if you need to.
//!
//! ## The action-order rule
//!
//! **The runtime performs a node's actions in the order the node produced them, and an
//! [`Action::Persist`] is durable before any later action is performed.** Together
//! these make the node, not the runtime, responsible for safety: a Raft follower that
//! emits `Persist(vote)` then `Send(vote granted)` can never grant a vote that a crash
//! forgets, because the runtime will not send the grant until the vote is on disk.
//!
//! Where a protocol wants a write to overlap its sends (a Raft leader writing its own
//! log while it replicates to followers, Raft thesis §10.2.1), it uses
//! [`Action::PersistInBackground`] instead. The runtime starts the write and goes on
//! with later actions at once; when the write is durable it feeds
//! [`Input::Persisted`] with the node's token back, and the node decides what that
//! acknowledgement allows (the leader counts its own log toward the commit quorum only
//! then). A barrier persist also makes every earlier background write durable.
//!
//! If a write fails, the runtime stops the node and performs none of its later actions.
//!
//! ```
//! use synod_core::{Action, Actions, Input, Node, NodeId, PersistToken};
//!
//! /// Grants at most one vote per term, and remembers it across crashes.
//! struct Voter { id: NodeId, voted_in_term: u64 }
//!
//! impl Node for Voter {
//!     type Message = u64;          // "vote for me in term t"
//!     type Request = ();
//!     type Persist = u64;          // the term we voted in
//!     type Event = ();
//!     fn id(&self) -> NodeId { self.id }
//!     fn step(&mut self, input: Input<u64, ()>, out: &mut Actions<u64, u64, ()>) {
//!         if let Input::Message { from, msg: term } = input {
//!             if term > self.voted_in_term {
//!                 self.voted_in_term = term;
//!                 out.persist(term);         // 1. durable first ...
//!                 out.send(from, term);      // 2. ... then the grant leaves
//!             }
//!         }
//!     }
//! }
//!
//! let mut voter = Voter { id: NodeId(2), voted_in_term: 0 };
//! let mut out = Actions::new();
//! voter.step(Input::Message { from: NodeId(1), msg: 5 }, &mut out);
//! assert_eq!(out.as_slice(), &[Action::Persist(5), Action::Send { to: NodeId(1), msg: 5 }]);
//! out.clear();
//! voter.step(Input::Message { from: NodeId(3), msg: 5 }, &mut out); // same term: refused
//! assert!(out.is_empty());
//! ```
//!
//! ## Bad input
//!
//! Messages come from peers and may be stale, duplicated, reordered, malformed or
//! malicious. A node must never panic or corrupt its state on any of them: it ignores
//! or answers them. The driver drops frames that do not decode ([`Codec::decode`]) or
//! come from unknown nodes, and counts them in [`DriverStats`]. Invalid requests from
//! the local application get a typed error event from the protocol.
//!
//! ## Feature flags
//!
//! - `serde` (default): serde derives on the public data types, and [`PostcardCodec`].

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod actions;
mod codec;
pub mod driver;
mod id;
mod node;
mod storage;
mod tick;
mod transport;

pub use actions::{Action, Actions, PersistToken};
#[cfg(feature = "serde")]
pub use codec::PostcardCodec;
pub use codec::{Codec, DecodeError, EncodeError};
pub use driver::{Driver, DriverConfig, DriverError, DriverHandle, DriverStats, Report};
pub use id::NodeId;
pub use node::{ActionsOf, Input, InputOf, Node};
pub use storage::{Storage, StorageError};
pub use tick::{Ticks, Timer};
pub use transport::{Envelope, Transport, TransportError};

/// The README's example, compiled and run as a doc test so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
