//! Byzantine quorum systems (Malkhi & Reiter 1998) and PBFT's certificates.

use synod_core::NodeId;

use crate::error::QuorumError;
use crate::system::{Overlap, QuorumKind, QuorumSystem, committed_by_size, count_reaches};
use crate::tally::sorted_members;

/// What a Byzantine quorum system guarantees about the overlap of two quorums.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ByzantineKind {
    /// Any two quorums share at least f + 1 members, so at least one correct one:
    /// enough for self-verifying (signed) data, and for PBFT's certificates.
    /// Needs n > 3f; quorums of ⌈(n + f + 1)/2⌉.
    Dissemination,
    /// Any two quorums share at least 2f + 1 members, so the correct members in the
    /// overlap (f + 1) outvote the faulty ones: enough for unsigned data read by
    /// "f + 1 servers vouch for it". Needs n > 4f; quorums of ⌈(n + 2f + 1)/2⌉.
    Masking,
}

/// A size-based Byzantine quorum system tolerating `f` arbitrarily faulty members.
///
/// Both kinds of quorum have the same size; quorums stay available while f members
/// are silent (n − f ≥ q). For n = 3f + 1 a dissemination quorum is PBFT's 2f + 1.
///
/// ```
/// use synod_core::NodeId;
/// use synod_quorum::{Byzantine, QuorumError, QuorumSystem};
///
/// let pbft = Byzantine::pbft((1..=4).map(NodeId))?; // f = 1
/// assert_eq!((pbft.faulty(), pbft.size()), (1, 3));
/// assert_eq!(pbft.overlap().write_write, 2); // f + 1
///
/// let masking = Byzantine::masking((1..=5).map(NodeId), 1)?; // q = 3f + 1
/// assert_eq!(masking.size(), 4);
/// assert_eq!(masking.overlap().read_write, 3); // 2f + 1
/// assert!(matches!(
///     Byzantine::masking((1..=4).map(NodeId), 1),
///     Err(QuorumError::TooFewForByzantine { needed: 5, .. })
/// ));
/// # Ok::<(), QuorumError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Byzantine {
    members: Vec<NodeId>,
    faulty: usize,
    kind: ByzantineKind,
    size: usize,
}

impl Byzantine {
    /// A dissemination quorum system: n ≥ 3f + 1.
    pub fn dissemination(
        members: impl IntoIterator<Item = NodeId>,
        faulty: usize,
    ) -> Result<Self, QuorumError> {
        Self::new(members, faulty, ByzantineKind::Dissemination)
    }

    /// A masking quorum system: n ≥ 4f + 1.
    pub fn masking(
        members: impl IntoIterator<Item = NodeId>,
        faulty: usize,
    ) -> Result<Self, QuorumError> {
        Self::new(members, faulty, ByzantineKind::Masking)
    }

    /// PBFT's quorums: the most faults n members tolerate, f = ⌊(n − 1)/3⌋, with
    /// dissemination quorums (2f + 1 when n = 3f + 1).
    pub fn pbft(members: impl IntoIterator<Item = NodeId>) -> Result<Self, QuorumError> {
        let members = sorted_members(members)?;
        let faulty = (members.len() - 1) / 3;
        Self::new(members, faulty, ByzantineKind::Dissemination)
    }

    fn new(
        members: impl IntoIterator<Item = NodeId>,
        faulty: usize,
        kind: ByzantineKind,
    ) -> Result<Self, QuorumError> {
        let members = sorted_members(members)?;
        let n = members.len();
        let per_fault = match kind {
            ByzantineKind::Dissemination => 3,
            ByzantineKind::Masking => 4,
        };
        let needed = faulty.saturating_mul(per_fault).saturating_add(1);
        if n < needed {
            return Err(QuorumError::TooFewForByzantine {
                members: n,
                faulty,
                needed,
            });
        }
        // q = ⌈(n + (per_fault − 2)·f + 1) / 2⌉: the least size whose pairwise overlap
        // 2q − n reaches f + 1 (dissemination) or 2f + 1 (masking).
        let size = (n + (per_fault - 2) * faulty + 1).div_ceil(2);
        debug_assert!(n - faulty >= size, "available while f members are silent");
        Ok(Byzantine {
            members,
            faulty,
            kind,
            size,
        })
    }

    /// The number of Byzantine members tolerated, f.
    pub fn faulty(&self) -> usize {
        self.faulty
    }

    /// Dissemination or masking.
    pub fn kind(&self) -> ByzantineKind {
        self.kind
    }

    /// The quorum size.
    pub fn size(&self) -> usize {
        self.size
    }

    /// f + 1: the number of matching replies that must include a correct member (PBFT's
    /// weak certificate; the masking register's "vouched for" threshold).
    pub fn vouch(&self) -> usize {
        self.faulty + 1
    }
}

impl QuorumSystem for Byzantine {
    fn members(&self) -> &[NodeId] {
        &self.members
    }

    fn is_quorum(&self, _kind: QuorumKind, has: impl Fn(NodeId) -> bool) -> bool {
        count_reaches(&self.members, self.size, has)
    }

    fn overlap(&self) -> Overlap {
        let both = 2 * self.size - self.members.len();
        Overlap {
            read_write: both,
            write_write: both,
        }
    }

    fn fault_tolerance(&self, _kind: QuorumKind) -> usize {
        self.members.len() - self.size
    }

    fn load(&self, _kind: QuorumKind) -> f64 {
        self.size as f64 / self.members.len() as f64
    }

    fn committed_value(
        &self,
        _kind: QuorumKind,
        value: impl Fn(NodeId) -> Option<u64>,
    ) -> Option<u64> {
        committed_by_size(&self.members, self.size, value)
    }
}
