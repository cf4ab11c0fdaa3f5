//! The observed-remove map: values are dot stores that share the map's one causal
//! context, so removing a key removes exactly the updates to its value that were
//! observed, and maps nest (Almeida, Shoker, Baquero 2018, §7: DotFun, DotMap).

use crate::kernel::{validate_context, validate_dots};
use crate::{CrdtError, InvalidState, Lattice};
use std::collections::BTreeMap;
use synod_clocks::{CausalContext, Dot};
use synod_core::NodeId;

/// Content tagged with dots and no context of its own: what can live in an
/// [`ORMap`]. The enclosing map's context says which dots have been seen.
pub trait DotStore: Clone + PartialEq + std::fmt::Debug + Default {
    /// Whether the store holds nothing (a key whose value is bottom disappears).
    fn is_bottom(&self) -> bool;
    /// Append every dot the store holds to `out`.
    fn collect_dots(&self, out: &mut Vec<Dot>);
    /// Join with `other`, given each side's context.
    fn join_store(&mut self, mine: &CausalContext, other: &Self, theirs: &CausalContext);
    /// Check the canonical form a value from elsewhere must have (for example: no
    /// key of a nested map holds a bottom value), beyond its dots being in the
    /// context, which the enclosing map checks.
    ///
    /// # Errors
    /// [`InvalidState::NotCanonical`].
    fn check(&self) -> Result<(), InvalidState> {
        Ok(())
    }
}

/// Dot → value: a multi-value register inside a map (concurrent writes survive; a
/// write replaces the values it saw).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DotFun<V> {
    pub(crate) entries: BTreeMap<Dot, V>,
}

impl<V> Default for DotFun<V> {
    fn default() -> Self {
        DotFun {
            entries: BTreeMap::new(),
        }
    }
}

impl<V: Clone> DotFun<V> {
    /// The concurrent values, in dot order.
    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.entries.values()
    }

    /// The update writing `value` under `dot`, replacing every value held now.
    pub fn write(&self, dot: Dot, value: V) -> Update<DotFun<V>> {
        let mut seen = CausalContext::new();
        for d in self.entries.keys() {
            seen.insert(*d);
        }
        seen.insert(dot);
        Update {
            store: DotFun {
                entries: BTreeMap::from([(dot, value)]),
            },
            seen,
        }
    }
}

impl<V: Clone + PartialEq + std::fmt::Debug> DotStore for DotFun<V> {
    fn is_bottom(&self) -> bool {
        self.entries.is_empty()
    }
    fn collect_dots(&self, out: &mut Vec<Dot>) {
        out.extend(self.entries.keys().copied());
    }
    fn join_store(&mut self, mine: &CausalContext, other: &Self, theirs: &CausalContext) {
        self.entries
            .retain(|d, _| other.entries.contains_key(d) || !theirs.contains(*d));
        for (d, v) in &other.entries {
            if !mine.contains(*d) {
                self.entries.insert(*d, v.clone());
            }
        }
    }
}

/// Key → nested dot store: a map inside a map.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DotMap<K: Ord, S> {
    pub(crate) entries: BTreeMap<K, S>,
}

impl<K: Ord, S> Default for DotMap<K, S> {
    fn default() -> Self {
        DotMap {
            entries: BTreeMap::new(),
        }
    }
}

impl<K: Ord + Clone, S: DotStore> DotMap<K, S> {
    /// The value under `key`.
    pub fn get(&self, key: &K) -> Option<&S> {
        self.entries.get(key)
    }

    /// The (key, value) pairs, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &S)> + '_ {
        self.entries.iter()
    }

    /// The update applying `f` to the value under `key` (bottom if absent).
    pub fn update(&self, key: K, f: impl FnOnce(&S) -> Update<S>) -> Update<DotMap<K, S>> {
        let inner = f(self.entries.get(&key).unwrap_or(&S::default()));
        Self::wrap(key, inner)
    }

    /// [`update`](Self::update) with an update that can be refused (a counter
    /// increment that would overflow, say).
    ///
    /// # Errors
    /// Whatever `f` returns; nothing is built.
    pub fn try_update(
        &self,
        key: K,
        f: impl FnOnce(&S) -> Result<Update<S>, CrdtError>,
    ) -> Result<Update<DotMap<K, S>>, CrdtError> {
        let inner = f(self.entries.get(&key).unwrap_or(&S::default()))?;
        Ok(Self::wrap(key, inner))
    }

    fn wrap(key: K, inner: Update<S>) -> Update<DotMap<K, S>> {
        // A bottom value must not be stored under a key (canonical form).
        let entries = if inner.store.is_bottom() {
            BTreeMap::new()
        } else {
            BTreeMap::from([(key, inner.store)])
        };
        Update {
            store: DotMap { entries },
            seen: inner.seen,
        }
    }

    /// The update removing `key`: its observed dots, and no content.
    pub fn remove(&self, key: &K) -> Update<DotMap<K, S>> {
        let mut dots = Vec::new();
        if let Some(s) = self.entries.get(key) {
            s.collect_dots(&mut dots);
        }
        let mut seen = CausalContext::new();
        for d in dots {
            seen.insert(d);
        }
        Update {
            store: DotMap::default(),
            seen,
        }
    }
}

