//! Dotted version vectors (Preguiça, Baquero, Almeida, Fonte, Gonçalves 2010) and
//! the DVVSet (Gonçalves, Almeida, Baquero, Fonte 2014, "Dotted Version Vectors:
//! Efficient Causality Tracking for Distributed Key-Value Stores").
//!
//! A Dynamo-style store that tags versions with per-*client* version vectors grows
//! one entry per client and can lose track of concurrency when a client talks to two
//! servers. Tagging each write instead with a *dot* minted by the server that
//! handled it — on top of the causal context the client read — keeps one entry per
//! server and still detects every sibling exactly.

use crate::wire::{Reader, put_varint};
use crate::{Causality, ClockError, DecodeError, Dot, VersionVector};
use core::cmp::Ordering;
use synod_core::NodeId;

/// A dotted version vector: the clock of one version. Its history is the context
/// (everything the writing client had read) plus the one event `dot` that made it.
///
/// The dot may lie beyond a gap in the context: server `s` can mint `s:5` for a
/// client that only read `s:2`, and then `s:3` and `s:4` are *not* in the history —
/// which is exactly what lets two writes through the same server be concurrent.
///
/// ```
/// use synod_clocks::{Causality, Dvv, VersionVector};
/// use synod_core::NodeId;
/// let s = NodeId(1);
/// // Two clients write with the same empty context through server s.
/// let first = Dvv::update(&[], &VersionVector::new(), s)?;
/// let second = Dvv::update(&[first.clone()], &VersionVector::new(), s)?;
/// assert_eq!(first.causality(&second), Causality::Concurrent); // siblings
/// // A client that read both overwrites them.
/// let ctx = Dvv::join_all(&[first.clone(), second.clone()]);
/// let third = Dvv::update(&[first.clone(), second.clone()], &ctx, s)?;
/// assert_eq!(first.causality(&third), Causality::Before);
/// assert_eq!(second.causality(&third), Causality::Before);
/// # Ok::<(), synod_clocks::ClockError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Dvv {
    dot: Dot,
    context: VersionVector,
}

impl Dvv {
    /// The clock of a version made by `dot` on top of `context`. The dot's counter is
    /// raised past the context if needed, so the dot is never already in it.
    ///
    /// # Errors
    /// [`ClockError::Overflow`] if the context's counter for the replica is `u64::MAX`.
    pub fn new(dot: Dot, context: VersionVector) -> Result<Self, ClockError> {
        let floor = context.next_dot(dot.replica)?.counter;
        Ok(Dvv {
            dot: Dot::new(dot.replica, dot.counter.max(floor)),
            context,
        })
    }

    /// The event that made this version.
    pub fn dot(&self) -> Dot {
        self.dot
    }

    /// What the writer had seen.
    pub fn context(&self) -> &VersionVector {
        &self.context
    }

    /// Whether the version's history holds `dot`.
    pub fn contains(&self, dot: Dot) -> bool {
        dot == self.dot || self.context.contains(dot)
    }

    /// The server-side write: `replica` handles a write whose client read `context`,
    /// while storing `siblings`. The new dot is one past every counter of `replica`
    /// that the store or the context knows.
    ///
    /// # Errors
    /// [`ClockError::Overflow`] if that counter is at `u64::MAX`.
    pub fn update(
        siblings: &[Dvv],
        context: &VersionVector,
        replica: NodeId,
    ) -> Result<Dvv, ClockError> {
        let known = siblings
            .iter()
            .map(|s| s.dot_or_context_max(replica))
            .chain([context.get(replica)])
            .max()
            .unwrap_or(0);
        let counter = known.checked_add(1).ok_or(ClockError::Overflow)?;
        Ok(Dvv {
            dot: Dot::new(replica, counter),
            context: context.clone(),
        })
    }

    fn dot_or_context_max(&self, replica: NodeId) -> u64 {
        let in_dot = if self.dot.replica == replica {
            self.dot.counter
        } else {
            0
        };
        in_dot.max(self.context.get(replica))
    }

    /// Whether every event of `replica` up to `counter` is in the history.
    fn covers(&self, replica: NodeId, counter: u64) -> bool {
        let have = self.context.get(replica);
        counter <= have
            || (self.dot.replica == replica
                && counter == self.dot.counter
                && have.saturating_add(1) == counter)
    }

    /// Whether this version's history is contained in `other`'s.
    pub fn le(&self, other: &Dvv) -> bool {
        other.contains(self.dot) && self.context.iter().all(|(r, n)| other.covers(r, n))
    }

