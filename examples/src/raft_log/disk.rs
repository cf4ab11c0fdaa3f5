//! [`DiskStorage`]: a [`LogStorage`] that keeps an index of the log in memory and
//! reads entries back from the segments the [`SegmentedLog`](super::SegmentedLog)
//! wrote.
//!
//! Per entry it holds its term and, once written, where it lies: `(segment, byte
//! offset of its record, position in the record)`. Entries the node applied but the
//! log has not written yet stay in memory (the node persists them right after applying
//! them); so do the newest written ones up to
//! [`RaftLogOptions::memory_bytes_max`](super::RaftLogOptions::memory_bytes_max), which
//! are what a leader sends and applies next. Older entries cost about 40 bytes each.
//!
//! The two halves meet in one shared index: the node owns the `DiskStorage` and the
//! driver owns the `SegmentedLog`, and both run on the node's task.
//!
//! After a snapshot the index starts at the snapshot's index (its *base*): entry `i`
//! is slot `i - base - 1`, and the snapshot itself (metadata and data) is kept for
//! [`LogStorage::snapshot_meta`] and [`LogStorage::snapshot_data`].

use super::{RaftLogOptions, Segment};
use crate::framing::{RECORD_HEADER_BYTES, record_crc};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use synod_raft::{
    Entry, HardState, LogIndex, LogStorage, MemStorage, Record, Snapshot, SnapshotMeta,
    StorageError, Term,
};

/// Rebuilding a node's state from replayed records.
pub(super) trait Replay {
    fn replay(&mut self, sequence: u64, offset: u64, record: &Record) -> Result<(), StorageError>;
    fn replayed_hard_state(&self) -> HardState;
    fn replayed_last_index(&self) -> LogIndex;
    /// Start from this snapshot (loaded from its file) before any segment is replayed.
    fn restore(&mut self, snapshot: &Snapshot) -> Result<(), StorageError>;
}

impl Replay for MemStorage {
    fn replay(&mut self, _: u64, _: u64, record: &Record) -> Result<(), StorageError> {
        self.apply(record)
    }
    fn replayed_hard_state(&self) -> HardState {
        LogStorage::hard_state(self)
    }
    fn replayed_last_index(&self) -> LogIndex {
        LogStorage::last_index(self)
    }
    fn restore(&mut self, snapshot: &Snapshot) -> Result<(), StorageError> {
        self.apply(&Record::Snapshot(snapshot.clone()))
    }
}

/// Where a written entry lies.
#[derive(Clone, Copy, Debug)]
pub(super) struct Located {
    pub(super) index: LogIndex,
    pub(super) term: Term,
    pub(super) sequence: u64,
    pub(super) offset: u64,
    pub(super) position: usize,
}

#[derive(Clone, Debug)]
struct Slot {
    term: Term,
    /// The entry itself while it is unwritten or among the newest.
    entry: Option<Entry>,
    /// `(segment, record offset, position)` once written.
    at: Option<(u64, u64, usize)>,
}

/// The index both halves share.
#[derive(Debug)]
pub(super) struct DiskIndex {
    /// Entry `i` at `slots[i - base - 1]`.
    slots: Vec<Slot>,
    /// The compaction point: the latest snapshot's index (0 without one).
    base: LogIndex,
    /// The term of the entry at `base`.
    base_term: Term,
    paths: BTreeMap<u64, PathBuf>,
    memory_bytes: u64,
    memory_bytes_max: u64,
    /// Slots before this one hold no entry in memory.
    evicted_below: usize,
    max_record_bytes: u32,
    /// The last record read back, `(segment, offset, its entries)`: consecutive reads
    /// of one batch decode it once.
    cache: Option<(u64, u64, Vec<Entry>)>,
}

