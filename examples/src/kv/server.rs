//! One node of the key-value service: a [`RaftNode`] over a [`SegmentedLog`] (read
//! through its [`DiskStorage`](crate::raft_log::DiskStorage)), driven by
//! a [`Driver`] over [`TcpTransport`], plus a client listener.
//!
//! A client's command is proposed only on the leader. The node answers each proposal
//! with `Proposed { index, term }` (or a refusal) in the order the proposals were made,
//! so the server matches them to waiting clients first-in first-out; the client is
//! answered when an entry at that index commits — with the state machine's response if
//! the entry's term is the proposal's, or "retry" if another leader's entry took the
//! slot. When the node stops leading, every waiting client is told so and retries at
//! the new leader with the same sequence number; the session table makes that retry
//! harmless if the first copy commits after all.
//!
//! A get is a ReadIndex read on any node: the server hands Raft `Request::Read(ctx)`
//! (a per-node counter as the context), and on `Event::ReadReady { ctx, index }`
//! answers from its map once its applied index has reached `index`; on
//! `Event::ReadFailed` the client is told `ReadFailed` with the leader hint and retries.
//!
//! Everything the node spawns lives in one [`JoinSet`] owned by [`serve`]'s future, so
//! dropping or aborting that future stops the node as abruptly as `kill -9`: only its
//! files survive.

use super::store::{KvResponse, KvStore};
use super::wire::{ClientReply, ClientRequest, NodeStatus, read_frame, write_frame};
use crate::raft_log::{RaftLogOptions, RecoveredIndexed, SegmentedLog};
use crate::streams::{QueueStream, TickStream};
use crate::tcp::{TcpConfig, TcpTransport};
use bytes::Bytes;
use futures::StreamExt;
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use synod_core::{Driver, DriverConfig, DriverError, NodeId, PostcardCodec, Ticks};
use synod_raft::{Config, Event, LogIndex, ProposeError, RaftNode, ReadError, Request, Role, Term};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;

/// Largest Raft message frame between peers.
const MAX_PEER_FRAME_BYTES: usize = 4 << 20;
/// Client connections served at once.
const MAX_CLIENT_CONNECTIONS: usize = 64;
/// Client commands queued between the connections and the node's application loop.
const CLIENT_QUEUE: usize = 256;
/// Reads whose read index is known but not applied yet, at most.
const MAX_WAITING_READS: usize = 1_024;

/// How one node runs. Build with [`ServeOptions::new`] and adjust fields.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// This node.
    pub id: NodeId,
    /// Every node's Raft (peer) address, this one included.
    pub raft_addrs: BTreeMap<NodeId, SocketAddr>,
    /// The node's data directory (its segments).
    pub data_dir: PathBuf,
    /// Wall-clock time per tick.
    pub tick: Duration,
    /// Raft election timeout, in ticks.
    pub election_ticks: Ticks,
    /// Raft heartbeat interval, in ticks.
    pub heartbeat_ticks: Ticks,
    /// Segment sizes and record limits of the file log.
    pub log: RaftLogOptions,
    /// Take a snapshot (the map plus the session table) once this many entries were
    /// applied since the last one, compacting the log (Raft §7). 0: never.
    pub snapshot_every: u64,
    /// Print role changes and recovery to stdout.
    pub verbose: bool,
    /// A client connection that does not complete its next request frame within
    /// this long is closed, so idle or stalled clients cannot hold every one of the
    /// server's connection slots.
    pub client_idle_timeout: Duration,
}

impl ServeOptions {
    /// Defaults: 10 ms ticks, election timeout 15 ticks, heartbeat 3, default log
    /// options, a snapshot every 1,000 applied entries, quiet, idle clients closed after 30 s.
    pub fn new(
        id: NodeId,
        raft_addrs: BTreeMap<NodeId, SocketAddr>,
        data_dir: impl Into<PathBuf>,
    ) -> Self {
        ServeOptions {
            id,
            raft_addrs,
            data_dir: data_dir.into(),
            tick: Duration::from_millis(10),
            election_ticks: Ticks(15),
            heartbeat_ticks: Ticks(3),
            log: RaftLogOptions::default(),
            snapshot_every: 1_000,
            verbose: false,
            client_idle_timeout: Duration::from_secs(30),
        }
    }
}