    /// How this version relates to `other`.
    pub fn causality(&self, other: &Dvv) -> Causality {
        match (self.le(other), other.le(self)) {
            (true, true) => Causality::Equal,
            (true, false) => Causality::Before,
            (false, true) => Causality::After,
            (false, false) => Causality::Concurrent,
        }
    }

    /// A version vector covering the history (the context joined with the dot); for
    /// the context of a client that read this version.
    pub fn to_version_vector(&self) -> VersionVector {
        let mut vv = self.context.clone();
        vv.insert(self.dot);
        vv
    }

    /// The context a client that read all of `versions` sends with its next write.
    pub fn join_all(versions: &[Dvv]) -> VersionVector {
        let mut vv = VersionVector::new();
        for v in versions {
            vv.join(&v.context);
            vv.insert(v.dot);
        }
        vv
    }

    /// Keep the versions of `a ∪ b` that no other version in it contains: the
    /// siblings a replica stores after hearing from another (the paper's *sync*).
    pub fn sync<T: Clone>(a: &[(Dvv, T)], b: &[(Dvv, T)]) -> Vec<(Dvv, T)> {
        let mut out: Vec<(Dvv, T)> = Vec::with_capacity(a.len() + b.len());
        for (clock, value) in a.iter().chain(b) {
            let dominated = a
                .iter()
                .chain(b)
                .any(|(other, _)| clock.causality(other) == Causality::Before);
            if !dominated && !out.iter().any(|(kept, _)| kept == clock) {
                out.push((clock.clone(), value.clone()));
            }
        }
        out
    }

    /// The compact binary form: the dot (varint replica and counter), then the context.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(&mut out, self.dot.replica.0);
        put_varint(&mut out, self.dot.counter);
        self.context.encode_into(&mut out);
        out
    }

    /// Decode what [`encode`](Self::encode) produced.
    ///
    /// # Errors
    /// [`DecodeError`] on truncated, trailing or non-canonical input (a dot the
    /// context already holds).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        let dot = Dot::new(NodeId(reader.varint()?), reader.varint()?);
        let context = VersionVector::decode_from(&mut reader)?;
        reader.finish()?;
        if context.contains(dot) {
            return Err(DecodeError::NotCanonical("dot inside its context"));
        }
        Ok(Dvv { dot, context })
    }
}

/// One server's entry of a [`DvvSet`]: its counter and the values of its newest
/// events still alive.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct Entry<T> {
    replica: NodeId,
    counter: u64,
    /// Oldest first: `values[k]` was written by dot
    /// `(replica, counter - values.len() + 1 + k)`.
    values: Vec<T>,
}

/// A DVVSet: all sibling versions of one key in a single compact clock.
///
/// One entry per server `(replica, counter, values)`: the counter says how many of
/// the server's writes the key's history contains, and `values` are the newest of
/// those writes that no later write overwrote — each implicitly tagged with its dot.
/// Values written by clients without a server dot yet (carrying only a context) are
/// *anonymous*. The size is bounded by servers plus live siblings, however many
/// clients write.
///
/// The operations of the paper, in Rust:
///
/// | paper | here |
/// |---|---|
/// | new(v) / new(vv, v) | [`new`](Self::new) / [`with_context`](Self::with_context) |
/// | sync(a, b) | [`sync`](Self::sync) |
/// | join(c) | [`join`](Self::join) |
/// | update(c, r) / update(c, s, r) | [`update`](Self::update) (a server put) |
/// | event(c, r, v) | [`event`](Self::event) |
/// | values, size, ids | [`values`](Self::values), [`size`](Self::size), [`ids`](Self::ids) |
/// | reconcile(f, c), lww(f, c) | [`reconcile`](Self::reconcile), [`last_writer_wins`](Self::last_writer_wins) |
///
/// ```
/// use synod_clocks::{DvvSet, VersionVector};
/// use synod_core::NodeId;
/// let (a, b) = (NodeId(1), NodeId(2));
///
/// // Two clients write key K with empty contexts, through servers a and b.
/// let mut at_a = DvvSet::new_empty();
/// at_a.update(&VersionVector::new(), a, "v1")?;
/// let mut at_b = DvvSet::new_empty();
/// at_b.update(&VersionVector::new(), b, "v2")?;
/// // Anti-entropy: both are kept, as siblings.
/// let merged = at_a.sync(&at_b);
/// assert_eq!(merged.values().collect::<Vec<_>>(), [&"v1", &"v2"]);
/// // A client reads both (context = join) and writes v3 through a: it replaces both.
/// let mut at_a = merged.clone();
/// at_a.update(&merged.join(), a, "v3")?;
/// assert_eq!(at_a.values().collect::<Vec<_>>(), [&"v3"]);
/// assert_eq!(at_a.join(), VersionVector::from_entries([(a, 2), (b, 1)]));
/// # Ok::<(), synod_clocks::ClockError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DvvSet<T> {
    /// Sorted by replica; counters ≥ 1; `values.len() <= counter`.
    entries: Vec<Entry<T>>,
    anonymous: Vec<T>,
}

