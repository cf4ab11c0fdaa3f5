//! The participant role: voting, applying outcomes, cooperative termination and
//! recovery of in-doubt transactions.

use super::{Event, Message, Record, TwoPhaseActions, TwoPhaseNode};
use crate::backoff::Inquiry;
use crate::memory::Recent;
use crate::plumbing::CommitNode;
use crate::{Outcome, Prepared, Resource, TxId, Violation, Vote};
use std::collections::BTreeMap;
use synod_core::NodeId;

/// What a participant remembers about a transaction it is done with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Memo {
    Committed,
    Aborted,
    VotedNo,
    /// Voted read-only: it has no say in, and no knowledge of, the outcome.
    ReadOnly,
    /// Never voted, and promised a peer (durably) never to vote yes.
    Refused,
}

/// A transaction this participant voted yes on and whose outcome it does not know.
struct InDoubt<D> {
    participants: Vec<NodeId>,
    redo: D,
    /// When it asks peers for the outcome.
    inquiry: Inquiry,
    /// Peers that answered "undecided" in the current round of asking.
    undecided: BTreeMap<NodeId, bool>,
    /// Rounds of asking so far.
    rounds: u64,
    blocked_reported: bool,
}

/// Whether every peer other than us and the coordinator answered "undecided" in
/// this round.
fn everyone_undecided<D>(doubt: &InDoubt<D>, me: NodeId, coordinator: NodeId) -> bool {
    doubt
        .participants
        .iter()
        .all(|p| *p == me || *p == coordinator || doubt.undecided.contains_key(p))
}

pub(super) struct Participant<R: Resource> {
    resource: R,
    in_doubt: BTreeMap<TxId, InDoubt<R::Redo>>,
    /// Remembered outcomes, the most recent `outcomes_max` of them.
    outcomes: Recent<TxId, Memo>,
    /// Set once an outcome was evicted: unknown transactions may then be forgotten
    /// ones, so the participant may no longer refuse them.
    forgot: bool,
    /// Replay state: prepared records not yet matched by an outcome.
    replaying: BTreeMap<TxId, (Vec<NodeId>, R::Redo)>,
}

impl<R: Resource> Participant<R> {
    pub(super) fn new(resource: R, outcomes_max: usize) -> Self {
        Participant {
            resource,
            in_doubt: BTreeMap::new(),
            outcomes: Recent::new(outcomes_max),
            forgot: false,
            replaying: BTreeMap::new(),
        }
    }

    pub(super) fn resource(&self) -> &R {
        &self.resource
    }

    pub(super) fn in_doubt(&self) -> impl Iterator<Item = TxId> + '_ {
        self.in_doubt.keys().copied()
    }

    pub(super) fn outcome(&self, tx: TxId) -> Option<Outcome> {
        match self.outcomes.get(&tx)? {
            Memo::Committed => Some(Outcome::Commit),
            Memo::Aborted | Memo::VotedNo | Memo::Refused => Some(Outcome::Abort),
            Memo::ReadOnly => None,
        }
    }

    fn remember(&mut self, tx: TxId, memo: Memo) {
        if self.outcomes.insert(tx, memo) {
            self.forgot = true;
        }
    }

    pub(super) fn replay(&mut self, record: &Record<R::Redo>) {
        match record {
            Record::Prepared {
                tx,
                participants,
                redo,
            } => {
                self.replaying
                    .insert(*tx, (participants.clone(), redo.clone()));
            }
            Record::Committed { tx } => {
                if let Some((_, redo)) = self.replaying.remove(tx) {
                    self.resource.commit(*tx, &redo);
                }
                self.remember(*tx, Memo::Committed);
            }
            Record::Aborted { tx } => {
                self.replaying.remove(tx);
                self.remember(*tx, Memo::Aborted);
            }
            Record::Refused { tx } => self.remember(*tx, Memo::Refused),
            Record::Epoch(_) | Record::Decision { .. } | Record::End { .. } => {}
        }
    }

    pub(super) fn finish_replay(&mut self) {
        for (tx, (participants, redo)) in std::mem::take(&mut self.replaying) {
            self.resource.restore_prepared(tx, &redo);
            self.in_doubt.insert(
                tx,
                InDoubt {
                    participants,
                    redo,
                    // A recovering participant asks at its first tick.
                    inquiry: Inquiry::after(0),
                    undecided: BTreeMap::new(),
                    rounds: 0,
                    blocked_reported: false,
                },
            );
        }
    }
}

