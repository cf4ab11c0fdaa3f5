//! Tests of the async [`Driver`]: the action-order rule, failure handling, hostile
//! input, stalled transports, broadcast, the event stream and shutdown.
//!
//! Everything here runs on `futures::executor` (`LocalPool`, `block_on`, `ThreadPool`)
//! with an in-memory transport and storage — tokio is exercised by the examples — which
//! is the proof that the driver does not depend on one runtime.
//!
//! Most tests use a [`Scripted`] node whose requests *are* the actions it outputs, so a
//! test can hand the driver any sequence of actions and watch, through one shared
//! [`Log`], in which order storage and transport performed them.

use async_trait::async_trait;
use bytes::Bytes;
use futures::channel::{mpsc, oneshot};
use futures::executor::{LocalPool, ThreadPool, block_on};
use futures::future::{FutureExt, RemoteHandle};
use futures::stream::{self, StreamExt};
use futures::task::{LocalSpawnExt, SpawnExt};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use synod_core::{
    Action, Actions, Codec, DecodeError, Driver, DriverConfig, DriverError, DriverStats,
    EncodeError, Envelope, Input, Node, NodeId, PersistToken, Report, Storage, StorageError,
    Transport, TransportError,
};

// ---------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------

/// One observable thing that happened, in the order it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    /// Storage accepted a record.
    Append(u64),
    /// Storage refused a record.
    AppendFailed(u64),
    /// `Storage::sync` returned: everything appended before is durable.
    Synced,
    /// `Storage::sync` failed.
    SyncFailed,
    /// The transport accepted a frame.
    Sent { to: NodeId, msg: u64 },
    /// The transport refused a frame.
    Refused { to: NodeId },
    /// The transport began a send that will never complete.
    Stalled { to: NodeId },
    /// The node stepped on a tick.
    Tick,
    /// The node stepped on a message.
    Message { from: NodeId, msg: u64 },
    /// The node stepped on a persist acknowledgement.
    Persisted(u64),
}

/// A global, thread-safe event log shared by the node, the storage and the transport.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Ev>>>);

impl Log {
    fn push(&self, ev: Ev) {
        self.0.lock().expect("log lock poisoned").push(ev);
    }

    fn snapshot(&self) -> Vec<Ev> {
        self.0.lock().expect("log lock poisoned").clone()
    }

    fn count(&self, wanted: &Ev) -> usize {
        self.snapshot().iter().filter(|ev| *ev == wanted).count()
    }
}

type TestAction = Action<u64, u64, u64>;
/// A request to the scripted node: the actions it must output, verbatim.
type Script = Vec<TestAction>;

/// A node that outputs whatever its request says and logs every other input.
#[derive(Debug)]
struct Scripted {
    id: NodeId,
    log: Log,
    ticks_seen: u64,
    messages: Vec<(NodeId, u64)>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Log")
    }
}

impl Node for Scripted {
    type Message = u64;
    type Request = Script;
    type Persist = u64;
    type Event = u64;

    fn id(&self) -> NodeId {
        self.id
    }

    fn step(&mut self, input: Input<u64, Script>, out: &mut Actions<u64, u64, u64>) {
        match input {
            Input::Request(script) => script.into_iter().for_each(|a| out.push(a)),
            Input::Tick => {
                self.ticks_seen += 1;
                self.log.push(Ev::Tick);
            }
            Input::Message { from, msg } => {
                self.messages.push((from, msg));
                self.log.push(Ev::Message { from, msg });
            }
            Input::Persisted(PersistToken(token)) => self.log.push(Ev::Persisted(token)),
        }
    }
}

/// In-memory storage. `sync` can be gated so a test decides when it returns, and
/// appends or syncs can be made to fail.
struct MemStorage {
    log: Log,
    appended: Vec<u64>,
    /// When set, each `sync` waits for one permit from the test.
    sync_permits: Option<mpsc::UnboundedReceiver<()>>,
    fail_append_of: Option<u64>,
    fail_sync: bool,
}

impl MemStorage {
    fn new(log: Log) -> Self {
        MemStorage {
            log,
            appended: Vec::new(),
            sync_permits: None,
            fail_append_of: None,
            fail_sync: false,
        }
    }
}

