//! The replicated log as the node sees it: the user's [`LogStorage`] plus the volatile
//! indices of Raft Figure 2 (commit, applied) and how far the log is durable.

use crate::{Entry, LogIndex, LogStorage, Record, StorageError, Term};

/// The log of one node.
#[derive(Debug)]
pub(crate) struct RaftLog<S> {
    pub(crate) storage: S,
    /// Highest index known committed (volatile; Raft Figure 2).
    pub(crate) committed: LogIndex,
    /// Highest index emitted to the application in this node lifetime.
    pub(crate) applied: LogIndex,
    /// Entries through this index are durable. Followers write with barrier persists,
    /// so for them it equals the last index; a leader's background writes raise it on
    /// `Input::Persisted` (thesis §10.2.1).
    pub(crate) durable: LogIndex,
}

impl<S: LogStorage> RaftLog<S> {
    pub(crate) fn new(storage: S) -> Self {
        // Everything in storage at start-up came from durable records; a compacted
        // prefix (snapshots, a later session) counts as applied.
        let start = storage.first_index().prev();
        let last = storage.last_index();
        RaftLog {
            storage,
            committed: start,
            applied: start,
            durable: last,
        }
    }

    pub(crate) fn last_index(&self) -> LogIndex {
        self.storage.last_index()
    }

    pub(crate) fn last_term(&self) -> Term {
        self.term(self.last_index()).unwrap_or_default()
    }

    /// Term at `index`, `None` if the index is outside what storage holds.
    pub(crate) fn term(&self, index: LogIndex) -> Option<Term> {
        // The empty prefix has term 0 — unless a snapshot compacted it away.
        if index == LogIndex(0) && self.storage.first_index() == LogIndex(1) {
            return Some(Term(0));
        }
        self.storage.term(index).ok()
    }

    /// Whether a candidate with this last entry is at least as up to date as we are
    /// (Raft §5.4.1).
    pub(crate) fn is_up_to_date(&self, last_index: LogIndex, last_term: Term) -> bool {
        let our_term = self.last_term();
        last_term > our_term || (last_term == our_term && last_index >= self.last_index())
    }

    /// The first index in `lo..=hi` whose term is at least `term`, by binary search:
    /// terms never decrease along a log, so this costs O(log n) storage reads.
    pub(crate) fn first_index_with_term_at_least(
        &self,
        term: Term,
        lo: LogIndex,
        hi: LogIndex,
    ) -> LogIndex {
        let (mut lo, mut hi) = (lo.0, hi.0);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.term(LogIndex(mid)) {
                Some(t) if t >= term => hi = mid,
                _ => lo = mid + 1,
            }
        }
        LogIndex(lo)
    }

    /// Fold a record into storage and note what it makes durable.
    pub(crate) fn write(&mut self, record: &Record) -> Result<(), StorageError> {
        self.storage.apply(record)?;
        if let Record::Entries(entries) = record
            && let Some(first) = entries.first()
        {
            self.durable = self.durable.min(first.index.prev());
        }
        Ok(())
    }

    /// Entries `from..=to`, at most about `max_bytes`, appended to `out`.
    pub(crate) fn read(
        &self,
        from: LogIndex,
        to: LogIndex,
        max_bytes: u64,
        out: &mut Vec<Entry>,
    ) -> Result<(), StorageError> {
        self.storage.entries(from, to, max_bytes, out)
    }
}
