//! Interval tree clocks (Almeida, Baquero, Fonte: "Interval Tree Clocks: A Logical
//! Clock for Dynamic Systems", OPODIS 2008).
//!
//! A vector clock needs a globally unique id per participant and keeps an entry for
//! every participant that ever existed. An ITC *stamp* instead owns a piece of the
//! interval [0, 1): `fork` splits a stamp's piece between two stamps, `join` glues two
//! pieces back, and events raise a tree-shaped function over the interval only where
//! the stamp owns it. Participants come and go without any global naming, and the
//! clock shrinks again when they retire (join).

use crate::wire::{BitReader, BitWriter};
use crate::{Causality, ClockError, DecodeError};
use core::cmp::Ordering;
use core::fmt;

/// How deep a decoded tree may nest: bounds the decoder's recursion so hostile input
/// cannot overflow the stack. A tree this deep needs 2^256 forks to build honestly.
pub const MAX_DEPTH: usize = 256;

/// The id half of a stamp: which part of [0, 1) it owns. Always normalized:
/// `(0, 0)` is written `0` and `(1, 1)` is written `1`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Id {
    /// Owns nothing (an anonymous stamp).
    Zero,
    /// Owns the whole interval of this node.
    One,
    /// Left half and right half.
    Split(Box<Id>, Box<Id>),
}

/// The event half of a stamp: a function over [0, 1), a base value plus, optionally,
/// left and right subtrees lifted by it. Always normalized (one subtree's minimum is
/// zero; leaves under one node differ).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Event {
    /// A constant.
    Leaf(u64),
    /// A base value and two subtrees relative to it.
    Node(u64, Box<Event>, Box<Event>),
}

/// An interval-tree-clock stamp: an id and an event tree.
///
/// ```
/// use synod_clocks::{Causality, Stamp};
/// let seed = Stamp::seed();
/// let (mut a, b) = seed.fork();
/// let (mut b, mut c) = b.fork();           // three participants, no global ids
/// a.event()?;
/// b.event()?;
/// assert_eq!(a.causality(&b), Causality::Concurrent);
/// let msg = a.peek();                      // a sends its history, keeping its id
/// c = c.join(msg)?;
/// c.event()?;
/// assert_eq!(a.causality(&c), Causality::Before);
/// // a retires: its id goes back to c, and the clock stays small.
/// let c = c.join(a)?;
/// let bytes = c.encode();
/// assert_eq!(Stamp::decode(&bytes)?, c);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Stamp {
    id: Id,
    event: Event,
}

impl Id {
    fn split_node(l: Id, r: Id) -> Id {
        // Normalization: (0,0) → 0, (1,1) → 1.
        match (l, r) {
            (Id::Zero, Id::Zero) => Id::Zero,
            (Id::One, Id::One) => Id::One,
            (l, r) => Id::Split(Box::new(l), Box::new(r)),
        }
    }

    /// Split into two disjoint ids whose union is `self`.
    fn split(&self) -> (Id, Id) {
        match self {
            Id::Zero => (Id::Zero, Id::Zero),
            Id::One => (
                Id::Split(Box::new(Id::One), Box::new(Id::Zero)),
                Id::Split(Box::new(Id::Zero), Box::new(Id::One)),
            ),
            Id::Split(l, r) => match (&**l, &**r) {
                (Id::Zero, i) => {
                    let (i1, i2) = i.split();
                    (Id::split_node(Id::Zero, i1), Id::split_node(Id::Zero, i2))
                }
                (i, Id::Zero) => {
                    let (i1, i2) = i.split();
                    (Id::split_node(i1, Id::Zero), Id::split_node(i2, Id::Zero))
                }
                (l, r) => (
                    Id::split_node(l.clone(), Id::Zero),
                    Id::split_node(Id::Zero, r.clone()),
                ),
            },
        }
    }

    /// The union of two disjoint ids.
    fn sum(self, other: Id) -> Result<Id, ClockError> {
        match (self, other) {
            (Id::Zero, i) | (i, Id::Zero) => Ok(i),
            (Id::Split(l1, r1), Id::Split(l2, r2)) => {
                Ok(Id::split_node(l1.sum(*l2)?, r1.sum(*r2)?))
            }
            _ => Err(ClockError::OverlappingIds),
        }
    }

