//! Sets: grow-only, two-phase, add-wins and remove-wins observed-remove.

use crate::kernel::{validate_context, validate_dots};
use crate::{CrdtError, DotKernel, InvalidState, Lattice};
use std::collections::{BTreeMap, BTreeSet};
use synod_clocks::{CausalContext, Dot, VersionVector};
use synod_core::NodeId;

/// A grow-only set: join is union.
///
/// ```
/// use synod_crdt::{GSet, Lattice};
/// let mut x = GSet::new();
/// let d = x.insert(7);
/// let mut y = GSet::new();
/// y.join(&d);
/// assert!(y.contains(&7));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GSet<E: Ord> {
    elements: BTreeSet<E>,
}

impl<E: Ord> Default for GSet<E> {
    fn default() -> Self {
        GSet {
            elements: BTreeSet::new(),
        }
    }
}

impl<E: Ord + Clone> GSet<E> {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }
    /// Add `e`; returns the delta `{e}`.
    pub fn insert(&mut self, e: E) -> GSet<E> {
        self.elements.insert(e.clone());
        GSet {
            elements: BTreeSet::from([e]),
        }
    }
    /// Whether `e` is in the set.
    pub fn contains(&self, e: &E) -> bool {
        self.elements.contains(e)
    }
    /// The elements, in order.
    pub fn iter(&self) -> impl Iterator<Item = &E> + '_ {
        self.elements.iter()
    }
    /// The number of elements.
    pub fn len(&self) -> usize {
        self.elements.len()
    }
    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }
}

impl<E: Ord + Clone + std::fmt::Debug> Lattice for GSet<E> {
    fn join(&mut self, other: &Self) {
        self.elements.extend(other.elements.iter().cloned());
    }
}

/// A two-phase set: an element can be added and then removed for good (the removal
/// is a tombstone that also blocks any later add of the same element).
///
/// ```
/// use synod_crdt::{Lattice, TwoPSet};
/// let mut x = TwoPSet::new();
/// x.insert(1);
/// let mut y = x.clone();
/// let rm = y.remove(1);
/// x.insert(1);          // a re-add cannot beat the tombstone
/// x.join(&rm);
/// assert!(!x.contains(&1));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TwoPSet<E: Ord> {
    added: BTreeSet<E>,
    removed: BTreeSet<E>,
}

impl<E: Ord> Default for TwoPSet<E> {
    fn default() -> Self {
        TwoPSet {
            added: BTreeSet::new(),
            removed: BTreeSet::new(),
        }
    }
}

impl<E: Ord + Clone> TwoPSet<E> {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }
    /// Add `e` (no effect once removed); returns the delta.
    pub fn insert(&mut self, e: E) -> TwoPSet<E> {
        self.added.insert(e.clone());
        TwoPSet {
            added: BTreeSet::from([e]),
            removed: BTreeSet::new(),
        }
    }
    /// Remove `e` forever; returns the delta (the tombstone).
    pub fn remove(&mut self, e: E) -> TwoPSet<E> {
        self.removed.insert(e.clone());
        TwoPSet {
            added: BTreeSet::new(),
            removed: BTreeSet::from([e]),
        }
    }
    /// Whether `e` was added and never removed.
    pub fn contains(&self, e: &E) -> bool {
        self.added.contains(e) && !self.removed.contains(e)
    }
    /// The live elements, in order.
    pub fn iter(&self) -> impl Iterator<Item = &E> + '_ {
        self.added.iter().filter(|e| !self.removed.contains(*e))
    }
}

impl<E: Ord + Clone + std::fmt::Debug> Lattice for TwoPSet<E> {
    fn join(&mut self, other: &Self) {
        self.added.extend(other.added.iter().cloned());
        self.removed.extend(other.removed.iter().cloned());
    }
}

/// The dots supporting one element: almost always one, so it is stored inline.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
enum Dots {
    One(Dot),
    /// Sorted, at least two.
    Many(Vec<Dot>),
}

impl Dots {
    fn as_slice(&self) -> &[Dot] {
        match self {
            Dots::One(d) => std::slice::from_ref(d),
            Dots::Many(v) => v,
        }
    }

    fn from_sorted(mut v: Vec<Dot>) -> Option<Dots> {
        match v.len() {
            0 => None,
            1 => v.pop().map(Dots::One),
            _ => Some(Dots::Many(v)),
        }
    }

