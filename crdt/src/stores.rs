//! The causal CRDTs of this crate as values of an [`ORMap`](crate::ORMap): flags,
//! sets and counters as dot stores with no context of their own, sharing the map's
//! one causal context (Almeida, Shoker, Baquero 2018, §7: an add-wins set is a
//! `DotMap<E, DotSet>`, an enable-wins flag a `DotSet`, a counter a `DotFun`).
//!
//! Each kind builds [`Update`]s for [`ORMap::apply`](crate::ORMap::apply) (or
//! [`try_apply`](crate::ORMap::try_apply) for counters, whose increments can
//! overflow). Removing a map key removes exactly the dots of its value that the
//! remover observed, so what survives a removal is what was done concurrently with
//! it: concurrent enables and adds, and (for the disable-wins flag and remove-wins
//! set) concurrent disable and remove tokens, which keep winning. A counter is
//! **reset on remove**: see [`CounterStore`] for exactly what survives.
//!
//! ```
//! use synod_crdt::stores::{AWSetStore, CounterStore};
//! use synod_crdt::{Lattice, ORMap};
//! use synod_core::NodeId;
//! let (a, b) = (NodeId(1), NodeId(2));
//! // A cart: item → quantity, and tags → add-wins sets, under one causal context.
//! let mut cart: ORMap<&str, CounterStore> = ORMap::new();
//! cart.try_apply(a, |m, dot| m.try_update("milk", |c| c.increment(dot, 2)))?;
//! let mut tags: ORMap<&str, AWSetStore<&str>> = ORMap::new();
//! tags.apply(a, |m, dot| m.update("milk", |s| s.insert(dot, "dairy")))?;
//! let mut other = tags.clone();
//! other.apply(b, |m, dot| m.update("milk", |s| s.insert(dot, "cold")))?;
//! tags.join(&other);
//! assert_eq!(cart.get(&"milk").map(CounterStore::value), Some(2));
//! let milk = tags.get(&"milk").unwrap();
//! assert!(milk.contains(&"dairy") && milk.contains(&"cold"));
//! # Ok::<(), synod_crdt::CrdtError>(())
//! ```

use crate::ormap::{DotFun, DotMap, DotStore, Update};
use crate::{CrdtError, InvalidState};
use std::collections::{BTreeMap, BTreeSet};
use synod_clocks::{CausalContext, Dot};

fn context_of(dots: impl IntoIterator<Item = Dot>) -> CausalContext {
    let mut cc = CausalContext::new();
    for d in dots {
        cc.insert(d);
    }
    cc
}

/// A set of dots: the enable-wins flag as a map value (enabled while it holds a dot;
/// an enable concurrent with a disable survives it).
///
/// ```
/// use synod_crdt::stores::DotSet;
/// use synod_crdt::{Lattice, ORMap};
/// use synod_core::NodeId;
/// let mut m: ORMap<u8, DotSet> = ORMap::new();
/// m.apply(NodeId(1), |m, dot| m.update(7, |f| f.enable(dot)))?;
/// assert!(m.get(&7).is_some_and(DotSet::is_enabled));
/// m.apply(NodeId(1), |m, _| m.update(7, |f| f.disable()))?;
/// assert!(m.get(&7).is_none());          // a disabled flag is bottom: the key goes
/// # Ok::<(), synod_crdt::CrdtError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DotSet {
    dots: BTreeSet<Dot>,
}

impl DotSet {
    /// Whether the flag is enabled (some enable survives).
    pub fn is_enabled(&self) -> bool {
        !self.dots.is_empty()
    }

    /// The dots held, in order.
    pub fn dots(&self) -> impl Iterator<Item = Dot> + '_ {
        self.dots.iter().copied()
    }

    /// The update enabling the flag with `dot` (superseding the enables seen).
    pub fn enable(&self, dot: Dot) -> Update<DotSet> {
        Update {
            store: DotSet {
                dots: BTreeSet::from([dot]),
            },
            seen: context_of(self.dots().chain([dot])),
        }
    }

    /// The update disabling the flag: it removes the enables seen.
    pub fn disable(&self) -> Update<DotSet> {
        Update {
            store: DotSet::default(),
            seen: context_of(self.dots()),
        }
    }
}

impl DotStore for DotSet {
    fn is_bottom(&self) -> bool {
        self.dots.is_empty()
    }
    fn collect_dots(&self, out: &mut Vec<Dot>) {
        out.extend(self.dots.iter().copied());
    }
    fn join_store(&mut self, mine: &CausalContext, other: &Self, theirs: &CausalContext) {
        self.dots
            .retain(|d| other.dots.contains(d) || !theirs.contains(*d));
        for d in &other.dots {
            if !mine.contains(*d) {
                self.dots.insert(*d);
            }
        }
    }
}

/// The disable-wins flag as a map value: enable and disable tokens; enabled when it
/// holds tokens and all of them enable, so a disable concurrent with an enable wins.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DWFlagStore {
    tokens: DotFun<bool>,
}

