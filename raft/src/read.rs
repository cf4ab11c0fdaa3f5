//! Linearizable reads without writing to the log (Ongaro's thesis §6.4): the read
//! queue, the numbered leadership-confirmation rounds that serve it, and the lease.
//!
//! A read is answered with an index: the application may answer it from its state
//! machine once it has applied that index. The leader picks the index (its commit
//! index, once it has committed an entry of its own term) and must then show it was
//! still the leader *after* the read arrived — a heartbeat round, numbered with a
//! [`ReadSeq`], that a quorum acknowledges in the leader's term. Every read waiting
//! when a round is sent is confirmed by it, so many reads share one round.
//!
//! This module is pure bookkeeping; `node/reads.rs` connects it to the node.

use crate::LogIndex;
use bytes::Bytes;
use core::fmt;
use std::collections::VecDeque;
use synod_core::NodeId;

/// The number of a leadership-confirmation round (thesis §6.4, step 3). A leader
/// numbers its rounds 1, 2, 3, … in each term it leads; a follower echoes the number
/// it received, and an acknowledgement of round `n` also vouches for every earlier one.
///
/// ```
/// use synod_raft::ReadSeq;
/// assert!(ReadSeq(2) > ReadSeq(1));
/// assert_eq!(ReadSeq(1).to_string(), "r1");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct ReadSeq(pub u64);

impl fmt::Display for ReadSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// Who is waiting for a read's index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// This node's application.
    Local,
    /// A follower that forwarded the read (thesis §6.4, "reads at followers").
    Forwarded(NodeId),
}

/// One read waiting for its index, its confirmation round, or its apply.
#[derive(Clone, Debug)]
pub(crate) struct PendingRead {
    pub(crate) ctx: Bytes,
    pub(crate) origin: Origin,
    /// The read index, once known (the leader's commit index after its first
    /// current-term commit; at a follower, the leader's answer).
    pub(crate) index: Option<LogIndex>,
    /// The round that must be acknowledged by a quorum before the read is served
    /// (0 at a follower, whose leader does the confirming).
    pub(crate) round: u64,
    /// Tick count after which the read fails with a timeout.
    pub(crate) expires_at: u64,
}

/// How many recent round send times are remembered for the lease: an
/// acknowledgement of an older round still confirms reads, but renews no lease.
const SENT_TIMES_MAX: usize = 64;

/// Reads in progress at one node, and (while it leads) its rounds.
#[derive(Clone, Debug, Default)]
pub(crate) struct ReadState {
    /// Ticks of this node lifetime: the clock of leases and read timeouts.
    pub(crate) now: u64,
    /// The (term, role, leader) the pending reads were accepted under; when it
    /// changes, they are failed rather than answered under a different regime.
    pub(crate) owner: Option<(crate::Term, crate::Role, Option<NodeId>)>,
    pub(crate) pending: VecDeque<PendingRead>,
    /// Highest round sent in this leadership.
    pub(crate) last_sent: u64,
    /// Highest round a quorum acknowledged.
    pub(crate) confirmed: u64,
    /// Highest round each follower acknowledged, sorted by id.
    pub(crate) acked: Vec<(NodeId, u64)>,
    /// `(round, tick it was sent at)` of recent rounds, oldest first.
    pub(crate) sent_at: VecDeque<(u64, u64)>,
    /// Tick at which the round that last renewed the lease was sent.
    pub(crate) lease_from: Option<u64>,
    /// This leader sent TimeoutNow: voters may elect its target inside their leader
    /// lease (thesis §3.10), so no lease holds for the rest of this leadership.
    pub(crate) lease_forfeited: bool,
    /// Tick at which this node last heard from a leader of its term (an append, a
    /// snapshot chunk or a round). Kept across term changes: a voter whose term a
    /// stale message bumped still honours the lease it helped give (thesis §6.4.1).
    pub(crate) leader_heard_at: Option<u64>,
}

impl ReadState {
    /// Forget the rounds and the lease (a new leadership, or none).
    pub(crate) fn reset_rounds(&mut self) {
        self.last_sent = 0;
        self.confirmed = 0;
        self.acked.clear();
        self.sent_at.clear();
        self.lease_from = None;
        self.lease_forfeited = false;
    }

