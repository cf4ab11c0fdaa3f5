//! A file-backed Raft log: the [`Record`]s a [`synod_raft::RaftNode`] persists, in
//! append-only, checksummed segment files, implementing [`synod_core::Storage`].
//!
//! # Layout
//!
//! A directory of segment files `seg-<sequence>-<first index>.log`, each a sequence of
//! [framed](crate::framing) postcard [`Record`]s exactly as the node emitted them. The
//! sequence number (zero-padded) orders the segments; the first index is the lowest log
//! index any record in the segment touches. Replaying every record of every segment in
//! order into a [`MemStorage`] rebuilds the node's durable state — a conflict
//! truncation is itself a record (an [`Record::Entries`] starting inside the log), so
//! it is as durable as any other write and a restart replays it.
//!
//! Every segment opens with a copy of the hard state current when it was created, and
//! a new segment is started when the active one reaches
//! [`RaftLogOptions::segment_bytes_max`] or when an `Entries` record reaches back
//! before the active segment's first index. Together these keep one property that
//! makes compaction a matter of deleting files: *once a snapshot covers every index
//! below the first index of all later segments, a segment holds nothing that is still
//! needed* (see [`SegmentedLog::segments_covered_by`]).
//!
//! # Snapshots
//!
//! A [`Record::Snapshot`] (Raft §7) is not written into a segment whole. The log
//! ([`SegmentedLog::open_indexed`] only) takes it in four steps, each durable before
//! the next:
//!
//! 1. the records before it are synced, and the snapshot (metadata and data) is
//!    written to `snapshot-<sequence>-<index>-<term>.snap.tmp` and synced;
//! 2. the file is renamed to its final name and the directory synced;
//! 3. a new segment `<sequence>` starts at `index + 1` with the hard state, the
//!    entries the log keeps after the snapshot (read from the [`DiskStorage`] the node
//!    already folded the snapshot into — all of them, or none if the snapshot
//!    conflicted with the log), and last a *marker*: the snapshot record with empty
//!    data. It is written and synced at once; from here on the snapshot counts;
//! 4. every earlier segment and the previous snapshot file are deleted and the
//!    directory synced.
//!
//! [`open`](SegmentedLog::open) restores the newest snapshot whose marker is durable
//! and replays the segments from the marker's on. A crash before step 3 completes
//! leaves the old snapshot and segments intact, and the unmarked file (or `.tmp`) is
//! deleted together with the segment step 3 had started (replaying a torn prefix of
//! its rewritten entries would cut the log short); a crash during step 4 is finished
//! by deleting what it had not. So a torn step 3 never loses an entry.
//!
//! # Durability
//!
//! [`Storage::append`] encodes the record into a buffer; [`Storage::sync`] writes the
//! buffer to the active segment and calls `fdatasync`, and the driver acknowledges a
//! persist only after that. A new segment file's directory entry is synced when the
//! file is created, and the previous segment is written and synced before it, so the
//! records on disk are always a prefix of the records appended. After a failed write
//! or sync the log refuses all further work (the kernel may have dropped dirty pages).
//!
//! # Recovery
//!
//! [`SegmentedLog::open`] scans the segments in order. The last one may end in a torn
//! or corrupt record (a write that was never acknowledged); it is cut off there. Damage
//! anywhere before the last segment's tail is damage to acknowledged data and is
//! refused with [`std::io::ErrorKind::InvalidData`], as is a record that does not fit
//! the log it is replayed onto.
//!
//! # Memory
//!
//! Reading never allocates more than [`RaftLogOptions::max_record_bytes`] for one
//! record. [`SegmentedLog::open`] rebuilds a [`MemStorage`], which holds every entry
//! in memory. [`SegmentedLog::open_indexed`] rebuilds a [`DiskStorage`] instead: an
//! index of `(term, segment, offset)` per entry, the entries not yet written, and the
//! newest written ones up to [`RaftLogOptions::memory_bytes_max`]; the node reads
//! older entries back from the segments (checksum verified) through the
//! [`LogStorage`](synod_raft::LogStorage) trait. The KV server uses the latter.

mod disk;
mod snapshot_file;

pub use disk::DiskStorage;

use crate::framing::{Scanned, encode_record, scan, sync_dir};
use disk::{DiskIndex, Located, Replay};
use snapshot_file::SnapshotFile;
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use synod_core::{Storage, StorageError};
use synod_raft::{Entry, HardState, LogIndex, MemStorage, Record, Snapshot};

/// How a [`SegmentedLog`] behaves. Build with [`RaftLogOptions::default`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RaftLogOptions {
    /// A segment that has reached this many bytes is closed, and the next record
    /// starts a new one.
    pub segment_bytes_max: u64,
    /// The largest record (encoded) that may be written or read.
    pub max_record_bytes: u32,
    /// For [`SegmentedLog::open_indexed`]: bytes of written entries a [`DiskStorage`]
    /// keeps in memory (the newest ones) rather than reading them back.
    pub memory_bytes_max: u64,
}

impl Default for RaftLogOptions {
    /// 8 MiB segments, 4 MiB records, 4 MiB of entries kept in memory.
    fn default() -> Self {
        RaftLogOptions {
            segment_bytes_max: 8 << 20,
            max_record_bytes: 4 << 20,
            memory_bytes_max: 4 << 20,
        }
    }
}

/// One segment file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Its position in replay order.
    pub sequence: u64,
    /// The lowest log index any of its records touches.
    pub first_index: LogIndex,
    /// Where it lives.
    pub path: PathBuf,
}

/// The segmented Raft log; see the [module docs](self).
#[derive(Debug)]
pub struct SegmentedLog {
    dir: PathBuf,
    options: RaftLogOptions,
    /// In replay order; the last one is the active segment.
    segments: Vec<Segment>,
    active: File,
    /// Bytes written to the active segment's file.
    active_bytes: u64,
    /// Encoded records appended but not yet written.
    pending: Vec<u8>,
    /// The hard state as of the last record appended: copied into each new segment.
    hard_state: HardState,
    /// The last log index as of the last record appended.
    last_index: LogIndex,
    /// Set after a failed write or sync.
    poisoned: bool,
    /// Where the entries appended since the last flush will be, for `index`.
    unpublished: Vec<Located>,
    /// The index of a [`DiskStorage`] to tell where entries landed once written.
    index: Option<Arc<Mutex<DiskIndex>>>,
    /// The current snapshot's file, if any.
    snapshot: Option<SnapshotFile>,
}

/// What [`SegmentedLog::open_indexed`] found.
#[derive(Debug)]
pub struct RecoveredIndexed {
    /// The log, positioned to append after the last whole record; it tells `storage`
    /// where entries land as it writes them.
    pub log: SegmentedLog,
    /// The node's durable state, entries read back from the segments.
    pub storage: DiskStorage,
    /// Whole records replayed.
    pub records: usize,
    /// Bytes of torn or corrupt tail cut off the last segment.
    pub truncated_bytes: u64,
}

/// What [`SegmentedLog::open`] found.
#[derive(Debug)]
pub struct Recovered {
    /// The log, positioned to append after the last whole record.
    pub log: SegmentedLog,
    /// The node's durable state, rebuilt by replaying every whole record.
    pub storage: MemStorage,
    /// Whole records replayed.
    pub records: usize,
    /// Bytes of torn or corrupt tail cut off the last segment.
    pub truncated_bytes: u64,
}

