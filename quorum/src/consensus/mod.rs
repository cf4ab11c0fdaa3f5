//! Herlihy's quorum consensus for replicated abstract data types (Herlihy 1986).
//!
//! Each operation of a replicated type reads the state (a log, here) from an
//! *initial quorum* of replicas and writes its effect to a *final quorum*. With n
//! interchangeable replicas a quorum choice is a pair of sizes `(initial, final)`.
//! Correctness needs one constraint per *dependency*: if operation q's response
//! depends on earlier operations p (a dequeue on earlier enqueues), every initial
//! quorum of q must meet every final quorum of p — `initial(q) + final(p) > n`.
//! Choosing sizes per operation rather than one read size and one write size lets the
//! common operations be cheap: an abnormal dequeue (on an empty queue) changes nothing,
//! so its final quorum can be empty.
//!
//! [`QuorumAssignment`] checks the constraints; [`queue`] is the course notes'
//! replicated FIFO queue built on them.

mod assignment;
pub mod queue;

pub use assignment::{AssignmentError, OperationQuorum, QuorumAssignment, Unsatisfied};