    /// Give up the lease until the next leadership: TimeoutNow was sent, and a
    /// delayed or duplicated copy can start the target's campaign even after the
    /// transfer aborted.
    pub(crate) fn forfeit_lease(&mut self) {
        self.lease_forfeited = true;
        self.lease_from = None;
    }

    /// Start round `last_sent + 1` now; returns its number.
    pub(crate) fn start_round(&mut self) -> u64 {
        self.last_sent += 1;
        if self.sent_at.len() == SENT_TIMES_MAX {
            self.sent_at.pop_front();
        }
        self.sent_at.push_back((self.last_sent, self.now));
        self.last_sent
    }

    /// Record that `from` acknowledged `round`. Rounds never sent (from the future)
    /// are ignored; an older or repeated acknowledgement changes nothing.
    pub(crate) fn record_ack(&mut self, from: NodeId, round: u64) -> bool {
        if round == 0 || round > self.last_sent {
            return false;
        }
        match self.acked.binary_search_by_key(&from, |(id, _)| *id) {
            Ok(i) if self.acked[i].1 >= round => false,
            Ok(i) => {
                self.acked[i].1 = round;
                true
            }
            Err(i) => {
                self.acked.insert(i, (from, round));
                true
            }
        }
    }

    /// Highest round acknowledged by `from` (the leader itself has "acknowledged"
    /// every round it sent).
    pub(crate) fn acked_by(&self, from: NodeId) -> u64 {
        self.acked
            .binary_search_by_key(&from, |(id, _)| *id)
            .map_or(0, |i| self.acked[i].1)
    }

    /// A quorum acknowledged `round`: confirm it, and renew the lease from the time
    /// it was sent (not received: the followers' election timers started later).
    pub(crate) fn confirm(&mut self, round: u64) {
        if round <= self.confirmed {
            return;
        }
        self.confirmed = round;
        if let Some(&(_, at)) = self.sent_at.iter().find(|(r, _)| *r == round) {
            self.lease_from = Some(self.lease_from.map_or(at, |from| from.max(at)));
        }
        while self.sent_at.front().is_some_and(|(r, _)| *r < round) {
            self.sent_at.pop_front();
        }
    }

    /// Whether the lease holds now: less than `election - drift` ticks since the
    /// confirmed round was sent (thesis §6.4.1).
    pub(crate) fn lease_holds(&self, election_ticks: u64, drift_ticks: u64) -> bool {
        !self.lease_forfeited
            && self.lease_from.is_some_and(|from| {
                self.now.saturating_add(drift_ticks) < from.saturating_add(election_ticks)
            })
    }

    /// Whether some read waits for a round that has not been sent yet.
    pub(crate) fn wants_round(&self) -> bool {
        self.pending.iter().any(|r| r.round > self.last_sent)
    }

    /// Whether some read waits for a round that is not confirmed yet.
    pub(crate) fn awaits_confirmation(&self) -> bool {
        self.pending.iter().any(|r| r.round > self.confirmed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Thesis §6.4: acknowledgements count only for rounds that were sent, and an
    // acknowledgement of a later round vouches for earlier ones.
    #[test]
    fn acks_for_unsent_rounds_are_ignored() {
        let mut state = ReadState::default();
        assert!(!state.record_ack(NodeId(2), 1), "nothing sent yet");
        state.start_round();
        state.start_round();
        assert!(
            !state.record_ack(NodeId(2), 3),
            "round 3 is from the future"
        );
        assert!(state.record_ack(NodeId(2), 2));
        assert!(!state.record_ack(NodeId(2), 1), "older ack is no news");
        assert_eq!(state.acked_by(NodeId(2)), 2);
        assert_eq!(state.acked_by(NodeId(3)), 0);
    }

    // Thesis §6.4.1: the lease runs from when the confirmed round was *sent*, and
    // ends a drift margin before an election timeout has passed since then.
    #[test]
    fn lease_runs_from_the_send_time() {
        let mut state = ReadState {
            now: 100,
            ..ReadState::default()
        };
        let round = state.start_round();
        state.now = 104; // acknowledged four ticks later
        assert!(!state.lease_holds(10, 2));
        state.confirm(round);
        assert!(state.lease_holds(10, 2)); // 104 + 2 < 110
        state.now = 107;
        assert!(state.lease_holds(10, 2)); // 107 + 2 < 110
        state.now = 108;
        assert!(!state.lease_holds(10, 2)); // 108 + 2 = 110: expired
    }
}
