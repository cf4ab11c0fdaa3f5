//! The dot kernel: values tagged with unique dots, plus the causal context that says
//! which dots this replica has ever seen (so a missing dot it has seen means
//! "removed", and a missing dot it has not seen means "not yet arrived").

use crate::{CrdtError, InvalidState, Lattice};
use std::collections::BTreeMap;
use synod_clocks::{CausalContext, Dot, VersionVector};
use synod_core::NodeId;

/// Dot-tagged values with a causal context (Almeida, Shoker, Baquero 2018, §6).
///
/// Join keeps a dot if both sides hold it, or if one side holds it and the other has
/// not seen it; a dot one side has seen but dropped is gone. The context is joined.
/// The kernel backs the multi-value register, the flags and the remove-wins set.
///
/// ```
/// use synod_crdt::{DotKernel, Lattice};
/// use synod_core::NodeId;
/// let mut x: DotKernel<&str> = DotKernel::new();
/// let add = x.add(NodeId(1), "v")?;
/// let mut y = x.clone();
/// let removal = y.remove_all();     // y saw the dot, so dropping it is a removal
/// x.join(&removal);
/// assert!(x.is_empty());
/// let mut z = DotKernel::new();
/// z.join(&add);
/// z.join(&removal);                 // in any order
/// assert_eq!(z, x);
/// # Ok::<(), synod_crdt::CrdtError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DotKernel<V> {
    entries: BTreeMap<Dot, V>,
    context: CausalContext,
}

impl<V> Default for DotKernel<V> {
    fn default() -> Self {
        DotKernel {
            entries: BTreeMap::new(),
            context: CausalContext::new(),
        }
    }
}

impl<V: Clone> DotKernel<V> {
    /// The empty kernel with an empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// The live (dot, value) pairs, in dot order.
    pub fn iter(&self) -> impl Iterator<Item = (Dot, &V)> + '_ {
        self.entries.iter().map(|(d, v)| (*d, v))
    }

    /// The live values, in dot order.
    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.entries.values()
    }

    /// Whether no value is live.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The number of live values.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Every dot this kernel has seen.
    pub fn context(&self) -> &CausalContext {
        &self.context
    }

    /// Tag `value` with a fresh dot of `replica`; returns the delta (the pair and its
    /// dot as the context).
    ///
    /// # Errors
    /// [`CrdtError::Overflow`] when `replica`'s dots are exhausted.
    pub fn add(&mut self, replica: NodeId, value: V) -> Result<DotKernel<V>, CrdtError> {
        let dot = self
            .context
            .make_dot(replica)
            .map_err(|_| CrdtError::Overflow)?;
        self.entries.insert(dot, value.clone());
        let mut delta = DotKernel::new();
        delta.entries.insert(dot, value);
        delta.context.insert(dot);
        Ok(delta)
    }

    /// Remove every value `pred` selects; returns the delta (no values, the removed
    /// dots as the context).
    pub fn remove_where(&mut self, mut pred: impl FnMut(&V) -> bool) -> DotKernel<V> {
        let mut delta = DotKernel::new();
        self.entries.retain(|dot, v| {
            let remove = pred(v);
            if remove {
                delta.context.insert(*dot);
            }
            !remove
        });
        delta
    }

    /// Drop stored values whose dot fails `keep` *without* recording a removal delta:
    /// garbage collection of values every replica agrees are dead (their dots stay in
    /// the context).
    pub fn retain_dots(&mut self, mut keep: impl FnMut(Dot) -> bool) {
        self.entries.retain(|dot, _| keep(*dot));
    }

    /// Keep only the values `keep` selects, *without* recording a removal delta (like
    /// [`retain_dots`](Self::retain_dots), with the value in view).
    pub fn retain(&mut self, mut keep: impl FnMut(Dot, &V) -> bool) {
        self.entries.retain(|dot, v| keep(*dot, v));
    }

    /// Remove every value; returns the delta.
    pub fn remove_all(&mut self) -> DotKernel<V> {
        self.remove_where(|_| true)
    }

    /// Replace every value `pred` selects by one fresh `value`: the write of a
    /// register or flag. Returns one delta carrying both.
    ///
    /// # Errors
    /// [`CrdtError::Overflow`]; nothing changes.
    pub fn replace_where(
        &mut self,
        replica: NodeId,
        value: V,
        pred: impl FnMut(&V) -> bool,
    ) -> Result<DotKernel<V>, CrdtError> {
        // Mint first so an overflow changes nothing.
        self.context
            .next_dot(replica)
            .map_err(|_| CrdtError::Overflow)?;
        let mut delta = self.remove_where(pred);
        let add = self.add(replica, value)?;
        delta.join_kernel(&add);
        Ok(delta)
    }

    fn join_kernel(&mut self, other: &Self) {
        // Drop what the other side has seen and dropped.
        self.entries
            .retain(|dot, _| other.entries.contains_key(dot) || !other.context.contains(*dot));
        // Take what the other side holds and this side has not yet seen.
        for (dot, v) in &other.entries {
            if !self.context.contains(*dot) {
                self.entries.insert(*dot, v.clone());
            }
        }
        self.context.join(&other.context);
    }
}