/// Why a node stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Opening the log or the network failed.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    /// The configuration or the recovered log was refused by the Raft node.
    #[error("raft: {0}")]
    Config(#[from] synod_raft::ConfigError),
    /// The driver stopped on a storage failure (nothing was sent after it).
    #[error("driver: {0}")]
    Driver(#[from] DriverError),
    /// The driver's task ended unexpectedly.
    #[error("the node's driver stopped")]
    DriverStopped,
}

type Pending = (ClientRequest, oneshot::Sender<ClientReply>);

/// Run one node until its driver fails. Listeners are passed in already bound so the
/// caller controls the addresses.
pub async fn serve(
    options: ServeOptions,
    raft_listener: TcpListener,
    client_listener: TcpListener,
) -> Result<(), ServeError> {
    let id = options.id;
    // The node reads its log through a `DiskStorage`: an index in memory, entries
    // read back from the segments beyond the newest `memory_bytes_max` bytes.
    let RecoveredIndexed {
        log,
        storage,
        records,
        truncated_bytes,
    } = SegmentedLog::open_indexed(&options.data_dir, options.log)?;
    if options.verbose {
        println!(
            "{id}: recovered {records} records (snapshot through {}, log through {}, term {}) from {} segments{}",
            log.snapshot_index().0,
            synod_raft::LogStorage::last_index(&storage).0,
            synod_raft::LogStorage::hard_state(&storage).term.0,
            log.segments().len(),
            if truncated_bytes > 0 {
                format!(", cut a {truncated_bytes}-byte torn tail")
            } else {
                String::new()
            }
        );
    }
    let voters: Vec<NodeId> = options.raft_addrs.keys().copied().collect();
    let mut config = Config::new(id, voters.iter().copied());
    config.election_ticks = options.election_ticks;
    config.heartbeat_ticks = options.heartbeat_ticks;
    config.seed = 0x5EED ^ id.get();
    // Every record the node persists must fit the log's record limit: an append over
    // it fails and stops the driver — on every node, since followers persist the same
    // entries. A proposal is one entry; a follower's record is one AppendEntries batch
    // (at most `max_append_bytes`, or one entry beyond it). A quarter of the limit
    // leaves room for both and for the encoding's overhead.
    let record_budget = u64::from(options.log.max_record_bytes) / 4;
    config.max_proposal_bytes = config.max_proposal_bytes.min(record_budget);
    config.max_append_bytes = config.max_append_bytes.min(record_budget);
    let node = RaftNode::new(config, storage)?;
    let tcp = TcpConfig::new(id, options.raft_addrs.iter().map(|(&n, &a)| (n, a)));
    let (transport, inbound, _network) = TcpTransport::start(raft_listener, tcp)?;
    let peers = voters.iter().copied().filter(|&p| p != id);
    let (driver, handle) = Driver::new(
        node,
        transport,
        log,
        PostcardCodec::new(MAX_PEER_FRAME_BYTES),
        DriverConfig::new(peers),
    );
    let (requests_tx, requests_rx) = mpsc::channel(CLIENT_QUEUE);
    let mut tasks = JoinSet::new();
    let ticks = TickStream::new(options.tick);
    tasks.spawn(async move {
        driver
            .run(inbound, ticks, QueueStream::new(requests_rx))
            .await
            .map(|_| ())
    });
    let (clients_tx, mut clients_rx) = mpsc::channel::<Pending>(CLIENT_QUEUE);
    tasks.spawn(async move {
        accept_clients(client_listener, clients_tx, options.client_idle_timeout).await;
        Ok(())
    });
    let mut app = App::new(id, options.snapshot_every, options.verbose, requests_tx);
    let mut events = handle.events;
    let _reports = handle.reports; // diagnostics; dropped when full
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(event) => app.on_event(event),
                None => break,
            },
            pending = clients_rx.recv() => {
                if let Some((request, reply)) = pending {
                    app.on_client(request, reply);
                }
            },
            done = tasks.join_next() => match done {
                Some(Ok(Err(error))) => return Err(error.into()),
                _ => return Err(ServeError::DriverStopped),
            },
        }
    }
    match tasks.join_next().await {
        Some(Ok(Err(error))) => Err(error.into()),
        _ => Err(ServeError::DriverStopped),
    }
}

