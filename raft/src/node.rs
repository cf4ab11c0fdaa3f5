//! The Raft node: the [`synod_core::Node`] implementation tying election, replication
//! and persistence together.

use crate::election::{ElectionTimer, VoteTally};
use crate::log::RaftLog;
use crate::membership::{ConfigHistory, VoterQuorum};
use crate::progress::{Progress, ProgressState};
use crate::read::ReadState;
use crate::snapshot::{ChunkOutcome, SnapshotReceiver, SnapshotSend};
use crate::{
    AppendOutcome, Config, ConfigError, ConflictHint, Entry, EntryKind, HardState, LogIndex,
    LogStorage, MemStorage, Membership, MembershipChange, MembershipError, Message, ProposeError,
    Record, Snapshot, SnapshotError, SnapshotMeta, StorageError, Term, TransferError,
};
use bytes::Bytes;
use std::collections::VecDeque;
use synod_core::{Actions, Input, Node, NodeId, PersistToken, Ticks};
use synod_quorum::{QuorumKind, QuorumSystem, VoteResult};

mod reads;

/// What the node is doing in its current term (Raft §5.2, thesis §9.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Role {
    /// Follows a leader (or waits for one).
    Follower,
    /// Asking whether it could win an election, without changing term (thesis §9.6).
    PreCandidate,
    /// Running for leader in its current term.
    Candidate,
    /// Leads its current term.
    Leader,
}

/// What the application asks of a Raft node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Append a command to the log. Answered with [`Event::Proposed`] or
    /// [`Event::ProposalRefused`].
    Propose(Bytes),
    /// Append several commands at once. Answered with [`Event::ProposedBatch`] or
    /// [`Event::ProposalRefused`].
    ProposeBatch(Vec<Bytes>),
    /// A linearizable read identified by an opaque application context (thesis §6.4).
    /// Answered with [`Event::ReadReady`] or [`Event::ReadFailed`]; see
    /// [`RaftNode::read`].
    Read(Bytes),
    /// Hand leadership to another voter (thesis §3.10): the leader stops accepting
    /// proposals, brings the target up to date and tells it to campaign at once
    /// ([`Message::TimeoutNow`]). Refused with [`Event::TransferRefused`]; if the
    /// target has not taken over within an election timeout the leader emits
    /// [`Event::TransferAborted`] and accepts proposals again.
    TransferLeadership(NodeId),
    /// The application has captured its state after applying `index` as `data`:
    /// persist it as a snapshot and compact the log through `index` (Raft §7).
    /// Answered with [`Event::SnapshotTaken`] or [`Event::SnapshotRefused`].
    Snapshot {
        /// An applied index, after the current snapshot.
        index: LogIndex,
        /// The application's state at `index`, opaque to Raft.
        data: Bytes,
    },
    /// Change the cluster's membership (thesis ch. 4); see
    /// [`RaftNode::change_membership`]. Answered with [`Event::MembershipProposed`] or
    /// [`Event::MembershipRefused`].
    ChangeMembership(Vec<MembershipChange>),
}

/// What a Raft node tells the application.
///
/// Non-exhaustive: later versions add events, so a match needs a catch-all arm.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A proposal was appended at `index` in `term`. It commits if an entry of that
    /// index *and term* is later emitted as [`Event::Committed`].
    Proposed {
        /// Where it landed.
        index: LogIndex,
        /// In which term.
        term: Term,
    },
    /// A batch of proposals was appended at `first..=last` in `term`.
    ProposedBatch {
        /// Index of the first command.
        first: LogIndex,
        /// Index of the last command.
        last: LogIndex,
        /// In which term.
        term: Term,
    },
    /// A proposal was refused; nothing was appended.
    ProposalRefused(ProposeError),
    /// The next committed entry, in log order, each exactly once per node lifetime.
    Committed(Entry),
    /// The node's role or known leader changed.
    RoleChanged {
        /// New role.
        role: Role,
        /// Current term.
        term: Term,
        /// Known leader, if any.
        leader: Option<NodeId>,
    },
    /// The node's [`LogStorage`] failed; the input that hit the failure was dropped.
    StorageFailed(StorageError),
    /// A read may now be answered: this node has applied through `index`, and a read
    /// of its state machine reflects every write that completed before the read was
    /// requested (thesis §6.4).
    ReadReady {
        /// The context the read was requested with.
        ctx: Bytes,
        /// The read index; emitted after every entry through it was emitted as
        /// [`Event::Committed`].
        index: LogIndex,
    },
    /// A read was refused or abandoned and must not be answered from this node's
    /// state; the client may retry.
    ReadFailed {
        /// The context the read was requested with.
        ctx: Bytes,
        /// Why.
        error: crate::ReadError,
    },
    /// A leadership transfer request was refused.
    TransferRefused(TransferError),
    /// The transfer to `target` did not complete within an election timeout; this
    /// node still leads and accepts proposals again.
    TransferAborted {
        /// The node that did not take over.
        target: NodeId,
    },
    /// A snapshot was persisted and the log compacted through `meta.index`.
    SnapshotTaken(SnapshotMeta),
    /// A snapshot request was refused; nothing was written.
    SnapshotRefused(SnapshotError),
    /// A follower refused the leader's snapshot at `index`: it accepts snapshots of
    /// at most `max_snapshot_bytes` ([`Config::max_snapshot_bytes`] on that node). The
    /// leader sends it nothing more until it has a newer snapshot (or a new leader
    /// tries), so the follower stays behind: raise its limit, or snapshot smaller.
    SnapshotSendRefused {
        /// The follower.
        follower: NodeId,
        /// The snapshot it refused.
        index: LogIndex,
        /// Its limit.
        max_snapshot_bytes: u64,
    },
    /// Replace the application's state with this snapshot (Raft §7): emitted when a
    /// follower has installed one from its leader, and on the first step after a
    /// restart from storage that holds one. The next [`Event::Committed`] is the
    /// entry at `meta.index + 1`.
    RestoreSnapshot(Snapshot),
    /// A membership change was appended at `index` in `term` as `membership` (the
    /// joint configuration C_old,new when voters change; the leader appends C_new by
    /// itself once that commits, thesis §4.3). Like a proposal, it took effect only if
    /// an entry of that index and term is later emitted as [`Event::Committed`].
    MembershipProposed {
        /// Where the configuration entry landed.
        index: LogIndex,
        /// In which term.
        term: Term,
        /// The configuration it holds, in force on this node from now on.
        membership: Membership,
    },
    /// A membership change was refused; nothing was appended.
    MembershipRefused(MembershipError),
    /// This leader is not a voter of the configuration committed at `index`: it
    /// stepped down, told a remaining voter that holds its whole log to campaign at
    /// once ([`Message::TimeoutNow`], thesis §3.10), and stays quiet (thesis §4.2.2).
    RemovedFromCluster {
        /// Index of the committed configuration without this node.
        index: LogIndex,
    },
}

type Out = Actions<Message, Record, Event>;

/// A Raft node over a [`LogStorage`] `S` ([`MemStorage`] by default).
///
/// # How to drive it
///
/// Build it with [`RaftNode::new`] from a [`Config`] and the storage holding its
/// durable state (empty on first boot; on restart, every [`Record`] the node made
/// durable folded in with [`LogStorage::apply`]). Then feed [`Input`]s to
/// [`Node::step`] and perform the actions in order, as `synod-core` describes:
/// `Persist(record)` is durable before later sends; a leader writes its own new
/// entries with `PersistInBackground` and counts them toward the commit quorum only
/// after the runtime answers `Input::Persisted` (thesis §10.2.1). Committed entries
/// come out as [`Event::Committed`].
///
/// See the [crate documentation](crate) for a complete example.
#[derive(Debug)]
pub struct RaftNode<S = MemStorage> {
    config: Config,
    /// Quorum arithmetic of the configuration in force (`membership`).
    voters: VoterQuorum,
    /// Every configuration in the log, the latest of which is in force.
    configs: ConfigHistory,
    role: Role,
    term: Term,
    voted_for: Option<NodeId>,
    leader: Option<NodeId>,
    log: RaftLog<S>,
    election: ElectionTimer,
    heartbeat_elapsed: Ticks,
    votes: VoteTally,
    /// One entry per other voter while leading, sorted by id.
    progress: Vec<(NodeId, Progress)>,
    /// Proposals of this leader not yet committed: `(index, bytes)`, bounded by
    /// `max_uncommitted_bytes`.
    pending: VecDeque<(LogIndex, u64)>,
    pending_bytes: u64,
    scratch: Vec<Entry>,
    /// Linearizable reads in progress (thesis §6.4).
    reads: ReadState,
    /// The configuration in force: the latest in the log (thesis §4.1).
    membership: Membership,
    /// A snapshot arriving from the leader in chunks (bounded by that snapshot's size).
    receiver: Option<SnapshotReceiver>,
    /// Storage held a snapshot at start-up; hand it to the application first.
    restore_pending: bool,
    /// A leadership transfer under way: the target, and ticks since it started.
    transfer: Option<(NodeId, Ticks)>,
    /// This node campaigns because its leader told it to (thesis §3.10).
    campaign_transfer: bool,
    /// The leader still tracks members of a configuration that is being replaced;
    /// drop them once the replacement commits and they hold it (or an election
    /// timeout after it committed, for one that is down).
    prune_progress: bool,
    /// Ticks since the replacing configuration committed, while `prune_progress`.
    prune_wait: Ticks,
}

impl<S: LogStorage> RaftNode<S> {
    /// A node from its configuration and its durable state. Fails on an invalid
    /// configuration (empty voter set, election timeout not above the heartbeat, a
    /// zero limit).
    ///
    /// ```
    /// use synod_core::NodeId;
    /// use synod_raft::{Config, ConfigError, MemStorage, RaftNode};
    /// let empty = Config::new(NodeId(1), []);
    /// assert_eq!(RaftNode::new(empty, MemStorage::new()).unwrap_err(), ConfigError::NoVoters);
    /// ```
    pub fn new(config: Config, storage: S) -> Result<Self, ConfigError> {
        config.validate()?;
        let configs = recover_configs(&config, &storage)?;
        let membership = configs.latest().clone();
        let voters = membership.quorum().ok_or(ConfigError::NoVoters)?;
        let hard_state = storage.hard_state();
        let restore_pending = storage.snapshot_meta().is_some();
        Ok(RaftNode {
            membership,
            configs,
            receiver: None,
            restore_pending,
            transfer: None,
            campaign_transfer: false,
            prune_progress: false,
            prune_wait: Ticks::ZERO,
            election: ElectionTimer::new(config.election_ticks, config.seed, config.id),
            voters,
            role: Role::Follower,
            term: hard_state.term,
            voted_for: hard_state.voted_for,
            leader: None,
            log: RaftLog::new(storage),
            heartbeat_elapsed: Ticks::ZERO,
            votes: VoteTally::default(),
            progress: Vec::new(),
            pending: VecDeque::new(),
            pending_bytes: 0,
            scratch: Vec::new(),
            reads: ReadState::default(),
            config,
        })
    }

