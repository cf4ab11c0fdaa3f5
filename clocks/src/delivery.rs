//! Causal delivery (Birman, Schiper, Stephenson 1991): hold broadcast messages until
//! everything they causally depend on has been delivered.

use crate::{ClockError, VersionVector};
use synod_core::NodeId;

/// A broadcast message with its causal metadata: the sender's vector clock counting
/// *broadcasts* (including this one).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CausalMessage<T> {
    /// Who broadcast it.
    pub sender: NodeId,
    /// For each node, how many of its broadcasts the sender had delivered when it sent
    /// this, with the sender's own entry counting this message.
    pub clock: VersionVector,
    /// The application payload.
    pub payload: T,
}

/// What [`CausalBuffer::receive`] did with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Receipt {
    /// Held until it can be delivered (possibly at once: call
    /// [`CausalBuffer::pop_ready`]).
    Buffered,
    /// Already delivered or already buffered: dropped (networks duplicate).
    Duplicate,
}

/// The buffer is full: the message was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// `capacity` messages are waiting for missing dependencies. The sender should
    /// retransmit later (the missing messages must arrive first); a buffer that stays
    /// full means a peer lost messages for good or is sending clocks from the future.
    #[error("causal delivery buffer full ({capacity} messages waiting for dependencies)")]
    Full {
        /// The configured bound.
        capacity: usize,
    },
    /// A clock could not count another broadcast.
    #[error(transparent)]
    Clock(#[from] ClockError),
}

/// One node's causal-broadcast state: what it has delivered, and a bounded buffer
/// of messages that arrived before their dependencies.
///
/// A message `m` from `s` is delivered once the node has delivered exactly
/// `m.clock[s] − 1` broadcasts of `s` and, for every other node `k`, at least
/// `m.clock[k]` of `k`'s. So if a broadcast causally precedes another, every node
/// delivers it first, whatever order the network used.
///
/// ```
/// use synod_clocks::{CausalBuffer, Receipt};
/// use synod_core::NodeId;
/// let (a, b, c) = (NodeId(1), NodeId(2), NodeId(3));
/// let (mut at_a, mut at_b, mut at_c) =
///     (CausalBuffer::new(a, 16), CausalBuffer::new(b, 16), CausalBuffer::new(c, 16));
/// let question = at_a.broadcast("lunch?")?;
/// at_b.receive(question.clone())?;
/// assert_eq!(at_b.pop_ready().map(|m| m.payload), Some("lunch?"));
/// let answer = at_b.broadcast("yes!")?;             // depends on the question
/// // c hears the answer first: it waits for the question.
/// assert_eq!(at_c.receive(answer)?, Receipt::Buffered);
/// assert!(at_c.pop_ready().is_none());
/// at_c.receive(question)?;
/// let order: Vec<_> = std::iter::from_fn(|| at_c.pop_ready()).map(|m| m.payload).collect();
/// assert_eq!(order, ["lunch?", "yes!"]);
/// # Ok::<(), synod_clocks::DeliveryError>(())
/// ```
#[derive(Clone, Debug)]
pub struct CausalBuffer<T> {
    me: NodeId,
    delivered: VersionVector,
    pending: Vec<CausalMessage<T>>,
    capacity: usize,
}

impl<T> CausalBuffer<T> {
    /// A node `me` that buffers at most `capacity` undeliverable messages.
    pub fn new(me: NodeId, capacity: usize) -> Self {
        CausalBuffer {
            me,
            delivered: VersionVector::new(),
            pending: Vec::new(),
            capacity,
        }
    }

    /// What this node has delivered (its own broadcasts included).
    pub fn delivered(&self) -> &VersionVector {
        &self.delivered
    }

    /// Messages waiting for dependencies.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Stamp `payload` for broadcast and deliver it locally (a node's own broadcast
    /// is delivered when sent). Send the result to every other node.
    ///
    /// # Errors
    /// [`DeliveryError::Clock`] if this node's counter is at `u64::MAX`.
    pub fn broadcast(&mut self, payload: T) -> Result<CausalMessage<T>, DeliveryError> {
        self.delivered.increment(self.me)?;
        Ok(CausalMessage {
            sender: self.me,
            clock: self.delivered.clone(),
            payload,
        })
    }

    /// Accept a message from the network.
    ///
    /// # Errors
    /// [`DeliveryError::Full`] if `capacity` messages are already waiting and this
    /// one cannot be delivered at once either.
    pub fn receive(&mut self, message: CausalMessage<T>) -> Result<Receipt, DeliveryError> {
        let counter = message.clock.get(message.sender);
        let stale = counter <= self.delivered.get(message.sender);
        let buffered = self
            .pending
            .iter()
            .any(|p| p.sender == message.sender && p.clock.get(p.sender) == counter);
        if stale || buffered {
            return Ok(Receipt::Duplicate);
        }
        // A message deliverable at once is always accepted (it waits for nothing,
        // and it may be the one the full buffer is waiting for); `pop_ready`
        // removes it, so the buffer exceeds its bound by at most that one.
        if self.pending.len() >= self.capacity && !self.deliverable(&message) {
            return Err(DeliveryError::Full {
                capacity: self.capacity,
            });
        }
        self.pending.push(message);
        Ok(Receipt::Buffered)
    }

    fn deliverable(&self, m: &CausalMessage<T>) -> bool {
        m.clock.iter().all(|(k, n)| {
            let have = self.delivered.get(k);
            if k == m.sender {
                have.checked_add(1) == Some(n)
            } else {
                n <= have
            }
        })
    }

    /// The next message whose dependencies are all delivered, marked delivered; `None`
    /// if every buffered message still waits. Messages come out in arrival order
    /// among those ready, so the result is deterministic.
    pub fn pop_ready(&mut self) -> Option<CausalMessage<T>> {
        let i = self.pending.iter().position(|m| self.deliverable(m))?;
        let m = self.pending.remove(i);
        self.delivered
            .insert(crate::Dot::new(m.sender, m.clock.get(m.sender)));
        Some(m)
    }
}
