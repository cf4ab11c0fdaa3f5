//! A replicated grow-only counter (a G-Counter CRDT) written as a [`synod_core::Node`].
//!
//! # What it guarantees
//!
//! Every node owns one *slot*: the number of increments applied at that node. The
//! counter's value is the sum of all slots. Only the owner ever raises its slot, and
//! peers merge a slot they hear about by taking the maximum, so merging is
//! commutative, associative and idempotent: duplicated, reordered and stale messages
//! are harmless, and once every node has heard every owner's latest slot, all nodes
//! show the same total (strong eventual consistency, Shapiro et al. 2011, §3).
//!
//! An increment is acknowledged to the application ([`CounterEvent::Incremented`]) only
//! after the new slot value is durable, and it is announced to peers only after that:
//! the node emits [`Action::Persist`](synod_core::Action::Persist) *before* the
//! broadcast. So a crash never forgets an increment that anyone has seen; a restarted
//! node is rebuilt from its records with [`Counter::recover`] and goes on counting from
//! where it was.
//!
//! # What it assumes
//!
//! Crash-stop or crash-recover nodes with stable storage, and a network that may lose,
//! duplicate, delay and reorder messages but not forge them (the sender named by the
//! transport is the sender). Lost messages are repaired by anti-entropy: every
//! [`CounterConfig::gossip_interval`] ticks each node re-broadcasts its own slot, so a
//! peer that was down or partitioned catches up within one interval of the link
//! healing.
//!
//! # How to drive it
//!
//! Feed it [`Input::Tick`] at a steady rate, every decoded
//! [`CounterMessage`] as [`Input::Message`], and [`CounterRequest`]s; perform its
//! actions in order (the [`synod_core::Driver`] does all of this).
//!
//! ```
//! use synod_core::{Action, Actions, Input, Node, NodeId, Ticks};
//! use synod_examples::counter::*;
//!
//! let config = CounterConfig::new(NodeId(1), [NodeId(1), NodeId(2)], Ticks(5));
//! let mut node = Counter::new(config);
//! let mut out = Actions::new();
//! node.step(Input::Request(CounterRequest::Increment { by: 2 }), &mut out);
//! assert_eq!(
//!     out.as_slice(),
//!     &[
//!         Action::Persist(SlotRecord { value: 2 }),                 // durable first,
//!         Action::Emit(CounterEvent::Incremented { slot: 2 }),      // then acknowledged,
//!         Action::Broadcast { msg: CounterMessage::Slot { value: 2 } }, // then announced.
//!         Action::Emit(CounterEvent::TotalChanged { total: 2 }),
//!     ]
//! );
//! out.clear();
//! // A peer's slot merges by maximum; a stale copy changes nothing.
//! node.step(Input::Message { from: NodeId(2), msg: CounterMessage::Slot { value: 5 } }, &mut out);
//! node.step(Input::Message { from: NodeId(2), msg: CounterMessage::Slot { value: 4 } }, &mut out);
//! assert_eq!(node.total(), 7);
//! assert_eq!(out.as_slice(), &[Action::Emit(CounterEvent::TotalChanged { total: 7 })]);
//! ```

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use synod_core::{Actions, Input, Node, NodeId, Ticks, Timer};

/// How one counter node is set up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterConfig {
    /// This node.
    pub id: NodeId,
    /// Every member of the cluster, this node included. Slots exist only for members,
    /// which bounds the node's state by the cluster size.
    pub members: Vec<NodeId>,
    /// How often the node re-broadcasts its own slot (anti-entropy). Must be at least
    /// one tick.
    pub gossip_interval: Ticks,
}

impl CounterConfig {
    /// A configuration for `id` in a cluster of `members` (which should include `id`;
    /// it is added if missing).
    pub fn new(
        id: NodeId,
        members: impl IntoIterator<Item = NodeId>,
        gossip_interval: Ticks,
    ) -> Self {
        let mut members: Vec<NodeId> = members.into_iter().collect();
        if !members.contains(&id) {
            members.push(id);
        }
        members.sort_unstable();
        members.dedup();
        CounterConfig {
            id,
            members,
            gossip_interval,
        }
    }
}

/// What counter nodes tell each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CounterMessage {
    /// "My slot is now `value`." The owner is the sender.
    Slot {
        /// The sender's slot.
        value: u64,
    },
}

/// What the application asks of a counter node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CounterRequest {
    /// Add `by` to the counter (to this node's slot).
    Increment {
        /// How much to add.
        by: u64,
    },
}

/// The one durable record: this node's slot. Each record supersedes the ones before
/// it, so a log of them can be compacted to its last record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotRecord {
    /// The slot's value when it was written.
    pub value: u64,
}