/// The application side of the node: the store and the clients waiting on it.
struct App {
    id: NodeId,
    store: KvStore,
    role: Role,
    term: Term,
    leader: Option<NodeId>,
    applied: LogIndex,
    /// Clients whose proposal the node has not answered yet, in proposal order.
    proposing: VecDeque<oneshot::Sender<ClientReply>>,
    /// Clients whose command landed at an index: `(index, (term, client))`. Bounded by
    /// the client connections (one request each at a time).
    waiting: BTreeMap<LogIndex, (Term, oneshot::Sender<ClientReply>)>,
    /// The context of the next read: a counter, unique within this node's lifetime.
    next_read: u64,
    /// Reads handed to Raft and not yet answered by `ReadReady`/`ReadFailed`, by
    /// context. Bounded by the client connections; Raft answers every read (it fails
    /// one that is not ready within two election timeouts).
    reads: BTreeMap<u64, (String, oneshot::Sender<ClientReply>)>,
    /// Reads whose read index is known but not applied yet, by `(read index, context)`;
    /// at most [`MAX_WAITING_READS`] (clients that hung up are dropped first).
    ready_reads: BTreeMap<(LogIndex, u64), (String, oneshot::Sender<ClientReply>)>,
    /// Applied entries between snapshots (0: never snapshot).
    snapshot_every: u64,
    /// The index of the latest snapshot (taken, installed or restored).
    snapshot_index: LogIndex,
    /// A snapshot request is with the node and not yet answered.
    snapshotting: bool,
    requests: mpsc::Sender<Request>,
    verbose: bool,
}

impl App {
    /// A fresh node's application side: an empty map, a follower that knows no leader.
    fn new(
        id: NodeId,
        snapshot_every: u64,
        verbose: bool,
        requests: mpsc::Sender<Request>,
    ) -> Self {
        App {
            id,
            store: KvStore::new(),
            role: Role::Follower,
            term: Term(0),
            leader: None,
            applied: LogIndex(0),
            proposing: VecDeque::new(),
            waiting: BTreeMap::new(),
            next_read: 0,
            reads: BTreeMap::new(),
            ready_reads: BTreeMap::new(),
            snapshot_every,
            snapshot_index: LogIndex(0),
            snapshotting: false,
            requests,
            verbose,
        }
    }

    fn on_client(&mut self, request: ClientRequest, reply: oneshot::Sender<ClientReply>) {
        let command = match request {
            ClientRequest::Status => {
                let _ = reply.send(ClientReply::Status(NodeStatus {
                    id: self.id,
                    role: self.role,
                    term: self.term.0,
                    leader: self.leader,
                    applied: self.applied.0,
                    snapshot: self.snapshot_index.0,
                    keys: self.store.len(),
                    digest: self.store.digest(),
                }));
                return;
            }
            ClientRequest::Command(command) => command,
            ClientRequest::Read { key } => return self.on_read(key, reply),
        };
        if self.role != Role::Leader {
            let _ = reply.send(ClientReply::NotLeader {
                leader: self.leader,
            });
            return;
        }
        let data = match postcard::to_stdvec(&command) {
            Ok(data) => Bytes::from(data),
            Err(error) => {
                let _ = reply.send(ClientReply::Retry {
                    reason: error.to_string(),
                });
                return;
            }
        };
        match self.requests.try_send(Request::Propose(data)) {
            Ok(()) => self.proposing.push_back(reply),
            Err(_) => {
                let _ = reply.send(ClientReply::Retry {
                    reason: "the node is busy".into(),
                });
            }
        }
    }

    /// Ask Raft for a read index (any role: a follower forwards it to its leader).
    fn on_read(&mut self, key: String, reply: oneshot::Sender<ClientReply>) {
        let ctx = self.next_read;
        self.next_read += 1;
        let request = Request::Read(Bytes::copy_from_slice(&ctx.to_be_bytes()));
        match self.requests.try_send(request) {
            Ok(()) => {
                self.reads.insert(ctx, (key, reply));
            }
            Err(_) => {
                let _ = reply.send(ClientReply::ReadFailed {
                    leader: self.leader,
                    reason: "the node is busy".into(),
                });
            }
        }
    }

    /// Answer every read whose read index this node has applied. Answering from the
    /// map at applied index ≥ read index is what makes the read linearizable.
    fn answer_ready_reads(&mut self) {
        while let Some(entry) = self.ready_reads.first_entry() {
            if entry.key().0 > self.applied {
                break;
            }
            let (key, client) = entry.remove();
            let value = self.store.get(&key).map(str::to_owned);
            let _ = client.send(ClientReply::Done(KvResponse::Value(value)));
        }
    }

