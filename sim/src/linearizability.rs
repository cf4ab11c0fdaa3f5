//! A linearizability checker for recorded [`History`]s.
//!
//! A history is *linearizable* (Herlihy & Wing, "Linearizability: a correctness
//! condition for concurrent objects", 1990) if every operation can be given a single
//! point in time, between its invocation and its response, at which it took effect
//! atomically — such that the resulting sequence is legal for the object's sequential
//! [`Spec`]. An operation that never returned may take effect at any point after its
//! invocation, or not at all.
//!
//! # How it works
//!
//! 1. **Partition** the history by [`Spec::key`]. Linearizability is local (Herlihy &
//!    Wing, Theorem 1): the history is linearizable if and only if each key's
//!    sub-history is, so each key is searched alone, in key order.
//! 2. **Search** each partition with Wing & Gong's backtracking search ("Testing and
//!    verifying concurrent objects", 1993) as improved by Lowe ("Testing for
//!    linearizability", 2017) and used by Porcupine: repeatedly linearize an operation
//!    that no pending return forces to wait, lift it out of a doubly linked list of
//!    call/return entries, and backtrack when a return is reached whose operation was
//!    not linearized. Every `(set of operations linearized, state)` configuration is
//!    memoized, so none is explored twice. The search uses an explicit stack, so a long
//!    history cannot overflow the thread's stack. Operations that never returned sit in
//!    a list of their own and are tried only when nothing else can move; the search
//!    succeeds once every *completed* operation is linearized, so they are never forced
//!    in. Operations that leave the state unchanged (a read of the current value) are
//!    tried before the others, which steers the search away from wrong turns.
//! 3. On failure, **shrink** the failing partition to a small set of operations that
//!    cannot be linearized ([`NonLinearizable`]), whose `Display` prints one operation
//!    per line. Shrinking *relaxes* operations (lets them take effect or not) rather
//!    than deleting them, so a read is never blamed for a value whose write the
//!    shrinking removed: the report for a stale read shows the write it saw, the write
//!    that overwrote it, and the read.
//!
//! # Cost
//!
//! Deciding linearizability is NP-complete (Gibbons & Korach 1997); the search is
//! exponential in the number of operations *on the same key* that overlap in time.
//! Measured on one core (debug build with `opt-level = 1`, unique write values, the
//! hardest case for the memo): 100,000 operations over 1,000 keys from 10 clients check
//! in tens of milliseconds; 100,000 operations on a *single* register from 5 clients in
//! about 0.1 s; 20,000 from 10 clients with one operation in 200 never returning in a
//! few seconds. A failing check costs more than a passing one (the search must rule out
//! every order), and so does every operation that never returned, since it may or may
//! not have taken effect. From about 15 clients hammering a single key, a failing check
//! can take minutes. A [`Checker`] with [`max_states`](Checker::max_states) turns such a
//! history into a [`CheckError::Unknown`] instead of a hang; memory use is proportional
//! to the states explored.
//!
//! # Example: catching a stale read
//!
//! ```
//! use synod_sim::history::History;
//! use synod_sim::linearizability::check;
//! use synod_sim::spec::{Register, RegisterInput::*, RegisterOutput::*};
//!
//! let mut history = History::new();
//! let w = history.invoke(1, Write(1), 0);
//! history.complete(w, Written, 10)?;
//! let r = history.invoke(2, Read, 20); // starts after the write returned ...
//! history.complete(r, Value(0), 30)?; // ... yet reads the initial value
//!
//! let violation = check(&Register::new(0), &history).unwrap_err();
//! assert_eq!(violation.operations().len(), 2);
//! let report = violation.to_string();
//! assert!(report.contains("Write(1)") && report.contains("Value(0)"));
//! println!("{report}");
//! // history is not linearizable: key () has 2 operations; these 2 cannot be linearized:
//! //   client 1  Write(1)  Written   [0, 10]
//! //   client 2  Read      Value(0)  [20, 30]
//! # Ok::<(), synod_sim::history::HistoryError>(())
//! ```
//!
//! The same read *concurrent* with the write may return either value:
//!
//! ```
//! # use synod_sim::history::History;
//! # use synod_sim::linearizability::check;
//! # use synod_sim::spec::{Register, RegisterInput::*, RegisterOutput::*};
//! let mut history = History::new();
//! let w = history.invoke(1, Write(1), 0);
//! let r = history.invoke(2, Read, 5);
//! history.complete(r, Value(0), 7)?;
//! history.complete(w, Written, 10)?;
//! let order = check(&Register::new(0), &history).expect("linearizable");
//! assert_eq!(order.order(&()), Some(&[r, w][..])); // the read took effect first
//! # Ok::<(), synod_sim::history::HistoryError>(())
//! ```

