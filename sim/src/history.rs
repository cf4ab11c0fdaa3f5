//! Recorded client histories: what each client asked for, what it got back, and when.
//!
//! A [`History`] is the input of the [linearizability checker](crate::linearizability).
//! Record one [`Operation`] per client request: [`History::invoke`] when the client
//! sends it, [`History::complete`] when the reply arrives. An operation that never gets
//! a reply (the client crashed, timed out or gave up) stays *pending*: it may or may not
//! have taken effect, and the checker accepts both.
//!
//! Times are the simulator's logical times. Operation `a` *precedes* operation `b` (real-
//! time order, Herlihy & Wing 1990) only if `a` returned strictly before `b` was invoked;
//! a return and an invocation at the same time are concurrent, because a simulator step
//! at time `t` cannot tell which of the two happened first.
//!
//! ```
//! use synod_sim::history::History;
//! use synod_sim::spec::{RegisterInput, RegisterOutput};
//!
//! let mut history = History::new();
//! let write = history.invoke(1, RegisterInput::Write(7), 10);
//! let read = history.invoke(2, RegisterInput::Read, 11);
//! history.complete(write, RegisterOutput::Written, 12)?;
//! assert_eq!(history.pending().count(), 1); // the read has not returned yet
//! history.complete(read, RegisterOutput::Value(7), 15)?;
//! assert_eq!(history.len(), 2);
//! assert!(history.complete(read, RegisterOutput::Value(7), 16).is_err()); // returns once
//! # Ok::<(), synod_sim::history::HistoryError>(())
//! ```

use std::fmt;

/// Identifies one recorded operation inside a [`History`]: its position in recording
/// order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId(pub usize);

impl fmt::Display for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op#{}", self.0)
    }
}

/// One client operation: its input, its output once it returned, and its interval.
///
/// Invariants kept by [`History`]: `output.is_some() == returned_at.is_some()`, and
/// `returned_at >= invoked_at`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Operation<I, O> {
    /// The client that issued the operation (for the reader of a counterexample; the
    /// checker does not need clients to be sequential).
    pub client: u64,
    /// What the client asked for.
    pub input: I,
    /// What the system answered; `None` while the operation is pending.
    pub output: Option<O>,
    /// Logical time of the invocation.
    pub invoked_at: u64,
    /// Logical time of the response; `None` if the operation never returned.
    pub returned_at: Option<u64>,
}

impl<I, O> Operation<I, O> {
    /// Whether the operation never returned (it may or may not have taken effect).
    pub fn is_pending(&self) -> bool {
        self.returned_at.is_none()
    }

    /// Whether `self` precedes `other` in real time: it returned strictly before `other`
    /// was invoked. Equal times are concurrent.
    pub fn precedes<I2, O2>(&self, other: &Operation<I2, O2>) -> bool {
        self.returned_at.is_some_and(|r| r < other.invoked_at)
    }
}

/// A mistake in recording a history. The caller (the test harness) can fix all of them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// No operation with this id was invoked in this history.
    #[error("{id} was never invoked in this history")]
    UnknownOperation {
        /// The offending id.
        id: OpId,
    },
    /// The operation already has a response; an operation returns at most once.
    #[error("{id} already returned")]
    AlreadyReturned {
        /// The offending id.
        id: OpId,
    },
    /// The response time is earlier than the invocation time.
    #[error("{id} returned at {returned_at}, before it was invoked at {invoked_at}")]
    ReturnBeforeInvoke {
        /// The offending id.
        id: OpId,
        /// When the operation was invoked.
        invoked_at: u64,
        /// The (earlier) response time that was given.
        returned_at: u64,
    },
    /// An operation given to [`History::push`] has an output without a return time or a
    /// return time without an output.
    #[error("an operation needs both an output and a return time, or neither")]
    IncompleteReturn,
}

/// The operations of a run, in the order they were invoked by the recorder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct History<I, O> {
    operations: Vec<Operation<I, O>>,
}

impl<I, O> Default for History<I, O> {
    fn default() -> Self {
        Self::new()
    }
}

impl<I, O> History<I, O> {
    /// An empty history.
    pub fn new() -> Self {
        Self {
            operations: Vec::new(),
        }
    }

    /// Records that `client` invoked `input` at time `at`. The operation is pending until
    /// [`complete`](Self::complete) is called with the returned id.
    pub fn invoke(&mut self, client: u64, input: I, at: u64) -> OpId {
        let id = OpId(self.operations.len());
        self.operations.push(Operation {
            client,
            input,
            output: None,
            invoked_at: at,
            returned_at: None,
        });
        id
    }

    /// Records that operation `id` returned `output` at time `at`.
    ///
    /// # Errors
    ///
    /// [`HistoryError::UnknownOperation`] if `id` is not from this history,
    /// [`HistoryError::AlreadyReturned`] if it returned before, and
    /// [`HistoryError::ReturnBeforeInvoke`] if `at` is earlier than its invocation. The
    /// history is unchanged on error.
    pub fn complete(&mut self, id: OpId, output: O, at: u64) -> Result<(), HistoryError> {
        let op = self
            .operations
            .get_mut(id.0)
            .ok_or(HistoryError::UnknownOperation { id })?;
        if op.returned_at.is_some() {
            return Err(HistoryError::AlreadyReturned { id });
        }
        if at < op.invoked_at {
            return Err(HistoryError::ReturnBeforeInvoke {
                id,
                invoked_at: op.invoked_at,
                returned_at: at,
            });
        }
        op.output = Some(output);
        op.returned_at = Some(at);
        Ok(())
    }

    /// Appends a whole operation at once, complete or pending: handy to import a history
    /// recorded elsewhere, or to write one down in a test.
    ///
    /// # Errors
    ///
    /// [`HistoryError::IncompleteReturn`] if exactly one of `output` and `returned_at` is
    /// set, [`HistoryError::ReturnBeforeInvoke`] if it returned before it was invoked.
    pub fn push(&mut self, operation: Operation<I, O>) -> Result<OpId, HistoryError> {
        let id = OpId(self.operations.len());
        match (&operation.output, operation.returned_at) {
            (None, None) => {}
            (Some(_), Some(returned_at)) if returned_at < operation.invoked_at => {
                return Err(HistoryError::ReturnBeforeInvoke {
                    id,
                    invoked_at: operation.invoked_at,
                    returned_at,
                });
            }
            (Some(_), Some(_)) => {}
            _ => return Err(HistoryError::IncompleteReturn),
        }
        self.operations.push(operation);
        Ok(id)
    }

    /// The operation with this id, if it is from this history.
    pub fn get(&self, id: OpId) -> Option<&Operation<I, O>> {
        self.operations.get(id.0)
    }

    /// All operations, indexed by [`OpId`].
    pub fn operations(&self) -> &[Operation<I, O>] {
        &self.operations
    }

    /// The number of recorded operations, pending ones included.
    pub fn len(&self) -> usize {
        self.operations.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }

    /// The operations that have not returned.
    pub fn pending(&self) -> impl Iterator<Item = &Operation<I, O>> {
        self.operations.iter().filter(|op| op.is_pending())
    }
}
