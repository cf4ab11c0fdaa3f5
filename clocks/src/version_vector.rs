//! Dots and version vectors: the causality vocabulary replicated data is built on.

use crate::{Causality, ClockError};
use core::cmp::Ordering;
use core::fmt;
use synod_core::NodeId;

/// One event, named by the replica that made it and that replica's counter:
/// `(replica, counter)`, written `replica:counter`. Counters start at 1.
///
/// A dot is the unit of causality in dotted version vectors, causal contexts and
/// the dot kernels of delta CRDTs: the `n`-th event of replica `r` is `Dot { r, n }`,
/// and a history containing it contains every earlier event of `r`.
///
/// ```
/// use synod_clocks::Dot;
/// use synod_core::NodeId;
/// let dot = Dot::new(NodeId(3), 2);
/// assert_eq!(dot.to_string(), "n3:2");
/// assert!(dot < Dot::new(NodeId(3), 5));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Dot {
    /// The replica that made the event.
    pub replica: NodeId,
    /// Its position in that replica's sequence of events, from 1.
    pub counter: u64,
}

impl Dot {
    /// The `counter`-th event of `replica`.
    pub const fn new(replica: NodeId, counter: u64) -> Self {
        Dot { replica, counter }
    }

    /// Check a dot that came from elsewhere (serde derives accept any value):
    /// counters start at 1, so a zero counter names no event.
    ///
    /// ```
    /// use synod_clocks::Dot;
    /// use synod_core::NodeId;
    /// assert!(Dot::new(NodeId(1), 1).validate().is_ok());
    /// assert!(Dot::new(NodeId(1), 0).validate().is_err());
    /// ```
    ///
    /// # Errors
    /// [`DecodeError::NotCanonical`](crate::DecodeError::NotCanonical).
    pub fn validate(&self) -> Result<(), crate::DecodeError> {
        if self.counter == 0 {
            return Err(crate::DecodeError::NotCanonical("a dot with counter 0"));
        }
        Ok(())
    }
}

impl fmt::Display for Dot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.replica, self.counter)
    }
}

/// A version vector: for each replica, how many of its events a history contains.
///
/// Stored as a vector of `(replica, counter)` pairs sorted by replica, with no zero
/// counters: for the handful of replicas a key has, that is smaller and faster than a
/// map, and equal histories have equal representations (so `==` is causal equality).
///
/// It is also this crate's *sparse vector clock* ([`SparseVClock`](crate::SparseVClock)
/// is the same type): the structure is identical, only what is counted differs —
/// every event of a process for a vector clock, updates to one datum for a version
/// vector.
///
/// The version-vector example from the course notes: clients C2 and C3 write key K
/// through a server that tags each write with the writing client's counter.
///
/// ```
/// use synod_clocks::{Causality, VersionVector};
/// use synod_core::NodeId;
/// let (c2, c3) = (NodeId(2), NodeId(3));
/// let mut v = VersionVector::new();      // C3 writes V with an empty context
/// v.increment(c3)?;
/// let mut a = v.clone();                  // C3 syncs, writes A
/// a.increment(c3)?;
/// assert_eq!(a.get(c3), 2);
/// let mut w = VersionVector::new();      // C2 writes W with an empty context
/// w.increment(c2)?;
/// assert_eq!(a.causality(&w), Causality::Concurrent); // {C3:2} vs {C2:1}: siblings
/// assert_eq!(v.causality(&a), Causality::Before);     // A supersedes V
/// # Ok::<(), synod_clocks::ClockError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct VersionVector {
    entries: Vec<(NodeId, u64)>,
}

impl VersionVector {
    /// The empty history.
    pub const fn new() -> Self {
        VersionVector {
            entries: Vec::new(),
        }
    }

    /// Room for `replicas` entries before growing.
    pub fn with_capacity(replicas: usize) -> Self {
        VersionVector {
            entries: Vec::with_capacity(replicas),
        }
    }