/// A recorded operation of the object that spec `S` describes.
pub type SpecOperation<S> = Operation<<S as Spec>::Input, <S as Spec>::Output>;

mod minimize;
mod search;

use std::collections::BTreeMap;
use std::fmt;

use crate::history::{History, OpId, Operation};
use crate::spec::Spec;
use search::{Mode, Outcome, Role};

/// Checks `history` against `spec` with no search budget.
///
/// Returns a linearization (a witness order per key) or the smallest counterexample the
/// shrinking finds. Equivalent to [`Checker::new(spec).check(history)`](Checker::check)
/// without the possibility of [`CheckError::Unknown`]. The search is unbounded: for
/// histories you do not control — fuzzing, many clients on one key, many operations
/// that never returned on one key (see [Cost](self#cost)) — prefer a [`Checker`] with
/// [`max_states`](Checker::max_states), which cannot run forever.
///
/// # Errors
///
/// [`NonLinearizable`] if the history is not linearizable.
pub fn check<S: Spec>(
    spec: &S,
    history: &History<S::Input, S::Output>,
) -> Result<Linearization<S::Key>, NonLinearizable<S>> {
    match Checker::new(spec).check(history) {
        Ok(linearization) => Ok(linearization),
        Err(CheckError::NonLinearizable(violation)) => Err(violation),
        // Without `max_states` every search runs to the end; `Unknown` only comes from a
        // budget.
        Err(CheckError::Unknown(unknown)) => {
            unreachable!("no state budget was set, yet {unknown}")
        }
    }
}

/// A configurable linearizability check.
///
/// ```
/// use synod_sim::history::History;
/// use synod_sim::linearizability::{CheckError, Checker};
/// use synod_sim::spec::{Register, RegisterInput::*, RegisterOutput::*};
///
/// // Twenty clients write at once and then each reads a different value: the search has
/// // to consider every interleaving of the writes.
/// let mut history = History::new();
/// let writes: Vec<_> = (0..20).map(|c| history.invoke(c, Write(c), 0)).collect();
/// for (c, w) in writes.into_iter().enumerate() {
///     history.complete(w, Written, 1)?;
/// }
/// for c in 0..20 {
///     let r = history.invoke(c, Read, 2 + c);
///     history.complete(r, Value(c), 2 + c)?;
/// }
/// let register = Register::new(0);
/// let verdict = Checker::new(&register).max_states(1_000).check(&history);
/// assert!(matches!(verdict, Err(CheckError::Unknown(_))));
/// # Ok::<(), synod_sim::history::HistoryError>(())
/// ```
#[derive(Debug)]
pub struct Checker<'s, S> {
    spec: &'s S,
    max_states: u64,
    shrink_states: u64,
}

impl<S> Clone for Checker<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for Checker<'_, S> {}

impl<'s, S: Spec> Checker<'s, S> {
    /// The default [`shrink_states`](Self::shrink_states): enough to shrink a
    /// violation in a single-key history of 100,000 operations, in seconds at most.
    pub const DEFAULT_SHRINK_STATES: u64 = 5_000_000;

    /// A checker for `spec` with no search budget.
    pub fn new(spec: &'s S) -> Self {
        Checker {
            spec,
            max_states: u64::MAX,
            shrink_states: Self::DEFAULT_SHRINK_STATES,
        }
    }

