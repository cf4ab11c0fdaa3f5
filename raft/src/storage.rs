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
    entries: Chunks,
    offset: LogIndex,
    offset_term: Term,
    snapshot: Option<Snapshot>,
}

/// Entries per chunk of [`Chunks`] (56 KiB of `Entry` headers: below the allocator's
/// usual mmap threshold, so freed chunks are reused instead of faulted in afresh).
const CHUNK: usize = 1024;

/// A sequence of entries kept in fixed-size chunks instead of one vector: appending
/// never moves what is already stored (a doubling vector copies the whole log and
/// touches twice its memory as it grows, which was a quarter of steady-state
/// replication time), and compaction frees whole chunks instead of shifting the log.
///
/// Positions are logical (0 = the first entry held). Chunk 0 holds physical slots
/// `head..CHUNK`, every later chunk `CHUNK` slots; all chunks but the last are full.
#[derive(Clone, Debug, Default)]
struct Chunks {
    chunks: std::collections::VecDeque<Vec<Entry>>,
    /// Slots of chunk 0 before its first entry (compacted away).
    head: usize,
    len: usize,
}

impl Chunks {
    fn len(&self) -> usize {
        self.len
    }

    /// Chunk and offset within it of logical position `pos`.
    fn locate(&self, pos: usize) -> (usize, usize) {
        let slot = pos + self.head;
        let (chunk, within) = (slot / CHUNK, slot % CHUNK);
        if chunk == 0 {
            (0, within - self.head)
        } else {
            (chunk, within)
        }
    }

    fn get(&self, pos: usize) -> Option<&Entry> {
        if pos >= self.len {
            return None;
        }
        let (chunk, within) = self.locate(pos);
        self.chunks.get(chunk)?.get(within)
    }

    /// The entries at `lo..=hi` (both held), as consecutive slices.
    fn range(&self, lo: usize, hi: usize) -> impl Iterator<Item = &[Entry]> {
        let (first, first_at) = self.locate(lo);
        let (last, last_at) = self.locate(hi);
        (first..=last).map(move |c| {
            let chunk = &self.chunks[c];
            let from = if c == first { first_at } else { 0 };
            let to = if c == last { last_at + 1 } else { chunk.len() };
            &chunk[from..to]
        })
    }

    /// Keep the first `keep` entries.
    fn truncate(&mut self, keep: usize) {
        if keep >= self.len {
            return;
        }
        if keep == 0 {
            return self.clear();
        }
        // Keep the chunk holding the last kept entry, cut inside it.
        let (chunk, within) = self.locate(keep - 1);
        self.chunks.truncate(chunk + 1);
        if let Some(last) = self.chunks.back_mut() {
            last.truncate(within + 1);
        }
        self.len = keep;
    }

    /// Drop the first `n` entries (`n <= len`).
    fn drain_front(&mut self, n: usize) {
        if n >= self.len {
            return self.clear();
        }
        let slot = n + self.head;
        self.chunks.drain(..slot / CHUNK);
        let cut = slot % CHUNK - if slot / CHUNK == 0 { self.head } else { 0 };
        if let Some(first) = self.chunks.front_mut() {
            first.drain(..cut);
        }
        self.head = slot % CHUNK;
        self.len -= n;
    }

    fn clear(&mut self) {
        self.chunks.clear();
        self.head = 0;
        self.len = 0;
    }

