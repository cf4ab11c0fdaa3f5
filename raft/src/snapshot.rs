//! Snapshots (Raft §7, thesis ch. 5): what a snapshot is, and how a follower
//! assembles one that arrives in chunks.

use crate::{LogIndex, Membership, Term};
use bytes::Bytes;

/// What a snapshot covers: the log through `index` (Raft §7's "last included index"
/// and "last included term") and the membership configuration in force at that index.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SnapshotMeta {
    /// The last log index the snapshot replaces.
    pub index: LogIndex,
    /// The term of that entry.
    pub term: Term,
    /// The configuration at `index` (thesis §5.1: it must survive compaction).
    pub membership: Membership,
}

/// A snapshot: metadata plus the application's state, opaque to Raft.
///
/// ```
/// use bytes::Bytes;
/// use synod_raft::{LogIndex, Snapshot, SnapshotMeta, Term};
/// let snapshot = Snapshot {
///     meta: SnapshotMeta { index: LogIndex(7), term: Term(2), ..Default::default() },
///     data: Bytes::from_static(b"state at 7"),
/// };
/// assert_eq!(snapshot.meta.index, LogIndex(7));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Snapshot {
    /// What it covers.
    pub meta: SnapshotMeta,
    /// The application's state after applying every entry through `meta.index`.
    pub data: Bytes,
}

/// A follower's partially received snapshot. Chunks are accepted strictly in order:
/// a chunk whose offset is not the number of bytes already held is ignored (the
/// follower answers with the offset it expects), so duplicated and reordered chunks
/// can never splice bytes into the wrong place.
#[derive(Clone, Debug)]
pub(crate) struct SnapshotReceiver {
    pub(crate) meta: SnapshotMeta,
    pub(crate) buf: Vec<u8>,
}

/// What a follower does with one chunk.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ChunkOutcome {
    /// Tell the leader how many bytes of this snapshot are held.
    Expect(u64),
    /// The last chunk arrived: here is the whole snapshot.
    Complete(Snapshot),
}

impl SnapshotReceiver {
    /// Feed one chunk of the snapshot described by `meta` into `slot` (the follower's
    /// receiver, if any).
    pub(crate) fn accept(
        slot: &mut Option<SnapshotReceiver>,
        meta: &SnapshotMeta,
        offset: u64,
        data: &[u8],
        done: bool,
    ) -> ChunkOutcome {
        if slot.as_ref().is_none_or(|r| r.meta != *meta) {
            if offset != 0 {
                // A middle chunk of a snapshot we are not assembling: start over.
                return ChunkOutcome::Expect(0);
            }
            *slot = Some(SnapshotReceiver {
                meta: meta.clone(),
                buf: Vec::new(),
            });
        }
        let Some(receiver) = slot.as_mut() else {
            return ChunkOutcome::Expect(0);
        };
        let held = receiver.buf.len() as u64;
        if offset != held {
            return ChunkOutcome::Expect(held); // duplicate, or out of order
        }
        receiver.buf.extend_from_slice(data);
        if !done {
            return ChunkOutcome::Expect(receiver.buf.len() as u64);
        }
        let Some(receiver) = slot.take() else {
            return ChunkOutcome::Expect(0);
        };
        ChunkOutcome::Complete(Snapshot {
            meta: receiver.meta,
            data: Bytes::from(receiver.buf),
        })
    }
}

/// The leader's state while sending a snapshot to one follower: stop-and-wait, one
/// chunk outstanding at a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SnapshotSend {
    /// Index of the snapshot being sent.
    pub(crate) index: LogIndex,
    /// The next byte the follower is known to expect.
    pub(crate) offset: u64,
    /// End of the outstanding chunk, if one is in flight.
    pub(crate) sent_end: Option<u64>,
    /// The follower acknowledged a chunk since the last heartbeat.
    pub(crate) progressed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(index: u64) -> SnapshotMeta {
        SnapshotMeta {
            index: LogIndex(index),
            term: Term(1),
            membership: Membership::default(),
        }
    }

    // Raft §7 (offset field): chunks assemble only in order; duplicates, gaps and
    // middle chunks of an unknown snapshot are answered with the expected offset.
    #[test]
    fn chunks_assemble_in_order_only() {
        let mut slot = None;
        let m = meta(5);
        assert_eq!(
            SnapshotReceiver::accept(&mut slot, &m, 3, b"xyz", false),
            ChunkOutcome::Expect(0)
        );
        assert_eq!(
            SnapshotReceiver::accept(&mut slot, &m, 0, b"abc", false),
            ChunkOutcome::Expect(3)
        );
        assert_eq!(
            SnapshotReceiver::accept(&mut slot, &m, 0, b"abc", false),
            ChunkOutcome::Expect(3),
            "duplicate"
        );
        assert_eq!(
            SnapshotReceiver::accept(&mut slot, &m, 6, b"ghi", true),
            ChunkOutcome::Expect(3),
            "gap"
        );
        assert_eq!(
            SnapshotReceiver::accept(&mut slot, &m, u64::MAX, b"", true),
            ChunkOutcome::Expect(3)
        );
        let done = SnapshotReceiver::accept(&mut slot, &m, 3, b"def", true);
        assert_eq!(
            done,
            ChunkOutcome::Complete(Snapshot {
                meta: m,
                data: Bytes::from_static(b"abcdef")
            })
        );
        assert!(slot.is_none());
    }

    // A newer snapshot's first chunk replaces a half-received older one.
    #[test]
    fn a_new_snapshot_restarts_assembly() {
        let mut slot = None;
        SnapshotReceiver::accept(&mut slot, &meta(5), 0, b"old", false);
        assert_eq!(
            SnapshotReceiver::accept(&mut slot, &meta(9), 0, b"n", false),
            ChunkOutcome::Expect(1)
        );
        assert_eq!(slot.map(|r| r.meta.index), Some(LogIndex(9)));
    }
}
