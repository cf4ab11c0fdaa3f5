//! Causal contexts: a version vector plus the dots beyond it.

use crate::{ClockError, DecodeError, Dot, VersionVector};
use synod_core::NodeId;

/// A set of dots, stored compactly as a version vector (every dot up to each
/// replica's counter) plus a sorted *dot cloud* of dots that are not contiguous with
/// it.
///
/// This is the causal context of delta-state CRDTs (Almeida, Shoker, Baquero 2018):
/// deltas arrive out of order, so a replica may know `b:5` without `b:4`; the cloud
/// holds such gaps until they fill, and [`compact`](CausalContext::compact) folds
/// dots into the vector as soon as they become contiguous. The cloud is bounded by
/// the gaps outstanding, and every public mutation leaves the context compact.
///
/// ```
/// use synod_clocks::{CausalContext, Dot};
/// use synod_core::NodeId;
/// let b = NodeId(2);
/// let mut cc = CausalContext::new();
/// cc.insert(Dot::new(b, 1));
/// cc.insert(Dot::new(b, 3));                  // a gap at b:2
/// assert_eq!(cc.cloud(), &[Dot::new(b, 3)]);
/// assert!(!cc.contains(Dot::new(b, 2)));
/// cc.insert(Dot::new(b, 2));                  // the gap fills: everything compacts
/// assert!(cc.cloud().is_empty());
/// assert_eq!(cc.version_vector().get(b), 3);
/// assert_eq!(cc.next_dot(b)?, Dot::new(b, 4));
/// # Ok::<(), synod_clocks::ClockError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CausalContext {
    vv: VersionVector,
    /// Sorted, deduplicated, none contained in `vv`, none at `vv[r] + 1`.
    cloud: Vec<Dot>,
}

impl CausalContext {
    /// The empty context.
    pub const fn new() -> Self {
        CausalContext {
            vv: VersionVector::new(),
            cloud: Vec::new(),
        }
    }

    /// The context holding exactly the history of `vv`.
    pub fn from_version_vector(vv: VersionVector) -> Self {
        CausalContext {
            vv,
            cloud: Vec::new(),
        }
    }

    /// The contiguous part.
    pub fn version_vector(&self) -> &VersionVector {
        &self.vv
    }

    /// The dots beyond the contiguous part, sorted.
    pub fn cloud(&self) -> &[Dot] {
        &self.cloud
    }

    /// Whether the context holds `dot`.
    pub fn contains(&self, dot: Dot) -> bool {
        self.vv.contains(dot) || self.cloud.binary_search(&dot).is_ok()
    }

    /// The next dot `replica` would make: one past the largest of its counters the
    /// context holds. Only the replica itself should mint dots for its id.
    ///
    /// # Errors
    /// [`ClockError::Overflow`] at `u64::MAX`.
    pub fn next_dot(&self, replica: NodeId) -> Result<Dot, ClockError> {
        let in_cloud = self
            .cloud
            .iter()
            .rev()
            .find(|d| d.replica == replica)
            .map_or(0, |d| d.counter);
        let max = self.vv.get(replica).max(in_cloud);
        let counter = max.checked_add(1).ok_or(ClockError::Overflow)?;
        Ok(Dot::new(replica, counter))
    }

    /// Mint the next dot of `replica` and add it (a local event).
    ///
    /// # Errors
    /// [`ClockError::Overflow`] at `u64::MAX`; nothing changes.
    pub fn make_dot(&mut self, replica: NodeId) -> Result<Dot, ClockError> {
        let dot = self.next_dot(replica)?;
        self.insert(dot);
        Ok(dot)
    }

    /// Add one dot (which may leave a gap), then compact.
    pub fn insert(&mut self, dot: Dot) {
        if dot.counter == 0 || self.vv.contains(dot) {
            return;
        }
        if dot.counter == self.vv.get(dot.replica) + 1 {
            self.vv.insert(dot);
            // The dot may have closed a gap: cloud dots of this replica now contiguous.
            self.compact();
        } else if let Err(i) = self.cloud.binary_search(&dot) {
            self.cloud.insert(i, dot);
        }
    }

