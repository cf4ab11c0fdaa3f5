//! The one causality vocabulary every clock in this crate answers in.

use core::cmp::Ordering;

/// How two clock values relate under happened-before.
///
/// `Before` means the left value's history is strictly contained in the right's (the
/// left happened before the right); `Concurrent` means neither contains the other.
///
/// ```
/// use synod_clocks::Causality;
/// use core::cmp::Ordering;
/// assert_eq!(Causality::Before.reverse(), Causality::After);
/// assert_eq!(Causality::Concurrent.to_partial_ord(), None);
/// assert_eq!(Causality::from_partial_ord(Some(Ordering::Equal)), Causality::Equal);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Causality {
    /// Left happened before right.
    Before,
    /// Left happened after right.
    After,
    /// Same history.
    Equal,
    /// Neither happened before the other.
    Concurrent,
}

impl Causality {
    /// The relation seen from the other side.
    pub const fn reverse(self) -> Causality {
        match self {
            Causality::Before => Causality::After,
            Causality::After => Causality::Before,
            other => other,
        }
    }

    /// `Some(Less)`, `Some(Greater)`, `Some(Equal)` or `None` for concurrent: what
    /// `PartialOrd::partial_cmp` returns for clocks.
    pub const fn to_partial_ord(self) -> Option<Ordering> {
        match self {
            Causality::Before => Some(Ordering::Less),
            Causality::After => Some(Ordering::Greater),
            Causality::Equal => Some(Ordering::Equal),
            Causality::Concurrent => None,
        }
    }

    /// The inverse of [`to_partial_ord`](Causality::to_partial_ord).
    pub const fn from_partial_ord(ordering: Option<Ordering>) -> Causality {
        match ordering {
            Some(Ordering::Less) => Causality::Before,
            Some(Ordering::Greater) => Causality::After,
            Some(Ordering::Equal) => Causality::Equal,
            None => Causality::Concurrent,
        }
    }

    /// Combine "some entry is smaller" and "some entry is larger" flags from a
    /// pointwise comparison into a relation. Every vector comparison here ends in it.
    #[inline]
    pub(crate) const fn from_flags(left_smaller: bool, left_larger: bool) -> Causality {
        match (left_smaller, left_larger) {
            (false, false) => Causality::Equal,
            (true, false) => Causality::Before,
            (false, true) => Causality::After,
            (true, true) => Causality::Concurrent,
        }
    }

    /// Whether the left value is covered by the right one (`Before` or `Equal`).
    pub const fn is_le(self) -> bool {
        matches!(self, Causality::Before | Causality::Equal)
    }
}