    fn is_zero(&self) -> bool {
        matches!(self, Id::Zero)
    }
}

impl Event {
    fn node(n: u64, l: Event, r: Event) -> Event {
        Event::Node(n, Box::new(l), Box::new(r)).normalized()
    }

    /// The base value.
    fn base(&self) -> u64 {
        match self {
            Event::Leaf(n) | Event::Node(n, _, _) => *n,
        }
    }

    /// The smallest value over the interval (for a normalized tree, the base).
    pub fn min(&self) -> u64 {
        match self {
            Event::Leaf(n) => *n,
            Event::Node(n, l, r) => n.saturating_add(l.min().min(r.min())),
        }
    }

    /// The largest value over the interval.
    pub fn max(&self) -> u64 {
        match self {
            Event::Leaf(n) => *n,
            Event::Node(n, l, r) => n.saturating_add(l.max().max(r.max())),
        }
    }

    fn sink(self, m: u64) -> Event {
        match self {
            Event::Leaf(n) => Event::Leaf(n - m.min(n)),
            Event::Node(n, l, r) => Event::Node(n - m.min(n), l, r),
        }
    }

    /// Normalize one level, assuming the subtrees are normalized.
    fn normalized(self) -> Event {
        match self {
            Event::Node(n, l, r) => match (*l, *r) {
                (Event::Leaf(a), Event::Leaf(b)) if a == b => Event::Leaf(n.saturating_add(a)),
                (l, r) => {
                    let m = l.min().min(r.min());
                    Event::Node(
                        n.saturating_add(m),
                        Box::new(l.sink(m)),
                        Box::new(r.sink(m)),
                    )
                }
            },
            leaf => leaf,
        }
    }

    /// The pointwise maximum of two event trees (the lattice join).
    pub fn join(&self, other: &Event) -> Event {
        Event::join_lifted(self, 0, other, 0)
    }

    /// Join `a` lifted by `da` with `b` lifted by `db`, without cloning subtrees to
    /// lift them (the paper's join, with the lifts carried as offsets).
    fn join_lifted(a: &Event, da: u64, b: &Event, db: u64) -> Event {
        const ZERO: &Event = &Event::Leaf(0);
        let ((n1, c1), (n2, c2)) = (a.lifted_parts(da), b.lifted_parts(db));
        if c1.is_none() && c2.is_none() {
            return Event::Leaf(n1.max(n2));
        }
        let (l1, r1) = c1.unwrap_or((ZERO, ZERO));
        let (l2, r2) = c2.unwrap_or((ZERO, ZERO));
        let m = n1.min(n2);
        Event::node(
            m,
            Event::join_lifted(l1, n1 - m, l2, n2 - m),
            Event::join_lifted(r1, n1 - m, r2, n2 - m),
        )
    }

    /// The base lifted by `d`, and the subtrees if any.
    fn lifted_parts(&self, d: u64) -> (u64, Option<(&Event, &Event)>) {
        match self {
            Event::Leaf(n) => (n.saturating_add(d), None),
            Event::Node(n, l, r) => (n.saturating_add(d), Some((&**l, &**r))),
        }
    }

    /// Whether `self` is pointwise at most `other`.
    pub fn leq(&self, other: &Event) -> bool {
        self.leq_offset(0, other, 0)
    }

    // leq with each side lifted by an offset, to avoid cloning while descending.
    fn leq_offset(&self, a_off: u64, other: &Event, b_off: u64) -> bool {
        match (self, other) {
            (Event::Leaf(a), _) => a.saturating_add(a_off) <= other.base().saturating_add(b_off),
            (Event::Node(n1, l1, r1), Event::Leaf(n2)) => {
                let a = n1.saturating_add(a_off);
                let b = n2.saturating_add(b_off);
                a <= b
                    && l1.leq_offset(a, &Event::Leaf(0), b)
                    && r1.leq_offset(a, &Event::Leaf(0), b)
            }
            (Event::Node(n1, l1, r1), Event::Node(n2, l2, r2)) => {
                let a = n1.saturating_add(a_off);
                let b = n2.saturating_add(b_off);
                a <= b && l1.leq_offset(a, l2, b) && r1.leq_offset(a, r2, b)
            }
        }
    }