#[async_trait]
impl Storage<u64> for MemStorage {
    async fn append(&mut self, data: u64) -> Result<(), StorageError> {
        if self.fail_append_of == Some(data) {
            self.log.push(Ev::AppendFailed(data));
            return Err(StorageError::new("disk full"));
        }
        self.appended.push(data);
        self.log.push(Ev::Append(data));
        Ok(())
    }

    async fn sync(&mut self) -> Result<(), StorageError> {
        if let Some(permits) = self.sync_permits.as_mut() {
            // A closed permit channel counts as a permit: never hang a test.
            let _ = permits.next().await;
        }
        if self.fail_sync {
            self.log.push(Ev::SyncFailed);
            return Err(StorageError::new("fsync failed"));
        }
        self.log.push(Ev::Synced);
        Ok(())
    }
}

/// What the fake transport does with a frame to one peer.
#[derive(Clone, Copy, Debug)]
enum Link {
    Deliver,
    Refuse,
    Stall,
}

/// In-memory transport over `futures::channel::mpsc`: frames to a routed peer land in
/// that peer's inbound stream; every send is logged.
#[derive(Clone)]
struct MemTransport {
    me: NodeId,
    log: Log,
    links: HashMap<NodeId, Link>,
    routes: HashMap<NodeId, mpsc::UnboundedSender<Envelope>>,
}

impl MemTransport {
    fn new(me: NodeId, log: Log) -> Self {
        MemTransport {
            me,
            log,
            links: HashMap::new(),
            routes: HashMap::new(),
        }
    }
}

#[async_trait]
impl Transport for MemTransport {
    async fn send(&self, to: NodeId, frame: Bytes) -> Result<(), TransportError> {
        match self.links.get(&to).copied().unwrap_or(Link::Deliver) {
            Link::Deliver => {
                let msg = U64Codec::default()
                    .decode(&frame)
                    .expect("the driver hands the transport frames its codec made");
                self.log.push(Ev::Sent { to, msg });
                if let Some(route) = self.routes.get(&to) {
                    // A peer that already stopped is a lost frame, which is allowed.
                    let _ = route.unbounded_send(Envelope {
                        from: self.me,
                        frame,
                    });
                }
                Ok(())
            }
            Link::Refuse => {
                self.log.push(Ev::Refused { to });
                Err(TransportError::Backpressure(to))
            }
            Link::Stall => {
                self.log.push(Ev::Stalled { to });
                futures::future::pending().await
            }
        }
    }
}

/// Encodes a `u64` as exactly 8 big-endian bytes and counts encodes.
#[derive(Clone, Default)]
struct U64Codec {
    encodes: Arc<AtomicUsize>,
}

impl Codec<u64> for U64Codec {
    fn encode(&self, msg: &u64) -> Result<Bytes, EncodeError> {
        self.encodes.fetch_add(1, Ordering::Relaxed);
        if *msg == UNENCODABLE {
            return Err(EncodeError {
                reason: "reserved value".into(),
            });
        }
        Ok(Bytes::copy_from_slice(&msg.to_be_bytes()))
    }

    fn decode(&self, frame: &[u8]) -> Result<u64, DecodeError> {
        let bytes: [u8; 8] = frame.try_into().map_err(|_| DecodeError {
            reason: format!("{} bytes, want 8", frame.len()),
        })?;
        Ok(u64::from_be_bytes(bytes))
    }
}

/// The one message [`U64Codec`] refuses to encode.
const UNENCODABLE: u64 = u64::MAX;

fn frame(msg: u64) -> Bytes {
    Bytes::copy_from_slice(&msg.to_be_bytes())
}

const ME: NodeId = NodeId(1);
const N2: NodeId = NodeId(2);
const N3: NodeId = NodeId(3);
const N4: NodeId = NodeId(4);

type RunResult = Result<Scripted, DriverError>;

/// One scripted node running on a single-threaded `LocalPool`. Every input method
/// runs the pool until the driver can make no more progress, so a test observes the
/// state after the driver has done everything it can with what it was given.
struct Harness {
    log: Log,
    pool: LocalPool,
    run: RemoteHandle<RunResult>,
    inbound: Option<mpsc::UnboundedSender<Envelope>>,
    ticks: Option<mpsc::UnboundedSender<()>>,
    requests: Option<mpsc::UnboundedSender<Script>>,
    events: Option<mpsc::Receiver<u64>>,
    reports: mpsc::Receiver<Report>,
    stats: Arc<DriverStats>,
    encodes: Arc<AtomicUsize>,
}