impl SegmentedLog {
    /// Open (or create) the log in directory `dir`, cut off a torn tail, and rebuild the
    /// node's state from it.
    pub fn open(dir: impl AsRef<Path>, options: RaftLogOptions) -> io::Result<Recovered> {
        let mut storage = MemStorage::new();
        let (log, records, truncated_bytes) = Self::open_with(dir.as_ref(), options, &mut storage)?;
        Ok(Recovered {
            log,
            storage,
            records,
            truncated_bytes,
        })
    }

    /// Open the log in `dir` as [`open`](Self::open) does, but rebuild the node's state
    /// as a [`DiskStorage`] that keeps only an index in memory (plus the newest entries,
    /// up to [`RaftLogOptions::memory_bytes_max`]) and reads older entries back from
    /// the segments. Recovery holds one segment's records at a time.
    pub fn open_indexed(
        dir: impl AsRef<Path>,
        options: RaftLogOptions,
    ) -> io::Result<RecoveredIndexed> {
        let mut storage = DiskStorage::new(options);
        let (mut log, records, truncated_bytes) =
            Self::open_with(dir.as_ref(), options, &mut storage)?;
        storage.track_segments(log.segments());
        log.index = Some(storage.shared());
        Ok(RecoveredIndexed {
            log,
            storage,
            records,
            truncated_bytes,
        })
    }

    fn open_with(
        dir: &Path,
        options: RaftLogOptions,
        storage: &mut impl Replay,
    ) -> io::Result<(SegmentedLog, usize, u64)> {
        let dir = dir.to_path_buf();
        if !dir.exists() {
            std::fs::create_dir_all(&dir)?;
            if let Some(parent) = dir.parent() {
                sync_dir(if parent.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    parent
                })?;
            }
        }
        let mut segments = list_segments(&dir)?;
        let snapshot = choose_snapshot(&dir, &mut segments, options)?;
        if let Some((_, snapshot)) = &snapshot {
            storage
                .restore(snapshot)
                .map_err(|e| invalid(format!("restoring the snapshot: {e}")))?;
        }
        let mut records = 0usize;
        let mut truncated_bytes = 0u64;
        let mut active_bytes = 0u64;
        for (position, segment) in segments.iter().enumerate() {
            let is_last = position + 1 == segments.len();
            let mut file = OpenOptions::new()
                .read(true)
                .write(is_last)
                .open(&segment.path)?;
            let file_bytes = file.metadata()?.len();
            let Scanned {
                records: found,
                valid_bytes,
            } = scan::<Record>(&mut file, file_bytes, options.max_record_bytes)?;
            if valid_bytes < file_bytes {
                if !is_last {
                    return Err(invalid(format!(
                        "{} is damaged at byte {valid_bytes} but later segments exist",
                        segment.path.display()
                    )));
                }
                file.set_len(valid_bytes)?;
                file.sync_all()?;
                truncated_bytes = file_bytes - valid_bytes;
            }
            for (offset, record) in &found {
                if let Record::Snapshot(marker) = record {
                    // A marker may only name the snapshot restored above: its file is
                    // durable before the marker is written, and older markers' segments
                    // were deleted with their snapshots.
                    if snapshot.as_ref().is_none_or(|(_, s)| s.meta != marker.meta) {
                        return Err(invalid(format!(
                            "{} byte {offset}: a marker of snapshot {} whose file is missing",
                            segment.path.display(),
                            marker.meta.index
                        )));
                    }
                    continue;
                }
                if let Record::Entries(entries) = record
                    && entries
                        .first()
                        .is_some_and(|e| e.index < segment.first_index)
                {
                    return Err(invalid(format!(
                        "{} byte {offset}: entries before the segment's first index",
                        segment.path.display()
                    )));
                }
                storage
                    .replay(segment.sequence, *offset, record)
                    .map_err(|e| {
                        invalid(format!("{} byte {offset}: {e}", segment.path.display()))
                    })?;
            }
            records += found.len();
            if is_last {
                active_bytes = valid_bytes;
            }
        }
        let mut log = match segments.last() {
            Some(last) => {
                let mut active = OpenOptions::new().write(true).open(&last.path)?;
                active.seek(SeekFrom::Start(active_bytes))?;
                SegmentedLog {
                    dir,
                    options,
                    segments,
                    active,
                    active_bytes,
                    pending: Vec::new(),
                    hard_state: storage.replayed_hard_state(),
                    last_index: storage.replayed_last_index(),
                    poisoned: false,
                    unpublished: Vec::new(),
                    index: None,
                    snapshot: snapshot.map(|(file, _)| file),
                }
            }
            None => {
                let first = Segment::new(&dir, 0, LogIndex(1));
                let active = create_segment_file(&first.path)?;
                SegmentedLog {
                    dir,
                    options,
                    segments: vec![first],
                    active,
                    active_bytes: 0,
                    pending: Vec::new(),
                    hard_state: HardState::default(),
                    last_index: LogIndex(0),
                    poisoned: false,
                    unpublished: Vec::new(),
                    index: None,
                    snapshot: None,
                }
            }
        };
        if log.active_bytes == 0 {
            // A segment created just before a crash: give it its hard-state header.
            log.encode_header()?;
        }
        Ok((log, records, truncated_bytes))
    }

    /// The directory holding the segments.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The segments, in replay order; the last is the one being appended to.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// How many leading segments a snapshot through `snapshot_index` makes redundant:
    /// segment `k` is, once every later segment's first index is at most
    /// `snapshot_index + 1` — no later record depends on anything in it but entries
    /// the snapshot covers, and each later segment starts with the hard state. The
    /// active segment is never counted. (Snapshots themselves start a new segment
    /// and delete every one before it; this is the rule for a log that would
    /// compact without rewriting.)
    pub fn segments_covered_by(&self, snapshot_index: LogIndex) -> usize {
        let mut covered = 0;
        let mut min_later = LogIndex(u64::MAX);
        // Walk from the newest: the running minimum is over the segments after `k`.
        for k in (0..self.segments.len()).rev() {
            if k + 1 < self.segments.len() && min_later <= snapshot_index.next() {
                covered = covered.max(k + 1);
            }
            min_later = min_later.min(self.segments[k].first_index);
        }
        covered
    }

    fn check_usable(&self) -> io::Result<()> {
        if self.poisoned {
            return Err(io::Error::other(
                "an earlier write or sync failed; the log must be reopened",
            ));
        }
        Ok(())
    }

    fn encode_header(&mut self) -> io::Result<()> {
        encode_record(
            &Record::HardState(self.hard_state),
            self.options.max_record_bytes,
            &mut self.pending,
        )
    }

    /// Write and sync the buffered records to the active segment.
    fn flush(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let written = self
            .active
            .write_all(&self.pending)
            .and_then(|()| self.active.sync_data());
        if let Err(error) = written {
            self.poisoned = true;
            return Err(error);
        }
        self.active_bytes += self.pending.len() as u64;
        self.pending.clear();
        if let Some(index) = &self.index {
            disk::publish(index, &self.unpublished);
        }
        self.unpublished.clear();
        Ok(())
    }

    /// Close the active segment (its records durable first, so the files stay a
    /// prefix of what was appended) and start a new one at `first_index`.
    fn roll(&mut self, first_index: LogIndex) -> io::Result<()> {
        self.flush()?;
        let sequence = self.segments.last().map_or(0, |s| s.sequence + 1);
        let segment = Segment::new(&self.dir, sequence, first_index);
        let active = match create_segment_file(&segment.path) {
            Ok(file) => file,
            Err(error) => {
                self.poisoned = true;
                return Err(error);
            }
        };
        self.active = active;
        self.active_bytes = 0;
        if let Some(index) = &self.index {
            disk::track_segment(index, &segment);
        }
        self.segments.push(segment);
        self.encode_header()
    }

    fn append_record(&mut self, record: &Record) -> io::Result<()> {
        self.check_usable()?;
        let active_first = self.segments.last().map_or(LogIndex(1), |s| s.first_index);
        let touches = match record {
            Record::Entries(entries) => entries.first().map(|e| e.index),
            Record::HardState(_) => None,
            Record::Snapshot(snapshot) => return self.take_snapshot(snapshot),
        };
        let full = self.active_bytes + self.pending.len() as u64 >= self.options.segment_bytes_max;
        let reaches_back = touches.is_some_and(|i| i < active_first);
        if full || reaches_back {
            self.roll(touches.unwrap_or(self.last_index.next()))?;
        }
        self.encode(record)?;
        match record {
            Record::HardState(hs) => self.hard_state = *hs,
            Record::Entries(entries) => {
                if let Some(last) = entries.last() {
                    self.last_index = last.index;
                }
            }
            Record::Snapshot(_) => {}
        }
        Ok(())
    }

    /// Buffer one record for the active segment, noting where its entries will lie.
    fn encode(&mut self, record: &Record) -> io::Result<()> {
        let offset = self.active_bytes + self.pending.len() as u64;
        encode_record(record, self.options.max_record_bytes, &mut self.pending)?;
        if let (Some(_), Record::Entries(entries), Some(segment)) =
            (&self.index, record, self.segments.last())
        {
            self.unpublished
                .extend(entries.iter().enumerate().map(|(position, e)| Located {
                    index: e.index,
                    term: e.term,
                    sequence: segment.sequence,
                    offset,
                    position,
                }));
        }
        Ok(())
    }

    /// The index of the current snapshot (0 without one).
    pub fn snapshot_index(&self) -> LogIndex {
        self.snapshot.as_ref().map_or(LogIndex(0), |s| s.index)
    }

    /// Persist a snapshot the node folded into its [`DiskStorage`]; see "Snapshots" in
    /// the [module docs](self). Each step is durable before the next starts, and a
    /// crash between any two leaves a directory `open` recovers (the old snapshot and
    /// segments until the marker is durable, the new ones after).
    fn take_snapshot(&mut self, snapshot: &Snapshot) -> io::Result<()> {
        if self.index.is_none() {
            // The rewrite of the entries after the snapshot reads them from the
            // shared index; a log opened with `open` has none.
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "snapshots need a log opened with open_indexed",
            ));
        }
        if snapshot.meta.index <= self.snapshot_index() {
            return Ok(()); // older than the one held: the storage ignored it too
        }
        let result = self.snapshot_steps(snapshot);
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    fn snapshot_steps(&mut self, snapshot: &Snapshot) -> io::Result<()> {
        let file = self.snapshot_write(snapshot)?;
        self.snapshot_mark(&file, snapshot)?;
        self.snapshot_compact(file)
    }

    /// Steps 1 and 2: earlier records durable, then the snapshot file written under
    /// a temporary name, synced, renamed and the directory synced.
    fn snapshot_write(&mut self, snapshot: &Snapshot) -> io::Result<SnapshotFile> {
        self.flush()?;
        let sequence = self.segments.last().map_or(0, |s| s.sequence + 1);
        let file = SnapshotFile::new(&self.dir, sequence, snapshot.meta.index, snapshot.meta.term);
        let temp = file.write_temp(snapshot)?;
        file.publish(&temp)?;
        Ok(file)
    }

    /// Step 3: a new segment holding the hard state, the entries after the snapshot
    /// (rewritten from the index), and the marker naming the snapshot — written and
    /// synced together. From here on the snapshot is the log's base.
    fn snapshot_mark(&mut self, file: &SnapshotFile, snapshot: &Snapshot) -> io::Result<()> {
        let Some(shared) = self.index.clone() else {
            return Err(io::Error::other("no index"));
        };
        let (base, suffix) = disk::suffix(&shared).map_err(io::Error::other)?;
        if base != snapshot.meta.index {
            return Err(io::Error::other(format!(
                "the storage is compacted through {base}, not through the snapshot's {}",
                snapshot.meta.index
            )));
        }
        self.roll(snapshot.meta.index.next())?;
        debug_assert_eq!(
            self.segments.last().map(|s| s.sequence),
            Some(file.sequence)
        );
        self.last_index = suffix.last().map_or(base, |e| e.index);
        // In records under the size limit, as the node's own appends were.
        let budget = u64::from(self.options.max_record_bytes / 2).max(1);
        let mut chunk: Vec<Entry> = Vec::new();
        let mut chunk_bytes = 0u64;
        for entry in suffix {
            let size = entry.size_bytes();
            if !chunk.is_empty() && chunk_bytes + size > budget {
                self.encode(&Record::Entries(std::mem::take(&mut chunk)))?;
                chunk_bytes = 0;
            }
            chunk_bytes += size;
            chunk.push(entry);
        }
        if !chunk.is_empty() {
            self.encode(&Record::Entries(chunk))?;
        }
        self.encode(&Record::Snapshot(Snapshot {
            meta: snapshot.meta.clone(),
            data: bytes::Bytes::new(),
        }))?;
        self.flush()
    }

    /// Step 4: the segments before the marker's and the previous snapshot file are
    /// redundant; delete them and sync the directory.
    fn snapshot_compact(&mut self, file: SnapshotFile) -> io::Result<()> {
        let keep_from = self
            .segments
            .iter()
            .position(|s| s.sequence == file.sequence)
            .unwrap_or(0);
        for segment in self.segments.drain(..keep_from) {
            remove_if_present(&segment.path)?;
            if let Some(index) = &self.index {
                disk::forget_segment(index, segment.sequence);
            }
        }
        if let Some(old) = self.snapshot.replace(file) {
            remove_if_present(&old.path)?;
        }
        sync_dir(&self.dir)
    }
}

