//! The ABD register client (Attiya, Bar-Noy & Dolev 1995).

use bytes::Bytes;
use synod_core::NodeId;

use super::RegisterActions;
use super::message::{OpNumber, RegisterEvent, RegisterMessage, RequestError, Tag, Tagged};
use super::phase::Phase;
use crate::system::{QuorumKind, QuorumSystem};

/// Who may write the register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Writers {
    /// This client is the only writer (SWMR ABD): once it knows the highest timestamp
    /// it writes in one round trip, counting up by itself. After a restart its first
    /// write queries again. Two clients configured `Single` that both write break
    /// atomicity — the configuration promises they do not.
    Single,
    /// Any client may write (MWMR ABD): every write first queries for the highest tag.
    Multi,
}

/// What a read guarantees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ReadMode {
    /// Linearizable: the read writes what it returns back to a write quorum before
    /// returning — skipped when a write quorum already reported that very tag.
    Atomic,
    /// Lamport's *regular* register: one round trip, no write-back. A read returns the
    /// last value written before it or one being written concurrently, but two reads
    /// concurrent with one write may see new-then-old: not linearizable (the tests show
    /// the checker catching exactly that).
    Regular,
}

/// Configuration of an [`AbdClient`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AbdConfig {
    /// Single- or multi-writer.
    pub writers: Writers,
    /// Atomic or regular reads.
    pub reads: ReadMode,
    /// Re-send to silent servers every this many ticks (at least 1).
    pub retransmit_ticks: u32,
}