/// What a harness is built from; tests adjust the parts they care about.
struct Setup {
    log: Log,
    transport: MemTransport,
    storage: MemStorage,
    config: DriverConfig,
}

impl Setup {
    fn new() -> Self {
        let log = Log::default();
        Setup {
            transport: MemTransport::new(ME, log.clone()),
            storage: MemStorage::new(log.clone()),
            config: DriverConfig::new([N2, N3]),
            log,
        }
    }

    fn start(self) -> Harness {
        let node = Scripted {
            id: ME,
            log: self.log.clone(),
            ticks_seen: 0,
            messages: Vec::new(),
        };
        let codec = U64Codec::default();
        let encodes = codec.encodes.clone();
        let (driver, handle) = Driver::new(node, self.transport, self.storage, codec, self.config);
        let (inbound_tx, inbound_rx) = mpsc::unbounded();
        let (ticks_tx, ticks_rx) = mpsc::unbounded();
        let (requests_tx, requests_rx) = mpsc::unbounded();
        let pool = LocalPool::new();
        let run = pool
            .spawner()
            .spawn_local_with_handle(driver.run(inbound_rx, ticks_rx, requests_rx))
            .expect("a fresh LocalPool accepts tasks");
        let mut harness = Harness {
            log: self.log,
            pool,
            run,
            inbound: Some(inbound_tx),
            ticks: Some(ticks_tx),
            requests: Some(requests_tx),
            events: Some(handle.events),
            reports: handle.reports,
            stats: handle.stats,
            encodes,
        };
        harness.settle();
        harness
    }
}

impl Harness {
    fn settle(&mut self) {
        self.pool.run_until_stalled();
    }

    fn request(&mut self, script: Script) {
        self.requests
            .as_ref()
            .expect("requests still open")
            .unbounded_send(script)
            .expect("driver is running");
        self.settle();
    }

    fn tick(&mut self, count: usize) {
        for _ in 0..count {
            self.ticks
                .as_ref()
                .expect("ticks still open")
                .unbounded_send(())
                .expect("driver is running");
        }
        self.settle();
    }

    fn deliver(&mut self, envelope: Envelope) {
        self.inbound
            .as_ref()
            .expect("inbound still open")
            .unbounded_send(envelope)
            .expect("driver is running");
        self.settle();
    }

    fn events_now(&mut self) -> Vec<u64> {
        let mut out = Vec::new();
        if let Some(events) = self.events.as_mut() {
            while let Some(Some(event)) = events.next().now_or_never() {
                out.push(event);
            }
        }
        out
    }

    fn reports_now(&mut self) -> Vec<Report> {
        let mut out = Vec::new();
        while let Some(Some(report)) = self.reports.next().now_or_never() {
            out.push(report);
        }
        out
    }

    fn stat(&self, pick: impl Fn(&DriverStats) -> &std::sync::atomic::AtomicU64) -> u64 {
        DriverStats::get(pick(&self.stats))
    }

    /// The driver's result if it has stopped, without waiting.
    fn stopped(&mut self) -> Option<RunResult> {
        self.settle();
        (&mut self.run).now_or_never()
    }

    /// End every input stream and return what the driver returned. Panics (rather
    /// than hangs) if the driver does not stop.
    fn finish(mut self) -> (RunResult, Log) {
        self.inbound = None;
        self.ticks = None;
        self.requests = None;
        let result = self
            .stopped()
            .expect("the driver must stop once all its input streams have ended");
        (result, self.log)
    }
}

/// Run `f` on its own thread and fail the test if it takes longer than `secs`: a
/// driver that hangs must fail a test, not hang the suite.
fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let out = f();
        let _ = done_tx.send(());
        out
    });
    match done_rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("did not finish within {secs} s: the driver hangs")
        }
    }
}

fn send(to: NodeId, msg: u64) -> TestAction {
    Action::Send { to, msg }
}

fn sent(to: NodeId, msg: u64) -> Ev {
    Ev::Sent { to, msg }
}

fn background(token: u64, data: u64) -> TestAction {
    Action::PersistInBackground {
        token: PersistToken(token),
        data,
    }
}

