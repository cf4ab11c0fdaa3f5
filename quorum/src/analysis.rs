//! Checking a quorum system's claims by enumerating its quorums.
//!
//! Every system states its overlap, fault tolerance and load by formula. For systems
//! of up to [`ENUMERATION_LIMIT`] members this module derives the same facts from
//! nothing but [`QuorumSystem::is_quorum`], by enumerating all 2ⁿ subsets — a proof by
//! exhaustion that the formulas (and the quorum test itself) are right. The test suite
//! compares the two for every system shape that fits.

use synod_core::NodeId;

use crate::error::QuorumError;
use crate::system::{Overlap, QuorumKind, QuorumSystem};

/// The most members [`analyze`] enumerates (2¹⁴ subsets, and pairs of minimal quorums).
pub const ENUMERATION_LIMIT: usize = 14;

/// The most members [`uniform_minimal_load`] enumerates.
const LOAD_ENUMERATION_LIMIT: usize = 20;

/// What enumeration found about one kind of quorum.
#[derive(Clone, Debug, PartialEq)]
pub struct KindAnalysis {
    /// How many minimal quorums there are.
    pub minimal_quorums: usize,
    /// The fewest members in any quorum.
    pub smallest: usize,
    /// The most failures after which a quorum survives.
    pub fault_tolerance: usize,
    /// The load of the uniform strategy over minimal quorums.
    pub load: f64,
}

/// What enumeration found about a whole system.
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    /// The read quorums.
    pub read: KindAnalysis,
    /// The write quorums.
    pub write: KindAnalysis,
    /// The least overlaps actually present.
    pub overlap: Overlap,
}

/// Enumerate every subset of `system`'s members and report what holds.
///
/// ```
/// use synod_core::NodeId;
/// use synod_quorum::{analysis, Majority, QuorumSystem};
///
/// let five = Majority::new((1..=5).map(NodeId))?;
/// let found = analysis::analyze(&five)?;
/// assert_eq!(found.overlap, five.overlap());
/// assert_eq!(found.write.minimal_quorums, 10); // C(5, 3)
/// # Ok::<(), synod_quorum::QuorumError>(())
/// ```
pub fn analyze<Q: QuorumSystem>(system: &Q) -> Result<Analysis, QuorumError> {
    let n = system.members().len();
    if n > ENUMERATION_LIMIT {
        return Err(QuorumError::TooLargeToEnumerate {
            members: n,
            limit: ENUMERATION_LIMIT,
        });
    }
    let read = minimal_quorums(system, QuorumKind::Read);
    let write = minimal_quorums(system, QuorumKind::Write);
    // The least overlap over all quorums is reached by minimal ones: shrinking a
    // quorum never increases its overlap with another.
    let least = |a: &[u32], b: &[u32]| {
        a.iter()
            .flat_map(|x| b.iter().map(move |y| (x & y).count_ones() as usize))
            .min()
            .unwrap_or(0)
    };
    let overlap = Overlap {
        read_write: least(&read, &write),
        write_write: least(&write, &write),
    };
    Ok(Analysis {
        read: describe(system, QuorumKind::Read, &read),
        write: describe(system, QuorumKind::Write, &write),
        overlap,
    })
}

/// The load of the uniform strategy over minimal quorums of `kind`: the largest
/// fraction of minimal quorums any one member is in.
pub fn uniform_minimal_load<Q: QuorumSystem>(
    system: &Q,
    kind: QuorumKind,
) -> Result<f64, QuorumError> {
    let n = system.members().len();
    if n > LOAD_ENUMERATION_LIMIT {
        return Err(QuorumError::TooLargeToEnumerate {
            members: n,
            limit: LOAD_ENUMERATION_LIMIT,
        });
    }
    Ok(load_of(n, &minimal_quorums(system, kind)))
}

fn describe<Q: QuorumSystem>(system: &Q, kind: QuorumKind, minimal: &[u32]) -> KindAnalysis {
    let n = system.members().len();
    KindAnalysis {
        minimal_quorums: minimal.len(),
        smallest: minimal
            .iter()
            .map(|q| q.count_ones() as usize)
            .min()
            .unwrap_or(0),
        fault_tolerance: fault_tolerance(system, kind),
        load: load_of(n, minimal),
    }
}

fn load_of(n: usize, minimal: &[u32]) -> f64 {
    if minimal.is_empty() {
        return 1.0;
    }
    let busiest = (0..n)
        .map(|bit| minimal.iter().filter(|&&q| q & (1 << bit) != 0).count())
        .max()
        .unwrap_or(0);
    busiest as f64 / minimal.len() as f64
}

/// Whether the members in bit set `subset` (bit i = i-th member) include a quorum.
fn holds<Q: QuorumSystem>(system: &Q, kind: QuorumKind, subset: u32) -> bool {
    let members: &[NodeId] = system.members();
    system.is_quorum(kind, |id| {
        members
            .binary_search(&id)
            .is_ok_and(|bit| subset & (1 << bit) != 0)
    })
}

/// Quorums from which no member can be removed.
fn minimal_quorums<Q: QuorumSystem>(system: &Q, kind: QuorumKind) -> Vec<u32> {
    let n = system.members().len();
    (0..1u32 << n)
        .filter(|&subset| {
            holds(system, kind, subset)
                && (0..n).all(|bit| {
                    subset & (1 << bit) == 0 || !holds(system, kind, subset & !(1 << bit))
                })
        })
        .collect()
}

/// One fewer than the smallest set of failures that leaves no quorum alive.
fn fault_tolerance<Q: QuorumSystem>(system: &Q, kind: QuorumKind) -> usize {
    let n = system.members().len();
    let all = (1u32 << n) - 1;
    (0..=all)
        .filter(|&failed| !holds(system, kind, all & !failed))
        .map(|failed| failed.count_ones() as usize)
        .min()
        .map_or(n, |smallest| smallest.saturating_sub(1))
}
