//! The resource-manager role: vote by proposing in ballot 0, apply the outcome, ask
//! when it is overdue.

use super::{Ballot, Message, PaxosActions, PaxosCommitNode, Record, Value};
use crate::backoff::Inquiry;
use crate::plumbing::CommitNode;
use crate::{Event, Outcome, Prepared, Resource, TxId, Violation};
use synod_core::NodeId;

/// A transaction this resource manager prepared and whose outcome it does not know.
pub(super) struct RmTx<D> {
    pub(super) rms: Vec<NodeId>,
    pub(super) redo: D,
    /// When it asks acceptors for the outcome.
    pub(super) inquiry: Inquiry,
    pub(super) rounds: u64,
}

/// What a resource manager remembers about a transaction it is not in doubt about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RmMemo {
    /// Voted (no, or read-only) and needs no outcome; the vote is kept to repeat it.
    Voted(Value),
    /// The outcome, applied.
    Done(Outcome),
}

impl<R: Resource> PaxosCommitNode<R> {
    fn propose_vote(&mut self, tx: TxId, rms: &[NodeId], value: Value, out: &mut PaxosActions<R>) {
        let me = self.config.id;
        for a in self.config.acceptors.clone() {
            let msg = Message::Phase2a {
                tx,
                rms: rms.to_vec(),
                instance: me,
                ballot: Ballot::FAST,
                value,
            };
            self.send(a, msg, out);
        }
    }

    pub(super) fn on_prepare(
        &mut self,
        from: NodeId,
        tx: TxId,
        rms: Vec<NodeId>,
        work: R::Work,
        out: &mut PaxosActions<R>,
    ) {
        let me = self.config.id;
        if from != tx.coordinator || !rms.contains(&me) || rms.len() > self.config.participants_max
        {
            self.violation(tx, from, Violation::MalformedPrepare, out);
            return;
        }
        // Duplicates repeat the ballot-0 proposal already made, never a new one.
        if let Some(doubt) = self.rm.get(&tx) {
            let rms = doubt.rms.clone();
            self.stats.ignored += 1;
            self.propose_vote(tx, &rms, Value::Prepared, out);
            return;
        }
        match self.rm_memo.get(&tx).copied() {
            Some(RmMemo::Voted(value)) => {
                self.stats.ignored += 1;
                self.propose_vote(tx, &rms, value, out);
                return;
            }
            Some(RmMemo::Done(_)) => {
                self.stats.ignored += 1;
                return;
            }
            None => {}
        }
        self.ensure_epoch(out);
        let (value, redo) = match self.resource.prepare(tx, &work) {
            Prepared::Yes(redo) => (Value::Prepared, Some(redo)),
            Prepared::ReadOnly => (Value::Prepared, None),
            Prepared::No => (Value::Aborted, None),
        };
        // Durable before the proposal leaves: ballot 0 must never carry two values.
        out.persist(Record::Voted {
            tx,
            rms: rms.clone(),
            value,
            redo: redo.clone(),
        });
        match redo {
            Some(redo) => {
                self.rm.insert(
                    tx,
                    RmTx {
                        rms: rms.clone(),
                        redo,
                        inquiry: Inquiry::after(self.config.termination_ticks),
                        rounds: 0,
                    },
                );
            }
            None => self.remember_rm(tx, RmMemo::Voted(value)),
        }
        self.propose_vote(tx, &rms, value, out);
    }

    pub(super) fn rm_learn(
        &mut self,
        from: NodeId,
        tx: TxId,
        outcome: Outcome,
        out: &mut PaxosActions<R>,
    ) {
        if let Some(doubt) = self.rm.remove(&tx) {
            match outcome {
                Outcome::Commit => self.resource.commit(tx, &doubt.redo),
                Outcome::Abort => self.resource.abort(tx),
            }
            self.remember_rm(tx, RmMemo::Done(outcome));
            self.background(Record::Applied { tx, outcome }, out);
            out.emit(Event::Applied { tx, outcome });
            return;
        }
        match self.rm_memo.get(&tx).copied() {
            Some(RmMemo::Voted(Value::Aborted)) if outcome == Outcome::Commit => {
                self.violation(tx, from, Violation::CommitAfterNo, out);
            }
            Some(RmMemo::Done(known)) if known != outcome => {
                let violation = Violation::ConflictingDecision {
                    known,
                    claimed: outcome,
                };
                self.violation(tx, from, violation, out);
            }
            _ => self.stats.ignored += 1,
        }
    }

    pub(super) fn rm_tick(&mut self, out: &mut PaxosActions<R>) {
        let acceptors = self.config.acceptors.clone();
        let mut asks: Vec<(TxId, Vec<NodeId>, u64)> = Vec::new();
        for (&tx, doubt) in self.rm.iter_mut() {
            let due = doubt
                .inquiry
                .tick(self.config.resend_ticks, self.config.resend_max_ticks);
            if due {
                asks.push((tx, doubt.rms.clone(), doubt.rounds));
                doubt.rounds += 1;
            }
        }
        for (tx, rms, round) in asks {
            self.stats.resent += 1;
            // Our own proposal may have been lost; the acceptors drop it if a
            // higher ballot has started.
            self.propose_vote(tx, &rms, Value::Prepared, out);
            // Ask the coordinator, and one acceptor per round (in turn, so that a
            // crashed acceptor is skipped next round and two do not duel).
            let msg = Message::Inquire {
                tx,
                rms: rms.clone(),
            };
            self.send(tx.coordinator, msg.clone(), out);
            let turn = (round % acceptors.len().max(1) as u64) as usize;
            if let Some(&backup) = acceptors.get(turn)
                && backup != tx.coordinator
            {
                self.send(backup, msg, out);
            }
        }
    }
}