// ---------------------------------------------------------------------------------
// The action-order rule
// ---------------------------------------------------------------------------------

#[test]
fn barrier_persist_is_durable_before_the_following_send_leaves() {
    // Checks the action-order rule: with `sync` held open, the send after a Persist
    // must not reach the transport; once `sync` returns it goes out, then the emit.
    let mut setup = Setup::new();
    let (permits, gate) = mpsc::unbounded();
    setup.storage.sync_permits = Some(gate);
    let mut h = setup.start();

    h.request(vec![
        send(N2, 10),
        Action::Persist(1),
        send(N2, 11),
        Action::Emit(5),
    ]);
    assert_eq!(h.log.snapshot(), [sent(N2, 10), Ev::Append(1)]);
    assert!(h.events_now().is_empty(), "emit overtook the barrier");

    permits.unbounded_send(()).expect("storage is waiting");
    h.settle();
    assert_eq!(
        h.log.snapshot(),
        [sent(N2, 10), Ev::Append(1), Ev::Synced, sent(N2, 11)]
    );
    assert_eq!(h.events_now(), [5]);
    assert_eq!(h.stat(|s| &s.persists), 1);

    let (result, _) = h.finish();
    result.expect("driver ends cleanly");
}

#[test]
fn failed_append_stops_the_driver_before_any_later_action() {
    // Checks that when a barrier's append fails the driver returns
    // `DriverError::Storage` and performs no later send, broadcast or emit.
    let mut setup = Setup::new();
    setup.storage.fail_append_of = Some(2);
    let mut h = setup.start();

    h.request(vec![
        Action::Persist(1),
        send(N2, 10),
        Action::Persist(2),
        send(N2, 11),
        Action::Broadcast { msg: 12 },
        Action::Emit(13),
    ]);
    let result = h.stopped().expect("a storage failure stops the driver");
    assert!(matches!(result, Err(DriverError::Storage(_))), "{result:?}");
    assert_eq!(
        h.log.snapshot(),
        [Ev::Append(1), Ev::Synced, sent(N2, 10), Ev::AppendFailed(2)],
        "something was performed after the failed write"
    );
    assert!(h.events_now().is_empty());
    assert_eq!(h.stat(|s| &s.events_emitted), 0);
    assert_eq!(h.stat(|s| &s.frames_sent), 1);
}

#[test]
fn failed_sync_stops_the_driver_before_the_send_it_guards() {
    // Checks that a barrier whose fsync fails ends the run with
    // `DriverError::Storage` and that the send it guards never reaches the transport.
    let mut setup = Setup::new();
    setup.storage.fail_sync = true;
    let mut h = setup.start();

    h.request(vec![Action::Persist(1), send(N2, 10), Action::Emit(1)]);
    let result = h.stopped().expect("a storage failure stops the driver");
    assert!(matches!(result, Err(DriverError::Storage(_))), "{result:?}");
    assert_eq!(h.log.snapshot(), [Ev::Append(1), Ev::SyncFailed]);
    assert!(h.events_now().is_empty());
}

#[test]
fn failed_background_sync_stops_the_driver_without_acknowledging() {
    // Checks that when the end-of-step sync of a background write fails, the node is
    // never told `Persisted` (it would count a write that is not durable) and the
    // driver stops with `DriverError::Storage`.
    let mut setup = Setup::new();
    setup.storage.fail_sync = true;
    let mut h = setup.start();

    h.request(vec![background(7, 1), send(N2, 10)]);
    let result = h.stopped().expect("a storage failure stops the driver");
    assert!(matches!(result, Err(DriverError::Storage(_))), "{result:?}");
    assert_eq!(
        h.log.snapshot(),
        [Ev::Append(1), sent(N2, 10), Ev::SyncFailed]
    );
}

