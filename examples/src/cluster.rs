//! The counter-cluster scenario, as a library function so that the
//! `counter_cluster` example and the integration tests run exactly the same thing.
//!
//! [`run_counter_cluster`] starts three [`Counter`] nodes as tokio tasks, each with a
//! [`Driver`] over a real [`TcpTransport`] on loopback and a real [`FileStorage`] in its
//! own directory, and then:
//!
//! 1. sends increments to every node and waits until each increment is acknowledged
//!    (durable) and all three nodes show the same total;
//! 2. crashes node 3 by aborting its task (its volatile state is gone; its file stays);
//! 3. increments nodes 1 and 2 while node 3 is down;
//! 4. restarts node 3 from its file on the same address, checks that it recovered
//!    every increment it had acknowledged, and increments it once more;
//! 5. waits until all three converge again (node 3 catches up through anti-entropy),
//!    shuts the cluster down gracefully and checks the nodes' final totals agree.
//!
//! Every wait is bounded by one global deadline ([`ClusterOptions::deadline`]); running
//! past it is an error, never a hang.

use crate::counter::{Counter, CounterConfig, CounterEvent, CounterRequest, SlotRecord};
use crate::file_storage::{FileStorage, Recovered};
use crate::streams::{QueueStream, TickStream};
use crate::tcp::{TcpConfig, TcpShutdown, TcpTransport};
use futures::StreamExt;
use futures::channel::oneshot;
use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use synod_core::{
    Driver, DriverConfig, DriverError, DriverHandle, DriverStats, NodeId, PostcardCodec, Report,
    Ticks,
};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The cluster's members.
pub const CLUSTER: [NodeId; 3] = [NodeId(1), NodeId(2), NodeId(3)];

/// The node the scenario crashes and restarts.
pub const VICTIM: NodeId = NodeId(3);

/// The largest frame a counter node sends or accepts. A `Slot` message is a few
/// bytes; anything near this is garbage.
const MAX_FRAME_BYTES: usize = 1024;

/// How the scenario runs. Build with [`ClusterOptions::new`] and adjust fields.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// Each node keeps its log in `data_dir/n<id>/counter.log`.
    pub data_dir: PathBuf,
    /// Wall-clock time per logical tick.
    pub tick: Duration,
    /// Ticks between anti-entropy re-broadcasts.
    pub gossip_interval: Ticks,
    /// Increments sent to each node in the first phase (node `i` adds `i` each time).
    pub increments_per_node: u64,
    /// The whole scenario must finish within this; past it, it fails.
    pub deadline: Duration,
    /// Print every event and step to stdout.
    pub verbose: bool,
}

impl ClusterOptions {
    /// Defaults: 10 ms ticks, gossip every 5 ticks, 3 increments per node, a 10 s
    /// deadline, quiet.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        ClusterOptions {
            data_dir: data_dir.into(),
            tick: Duration::from_millis(10),
            gossip_interval: Ticks(5),
            increments_per_node: 3,
            deadline: Duration::from_secs(10),
            verbose: false,
        }
    }
}

/// What a successful run observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSummary {
    /// Each node's total as returned by its driver at shutdown.
    pub final_totals: BTreeMap<NodeId, u64>,
    /// The sum of every acknowledged increment.
    pub expected_total: u64,
    /// [`VICTIM`]'s slot as acknowledged before it crashed.
    pub slot_before_crash: u64,
    /// [`VICTIM`]'s slot as rebuilt from its file after the restart.
    pub recovered_slot: u64,
    /// Records in [`VICTIM`]'s log when it restarted (compacted to one afterwards).
    pub records_recovered: usize,
    /// Frames the drivers handed to TCP, all nodes and incarnations together.
    pub frames_sent: u64,
    /// Sends refused by the transport (backpressure while a peer was down).
    pub send_failures: u64,
    /// Faults the drivers reported (and survived).
    pub reports: u64,
    /// Wall-clock time the scenario took.
    pub elapsed: Duration,
}

/// Why the scenario failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Binding, file or network set-up failed.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// The global deadline passed.
    #[error("timed out waiting until {waiting_for}; totals seen: {totals:?}")]
    Timeout {
        /// The condition that did not come true.
        waiting_for: String,
        /// Each running node's last reported total.
        totals: BTreeMap<NodeId, u64>,
    },
    /// A node's driver stopped when it should have been running.
    #[error("node {id} stopped unexpectedly: {reason}")]
    NodeStopped {
        /// The node.
        id: NodeId,
        /// What its task returned.
        reason: String,
    },
    /// The restarted node came back with fewer increments than it had acknowledged.
    #[error("node {id} recovered slot {recovered} but had acknowledged {acknowledged}")]
    LostIncrement {
        /// The node.
        id: NodeId,
        /// Its slot rebuilt from its file.
        recovered: u64,
        /// Its slot as acknowledged before the crash.
        acknowledged: u64,
    },
    /// The nodes' final totals differ from each other or from the expected total.
    #[error("nodes disagree at shutdown: {totals:?}, expected {expected} everywhere")]
    Diverged {
        /// Each node's final total.
        totals: BTreeMap<NodeId, u64>,
        /// The sum of every acknowledged increment.
        expected: u64,
    },
}