/// A [`LogStorage`] over the segments (see "Memory" in the
/// [`raft_log`](crate::raft_log) docs): per entry its term and where it lies once
/// written; the entries not written yet and the newest written ones up to
/// `memory_bytes_max` stay in memory. Build it with
/// [`SegmentedLog::open_indexed`](super::SegmentedLog::open_indexed).
#[derive(Debug)]
pub struct DiskStorage {
    hard_state: HardState,
    /// The latest snapshot folded in (its data held in memory, as the node hands
    /// it out in chunks to lagging followers).
    snapshot: Option<Snapshot>,
    shared: Arc<Mutex<DiskIndex>>,
}

impl DiskStorage {
    pub(super) fn new(options: RaftLogOptions) -> Self {
        DiskStorage {
            hard_state: HardState::default(),
            snapshot: None,
            shared: Arc::new(Mutex::new(DiskIndex {
                slots: Vec::new(),
                base: LogIndex(0),
                base_term: Term(0),
                paths: BTreeMap::new(),
                memory_bytes: 0,
                memory_bytes_max: options.memory_bytes_max,
                evicted_below: 0,
                max_record_bytes: options.max_record_bytes,
                cache: None,
            })),
        }
    }

    pub(super) fn shared(&self) -> Arc<Mutex<DiskIndex>> {
        self.shared.clone()
    }

    pub(super) fn track_segments(&mut self, segments: &[Segment]) {
        for segment in segments {
            track_segment(&self.shared, segment);
        }
    }

    /// Bytes of entry payloads held in memory.
    pub fn memory_bytes(&self) -> u64 {
        lock(&self.shared).memory_bytes
    }

    fn index(&self) -> MutexGuard<'_, DiskIndex> {
        lock(&self.shared)
    }
}

/// A poisoned lock only means another holder panicked mid-update of plain data; the
/// index is still usable, so take it.
fn lock(shared: &Mutex<DiskIndex>) -> MutexGuard<'_, DiskIndex> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(super) fn track_segment(shared: &Mutex<DiskIndex>, segment: &Segment) {
    lock(shared)
        .paths
        .insert(segment.sequence, segment.path.clone());
}

/// The log wrote these entries: remember where, and drop old ones from memory.
pub(super) fn publish(shared: &Mutex<DiskIndex>, written: &[Located]) {
    let mut index = lock(shared);
    for w in written {
        let Some(slot) = index.slot(w.index).and_then(|p| index.slots.get_mut(p)) else {
            continue;
        };
        // The same index and term is the same entry (log matching); anything else was
        // replaced after this record was appended and is published by a later one.
        if slot.term == w.term {
            slot.at = Some((w.sequence, w.offset, w.position));
        }
    }
    index.evict();
}

impl DiskIndex {
    /// The slot of entry `index`, if it lies after the base (it may be beyond the end).
    fn slot(&self, index: LogIndex) -> Option<usize> {
        usize::try_from(index.0.checked_sub(self.base.0)?.checked_sub(1)?).ok()
    }

    fn last_index(&self) -> LogIndex {
        LogIndex(self.base.0 + self.slots.len() as u64)
    }

    /// Fold in a snapshot through `meta.index` (the [`Record::Snapshot`] rule): the
    /// entries after it stay if the log holds `meta.index` with `meta.term`,
    /// otherwise the whole log goes. A snapshot at or before the base changes nothing.
    fn compact(&mut self, meta: &SnapshotMeta) {
        if meta.index <= self.base {
            return;
        }
        let matching = self
            .slot(meta.index)
            .and_then(|p| self.slots.get(p))
            .is_some_and(|s| s.term == meta.term);
        let drop = if matching {
            self.slot(meta.index).map_or(0, |p| p + 1)
        } else {
            self.slots.len()
        };
        for slot in self.slots.drain(..drop) {
            if let Some(entry) = slot.entry {
                self.memory_bytes -= entry.data.len() as u64;
            }
        }
        self.evicted_below = self.evicted_below.saturating_sub(drop);
        self.base = meta.index;
        self.base_term = meta.term;
        self.cache = None;
    }