    /// Build from `(replica, counter)` pairs in any order; zero counters are
    /// dropped and a replica named twice keeps its larger counter.
    pub fn from_entries(pairs: impl IntoIterator<Item = (NodeId, u64)>) -> Self {
        let mut entries: Vec<(NodeId, u64)> = pairs.into_iter().filter(|e| e.1 > 0).collect();
        entries.sort_unstable();
        // Sorted by (replica, counter): for duplicates keep the last, the largest.
        entries.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                earlier.1 = later.1;
                true
            } else {
                false
            }
        });
        VersionVector { entries }
    }

    /// Check a vector that came from elsewhere (serde derives accept any value):
    /// replicas strictly ascending, no zero counters — the form every method keeps,
    /// and that equality and lookups rely on.
    ///
    /// ```
    /// use synod_clocks::VersionVector;
    /// use synod_core::NodeId;
    /// assert!(VersionVector::from_entries([(NodeId(2), 1), (NodeId(1), 3)]).validate().is_ok());
    /// ```
    ///
    /// # Errors
    /// [`DecodeError::NotCanonical`](crate::DecodeError::NotCanonical).
    pub fn validate(&self) -> Result<(), crate::DecodeError> {
        if !self.entries.windows(2).all(|w| w[0].0 < w[1].0) {
            return Err(crate::DecodeError::NotCanonical(
                "replicas not strictly ascending",
            ));
        }
        if self.entries.iter().any(|e| e.1 == 0) {
            return Err(crate::DecodeError::NotCanonical("a zero counter"));
        }
        Ok(())
    }

    /// How many events of `replica` the history contains.
    #[inline]
    pub fn get(&self, replica: NodeId) -> u64 {
        match self.entries.binary_search_by_key(&replica, |e| e.0) {
            Ok(i) => self.entries[i].1,
            Err(_) => 0,
        }
    }

    /// Whether the history contains `dot`.
    #[inline]
    pub fn contains(&self, dot: Dot) -> bool {
        dot.counter <= self.get(dot.replica)
    }

    /// The dot the next event of `replica` will get, without recording it.
    ///
    /// # Errors
    /// [`ClockError::Overflow`] if `replica`'s counter is at `u64::MAX`.
    pub fn next_dot(&self, replica: NodeId) -> Result<Dot, ClockError> {
        let counter = self
            .get(replica)
            .checked_add(1)
            .ok_or(ClockError::Overflow)?;
        Ok(Dot::new(replica, counter))
    }

    /// Record one more event of `replica` and return its dot.
    ///
    /// # Errors
    /// [`ClockError::Overflow`] if the counter is at `u64::MAX`; nothing changes.
    pub fn increment(&mut self, replica: NodeId) -> Result<Dot, ClockError> {
        match self.entries.binary_search_by_key(&replica, |e| e.0) {
            Ok(i) => {
                let counter = &mut self.entries[i].1;
                *counter = counter.checked_add(1).ok_or(ClockError::Overflow)?;
                Ok(Dot::new(replica, *counter))
            }
            Err(i) => {
                self.entries.insert(i, (replica, 1));
                Ok(Dot::new(replica, 1))
            }
        }
    }

    /// Raise `replica`'s counter to at least `counter` (add the dot and every earlier
    /// event of that replica).
    pub fn insert(&mut self, dot: Dot) {
        if dot.counter == 0 {
            return;
        }
        match self.entries.binary_search_by_key(&dot.replica, |e| e.0) {
            Ok(i) => self.entries[i].1 = self.entries[i].1.max(dot.counter),
            Err(i) => self.entries.insert(i, (dot.replica, dot.counter)),
        }
    }

    /// The union of two histories: the pointwise maximum (the lattice join).
    pub fn join(&mut self, other: &VersionVector) {
        // Fast path: same replicas in the same order, the common case for a key
        // replicated on a fixed preference list.
        if self.entries.len() == other.entries.len()
            && self
                .entries
                .iter()
                .zip(&other.entries)
                .all(|(a, b)| a.0 == b.0)
        {
            for (a, b) in self.entries.iter_mut().zip(&other.entries) {
                a.1 = a.1.max(b.1);
            }
            return;
        }
        let mut merged = Vec::with_capacity(self.entries.len() + other.entries.len());
        let (mut i, mut j) = (0, 0);
        let (a, b) = (&self.entries, &other.entries);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                Ordering::Less => {
                    merged.push(a[i]);
                    i += 1;
                }
                Ordering::Greater => {
                    merged.push(b[j]);
                    j += 1;
                }
                Ordering::Equal => {
                    merged.push((a[i].0, a[i].1.max(b[j].1)));
                    i += 1;
                    j += 1;
                }
            }
        }
        merged.extend_from_slice(&a[i..]);
        merged.extend_from_slice(&b[j..]);
        self.entries = merged;
    }

    /// How this history relates to `other` under happened-before.
    #[inline]
    pub fn causality(&self, other: &VersionVector) -> Causality {
        let (a, b) = (&self.entries, &other.entries);
        let (mut smaller, mut larger) = (false, false);
        if a.len() == b.len() {
            // Same replicas (the common case): one pass, no branches on keys.
            let mut same_keys = true;
            for (x, y) in a.iter().zip(b) {
                same_keys &= x.0 == y.0;
                smaller |= x.1 < y.1;
                larger |= x.1 > y.1;
            }
            if same_keys {
                return Causality::from_flags(smaller, larger);
            }
            smaller = false;
            larger = false;
        }
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                // A replica only the left knows: the left has events the right lacks.
                Ordering::Less => {
                    larger = true;
                    i += 1;
                }
                Ordering::Greater => {
                    smaller = true;
                    j += 1;
                }
                Ordering::Equal => {
                    smaller |= a[i].1 < b[j].1;
                    larger |= a[i].1 > b[j].1;
                    i += 1;
                    j += 1;
                }
            }
            if smaller && larger {
                return Causality::Concurrent;
            }
        }
        larger |= i < a.len();
        smaller |= j < b.len();
        Causality::from_flags(smaller, larger)
    }

    /// Whether this history contains all of `other` (`other <= self`).
    pub fn descends(&self, other: &VersionVector) -> bool {
        matches!(self.causality(other), Causality::After | Causality::Equal)
    }

    /// Whether neither history contains the other.
    pub fn concurrent(&self, other: &VersionVector) -> bool {
        self.causality(other) == Causality::Concurrent
    }

    /// The `(replica, counter)` pairs, sorted by replica, counters non-zero.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (NodeId, u64)> + '_ {
        self.entries.iter().copied()
    }

    /// The pairs as a slice, sorted by replica.
    pub fn as_slice(&self) -> &[(NodeId, u64)] {
        &self.entries
    }

    /// The replicas with at least one event.
    pub fn replicas(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.entries.iter().map(|e| e.0)
    }

    /// Number of replicas with at least one event.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the history is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Total number of events (the size of the causal history), saturating.
    pub fn total(&self) -> u64 {
        self.entries
            .iter()
            .fold(0u64, |sum, e| sum.saturating_add(e.1))
    }

    /// Forget `replica` (after it retired and every replica has seen its last event).
    pub fn remove(&mut self, replica: NodeId) -> u64 {
        match self.entries.binary_search_by_key(&replica, |e| e.0) {
            Ok(i) => self.entries.remove(i).1,
            Err(_) => 0,
        }
    }

    /// Append the compact binary form: a varint count, then per entry a varint
    /// replica and a varint counter, replicas ascending.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        crate::wire::put_varint(out, self.entries.len() as u64);
        for &(replica, counter) in &self.entries {
            crate::wire::put_varint(out, replica.0);
            crate::wire::put_varint(out, counter);
        }
    }

    /// The compact binary form (see [`encode_into`](Self::encode_into)).
    ///
    /// ```
    /// use synod_clocks::VersionVector;
    /// use synod_core::NodeId;
    /// let vv = VersionVector::from_entries([(NodeId(1), 3), (NodeId(7), 300)]);
    /// let bytes = vv.encode();
    /// assert_eq!(VersionVector::decode(&bytes), Ok(vv));
    /// assert!(VersionVector::decode(&bytes[..3]).is_err()); // truncated: an error, not a panic
    /// ```
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Decode exactly one version vector from `bytes`.
    ///
    /// # Errors
    /// A [`DecodeError`](crate::DecodeError) for truncated, trailing or non-canonical
    /// input (replicas not strictly ascending, a zero counter).
    pub fn decode(bytes: &[u8]) -> Result<Self, crate::DecodeError> {
        let mut reader = crate::wire::Reader::new(bytes);
        let vv = Self::decode_from(&mut reader)?;
        reader.finish()?;
        Ok(vv)
    }

    pub(crate) fn decode_from(
        reader: &mut crate::wire::Reader<'_>,
    ) -> Result<Self, crate::DecodeError> {
        // Each entry takes at least two bytes: bound the allocation by the input.
        let len = reader.length(2)?;
        let mut entries = Vec::with_capacity(len);
        for _ in 0..len {
            let replica = NodeId(reader.varint()?);
            let counter = reader.varint()?;
            if counter == 0 {
                return Err(crate::DecodeError::NotCanonical("zero counter"));
            }
            if entries.last().is_some_and(|&(last, _)| last >= replica) {
                return Err(crate::DecodeError::NotCanonical(
                    "replicas not strictly ascending",
                ));
            }
            entries.push((replica, counter));
        }
        Ok(VersionVector { entries })
    }
}