/// An increment the node refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum CounterError {
    /// Adding `by` would overflow this node's slot; nothing changed.
    #[error("incrementing slot {slot} by {by} would overflow")]
    Overflow {
        /// The slot's current value.
        slot: u64,
        /// The refused increment.
        by: u64,
    },
}

/// What a counter node tells the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CounterEvent {
    /// An increment is durable; this node's slot is now `slot`.
    Incremented {
        /// The new slot value.
        slot: u64,
    },
    /// The counter's value as this node sees it changed.
    TotalChanged {
        /// The new total.
        total: u64,
    },
    /// A request was refused.
    Rejected(CounterError),
}

/// One node of the replicated grow-only counter; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct Counter {
    config: CounterConfig,
    /// Highest slot seen per member. A `BTreeMap` so that nothing about iteration
    /// order can leak into outputs.
    slots: BTreeMap<NodeId, u64>,
    gossip: Timer,
    /// Messages ignored because the claimed owner is this node or not a member.
    ignored_messages: u64,
}

impl Counter {
    /// A fresh node with every slot at zero.
    pub fn new(config: CounterConfig) -> Self {
        Counter::recover(config, std::iter::empty())
    }

    /// Rebuild a node after a restart from the records its storage made durable. The
    /// own slot is the highest recorded value; peers' slots start at zero and are
    /// relearned from their gossip.
    pub fn recover(config: CounterConfig, records: impl IntoIterator<Item = SlotRecord>) -> Self {
        let own = records.into_iter().map(|r| r.value).max().unwrap_or(0);
        let slots = config
            .members
            .iter()
            .map(|&member| (member, if member == config.id { own } else { 0 }))
            .collect();
        let gossip = Timer::new(config.gossip_interval.max(Ticks::ONE));
        Counter {
            config,
            slots,
            gossip,
            ignored_messages: 0,
        }
    }

    /// The counter's value as this node sees it.
    pub fn total(&self) -> u64 {
        self.slots
            .values()
            .fold(0u64, |sum, &v| sum.saturating_add(v))
    }

    /// This node's own slot.
    pub fn own_slot(&self) -> u64 {
        self.slots.get(&self.config.id).copied().unwrap_or(0)
    }

    /// The highest slot this node has seen for `member`, if it is a member.
    pub fn slot(&self, member: NodeId) -> Option<u64> {
        self.slots.get(&member).copied()
    }

    /// Messages dropped because they claimed to carry this node's own slot or came
    /// from a non-member.
    pub fn ignored_messages(&self) -> u64 {
        self.ignored_messages
    }

    fn increment(&mut self, by: u64, out: &mut Actions<CounterMessage, SlotRecord, CounterEvent>) {
        let slot = self.own_slot();
        let Some(value) = slot.checked_add(by) else {
            out.emit(CounterEvent::Rejected(CounterError::Overflow { slot, by }));
            return;
        };
        if value == slot {
            return; // `by == 0`: nothing to make durable or announce.
        }
        self.slots.insert(self.config.id, value);
        // The order is the point: durable, then acknowledged, then announced.
        out.persist(SlotRecord { value });
        out.emit(CounterEvent::Incremented { slot: value });
        out.broadcast(CounterMessage::Slot { value });
        out.emit(CounterEvent::TotalChanged {
            total: self.total(),
        });
    }

    fn merge(
        &mut self,
        from: NodeId,
        value: u64,
        out: &mut Actions<CounterMessage, SlotRecord, CounterEvent>,
    ) {
        // Only the owner raises its slot; a message claiming ours is forged or looped.
        if from == self.config.id {
            self.ignored_messages += 1;
            return;
        }
        let Some(slot) = self.slots.get_mut(&from) else {
            self.ignored_messages += 1;
            return;
        };
        if value > *slot {
            *slot = value;
            out.emit(CounterEvent::TotalChanged {
                total: self.total(),
            });
        }
    }
}

impl Node for Counter {
    type Message = CounterMessage;
    type Request = CounterRequest;
    type Persist = SlotRecord;
    type Event = CounterEvent;

    fn id(&self) -> NodeId {
        self.config.id
    }

