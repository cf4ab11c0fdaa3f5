//! Flags: enable-wins and disable-wins.

use crate::kernel::lattice_via_kernel;
use crate::{CrdtError, DotKernel};
use synod_core::NodeId;

/// An enable-wins flag: enabling adds a dot, disabling removes the dots it has seen,
/// so an enable concurrent with a disable survives. Starts disabled.
///
/// ```
/// use synod_crdt::{EWFlag, Lattice};
/// use synod_core::NodeId;
/// let mut x = EWFlag::new();
/// x.enable(NodeId(1))?;
/// let mut y = x.clone();
/// y.disable();
/// x.enable(NodeId(1))?;     // concurrent with the disable
/// x.join(&y);
/// assert!(x.get());
/// # Ok::<(), synod_crdt::CrdtError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EWFlag {
    kernel: DotKernel<()>,
}

impl EWFlag {
    /// A disabled flag.
    pub fn new() -> Self {
        Self::default()
    }
    /// Enable; returns the delta.
    ///
    /// # Errors
    /// [`CrdtError::Overflow`].
    pub fn enable(&mut self, replica: NodeId) -> Result<EWFlag, CrdtError> {
        Ok(EWFlag {
            kernel: self.kernel.replace_where(replica, (), |_| true)?,
        })
    }
    /// Disable (the enables seen); returns the delta.
    pub fn disable(&mut self) -> EWFlag {
        EWFlag {
            kernel: self.kernel.remove_all(),
        }
    }
    /// Whether the flag is enabled.
    pub fn get(&self) -> bool {
        !self.kernel.is_empty()
    }
}

lattice_via_kernel!(EWFlag);

/// A disable-wins flag: enable and disable both write a dot-tagged token replacing
/// the tokens seen; the flag is enabled only when it has tokens and all are enables,
/// so a disable concurrent with an enable wins. Starts disabled.
///
/// ```
/// use synod_crdt::{DWFlag, Lattice};
/// use synod_core::NodeId;
/// let mut x = DWFlag::new();
/// x.enable(NodeId(1))?;
/// let mut y = x.clone();
/// y.disable(NodeId(2))?;
/// x.enable(NodeId(1))?;     // concurrent with the disable
/// x.join(&y);
/// assert!(!x.get());
/// # Ok::<(), synod_crdt::CrdtError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DWFlag {
    /// `true` tokens enable, `false` tokens disable.
    kernel: DotKernel<bool>,
}

impl DWFlag {
    /// A disabled flag.
    pub fn new() -> Self {
        Self::default()
    }
    /// Enable; returns the delta.
    ///
    /// # Errors
    /// [`CrdtError::Overflow`].
    pub fn enable(&mut self, replica: NodeId) -> Result<DWFlag, CrdtError> {
        Ok(DWFlag {
            kernel: self.kernel.replace_where(replica, true, |_| true)?,
        })
    }
    /// Disable; returns the delta.
    ///
    /// # Errors
    /// [`CrdtError::Overflow`].
    pub fn disable(&mut self, replica: NodeId) -> Result<DWFlag, CrdtError> {
        Ok(DWFlag {
            kernel: self.kernel.replace_where(replica, false, |_| true)?,
        })
    }
    /// Whether the flag is enabled.
    pub fn get(&self) -> bool {
        !self.kernel.is_empty() && self.kernel.values().all(|t| *t)
    }
}

lattice_via_kernel!(DWFlag);