    fn extend_cloned(&mut self, new: &[Entry]) {
        let mut rest = new;
        while !rest.is_empty() {
            let capacity = if self.chunks.len() == 1 {
                CHUNK - self.head
            } else {
                CHUNK
            };
            let room = match self.chunks.back() {
                Some(last) if last.len() < capacity => capacity - last.len(),
                _ => {
                    // Chunk 0 of a fresh log grows as a normal vector (a small log
                    // stays small); later chunks are allocated whole, once.
                    let chunk = if self.chunks.is_empty() {
                        Vec::with_capacity(rest.len().min(CHUNK - self.head))
                    } else {
                        Vec::with_capacity(CHUNK)
                    };
                    self.chunks.push_back(chunk);
                    continue;
                }
            };
            let (now, later) = rest.split_at(room.min(rest.len()));
            if let Some(last) = self.chunks.back_mut() {
                // Grow chunk 0 by doubling, but never past the chunk size.
                let need = last.len() + now.len();
                if need > last.capacity() {
                    let target = need.max(last.capacity() * 2).min(capacity);
                    last.reserve_exact(target - last.len());
                }
                last.extend_from_slice(now);
            }
            self.len += now.len();
            rest = later;
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.chunks.iter().flatten()
    }
}

/// Equal when they hold the same entries, however they are chunked.
impl PartialEq for Chunks {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Eq for Chunks {}

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
            .and_then(|p| self.entries.get(p))
            .map(|e| e.term)
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
        if lo > hi {
            return Ok(());
        }
        let mut bytes = 0u64;
        for slice in self.entries.range(lo, hi) {
            // Count what fits first, then clone the run in one go.
            let mut fits = 0;
            for entry in slice {
                bytes = bytes.saturating_add(entry.size_bytes());
                if bytes > max_bytes && bytes != entry.size_bytes() {
                    break;
                }
                fits += 1;
            }
            out.extend_from_slice(&slice[..fits]);
            if fits < slice.len() {
                break;
            }
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
                self.entries.extend_cloned(new);
            }
            Record::Snapshot(snapshot) => {
                let meta = &snapshot.meta;
                if meta.index <= self.offset {
                    return Ok(()); // older than what we hold
                }
                match self.position(meta.index) {
                    Some(p) if self.entries.get(p).is_some_and(|e| e.term == meta.term) => {
                        self.entries.drain_front(p + 1);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EntryKind;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index: LogIndex(index),
            term: Term(term),
            kind: EntryKind::Command,
            data: Bytes::from(vec![index as u8; (index % 7) as usize]),
        }
    }

    fn snapshot_at(index: u64, term: u64) -> Record {
        let meta = SnapshotMeta {
            index: LogIndex(index),
            term: Term(term),
            membership: crate::Membership::new([synod_core::NodeId(1)]),
        };
        Record::Snapshot(Snapshot {
            meta,
            data: Bytes::new(),
        })
    }

    /// The chunk edges of `MemStorage` (Raft §7 compaction on 1024-entry chunks):
    /// compacting to exactly a chunk boundary, truncating and appending after it,
    /// reads that cross chunk boundaries under a byte bound, an empty log after a
    /// snapshot, and the term at the snapshot index.
    #[test]
    fn compaction_at_chunk_boundaries() {
        let c = CHUNK as u64;
        let mut log = MemStorage::new();
        let run = |from: u64, to: u64, term| (from..=to).map(|i| entry(i, term)).collect();
        log.apply(&Record::Entries(run(1, 3 * c + 5, 1))).unwrap();
        // Exactly one and then two whole chunks compacted.
        for through in [c, 2 * c] {
            log.apply(&snapshot_at(through, 1)).unwrap();
            assert_eq!(log.first_index(), LogIndex(through + 1));
            assert_eq!(log.term(LogIndex(through)), Ok(Term(1)));
            assert_eq!(log.term(LogIndex(through + 1)), Ok(Term(1)));
            assert_eq!(
                log.term(LogIndex(through - 1)),
                Err(StorageError::Compacted(LogIndex(through - 1)))
            );
        }
        // Truncate inside the first chunk left, then append across its end.
        log.apply(&Record::Entries(run(2 * c + 3, 3 * c + 10, 2)))
            .unwrap();
        assert_eq!(log.last_index(), LogIndex(3 * c + 10));
        assert_eq!(log.term(LogIndex(2 * c + 2)), Ok(Term(1)));
        assert_eq!(log.term(LogIndex(2 * c + 3)), Ok(Term(2)));
        // A bounded read across the chunk boundary stops on the byte limit.
        let mut out = Vec::new();
        let from = LogIndex(3 * c - 2);
        let four: u64 = (3 * c - 2..3 * c + 2)
            .map(|i| entry(i, 2).size_bytes())
            .sum();
        log.entries(from, LogIndex(3 * c + 10), four, &mut out)
            .unwrap();
        let got: Vec<u64> = out.iter().map(|e| e.index.0).collect();
        assert_eq!(got, (3 * c - 2..3 * c + 2).collect::<Vec<_>>());
        // Truncate to right after the compaction point, then compact everything.
        log.apply(&Record::Entries(run(2 * c + 1, 2 * c + 1, 3)))
            .unwrap();
        assert_eq!(log.last_index(), LogIndex(2 * c + 1));
        log.apply(&snapshot_at(2 * c + 1, 3)).unwrap();
        assert_eq!(log.first_index(), LogIndex(2 * c + 2));
        assert_eq!(log.last_index(), LogIndex(2 * c + 1));
        assert_eq!(log.term(LogIndex(2 * c + 1)), Ok(Term(3)));
        let mut out = Vec::new();
        assert!(
            log.entries(LogIndex(2 * c + 2), LogIndex(2 * c + 2), 0, &mut out)
                .is_err()
        );
        // A snapshot past the end of the log, then the log grows on from it.
        log.apply(&snapshot_at(5 * c, 4)).unwrap();
        assert_eq!(
            (log.first_index(), log.last_index()),
            (LogIndex(5 * c + 1), LogIndex(5 * c))
        );
        log.apply(&Record::Entries(run(5 * c + 1, 6 * c + 1, 4)))
            .unwrap();
        assert_eq!(log.term(LogIndex(6 * c + 1)), Ok(Term(4)));
        assert_eq!(log.term(LogIndex(5 * c)), Ok(Term(4)));
    }

    /// The chunked `MemStorage` answers exactly like a plain vector of entries under
    /// random appends (with conflicting-tail truncation), compactions and bounded
    /// reads that cross chunk boundaries (the storage contract of `LogStorage`).
    #[test]
    fn chunked_entries_match_a_plain_vector() {
        let mut rng = 0x5EED_u64;
        let mut next = |n: u64| {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (rng >> 33) % n.max(1)
        };
        let mut log = MemStorage::new();
        // The model: every entry after `offset`, in one vector.
        let mut model: Vec<Entry> = Vec::new();
        let mut offset = 0u64;
        let mut term = 1;
        for _ in 0..3_000 {
            let last = offset + model.len() as u64;
            match next(10) {
                // Append a run, sometimes replacing a tail.
                0..=6 => {
                    let back = if next(4) == 0 {
                        next(model.len() as u64 + 1)
                    } else {
                        0
                    };
                    let first = last + 1 - back;
                    if first <= offset {
                        continue;
                    }
                    term += next(2);
                    let run: Vec<Entry> = (first..first + 1 + next(3 * CHUNK as u64 / 2))
                        .map(|i| entry(i, term))
                        .collect();
                    log.apply(&Record::Entries(run.clone())).unwrap();
                    model.truncate((first - offset - 1) as usize);
                    model.extend(run);
                }
                // Compact through a held index.
                7 if !model.is_empty() => {
                    let p = next(model.len() as u64) as usize;
                    let meta = SnapshotMeta {
                        index: model[p].index,
                        term: model[p].term,
                        membership: crate::Membership::new([synod_core::NodeId(1)]),
                    };
                    let data = Bytes::new();
                    log.apply(&Record::Snapshot(Snapshot { meta, data }))
                        .unwrap();
                    offset = model[p].index.0;
                    model.drain(..=p);
                }
                _ => {}
            }
            let last = offset + model.len() as u64;
            assert_eq!(log.first_index(), LogIndex(offset + 1));
            assert_eq!(log.last_index(), LogIndex(last));
            if model.is_empty() {
                continue;
            }
            // Every term, and a bounded read from a random position.
            for (i, e) in model.iter().enumerate().step_by(97) {
                assert_eq!(log.term(LogIndex(offset + 1 + i as u64)), Ok(e.term));
            }
            let lo = next(model.len() as u64) as usize;
            let hi = lo + next((model.len() - lo) as u64) as usize;
            let max_bytes = next(40 * CHUNK as u64);
            let mut out = Vec::new();
            log.entries(model[lo].index, model[hi].index, max_bytes, &mut out)
                .unwrap();
            let mut expected = Vec::new();
            let mut bytes = 0;
            for e in &model[lo..=hi] {
                bytes += e.size_bytes();
                if bytes > max_bytes && !expected.is_empty() {
                    break;
                }
                expected.push(e.clone());
            }
            assert_eq!(out, expected);
        }
        // Equality does not depend on how the entries are chunked.
        let rebuilt = MemStorage::from_records(&[
            Record::Snapshot(log.snapshot.clone().unwrap()),
            Record::Entries(model.clone()),
        ])
        .unwrap();
        assert_eq!(rebuilt.entries, log.entries);
    }
}