impl<T> Default for DvvSet<T> {
    fn default() -> Self {
        DvvSet::new_empty()
    }
}

impl<T> DvvSet<T> {
    /// No history, no values (a key never written).
    pub const fn new_empty() -> Self {
        DvvSet {
            entries: Vec::new(),
            anonymous: Vec::new(),
        }
    }

    /// One anonymous value with an empty history (a client's first write).
    pub fn new(value: T) -> Self {
        DvvSet {
            entries: Vec::new(),
            anonymous: vec![value],
        }
    }

    /// One anonymous value written by a client that had read `context`.
    pub fn with_context(context: &VersionVector, value: T) -> Self {
        DvvSet {
            anonymous: vec![value],
            ..Self::with_context_empty(context)
        }
    }

    /// The causal history `context` with no values at all.
    fn with_context_empty(context: &VersionVector) -> DvvSet<T> {
        DvvSet {
            entries: context
                .iter()
                .map(|(replica, counter)| Entry {
                    replica,
                    counter,
                    values: Vec::new(),
                })
                .collect(),
            anonymous: Vec::new(),
        }
    }

    /// The causal history, without values: what a client sends back as the context
    /// of its next write after reading this key.
    pub fn join(&self) -> VersionVector {
        VersionVector::from_entries(self.entries.iter().map(|e| (e.replica, e.counter)))
    }

    /// The servers with an entry.
    pub fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.entries.iter().map(|e| e.replica)
    }

    /// Every live value: per server oldest first, servers ascending, then anonymous.
    pub fn values(&self) -> impl Iterator<Item = &T> + '_ {
        self.entries
            .iter()
            .flat_map(|e| e.values.iter())
            .chain(&self.anonymous)
    }

    /// Every live value with its dot (`None` for anonymous values).
    pub fn dotted_values(&self) -> impl Iterator<Item = (Option<Dot>, &T)> + '_ {
        self.entries
            .iter()
            .flat_map(|e| {
                let first = e.counter - e.values.len() as u64 + 1;
                e.values
                    .iter()
                    .enumerate()
                    .map(move |(k, v)| (Some(Dot::new(e.replica, first + k as u64)), v))
            })
            .chain(self.anonymous.iter().map(|v| (None, v)))
    }

    /// The number of live values (siblings).
    pub fn size(&self) -> usize {
        self.entries.iter().map(|e| e.values.len()).sum::<usize>() + self.anonymous.len()
    }

    /// How this key's history relates to `other`'s (counters only, as the paper's
    /// `less` and `equal`).
    pub fn causality(&self, other: &DvvSet<T>) -> Causality {
        self.join().causality(&other.join())
    }

    /// The paper's *event*: record a new value by a new dot of `replica`, keeping
    /// every live value.
    ///
    /// # Errors
    /// [`ClockError::Overflow`] at `u64::MAX`; nothing changes.
    pub fn event(&mut self, replica: NodeId, value: T) -> Result<Dot, ClockError> {
        match self.entries.binary_search_by_key(&replica, |e| e.replica) {
            Ok(i) => {
                let e = &mut self.entries[i];
                e.counter = e.counter.checked_add(1).ok_or(ClockError::Overflow)?;
                e.values.push(value);
                Ok(Dot::new(replica, e.counter))
            }
            Err(i) => {
                self.entries.insert(
                    i,
                    Entry {
                        replica,
                        counter: 1,
                        values: vec![value],
                    },
                );
                Ok(Dot::new(replica, 1))
            }
        }
    }

    /// Keep only the value `by` ranks highest (ties: the later in
    /// [`values`](Self::values) order), at its dot, with the full history: a
    /// last-writer-wins resolution of the siblings.
    pub fn last_writer_wins<K: Ord>(mut self, mut by: impl FnMut(&T) -> K) -> DvvSet<T> {
        // Locate the winner: Some((entry, index)) or None for anonymous index.
        let mut best: Option<(K, Option<usize>, usize)> = None;
        for (i, e) in self.entries.iter().enumerate() {
            for (k, v) in e.values.iter().enumerate() {
                let key = by(v);
                if best.as_ref().is_none_or(|b| key >= b.0) {
                    best = Some((key, Some(i), k));
                }
            }
        }
        for (k, v) in self.anonymous.iter().enumerate() {
            let key = by(v);
            if best.as_ref().is_none_or(|b| key >= b.0) {
                best = Some((key, None, k));
            }
        }
        let Some((_, entry, index)) = best else {
            return self;
        };
        match entry {
            Some(i) => {
                for (j, e) in self.entries.iter_mut().enumerate() {
                    if j == i {
                        // As in the paper, the survivor takes the entry's newest
                        // dot: the history is unchanged and one value is live.
                        let winner = e.values.swap_remove(index);
                        e.values.clear();
                        e.values.push(winner);
                    } else {
                        e.values.clear();
                    }
                }
                self.anonymous.clear();
            }
            None => {
                let winner = self.anonymous.swap_remove(index);
                for e in &mut self.entries {
                    e.values.clear();
                }
                self.anonymous.clear();
                self.anonymous.push(winner);
            }
        }
        self
    }

    /// Replace every sibling by `merge(values)`, as an anonymous value whose context
    /// is the whole history: what a client does to resolve siblings, before the
    /// server dots the result with [`update`](Self::update).
    pub fn reconcile(self, merge: impl FnOnce(Vec<T>) -> T) -> DvvSet<T> {
        let context = self.join();
        let values: Vec<T> = self
            .entries
            .into_iter()
            .flat_map(|e| e.values)
            .chain(self.anonymous)
            .collect();
        DvvSet::with_context(&context, merge(values))
    }

    /// Apply `f` to every value, keeping the clock.
    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> DvvSet<U> {
        DvvSet {
            entries: self
                .entries
                .into_iter()
                .map(|e| Entry {
                    replica: e.replica,
                    counter: e.counter,
                    values: e.values.into_iter().map(&mut f).collect(),
                })
                .collect(),
            anonymous: self.anonymous.into_iter().map(f).collect(),
        }
    }
}