    /// The current role.
    pub fn role(&self) -> Role {
        self.role
    }
    /// The current term.
    pub fn term(&self) -> Term {
        self.term
    }
    /// Whom this node voted for in the current term.
    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }
    /// The leader of the current term, if known.
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }
    /// Highest index known committed.
    pub fn commit_index(&self) -> LogIndex {
        self.log.committed
    }
    /// Highest index emitted as [`Event::Committed`] in this node lifetime.
    pub fn applied_index(&self) -> LogIndex {
        self.log.applied
    }
    /// Index of the last log entry.
    pub fn last_index(&self) -> LogIndex {
        self.log.last_index()
    }
    /// Entries through this index are known durable.
    pub fn durable_index(&self) -> LogIndex {
        self.log.durable
    }
    /// Term of the entry at `index`, if held (`Term(0)` for index 0).
    pub fn log_term(&self, index: LogIndex) -> Option<Term> {
        self.log.term(index)
    }
    /// The storage (read-only).
    pub fn storage(&self) -> &S {
        &self.log.storage
    }
    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }
    /// Index of the latest snapshot (the compaction point; 0 without one).
    pub fn snapshot_index(&self) -> LogIndex {
        self.log.storage.first_index().prev()
    }
    /// The configuration in force: the latest one in this node's log, committed or not
    /// (thesis §4.1), else the snapshot's, else [`Config::voters`].
    ///
    /// ```
    /// use synod_core::NodeId;
    /// use synod_raft::{Config, MemStorage, Membership, RaftNode};
    /// let node = RaftNode::new(Config::new(NodeId(1), [1, 2, 3].map(NodeId)), MemStorage::new())?;
    /// assert_eq!(node.membership(), &Membership::new([1, 2, 3].map(NodeId)));
    /// # Ok::<(), synod_raft::ConfigError>(())
    /// ```
    pub fn membership(&self) -> &Membership {
        &self.membership
    }
    /// How the leader sees a follower: its state and match index.
    pub fn follower_progress(&self, id: NodeId) -> Option<(ProgressState, LogIndex)> {
        self.progress
            .iter()
            .find(|(p, _)| *p == id)
            .map(|(_, p)| (p.state, p.match_index))
    }

    /// Propose a command (Raft §5.3). On the leader it is appended and replicated and
    /// the index and term it will occupy are returned; otherwise a typed refusal.
    /// [`Request::Propose`] does the same through [`Node::step`].
    pub fn propose(
        &mut self,
        data: Bytes,
        out: &mut Out,
    ) -> Result<(LogIndex, Term), ProposeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            });
        }
        if let Some((target, _)) = self.transfer {
            return Err(ProposeError::TransferInProgress { target });
        }
        let size = data.len() as u64;
        if size > self.config.max_proposal_bytes {
            return Err(ProposeError::TooLarge {
                size,
                max: self.config.max_proposal_bytes,
            });
        }
        if self.pending_bytes > 0
            && self.pending_bytes.saturating_add(size) > self.config.max_uncommitted_bytes
        {
            return Err(ProposeError::UncommittedLimit {
                uncommitted: self.pending_bytes,
                max: self.config.max_uncommitted_bytes,
            });
        }
        // A refused append promises no index and charges no budget.
        let index = self
            .try_append_local(EntryKind::Command, data, out)
            .map_err(|e| {
                out.emit(Event::StorageFailed(e.clone()));
                ProposeError::Storage(e)
            })?;
        self.pending.push_back((index, size));
        self.pending_bytes += size;
        self.send_appends_to_all(out);
        Ok((index, self.term))
    }

    /// Propose several commands at once: they land consecutively at `first..=last`
    /// in one background write and travel in as few appends as the byte limit allows.
    /// Refused as a whole (nothing appended) if any command is too large or the batch
    /// would pass the uncommitted limit. An empty batch appends nothing and returns
    /// `first = last + 1`. [`Request::ProposeBatch`] does the same through
    /// [`Node::step`].
    pub fn propose_batch(
        &mut self,
        commands: &[Bytes],
        out: &mut Out,
    ) -> Result<(LogIndex, LogIndex, Term), ProposeError> {
        self.propose_owned_batch(commands.to_vec(), out)
    }

    /// [`propose_batch`](Self::propose_batch) on commands it may keep: the request
    /// path moves them into the log instead of cloning each one.
    fn propose_owned_batch(
        &mut self,
        commands: Vec<Bytes>,
        out: &mut Out,
    ) -> Result<(LogIndex, LogIndex, Term), ProposeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            });
        }
        if let Some((target, _)) = self.transfer {
            return Err(ProposeError::TransferInProgress { target });
        }
        let mut total = 0u64;
        for command in &commands {
            let size = command.len() as u64;
            if size > self.config.max_proposal_bytes {
                return Err(ProposeError::TooLarge {
                    size,
                    max: self.config.max_proposal_bytes,
                });
            }
            total = total.saturating_add(size);
        }
        if self.pending_bytes > 0
            && self.pending_bytes.saturating_add(total) > self.config.max_uncommitted_bytes
        {
            return Err(ProposeError::UncommittedLimit {
                uncommitted: self.pending_bytes,
                max: self.config.max_uncommitted_bytes,
            });
        }
        let last = self.log.last_index();
        let first = last.next();
        if commands.is_empty() {
            return Ok((first, last, self.term));
        }
        let term = self.term;
        let entries: Vec<Entry> = commands
            .into_iter()
            .zip(first.0..)
            .map(|(data, i)| Entry {
                index: LogIndex(i),
                term,
                kind: EntryKind::Command,
                data,
            })
            .collect();
        let last = LogIndex(last.0 + entries.len() as u64);
        let record = Record::Entries(entries);
        if let Err(e) = self.log.write(&record) {
            // Nothing was appended: no indices promised, no budget charged.
            out.emit(Event::StorageFailed(e.clone()));
            return Err(ProposeError::Storage(e));
        }
        if let Record::Entries(entries) = &record {
            for entry in entries {
                self.pending
                    .push_back((entry.index, entry.data.len() as u64));
            }
        }
        self.pending_bytes += total;
        out.persist_in_background(PersistToken(last.0), record);
        self.send_appends_to_all(out);
        Ok((first, last, term))
    }

    /// Persist a snapshot of the application's state at the applied `index` and
    /// compact the log through it (Raft §7). `data` is opaque to Raft; it is sent to
    /// followers that fall behind the compaction point and handed back on restart.
    /// [`Request::Snapshot`] does the same through [`Node::step`].
    ///
    /// ```
    /// use bytes::Bytes;
    /// use synod_core::{Actions, Input, Node, NodeId, PersistToken};
    /// use synod_raft::{Config, LogIndex, MemStorage, RaftNode, Role, SnapshotError};
    ///
    /// let mut node = RaftNode::new(Config::new(NodeId(1), [NodeId(1)]), MemStorage::new())?;
    /// let mut out = Actions::new();
    /// while node.role() != Role::Leader {
    ///     node.step(Input::Tick, &mut out);
    /// }
    /// let (index, _) = node.propose(Bytes::from_static(b"x=1"), &mut out)?;
    /// assert!(matches!(
    ///     node.snapshot(index, Bytes::from_static(b"{x: 1}"), &mut out),
    ///     Err(SnapshotError::NotApplied { .. })
    /// ));
    /// node.step(Input::Persisted(PersistToken(index.0)), &mut out); // now committed
    /// let meta = node.snapshot(index, Bytes::from_static(b"{x: 1}"), &mut out)?;
    /// assert_eq!((meta.index, node.snapshot_index()), (index, index));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn snapshot(
        &mut self,
        index: LogIndex,
        data: Bytes,
        out: &mut Out,
    ) -> Result<SnapshotMeta, SnapshotError> {
        let snapshot_index = self.snapshot_index();
        if index <= snapshot_index {
            return Err(SnapshotError::AlreadyCompacted {
                index,
                snapshot: snapshot_index,
            });
        }
        if index > self.log.applied {
            return Err(SnapshotError::NotApplied {
                index,
                applied: self.log.applied,
            });
        }
        let term = self.log.storage.term(index)?;
        let meta = SnapshotMeta {
            index,
            term,
            membership: self.membership_at(index),
        };
        let record = Record::Snapshot(Snapshot {
            meta: meta.clone(),
            data,
        });
        self.log.write(&record)?;
        self.log.durable = self.log.last_index();
        self.configs.compact(index, meta.membership.clone());
        out.persist(record);
        Ok(meta)
    }

    /// The configuration in force at `index` (at most the last index).
    fn membership_at(&self, index: LogIndex) -> Membership {
        self.configs.at(index).clone()
    }

    /// Change the cluster's membership (thesis ch. 4) by `changes`, applied in order
    /// to the current configuration ([`Membership::apply_changes`]). If the voters
    /// change, the leader appends the joint configuration C_old,new, and once that
    /// commits appends C_new by itself (thesis §4.3): decisions in between need a
    /// majority of both the old and the new voters. If only learners change, the
    /// new configuration is appended directly. Every configuration takes effect on
    /// each node as soon as it is in its log. Returns where the entry landed.
    ///
    /// Refused with a typed [`MembershipError`] when not leading, during a leadership
    /// transfer, before the leader has committed an entry of its term, while the
    /// previous change has not finished (its C_new is not committed), or when the
    /// changes are invalid. A learner should be promoted only once it has caught up
    /// (thesis §4.2.1: watch [`RaftNode::follower_progress`]); the node does not
    /// delay promotion by itself.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use synod_core::{Action, Actions, Input, Node, NodeId};
    /// use synod_raft::{Config, MemStorage, MembershipChange, MembershipError, RaftNode, Role};
    ///
    /// let mut node = RaftNode::new(Config::new(NodeId(1), [NodeId(1)]), MemStorage::new())?;
    /// let mut out = Actions::new();
    /// while node.role() != Role::Leader {
    ///     node.step(Input::Tick, &mut out);
    /// }
    /// let acknowledge = |node: &mut RaftNode, out: &mut Actions<_, _, _>| {
    ///     let tokens: Vec<_> = out.drain().filter_map(|a| match a {
    ///         Action::PersistInBackground { token, .. } => Some(token),
    ///         _ => None,
    ///     }).collect();
    ///     for token in tokens {
    ///         node.step(Input::Persisted(token), out);
    ///     }
    /// };
    /// acknowledge(&mut node, &mut out); // the leader's no-op commits
    /// let add = [MembershipChange::AddLearner(NodeId(2))];
    /// node.change_membership(&add, &mut out)?;
    /// assert!(node.membership().is_learner(NodeId(2)));
    /// // One change at a time: the first is not committed yet.
    /// let promote = [MembershipChange::Promote(NodeId(2))];
    /// assert!(matches!(
    ///     node.change_membership(&promote, &mut out),
    ///     Err(MembershipError::ChangeInProgress { .. })
    /// ));
    /// acknowledge(&mut node, &mut out);
    /// node.change_membership(&promote, &mut out)?; // joint: {1} and {1, 2}
    /// assert!(node.membership().is_joint());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn change_membership(
        &mut self,
        changes: &[MembershipChange],
        out: &mut Out,
    ) -> Result<(LogIndex, Term), MembershipError> {
        if self.role != Role::Leader {
            return Err(MembershipError::NotLeader {
                leader: self.leader,
            });
        }
        if let Some((target, _)) = self.transfer {
            return Err(MembershipError::TransferInProgress { target });
        }
        let latest = self.configs.latest_index();
        if latest > self.log.committed || self.membership.is_joint() {
            return Err(MembershipError::ChangeInProgress { index: latest });
        }
        // Until the leader commits an entry of its term, a configuration entry of an
        // earlier leader may still be in some log and commit later: wait for the
        // no-op (the fix to single-server changes in Ongaro's raft-dev post, kept
        // here for joint changes too).
        if self.log.term(self.log.committed) != Some(self.term) {
            return Err(MembershipError::LeaderNotReady);
        }
        let target = self.membership.apply_changes(changes)?;
        let index = self.append_membership(target, out);
        self.send_appends_to_all(out);
        Ok((index, self.term))
    }

    /// Append a configuration entry; it is in force from now on (thesis §4.1).
    fn append_membership(&mut self, membership: Membership, out: &mut Out) -> LogIndex {
        let index = self.append_local(EntryKind::Membership, membership.encode(), out);
        if self.log.last_index() == index {
            self.configs.push(index, membership);
            self.membership_changed(out);
        }
        index
    }

    /// Put the latest configuration in the log in force: quorum arithmetic, and on
    /// the leader a progress entry per member (new peers start probing at the end of
    /// the log; removed ones are dropped).
    fn membership_changed(&mut self, out: &mut Out) {
        let latest = self.configs.latest();
        if *latest == self.membership {
            return;
        }
        // Every configuration in the history was checked well formed on the way in.
        let Some(voters) = latest.quorum() else {
            return;
        };
        self.membership = latest.clone();
        self.voters = voters;
        if self.role != Role::Leader {
            return;
        }
        self.sync_progress(true);
        if let Some((target, _)) = self.transfer
            && !self.membership.voters.contains(&target)
        {
            self.transfer = None;
            out.emit(Event::TransferAborted { target });
        }
    }

    /// Give the leader a progress entry for every member of the configuration in
    /// force, and — until it commits — of the committed one before it: a node being
    /// removed keeps receiving the log until it holds the configuration without it,
    /// so it learns that it is out and stays quiet instead of campaigning (thesis
    /// §4.2.3). With `keep_tracked` (a new configuration was appended), nodes an
    /// earlier change removed and that are still being told stay tracked too: the
    /// next change may come right after C_new commits.
    fn sync_progress(&mut self, keep_tracked: bool) {
        let mut members = self.membership.members();
        let committed = self.log.committed;
        let keep_previous = self.configs.latest_index() > committed;
        self.prune_wait = Ticks::ZERO;
        if keep_previous {
            members.extend(self.configs.at(committed).members());
        }
        if keep_tracked && self.prune_progress {
            members.extend(self.progress.iter().map(|(id, _)| *id));
        }
        members.sort_unstable();
        members.dedup();
        let me = self.config.id;
        self.progress
            .retain(|(id, _)| members.binary_search(id).is_ok());
        let last = self.log.last_index();
        for id in members {
            if id == me {
                continue;
            }
            if let Err(at) = self.progress.binary_search_by_key(&id, |(p, _)| *p) {
                self.progress.insert(at, (id, Progress::new(last)));
            }
        }
        let membership = &self.membership;
        self.prune_progress = self
            .progress
            .iter()
            .any(|(id, _)| !membership.contains(*id));
        // Read acknowledgements only of tracked members: the table stays bounded by
        // the configuration however often it changes within one leadership.
        let progress = &self.progress;
        self.reads
            .acked
            .retain(|(id, _)| progress.binary_search_by_key(id, |(p, _)| *p).is_ok());
    }

    /// Drop the progress of removed nodes once the configuration without them has
    /// committed and each holds it — or an election timeout later, if one is down.
    fn maybe_prune_progress(&mut self) {
        let latest = self.configs.latest_index();
        if !self.prune_progress || latest > self.log.committed {
            return;
        }
        // Informed: it holds the configuration without it and has been told that it
        // committed — a removed node that does not know may campaign to finish the
        // change (`may_campaign`).
        let members = &self.membership;
        let informed = self.progress.iter().all(|(id, pr)| {
            members.contains(*id) || (pr.match_index >= latest && pr.commit_sent >= latest)
        });
        if informed || self.prune_wait >= self.config.election_ticks {
            self.sync_progress(false);
        }
    }

    /// After the commit index moved on the leader: a committed joint configuration is
    /// followed by C_new (thesis §4.3), and a leader that is not a voter of the
    /// committed C_new steps down and stays quiet (thesis §4.2.2), telling an
    /// up-to-date voter to campaign now.
    fn advance_membership(&mut self, out: &mut Out) {
        let index = self.configs.latest_index();
        if self.role != Role::Leader || index > self.log.committed {
            return;
        }
        self.maybe_prune_progress();
        if self.membership.is_joint() {
            let next = self.membership.leave_joint();
            self.append_membership(next, out);
            self.send_appends_to_all(out);
        } else if !self.membership.voters.contains(&self.config.id) {
            // Hand over at once to a voter holding the whole log (thesis §3.10)
            // rather than leave the cluster leaderless for an election timeout.
            let last = self.log.last_index();
            let successor = self
                .progress
                .iter()
                .find(|(id, pr)| pr.match_index == last && self.membership.voters.contains(id));
            if let Some((id, _)) = successor {
                out.send(*id, Message::TimeoutNow { term: self.term });
            }
            out.emit(Event::RemovedFromCluster { index });
            self.become_follower(self.term, None, out);
        }
    }

    /// Start handing leadership to the voter `target` (thesis §3.10); see
    /// [`Request::TransferLeadership`]. Proposals are refused until it completes or
    /// aborts after an election timeout.
    ///
    /// ```
    /// use synod_core::{Actions, NodeId};
    /// use synod_raft::{Config, MemStorage, RaftNode, TransferError};
    /// let mut node = RaftNode::new(Config::new(NodeId(1), [1, 2, 3].map(NodeId)), MemStorage::new())?;
    /// let refused = node.transfer_leadership(NodeId(2), &mut Actions::new());
    /// assert_eq!(refused, Err(TransferError::NotLeader { leader: None }));
    /// # Ok::<(), synod_raft::ConfigError>(())
    /// ```
    pub fn transfer_leadership(
        &mut self,
        target: NodeId,
        out: &mut Out,
    ) -> Result<(), TransferError> {
        if self.role != Role::Leader {
            return Err(TransferError::NotLeader {
                leader: self.leader,
            });
        }
        if let Some((current, _)) = self.transfer {
            return Err(TransferError::InProgress(current));
        }
        let Some(slot) = self.progress.iter().position(|(id, _)| *id == target) else {
            return Err(TransferError::NotAVoter(target));
        };
        // A voter of the configuration being entered: learners and voters on their
        // way out cannot lead it.
        if !self.membership.voters.contains(&target) {
            return Err(TransferError::NotAVoter(target));
        }
        self.transfer = Some((target, Ticks::ZERO));
        self.advance_transfer(slot, out);
        Ok(())
    }

    /// If the transfer target at `slot` holds the whole log, tell it to campaign;
    /// otherwise keep replicating to it.
    fn advance_transfer(&mut self, slot: usize, out: &mut Out) {
        let (id, pr) = &self.progress[slot];
        if self.transfer.map(|(t, _)| t) != Some(*id) {
            return;
        }
        if pr.match_index == self.log.last_index() {
            out.send(*id, Message::TimeoutNow { term: self.term });
            // The target's flagged campaign passes the voters' leader lease: ours
            // no longer guarantees that no other leader exists (thesis §6.4.1).
            self.reads.forfeit_lease();
        } else {
            self.send_append(slot, out);
        }
    }

    // ----- timers -----

    fn tick(&mut self, out: &mut Out) {
        if self.role == Role::Leader
            && let Some((target, elapsed)) = self.transfer.as_mut()
        {
            // The target did not take over within an election timeout: abort
            // (thesis §3.10), so clients are not refused forever.
            *elapsed += Ticks::ONE;
            if *elapsed >= self.config.election_ticks {
                let target = *target;
                self.transfer = None;
                out.emit(Event::TransferAborted { target });
            }
        }
        if self.role == Role::Leader {
            if self.prune_progress && self.configs.latest_index() <= self.log.committed {
                self.prune_wait += Ticks::ONE;
                self.maybe_prune_progress();
            }
            self.heartbeat_elapsed += Ticks::ONE;
            if self.heartbeat_elapsed >= self.config.heartbeat_ticks {
                self.heartbeat_elapsed = Ticks::ZERO;
                self.send_heartbeats(out);
            }
            // Check-quorum (thesis §6.2): once per election timeout, a leader that
            // has not heard from a quorum steps down, so clients stop waiting on it.
            if self.election.tick() {
                if self.config.check_quorum && !self.quorum_recently_active() {
                    self.become_follower(self.term, None, out);
                    return;
                }
                self.election.reset();
            }
            return;
        }
        if self.election.tick() && self.may_campaign() {
            self.campaign(out);
        }
    }

    /// Whether this node runs for leader when its timer fires: as a voter of its
    /// configuration — or of the one before it while the latest is not known to be
    /// committed. A leader removing itself that stepped down (check-quorum, a crash)
    /// after appending C_new but before it committed may hold the only log that can
    /// finish the change, while the remaining voters, still on C_old,new, need its
    /// vote (thesis §4.2.2). It counts no vote of its own, wins only with C_new's
    /// majority, and steps down again once C_new commits. Learners never qualify.
    fn may_campaign(&self) -> bool {
        let me = self.config.id;
        if self.voters.contains(me) {
            return true;
        }
        let latest = self.configs.latest_index();
        latest > self.log.committed && self.configs.at(latest.prev()).is_voter(me)
    }

    /// Whether self and the followers heard from since the last check form a quorum;
    /// resets the marks for the next round.
    fn quorum_recently_active(&mut self) -> bool {
        let me = self.config.id;
        let progress = &self.progress;
        let active = self.voters.is_quorum(QuorumKind::Write, |id| {
            id == me || progress.iter().any(|(p, pr)| *p == id && pr.recent_active)
        });
        for (_, pr) in &mut self.progress {
            pr.recent_active = false;
        }
        active
    }

    /// A follower that heard from a leader less than the minimum election timeout
    /// ago ignores vote requests (thesis §4.2.3): a node that was partitioned away
    /// cannot depose a healthy leader. The leader itself ignores them throughout its
    /// leadership (its randomized check-quorum timer may run past the minimum): with
    /// check-quorum it steps down by itself once it stops hearing from a quorum.
    fn in_leader_lease(&self) -> bool {
        (self.config.check_quorum
            && (self.role == Role::Leader
                || (self.leader.is_some()
                    && self.election.elapsed() < self.config.election_ticks)
                // Also after a message of a higher term made this node forget its
                // leader: the leader's lease counted on this node's silence.
                || self.reads.leader_heard_at.is_some_and(|at| {
                    self.reads.now.saturating_sub(at) < self.config.election_ticks.get()
                })))
            // With lease reads, a node that just (re)started may have acknowledged a
            // leader's round before it crashed: it stays silent for an election
            // timeout so that lease still holds (thesis §6.4.1).
            || (self.config.lease_read && self.reads.now < self.config.election_ticks.get())
    }

    // ----- roles -----

    fn set_role(&mut self, role: Role, leader: Option<NodeId>, out: &mut Out) {
        let changed = self.role != role || self.leader != leader;
        self.role = role;
        self.leader = leader;
        if changed {
            out.emit(Event::RoleChanged {
                role,
                term: self.term,
                leader,
            });
        }
    }

    fn persist_barrier(&mut self, record: Record, out: &mut Out) -> bool {
        if let Err(e) = self.log.write(&record) {
            out.emit(Event::StorageFailed(e));
            return false;
        }
        // A barrier also makes every earlier background write durable.
        self.log.durable = self.log.last_index();
        out.persist(record);
        true
    }

    fn persist_hard_state(&mut self, out: &mut Out) {
        let record = Record::HardState(HardState {
            term: self.term,
            voted_for: self.voted_for,
        });
        self.persist_barrier(record, out);
    }

    fn become_follower(&mut self, term: Term, leader: Option<NodeId>, out: &mut Out) {
        if term > self.term {
            self.term = term;
            self.voted_for = None;
            self.persist_hard_state(out);
            // A partial snapshot of an older term can never be continued.
            self.receiver = None;
        }
        self.progress.clear();
        self.pending.clear();
        self.pending_bytes = 0;
        self.transfer = None;
        self.campaign_transfer = false;
        self.election.reset();
        self.set_role(Role::Follower, leader, out);
    }

    fn campaign(&mut self, out: &mut Out) {
        // A campaign of this node's own timer: a transfer campaign that failed does
        // not lend its flag to later ones (thesis §3.10).
        self.campaign_transfer = false;
        if self.config.pre_vote {
            // Pre-vote (thesis §9.6): ask without changing term or vote.
            self.election.reset();
            self.votes.clear();
            self.votes.record(&self.voters, self.config.id, true);
            self.set_role(Role::PreCandidate, None, out);
            self.request_votes(self.term.next(), true, out);
            self.count_votes(out);
        } else {
            self.become_candidate(out);
        }
    }

    fn become_candidate(&mut self, out: &mut Out) {
        self.term = self.term.next();
        self.receiver = None; // (see `become_follower`)
        self.voted_for = Some(self.config.id);
        self.persist_hard_state(out); // the self-vote is durable before any request leaves
        self.election.reset();
        self.votes.clear();
        self.votes.record(&self.voters, self.config.id, true);
        self.set_role(Role::Candidate, None, out);
        self.request_votes(self.term, false, out);
        self.count_votes(out);
    }

    fn request_votes(&mut self, term: Term, pre_vote: bool, out: &mut Out) {
        let msg = Message::RequestVote {
            term,
            pre_vote,
            transfer: self.campaign_transfer && !pre_vote,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
        };
        for &id in self.voters.members() {
            if id != self.config.id {
                out.send(id, msg.clone());
            }
        }
    }

    fn count_votes(&mut self, out: &mut Out) {
        match self.votes.result(&self.voters) {
            VoteResult::Won if self.role == Role::PreCandidate => self.become_candidate(out),
            VoteResult::Won if self.role == Role::Candidate => self.become_leader(out),
            VoteResult::Lost => self.become_follower(self.term, None, out),
            _ => {}
        }
    }

    fn become_leader(&mut self, out: &mut Out) {
        self.progress.clear();
        self.sync_progress(false);
        self.heartbeat_elapsed = Ticks::ZERO;
        self.election.reset();
        self.pending.clear();
        self.pending_bytes = 0;
        self.transfer = None;
        self.campaign_transfer = false;
        self.set_role(Role::Leader, Some(self.config.id), out);
        // A no-op of the new term lets the leader commit its predecessors' entries
        // under the current-term rule (Raft §5.4.2, §8).
        self.append_local(EntryKind::Noop, Bytes::new(), out);
        self.send_appends_to_all(out);
    }

    // ----- leader: replication -----

    /// Append one entry to the leader's own log with a background write.
    fn append_local(&mut self, kind: EntryKind, data: Bytes, out: &mut Out) -> LogIndex {
        let index = self.log.last_index().next();
        if let Err(e) = self.try_append_local(kind, data, out) {
            out.emit(Event::StorageFailed(e));
        }
        index
    }

    /// [`append_local`](Self::append_local), handing a storage failure to the caller.
    fn try_append_local(
        &mut self,
        kind: EntryKind,
        data: Bytes,
        out: &mut Out,
    ) -> Result<LogIndex, StorageError> {
        let index = self.log.last_index().next();
        let record = Record::Entries(vec![Entry {
            index,
            term: self.term,
            kind,
            data,
        }]);
        self.log.write(&record)?;
        out.persist_in_background(PersistToken(index.0), record);
        Ok(index)
    }

    fn send_appends_to_all(&mut self, out: &mut Out) {
        for i in 0..self.progress.len() {
            self.send_append(i, out);
        }
    }

    /// Send what flow control allows to the follower at `slot` (Raft §5.3).
    fn send_append(&mut self, slot: usize, out: &mut Out) {
        let (to, pr) = &mut self.progress[slot];
        let (max_msgs, max_bytes) = (
            self.config.max_inflight_messages,
            self.config.max_inflight_bytes,
        );
        if pr.state == ProgressState::Snapshot {
            return self.send_snapshot_chunk(slot, out);
        }
        while !pr.is_paused(max_msgs, max_bytes) {
            let prev = pr.next_index.prev();
            let Some(prev_term) = self.log.term(prev) else {
                // The follower needs entries compacted away: send the snapshot (§7).
                let Some(meta) = self.log.storage.snapshot_meta() else {
                    return;
                };
                pr.become_snapshot(meta.index);
                return self.send_snapshot_chunk(slot, out);
            };
            let last = self.log.last_index();
            // Sized for what is waiting (capped: the byte limit may stop the read
            // early), so a batch does not regrow the vector entry by entry.
            let waiting = last.0.saturating_add(1).saturating_sub(pr.next_index.0);
            let mut entries = Vec::with_capacity(waiting.min(1024) as usize);
            if pr.next_index <= last
                && let Err(e) = self.log.read(
                    pr.next_index,
                    last,
                    self.config.max_append_bytes,
                    &mut entries,
                )
            {
                out.emit(Event::StorageFailed(e));
                return;
            }
            if entries.is_empty() && pr.state == ProgressState::Replicate {
                return;
            }
            let count = entries.len() as u64;
            let bytes: u64 = entries.iter().map(Entry::size_bytes).sum();
            out.send(
                *to,
                Message::AppendEntries {
                    term: self.term,
                    prev_log_index: prev,
                    prev_log_term: prev_term,
                    entries,
                    leader_commit: self.log.committed,
                },
            );
            match pr.state {
                // (Snapshot state returned above.)
                ProgressState::Probe | ProgressState::Snapshot => {
                    pr.probe_sent = true;
                    return;
                }
                ProgressState::Replicate => {
                    let sent_through = LogIndex(prev.0 + count);
                    pr.next_index = sent_through.next();
                    pr.inflight.add(sent_through, bytes);
                    pr.commit_sent = pr.commit_sent.max(self.log.committed.min(sent_through));
                }
            }
        }
    }

    /// Tell followers about a commit they cannot learn from the appends already sent
    /// (as etcd/raft's commit broadcast): without it a follower would apply a batch
    /// only with the next append or heartbeat. The empty append sits at the
    /// follower's match index, which it is known to hold, so it is always accepted.
    /// While appends to a follower are still unacknowledged the notice waits for the
    /// last answer: one notice per burst of appends, not one per entry (a lost answer
    /// leaves it to the heartbeat, which carries the commit index too).
    fn send_commit_notices(&mut self, out: &mut Out) {
        let committed = self.log.committed;
        for (to, pr) in &mut self.progress {
            let learnable = committed.min(pr.match_index);
            if pr.state != ProgressState::Replicate
                || learnable <= pr.commit_sent
                || !pr.inflight.is_empty()
            {
                continue;
            }
            let Some(prev_term) = self.log.term(pr.match_index) else {
                continue;
            };
            pr.commit_sent = learnable;
            out.send(
                *to,
                Message::AppendEntries {
                    term: self.term,
                    prev_log_index: pr.match_index,
                    prev_log_term: prev_term,
                    entries: Vec::new(),
                    leader_commit: committed,
                },
            );
        }
    }

    /// Send the follower at `slot` the chunks of the snapshot its window has room for
    /// (at most `max_inflight_snapshot_chunks` in flight, so a lagging follower costs
    /// at most that many chunks of buffered sends).
    fn send_snapshot_chunk(&mut self, slot: usize, out: &mut Out) {
        let (to, pr) = &mut self.progress[slot];
        let Some(send) = pr.snapshot.as_mut() else {
            return;
        };
        let Some(meta) = self.log.storage.snapshot_meta() else {
            return;
        };
        if meta.index != send.index {
            // The leader took a newer snapshot meanwhile: send that one instead (also
            // to a follower that refused the older one as too large).
            *send = SnapshotSend::new(meta.index);
        }
        let (chunk_bytes, window) = (
            self.config.max_snapshot_chunk_bytes,
            self.config.max_inflight_snapshot_chunks,
        );
        if !send.has_room(chunk_bytes, window) {
            return; // (refused, or the window is full)
        }
        let data = match self.log.storage.snapshot_data() {
            Ok(data) => data,
            Err(e) => {
                out.emit(Event::StorageFailed(e));
                return;
            }
        };
        let len = data.len() as u64;
        while let Some((start, end)) = send.next_chunk(len, chunk_bytes, window) {
            // Both bounds fit in usize: they are at most the length of `data`.
            let chunk = data.slice(start as usize..end as usize);
            out.send(
                *to,
                Message::InstallSnapshot {
                    term: self.term,
                    meta: meta.clone(),
                    offset: start,
                    data: chunk,
                    done: end == len,
                },
            );
        }
    }

    /// A follower's answer to a chunk: it holds `next_offset` bytes; `out_of_order`
    /// if the chunk answered started beyond them (one was lost or overtaken).
    fn handle_snapshot_response(
        &mut self,
        from: NodeId,
        snapshot_index: LogIndex,
        next_offset: u64,
        out_of_order: bool,
        out: &mut Out,
    ) {
        let Some(slot) = self.progress.iter().position(|(id, _)| *id == from) else {
            return;
        };
        let pr = &mut self.progress[slot].1;
        pr.recent_active = true;
        let Some(send) = pr.snapshot.as_mut() else {
            return;
        };
        if snapshot_index != send.index {
            return; // about another snapshot: stale
        }
        send.answered(next_offset, out_of_order);
        self.send_snapshot_chunk(slot, out);
    }

    /// A follower refused the snapshot at `snapshot_index` as larger than it accepts:
    /// stop sending it there, and tell the application once.
    fn handle_snapshot_refused(
        &mut self,
        from: NodeId,
        snapshot_index: LogIndex,
        max_snapshot_bytes: u64,
        out: &mut Out,
    ) {
        let Some((_, pr)) = self.progress.iter_mut().find(|(id, _)| *id == from) else {
            return;
        };
        pr.recent_active = true;
        match pr.snapshot.as_mut() {
            Some(send) if send.index == snapshot_index && !send.refused => {
                send.refused = true;
                out.emit(Event::SnapshotSendRefused {
                    follower: from,
                    index: snapshot_index,
                    max_snapshot_bytes,
                });
            }
            _ => {} // stale, or already known
        }
    }

    fn send_heartbeats(&mut self, out: &mut Out) {
        let last = self.log.last_index();
        for slot in 0..self.progress.len() {
            let pr = &mut self.progress[slot].1;
            match pr.state {
                ProgressState::Probe => pr.probe_sent = false, // retry the probe
                ProgressState::Snapshot => {
                    // Chunks in flight and none acknowledged for a while: resend
                    // from where the follower last said it was.
                    if let Some(send) = pr.snapshot.as_mut() {
                        send.heartbeat();
                    }
                    // Chunks may not go out (a refused snapshot, a stalled window):
                    // the follower still hears from its leader every interval, or it
                    // would time out and campaign (§5.2). At the compaction point it
                    // usually lacks, the append is rejected (ignored here) or shows
                    // that the follower already holds the log through it.
                    let prev = self.log.storage.first_index().prev();
                    if let Some(prev_term) = self.log.term(prev) {
                        out.send(
                            self.progress[slot].0,
                            Message::AppendEntries {
                                term: self.term,
                                prev_log_index: prev,
                                prev_log_term: prev_term,
                                entries: Vec::new(),
                                leader_commit: self.log.committed,
                            },
                        );
                    }
                }
                ProgressState::Replicate => {
                    if pr.match_index == pr.match_at_heartbeat && pr.match_index < last {
                        // Nothing acknowledged for a whole interval: appends were
                        // probably lost. Fall back to probing from the match point.
                        let next = pr.match_index.next();
                        pr.become_probe(next);
                    } else {
                        // Assert leadership at a point the follower is known to hold.
                        let prev = pr.match_index;
                        pr.commit_sent = pr.commit_sent.max(self.log.committed.min(prev));
                        if let Some(prev_term) = self.log.term(prev) {
                            out.send(
                                self.progress[slot].0,
                                Message::AppendEntries {
                                    term: self.term,
                                    prev_log_index: prev,
                                    prev_log_term: prev_term,
                                    entries: Vec::new(),
                                    leader_commit: self.log.committed,
                                },
                            );
                        }
                    }
                }
            }
            let pr = &mut self.progress[slot].1;
            pr.match_at_heartbeat = pr.match_index;
            self.send_append(slot, out);
            // A lost TimeoutNow is sent again while the transfer lasts.
            self.advance_transfer(slot, out);
        }
    }

    fn handle_append_response(&mut self, from: NodeId, outcome: AppendOutcome, out: &mut Out) {
        let Some(slot) = self.progress.iter().position(|(id, _)| *id == from) else {
            return;
        };
        let last = self.log.last_index();
        self.progress[slot].1.recent_active = true;
        match outcome {
            AppendOutcome::Matched { match_index } => {
                if match_index > last {
                    return; // claims entries we never had: ignore
                }
                if self.progress[slot].1.matched(match_index) {
                    self.maybe_commit(out);
                    // A commit may change the configuration (progress entries come
                    // and go, a removed leader steps down): find the follower again.
                    let Some(slot) = self.progress.iter().position(|(id, _)| *id == from) else {
                        return;
                    };
                    self.advance_transfer(slot, out);
                    self.send_append(slot, out);
                    self.send_commit_notices(out);
                    return;
                }
            }
            AppendOutcome::Conflict {
                rejected_prev,
                hint,
            } => {
                let pr = &self.progress[slot].1;
                if pr.state == ProgressState::Snapshot
                    || rejected_prev <= pr.match_index
                    || rejected_prev >= pr.next_index
                {
                    return; // stale or duplicated rejection
                }
                let floor = pr.match_index.next();
                let next = match hint.term {
                    // Skip the follower's whole conflicting term (Raft §5.3): if we
                    // hold entries of that term, resume after our last one.
                    Some(t) => {
                        let k =
                            self.log
                                .first_index_with_term_at_least(t.next(), floor, last.next());
                        if k > floor && self.log.term(k.prev()) == Some(t) {
                            k
                        } else {
                            hint.index
                        }
                    }
                    None => hint.index,
                };
                let next = next.min(rejected_prev).max(floor);
                self.progress[slot].1.become_probe(next);
            }
        }
        self.send_append(slot, out);
        self.send_commit_notices(out);
    }

    /// Advance the commit index to the highest index a quorum holds durably, but only
    /// through an entry of the current term (Raft §5.4.2, Figure 8). The leader's own
    /// log counts only as far as it is durable (thesis §10.2.1).
    fn maybe_commit(&mut self, out: &mut Out) {
        if self.role != Role::Leader {
            return;
        }
        let me = self.config.id;
        let durable = self.log.durable;
        let progress = &self.progress;
        let Some(quorum_index) = self.voters.committed_value(QuorumKind::Write, |id| {
            if id == me {
                Some(durable.0)
            } else {
                progress
                    .iter()
                    .find(|(p, _)| *p == id)
                    .map(|(_, pr)| pr.match_index.0)
            }
        }) else {
            return;
        };
        let candidate = LogIndex(quorum_index);
        if candidate <= self.log.committed || self.log.term(candidate) != Some(self.term) {
            return;
        }
        self.log.committed = candidate;
        while let Some(&(index, bytes)) = self.pending.front() {
            if index > candidate {
                break;
            }
            self.pending.pop_front();
            self.pending_bytes -= bytes;
        }
        self.apply_committed(out);
        self.advance_membership(out);
    }

    // ----- followers -----

    fn handle_append(
        &mut self,
        from: NodeId,
        mut prev: LogIndex,
        mut prev_term: Term,
        mut entries: Vec<Entry>,
        leader_commit: LogIndex,
        out: &mut Out,
    ) {
        self.election.reset();
        self.reads.leader_heard_at = Some(self.reads.now);
        if self.role != Role::Follower || self.leader != Some(from) {
            self.become_follower(self.term, Some(from), out);
        }
        // Malformed appends (gaps, terms out of order, overflow) are ignored.
        let Some(last_new) = prev.0.checked_add(entries.len() as u64).map(LogIndex) else {
            return;
        };
        let mut expect = (prev, prev_term);
        // Configurations the append carries (rare: no allocation without one).
        let mut configs = Vec::new();
        for e in &entries {
            if e.index != expect.0.next() || e.term < expect.1 || e.term > self.term {
                return;
            }
            if e.kind == EntryKind::Membership {
                // A configuration that does not decode comes from a broken peer.
                let Some(m) = Membership::decode(&e.data) else {
                    return;
                };
                configs.push((e.index, m));
            }
            expect = (e.index, e.term);
        }
        let committed = self.log.committed;
        if prev < committed {
            // Entries through our commit index match the leader's (Raft §5.4):
            // skip them.
            if last_new <= committed {
                self.respond_append(
                    from,
                    AppendOutcome::Matched {
                        match_index: committed,
                    },
                    out,
                );
                return;
            }
            let skip = (committed.0 - prev.0) as usize;
            entries.drain(..skip);
            prev = committed;
            prev_term = self.log.term(committed).unwrap_or_default();
        }
        let last = self.log.last_index();
        if prev > last {
            let hint = ConflictHint {
                term: None,
                index: last.next(),
            };
            self.respond_append(
                from,
                AppendOutcome::Conflict {
                    rejected_prev: prev,
                    hint,
                },
                out,
            );
            return;
        }
        let Some(our_prev_term) = self.log.term(prev) else {
            return;
        };
        if our_prev_term != prev_term {
            let first =
                self.log
                    .first_index_with_term_at_least(our_prev_term, committed.next(), prev);
            let hint = ConflictHint {
                term: Some(our_prev_term),
                index: first,
            };
            self.respond_append(
                from,
                AppendOutcome::Conflict {
                    rejected_prev: prev,
                    hint,
                },
                out,
            );
            return;
        }
        // The consistency check passed: append what is new, replacing a conflicting
        // tail (Raft §5.3), but never an entry we already hold with the same term.
        let conflict = entries
            .iter()
            .position(|e| e.index > last || self.log.term(e.index) != Some(e.term));
        if let Some(pos) = conflict {
            if entries[pos].index <= committed {
                return; // would rewrite committed history: a broken peer
            }
            let first_new = entries[pos].index;
            // The common case appends the whole message: reuse its vector.
            let new = if pos == 0 {
                entries
            } else {
                entries.split_off(pos)
            };
            if !self.persist_barrier(Record::Entries(new), out) {
                return;
            }
            // A configuration takes effect when appended; one in a replaced tail is
            // gone, and the latest one still in the log applies again (thesis §4.1).
            if !configs.is_empty() || self.configs.latest_index() >= first_new {
                self.configs.truncate_after(first_new.prev());
                for (index, m) in configs {
                    if index >= first_new {
                        self.configs.push(index, m);
                    }
                }
                self.membership_changed(out);
            }
        }
        let commit = leader_commit.min(last_new);
        if commit > self.log.committed {
            self.log.committed = commit;
            self.apply_committed(out);
        }
        self.respond_append(
            from,
            AppendOutcome::Matched {
                match_index: last_new,
            },
            out,
        );
    }

    /// A chunk of the leader's snapshot (Raft §7, Figure 13).
    fn handle_install_snapshot(
        &mut self,
        from: NodeId,
        meta: SnapshotMeta,
        offset: u64,
        data: Bytes,
        done: bool,
        out: &mut Out,
    ) {
        self.election.reset();
        self.reads.leader_heard_at = Some(self.reads.now);
        if self.role != Role::Follower || self.leader != Some(from) {
            self.become_follower(self.term, Some(from), out);
        }
        if meta.index <= self.log.committed {
            // We already hold (a newer state than) this snapshot; our log matches the
            // leader's through it, as every committed prefix does (§5.4).
            self.receiver = None;
            let outcome = AppendOutcome::Matched {
                match_index: meta.index,
            };
            return self.respond_append(from, outcome, out);
        }
        // A snapshot from the future, without voters, or at the last representable
        // index (no log could follow it) is malformed: ignore it.
        if meta.term > self.term
            || meta.index == LogIndex(0)
            || meta.index == LogIndex(u64::MAX)
            || !meta.membership.is_well_formed()
        {
            return;
        }
        let snapshot_index = meta.index;
        let max_bytes = self.config.max_snapshot_bytes;
        let (next_offset, out_of_order) = match SnapshotReceiver::accept(
            &mut self.receiver,
            self.term,
            &meta,
            offset,
            &data,
            done,
            max_bytes,
        ) {
            ChunkOutcome::Expect(next_offset) => (next_offset, false),
            ChunkOutcome::Gap(next_offset) => (next_offset, true),
            ChunkOutcome::Complete(snapshot) => {
                return self.install_snapshot(from, snapshot, out);
            }
            ChunkOutcome::TooLarge => {
                let refusal = Message::InstallSnapshotRefused {
                    term: self.term,
                    snapshot_index,
                    max_snapshot_bytes: max_bytes,
                };
                return out.send(from, refusal);
            }
        };
        out.send(
            from,
            Message::InstallSnapshotResponse {
                term: self.term,
                snapshot_index,
                next_offset,
                out_of_order,
            },
        );
    }

    /// Install a complete snapshot from the leader: persist it as a barrier (storage
    /// keeps a log suffix that matches it, §7), tell the application, answer.
    fn install_snapshot(&mut self, from: NodeId, snapshot: Snapshot, out: &mut Out) {
        let index = snapshot.meta.index;
        if !self.persist_barrier(Record::Snapshot(snapshot.clone()), out) {
            return;
        }
        // The snapshot's configuration is the base; configurations in a kept log
        // suffix still apply after it.
        self.configs
            .compact(index, snapshot.meta.membership.clone());
        self.configs.truncate_after(self.log.last_index());
        self.membership_changed(out);
        self.log.committed = self.log.committed.max(index);
        self.log.applied = index;
        out.emit(Event::RestoreSnapshot(snapshot));
        // Entries kept after the snapshot may already be known committed.
        self.apply_committed(out);
        let outcome = AppendOutcome::Matched { match_index: index };
        self.respond_append(from, outcome, out);
    }

    fn respond_append(&mut self, to: NodeId, outcome: AppendOutcome, out: &mut Out) {
        out.send(
            to,
            Message::AppendEntriesResponse {
                term: self.term,
                outcome,
            },
        );
    }

    fn handle_vote_request(&mut self, from: NodeId, vote: VoteRequest, out: &mut Out) {
        let VoteRequest {
            term,
            pre_vote,
            transfer,
            last_log_index,
            last_log_term,
        } = vote;
        let up_to_date = self.log.is_up_to_date(last_log_index, last_log_term);
        if pre_vote {
            let granted = term > self.term && up_to_date;
            let term = if granted { term } else { self.term };
            out.send(
                from,
                Message::RequestVoteResponse {
                    term,
                    pre_vote,
                    granted,
                },
            );
            return;
        }
        // One vote per term (Raft §5.2), only for an up-to-date log (§5.4.1).
        // A node that forgot its leader because a message of a higher term arrived
        // still keeps out of elections inside that leader's lease (thesis §6.4.1);
        // only the flagged campaign of a transfer passes (§3.10).
        let free = self.voted_for == Some(from)
            || (self.voted_for.is_none()
                && self.leader.is_none()
                && (transfer || !self.in_leader_lease()));
        let granted = free && up_to_date;
        if granted {
            self.voted_for = Some(from);
            self.persist_hard_state(out); // durable before the grant leaves
            self.election.reset();
        }
        out.send(
            from,
            Message::RequestVoteResponse {
                term: self.term,
                pre_vote,
                granted,
            },
        );
    }

    fn handle_vote_response(
        &mut self,
        from: NodeId,
        term: Term,
        pre_vote: bool,
        granted: bool,
        out: &mut Out,
    ) {
        let counts = if pre_vote {
            self.role == Role::PreCandidate && (term == self.term.next() || !granted)
        } else {
            self.role == Role::Candidate && term == self.term
        };
        if counts {
            self.votes.record(&self.voters, from, granted);
            self.count_votes(out);
        }
    }

    // ----- all roles -----

    fn handle_message(&mut self, from: NodeId, msg: Message, out: &mut Out) {
        // Messages from outside the configuration are handled too: a new node hears
        // from its leader before it knows the configuration, and the leader hears
        // from learners and from nodes being added. Votes from non-voters count for
        // nothing (`VoteTally`), answers from nodes without progress are ignored.
        if from == self.config.id {
            return;
        }
        let msg_term = msg.term();
        if msg_term > self.term {
            match &msg {
                // A transfer campaign was started by the leader itself (§3.10).
                Message::RequestVote {
                    transfer: false, ..
                } if self.in_leader_lease() => return,
                Message::RequestVote { pre_vote: true, .. } => {}
                Message::RequestVoteResponse {
                    pre_vote: true,
                    granted: true,
                    ..
                } => {}
                Message::AppendEntries { .. }
                | Message::ReadHeartbeat { .. }
                | Message::InstallSnapshot { .. }
                | Message::TimeoutNow { .. } => self.become_follower(msg_term, Some(from), out),
                _ => self.become_follower(msg_term, None, out),
            }
        } else if msg_term < self.term {
            // Tell a stale leader or pre-candidate about the newer term, so it steps
            // down; everything else from the past is ignored.
            match msg {
                Message::AppendEntries { .. }
                | Message::InstallSnapshot { .. }
                | Message::TimeoutNow { .. } => {
                    let outcome = AppendOutcome::Matched {
                        match_index: LogIndex(0),
                    };
                    self.respond_append(from, outcome, out);
                }
                Message::RequestVote { pre_vote: true, .. } => {
                    let reply = Message::RequestVoteResponse {
                        term: self.term,
                        pre_vote: true,
                        granted: false,
                    };
                    out.send(from, reply);
                }
                Message::ReadHeartbeat { seq, .. } => {
                    // A deposed leader learns the newer term and steps down.
                    let reply = Message::ReadHeartbeatResponse {
                        term: self.term,
                        seq,
                    };
                    out.send(from, reply);
                }
                _ => {}
            }
            return;
        }
        match msg {
            Message::RequestVote {
                term,
                pre_vote,
                transfer,
                last_log_index,
                last_log_term,
            } => {
                let vote = VoteRequest {
                    term,
                    pre_vote,
                    transfer,
                    last_log_index,
                    last_log_term,
                };
                self.handle_vote_request(from, vote, out);
            }
            Message::RequestVoteResponse {
                term,
                pre_vote,
                granted,
            } => {
                self.handle_vote_response(from, term, pre_vote, granted, out);
            }
            Message::AppendEntries {
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
                ..
            } => {
                if self.role == Role::Leader {
                    return; // two leaders in one term cannot happen (§5.2); ignore
                }
                self.handle_append(
                    from,
                    prev_log_index,
                    prev_log_term,
                    entries,
                    leader_commit,
                    out,
                );
            }
            Message::AppendEntriesResponse { outcome, .. } => {
                if self.role == Role::Leader {
                    self.handle_append_response(from, outcome, out);
                }
            }
            Message::ReadHeartbeat { seq, .. } => self.handle_read_heartbeat(from, seq, out),
            Message::ReadHeartbeatResponse { seq, .. } => {
                self.handle_read_heartbeat_response(from, seq, out);
            }
            Message::ReadIndexRequest { ctx, .. } => {
                self.handle_read_index_request(from, ctx, out);
            }
            Message::ReadIndexResponse { ctx, index, .. } => {
                self.handle_read_index_response(from, ctx, index, out);
            }
            Message::InstallSnapshot {
                meta,
                offset,
                data,
                done,
                ..
            } => {
                if self.role == Role::Leader {
                    return; // two leaders in one term cannot happen (§5.2); ignore
                }
                self.handle_install_snapshot(from, meta, offset, data, done, out);
            }
            Message::TimeoutNow { .. } => {
                // Our leader hands over (thesis §3.10): campaign now, skipping
                // pre-vote, with a flag that lets voters past their leader lease.
                if self.role == Role::Follower
                    && self.leader == Some(from)
                    && self.voters.contains(self.config.id)
                {
                    self.campaign_transfer = true;
                    self.become_candidate(out);
                }
            }
            Message::InstallSnapshotResponse {
                snapshot_index,
                next_offset,
                out_of_order,
                ..
            } => {
                if self.role == Role::Leader {
                    self.handle_snapshot_response(
                        from,
                        snapshot_index,
                        next_offset,
                        out_of_order,
                        out,
                    );
                }
            }
            Message::InstallSnapshotRefused {
                snapshot_index,
                max_snapshot_bytes,
                ..
            } => {
                if self.role == Role::Leader {
                    self.handle_snapshot_refused(from, snapshot_index, max_snapshot_bytes, out);
                }
            }
        }
    }

    /// Emit every committed entry not yet applied, in order, reading storage in
    /// bounded batches.
    fn apply_committed(&mut self, out: &mut Out) {
        while self.log.applied < self.log.committed {
            self.scratch.clear();
            let from = self.log.applied.next();
            if let Err(e) = self.log.read(
                from,
                self.log.committed,
                self.config.max_apply_bytes,
                &mut self.scratch,
            ) {
                out.emit(Event::StorageFailed(e));
                return;
            }
            if self.scratch.is_empty() {
                return;
            }
            for entry in self.scratch.drain(..) {
                self.log.applied = entry.index;
                out.emit(Event::Committed(entry));
            }
        }
    }
}

