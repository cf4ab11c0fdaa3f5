//! Errors, split by who can fix them: the caller's configuration
//! ([`ConfigError`]), the caller's proposal ([`ProposeError`]), read ([`ReadError`]), transfer ([`TransferError`]),
//! membership change ([`MembershipError`]) or snapshot request ([`SnapshotError`]); storage failures are
//! [`StorageError`](crate::StorageError).

use synod_core::{NodeId, Ticks};

/// A configuration the node refuses to run with. Fixed by whoever builds the config.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The voter set is empty.
    #[error("the voter set is empty")]
    NoVoters,
    /// A voter is listed twice.
    #[error("voter {0} is listed twice")]
    DuplicateVoter(NodeId),
    /// The election timeout must exceed the heartbeat interval, or followers time out
    /// on a healthy leader (Raft §5.6: broadcastTime ≪ electionTimeout).
    #[error("election timeout {election} must exceed the heartbeat interval {heartbeat}")]
    ElectionNotAboveHeartbeat {
        /// Configured election timeout.
        election: Ticks,
        /// Configured heartbeat interval.
        heartbeat: Ticks,
    },
    /// The heartbeat interval is zero.
    #[error("the heartbeat interval must be at least one tick")]
    ZeroHeartbeat,
    /// A limit that must be positive is zero.
    #[error("{0} must be at least 1")]
    ZeroLimit(&'static str),
    /// Lease reads rely on followers that refuse votes while they hear from a leader,
    /// which is part of check-quorum (thesis §6.4.1).
    #[error("lease reads require check_quorum")]
    LeaseWithoutCheckQuorum,
    /// The lease's clock-drift margin must be below the election timeout, or the
    /// lease never holds.
    #[error("lease drift margin {drift} must be below the election timeout {election}")]
    LeaseDriftNotBelowElection {
        /// Configured margin.
        drift: Ticks,
        /// Configured election timeout.
        election: Ticks,
    },
    /// A follower must accept at least one whole chunk of a snapshot.
    #[error(
        "max_snapshot_bytes {max_snapshot_bytes} is below max_snapshot_chunk_bytes {max_snapshot_chunk_bytes}"
    )]
    SnapshotLimitBelowChunk {
        /// Configured largest snapshot accepted.
        max_snapshot_bytes: u64,
        /// Configured chunk size.
        max_snapshot_chunk_bytes: u64,
    },
    /// The storage could not be read at start-up.
    #[error("storage: {0}")]
    Storage(#[from] crate::StorageError),
}

/// Why a proposal was refused. Nothing was appended.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    /// Only the leader accepts proposals; `leader` is who this node believes leads.
    #[error("not the leader (leader hint: {leader:?})")]
    NotLeader {
        /// The leader this node last heard from in its current term, if any.
        leader: Option<NodeId>,
    },
    /// The command exceeds [`Config::max_proposal_bytes`](crate::Config::max_proposal_bytes).
    #[error("proposal of {size} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// Too many bytes are proposed but not yet committed
    /// ([`Config::max_uncommitted_bytes`](crate::Config::max_uncommitted_bytes)); retry
    /// once earlier proposals commit.
    #[error("{uncommitted} uncommitted bytes already; limit {max}")]
    UncommittedLimit {
        /// Bytes proposed and not yet committed.
        uncommitted: u64,
        /// The limit.
        max: u64,
    },
    /// The leader is handing over leadership (thesis §3.10) and accepts no proposals
    /// until the transfer completes or aborts; retry at the new leader.
    #[error("leadership is being transferred to {target}")]
    TransferInProgress {
        /// The node taking over.
        target: NodeId,
    },
    /// The leader's [`LogStorage`](crate::LogStorage) refused the append (also
    /// reported as [`Event::StorageFailed`](crate::Event::StorageFailed)); nothing
    /// was appended and no uncommitted budget was charged.
    #[error("storage refused the append: {0}")]
    Storage(crate::StorageError),
}

