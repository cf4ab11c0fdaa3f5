//! The Berkeley algorithm (Gusella, Zatti 1989): a master polls every clock, drops
//! the outliers, averages the rest, and tells each node by how much to move.

use super::{CristianSample, LocalClock, clamp, drift_allowance};
use synod_core::{Actions, Input, Node, NodeId};

/// How many answered polls a member remembers.
const REPLIES_KEPT: usize = 4;

/// One node's clock as the master estimated it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Reading {
    /// The node.
    pub node: NodeId,
    /// Its clock minus the master's (the master's own reading is 0).
    pub offset: i64,
}

/// The outcome of one Berkeley round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BerkeleyRound {
    /// The fault-tolerant average offset (relative to the master).
    pub average: i64,
    /// Nodes whose clocks went into the average.
    pub included: Vec<NodeId>,
    /// Outliers left out of it (they are still corrected).
    pub excluded: Vec<NodeId>,
    /// What each node must add to its clock: `average − offset`. Deltas, not
    /// absolute times, so the message's own transit time does not matter.
    pub adjustments: Vec<(NodeId, i64)>,
}

/// The Berkeley computation: readings within `tolerance` of their median are
/// averaged; every node, outlier or not, gets the delta that moves it to the
/// average. `None` for no readings.
///
/// Using the median as the anchor means up to half the clocks (minus one) can be
/// arbitrarily wrong without moving the result.
///
/// ```
/// use synod_clocks::sync::{Reading, berkeley_average};
/// use synod_core::NodeId;
/// let r = |n, offset| Reading { node: NodeId(n), offset };
/// // Master (offset 0), two nodes 25 behind and 10 ahead, one broken at +10,000.
/// let round = berkeley_average(&[r(1, 0), r(2, -25), r(3, 10), r(4, 10_000)], 100).unwrap();
/// assert_eq!(round.average, -5);
/// assert_eq!(round.excluded, [NodeId(4)]);
/// assert_eq!(round.adjustments, [(NodeId(1), -5), (NodeId(2), 20), (NodeId(3), -15), (NodeId(4), -10_005)]);
/// ```
pub fn berkeley_average(readings: &[Reading], tolerance: u64) -> Option<BerkeleyRound> {
    if readings.is_empty() {
        return None;
    }
    let mut offsets: Vec<i64> = readings.iter().map(|r| r.offset).collect();
    offsets.sort_unstable();
    let median = offsets[(offsets.len() - 1) / 2];
    let tolerance = i128::from(tolerance);
    let near = |r: &Reading| (i128::from(r.offset) - i128::from(median)).abs() <= tolerance;
    let (included, excluded): (Vec<&Reading>, Vec<&Reading>) =
        readings.iter().partition(|r| near(r));
    // The median itself is always near, so `included` is not empty.
    let sum: i128 = included.iter().map(|r| i128::from(r.offset)).sum();
    let average = clamp(sum.div_euclid(included.len() as i128));
    Some(BerkeleyRound {
        average,
        included: included.iter().map(|r| r.node).collect(),
        excluded: excluded.iter().map(|r| r.node).collect(),
        adjustments: readings
            .iter()
            .map(|r| (r.node, clamp(i128::from(average) - i128::from(r.offset))))
            .collect(),
    })
}

/// Settings of a Berkeley master.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BerkeleyConfig {
    /// The nodes the master polls (itself excluded).
    pub members: Vec<NodeId>,
    /// Start a round every this many ticks; replies later than that are dropped.
    pub poll_every_ticks: u64,
    /// Readings further than this from the median are outliers.
    pub tolerance: u64,
}

/// Messages of the Berkeley algorithm.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum BerkeleyMessage {
    /// Master → node: "send me your clock".
    Poll {
        /// Round number.
        round: u64,
    },
    /// Node → master.
    Time {
        /// Round number.
        round: u64,
        /// The node's clock.
        time: i64,
    },
    /// Master → node: "add `delta` to your clock".
    Adjust {
        /// Round number.
        round: u64,
        /// The correction.
        delta: i64,
        /// The master's error bound on the node's offset estimate (half the round
        /// trip), so the node knows how well it is synchronized.
        error: i64,
    },
}

/// What a Berkeley node reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BerkeleyEvent {
    /// The master finished a round.
    Round(BerkeleyRound),
    /// This node applied a correction.
    Adjusted {
        /// The round.
        round: u64,
        /// The correction.
        delta: i64,
    },
}