    /// Bounds the search of each partition to `states` memoized configurations. A
    /// partition that needs more is reported as [`CheckError::Unknown`] (unless another
    /// partition is found non-linearizable): the budget can make the checker give up,
    /// never give a wrong verdict. Memory use is proportional to the states explored.
    pub fn max_states(mut self, states: u64) -> Self {
        self.max_states = states;
        self
    }

    /// Bounds the total work spent shrinking a counterexample, in memoized
    /// configurations over all the searches shrinking runs. When it runs out the
    /// counterexample found so far is returned, still non-linearizable but perhaps not
    /// minimal ([`NonLinearizable::is_minimal`]). Zero skips shrinking.
    pub fn shrink_states(mut self, states: u64) -> Self {
        self.shrink_states = states;
        self
    }

    /// Checks `history`.
    ///
    /// Partitions are searched in key order and the first non-linearizable one is
    /// reported, so the verdict and the counterexample are deterministic.
    ///
    /// # Errors
    ///
    /// [`CheckError::NonLinearizable`] with a counterexample if some partition is not
    /// linearizable, else [`CheckError::Unknown`] if some partition ran out of budget.
    pub fn check(
        &self,
        history: &History<S::Input, S::Output>,
    ) -> Result<Linearization<S::Key>, CheckError<S>> {
        let mut partitions: BTreeMap<S::Key, Vec<OpId>> = BTreeMap::new();
        for (i, op) in history.operations().iter().enumerate() {
            partitions
                .entry(self.spec.key(&op.input))
                .or_default()
                .push(OpId(i));
        }
        let mut orders = Vec::with_capacity(partitions.len());
        let mut states_explored = 0;
        let mut unknown = None;
        for (key, ids) in partitions {
            let mut partition: Vec<(OpId, &SpecOperation<S>)> = ids
                .into_iter()
                .filter_map(|id| Some((id, history.get(id)?)))
                .collect();
            // Invocation order keeps the memo's decided-set encoding compact.
            partition.sort_by_key(|(id, op)| (op.invoked_at, *id));
            match self.check_partition(&key, &partition) {
                PartitionVerdict::Linearizable { order, states } => {
                    states_explored += states;
                    orders.push((key, order));
                }
                PartitionVerdict::NonLinearizable(violation) => {
                    return Err(CheckError::NonLinearizable(*violation));
                }
                PartitionVerdict::Unknown => {
                    states_explored += self.max_states;
                    unknown.get_or_insert(BudgetExceeded {
                        key,
                        partition_len: partition.len(),
                        max_states: self.max_states,
                    });
                }
            }
        }
        match unknown {
            Some(unknown) => Err(CheckError::Unknown(unknown)),
            None => Ok(Linearization {
                partitions: orders,
                states_explored,
            }),
        }
    }

    fn check_partition(
        &self,
        key: &S::Key,
        partition: &[(OpId, &SpecOperation<S>)],
    ) -> PartitionVerdict<S> {
        // Entries are indexed by u32 (two per operation); a partition this large would not
        // fit in memory anyway, but say "unknown" rather than wrap around.
        if partition.len() >= (u32::MAX / 2 - 2) as usize {
            return PartitionVerdict::Unknown;
        }
        let ops: Vec<&SpecOperation<S>> = partition.iter().map(|(_, op)| *op).collect();
        let roles = vec![Role::Required; ops.len()];
        let initial = self.spec.init();
        let report = search::search(
            self.spec,
            &ops,
            &roles,
            &initial,
            Mode::FindOne,
            self.max_states,
        );
        match report.outcome {
            Outcome::Linearizable(order) => PartitionVerdict::Linearizable {
                order: order.into_iter().map(|i| partition[i].0).collect(),
                states: report.states_explored,
            },
            Outcome::NotLinearizable { considered } => {
                let shrunk = if self.shrink_states == 0 {
                    minimize::Shrunk {
                        operations: considered.clone(),
                        initial_state: initial,
                        prefix_len: 0,
                        prefix_returned_by: 0,
                        minimal: false,
                    }
                } else {
                    // `considered` is a prefix of the partition in invocation order.
                    let considered_len = considered.iter().max().map_or(0, |last| last + 1);
                    minimize::shrink(
                        self.spec,
                        partition,
                        considered_len,
                        report.states_explored,
                        self.max_states,
                        self.shrink_states,
                    )
                };
                PartitionVerdict::NonLinearizable(Box::new(NonLinearizable {
                    key: key.clone(),
                    partition_len: partition.len(),
                    operations: shrunk
                        .operations
                        .iter()
                        .map(|&i| (partition[i].0, partition[i].1.clone()))
                        .collect(),
                    initial_state: shrunk.initial_state,
                    prefix_len: shrunk.prefix_len,
                    prefix_returned_by: shrunk.prefix_returned_by,
                    minimal: shrunk.minimal,
                }))
            }
            // `Frontier` is only produced in that mode.
            Outcome::BudgetExceeded | Outcome::Frontier { .. } => PartitionVerdict::Unknown,
        }
    }
}