/// The fields of a `RequestVote` the voter weighs.
struct VoteRequest {
    term: Term,
    pre_vote: bool,
    transfer: bool,
    last_log_index: LogIndex,
    last_log_term: Term,
}

/// The configurations in `storage` at start-up: the snapshot's (else the configured
/// voters) and every configuration entry in the log after it, read in bounded batches.
fn recover_configs<S: LogStorage>(
    config: &Config,
    storage: &S,
) -> Result<ConfigHistory, ConfigError> {
    let base = storage
        .snapshot_meta()
        .map(|meta| meta.membership)
        .filter(Membership::is_well_formed)
        .unwrap_or_else(|| Membership::new(config.voters.iter().copied()));
    let mut configs = ConfigHistory::new(base);
    let last = storage.last_index();
    let mut next = storage.first_index();
    let mut batch = Vec::new();
    while next <= last {
        batch.clear();
        storage.entries(next, last, config.max_apply_bytes, &mut batch)?;
        let Some(end) = batch.last().map(|e| e.index) else {
            break;
        };
        for e in &batch {
            if e.kind == EntryKind::Membership
                && let Some(m) = Membership::decode(&e.data)
            {
                configs.push(e.index, m);
            }
        }
        next = end.next();
    }
    Ok(configs)
}

impl<S: LogStorage> Node for RaftNode<S> {
    type Message = Message;
    type Request = Request;
    type Persist = Record;
    type Event = Event;

