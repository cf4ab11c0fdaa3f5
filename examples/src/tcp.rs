//! A TCP [`synod_core::Transport`] on tokio: length-prefixed frames, one writer task
//! per peer behind a bounded queue, reconnection with backoff, and an accept loop that
//! turns inbound frames into a stream of [`Envelope`]s.
//!
//! # Wire format
//!
//! Each node dials every peer and writes to it over that connection only; it reads
//! from the connections its peers dialled. (Two connections per pair avoids having to
//! decide which of two simultaneous dials wins.) A connection opens with a 12-byte
//! handshake from the dialling side,
//!
//! ```text
//! [magic: b"SYN1"][node id: u64 big-endian]
//! ```
//!
//! and then carries frames `[len: u32 big-endian][len bytes]`. A receiver closes the
//! connection on a wrong magic, an id that is not a configured peer, a handshake that
//! does not arrive within [`TcpConfig::handshake_timeout`], or a frame longer than
//! [`TcpConfig::max_frame_bytes`] — it never allocates an announced length beyond that
//! limit.
//!
//! The claimed id is not authenticated: put the links inside a trusted network or
//! under mutual TLS for anything beyond a demo.
//!
//! # Queues and bounds
//!
//! [`Transport::send`] never waits on a peer: it puts the frame in that peer's
//! outbound queue ([`TcpConfig::outbound_queue_frames`]) and returns
//! [`TransportError::Backpressure`] when the queue is full — Synod protocols tolerate
//! loss. A peer that is down is redialled with exponential backoff between
//! [`TcpConfig::reconnect_backoff_min`] and [`TcpConfig::reconnect_backoff_max`];
//! frames wait in the queue meanwhile. Inbound frames go through a bounded queue
//! ([`TcpConfig::inbound_queue_frames`]); when the node falls behind, readers stop
//! reading and TCP flow control pushes back on the senders. At most
//! [`TcpConfig::max_inbound_connections`] inbound connections are served at once.
//!
//! # Shutdown
//!
//! Every task stops when [`TcpShutdown::shutdown`] is called or when both the
//! [`TcpTransport`] and its [`TcpInbound`] have been dropped (as happens when the task
//! running a node's driver is aborted). The listener is closed then, so the address
//! can be bound again by a restarted node.

use bytes::Bytes;
use futures::Stream;
use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use synod_core::{Envelope, NodeId, Transport, TransportError};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};

/// The first bytes of every connection: protocol name and wire version.
pub const HANDSHAKE_MAGIC: [u8; 4] = *b"SYN1";

/// Bytes in the handshake: the magic and a `u64` node id.
pub const HANDSHAKE_BYTES: usize = 12;

/// How a [`TcpTransport`] behaves. Build with [`TcpConfig::new`] and adjust fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpConfig {
    /// This node; announced in the handshake of every connection it dials.
    pub me: NodeId,
    /// Where each peer listens. Only these ids are accepted in a handshake.
    pub peers: BTreeMap<NodeId, SocketAddr>,
    /// The largest frame sent or accepted. A peer announcing more is disconnected.
    pub max_frame_bytes: u32,
    /// Frames buffered per peer before `send` reports backpressure.
    pub outbound_queue_frames: usize,
    /// Frames buffered between the readers and the node.
    pub inbound_queue_frames: usize,
    /// Inbound connections served at once; more are closed on accept.
    pub max_inbound_connections: usize,
    /// How long a dialled peer may take to accept the connection.
    pub connect_timeout: Duration,
    /// How long an accepted connection may take to send its handshake.
    pub handshake_timeout: Duration,
    /// The first wait before redialling a peer.
    pub reconnect_backoff_min: Duration,
    /// The longest wait before redialling a peer.
    pub reconnect_backoff_max: Duration,
}

