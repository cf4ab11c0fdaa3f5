//! The simulator proper.

use crate::trace::{Trace, TraceKind};
use crate::{Delay, Fault, FaultSchedule, LinkConfig, SimRng};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt::{self, Debug};
use synod_core::{Action, ActionsOf, Input, InputOf, Node, NodeId, PersistToken};

/// A node's durable state as the simulator keeps it: what survives a crash.
///
/// The simulator folds every persist record a node makes durable into its `Durable`
/// value, and on restart hands that value to the node factory. `Vec<P>` (every record,
/// in order) works for any protocol; a protocol crate's in-memory storage is the
/// natural choice when it has one.
pub trait Durable<P>: Default {
    /// Fold one durable record in.
    fn apply(&mut self, record: P);
}

impl<P> Durable<P> for Vec<P> {
    fn apply(&mut self, record: P) {
        self.push(record);
    }
}

/// A configuration the simulator cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// A simulation needs at least one node.
    #[error("a simulation needs at least one node")]
    NoNodes,
    /// The same id was given twice.
    #[error("node {0} is listed twice")]
    DuplicateNode(NodeId),
    /// A fault, request or query named a node the simulation does not have.
    #[error("unknown node {0}")]
    UnknownNode(NodeId),
    /// A request was addressed to a crashed or paused node.
    #[error("node {0} is not running")]
    NodeDown(NodeId),
    /// A probability outside `[0, 1]`.
    #[error("{name} probability {value} is outside [0, 1]")]
    InvalidProbability {
        /// Which one.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// A uniform delay whose maximum is below its minimum.
    #[error("delay range {min}..={max} is empty")]
    InvalidDelay {
        /// Minimum.
        min: u64,
        /// Maximum.
        max: u64,
    },
    /// A tick period of zero.
    #[error("tick period must be at least 1 time unit")]
    ZeroTickPeriod,
}

/// A user invariant failed. Carries everything needed to replay the run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invariant `{invariant}` violated at time {time} (step {step}, simulation seed {seed}): {message}"
)]
pub struct Violation {
    /// The invariant's name.
    pub invariant: String,
    /// What the invariant said.
    pub message: String,
    /// The run's seed.
    pub seed: u64,
    /// Simulated time of the failing step.
    pub time: u64,
    /// Number of the failing step.
    pub step: u64,
}

/// Simulation-wide settings. Start from [`SimConfig::new`] and adjust.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// The seed every random choice derives from.
    pub seed: u64,
    /// Time units between two ticks of a node with no clock skew.
    pub tick_period: u64,
    /// Default behaviour of every link.
    pub network: LinkConfig,
    /// How long a background write takes to become durable.
    pub persist_delay: Delay,
    /// Record a [`Trace`] of every event (off by default: it costs time and memory).
    pub trace: bool,
}

impl SimConfig {
    /// Defaults: a tick every 100 time units, links delaying 5..=50 units without
    /// loss, background writes taking 1..=20 units, no trace.
    pub fn new(seed: u64) -> Self {
        SimConfig {
            seed,
            tick_period: 100,
            network: LinkConfig::default(),
            persist_delay: Delay::Uniform { min: 1, max: 20 },
            trace: false,
        }
    }
}

/// Counters over a whole run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Events processed (deliveries, ticks, acknowledgements, requests, faults).
    pub steps: u64,
    /// Ticks delivered to nodes.
    pub ticks: u64,
    /// Messages nodes sent (after broadcast expansion).
    pub messages_sent: u64,
    /// Bytes in those messages, as measured by the message-size function.
    pub bytes_sent: u64,
    /// Messages delivered to a running node.
    pub messages_delivered: u64,
    /// Messages lost to link loss.
    pub dropped_by_loss: u64,
    /// Messages dropped by a partition or a blocked link.
    pub dropped_by_partition: u64,
    /// Messages that arrived at a crashed node.
    pub dropped_at_down_node: u64,
    /// Extra copies made by duplication.
    pub duplicated: u64,
    /// Persist records made durable.
    pub persists: u64,
    /// Background writes lost in crashes.
    pub persists_lost: u64,
    /// Events nodes emitted.
    pub events: u64,
    /// Crashes injected.
    pub crashes: u64,
}

