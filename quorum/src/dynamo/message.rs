//! The store's vocabulary: requests, events, messages and durable records.

use bytes::Bytes;
use synod_clocks::{DvvSet, VersionVector};
use synod_core::NodeId;

/// A key's versions: concurrent values as siblings, with their causal history.
pub type Versions = DvvSet<Bytes>;

/// What the application asks a node (the key's coordinator).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum DynamoRequest {
    /// Read every sibling of `key`.
    Get {
        /// The application's tag for this request, echoed in the event.
        op: u64,
        /// The key.
        key: Bytes,
    },
    /// Write `value`, replacing the versions `context` (from an earlier get) covers.
    Put {
        /// The application's tag.
        op: u64,
        /// The key.
        key: Bytes,
        /// The value.
        value: Bytes,
        /// The context of the get this write follows (empty for a blind write).
        context: VersionVector,
    },
}

/// What a node tells the application.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum DynamoEvent {
    /// A get finished: the siblings (empty if never written) and the context to write
    /// back with.
    Got {
        /// The request's tag.
        op: u64,
        /// Every concurrent value, in a deterministic order.
        values: Vec<Bytes>,
        /// Pass this to the next put of the key.
        context: VersionVector,
    },
    /// A put is stored at W nodes.
    Put {
        /// The request's tag.
        op: u64,
    },
    /// A request failed or was refused; a put may still have reached some replicas.
    Failed {
        /// The request's tag.
        op: u64,
        /// Why.
        error: DynamoError,
    },
}

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum DynamoError {
    /// This node is not in the key's preference list: send the request to one of these.
    #[error("not a replica of this key; try {preferred:?}")]
    NotAReplica {
        /// The key's preference list.
        preferred: Vec<NodeId>,
    },
    /// Fewer than R (or W) nodes answered within the request timeout.
    #[error("only {answered} of the {needed} needed nodes answered in time")]
    Timeout {
        /// Answers received.
        answered: usize,
        /// R or W.
        needed: usize,
    },
    /// The request's tag is already in use by a running request.
    #[error("request tag {0} is already running")]
    DuplicateOp(u64),
    /// Too many requests are running.
    #[error("too many requests in flight")]
    Overloaded,
    /// The coordinator's counter for this key is exhausted.
    #[error("version counter overflow")]
    Overflow,
}

/// Messages between nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum DynamoMessage {
    /// Coordinator → replica: send me your versions of `key`.
    Read {
        /// The coordinator's request number.
        req: u64,
        /// The key.
        key: Bytes,
    },
    /// Replica → coordinator.
    ReadReply {
        /// The request number.
        req: u64,
        /// The replica's versions.
        versions: Versions,
    },
    /// Merge these versions of `key`; if `hint` names another node, keep them for it.
    Replicate {
        /// The coordinator's request number (0 for repairs and handoffs).
        req: u64,
        /// The key.
        key: Bytes,
        /// The versions to merge.
        versions: Versions,
        /// The replica this copy is meant for, when sent to a stand-in.
        hint: Option<NodeId>,
        /// Set when a stand-in hands a hint back: a fingerprint the acknowledgement
        /// echoes, so the stand-in drops the hint only if it has not grown since.
        handoff: Option<u64>,
    },
    /// Merged and durable.
    ReplicateAck {
        /// The request number.
        req: u64,
        /// The key (identifies handoff acknowledgements).
        key: Bytes,
        /// The handoff fingerprint being acknowledged, if this was a handoff.
        handoff: Option<u64>,
    },
    /// Anti-entropy: compare these tree nodes with yours; answer with the children of
    /// those that differ, or with the contents of differing buckets.
    TreeHashes {
        /// (heap index, hash) pairs.
        nodes: TreeNodes,
    },
    /// Anti-entropy: the sender's keys in `buckets`, to merge.
    BucketEntries {
        /// The buckets these entries cover.
        buckets: Vec<u32>,
        /// Keys and versions.
        entries: Vec<(Bytes, Versions)>,
        /// Whether the receiver should answer with its own entries of these buckets.
        reply: bool,
    },
}

/// Anti-entropy: hashes of nodes (heap index, hash) of the sender's Merkle tree over
/// the keys it shares with the receiver.
pub type TreeNodes = Vec<(u32, u64)>;

/// What a node persists: its versions of a key, a hint it holds, or a handed-off hint.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum DynamoRecord {
    /// The node's versions of `key` (replaces earlier records of the key).
    Key {
        /// The key.
        key: Bytes,
        /// Its versions.
        versions: Versions,
    },
    /// A hint held for `owner`.
    Hint {
        /// The intended replica.
        owner: NodeId,
        /// The key.
        key: Bytes,
        /// The versions to hand back.
        versions: Versions,
    },
    /// The hint for (`owner`, `key`) was handed back.
    HandedOff {
        /// The intended replica.
        owner: NodeId,
        /// The key.
        key: Bytes,
    },
}