    /// Dots in `self` the context `seen` has not seen: what survives when the other
    /// side lacks the element.
    fn unseen_by(&self, seen: &CausalContext) -> Option<Dots> {
        match self {
            Dots::One(d) if seen.contains(*d) => None,
            Dots::One(_) => Some(self.clone()),
            Dots::Many(v) => {
                Dots::from_sorted(v.iter().copied().filter(|d| !seen.contains(*d)).collect())
            }
        }
    }

    /// The kernel join for one element held on both sides.
    fn join(&self, mine: &CausalContext, other: &Dots, theirs: &CausalContext) -> Option<Dots> {
        if self == other {
            return Some(self.clone());
        }
        let (a, b) = (self.as_slice(), other.as_slice());
        let mut out = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) if x == y => {
                    out.push(*x);
                    i += 1;
                    j += 1;
                }
                (Some(x), Some(y)) if x < y => {
                    if !theirs.contains(*x) {
                        out.push(*x);
                    }
                    i += 1;
                }
                (Some(x), None) => {
                    if !theirs.contains(*x) {
                        out.push(*x);
                    }
                    i += 1;
                }
                (_, Some(y)) => {
                    if !mine.contains(*y) {
                        out.push(*y);
                    }
                    j += 1;
                }
                (None, None) => break,
            }
        }
        Dots::from_sorted(out)
    }
}

/// An add-wins observed-remove set: a remove deletes only the adds it has seen, so
/// an add concurrent with a remove survives.
///
/// Each element maps to the dots of the adds supporting it (kept inline when there is
/// one), and the causal context records every dot seen; join walks both sorted maps
/// once. The course notes' example: A does `add(x); rmv(y)` while B concurrently does
/// `add(y); rmv(x)`. Each remove saw no add of its element, so both adds win and the
/// result is `{x, y}` — which no sequential order of the four operations produces,
/// since one of the removes always comes last.
///
/// ```
/// use synod_crdt::{AWSet, Lattice};
/// use synod_core::NodeId;
/// let (a, b) = (NodeId(1), NodeId(2));
/// let (mut ra, mut rb) = (AWSet::new(), AWSet::new());
/// ra.insert(a, "x")?;
/// ra.remove(&"y");
/// rb.insert(b, "y")?;
/// rb.remove(&"x");
/// ra.join(&rb);
/// rb.join(&ra);
/// assert_eq!(ra, rb);
/// assert_eq!(ra.iter().copied().collect::<Vec<_>>(), ["x", "y"]);
/// # Ok::<(), synod_crdt::CrdtError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AWSet<E: Ord> {
    entries: BTreeMap<E, Dots>,
    context: CausalContext,
}

impl<E: Ord> Default for AWSet<E> {
    fn default() -> Self {
        AWSet {
            entries: BTreeMap::new(),
            context: CausalContext::new(),
        }
    }
}

