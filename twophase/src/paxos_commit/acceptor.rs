//! The acceptor role: one Paxos acceptor for every instance of every transaction.

use super::{Ballot, Message, PaxosActions, PaxosCommitNode, Record, Value};
use crate::plumbing::CommitNode;
use crate::{Outcome, Resource, TxId, Violation};
use std::collections::BTreeMap;
use synod_core::NodeId;

/// An acceptor's state for one transaction: one promise covering every instance
/// (phase 1 runs for all instances of a transaction at once), and what it accepted
/// per instance.
#[derive(Clone, Debug)]
pub(super) struct AcceptorTx {
    pub(super) rms: Vec<NodeId>,
    pub(super) promised: Ballot,
    pub(super) accepted: BTreeMap<NodeId, (Ballot, Value)>,
}

impl AcceptorTx {
    pub(super) fn new(rms: Vec<NodeId>) -> Self {
        AcceptorTx {
            rms,
            promised: Ballot::FAST,
            accepted: BTreeMap::new(),
        }
    }
}

/// Where phase 2b messages of `ballot` go: to the transaction's coordinator for the
/// fast ballot, to the ballot's leader otherwise.
pub(super) fn learner(tx: TxId, ballot: Ballot) -> NodeId {
    if ballot == Ballot::FAST {
        tx.coordinator
    } else {
        ballot.leader
    }
}

impl<R: Resource> PaxosCommitNode<R> {
    fn is_acceptor(&self) -> bool {
        self.config.acceptors.contains(&self.config.id)
    }

    /// The acceptor's entry for `tx`, created if there is room.
    fn acceptor_entry(&mut self, tx: TxId, rms: &[NodeId]) -> Option<&mut AcceptorTx> {
        if !self.acceptor.contains_key(&tx) && self.acceptor.len() >= self.config.active_max {
            self.stats.ignored += 1;
            return None;
        }
        Some(
            self.acceptor
                .entry(tx)
                .or_insert_with(|| AcceptorTx::new(rms.to_vec())),
        )
    }

    /// The acceptor's entry for `tx` if a message of `ballot` from `from` may act on
    /// it: a decided transaction is answered with its outcome instead, a ballot below
    /// the promise with a rejection, and a full acceptor ignores new transactions.
    fn admit(
        &mut self,
        from: NodeId,
        tx: TxId,
        rms: &[NodeId],
        ballot: Ballot,
        out: &mut PaxosActions<R>,
    ) -> Option<&mut AcceptorTx> {
        if let Some(outcome) = self.learned.get(&tx).copied() {
            self.send(from, Message::Decision { tx, outcome }, out);
            return None;
        }
        let promised = self.acceptor_entry(tx, rms)?.promised;
        if ballot < promised {
            self.send(from, Message::Reject { tx, promised }, out);
            return None;
        }
        self.acceptor.get_mut(&tx)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_phase2a(
        &mut self,
        from: NodeId,
        tx: TxId,
        rms: Vec<NodeId>,
        instance: NodeId,
        ballot: Ballot,
        value: Value,
        out: &mut PaxosActions<R>,
    ) {
        if !self.is_acceptor()
            || !rms.contains(&instance)
            || rms.len() > self.config.participants_max
        {
            self.stats.ignored += 1;
            return;
        }
        if ballot == Ballot::FAST && from != instance {
            // Only the resource manager itself proposes in ballot 0.
            self.violation(tx, from, Violation::ImpersonatedProposal, out);
            return;
        }
        let Some(entry) = self.admit(from, tx, &rms, ballot, out) else {
            return;
        };
        match entry.accepted.get(&instance) {
            // Never two values in one ballot; a duplicate gets its 2b again.
            Some(&(b, v)) if b == ballot && v != value => {
                self.stats.ignored += 1;
                return;
            }
            Some(&(b, _)) if b == ballot => {}
            _ => {
                entry.promised = ballot;
                entry.accepted.insert(instance, (ballot, value));
                out.persist(Record::Accepted {
                    tx,
                    rms,
                    instance,
                    ballot,
                    value,
                });
            }
        }
        let msg = Message::Phase2b {
            tx,
            instance,
            ballot,
            value,
        };
        self.send(learner(tx, ballot), msg, out);
    }

    pub(super) fn on_phase1a(
        &mut self,
        from: NodeId,
        tx: TxId,
        rms: Vec<NodeId>,
        ballot: Ballot,
        out: &mut PaxosActions<R>,
    ) {
        if !self.is_acceptor()
            || ballot == Ballot::FAST
            || from != ballot.leader
            || rms.is_empty()
            || rms.len() > self.config.participants_max
        {
            self.stats.ignored += 1;
            return;
        }
        let Some(entry) = self.admit(from, tx, &rms, ballot, out) else {
            return;
        };
        let fresh = ballot > entry.promised;
        entry.promised = ballot;
        let accepted = entry
            .accepted
            .iter()
            .map(|(i, (b, v))| (*i, *b, *v))
            .collect();
        if fresh {
            out.persist(Record::Promised { tx, ballot });
        }
        self.send(
            from,
            Message::Phase1b {
                tx,
                ballot,
                accepted,
            },
            out,
        );
    }

    /// The acceptor learns the outcome: its instance state is no longer needed.
    pub(super) fn acceptor_learn(&mut self, tx: TxId, outcome: Outcome, out: &mut PaxosActions<R>) {
        // Only for transactions this acceptor holds state for: a decision about an
        // unknown transaction is not evidence of anything it needs to remember.
        if !self.is_acceptor() || !self.acceptor.contains_key(&tx) {
            return;
        }
        self.acceptor.remove(&tx);
        self.remember_learned(tx, outcome);
        self.background(Record::Learned { tx, outcome }, out);
    }
}
