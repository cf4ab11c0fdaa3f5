//! The demo: a three-node key-value cluster survives losing its leader.
//!
//! [`run_demo`] starts three [`serve`] nodes on loopback, each with
//! its own data directory, as child processes of a given executable (killed with
//! `SIGKILL`) or as tokio tasks (aborted: their tasks and sockets vanish, their files
//! stay). Then it:
//!
//! 1. registers a client session and writes keys (puts and appends), remembering every
//!    acknowledged write;
//! 2. finds the leader and kills it;
//! 3. waits for a new leader in a later term, reads every acknowledged key back through
//!    it (all must be there), and writes more;
//! 4. restarts the killed node from its directory (its latest snapshot plus the log
//!    after it) and waits until it has applied everything — its map's digest equals
//!    the leader's; with snapshots every few entries the leader has usually compacted
//!    past the restarted node's log and catches it up with InstallSnapshot;
//! 5. stops everything and returns what it saw.
//!
//! Every wait is bounded by [`DemoOptions::deadline`].

use super::client::{ClientError, KvClient, status};
use super::server::{ServeOptions, serve};
use super::wire::NodeStatus;
use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use synod_core::{NodeId, Ticks};
use synod_raft::Role;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The cluster's members.
pub const MEMBERS: [NodeId; 3] = [NodeId(1), NodeId(2), NodeId(3)];

/// How nodes run.
#[derive(Clone, Debug)]
pub enum Launch {
    /// As tokio tasks of this process; a crash is an abort.
    Tasks,
    /// As child processes running `exe serve …`; a crash is `SIGKILL`.
    Processes {
        /// The executable with the `serve` subcommand (the `raft_kv` example).
        exe: PathBuf,
    },
}

/// How the demo runs. Build with [`DemoOptions::new`] and adjust fields.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Node `i` keeps its segments in `data_dir/n<i>`.
    pub data_dir: PathBuf,
    /// How nodes run.
    pub launch: Launch,
    /// Wall-clock time per tick.
    pub tick: Duration,
    /// Election timeout in ticks.
    pub election_ticks: Ticks,
    /// Keys written before the crash.
    pub keys: usize,
    /// Every node snapshots after this many applied entries
    /// ([`ServeOptions::snapshot_every`]); small, so the demo crosses compactions.
    pub snapshot_every: u64,
    /// The whole demo must finish within this.
    pub deadline: Duration,
    /// Narrate to stdout.
    pub verbose: bool,
}

impl DemoOptions {
    /// Defaults: tasks, 10 ms ticks, election timeout 15 ticks, 10 keys, a snapshot
    /// every 5 entries, 30 s, quiet.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        DemoOptions {
            data_dir: data_dir.into(),
            launch: Launch::Tasks,
            tick: Duration::from_millis(10),
            election_ticks: Ticks(15),
            keys: 10,
            snapshot_every: 5,
            deadline: Duration::from_secs(30),
            verbose: false,
        }
    }
}

/// What a successful run saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoSummary {
    /// The leader that was killed, and its term.
    pub killed_leader: (NodeId, u64),
    /// The leader elected after it, and its term.
    pub new_leader: (NodeId, u64),
    /// From the kill until a survivor reported itself leader.
    pub failover: Duration,
    /// From the restart until the restarted node matched the others.
    pub catch_up: Duration,
    /// Writes acknowledged before the crash, all read back after it.
    pub acknowledged_before_crash: usize,
    /// Writes acknowledged after the crash.
    pub acknowledged_after_crash: usize,
    /// Every node's status at the end (equal digests and applied indices).
    pub final_status: BTreeMap<NodeId, NodeStatus>,
}

/// Why the demo failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Setting up sockets, directories or processes failed.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    /// A client call failed.
    #[error("client: {0}")]
    Client(#[from] ClientError),
    /// A wait passed the deadline.
    #[error("timed out waiting for {0}")]
    Timeout(String),
    /// An acknowledged write was missing or wrong after the failover.
    #[error("key {key}: expected {expected:?}, read {read:?}")]
    LostWrite {
        /// The key.
        key: String,
        /// What was acknowledged.
        expected: String,
        /// What the new leader returned.
        read: Option<String>,
    },
}

/// Addresses of one node.
#[derive(Clone, Copy, Debug)]
struct Addrs {
    raft: SocketAddr,
    client: SocketAddr,
}

enum Running {
    Task(JoinHandle<()>),
    Process(Child),
}

