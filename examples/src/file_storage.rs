//! A file-backed [`synod_core::Storage`]: an append-only log of checksummed records
//! that survives `kill -9` and power loss up to the last `sync`.
//!
//! # Format
//!
//! The file is a sequence of records in the shared [`framing`](crate::framing):
//! `[len: u32][crc: u32][postcard payload]`, the checksum covering length and payload.
//!
//! # Durability
//!
//! [`Storage::append`] only encodes the record into an in-memory buffer;
//! [`Storage::sync`] writes the buffer and calls `fdatasync`. A record is durable when
//! `sync` returns, and the driver never performs an action that depends on a record
//! before that (see the action-order rule in `synod-core`). After a failed write or
//! `fdatasync` the storage refuses all further work: the kernel may have dropped the
//! dirty pages, so nothing about the file can be trusted any more (the "fsyncgate"
//! lesson).
//!
//! # Recovery
//!
//! A crash can leave the last record half-written (a *torn* write). [`FileStorage::open`]
//! reads records from the start and stops at the first one that is incomplete, claims
//! a length over the limit, or fails its checksum; it truncates the file there, so new
//! records follow the last whole one. Only a record that was never synced can be torn,
//! so nothing acknowledged is lost. A record whose checksum is right but which does not
//! decode, or which is longer than the limit the log is opened with, is not a torn
//! write, and `open` refuses it with
//! [`std::io::ErrorKind::InvalidData`] rather than silently throwing durable state away.
//!
//! # Bounds
//!
//! Each record is at most [`FileStorage::max_record_bytes`]; recovery never allocates
//! more than that for one record whatever the length field says. The file grows by one
//! record per write; when records supersede each other (as the counter's do),
//! [`FileStorage::compact`] atomically replaces the file with the records still
//! needed.
//!
//! # Blocking
//!
//! The I/O runs inline on the calling task, as in most embedded stores: a small record
//! and an `fdatasync` take well under a millisecond to a few milliseconds. That keeps
//! the storage runtime-agnostic and means a cancelled task never leaves a write in
//! flight. On tokio, use the multi-threaded runtime so one node's `fsync` does not hold
//! up the others.

use crate::framing::{Scanned, encode_record, scan, sync_parent_dir};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use synod_core::{Storage, StorageError};

pub use crate::framing::RECORD_HEADER_BYTES;

/// The default limit on one record's payload: 1 MiB.
pub const DEFAULT_MAX_RECORD_BYTES: u32 = 1 << 20;

/// An append-only, checksummed record log in one file; see the [module docs](self).
#[derive(Debug)]
pub struct FileStorage<P> {
    path: PathBuf,
    file: File,
    /// Records appended but not yet written: `sync` writes them in one call.
    pending: Vec<u8>,
    max_record_bytes: u32,
    /// Set after a failed write or sync: the file's state is unknown.
    poisoned: bool,
    _record: PhantomData<fn(P) -> P>,
}

/// What [`FileStorage::open`] found.
#[derive(Debug)]
pub struct Recovered<P> {
    /// The storage, positioned to append after the last whole record.
    pub storage: FileStorage<P>,
    /// Every whole record, oldest first.
    pub records: Vec<P>,
    /// Bytes of torn or corrupt tail that were cut off (zero after a clean shutdown).
    pub truncated_bytes: u64,
}