    /// Hand the node a snapshot once `snapshot_every` entries were applied since the
    /// last one (one request at a time).
    fn maybe_snapshot(&mut self) {
        if self.snapshot_every == 0
            || self.snapshotting
            || self.applied.0 < self.snapshot_index.0.saturating_add(self.snapshot_every)
        {
            return;
        }
        let data = match self.store.snapshot() {
            Ok(data) => Bytes::from(data),
            Err(error) => {
                eprintln!("{}: encoding a snapshot failed: {error}", self.id);
                return;
            }
        };
        let request = Request::Snapshot {
            index: self.applied,
            data,
        };
        // A full queue only delays the snapshot to a later entry.
        if self.requests.try_send(request).is_ok() {
            self.snapshotting = true;
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Proposed { index, term } => {
                if let Some(client) = self.proposing.pop_front() {
                    self.waiting.insert(index, (term, client));
                }
            }
            Event::ProposedBatch { .. } => {} // this server proposes one at a time
            Event::ProposalRefused(error) => {
                if let Some(client) = self.proposing.pop_front() {
                    let _ = client.send(match error {
                        ProposeError::NotLeader { leader } => ClientReply::NotLeader { leader },
                        // Retrying the same command cannot succeed.
                        ProposeError::TooLarge { .. } => ClientReply::Refused {
                            reason: error.to_string(),
                        },
                        other => ClientReply::Retry {
                            reason: other.to_string(),
                        },
                    });
                }
            }
            Event::Committed(entry) => {
                self.applied = entry.index;
                let response = self.store.apply(&entry);
                if let Some((term, client)) = self.waiting.remove(&entry.index) {
                    let _ = client.send(match response {
                        Some(response) if term == entry.term => ClientReply::Done(response),
                        _ => ClientReply::Retry {
                            reason: "another leader's entry took the slot".into(),
                        },
                    });
                }
                self.answer_ready_reads();
                self.maybe_snapshot();
            }
            Event::SnapshotTaken(meta) => {
                self.snapshotting = false;
                self.snapshot_index = self.snapshot_index.max(meta.index);
                if self.verbose {
                    println!("{}: snapshot through {}", self.id, meta.index.0);
                }
            }
            Event::SnapshotRefused(error) => {
                // Usually a snapshot installed from the leader overtook ours.
                self.snapshotting = false;
                if self.verbose {
                    println!("{}: snapshot refused: {error}", self.id);
                }
            }
            Event::RestoreSnapshot(snapshot) => {
                let index = snapshot.meta.index;
                // The first restore of a node's life is its own snapshot at start-up;
                // any later one was installed from the leader.
                let how = if self.applied == LogIndex(0) {
                    "restored its snapshot"
                } else {
                    "installed the leader's snapshot"
                };
                match KvStore::restore(&snapshot.data) {
                    Ok(store) => self.store = store,
                    // Not data this service wrote: keep serving what we have, loudly.
                    Err(error) => eprintln!("{}: snapshot {index} undecodable: {error}", self.id),
                }
                self.applied = index;
                self.snapshot_index = index;
                // Proposals inside the snapshot are never emitted as committed here;
                // whether they won their slot is unknown, so their clients retry.
                let covered: Vec<LogIndex> =
                    self.waiting.range(..=index).map(|(&i, _)| i).collect();
                for i in covered {
                    if let Some((_, client)) = self.waiting.remove(&i) {
                        let _ = client.send(ClientReply::Retry {
                            reason: "the entry was covered by an installed snapshot".into(),
                        });
                    }
                }
                if self.verbose {
                    println!("{}: {how} through {}", self.id, index.0);
                }
                self.answer_ready_reads();
            }
            Event::ReadReady { ctx, index } => {
                let Some(context) = read_context(&ctx) else {
                    return;
                };
                if let Some(read) = self.reads.remove(&context) {
                    // Raft emits ReadReady after the entries through `index`, so the
                    // read is normally answered at once; the queue keeps the rule
                    // (answer at applied ≥ read index) explicit.
                    if self.ready_reads.len() >= MAX_WAITING_READS {
                        // Clients that gave up need no answer.
                        self.ready_reads
                            .retain(|_, (_, client)| !client.is_closed());
                    }
                    if self.ready_reads.len() >= MAX_WAITING_READS {
                        let _ = read.1.send(ClientReply::ReadFailed {
                            leader: self.leader,
                            reason: "too many reads wait for entries to apply".into(),
                        });
                    } else {
                        self.ready_reads.insert((index, context), read);
                    }
                    self.answer_ready_reads();
                }
            }
            Event::ReadFailed { ctx, error } => {
                let Some((_, client)) = read_context(&ctx).and_then(|c| self.reads.remove(&c))
                else {
                    return;
                };
                let leader = match error {
                    ReadError::NotLeader { leader } => leader,
                    _ => self.leader,
                };
                let _ = client.send(ClientReply::ReadFailed {
                    leader,
                    reason: error.to_string(),
                });
            }
            Event::RoleChanged { role, term, leader } => {
                if self.verbose && (role != self.role || leader != self.leader) {
                    match role {
                        Role::Leader => println!("{}: leader in term {}", self.id, term.0),
                        Role::Follower if leader.is_some() && self.role == Role::Leader => {
                            println!("{}: stepped down in term {}", self.id, term.0)
                        }
                        _ => {}
                    }
                }
                if role != Role::Leader {
                    // Whether these commit is unknown: the clients retry elsewhere, and
                    // their sessions make a double commit harmless.
                    for (_, (_, client)) in std::mem::take(&mut self.waiting) {
                        let _ = client.send(ClientReply::NotLeader { leader });
                    }
                }
                (self.role, self.term, self.leader) = (role, term, leader);
            }
            Event::StorageFailed(error) => {
                eprintln!("{}: log read failed: {error}", self.id);
            }
            Event::SnapshotSendRefused {
                follower,
                max_snapshot_bytes,
                ..
            } => {
                eprintln!(
                    "{}: {follower} refuses snapshots above {max_snapshot_bytes} bytes",
                    self.id
                );
            }
            Event::RemovedFromCluster { index } => {
                println!("{}: removed from the cluster at {}", self.id, index.0);
            }
            // This server never transfers leadership nor changes the membership.
            Event::TransferRefused(_)
            | Event::TransferAborted { .. }
            | Event::MembershipProposed { .. }
            | Event::MembershipRefused(_) => {}
            _ => {}
        }
    }
}

