//! One round trip from a client to every server: send, collect replies, retransmit.

use synod_core::{Actions, NodeId};

use crate::register::OpNumber;
use crate::tally::{Recorded, Tally};

/// A request sent to every server, with the replies collected so far.
///
/// The request is re-sent, on every `retransmit_ticks`-th tick, to the servers that
/// have not answered: messages may be lost, and servers handle duplicates. Replies
/// are counted once per server, through a [`Tally`].
#[derive(Clone, Debug)]
pub(crate) struct Round<T, M> {
    pub(crate) op: OpNumber,
    request: M,
    pub(crate) replies: Tally<T>,
    ticks_since_send: u32,
}

impl<T, M: Clone> Round<T, M> {
    /// Start a round: send `request` to every server.
    pub(crate) fn start<P, E>(
        op: OpNumber,
        request: M,
        servers: &[NodeId],
        out: &mut Actions<M, P, E>,
    ) -> Self {
        for &server in servers {
            out.send(server, request.clone());
        }
        Round {
            op,
            request,
            replies: Tally::new(servers),
            ticks_since_send: 0,
        }
    }

    /// Count a tick; re-send to the silent servers when the timeout is reached.
    pub(crate) fn on_tick<P, E>(&mut self, retransmit_ticks: u32, out: &mut Actions<M, P, E>) {
        self.ticks_since_send += 1;
        if self.ticks_since_send >= retransmit_ticks {
            self.ticks_since_send = 0;
            for server in self.replies.missing() {
                out.send(server, self.request.clone());
            }
        }
    }

    /// Record a reply to operation `op` from `from`; false if it is for another
    /// operation, a duplicate, or from a non-server.
    pub(crate) fn record(&mut self, op: OpNumber, from: NodeId, reply: T) -> bool {
        op == self.op && self.replies.record(from, reply) == Recorded::New
    }
}
