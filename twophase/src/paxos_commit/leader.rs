//! The leader role: the coordinator that starts a transaction and learns ballot-0
//! votes, and any node that takes over with a higher ballot when the outcome is
//! overdue.

use super::acceptor::learner;
use super::{Ballot, Message, PaxosActions, PaxosCommitNode, Value};
use crate::backoff::Backoff;
use crate::plumbing::CommitNode;
use crate::{BeginError, Event, Outcome, Resource, TxId, Violation};
use std::collections::{BTreeMap, BTreeSet};
use synod_core::NodeId;

/// What a leader does in its ballot.
enum Stage {
    /// The coordinator in ballot 0: waiting for the resource managers' own
    /// proposals to be accepted.
    Fast,
    /// Phase 1 of a higher ballot: collecting promises.
    Promising(BTreeMap<NodeId, Vec<(NodeId, Ballot, Value)>>),
    /// Phase 2 of a higher ballot: these values are proposed.
    Proposing(BTreeMap<NodeId, Value>),
}

pub(super) struct LeaderTx<W> {
    rms: Vec<NodeId>,
    ballot: Ballot,
    stage: Stage,
    /// Phase 2b tallies: per instance, per (ballot, value), who accepted.
    tallies: BTreeMap<NodeId, BTreeMap<(Ballot, Value), BTreeSet<NodeId>>>,
    chosen: BTreeMap<NodeId, Value>,
    /// The coordinator's work per resource manager, to re-send `Prepare`.
    work: Vec<(NodeId, W)>,
    age_ticks: u64,
    resend: Backoff,
    /// The smallest round the next ballot may use (raised by a `Reject`).
    next_round: u64,
}