impl PartialOrd for VersionVector {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.causality(other).to_partial_ord()
    }
}

impl FromIterator<(NodeId, u64)> for VersionVector {
    fn from_iter<I: IntoIterator<Item = (NodeId, u64)>>(iter: I) -> Self {
        VersionVector::from_entries(iter)
    }
}

impl fmt::Display for VersionVector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (k, (replica, counter)) in self.entries.iter().enumerate() {
            if k > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{replica}:{counter}")?;
        }
        f.write_str("}")
    }
}

/// One version of a datum: a value and the version vector of the write that made it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Versioned<T> {
    /// The history of the write.
    pub version: VersionVector,
    /// What was written.
    pub value: T,
}

/// The concurrent versions of one datum (siblings), as a Dynamo-style store keeps
/// them when writes are tagged with per-writer version vectors.
///
/// [`put`](Siblings::put) keeps a new version unless a stored one already contains
/// it, and drops every stored version the new one contains; what remains are exactly
/// the versions no other version descends from. Bounded by the number of concurrent
/// writers (use [`DvvSet`](crate::DvvSet) to bound it by the number of servers).
///
/// The meeting-day example from the course notes: Alice proposes Wednesday; Ben
/// answers Tuesday and Dave confirms; Cathy, who only saw Alice, says Thursday. Dave
/// then sees both, and his reconciliation overrules the Tuesday he agreed with Ben.
///
/// ```
/// use synod_clocks::{Causality, Siblings, VersionVector};
/// use synod_core::NodeId;
/// let (alice, ben, cathy, dave) = (NodeId(1), NodeId(2), NodeId(3), NodeId(4));
/// let vv = |pairs: &[(NodeId, u64)]| VersionVector::from_entries(pairs.iter().copied());
///
/// let wednesday = vv(&[(alice, 1)]);
/// let mut tuesday = wednesday.clone();
/// tuesday.increment(ben)?;                 // Alice:1, Ben:1
/// tuesday.increment(dave)?;                // Alice:1, Ben:1, Dave:1
/// let mut thursday = wednesday.clone();
/// thursday.increment(cathy)?;              // Alice:1, Cathy:1
///
/// // Dave holds two conflicting objects: siblings.
/// let mut at_dave = Siblings::new();
/// at_dave.put(tuesday.clone(), "Tuesday");
/// at_dave.put(thursday.clone(), "Thursday");
/// assert_eq!(at_dave.len(), 2);
///
/// // He picks Thursday: the new version's history is the union of both, plus his event.
/// let mut decided = at_dave.context();
/// decided.increment(dave)?;
/// assert_eq!(decided, vv(&[(alice, 1), (ben, 1), (cathy, 1), (dave, 2)]));
/// at_dave.put(decided.clone(), "Thursday");
/// assert_eq!(at_dave.values().collect::<Vec<_>>(), [&"Thursday"]);
///
/// // Alice hears Tuesday from Ben and Thursday from Cathy (who got Dave's decision):
/// // Cathy's version descends from Ben's, so Ben has been overruled.
/// assert_eq!(tuesday.causality(&decided), Causality::Before);
/// let mut at_alice = Siblings::new();
/// at_alice.put(tuesday, "Tuesday");
/// at_alice.put(decided, "Thursday");
/// assert_eq!(at_alice.values().collect::<Vec<_>>(), [&"Thursday"]);
/// # Ok::<(), synod_clocks::ClockError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Siblings<T> {
    versions: Vec<Versioned<T>>,
}

