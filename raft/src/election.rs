//! Elections: the randomized timeout (Raft §5.2) and the vote tally, counted with
//! `synod-quorum`'s majority quorums.

use crate::membership::VoterQuorum;
use synod_core::{NodeId, Ticks};
use synod_quorum::{QuorumKind, QuorumSystem, VoteResult};

/// The randomized election timeout: after every reset it draws a fresh timeout from
/// `[min, 2 * min)` with a generator seeded from the config seed and the node id
/// (splitmix64), so a run is deterministic and nodes do not time out in lockstep.
#[derive(Clone, Debug)]
pub(crate) struct ElectionTimer {
    min: Ticks,
    state: u64,
    elapsed: Ticks,
    timeout: Ticks,
}

impl ElectionTimer {
    pub(crate) fn new(min: Ticks, seed: u64, id: NodeId) -> Self {
        let mut timer = ElectionTimer {
            min,
            state: seed ^ id.0.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            elapsed: Ticks::ZERO,
            timeout: min,
        };
        timer.reset();
        timer
    }

    fn next_random(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Start counting again from zero with a fresh random timeout.
    pub(crate) fn reset(&mut self) {
        self.elapsed = Ticks::ZERO;
        let jitter = self.next_random() % self.min.0.max(1);
        self.timeout = Ticks(self.min.0 + jitter);
    }

    /// One tick; `true` once the randomized timeout has passed.
    pub(crate) fn tick(&mut self) -> bool {
        self.elapsed += Ticks::ONE;
        self.elapsed >= self.timeout
    }

    /// Ticks since the last reset.
    pub(crate) fn elapsed(&self) -> Ticks {
        self.elapsed
    }
}

/// Votes received in one (pre-)election. Bounded by the voter count: one slot per
/// voter, a repeated answer overwrites.
#[derive(Clone, Debug, Default)]
pub(crate) struct VoteTally {
    votes: Vec<(NodeId, bool)>,
}

impl VoteTally {
    pub(crate) fn clear(&mut self) {
        self.votes.clear();
    }

    /// Record `from`'s answer if it is a voter; answers from non-voters are ignored.
    pub(crate) fn record(&mut self, voters: &VoterQuorum, from: NodeId, granted: bool) {
        if !voters.contains(from) {
            return;
        }
        match self.votes.iter_mut().find(|(id, _)| *id == from) {
            Some(slot) => slot.1 = granted,
            None => self.votes.push((from, granted)),
        }
    }

    /// Won, lost or pending under majority quorums (Raft §5.2).
    pub(crate) fn result(&self, voters: &VoterQuorum) -> VoteResult {
        voters.vote_result(QuorumKind::Read, |id| {
            self.votes.iter().find(|(v, _)| *v == id).map(|(_, g)| *g)
        })
    }
}