impl<R: Resource> TwoPhaseNode<R> {
    pub(super) fn on_prepare(
        &mut self,
        from: NodeId,
        tx: TxId,
        participants: Vec<NodeId>,
        work: R::Work,
        out: &mut TwoPhaseActions<R>,
    ) {
        let me = self.config.id;
        if from != tx.coordinator
            || !participants.contains(&me)
            || participants.len() > self.config.participants_max
        {
            self.violation(tx, from, Violation::MalformedPrepare, out);
            return;
        }
        // Duplicate PREPARE: repeat the vote we gave, never vote again.
        if let Some(doubt) = self.participant.in_doubt.get(&tx) {
            if doubt.participants != participants {
                self.violation(tx, from, Violation::InconsistentPrepare, out);
                return;
            }
            self.stats.ignored += 1;
            let vote = Message::Vote {
                tx,
                vote: Vote::Yes,
            };
            self.send(from, vote, out);
            return;
        }
        if let Some(memo) = self.participant.outcomes.get(&tx).copied() {
            self.stats.ignored += 1;
            let vote = match memo {
                Memo::Committed => return,
                Memo::ReadOnly => Vote::ReadOnly,
                Memo::Aborted | Memo::VotedNo | Memo::Refused => Vote::No,
            };
            self.send(from, Message::Vote { tx, vote }, out);
            return;
        }
        self.ensure_epoch(out);
        let vote = match self.participant.resource.prepare(tx, &work) {
            Prepared::Yes(redo) => {
                // Durable before the yes leaves: after it we may not change our mind.
                out.persist(Record::Prepared {
                    tx,
                    participants: participants.clone(),
                    redo: redo.clone(),
                });
                self.participant.in_doubt.insert(
                    tx,
                    InDoubt {
                        participants,
                        redo,
                        inquiry: Inquiry::after(self.config.termination_ticks),
                        undecided: BTreeMap::new(),
                        rounds: 0,
                        blocked_reported: false,
                    },
                );
                Vote::Yes
            }
            Prepared::No => {
                self.participant.remember(tx, Memo::VotedNo);
                Vote::No
            }
            Prepared::ReadOnly => {
                self.participant.remember(tx, Memo::ReadOnly);
                Vote::ReadOnly
            }
        };
        self.send(from, Message::Vote { tx, vote }, out);
    }

    pub(super) fn on_decision(
        &mut self,
        from: NodeId,
        tx: TxId,
        outcome: Outcome,
        out: &mut TwoPhaseActions<R>,
    ) {
        if let Some(doubt) = self.participant.in_doubt.remove(&tx) {
            match outcome {
                Outcome::Commit => {
                    self.participant.resource.commit(tx, &doubt.redo);
                    self.participant.remember(tx, Memo::Committed);
                    // Durable before the ack: the coordinator forgets on the ack.
                    out.persist(Record::Committed { tx });
                    out.emit(Event::Applied { tx, outcome });
                    self.send(tx.coordinator, Message::Ack { tx }, out);
                }
                Outcome::Abort => {
                    self.participant.resource.abort(tx);
                    self.participant.remember(tx, Memo::Aborted);
                    self.background(Record::Aborted { tx }, out);
                    out.emit(Event::Applied { tx, outcome });
                }
            }
            return;
        }
        match (self.participant.outcomes.get(&tx).copied(), outcome) {
            (Some(Memo::Committed), Outcome::Commit) => {
                // Our ack was lost: the coordinator re-sent.
                self.stats.ignored += 1;
                if from == tx.coordinator {
                    self.send(from, Message::Ack { tx }, out);
                }
            }
            (Some(Memo::Committed), Outcome::Abort) if from == tx.coordinator => {
                // Presumed abort's answer to a stale, duplicated inquiry that reached
                // the coordinator after it forgot the committed transaction.
                self.stats.ignored += 1;
            }
            (Some(Memo::Committed), Outcome::Abort) | (Some(Memo::Aborted), Outcome::Commit) => {
                let known = if outcome == Outcome::Commit {
                    Outcome::Abort
                } else {
                    Outcome::Commit
                };
                let violation = Violation::ConflictingDecision {
                    known,
                    claimed: outcome,
                };
                self.violation(tx, from, violation, out);
            }
            (Some(Memo::VotedNo | Memo::Refused), Outcome::Commit) => {
                self.violation(tx, from, Violation::CommitAfterNo, out);
            }
            (None, Outcome::Commit) if self.participant.forgot && from == tx.coordinator => {
                // Most likely a commit we applied and forgot, whose ack was lost.
                self.stats.ignored += 1;
                self.send(from, Message::Ack { tx }, out);
            }
            // Duplicates, read-only transactions, aborts of transactions we never
            // prepared, decisions for unknown transactions: nothing to do.
            _ => self.stats.ignored += 1,
        }
    }

