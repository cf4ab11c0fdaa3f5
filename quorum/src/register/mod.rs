//! Atomic registers replicated by quorums alone: no leader, no log.
//!
//! A register holds one value; every replica ([`RegisterServer`]) keeps the value with
//! the highest [`Tag`] it has seen. Clients do the work in two phases against a
//! quorum system — *query* a read quorum for the highest tag, then *store* to a write
//! quorum — so that any two operations meet at some server:
//!
//! - [`AbdClient`]: Attiya, Bar-Noy & Dolev (1995), single- and multi-writer. Writes
//!   query for the highest tag and store a higher one; reads query and then write the
//!   value they return back to a quorum, so a later read cannot return an older value.
//!   Linearizable with crash failures of fewer than a quorum's complement (n ≥ 2f + 1
//!   with majorities), under loss, duplication and reordering.
//! - [`MaskingClient`]: a register over a Byzantine masking quorum system (Malkhi &
//!   Reiter 1998): up to f servers may lie, so a read only believes a value that f + 1
//!   servers vouch for.
//!
//! [`RegisterNode`] puts servers and both kinds of client in one node type so they can
//! share a simulated cluster.

mod abd;
mod masking;
mod message;
mod node;
mod phase;
mod server;

pub use abd::{AbdClient, AbdConfig, ReadMode, Writers};
pub use masking::MaskingClient;
pub use message::{
    OpNumber, RegisterEvent, RegisterMessage, RegisterRequest, RequestError, Tag, Tagged,
};
pub use node::RegisterNode;
pub use server::RegisterServer;

/// The output buffer every register node writes to.
pub(crate) type RegisterActions = synod_core::Actions<RegisterMessage, Tagged, RegisterEvent>;