impl<K: Ord + Clone + std::fmt::Debug, S: DotStore> DotStore for DotMap<K, S> {
    fn is_bottom(&self) -> bool {
        self.entries.is_empty()
    }
    fn collect_dots(&self, out: &mut Vec<Dot>) {
        for s in self.entries.values() {
            s.collect_dots(out);
        }
    }
    fn join_store(&mut self, mine: &CausalContext, other: &Self, theirs: &CausalContext) {
        let bottom = S::default();
        let mut keys: Vec<K> = self.entries.keys().cloned().collect();
        keys.extend(
            other
                .entries
                .keys()
                .filter(|k| !self.entries.contains_key(*k))
                .cloned(),
        );
        for k in keys {
            let theirs_v = other.entries.get(&k).unwrap_or(&bottom);
            let v = self.entries.entry(k.clone()).or_default();
            v.join_store(mine, theirs_v, theirs);
            if v.is_bottom() {
                self.entries.remove(&k);
            }
        }
    }
    fn check(&self) -> Result<(), InvalidState> {
        for v in self.entries.values() {
            if v.is_bottom() {
                return Err(InvalidState::NotCanonical("a map key holds a bottom value"));
            }
            v.check()?;
        }
        Ok(())
    }
}

/// A change to a dot store: the new content, and the dots it supersedes (including
/// its own new dots). Build one with [`DotFun::write`], [`DotMap::update`] or
/// [`DotMap::remove`] and hand it to [`ORMap::apply`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update<S> {
    /// The content the update adds.
    pub store: S,
    /// Every dot the update has seen: those it replaces and those it mints.
    pub seen: CausalContext,
}

impl<S> Update<S> {
    /// The same update with its content wrapped (or converted) by `f`.
    pub fn map<T>(self, f: impl FnOnce(S) -> T) -> Update<T> {
        Update {
            store: f(self.store),
            seen: self.seen,
        }
    }
}

/// An observed-remove map of nested CRDTs sharing one causal context.
///
/// ```
/// use synod_crdt::ormap::{DotFun, DotMap, ORMap};
/// use synod_crdt::Lattice;
/// use synod_core::NodeId;
/// let (a, b) = (NodeId(1), NodeId(2));
/// // user → (field → multi-value register)
/// let mut ra: ORMap<&str, DotMap<&str, DotFun<u32>>> = ORMap::new();
/// ra.apply(a, |m, dot| m.update("ann", |fields| fields.update("age", |r| r.write(dot, 30))))?;
/// let mut rb = ra.clone();
/// rb.apply(b, |m, _| m.remove(&"ann"))?;                       // B removes ann ...
/// ra.apply(a, |m, dot| m.update("ann", |f| f.update("city", |r| r.write(dot, 7))))?;
/// ra.join(&rb);                                                // ... A concurrently sets her city
/// let ann = ra.get(&"ann").unwrap();
/// assert!(ann.get(&"age").is_none());                          // the observed field is gone
/// assert_eq!(ann.get(&"city").unwrap().values().collect::<Vec<_>>(), [&7]);
/// # Ok::<(), synod_crdt::CrdtError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ORMap<K: Ord, S> {
    map: DotMap<K, S>,
    context: CausalContext,
}

impl<K: Ord, S> Default for ORMap<K, S> {
    fn default() -> Self {
        ORMap {
            map: DotMap::default(),
            context: CausalContext::new(),
        }
    }
}

impl<K: Ord + Clone + std::fmt::Debug, S: DotStore> ORMap<K, S> {
    /// The empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Apply the update `f` builds from the map's content and a fresh dot of
    /// `replica`; returns the delta. The dot is only consumed if the update uses it.
    ///
    /// # Errors
    /// [`CrdtError::Overflow`] when `replica`'s dots are exhausted; nothing changes.
    pub fn apply(
        &mut self,
        replica: NodeId,
        f: impl FnOnce(&DotMap<K, S>, Dot) -> Update<DotMap<K, S>>,
    ) -> Result<ORMap<K, S>, CrdtError> {
        self.try_apply(replica, |m, dot| Ok(f(m, dot)))
    }

    /// [`apply`](Self::apply) with an update that can be refused (see
    /// [`DotMap::try_update`]).
    ///
    /// # Errors
    /// [`CrdtError::Overflow`] when `replica`'s dots are exhausted, or whatever `f`
    /// returns; nothing changes.
    pub fn try_apply(
        &mut self,
        replica: NodeId,
        f: impl FnOnce(&DotMap<K, S>, Dot) -> Result<Update<DotMap<K, S>>, CrdtError>,
    ) -> Result<ORMap<K, S>, CrdtError> {
        let dot = self
            .context
            .next_dot(replica)
            .map_err(|_| CrdtError::Overflow)?;
        let update = f(&self.map, dot)?;
        let delta = ORMap {
            map: update.store,
            context: update.seen,
        };
        self.join_map(&delta);
        Ok(delta)
    }

    /// The value under `key`.
    pub fn get(&self, key: &K) -> Option<&S> {
        self.map.get(key)
    }

    /// The (key, value) pairs, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &S)> + '_ {
        self.map.iter()
    }

    fn join_map(&mut self, other: &Self) {
        self.map
            .join_store(&self.context, &other.map, &other.context);
        self.context.join(&other.context);
    }
}

impl<K: Ord + Clone + std::fmt::Debug, S: DotStore> Lattice for ORMap<K, S> {
    fn join(&mut self, other: &Self) {
        self.join_map(other);
    }

    fn seen(&self) -> synod_clocks::VersionVector {
        self.context.version_vector().clone()
    }

    fn frontier(&self, replica: NodeId) -> u64 {
        crate::kernel::context_frontier(&self.context, replica)
    }

    fn validate(&self) -> Result<(), InvalidState> {
        validate_context(&self.context)?;
        self.map.check()?;
        let mut dots = Vec::new();
        self.map.collect_dots(&mut dots);
        validate_dots(&self.context, dots.iter().copied())
    }
}
