//! A replicated key-value service on `synod-raft`: the state machine, the client wire
//! protocol, a server that runs one node over TCP with a [file-backed
//! log](crate::raft_log), a client, and the crash-the-leader demo.
//!
//! - [`store`]: commands (put, get, append, register) applied exactly once per client
//!   request through [`synod_raft::session::Sessions`] (thesis §6.3);
//! - [`wire`]: the client protocol, length-prefixed postcard frames;
//! - [`server`]: one node — [`RaftNode`](synod_raft::RaftNode), [`Driver`](synod_core::Driver),
//!   TCP between peers, a client listener, proposals answered when they commit;
//! - [`client`]: registers a session, numbers requests, follows leader hints, retries;
//! - [`demo`]: three nodes, writes, kill the leader, check every acknowledged write on
//!   the new leader, restart the killed node and watch it catch up.
//!
//! Gets go through the log (they are linearizable because they are ordered with the
//! writes); ReadIndex reads will avoid the log write once `synod-raft` has them.

pub mod client;
pub mod demo;
pub mod server;
pub mod store;
pub mod wire;