impl<T> Default for Siblings<T> {
    fn default() -> Self {
        Siblings::new()
    }
}

impl<T> Siblings<T> {
    /// No versions.
    pub const fn new() -> Self {
        Siblings {
            versions: Vec::new(),
        }
    }

    /// Add a version. Returns `false` (and keeps nothing) if a stored version already
    /// contains it; otherwise stores it and drops every version it contains.
    pub fn put(&mut self, version: VersionVector, value: T) -> bool {
        if self.versions.iter().any(|v| v.version.descends(&version)) {
            return false;
        }
        self.versions.retain(|v| !version.descends(&v.version));
        self.versions.push(Versioned { version, value });
        true
    }

    /// Merge another replica's siblings into these.
    pub fn merge(&mut self, other: Siblings<T>) {
        for v in other.versions {
            self.put(v.version, v.value);
        }
    }

    /// The join of every sibling's history: the context a client should send with a
    /// write that resolves them.
    pub fn context(&self) -> VersionVector {
        let mut context = VersionVector::new();
        for v in &self.versions {
            context.join(&v.version);
        }
        context
    }

    /// The concurrent versions.
    pub fn versions(&self) -> &[Versioned<T>] {
        &self.versions
    }

    /// The concurrent values.
    pub fn values(&self) -> impl Iterator<Item = &T> + '_ {
        self.versions.iter().map(|v| &v.value)
    }

    /// Number of siblings.
    pub fn len(&self) -> usize {
        self.versions.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }
}