    /// A fellow participant is uncertain and asks us (cooperative termination).
    pub(super) fn on_inquire_as_peer(
        &mut self,
        from: NodeId,
        tx: TxId,
        out: &mut TwoPhaseActions<R>,
    ) {
        let reply = if self.participant.in_doubt.contains_key(&tx) {
            Message::Undecided {
                tx,
                uncertain: true,
            }
        } else {
            match self.participant.outcomes.get(&tx).copied() {
                Some(Memo::Committed) => Message::Decision {
                    tx,
                    outcome: Outcome::Commit,
                },
                Some(Memo::Aborted | Memo::Refused) => Message::Decision {
                    tx,
                    outcome: Outcome::Abort,
                },
                // A no vote is not logged, so a crash could forget it and a later,
                // duplicated PREPARE get a yes — harmless while nobody acted on the
                // no. Before a peer aborts on our word, make the no durable.
                Some(Memo::VotedNo) => self.refuse(tx, out),
                Some(Memo::ReadOnly) => Message::Undecided {
                    tx,
                    uncertain: false,
                },
                // We never voted in this life and never forgot anything: refuse, so
                // the transaction can only abort, and say so. A restarted process may
                // have voted read-only before its crash (that vote is not logged), so
                // it may not refuse.
                None if !self.restarted && !self.participant.forgot => self.refuse(tx, out),
                None => Message::Undecided {
                    tx,
                    uncertain: false,
                },
            }
        };
        self.send(from, reply, out);
    }

    /// Refuse `tx` durably (so this participant can never vote yes on it, not even
    /// after a crash) and return the answer: abort.
    fn refuse(&mut self, tx: TxId, out: &mut TwoPhaseActions<R>) -> Message<R::Work> {
        self.ensure_epoch(out);
        self.participant.remember(tx, Memo::Refused);
        out.persist(Record::Refused { tx });
        Message::Decision {
            tx,
            outcome: Outcome::Abort,
        }
    }

    pub(super) fn on_undecided(
        &mut self,
        from: NodeId,
        tx: TxId,
        uncertain: bool,
        out: &mut TwoPhaseActions<R>,
    ) {
        let Some(doubt) = self.participant.in_doubt.get_mut(&tx) else {
            self.stats.ignored += 1;
            return;
        };
        if !doubt.participants.contains(&from) {
            self.stats.ignored += 1;
            return;
        }
        doubt.undecided.insert(from, uncertain);
        let me = self.config.id;
        if everyone_undecided(doubt, me, tx.coordinator) && !doubt.blocked_reported {
            // The coordinator has not answered this round and no peer can decide:
            // 2PC blocks here. Keep asking; say so once.
            doubt.blocked_reported = true;
            out.emit(Event::Blocked { tx });
        }
    }

    pub(super) fn participant_tick(&mut self, out: &mut TwoPhaseActions<R>) {
        let me = self.config.id;
        let mut asks: Vec<(NodeId, TxId)> = Vec::new();
        for (&tx, doubt) in self.participant.in_doubt.iter_mut() {
            let due = doubt
                .inquiry
                .tick(self.config.resend_ticks, self.config.resend_max_ticks);
            if due {
                // A whole round went by without an outcome, and no peer could give
                // one (vacuously so when the coordinator is our only peer).
                if doubt.rounds > 0
                    && !doubt.blocked_reported
                    && everyone_undecided(doubt, me, tx.coordinator)
                {
                    doubt.blocked_reported = true;
                    out.emit(Event::Blocked { tx });
                }
                doubt.rounds += 1;
                doubt.undecided.clear();
                asks.push((tx.coordinator, tx));
                for p in &doubt.participants {
                    if *p != me && *p != tx.coordinator {
                        asks.push((*p, tx));
                    }
                }
            }
        }
        for (to, tx) in asks {
            self.stats.resent += 1;
            self.send(to, Message::Inquire { tx }, out);
        }
    }
}
