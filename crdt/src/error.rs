//! Errors, split by who can fix them: [`CrdtError`] is a local operation the caller
//! asked for and the replica refused (nothing changed); [`InvalidState`] is about a
//! state or delta that came from somewhere else and was not merged.

use synod_clocks::Dot;
use synod_core::NodeId;

/// A local mutation was refused. The replica is unchanged and no delta exists.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CrdtError {
    /// A counter (or a dot counter) is at its maximum: incrementing it would wrap,
    /// and a wrapped counter would make replicas silently disagree.
    #[error("a counter would overflow")]
    Overflow,
    /// A bounded counter was asked to decrement or transfer more than the rights
    /// this replica holds.
    #[error("{replica} holds {available} rights, {requested} requested")]
    InsufficientRights {
        /// The replica that asked.
        replica: NodeId,
        /// Rights it holds now.
        available: u128,
        /// Rights the operation needs.
        requested: u64,
    },
    /// A transfer of rights from a replica to itself means nothing.
    #[error("a replica cannot transfer rights to itself")]
    SelfTransfer,
    /// The replica named is not a peer of this node.
    #[error("{0} is not a peer")]
    UnknownReplica(NodeId),
    /// A retirement states a final frontier below what this replica already holds
    /// of the retired replica: freezing there would refuse values everyone holds.
    #[error("{replica} retired at {last}, but {held} is held here")]
    RetiredBehind {
        /// The replica being retired.
        replica: NodeId,
        /// The frontier the retirement states.
        last: u64,
        /// The frontier held here.
        held: u64,
    },
}

/// A state or delta received from a peer (or decoded from bytes) breaks an invariant
/// of its type. It was not merged; merging it could make replicas diverge.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidState {
    /// A dot is stored but not covered by the value's own causal context: it is
    /// "from the future" of the context that claims to summarise it.
    #[error("dot {0} is stored but not in the causal context")]
    DotNotInContext(Dot),
    /// A register or element carries no dots at all (an empty sibling set).
    #[error("an entry carries no dots")]
    EmptyEntry,
    /// The value is well formed but not in the canonical form local mutators
    /// produce (unsorted entries, zero entries), so equality would misbehave.
    #[error("not in canonical form: {0}")]
    NotCanonical(&'static str),
    /// A replica that is not a member.
    #[error("{0} is not a member")]
    UnknownReplica(NodeId),
    /// A replica that has been retired appears with new information.
    #[error("{0} has been retired")]
    Retired(NodeId),
}
