//! The key-value server's client-facing rules over real TCP: leader hints, exactly-once
//! retries, and a restart from a log with a torn tail.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;
use synod_core::{NodeId, Ticks};
use synod_examples::kv::client::{ClientError, KvClient, status};
use synod_examples::kv::demo::bind_retrying;
use synod_examples::kv::server::{ServeOptions, serve};
use synod_examples::kv::store::{Command, KvResponse};
use synod_examples::kv::wire::{ClientReply, ClientRequest, read_frame, write_frame};
use synod_examples::raft_log::RaftLogOptions;
use synod_raft::Role;
use synod_raft::session::Sequence;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const IDS: [NodeId; 3] = [NodeId(1), NodeId(2), NodeId(3)];

struct Cluster {
    /// `ServeOptions::snapshot_every` of every node.
    snapshot_every: u64,
    /// `RaftLogOptions::max_record_bytes` of every node.
    max_record_bytes: u32,
    raft: BTreeMap<NodeId, SocketAddr>,
    client: BTreeMap<NodeId, SocketAddr>,
    tasks: BTreeMap<NodeId, JoinHandle<()>>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for task in self.tasks.values() {
            task.abort();
        }
    }
}

impl Cluster {
    async fn start(dir: &Path) -> Cluster {
        Cluster::start_with(dir, 7).await
    }

    async fn start_with(dir: &Path, snapshot_every: u64) -> Cluster {
        Cluster::start_with_log(
            dir,
            snapshot_every,
            RaftLogOptions::default().max_record_bytes,
        )
        .await
    }

    async fn start_with_log(dir: &Path, snapshot_every: u64, max_record_bytes: u32) -> Cluster {
        let mut listeners = BTreeMap::new();
        let (mut raft, mut client) = (BTreeMap::new(), BTreeMap::new());
        for id in IDS {
            let r = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .await
                .expect("bind");
            let c = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .await
                .expect("bind");
            raft.insert(id, r.local_addr().expect("addr"));
            client.insert(id, c.local_addr().expect("addr"));
            listeners.insert(id, (r, c));
        }
        let mut cluster = Cluster {
            snapshot_every,
            max_record_bytes,
            raft,
            client,
            tasks: BTreeMap::new(),
        };
        for (id, (r, c)) in listeners {
            cluster.spawn(id, dir, r, c);
        }
        cluster
    }

    fn spawn(&mut self, id: NodeId, dir: &Path, raft: TcpListener, client: TcpListener) {
        let mut options =
            ServeOptions::new(id, self.raft.clone(), dir.join(format!("n{}", id.get())));
        options.tick = Duration::from_millis(20);
        options.election_ticks = Ticks(15);
        // Small segments, so the nodes roll several while the tests run.
        options.log.segment_bytes_max = 512;
        // And no entry cache: committed entries are applied from what was read back.
        options.log.memory_bytes_max = 0;
        // Frequent snapshots, so the tests cross several compactions.
        options.snapshot_every = self.snapshot_every;
        options.log.max_record_bytes = self.max_record_bytes;
        options.client_idle_timeout = Duration::from_millis(500);
        self.tasks.insert(
            id,
            tokio::spawn(async move {
                let _ = serve(options, raft, client).await;
            }),
        );
    }

    async fn restart(&mut self, id: NodeId, dir: &Path) {
        let raft = bind_retrying(self.raft[&id]).await.expect("rebind");
        let client = bind_retrying(self.client[&id]).await.expect("rebind");
        self.spawn(id, dir, raft, client);
    }

    fn kill(&mut self, id: NodeId) {
        if let Some(task) = self.tasks.remove(&id) {
            task.abort();
        }
    }

    /// Kill some node other than `leader` and give its sockets time to close.
    async fn kill_a_follower(&mut self, leader: NodeId) -> NodeId {
        let victim = IDS
            .into_iter()
            .find(|&id| id != leader)
            .expect("a follower");
        self.kill(victim);
        tokio::time::sleep(Duration::from_millis(100)).await;
        victim
    }

