//! Errors in building a quorum system.

use synod_core::NodeId;

/// A quorum system that cannot be built as asked: its quorums would not intersect as
/// required, or it would have no quorum at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuorumError {
    /// The member list is empty.
    #[error("a quorum system needs at least one member")]
    NoMembers,
    /// A member appears twice.
    #[error("member {0} appears more than once")]
    DuplicateMember(NodeId),
    /// Read and write quorums could miss each other: r + w must exceed the total.
    #[error(
        "read quorum {read} + write quorum {write} must exceed {total} for every read to see the last write"
    )]
    ReadWriteDisjoint {
        /// Read quorum size (or weight).
        read: u64,
        /// Write quorum size (or weight).
        write: u64,
        /// Members (or total votes).
        total: u64,
    },
    /// Two write quorums could miss each other: 2w must exceed the total.
    #[error("write quorum {write} doubled must exceed {total} so that writes are ordered")]
    WriteWriteDisjoint {
        /// Write quorum size (or weight).
        write: u64,
        /// Members (or total votes).
        total: u64,
    },
    /// A quorum size of zero, or larger than the system.
    #[error("quorum size {size} is outside 1..={total}")]
    SizeOutOfRange {
        /// The size asked for.
        size: u64,
        /// Members (or total votes).
        total: u64,
    },
    /// A member was given zero votes, or the votes overflow.
    #[error("member {0} has an invalid weight (zero, or the total overflows)")]
    InvalidWeight(NodeId),
    /// Too few members for the Byzantine fault bound.
    #[error("{members} members cannot tolerate {faulty} Byzantine faults: need at least {needed}")]
    TooFewForByzantine {
        /// Members given.
        members: usize,
        /// Faults to tolerate.
        faulty: usize,
        /// The least number of members that would do.
        needed: usize,
    },
    /// A grid whose rows are empty or of different lengths.
    #[error("grid rows must be non-empty and all of the same length")]
    NotRectangular,
    /// A masking-quorum register was given a dissemination system.
    #[error("a masking-quorum register needs a masking quorum system (n > 4f)")]
    NotMasking,
    /// The system is too large for an analysis that enumerates subsets.
    #[error("{members} members is more than the {limit} that exhaustive analysis enumerates")]
    TooLargeToEnumerate {
        /// Members in the system.
        members: usize,
        /// The enumeration limit.
        limit: usize,
    },
}