impl DWFlagStore {
    /// Whether the flag is enabled.
    pub fn is_enabled(&self) -> bool {
        let mut t = self.tokens.values().peekable();
        t.peek().is_some() && t.all(|on| *on)
    }

    /// The update enabling the flag with `dot`.
    pub fn enable(&self, dot: Dot) -> Update<DWFlagStore> {
        self.tokens
            .write(dot, true)
            .map(|tokens| DWFlagStore { tokens })
    }

    /// The update disabling the flag with `dot` (a token that beats concurrent
    /// enables).
    pub fn disable(&self, dot: Dot) -> Update<DWFlagStore> {
        self.tokens
            .write(dot, false)
            .map(|tokens| DWFlagStore { tokens })
    }
}

impl DotStore for DWFlagStore {
    fn is_bottom(&self) -> bool {
        self.tokens.is_bottom()
    }
    fn collect_dots(&self, out: &mut Vec<Dot>) {
        self.tokens.collect_dots(out);
    }
    fn join_store(&mut self, mine: &CausalContext, other: &Self, theirs: &CausalContext) {
        self.tokens.join_store(mine, &other.tokens, theirs);
    }
}

/// The two sets are newtypes over a map from element to a dot store; as dot stores
/// they are exactly that map, so every operation forwards to it.
macro_rules! element_map_store {
    ($set:ident) => {
        impl<E: Ord + Clone + std::fmt::Debug> DotStore for $set<E> {
            fn is_bottom(&self) -> bool {
                self.elements.is_bottom()
            }
            fn collect_dots(&self, out: &mut Vec<Dot>) {
                self.elements.collect_dots(out);
            }
            fn join_store(&mut self, mine: &CausalContext, other: &Self, theirs: &CausalContext) {
                self.elements.join_store(mine, &other.elements, theirs);
            }
            fn check(&self) -> Result<(), InvalidState> {
                self.elements.check()
            }
        }
    };
}

/// The add-wins observed-remove set as a map value: element → the dots of the adds
/// supporting it.
///
/// ```
/// use synod_crdt::stores::AWSetStore;
/// use synod_crdt::{Lattice, ORMap};
/// use synod_core::NodeId;
/// let (a, b) = (NodeId(1), NodeId(2));
/// let mut x: ORMap<u8, AWSetStore<u8>> = ORMap::new();
/// x.apply(a, |m, dot| m.update(0, |s| s.insert(dot, 5)))?;
/// let mut y = x.clone();
/// y.apply(b, |m, _| m.update(0, |s| s.remove(&5)))?;     // B removes 5 ...
/// x.apply(a, |m, dot| m.update(0, |s| s.insert(dot, 5)))?; // ... A re-adds it
/// x.join(&y);
/// assert!(x.get(&0).is_some_and(|s| s.contains(&5)));    // add wins
/// # Ok::<(), synod_crdt::CrdtError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AWSetStore<E: Ord> {
    elements: DotMap<E, DotSet>,
}

impl<E: Ord> Default for AWSetStore<E> {
    fn default() -> Self {
        AWSetStore {
            elements: DotMap::default(),
        }
    }
}

impl<E: Ord + Clone + std::fmt::Debug> AWSetStore<E> {
    /// Whether `e` is in the set.
    pub fn contains(&self, e: &E) -> bool {
        self.elements.get(e).is_some()
    }

    /// The elements, in order.
    pub fn iter(&self) -> impl Iterator<Item = &E> + '_ {
        self.elements.iter().map(|(e, _)| e)
    }

    /// The update adding `e` with `dot`.
    pub fn insert(&self, dot: Dot, e: E) -> Update<AWSetStore<E>> {
        self.elements
            .update(e, |s| s.enable(dot))
            .map(|elements| AWSetStore { elements })
    }

    /// The update removing `e`: the adds of it seen.
    pub fn remove(&self, e: &E) -> Update<AWSetStore<E>> {
        self.elements
            .remove(e)
            .map(|elements| AWSetStore { elements })
    }
}

element_map_store!(AWSetStore);

/// The remove-wins observed-remove set as a map value: element → add (`true`) and
/// remove (`false`) tokens; present when it has tokens and all of them are adds.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RWSetStore<E: Ord> {
    elements: DotMap<E, DotFun<bool>>,
}

impl<E: Ord> Default for RWSetStore<E> {
    fn default() -> Self {
        RWSetStore {
            elements: DotMap::default(),
        }
    }
}

impl<E: Ord + Clone + std::fmt::Debug> RWSetStore<E> {
    /// Whether `e` is present: it has tokens and none is a remove.
    pub fn contains(&self, e: &E) -> bool {
        self.elements.get(e).is_some_and(|t| t.values().all(|a| *a))
    }

