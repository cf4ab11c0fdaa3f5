//! Registers: last-writer-wins with a deterministic tie-break, and the dot-based
//! multi-value register.

use crate::kernel::lattice_via_kernel;
use crate::{CrdtError, DotKernel, Lattice};
use synod_core::NodeId;

/// One write of an [`LwwReg`]: ordered by timestamp, then writer id, then value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LwwWrite<V> {
    /// The writer's timestamp (a hybrid logical clock reading, say).
    pub timestamp: u64,
    /// The writer: breaks timestamp ties.
    pub replica: NodeId,
    /// The value written.
    pub value: V,
}

/// A last-writer-wins register: the write with the largest timestamp wins; equal
/// timestamps are broken by replica id, and (should one replica reuse a timestamp) by
/// the value itself, so join is a total-order maximum and never diverges.
///
/// ```
/// use synod_crdt::{Lattice, LwwReg};
/// use synod_core::NodeId;
/// let mut x = LwwReg::new();
/// let mut y = LwwReg::new();
/// x.set(NodeId(1), 10, "a");
/// y.set(NodeId(2), 10, "b");       // same timestamp: replica 2 wins the tie
/// x.join(&y);
/// assert_eq!(x.get(), Some(&"b"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LwwReg<V> {
    write: Option<LwwWrite<V>>,
}

impl<V> Default for LwwReg<V> {
    fn default() -> Self {
        LwwReg { write: None }
    }
}

impl<V: Ord + Clone> LwwReg<V> {
    /// The register nobody wrote.
    pub fn new() -> Self {
        Self::default()
    }

    /// Write `value` at `timestamp`; returns the delta (the write itself). A write
    /// older than the current one changes nothing.
    pub fn set(&mut self, replica: NodeId, timestamp: u64, value: V) -> LwwReg<V> {
        let delta = LwwReg {
            write: Some(LwwWrite {
                timestamp,
                replica,
                value,
            }),
        };
        self.join_reg(&delta);
        delta
    }

    /// The winning value.
    pub fn get(&self) -> Option<&V> {
        self.write.as_ref().map(|w| &w.value)
    }

    /// The winning write.
    pub fn write(&self) -> Option<&LwwWrite<V>> {
        self.write.as_ref()
    }

    fn join_reg(&mut self, other: &Self) {
        if let Some(theirs) = &other.write
            && self.write.as_ref().is_none_or(|mine| theirs > mine)
        {
            self.write = Some(theirs.clone());
        }
    }
}

impl<V: Ord + Clone + std::fmt::Debug> Lattice for LwwReg<V> {
    fn join(&mut self, other: &Self) {
        self.join_reg(other);
    }
    fn frontier(&self, replica: NodeId) -> u64 {
        // The timestamp of the write, if `replica` made it.
        self.write
            .as_ref()
            .filter(|w| w.replica == replica)
            .map_or(0, |w| w.timestamp)
    }
}

/// A multi-value register on dots: a write replaces exactly the values it has seen,
/// so concurrent writes survive side by side until a later write supersedes them.
///
/// ```
/// use synod_crdt::{Lattice, MvReg};
/// use synod_core::NodeId;
/// let mut x = MvReg::new();
/// let mut y = MvReg::new();
/// x.set(NodeId(1), "a")?;
/// y.set(NodeId(2), "b")?;
/// x.join(&y);                          // concurrent: both survive
/// assert_eq!(x.values().collect::<Vec<_>>(), [&"a", &"b"]);
/// x.set(NodeId(1), "c")?;              // a write that saw both replaces both
/// assert_eq!(x.values().collect::<Vec<_>>(), [&"c"]);
/// # Ok::<(), synod_crdt::CrdtError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MvReg<V> {
    kernel: DotKernel<V>,
}

impl<V> Default for MvReg<V> {
    fn default() -> Self {
        MvReg {
            kernel: DotKernel::default(),
        }
    }
}

impl<V: Clone> MvReg<V> {
    /// The register nobody wrote.
    pub fn new() -> Self {
        Self::default()
    }

    /// Write `value`, superseding every value this replica has seen; returns the delta.
    ///
    /// # Errors
    /// [`CrdtError::Overflow`] when `replica`'s dots are exhausted.
    pub fn set(&mut self, replica: NodeId, value: V) -> Result<MvReg<V>, CrdtError> {
        let kernel = self.kernel.replace_where(replica, value, |_| true)?;
        Ok(MvReg { kernel })
    }

    /// Clear the register (the values seen); returns the delta.
    pub fn clear(&mut self) -> MvReg<V> {
        MvReg {
            kernel: self.kernel.remove_all(),
        }
    }

    /// The concurrent values, in dot order.
    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.kernel.values()
    }
}

lattice_via_kernel!(MvReg<V>, [V: Clone + PartialEq + std::fmt::Debug]);