    /// Every entry after the base, read from memory or the segments: what a new
    /// segment rewrites after a snapshot.
    fn suffix(&mut self) -> Result<Vec<Entry>, StorageError> {
        let mut out = Vec::with_capacity(self.slots.len());
        let mut at = self.base.next();
        while at <= self.last_index() {
            out.push(self.read(at)?);
            at = at.next();
        }
        Ok(out)
    }

    fn forget_segment(&mut self, sequence: u64) {
        self.paths.remove(&sequence);
    }

    fn evict(&mut self) {
        while self.memory_bytes > self.memory_bytes_max && self.evicted_below < self.slots.len() {
            let slot = &mut self.slots[self.evicted_below];
            if slot.at.is_none() {
                break; // not written yet: it must stay
            }
            if let Some(entry) = slot.entry.take() {
                self.memory_bytes -= entry.data.len() as u64;
            }
            self.evicted_below += 1;
        }
    }

    fn truncate(&mut self, keep: usize) {
        for slot in self.slots.drain(keep.min(self.slots.len())..) {
            if let Some(entry) = slot.entry {
                self.memory_bytes -= entry.data.len() as u64;
            }
        }
        self.evicted_below = self.evicted_below.min(self.slots.len());
        self.cache = None;
    }

    fn append(&mut self, entries: &[Entry], at: Option<(u64, u64)>) -> Result<(), StorageError> {
        let Some(first) = entries.first() else {
            return Ok(());
        };
        let keep = self
            .slot(first.index)
            .ok_or(StorageError::Gap(first.index))?;
        if keep > self.slots.len() || entries.windows(2).any(|w| w[1].index != w[0].index.next()) {
            return Err(StorageError::Gap(first.index));
        }
        self.truncate(keep);
        for (position, entry) in entries.iter().enumerate() {
            let (kept, location) = match at {
                // Replayed from disk: only the location.
                Some((sequence, offset)) => (None, Some((sequence, offset, position))),
                None => {
                    self.memory_bytes += entry.data.len() as u64;
                    (Some(entry.clone()), None)
                }
            };
            self.slots.push(Slot {
                term: entry.term,
                entry: kept,
                at: location,
            });
        }
        if at.is_some() {
            self.evicted_below = self.slots.len();
        }
        Ok(())
    }

    fn read(&mut self, index: LogIndex) -> Result<Entry, StorageError> {
        let slot = self
            .slot(index)
            .and_then(|p| self.slots.get(p))
            .ok_or(StorageError::Unavailable(index))?;
        if let Some(entry) = &slot.entry {
            return Ok(entry.clone());
        }
        let (sequence, offset, position) = slot.at.ok_or(StorageError::Unavailable(index))?;
        let term = slot.term;
        let cached = matches!(&self.cache, Some((s, o, _)) if (*s, *o) == (sequence, offset));
        if !cached {
            let entries = self
                .read_record(sequence, offset)
                .map_err(|e| StorageError::Other(format!("reading entry {index} back: {e}")))?;
            self.cache = Some((sequence, offset, entries));
        }
        self.cache
            .as_ref()
            .and_then(|(_, _, entries)| entries.get(position))
            .filter(|e| e.index == index && e.term == term)
            .cloned()
            .ok_or_else(|| {
                StorageError::Other(format!(
                    "segment {sequence} byte {offset} does not hold entry {index}"
                ))
            })
    }

    /// Read and check one record: the same checks as recovery, for data it accepted.
    fn read_record(&self, sequence: u64, offset: u64) -> io::Result<Vec<Entry>> {
        let path = self
            .paths
            .get(&sequence)
            .ok_or_else(|| io::Error::other(format!("no segment {sequence}")))?;
        let mut file = File::open(path)?;
        file.seek(SeekFrom::Start(offset))?;
        let mut header = [0u8; RECORD_HEADER_BYTES as usize];
        file.read_exact(&mut header)?;
        let len_bytes = [header[0], header[1], header[2], header[3]];
        let len = u32::from_be_bytes(len_bytes);
        if len > self.max_record_bytes {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "record over the limit",
            ));
        }
        let mut payload = vec![0u8; len as usize];
        file.read_exact(&mut payload)?;
        let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        if record_crc(len_bytes, &payload) != crc {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "checksum mismatch",
            ));
        }
        match postcard::from_bytes(&payload) {
            Ok(Record::Entries(entries)) => Ok(entries),
            Ok(Record::HardState(_) | Record::Snapshot(_)) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not an entries record",
            )),
            Err(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        }
    }
}

