//! Node configuration, validated at construction.

use crate::ConfigError;
use synod_core::{NodeId, Ticks};

/// How a Raft node behaves. Build with [`Config::new`], adjust fields, and let
/// [`RaftNode::new`](crate::RaftNode::new) validate it.
///
/// ```
/// use synod_core::{NodeId, Ticks};
/// use synod_raft::{Config, ConfigError};
///
/// let mut config = Config::new(NodeId(1), [1, 2, 3].map(NodeId));
/// config.heartbeat_ticks = Ticks(10); // not below the election timeout
/// assert!(matches!(config.validate(), Err(ConfigError::ElectionNotAboveHeartbeat { .. })));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This node.
    pub id: NodeId,
    /// The initial voting members (this node included if it votes). Only the start:
    /// a configuration in the node's log or snapshot takes precedence (thesis ch. 4).
    /// A node joining a running cluster lists the cluster's current voters without
    /// itself; it then never campaigns and waits to hear from the leader, which adds
    /// it with [`Request::ChangeMembership`](crate::Request::ChangeMembership).
    pub voters: Vec<NodeId>,
    /// Minimum election timeout; each node draws its timeout uniformly from
    /// `[election_ticks, 2 * election_ticks)` after every reset (Raft §5.2).
    pub election_ticks: Ticks,
    /// Leader heartbeat interval; must be below `election_ticks`.
    pub heartbeat_ticks: Ticks,
    /// Seeds the election-jitter generator, mixed with the node id so that nodes
    /// sharing a config still draw different timeouts. No global RNG is used.
    pub seed: u64,
    /// Run a pre-vote round before a real election (thesis §9.6), so a node that was
    /// partitioned away cannot force a healthy leader out by inflating its term.
    pub pre_vote: bool,
    /// A leader that has not heard from a quorum within an election timeout steps
    /// down (thesis §6.2), and followers that heard from a leader within the minimum
    /// election timeout ignore vote requests (thesis §4.2.3).
    pub check_quorum: bool,
    /// Byte limit of the entries in one AppendEntries message (at least one entry is
    /// always sent).
    pub max_append_bytes: u64,
    /// AppendEntries messages in flight to one follower in the replicate state.
    pub max_inflight_messages: usize,
    /// Bytes of entries in flight to one follower.
    pub max_inflight_bytes: u64,
    /// Largest command a proposal may carry.
    pub max_proposal_bytes: u64,
    /// Bytes the leader accepts in proposals that have not committed yet.
    pub max_uncommitted_bytes: u64,
    /// Byte bound on one read of committed entries from storage when applying.
    pub max_apply_bytes: u64,
    /// Serve reads on the leader without a heartbeat round while its lease holds
    /// (thesis §6.4.1). Requires `check_quorum`. Safe only if no node's clock runs
    /// more than `lease_drift_ticks` ticks per election timeout slower than another's
    /// (see `docs/raft.md`, "Lease reads").
    pub lease_read: bool,
    /// The lease ends this many ticks before an election timeout has passed since the
    /// confirming round was sent: two ticks of tick phase between nodes, plus the
    /// clock-rate difference allowed over one election timeout.
    pub lease_drift_ticks: Ticks,
    /// Reads waiting at once (local and forwarded); more are refused.
    pub max_pending_reads: usize,
    /// Bytes of snapshot data in one InstallSnapshot chunk (Raft §7).
    pub max_snapshot_chunk_bytes: u64,
    /// InstallSnapshot chunks in flight to one follower: the leader sends this many
    /// before it waits for acknowledgements, so a transfer of N chunks takes about
    /// N / window round trips (1 is stop-and-wait).
    pub max_inflight_snapshot_chunks: usize,
    /// Largest snapshot this node accepts from a leader: the bound on its buffer of
    /// received chunks. A follower refuses a snapshot that grows past it
    /// ([`Message::InstallSnapshotRefused`](crate::Message::InstallSnapshotRefused));
    /// must be at least `max_snapshot_chunk_bytes`.
    pub max_snapshot_bytes: u64,
}

impl Config {
    /// Defaults: election timeout 10 ticks, heartbeat 2, pre-vote and check-quorum on,
    /// 1 MiB per append, 256 messages / 16 MiB in flight, 1 MiB per proposal,
    /// 64 MiB uncommitted, lease reads off (drift margin 3 ticks), 4,096 pending reads,
    /// 1 MiB snapshot chunks, 8 chunks in flight, snapshots of up to 1 GiB accepted.
    pub fn new(id: NodeId, voters: impl IntoIterator<Item = NodeId>) -> Self {
        Config {
            id,
            voters: voters.into_iter().collect(),
            election_ticks: Ticks(10),
            heartbeat_ticks: Ticks(2),
            seed: 0,
            pre_vote: true,
            check_quorum: true,
            max_append_bytes: 1 << 20,
            max_inflight_messages: 256,
            max_inflight_bytes: 16 << 20,
            max_proposal_bytes: 1 << 20,
            max_uncommitted_bytes: 64 << 20,
            max_apply_bytes: 1 << 20,
            lease_read: false,
            lease_drift_ticks: Ticks(3),
            max_pending_reads: 4096,
            max_snapshot_chunk_bytes: 1 << 20,
            max_inflight_snapshot_chunks: 8,
            max_snapshot_bytes: 1 << 30,
        }
    }

    /// Check the configuration; [`RaftNode::new`](crate::RaftNode::new) calls this.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.voters.is_empty() {
            return Err(ConfigError::NoVoters);
        }
        let mut sorted = self.voters.clone();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(ConfigError::DuplicateVoter(w[0]));
        }
        if self.heartbeat_ticks == Ticks::ZERO {
            return Err(ConfigError::ZeroHeartbeat);
        }
        if self.election_ticks <= self.heartbeat_ticks {
            return Err(ConfigError::ElectionNotAboveHeartbeat {
                election: self.election_ticks,
                heartbeat: self.heartbeat_ticks,
            });
        }
        for (name, value) in [
            ("max_append_bytes", self.max_append_bytes),
            ("max_inflight_messages", self.max_inflight_messages as u64),
            ("max_inflight_bytes", self.max_inflight_bytes),
            ("max_proposal_bytes", self.max_proposal_bytes),
            ("max_uncommitted_bytes", self.max_uncommitted_bytes),
            ("max_apply_bytes", self.max_apply_bytes),
            ("max_pending_reads", self.max_pending_reads as u64),
            ("max_snapshot_chunk_bytes", self.max_snapshot_chunk_bytes),
            (
                "max_inflight_snapshot_chunks",
                self.max_inflight_snapshot_chunks as u64,
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::ZeroLimit(name));
            }
        }
        if self.max_snapshot_bytes < self.max_snapshot_chunk_bytes {
            return Err(ConfigError::SnapshotLimitBelowChunk {
                max_snapshot_bytes: self.max_snapshot_bytes,
                max_snapshot_chunk_bytes: self.max_snapshot_chunk_bytes,
            });
        }
        if self.lease_read && !self.check_quorum {
            return Err(ConfigError::LeaseWithoutCheckQuorum);
        }
        if self.lease_read && self.lease_drift_ticks >= self.election_ticks {
            return Err(ConfigError::LeaseDriftNotBelowElection {
                drift: self.lease_drift_ticks,
                election: self.election_ticks,
            });
        }
        Ok(())
    }
}