impl<T: Clone + Ord> DvvSet<T> {
    /// The paper's *sync*: merge two replicas' knowledge of a key. A value survives
    /// unless the other side's history contains its dot without keeping it.
    /// Commutative, associative and idempotent.
    pub fn sync(&self, other: &DvvSet<T>) -> DvvSet<T> {
        let (a, b) = (&self.entries, &other.entries);
        let mut entries = Vec::with_capacity(a.len().max(b.len()));
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) if x.replica == y.replica => {
                    entries.push(merge_entry(x, y));
                    i += 1;
                    j += 1;
                }
                (Some(x), Some(y)) if x.replica < y.replica => {
                    entries.push(x.clone());
                    i += 1;
                }
                (Some(_), Some(y)) | (None, Some(y)) => {
                    entries.push(y.clone());
                    j += 1;
                }
                (Some(x), None) => {
                    entries.push(x.clone());
                    i += 1;
                }
                (None, None) => break,
            }
        }
        let anonymous = match self.causality(other) {
            Causality::Before => other.anonymous.clone(),
            Causality::After => self.anonymous.clone(),
            Causality::Equal | Causality::Concurrent => {
                let mut all: Vec<T> = self
                    .anonymous
                    .iter()
                    .chain(&other.anonymous)
                    .cloned()
                    .collect();
                all.sort();
                all.dedup();
                all
            }
        };
        DvvSet { entries, anonymous }
    }

    /// The paper's *update*: server `replica` stores `value`, written by a client
    /// that had read `context`. Values the context covers are discarded (the client
    /// saw them, so the write overwrites them); concurrent ones stay as siblings; the
    /// new value gets the next dot of `replica`.
    ///
    /// # Errors
    /// [`ClockError::Overflow`] if `replica`'s counter is at `u64::MAX`; nothing
    /// changes.
    pub fn update(
        &mut self,
        context: &VersionVector,
        replica: NodeId,
        value: T,
    ) -> Result<Dot, ClockError> {
        let mut next = DvvSet::with_context_empty(context).sync(self);
        let dot = next.event(replica, value)?;
        *self = next;
        Ok(dot)
    }
}

