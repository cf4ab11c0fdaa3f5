//! Delta anti-entropy: a step-function node that keeps a CRDT replica and spreads its
//! deltas to peers, with acknowledgements, retransmission, joined delta groups and a
//! full-state fallback (Almeida, Shoker, Baquero 2018, Algorithm 1, with a bounded
//! buffer in place of an unbounded one).
//!
//! Each local mutation's delta is appended to a buffer under a sequence number. Every
//! `sync_every` ticks the node sends each peer the join of the deltas that peer has
//! not acknowledged (one *delta group*), or — when the buffer no longer reaches back
//! far enough, because it is bounded — its whole state. A receiver validates, joins
//! and acknowledges the sequence number. Lost, duplicated and reordered messages are
//! harmless: joins are idempotent and commutative, and anything unacknowledged is
//! sent again. Deltas every peer has acknowledged are dropped.
//!
//! **Forwarding** (Algorithm 2): a received value that inflates the state is also
//! buffered, tagged with the peer it came from, and sent on to the other peers (never
//! back), so replicas that can only reach each other through a third one converge.
//!
//! **Causal stability rides on acknowledgements**: every ack carries what the acking
//! replica has seen ([`Lattice::seen`]); the node feeds these reports to a
//! [`Stability`] tracker and, at each round, prunes what is stable
//! ([`Lattice::prune`]: remove-wins tokens, say). **Retiring** a replica
//! ([`AntiEntropy::retire`]) freezes it: its entries stay as they are (its last
//! frontier, which the operator states), later messages from it are refused, and a
//! value from anyone that carries it beyond that frontier is refused with
//! [`InvalidState::Retired`] — never merged, so no replica can grow a frozen entry.

use crate::stability::Stability;
use crate::{CrdtError, InvalidState, Lattice, Mutator};
use std::collections::{BTreeMap, VecDeque};
use synod_clocks::VersionVector;
use synod_core::{Actions, Input, Node, NodeId};

/// The node's output buffer.
pub type Out<T> = Actions<SyncMessage<T>, SyncRecord<T>, SyncEvent>;

/// What the node makes durable (with a [`Persist`](synod_core::Action::Persist)
/// barrier, so it is on disk before anything that reveals it is sent).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum SyncRecord<T> {
    /// A delta this replica minted (a local operation, so that a restarted replica
    /// never mints one of its dots again, or a pruning delta). Counting them also
    /// tells a restarted replica where its sequence numbers stopped, so that a late
    /// acknowledgement from before the crash cannot be mistaken for a new one.
    Minted(T),
    /// A value received from a peer, recorded before it is acknowledged (an ack is
    /// never a lie after a crash).
    Received(T),
    /// A value received from a peer that was news here, so it was also buffered to
    /// be forwarded (and took a sequence number, like a minted delta).
    Forwarded(T),
    /// A replica was retired with this final frontier.
    Retire {
        /// The retired replica.
        replica: NodeId,
        /// Its frozen frontier.
        last: u64,
    },
}

/// Durable records folded into what a restart needs: the join of every value
/// recorded, how many deltas were minted, and the retirements. Because values are
/// joined, a host may fold its log into this at any time (log compaction: one state,
/// not every delta).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SyncStore<T> {
    /// The join of every value recorded.
    pub state: T,
    /// Deltas minted or forwarded: every sequence number used so far is at most
    /// this.
    pub sequence: u64,
    /// Retired replicas and their frozen frontiers.
    pub retired: BTreeMap<NodeId, u64>,
}

impl<T: Lattice> SyncStore<T> {
    /// Fold one record in.
    pub fn apply(&mut self, record: SyncRecord<T>) {
        match record {
            SyncRecord::Minted(value) | SyncRecord::Forwarded(value) => {
                self.state.join(&value);
                self.sequence += 1;
            }
            SyncRecord::Received(value) => self.state.join(&value),
            SyncRecord::Retire { replica, last } => {
                self.retired.insert(replica, last);
            }
        }
    }
}

/// Tuning of an [`AntiEntropy`] node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncConfig {
    /// The other replicas. Messages from anyone else are ignored.
    pub peers: Vec<NodeId>,
    /// Most deltas kept for peers that have not acknowledged them; past it the oldest
    /// is dropped and a peer that still needs it gets the full state instead.
    pub buffer_limit: usize,
    /// Ticks between two rounds of sending.
    pub sync_every: u64,
}