impl<V: Clone + PartialEq + std::fmt::Debug> Lattice for DotKernel<V> {
    fn join(&mut self, other: &Self) {
        self.join_kernel(other);
    }

    fn seen(&self) -> VersionVector {
        self.context.version_vector().clone()
    }

    fn frontier(&self, replica: NodeId) -> u64 {
        context_frontier(&self.context, replica)
    }

    fn validate(&self) -> Result<(), InvalidState> {
        validate_context(&self.context)?;
        validate_dots(&self.context, self.entries.keys().copied())
    }
}

/// `Lattice` for a type that is a [`DotKernel`] in its field `kernel` and nothing
/// more (the flags, the multi-value register): its join, causal history and checks
/// are exactly the kernel's. Generic parameters with their bounds follow in
/// brackets: `lattice_via_kernel!(MvReg<V>, [V: Clone + PartialEq + Debug])`.
macro_rules! lattice_via_kernel {
    ($ty:ty $(, [$($generics:tt)*])?) => {
        impl<$($($generics)*)?> $crate::Lattice for $ty {
            fn seen(&self) -> synod_clocks::VersionVector {
                $crate::Lattice::seen(&self.kernel)
            }
            fn frontier(&self, replica: synod_core::NodeId) -> u64 {
                $crate::Lattice::frontier(&self.kernel, replica)
            }
            fn join(&mut self, other: &Self) {
                $crate::Lattice::join(&mut self.kernel, &other.kernel);
            }
            fn validate(&self) -> Result<(), $crate::InvalidState> {
                $crate::Lattice::validate(&self.kernel)
            }
        }
    };
}
pub(crate) use lattice_via_kernel;

/// A context decoded from elsewhere must be canonical (a valid vector, a sorted and
/// compacted cloud), or equal states would compare unequal and lookups misbehave.
pub(crate) fn validate_context(cc: &CausalContext) -> Result<(), InvalidState> {
    cc.validate().map_err(not_canonical)
}

/// A version vector from elsewhere (a stability report, a pruning floor).
pub(crate) fn validate_vv(vv: &VersionVector) -> Result<(), InvalidState> {
    vv.validate().map_err(not_canonical)
}

/// A stored dot from elsewhere: counter 0 names no event (and every context would
/// claim to contain it).
pub(crate) fn validate_dot(dot: Dot) -> Result<(), InvalidState> {
    dot.validate().map_err(not_canonical)
}

/// Stored dots from elsewhere: each names an event ([`validate_dot`]), and each is
/// covered by the state's own `context` (a dot outside it would be dropped, or
/// resurrected, by the next join).
pub(crate) fn validate_dots(
    context: &CausalContext,
    dots: impl Iterator<Item = Dot> + Clone,
) -> Result<(), InvalidState> {
    for dot in dots.clone() {
        validate_dot(dot)?;
    }
    match dots.into_iter().find(|d| !context.contains(*d)) {
        Some(dot) => Err(InvalidState::DotNotInContext(dot)),
        None => Ok(()),
    }
}

fn not_canonical(e: synod_clocks::DecodeError) -> InvalidState {
    match e {
        synod_clocks::DecodeError::NotCanonical(why) => InvalidState::NotCanonical(why),
        _ => InvalidState::NotCanonical("clock value"),
    }
}

/// The largest counter of `replica` a context holds (vector or cloud).
pub(crate) fn context_frontier(cc: &CausalContext, replica: NodeId) -> u64 {
    cc.next_dot(replica).map_or(u64::MAX, |d| d.counter - 1)
}