impl TcpConfig {
    /// Defaults for node `me` with these peers: 1 MiB frames, 1024-frame queues, 64
    /// inbound connections, 1 s connect and handshake timeouts, backoff from 10 ms to
    /// 200 ms.
    pub fn new(me: NodeId, peers: impl IntoIterator<Item = (NodeId, SocketAddr)>) -> Self {
        TcpConfig {
            me,
            peers: peers.into_iter().filter(|&(id, _)| id != me).collect(),
            max_frame_bytes: 1 << 20,
            outbound_queue_frames: 1024,
            inbound_queue_frames: 1024,
            max_inbound_connections: 64,
            connect_timeout: Duration::from_secs(1),
            handshake_timeout: Duration::from_secs(1),
            reconnect_backoff_min: Duration::from_millis(10),
            reconnect_backoff_max: Duration::from_millis(200),
        }
    }
}

/// Counters a [`TcpTransport`] keeps; read them with [`TcpStats::get`].
#[derive(Debug, Default)]
pub struct TcpStats {
    /// Outbound connections established (first connects and reconnects).
    pub connects: AtomicU64,
    /// Dials that failed or timed out.
    pub connect_failures: AtomicU64,
    /// Outbound connections lost to a write error.
    pub write_failures: AtomicU64,
    /// Frames written to a socket (not necessarily received).
    pub frames_written: AtomicU64,
    /// Inbound connections accepted and handshaken.
    pub connections_accepted: AtomicU64,
    /// Inbound connections closed for a bad, unknown or late handshake, or because
    /// too many were open.
    pub connections_rejected: AtomicU64,
    /// Inbound connections closed because a frame announced more than
    /// `max_frame_bytes`.
    pub oversized_frames: AtomicU64,
    /// Frames read and handed to the node.
    pub frames_read: AtomicU64,
}

impl TcpStats {
    /// Read one counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Stops the transport's tasks when the last of the transport and its inbound stream
/// is dropped.
#[derive(Debug)]
struct DropGuard {
    stop: Arc<watch::Sender<bool>>,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// The sending half: a [`Transport`] that queues frames for per-peer writer tasks.
#[derive(Debug)]
pub struct TcpTransport {
    queues: BTreeMap<NodeId, mpsc::Sender<Bytes>>,
    max_frame_bytes: u32,
    stats: Arc<TcpStats>,
    _guard: Arc<DropGuard>,
}

/// The receiving half: every frame a peer sent, tagged with the peer's handshake id.
/// It ends once the transport has shut down.
#[derive(Debug)]
pub struct TcpInbound {
    frames: mpsc::Receiver<Envelope>,
    _guard: Arc<DropGuard>,
}

/// Stops a transport's tasks on demand; see [`TcpShutdown::shutdown`].
#[derive(Clone, Debug)]
pub struct TcpShutdown {
    stop: Arc<watch::Sender<bool>>,
}

impl TcpShutdown {
    /// Stop every task of the transport: the accept loop (closing the listener), the
    /// readers (ending the [`TcpInbound`] stream) and the writers (dropping queued
    /// frames). Sends after this fail.
    pub fn shutdown(&self) {
        self.stop.send_replace(true);
    }
}

/// A frame was larger than the configured limit.
#[derive(Debug, thiserror::Error)]
#[error("a {len}-byte frame exceeds the {max}-byte limit")]
pub struct FrameTooLarge {
    /// The frame's length.
    pub len: usize,
    /// The limit.
    pub max: u32,
}

impl TcpTransport {
    /// Start the transport on `listener` (already bound, so the caller knows its
    /// address): spawn the accept loop and one writer per peer on the current tokio
    /// runtime. Fails if called outside a tokio runtime.
    pub fn start(
        listener: TcpListener,
        config: TcpConfig,
    ) -> io::Result<(TcpTransport, TcpInbound, TcpShutdown)> {
        let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let stop = Arc::new(stop_tx);
        let guard = Arc::new(DropGuard { stop: stop.clone() });
        let stats = Arc::new(TcpStats::default());
        let config = Arc::new(config);

        let mut queues = BTreeMap::new();
        for (&peer, &addr) in &config.peers {
            let (tx, rx) = mpsc::channel(config.outbound_queue_frames.max(1));
            queues.insert(peer, tx);
            runtime.spawn(write_to_peer(
                addr,
                rx,
                config.clone(),
                stats.clone(),
                stop_rx.clone(),
            ));
        }
        let (inbound_tx, inbound_rx) = mpsc::channel(config.inbound_queue_frames.max(1));
        runtime.spawn(accept_loop(
            listener,
            inbound_tx,
            config.clone(),
            stats.clone(),
            stop_rx,
        ));

        let transport = TcpTransport {
            queues,
            max_frame_bytes: config.max_frame_bytes,
            stats,
            _guard: guard.clone(),
        };
        let inbound = TcpInbound {
            frames: inbound_rx,
            _guard: guard,
        };
        Ok((transport, inbound, TcpShutdown { stop }))
    }

