//! A runtime-agnostic async driver that runs any [`Node`] against a real network and
//! real storage.
//!
//! The driver is built on `futures` alone: it works on tokio, smol, async-std or
//! `futures::executor`. It owns the node, a [`Transport`], a [`Storage`] and a
//! [`Codec`], and consumes three streams: inbound [`Envelope`]s, ticks and application
//! requests. Application events come out of [`DriverHandle::events`].

use crate::{
    Action, ActionsOf, Codec, Envelope, Input, InputOf, Node, NodeId, PersistToken, Storage,
    StorageError, Transport, TransportError,
};
use futures::channel::mpsc;
use futures::{FutureExt, SinkExt, Stream, StreamExt};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// How the driver behaves. Build with [`DriverConfig::new`] and adjust fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriverConfig {
    /// Every other node of the cluster: the recipients of a broadcast, and the only
    /// senders whose frames are accepted.
    pub peers: Vec<NodeId>,
    /// A send still pending after this many ticks is abandoned (and reported), so a
    /// stalled transport cannot stall the node. Ticks that arrive meanwhile are not
    /// lost: they are delivered to the node once the send finishes or is abandoned.
    pub send_timeout_ticks: u64,
    /// Capacity of the event stream. When the application falls this far behind, the
    /// driver waits for it (backpressure) rather than buffering without bound.
    pub events_capacity: usize,
    /// Capacity of the report stream. Reports beyond it are dropped and counted in
    /// [`DriverStats::reports_dropped`]: diagnostics never hold up the node.
    pub reports_capacity: usize,
}

impl DriverConfig {
    /// Defaults for a cluster with these peers: sends time out after 5 ticks, 1024
    /// buffered events, 256 buffered reports.
    pub fn new(peers: impl IntoIterator<Item = NodeId>) -> Self {
        DriverConfig {
            peers: peers.into_iter().collect(),
            send_timeout_ticks: 5,
            events_capacity: 1024,
            reports_capacity: 256,
        }
    }
}

/// Counters the driver keeps while it runs; read them through
/// [`DriverHandle::stats`] from any thread.
#[derive(Debug, Default)]
pub struct DriverStats {
    /// Inputs given to the node's `step`.
    pub steps: AtomicU64,
    /// Frames handed to the transport successfully.
    pub frames_sent: AtomicU64,
    /// Bytes in those frames.
    pub bytes_sent: AtomicU64,
    /// Frames received and decoded.
    pub frames_received: AtomicU64,
    /// Frames dropped because they did not decode.
    pub frames_undecodable: AtomicU64,
    /// Frames dropped because their sender is not a peer.
    pub frames_from_unknown: AtomicU64,
    /// Sends the transport refused.
    pub send_failures: AtomicU64,
    /// Sends abandoned after [`DriverConfig::send_timeout_ticks`].
    pub send_timeouts: AtomicU64,
    /// Messages the codec could not encode.
    pub encode_failures: AtomicU64,
    /// Records made durable (barrier and background).
    pub persists: AtomicU64,
    /// Events handed to the application.
    pub events_emitted: AtomicU64,
    /// Events dropped because the application closed the event stream.
    pub events_dropped: AtomicU64,
    /// Reports dropped because the report stream was full or closed.
    pub reports_dropped: AtomicU64,
}