    fn id(&self) -> NodeId {
        self.config.id
    }

    fn step(&mut self, input: Input<Message, Request>, out: &mut Out) {
        let ticked = matches!(input, Input::Tick);
        if self.restore_pending {
            // Restarted from storage holding a snapshot: the application restores it
            // before anything else (its first Committed entry follows the snapshot).
            self.restore_pending = false;
            match (
                self.log.storage.snapshot_meta(),
                self.log.storage.snapshot_data(),
            ) {
                (Some(meta), Ok(data)) => out.emit(Event::RestoreSnapshot(Snapshot { meta, data })),
                (_, Err(e)) => out.emit(Event::StorageFailed(e)),
                (None, Ok(_)) => {}
            }
        }
        match input {
            Input::Tick => self.tick(out),
            Input::Message { from, msg } => self.handle_message(from, msg, out),
            Input::Request(Request::Propose(data)) => match self.propose(data, out) {
                Ok((index, term)) => out.emit(Event::Proposed { index, term }),
                Err(e) => out.emit(Event::ProposalRefused(e)),
            },
            Input::Request(Request::ProposeBatch(commands)) => {
                match self.propose_owned_batch(commands, out) {
                    Ok((first, last, term)) => out.emit(Event::ProposedBatch { first, last, term }),
                    Err(e) => out.emit(Event::ProposalRefused(e)),
                }
            }
            Input::Request(Request::TransferLeadership(target)) => {
                if let Err(e) = self.transfer_leadership(target, out) {
                    out.emit(Event::TransferRefused(e));
                }
            }
            Input::Request(Request::ChangeMembership(changes)) => {
                match self.change_membership(&changes, out) {
                    Ok((index, term)) => out.emit(Event::MembershipProposed {
                        index,
                        term,
                        membership: self.membership.clone(),
                    }),
                    Err(e) => out.emit(Event::MembershipRefused(e)),
                }
            }
            Input::Request(Request::Snapshot { index, data }) => {
                match self.snapshot(index, data, out) {
                    Ok(meta) => out.emit(Event::SnapshotTaken(meta)),
                    Err(e) => out.emit(Event::SnapshotRefused(e)),
                }
            }
            Input::Persisted(PersistToken(token)) => {
                // Tokens are the last index of a leader's background append. The
                // leader never truncates its own log, and any barrier (every change
                // of term) makes earlier writes durable first, so a token never
                // vouches for an entry it did not write.
                let through = LogIndex(token).min(self.log.last_index());
                if through > self.log.durable {
                    self.log.durable = through;
                    self.maybe_commit(out);
                    self.send_commit_notices(out);
                }
            }
            Input::Request(Request::Read(ctx)) => {
                if let Err(error) = self.read(ctx.clone(), out) {
                    out.emit(Event::ReadFailed { ctx, error });
                }
            }
        }
        self.after_step_reads(ticked, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synod_core::Action;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index: LogIndex(index),
            term: Term(term),
            kind: EntryKind::Command,
            data: Bytes::new(),
        }
    }