/// The read counter a `Request::Read` context carries (8 bytes, big-endian).
fn read_context(ctx: &[u8]) -> Option<u64> {
    ctx.try_into().ok().map(u64::from_be_bytes)
}

async fn accept_clients(listener: TcpListener, node: mpsc::Sender<Pending>, idle: Duration) {
    let slots = Arc::new(Semaphore::new(MAX_CLIENT_CONNECTIONS));
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue; // dropping the stream closes it
        };
        let node = node.clone();
        connections.spawn(async move {
            let _ = serve_client(stream, node, idle).await;
            drop(slot);
        });
    }
}

/// Answer one client's requests, one at a time, until it disconnects or takes longer
/// than `idle` to send a whole request.
async fn serve_client(
    mut stream: TcpStream,
    node: mpsc::Sender<Pending>,
    idle: Duration,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    loop {
        let request: ClientRequest =
            tokio::time::timeout(idle, read_frame(&mut stream))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "idle client"))??;
        let (reply_tx, reply_rx) = oneshot::channel();
        if node.send((request, reply_tx)).await.is_err() {
            return Ok(()); // the node is gone
        }
        let reply = reply_rx.await.unwrap_or(ClientReply::Retry {
            reason: "the node dropped the request".into(),
        });
        write_frame(&mut stream, &reply).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::store::Command;
    use synod_raft::session::{ClientId, Sequence};
    use synod_raft::{Entry, EntryKind};

    fn app() -> (App, mpsc::Receiver<Request>) {
        let (requests, rx) = mpsc::channel(16);
        let mut app = App::new(NodeId(2), 0, false, requests);
        (app.term, app.leader) = (Term(1), Some(NodeId(1)));
        (app, rx)
    }

    fn committed(index: u64, command: &Command) -> Event {
        Event::Committed(Entry {
            index: LogIndex(index),
            term: Term(1),
            kind: EntryKind::Command,
            data: Bytes::from(postcard::to_stdvec(command).expect("encode")),
        })
    }

    fn put(seq: u64, value: &str) -> Command {
        Command::Put {
            client: ClientId(1),
            seq: Sequence(seq),
            key: "k".into(),
            value: value.into(),
        }
    }

    /// A follower whose read index (3) is ahead of its applied index (2) when
    /// `ReadReady` arrives — as when it forwarded the read and the leader's commit
    /// has not reached it yet. Returns the value the client was answered with, using
    /// `on_ready` to handle the `ReadReady` event.
    fn read_ahead_of_apply(on_ready: fn(&mut App, Event)) -> Option<String> {
        let (mut app, mut requests) = app();
        app.on_event(committed(1, &Command::Register));
        app.on_event(committed(2, &put(1, "old")));
        let (reply, mut answer) = oneshot::channel();
        app.on_client(ClientRequest::Read { key: "k".into() }, reply);
        let Ok(Request::Read(ctx)) = requests.try_recv() else {
            panic!("the read was not handed to Raft");
        };
        on_ready(
            &mut app,
            Event::ReadReady {
                ctx,
                index: LogIndex(3),
            },
        );
        app.on_event(committed(3, &put(2, "new")));
        match answer.try_recv() {
            Ok(ClientReply::Done(KvResponse::Value(value))) => value,
            other => panic!("unexpected answer {other:?}"),
        }
    }

    #[test]
    fn a_read_is_answered_only_once_its_read_index_is_applied() {
        // Checks the ReadIndex rule on the application side (thesis §6.4, step 4):
        // with the read index ahead of the applied index, the answer waits for the
        // entry at the read index and reflects it.
        assert_eq!(read_ahead_of_apply(App::on_event).as_deref(), Some("new"));
    }

    #[test]
    fn the_read_check_catches_a_server_that_answers_before_applying() {
        // Checks the checker: a broken copy of the ReadReady handling that answers
        // from the map at once, whatever the read index, returns the stale value the
        // test above rejects.
        fn answer_at_once(app: &mut App, event: Event) {
            if let Event::ReadReady { ctx, .. } = event
                && let Some((key, client)) = read_context(&ctx).and_then(|c| app.reads.remove(&c))
            {
                let value = app.store.get(&key).map(str::to_owned);
                let _ = client.send(ClientReply::Done(KvResponse::Value(value)));
            }
        }
        assert_eq!(read_ahead_of_apply(answer_at_once).as_deref(), Some("old"));
    }

    #[test]
    fn a_failed_read_is_a_typed_reply_with_the_leader_hint() {
        // Checks the ReadFailed path: the client gets ReadFailed naming the leader
        // from the error, and nothing is read.
        let (mut app, mut requests) = app();
        let (reply, mut answer) = oneshot::channel();
        app.on_client(ClientRequest::Read { key: "k".into() }, reply);
        let Ok(Request::Read(ctx)) = requests.try_recv() else {
            panic!("the read was not handed to Raft");
        };
        app.on_event(Event::ReadFailed {
            ctx,
            error: ReadError::NotLeader {
                leader: Some(NodeId(3)),
            },
        });
        assert!(matches!(
            answer.try_recv(),
            Ok(ClientReply::ReadFailed {
                leader: Some(NodeId(3)),
                ..
            })
        ));
        assert!(app.reads.is_empty());
    }

    #[test]
    fn snapshots_are_requested_every_n_applied_entries_and_restore_replaces_the_state() {
        // Checks the snapshot cadence and restore (Raft §7): with `snapshot_every`
        // 2 the server asks for a snapshot at applied index 2 (map + sessions), not
        // again until the node answers, and a RestoreSnapshot of that data rebuilds
        // an equal store at its index.
        let (mut app, mut requests) = app();
        app.snapshot_every = 2;
        app.on_event(committed(1, &Command::Register));
        assert!(requests.try_recv().is_err());
        app.on_event(committed(2, &put(1, "v")));
        let Ok(Request::Snapshot { index, data }) = requests.try_recv() else {
            panic!("no snapshot requested at 2");
        };
        assert_eq!(index, LogIndex(2));
        app.on_event(committed(3, &put(2, "w")));
        app.on_event(committed(4, &put(3, "x")));
        assert!(
            requests.try_recv().is_err(),
            "one snapshot request at a time"
        );
        let expected = {
            let (mut fresh, _rx) = self::app();
            fresh.on_event(committed(1, &Command::Register));
            fresh.on_event(committed(2, &put(1, "v")));
            fresh.store
        };
        let (mut restored, _rx) = self::app();
        restored.on_event(Event::RestoreSnapshot(synod_raft::Snapshot {
            meta: synod_raft::SnapshotMeta {
                index,
                term: Term(1),
                ..Default::default()
            },
            data,
        }));
        assert_eq!(restored.store, expected);
        assert_eq!(restored.applied, LogIndex(2));
        // The session table came along: the client's next request applies (an
        // unknown session would be refused as expired and leave "v").
        restored.on_event(committed(3, &put(2, "w")));
        assert_eq!(restored.store.get("k"), Some("w"));
    }
}
