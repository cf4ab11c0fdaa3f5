//! Initial/final quorum sizes per operation, and the intersection constraints.

use std::collections::BTreeMap;
use std::fmt::Debug;

/// The quorum sizes of one operation: read `initial` replicas, then write `final_`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct OperationQuorum {
    /// Replicas whose state the operation reads first.
    pub initial: usize,
    /// Replicas the operation's effect is written to.
    pub final_: usize,
}

impl OperationQuorum {
    /// `(initial, final)`.
    pub const fn new(initial: usize, final_: usize) -> Self {
        OperationQuorum { initial, final_ }
    }
}

/// One violated constraint: `later` depends on `earlier`, but an initial quorum of
/// `later` can miss a final quorum of `earlier`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsatisfied<Op> {
    /// The operation whose response depends on the other.
    pub later: Op,
    /// The operation it depends on.
    pub earlier: Op,
    /// `initial(later) + final(earlier)`, which must exceed the replica count.
    pub sum: usize,
}

/// A quorum assignment that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AssignmentError<Op: Debug> {
    /// Some dependencies are not covered by intersecting quorums.
    #[error("quorums do not intersect for dependencies {0:?}")]
    Unsatisfied(Vec<Unsatisfied<Op>>),
    /// A quorum larger than the replica set.
    #[error("operation {op:?} asks for more than {replicas} replicas")]
    TooLarge {
        /// The operation.
        op: Op,
        /// The replica count.
        replicas: usize,
    },
    /// A dependency names an operation with no quorum.
    #[error("operation {0:?} has no quorum")]
    Unknown(Op),
    /// No replicas at all.
    #[error("there must be at least one replica")]
    NoReplicas,
}

/// A checked choice of `(initial, final)` quorum sizes for each operation of a type
/// replicated on `replicas` interchangeable replicas.
///
/// The course notes' table for a read/write object on 5 replicas — writes must be
/// seen by reads and by later writes (to order versions) — is exactly what the check
/// accepts:
///
/// ```
/// use synod_quorum::consensus::{AssignmentError, OperationQuorum as Q, QuorumAssignment};
///
/// let deps = [("read", "write"), ("write", "write")];
/// for (read, write) in [(Q::new(1, 0), Q::new(1, 5)), (Q::new(2, 0), Q::new(2, 4)), (Q::new(3, 0), Q::new(3, 3))] {
///     QuorumAssignment::new(5, [("read", read), ("write", write)], deps)?;
/// }
/// // (2, 0) reads can miss (1, 4) writes... and (1, 4) writes miss each other.
/// let broken = QuorumAssignment::new(5, [("read", Q::new(2, 0)), ("write", Q::new(1, 4))], deps);
/// assert!(matches!(broken, Err(AssignmentError::Unsatisfied(v)) if v.len() == 1));
/// # Ok::<(), AssignmentError<&str>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumAssignment<Op: Ord> {
    replicas: usize,
    quorums: BTreeMap<Op, OperationQuorum>,
}

impl<Op: Ord + Clone + Debug> QuorumAssignment<Op> {
    /// Check `quorums` against `dependencies` — pairs `(later, earlier)` meaning
    /// "later's response depends on earlier's effect" — on `replicas` replicas.
    /// Every unsatisfied dependency is reported, not just the first.
    pub fn new(
        replicas: usize,
        quorums: impl IntoIterator<Item = (Op, OperationQuorum)>,
        dependencies: impl IntoIterator<Item = (Op, Op)>,
    ) -> Result<Self, AssignmentError<Op>> {
        if replicas == 0 {
            return Err(AssignmentError::NoReplicas);
        }
        let quorums: BTreeMap<Op, OperationQuorum> = quorums.into_iter().collect();
        if let Some((op, _)) = quorums
            .iter()
            .find(|(_, q)| q.initial.max(q.final_) > replicas)
        {
            return Err(AssignmentError::TooLarge {
                op: op.clone(),
                replicas,
            });
        }
        let mut unsatisfied = Vec::new();
        for (later, earlier) in dependencies {
            let initial = quorums
                .get(&later)
                .ok_or_else(|| AssignmentError::Unknown(later.clone()))?
                .initial;
            let final_ = quorums
                .get(&earlier)
                .ok_or_else(|| AssignmentError::Unknown(earlier.clone()))?
                .final_;
            if initial + final_ <= replicas {
                unsatisfied.push(Unsatisfied {
                    later,
                    earlier,
                    sum: initial + final_,
                });
            }
        }
        if unsatisfied.is_empty() {
            Ok(QuorumAssignment { replicas, quorums })
        } else {
            Err(AssignmentError::Unsatisfied(unsatisfied))
        }
    }

    /// The replica count.
    pub fn replicas(&self) -> usize {
        self.replicas
    }

    /// The quorum sizes of `op`, if it has any.
    pub fn quorum(&self, op: &Op) -> Option<OperationQuorum> {
        self.quorums.get(op).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size check agrees with brute force: for every (initial, final) pair on up to
    /// 6 replicas, some initial set misses some final set exactly when the check fails.
    #[test]
    fn size_check_matches_brute_force() {
        for n in 1..=6usize {
            for initial in 0..=n {
                for final_ in 0..=n {
                    let sets = |size: usize| {
                        (0u32..1 << n).filter(move |s| s.count_ones() as usize == size)
                    };
                    let can_miss = sets(initial).any(|i| sets(final_).any(|f| i & f == 0));
                    let checked = QuorumAssignment::new(
                        n,
                        [
                            ("q", OperationQuorum::new(initial, 0)),
                            ("p", OperationQuorum::new(0, final_)),
                        ],
                        [("q", "p")],
                    );
                    assert_eq!(
                        can_miss,
                        checked.is_err(),
                        "n={n} initial={initial} final={final_}"
                    );
                }
            }
        }
    }

    /// Typed errors for impossible sizes and unknown operations.
    #[test]
    fn invalid_assignments_are_typed_errors() {
        let q = OperationQuorum::new(1, 1);
        assert_eq!(
            QuorumAssignment::new(0, [("a", q)], []),
            Err(AssignmentError::NoReplicas)
        );
        assert_eq!(
            QuorumAssignment::new(2, [("a", OperationQuorum::new(3, 0))], []),
            Err(AssignmentError::TooLarge {
                op: "a",
                replicas: 2
            })
        );
        assert_eq!(
            QuorumAssignment::new(2, [("a", q)], [("a", "b")]),
            Err(AssignmentError::Unknown("b"))
        );
    }
}
