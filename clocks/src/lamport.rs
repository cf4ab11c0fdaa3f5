//! Lamport clocks (Lamport 1978): one counter per process, a total order with the
//! node id as tie-break.

use crate::ClockError;
use synod_core::NodeId;

/// A Lamport timestamp: a logical time and the node that issued it.
///
/// Timestamps order first by time, then by node id, which makes the order total: two
/// distinct events never compare equal. The *clock condition* holds: if event `a`
/// happened before event `b`, then `L(a) < L(b)`. The converse does not: a smaller
/// timestamp says nothing about causality (use a vector clock for that).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LamportTimestamp {
    /// The logical time (compared first).
    pub time: u64,
    /// The issuing node (breaks ties).
    pub node: NodeId,
}

/// A node's Lamport clock.
///
/// - a local event and a send both increment the counter ([`event`](Self::event),
///   [`send`](Self::send));
/// - a receive sets the counter to one more than the larger of the local and the
///   message's time ([`receive`](Self::receive)).
///
/// The three-process diagram from the course notes (P1: a, b, g; P2: c, d; P3: e, f;
/// b sends to c, d sends to f):
///
/// ```
/// use synod_clocks::LamportClock;
/// use synod_core::NodeId;
/// let (mut p1, mut p2, mut p3) =
///     (LamportClock::new(NodeId(1)), LamportClock::new(NodeId(2)), LamportClock::new(NodeId(3)));
/// let a = p1.event()?;
/// let b = p1.send()?;
/// let g = p1.event()?;
/// let c = p2.receive(b.time)?;
/// let d = p2.send()?;
/// let e = p3.event()?;
/// let f = p3.receive(d.time)?;
/// let times: Vec<u64> = [a, b, g, c, d, e, f].iter().map(|t| t.time).collect();
/// assert_eq!(times, [1, 2, 3, 3, 4, 1, 5]);
/// assert!(g < c); // a total order: equal times are ordered by node id
/// # Ok::<(), synod_clocks::ClockError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LamportClock {
    node: NodeId,
    time: u64,
}

impl LamportClock {
    /// A clock for `node` at time 0 (no events yet).
    pub const fn new(node: NodeId) -> Self {
        LamportClock { node, time: 0 }
    }

    /// A clock for `node` resumed at `time` (from durable state).
    pub const fn resume(node: NodeId, time: u64) -> Self {
        LamportClock { node, time }
    }

    /// The node this clock belongs to.
    pub const fn node(&self) -> NodeId {
        self.node
    }

    /// The time of the latest event (0 before any).
    pub const fn time(&self) -> u64 {
        self.time
    }

    /// The timestamp of the latest event.
    pub const fn now(&self) -> LamportTimestamp {
        LamportTimestamp {
            time: self.time,
            node: self.node,
        }
    }

    /// Record a local event and return its timestamp.
    ///
    /// # Errors
    /// [`ClockError::Overflow`] if the counter is at `u64::MAX`.
    pub fn event(&mut self) -> Result<LamportTimestamp, ClockError> {
        self.time = self.time.checked_add(1).ok_or(ClockError::Overflow)?;
        Ok(self.now())
    }

    /// Record a send and return the timestamp to put on the message.
    ///
    /// # Errors
    /// [`ClockError::Overflow`] if the counter is at `u64::MAX`.
    pub fn send(&mut self) -> Result<LamportTimestamp, ClockError> {
        self.event()
    }

    /// Record the receipt of a message stamped `remote_time` and return the receive
    /// event's timestamp, which is larger than both the local and the remote time.
    ///
    /// # Errors
    /// [`ClockError::Overflow`] if the larger of the two times is `u64::MAX` (a peer
    /// can send that; the clock stays unchanged).
    pub fn receive(&mut self, remote_time: u64) -> Result<LamportTimestamp, ClockError> {
        self.time = self
            .time
            .max(remote_time)
            .checked_add(1)
            .ok_or(ClockError::Overflow)?;
        Ok(self.now())
    }
}
