//! The coordinator role: phase one, the forced commit decision, phase two, and
//! presumed-abort answers.

use super::{BeginError, Event, Message, Record, TwoPhaseActions, TwoPhaseNode};
use crate::backoff::Backoff;
use crate::plumbing::CommitNode;
use crate::{Outcome, Resource, TxId, Violation, Vote};
use std::collections::{BTreeMap, BTreeSet};
use synod_core::NodeId;

enum Phase<W> {
    /// Phase one: waiting for votes.
    Collecting {
        /// Each participant's work, kept to re-send `Prepare`.
        work: Vec<(NodeId, W)>,
        votes: BTreeMap<NodeId, Vote>,
        age_ticks: u64,
        resend: Backoff,
    },
    /// Phase two of a commit: waiting for acknowledgements.
    Committing {
        unacked: BTreeSet<NodeId>,
        resend: Backoff,
    },
}

struct CoordinatedTx<W> {
    participants: Vec<NodeId>,
    phase: Phase<W>,
}

/// Every transaction this node coordinates and has not forgotten.
pub(super) struct Coordinator<W> {
    active: BTreeMap<TxId, CoordinatedTx<W>>,
    next_seq: u64,
}

impl<W> Coordinator<W> {
    pub(super) fn new() -> Self {
        Coordinator {
            active: BTreeMap::new(),
            next_seq: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.active.len()
    }

    pub(super) fn replay_decision(&mut self, tx: TxId, participants: &[NodeId]) {
        self.active.insert(
            tx,
            CoordinatedTx {
                participants: participants.to_vec(),
                phase: Phase::Committing {
                    unacked: participants.iter().copied().collect(),
                    // Re-send at the first tick after a restart.
                    resend: Backoff::new(1),
                },
            },
        );
    }

    pub(super) fn replay_end(&mut self, tx: TxId) {
        self.active.remove(&tx);
    }
}

impl<R: Resource> TwoPhaseNode<R> {
    pub(super) fn begin(
        &mut self,
        tag: u64,
        participants: Vec<(NodeId, R::Work)>,
        out: &mut TwoPhaseActions<R>,
    ) {
        if let Err(error) =
            crate::api::validate_participants(&participants, self.config.participants_max)
        {
            out.emit(Event::Rejected { tag, error });
            return;
        }
        if self.coordinator.active.len() >= self.config.active_max {
            out.emit(Event::Rejected {
                tag,
                error: BeginError::Busy(self.config.active_max),
            });
            return;
        }
        self.ensure_epoch(out);
        let tx = TxId {
            coordinator: self.config.id,
            epoch: self.epoch,
            seq: self.coordinator.next_seq,
        };
        self.coordinator.next_seq += 1;
        out.emit(Event::Begun { tag, tx });
        let ids: Vec<NodeId> = participants.iter().map(|(p, _)| *p).collect();
        for (p, work) in &participants {
            let msg = Message::Prepare {
                tx,
                participants: ids.clone(),
                work: work.clone(),
            };
            self.send(*p, msg, out);
        }
        self.coordinator.active.insert(
            tx,
            CoordinatedTx {
                participants: ids,
                phase: Phase::Collecting {
                    work: participants,
                    votes: BTreeMap::new(),
                    age_ticks: 0,
                    resend: Backoff::new(self.config.resend_ticks),
                },
            },
        );
    }

    pub(super) fn on_vote(
        &mut self,
        from: NodeId,
        tx: TxId,
        vote: Vote,
        out: &mut TwoPhaseActions<R>,
    ) {
        // A vote for a transaction we forgot (decided and done) or never had: stale;
        // the voter, if uncertain, will inquire and be answered then.
        let Some(state) = self.coordinator.active.get_mut(&tx) else {
            self.stats.ignored += 1;
            return;
        };
        if !state.participants.contains(&from) {
            self.violation(tx, from, Violation::VoteFromNonParticipant, out);
            return;
        }
        let Phase::Collecting { votes, .. } = &mut state.phase else {
            // Already decided: a duplicate.
            self.stats.ignored += 1;
            return;
        };
        if votes.contains_key(&from) {
            self.stats.ignored += 1;
            return;
        }
        votes.insert(from, vote);
        if vote == Vote::No {
            self.decide_abort(tx, out);
        } else if votes.len() == state.participants.len() {
            self.decide_commit(tx, out);
        }
    }