    /// Fill: raise the tree as far as possible where `id` owns the interval, without
    /// inventing a new event (the "fill" of the paper, §5.3.2).
    fn fill(&self, id: &Id) -> Event {
        match (id, self) {
            (Id::Zero, e) => e.clone(),
            (Id::One, e) => Event::Leaf(e.max()),
            (_, Event::Leaf(n)) => Event::Leaf(*n),
            (Id::Split(il, ir), Event::Node(n, el, er)) => match (&**il, &**ir) {
                (Id::One, ir) => {
                    let er2 = er.fill(ir);
                    let left = Event::Leaf(el.max().max(er2.min()));
                    Event::node(*n, left, er2)
                }
                (il, Id::One) => {
                    let el2 = el.fill(il);
                    let right = Event::Leaf(er.max().max(el2.min()));
                    Event::node(*n, el2, right)
                }
                (il, ir) => Event::node(*n, el.fill(il), er.fill(ir)),
            },
        }
    }

    /// Grow: the cheapest inflation of the tree within `id` (the paper's "grow"),
    /// with its cost. Expanding a leaf costs much more than incrementing one, so the
    /// tree stays as small as possible.
    fn grow(&self, id: &Id) -> Option<(Event, u64)> {
        const EXPAND_COST: u64 = 1 << 20;
        match (id, self) {
            (Id::One, Event::Leaf(n)) => Some((Event::Leaf(n.checked_add(1)?), 0)),
            (_, Event::Leaf(n)) => {
                let expanded = Event::Node(*n, Box::new(Event::Leaf(0)), Box::new(Event::Leaf(0)));
                let (e, c) = expanded.grow(id)?;
                Some((e, c.saturating_add(EXPAND_COST)))
            }
            (Id::Split(il, ir), Event::Node(n, el, er)) => {
                let left = if il.is_zero() { None } else { el.grow(il) };
                let right = if ir.is_zero() { None } else { er.grow(ir) };
                match (left, right) {
                    (Some((el2, cl)), Some((_, cr))) if cl < cr => Some((
                        Event::Node(*n, Box::new(el2), er.clone()),
                        cl.saturating_add(1),
                    )),
                    (_, Some((er2, cr))) => Some((
                        Event::Node(*n, el.clone(), Box::new(er2)),
                        cr.saturating_add(1),
                    )),
                    (Some((el2, cl)), None) => Some((
                        Event::Node(*n, Box::new(el2), er.clone()),
                        cl.saturating_add(1),
                    )),
                    (None, None) => None,
                }
            }
            // Unreachable after a fill that changed nothing (fill flattens every
            // subtree a whole id owns), but an inflation all the same.
            (Id::One, Event::Node(..)) => Some((Event::Leaf(self.max().checked_add(1)?), 0)),
            (Id::Zero, _) => None,
        }
    }

    fn normalized_deep(self) -> Event {
        match self {
            Event::Node(n, l, r) => Event::node(n, l.normalized_deep(), r.normalized_deep()),
            leaf => leaf,
        }
    }

    fn depth(&self) -> usize {
        match self {
            Event::Leaf(_) => 0,
            Event::Node(_, l, r) => 1 + l.depth().max(r.depth()),
        }
    }

    /// Number of nodes and leaves in the tree.
    pub fn size(&self) -> usize {
        match self {
            Event::Leaf(_) => 1,
            Event::Node(_, l, r) => 1 + l.size() + r.size(),
        }
    }
}

impl Stamp {
    /// The first stamp: owns the whole interval, no events.
    pub fn seed() -> Stamp {
        Stamp {
            id: Id::One,
            event: Event::Leaf(0),
        }
    }

    /// The id part.
    pub fn id(&self) -> &Id {
        &self.id
    }

    /// The event part.
    pub fn event_tree(&self) -> &Event {
        &self.event
    }

    /// Split into two stamps with disjoint ids and the same history: a new
    /// participant (or a replica of this one).
    pub fn fork(&self) -> (Stamp, Stamp) {
        let (i1, i2) = self.id.split();
        (
            Stamp {
                id: i1,
                event: self.event.clone(),
            },
            Stamp {
                id: i2,
                event: self.event.clone(),
            },
        )
    }

