//! How a leader tracks each follower (etcd/raft's progress model): the match and next
//! indices of Raft §5.3, a probe/replicate state, and an in-flight window bounded in
//! messages and bytes.

use crate::LogIndex;
use crate::snapshot::SnapshotSend;
use std::collections::VecDeque;

/// Whether the leader knows where a follower's log matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressState {
    /// Unknown: send one append at a time and wait for the answer (after a leader
    /// change or a rejection).
    Probe,
    /// Known: stream appends optimistically, up to the in-flight window.
    Replicate,
    /// The follower needs entries the leader has compacted away: it is sent the
    /// leader's snapshot in chunks (Raft §7), and appends resume once it matches
    /// through the snapshot's index.
    Snapshot,
}

/// The leader's view of one follower.
#[derive(Clone, Debug)]
pub(crate) struct Progress {
    /// Highest index known to be replicated on the follower.
    pub(crate) match_index: LogIndex,
    /// Next index to send.
    pub(crate) next_index: LogIndex,
    pub(crate) state: ProgressState,
    /// In probe state: a probe is outstanding; cleared at the next heartbeat.
    pub(crate) probe_sent: bool,
    /// The follower answered something since the last check-quorum round.
    pub(crate) recent_active: bool,
    /// `match_index` at the previous heartbeat, to detect a stalled stream.
    pub(crate) match_at_heartbeat: LogIndex,
    pub(crate) inflight: Inflights,
    /// The highest commit index the appends sent so far let the follower learn
    /// (`leader_commit` capped at what each append establishes): a commit beyond it
    /// is worth an empty append.
    pub(crate) commit_sent: LogIndex,
    /// In snapshot state: the transfer under way.
    pub(crate) snapshot: Option<SnapshotSend>,
}

impl Progress {
    pub(crate) fn new(last_index: LogIndex) -> Self {
        Progress {
            match_index: LogIndex(0),
            next_index: last_index.next(),
            state: ProgressState::Probe,
            probe_sent: false,
            recent_active: true,
            match_at_heartbeat: LogIndex(0),
            inflight: Inflights::default(),
            commit_sent: LogIndex(0),
            snapshot: None,
        }
    }

    /// Whether another append may be sent now.
    pub(crate) fn is_paused(&self, max_messages: usize, max_bytes: u64) -> bool {
        match self.state {
            ProgressState::Probe => self.probe_sent,
            ProgressState::Replicate => self.inflight.is_full(max_messages, max_bytes),
            ProgressState::Snapshot => true,
        }
    }

    /// The follower matches through `index`. Returns whether that is news.
    pub(crate) fn matched(&mut self, index: LogIndex) -> bool {
        self.inflight.free_through(index);
        if index <= self.match_index {
            if self.state == ProgressState::Probe {
                self.probe_sent = false;
            }
            return false;
        }
        self.match_index = index;
        self.next_index = self.next_index.max(index.next());
        match self.state {
            ProgressState::Probe => self.become_replicate(),
            // The snapshot (or something newer) arrived: appends can resume.
            ProgressState::Snapshot if self.snapshot.as_ref().is_none_or(|s| index >= s.index) => {
                self.become_replicate()
            }
            _ => {}
        }
        true
    }

    pub(crate) fn become_probe(&mut self, next: LogIndex) {
        self.state = ProgressState::Probe;
        self.snapshot = None;
        self.probe_sent = false;
        self.next_index = next.max(self.match_index.next());
        self.inflight.clear();
    }

    /// Start sending the snapshot at `index` from its first byte.
    pub(crate) fn become_snapshot(&mut self, index: LogIndex) {
        self.state = ProgressState::Snapshot;
        self.probe_sent = false;
        self.inflight.clear();
        self.snapshot = Some(SnapshotSend::new(index));
    }

    fn become_replicate(&mut self) {
        self.state = ProgressState::Replicate;
        self.snapshot = None;
        self.probe_sent = false;
        self.next_index = self.match_index.next();
        self.inflight.clear();
    }
}

/// Appends sent and not yet acknowledged: `(last index, bytes)` per message.
#[derive(Clone, Debug, Default)]
pub(crate) struct Inflights {
    queue: VecDeque<(LogIndex, u64)>,
    bytes: u64,
}

impl Inflights {
    pub(crate) fn is_full(&self, max_messages: usize, max_bytes: u64) -> bool {
        self.queue.len() >= max_messages || self.bytes >= max_bytes
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
    pub(crate) fn add(&mut self, last: LogIndex, bytes: u64) {
        self.queue.push_back((last, bytes));
        self.bytes = self.bytes.saturating_add(bytes);
    }
    pub(crate) fn free_through(&mut self, index: LogIndex) {
        while let Some(&(last, bytes)) = self.queue.front() {
            if last > index {
                break;
            }
            self.queue.pop_front();
            self.bytes -= bytes;
        }
    }
    pub(crate) fn clear(&mut self) {
        self.queue.clear();
        self.bytes = 0;
    }
}