#[derive(Clone, Debug)]
enum Role {
    Master {
        config: BerkeleyConfig,
        round: u64,
        poll_sent: i64,
        /// Whether the current round still awaits its average.
        open: bool,
        /// (node, offset estimate, error) for the current round, one per member.
        replies: Vec<(NodeId, i64, i64)>,
    },
    Member {
        master: NodeId,
        applied_round: u64,
        /// The latest polls answered: (round, local reading sent, corrections
        /// applied since), at most `REPLIES_KEPT`. A master's delta is relative to
        /// the reading it was computed from, so corrections applied after that
        /// reading was sent (an adjustment overtaken by the next poll) are
        /// subtracted when the delta arrives.
        replied: Vec<(u64, i64, i64)>,
        /// The master's error on the latest adjustment, and the reading the member
        /// sent for that round, shifted by the adjustment.
        synced: Option<(i64, i64)>,
    },
}

/// A node running the Berkeley algorithm on the step-function contract: the master
/// polls every member each `poll_every_ticks` ticks, estimates each member's offset
/// as in Cristian's algorithm, and at the start of the next round (or when every
/// member answered) computes [`berkeley_average`] and sends each member its delta.
///
/// ```
/// use synod_clocks::sync::{BerkeleyConfig, BerkeleyNode, LocalClock};
/// use synod_core::{Action, Actions, Input, Node, NodeId};
///
/// let ids = [NodeId(0), NodeId(1), NodeId(2)];
/// let config = BerkeleyConfig {
///     members: vec![ids[1], ids[2]], poll_every_ticks: 1, tolerance: 1_000,
/// };
/// let mut nodes = vec![
///     BerkeleyNode::master(ids[0], LocalClock::new(10, 0), config),
///     BerkeleyNode::member(ids[1], LocalClock::new(10, 300), ids[0]),
///     BerkeleyNode::member(ids[2], LocalClock::new(10, -600), ids[0]),
/// ];
/// // Deliver every message at once, in order, until nothing moves.
/// // The master ticks (its clock reads 10) and polls; the members read 300 and −600.
/// let mut queue: Vec<(NodeId, Input<_, ()>)> = vec![(ids[0], Input::Tick)];
/// while let Some((at, input)) = queue.pop() {
///     let mut out = Actions::new();
///     nodes[at.0 as usize].step(input, &mut out);
///     for action in out.drain() {
///         if let Action::Send { to, msg } = action {
///             queue.insert(0, (to, Input::Message { from: at, msg }));
///         }
///     }
/// }
/// // Offsets from the master: 0, +290, −610; their average, rounded down, is −107,
/// // and every clock now reads 10 − 107.
/// let readings: Vec<i64> = nodes.iter().map(|n| n.clock().read()).collect();
/// assert_eq!(readings, [-97, -97, -97]);
/// ```
#[derive(Clone, Debug)]
pub struct BerkeleyNode {
    id: NodeId,
    clock: LocalClock,
    role: Role,
}

impl BerkeleyNode {
    /// The master.
    pub fn master(id: NodeId, clock: LocalClock, config: BerkeleyConfig) -> Self {
        BerkeleyNode {
            id,
            clock,
            role: Role::Master {
                config,
                round: 0,
                poll_sent: 0,
                open: false,
                replies: Vec::new(),
            },
        }
    }

    /// A member answering to `master`.
    pub fn member(id: NodeId, clock: LocalClock, master: NodeId) -> Self {
        BerkeleyNode {
            id,
            clock,
            role: Role::Member {
                master,
                applied_round: 0,
                replied: Vec::with_capacity(REPLIES_KEPT),
                synced: None,
            },
        }
    }

    /// The local clock.
    pub fn clock(&self) -> &LocalClock {
        &self.clock
    }

    /// The latest round this node applied (the master: the latest it completed).
    pub fn round(&self) -> u64 {
        match &self.role {
            Role::Master { round, open, .. } => round.saturating_sub(u64::from(*open)),
            Role::Member { applied_round, .. } => *applied_round,
        }
    }

    /// For a member that applied a correction: a bound on |its clock − the master's
    /// clock| right now, valid while the master has completed no later round. It is
    /// the master's estimation error (half the round trip), plus twice the reading
    /// `granularity`, plus `max_drift_ppm` of the time since the member sent its
    /// reading. The master's own bound is 0.
    pub fn error_bound(&self, granularity: i64, max_drift_ppm: i64) -> Option<i64> {
        match &self.role {
            Role::Master { .. } => Some(0),
            Role::Member { synced, .. } => {
                let (error, reading) = (*synced)?;
                let since = i128::from(self.clock.read()) - i128::from(reading);
                let window = since + 2 * i128::from(error) + i128::from(granularity);
                let drift = drift_allowance(window, max_drift_ppm);
                Some(clamp(
                    i128::from(error) + 2 * i128::from(granularity) + drift,
                ))
            }
        }
    }