/// What happened in one [`Sim::step`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// A message reached a node (or was dropped on arrival).
    Delivery,
    /// A node ticked.
    Tick,
    /// A background write became durable.
    Persisted,
    /// A scheduled request reached a node.
    Request,
    /// A scheduled fault was applied.
    Fault,
}

/// Rewrites or suppresses a Byzantine node's outgoing messages, one recipient at a
/// time: return `None` to stay silent, a different message per recipient to
/// equivocate, or garbage.
pub type Byzantine<M> = Box<dyn FnMut(&mut SimRng, NodeId, M) -> Option<M>>;

type Factory<N, D> = Box<dyn FnMut(NodeId, &D) -> N>;
type Invariant<N, D> = (String, Box<dyn FnMut(&Sim<N, D>) -> Result<(), String>>);

enum Scheduled<N: Node> {
    Deliver {
        from: NodeId,
        to: usize,
        msg: N::Message,
        id: u64,
    },
    Tick {
        node: usize,
        incarnation: u64,
    },
    /// Background write number `write` (and every earlier one) is durable.
    PersistDone {
        node: usize,
        incarnation: u64,
        write: u64,
    },
    /// Tell the node a write that a barrier made durable is done.
    Acknowledge {
        node: usize,
        incarnation: u64,
        token: PersistToken,
    },
    Request {
        node: usize,
        request: N::Request,
    },
    Fault(Fault),
}

/// Queue entry ordered by (time, sequence number) only: ties break in scheduling
/// order, which keeps a run deterministic without comparing payloads.
struct Entry<N: Node> {
    time: u64,
    seq: u64,
    what: Scheduled<N>,
}

impl<N: Node> PartialEq for Entry<N> {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl<N: Node> Eq for Entry<N> {}
impl<N: Node> PartialOrd for Entry<N> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<N: Node> Ord for Entry<N> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.time, self.seq).cmp(&(other.time, other.seq))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Up,
    Paused,
    Down,
}

struct Slot<N: Node, D> {
    id: NodeId,
    node: Option<N>,
    status: Status,
    /// Bumped on every restart so that ticks and acknowledgements scheduled for an
    /// earlier life are recognised and ignored.
    incarnation: u64,
    durable: D,
    /// Background writes not yet durable, oldest first, with their write numbers.
    unsynced: VecDeque<(u64, PersistToken, N::Persist)>,
    /// When the newest pending background write completes (writes finish in order).
    last_persist_done: u64,
    /// Inputs that reached the node while paused.
    inbox: VecDeque<InputOf<N>>,
    tick_period: u64,
    byzantine: Option<Byzantine<N::Message>>,
}

/// A deterministic simulation of a cluster of [`Node`]s: one thread, one seed, one
/// priority queue of timed events.
///
/// Build it with [`Sim::new`], optionally add invariants, schedule faults and
/// requests, then drive it with [`step`](Sim::step), [`run_for`](Sim::run_for) or
/// [`run_until`](Sim::run_until). See the [crate docs](crate) for a complete example.
pub struct Sim<N: Node, D = Vec<<N as Node>::Persist>> {
    config: SimConfig,
    rng: SimRng,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<Entry<N>>>,
    slots: Vec<Slot<N, D>>,
    index: HashMap<NodeId, usize>,
    /// Directed link state, `links[from * n + to]`.
    links: Vec<Link>,
    factory: Factory<N, D>,
    invariants: Vec<Invariant<N, D>>,
    message_size: fn(&N::Message) -> usize,
    actions: ActionsOf<N>,
    events: Vec<(u64, NodeId, N::Event)>,
    stats: SimStats,
    trace: Option<Trace>,
}

#[derive(Clone, Copy, Debug)]
struct Link {
    config: LinkConfig,
    blocked: bool,
}