    /// An anonymous copy of the history, to send in a message (the sender keeps its
    /// id). `peek` is `fork` where one side gets no id.
    pub fn peek(&self) -> Stamp {
        Stamp {
            id: Id::Zero,
            event: self.event.clone(),
        }
    }

    /// Merge two stamps: the union of their ids and the join of their histories.
    /// Used on receive (joining a peeked stamp) and to retire a participant.
    ///
    /// # Errors
    /// [`ClockError::OverlappingIds`] if the ids are not disjoint (they were not
    /// obtained by forking); nothing is merged.
    pub fn join(self, other: Stamp) -> Result<Stamp, ClockError> {
        let event = self.event.join(&other.event);
        let id = self.id.sum(other.id)?;
        Ok(Stamp { id, event })
    }

    /// Record an event: inflate the history where this stamp owns the interval.
    ///
    /// # Errors
    /// [`ClockError::AnonymousStamp`] for a stamp without id; [`ClockError::Overflow`]
    /// if a value would pass `u64::MAX`.
    pub fn event(&mut self) -> Result<(), ClockError> {
        if self.id.is_zero() {
            return Err(ClockError::AnonymousStamp);
        }
        let filled = self.event.fill(&self.id);
        if filled != self.event {
            self.event = filled;
            return Ok(());
        }
        if self.event.max() == u64::MAX {
            return Err(ClockError::Overflow);
        }
        let (grown, _) = self.event.grow(&self.id).ok_or(ClockError::Overflow)?;
        self.event = grown.normalized_deep();
        Ok(())
    }

    /// Whether this stamp's history is contained in `other`'s.
    pub fn leq(&self, other: &Stamp) -> bool {
        self.event.leq(&other.event)
    }

    /// How this stamp's history relates to `other`'s.
    pub fn causality(&self, other: &Stamp) -> Causality {
        Causality::from_flags(!other.leq(self), !self.leq(other))
    }

    /// The paper's compact binary encoding (§6): ids in 2-bit tags, event trees
    /// with 1- and 2-bit tags, numbers in an Elias-like variable-width code; the
    /// bit string is padded with zero bits to whole bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = BitWriter::default();
        encode_id(&self.id, &mut w);
        encode_event(&self.event, &mut w);
        w.finish()
    }

    /// Decode what [`encode`](Self::encode) produced.
    ///
    /// # Errors
    /// [`DecodeError`] on truncated input, non-zero padding or trailing bytes, a
    /// number beyond `u64::MAX`, trees nested beyond [`MAX_DEPTH`], or a tree that is
    /// not normalized (so every stamp has exactly one encoding).
    pub fn decode(bytes: &[u8]) -> Result<Stamp, DecodeError> {
        let mut r = BitReader::new(bytes);
        let id = decode_id(&mut r, 0)?;
        let event = decode_event(&mut r, 0)?;
        r.finish()?;
        // Values along a path must fit in u64 (max saturates, so compare via checked sums).
        if !fits(&event, 0) {
            return Err(DecodeError::OutOfRange);
        }
        let stamp = Stamp { id, event };
        if !is_normal_id(&stamp.id) || !is_normal_event(&stamp.event) {
            return Err(DecodeError::NotCanonical("ITC tree not normalized"));
        }
        // Some shapes fit a longer tag too (a zero child written out in full); only
        // the encoder's choice is accepted, so each stamp has one encoding.
        if stamp.encode() != bytes {
            return Err(DecodeError::NotCanonical("ITC tree with a redundant tag"));
        }
        Ok(stamp)
    }

    /// Depth of the deeper of the two trees.
    pub fn depth(&self) -> usize {
        id_depth(&self.id).max(self.event.depth())
    }
}

impl PartialOrd for Stamp {
    /// The causal order of the histories (ids are ignored).
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.causality(other).to_partial_ord()
    }
}

fn id_depth(id: &Id) -> usize {
    match id {
        Id::Split(l, r) => 1 + id_depth(l).max(id_depth(r)),
        _ => 0,
    }
}