    /// The present elements, in order.
    pub fn iter(&self) -> impl Iterator<Item = &E> + '_ {
        self.elements
            .iter()
            .filter(|(_, t)| t.values().all(|a| *a))
            .map(|(e, _)| e)
    }

    /// The update adding `e` with `dot`.
    pub fn insert(&self, dot: Dot, e: E) -> Update<RWSetStore<E>> {
        self.token(dot, e, true)
    }

    /// The update removing `e` with a token `dot` that beats concurrent adds.
    pub fn remove(&self, dot: Dot, e: E) -> Update<RWSetStore<E>> {
        self.token(dot, e, false)
    }

    fn token(&self, dot: Dot, e: E, add: bool) -> Update<RWSetStore<E>> {
        self.elements
            .update(e, |t| t.write(dot, add))
            .map(|elements| RWSetStore { elements })
    }
}

element_map_store!(RWSetStore);

/// A positive-negative counter as a map value, with **reset-on-remove** semantics:
/// each replica's contribution (increments, decrements) sits under one dot of that
/// replica, which every update of the replica replaces (the causal counter of
/// Almeida et al. 2018 §7.2).
///
/// Why this embedding: a [`PNCounter`](crate::PNCounter) has no dots, so removing
/// its key could not say which increments it observed, and a re-created key would
/// resurrect the old total. Under dots, removing the key drops exactly the
/// contributions the remover saw. What a concurrent update keeps: the updating
/// replica's *whole* contribution as that replica knew it (its earlier increments
/// included, since they live under the dot it replaced, and the remover saw only the
/// old dot). Exact "only the concurrent increments survive" would need one dot per
/// increment until it is causally stable; we chose one dot per replica, so a
/// counter's size is bounded by the replicas that touched it.
///
/// ```
/// use synod_crdt::stores::CounterStore;
/// use synod_crdt::{Lattice, ORMap};
/// use synod_core::NodeId;
/// let (a, b) = (NodeId(1), NodeId(2));
/// let mut x: ORMap<&str, CounterStore> = ORMap::new();
/// x.try_apply(a, |m, dot| m.try_update("hits", |c| c.increment(dot, 5)))?;
/// let mut y = x.clone();
/// y.apply(b, |m, _| m.remove(&"hits"))?;              // reset ...
/// y.try_apply(b, |m, dot| m.try_update("hits", |c| c.increment(dot, 1)))?;
/// x.join(&y);
/// assert_eq!(x.get(&"hits").map(CounterStore::value), Some(1)); // ... and count afresh
/// # Ok::<(), synod_crdt::CrdtError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CounterStore {
    /// dot → (increments, decrements) of the dot's replica since its last observed
    /// reset.
    parts: DotFun<(u64, u64)>,
}

impl CounterStore {
    /// Increments minus decrements.
    pub fn value(&self) -> i128 {
        self.parts
            .values()
            .map(|(p, n)| i128::from(*p) - i128::from(*n))
            .sum()
    }

    /// The update adding `by` as `dot`'s replica.
    ///
    /// # Errors
    /// [`CrdtError::Overflow`] if the replica's increments would pass `u64::MAX`.
    pub fn increment(&self, dot: Dot, by: u64) -> Result<Update<CounterStore>, CrdtError> {
        self.bump(dot, by, 0)
    }

    /// The update subtracting `by` as `dot`'s replica.
    ///
    /// # Errors
    /// [`CrdtError::Overflow`] if the replica's decrements would pass `u64::MAX`.
    pub fn decrement(&self, dot: Dot, by: u64) -> Result<Update<CounterStore>, CrdtError> {
        self.bump(dot, 0, by)
    }

    fn bump(&self, dot: Dot, inc: u64, dec: u64) -> Result<Update<CounterStore>, CrdtError> {
        if inc == 0 && dec == 0 {
            // Nothing to say: an empty update consumes no dot.
            return Ok(Update {
                store: CounterStore::default(),
                seen: CausalContext::new(),
            });
        }
        // The replica's own dots (one, except transiently after a concurrent reset).
        let own: Vec<(Dot, (u64, u64))> = self
            .parts
            .entries
            .iter()
            .filter(|(d, _)| d.replica == dot.replica)
            .map(|(d, v)| (*d, *v))
            .collect();
        let (mut p, mut n) = (inc, dec);
        for (_, (op, on)) in &own {
            p = p.checked_add(*op).ok_or(CrdtError::Overflow)?;
            n = n.checked_add(*on).ok_or(CrdtError::Overflow)?;
        }
        Ok(Update {
            store: CounterStore {
                parts: DotFun {
                    entries: BTreeMap::from([(dot, (p, n))]),
                },
            },
            seen: context_of(own.iter().map(|(d, _)| *d).chain([dot])),
        })
    }
}

impl DotStore for CounterStore {
    fn is_bottom(&self) -> bool {
        self.parts.is_bottom()
    }
    fn collect_dots(&self, out: &mut Vec<Dot>) {
        self.parts.collect_dots(out);
    }
    fn join_store(&mut self, mine: &CausalContext, other: &Self, theirs: &CausalContext) {
        self.parts.join_store(mine, &other.parts, theirs);
    }
    fn check(&self) -> Result<(), InvalidState> {
        if self.parts.values().any(|v| *v == (0, 0)) {
            return Err(InvalidState::NotCanonical("a counter part of zero"));
        }
        Ok(())
    }
}