    /// Node 1 of {1, 2, 3} with log [1:t1, 2:t2] in term 2, elected leader of term 3
    /// by node 2's pre-vote and vote.
    fn leader_with_old_entries() -> (RaftNode, Out) {
        let mut storage = MemStorage::new();
        storage
            .apply(&Record::Entries(vec![entry(1, 1), entry(2, 2)]))
            .unwrap();
        storage
            .apply(&Record::HardState(HardState {
                term: Term(2),
                voted_for: None,
            }))
            .unwrap();
        let mut node =
            RaftNode::new(Config::new(NodeId(1), [1, 2, 3].map(NodeId)), storage).unwrap();
        let mut out = Actions::new();
        while node.role() != Role::PreCandidate {
            node.step(Input::Tick, &mut out);
        }
        let grant = |term, pre_vote| Message::RequestVoteResponse {
            term: Term(term),
            pre_vote,
            granted: true,
        };
        node.step(
            Input::Message {
                from: NodeId(2),
                msg: grant(3, true),
            },
            &mut out,
        );
        node.step(
            Input::Message {
                from: NodeId(2),
                msg: grant(3, false),
            },
            &mut out,
        );
        assert_eq!((node.role(), node.term()), (Role::Leader, Term(3)));
        (node, out)
    }

    // Raft §5.4.2 (Figure 8): an entry of an earlier term stored on a majority is not
    // committed by counting replicas; it commits only with an entry of the current term.
    #[test]
    fn old_term_entries_commit_only_through_a_current_term_entry() {
        let (mut node, mut out) = leader_with_old_entries();
        let matched = |i| Message::AppendEntriesResponse {
            term: Term(3),
            outcome: AppendOutcome::Matched {
                match_index: LogIndex(i),
            },
        };
        node.step(
            Input::Message {
                from: NodeId(2),
                msg: matched(2),
            },
            &mut out,
        );
        assert_eq!(
            node.commit_index(),
            LogIndex(0),
            "t2 entry on a majority must not commit"
        );
        // The follower holds the t3 no-op, but the leader's own write is not durable:
        // its log does not count yet (thesis §10.2.1), and 1 of 3 is no quorum.
        node.step(
            Input::Message {
                from: NodeId(2),
                msg: matched(3),
            },
            &mut out,
        );
        assert_eq!(node.commit_index(), LogIndex(0), "no-op not yet durable");
        node.step(Input::Persisted(PersistToken(3)), &mut out);
        assert_eq!(
            node.commit_index(),
            LogIndex(3),
            "leader + follower hold the no-op"
        );
    }