    /// The transport's counters.
    pub fn stats(&self) -> Arc<TcpStats> {
        self.stats.clone()
    }
}

#[async_trait::async_trait]
impl Transport for TcpTransport {
    async fn send(&self, to: NodeId, frame: Bytes) -> Result<(), TransportError> {
        if frame.len() > self.max_frame_bytes as usize {
            return Err(TransportError::Link {
                peer: to,
                source: Box::new(FrameTooLarge {
                    len: frame.len(),
                    max: self.max_frame_bytes,
                }),
            });
        }
        let queue = self
            .queues
            .get(&to)
            .ok_or(TransportError::UnknownPeer(to))?;
        queue.try_send(frame).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => TransportError::Backpressure(to),
            mpsc::error::TrySendError::Closed(_) => TransportError::Link {
                peer: to,
                source: "the transport has shut down".into(),
            },
        })
    }
}

impl Stream for TcpInbound {
    type Item = Envelope;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Envelope>> {
        self.frames.poll_recv(cx)
    }
}

/// Resolves once the transport is told to stop (or every handle to it is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which also means stop.
    let _ = stop.wait_for(|&stop| stop).await;
}

/// Dial `addr`, handshake, and write queued frames; redial with backoff on failure.
async fn write_to_peer(
    addr: SocketAddr,
    mut queue: mpsc::Receiver<Bytes>,
    config: Arc<TcpConfig>,
    stats: Arc<TcpStats>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = config.reconnect_backoff_min;
    loop {
        let dialled = tokio::select! {
            () = stopped(&mut stop) => return,
            dialled = tokio::time::timeout(config.connect_timeout, connect(addr, config.me)) => dialled,
        };
        let mut conn = match dialled {
            Ok(Ok(conn)) => conn,
            Ok(Err(_)) | Err(_) => {
                TcpStats::bump(&stats.connect_failures);
                tokio::select! {
                    () = stopped(&mut stop) => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(config.reconnect_backoff_max);
                continue;
            }
        };
        TcpStats::bump(&stats.connects);
        backoff = config.reconnect_backoff_min;
        loop {
            let first = tokio::select! {
                () = stopped(&mut stop) => return,
                frame = queue.recv() => match frame {
                    Some(frame) => frame,
                    None => return, // the transport is gone
                },
            };
            let written = tokio::select! {
                () = stopped(&mut stop) => return,
                written = write_batch(&mut conn, first, &mut queue, &stats) => written,
            };
            if written.is_err() {
                // The frames in this batch are lost; the protocol retransmits.
                TcpStats::bump(&stats.write_failures);
                break;
            }
        }
    }
}

async fn connect(addr: SocketAddr, me: NodeId) -> io::Result<BufWriter<TcpStream>> {
    let stream = TcpStream::connect(addr).await?;
    // Dialling a loopback port nobody listens on can "succeed" as a TCP simultaneous
    // open with itself when the kernel picks that same port as the source; such a
    // connection would also keep a restarting peer from binding its address.
    if stream.local_addr()? == stream.peer_addr()? {
        return Err(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "connected to itself",
        ));
    }
    stream.set_nodelay(true)?;
    let mut conn = BufWriter::new(stream);
    let mut handshake = [0u8; HANDSHAKE_BYTES];
    handshake[..4].copy_from_slice(&HANDSHAKE_MAGIC);
    handshake[4..].copy_from_slice(&me.get().to_be_bytes());
    conn.write_all(&handshake).await?;
    conn.flush().await?;
    Ok(conn)
}

