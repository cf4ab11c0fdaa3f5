//! What the two commit protocols' nodes share below the protocol itself: messages a
//! node sends to itself (handled within the same step, never sent), tokens for
//! background writes, the once-per-life `Epoch` record, and violation reports.

use crate::{Event, TxId, Violation};
use std::collections::VecDeque;
use synod_core::{Actions, Node, NodeId, PersistToken};

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

/// The `Actions` buffer of a commit-protocol node `N`.
pub(crate) type NodeActions<N> = Actions<<N as Node>::Message, <N as Node>::Persist, Event>;

/// What a commit-protocol node gives its [`Plumbing`] to work with; in return it gets
/// the sending, logging and reporting helpers every role of both protocols calls.
pub(crate) trait CommitNode: Node<Event = Event> {
    /// The node's plumbing.
    fn plumbing(&mut self) -> &mut Plumbing<Self::Message>;
    /// The record that marks this life's epoch.
    fn epoch_record(&self) -> Self::Persist;
    /// The node's count of reported violations.
    fn violations(&mut self) -> &mut u64;
    /// Handle one message (from a peer, or from this node to itself).
    fn on_message(&mut self, from: NodeId, msg: Self::Message, out: &mut NodeActions<Self>);

    /// Send, or queue for this same step when addressed to ourselves.
    fn send(&mut self, to: NodeId, msg: Self::Message, out: &mut NodeActions<Self>) {
        self.plumbing().send(to, msg, out);
    }

    /// Write `record` in the background (nothing waits for it).
    fn background(&mut self, record: Self::Persist, out: &mut NodeActions<Self>) {
        self.plumbing().background(record, out);
    }

    /// Log this life's epoch before the first message that depends on it.
    fn ensure_epoch(&mut self, out: &mut NodeActions<Self>) {
        let record = self.epoch_record();
        self.plumbing().ensure_epoch(record, out);
    }

    /// Count, and tell the application, that peer `from` broke the protocol in `tx`.
    fn violation(
        &mut self,
        tx: TxId,
        from: NodeId,
        violation: Violation,
        out: &mut NodeActions<Self>,
    ) {
        *self.violations() += 1;
        out.emit(Event::ProtocolViolation {
            tx,
            from,
            violation,
        });
    }

    /// Handle the messages this node sent to itself during the step, in the order
    /// they were "sent" (handling one may queue more).
    fn handle_local(&mut self, out: &mut NodeActions<Self>) {
        while let Some(msg) = self.plumbing().next_local() {
            let me = self.id();
            self.on_message(me, msg, out);
        }
    }
}
