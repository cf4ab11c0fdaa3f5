//! The network side of the driver: frames out through a [`Transport`], frames in as a
//! stream of [`Envelope`]s.

use crate::NodeId;
use bytes::Bytes;

/// One frame received from the network, before decoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The sender, as authenticated (or at least claimed) by the transport.
    pub from: NodeId,
    /// The encoded message.
    pub frame: Bytes,
}

/// Why a frame could not be handed to the network.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The transport has no route to this node.
    #[error("no route to {0}")]
    UnknownPeer(NodeId),
    /// The peer's outbound queue is full; the frame was dropped. Protocols retransmit.
    #[error("outbound queue to {0} is full")]
    Backpressure(NodeId),
    /// The link to the peer is down.
    #[error("link to {peer} failed: {source}")]
    Link {
        /// The peer.
        peer: NodeId,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Sends frames to peers. Implement it for your network (TCP, QUIC, a message bus, an
/// in-memory channel in tests).
///
/// `send` should *enqueue* rather than wait for the peer: one slow peer must not hold
/// up a node's traffic to the others. Every Synod protocol tolerates loss, so dropping
/// a frame under backpressure (and returning [`TransportError::Backpressure`]) is
/// correct. The driver also bounds how long it waits on a stalled `send`
/// ([`DriverConfig::send_timeout_ticks`](crate::DriverConfig::send_timeout_ticks)).
#[async_trait::async_trait]
pub trait Transport: Send + Sync {
    /// Hand one frame to the network for delivery to `to`.
    async fn send(&self, to: NodeId, frame: Bytes) -> Result<(), TransportError>;
}