/// Write `first` and whatever else is already queued (at most one queue's worth),
/// then flush once.
async fn write_batch(
    conn: &mut BufWriter<TcpStream>,
    first: Bytes,
    queue: &mut mpsc::Receiver<Bytes>,
    stats: &TcpStats,
) -> io::Result<()> {
    let mut next = Some(first);
    let mut budget = queue.max_capacity();
    while let Some(frame) = next {
        let len = u32::try_from(frame.len()).map_err(io::Error::other)?;
        conn.write_all(&len.to_be_bytes()).await?;
        conn.write_all(&frame).await?;
        TcpStats::bump(&stats.frames_written);
        budget = budget.saturating_sub(1);
        next = if budget == 0 {
            None
        } else {
            queue.try_recv().ok()
        };
    }
    conn.flush().await
}

async fn accept_loop(
    listener: TcpListener,
    inbound: mpsc::Sender<Envelope>,
    config: Arc<TcpConfig>,
    stats: Arc<TcpStats>,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(config.max_inbound_connections.max(1)));
    loop {
        let accepted = tokio::select! {
            () = stopped(&mut stop) => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _addr)) => {
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    TcpStats::bump(&stats.connections_rejected);
                    continue; // dropping the stream closes it
                };
                let (inbound, config, stats, stop) =
                    (inbound.clone(), config.clone(), stats.clone(), stop.clone());
                tokio::spawn(async move {
                    read_from_peer(stream, inbound, &config, &stats, stop).await;
                    drop(slot);
                });
            }
            Err(_) => {
                // Out of file descriptors or a connection reset before accept: wait a
                // little instead of spinning.
                tokio::select! {
                    () = stopped(&mut stop) => return,
                    () = tokio::time::sleep(Duration::from_millis(10)) => {}
                }
            }
        }
    }
}

/// Read the handshake, then frames until the connection ends, misbehaves, or the
/// transport stops.
async fn read_from_peer(
    stream: TcpStream,
    inbound: mpsc::Sender<Envelope>,
    config: &TcpConfig,
    stats: &TcpStats,
    mut stop: watch::Receiver<bool>,
) {
    let mut conn = BufReader::new(stream);
    let handshake = tokio::select! {
        () = stopped(&mut stop) => return,
        handshake = tokio::time::timeout(config.handshake_timeout, read_handshake(&mut conn)) => handshake,
    };
    let from = match handshake {
        Ok(Ok(from)) if config.peers.contains_key(&from) => from,
        _ => {
            TcpStats::bump(&stats.connections_rejected);
            return;
        }
    };
    TcpStats::bump(&stats.connections_accepted);
    loop {
        let frame = tokio::select! {
            () = stopped(&mut stop) => return,
            frame = read_frame(&mut conn, config.max_frame_bytes) => frame,
        };
        let frame = match frame {
            Ok(frame) => frame,
            Err(FrameError::TooLarge) => {
                TcpStats::bump(&stats.oversized_frames);
                return;
            }
            Err(FrameError::Closed) => return, // closed or reset by the peer
        };
        TcpStats::bump(&stats.frames_read);
        let delivered = tokio::select! {
            () = stopped(&mut stop) => return,
            delivered = inbound.send(Envelope { from, frame }) => delivered,
        };
        if delivered.is_err() {
            return; // the node's inbound stream was dropped
        }
    }
}

async fn read_handshake(conn: &mut BufReader<TcpStream>) -> io::Result<NodeId> {
    let mut handshake = [0u8; HANDSHAKE_BYTES];
    conn.read_exact(&mut handshake).await?;
    if handshake[..4] != HANDSHAKE_MAGIC {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "bad magic"));
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&handshake[4..]);
    Ok(NodeId(u64::from_be_bytes(id)))
}