#[test]
fn background_persist_lets_later_sends_overtake_it_then_is_acknowledged() {
    // Checks Raft thesis §10.2.1 overlap: the sends after a PersistInBackground leave
    // before its sync, and the node is told `Persisted(token)` only after the sync.
    let mut setup = Setup::new();
    let (permits, gate) = mpsc::unbounded();
    setup.storage.sync_permits = Some(gate);
    let mut h = setup.start();

    h.request(vec![
        background(7, 1),
        send(N2, 10),
        send(N3, 11),
        Action::Emit(1),
    ]);
    // The sends went out although the write is not durable yet.
    assert_eq!(
        h.log.snapshot(),
        [Ev::Append(1), sent(N2, 10), sent(N3, 11)]
    );
    assert_eq!(h.events_now(), [1]);

    permits.unbounded_send(()).expect("storage is waiting");
    h.settle();
    assert_eq!(
        h.log.snapshot(),
        [
            Ev::Append(1),
            sent(N2, 10),
            sent(N3, 11),
            Ev::Synced,
            Ev::Persisted(7)
        ]
    );
    drop(permits);
    h.finish().0.expect("driver ends cleanly");
}

#[test]
fn barrier_after_background_write_covers_and_acknowledges_it() {
    // Checks that a barrier makes an earlier background write durable too: one sync
    // covers both, the token is acknowledged exactly once, and only after that sync.
    let mut h = Setup::new().start();

    h.request(vec![
        background(8, 2),
        send(N2, 20),
        Action::Persist(3),
        send(N2, 21),
    ]);
    assert_eq!(
        h.log.snapshot(),
        [
            Ev::Append(2),
            sent(N2, 20),
            Ev::Append(3),
            Ev::Synced,
            sent(N2, 21),
            Ev::Persisted(8),
        ]
    );
    assert_eq!(h.log.count(&Ev::Synced), 1, "one sync covers both writes");
    assert_eq!(h.stat(|s| &s.persists), 2);
    h.finish().0.expect("driver ends cleanly");
}

// ---------------------------------------------------------------------------------
// Hostile input and a faulty network
// ---------------------------------------------------------------------------------

#[test]
fn bad_frames_are_dropped_counted_and_reported_and_the_node_keeps_working() {
    // Checks that a frame from a non-peer and a frame that does not decode never reach
    // the node, are counted and reported, and that a good frame after them is delivered.
    let mut h = Setup::new().start();

    h.deliver(Envelope {
        from: NodeId(9),
        frame: frame(1),
    });
    h.deliver(Envelope {
        from: N2,
        frame: Bytes::from_static(&[1, 2, 3]),
    });
    h.deliver(Envelope {
        from: N2,
        frame: frame(42),
    });
    assert_eq!(h.log.snapshot(), [Ev::Message { from: N2, msg: 42 }]);
    assert_eq!(h.stat(|s| &s.frames_from_unknown), 1);
    assert_eq!(h.stat(|s| &s.frames_undecodable), 1);
    assert_eq!(h.stat(|s| &s.frames_received), 1);
    let reports = h.reports_now();
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert!(matches!(
        reports[0],
        Report::UnknownSender { from: NodeId(9) }
    ));
    assert!(matches!(reports[1], Report::Undecodable { from: N2, .. }));

    // Still working.
    h.request(vec![send(N3, 5)]);
    assert_eq!(h.log.snapshot().last(), Some(&sent(N3, 5)));
    let (result, _) = h.finish();
    let node = result.expect("driver ends cleanly");
    assert_eq!(node.messages, [(N2, 42)]);
}

#[test]
fn transport_errors_are_counted_and_reported_and_the_node_keeps_running() {
    // Checks that a refused send is counted and reported, does not stop the actions
    // after it (the next send and the emit still happen), and later inputs still work.
    let mut setup = Setup::new();
    setup.transport.links.insert(N3, Link::Refuse);
    let mut h = setup.start();

    h.request(vec![send(N3, 1), send(N2, 2), Action::Emit(3)]);
    assert_eq!(h.log.snapshot(), [Ev::Refused { to: N3 }, sent(N2, 2)]);
    assert_eq!(h.events_now(), [3]);
    assert_eq!(h.stat(|s| &s.send_failures), 1);
    assert_eq!(h.stat(|s| &s.frames_sent), 1);
    let reports = h.reports_now();
    assert!(
        matches!(
            reports.as_slice(),
            [Report::SendFailed {
                to: N3,
                error: TransportError::Backpressure(N3)
            }]
        ),
        "{reports:?}"
    );

    h.request(vec![send(N2, 4)]);
    h.tick(1);
    assert_eq!(h.log.snapshot()[2..], [sent(N2, 4), Ev::Tick]);
    h.finish().0.expect("driver ends cleanly");
}

