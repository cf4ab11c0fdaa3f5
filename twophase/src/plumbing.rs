//! What the two commit protocols' nodes share below the protocol itself: messages a
//! node sends to itself (handled within the same step, never sent), tokens for
//! background writes, the once-per-life `Epoch` record, and violation reports.

use crate::{Event, TxId, Violation};
use std::collections::VecDeque;
use synod_core::{Actions, NodeId, PersistToken};

/// A node's outbound plumbing, generic over its message type `M`.
pub(crate) struct Plumbing<M> {
    id: NodeId,
    /// Messages this node sent to itself, handled within the same step.
    local: VecDeque<M>,
    next_token: u64,
    /// Whether this life's `Epoch` record has been logged (it is, before anything
    /// that depends on it leaves).
    epoch_logged: bool,
}

impl<M> Plumbing<M> {
    pub(crate) fn new(id: NodeId) -> Self {
        Plumbing {
            id,
            local: VecDeque::new(),
            next_token: 0,
            epoch_logged: false,
        }
    }

    /// Send, or queue for this same step when addressed to ourselves.
    pub(crate) fn send<P>(&mut self, to: NodeId, msg: M, out: &mut Actions<M, P, Event>) {
        if to == self.id {
            self.local.push_back(msg);
        } else {
            out.send(to, msg);
        }
    }

    /// The next message this node sent to itself, in the order they were "sent".
    pub(crate) fn next_local(&mut self) -> Option<M> {
        self.local.pop_front()
    }

    /// Write `record` in the background (nothing waits for it).
    pub(crate) fn background<P>(&mut self, record: P, out: &mut Actions<M, P, Event>) {
        self.next_token += 1;
        out.persist_in_background(PersistToken(self.next_token), record);
    }

    /// Force `epoch_record` once per life, before the first message that depends on it.
    pub(crate) fn ensure_epoch<P>(&mut self, epoch_record: P, out: &mut Actions<M, P, Event>) {
        if !self.epoch_logged {
            self.epoch_logged = true;
            out.persist(epoch_record);
        }
    }
}

/// Tell the application that peer `from` broke the protocol in `tx`.
pub(crate) fn report_violation<M, P>(
    tx: TxId,
    from: NodeId,
    violation: Violation,
    out: &mut Actions<M, P, Event>,
) {
    out.emit(Event::ProtocolViolation {
        tx,
        from,
        violation,
    });
}