/// Merge two entries of the same replica: the larger counter, and of the values
/// only those alive on both sides (a dot one side knows and the other does not keeps
/// its value; a dot both know is alive only if both still have it).
fn merge_entry<T: Clone>(x: &Entry<T>, y: &Entry<T>) -> Entry<T> {
    let (hi, lo) = if x.counter >= y.counter {
        (x, y)
    } else {
        (y, x)
    };
    // Dots of `hi` are alive above this counter in both views.
    let hi_first_dead = hi.counter - hi.values.len() as u64;
    let lo_first_dead = lo.counter - lo.values.len() as u64;
    let keep = hi.counter - hi_first_dead.max(lo_first_dead);
    let keep = keep as usize;
    Entry {
        replica: hi.replica,
        counter: hi.counter,
        values: hi.values[hi.values.len() - keep..].to_vec(),
    }
}

impl<T> DvvSet<T> {
    /// The compact binary form, with each value written by `put_value`: a varint
    /// entry count; per entry varint replica, counter and value count, then the
    /// values; then a varint anonymous count and those values.
    pub fn encode_with(&self, mut put_value: impl FnMut(&T, &mut Vec<u8>)) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(&mut out, self.entries.len() as u64);
        for e in &self.entries {
            put_varint(&mut out, e.replica.0);
            put_varint(&mut out, e.counter);
            put_varint(&mut out, e.values.len() as u64);
            for v in &e.values {
                put_value(v, &mut out);
            }
        }
        put_varint(&mut out, self.anonymous.len() as u64);
        for v in &self.anonymous {
            put_value(v, &mut out);
        }
        out
    }

    /// Decode what [`encode_with`](Self::encode_with) produced; `get_value` reads
    /// one value from the front of the slice and returns it with the bytes it used.
    ///
    /// # Errors
    /// [`DecodeError`] on truncated, trailing or non-canonical input, or whatever
    /// `get_value` returns.
    pub fn decode_with(
        bytes: &[u8],
        mut get_value: impl FnMut(&[u8]) -> Result<(T, usize), DecodeError>,
    ) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        let mut read_value = |reader: &mut Reader<'_>| -> Result<T, DecodeError> {
            let rest = reader.rest();
            let (value, used) = get_value(rest)?;
            reader.bytes(used)?;
            Ok(value)
        };
        let len = reader.length(3)?;
        let mut entries: Vec<Entry<T>> = Vec::with_capacity(len);
        for _ in 0..len {
            let replica = NodeId(reader.varint()?);
            let counter = reader.varint()?;
            let count = reader.length(1)?;
            if counter == 0 || count as u64 > counter {
                return Err(DecodeError::NotCanonical("counter below its live values"));
            }
            if entries.last().is_some_and(|e| e.replica >= replica) {
                return Err(DecodeError::NotCanonical("replicas not strictly ascending"));
            }
            let mut values = Vec::with_capacity(count);
            for _ in 0..count {
                values.push(read_value(&mut reader)?);
            }
            entries.push(Entry {
                replica,
                counter,
                values,
            });
        }
        let count = reader.length(1)?;
        let mut anonymous = Vec::with_capacity(count);
        for _ in 0..count {
            anonymous.push(read_value(&mut reader)?);
        }
        reader.finish()?;
        Ok(DvvSet { entries, anonymous })
    }
}

impl DvvSet<Vec<u8>> {
    /// [`encode_with`](Self::encode_with) for byte-string values (varint length,
    /// then the bytes).
    ///
    /// ```
    /// use synod_clocks::{DvvSet, VersionVector};
    /// use synod_core::NodeId;
    /// let mut set = DvvSet::new_empty();
    /// set.update(&VersionVector::new(), NodeId(1), b"hello".to_vec())?;
    /// let bytes = set.encode();
    /// assert_eq!(DvvSet::decode(&bytes), Ok(set));
    /// assert!(DvvSet::decode(&bytes[..bytes.len() - 1]).is_err());
    /// # Ok::<(), synod_clocks::ClockError>(())
    /// ```
    pub fn encode(&self) -> Vec<u8> {
        self.encode_with(|v, out| {
            put_varint(out, v.len() as u64);
            out.extend_from_slice(v);
        })
    }

    /// Decode what [`encode`](Self::encode) produced.
    ///
    /// # Errors
    /// [`DecodeError`] on truncated, trailing or non-canonical input.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_with(bytes, |rest| {
            let mut r = Reader::new(rest);
            let len = r.length(1)?;
            let value = r.bytes(len)?.to_vec();
            Ok((value, r.position()))
        })
    }
}

impl<T> PartialOrd for DvvSet<T>
where
    T: PartialEq,
{
    /// Compares histories only (the paper's `less`/`equal`); `None` if concurrent, or
    /// if the histories are equal but the live values differ.
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match self.causality(other) {
            Causality::Equal if self != other => None,
            c => c.to_partial_ord(),
        }
    }
}