impl<R: Resource> PaxosCommitNode<R> {
    pub(super) fn begin(
        &mut self,
        tag: u64,
        participants: Vec<(NodeId, R::Work)>,
        out: &mut PaxosActions<R>,
    ) {
        if let Err(error) =
            crate::api::validate_participants(&participants, self.config.participants_max)
        {
            out.emit(Event::Rejected { tag, error });
            return;
        }
        if self.leader.len() >= self.config.active_max {
            let error = BeginError::Busy(self.config.active_max);
            out.emit(Event::Rejected { tag, error });
            return;
        }
        self.ensure_epoch(out);
        let tx = TxId {
            coordinator: self.config.id,
            epoch: self.epoch,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        out.emit(Event::Begun { tag, tx });
        let rms: Vec<NodeId> = participants.iter().map(|(p, _)| *p).collect();
        for (rm, work) in &participants {
            let msg = Message::Prepare {
                tx,
                rms: rms.clone(),
                work: work.clone(),
            };
            self.send(*rm, msg, out);
        }
        self.leader.insert(
            tx,
            LeaderTx {
                rms,
                ballot: Ballot::FAST,
                stage: Stage::Fast,
                tallies: BTreeMap::new(),
                chosen: BTreeMap::new(),
                work: participants,
                age_ticks: 0,
                resend: Backoff::new(self.config.resend_ticks),
                next_round: 1,
            },
        );
    }

    /// Become leader of `tx` with a fresh ballot and run phase 1 (a coordinator
    /// whose resource managers are silent, or an acceptor asked by an uncertain
    /// resource manager).
    pub(super) fn take_over(&mut self, tx: TxId, rms: Vec<NodeId>, out: &mut PaxosActions<R>) {
        if self.leader.len() >= self.config.active_max && !self.leader.contains_key(&tx) {
            self.stats.ignored += 1;
            return;
        }
        self.ensure_epoch(out);
        // Above anything this node promised as an acceptor, led before, or heard of
        // in a rejection.
        let promised = self.acceptor.get(&tx).map_or(1, |a| a.promised.round + 1);
        let led = self
            .leader
            .get(&tx)
            .map_or(1, |l| l.next_round.max(l.ballot.round + 1));
        let ballot = Ballot {
            round: promised.max(led),
            epoch: self.epoch,
            leader: self.config.id,
        };
        let entry = self.leader.entry(tx).or_insert_with(|| LeaderTx {
            rms: rms.clone(),
            ballot,
            stage: Stage::Fast,
            tallies: BTreeMap::new(),
            chosen: BTreeMap::new(),
            work: Vec::new(),
            age_ticks: 0,
            resend: Backoff::new(1),
            next_round: 0,
        });
        entry.ballot = ballot;
        entry.stage = Stage::Promising(BTreeMap::new());
        entry.resend = Backoff::new(self.config.resend_ticks);
        self.stats.takeovers += 1;
        let rms = entry.rms.clone();
        for a in self.config.acceptors.clone() {
            let msg = Message::Phase1a {
                tx,
                rms: rms.clone(),
                ballot,
            };
            self.send(a, msg, out);
        }
    }

    pub(super) fn on_phase1b(
        &mut self,
        from: NodeId,
        tx: TxId,
        ballot: Ballot,
        accepted: Vec<(NodeId, Ballot, Value)>,
        out: &mut PaxosActions<R>,
    ) {
        let quorum = self.config.quorum();
        let acceptors = &self.config.acceptors;
        let Some(entry) = self.leader.get_mut(&tx) else {
            self.stats.ignored += 1;
            return;
        };
        if entry.ballot != ballot || !acceptors.contains(&from) {
            self.stats.ignored += 1;
            return;
        }
        let Stage::Promising(promises) = &mut entry.stage else {
            self.stats.ignored += 1;
            return;
        };
        promises.insert(from, accepted);
        if promises.len() < quorum {
            return;
        }
        // For each instance, the value accepted in the highest ballot among the
        // promises; abort for an instance nobody accepted anything for (its resource
        // manager may never have voted).
        let mut proposals = BTreeMap::new();
        for rm in &entry.rms {
            let best = promises
                .values()
                .flatten()
                .filter(|(i, _, _)| i == rm)
                .max_by_key(|(_, b, _)| *b)
                .map(|(_, _, v)| *v);
            proposals.insert(*rm, best.unwrap_or(Value::Aborted));
        }
        entry.stage = Stage::Proposing(proposals.clone());
        let rms = entry.rms.clone();
        self.propose(tx, &rms, ballot, &proposals, out);
    }

    fn propose(
        &mut self,
        tx: TxId,
        rms: &[NodeId],
        ballot: Ballot,
        proposals: &BTreeMap<NodeId, Value>,
        out: &mut PaxosActions<R>,
    ) {
        for (&instance, &value) in proposals {
            for a in self.config.acceptors.clone() {
                let msg = Message::Phase2a {
                    tx,
                    rms: rms.to_vec(),
                    instance,
                    ballot,
                    value,
                };
                self.send(a, msg, out);
            }
        }
    }

    pub(super) fn on_phase2b(
        &mut self,
        from: NodeId,
        tx: TxId,
        instance: NodeId,
        ballot: Ballot,
        value: Value,
        out: &mut PaxosActions<R>,
    ) {
        let quorum = self.config.quorum();
        if !self.config.acceptors.contains(&from) {
            self.violation(tx, from, Violation::VoteFromNonParticipant, out);
            return;
        }
        if learner(tx, ballot) != self.config.id {
            self.stats.ignored += 1;
            return;
        }
        let Some(entry) = self.leader.get_mut(&tx) else {
            self.stats.ignored += 1;
            return;
        };
        if !entry.rms.contains(&instance) {
            self.stats.ignored += 1;
            return;
        }
        let voters = entry
            .tallies
            .entry(instance)
            .or_default()
            .entry((ballot, value))
            .or_default();
        voters.insert(from);
        if voters.len() < quorum {
            return;
        }
        // A majority accepted one value in one ballot: chosen for good.
        entry.chosen.insert(instance, value);
        if value == Value::Aborted {
            self.decide(tx, Outcome::Abort, out);
        } else if entry
            .rms
            .iter()
            .all(|rm| entry.chosen.get(rm) == Some(&Value::Prepared))
        {
            self.decide(tx, Outcome::Commit, out);
        }
    }

    pub(super) fn on_reject(
        &mut self,
        from: NodeId,
        tx: TxId,
        promised: Ballot,
        _out: &mut PaxosActions<R>,
    ) {
        let _ = from; // any acceptor's rejection counts
        if let Some(entry) = self.leader.get_mut(&tx)
            && promised > entry.ballot
        {
            // Someone else leads a higher ballot; if the outcome is still overdue at
            // our next re-send, start a ballot above it.
            entry.next_round = entry.next_round.max(promised.round + 1);
        } else {
            self.stats.ignored += 1;
        }
    }

    /// The outcome is chosen (or learned from someone who knows it): tell every
    /// resource manager and acceptor, and forget the ballot.
    pub(super) fn decide(&mut self, tx: TxId, outcome: Outcome, out: &mut PaxosActions<R>) {
        let Some(entry) = self.leader.remove(&tx) else {
            return;
        };
        out.emit(Event::Decided { tx, outcome });
        let mut to: BTreeSet<NodeId> = entry.rms.iter().copied().collect();
        to.extend(self.config.acceptors.iter().copied());
        for n in to {
            self.send(n, Message::Decision { tx, outcome }, out);
        }
    }

    pub(super) fn leader_tick(&mut self, out: &mut PaxosActions<R>) {
        let mut overdue = Vec::new();
        let mut resends: Vec<(NodeId, Message<R::Work>)> = Vec::new();
        for (&tx, entry) in self.leader.iter_mut() {
            entry.age_ticks += 1;
            let fast_timeout = matches!(entry.stage, Stage::Fast)
                && entry.age_ticks >= self.config.vote_timeout_ticks;
            if fast_timeout {
                overdue.push((tx, entry.rms.clone()));
                continue;
            }
            if !entry.resend.tick(self.config.resend_max_ticks) {
                continue;
            }
            if entry.next_round > entry.ballot.round && !matches!(entry.stage, Stage::Fast) {
                overdue.push((tx, entry.rms.clone()));
                continue;
            }
            match &entry.stage {
                Stage::Fast => {
                    for (rm, work) in &entry.work {
                        if !entry.chosen.contains_key(rm) {
                            resends.push((
                                *rm,
                                Message::Prepare {
                                    tx,
                                    rms: entry.rms.clone(),
                                    work: work.clone(),
                                },
                            ));
                        }
                    }
                }
                Stage::Promising(promises) => {
                    for a in &self.config.acceptors {
                        if !promises.contains_key(a) {
                            resends.push((
                                *a,
                                Message::Phase1a {
                                    tx,
                                    rms: entry.rms.clone(),
                                    ballot: entry.ballot,
                                },
                            ));
                        }
                    }
                }
                Stage::Proposing(proposals) => {
                    for (&instance, &value) in proposals {
                        if entry.chosen.contains_key(&instance) {
                            continue;
                        }
                        for a in &self.config.acceptors {
                            resends.push((
                                *a,
                                Message::Phase2a {
                                    tx,
                                    rms: entry.rms.clone(),
                                    instance,
                                    ballot: entry.ballot,
                                    value,
                                },
                            ));
                        }
                    }
                }
            }
        }
        for (tx, rms) in overdue {
            self.take_over(tx, rms, out);
        }
        for (to, msg) in resends {
            self.stats.resent += 1;
            self.send(to, msg, out);
        }
    }
}
