//! # synod-examples: Synod on a real runtime, a real network and a real disk
//!
//! The protocol crates are pure state machines; this crate shows the other half —
//! wiring one to tokio, TCP and files through `synod-core`'s [`Driver`](synod_core::Driver).
//!
//! - [`counter`]: a replicated grow-only counter, a small but complete
//!   [`Node`](synod_core::Node) that persists before it announces;
//! - [`tcp`]: a [`Transport`](synod_core::Transport) over TCP with length-prefixed
//!   frames, bounded per-peer queues and reconnection;
//! - [`file_storage`]: a [`Storage`](synod_core::Storage) that appends checksummed
//!   records to a file and recovers from torn writes;
//! - [`framing`]: the checksummed record framing both file formats share;
//! - [`raft_log`]: a segmented, file-backed log for `synod-raft` nodes, with snapshots
//!   and compaction;
//! - [`kv`]: a replicated key-value service on `synod-raft` with client sessions,
//!   ReadIndex gets, snapshots of the map and the session table,
//!   its client, and the kill-the-leader demo;
//! - [`streams`]: tokio timers and queues as the streams the driver consumes;
//! - [`cluster`]: the three-node crash-and-restart scenario that the
//!   `counter_cluster` example runs and the integration tests check.
//!
//! Run the demos from the workspace root with `cargo run --example raft_kv -- demo`
//! (a Raft key-value cluster that loses its leader) and
//! `cargo run --example counter_cluster`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cluster;
pub mod counter;
pub mod crc32;
pub mod file_storage;
pub mod framing;
pub mod kv;
pub mod raft_log;
pub mod streams;
pub mod tcp;