#[test]
fn unencodable_messages_are_skipped_counted_and_reported() {
    // Checks that a message the codec refuses is neither sent nor fatal: it is counted
    // and reported (once for a broadcast), and the actions after it still happen.
    let mut h = Setup::new().start();

    h.request(vec![
        send(N2, UNENCODABLE),
        Action::Broadcast { msg: UNENCODABLE },
        send(N3, 1),
        Action::Emit(2),
    ]);
    assert_eq!(h.log.snapshot(), [sent(N3, 1)]);
    assert_eq!(h.events_now(), [2]);
    assert_eq!(h.stat(|s| &s.encode_failures), 2);
    let reports = h.reports_now();
    assert!(
        matches!(
            reports.as_slice(),
            [
                Report::Unencodable { to: Some(N2), .. },
                Report::Unencodable { to: None, .. }
            ]
        ),
        "{reports:?}"
    );
    h.finish().0.expect("driver ends cleanly");
}

#[test]
fn stalled_send_is_abandoned_after_the_timeout_and_no_tick_is_lost() {
    // Checks `send_timeout_ticks`: a send that never completes is abandoned on exactly
    // the third tick (not before), counted and reported; the actions after it run,
    // and all three ticks that arrived meanwhile reach the node afterwards.
    let mut setup = Setup::new();
    setup.config.send_timeout_ticks = 3;
    setup.transport.links.insert(N3, Link::Stall);
    let mut h = setup.start();

    h.request(vec![send(N3, 1), send(N2, 2)]);
    assert_eq!(h.log.snapshot(), [Ev::Stalled { to: N3 }]);

    h.tick(2);
    assert_eq!(
        h.log.snapshot(),
        [Ev::Stalled { to: N3 }],
        "gave up too early"
    );
    assert_eq!(h.stat(|s| &s.send_timeouts), 0);

    h.tick(1);
    assert_eq!(
        h.log.snapshot(),
        [
            Ev::Stalled { to: N3 },
            sent(N2, 2),
            Ev::Tick,
            Ev::Tick,
            Ev::Tick
        ]
    );
    assert_eq!(h.stat(|s| &s.send_timeouts), 1);
    let reports = h.reports_now();
    assert!(
        matches!(reports.as_slice(), [Report::SendTimedOut { to: N3 }]),
        "{reports:?}"
    );

    // Ticks flow normally afterwards.
    h.tick(2);
    let (result, _) = h.finish();
    assert_eq!(result.expect("driver ends cleanly").ticks_seen, 5);
}

#[test]
fn broadcast_reaches_every_peer_but_self_and_is_encoded_once() {
    // Checks that a broadcast is encoded once and sent to each configured peer in
    // order, skipping the node itself even when it is listed among the peers.
    let mut setup = Setup::new();
    setup.config = DriverConfig::new([N2, ME, N3, N4]);
    let mut h = setup.start();

    h.request(vec![Action::Broadcast { msg: 77 }]);
    assert_eq!(h.log.snapshot(), [sent(N2, 77), sent(N3, 77), sent(N4, 77)]);
    assert_eq!(h.encodes.load(Ordering::Relaxed), 1);
    assert_eq!(h.stat(|s| &s.frames_sent), 3);
    assert_eq!(h.stat(|s| &s.bytes_sent), 24);
    h.finish().0.expect("driver ends cleanly");
}

// ---------------------------------------------------------------------------------
// The application side: events and shutdown
// ---------------------------------------------------------------------------------

#[test]
fn events_come_out_in_order_under_backpressure() {
    // Checks that events reach the application in emission order when the event
    // stream is tiny: the driver waits for the reader instead of dropping or
    // reordering, and no event is counted as dropped.
    let mut setup = Setup::new();
    setup.config.events_capacity = 1;
    let mut h = setup.start();

    h.request((0..50).map(Action::Emit).collect());
    let mut seen = Vec::new();
    for _ in 0..1_000 {
        let batch = h.events_now();
        if batch.is_empty() && seen.len() == 50 {
            break;
        }
        assert!(batch.len() <= 3, "the event stream is not bounded");
        seen.extend(batch);
        h.settle();
    }
    assert_eq!(seen, (0..50).collect::<Vec<_>>());
    assert_eq!(h.stat(|s| &s.events_emitted), 50);
    assert_eq!(h.stat(|s| &s.events_dropped), 0);
    h.finish().0.expect("driver ends cleanly");
}

