//! The register protocol's vocabulary: tags, messages, requests and events.

use bytes::Bytes;
use synod_core::NodeId;

/// The version of a register value: a timestamp, ties broken by the writer's id, so
/// two writers never produce the same tag. Ordered lexicographically.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Tag {
    /// Higher is newer.
    pub timestamp: u64,
    /// The client that wrote it.
    pub writer: NodeId,
}

/// A value with its tag: what a server stores and persists. The initial value is
/// empty with tag `(0, n0)`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Tagged {
    /// The version.
    pub tag: Tag,
    /// The value.
    pub value: Bytes,
}

/// A client's operation number: replies carry it back, so a reply to an earlier,
/// finished operation is recognised and ignored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct OpNumber(pub u64);

/// Messages between register clients and servers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RegisterMessage {
    /// Client → server: what do you hold?
    Query {
        /// The client's operation.
        op: OpNumber,
    },
    /// Server → client: this.
    QueryReply {
        /// The operation asked about.
        op: OpNumber,
        /// The server's value and tag.
        stored: Tagged,
    },
    /// Client → server: keep this if it is newer than yours.
    Store {
        /// The client's operation.
        op: OpNumber,
        /// The value and tag to keep.
        stored: Tagged,
    },
    /// Server → client: you are stored (or something newer is).
    StoreAck {
        /// The operation acknowledged.
        op: OpNumber,
    },
}

/// What the application asks a register client to do.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RegisterRequest {
    /// Read the value.
    Read,
    /// Overwrite the value.
    Write(Bytes),
}

/// What a register node tells the application.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RegisterEvent {
    /// A read finished with this value (empty if never written) and tag.
    Read {
        /// The operation.
        op: OpNumber,
        /// What it read.
        read: Tagged,
    },
    /// A write finished: the value is stored with `tag` at a write quorum.
    Written {
        /// The operation.
        op: OpNumber,
        /// The tag it was written with.
        tag: Tag,
    },
    /// A request was refused; nothing was done.
    Rejected(RequestError),
}

/// Why a register request was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RequestError {
    /// A client runs one operation at a time (it is one sequential process of the
    /// register's specification); this one is still running.
    #[error("operation {0:?} is still running")]
    Busy(OpNumber),
    /// The node is a server; send requests to a client.
    #[error("this node is a register server, not a client")]
    NotAClient,
    /// Timestamps are used up: the highest tag seen has timestamp `u64::MAX`.
    #[error("timestamps are exhausted")]
    TimestampExhausted,
}