/// Why a read was refused or abandoned (thesis §6.4). The application must not answer
/// it from this node's state; the client may retry, here or at the hinted leader.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// This node neither leads nor knows a leader to forward the read to.
    #[error("not the leader (leader hint: {leader:?})")]
    NotLeader {
        /// The leader this node last heard from in its current term, if any.
        leader: Option<NodeId>,
    },
    /// [`Config::max_pending_reads`](crate::Config::max_pending_reads) reads are
    /// already waiting.
    #[error("{max} reads already pending")]
    TooManyPending {
        /// The limit.
        max: usize,
    },
    /// The node's term, role or leader changed before the read was ready: a leader
    /// that stepped down cannot vouch for its commit index any more.
    #[error("the leadership changed before the read was ready")]
    LeaderChanged,
    /// The read was not ready within two election timeouts (a round or a forwarded
    /// request kept getting lost, or the leader is cut off).
    #[error("the read timed out")]
    TimedOut,
}

/// Why a leadership transfer was refused (thesis §3.10). Nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// Only the leader can hand over leadership.
    #[error("not the leader (leader hint: {leader:?})")]
    NotLeader {
        /// The leader this node last heard from in its current term, if any.
        leader: Option<NodeId>,
    },
    /// The target is not another voter.
    #[error("{0} is not another voter")]
    NotAVoter(NodeId),
    /// A transfer is already under way.
    #[error("a transfer to {0} is already under way")]
    InProgress(NodeId),
}

/// Why the node refused to take a snapshot. Nothing was written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// The application may only snapshot state it has applied (Raft §7: a snapshot
    /// covers committed entries only).
    #[error("index {index} is not applied yet (applied through {applied})")]
    NotApplied {
        /// The index asked for.
        index: crate::LogIndex,
        /// The highest applied index.
        applied: crate::LogIndex,
    },
    /// The log is already compacted through this index.
    #[error("index {index} is already compacted (snapshot at {snapshot})")]
    AlreadyCompacted {
        /// The index asked for.
        index: crate::LogIndex,
        /// The index of the current snapshot.
        snapshot: crate::LogIndex,
    },
    /// The storage failed to write or read.
    #[error("storage: {0}")]
    Storage(#[from] crate::StorageError),
}

/// Why a membership change was refused (thesis ch. 4). Nothing was appended.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MembershipError {
    /// Only the leader changes the membership.
    #[error("not the leader (leader hint: {leader:?})")]
    NotLeader {
        /// The leader this node last heard from in its current term, if any.
        leader: Option<NodeId>,
    },
    /// The previous change has not finished: its entry at `index` (or the joint
    /// configuration's C_new, appended automatically) is not committed yet. One
    /// change at a time (thesis §4.1); retry once it commits.
    #[error("a membership change at {index} is still in flight")]
    ChangeInProgress {
        /// The uncommitted configuration entry.
        index: crate::LogIndex,
    },
    /// A new leader first commits an entry of its own term, so that no configuration
    /// entry of an earlier leader can still commit behind its back; retry shortly.
    #[error("the leader has not committed an entry of its term yet")]
    LeaderNotReady,
    /// The leader is handing over leadership (thesis §3.10).
    #[error("leadership is being transferred to {target}")]
    TransferInProgress {
        /// The node taking over.
        target: NodeId,
    },
    /// The change would leave no voter.
    #[error("the change would leave no voter")]
    NoVoters,
    /// Only a learner can be promoted.
    #[error("{0} is not a learner")]
    NotALearner(NodeId),
    /// The node to add is already a member.
    #[error("{0} is already a member")]
    AlreadyMember(NodeId),
    /// The node to remove is not a member.
    #[error("{0} is not a member")]
    NotAMember(NodeId),
    /// The changes leave the configuration as it is.
    #[error("the change leaves the configuration unchanged")]
    NoChange,
    /// Changes apply to a plain configuration; this one is joint (internal guard:
    /// a leader only accepts a change once the joint phase has ended).
    #[error("the configuration is joint")]
    Joint,
}
