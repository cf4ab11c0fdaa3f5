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
//! Gets do not go through the log: the server asks Raft for a read index
//! (`Request::Read`, thesis §6.4) and answers from its map once it has applied through
//! that index, so any node — followers forward the request to their leader — serves a
//! linearizable read without a log write.

pub mod client;
pub mod demo;
pub mod server;
pub mod store;
pub mod wire;
