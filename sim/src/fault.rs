//! Faults the simulator can inject, and schedules of them.

use crate::LinkConfig;
use synod_core::NodeId;

/// One fault (or repair) applied to a running simulation.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// The node stops; its volatile state is gone. What it made durable stays, and a
    /// random prefix of its not-yet-acknowledged background writes may have reached
    /// the disk; the rest is lost.
    Crash(NodeId),
    /// A crashed node comes back, rebuilt from exactly its durable state.
    Restart(NodeId),
    /// The node freezes (a long GC pause, a stopped VM): no ticks, no deliveries.
    /// Messages to it wait and are delivered in order on resume.
    Pause(NodeId),
    /// A paused node continues.
    Resume(NodeId),
    /// Split the nodes into groups that cannot reach each other, in both directions.
    /// Nodes not named in any group form one more group together.
    Partition(Vec<Vec<NodeId>>),
    /// Messages from `from` to `to` are dropped (the reverse direction still works).
    BlockLink {
        /// Sender side.
        from: NodeId,
        /// Receiver side.
        to: NodeId,
    },
    /// Every link works again (partitions and blocked links are lifted; link
    /// configurations are kept).
    Heal,
    /// Change the behaviour of every link.
    SetNetwork(LinkConfig),
    /// Change the behaviour of one directed link.
    SetLink {
        /// Sender side.
        from: NodeId,
        /// Receiver side.
        to: NodeId,
        /// New behaviour.
        config: LinkConfig,
    },
    /// Clock skew: the node now ticks once every `period` time units (the default
    /// for every node is [`SimConfig::tick_period`](crate::SimConfig::tick_period)).
    SetTickPeriod {
        /// The node.
        node: NodeId,
        /// Time units between its ticks (at least 1).
        period: u64,
    },
}

impl Fault {
    /// The nodes this fault names, for validation.
    pub(crate) fn nodes(&self) -> Vec<NodeId> {
        match self {
            Fault::Crash(n) | Fault::Restart(n) | Fault::Pause(n) | Fault::Resume(n) => {
                vec![*n]
            }
            Fault::Partition(groups) => groups.iter().flatten().copied().collect(),
            Fault::BlockLink { from, to } | Fault::SetLink { from, to, .. } => vec![*from, *to],
            Fault::SetTickPeriod { node, .. } => vec![*node],
            Fault::Heal | Fault::SetNetwork(_) => Vec::new(),
        }
    }
}

/// Faults at simulated times: what a property test generates and shrinks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultSchedule {
    /// `(time, fault)` pairs; applied in time order (ties in list order).
    pub faults: Vec<(u64, Fault)>,
}

impl FaultSchedule {
    /// An empty schedule.
    pub fn new() -> Self {
        FaultSchedule::default()
    }

    /// Add a fault at `time`.
    pub fn at(mut self, time: u64, fault: Fault) -> Self {
        self.faults.push((time, fault));
        self
    }

    /// Append the repairs that end every fault at `time`: heal the network, restore
    /// `network`, resume and restart `nodes`. Liveness checks run after this point.
    pub fn healed_at(mut self, time: u64, nodes: &[NodeId], network: LinkConfig) -> Self {
        self.faults.push((time, Fault::Heal));
        self.faults.push((time, Fault::SetNetwork(network)));
        for &n in nodes {
            self.faults.push((time, Fault::Resume(n)));
            self.faults.push((time, Fault::Restart(n)));
        }
        self
    }

    /// Number of faults.
    pub fn len(&self) -> usize {
        self.faults.len()
    }

    /// Whether there are no faults.
    pub fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }
}