impl DriverStats {
    fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    /// Read one counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Something went wrong that the node survived; delivered on
/// [`DriverHandle::reports`].
#[derive(Debug, thiserror::Error)]
pub enum Report {
    /// The transport refused a frame.
    #[error("send to {to} failed: {error}")]
    SendFailed {
        /// The intended recipient.
        to: NodeId,
        /// Why.
        error: TransportError,
    },
    /// A send was still pending after `send_timeout_ticks` and was abandoned.
    #[error("send to {to} stalled and was abandoned")]
    SendTimedOut {
        /// The intended recipient.
        to: NodeId,
    },
    /// A received frame did not decode and was dropped.
    #[error("dropped an undecodable frame from {from}: {error}")]
    Undecodable {
        /// The claimed sender.
        from: NodeId,
        /// Why.
        error: crate::DecodeError,
    },
    /// A frame arrived from a node that is not a peer and was dropped.
    #[error("dropped a frame from unknown node {from}")]
    UnknownSender {
        /// The claimed sender.
        from: NodeId,
    },
    /// The codec refused to encode an outgoing message; it was not sent.
    #[error("could not encode a message to {}: {error}", to.map_or("every peer".to_string(), |n| n.to_string()))]
    Unencodable {
        /// The intended recipient; `None` for a broadcast.
        to: Option<NodeId>,
        /// Why.
        error: crate::EncodeError,
    },
}

/// Why [`Driver::run`] stopped with an error. The node performed no action after the
/// failure: in particular, nothing was sent after a failed persist.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// A write to storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The application's side of a running driver.
pub struct DriverHandle<E> {
    /// Events the node emitted, in order.
    pub events: mpsc::Receiver<E>,
    /// Faults the node survived.
    pub reports: mpsc::Receiver<Report>,
    /// Live counters.
    pub stats: Arc<DriverStats>,
}

/// Runs one [`Node`]: see the [module docs](self) and the crate's
/// [action-order rule](crate#the-action-order-rule).
pub struct Driver<N: Node, T, S, C> {
    node: N,
    transport: T,
    storage: S,
    codec: C,
    config: DriverConfig,
    stats: Arc<DriverStats>,
    events: mpsc::Sender<N::Event>,
    reports: mpsc::Sender<Report>,
    /// Reused across steps so a steady-state step allocates nothing here.
    actions: ActionsOf<N>,
    inputs: VecDeque<InputOf<N>>,
    unsynced: Vec<PersistToken>,
    /// Ticks that arrived while a send was pending; delivered afterwards.
    owed_ticks: u64,
}

enum Wake<R> {
    Frame(Envelope),
    Tick,
    Request(R),
}

impl<N, T, S, C> Driver<N, T, S, C>
where
    N: Node + Send,
    N::Message: Send,
    N::Request: Send,
    N::Persist: Send,
    N::Event: Send,
    T: Transport,
    S: Storage<N::Persist>,
    C: Codec<N::Message>,
{
    /// A driver for `node`, and the handle through which the application receives its
    /// events and reports.
    pub fn new(
        node: N,
        transport: T,
        storage: S,
        codec: C,
        config: DriverConfig,
    ) -> (Self, DriverHandle<N::Event>) {
        let (events_tx, events_rx) = mpsc::channel(config.events_capacity.max(1));
        let (reports_tx, reports_rx) = mpsc::channel(config.reports_capacity.max(1));
        let stats = Arc::new(DriverStats::default());
        let driver = Driver {
            node,
            transport,
            storage,
            codec,
            config,
            stats: stats.clone(),
            events: events_tx,
            reports: reports_tx,
            actions: ActionsOf::<N>::with_capacity(64),
            inputs: VecDeque::with_capacity(8),
            unsynced: Vec::new(),
            owed_ticks: 0,
        };
        let handle = DriverHandle {
            events: events_rx,
            reports: reports_rx,
            stats,
        };
        (driver, handle)
    }

    /// The node, for inspection.
    pub fn node(&self) -> &N {
        &self.node
    }

    /// Run until all three streams have ended (then return the node), or until
    /// storage fails (then stop at once and return the error).
    ///
    /// Inputs are handled one at a time: every action of one input is performed before
    /// the next input is read.
    pub async fn run<I, K, R>(mut self, inbound: I, ticks: K, requests: R) -> Result<N, DriverError>
    where
        I: Stream<Item = Envelope> + Send + Unpin,
        K: Stream<Item = ()> + Send + Unpin,
        R: Stream<Item = N::Request> + Send + Unpin,
    {
        let mut inbound = inbound.fuse();
        let mut ticks = ticks.fuse();
        let mut requests = requests.fuse();
        loop {
            let wake: Wake<N::Request> = futures::select_biased! {
                // Ticks first so that a flood of frames cannot starve timeouts.
                t = ticks.next() => match t { Some(()) => Wake::Tick, None => continue },
                e = inbound.next() => match e { Some(e) => Wake::Frame(e), None => continue },
                r = requests.next() => match r { Some(r) => Wake::Request(r), None => continue },
                complete => return Ok(self.node),
            };
            let input = match wake {
                Wake::Tick => Input::Tick,
                Wake::Request(request) => Input::Request(request),
                Wake::Frame(envelope) => match self.accept(envelope) {
                    Some(input) => input,
                    None => continue,
                },
            };
            self.process(input, &mut ticks).await?;
        }
    }

    /// Decode an inbound frame, or drop it with a count and a report.
    fn accept(&mut self, envelope: Envelope) -> Option<InputOf<N>> {
        let Envelope { from, frame } = envelope;
        if !self.config.peers.contains(&from) {
            DriverStats::bump(&self.stats.frames_from_unknown, 1);
            self.report(Report::UnknownSender { from });
            return None;
        }
        match self.codec.decode(&frame) {
            Ok(msg) => {
                DriverStats::bump(&self.stats.frames_received, 1);
                Some(Input::Message { from, msg })
            }
            Err(error) => {
                DriverStats::bump(&self.stats.frames_undecodable, 1);
                self.report(Report::Undecodable { from, error });
                None
            }
        }
    }

    /// Step the node with `input` and everything it leads to (persist
    /// acknowledgements, ticks owed from stalled sends), performing every action.
    async fn process<K>(&mut self, input: InputOf<N>, ticks: &mut K) -> Result<(), DriverError>
    where
        K: futures::stream::FusedStream<Item = ()> + Send + Unpin,
    {
        self.inputs.push_back(input);
        while let Some(input) = self.inputs.pop_front() {
            DriverStats::bump(&self.stats.steps, 1);
            self.node.step(input, &mut self.actions);
            let mut batch = std::mem::take(&mut self.actions);
            let result = self.perform(&mut batch, ticks).await;
            batch.clear();
            self.actions = batch;
            result?;
            if !self.unsynced.is_empty() {
                // The step's sends are out; now make its background writes durable
                // and tell the node.
                self.storage.sync().await?;
                self.acknowledge_unsynced();
            }
            if self.inputs.is_empty() && self.owed_ticks > 0 {
                self.owed_ticks -= 1;
                self.inputs.push_back(Input::Tick);
            }
        }
        Ok(())
    }

    async fn perform<K>(
        &mut self,
        batch: &mut ActionsOf<N>,
        ticks: &mut K,
    ) -> Result<(), DriverError>
    where
        K: futures::stream::FusedStream<Item = ()> + Send + Unpin,
    {
        for action in batch.drain() {
            match action {
                Action::Persist(data) => {
                    self.storage.append(data).await?;
                    // A barrier covers every earlier background write too.
                    self.storage.sync().await?;
                    DriverStats::bump(&self.stats.persists, 1);
                    self.acknowledge_unsynced();
                }
                Action::PersistInBackground { token, data } => {
                    self.storage.append(data).await?;
                    self.unsynced.push(token);
                }
                Action::Send { to, msg } => {
                    if let Some(frame) = self.encode(Some(to), &msg) {
                        self.send_frame(to, frame, ticks).await;
                    }
                }
                Action::Broadcast { msg } => {
                    let me = self.node.id();
                    // Encode once; `Bytes` clones share the buffer.
                    let Some(frame) = self.encode(None, &msg) else {
                        continue;
                    };
                    for index in 0..self.config.peers.len() {
                        let to = self.config.peers[index];
                        if to != me {
                            self.send_frame(to, frame.clone(), ticks).await;
                        }
                    }
                }
                Action::Emit(event) => {
                    if self.events.send(event).await.is_ok() {
                        DriverStats::bump(&self.stats.events_emitted, 1);
                    } else {
                        DriverStats::bump(&self.stats.events_dropped, 1);
                    }
                }
            }
        }
        Ok(())
    }

    /// Every background write appended so far is durable: count them and queue
    /// their acknowledgements, oldest first.
    fn acknowledge_unsynced(&mut self) {
        DriverStats::bump(&self.stats.persists, self.unsynced.len() as u64);
        for token in self.unsynced.drain(..) {
            self.inputs.push_back(Input::Persisted(token));
        }
    }

    fn encode(&mut self, to: Option<NodeId>, msg: &N::Message) -> Option<bytes::Bytes> {
        match self.codec.encode(msg) {
            Ok(frame) => Some(frame),
            Err(error) => {
                DriverStats::bump(&self.stats.encode_failures, 1);
                self.report(Report::Unencodable { to, error });
                None
            }
        }
    }

    /// Send one frame, abandoning it if `send_timeout_ticks` ticks pass first.
    async fn send_frame<K>(&mut self, to: NodeId, frame: bytes::Bytes, ticks: &mut K)
    where
        K: futures::stream::FusedStream<Item = ()> + Send + Unpin,
    {
        let len = frame.len() as u64;
        let timeout_ticks = self.config.send_timeout_ticks;
        let mut send = self.transport.send(to, frame).fuse();
        let mut waited_ticks = 0u64;
        let outcome = loop {
            futures::select_biased! {
                result = send => break Some(result),
                t = ticks.next() => {
                    if t.is_some() {
                        waited_ticks += 1;
                        if waited_ticks >= timeout_ticks {
                            break None;
                        }
                    } else {
                        // No more ticks will come: wait for the send alone.
                        break Some((&mut send).await);
                    }
                }
            }
        };
        drop(send);
        self.owed_ticks += waited_ticks;
        match outcome {
            Some(Ok(())) => {
                DriverStats::bump(&self.stats.frames_sent, 1);
                DriverStats::bump(&self.stats.bytes_sent, len);
            }
            Some(Err(error)) => {
                DriverStats::bump(&self.stats.send_failures, 1);
                self.report(Report::SendFailed { to, error });
            }
            None => {
                DriverStats::bump(&self.stats.send_timeouts, 1);
                self.report(Report::SendTimedOut { to });
            }
        }
    }

    fn report(&mut self, report: Report) {
        if self.reports.try_send(report).is_err() {
            DriverStats::bump(&self.stats.reports_dropped, 1);
        }
    }
}