    // Thesis §10.2.1: the leader counts itself toward the commit quorum only once its
    // background write is acknowledged.
    #[test]
    fn leader_counts_itself_only_after_persisted() {
        let (mut node, mut out) = leader_with_old_entries();
        out.clear();
        let (index, _) = node.propose(Bytes::from_static(b"x"), &mut out).unwrap();
        let token = out.as_slice().iter().find_map(|a| match a {
            Action::PersistInBackground { token, .. } => Some(*token),
            _ => None,
        });
        assert_eq!(token, Some(PersistToken(index.0)));
        // Only node 3 acknowledges the new entry: 2 of 3 only if the leader counts.
        let matched = Message::AppendEntriesResponse {
            term: Term(3),
            outcome: AppendOutcome::Matched { match_index: index },
        };
        node.step(
            Input::Message {
                from: NodeId(3),
                msg: matched,
            },
            &mut out,
        );
        assert!(node.commit_index() < index);
        node.step(Input::Persisted(PersistToken(index.0)), &mut out);
        assert_eq!(node.commit_index(), index);
    }

    // Raft Figure 2: a vote is persisted before the grant is sent, and a second
    // candidate in the same term is refused.
    #[test]
    fn vote_is_durable_before_the_grant_and_granted_once() {
        let mut node = RaftNode::new(
            Config::new(NodeId(2), [1, 2, 3].map(NodeId)),
            MemStorage::new(),
        )
        .unwrap();
        let mut out = Actions::new();
        let ask = Message::RequestVote {
            term: Term(1),
            pre_vote: false,
            transfer: false,
            last_log_index: LogIndex(0),
            last_log_term: Term(0),
        };
        node.step(
            Input::Message {
                from: NodeId(1),
                msg: ask.clone(),
            },
            &mut out,
        );
        let kinds: Vec<_> = out
            .drain()
            .filter_map(|a| match a {
                Action::Persist(Record::HardState(hs)) => {
                    Some(format!("persist {:?}", hs.voted_for))
                }
                Action::Send {
                    msg: Message::RequestVoteResponse { granted, .. },
                    ..
                } => Some(format!("grant {granted}")),
                _ => None,
            })
            .collect();
        assert_eq!(
            kinds,
            ["persist None", "persist Some(NodeId(1))", "grant true"]
        );
        node.step(
            Input::Message {
                from: NodeId(3),
                msg: ask,
            },
            &mut out,
        );
        assert!(out.as_slice().iter().any(|a| matches!(
            a,
            Action::Send {
                msg: Message::RequestVoteResponse { granted: false, .. },
                ..
            }
        )));
    }

