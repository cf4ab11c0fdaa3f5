//! Quorum systems, and data replicated by quorums alone.
//!
//! # Quorum systems
//!
//! A quorum system answers the question every replication protocol asks — *do the
//! nodes that answered form a quorum?* — so that any two quorums (of the kinds that
//! must) intersect. [`QuorumSystem`] is that question plus what follows from it: vote
//! counting ([`QuorumSystem::vote_result`]), the greatest value a quorum holds
//! ([`QuorumSystem::committed_value`], Raft's commit index), the guaranteed
//! [`Overlap`], the failures tolerated and the load.
//!
//! | system        | quorums                                    | requires          |
//! |---------------|--------------------------------------------|-------------------|
//! | [`Majority`]  | any ⌊n/2⌋ + 1                               | n ≥ 1             |
//! | [`Flexible`]  | read: any r, write: any w (Flexible Paxos)  | r + w > n         |
//! | [`Weighted`]  | r or w votes (Gifford)                      | r + w > V, 2w > V |
//! | [`Grid`]      | read: a column cover, write: + a full column | rectangular      |
//! | [`Joint`]     | a quorum of both of two systems (Raft §4.3) | —                 |
//! | [`Byzantine`] | ⌈(n+f+1)/2⌉ dissemination, ⌈(n+2f+1)/2⌉ masking | n > 3f, n > 4f |
//!
//! A system that could not intersect is a typed [`QuorumError`] at construction. The
//! [`analysis`] module re-derives each system's overlap, fault tolerance and load by
//! enumerating subsets, and the tests check it agrees with the formulas. [`Tally`]
//! collects replies so that duplicates and non-members are never counted.
//!
//! # Replicated by quorums
//!
//! - [`register`]: ABD atomic registers (single- and multi-writer) and a register over
//!   Byzantine masking quorums, as step-function [`synod_core::Node`]s.
//! - [`consensus`]: Herlihy's quorum consensus — checked initial/final quorum sizes
//!   per operation — and a replicated FIFO queue built on it.
//!
//! ```
//! use synod_core::NodeId;
//! use synod_quorum::{Joint, Majority, QuorumKind, QuorumSystem, VoteResult};
//!
//! // A Raft cluster moving from {1, 2, 3} to {2, 3, 4}.
//! let joint = Joint::new(Majority::new([2, 3, 4].map(NodeId))?, Majority::new([1, 2, 3].map(NodeId))?);
//! let votes = |id: NodeId| match id.0 { 2 | 3 => Some(true), 1 => Some(false), _ => None };
//! assert_eq!(joint.vote_result(QuorumKind::Read, votes), VoteResult::Won);
//! let match_index = |id: NodeId| Some([0, 3, 8, 6, 2][id.0 as usize]);
//! assert_eq!(joint.committed_value(QuorumKind::Write, match_index), Some(6));
//! # Ok::<(), synod_quorum::QuorumError>(())
//! ```
#![doc(html_root_url = "https://docs.rs/synod-quorum/0.1.0")]

pub mod analysis;
mod byzantine;
pub mod consensus;
pub mod dynamo;
mod error;
mod flexible;
mod grid;
mod joint;
mod majority;
pub mod merkle;
pub mod register;
pub mod ring;
mod round;
mod system;
mod tally;
mod weighted;

pub use byzantine::{Byzantine, ByzantineKind};
pub use error::QuorumError;
pub use flexible::Flexible;
pub use grid::Grid;
pub use joint::Joint;
pub use majority::Majority;
pub use system::{Overlap, QuorumKind, QuorumSystem, VoteResult};
pub use tally::{Recorded, Tally};
pub use weighted::{WEIGHTED_MEMBERS_MAX, Weighted};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