enum PartitionVerdict<S: Spec> {
    Linearizable { order: Vec<OpId>, states: u64 },
    NonLinearizable(Box<NonLinearizable<S>>),
    Unknown,
}

/// A witness that a history is linearizable: for each key, the order in which its
/// operations took effect.
///
/// Every completed operation appears exactly once. A pending operation appears if it
/// took effect in this witness and is absent if it did not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Linearization<K> {
    /// Sorted by key.
    partitions: Vec<(K, Vec<OpId>)>,
    states_explored: u64,
}

impl<K: Ord> Linearization<K> {
    /// The order of the operations on `key`, or `None` if the history has none.
    pub fn order(&self, key: &K) -> Option<&[OpId]> {
        let i = self.partitions.binary_search_by(|(k, _)| k.cmp(key)).ok()?;
        Some(&self.partitions[i].1)
    }

    /// Every key with its order, in key order.
    pub fn partitions(&self) -> impl Iterator<Item = (&K, &[OpId])> {
        self.partitions
            .iter()
            .map(|(key, order)| (key, order.as_slice()))
    }

    /// How many configurations the searches memoized in total: a measure of how hard
    /// the history was to check.
    pub fn states_explored(&self) -> u64 {
        self.states_explored
    }
}

/// Why [`Checker::check`] did not return a linearization.
pub enum CheckError<S: Spec> {
    /// A partition is not linearizable.
    NonLinearizable(NonLinearizable<S>),
    /// No partition is known to be non-linearizable, but at least one ran out of its
    /// search budget before a verdict.
    Unknown(BudgetExceeded<S::Key>),
}

impl<S: Spec> fmt::Debug for CheckError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::NonLinearizable(v) => f.debug_tuple("NonLinearizable").field(v).finish(),
            CheckError::Unknown(u) => f.debug_tuple("Unknown").field(u).finish(),
        }
    }
}

impl<S: Spec> fmt::Display for CheckError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::NonLinearizable(v) => v.fmt(f),
            CheckError::Unknown(u) => u.fmt(f),
        }
    }
}

impl<S: Spec> std::error::Error for CheckError<S> {}

impl<S: Spec> From<NonLinearizable<S>> for CheckError<S> {
    fn from(violation: NonLinearizable<S>) -> Self {
        CheckError::NonLinearizable(violation)
    }
}

/// The search of one partition explored [`Checker::max_states`] configurations without
/// reaching a verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BudgetExceeded<K> {
    /// The first partition (in key order) that ran out of budget.
    pub key: K,
    /// How many operations that partition has.
    pub partition_len: usize,
    /// The budget it ran out of.
    pub max_states: u64,
}

impl<K: fmt::Debug> fmt::Display for BudgetExceeded<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "linearizability unknown: the search of key {:?} ({} operations) explored its \
             budget of {} states without a verdict",
            self.key, self.partition_len, self.max_states
        )
    }
}

impl<K: fmt::Debug> std::error::Error for BudgetExceeded<K> {}

