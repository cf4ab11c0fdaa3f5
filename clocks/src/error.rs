//! Errors, split by who can fix them: [`ClockError`] is a caller mistake or a limit
//! the caller ran into; [`DecodeError`] is about bytes that came from somewhere else.

use synod_core::NodeId;

/// An operation on a clock could not be performed. Nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// A counter is at `u64::MAX`; incrementing it would wrap and silently break the
    /// clock condition, so the clock refuses instead.
    #[error("a counter is at u64::MAX and cannot be incremented")]
    Overflow,
    /// Two dense vector clocks were built over different memberships: their positions
    /// name different nodes, so combining them would be meaningless.
    #[error(
        "dense clocks over different memberships ({left} vs {right} members, or different ids)"
    )]
    MembershipMismatch {
        /// Members of the left clock.
        left: usize,
        /// Members of the right clock.
        right: usize,
    },
    /// The node is not in the dense clock's membership.
    #[error("{0} is not a member of this clock's membership")]
    NotMember(NodeId),
    /// An interval-tree-clock stamp with the anonymous (zero) id cannot register
    /// events: it owns no part of the id space. Fork it from a stamp that does.
    #[error("an anonymous ITC stamp cannot record events")]
    AnonymousStamp,
    /// Two interval-tree-clock stamps whose ids overlap were joined: ids must be
    /// disjoint, which `fork` guarantees for stamps descended from one seed.
    #[error("joined ITC stamps have overlapping ids")]
    OverlappingIds,
    /// A hybrid-logical-clock timestamp from a peer is further ahead of the local
    /// physical clock than the configured maximum offset. It was not merged.
    #[error(
        "remote timestamp {remote_physical} is ahead of local physical time {local_physical} by more than the maximum offset {max_offset}"
    )]
    RemoteTooFarAhead {
        /// The physical part of the remote timestamp.
        remote_physical: u64,
        /// The local physical clock when it was received.
        local_physical: u64,
        /// The configured bound.
        max_offset: u64,
    },
    /// A physical time does not fit the 48 bits of a packed hybrid timestamp.
    #[error("physical time {0} does not fit in 48 bits")]
    PhysicalTimeTooLarge(u64),
}

/// Bytes could not be decoded into a clock. Decoders never panic and never allocate
/// more than the input's length justifies.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended in the middle of a value.
    #[error("input ended early")]
    Truncated,
    /// The value decoded, but bytes (or non-zero padding bits) were left over.
    #[error("unexpected trailing data")]
    TrailingData,
    /// A number does not fit where it goes (a counter beyond `u64::MAX`, a varint
    /// longer than ten bytes, a length beyond the input).
    #[error("a number is out of range")]
    OutOfRange,
    /// The tree is nested more deeply than the decoder allows.
    #[error("nesting deeper than {0} levels")]
    TooDeep(usize),
    /// The value is well formed but not in the canonical form the encoder produces
    /// (an unnormalized ITC tree, unsorted or duplicate replicas, a zero counter).
    #[error("not in canonical form: {0}")]
    NotCanonical(&'static str),
}