    /// Union with `other`, then compact.
    pub fn join(&mut self, other: &CausalContext) {
        self.vv.join(&other.vv);
        if !other.cloud.is_empty() {
            let mut cloud = Vec::with_capacity(self.cloud.len() + other.cloud.len());
            let (mut i, mut j) = (0, 0);
            let (a, b) = (&self.cloud, &other.cloud);
            while i < a.len() || j < b.len() {
                let next = match (a.get(i), b.get(j)) {
                    (Some(x), Some(y)) if x == y => {
                        i += 1;
                        j += 1;
                        *x
                    }
                    (Some(x), Some(y)) if x < y => {
                        i += 1;
                        *x
                    }
                    (Some(_), Some(y)) | (None, Some(y)) => {
                        j += 1;
                        *y
                    }
                    (Some(x), None) => {
                        i += 1;
                        *x
                    }
                    (None, None) => break,
                };
                cloud.push(next);
            }
            self.cloud = cloud;
        }
        self.compact();
    }

    /// Fold every cloud dot that is contiguous with the version vector into it and
    /// drop the ones it already covers. Public mutations call it; it is idempotent.
    pub fn compact(&mut self) {
        // The cloud is sorted by (replica, counter), so one pass sees each replica's
        // dots in ascending order and can extend its counter as far as they go.
        let vv = &mut self.vv;
        self.cloud.retain(|&dot| {
            let have = vv.get(dot.replica);
            if dot.counter <= have {
                false
            } else if dot.counter == have + 1 {
                vv.insert(dot);
                false
            } else {
                true
            }
        });
    }

    /// Check a context that came from elsewhere (serde derives accept any value):
    /// a valid version vector, and a cloud strictly ascending whose every dot lies
    /// beyond the vector and not right after it (it would have been compacted) —
    /// the rules [`decode`](Self::decode) enforces on its own format.
    ///
    /// ```
    /// use synod_clocks::{CausalContext, Dot};
    /// use synod_core::NodeId;
    /// let mut cc = CausalContext::new();
    /// cc.insert(Dot::new(NodeId(1), 3));
    /// assert!(cc.validate().is_ok());
    /// ```
    ///
    /// # Errors
    /// [`DecodeError::NotCanonical`].
    pub fn validate(&self) -> Result<(), DecodeError> {
        self.vv.validate()?;
        if !self.cloud.windows(2).all(|w| w[0] < w[1]) {
            return Err(DecodeError::NotCanonical("cloud not strictly ascending"));
        }
        if self
            .cloud
            .iter()
            .any(|d| d.counter <= self.vv.get(d.replica).saturating_add(1))
        {
            return Err(DecodeError::NotCanonical("cloud dot not beyond the vector"));
        }
        Ok(())
    }

    /// Whether the context is empty.
    pub fn is_empty(&self) -> bool {
        self.vv.is_empty() && self.cloud.is_empty()
    }

    /// The compact binary form: the version vector, then a varint count and the
    /// cloud's dots as (replica, counter) varints.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.vv.encode_into(&mut out);
        crate::wire::put_varint(&mut out, self.cloud.len() as u64);
        for dot in &self.cloud {
            crate::wire::put_varint(&mut out, dot.replica.0);
            crate::wire::put_varint(&mut out, dot.counter);
        }
        out
    }

    /// Decode what [`encode`](Self::encode) produced.
    ///
    /// # Errors
    /// [`DecodeError`] on truncated, trailing or non-canonical input (an unsorted
    /// cloud, a cloud dot the vector covers or that should have been compacted).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = crate::wire::Reader::new(bytes);
        let vv = VersionVector::decode_from(&mut reader)?;
        let len = reader.length(2)?;
        let mut cloud: Vec<Dot> = Vec::with_capacity(len);
        for _ in 0..len {
            let dot = Dot::new(NodeId(reader.varint()?), reader.varint()?);
            if cloud.last().is_some_and(|last| *last >= dot) {
                return Err(DecodeError::NotCanonical("cloud not strictly ascending"));
            }
            if dot.counter <= vv.get(dot.replica).saturating_add(1) {
                return Err(DecodeError::NotCanonical("cloud dot not beyond the vector"));
            }
            cloud.push(dot);
        }
        reader.finish()?;
        Ok(CausalContext { vv, cloud })
    }
}
