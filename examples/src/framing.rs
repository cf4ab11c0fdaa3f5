//! The on-disk record framing shared by [`file_storage`](crate::file_storage) and
//! [`raft_log`](crate::raft_log): checksummed, length-prefixed postcard records.
//!
//! ```text
//! [len: u32 big-endian][crc: u32 big-endian][payload: len bytes]
//! ```
//!
//! `payload` is the record in postcard encoding and `crc` is the CRC-32 of the four
//! length bytes followed by the payload (covering the length too means a bit-flipped
//! length is caught as well as a bit-flipped payload).
//!
//! [`scan`] reads whole records from the start of a file and stops at the first one
//! that is incomplete, claims a length over the limit, or fails its checksum: the
//! caller decides whether that is a torn tail to cut off. A record over the limit
//! whose checksum is right is whole (written under a larger limit), not torn, and
//! `scan` refuses it too rather than let it be cut off. A record whose checksum is
//! right but which does not decode is not a torn write but a format mismatch, and
//! `scan` refuses it with [`std::io::ErrorKind::InvalidData`].

use crate::crc32::Crc32;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// Bytes in a record header: the length and the checksum.
pub const RECORD_HEADER_BYTES: u64 = 8;

/// Append one framed record to `out`; refuse a payload over `max_record_bytes`.
///
/// ```
/// use synod_examples::framing::{RECORD_HEADER_BYTES, encode_record};
/// let mut out = Vec::new();
/// encode_record(&"hello".to_string(), 64, &mut out)?;
/// assert_eq!(out.len() as u64, RECORD_HEADER_BYTES + 6); // postcard: length + bytes
/// assert!(encode_record(&"x".repeat(100), 64, &mut out).is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn encode_record<P: Serialize>(
    record: &P,
    max_record_bytes: u32,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    let payload = postcard::to_stdvec(record).map_err(io::Error::other)?;
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&len| len <= max_record_bytes)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a {}-byte record exceeds the {max_record_bytes}-byte limit",
                    payload.len()
                ),
            )
        })?;
    let len_bytes = len.to_be_bytes();
    out.extend_from_slice(&len_bytes);
    out.extend_from_slice(&record_crc(len_bytes, &payload).to_be_bytes());
    out.extend_from_slice(&payload);
    Ok(())
}

/// The checksum of one record: CRC-32 over the length bytes, then the payload.
pub fn record_crc(len_bytes: [u8; 4], payload: &[u8]) -> u32 {
    let mut crc = Crc32::new();
    crc.update(&len_bytes);
    crc.update(payload);
    crc.finish()
}

/// What [`scan`] found in a file.
#[derive(Debug)]
pub struct Scanned<P> {
    /// Every whole record, oldest first, each with the byte offset it starts at.
    pub records: Vec<(u64, P)>,
    /// Length of the prefix the whole records occupy; anything after it is torn or
    /// corrupt.
    pub valid_bytes: u64,
}

/// Read whole records from the start of `file` (which is `file_bytes` long). Never
/// allocates more than `max_record_bytes` for one record, whatever a length field says.
pub fn scan<P: DeserializeOwned>(
    file: &mut File,
    file_bytes: u64,
    max_record_bytes: u32,
) -> io::Result<Scanned<P>> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = BufReader::new(file);
    let mut records = Vec::new();
    let mut offset = 0u64;
    let mut payload = Vec::new();
    // Every iteration consumes at least a header, so the loop is bounded by the
    // file's length.
    while file_bytes - offset >= RECORD_HEADER_BYTES {
        let mut header = [0u8; RECORD_HEADER_BYTES as usize];
        reader.read_exact(&mut header)?;
        let len_bytes = [header[0], header[1], header[2], header[3]];
        let len = u32::from_be_bytes(len_bytes);
        let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let end = offset + RECORD_HEADER_BYTES + u64::from(len);
        // Check the claimed length against the limit and the file before allocating.
        if end > file_bytes {
            break;
        }
        if len > max_record_bytes {
            // Garbage in a torn tail, or a whole record written under a larger limit
            // (acknowledged data that must not be cut off): the checksum, computed
            // in bounded pieces, tells them apart.
            if streamed_crc(&mut reader, len_bytes, len)? == crc {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "record at byte {offset} is whole but {len} bytes, over the \
                         {max_record_bytes}-byte limit: reopen with a larger limit"
                    ),
                ));
            }
            break;
        }
        payload.clear();
        payload.resize(len as usize, 0);
        reader.read_exact(&mut payload)?;
        if record_crc(len_bytes, &payload) != crc {
            break;
        }
        let record = postcard::from_bytes(&payload).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("record at byte {offset} has a valid checksum but does not decode: {e}"),
            )
        })?;
        records.push((offset, record));
        offset = end;
    }
    Ok(Scanned {
        records,
        valid_bytes: offset,
    })
}

/// The CRC of a record with length `len_bytes` whose `len`-byte payload comes next
/// in `reader`, read 64 KiB at a time.
fn streamed_crc(reader: &mut impl Read, len_bytes: [u8; 4], len: u32) -> io::Result<u32> {
    let mut crc = Crc32::new();
    crc.update(&len_bytes);
    let mut left = u64::from(len);
    let mut buffer = vec![0u8; 64 << 10];
    while left > 0 {
        let piece = left.min(buffer.len() as u64) as usize;
        reader.read_exact(&mut buffer[..piece])?;
        crc.update(&buffer[..piece]);
        left -= piece as u64;
    }
    Ok(crc.finish())
}

/// Make a directory entry created or removed under `path`'s parent durable.
#[cfg(unix)]
pub fn sync_parent_dir(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir),
        _ => sync_dir(Path::new(".")),
    }
}

/// Make the entries of directory `dir` (files created, renamed or removed) durable.
#[cfg(unix)]
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Directories cannot be opened for syncing on this platform; the file system orders
/// metadata itself.
#[cfg(not(unix))]
pub fn sync_parent_dir(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// See the Unix version; a no-op here.
#[cfg(not(unix))]
pub fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}