    fn complete_round(&mut self, out: &mut Actions<BerkeleyMessage, (), BerkeleyEvent>) {
        let Role::Master {
            config,
            round,
            replies,
            open,
            ..
        } = &mut self.role
        else {
            return;
        };
        if !*open {
            return;
        }
        *open = false;
        let mut readings = vec![Reading {
            node: self.id,
            offset: 0,
        }];
        readings.extend(
            replies
                .iter()
                .map(|&(node, offset, _)| Reading { node, offset }),
        );
        let Some(result) = berkeley_average(&readings, config.tolerance) else {
            return;
        };
        for &(node, delta) in &result.adjustments {
            if node == self.id {
                self.clock.adjust(delta);
            } else {
                let error = replies
                    .iter()
                    .find(|r| r.0 == node)
                    .map_or(i64::MAX, |r| r.2);
                out.send(
                    node,
                    BerkeleyMessage::Adjust {
                        round: *round,
                        delta,
                        error,
                    },
                );
            }
        }
        replies.clear();
        out.emit(BerkeleyEvent::Round(result));
    }
}

impl Node for BerkeleyNode {
    type Message = BerkeleyMessage;
    type Request = ();
    type Persist = ();
    type Event = BerkeleyEvent;

    fn id(&self) -> NodeId {
        self.id
    }

    fn step(
        &mut self,
        input: Input<BerkeleyMessage, ()>,
        out: &mut Actions<BerkeleyMessage, (), BerkeleyEvent>,
    ) {
        match input {
            Input::Tick => {
                self.clock.tick();
                let start = match &self.role {
                    Role::Master { config, .. } => self.clock.every(config.poll_every_ticks),
                    Role::Member { .. } => false,
                };
                if start {
                    self.complete_round(out);
                    let now = self.clock.read();
                    if let Role::Master {
                        config,
                        round,
                        poll_sent,
                        replies,
                        open,
                    } = &mut self.role
                    {
                        *round += 1;
                        *open = true;
                        *poll_sent = now;
                        replies.clear();
                        for &m in &config.members {
                            out.send(m, BerkeleyMessage::Poll { round: *round });
                        }
                    }
                }
            }
            Input::Message { from, msg } => match (&mut self.role, msg) {
                (
                    Role::Member {
                        master, replied, ..
                    },
                    BerkeleyMessage::Poll { round },
                ) if from == *master => {
                    // A duplicated poll gets the same reading again: the master
                    // may use either copy, and the correction must match the
                    // reading it was computed from.
                    let time = match replied.iter().find(|r| r.0 == round) {
                        Some(&(_, time, _)) => time,
                        None => {
                            let time = self.clock.read();
                            if replied.len() == REPLIES_KEPT {
                                replied.remove(0);
                            }
                            replied.push((round, time, 0));
                            time
                        }
                    };
                    out.send(from, BerkeleyMessage::Time { round, time });
                }
                (
                    Role::Member {
                        master,
                        applied_round,
                        replied,
                        synced,
                    },
                    BerkeleyMessage::Adjust {
                        round,
                        delta,
                        error,
                    },
                ) if from == *master && round > *applied_round => {
                    // Deltas are relative, so applying one twice would double it:
                    // only a newer round's adjustment is applied, and only if the
                    // reading it answers is still known.
                    let Some(&(_, reading, since)) = replied.iter().find(|r| r.0 == round) else {
                        return;
                    };
                    let effective = delta.saturating_sub(since);
                    *applied_round = round;
                    self.clock.adjust(effective);
                    replied.retain(|r| r.0 > round);
                    for later in replied.iter_mut() {
                        later.2 = later.2.saturating_add(effective);
                    }
                    *synced = Some((error, reading.saturating_add(delta)));
                    out.emit(BerkeleyEvent::Adjusted { round, delta });
                }
                (
                    Role::Master {
                        config,
                        round: current,
                        poll_sent,
                        replies,
                        open,
                    },
                    BerkeleyMessage::Time { round, time },
                ) if *open
                    && round == *current
                    && config.members.contains(&from)
                    && !replies.iter().any(|r| r.0 == from) =>
                {
                    let sample = CristianSample {
                        request_sent: *poll_sent,
                        server_time: time,
                        reply_received: self.clock.read(),
                    };
                    if let Ok(estimate) = sample.estimate() {
                        // Cristian's offset is "what the master adds to read the
                        // member's clock": the member's clock minus the master's.
                        replies.push((from, estimate.offset, estimate.error));
                    }
                    if replies.len() == config.members.len() {
                        self.complete_round(out);
                    }
                }
                _ => {}
            },
            Input::Request(()) | Input::Persisted(_) => {}
        }
    }
}