impl<E: Ord + Clone> AWSet<E> {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add `e` at `replica`; returns the delta (the element with its new dot, and as
    /// context the new dot plus the older dots of `e` it supersedes).
    ///
    /// # Errors
    /// [`CrdtError::Overflow`] when `replica`'s dots are exhausted; nothing changes.
    pub fn insert(&mut self, replica: NodeId, e: E) -> Result<AWSet<E>, CrdtError> {
        let dot = self
            .context
            .make_dot(replica)
            .map_err(|_| CrdtError::Overflow)?;
        let mut delta = AWSet::new();
        if let Some(old) = self.entries.insert(e.clone(), Dots::One(dot)) {
            for d in old.as_slice() {
                delta.context.insert(*d);
            }
        }
        delta.context.insert(dot);
        delta.entries.insert(e, Dots::One(dot));
        Ok(delta)
    }

    /// Remove `e` (the adds of it this replica has seen); returns the delta (no
    /// elements, those dots as the context).
    pub fn remove(&mut self, e: &E) -> AWSet<E> {
        let mut delta = AWSet::new();
        if let Some(old) = self.entries.remove(e) {
            for d in old.as_slice() {
                delta.context.insert(*d);
            }
        }
        delta
    }

    /// Remove every element; returns the delta.
    pub fn clear(&mut self) -> AWSet<E> {
        let mut delta = AWSet::new();
        for dots in std::mem::take(&mut self.entries).values() {
            for d in dots.as_slice() {
                delta.context.insert(*d);
            }
        }
        delta
    }

    /// Whether `e` is in the set.
    pub fn contains(&self, e: &E) -> bool {
        self.entries.contains_key(e)
    }

    /// The elements, in order.
    pub fn iter(&self) -> impl Iterator<Item = &E> + '_ {
        self.entries.keys()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every dot this replica has seen.
    pub fn context(&self) -> &CausalContext {
        &self.context
    }
}

impl<E: Ord + Clone + std::fmt::Debug> Lattice for AWSet<E> {
    fn join(&mut self, other: &Self) {
        let mine = std::mem::take(&mut self.entries);
        let (ours, theirs) = (&self.context, &other.context);
        let mut a = mine.into_iter().peekable();
        let mut b = other.entries.iter().peekable();
        let mut merged: Vec<(E, Dots)> = Vec::with_capacity(a.len().max(b.len()));
        loop {
            let order = match (a.peek(), b.peek()) {
                (Some((x, _)), Some((y, _))) => x.cmp(y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => break,
            };
            match order {
                std::cmp::Ordering::Less => {
                    if let Some((e, dots)) = a.next()
                        && let Some(kept) = dots.unseen_by(theirs)
                    {
                        merged.push((e, kept));
                    }
                }
                std::cmp::Ordering::Greater => {
                    if let Some((e, dots)) = b.next()
                        && let Some(kept) = dots.unseen_by(ours)
                    {
                        merged.push((e.clone(), kept));
                    }
                }
                std::cmp::Ordering::Equal => {
                    if let (Some((e, x)), Some((_, y))) = (a.next(), b.next())
                        && let Some(kept) = x.join(ours, y, theirs)
                    {
                        merged.push((e, kept));
                    }
                }
            }
        }
        // Sorted input: the map is built in bulk, in linear time.
        self.entries = merged.into_iter().collect();
        self.context.join(&other.context);
    }

    fn seen(&self) -> synod_clocks::VersionVector {
        self.context.version_vector().clone()
    }

    fn frontier(&self, replica: NodeId) -> u64 {
        crate::kernel::context_frontier(&self.context, replica)
    }

    fn validate(&self) -> Result<(), InvalidState> {
        validate_context(&self.context)?;
        for dots in self.entries.values() {
            if let Dots::Many(v) = dots
                && (v.len() < 2 || !v.windows(2).all(|w| w[0] < w[1]))
            {
                return Err(InvalidState::NotCanonical("element dots"));
            }
            validate_dots(&self.context, dots.as_slice().iter().copied())?;
        }
        Ok(())
    }
}

/// A remove-wins observed-remove set: adds and removes are both dot-tagged tokens;
/// an element is present when it has tokens and all of them are adds, so a remove
/// concurrent with an add wins.
///
/// Built on [`DotKernel`]; an operation scans the kernel (linear in its size), which
/// is the price of keeping remove tokens until they are causally stable.
///
/// **Pruning.** Alongside the tokens the set keeps a *floor*, a version vector: every
/// remove token whose dot is at or below the floor is dropped, on every replica, on
/// every join (the floor joins by pointwise maximum and rides on every delta). A
/// replica raises the floor in [`prune`](RWSet::prune) to the causally stable dots,
/// lowered below any stable remove that still has a live concurrent add (that
/// remove must keep winning). Why a floor rather than dropping tokens locally: a
/// replica that dropped its remove token and later re-adds the element would send a
/// delta that cannot supersede the token still held elsewhere — the replicas would
/// read differently forever. With the floor, the re-add's delta carries it and the
/// token goes there too.
///
/// ```
/// use synod_crdt::{Lattice, RWSet};
/// use synod_core::NodeId;
/// let (a, b) = (NodeId(1), NodeId(2));
/// let mut ra = RWSet::new();
/// ra.insert(a, "x")?;
/// let mut rb = ra.clone();
/// ra.insert(a, "x")?;       // concurrent re-add ...
/// rb.remove(b, "x")?;       // ... and remove: the remove wins
/// ra.join(&rb);
/// assert!(!ra.contains(&"x"));
/// # Ok::<(), synod_crdt::CrdtError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RWSet<E> {
    /// (element, is_add) tokens.
    kernel: DotKernel<(E, bool)>,
    /// Remove tokens at or below it are gone everywhere.
    floor: VersionVector,
}

impl<E> Default for RWSet<E> {
    fn default() -> Self {
        RWSet {
            kernel: DotKernel::default(),
            floor: VersionVector::new(),
        }
    }
}

impl<E: Ord + Clone> RWSet<E> {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add `e`; returns the delta.
    ///
    /// # Errors
    /// [`CrdtError::Overflow`].
    pub fn insert(&mut self, replica: NodeId, e: E) -> Result<RWSet<E>, CrdtError> {
        self.token(replica, e, true)
    }

    /// Remove `e` (a token that beats concurrent adds); returns the delta.
    ///
    /// # Errors
    /// [`CrdtError::Overflow`].
    pub fn remove(&mut self, replica: NodeId, e: E) -> Result<RWSet<E>, CrdtError> {
        self.token(replica, e, false)
    }