#[test]
fn dropping_the_event_receiver_does_not_stop_the_driver() {
    // Checks that once the application drops its event stream, later emits are
    // counted as dropped and the node goes on sending and stepping.
    let mut h = Setup::new().start();

    h.request(vec![Action::Emit(1), Action::Emit(2)]);
    assert_eq!(h.events_now(), [1, 2]);
    h.events = None;
    h.request(vec![Action::Emit(3), send(N2, 9), Action::Emit(4)]);
    h.tick(1);
    assert_eq!(h.log.snapshot(), [sent(N2, 9), Ev::Tick]);
    assert_eq!(h.stat(|s| &s.events_emitted), 2);
    assert_eq!(h.stat(|s| &s.events_dropped), 2);
    assert!(
        h.stopped().is_none(),
        "the driver stopped with its inputs open"
    );
    h.finish().0.expect("driver ends cleanly");
}

#[test]
fn driver_returns_the_node_only_when_all_inputs_have_ended() {
    // Checks that the driver keeps running while any input stream is open, and
    // returns the node with its state once the last one ends.
    let mut h = Setup::new().start();

    h.deliver(Envelope {
        from: N2,
        frame: frame(9),
    });
    h.inbound = None;
    h.requests = None;
    assert!(h.stopped().is_none(), "stopped while ticks were still open");
    h.tick(2);
    let (result, log) = h.finish();
    let node = result.expect("driver ends cleanly");
    assert_eq!(node.ticks_seen, 2);
    assert_eq!(node.messages, [(N2, 9)]);
    assert_eq!(
        log.snapshot(),
        [Ev::Message { from: N2, msg: 9 }, Ev::Tick, Ev::Tick]
    );
}

#[test]
fn block_on_runs_a_driver_over_pre_filled_streams_to_completion() {
    // Checks the plainest executor, `block_on`: finite streams of ticks, frames and
    // requests are all consumed and the node comes back with every input applied.
    let node = within(10, || {
        let log = Log::default();
        let node = Scripted {
            id: ME,
            log: log.clone(),
            ticks_seen: 0,
            messages: Vec::new(),
        };
        let (driver, handle) = Driver::new(
            node,
            MemTransport::new(ME, log.clone()),
            MemStorage::new(log.clone()),
            U64Codec::default(),
            DriverConfig::new([N2]),
        );
        let inbound = stream::iter([Envelope {
            from: N2,
            frame: frame(3),
        }]);
        let ticks = stream::iter([(), (), ()]);
        let requests = stream::iter([vec![Action::Persist(5), send(N2, 6), Action::Emit(7)]]);
        let node = block_on(driver.run(inbound, ticks, requests)).expect("no storage fault");
        let events: Vec<u64> = block_on(handle.events.collect());
        assert_eq!(events, [7]);
        let snapshot = log.snapshot();
        let synced = snapshot.iter().position(|e| *e == Ev::Synced);
        let sent_at = snapshot.iter().position(|e| *e == sent(N2, 6));
        assert!(synced < sent_at, "{snapshot:?}");
        node
    });
    assert_eq!(node.ticks_seen, 3);
    assert_eq!(node.messages, [(N2, 3)]);
}

// ---------------------------------------------------------------------------------
// A small cluster on a thread pool
// ---------------------------------------------------------------------------------

/// A tiny protocol: each node is asked to propose one number, persists it, and
/// broadcasts it; once a node knows every member's number it emits their sum. Ticks
/// re-broadcast the node's own number, so the protocol also survives lost frames.
#[derive(Debug)]
struct Summer {
    id: NodeId,
    members: usize,
    known: BTreeMap<NodeId, u64>,
    announced: bool,
}

impl Summer {
    fn try_announce(&mut self, out: &mut Actions<u64, u64, u64>) {
        if !self.announced && self.known.len() == self.members {
            self.announced = true;
            out.emit(self.known.values().sum());
        }
    }
}

impl Node for Summer {
    type Message = u64;
    type Request = u64;
    type Persist = u64;
    type Event = u64;