/// Why a connection stopped yielding frames.
enum FrameError {
    /// The peer announced a frame over the limit.
    TooLarge,
    /// The peer closed or reset the connection, mid-frame or between frames.
    Closed,
}

async fn read_frame(
    conn: &mut BufReader<TcpStream>,
    max_frame_bytes: u32,
) -> Result<Bytes, FrameError> {
    let len = conn.read_u32().await.map_err(|_| FrameError::Closed)?;
    if len > max_frame_bytes {
        return Err(FrameError::TooLarge);
    }
    // Bounded by the check above: a hostile length cannot make us allocate more.
    let mut frame = vec![0u8; len as usize];
    conn.read_exact(&mut frame)
        .await
        .map_err(|_| FrameError::Closed)?;
    Ok(Bytes::from(frame))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    async fn listener() -> (TcpListener, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        (listener, addr)
    }

    async fn next_frame(inbound: &mut TcpInbound) -> Envelope {
        tokio::time::timeout(Duration::from_secs(5), inbound.next())
            .await
            .expect("a frame within 5 s")
            .expect("stream open")
    }

    #[tokio::test]
    async fn frames_cross_in_both_directions_with_the_senders_id() {
        // Checks the happy path: each side's frames arrive at the other in order,
        // tagged with the sender's handshake id.
        let (l1, a1) = listener().await;
        let (l2, a2) = listener().await;
        let (t1, mut in1, _s1) =
            TcpTransport::start(l1, TcpConfig::new(NodeId(1), [(NodeId(2), a2)])).expect("start");
        let (t2, mut in2, _s2) =
            TcpTransport::start(l2, TcpConfig::new(NodeId(2), [(NodeId(1), a1)])).expect("start");
        for i in 0..10u8 {
            t1.send(NodeId(2), Bytes::from(vec![i]))
                .await
                .expect("queued");
        }
        t2.send(NodeId(1), Bytes::from_static(b"back"))
            .await
            .expect("queued");
        for i in 0..10u8 {
            let got = next_frame(&mut in2).await;
            assert_eq!((got.from, got.frame.as_ref()), (NodeId(1), &[i][..]));
        }
        let got = next_frame(&mut in1).await;
        assert_eq!((got.from, got.frame.as_ref()), (NodeId(2), &b"back"[..]));
        assert!(matches!(
            t1.send(NodeId(7), Bytes::new()).await,
            Err(TransportError::UnknownPeer(NodeId(7)))
        ));
    }

    #[tokio::test]
    async fn a_full_queue_to_a_dead_peer_reports_backpressure_without_waiting() {
        // Checks that `send` never waits on a peer: with the peer down and a 4-frame
        // queue, the fifth-or-so send fails at once with Backpressure.
        let (l1, _) = listener().await;
        let dead_addr = {
            let (l, a) = listener().await;
            drop(l); // nothing listens there any more
            a
        };
        let mut config = TcpConfig::new(NodeId(1), [(NodeId(2), dead_addr)]);
        config.outbound_queue_frames = 4;
        let (t1, _in1, _s1) = TcpTransport::start(l1, config).expect("start");
        let mut refused = None;
        for i in 0..20 {
            if let Err(error) = t1.send(NodeId(2), Bytes::from_static(b"x")).await {
                refused = Some((i, error));
                break;
            }
        }
        let (at, error) = refused.expect("the queue must fill");
        assert!(at <= 5, "refused only at send {at}");
        assert!(matches!(error, TransportError::Backpressure(NodeId(2))));
    }

    #[tokio::test]
    async fn hostile_connections_are_closed_and_counted() {
        // Checks the receiver's defences: a wrong magic, an unknown id and an
        // oversized length prefix each get the connection closed (and counted) and
        // no frame delivered; a good peer is still served afterwards.
        let (l1, a1) = listener().await;
        let mut config = TcpConfig::new(
            NodeId(1),
            [(NodeId(2), "127.0.0.1:9".parse().expect("addr"))],
        );
        config.max_frame_bytes = 64;
        let (t1, mut in1, _s1) = TcpTransport::start(l1, config).expect("start");
        let stats = t1.stats();

        let handshake = |id: u64| {
            let mut h = HANDSHAKE_MAGIC.to_vec();
            h.extend_from_slice(&id.to_be_bytes());
            h
        };
        let mut bad_magic = TcpStream::connect(a1).await.expect("connect");
        bad_magic.write_all(b"HTTP/1.1 GET /").await.expect("write");
        let mut unknown = TcpStream::connect(a1).await.expect("connect");
        unknown.write_all(&handshake(9)).await.expect("write");
        let mut oversized = TcpStream::connect(a1).await.expect("connect");
        oversized.write_all(&handshake(2)).await.expect("write");
        oversized
            .write_all(&u32::MAX.to_be_bytes())
            .await
            .expect("write");

        let mut good = TcpStream::connect(a1).await.expect("connect");
        good.write_all(&handshake(2)).await.expect("write");
        good.write_all(&3u32.to_be_bytes()).await.expect("write");
        good.write_all(b"abc").await.expect("write");
        let got = next_frame(&mut in1).await;
        assert_eq!((got.from, got.frame.as_ref()), (NodeId(2), &b"abc"[..]));

        // The three bad connections are closed by the server: reads see EOF.
        for mut conn in [bad_magic, unknown, oversized] {
            let mut buf = [0u8; 1];
            let read = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
                .await
                .expect("closed within 5 s");
            assert!(matches!(read, Ok(0) | Err(_)));
        }
        assert_eq!(TcpStats::get(&stats.connections_rejected), 2);
        assert_eq!(TcpStats::get(&stats.oversized_frames), 1);
        assert_eq!(TcpStats::get(&stats.frames_read), 1);
    }

    #[tokio::test]
    async fn a_restarted_peer_is_redialled_and_shutdown_ends_the_inbound_stream() {
        // Checks reconnection and shutdown: node 2 stops (closing its listener), comes
        // back on the same address, and node 1's frames reach it again; after
        // `shutdown` node 2's inbound stream ends.
        let (l1, a1) = listener().await;
        let (l2, a2) = listener().await;
        let (t1, _in1, _s1) =
            TcpTransport::start(l1, TcpConfig::new(NodeId(1), [(NodeId(2), a2)])).expect("start");
        let (t2, mut in2, s2) =
            TcpTransport::start(l2, TcpConfig::new(NodeId(2), [(NodeId(1), a1)])).expect("start");
        t1.send(NodeId(2), Bytes::from_static(b"one"))
            .await
            .expect("queued");
        assert_eq!(next_frame(&mut in2).await.frame.as_ref(), b"one");

        drop((t2, in2)); // the node "crashes": its tasks stop and its port closes
        let l2 = rebind(a2).await;
        let (_t2, mut in2, s2b) =
            TcpTransport::start(l2, TcpConfig::new(NodeId(2), [(NodeId(1), a1)])).expect("restart");
        drop(s2);
        // Frames written into the dead connection are lost; keep sending until one
        // arrives over the redialled one.
        let arrived = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                let _ = t1.send(NodeId(2), Bytes::from_static(b"two")).await;
                tokio::select! {
                    got = in2.next() => break got,
                    () = tokio::time::sleep(Duration::from_millis(20)) => {}
                }
            }
        })
        .await
        .expect("reconnected within 5 s");
        assert_eq!(arrived.map(|e| e.frame), Some(Bytes::from_static(b"two")));
        assert!(TcpStats::get(&t1.stats().connects) >= 2);

        s2b.shutdown();
        let ended = tokio::time::timeout(Duration::from_secs(5), async {
            while in2.next().await.is_some() {}
        })
        .await;
        assert!(ended.is_ok(), "inbound stream did not end after shutdown");
    }

    async fn rebind(addr: SocketAddr) -> TcpListener {
        for _ in 0..250 {
            if let Ok(listener) = TcpListener::bind(addr).await {
                return listener;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("could not rebind {addr} within 5 s");
    }
}
