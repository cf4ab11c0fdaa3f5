//! The client protocol: one request, one reply, each a frame
//! `[len: u32 big-endian][postcard]` of at most [`MAX_FRAME_BYTES`].

use super::store::{Command, KvResponse};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io;
use synod_core::NodeId;
use synod_raft::Role;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest client frame either side sends or accepts.
pub const MAX_FRAME_BYTES: u32 = 1 << 20;

/// What a client asks a node.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ClientRequest {
    /// Run a command through the log.
    Command(Command),
    /// Read `key` linearizably without writing to the log: the node asks Raft for a
    /// read index (thesis §6.4; a follower forwards the request to its leader) and
    /// answers from its map once it has applied through that index.
    Read {
        /// The key.
        key: String,
    },
    /// Report this node's view (answered locally, not through the log).
    Status,
}

/// A node's answer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ClientReply {
    /// The command committed and was applied; this is its response.
    Done(KvResponse),
    /// This node does not lead; try `leader` if known.
    NotLeader {
        /// The leader this node knows of.
        leader: Option<NodeId>,
    },
    /// The command may or may not commit (leadership changed, a limit was hit): retry
    /// it with the same sequence number.
    Retry {
        /// Why.
        reason: String,
    },
    /// A [`ClientRequest::Read`] could not be served by this node (it knows no
    /// leader, the leadership changed, too many reads wait, or the read timed out):
    /// nothing was read. Retry, at `leader` if it is known.
    ReadFailed {
        /// The leader to retry at, if this node knows one.
        leader: Option<NodeId>,
        /// Why ([`synod_raft::ReadError`] as text).
        reason: String,
    },
    /// The answer to [`ClientRequest::Status`].
    Status(NodeStatus),
    /// The request can never succeed as sent (a command over the proposal size
    /// limit): do not retry it.
    Refused {
        /// Why.
        reason: String,
    },
}

/// A node's view of itself, as its application sees it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeStatus {
    /// The node.
    pub id: NodeId,
    /// Its role.
    pub role: Role,
    /// Its term.
    pub term: u64,
    /// The leader it knows of.
    pub leader: Option<NodeId>,
    /// The last log index applied to its map.
    pub applied: u64,
    /// The index of its latest snapshot (taken, installed from the leader, or
    /// restored at start-up); 0 without one.
    pub snapshot: u64,
    /// Keys in its map.
    pub keys: usize,
    /// [`KvStore::digest`](super::store::KvStore::digest) of its map.
    pub digest: u32,
}

/// Write one frame and flush.
pub async fn write_frame<T: Serialize>(
    conn: &mut (impl AsyncWrite + Unpin),
    value: &T,
) -> io::Result<()> {
    let payload = postcard::to_stdvec(value).map_err(io::Error::other)?;
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&len| len <= MAX_FRAME_BYTES)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    conn.write_all(&len.to_be_bytes()).await?;
    conn.write_all(&payload).await?;
    conn.flush().await
}

/// Read one frame; a length over [`MAX_FRAME_BYTES`] or an undecodable payload is
/// `InvalidData` (and nothing beyond the limit is allocated).
pub async fn read_frame<T: DeserializeOwned>(conn: &mut (impl AsyncRead + Unpin)) -> io::Result<T> {
    let len = conn.read_u32().await?;
    if len > MAX_FRAME_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut payload = vec![0u8; len as usize];
    conn.read_exact(&mut payload).await?;
    postcard::from_bytes(&payload).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}