/// Run the scenario described in the [module docs](self).
pub async fn run_counter_cluster(options: ClusterOptions) -> Result<ClusterSummary, ClusterError> {
    let started = Instant::now();
    let deadline = started + options.deadline;
    let (observations_tx, observations_rx) = mpsc::channel(1024);
    let mut watch = Watch {
        observations: observations_rx,
        incarnations: BTreeMap::new(),
        totals: BTreeMap::new(),
        acked: BTreeMap::new(),
        reports: 0,
        started,
        deadline,
        verbose: options.verbose,
    };

    let mut addrs = BTreeMap::new();
    let mut listeners = Vec::new();
    for id in CLUSTER {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        addrs.insert(id, listener.local_addr()?);
        listeners.push((id, listener));
    }
    let mut nodes = BTreeMap::new();
    let mut retired_stats = Vec::new();
    for (id, listener) in listeners {
        let (node, _) = launch(id, 0, listener, &addrs, &options, &observations_tx)?;
        watch.say(format_args!(
            "{id} up on {} with its log in {}",
            addrs[&id],
            log_path(&options.data_dir, id).display()
        ));
        watch.started_incarnation(id, 0, node.own_slot_at_start);
        nodes.insert(id, node);
    }

    // Phase 1: every node counts. Nodes restarted on old data start from their slots.
    let mut expected: u64 = nodes.values().map(|n| n.own_slot_at_start).sum();
    for _ in 0..options.increments_per_node {
        for id in CLUSTER {
            increment(&nodes, id, id.get(), deadline).await?;
            expected += id.get();
        }
    }
    watch
        .until(
            &format!("all increments are durable and every node shows {expected}"),
            |w| w.acked_sum() == expected && w.all_show(expected),
        )
        .await?;

    // Phase 2: crash the victim. Aborting the task drops the node, its driver and its
    // transport mid-flight, exactly like a killed process: only its file survives.
    let slot_before_crash = watch.acked.get(&VICTIM).copied().unwrap_or(0);
    let victim = nodes.remove(&VICTIM).ok_or(ClusterError::NodeStopped {
        id: VICTIM,
        reason: "missing".into(),
    })?;
    victim.driver.abort();
    let _ = victim.driver.await; // `Cancelled`, by design
    retired_stats.push(victim.stats);
    watch.crashed(VICTIM);
    watch.say(format_args!(
        "{VICTIM} crashed (task aborted) with slot {slot_before_crash} acknowledged"
    ));

    // Phase 3: the survivors go on counting.
    for id in [NodeId(1), NodeId(2)] {
        increment(&nodes, id, 10, deadline).await?;
        expected += 10;
    }
    watch
        .until(
            &format!("{} and {} show {expected}", NodeId(1), NodeId(2)),
            |w| w.all_show(expected),
        )
        .await?;

    // Phase 4: restart the victim from its file, on its old address.
    let listener = rebind(addrs[&VICTIM], deadline).await?;
    let (node, records_recovered) =
        launch(VICTIM, 1, listener, &addrs, &options, &observations_tx)?;
    let recovered_slot = node.own_slot_at_start;
    watch.say(format_args!(
        "{VICTIM} restarted from {records_recovered} records: slot {recovered_slot}"
    ));
    if recovered_slot != slot_before_crash {
        return Err(ClusterError::LostIncrement {
            id: VICTIM,
            recovered: recovered_slot,
            acknowledged: slot_before_crash,
        });
    }
    watch.started_incarnation(VICTIM, 1, recovered_slot);
    nodes.insert(VICTIM, node);
    increment(&nodes, VICTIM, VICTIM.get(), deadline).await?;
    expected += VICTIM.get();

    // Phase 5: everyone converges, through anti-entropy for what the victim missed.
    watch
        .until(&format!("all three nodes show {expected} again"), |w| {
            w.acked.get(&VICTIM) == Some(&(recovered_slot + VICTIM.get())) && w.all_show(expected)
        })
        .await?;
    watch.say(format_args!("converged on {expected}; shutting down"));

    let mut final_totals = BTreeMap::new();
    for (id, node) in nodes {
        let (counter, stats) = node.stop(deadline).await?;
        final_totals.insert(id, counter.total());
        retired_stats.push(stats);
    }
    if final_totals.values().any(|&total| total != expected) {
        return Err(ClusterError::Diverged {
            totals: final_totals,
            expected,
        });
    }
    let sum = |pick: fn(&DriverStats) -> &std::sync::atomic::AtomicU64| {
        retired_stats
            .iter()
            .map(|s| DriverStats::get(pick(s)))
            .sum()
    };
    Ok(ClusterSummary {
        final_totals,
        expected_total: expected,
        slot_before_crash,
        recovered_slot,
        records_recovered,
        frames_sent: sum(|s| &s.frames_sent),
        send_failures: sum(|s| &s.send_failures),
        reports: watch.reports,
        elapsed: started.elapsed(),
    })
}