#[async_trait::async_trait]
impl Storage<Record> for SegmentedLog {
    async fn append(&mut self, data: Record) -> Result<(), StorageError> {
        Ok(self.append_record(&data)?)
    }

    async fn sync(&mut self) -> Result<(), StorageError> {
        self.check_usable()?;
        Ok(self.flush()?)
    }
}

impl Segment {
    fn new(dir: &Path, sequence: u64, first_index: LogIndex) -> Self {
        Segment {
            sequence,
            first_index,
            path: dir.join(format!("seg-{sequence:010}-{:020}.log", first_index.0)),
        }
    }

    /// Parse a segment file name; `None` for files that are not segments.
    fn parse(dir: &Path, name: &str) -> Option<Self> {
        let stem = name.strip_prefix("seg-")?.strip_suffix(".log")?;
        let (sequence, first) = stem.split_once('-')?;
        let segment = Segment::new(dir, sequence.parse().ok()?, LogIndex(first.parse().ok()?));
        // Only the canonical spelling counts, so one segment cannot appear twice.
        (segment.path.file_name()?.to_str()? == name).then_some(segment)
    }
}

fn list_segments(dir: &Path) -> io::Result<Vec<Segment>> {
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(segment) = entry
            .file_name()
            .to_str()
            .and_then(|n| Segment::parse(dir, n))
        {
            segments.push(segment);
        }
    }
    segments.sort_by_key(|s| s.sequence);
    if let Some(w) = segments.windows(2).find(|w| w[0].sequence == w[1].sequence) {
        return Err(invalid(format!("two segments numbered {}", w[0].sequence)));
    }
    Ok(segments)
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Pick the snapshot to restore: the newest file whose marker is durable in the
/// segment it names. Finishes what a crash interrupted: a file without its marker
/// (the crash came before step 3) is deleted, and so are older snapshot files and
/// the segments before the chosen marker's (a crash during step 4). Removes deleted
/// segments from `segments`.
fn choose_snapshot(
    dir: &Path,
    segments: &mut Vec<Segment>,
    options: RaftLogOptions,
) -> io::Result<Option<(SnapshotFile, Snapshot)>> {
    let mut chosen: Option<(SnapshotFile, Snapshot)> = None;
    let mut changed = false;
    for file in snapshot_file::list(dir)?.into_iter().rev() {
        if chosen.is_some() {
            remove_if_present(&file.path)?;
            changed = true;
            continue;
        }
        let marked = match segments.iter().find(|s| s.sequence == file.sequence) {
            Some(segment) => has_marker(segment, &file, options)?,
            None => false,
        };
        if !marked {
            // Step 3 was cut short. Its segment, if created, holds only the hard
            // state and copies of entries the earlier segments still hold; replaying
            // a torn prefix of those copies would truncate the log after them (an
            // `Entries` record replaces the tail), so the segment goes with the file.
            if let Some(position) = segments.iter().position(|s| s.sequence == file.sequence) {
                if position + 1 != segments.len() {
                    return Err(invalid(format!(
                        "{} has no marker but later segments exist",
                        segments[position].path.display()
                    )));
                }
                let segment = segments.remove(position);
                remove_if_present(&segment.path)?;
            }
            remove_if_present(&file.path)?;
            changed = true;
            continue;
        }
        let Some(snapshot) = file.read()? else {
            // Synced before its marker was written: damage to acknowledged state.
            return Err(invalid(format!(
                "{} is damaged but its marker is durable",
                file.path.display()
            )));
        };
        chosen = Some((file, snapshot));
    }
    if let Some((file, _)) = &chosen {
        let keep_from = segments
            .iter()
            .position(|s| s.sequence >= file.sequence)
            .unwrap_or(segments.len());
        for segment in segments.drain(..keep_from) {
            remove_if_present(&segment.path)?;
            changed = true;
        }
    }
    if changed {
        sync_dir(dir)?;
    }
    Ok(chosen)
}