    fn token(&mut self, replica: NodeId, e: E, add: bool) -> Result<RWSet<E>, CrdtError> {
        let kernel = self
            .kernel
            .replace_where(replica, (e.clone(), add), |(x, _)| *x == e)?;
        // The floor rides along so that a token pruned here goes wherever this
        // delta goes.
        Ok(RWSet {
            kernel,
            floor: self.floor.clone(),
        })
    }

    /// Whether `e` is present: it has tokens and none is a remove.
    pub fn contains(&self, e: &E) -> bool {
        let mut tokens = self.kernel.values().filter(|(x, _)| x == e).peekable();
        tokens.peek().is_some() && tokens.all(|(_, add)| *add)
    }

    /// Raise the floor to the causally stable dots `stable` (from
    /// [`Stability::stable`](crate::stability::Stability::stable)), lowered below
    /// every stable remove token whose element still has a live add (the add is
    /// concurrent with it, and the remove must keep winning), and drop the remove
    /// tokens now at or below the floor. Their dots stay in the context, so the adds
    /// they removed cannot come back. Returns how many tokens were dropped.
    pub fn prune(&mut self, stable: &VersionVector) -> usize {
        let has_add: BTreeSet<&E> = self
            .kernel
            .values()
            .filter(|(_, add)| *add)
            .map(|(e, _)| e)
            .collect();
        let mut cap: BTreeMap<NodeId, u64> = stable.iter().collect();
        for (dot, (e, add)) in self.kernel.iter() {
            if !*add && has_add.contains(e) && stable.contains(dot) {
                let c = cap.entry(dot.replica).or_insert(0);
                *c = (*c).min(dot.counter - 1);
            }
        }
        self.floor.join(&VersionVector::from_entries(cap));
        self.drop_below_floor()
    }

    fn drop_below_floor(&mut self) -> usize {
        let before = self.kernel.len();
        let floor = &self.floor;
        self.kernel
            .retain(|dot, (_, add)| *add || !floor.contains(dot));
        before - self.kernel.len()
    }

    /// The floor: remove tokens at or below it have been pruned everywhere.
    pub fn floor(&self) -> &VersionVector {
        &self.floor
    }

    /// Every token stored: (dot, element, whether it adds), in dot order.
    pub fn entries(&self) -> impl Iterator<Item = (Dot, &E, bool)> + '_ {
        self.kernel.iter().map(|(d, (e, add))| (d, e, *add))
    }

    /// The number of tokens (adds and removes) stored.
    pub fn tokens(&self) -> usize {
        self.kernel.len()
    }

    /// Every dot this set has seen.
    pub fn context(&self) -> &CausalContext {
        self.kernel.context()
    }

    /// The present elements, in order.
    pub fn iter(&self) -> impl Iterator<Item = &E> + '_ {
        let mut present: BTreeMap<&E, bool> = BTreeMap::new();
        for (e, add) in self.kernel.values() {
            *present.entry(e).or_insert(true) &= *add;
        }
        present.into_iter().filter(|(_, p)| *p).map(|(e, _)| e)
    }
}

impl<E: Ord + Clone + std::fmt::Debug> Lattice for RWSet<E> {
    fn seen(&self) -> synod_clocks::VersionVector {
        self.kernel.seen()
    }
    fn frontier(&self, replica: NodeId) -> u64 {
        self.kernel.frontier(replica)
    }
    fn prune(&mut self, stable: &VersionVector) -> Option<(usize, Self)> {
        let dropped = RWSet::prune(self, stable);
        // The raised floor is the delta: it drops the same tokens elsewhere.
        (dropped > 0).then(|| {
            let delta = RWSet {
                kernel: DotKernel::new(),
                floor: self.floor.clone(),
            };
            (dropped, delta)
        })
    }
    fn join(&mut self, other: &Self) {
        self.kernel.join(&other.kernel);
        if other.floor != self.floor {
            self.floor.join(&other.floor);
        }
        if !self.floor.is_empty() {
            self.drop_below_floor();
        }
    }
    fn validate(&self) -> Result<(), InvalidState> {
        self.kernel.validate()?;
        crate::kernel::validate_vv(&self.floor)?;
        if self
            .kernel
            .iter()
            .any(|(d, (_, add))| !*add && self.floor.contains(d))
        {
            return Err(InvalidState::NotCanonical(
                "a remove token at or below the floor",
            ));
        }
        Ok(())
    }
}
