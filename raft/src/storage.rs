//! Where a node keeps and reads its log and hard state: the [`LogStorage`] trait the
//! user implements, the [`Record`]s the node persists, and [`MemStorage`].

use crate::{Entry, HardState, LogIndex, Snapshot, SnapshotMeta, Term};
use bytes::Bytes;

/// One durable write a Raft node asks for, in an
/// [`Action::Persist`](synod_core::Action::Persist) or
/// [`Action::PersistInBackground`](synod_core::Action::PersistInBackground).
///
/// Folding a node's durable records, in order, into a fresh [`LogStorage`] with
/// [`LogStorage::apply`] rebuilds exactly the state it restarts from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Record {
    /// The new term and vote (Raft Figure 2: durable before answering).
    HardState(HardState),
    /// Entries to append, consecutive; any entries at or after the first one's index
    /// are replaced (the follower's truncation of a conflicting tail, Raft §5.3).
    Entries(Vec<Entry>),
    /// A snapshot through `meta.index` (Raft §7): it replaces any older snapshot, and
    /// the log through `meta.index` is discarded. Entries after it are kept if the
    /// log holds the entry at `meta.index` with `meta.term` (the suffix then matches
    /// the snapshot's history); otherwise the whole log is discarded. A snapshot at or
    /// before the current compaction point changes nothing.
    Snapshot(Snapshot),
}

/// A read or write the storage could not perform. Only the storage's owner can fix
/// these (a disk error, an index the storage compacted away).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The index lies before the first entry the storage still holds.
    #[error("index {0} was compacted")]
    Compacted(LogIndex),
    /// The index lies after the last entry.
    #[error("index {0} is beyond the last entry")]
    Unavailable(LogIndex),
    /// Appended entries would leave a gap or are not consecutive.
    #[error("append at {0} would leave a gap in the log")]
    Gap(LogIndex),
    /// Any other failure of the user's storage.
    #[error("storage failed: {0}")]
    Other(String),
}

/// The node's view of its log and hard state.
///
/// The node calls [`apply`](LogStorage::apply) with every [`Record`] at the moment it
/// emits the record as a persist action, so reads see its own writes; durability comes
/// only from the runtime performing that action. [`MemStorage`] keeps everything in
/// memory; a disk-backed implementation may keep an index and read entries back from
/// the files its runtime wrote. The node reads old entries only through
/// [`entries`](LogStorage::entries), with a byte bound, so a lagging follower never
/// makes it load the whole log.
///
/// Indices: entries `first_index()..=last_index()` are held; `term(first_index() - 1)`
/// must also answer (the term of the compaction point, 0 for an uncompacted log).
pub trait LogStorage {
    /// The durable term and vote.
    fn hard_state(&self) -> HardState;
    /// Index of the first entry held (1 for an uncompacted log).
    fn first_index(&self) -> LogIndex;
    /// Index of the last entry (`first_index() - 1` when empty).
    fn last_index(&self) -> LogIndex;
    /// Term of the entry at `index`, for `first_index() - 1 <= index <= last_index()`.
    fn term(&self, index: LogIndex) -> Result<Term, StorageError>;
    /// Append to `out` the entries from `from` through `to` (inclusive), stopping once
    /// their [`size_bytes`](Entry::size_bytes) reach `max_bytes` — but always at least
    /// one entry, so a large entry still makes progress.
    fn entries(
        &self,
        from: LogIndex,
        to: LogIndex,
        max_bytes: u64,
        out: &mut Vec<Entry>,
    ) -> Result<(), StorageError>;
    /// Fold in one record the node is persisting.
    fn apply(&mut self, record: &Record) -> Result<(), StorageError>;
    /// Metadata of the latest snapshot folded in, if any. Its index is
    /// `first_index() - 1`. The default (no snapshots) suits a storage that never
    /// receives a [`Record::Snapshot`].
    fn snapshot_meta(&self) -> Option<SnapshotMeta> {
        None
    }
    /// The latest snapshot's data (the node slices it into chunks for a lagging
    /// follower and hands it to the application on restart).
    fn snapshot_data(&self) -> Result<Bytes, StorageError> {
        Err(StorageError::Other(
            "this storage keeps no snapshots".into(),
        ))
    }
}