impl Running {
    fn kill(self) {
        match self {
            Running::Task(task) => task.abort(),
            Running::Process(mut child) => {
                let _ = child.kill(); // SIGKILL on Unix
                let _ = child.wait();
            }
        }
    }
}

/// Kills every node still running when dropped, so a failed demo leaves no orphans.
struct Nodes {
    running: BTreeMap<NodeId, Running>,
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for (_, node) in std::mem::take(&mut self.running) {
            node.kill();
        }
    }
}

/// Run the demo described in the [module docs](self).
pub async fn run_demo(options: DemoOptions) -> Result<DemoSummary, DemoError> {
    let started = Instant::now();
    let deadline = started + options.deadline;
    let say = |line: String| {
        if options.verbose {
            println!("[{:>5} ms] {line}", started.elapsed().as_millis());
        }
    };
    let addrs = pick_addresses().await?;
    let mut nodes = Nodes {
        running: BTreeMap::new(),
    };
    for id in MEMBERS {
        nodes.running.insert(id, launch(id, &addrs, &options)?);
    }
    say(format!(
        "started {} nodes ({}), data in {}",
        MEMBERS.len(),
        match options.launch {
            Launch::Tasks => "tokio tasks",
            Launch::Processes { .. } => "processes",
        },
        options.data_dir.display()
    ));
    let mut client = KvClient::new(addrs.iter().map(|(&id, a)| (id, a.client)).collect());
    client.call_timeout = options.deadline;
    let registered = client.register().await?;
    say(format!("client registered as session {}", registered.0));

    let mut acknowledged: BTreeMap<String, String> = BTreeMap::new();
    for i in 0..options.keys {
        let (key, value) = (format!("key-{i:02}"), format!("value-{i}"));
        client.put(&key, &value).await?;
        acknowledged.insert(key, value);
    }
    for part in ["a", "b", "c"] {
        client.append("log", part).await?;
        acknowledged.entry("log".into()).or_default().push_str(part);
    }
    let before_crash = options.keys + 3;
    say(format!("{before_crash} writes acknowledged"));

    let (old_leader, old_term) =
        wait_for_leader(&addrs, &MEMBERS, 0, deadline, "a first leader").await?;
    say(format!(
        "leader is {old_leader} in term {old_term}; killing it"
    ));
    if let Some(node) = nodes.running.remove(&old_leader) {
        node.kill();
    }
    let killed_at = Instant::now();
    let survivors: Vec<NodeId> = MEMBERS.into_iter().filter(|&n| n != old_leader).collect();
    let (new_leader, new_term) =
        wait_for_leader(&addrs, &survivors, old_term, deadline, "a new leader").await?;
    let failover = killed_at.elapsed();
    say(format!("{new_leader} elected leader in term {new_term}"));

    for (key, expected) in &acknowledged {
        let read = client.get(key).await?;
        if read.as_deref() != Some(expected.as_str()) {
            return Err(DemoError::LostWrite {
                key: key.clone(),
                expected: expected.clone(),
                read,
            });
        }
    }
    say(format!(
        "{new_leader} serves all {} acknowledged keys",
        acknowledged.len()
    ));
    let after_crash = 5;
    for i in 0..after_crash {
        client.put(&format!("after-{i}"), "x").await?;
    }
    say(format!(
        "{after_crash} more writes acknowledged with {old_leader} down"
    ));

    nodes
        .running
        .insert(old_leader, launch(old_leader, &addrs, &options)?);
    say(format!("restarted {old_leader} from its directory"));
    let restarted_at = Instant::now();
    let final_status = wait_caught_up(&addrs, deadline).await?;
    let catch_up = restarted_at.elapsed();
    if let Some(status) = final_status.get(&old_leader) {
        say(format!(
            "{old_leader} caught up: applied index {}, snapshot {}, {} keys, digest {:08x} — same as every node",
            status.applied, status.snapshot, status.keys, status.digest
        ));
    }
    drop(nodes);
    Ok(DemoSummary {
        killed_leader: (old_leader, old_term),
        new_leader: (new_leader, new_term),
        failover,
        catch_up,
        acknowledged_before_crash: before_crash,
        acknowledged_after_crash: after_crash,
        final_status,
    })
}