    /// Presumed abort: nothing logged, nothing acknowledged. Tell every participant
    /// that may be prepared (voted yes, or has not voted) and forget.
    fn decide_abort(&mut self, tx: TxId, out: &mut TwoPhaseActions<R>) {
        let Some(state) = self.coordinator.active.remove(&tx) else {
            return;
        };
        out.emit(Event::Decided {
            tx,
            outcome: Outcome::Abort,
        });
        if let Phase::Collecting { votes, .. } = &state.phase {
            for p in &state.participants {
                if matches!(votes.get(p), None | Some(Vote::Yes)) {
                    let msg = Message::Decision {
                        tx,
                        outcome: Outcome::Abort,
                    };
                    self.send(*p, msg, out);
                }
            }
        }
    }

    fn decide_commit(&mut self, tx: TxId, out: &mut TwoPhaseActions<R>) {
        let Some(state) = self.coordinator.active.get_mut(&tx) else {
            return;
        };
        let Phase::Collecting { votes, .. } = &state.phase else {
            return;
        };
        let yes: Vec<NodeId> = state
            .participants
            .iter()
            .copied()
            .filter(|p| votes.get(p) == Some(&Vote::Yes))
            .collect();
        if yes.is_empty() {
            // Everyone read-only: committed, with nothing to log and nobody to tell.
            self.coordinator.active.remove(&tx);
            out.emit(Event::Decided {
                tx,
                outcome: Outcome::Commit,
            });
            return;
        }
        state.phase = Phase::Committing {
            unacked: yes.iter().copied().collect(),
            resend: Backoff::new(self.config.resend_ticks),
        };
        let record = Record::Decision {
            tx,
            participants: yes.clone(),
        };
        // The commit point: durable before any COMMIT leaves.
        out.persist(record);
        out.emit(Event::Decided {
            tx,
            outcome: Outcome::Commit,
        });
        for p in yes {
            let msg = Message::Decision {
                tx,
                outcome: Outcome::Commit,
            };
            self.send(p, msg, out);
        }
    }

    pub(super) fn on_ack(&mut self, from: NodeId, tx: TxId, out: &mut TwoPhaseActions<R>) {
        let Some(state) = self.coordinator.active.get_mut(&tx) else {
            self.stats.ignored += 1;
            return;
        };
        let Phase::Committing { unacked, .. } = &mut state.phase else {
            self.stats.ignored += 1;
            return;
        };
        if !unacked.remove(&from) {
            self.stats.ignored += 1;
            return;
        }
        if unacked.is_empty() {
            self.coordinator.active.remove(&tx);
            self.background(Record::End { tx }, out);
        }
    }

    /// A participant (recovering, or uncertain for too long) asks for the outcome.
    pub(super) fn on_inquire_as_coordinator(
        &mut self,
        from: NodeId,
        tx: TxId,
        out: &mut TwoPhaseActions<R>,
    ) {
        let outcome = match self.coordinator.active.get(&tx).map(|s| &s.phase) {
            // Still collecting votes: the answer comes with the decision.
            Some(Phase::Collecting { .. }) => return,
            Some(Phase::Committing { .. }) => Outcome::Commit,
            // Presumed abort: no record means abort.
            None => Outcome::Abort,
        };
        self.send(from, Message::Decision { tx, outcome }, out);
    }

    pub(super) fn coordinator_tick(&mut self, out: &mut TwoPhaseActions<R>) {
        let mut timed_out = Vec::new();
        let mut resends: Vec<(NodeId, Message<R::Work>)> = Vec::new();
        for (&tx, state) in self.coordinator.active.iter_mut() {
            match &mut state.phase {
                Phase::Collecting {
                    work,
                    votes,
                    age_ticks,
                    resend,
                } => {
                    *age_ticks += 1;
                    if *age_ticks >= self.config.vote_timeout_ticks {
                        timed_out.push(tx);
                    } else if resend.tick(self.config.resend_max_ticks) {
                        for (p, w) in work.iter() {
                            if !votes.contains_key(p) {
                                resends.push((
                                    *p,
                                    Message::Prepare {
                                        tx,
                                        participants: state.participants.clone(),
                                        work: w.clone(),
                                    },
                                ));
                            }
                        }
                    }
                }
                Phase::Committing { unacked, resend } => {
                    if resend.tick(self.config.resend_max_ticks) {
                        for p in unacked.iter() {
                            resends.push((
                                *p,
                                Message::Decision {
                                    tx,
                                    outcome: Outcome::Commit,
                                },
                            ));
                        }
                    }
                }
            }
        }
        for tx in timed_out {
            self.decide_abort(tx, out);
        }
        for (to, msg) in resends {
            self.stats.resent += 1;
            self.send(to, msg, out);
        }
    }
}