impl SyncConfig {
    /// Defaults: a buffer of 1024 deltas, a round every tick.
    pub fn new(peers: Vec<NodeId>) -> Self {
        SyncConfig {
            peers,
            buffer_limit: 1024,
            sync_every: 1,
        }
    }
}

/// What replicas send each other.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum SyncMessage<T> {
    /// The join of the sender's deltas up to (not including) sequence `upto`.
    Deltas {
        /// The delta group.
        group: T,
        /// Acknowledge with this.
        upto: u64,
    },
    /// The sender's whole state, covering its deltas before `upto`.
    State {
        /// The state.
        state: T,
        /// Acknowledge with this.
        upto: u64,
    },
    /// The receiver has joined everything the sender buffered before `upto`.
    Ack {
        /// The sequence number acknowledged.
        upto: u64,
        /// What the receiver has seen, for causal stability.
        seen: VersionVector,
    },
}

/// What the node reports to its host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncEvent {
    /// A local operation was refused; nothing changed.
    Refused(CrdtError),
    /// A peer sent a value that fails validation; it was not joined or acknowledged.
    Rejected {
        /// The sender.
        from: NodeId,
        /// What is wrong with it.
        reason: InvalidState,
    },
    /// A message from a node that is not a peer was ignored.
    UnknownSender(NodeId),
}

/// A CRDT replica that synchronizes by delta anti-entropy. `Request` is an operation
/// `O`, applied with the [`Mutator`] given at construction.
///
/// ```
/// use synod_core::{Actions, Input, Node, NodeId, Action};
/// use synod_crdt::sync::{AntiEntropy, SyncConfig, SyncMessage};
/// use synod_crdt::{CrdtError, GCounter};
/// fn bump(c: &mut GCounter, at: NodeId, by: &u64) -> Result<GCounter, CrdtError> {
///     c.increment(at, *by)
/// }
/// let (a, b) = (NodeId(1), NodeId(2));
/// let mut na = AntiEntropy::new(a, SyncConfig::new(vec![b]), bump);
/// let mut nb = AntiEntropy::new(b, SyncConfig::new(vec![a]), bump);
/// let mut out = Actions::new();
/// na.step(Input::Request(5), &mut out);
/// na.step(Input::Tick, &mut out);               // sends A's delta group to B
/// for action in out.drain() {
///     if let Action::Send { msg, .. } = action {
///         let mut replies = Actions::new();
///         nb.step(Input::Message { from: a, msg }, &mut replies);
///     }
/// }
/// assert_eq!(nb.state().value(), 5);
/// ```
pub struct AntiEntropy<T, O> {
    id: NodeId,
    config: SyncConfig,
    mutator: Mutator<T, O>,
    state: T,
    /// Deltas with sequence numbers `first_seq..next_seq`.
    /// Each delta with the peer it came from (`None`: minted here), so it is not
    /// sent back there.
    buffer: VecDeque<(Option<NodeId>, T)>,
    first_seq: u64,
    next_seq: u64,
    /// Highest sequence number each peer acknowledged (absent: nothing).
    acked: BTreeMap<NodeId, u64>,
    ticks: u64,
    stability: Stability,
    /// Retired replicas and their frozen frontiers.
    retired: BTreeMap<NodeId, u64>,
    pruned: u64,
}

impl<T: Lattice, O> AntiEntropy<T, O> {
    /// A replica `id` starting from the bottom state.
    pub fn new(id: NodeId, config: SyncConfig, mutator: Mutator<T, O>) -> Self {
        Self::with_state(id, config, mutator, T::default())
    }

    /// A replica `id` starting from `state` (restored from durable storage, say).
    pub fn with_state(id: NodeId, config: SyncConfig, mutator: Mutator<T, O>, state: T) -> Self {
        let members = config.peers.iter().copied().chain([id]);
        AntiEntropy {
            id,
            stability: Stability::new(members),
            config,
            mutator,
            state,
            buffer: VecDeque::new(),
            first_seq: 0,
            next_seq: 0,
            acked: BTreeMap::new(),
            ticks: 0,
            retired: BTreeMap::new(),
            pruned: 0,
        }
    }

    /// A replica `id` restarted from its durable records (folded into `store`). Every
    /// peer is sent the whole state at the next round, since whatever was buffered
    /// for them is gone; dots are minted after everything recorded, never again.
    pub fn restore(
        id: NodeId,
        config: SyncConfig,
        mutator: Mutator<T, O>,
        store: &SyncStore<T>,
    ) -> Self {
        let mut node = Self::with_state(id, config, mutator, store.state.clone());
        for (&replica, &last) in &store.retired {
            node.freeze(replica, last);
        }
        // Sequence numbers resume past every one used before the crash (so a late
        // ack from then cannot cover a new delta), and no buffer reaches back to
        // them: every peer gets the full state once.
        node.first_seq = store.sequence + 1;
        node.next_seq = store.sequence + 1;
        node
    }