/// Find free loopback ports for every node (bound and released: a small race with
/// other programs, acceptable for a demo).
async fn pick_addresses() -> io::Result<BTreeMap<NodeId, Addrs>> {
    let mut listeners = Vec::new();
    let mut addrs = BTreeMap::new();
    for id in MEMBERS {
        let raft = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let client = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        addrs.insert(
            id,
            Addrs {
                raft: raft.local_addr()?,
                client: client.local_addr()?,
            },
        );
        listeners.push((raft, client));
    }
    Ok(addrs)
}

fn launch(
    id: NodeId,
    addrs: &BTreeMap<NodeId, Addrs>,
    options: &DemoOptions,
) -> Result<Running, DemoError> {
    let dir = options.data_dir.join(format!("n{}", id.get()));
    let me = addrs
        .get(&id)
        .copied()
        .ok_or_else(|| io::Error::other("unknown node"))?;
    match &options.launch {
        Launch::Processes { exe } => {
            let list = |pick: fn(&Addrs) -> SocketAddr| {
                addrs
                    .values()
                    .map(|a| pick(a).to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let child = Command::new(exe)
                .arg("serve")
                .args(["--id", &id.get().to_string()])
                .arg("--dir")
                .arg(&dir)
                .args(["--raft", &list(|a| a.raft)])
                .args(["--client", &list(|a| a.client)])
                .args(["--tick-ms", &options.tick.as_millis().to_string()])
                .args([
                    "--election-ticks",
                    &options.election_ticks.get().to_string(),
                ])
                .args(["--snapshot-every", &options.snapshot_every.to_string()])
                .stdin(Stdio::null())
                .spawn()?;
            Ok(Running::Process(child))
        }
        Launch::Tasks => {
            let mut serve_options =
                ServeOptions::new(id, addrs.iter().map(|(&n, a)| (n, a.raft)).collect(), dir);
            serve_options.tick = options.tick;
            serve_options.election_ticks = options.election_ticks;
            serve_options.snapshot_every = options.snapshot_every;
            serve_options.verbose = options.verbose;
            let task = tokio::spawn(async move {
                let raft = bind_retrying(me.raft).await;
                let client = bind_retrying(me.client).await;
                match (raft, client) {
                    (Ok(raft), Ok(client)) => {
                        if let Err(error) = serve(serve_options, raft, client).await {
                            eprintln!("{id} stopped: {error}");
                        }
                    }
                    (Err(error), _) | (_, Err(error)) => eprintln!("{id} cannot bind: {error}"),
                }
            });
            Ok(Running::Task(task))
        }
    }
}

/// Bind `addr`, retrying for up to 5 s while a killed node's socket is released.
pub async fn bind_retrying(addr: SocketAddr) -> io::Result<TcpListener> {
    let give_up = Instant::now() + Duration::from_secs(5);
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return Ok(listener),
            Err(error) if Instant::now() >= give_up => return Err(error),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

async fn statuses(addrs: &BTreeMap<NodeId, Addrs>, among: &[NodeId]) -> Vec<NodeStatus> {
    let mut found = Vec::new();
    for id in among {
        if let Some(a) = addrs.get(id)
            && let Ok(s) = status(a.client, Duration::from_millis(200)).await
        {
            found.push(s);
        }
    }
    found
}

/// Wait until one of `among` leads in a term above `after_term`.
async fn wait_for_leader(
    addrs: &BTreeMap<NodeId, Addrs>,
    among: &[NodeId],
    after_term: u64,
    deadline: Instant,
    what: &str,
) -> Result<(NodeId, u64), DemoError> {
    while Instant::now() < deadline {
        let leader = statuses(addrs, among)
            .await
            .into_iter()
            .filter(|s| s.role == Role::Leader && s.term > after_term)
            .max_by_key(|s| s.term);
        if let Some(s) = leader {
            return Ok((s.id, s.term));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(DemoError::Timeout(what.into()))
}

/// Wait until all members report the same applied index and digest.
async fn wait_caught_up(
    addrs: &BTreeMap<NodeId, Addrs>,
    deadline: Instant,
) -> Result<BTreeMap<NodeId, NodeStatus>, DemoError> {
    while Instant::now() < deadline {
        let all = statuses(addrs, &MEMBERS).await;
        let agree = all.len() == MEMBERS.len()
            && all
                .windows(2)
                .all(|w| (w[0].applied, w[0].digest) == (w[1].applied, w[1].digest));
        if agree {
            return Ok(all.into_iter().map(|s| (s.id, s)).collect());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(DemoError::Timeout("the restarted node to catch up".into()))
}
