//! Size-based read/write quorums, including Flexible Paxos.

use synod_core::NodeId;

use crate::error::QuorumError;
use crate::system::{Overlap, QuorumKind, QuorumSystem, committed_by_size, count_reaches};
use crate::tally::sorted_members;

/// Read (phase-1) quorums of any `read` members and write (phase-2) quorums of any
/// `write` members, with `read + write > n`.
///
/// Flexible Paxos (Howard, Malkhi & Spiegelman 2016) shows that only phase-1 and
/// phase-2 quorums must intersect; two phase-2 quorums need not. So with n = 6 a
/// leader can replicate to 3 (tolerating 3 failures in steady state) if elections
/// collect 4. The same shape is the size-based read/write system of the course notes
/// (read-one/write-all is `read = 1, write = n`).
///
/// ```
/// use synod_core::NodeId;
/// use synod_quorum::{Flexible, QuorumKind, QuorumSystem, QuorumError};
///
/// let fpaxos = Flexible::new((1..=6).map(NodeId), 4, 3)?;
/// assert_eq!(fpaxos.fault_tolerance(QuorumKind::Write), 3);
/// assert_eq!(fpaxos.overlap().read_write, 1);
/// assert!(matches!(
///     Flexible::new((1..=6).map(NodeId), 3, 3),
///     Err(QuorumError::ReadWriteDisjoint { .. })
/// ));
/// # Ok::<(), QuorumError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Flexible {
    members: Vec<NodeId>,
    read: usize,
    write: usize,
}

impl Flexible {
    /// Read quorums of `read` members and write quorums of `write`; a typed error unless
    /// both are in 1..=n and `read + write > n`.
    pub fn new(
        members: impl IntoIterator<Item = NodeId>,
        read: usize,
        write: usize,
    ) -> Result<Self, QuorumError> {
        let members = sorted_members(members)?;
        let n = members.len();
        for size in [read, write] {
            if size == 0 || size > n {
                return Err(QuorumError::SizeOutOfRange {
                    size: size as u64,
                    total: n as u64,
                });
            }
        }
        if read + write <= n {
            return Err(QuorumError::ReadWriteDisjoint {
                read: read as u64,
                write: write as u64,
                total: n as u64,
            });
        }
        Ok(Flexible {
            members,
            read,
            write,
        })
    }

    /// The quorum size for `kind`.
    pub fn size(&self, kind: QuorumKind) -> usize {
        match kind {
            QuorumKind::Read => self.read,
            QuorumKind::Write => self.write,
        }
    }
}

impl QuorumSystem for Flexible {
    fn members(&self) -> &[NodeId] {
        &self.members
    }

    fn is_quorum(&self, kind: QuorumKind, has: impl Fn(NodeId) -> bool) -> bool {
        count_reaches(&self.members, self.size(kind), has)
    }

    fn overlap(&self) -> Overlap {
        let n = self.members.len();
        Overlap {
            read_write: self.read + self.write - n,
            write_write: (2 * self.write).saturating_sub(n),
        }
    }

    fn fault_tolerance(&self, kind: QuorumKind) -> usize {
        self.members.len() - self.size(kind)
    }

    /// Uniform over all quorums of the kind's size.
    fn load(&self, kind: QuorumKind) -> f64 {
        self.size(kind) as f64 / self.members.len() as f64
    }

    fn committed_value(
        &self,
        kind: QuorumKind,
        value: impl Fn(NodeId) -> Option<u64>,
    ) -> Option<u64> {
        committed_by_size(&self.members, self.size(kind), value)
    }
}