    fn id(&self) -> NodeId {
        self.id
    }

    fn step(&mut self, input: Input<u64, u64>, out: &mut Actions<u64, u64, u64>) {
        match input {
            Input::Request(value) => {
                if self.known.contains_key(&self.id) {
                    return; // one proposal per node
                }
                self.known.insert(self.id, value);
                out.persist(value);
                out.broadcast(value);
                self.try_announce(out);
            }
            Input::Message { from, msg } => {
                self.known.entry(from).or_insert(msg);
                self.try_announce(out);
            }
            Input::Tick => {
                if let Some(&mine) = self.known.get(&self.id) {
                    out.broadcast(mine);
                }
            }
            Input::Persisted(_) => {}
        }
    }
}

#[test]
fn three_nodes_agree_on_a_sum_over_the_in_memory_network_on_a_thread_pool() {
    // Checks the driver end to end on `ThreadPool`: three nodes exchange proposals
    // through mpsc channels and each announces the sum 1 + 2 + 3 = 6, having persisted
    // its own proposal; then a stop signal ends their streams and each driver returns
    // its node knowing all three proposals.
    let nodes = within(20, || {
        let pool = ThreadPool::builder()
            .pool_size(2)
            .create()
            .expect("thread pool starts");
        let ids = [NodeId(1), NodeId(2), NodeId(3)];
        let log = Log::default();
        let mut inbound_rx = Vec::new();
        let mut routes = HashMap::new();
        for &id in &ids {
            let (tx, rx) = mpsc::unbounded();
            routes.insert(id, tx);
            inbound_rx.push(rx);
        }
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let stop = stop_rx.shared();
        let mut runs = Vec::new();
        let mut events = Vec::new();
        let mut requests = Vec::new();
        let mut ticks = Vec::new();
        let mut storage_logs = Vec::new();
        for (index, (&id, inbound)) in ids.iter().zip(inbound_rx).enumerate() {
            let mut transport = MemTransport::new(id, log.clone());
            transport.routes = routes.clone();
            let node = Summer {
                id,
                members: ids.len(),
                known: BTreeMap::new(),
                announced: false,
            };
            let peers = ids.iter().copied().filter(|&p| p != id);
            let storage_log = Log::default();
            storage_logs.push(storage_log.clone());
            let (driver, handle) = Driver::new(
                node,
                transport,
                MemStorage::new(storage_log),
                U64Codec::default(),
                DriverConfig::new(peers),
            );
            let (request_tx, request_rx) = mpsc::unbounded();
            let (tick_tx, tick_rx) = mpsc::unbounded();
            request_tx
                .unbounded_send(index as u64 + 1)
                .expect("driver not started yet");
            let run = driver.run(
                inbound.take_until(stop.clone()),
                tick_rx.take_until(stop.clone()),
                request_rx.take_until(stop.clone()),
            );
            runs.push(pool.spawn_with_handle(run).expect("pool accepts tasks"));
            events.push(handle.events);
            requests.push(request_tx);
            ticks.push(tick_tx);
        }
        drop(routes);
        // A few ticks while the cluster runs exercise re-broadcasts across threads.
        for tick in &ticks {
            for _ in 0..3 {
                tick.unbounded_send(()).expect("driver running");
            }
        }
        let sums: Vec<Option<u64>> = block_on(futures::future::join_all(
            events.iter_mut().map(|events| events.next()),
        ));
        assert_eq!(sums, [Some(6), Some(6), Some(6)]);
        stop_tx.send(()).expect("drivers are listening");
        let nodes: Vec<Summer> = block_on(futures::future::join_all(runs))
            .into_iter()
            .map(|r| r.expect("no storage fault"))
            .collect();
        drop((requests, ticks));
        (nodes, storage_logs)
    });
    let (nodes, storage_logs) = nodes;
    for (index, log) in storage_logs.iter().enumerate() {
        // Each node made its own proposal durable, and nothing else.
        assert_eq!(log.snapshot(), [Ev::Append(index as u64 + 1), Ev::Synced]);
    }
    for node in &nodes {
        let all: Vec<_> = node.known.iter().map(|(&id, &v)| (id.0, v)).collect();
        assert_eq!(all, [(1, 1), (2, 2), (3, 3)], "node {}", node.id);
        assert!(node.announced);
    }
}