/// A [`LogStorage`] that keeps everything in memory: for tests, the simulator and
/// examples. Rebuild it after a crash by applying the durable records in order.
///
/// ```
/// use bytes::Bytes;
/// use synod_raft::{Entry, EntryKind, LogIndex, LogStorage, MemStorage, Record, Term};
///
/// let mut log = MemStorage::new();
/// let entry = |i, t| Entry { index: LogIndex(i), term: Term(t), kind: EntryKind::Command, data: Bytes::new() };
/// log.apply(&Record::Entries(vec![entry(1, 1), entry(2, 1), entry(3, 1)]))?;
/// log.apply(&Record::Entries(vec![entry(2, 2)]))?; // replaces 2 and 3
/// assert_eq!(log.last_index(), LogIndex(2));
/// assert_eq!(log.term(LogIndex(2))?, Term(2));
/// # Ok::<(), synod_raft::StorageError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemStorage {
    hard_state: HardState,
    /// Entries from index `offset + 1` on. `offset` is the compaction point: the
    /// index of the latest snapshot (0 without one).
    entries: Vec<Entry>,
    offset: LogIndex,
    offset_term: Term,
    snapshot: Option<Snapshot>,
}

impl MemStorage {
    /// An empty log with no vote in term 0.
    pub fn new() -> Self {
        MemStorage::default()
    }

    /// Rebuild from durable records, in the order they were made durable.
    pub fn from_records<'a>(
        records: impl IntoIterator<Item = &'a Record>,
    ) -> Result<Self, StorageError> {
        let mut storage = MemStorage::new();
        for record in records {
            storage.apply(record)?;
        }
        Ok(storage)
    }

    fn position(&self, index: LogIndex) -> Option<usize> {
        let pos = index.0.checked_sub(self.offset.0)?.checked_sub(1)?;
        usize::try_from(pos)
            .ok()
            .filter(|&p| p < self.entries.len())
    }
}

impl LogStorage for MemStorage {
    fn hard_state(&self) -> HardState {
        self.hard_state
    }

    fn first_index(&self) -> LogIndex {
        self.offset.next()
    }

    fn last_index(&self) -> LogIndex {
        LogIndex(self.offset.0 + self.entries.len() as u64)
    }

    fn term(&self, index: LogIndex) -> Result<Term, StorageError> {
        if index == self.offset {
            return Ok(self.offset_term);
        }
        if index < self.offset {
            return Err(StorageError::Compacted(index));
        }
        self.position(index)
            .map(|p| self.entries[p].term)
            .ok_or(StorageError::Unavailable(index))
    }

    fn entries(
        &self,
        from: LogIndex,
        to: LogIndex,
        max_bytes: u64,
        out: &mut Vec<Entry>,
    ) -> Result<(), StorageError> {
        if from <= self.offset {
            return Err(StorageError::Compacted(from));
        }
        let (Some(lo), Some(hi)) = (self.position(from), self.position(to)) else {
            return Err(StorageError::Unavailable(to));
        };
        let mut bytes = 0u64;
        for entry in &self.entries[lo..=hi] {
            bytes = bytes.saturating_add(entry.size_bytes());
            if bytes > max_bytes && bytes != entry.size_bytes() {
                break;
            }
            out.push(entry.clone());
        }
        Ok(())
    }

    fn apply(&mut self, record: &Record) -> Result<(), StorageError> {
        match record {
            Record::HardState(hs) => self.hard_state = *hs,
            Record::Entries(new) => {
                let Some(first) = new.first() else {
                    return Ok(());
                };
                if first.index <= self.offset || first.index > self.last_index().next() {
                    return Err(StorageError::Gap(first.index));
                }
                if new.windows(2).any(|w| w[1].index != w[0].index.next()) {
                    return Err(StorageError::Gap(first.index));
                }
                let keep = (first.index.0 - self.offset.0 - 1) as usize;
                self.entries.truncate(keep);
                self.entries.extend(new.iter().cloned());
            }
            Record::Snapshot(snapshot) => {
                let meta = &snapshot.meta;
                if meta.index <= self.offset {
                    return Ok(()); // older than what we hold
                }
                match self.position(meta.index) {
                    Some(p) if self.entries[p].term == meta.term => {
                        self.entries.drain(..=p);
                    }
                    _ => self.entries.clear(),
                }
                self.offset = meta.index;
                self.offset_term = meta.term;
                self.snapshot = Some(snapshot.clone());
            }
        }
        Ok(())
    }

    fn snapshot_meta(&self) -> Option<SnapshotMeta> {
        self.snapshot.as_ref().map(|s| s.meta.clone())
    }

    fn snapshot_data(&self) -> Result<Bytes, StorageError> {
        self.snapshot
            .as_ref()
            .map(|s| s.data.clone())
            .ok_or_else(|| StorageError::Other("no snapshot taken yet".into()))
    }
}
