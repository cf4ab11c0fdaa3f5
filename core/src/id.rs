//! Node identity.

use core::fmt;

/// The identity of one node in a cluster.
///
/// Ids are chosen by the application and never reused for a different node: a
/// protocol may keep state (votes, acknowledgements, dots) keyed by id long after the
/// node left. `NodeId(0)` is an ordinary id; Synod reserves no value.
///
/// ```
/// use synod_core::NodeId;
/// let a = NodeId(1);
/// assert!(a < NodeId(2));
/// assert_eq!(a.to_string(), "n1");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct NodeId(pub u64);

impl NodeId {
    /// The raw number behind the id.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

impl From<u64> for NodeId {
    fn from(raw: u64) -> Self {
        NodeId(raw)
    }
}
