//! The trait every Synod state machine implements.

use crate::{Actions, NodeId, PersistToken};

/// One input to a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input<M, R> {
    /// One unit of logical time passed. Timeouts are counted in ticks.
    Tick,
    /// A message arrived from a peer. It may be stale, duplicated, reordered or (for
    /// Byzantine protocols) malicious: the node must survive all of that.
    Message {
        /// Who the transport says sent it.
        from: NodeId,
        /// The message.
        msg: M,
    },
    /// The local application asks for something (propose, read, put, ...).
    Request(R),
    /// A background write with this token, and every write before it, is durable.
    Persisted(PersistToken),
}

/// A pure, deterministic protocol state machine: the one trait every Synod protocol
/// node implements, and the only thing the simulator and the driver need to run it.
///
/// # How to drive it
///
/// 1. Build the node from its configuration and whatever its storage made durable.
/// 2. For every input — a [`Tick`](Input::Tick) from your timer, a decoded
///    [`Message`](Input::Message) from the network, a [`Request`](Input::Request) from
///    the application, a [`Persisted`](Input::Persisted) acknowledgement from storage —
///    call [`step`](Node::step) with one reusable [`Actions`] buffer.
/// 3. Perform the buffer's actions **in order** (the
///    [action-order rule](crate#the-action-order-rule)), then clear it.
///
/// `step` never blocks, never does I/O, never reads a clock and never draws from a
/// global random source; given the same inputs in the same order it produces the same
/// outputs. That is what lets [`synod-sim`](https://docs.rs/synod-sim) replay a failing
/// run from its seed.
///
/// # Example
///
/// A node that counts requests, persists each count before telling its peers, and
/// reports peers' counts to the application:
///
/// ```
/// use synod_core::{Action, Actions, Input, Node, NodeId};
///
/// struct Counter { id: NodeId, count: u64 }
///
/// impl Node for Counter {
///     type Message = u64;
///     type Request = ();
///     type Persist = u64;
///     type Event = (NodeId, u64);
///
///     fn id(&self) -> NodeId { self.id }
///
///     fn step(&mut self, input: Input<u64, ()>, out: &mut Actions<u64, u64, (NodeId, u64)>) {
///         match input {
///             Input::Request(()) => {
///                 self.count += 1;
///                 out.persist(self.count);      // durable first ...
///                 out.broadcast(self.count);    // ... then announced
///             }
///             Input::Message { from, msg } => out.emit((from, msg)),
///             Input::Tick | Input::Persisted(_) => {}
///         }
///     }
/// }
///
/// let mut node = Counter { id: NodeId(1), count: 0 };
/// let mut out = Actions::new();
/// node.step(Input::Request(()), &mut out);
/// assert_eq!(out.as_slice(), &[Action::Persist(1), Action::Broadcast { msg: 1 }]);
/// ```
pub trait Node {
    /// What peers exchange.
    type Message;
    /// What the local application asks of the node.
    type Request;
    /// What the node hands to its storage in [`Action::Persist`](crate::Action::Persist).
    type Persist;
    /// What the node tells the local application.
    type Event;

    /// This node's id.
    fn id(&self) -> NodeId;

    /// Consume one input and append the resulting actions to `out`, in the order the
    /// runtime must perform them. `out` may already hold actions from earlier steps;
    /// the node only appends.
    fn step(
        &mut self,
        input: Input<Self::Message, Self::Request>,
        out: &mut Actions<Self::Message, Self::Persist, Self::Event>,
    );
}

/// The [`Actions`] buffer type of a node `N`.
pub type ActionsOf<N> = Actions<<N as Node>::Message, <N as Node>::Persist, <N as Node>::Event>;

/// The [`Input`] type of a node `N`.
pub type InputOf<N> = Input<<N as Node>::Message, <N as Node>::Request>;