impl Default for AbdConfig {
    /// Multi-writer, atomic reads, retransmit every 5 ticks.
    fn default() -> Self {
        AbdConfig {
            writers: Writers::Multi,
            reads: ReadMode::Atomic,
            retransmit_ticks: 5,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Done {
    Read,
    Written,
}

/// A client of an ABD register over any quorum system `Q` (a [`Majority`] of n ≥ 2f + 1
/// servers in the paper; any system whose read and write quorums intersect works).
///
/// One operation at a time: a request while one runs is refused with
/// [`RequestError::Busy`]. Operations survive message loss (retransmission) and the
/// crash of servers outside some quorum; they wait, retrying, while no quorum answers.
///
/// ```
/// use std::collections::VecDeque;
/// use bytes::Bytes;
/// use synod_core::{Action, Actions, NodeId};
/// use synod_quorum::Majority;
/// use synod_quorum::register::{AbdClient, AbdConfig, RegisterEvent, RegisterServer};
///
/// let me = NodeId(10);
/// let mut servers: Vec<RegisterServer> = (1..=3).map(|i| RegisterServer::new(NodeId(i))).collect();
/// let mut client = AbdClient::new(me, Majority::new((1..=3).map(NodeId))?, AbdConfig::default());
///
/// // Deliver every message in order, except to server 3, which is down: a majority suffices.
/// let mut run = |client: &mut AbdClient<Majority>, first: Actions<_, _, _>| {
///     let mut events = Vec::new();
///     let mut queue: VecDeque<_> = first.as_slice().iter().cloned().map(|a| (me, a)).collect();
///     while let Some((from, action)) = queue.pop_front() {
///         let mut next = Actions::new();
///         let at = match action {
///             Action::Send { to, msg } if to == me => { client.on_message(from, msg, &mut next); me }
///             Action::Send { to, msg } if to.0 <= 2 => {
///                 servers[to.0 as usize - 1].on_message(from, msg, &mut next);
///                 to
///             }
///             Action::Emit(event) => { events.push(event); continue }
///             _ => continue, // persistence is in memory here; server 3 drops everything
///         };
///         queue.extend(next.as_slice().iter().cloned().map(|a| (at, a)));
///     }
///     events
/// };
///
/// let mut out = Actions::new();
/// client.write(Bytes::from("hello"), &mut out);
/// assert!(matches!(run(&mut client, out).as_slice(), [RegisterEvent::Written { .. }]));
///
/// let mut out = Actions::new();
/// client.read(&mut out);
/// let events = run(&mut client, out);
/// assert!(matches!(events.as_slice(), [RegisterEvent::Read { read, .. }] if read.value == "hello"));
/// # Ok::<(), synod_quorum::QuorumError>(())
/// ```
///
/// [`Majority`]: crate::Majority
#[derive(Clone, Debug)]
pub struct AbdClient<Q> {
    id: NodeId,
    servers: Q,
    config: AbdConfig,
    next_op: u64,
    /// While storing: what is stored, and what to report when it is.
    phase: Phase<(Tagged, Done)>,
    /// Single writer: the highest timestamp this incarnation knows was used.
    last_timestamp: Option<u64>,
}

impl<Q: QuorumSystem> AbdClient<Q> {
    /// A client with id `id` of the register replicated on `servers`.
    pub fn new(id: NodeId, servers: Q, config: AbdConfig) -> Self {
        AbdClient {
            id,
            servers,
            config,
            next_op: 0,
            phase: Phase::Idle,
            last_timestamp: None,
        }
    }

    /// This client's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Whether an operation is running.
    pub fn is_busy(&self) -> bool {
        self.phase.is_busy()
    }

    /// Start a read; its result is emitted as [`RegisterEvent::Read`].
    pub fn read(&mut self, out: &mut RegisterActions) {
        if let Some(op) = self.phase.begin(&mut self.next_op, out) {
            self.phase = Phase::query(op, None, self.servers.members(), out);
        }
    }

    /// Start a write of `value`; its completion is emitted as [`RegisterEvent::Written`].
    pub fn write(&mut self, value: Bytes, out: &mut RegisterActions) {
        let Some(op) = self.phase.begin(&mut self.next_op, out) else {
            return;
        };
        match (self.config.writers, self.last_timestamp) {
            (Writers::Single, Some(last)) => self.store_new(op, last, value, out),
            _ => self.phase = Phase::query(op, Some(value), self.servers.members(), out),
        }
    }

    /// Count a tick: retransmit to silent servers.
    pub fn on_tick(&mut self, out: &mut RegisterActions) {
        self.phase.on_tick(self.config.retransmit_ticks.max(1), out);
    }

    /// Handle a server's reply. Replies to other operations, duplicates, and replies
    /// from nodes that are not servers are ignored.
    pub fn on_message(&mut self, from: NodeId, msg: RegisterMessage, out: &mut RegisterActions) {
        if self.phase.on_reply(from, msg, &self.servers) {
            match self.phase {
                Phase::Query { .. } => self.query_done(out),
                Phase::Store { .. } => self.store_done(out),
                Phase::Idle => {}
            }
        }
    }

    fn query_done(&mut self, out: &mut RegisterActions) {
        let Phase::Query { round, write } = std::mem::replace(&mut self.phase, Phase::Idle) else {
            unreachable!("called only in the query phase")
        };
        let highest = round
            .replies
            .replies()
            .map(|(_, stored)| stored)
            .max_by_key(|stored| stored.tag)
            .cloned()
            .unwrap_or_default();
        match write {
            Some(value) => self.store_new(round.op, highest.tag.timestamp, value, out),
            None => {
                let settled = self.config.reads == ReadMode::Regular
                    || self.servers.is_quorum(QuorumKind::Write, |id| {
                        round.replies.get(id).is_some_and(|s| s.tag == highest.tag)
                    });
                if settled {
                    out.emit(RegisterEvent::Read {
                        op: round.op,
                        read: highest,
                    });
                } else {
                    self.store(round.op, highest, Done::Read, out);
                }
            }
        }
    }

    /// Write `value` with a timestamp one above `above`.
    fn store_new(&mut self, op: OpNumber, above: u64, value: Bytes, out: &mut RegisterActions) {
        let Some(timestamp) = above.checked_add(1) else {
            out.emit(RegisterEvent::Rejected(RequestError::TimestampExhausted));
            return;
        };
        self.last_timestamp = Some(timestamp);
        self.store(
            op,
            Tagged {
                tag: Tag {
                    timestamp,
                    writer: self.id,
                },
                value,
            },
            Done::Written,
            out,
        );
    }

    fn store(&mut self, op: OpNumber, stored: Tagged, done: Done, out: &mut RegisterActions) {
        let servers = self.servers.members();
        self.phase = Phase::store(op, stored.clone(), (stored, done), servers, out);
    }

    fn store_done(&mut self, out: &mut RegisterActions) {
        let Phase::Store {
            round,
            then: (stored, done),
        } = std::mem::replace(&mut self.phase, Phase::Idle)
        else {
            unreachable!("called only in the store phase")
        };
        out.emit(match done {
            Done::Read => RegisterEvent::Read {
                op: round.op,
                read: stored,
            },
            Done::Written => RegisterEvent::Written {
                op: round.op,
                tag: stored.tag,
            },
        });
    }
}