    /// Retire `replica`, which has stopped updating for good; `last` is its final
    /// frontier ([`Lattice::frontier`]: its last dot, or its counter entry), which
    /// every replica must be given alike. From now on its entries are frozen:
    /// messages from it are refused, a value carrying it beyond `last` is refused
    /// with [`InvalidState::Retired`] (values up to `last` are still joined, so its
    /// final updates reach everyone), and it no longer holds causal stability back.
    ///
    /// # Errors
    /// [`CrdtError::UnknownReplica`] if `replica` is not a peer (or is this node);
    /// [`CrdtError::RetiredBehind`] if this replica already holds more of `replica`
    /// than `last` (the stated frontier is wrong). Nothing changes.
    pub fn retire(&mut self, replica: NodeId, last: u64) -> Result<(), CrdtError> {
        if !self.is_peer(replica) {
            return Err(CrdtError::UnknownReplica(replica));
        }
        let held = self.state.frontier(replica);
        if held > last {
            return Err(CrdtError::RetiredBehind {
                replica,
                last,
                held,
            });
        }
        self.freeze(replica, last);
        Ok(())
    }

    /// [`retire`](Self::retire), made durable: the record is put in `out` ahead of
    /// anything else.
    ///
    /// # Errors
    /// As [`retire`](Self::retire); nothing is recorded.
    pub fn retire_durably(
        &mut self,
        replica: NodeId,
        last: u64,
        out: &mut Out<T>,
    ) -> Result<(), CrdtError> {
        self.retire(replica, last)?;
        out.persist(SyncRecord::Retire { replica, last });
        Ok(())
    }

    fn freeze(&mut self, replica: NodeId, last: u64) {
        self.config.peers.retain(|p| *p != replica);
        self.acked.remove(&replica);
        self.retired.insert(replica, last);
        self.stability
            .retire(replica, &VersionVector::from_entries([(replica, last)]));
        self.collect_garbage();
    }

    /// Whether `replica` has been retired here.
    pub fn is_retired(&self, replica: NodeId) -> bool {
        self.retired.contains_key(&replica)
    }

    /// How many entries causal-stability pruning has dropped so far.
    pub fn pruned(&self) -> u64 {
        self.pruned
    }

    /// Prune what every member's report shows to be causally stable.
    fn prune_stable(&mut self, out: &mut Out<T>) {
        let seen = self.state.seen();
        if seen.is_empty() {
            return; // a type without dots: nothing to prune
        }
        // Our own report is our current state; reporting it cannot fail (we are a
        // member and never retired here).
        let _ = self.stability.observe(self.id, &seen);
        if let Some(stable) = self.stability.stable(&seen)
            && let Some((dropped, delta)) = self.state.prune(&stable)
        {
            self.pruned += dropped as u64;
            out.persist(SyncRecord::Minted(delta.clone()));
            // Peers prune alike when they join it (they may not yet know the dots
            // are stable, and need not).
            self.buffer_delta(None, delta);
        }
    }

    fn buffer_delta(&mut self, origin: Option<NodeId>, delta: T) {
        self.buffer.push_back((origin, delta));
        self.next_seq += 1;
        if self.buffer.len() > self.config.buffer_limit.max(1) {
            self.buffer.pop_front();
            self.first_seq += 1;
        }
    }

    /// The first retired replica `value` carries beyond its frozen frontier.
    fn beyond_retirement(&self, value: &T) -> Option<NodeId> {
        self.retired
            .iter()
            .find(|(r, last)| value.frontier(**r) > **last)
            .map(|(r, _)| *r)
    }

    /// The replica's state.
    pub fn state(&self) -> &T {
        &self.state
    }

    /// Deltas buffered now (at most `buffer_limit`).
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    fn is_peer(&self, node: NodeId) -> bool {
        node != self.id && self.config.peers.contains(&node)
    }

    fn local(&mut self, op: &O, out: &mut Out<T>) {
        match (self.mutator)(&mut self.state, self.id, op) {
            Ok(delta) => {
                // Durable before any round can reveal the new dot.
                out.persist(SyncRecord::Minted(delta.clone()));
                self.buffer_delta(None, delta);
            }
            Err(e) => out.emit(SyncEvent::Refused(e)),
        }
    }