/// Where node `id` keeps its log under `data_dir`.
pub fn log_path(data_dir: &Path, id: NodeId) -> PathBuf {
    data_dir.join(format!("n{}", id.get())).join("counter.log")
}

/// One running node, seen from the scenario.
struct RunningNode {
    id: NodeId,
    requests: mpsc::Sender<CounterRequest>,
    stop_ticks: oneshot::Sender<()>,
    network: TcpShutdown,
    driver: JoinHandle<Result<Counter, DriverError>>,
    stats: Arc<DriverStats>,
    own_slot_at_start: u64,
}

impl RunningNode {
    /// End the node's three input streams and collect the node its driver returns.
    async fn stop(self, deadline: Instant) -> Result<(Counter, Arc<DriverStats>), ClusterError> {
        drop(self.requests);
        let _ = self.stop_ticks.send(());
        self.network.shutdown();
        let id = self.id;
        match tokio::time::timeout_at(deadline, self.driver).await {
            Ok(Ok(Ok(counter))) => Ok((counter, self.stats)),
            Ok(Ok(Err(error))) => Err(ClusterError::NodeStopped {
                id,
                reason: error.to_string(),
            }),
            Ok(Err(join)) => Err(ClusterError::NodeStopped {
                id,
                reason: join.to_string(),
            }),
            Err(_) => Err(ClusterError::Timeout {
                waiting_for: format!("{id} to shut down"),
                totals: BTreeMap::new(),
            }),
        }
    }
}

/// What a node's forwarding task passes to the scenario.
#[derive(Debug)]
enum Observation {
    Event(CounterEvent),
    Report(Report),
}

/// An observation tagged with the node and the incarnation that produced it, so that
/// late output of a crashed incarnation cannot be mistaken for the restarted one's.
type Tagged = (NodeId, u32, Observation);

/// Start node `id` from whatever its log holds; return it and how many records the
/// log held.
fn launch(
    id: NodeId,
    incarnation: u32,
    listener: TcpListener,
    addrs: &BTreeMap<NodeId, SocketAddr>,
    options: &ClusterOptions,
    observations: &mpsc::Sender<Tagged>,
) -> Result<(RunningNode, usize), ClusterError> {
    let path = log_path(&options.data_dir, id);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let Recovered {
        mut storage,
        records,
        truncated_bytes: _,
    } = FileStorage::<SlotRecord>::open(&path)?;
    let config = CounterConfig::new(id, CLUSTER, options.gossip_interval);
    let node = Counter::recover(config, records.iter().copied());
    let own_slot_at_start = node.own_slot();
    if records.len() > 1 {
        // Each record supersedes the ones before, so the newest is all we need: this
        // keeps the log one record long across restarts.
        storage.compact(&[SlotRecord {
            value: own_slot_at_start,
        }])?;
    }

    let tcp = TcpConfig::new(id, addrs.iter().map(|(&peer, &addr)| (peer, addr)));
    let (transport, inbound, network) = TcpTransport::start(listener, tcp)?;
    let peers = CLUSTER.into_iter().filter(|&peer| peer != id);
    let (driver, handle) = Driver::new(
        node,
        transport,
        storage,
        PostcardCodec::new(MAX_FRAME_BYTES),
        DriverConfig::new(peers),
    );
    let (requests_tx, requests_rx) = mpsc::channel(64);
    let (stop_ticks, ticks_stopped) = oneshot::channel();
    let ticks = TickStream::new(options.tick).take_until(ticks_stopped);
    let driver = tokio::spawn(driver.run(inbound, ticks, QueueStream::new(requests_rx)));

    let DriverHandle {
        events,
        reports,
        stats,
    } = handle;
    let mut output = futures::stream::select(
        events.map(Observation::Event),
        reports.map(Observation::Report),
    );
    let observations = observations.clone();
    // Ends when the driver is gone (both of its channels closed).
    tokio::spawn(async move {
        while let Some(observation) = output.next().await {
            if observations
                .send((id, incarnation, observation))
                .await
                .is_err()
            {
                break;
            }
        }
    });

    let node = RunningNode {
        id,
        requests: requests_tx,
        stop_ticks,
        network,
        driver,
        stats,
        own_slot_at_start,
    };
    Ok((node, records.len()))
}