    async fn leader(&self) -> NodeId {
        for _ in 0..500 {
            for (&id, &addr) in &self.client {
                if !self.tasks.contains_key(&id) {
                    continue;
                }
                if let Ok(s) = status(addr, Duration::from_millis(200)).await
                    && s.role == Role::Leader
                {
                    return id;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no leader within 10 s");
    }
}

async fn ask(addr: SocketAddr, request: &ClientRequest) -> ClientReply {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    write_frame(&mut stream, request).await.expect("write");
    tokio::time::timeout(Duration::from_secs(5), read_frame(&mut stream))
        .await
        .expect("a reply within 5 s")
        .expect("read")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_name_the_leader_and_a_retried_append_applies_once() {
    // Checks the client contract: a follower refuses a command with the leader's id as
    // a hint; the same numbered append sent twice (a retry after a lost reply) is
    // answered twice with the same response and applied once (thesis §6.3); a request
    // older than the last one is answered Stale.
    let dir = tempfile::tempdir().expect("temp dir");
    let cluster = Cluster::start(dir.path()).await;
    let leader = cluster.leader().await;
    let mut client = KvClient::new(cluster.client.clone());
    let session = client.register().await.expect("register");

    let follower = IDS
        .into_iter()
        .find(|&id| id != leader)
        .expect("a follower");
    let get = ClientRequest::Command(Command::Get {
        client: session,
        seq: Sequence(1),
        key: "k".into(),
    });
    match ask(cluster.client[&follower], &get).await {
        // A follower that has not heard from the leader yet may not know it.
        ClientReply::NotLeader { leader: hint } => assert!(hint == Some(leader) || hint.is_none()),
        other => panic!("a follower answered {other:?}"),
    }

    let append = |seq| {
        ClientRequest::Command(Command::Append {
            client: session,
            seq: Sequence(seq),
            key: "k".into(),
            value: "x".into(),
        })
    };
    let first = ask(cluster.client[&leader], &append(1)).await;
    let retry = ask(cluster.client[&leader], &append(1)).await;
    assert_eq!(first, ClientReply::Done(KvResponse::Appended { len: 1 }));
    assert_eq!(retry, first);
    let second = ask(cluster.client[&leader], &append(2)).await;
    assert_eq!(second, ClientReply::Done(KvResponse::Appended { len: 2 }));
    let stale = ask(cluster.client[&leader], &append(1)).await;
    assert_eq!(stale, ClientReply::Done(KvResponse::Stale));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarts_from_a_log_with_a_torn_tail_and_catches_up() {
    // Checks recovery inside the running system: a follower is killed, garbage (a
    // torn record) is appended to its last segment, and on restart it cuts the tail,
    // rejoins, and reaches the same map as the leader.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cluster = Cluster::start(dir.path()).await;
    let leader = cluster.leader().await;
    let mut client = KvClient::new(cluster.client.clone());
    client.register().await.expect("register");
    for i in 0..5 {
        client.put(&format!("k{i}"), "v").await.expect("put");
    }
    let victim = cluster.kill_a_follower(leader).await;
    let node_dir = dir.path().join(format!("n{}", victim.get()));
    let last = std::fs::read_dir(&node_dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("seg-"))
        })
        .max()
        .expect("a segment");
    let mut bytes = std::fs::read(&last).expect("read");
    bytes.extend_from_slice(&[0, 0, 0, 40, 1, 2, 3, 4, 5]); // a header and a bit of payload
    std::fs::write(&last, &bytes).expect("write");
    client.put("during", "v").await.expect("put while down");
    cluster.restart(victim, dir.path()).await;
    let caught_up = async {
        loop {
            let a = status(cluster.client[&leader], Duration::from_millis(200)).await;
            let b = status(cluster.client[&victim], Duration::from_millis(200)).await;
            if let (Ok(a), Ok(b)) = (a, b)
                && a.applied == b.applied
                && a.digest == b.digest
                && b.keys == 6
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), caught_up)
        .await
        .expect("the restarted node catches up within 20 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_serves_a_read_that_sees_a_write_the_leader_acknowledged() {
    // Checks ReadIndex reads at followers (thesis §6.4, forwarded read index): right
    // after the leader acknowledges a write, a get sent to each follower (which has
    // not necessarily applied it yet) returns the written value, never the old one —
    // and gets never touch the log (the applied index does not move).
    let dir = tempfile::tempdir().expect("temp dir");
    let cluster = Cluster::start(dir.path()).await;
    let leader = cluster.leader().await;
    let mut client = KvClient::new(cluster.client.clone());
    client.register().await.expect("register");
    let followers: Vec<NodeId> = IDS.into_iter().filter(|&id| id != leader).collect();
    for round in 0..20 {
        let value = format!("v{round}");
        client.put("k", &value).await.expect("put");
        for &follower in &followers {
            let read = client.get_at(follower, "k").await.expect("follower read");
            assert_eq!(read.as_deref(), Some(value.as_str()), "read at {follower}");
        }
    }
    let before = status(cluster.client[&leader], Duration::from_millis(500))
        .await
        .expect("status");
    for _ in 0..10 {
        assert_eq!(client.get("k").await.expect("get").as_deref(), Some("v19"));
    }
    let after = status(cluster.client[&leader], Duration::from_millis(500))
        .await
        .expect("status");
    assert_eq!(before.applied, after.applied, "a get appended to the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_without_a_known_leader_is_a_typed_failure() {
    // Checks the read refusal path: a lone node of a three-node cluster (the others
    // never started) knows no leader, so a read is answered ReadFailed — not a stale
    // value and not silence.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cluster = Cluster::start(dir.path()).await;
    cluster.kill(NodeId(2));
    cluster.kill(NodeId(3));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let reply = ask(
        cluster.client[&NodeId(1)],
        &ClientRequest::Read { key: "k".into() },
    )
    .await;
    assert!(
        matches!(reply, ClientReply::ReadFailed { .. }),
        "a leaderless node answered {reply:?}"
    );
}

/// Wait until `node` reports the same applied index and map digest as `other`, with
/// `keys` keys; panics after 20 s.
async fn converged(cluster: &Cluster, node: NodeId, other: NodeId, keys: usize) -> NodeStatusView {
    let wait = async {
        loop {
            let a = status(cluster.client[&other], Duration::from_millis(200)).await;
            let b = status(cluster.client[&node], Duration::from_millis(200)).await;
            if let (Ok(a), Ok(b)) = (a, b)
                && a.applied == b.applied
                && a.digest == b.digest
                && b.keys == keys
            {
                return b;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .expect("converged within 20 s")
}

type NodeStatusView = synod_examples::kv::wire::NodeStatus;

fn snapshot_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("snapshot-"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_restarted_from_snapshots_serves_every_acknowledged_write_once() {
    // Checks restart from snapshot plus log (Raft §7) with the session table in the
    // snapshot (thesis §6.3): every node snapshots every 5 entries; after all three
    // are killed and restarted, each starts from a snapshot file, every acknowledged
    // put reads back, and a retry of an append the snapshot covers is answered from
    // the restored session table instead of being applied again.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cluster = Cluster::start_with(dir.path(), 5).await;
    let leader = cluster.leader().await;
    let mut client = KvClient::new(cluster.client.clone());
    let session = client.register().await.expect("register");
    let append = ClientRequest::Command(Command::Append {
        client: session,
        seq: Sequence(1),
        key: "log".into(),
        value: "once".into(),
    });
    let first = ask(cluster.client[&leader], &append).await;
    assert_eq!(first, ClientReply::Done(KvResponse::Appended { len: 4 }));
    client.put("skip", "seq 1 is taken").await.ok(); // numbered 1 too: Stale, ignored
    let mut client = KvClient::new(cluster.client.clone());
    client.register().await.expect("register");
    for i in 0..20 {
        client
            .put(&format!("k{i}"), &format!("v{i}"))
            .await
            .expect("put");
    }
    for id in IDS {
        converged(&cluster, id, leader, 21).await;
    }
    for id in IDS {
        cluster.kill(id);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    for id in IDS {
        let files = snapshot_files(&dir.path().join(format!("n{}", id.get())));
        assert_eq!(files.len(), 1, "{id}: {files:?}");
        cluster.restart(id, dir.path()).await;
    }
    let leader = cluster.leader().await;
    for id in IDS {
        let s = status(cluster.client[&id], Duration::from_millis(500))
            .await
            .expect("status");
        assert!(s.snapshot >= 5, "{id} did not start from a snapshot: {s:?}");
    }
    for i in 0..20 {
        assert_eq!(
            client.get(&format!("k{i}")).await.expect("get").as_deref(),
            Some(format!("v{i}").as_str())
        );
    }
    let retry = ask(cluster.client[&leader], &append).await;
    assert_eq!(
        retry, first,
        "the retry is answered from the restored sessions"
    );
    assert_eq!(
        client.get("log").await.expect("get").as_deref(),
        Some("once")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_node_catches_up_through_install_snapshot() {
    // Checks InstallSnapshot over TCP (Raft §7): a follower's directory is deleted
    // while it is down and the leader compacts past everything it held; restarted
    // empty, it receives the leader's snapshot (its own snapshot index jumps above 0
    // without applying from index 1), then the log, and converges to the leader's
    // map — and serves a read of the latest write.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cluster = Cluster::start_with(dir.path(), 5).await;
    let leader = cluster.leader().await;
    let mut client = KvClient::new(cluster.client.clone());
    client.register().await.expect("register");
    for i in 0..10 {
        client.put(&format!("k{i}"), "before").await.expect("put");
    }
    let victim = cluster.kill_a_follower(leader).await;
    std::fs::remove_dir_all(dir.path().join(format!("n{}", victim.get()))).expect("wipe");
    for i in 10..30 {
        client.put(&format!("k{i}"), "after").await.expect("put");
    }
    let leader_status = status(cluster.client[&leader], Duration::from_millis(500))
        .await
        .expect("status");
    assert!(
        leader_status.snapshot >= 25,
        "the leader compacted: {leader_status:?}"
    );
    cluster.restart(victim, dir.path()).await;
    let caught_up = converged(&cluster, victim, leader, 30).await;
    assert!(
        caught_up.snapshot >= 25,
        "the wiped node caught up without a snapshot: {caught_up:?}"
    );
    assert_eq!(
        client.get_at(victim, "k29").await.expect("read").as_deref(),
        Some("after")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_larger_than_a_log_record_is_refused_and_the_cluster_keeps_serving() {
    // Checks bad client input against the file log's record limit: with 16 KiB
    // records, a 20 KB put is answered with a refusal instead of reaching the log
    // (where every node's append would fail and stop its driver), and the cluster
    // still takes a small put afterwards.
    let dir = tempfile::tempdir().expect("temp dir");
    let cluster = Cluster::start_with_log(dir.path(), 0, 16 << 10).await;
    let leader = cluster.leader().await;
    let mut client = KvClient::new(cluster.client.clone());
    client.call_timeout = Duration::from_secs(5);
    let session = client.register().await.expect("register");
    let huge = ClientRequest::Command(Command::Put {
        client: session,
        seq: Sequence(1_000),
        key: "big".into(),
        value: "x".repeat(20_000),
    });
    let reply = ask(cluster.client[&leader], &huge).await;
    assert!(
        matches!(reply, ClientReply::Refused { .. }),
        "the oversized put was not refused: {reply:?}"
    );
    // The client gives up at once with a typed error, here and for a value over
    // the frame limit, rather than retrying until its deadline.
    let started = std::time::Instant::now();
    let refused = client.put("big", &"x".repeat(20_000)).await;
    assert!(
        matches!(refused, Err(ClientError::Refused(_))),
        "{refused:?}"
    );
    let refused = client.put("big", &"x".repeat(2 << 20)).await;
    assert!(
        matches!(refused, Err(ClientError::Refused(_))),
        "{refused:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    client
        .put("k", "small")
        .await
        .expect("the cluster still serves");
    assert_eq!(
        client.get("k").await.expect("get").as_deref(),
        Some("small")
    );
    for (&id, &addr) in &cluster.client {
        status(addr, Duration::from_secs(1))
            .await
            .unwrap_or_else(|e| panic!("{id} stopped: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_or_half_sent_client_connections_do_not_lock_out_other_clients() {
    // Checks the server's client queue is bounded in time as well as in number: 64
    // connections (every slot) that send nothing or only a length prefix promising
    // a large frame are closed after the idle timeout (500 ms here), and a client
    // arriving afterwards is served.
    let dir = tempfile::tempdir().expect("temp dir");
    let cluster = Cluster::start_with(dir.path(), 0).await;
    let node = cluster.leader().await;
    let addr = cluster.client[&node];
    let mut hogs = Vec::new();
    for i in 0..64u32 {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        if i % 2 == 0 {
            use tokio::io::AsyncWriteExt;
            stream
                .write_all(&(1u32 << 20).to_be_bytes())
                .await
                .expect("write");
        }
        hogs.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let served = status(addr, Duration::from_secs(2)).await;
    assert!(served.is_ok(), "locked out: {served:?}");
    drop(hogs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_between_two_nodes_with_stale_hints_backs_off() {
    // Checks the client's retry loop is paced: two nodes that each name the other
    // as leader (stale hints) get a bounded number of attempts within the client's
    // deadline (each attempt at least 20 ms apart), not a tight reconnect loop.
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let a = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let b = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let nodes = BTreeMap::from([
        (NodeId(1), a.local_addr().expect("addr")),
        (NodeId(2), b.local_addr().expect("addr")),
    ]);
    let mut servers = Vec::new();
    for (listener, other) in [(a, NodeId(2)), (b, NodeId(1))] {
        let counter = counter.clone();
        servers.push(tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::spawn(async move {
                    let _: Result<ClientRequest, _> = read_frame(&mut stream).await;
                    let reply = ClientReply::NotLeader {
                        leader: Some(other),
                    };
                    let _ = write_frame(&mut stream, &reply).await;
                });
            }
        }));
    }
    let mut client = KvClient::new(nodes);
    client.call_timeout = Duration::from_millis(500);
    let result = client.get("k").await;
    assert!(
        matches!(result, Err(ClientError::Timeout(..))),
        "{result:?}"
    );
    let attempts = counter.load(std::sync::atomic::Ordering::Relaxed);
    for server in servers {
        server.abort();
    }
    assert!(attempts <= 50, "{attempts} attempts in 500 ms");
}
