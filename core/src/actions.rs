//! The ordered action buffer a node writes its outputs into.

use crate::NodeId;

/// Names one background persist so that its completion can be acknowledged back to the
/// node as [`Input::Persisted`](crate::Input::Persisted).
///
/// The node chooses the number (Raft uses the last log index the write covers); the
/// runtime only echoes it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PersistToken(pub u64);

/// One output of a node. The runtime performs actions in the order the node produced
/// them; see the [crate docs](crate#the-action-order-rule) for the full rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action<M, P, E> {
    /// Send `msg` to one node.
    Send {
        /// The recipient.
        to: NodeId,
        /// The message.
        msg: M,
    },
    /// Send `msg` to every other node of the cluster the runtime knows (never to
    /// the sender itself). The runtime clones the message per recipient, so a
    /// broadcast costs the node one action, not one allocation per peer.
    Broadcast {
        /// The message.
        msg: M,
    },
    /// Make `data` durable. This is a **barrier**: the runtime performs no later action
    /// of the node (no send, no emit) until this write — and every earlier background
    /// write — is on stable storage. If the write fails the node must stop.
    Persist(P),
    /// Start making `data` durable, without holding back later actions. When the write
    /// (and every earlier write) is durable the runtime feeds
    /// [`Input::Persisted(token)`](crate::Input::Persisted) back to the node; until then
    /// the node must not send anything that depends on the write. This is how a Raft
    /// leader overlaps its own log write with replication (Raft thesis §10.2.1).
    PersistInBackground {
        /// Echoed back when durable.
        token: PersistToken,
        /// What to write.
        data: P,
    },
    /// Hand `event` to the local application (a committed entry, a reply, a decision).
    Emit(E),
}

/// A caller-owned, reusable, ordered buffer of [`Action`]s.
///
/// A runtime keeps one `Actions` per node, passes it to every
/// [`Node::step`](crate::Node::step), performs what it holds in order, and clears it.
/// Because the backing vector keeps its capacity across steps, a node in steady state
/// produces its outputs without allocating.
///
/// ```
/// use synod_core::{Action, Actions, NodeId};
/// let mut out: Actions<&str, u64, String> = Actions::new();
/// out.persist(7);
/// out.send(NodeId(2), "vote for me");
/// out.emit("became candidate".to_string());
/// let kinds: Vec<_> = out.drain().map(|a| match a {
///     Action::Persist(_) => "persist",
///     Action::Send { .. } => "send",
///     Action::Emit(_) => "emit",
///     _ => "other",
/// }).collect();
/// assert_eq!(kinds, ["persist", "send", "emit"]);
/// assert!(out.is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actions<M, P, E> {
    queue: Vec<Action<M, P, E>>,
}

impl<M, P, E> Default for Actions<M, P, E> {
    fn default() -> Self {
        Actions::new()
    }
}

impl<M, P, E> Actions<M, P, E> {
    /// An empty buffer.
    pub const fn new() -> Self {
        Actions { queue: Vec::new() }
    }

    /// An empty buffer with room for `capacity` actions before it first grows.
    pub fn with_capacity(capacity: usize) -> Self {
        Actions {
            queue: Vec::with_capacity(capacity),
        }
    }

    /// Queue a message to one node.
    pub fn send(&mut self, to: NodeId, msg: M) {
        self.queue.push(Action::Send { to, msg });
    }

    /// Queue a message to every other node of the cluster.
    pub fn broadcast(&mut self, msg: M) {
        self.queue.push(Action::Broadcast { msg });
    }

    /// Queue a barrier write: nothing after it happens before it is durable.
    pub fn persist(&mut self, data: P) {
        self.queue.push(Action::Persist(data));
    }

    /// Queue a background write, acknowledged later with `Input::Persisted(token)`.
    pub fn persist_in_background(&mut self, token: PersistToken, data: P) {
        self.queue.push(Action::PersistInBackground { token, data });
    }

    /// Queue an event for the local application.
    pub fn emit(&mut self, event: E) {
        self.queue.push(Action::Emit(event));
    }

    /// Queue any action.
    pub fn push(&mut self, action: Action<M, P, E>) {
        self.queue.push(action);
    }

    /// Number of queued actions.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The queued actions, oldest first, without removing them.
    pub fn as_slice(&self) -> &[Action<M, P, E>] {
        &self.queue
    }

    /// Remove and yield every queued action in order, keeping the buffer's capacity.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Action<M, P, E>> {
        self.queue.drain(..)
    }

    /// Drop every queued action, keeping the buffer's capacity.
    pub fn clear(&mut self) {
        self.queue.clear();
    }

    /// How many actions the buffer holds before it must grow.
    pub fn capacity(&self) -> usize {
        self.queue.capacity()
    }
}

impl<M, P, E> IntoIterator for Actions<M, P, E> {
    type Item = Action<M, P, E>;
    type IntoIter = std::vec::IntoIter<Action<M, P, E>>;
    fn into_iter(self) -> Self::IntoIter {
        self.queue.into_iter()
    }
}