fn fits(e: &Event, offset: u64) -> bool {
    match e {
        Event::Leaf(n) => offset.checked_add(*n).is_some(),
        Event::Node(n, l, r) => match offset.checked_add(*n) {
            Some(base) => fits(l, base) && fits(r, base),
            None => false,
        },
    }
}

fn is_normal_id(id: &Id) -> bool {
    match id {
        Id::Split(l, r) => {
            !matches!((&**l, &**r), (Id::Zero, Id::Zero) | (Id::One, Id::One))
                && is_normal_id(l)
                && is_normal_id(r)
        }
        _ => true,
    }
}

fn is_normal_event(e: &Event) -> bool {
    match e {
        Event::Leaf(_) => true,
        Event::Node(_, l, r) => {
            let same_leaves = matches!((&**l, &**r), (Event::Leaf(a), Event::Leaf(b)) if a == b);
            !same_leaves && l.min().min(r.min()) == 0 && is_normal_event(l) && is_normal_event(r)
        }
    }
}

fn encode_id(id: &Id, w: &mut BitWriter) {
    match id {
        Id::Zero => {
            w.put(0, 2);
            w.put(0, 1);
        }
        Id::One => {
            w.put(0, 2);
            w.put(1, 1);
        }
        Id::Split(l, r) => match (&**l, &**r) {
            (Id::Zero, r) => {
                w.put(1, 2);
                encode_id(r, w);
            }
            (l, Id::Zero) => {
                w.put(2, 2);
                encode_id(l, w);
            }
            (l, r) => {
                w.put(3, 2);
                encode_id(l, w);
                encode_id(r, w);
            }
        },
    }
}

fn decode_id(r: &mut BitReader<'_>, depth: usize) -> Result<Id, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep(MAX_DEPTH));
    }
    Ok(match r.get(2)? {
        0 => {
            if r.get(1)? == 0 {
                Id::Zero
            } else {
                Id::One
            }
        }
        1 => Id::Split(Box::new(Id::Zero), Box::new(decode_id(r, depth + 1)?)),
        2 => Id::Split(Box::new(decode_id(r, depth + 1)?), Box::new(Id::Zero)),
        _ => {
            let left = decode_id(r, depth + 1)?;
            let right = decode_id(r, depth + 1)?;
            Id::Split(Box::new(left), Box::new(right))
        }
    })
}

fn is_zero_leaf(e: &Event) -> bool {
    matches!(e, Event::Leaf(0))
}

fn encode_event(e: &Event, w: &mut BitWriter) {
    match e {
        Event::Leaf(n) => {
            w.put(1, 1);
            encode_number(*n, 2, w);
        }
        Event::Node(n, l, r) => {
            w.put(0, 1);
            match (*n, is_zero_leaf(l), is_zero_leaf(r)) {
                (0, true, _) => {
                    w.put(0, 2);
                    encode_event(r, w);
                }
                (0, _, true) => {
                    w.put(1, 2);
                    encode_event(l, w);
                }
                (0, _, _) => {
                    w.put(2, 2);
                    encode_event(l, w);
                    encode_event(r, w);
                }
                (n, true, _) => {
                    w.put(3, 2);
                    w.put(0, 1);
                    w.put(0, 1);
                    encode_number(n, 2, w);
                    encode_event(r, w);
                }
                (n, _, true) => {
                    w.put(3, 2);
                    w.put(0, 1);
                    w.put(1, 1);
                    encode_number(n, 2, w);
                    encode_event(l, w);
                }
                (n, _, _) => {
                    w.put(3, 2);
                    w.put(1, 1);
                    encode_number(n, 2, w);
                    encode_event(l, w);
                    encode_event(r, w);
                }
            }
        }
    }
}

/// The paper's number code: `0` then `n` in `b` bits if it fits, else `1` and
/// `n - 2^b` in `b + 1` bits and up. Small counters take a few bits.
fn encode_number(mut n: u64, mut bits: u32, w: &mut BitWriter) {
    loop {
        if bits >= 64 || n < (1u64 << bits) {
            w.put(0, 1);
            w.put(n, bits.min(64));
            return;
        }
        w.put(1, 1);
        n -= 1u64 << bits;
        bits += 1;
    }
}