    // Proposals are refused with typed errors: too large, and over the uncommitted limit.
    #[test]
    fn proposal_limits() {
        let (mut node, mut out) = leader_with_old_entries();
        node.config.max_proposal_bytes = 4;
        node.config.max_uncommitted_bytes = 6;
        let big = node.propose(Bytes::from_static(b"12345"), &mut out);
        assert_eq!(big, Err(ProposeError::TooLarge { size: 5, max: 4 }));
        node.propose(Bytes::from_static(b"1234"), &mut out).unwrap();
        let over = node.propose(Bytes::from_static(b"123"), &mut out);
        assert_eq!(
            over,
            Err(ProposeError::UncommittedLimit {
                uncommitted: 4,
                max: 6
            })
        );
    }

    // Raft §5.3 with etcd's flow control: a follower far behind is caught up with
    // appends of at most `max_append_bytes`, and at most `max_inflight_messages` are
    // outstanding until it acknowledges.
    #[test]
    fn catch_up_is_batched_by_bytes_and_windowed() {
        let mut storage = MemStorage::new();
        let big = |i| Entry {
            index: LogIndex(i),
            term: Term(1),
            kind: EntryKind::Command,
            data: Bytes::from(vec![0u8; 1000]),
        };
        storage
            .apply(&Record::Entries((1..=100).map(big).collect()))
            .unwrap();
        storage
            .apply(&Record::HardState(HardState {
                term: Term(1),
                voted_for: None,
            }))
            .unwrap();
        let mut config = Config::new(NodeId(1), [1, 2, 3].map(NodeId));
        config.max_append_bytes = 4096;
        config.max_inflight_messages = 4;
        let mut node = RaftNode::new(config, storage).unwrap();
        let mut out = Actions::new();
        while node.role() != Role::PreCandidate {
            node.step(Input::Tick, &mut out);
        }
        let grant = |pre_vote| Message::RequestVoteResponse {
            term: Term(2),
            pre_vote,
            granted: true,
        };
        node.step(
            Input::Message {
                from: NodeId(2),
                msg: grant(true),
            },
            &mut out,
        );
        node.step(
            Input::Message {
                from: NodeId(2),
                msg: grant(false),
            },
            &mut out,
        );
        assert_eq!(node.role(), Role::Leader);
        // Node 3 has nothing: it rejects the first probe, then matches the next one.
        let respond = |node: &mut RaftNode, out: &mut Out, outcome| {
            let msg = Message::AppendEntriesResponse {
                term: Term(2),
                outcome,
            };
            node.step(
                Input::Message {
                    from: NodeId(3),
                    msg,
                },
                out,
            );
        };
        let hint = ConflictHint {
            term: None,
            index: LogIndex(1),
        };
        out.clear();
        respond(
            &mut node,
            &mut out,
            AppendOutcome::Conflict {
                rejected_prev: LogIndex(100),
                hint,
            },
        );
        respond(
            &mut node,
            &mut out,
            AppendOutcome::Matched {
                match_index: LogIndex(3),
            },
        );
        let appends: Vec<(LogIndex, usize, u64)> = out
            .drain()
            .filter_map(|a| match a {
                Action::Send {
                    to: NodeId(3),
                    msg:
                        Message::AppendEntries {
                            prev_log_index,
                            entries,
                            ..
                        },
                } => Some((
                    prev_log_index,
                    entries.len(),
                    entries.iter().map(Entry::size_bytes).sum(),
                )),
                _ => None,
            })
            .collect();
        // One probe from index 1, then a window of four streamed appends.
        assert_eq!(appends.len(), 1 + 4, "{appends:?}");
        assert_eq!(appends[0].0, LogIndex(0));
        for (_, count, bytes) in &appends {
            assert!(*bytes <= 4096 && *count >= 1, "{appends:?}");
        }
        assert_eq!(
            appends[1].0,
            LogIndex(3),
            "streaming resumes after the match"
        );
    }