impl<N, D> Sim<N, D>
where
    N: Node,
    N::Message: Clone + Debug,
    N::Request: Debug,
    N::Event: Debug,
    D: Durable<N::Persist>,
{
    /// A simulation of the nodes `ids`, each built by `factory` from its id and its
    /// durable state (empty at the start, whatever survived on restart).
    ///
    /// Fails on an impossible configuration: no nodes, a duplicated id, a probability
    /// outside `[0, 1]`, an empty delay range, a zero tick period.
    pub fn new(
        config: SimConfig,
        ids: impl IntoIterator<Item = NodeId>,
        factory: impl FnMut(NodeId, &D) -> N + 'static,
    ) -> Result<Self, SimError> {
        config.network.validate()?;
        if config.tick_period == 0 {
            return Err(SimError::ZeroTickPeriod);
        }
        let ids: Vec<NodeId> = ids.into_iter().collect();
        if ids.is_empty() {
            return Err(SimError::NoNodes);
        }
        let mut index = HashMap::with_capacity(ids.len());
        for (i, &id) in ids.iter().enumerate() {
            if index.insert(id, i).is_some() {
                return Err(SimError::DuplicateNode(id));
            }
        }
        let n = ids.len();
        let mut sim = Sim {
            rng: SimRng::new(config.seed),
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            slots: Vec::with_capacity(n),
            index,
            links: vec![
                Link {
                    config: config.network,
                    blocked: false,
                };
                n * n
            ],
            factory: Box::new(factory),
            invariants: Vec::new(),
            message_size: |_| std::mem::size_of::<N::Message>(),
            actions: ActionsOf::<N>::with_capacity(64),
            events: Vec::new(),
            stats: SimStats::default(),
            trace: config.trace.then(|| Trace::new(&ids)),
            config,
        };
        for id in ids {
            let durable = D::default();
            let node = (sim.factory)(id, &durable);
            sim.slots.push(Slot {
                id,
                node: Some(node),
                status: Status::Up,
                incarnation: 0,
                durable,
                unsynced: VecDeque::new(),
                last_persist_done: 0,
                inbox: VecDeque::new(),
                tick_period: sim.config.tick_period,
                byzantine: None,
            });
        }
        // Stagger first ticks so nodes do not tick in lockstep.
        for i in 0..n {
            let first = 1 + sim.rng.below(sim.config.tick_period);
            sim.schedule_tick(i, first);
        }
        Ok(sim)
    }

    /// Measure message sizes with `f` for [`SimStats::bytes_sent`] (the default counts
    /// `size_of::<Message>()`).
    pub fn set_message_size(&mut self, f: fn(&N::Message) -> usize) {
        self.message_size = f;
    }

    /// Check `invariant` after every step; the first `Err` stops the run with a
    /// [`Violation`].
    pub fn add_invariant(
        &mut self,
        name: impl Into<String>,
        invariant: impl FnMut(&Sim<N, D>) -> Result<(), String> + 'static,
    ) {
        self.invariants.push((name.into(), Box::new(invariant)));
    }

    /// Make `node` Byzantine: every message it sends passes through `behaviour`.
    pub fn set_byzantine(
        &mut self,
        node: NodeId,
        behaviour: impl FnMut(&mut SimRng, NodeId, N::Message) -> Option<N::Message> + 'static,
    ) -> Result<(), SimError> {
        let i = self.slot_index(node)?;
        self.slots[i].byzantine = Some(Box::new(behaviour));
        Ok(())
    }

    // ----- observation -----

    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.config.seed
    }

    /// Current simulated time.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// The simulation's generator, for workload choices that must replay with the seed.
    pub fn rng(&mut self) -> &mut SimRng {
        &mut self.rng
    }

    /// Counters so far.
    pub fn stats(&self) -> &SimStats {
        &self.stats
    }

    /// The ids of all nodes, in the order given to [`Sim::new`].
    pub fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.slots.iter().map(|s| s.id)
    }

    /// The node's state, if it is running or paused (`None` when crashed or unknown).
    pub fn node(&self, id: NodeId) -> Option<&N> {
        self.index
            .get(&id)
            .and_then(|&i| self.slots[i].node.as_ref())
    }

    /// Mutable access to a node's state, for tests that set up a scenario directly.
    pub fn node_mut(&mut self, id: NodeId) -> Option<&mut N> {
        let i = *self.index.get(&id)?;
        self.slots[i].node.as_mut()
    }

    /// Every node that is not crashed, in order.
    pub fn live_nodes(&self) -> impl Iterator<Item = (NodeId, &N)> + '_ {
        self.slots
            .iter()
            .filter_map(|s| s.node.as_ref().map(|n| (s.id, n)))
    }

    /// Whether the node is running (neither crashed nor paused).
    pub fn is_up(&self, id: NodeId) -> bool {
        self.index
            .get(&id)
            .is_some_and(|&i| self.slots[i].status == Status::Up)
    }

    /// What the node has made durable.
    pub fn durable(&self, id: NodeId) -> Option<&D> {
        self.index.get(&id).map(|&i| &self.slots[i].durable)
    }

    /// Events emitted since the last [`drain_events`](Sim::drain_events), as
    /// `(time, node, event)`.
    pub fn events(&self) -> &[(u64, NodeId, N::Event)] {
        &self.events
    }

    /// Take the events emitted so far.
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, (u64, NodeId, N::Event)> {
        self.events.drain(..)
    }

    /// The recorded trace, if [`SimConfig::trace`] is on.
    pub fn trace(&self) -> Option<&Trace> {
        self.trace.as_ref()
    }

    // ----- driving -----

    /// Hand `request` to `node` now. Fails if the node is unknown, crashed or paused.
    pub fn request(&mut self, node: NodeId, request: N::Request) -> Result<(), SimError> {
        let i = self.slot_index(node)?;
        if self.slots[i].status != Status::Up {
            return Err(SimError::NodeDown(node));
        }
        self.record(|| TraceKind::Request {
            node,
            what: format!("{request:?}"),
        });
        self.step_node(i, Input::Request(request));
        Ok(())
    }

    /// Hand `request` to `node` at time `at` (dropped if the node is not running then).
    pub fn schedule_request(
        &mut self,
        at: u64,
        node: NodeId,
        request: N::Request,
    ) -> Result<(), SimError> {
        let i = self.slot_index(node)?;
        self.push(at, Scheduled::Request { node: i, request });
        Ok(())
    }

    /// Apply `fault` now.
    pub fn apply(&mut self, fault: Fault) -> Result<(), SimError> {
        self.validate(&fault)?;
        self.apply_valid(fault);
        Ok(())
    }

    /// Apply `fault` at time `at`.
    pub fn schedule(&mut self, at: u64, fault: Fault) -> Result<(), SimError> {
        self.validate(&fault)?;
        self.push(at, Scheduled::Fault(fault));
        Ok(())
    }

    /// Schedule every fault of `schedule` (validating all of them first).
    pub fn schedule_all(&mut self, schedule: &FaultSchedule) -> Result<(), SimError> {
        for (_, fault) in &schedule.faults {
            self.validate(fault)?;
        }
        for (at, fault) in &schedule.faults {
            self.push(*at, Scheduled::Fault(fault.clone()));
        }
        Ok(())
    }

    /// Process the next event. Returns what kind of event it was, or `None` when
    /// nothing is left to happen (every node crashed and the network is empty).
    pub fn step(&mut self) -> Result<Option<StepKind>, Violation> {
        let Some(Reverse(entry)) = self.queue.pop() else {
            return Ok(None);
        };
        debug_assert!(entry.time >= self.now, "time never goes backwards");
        self.now = entry.time;
        self.stats.steps += 1;
        let kind = match entry.what {
            Scheduled::Deliver { from, to, msg, id } => {
                self.deliver(from, to, msg, id);
                StepKind::Delivery
            }
            Scheduled::Tick { node, incarnation } => {
                self.fire_tick(node, incarnation);
                StepKind::Tick
            }
            Scheduled::PersistDone {
                node,
                incarnation,
                write,
            } => {
                self.complete_persist(node, incarnation, write);
                StepKind::Persisted
            }
            Scheduled::Acknowledge {
                node,
                incarnation,
                token,
            } => {
                self.acknowledge(node, incarnation, token);
                StepKind::Persisted
            }
            Scheduled::Request { node, request } => {
                if self.slots[node].status == Status::Up {
                    let id = self.slots[node].id;
                    self.record(|| TraceKind::Request {
                        node: id,
                        what: format!("{request:?}"),
                    });
                    self.step_node(node, Input::Request(request));
                }
                StepKind::Request
            }
            Scheduled::Fault(fault) => {
                self.apply_valid(fault);
                StepKind::Fault
            }
        };
        self.check_invariants()?;
        Ok(Some(kind))
    }

    /// Run until simulated time reaches `now + duration` (events at exactly that time
    /// included).
    pub fn run_for(&mut self, duration: u64) -> Result<(), Violation> {
        let end = self.now.saturating_add(duration);
        while self.queue.peek().is_some_and(|Reverse(e)| e.time <= end) {
            self.step()?;
        }
        self.now = self.now.max(end);
        Ok(())
    }

    /// Step until `done(self)` holds (checked before every step) or `max_steps` steps
    /// have run. Returns whether `done` held. The predicate gets `&mut Sim`, so it
    /// can also drain events, record history or submit requests.
    pub fn run_until(
        &mut self,
        mut done: impl FnMut(&mut Self) -> bool,
        max_steps: u64,
    ) -> Result<bool, Violation> {
        for _ in 0..max_steps {
            if done(self) {
                return Ok(true);
            }
            if self.step()?.is_none() {
                return Ok(done(self));
            }
        }
        Ok(done(self))
    }

    // ----- internals -----

    fn slot_index(&self, id: NodeId) -> Result<usize, SimError> {
        self.index
            .get(&id)
            .copied()
            .ok_or(SimError::UnknownNode(id))
    }

    fn validate(&self, fault: &Fault) -> Result<(), SimError> {
        for id in fault.nodes() {
            self.slot_index(id)?;
        }
        match fault {
            Fault::SetNetwork(c) | Fault::SetLink { config: c, .. } => c.validate(),
            Fault::SetTickPeriod { period: 0, .. } => Err(SimError::ZeroTickPeriod),
            _ => Ok(()),
        }
    }

    fn push(&mut self, time: u64, what: Scheduled<N>) {
        self.seq += 1;
        self.queue.push(Reverse(Entry {
            time,
            seq: self.seq,
            what,
        }));
    }

    fn schedule_tick(&mut self, node: usize, after: u64) {
        let incarnation = self.slots[node].incarnation;
        self.push(self.now + after, Scheduled::Tick { node, incarnation });
    }

    fn record(&mut self, kind: impl FnOnce() -> TraceKind) {
        if let Some(trace) = &mut self.trace {
            trace.push(self.now, kind());
        }
    }

    fn check_invariants(&mut self) -> Result<(), Violation> {
        if self.invariants.is_empty() {
            return Ok(());
        }
        let mut invariants = std::mem::take(&mut self.invariants);
        let mut result = Ok(());
        for (name, check) in &mut invariants {
            if let Err(message) = check(self) {
                result = Err(Violation {
                    invariant: name.clone(),
                    message,
                    seed: self.config.seed,
                    time: self.now,
                    step: self.stats.steps,
                });
                break;
            }
        }
        self.invariants = invariants;
        result
    }

    fn fire_tick(&mut self, node: usize, incarnation: u64) {
        let slot = &self.slots[node];
        if slot.incarnation != incarnation || slot.status == Status::Down {
            return; // a tick from an earlier life
        }
        let (period, status) = (slot.tick_period, slot.status);
        self.schedule_tick(node, period);
        if status == Status::Paused {
            return; // a paused node's clock does not advance
        }
        self.stats.ticks += 1;
        self.step_node(node, Input::Tick);
    }

    fn deliver(&mut self, from: NodeId, to: usize, msg: N::Message, id: u64) {
        match self.slots[to].status {
            Status::Down => {
                self.stats.dropped_at_down_node += 1;
                let to = self.slots[to].id;
                self.record_drop(from, to, id, "node down");
            }
            Status::Paused => self.slots[to].inbox.push_back(Input::Message { from, msg }),
            Status::Up => {
                self.stats.messages_delivered += 1;
                let to_id = self.slots[to].id;
                self.record(|| TraceKind::Deliver {
                    from,
                    to: to_id,
                    id,
                });
                self.step_node(to, Input::Message { from, msg });
            }
        }
    }

    fn complete_persist(&mut self, node: usize, incarnation: u64, write: u64) {
        let slot = &mut self.slots[node];
        if slot.incarnation != incarnation {
            return; // the write was lost (or survived) in a crash
        }
        // A barrier may already have made this write durable and acknowledged it.
        if slot.unsynced.front().is_none_or(|(w, _, _)| *w != write) {
            return;
        }
        let Some((_, token, record)) = slot.unsynced.pop_front() else {
            return;
        };
        slot.durable.apply(record);
        self.stats.persists += 1;
        self.acknowledge(node, incarnation, token);
    }

    fn acknowledge(&mut self, node: usize, incarnation: u64, token: PersistToken) {
        let slot = &mut self.slots[node];
        if slot.incarnation != incarnation {
            return;
        }
        match slot.status {
            Status::Down => {}
            Status::Paused => slot.inbox.push_back(Input::Persisted(token)),
            Status::Up => self.step_node(node, Input::Persisted(token)),
        }
    }

    /// Step one node with one input and perform its actions, in order.
    fn step_node(&mut self, node: usize, input: InputOf<N>) {
        let Some(state) = self.slots[node].node.as_mut() else {
            return;
        };
        state.step(input, &mut self.actions);
        let mut batch = std::mem::take(&mut self.actions);
        for action in batch.drain() {
            self.perform(node, action);
        }
        self.actions = batch;
    }

    fn perform(
        &mut self,
        node: usize,
        action: synod_core::Action<N::Message, N::Persist, N::Event>,
    ) {
        let from = self.slots[node].id;
        match action {
            Action::Send { to, msg } => self.send(node, to, msg),
            Action::Broadcast { msg } => {
                for to in 0..self.slots.len() {
                    if to != node {
                        let to = self.slots[to].id;
                        self.send(node, to, msg.clone());
                    }
                }
            }
            Action::Persist(record) => {
                // The simulated disk is synchronous for barriers: durable at once,
                // together with every earlier background write.
                let incarnation = self.slots[node].incarnation;
                while let Some((_, token, earlier)) = self.slots[node].unsynced.pop_front() {
                    self.slots[node].durable.apply(earlier);
                    self.stats.persists += 1;
                    // Acknowledged after this step's actions, as a driver would
                    // after its sync.
                    self.push(
                        self.now,
                        Scheduled::Acknowledge {
                            node,
                            incarnation,
                            token,
                        },
                    );
                }
                self.slots[node].durable.apply(record);
                self.stats.persists += 1;
                self.record(|| TraceKind::Persist { node: from });
            }
            Action::PersistInBackground { token, data } => {
                let delay = self.config.persist_delay.sample(&mut self.rng);
                self.seq += 1;
                let write = self.seq;
                let slot = &mut self.slots[node];
                // Writes complete in the order they were issued.
                let done = (self.now + delay).max(slot.last_persist_done);
                slot.last_persist_done = done;
                slot.unsynced.push_back((write, token, data));
                let incarnation = slot.incarnation;
                self.push(
                    done,
                    Scheduled::PersistDone {
                        node,
                        incarnation,
                        write,
                    },
                );
            }
            Action::Emit(event) => {
                self.stats.events += 1;
                self.record(|| TraceKind::Emit {
                    node: from,
                    what: format!("{event:?}"),
                });
                self.events.push((self.now, from, event));
            }
        }
    }

    fn send(&mut self, from_index: usize, to: NodeId, msg: N::Message) {
        let from = self.slots[from_index].id;
        let msg = match &mut self.slots[from_index].byzantine {
            Some(behaviour) => match behaviour(&mut self.rng, to, msg) {
                Some(msg) => msg,
                None => return,
            },
            None => msg,
        };
        self.stats.messages_sent += 1;
        self.stats.bytes_sent += (self.message_size)(&msg) as u64;
        // Messages are numbered 1, 2, 3, ... in send order: readable in traces.
        let id = self.stats.messages_sent;
        self.record(|| TraceKind::Send {
            from,
            to,
            id,
            what: format!("{msg:?}"),
        });
        let Some(&to_index) = self.index.get(&to) else {
            // A node may address an id outside the simulation (a stale member);
            // the network has no route, like a real one.
            self.stats.dropped_by_partition += 1;
            return self.record_drop(from, to, id, "no such node");
        };
        let link = self.links[from_index * self.slots.len() + to_index];
        if link.blocked {
            self.stats.dropped_by_partition += 1;
            return self.record_drop(from, to, id, "partition");
        }
        if self.rng.chance(link.config.loss) {
            self.stats.dropped_by_loss += 1;
            return self.record_drop(from, to, id, "loss");
        }
        if self.rng.chance(link.config.duplicate) {
            self.stats.duplicated += 1;
            self.schedule_delivery(from, to_index, msg.clone(), id, &link.config);
        }
        self.schedule_delivery(from, to_index, msg, id, &link.config);
    }

    fn schedule_delivery(
        &mut self,
        from: NodeId,
        to: usize,
        msg: N::Message,
        id: u64,
        config: &LinkConfig,
    ) {
        let delay = self.link_delay(config);
        self.push(self.now + delay, Scheduled::Deliver { from, to, msg, id });
    }

    fn record_drop(&mut self, from: NodeId, to: NodeId, id: u64, reason: &'static str) {
        self.record(|| TraceKind::Drop {
            from,
            to,
            id,
            reason,
        });
    }

    fn link_delay(&mut self, config: &LinkConfig) -> u64 {
        let mut delay = config.delay.sample(&mut self.rng);
        if self.rng.chance(config.reorder) {
            delay += self.rng.between(0, config.delay.max().saturating_mul(4));
        }
        delay
    }

    fn apply_valid(&mut self, fault: Fault) {
        self.record(|| TraceKind::Fault(format!("{fault:?}")));
        match fault {
            Fault::Crash(id) => self.crash(id),
            Fault::Restart(id) => self.restart(id),
            Fault::Pause(id) => {
                let i = self.index[&id];
                if self.slots[i].status == Status::Up {
                    self.slots[i].status = Status::Paused;
                }
            }
            Fault::Resume(id) => {
                let i = self.index[&id];
                if self.slots[i].status == Status::Paused {
                    self.slots[i].status = Status::Up;
                    while let Some(input) = self.slots[i].inbox.pop_front() {
                        if self.slots[i].status != Status::Up {
                            break;
                        }
                        if matches!(input, Input::Message { .. }) {
                            self.stats.messages_delivered += 1;
                        }
                        self.step_node(i, input);
                    }
                }
            }
            Fault::Partition(groups) => {
                let n = self.slots.len();
                // Group number per node; unnamed nodes share group `groups.len()`.
                let mut group = vec![groups.len(); n];
                for (g, members) in groups.iter().enumerate() {
                    for id in members {
                        group[self.index[id]] = g;
                    }
                }
                for a in 0..n {
                    for b in 0..n {
                        if group[a] != group[b] {
                            self.links[a * n + b].blocked = true;
                        }
                    }
                }
            }
            Fault::BlockLink { from, to } => {
                let n = self.slots.len();
                self.links[self.index[&from] * n + self.index[&to]].blocked = true;
            }
            Fault::Heal => {
                for link in &mut self.links {
                    link.blocked = false;
                }
            }
            Fault::SetNetwork(config) => {
                for link in &mut self.links {
                    link.config = config;
                }
            }
            Fault::SetLink { from, to, config } => {
                let n = self.slots.len();
                self.links[self.index[&from] * n + self.index[&to]].config = config;
            }
            Fault::SetTickPeriod { node, period } => {
                let i = self.index[&node];
                self.slots[i].tick_period = period;
            }
        }
    }

    fn crash(&mut self, id: NodeId) {
        let i = self.index[&id];
        if self.slots[i].status == Status::Down {
            return;
        }
        self.stats.crashes += 1;
        // The disk may have written some of the unacknowledged writes before the
        // crash, always a prefix (appends land in order); the rest is gone.
        let pending = self.slots[i].unsynced.len() as u64;
        let survive = self.rng.between(0, pending);
        let slot = &mut self.slots[i];
        for _ in 0..survive {
            if let Some((_, _, record)) = slot.unsynced.pop_front() {
                slot.durable.apply(record);
                self.stats.persists += 1;
            }
        }
        self.stats.persists_lost += slot.unsynced.len() as u64;
        slot.unsynced.clear();
        slot.inbox.clear();
        slot.node = None;
        slot.status = Status::Down;
        slot.incarnation += 1;
        slot.last_persist_done = 0;
    }

    fn restart(&mut self, id: NodeId) {
        let i = self.index[&id];
        if self.slots[i].status != Status::Down {
            return;
        }
        let node = (self.factory)(id, &self.slots[i].durable);
        let slot = &mut self.slots[i];
        slot.node = Some(node);
        slot.status = Status::Up;
        slot.incarnation += 1;
        let first = 1 + self.rng.below(self.slots[i].tick_period);
        self.schedule_tick(i, first);
    }
}

impl<N: Node, D> fmt::Debug for Sim<N, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sim")
            .field("seed", &self.config.seed)
            .field("now", &self.now)
            .field("nodes", &self.slots.len())
            .field("queued", &self.queue.len())
            .field("stats", &self.stats)
            .finish()
    }
}