impl<P> FileStorage<P>
where
    P: Serialize + DeserializeOwned,
{
    /// Open (or create) the log at `path` with the default record limit, recover its
    /// whole records and cut off any torn tail.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Recovered<P>> {
        Self::open_with_limit(path, DEFAULT_MAX_RECORD_BYTES)
    }

    /// [`open`](Self::open) with a limit of `max_record_bytes` per record.
    pub fn open_with_limit(
        path: impl AsRef<Path>,
        max_record_bytes: u32,
    ) -> io::Result<Recovered<P>> {
        let path = path.as_ref().to_path_buf();
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        if !existed {
            // The new directory entry must be durable too, or a crash could lose the
            // whole file along with records already acknowledged.
            sync_parent_dir(&path)?;
        }
        let file_bytes = file.metadata()?.len();
        let Scanned {
            records,
            valid_bytes,
        } = scan(&mut file, file_bytes, max_record_bytes)?;
        let records = records.into_iter().map(|(_, record)| record).collect();
        let truncated_bytes = file_bytes - valid_bytes;
        if truncated_bytes > 0 {
            file.set_len(valid_bytes)?;
            file.sync_all()?;
        }
        file.seek(SeekFrom::Start(valid_bytes))?;
        let storage = FileStorage {
            path,
            file,
            pending: Vec::new(),
            max_record_bytes,
            poisoned: false,
            _record: PhantomData,
        };
        Ok(Recovered {
            storage,
            records,
            truncated_bytes,
        })
    }

    /// Where the log lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The largest payload one record may have.
    pub fn max_record_bytes(&self) -> u32 {
        self.max_record_bytes
    }

    /// Replace the whole log, atomically, with `records`: they are written to a
    /// temporary file that is synced and then renamed over the log. A crash at any
    /// point leaves either the old log or the new one. Records appended but not yet
    /// synced are an error here (they would be silently dropped).
    pub fn compact(&mut self, records: &[P]) -> io::Result<()> {
        self.check_usable()?;
        if !self.pending.is_empty() {
            return Err(io::Error::other(
                "compact with records appended but not synced",
            ));
        }
        let mut bytes = Vec::new();
        for record in records {
            encode_record(record, self.max_record_bytes, &mut bytes)?;
        }
        let tmp = self.path.with_extension("compacting");
        {
            let mut out = File::create(&tmp)?;
            out.write_all(&bytes)?;
            out.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        sync_parent_dir(&self.path)?;
        let mut file = OpenOptions::new().read(true).write(true).open(&self.path)?;
        file.seek(SeekFrom::End(0))?;
        self.file = file;
        Ok(())
    }

    fn check_usable(&self) -> io::Result<()> {
        if self.poisoned {
            return Err(io::Error::other(
                "an earlier write or sync failed; the log must be reopened",
            ));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl<P> Storage<P> for FileStorage<P>
where
    P: Serialize + DeserializeOwned + Send + 'static,
{
    async fn append(&mut self, data: P) -> Result<(), StorageError> {
        self.check_usable()?;
        encode_record(&data, self.max_record_bytes, &mut self.pending)?;
        Ok(())
    }

    async fn sync(&mut self) -> Result<(), StorageError> {
        self.check_usable()?;
        if self.pending.is_empty() {
            return Ok(());
        }
        let written = self
            .file
            .write_all(&self.pending)
            .and_then(|()| self.file.sync_data());
        if let Err(error) = written {
            self.poisoned = true;
            return Err(error.into());
        }
        self.pending.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::record_crc;
    use futures::executor::block_on;

    type Log = FileStorage<String>;

    fn records() -> Vec<String> {
        ["alpha", "", "a somewhat longer third record"]
            .map(String::from)
            .to_vec()
    }

    /// Write `records` through the `Storage` interface and return the file's bytes.
    fn write_log(path: &Path, records: &[String]) -> Vec<u8> {
        let mut storage = Log::open(path).expect("open").storage;
        block_on(async {
            for record in records {
                storage.append(record.clone()).await.expect("append");
            }
            storage.sync().await.expect("sync");
        });
        std::fs::read(path).expect("read back")
    }

    fn framed_len(record: &String) -> usize {
        let mut bytes = Vec::new();
        encode_record(record, DEFAULT_MAX_RECORD_BYTES, &mut bytes).expect("encode");
        bytes.len()
    }

    #[test]
    fn synced_records_survive_a_reopen_and_unsynced_ones_do_not() {
        // Checks durability at the sync boundary: synced records come back in order;
        // records appended after the last sync are gone after a "crash" (drop).
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("log");
        write_log(&path, &records());
        let mut reopened = Log::open(&path).expect("reopen");
        assert_eq!(reopened.records, records());
        assert_eq!(reopened.truncated_bytes, 0);
        block_on(reopened.storage.append("never synced".into())).expect("append");
        drop(reopened);
        assert_eq!(Log::open(&path).expect("reopen").records, records());
    }

    #[test]
    fn a_torn_last_record_is_cut_off_at_every_byte_offset() {
        // Checks recovery from a torn write: for every length the last record could
        // have been cut to (including a cut inside its header), `open` returns exactly
        // the whole records before it, truncates the file to them, and a record
        // appended afterwards follows them and survives a reopen.
        let dir = tempfile::tempdir().expect("temp dir");
        let full = write_log(&dir.path().join("full"), &records());
        let last_len = framed_len(&records()[2]);
        let prefix_len = full.len() - last_len;
        for cut in prefix_len..full.len() {
            let path = dir.path().join(format!("torn-{cut}"));
            std::fs::write(&path, &full[..cut]).expect("write torn file");
            let mut recovered = Log::open(&path).expect("open torn file");
            assert_eq!(recovered.records, records()[..2], "cut at {cut}");
            assert_eq!(recovered.truncated_bytes, (cut - prefix_len) as u64);
            assert_eq!(
                std::fs::metadata(&path).expect("stat").len(),
                prefix_len as u64
            );
            block_on(async {
                recovered.storage.append("after".into()).await?;
                recovered.storage.sync().await
            })
            .expect("append after recovery");
            let again = Log::open(&path).expect("reopen");
            assert_eq!(again.records, ["alpha", "", "after"], "cut at {cut}");
        }
    }

    #[test]
    fn a_corrupted_byte_cuts_the_log_before_the_damaged_record() {
        // Checks the checksum: flipping any single byte of the last record (header or
        // payload) recovers the records before it, and flipping a byte of the first
        // record recovers nothing (records after a damaged one are not trusted).
        let dir = tempfile::tempdir().expect("temp dir");
        let full = write_log(&dir.path().join("full"), &records());
        let first_len = framed_len(&records()[0]);
        let last_start = full.len() - framed_len(&records()[2]);
        let cases = (last_start..full.len())
            .map(|at| (at, 2))
            .chain((0..first_len).map(|at| (at, 0)));
        for (at, whole) in cases {
            for flip in [0x01u8, 0x80, 0xFF] {
                let mut damaged = full.clone();
                damaged[at] ^= flip;
                let path = dir.path().join(format!("flip-{at}-{flip}"));
                std::fs::write(&path, &damaged).expect("write damaged file");
                let recovered = Log::open(&path).expect("open damaged file");
                assert_eq!(
                    recovered.records,
                    records()[..whole],
                    "byte {at} ^ {flip:#x}"
                );
            }
        }
    }

    #[test]
    fn a_huge_claimed_length_is_treated_as_torn_without_allocating_it() {
        // Checks the length bound: a header announcing 4 GiB is cut off as a torn
        // tail (the file is far shorter), not read into a 4 GiB buffer.
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("log");
        let mut bytes = write_log(&path, &records()[..1]);
        bytes.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 1, 2, 3]);
        std::fs::write(&path, &bytes).expect("write");
        let recovered = Log::open(&path).expect("open");
        assert_eq!(recovered.records, records()[..1]);
        assert_eq!(recovered.truncated_bytes, 11);
    }

    #[test]
    fn a_record_over_the_limit_is_refused_on_write_and_cut_on_read() {
        // Checks `max_record_bytes` in both directions: appending a larger record is a
        // storage error, and a whole larger record already in the file (acknowledged
        // under a larger limit) stops recovery with InvalidData instead of being cut
        // off like a torn tail; the file is left as it was.
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("log");
        write_log(&path, &records());
        let bytes = std::fs::read(&path).expect("read");
        let error = Log::open_with_limit(&path, 6).expect_err("must refuse");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert_eq!(std::fs::read(&path).expect("read"), bytes, "file was cut");
        let reopened = Log::open(&path).expect("open with the old limit");
        assert_eq!(reopened.records, records());
        let mut small = Log::open_with_limit(dir.path().join("fresh"), 6).expect("open");
        let refused = block_on(small.storage.append("seven b".into()));
        assert!(refused.is_err());
    }

    #[test]
    fn a_valid_checksum_that_does_not_decode_is_an_error_not_a_truncation() {
        // Checks that a whole, checksummed record of the wrong format stops `open`
        // with InvalidData instead of being cut off like a torn write.
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("log");
        let payload = [0xFFu8]; // an unfinished varint: not a postcard String
        let len_bytes = 1u32.to_be_bytes();
        let mut bytes = len_bytes.to_vec();
        bytes.extend_from_slice(&record_crc(len_bytes, &payload).to_be_bytes());
        bytes.extend_from_slice(&payload);
        std::fs::write(&path, &bytes).expect("write");
        let error = Log::open(&path).expect_err("must refuse");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            std::fs::read(&path).expect("read"),
            bytes,
            "file was modified"
        );
    }

    #[test]
    fn compact_replaces_the_log_atomically_and_appends_continue_after_it() {
        // Checks compaction: after `compact([last])` the file holds just that record,
        // and later appends land after it.
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("log");
        write_log(&path, &records());
        let mut recovered = Log::open(&path).expect("open");
        let last = recovered.records.pop().expect("three records");
        recovered
            .storage
            .compact(std::slice::from_ref(&last))
            .expect("compact");
        block_on(async {
            recovered.storage.append("next".into()).await?;
            recovered.storage.sync().await
        })
        .expect("append after compaction");
        assert_eq!(
            Log::open(&path).expect("reopen").records,
            [last, "next".into()]
        );
        assert!(!path.with_extension("compacting").exists());
    }
}