    // A batch lands consecutively in one background write, and is refused whole.
    #[test]
    fn batch_proposals_land_together_or_not_at_all() {
        let (mut node, mut out) = leader_with_old_entries();
        out.clear();
        let batch = vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")];
        let (first, last, _) = node.propose_batch(&batch, &mut out).unwrap();
        assert_eq!((first, last), (LogIndex(4), LogIndex(5)));
        let writes = out
            .as_slice()
            .iter()
            .filter(|a| matches!(a, Action::PersistInBackground { .. }))
            .count();
        assert_eq!(writes, 1);
        node.config.max_proposal_bytes = 1;
        let refused = node.propose_batch(
            &[Bytes::from_static(b"c"), Bytes::from_static(b"dd")],
            &mut out,
        );
        assert!(matches!(refused, Err(ProposeError::TooLarge { .. })));
        assert_eq!(node.last_index(), LogIndex(5));
    }

    // Every table is bounded by the configuration: a leader that adds and removes a
    // fresh learner many times, each acknowledging a read round, keeps read
    // acknowledgements only for the members it still tracks.
    #[test]
    fn read_acknowledgements_do_not_outlive_membership() {
        let mut node =
            RaftNode::new(Config::new(NodeId(1), [NodeId(1)]), MemStorage::new()).unwrap();
        let mut out = Actions::new();
        while node.role() != Role::Leader {
            node.step(Input::Tick, &mut out);
        }
        let persist_all = |node: &mut RaftNode, out: &mut Out| {
            let tokens: Vec<_> = out
                .drain()
                .filter_map(|a| match a {
                    Action::PersistInBackground { token, .. } => Some(token),
                    _ => None,
                })
                .collect();
            for token in tokens {
                node.step(Input::Persisted(token), out);
            }
        };
        persist_all(&mut node, &mut out);
        for id in 2..42 {
            let learner = NodeId(id);
            let add = Request::ChangeMembership(vec![MembershipChange::AddLearner(learner)]);
            node.step(Input::Request(add), &mut out);
            persist_all(&mut node, &mut out);
            node.step(Input::Request(Request::Read(Bytes::new())), &mut out);
            let seq = crate::ReadSeq(node.reads.last_sent);
            let ack = Message::ReadHeartbeatResponse {
                term: node.term,
                seq,
            };
            node.step(
                Input::Message {
                    from: learner,
                    msg: ack,
                },
                &mut out,
            );
            let remove = Request::ChangeMembership(vec![MembershipChange::Remove(learner)]);
            node.step(Input::Request(remove), &mut out);
            persist_all(&mut node, &mut out);
            for _ in 0..2 * node.config.election_ticks.0 {
                node.step(Input::Tick, &mut out);
            }
            out.clear();
            assert_eq!(node.membership(), &Membership::new([NodeId(1)]), "{id}");
        }
        assert!(node.progress.is_empty());
        assert!(
            node.reads.acked.len() <= node.progress.len(),
            "{} acknowledgements kept for {} tracked members",
            node.reads.acked.len(),
            node.progress.len()
        );
    }

    // The follower's snapshot buffer is memory held for one leader's transfer: once
    // the term moves on it can never be continued (chunks of another term restart
    // it), so it is dropped then, not kept (up to `max_snapshot_bytes`) until some
    // later snapshot happens to arrive.
    #[test]
    fn a_partial_snapshot_is_dropped_when_the_term_moves_on() {
        let mut node = RaftNode::new(
            Config::new(NodeId(1), [1, 2, 3].map(NodeId)),
            MemStorage::new(),
        )
        .unwrap();
        let mut out = Actions::new();
        let meta = SnapshotMeta {
            index: LogIndex(5),
            term: Term(1),
            membership: Membership::new([1, 2, 3].map(NodeId)),
        };
        let chunk = Message::InstallSnapshot {
            term: Term(1),
            meta,
            offset: 0,
            data: Bytes::from_static(b"part"),
            done: false,
        };
        node.step(
            Input::Message {
                from: NodeId(2),
                msg: chunk,
            },
            &mut out,
        );
        assert!(node.receiver.is_some());
        let append = Message::AppendEntries {
            term: Term(2),
            prev_log_index: LogIndex(0),
            prev_log_term: Term(0),
            entries: Vec::new(),
            leader_commit: LogIndex(0),
        };
        node.step(
            Input::Message {
                from: NodeId(3),
                msg: append,
            },
            &mut out,
        );
        assert!(
            node.receiver.is_none(),
            "a term-1 partial snapshot is still held"
        );
    }
}
