//! A register over Byzantine masking quorums (Malkhi & Reiter 1998).

use bytes::Bytes;
use synod_core::NodeId;

use super::RegisterActions;
use super::message::{RegisterEvent, RegisterMessage, RequestError, Tag, Tagged};
use super::phase::Phase;
use crate::byzantine::{Byzantine, ByzantineKind};
use crate::error::QuorumError;
use crate::round::Round;
use crate::system::QuorumSystem;

/// A client of a register whose servers may be Byzantine: up to f of them may answer
/// anything — forged values, inflated timestamps, silence.
///
/// The servers are plain [`RegisterServer`](super::RegisterServer)s; all the defence
/// is in the client, over a *masking* quorum system (n ≥ 4f + 1, quorums of
/// ⌈(n + 2f + 1)/2⌉ that overlap in at least 2f + 1 servers):
///
/// - **read**: query a quorum; believe only the (tag, value) pairs that at least f + 1
///   servers report identically — at least one of them is correct, so the pair was
///   really written — and return the highest; if none is vouched for, the initial
///   (empty) value. The last complete write's quorum overlaps the read's in 2f + 1
///   servers, f + 1 of them correct and up to date, so that write is always vouched.
/// - **write**: query a quorum for the highest *vouched* timestamp (so a liar cannot
///   make the writer skip ahead to `u64::MAX`), then store one above it at a quorum.
///
/// Reads do not write back: the register is *safe*, and *regular* while writes do not
/// overlap (Malkhi & Reiter's guarantees); a read concurrent with a write may return
/// the old value. It never returns a value nobody wrote.
///
/// ```
/// use synod_core::NodeId;
/// use synod_quorum::{Byzantine, QuorumError};
/// use synod_quorum::register::MaskingClient;
///
/// let servers = Byzantine::masking((1..=5).map(NodeId), 1)?;
/// let client = MaskingClient::new(NodeId(10), servers)?;
/// assert_eq!(client.vouch(), 2);
/// // Dissemination quorums overlap too little for unsigned values.
/// let too_weak = Byzantine::dissemination((1..=4).map(NodeId), 1)?;
/// assert!(matches!(MaskingClient::new(NodeId(10), too_weak), Err(QuorumError::NotMasking)));
/// # Ok::<(), QuorumError>(())
/// ```
#[derive(Clone, Debug)]
pub struct MaskingClient {
    id: NodeId,
    servers: Byzantine,
    retransmit_ticks: u32,
    next_op: u64,
    /// While storing: the tag being written.
    phase: Phase<Tag>,
}

impl MaskingClient {
    /// A client of the register on `servers`, which must be a masking system.
    pub fn new(id: NodeId, servers: Byzantine) -> Result<Self, QuorumError> {
        if servers.kind() != ByzantineKind::Masking {
            return Err(QuorumError::NotMasking);
        }
        Ok(MaskingClient {
            id,
            servers,
            retransmit_ticks: 5,
            next_op: 0,
            phase: Phase::Idle,
        })
    }

    /// This client's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// f + 1: how many servers must report a value for a read to believe it.
    pub fn vouch(&self) -> usize {
        self.servers.vouch()
    }

    /// Whether an operation is running.
    pub fn is_busy(&self) -> bool {
        self.phase.is_busy()
    }

    /// Start a read ([`RegisterEvent::Read`] when done).
    pub fn read(&mut self, out: &mut RegisterActions) {
        self.query(None, out);
    }

    /// Start a write ([`RegisterEvent::Written`] when done).
    pub fn write(&mut self, value: Bytes, out: &mut RegisterActions) {
        self.query(Some(value), out);
    }

    /// Count a tick: retransmit to silent servers.
    pub fn on_tick(&mut self, out: &mut RegisterActions) {
        self.phase.on_tick(self.retransmit_ticks, out);
    }

    /// Handle a server's reply; each server is heard once per round.
    pub fn on_message(&mut self, from: NodeId, msg: RegisterMessage, out: &mut RegisterActions) {
        if !self.phase.on_reply(from, msg, &self.servers) {
            return;
        }
        match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Query { round, write } => self.query_done(round, write, out),
            Phase::Store { round, then: tag } => {
                out.emit(RegisterEvent::Written { op: round.op, tag })
            }
            Phase::Idle => {}
        }
    }

    fn query(&mut self, write: Option<Bytes>, out: &mut RegisterActions) {
        if let Some(op) = self.phase.begin(&mut self.next_op, out) {
            self.phase = Phase::query(op, write, self.servers.members(), out);
        }
    }

    fn query_done(
        &mut self,
        round: Round<Tagged, RegisterMessage>,
        write: Option<Bytes>,
        out: &mut RegisterActions,
    ) {
        let vouched = self.highest_vouched(&round);
        let op = round.op;
        let Some(value) = write else {
            out.emit(RegisterEvent::Read { op, read: vouched });
            return;
        };
        let Some(timestamp) = vouched.tag.timestamp.checked_add(1) else {
            out.emit(RegisterEvent::Rejected(RequestError::TimestampExhausted));
            return;
        };
        let tag = Tag {
            timestamp,
            writer: self.id,
        };
        let stored = Tagged { tag, value };
        self.phase = Phase::store(op, stored, tag, self.servers.members(), out);
    }

    /// The highest-tagged pair reported identically by at least f + 1 servers.
    fn highest_vouched(&self, round: &Round<Tagged, RegisterMessage>) -> Tagged {
        let replies: Vec<&Tagged> = round.replies.replies().map(|(_, stored)| stored).collect();
        replies
            .iter()
            .filter(|candidate| {
                replies.iter().filter(|other| other == candidate).count() >= self.vouch()
            })
            .max_by_key(|candidate| candidate.tag)
            .map(|&stored| stored.clone())
            .unwrap_or_default()
    }
}
