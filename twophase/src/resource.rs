//! The local resource a participant commits or aborts: the seam between the commit
//! protocol and your storage engine.

use crate::TxId;

/// A participant's answer from its resource, with what must be made durable to keep a
/// "yes".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prepared<R> {
    /// The work can commit. `R` is the *redo* record: enough to apply (or re-lock) the
    /// work after a crash. The participant makes it durable before it votes yes.
    Yes(R),
    /// The work cannot commit (a conflict, a failed check); the resource has already
    /// undone it and released its locks.
    No,
    /// The work changed nothing; the resource has released its locks and needs no
    /// second phase.
    ReadOnly,
}

/// The local resource manager of a participant (a shard of a database, a queue, a
/// file): what 2PC and Paxos Commit coordinate.
///
/// The participant calls, for each transaction that reaches it:
///
/// 1. [`prepare`](Resource::prepare) once, with the transaction's work for this
///    participant. The resource executes the work tentatively and holds whatever it
///    needs (locks) until step 2.
/// 2. Exactly one of [`commit`](Resource::commit) or [`abort`](Resource::abort), if it
///    answered [`Prepared::Yes`].
///
/// After a crash the participant rebuilds a fresh resource from its log: it calls
/// [`commit`](Resource::commit) for every committed redo record, in log order, and
/// [`restore_prepared`](Resource::restore_prepared) for every transaction still in
/// doubt, which must re-acquire that transaction's locks so nothing else can see or
/// overwrite its data before the outcome is known.
///
/// All methods must be deterministic.
///
/// # Example
///
/// A resource that accepts any work and counts commits:
///
/// ```
/// use synod_twophase::{Prepared, Resource, TxId};
///
/// #[derive(Default)]
/// struct Counter { committed: u64 }
///
/// impl Resource for Counter {
///     type Work = u64;
///     type Redo = u64;
///     fn prepare(&mut self, _tx: TxId, work: &u64) -> Prepared<u64> {
///         if *work == 0 { Prepared::ReadOnly } else { Prepared::Yes(*work) }
///     }
///     fn commit(&mut self, _tx: TxId, redo: &u64) { self.committed += redo; }
///     fn abort(&mut self, _tx: TxId) {}
///     fn restore_prepared(&mut self, _tx: TxId, _redo: &u64) {}
/// }
///
/// let mut c = Counter::default();
/// let tx = TxId { coordinator: synod_core::NodeId(1), epoch: 1, seq: 0 };
/// assert_eq!(c.prepare(tx, &5), Prepared::Yes(5));
/// c.commit(tx, &5);
/// assert_eq!(c.committed, 5);
/// ```
pub trait Resource {
    /// The work a transaction asks of this resource (carried in PREPARE).
    type Work: Clone;
    /// What must be durable for a prepared transaction: enough to commit it after a
    /// crash, and to re-lock what it touched.
    type Redo: Clone;

    /// Execute `work` tentatively for `tx` and vote.
    fn prepare(&mut self, tx: TxId, work: &Self::Work) -> Prepared<Self::Redo>;

    /// Make `tx`'s work permanent and release its locks. Also called during recovery
    /// with no earlier `prepare` in this life: apply `redo` then.
    fn commit(&mut self, tx: TxId, redo: &Self::Redo);

    /// Undo `tx`'s tentative work and release its locks. Must tolerate a `tx` it does
    /// not know (an abort that arrives for a transaction restored nothing for).
    fn abort(&mut self, tx: TxId);

    /// After a restart: `tx` was prepared and is still in doubt; hold its locks again.
    fn restore_prepared(&mut self, tx: TxId, redo: &Self::Redo);
}