    fn round(&mut self, out: &mut Out<T>) {
        self.prune_stable(out);
        let next = self.next_seq;
        for &peer in &self.config.peers {
            if peer == self.id {
                continue;
            }
            let acked = self.acked.get(&peer).copied().unwrap_or(0);
            if acked >= next {
                continue;
            }
            let msg = if acked < self.first_seq {
                SyncMessage::State {
                    state: self.state.clone(),
                    upto: next,
                }
            } else {
                let from = (acked - self.first_seq) as usize;
                let mut group: Option<T> = None;
                for (origin, delta) in self.buffer.iter().skip(from) {
                    // What came from `peer` is not sent back to it.
                    if *origin != Some(peer) {
                        group.get_or_insert_with(T::default).join(delta);
                    }
                }
                let Some(group) = group else {
                    // Everything pending came from `peer` itself: it has it all.
                    self.acked.insert(peer, next);
                    continue;
                };
                SyncMessage::Deltas { group, upto: next }
            };
            out.send(peer, msg);
        }
        self.collect_garbage();
    }

    fn receive(&mut self, from: NodeId, msg: SyncMessage<T>, out: &mut Out<T>) {
        if self.retired.contains_key(&from) {
            out.emit(SyncEvent::Rejected {
                from,
                reason: InvalidState::Retired(from),
            });
            return;
        }
        if !self.is_peer(from) {
            out.emit(SyncEvent::UnknownSender(from));
            return;
        }
        match msg {
            SyncMessage::Deltas { group: value, upto }
            | SyncMessage::State { state: value, upto } => {
                if let Err(reason) = value.validate() {
                    out.emit(SyncEvent::Rejected { from, reason });
                    return;
                }
                if let Some(retired) = self.beyond_retirement(&value) {
                    out.emit(SyncEvent::Rejected {
                        from,
                        reason: InvalidState::Retired(retired),
                    });
                    return;
                }
                // Algorithm 2: what is news here is passed on to the other peers,
                // so replicas that never talk directly still converge. What is not
                // news is not buffered, which is what stops deltas circulating.
                // Either way it is durable before the ack: an acknowledged value is
                // never lost.
                if value.leq(&self.state) {
                    out.persist(SyncRecord::Received(value.clone()));
                } else {
                    out.persist(SyncRecord::Forwarded(value.clone()));
                    self.buffer_delta(Some(from), value.clone());
                }
                self.state.join(&value);
                let seen = self.state.seen();
                out.send(from, SyncMessage::Ack { upto, seen });
            }
            SyncMessage::Ack { upto, seen } => {
                // A report from a peer only grows its entry; a malformed one is
                // ignored (the ack itself still counts).
                if validate_report(&seen).is_ok() {
                    let _ = self.stability.observe(from, &seen);
                }
                // An acknowledgement beyond what was ever sent is clamped, so a
                // confused peer cannot make us skip deltas it has not received.
                let upto = upto.min(self.next_seq);
                let entry = self.acked.entry(from).or_insert(0);
                *entry = (*entry).max(upto);
                self.collect_garbage();
            }
        }
    }

    /// Drop the deltas every peer has acknowledged.
    fn collect_garbage(&mut self) {
        let everyone = self
            .config
            .peers
            .iter()
            .filter(|p| **p != self.id)
            .map(|p| self.acked.get(p).copied().unwrap_or(0))
            .min()
            .unwrap_or(self.next_seq);
        while self.first_seq < everyone && !self.buffer.is_empty() {
            self.buffer.pop_front();
            self.first_seq += 1;
        }
    }
}

impl<T: Lattice, O> Node for AntiEntropy<T, O> {
    type Message = SyncMessage<T>;
    type Request = O;
    type Persist = SyncRecord<T>;
    type Event = SyncEvent;

    fn id(&self) -> NodeId {
        self.id
    }

    fn step(&mut self, input: Input<SyncMessage<T>, O>, out: &mut Out<T>) {
        match input {
            Input::Request(op) => self.local(&op, out),
            Input::Tick => {
                self.ticks += 1;
                if self.ticks.is_multiple_of(self.config.sync_every.max(1)) {
                    self.round(out);
                }
            }
            Input::Message { from, msg } => self.receive(from, msg, out),
            Input::Persisted(_) => {}
        }
    }
}

/// A report from a peer must be a canonical version vector.
fn validate_report(seen: &VersionVector) -> Result<(), InvalidState> {
    crate::kernel::validate_vv(seen)
}
