//! Snapshot files: `snapshot-<sequence>-<index>-<term>.snap` next to the segments,
//! one framed record holding the [`Snapshot`] (metadata and data).
//!
//! `sequence` is that of the segment the snapshot's *marker* opens (see "Snapshots"
//! in the [`raft_log`](super) docs): a snapshot counts only once its marker is
//! durable, so a file written just before a crash — with no marker after it — is
//! recognised as unfinished and removed on the next open. A file is written under a
//! temporary name (`.tmp`), synced, renamed, and the directory synced, so a snapshot
//! file that exists under its final name is whole.

use crate::framing::{Scanned, encode_record, scan, sync_dir};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use synod_raft::{LogIndex, Snapshot, Term};

/// Suffix of a snapshot file being written.
const TEMP_SUFFIX: &str = ".tmp";

/// A snapshot file's name, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct SnapshotFile {
    /// The sequence number of the segment holding its marker.
    pub(super) sequence: u64,
    pub(super) index: LogIndex,
    pub(super) term: Term,
    pub(super) path: PathBuf,
}

impl SnapshotFile {
    pub(super) fn new(dir: &Path, sequence: u64, index: LogIndex, term: Term) -> Self {
        SnapshotFile {
            sequence,
            index,
            term,
            path: dir.join(format!(
                "snapshot-{sequence:010}-{:020}-{:020}.snap",
                index.0, term.0
            )),
        }
    }

    fn parse(dir: &Path, name: &str) -> Option<Self> {
        let stem = name.strip_prefix("snapshot-")?.strip_suffix(".snap")?;
        let mut parts = stem.split('-');
        let sequence = parts.next()?.parse().ok()?;
        let index = LogIndex(parts.next()?.parse().ok()?);
        let term = Term(parts.next()?.parse().ok()?);
        if parts.next().is_some() {
            return None;
        }
        let file = SnapshotFile::new(dir, sequence, index, term);
        // Only the canonical spelling counts.
        (file.path.file_name()?.to_str()? == name).then_some(file)
    }

    fn temp_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(TEMP_SUFFIX);
        PathBuf::from(name)
    }

    /// Step 1 of taking a snapshot: write it under the temporary name and sync the
    /// file. A crash now leaves a `.tmp` file that `open` deletes.
    pub(super) fn write_temp(&self, snapshot: &Snapshot) -> io::Result<PathBuf> {
        let mut bytes = Vec::new();
        encode_record(snapshot, u32::MAX, &mut bytes)?;
        let temp = self.temp_path();
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        Ok(temp)
    }

    /// Step 2: give the synced file its final name, durably.
    pub(super) fn publish(&self, temp: &Path) -> io::Result<()> {
        std::fs::rename(temp, &self.path)?;
        sync_dir(self.path.parent().unwrap_or(Path::new(".")))
    }

    /// Read the snapshot back; `None` if the file is not one whole, checksummed
    /// snapshot record naming the index and term of its file name.
    pub(super) fn read(&self) -> io::Result<Option<Snapshot>> {
        let mut file = File::open(&self.path)?;
        let len = file.metadata()?.len();
        let Scanned {
            mut records,
            valid_bytes,
        } = match scan::<Snapshot>(&mut file, len, u32::MAX) {
            Ok(scanned) => scanned,
            Err(error) if error.kind() == io::ErrorKind::InvalidData => return Ok(None),
            Err(error) => return Err(error),
        };
        if valid_bytes != len || records.len() != 1 {
            return Ok(None);
        }
        let (_, snapshot) = records.remove(0);
        Ok(
            (snapshot.meta.index == self.index && snapshot.meta.term == self.term)
                .then_some(snapshot),
        )
    }
}

/// The snapshot files in `dir`, oldest (lowest sequence) first. Leftover temporary
/// files — a crash during step 1 — are deleted.
pub(super) fn list(dir: &Path) -> io::Result<Vec<SnapshotFile>> {
    let mut files = Vec::new();
    let mut removed = false;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with("snapshot-") && name.ends_with(TEMP_SUFFIX) {
            std::fs::remove_file(entry.path())?;
            removed = true;
        } else if let Some(file) = SnapshotFile::parse(dir, name) {
            files.push(file);
        }
    }
    if removed {
        sync_dir(dir)?;
    }
    files.sort_by_key(|f| f.sequence);
    Ok(files)
}
