//! The messages Raft nodes exchange: plain serde types, payloads as `bytes::Bytes`.

use crate::{Entry, LogIndex, ReadSeq, SnapshotMeta, Term};
use bytes::Bytes;

/// A message between two Raft nodes. Every message carries the sender's term
/// (Raft §5.1: a node that sees a larger term adopts it; one that sees a smaller term
/// ignores or answers the message).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Message {
    /// A candidate asks for a vote (Raft §5.2). With `pre_vote` set it only asks
    /// whether it *would* get one in `term` (thesis §9.6); nobody changes term.
    RequestVote {
        /// The term the candidate runs in (for a pre-vote: the term it would run in).
        term: Term,
        /// A pre-vote (thesis §9.6) rather than a real vote.
        pre_vote: bool,
        /// Index of the candidate's last entry (for the up-to-date check, §5.4.1).
        last_log_index: LogIndex,
        /// Term of the candidate's last entry.
        last_log_term: Term,
        /// The candidate campaigns because the leader handed over leadership
        /// ([`Message::TimeoutNow`], thesis §3.10): voters answer even while they
        /// consider the current leader alive (thesis §4.2.3).
        #[cfg_attr(feature = "serde", serde(default))]
        transfer: bool,
    },
    /// The answer to a [`Message::RequestVote`].
    RequestVoteResponse {
        /// The voter's term, or for a granted pre-vote the term asked about.
        term: Term,
        /// Answers a pre-vote.
        pre_vote: bool,
        /// Whether the vote is granted.
        granted: bool,
    },
    /// The leader replicates entries, or just asserts leadership when `entries` is
    /// empty (Raft §5.3).
    AppendEntries {
        /// The leader's term.
        term: Term,
        /// Index of the entry just before `entries`.
        prev_log_index: LogIndex,
        /// Term of that entry: the consistency check.
        prev_log_term: Term,
        /// Entries to append, consecutive from `prev_log_index + 1`.
        entries: Vec<Entry>,
        /// The leader's commit index.
        leader_commit: LogIndex,
    },
    /// The answer to an [`Message::AppendEntries`].
    AppendEntriesResponse {
        /// The follower's term.
        term: Term,
        /// Accepted, or rejected with a backtracking hint.
        outcome: AppendOutcome,
    },
    /// The leader confirms it still leads before serving reads (thesis §6.4): a
    /// numbered heartbeat round. Followers treat it as hearing from the leader.
    ReadHeartbeat {
        /// The leader's term.
        term: Term,
        /// The round's number.
        seq: ReadSeq,
    },
    /// The answer to a [`Message::ReadHeartbeat`]: the round number echoed.
    ReadHeartbeatResponse {
        /// The follower's term.
        term: Term,
        /// The round acknowledged.
        seq: ReadSeq,
    },
    /// A follower forwards a read to its leader (thesis §6.4, reads at followers).
    ReadIndexRequest {
        /// The follower's term.
        term: Term,
        /// The application's context of the read.
        ctx: Bytes,
    },
    /// The leader's answer to a [`Message::ReadIndexRequest`]: the read may be served
    /// once the follower has applied through `index`.
    ReadIndexResponse {
        /// The leader's term.
        term: Term,
        /// The context of the read answered.
        ctx: Bytes,
        /// The read index.
        index: LogIndex,
    },
    /// One chunk of the leader's snapshot for a follower whose next entry the leader
    /// has compacted away (Raft §7, Figure 13). Chunks go in order, up to
    /// `max_inflight_snapshot_chunks` of them in flight; the follower answers each
    /// with [`Message::InstallSnapshotResponse`], and the last one (once installed)
    /// with an [`Message::AppendEntriesResponse`] matching through `meta.index`.
    InstallSnapshot {
        /// The leader's term.
        term: Term,
        /// Which snapshot this chunk belongs to.
        meta: SnapshotMeta,
        /// Byte offset of `data` within the snapshot's data.
        offset: u64,
        /// The chunk, at most `max_snapshot_chunk_bytes`.
        data: Bytes,
        /// This is the last chunk.
        done: bool,
    },
    /// Leadership transfer (thesis §3.10): the leader tells an up-to-date follower to
    /// start an election at once, without pre-vote.
    TimeoutNow {
        /// The leader's term.
        term: Term,
    },
    /// A follower's answer to a chunk: how many bytes of the snapshot it holds, which
    /// is where the leader continues (or restarts, after a lost or reordered chunk).
    InstallSnapshotResponse {
        /// The follower's term.
        term: Term,
        /// The `meta.index` of the snapshot the chunk belonged to.
        snapshot_index: LogIndex,
        /// The byte offset the follower expects next.
        next_offset: u64,
        /// The chunk answered started beyond `next_offset` (one before it was lost or
        /// overtaken), so the leader resends from `next_offset`. Unset for a chunk
        /// taken, or a duplicate of one already held.
        #[cfg_attr(feature = "serde", serde(default))]
        out_of_order: bool,
    },
    /// A follower refuses a snapshot: holding it would take more than its
    /// `max_snapshot_bytes`. It dropped what it had received; the leader stops
    /// sending that snapshot to it and emits
    /// [`Event::SnapshotSendRefused`](crate::Event::SnapshotSendRefused).
    InstallSnapshotRefused {
        /// The follower's term.
        term: Term,
        /// The `meta.index` of the snapshot refused.
        snapshot_index: LogIndex,
        /// The follower's limit.
        max_snapshot_bytes: u64,
    },
}

impl Message {
    /// The sender's term.
    pub fn term(&self) -> Term {
        match self {
            Message::RequestVote { term, .. }
            | Message::RequestVoteResponse { term, .. }
            | Message::AppendEntries { term, .. }
            | Message::AppendEntriesResponse { term, .. }
            | Message::ReadHeartbeat { term, .. }
            | Message::ReadHeartbeatResponse { term, .. }
            | Message::ReadIndexRequest { term, .. }
            | Message::ReadIndexResponse { term, .. } => *term,
            Message::InstallSnapshot { term, .. }
            | Message::InstallSnapshotResponse { term, .. }
            | Message::InstallSnapshotRefused { term, .. }
            | Message::TimeoutNow { term } => *term,
        }
    }
}

/// How a follower answered an append.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum AppendOutcome {
    /// The follower's log matches the leader's up to and including `match_index`.
    Matched {
        /// Last index known to match.
        match_index: LogIndex,
    },
    /// The consistency check failed at `rejected_prev` (the `prev_log_index` asked).
    Conflict {
        /// The `prev_log_index` of the rejected append: lets the leader drop stale
        /// rejections.
        rejected_prev: LogIndex,
        /// Where the leader should look next.
        hint: ConflictHint,
    },
}

/// Fast log backtracking (Raft §5.3, the optimisation sketched at the end of the
/// section): instead of stepping back one entry per round trip, the follower names
/// the term of its conflicting entry and the first index it holds of that term, so the
/// leader skips a whole term per round trip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ConflictHint {
    /// Term of the follower's entry at `rejected_prev`; `None` if its log is shorter.
    pub term: Option<Term>,
    /// First index the follower holds of `term`, or its last index + 1 when `term`
    /// is `None`.
    pub index: LogIndex,
}