fn decode_number(r: &mut BitReader<'_>, mut bits: u32) -> Result<u64, DecodeError> {
    let mut offset: u64 = 0;
    loop {
        if r.get(1)? == 0 {
            let value = r.get(bits.min(64))?;
            return offset.checked_add(value).ok_or(DecodeError::OutOfRange);
        }
        if bits >= 64 {
            return Err(DecodeError::OutOfRange);
        }
        offset = offset
            .checked_add(1u64 << bits)
            .ok_or(DecodeError::OutOfRange)?;
        bits += 1;
    }
}

fn decode_event(r: &mut BitReader<'_>, depth: usize) -> Result<Event, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep(MAX_DEPTH));
    }
    if r.get(1)? == 1 {
        return Ok(Event::Leaf(decode_number(r, 2)?));
    }
    let zero = || Box::new(Event::Leaf(0));
    let sub = |r: &mut BitReader<'_>| decode_event(r, depth + 1).map(Box::new);
    Ok(match r.get(2)? {
        0 => Event::Node(0, zero(), sub(r)?),
        1 => Event::Node(0, sub(r)?, zero()),
        2 => {
            let l = sub(r)?;
            Event::Node(0, l, sub(r)?)
        }
        _ => {
            if r.get(1)? == 0 {
                let right_is_zero = r.get(1)? == 1;
                let n = decode_number(r, 2)?;
                if right_is_zero {
                    Event::Node(n, sub(r)?, zero())
                } else {
                    Event::Node(n, zero(), sub(r)?)
                }
            } else {
                let n = decode_number(r, 2)?;
                let l = sub(r)?;
                Event::Node(n, l, sub(r)?)
            }
        }
    })
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Zero => f.write_str("0"),
            Id::One => f.write_str("1"),
            Id::Split(l, r) => write!(f, "({l}, {r})"),
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Leaf(n) => write!(f, "{n}"),
            Event::Node(n, l, r) => write!(f, "({n}, {l}, {r})"),
        }
    }
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {})", self.id, self.event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The paper's fork/event/join walk-through (§5, Fig. 3) ends with a normalized
    // seed-like stamp after all participants rejoin.
    #[test]
    fn fork_event_join_back_to_seed_id() {
        let (mut a, b) = Stamp::seed().fork();
        a.event().unwrap();
        let (mut b, mut c) = b.fork();
        b.event().unwrap();
        c.event().unwrap();
        c.event().unwrap();
        let all = a.join(b).unwrap().join(c).unwrap();
        assert_eq!(all.id, Id::One);
        let mut all = all;
        all.event().unwrap();
        // Owning everything, one event fills the whole interval: a constant again.
        assert!(matches!(all.event, Event::Leaf(_)));
    }

    // Every event strictly inflates the stamp's history (it becomes After its past).
    #[test]
    fn event_strictly_inflates() {
        let (mut a, mut b) = Stamp::seed().fork();
        for k in 0..50 {
            let before = a.clone();
            a.event().unwrap();
            assert_eq!(before.causality(&a), Causality::Before, "step {k}");
            if k % 7 == 0 {
                b.event().unwrap();
                a = a.join(b.peek()).unwrap();
            }
        }
    }

    // Anonymous stamps cannot record events, and overlapping ids cannot be joined.
    #[test]
    fn misuse_is_a_typed_error() {
        let seed = Stamp::seed();
        assert_eq!(seed.peek().event(), Err(ClockError::AnonymousStamp));
        assert_eq!(seed.clone().join(seed), Err(ClockError::OverlappingIds));
        let mut at_max = Stamp {
            id: Id::One,
            event: Event::Leaf(u64::MAX),
        };
        assert_eq!(at_max.event(), Err(ClockError::Overflow));
    }

    // The encoding of the seed is the five bits the paper's code gives:
    // id 1 = <0,2><1,1>, event 0 = <1,1><0,1><0,2>... padded to one byte.
    #[test]
    fn seed_encoding_is_tiny() {
        let bytes = Stamp::seed().encode();
        assert_eq!(bytes.len(), 1);
        assert_eq!(Stamp::decode(&bytes), Ok(Stamp::seed()));
    }
}