/// A counterexample: operations of one partition that cannot be linearized.
///
/// The set is small: relaxing any of its core operations (letting it take effect or not)
/// would make the rest linearizable, and the other operations it contains are the ones
/// that explain why (the write a read observed, say). It is non-linearizable on its own,
/// starting from [`initial_state`](Self::initial_state) — which is the spec's initial
/// state unless a long partition was cut at a quiescent point
/// ([`prefix_len`](Self::prefix_len) > 0).
pub struct NonLinearizable<S: Spec> {
    key: S::Key,
    partition_len: usize,
    operations: Vec<(OpId, SpecOperation<S>)>,
    initial_state: S::State,
    prefix_len: usize,
    prefix_returned_by: u64,
    minimal: bool,
}

impl<S: Spec> NonLinearizable<S> {
    /// The partition that is not linearizable.
    pub fn key(&self) -> &S::Key {
        &self.key
    }

    /// How many operations the whole partition has.
    pub fn partition_len(&self) -> usize {
        self.partition_len
    }

    /// The operations that cannot be linearized, as recorded, sorted by invocation.
    pub fn operations(&self) -> &[(OpId, SpecOperation<S>)] {
        &self.operations
    }

    /// The ids of [`operations`](Self::operations).
    pub fn op_ids(&self) -> impl Iterator<Item = OpId> + '_ {
        self.operations.iter().map(|(id, _)| *id)
    }

    /// The state the operations cannot be linearized from.
    pub fn initial_state(&self) -> &S::State {
        &self.initial_state
    }

    /// How many of the partition's earliest operations were set aside: all of them
    /// returned before any of [`operations`](Self::operations) was invoked, and every
    /// linearization of them ends in [`initial_state`](Self::initial_state).
    pub fn prefix_len(&self) -> usize {
        self.prefix_len
    }

    /// Whether shrinking ran to the end within [`Checker::shrink_states`]. If not, the
    /// operations are still non-linearizable, but some may be unnecessary.
    pub fn is_minimal(&self) -> bool {
        self.minimal
    }
}

impl<S: Spec> Clone for NonLinearizable<S> {
    fn clone(&self) -> Self {
        NonLinearizable {
            key: self.key.clone(),
            partition_len: self.partition_len,
            operations: self.operations.clone(),
            initial_state: self.initial_state.clone(),
            prefix_len: self.prefix_len,
            prefix_returned_by: self.prefix_returned_by,
            minimal: self.minimal,
        }
    }
}

impl<S: Spec> fmt::Debug for NonLinearizable<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonLinearizable")
            .field("key", &self.key)
            .field("partition_len", &self.partition_len)
            .field("operations", &self.operations)
            .field("initial_state", &self.initial_state)
            .field("prefix_len", &self.prefix_len)
            .field("minimal", &self.minimal)
            .finish()
    }
}

impl<S: Spec> fmt::Display for NonLinearizable<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "history is not linearizable: key {:?} has {} operations; these {} cannot be \
             linearized:",
            self.key,
            self.partition_len,
            self.operations.len()
        )?;
        if self.prefix_len > 0 {
            write!(
                f,
                "\n  (starting from state {:?}: the key's first {} operations all returned \
                 by time {} and every linearization of them ends there)",
                self.initial_state, self.prefix_len, self.prefix_returned_by
            )?;
        }
        let rows: Vec<[String; 4]> = self
            .operations
            .iter()
            .map(|(_, op)| {
                [
                    format!("client {}", op.client),
                    format!("{:?}", op.input),
                    match &op.output {
                        Some(output) => format!("{output:?}"),
                        None => "pending".to_owned(),
                    },
                    match op.returned_at {
                        Some(returned_at) => format!("[{}, {}]", op.invoked_at, returned_at),
                        None => format!("[{}, -]", op.invoked_at),
                    },
                ]
            })
            .collect();
        let mut widths = [0; 3];
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        for [client, input, output, interval] in &rows {
            write!(
                f,
                "\n  {client:<w0$}  {input:<w1$}  {output:<w2$}  {interval}",
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
            )?;
        }
        if !self.minimal {
            write!(
                f,
                "\n  (shrinking stopped at its budget: some of these may be unnecessary)"
            )?;
        }
        Ok(())
    }
}

impl<S: Spec> std::error::Error for NonLinearizable<S> {}