async fn increment(
    nodes: &BTreeMap<NodeId, RunningNode>,
    id: NodeId,
    by: u64,
    deadline: Instant,
) -> Result<(), ClusterError> {
    let stopped = |reason: &str| ClusterError::NodeStopped {
        id,
        reason: reason.into(),
    };
    let node = nodes.get(&id).ok_or_else(|| stopped("not running"))?;
    // A driver that stopped reading requests must fail the run, not hang it.
    match tokio::time::timeout_at(
        deadline,
        node.requests.send(CounterRequest::Increment { by }),
    )
    .await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(stopped("its request queue is closed")),
        Err(_) => Err(stopped("it stopped taking requests")),
    }
}

/// Bind `addr` again once the crashed incarnation's listener is gone (its tasks stop
/// asynchronously after the abort), retrying until `deadline`.
async fn rebind(addr: SocketAddr, deadline: Instant) -> Result<TcpListener, ClusterError> {
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return Ok(listener),
            Err(error) if Instant::now() + Duration::from_millis(20) >= deadline => {
                return Err(error.into());
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// The scenario's view of the cluster, built from the nodes' events.
struct Watch {
    observations: mpsc::Receiver<Tagged>,
    /// The live incarnation of each running node; absent while a node is down.
    incarnations: BTreeMap<NodeId, u32>,
    /// Each running node's latest total.
    totals: BTreeMap<NodeId, u64>,
    /// Each node's latest acknowledged (durable) slot.
    acked: BTreeMap<NodeId, u64>,
    reports: u64,
    started: Instant,
    deadline: Instant,
    verbose: bool,
}

impl Watch {
    fn say(&self, line: std::fmt::Arguments<'_>) {
        if self.verbose {
            println!("[{:>5} ms] {line}", self.started.elapsed().as_millis());
        }
    }

    fn started_incarnation(&mut self, id: NodeId, incarnation: u32, own_slot: u64) {
        self.incarnations.insert(id, incarnation);
        // A fresh node's total is its own slot until it hears from its peers.
        self.totals.insert(id, own_slot);
        self.acked.insert(id, own_slot);
    }

    fn crashed(&mut self, id: NodeId) {
        self.incarnations.remove(&id);
        self.totals.remove(&id);
    }

    fn acked_sum(&self) -> u64 {
        self.acked.values().sum()
    }

    /// Whether every running node shows `total`.
    fn all_show(&self, total: u64) -> bool {
        self.totals.values().all(|&t| t == total)
    }

    fn observe(&mut self, (id, incarnation, observation): Tagged) {
        if self.incarnations.get(&id) != Some(&incarnation) {
            return; // late output of a crashed incarnation
        }
        match observation {
            Observation::Event(CounterEvent::Incremented { slot }) => {
                self.acked.insert(id, slot);
                self.say(format_args!("{id}: increment durable, slot = {slot}"));
            }
            Observation::Event(CounterEvent::TotalChanged { total }) => {
                self.totals.insert(id, total);
                self.say(format_args!("{id}: total = {total}"));
            }
            Observation::Event(CounterEvent::Rejected(error)) => {
                self.say(format_args!("{id}: request rejected: {error}"));
            }
            Observation::Report(report) => {
                self.reports += 1;
                self.say(format_args!("{id}: survived a fault: {report}"));
            }
        }
    }

    /// Consume observations until `done` holds, or fail at the deadline.
    async fn until(
        &mut self,
        what: &str,
        done: impl Fn(&Self) -> bool,
    ) -> Result<(), ClusterError> {
        // Bounded by the deadline: every iteration either returns or waits on it.
        loop {
            if done(self) {
                return Ok(());
            }
            match tokio::time::timeout_at(self.deadline, self.observations.recv()).await {
                Ok(Some(observation)) => self.observe(observation),
                // The scenario holds a sender, so the queue cannot close; treat it as
                // the deadline anyway rather than spin.
                Ok(None) | Err(_) => {
                    return Err(ClusterError::Timeout {
                        waiting_for: what.into(),
                        totals: self.totals.clone(),
                    });
                }
            }
        }
    }
}
