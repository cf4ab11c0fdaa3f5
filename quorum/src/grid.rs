//! Grid quorums: members laid out in rows and columns.

use synod_core::NodeId;

use crate::error::QuorumError;
use crate::system::{Overlap, QuorumKind, QuorumSystem};
use crate::tally::sorted_members;

/// The grid protocol (Cheung, Ammar & Ahamad 1990): n = rows × cols members in a
/// grid. A read quorum is a *column cover* — one member from every column; a write
/// quorum is a full column plus a column cover.
///
/// Every cover meets every full column, so reads see writes and writes are ordered,
/// while quorums have O(√n) members instead of a majority's n/2: lower load, at the
/// price of tolerating fewer failures (`rows − 1` for reads, `min(rows, cols) − 1`
/// for writes).
///
/// ```
/// use synod_core::NodeId;
/// use synod_quorum::{Grid, QuorumKind, QuorumSystem};
///
/// // 1 2 3
/// // 4 5 6
/// let grid = Grid::new(vec![vec![NodeId(1), NodeId(2), NodeId(3)], vec![NodeId(4), NodeId(5), NodeId(6)]])?;
/// let cover = |id: NodeId| [1, 5, 3].contains(&id.0);
/// assert!(grid.is_quorum(QuorumKind::Read, cover));
/// assert!(!grid.is_quorum(QuorumKind::Write, cover));
/// assert!(grid.is_quorum(QuorumKind::Write, |id| [1, 4, 5, 3].contains(&id.0)));
/// # Ok::<(), synod_quorum::QuorumError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Grid {
    members: Vec<NodeId>,
    /// Row-major: `cells[row * cols + col]`.
    cells: Vec<NodeId>,
    rows: usize,
    cols: usize,
}

impl Grid {
    /// A grid from its rows; a typed error for empty or ragged rows and duplicates.
    pub fn new(rows: Vec<Vec<NodeId>>) -> Result<Self, QuorumError> {
        let cols = rows.first().map_or(0, Vec::len);
        if cols == 0 || rows.iter().any(|row| row.len() != cols) {
            return Err(QuorumError::NotRectangular);
        }
        let cells: Vec<NodeId> = rows.iter().flatten().copied().collect();
        let members = sorted_members(cells.iter().copied())?;
        Ok(Grid {
            members,
            cells,
            rows: rows.len(),
            cols,
        })
    }

    /// Rows and columns.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    fn column(&self, col: usize) -> impl Iterator<Item = NodeId> + '_ {
        (0..self.rows).map(move |row| self.cells[row * self.cols + col])
    }
}

impl QuorumSystem for Grid {
    fn members(&self) -> &[NodeId] {
        &self.members
    }

    fn is_quorum(&self, kind: QuorumKind, has: impl Fn(NodeId) -> bool) -> bool {
        let covered = (0..self.cols).all(|col| self.column(col).any(&has));
        match kind {
            QuorumKind::Read => covered,
            QuorumKind::Write => covered && (0..self.cols).any(|col| self.column(col).all(&has)),
        }
    }

    /// A cover meets a full column in one member; with at least two rows two covers can
    /// otherwise avoid each other. Two write quorums on different columns share the two
    /// members where each one's cover crosses the other's column.
    fn overlap(&self) -> Overlap {
        let n = self.members.len();
        Overlap {
            read_write: if self.rows >= 2 { 1 } else { n },
            write_write: if self.rows >= 2 && self.cols >= 2 {
                2
            } else {
                n
            },
        }
    }

    fn fault_tolerance(&self, kind: QuorumKind) -> usize {
        match kind {
            // Failing a whole column leaves no cover.
            QuorumKind::Read => self.rows - 1,
            // ... and failing one member per column leaves no full column.
            QuorumKind::Write => self.rows.min(self.cols) - 1,
        }
    }

    /// A uniformly random row per column for the cover, and a uniformly random column.
    fn load(&self, kind: QuorumKind) -> f64 {
        let (r, c) = (self.rows as f64, self.cols as f64);
        match kind {
            QuorumKind::Read => 1.0 / r,
            QuorumKind::Write => 1.0 / c + 1.0 / r - 1.0 / (r * c),
        }
    }
}