/// Whether `segment` holds the marker of the snapshot in `file`.
fn has_marker(segment: &Segment, file: &SnapshotFile, options: RaftLogOptions) -> io::Result<bool> {
    let mut handle = File::open(&segment.path)?;
    let len = handle.metadata()?.len();
    let Scanned { records, .. } = scan::<Record>(&mut handle, len, options.max_record_bytes)?;
    Ok(records.iter().any(|(_, record)| {
        matches!(record, Record::Snapshot(m) if m.meta.index == file.index && m.meta.term == file.term)
    }))
}

fn create_segment_file(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)?;
    // The new directory entry must be durable before anything in it is acknowledged.
    crate::framing::sync_parent_dir(path)?;
    Ok(file)
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use futures::executor::block_on;
    use proptest::prelude::*;
    use synod_core::NodeId;
    use synod_raft::{Entry, EntryKind, LogStorage, Term};

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index: LogIndex(index),
            term: Term(term),
            kind: EntryKind::Command,
            data: Bytes::from(format!("cmd {index}@{term}")),
        }
    }

    fn entries(first: u64, last: u64, term: u64) -> Record {
        Record::Entries((first..=last).map(|i| entry(i, term)).collect())
    }

    fn vote(term: u64, for_node: u64) -> Record {
        Record::HardState(HardState {
            term: Term(term),
            voted_for: Some(NodeId(for_node)),
        })
    }

    fn small() -> RaftLogOptions {
        RaftLogOptions {
            segment_bytes_max: 200,
            max_record_bytes: 1 << 16,
            memory_bytes_max: 1 << 20,
        }
    }

    fn write(log: &mut SegmentedLog, records: &[Record]) {
        block_on(async {
            for record in records {
                log.append(record.clone()).await.expect("append");
            }
            log.sync().await.expect("sync");
        });
    }

    fn state_after(records: &[Record]) -> MemStorage {
        MemStorage::from_records(records).expect("valid records")
    }

    /// Copy every file of `from` into a fresh directory under `root`.
    fn copy_dir(from: &Path, root: &Path, name: &str) -> PathBuf {
        let to = root.join(name);
        std::fs::create_dir_all(&to).expect("mkdir");
        for file in std::fs::read_dir(from).expect("read dir") {
            let file = file.expect("entry");
            std::fs::copy(file.path(), to.join(file.file_name())).expect("copy");
        }
        to
    }

    /// The records of the scenario the crash tests use: a vote, a run of entries
    /// (rolling segments), a conflict truncation, and a later vote.
    fn history() -> Vec<Record> {
        vec![
            vote(1, 1),
            entries(1, 4, 1),
            entries(5, 9, 1),
            vote(2, 2),
            entries(7, 8, 2), // replaces 7..=9
            entries(9, 11, 2),
            vote(3, 3),
            entries(10, 12, 3),
        ]
    }

    #[test]
    fn synced_records_replay_to_the_same_state_across_segments() {
        // Checks the round trip: after appending and syncing a history that rolls
        // several segments, reopening rebuilds exactly the state the records fold to,
        // and every segment's name carries the lowest index its records touch.
        let dir = tempfile::tempdir().expect("temp dir");
        let mut log = SegmentedLog::open(dir.path(), small()).expect("open").log;
        write(&mut log, &history());
        assert!(log.segments().len() >= 3, "{:?}", log.segments());
        drop(log);
        let recovered = SegmentedLog::open(dir.path(), small()).expect("reopen");
        assert_eq!(recovered.storage, state_after(&history()));
        assert_eq!(recovered.truncated_bytes, 0);
        for segment in recovered.log.segments() {
            let file = &mut File::open(&segment.path).expect("open segment");
            let bytes = file.metadata().expect("stat").len();
            let found = scan::<Record>(file, bytes, 1 << 16).expect("scan").records;
            assert!(
                matches!(found.first(), Some((0, Record::HardState(_))) | None),
                "segment must open with the hard state"
            );
            for (_, record) in found {
                if let Record::Entries(e) = record {
                    assert!(e[0].index >= segment.first_index);
                }
            }
        }
    }

    #[test]
    fn unsynced_records_are_lost_in_a_crash_and_synced_ones_are_not() {
        // Checks the durability boundary: records appended after the last sync are
        // gone after a "crash" (drop without sync); everything synced is back.
        let dir = tempfile::tempdir().expect("temp dir");
        let mut log = SegmentedLog::open(dir.path(), small()).expect("open").log;
        let all = history();
        write(&mut log, &all[..5]);
        block_on(log.append(all[5].clone())).expect("append");
        drop(log);
        let recovered = SegmentedLog::open(dir.path(), small()).expect("reopen");
        assert_eq!(recovered.storage, state_after(&all[..5]));
    }

    #[test]
    fn a_restart_after_a_conflict_truncation_sees_the_truncated_log() {
        // Checks that the follower's truncation of a conflicting tail (Raft §5.3) is
        // durable: entries 1..=20 of term 1, then a term-2 entry at 5 replacing 5..=20,
        // reopen to a log ending at 5 in term 2 — including when the truncation
        // reaches back before the active segment (which starts a new segment).
        let dir = tempfile::tempdir().expect("temp dir");
        let mut log = SegmentedLog::open(dir.path(), small()).expect("open").log;
        let mut records = vec![vote(1, 1)];
        records.extend((1..=20).map(|i| entries(i, i, 1)));
        write(&mut log, &records);
        let before = log.segments().len();
        assert!(log.segments().last().expect("active").first_index > LogIndex(5));
        write(&mut log, &[vote(2, 2), entries(5, 5, 2)]);
        assert_eq!(log.segments().len(), before + 1);
        assert_eq!(
            log.segments().last().expect("active").first_index,
            LogIndex(5)
        );
        drop(log);
        let recovered = SegmentedLog::open(dir.path(), small()).expect("reopen");
        let storage = recovered.storage;
        assert_eq!(storage.last_index(), LogIndex(5));
        assert_eq!(storage.term(LogIndex(5)), Ok(Term(2)));
        assert_eq!(storage.term(LogIndex(4)), Ok(Term(1)));
        assert_eq!(storage.hard_state().term, Term(2));
        // And appends continue after the truncated tail.
        let mut log = recovered.log;
        write(&mut log, &[entries(6, 6, 2)]);
        drop(log);
        let again = SegmentedLog::open(dir.path(), small()).expect("reopen");
        assert_eq!(again.storage.last_index(), LogIndex(6));
    }

    /// Run `damage` on a copy of the directory as it was after the last sync, for a
    /// write of `tail` records on top of `acked` that was torn or corrupted; check that
    /// recovery gives the state of some prefix holding every acknowledged record, and
    /// that the recovered log accepts a new record.
    fn check_recovery(
        root: &Path,
        name: &str,
        acked: &[Record],
        all: &[Record],
        damage: impl FnOnce(&Path),
    ) {
        let dir = root.join(name);
        damage(&dir);
        let recovered = SegmentedLog::open(&dir, small()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let k = (acked.len()..=all.len())
            .find(|&k| state_after(&all[..k]) == recovered.storage)
            .unwrap_or_else(|| panic!("{name}: not a prefix holding every synced record"));
        let mut log = recovered.log;
        write(&mut log, &[vote(9, 1)]);
        drop(log);
        let mut expected = all[..k].to_vec();
        expected.push(vote(9, 1));
        let again = SegmentedLog::open(&dir, small()).expect("reopen after repair");
        assert_eq!(again.storage, state_after(&expected), "{name}");
    }

    #[test]
    fn a_write_torn_or_corrupted_at_any_byte_recovers_every_synced_record() {
        // Checks crash safety at every point of a write: the last sync's bytes (which
        // span a segment roll) are cut at every offset, and separately every byte of
        // them is flipped; recovery always yields a prefix of the records that holds
        // everything synced before that write, and the log stays usable.
        let scratch = tempfile::tempdir().expect("temp dir");
        let root = scratch.path();
        let all = history();
        let acked = &all[..4];
        let base = root.join("base");
        let mut log = SegmentedLog::open(&base, small()).expect("open").log;
        write(&mut log, acked);
        let before: Vec<(PathBuf, u64)> = log
            .segments()
            .iter()
            .map(|s| {
                (
                    s.path.clone(),
                    std::fs::metadata(&s.path).expect("stat").len(),
                )
            })
            .collect();
        write(&mut log, &all[4..]);
        // The tail of the write: every byte added to an existing segment or in a new
        // one, as (file name, byte offset).
        let mut tail = Vec::new();
        for segment in log.segments() {
            let len = std::fs::metadata(&segment.path).expect("stat").len();
            let old = before
                .iter()
                .find(|(p, _)| *p == segment.path)
                .map_or(0, |(_, l)| *l);
            let name = segment.path.file_name().expect("name").to_owned();
            tail.extend((old..len).map(|at| (name.clone(), at, len)));
        }
        drop(log);
        assert!(tail.len() > 100, "the write is {} bytes", tail.len());
        let mut cases = 0;
        for (i, (name, at, len)) in tail.iter().enumerate() {
            // A crash can stop the write anywhere: later files are then shorter or
            // absent too, so cut this file at `at` and drop every later segment.
            let torn = copy_dir(&base, root, &format!("torn-{i}"));
            check_recovery(root, &format!("torn-{i}"), acked, &all, |dir| {
                let path = dir.join(name);
                let file = OpenOptions::new().write(true).open(&path).expect("open");
                file.set_len(*at).expect("cut");
                for later in list_segments(dir).expect("list") {
                    if later.path.file_name() > path.file_name() {
                        std::fs::remove_file(&later.path).expect("remove");
                    }
                }
            });
            std::fs::remove_dir_all(torn).expect("clean");
            for flip in [0x01u8, 0xFF] {
                let label = format!("flip-{i}-{flip}");
                let flipped = copy_dir(&base, root, &label);
                check_recovery(root, &label, acked, &all, |dir| {
                    let path = dir.join(name);
                    let mut bytes = std::fs::read(&path).expect("read");
                    bytes[*at as usize] ^= flip;
                    std::fs::write(&path, &bytes).expect("write");
                    // Damage in a segment that later ones follow is only a torn
                    // tail if the later ones were never written.
                    for later in list_segments(dir).expect("list") {
                        if later.path.file_name() > path.file_name() {
                            std::fs::remove_file(&later.path).expect("remove");
                        }
                    }
                });
                std::fs::remove_dir_all(flipped).expect("clean");
            }
            assert!(*at < *len);
            cases += 1;
        }
        assert_eq!(cases, tail.len());
    }

    #[test]
    fn the_prefix_check_catches_a_log_that_acknowledges_before_writing() {
        // Checks the checker: a broken log whose `sync` returns without writing (it
        // acknowledges records that are not durable) fails the "recovered prefix holds
        // every synced record" criterion the crash tests use.
        struct AcksEarly(SegmentedLog);
        #[async_trait::async_trait]
        impl Storage<Record> for AcksEarly {
            async fn append(&mut self, data: Record) -> Result<(), StorageError> {
                self.0.append(data).await
            }
            async fn sync(&mut self) -> Result<(), StorageError> {
                Ok(()) // the bug: nothing is written
            }
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let all = history();
        let mut broken = AcksEarly(
            SegmentedLog::open(dir.path(), RaftLogOptions::default())
                .expect("open")
                .log,
        );
        block_on(async {
            for record in &all {
                broken.append(record.clone()).await.expect("append");
            }
            broken.sync().await.expect("sync");
        });
        drop(broken);
        let recovered = SegmentedLog::open(dir.path(), RaftLogOptions::default()).expect("reopen");
        let holds_synced =
            (all.len()..=all.len()).any(|k| state_after(&all[..k]) == recovered.storage);
        assert!(!holds_synced, "the check must reject the broken log");
    }

    #[test]
    fn damage_before_the_last_segment_is_refused_not_truncated() {
        // Checks that corruption of acknowledged data (a flipped byte in a segment
        // that later segments follow) stops `open` with InvalidData instead of
        // silently cutting off everything after it.
        let dir = tempfile::tempdir().expect("temp dir");
        let mut log = SegmentedLog::open(dir.path(), small()).expect("open").log;
        write(&mut log, &history());
        let first = log.segments()[0].path.clone();
        drop(log);
        let mut bytes = std::fs::read(&first).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        std::fs::write(&first, &bytes).expect("write");
        let error = SegmentedLog::open(dir.path(), small()).expect_err("must refuse");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn segments_covered_by_a_snapshot_are_a_prefix_and_never_the_active_one() {
        // Checks the compaction rule on a log with a truncation reaching back: a
        // segment is redundant only once the snapshot covers everything below the
        // first index of every later segment.
        let dir = tempfile::tempdir().expect("temp dir");
        let mut log = SegmentedLog::open(dir.path(), small()).expect("open").log;
        let mut records = vec![vote(1, 1)];
        records.extend((1..=12).map(|i| entries(i, i, 1)));
        records.push(entries(3, 3, 2)); // reaches back: a new segment starting at 3
        write(&mut log, &records);
        let firsts: Vec<u64> = log.segments().iter().map(|s| s.first_index.0).collect();
        assert_eq!(*firsts.last().expect("active"), 3);
        // Below index 2 nothing is redundant: the last segment starts at 3.
        assert_eq!(log.segments_covered_by(LogIndex(1)), 0);
        assert_eq!(log.segments_covered_by(LogIndex(2)), firsts.len() - 1);
        assert_eq!(log.segments_covered_by(LogIndex(1_000)), firsts.len() - 1);
    }

    /// Whether `disk` holds the same hard state, terms and entries as `memory`.
    fn same_log(disk: &DiskStorage, memory: &MemStorage) -> bool {
        let (first, last) = (memory.first_index(), memory.last_index());
        if LogStorage::last_index(disk) != last
            || LogStorage::first_index(disk) != first
            || LogStorage::hard_state(disk) != memory.hard_state()
            || disk.snapshot_meta() != memory.snapshot_meta()
            || disk.snapshot_data().ok() != memory.snapshot_data().ok()
        {
            return false;
        }
        if last < first {
            return disk.term(last) == memory.term(last);
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let read_a = disk.entries(first, last, u64::MAX, &mut a);
        let read_b = memory.entries(first, last, u64::MAX, &mut b);
        read_a.is_ok()
            && read_b.is_ok()
            && a == b
            && (first.0 - 1..=last.0).all(|i| disk.term(LogIndex(i)) == memory.term(LogIndex(i)))
    }

    #[test]
    fn disk_storage_serves_old_entries_from_the_segments_in_bounded_batches() {
        // Checks the read path the node uses for lagging followers and for applying:
        // with no memory budget every written entry is read back from the files, a
        // byte bound cuts a read short (but never below one entry), and an entry
        // whose bytes were damaged on disk is a storage error, not a wrong entry.
        let dir = tempfile::tempdir().expect("temp dir");
        let options = RaftLogOptions {
            memory_bytes_max: 0,
            ..small()
        };
        let (mut log, storage, _) = write_history(dir.path(), options);
        block_on(log.sync()).expect("sync");
        assert_eq!(storage.memory_bytes(), 0);
        assert!(same_log(&storage, &state_after(&history())));
        let mut some = Vec::new();
        storage
            .entries(LogIndex(1), LogIndex(12), 62, &mut some)
            .expect("read");
        assert_eq!(some.len(), 2, "two 31-byte entries fill a 62-byte budget");
        let mut one = Vec::new();
        storage
            .entries(LogIndex(3), LogIndex(12), 1, &mut one)
            .expect("read");
        assert_eq!(one.len(), 1);
        // Damage the payload of the record holding entry 1 (in the first segment).
        let first = log.segments()[0].path.clone();
        let mut bytes = std::fs::read(&first).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 0x20;
        std::fs::write(&first, &bytes).expect("write");
        let mut out = Vec::new();
        let damaged = (1..=12).any(|i| {
            out.clear();
            storage
                .entries(LogIndex(i), LogIndex(i), u64::MAX, &mut out)
                .is_err()
        });
        assert!(
            damaged,
            "a damaged record must fail its checksum when read back"
        );
    }

    /// How far [`take_snapshot`](SegmentedLog::take_snapshot) got before the crash.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
    enum SnapshotStage {
        Nothing,
        TempWritten,
        Renamed,
        MarkerTorn,
        Marked,
        Compacted,
    }

    /// A log opened in `dir` with `history()` appended (not yet synced), the storage
    /// that indexes it, and the in-memory model of the same records.
    fn write_history(
        dir: &Path,
        options: RaftLogOptions,
    ) -> (SegmentedLog, DiskStorage, MemStorage) {
        let RecoveredIndexed {
            mut log,
            mut storage,
            ..
        } = SegmentedLog::open_indexed(dir, options).expect("open");
        let mut model = MemStorage::new();
        for record in history() {
            model.apply(&record).expect("model");
            storage.apply(&record).expect("apply");
            block_on(log.append(record)).expect("append");
        }
        (log, storage, model)
    }

    fn snapshot_at(model: &MemStorage, index: u64) -> Snapshot {
        Snapshot {
            meta: synod_raft::SnapshotMeta {
                index: LogIndex(index),
                term: model.term(LogIndex(index)).expect("term"),
                ..Default::default()
            },
            data: Bytes::from(format!("state through {index}")),
        }
    }

    /// Whether `disk` holds what `model` holds from `disk`'s first index on.
    fn same_suffix(disk: &DiskStorage, model: &MemStorage) -> bool {
        let (first, last) = (LogStorage::first_index(disk), LogStorage::last_index(disk));
        if last != model.last_index() || LogStorage::hard_state(disk) != model.hard_state() {
            return false;
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        (first > last
            || disk.entries(first, last, u64::MAX, &mut a).is_ok()
                && model.entries(first, last, u64::MAX, &mut b).is_ok()
                && a == b)
            && (first.0 - 1..=last.0).all(|i| disk.term(LogIndex(i)) == model.term(LogIndex(i)))
    }

    #[test]
    fn a_crash_at_every_step_of_taking_a_snapshot_recovers_a_consistent_log() {
        // Checks snapshot durability (Raft §7 with the log's own ordering): the log is
        // dropped without cleanup after each step of taking a snapshot — temp file
        // written, renamed, marker segment torn, marker durable, old files deleted —
        // and reopening always yields the same log after its first index, with the
        // snapshot restored exactly when its marker was durable; the reopened log then
        // takes appends and a second snapshot and still recovers.
        let stages = [
            SnapshotStage::Nothing,
            SnapshotStage::TempWritten,
            SnapshotStage::Renamed,
            SnapshotStage::MarkerTorn,
            SnapshotStage::Marked,
            SnapshotStage::Compacted,
        ];
        for stage in stages {
            let dir = tempfile::tempdir().expect("temp dir");
            let options = RaftLogOptions {
                memory_bytes_max: 0,
                ..small()
            };
            let (mut log, mut storage, mut model) = write_history(dir.path(), options);
            block_on(log.sync()).expect("sync");
            let segments_before = log.segments().len();
            assert!(segments_before > 2, "the history spans several segments");
            let snapshot = snapshot_at(&model, 8);
            storage
                .apply(&Record::Snapshot(snapshot.clone()))
                .expect("fold");
            if stage == SnapshotStage::TempWritten {
                let sequence = log.segments().last().expect("a segment").sequence + 1;
                SnapshotFile::new(dir.path(), sequence, LogIndex(8), snapshot.meta.term)
                    .write_temp(&snapshot)
                    .expect("temp");
            }
            if stage >= SnapshotStage::Renamed {
                let file = log.snapshot_write(&snapshot).expect("write");
                if stage >= SnapshotStage::MarkerTorn {
                    log.snapshot_mark(&file, &snapshot).expect("mark");
                }
                if stage == SnapshotStage::MarkerTorn {
                    // The marker's write was cut short: lose its last bytes.
                    let path = log.segments().last().expect("marker segment").path.clone();
                    let len = std::fs::metadata(&path).expect("stat").len();
                    let file = OpenOptions::new().write(true).open(&path).expect("open");
                    file.set_len(len - 3).expect("cut");
                }
                if stage >= SnapshotStage::Compacted {
                    log.snapshot_compact(file).expect("compact");
                }
            }
            drop((log, storage));
            let marked = stage >= SnapshotStage::Marked;
            let recovered = SegmentedLog::open_indexed(dir.path(), options).expect("reopen");
            let mut storage = recovered.storage;
            let mut log = recovered.log;
            assert!(same_suffix(&storage, &model), "{stage:?}: the log differs");
            let expected_first = if marked { 9 } else { 1 };
            assert_eq!(storage.first_index(), LogIndex(expected_first), "{stage:?}");
            assert_eq!(
                storage.snapshot_meta(),
                marked.then(|| snapshot.meta.clone()),
                "{stage:?}"
            );
            if marked {
                assert_eq!(storage.snapshot_data(), Ok(snapshot.data.clone()));
                assert_eq!(log.segments().len(), 1, "{stage:?}: old segments left");
            }
            let names: Vec<String> = std::fs::read_dir(dir.path())
                .expect("list")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            let snapshot_files = names.iter().filter(|n| n.starts_with("snapshot-")).count();
            assert_eq!(snapshot_files, usize::from(marked), "{stage:?}: {names:?}");
            // The recovered log goes on: more entries, a second snapshot, a reopen.
            for record in [entries(13, 15, 3), vote(4, 1), entries(16, 16, 4)] {
                model.apply(&record).expect("model");
                storage.apply(&record).expect("apply");
                block_on(log.append(record)).expect("append");
            }
            let second = snapshot_at(&model, 14);
            model
                .apply(&Record::Snapshot(second.clone()))
                .expect("model");
            storage
                .apply(&Record::Snapshot(second.clone()))
                .expect("fold");
            block_on(log.append(Record::Snapshot(second.clone()))).expect("snapshot");
            block_on(log.sync()).expect("sync");
            drop((log, storage));
            let again = SegmentedLog::open_indexed(dir.path(), options).expect("reopen");
            assert!(same_suffix(&again.storage, &model), "{stage:?}: after more");
            assert_eq!(again.storage.first_index(), LogIndex(15));
            assert_eq!(again.storage.snapshot_meta(), Some(second.meta.clone()));
            assert_eq!(again.log.segments().len(), 1);
        }
    }

    #[test]
    fn entries_kept_after_a_snapshot_are_rewritten_in_records_under_the_limit() {
        // Checks the rewrite in step 3 respects max_record_bytes: with a 128-byte
        // record limit the eight entries kept after a snapshot at 4 are split into
        // several records, and the log reopens to the same entries.
        let dir = tempfile::tempdir().expect("temp dir");
        let options = RaftLogOptions {
            max_record_bytes: 128,
            ..small()
        };
        let (mut log, mut storage, mut model) = write_history(dir.path(), options);
        let snapshot = Record::Snapshot(snapshot_at(&model, 4));
        model.apply(&snapshot).expect("model");
        storage.apply(&snapshot).expect("fold");
        block_on(log.append(snapshot)).expect("snapshot");
        drop((log, storage));
        let recovered = SegmentedLog::open_indexed(dir.path(), options).expect("reopen");
        assert!(same_suffix(&recovered.storage, &model));
        assert_eq!(recovered.storage.first_index(), LogIndex(5));
        // Header, at least two entry records, marker.
        assert!(recovered.records >= 4, "{} records", recovered.records);
    }

    #[test]
    fn a_crash_after_part_of_the_rewritten_suffix_loses_no_entry() {
        // Checks the claim that a torn step 3 never loses an entry (Raft §7, the
        // log's own ordering): when the rewritten entries span several records and
        // the crash keeps only the first of them (no marker), the reopened log still
        // holds every synced entry after the snapshot index, not just the first record's.
        let dir = tempfile::tempdir().expect("temp dir");
        let options = RaftLogOptions {
            max_record_bytes: 128,
            memory_bytes_max: 0,
            ..small()
        };
        let (mut log, mut storage, model) = write_history(dir.path(), options);
        block_on(log.sync()).expect("sync");
        let snapshot = snapshot_at(&model, 4);
        storage
            .apply(&Record::Snapshot(snapshot.clone()))
            .expect("fold");
        let file = log.snapshot_write(&snapshot).expect("write");
        log.snapshot_mark(&file, &snapshot).expect("mark");
        let path = log.segments().last().expect("marker segment").path.clone();
        drop((log, storage));
        // Keep the header and the first entries record: the page cache wrote them,
        // the rest of the same write never reached the disk.
        let mut handle = File::open(&path).expect("open");
        let len = handle.metadata().expect("stat").len();
        let scanned = scan::<Record>(&mut handle, len, options.max_record_bytes).expect("scan");
        let entry_records = scanned
            .records
            .iter()
            .filter(|(_, r)| matches!(r, Record::Entries(_)))
            .count();
        assert!(entry_records >= 2, "the suffix spans several records");
        let cut = scanned.records[2].0;
        OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open")
            .set_len(cut)
            .expect("cut");
        let recovered = SegmentedLog::open_indexed(dir.path(), options).expect("reopen");
        assert_eq!(recovered.storage.snapshot_meta(), None);
        assert!(
            same_suffix(&recovered.storage, &model),
            "entries lost: the log ends at {} instead of {}",
            LogStorage::last_index(&recovered.storage),
            model.last_index()
        );
    }

    #[test]
    fn a_whole_record_over_a_lowered_limit_is_refused_not_cut_off_as_a_torn_tail() {
        // Checks recovery tells a torn tail from a record that is whole but larger
        // than the limit it is reopened with (an operator lowered max_record_bytes):
        // the latter is acknowledged data, so open refuses, and the files keep every
        // byte for a reopen with the old limit.
        let dir = tempfile::tempdir().expect("temp dir");
        // One segment, so the big records are in the last one (where a torn tail
        // may be cut).
        let options = RaftLogOptions {
            segment_bytes_max: 1 << 20,
            ..small()
        };
        let mut log = SegmentedLog::open(dir.path(), options).expect("open").log;
        let history = history();
        write(&mut log, &history);
        assert_eq!(log.segments().len(), 1);
        drop(log);
        let sizes = |dir: &Path| -> Vec<u64> {
            let mut sizes: Vec<(String, u64)> = std::fs::read_dir(dir)
                .expect("list")
                .map(|e| {
                    let e = e.expect("entry");
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        e.metadata().expect("stat").len(),
                    )
                })
                .collect();
            sizes.sort();
            sizes.into_iter().map(|(_, len)| len).collect()
        };
        let before = sizes(dir.path());
        let lowered = RaftLogOptions {
            max_record_bytes: 40,
            ..options
        };
        let reopened = SegmentedLog::open(dir.path(), lowered);
        assert!(
            matches!(&reopened, Err(e) if e.kind() == io::ErrorKind::InvalidData),
            "not refused: {:?}",
            reopened.map(|r| (r.records, r.truncated_bytes))
        );
        assert_eq!(sizes(dir.path()), before, "a file was cut");
        let again = SegmentedLog::open(dir.path(), options).expect("reopen");
        assert_eq!(again.storage, state_after(&history));
    }

    #[test]
    fn a_follower_snapshot_that_conflicts_with_its_log_discards_the_log() {
        // Checks the Record::Snapshot rule for an installed snapshot (Raft §7): when
        // the log holds a different term at the snapshot's index, every entry goes,
        // durably — the reopened log is empty after the snapshot.
        let dir = tempfile::tempdir().expect("temp dir");
        let RecoveredIndexed {
            mut log,
            mut storage,
            ..
        } = SegmentedLog::open_indexed(dir.path(), small()).expect("open");
        for record in history() {
            storage.apply(&record).expect("apply");
            block_on(log.append(record)).expect("append");
        }
        let installed = Snapshot {
            meta: synod_raft::SnapshotMeta {
                index: LogIndex(10),
                term: Term(7), // the log has term 3 there
                ..Default::default()
            },
            data: Bytes::from_static(b"leader state"),
        };
        let record = Record::Snapshot(installed.clone());
        storage.apply(&record).expect("fold");
        block_on(log.append(record)).expect("snapshot");
        drop((log, storage));
        let recovered = SegmentedLog::open_indexed(dir.path(), small()).expect("reopen");
        assert_eq!(recovered.storage.first_index(), LogIndex(11));
        assert_eq!(recovered.storage.last_index(), LogIndex(10));
        assert_eq!(recovered.storage.term(LogIndex(10)), Ok(Term(7)));
        assert_eq!(recovered.storage.snapshot_data(), Ok(installed.data));
    }

    #[test]
    fn a_log_opened_without_an_index_refuses_a_snapshot_before_writing() {
        // Checks the typed refusal: `open` (MemStorage replay) cannot rewrite the
        // entries after a snapshot, so it refuses the record and writes nothing.
        let dir = tempfile::tempdir().expect("temp dir");
        let mut log = SegmentedLog::open(dir.path(), small()).expect("open").log;
        let error = block_on(log.append(Record::Snapshot(Snapshot::default())));
        assert!(error.is_err());
    }

    #[derive(Clone, Debug)]
    enum Op {
        /// Entries from `back` positions before the end (0 = a plain append).
        Append {
            back: u64,
            count: u64,
            term: u64,
        },
        Vote {
            term: u64,
        },
        Sync,
        /// Drop the log without syncing and reopen it.
        Crash,
        /// A snapshot `back` entries before the end; with `conflict`, one whose term
        /// differs from the log's there (a leader's, installed).
        Snapshot {
            back: u64,
            conflict: bool,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u64..4, 1u64..4, 1u64..5).prop_map(|(back, count, term)| Op::Append { back, count, term }),
            1 => (1u64..5).prop_map(|term| Op::Vote { term }),
            3 => Just(Op::Sync),
            1 => Just(Op::Crash),
            1 => (0u64..3, proptest::bool::weighted(0.3)).prop_map(|(back, conflict)| Op::Snapshot { back, conflict }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(synod_sim::proptest_cases(32)))]

        #[test]
        fn disk_storage_reads_back_what_a_memory_log_holds(ops in proptest::collection::vec(op(), 1..40), memory in prop_oneof![Just(0u64), Just(64u64), Just(1u64 << 20)]) {
            // Checks the disk-reading LogStorage against MemStorage fed the same
            // records the way a node feeds it (apply, then the driver appends and
            // syncs): every entry and term, the first index and the snapshot read the
            // same after every step and after every crash and reopen, whatever its
            // memory budget — across snapshots (matching and conflicting, Raft §7)
            // that delete segments.
            let dir = tempfile::tempdir().expect("temp dir");
            let options = RaftLogOptions { memory_bytes_max: memory, ..small() };
            let RecoveredIndexed { mut log, mut storage, .. } =
                SegmentedLog::open_indexed(dir.path(), options).expect("open");
            let mut synced: Vec<Record> = Vec::new();
            let mut pending: Vec<Record> = Vec::new();
            let mut model = MemStorage::new();
            for op in ops {
                let record = match op {
                    Op::Append { back, count, term } => {
                        let first = (model.last_index().0.saturating_sub(back) + 1)
                            .max(model.first_index().0);
                        Some(entries(first, first + count - 1, term))
                    }
                    Op::Snapshot { back, conflict } => {
                        let index = model.last_index().0.saturating_sub(back);
                        (index >= model.first_index().0).then(|| {
                            let term = model.term(LogIndex(index)).expect("term");
                            Record::Snapshot(Snapshot {
                                meta: synod_raft::SnapshotMeta {
                                    index: LogIndex(index),
                                    term: if conflict { Term(term.0 + 10) } else { term },
                                    ..Default::default()
                                },
                                data: Bytes::from(format!("through {index}")),
                            })
                        })
                    }
                    Op::Vote { term } => Some(vote(term, term)),
                    Op::Sync => {
                        block_on(log.sync()).expect("sync");
                        synced.append(&mut pending);
                        prop_assert!(storage.memory_bytes() <= memory);
                        None
                    }
                    Op::Crash => {
                        drop((log, storage));
                        let recovered = SegmentedLog::open_indexed(dir.path(), options).expect("reopen");
                        let survived = (0..=pending.len()).find(|&k| {
                            let mut prefix = synced.clone();
                            prefix.extend_from_slice(&pending[..k]);
                            same_log(&recovered.storage, &state_after(&prefix))
                        });
                        prop_assert!(survived.is_some(), "not a prefix holding every synced record");
                        synced.extend(pending.drain(..).take(survived.unwrap_or(0)));
                        model = state_after(&synced);
                        prop_assert_eq!(recovered.storage.memory_bytes(), 0);
                        (log, storage) = (recovered.log, recovered.storage);
                        None
                    }
                };
                if let Some(record) = record {
                    model.apply(&record).expect("model");
                    storage.apply(&record).expect("apply");
                    block_on(log.append(record.clone())).expect("append");
                    pending.push(record);
                }
                prop_assert!(same_log(&storage, &model));
            }
        }

        #[test]
        fn random_appends_truncations_and_crashes_match_a_model(ops in proptest::collection::vec(op(), 1..40)) {
            // Checks the log against a model (records folded into a MemStorage): after
            // every crash and reopen the recovered state is that of a prefix of the
            // appended records holding every synced one, across segment rolls and
            // conflict truncations.
            let dir = tempfile::tempdir().expect("temp dir");
            let mut log = SegmentedLog::open(dir.path(), small()).expect("open").log;
            let mut synced: Vec<Record> = Vec::new();
            let mut pending: Vec<Record> = Vec::new();
            let mut model = MemStorage::new();
            for op in ops {
                match op {
                    Op::Snapshot { .. } => {} // `open` logs refuse snapshots
                    Op::Append { back, count, term } => {
                        let first = model.last_index().0.saturating_sub(back) + 1;
                        let record = entries(first, first + count - 1, term);
                        model.apply(&record).expect("model");
                        block_on(log.append(record.clone())).expect("append");
                        pending.push(record);
                    }
                    Op::Vote { term } => {
                        let record = vote(term, term);
                        model.apply(&record).expect("model");
                        block_on(log.append(record.clone())).expect("append");
                        pending.push(record);
                    }
                    Op::Sync => {
                        block_on(log.sync()).expect("sync");
                        synced.append(&mut pending);
                    }
                    Op::Crash => {
                        drop(log);
                        let recovered = SegmentedLog::open(dir.path(), small()).expect("reopen");
                        // A segment roll syncs early, so some unsynced records may
                        // survive too: a prefix of them, never fewer than synced.
                        let survived = (0..=pending.len()).find(|&k| {
                            let mut prefix = synced.clone();
                            prefix.extend_from_slice(&pending[..k]);
                            state_after(&prefix) == recovered.storage
                        });
                        prop_assert!(survived.is_some(), "not a prefix holding every synced record");
                        let k = survived.unwrap_or(0);
                        synced.extend(pending.drain(..).take(k));
                        model = state_after(&synced);
                        prop_assert_eq!(recovered.truncated_bytes, 0);
                        log = recovered.log;
                    }
                }
            }
        }
    }
}