impl Replay for DiskStorage {
    fn replay(&mut self, sequence: u64, offset: u64, record: &Record) -> Result<(), StorageError> {
        match record {
            Record::HardState(hs) => {
                self.hard_state = *hs;
                Ok(())
            }
            Record::Entries(entries) => self.index().append(entries, Some((sequence, offset))),
            // A segment's snapshot marker: `open` restored the snapshot itself from
            // its file and checked the marker names it.
            Record::Snapshot(_) => Ok(()),
        }
    }
    fn replayed_hard_state(&self) -> HardState {
        self.hard_state
    }
    fn replayed_last_index(&self) -> LogIndex {
        LogStorage::last_index(self)
    }
    fn restore(&mut self, snapshot: &Snapshot) -> Result<(), StorageError> {
        self.fold_snapshot(snapshot);
        Ok(())
    }
}

impl DiskStorage {
    fn fold_snapshot(&mut self, snapshot: &Snapshot) {
        if self
            .snapshot
            .as_ref()
            .is_some_and(|s| s.meta.index >= snapshot.meta.index)
        {
            return;
        }
        self.index().compact(&snapshot.meta);
        self.snapshot = Some(snapshot.clone());
    }
}

/// For the log: the entries after the snapshot the node just folded in.
pub(super) fn suffix(shared: &Mutex<DiskIndex>) -> Result<(LogIndex, Vec<Entry>), StorageError> {
    let mut index = lock(shared);
    let base = index.base;
    Ok((base, index.suffix()?))
}

/// For the log: segment `sequence` was deleted.
pub(super) fn forget_segment(shared: &Mutex<DiskIndex>, sequence: u64) {
    lock(shared).forget_segment(sequence);
}

impl LogStorage for DiskStorage {
    fn hard_state(&self) -> HardState {
        self.hard_state
    }

    fn first_index(&self) -> LogIndex {
        self.index().base.next()
    }

    fn last_index(&self) -> LogIndex {
        self.index().last_index()
    }

    fn term(&self, index: LogIndex) -> Result<Term, StorageError> {
        let log = self.index();
        if index == log.base {
            return Ok(log.base_term);
        }
        if index < log.base {
            return Err(StorageError::Compacted(index));
        }
        log.slot(index)
            .and_then(|p| log.slots.get(p).map(|s| s.term))
            .ok_or(StorageError::Unavailable(index))
    }

    fn entries(
        &self,
        from: LogIndex,
        to: LogIndex,
        max_bytes: u64,
        out: &mut Vec<Entry>,
    ) -> Result<(), StorageError> {
        let mut index = self.index();
        if from <= index.base {
            return Err(StorageError::Compacted(from));
        }
        if to > index.last_index() || from > to {
            return Err(StorageError::Unavailable(to));
        }
        let mut bytes = 0u64;
        let mut at = from;
        while at <= to {
            let entry = index.read(at)?;
            bytes = bytes.saturating_add(entry.size_bytes());
            if bytes > max_bytes && bytes != entry.size_bytes() {
                break;
            }
            out.push(entry);
            at = at.next();
        }
        Ok(())
    }

    fn apply(&mut self, record: &Record) -> Result<(), StorageError> {
        match record {
            Record::HardState(hs) => {
                self.hard_state = *hs;
                Ok(())
            }
            Record::Entries(entries) => self.index().append(entries, None),
            Record::Snapshot(snapshot) => {
                self.fold_snapshot(snapshot);
                Ok(())
            }
        }
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