    fn step(
        &mut self,
        input: Input<CounterMessage, CounterRequest>,
        out: &mut Actions<CounterMessage, SlotRecord, CounterEvent>,
    ) {
        match input {
            Input::Request(CounterRequest::Increment { by }) => self.increment(by, out),
            Input::Message {
                from,
                msg: CounterMessage::Slot { value },
            } => self.merge(from, value, out),
            Input::Tick => {
                if self.gossip.tick() {
                    self.gossip
                        .reset(self.config.gossip_interval.max(Ticks::ONE));
                    // Anti-entropy: the slot may have been lost on the way, or the
                    // peer may have restarted and forgotten it.
                    out.broadcast(CounterMessage::Slot {
                        value: self.own_slot(),
                    });
                }
            }
            // The counter only uses barrier persists.
            Input::Persisted(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synod_core::Action;

    type Out = Actions<CounterMessage, SlotRecord, CounterEvent>;

    fn node(id: u64) -> Counter {
        Counter::new(CounterConfig::new(
            NodeId(id),
            [NodeId(1), NodeId(2), NodeId(3)],
            Ticks(3),
        ))
    }

    #[test]
    fn increment_persists_before_it_acknowledges_or_announces() {
        // Checks the action order an increment produces: Persist, then the
        // acknowledgement, then the broadcast.
        let mut n = node(1);
        let mut out = Out::new();
        n.step(
            Input::Request(CounterRequest::Increment { by: 3 }),
            &mut out,
        );
        let kinds: Vec<&str> = out
            .as_slice()
            .iter()
            .map(|a| match a {
                Action::Persist(_) => "persist",
                Action::Emit(CounterEvent::Incremented { .. }) => "ack",
                Action::Broadcast { .. } => "broadcast",
                Action::Emit(CounterEvent::TotalChanged { .. }) => "total",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["persist", "ack", "broadcast", "total"]);
    }

    #[test]
    fn overflow_is_rejected_and_changes_nothing() {
        // Checks that an increment that would overflow the slot gets a typed error
        // event and produces no write or message.
        let mut n = Counter::recover(
            CounterConfig::new(NodeId(1), [NodeId(1)], Ticks(3)),
            [SlotRecord {
                value: u64::MAX - 1,
            }],
        );
        let mut out = Out::new();
        n.step(
            Input::Request(CounterRequest::Increment { by: 2 }),
            &mut out,
        );
        assert_eq!(
            out.as_slice(),
            &[Action::Emit(CounterEvent::Rejected(
                CounterError::Overflow {
                    slot: u64::MAX - 1,
                    by: 2
                }
            ))]
        );
        assert_eq!(n.own_slot(), u64::MAX - 1);
    }

    #[test]
    fn merge_is_idempotent_and_ignores_forged_and_unknown_slots() {
        // Checks merge-by-max: duplicates and stale values change nothing, a message
        // claiming this node's own slot or coming from a non-member is ignored.
        let mut n = node(1);
        let mut out = Out::new();
        let slot = |value| CounterMessage::Slot { value };
        for (from, value) in [(2, 4), (2, 4), (2, 1), (1, 100), (9, 100), (3, 2)] {
            n.step(
                Input::Message {
                    from: NodeId(from),
                    msg: slot(value),
                },
                &mut out,
            );
        }
        assert_eq!(n.total(), 6);
        assert_eq!(n.ignored_messages(), 2);
        assert_eq!(
            out.as_slice(),
            &[
                Action::Emit(CounterEvent::TotalChanged { total: 4 }),
                Action::Emit(CounterEvent::TotalChanged { total: 6 }),
            ]
        );
    }

    #[test]
    fn gossips_its_slot_every_interval() {
        // Checks anti-entropy: with a 3-tick interval the own slot is re-broadcast on
        // ticks 3, 6 and 9 and on no other tick.
        let mut n = Counter::recover(
            CounterConfig::new(NodeId(1), [NodeId(1), NodeId(2)], Ticks(3)),
            [SlotRecord { value: 2 }, SlotRecord { value: 7 }],
        );
        let mut fired = Vec::new();
        let mut out = Out::new();
        for tick in 1..=9 {
            n.step(Input::Tick, &mut out);
            for action in out.drain() {
                assert_eq!(
                    action,
                    Action::Broadcast {
                        msg: CounterMessage::Slot { value: 7 }
                    }
                );
                fired.push(tick);
            }
        }
        assert_eq!(fired, [3, 6, 9]);
    }

    #[test]
    fn recovery_continues_from_the_highest_record() {
        // Checks that a restarted node resumes from its highest durable slot, so the
        // next increment does not reuse a value an earlier incarnation announced.
        let config = CounterConfig::new(NodeId(2), [NodeId(1), NodeId(2)], Ticks(3));
        let mut n = Counter::recover(config, [3, 9, 5].map(|value| SlotRecord { value }));
        assert_eq!(n.own_slot(), 9);
        let mut out = Out::new();
        n.step(
            Input::Request(CounterRequest::Increment { by: 1 }),
            &mut out,
        );
        assert_eq!(out.as_slice()[0], Action::Persist(SlotRecord { value: 10 }));
    }
}
