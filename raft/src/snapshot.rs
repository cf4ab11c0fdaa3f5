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
/// can never splice bytes into the wrong place. The buffer never grows past the
/// follower's `max_snapshot_bytes`. A buffer belongs to one leader's transfer: two
/// leaders' snapshots at the same index hold the same state but not necessarily the
/// same bytes, so a chunk from another term never continues it.
#[derive(Clone, Debug)]
pub(crate) struct SnapshotReceiver {
    /// The term of the leader whose chunks these are.
    pub(crate) term: Term,
    pub(crate) meta: SnapshotMeta,
    pub(crate) buf: Vec<u8>,
}

/// What a follower does with one chunk.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ChunkOutcome {
    /// Tell the leader how many bytes of this snapshot are held (the chunk was taken,
    /// or duplicated one already held).
    Expect(u64),
    /// The chunk started beyond the bytes held (an earlier one was lost or
    /// overtaken): tell the leader to resend from this offset.
    Gap(u64),
    /// The last chunk arrived: here is the whole snapshot.
    Complete(Snapshot),
    /// Taking the chunk would hold more than the limit: the partial snapshot was
    /// dropped.
    TooLarge,
}

impl SnapshotReceiver {
    /// Feed one chunk of the snapshot described by `meta`, sent by the leader of
    /// `term`, into `slot` (the follower's receiver, if any), holding at most
    /// `max_bytes`.
    pub(crate) fn accept(
        slot: &mut Option<SnapshotReceiver>,
        term: Term,
        meta: &SnapshotMeta,
        offset: u64,
        data: &[u8],
        done: bool,
        max_bytes: u64,
    ) -> ChunkOutcome {
        if let Some(r) = slot.as_ref()
            && r.term == term
            && meta.index < r.meta.index
        {
            // A leader only moves on to newer snapshots: this is a late chunk of one it
            // sent before. Keep the newer buffer (the answer names the old snapshot,
            // which the leader ignores).
            return ChunkOutcome::Gap(0);
        }
        if slot
            .as_ref()
            .is_none_or(|r| r.term != term || r.meta != *meta)
        {
            if offset != 0 {
                // A middle chunk of a snapshot we are not assembling: start over.
                return ChunkOutcome::Gap(0);
            }
            *slot = Some(SnapshotReceiver {
                term,
                meta: meta.clone(),
                buf: Vec::new(),
            });
        }
        let Some(receiver) = slot.as_mut() else {
            return ChunkOutcome::Gap(0);
        };
        let held = receiver.buf.len() as u64;
        if offset > held {
            return ChunkOutcome::Gap(held);
        }
        if offset < held {
            return ChunkOutcome::Expect(held); // a duplicate
        }
        if held.saturating_add(data.len() as u64) > max_bytes {
            *slot = None;
            return ChunkOutcome::TooLarge;
        }
        let need = receiver.buf.len() + data.len();
        if need > receiver.buf.capacity() {
            // Grow by doubling as a vector would, but never past the limit: the
            // memory held, not only the bytes received, stays within `max_bytes`.
            let limit = usize::try_from(max_bytes).unwrap_or(usize::MAX);
            let target = need
                .max(receiver.buf.capacity().saturating_mul(2))
                .min(limit);
            receiver.buf.reserve_exact(target - receiver.buf.len());
        }
        receiver.buf.extend_from_slice(data);
        if !done {
            return ChunkOutcome::Expect(receiver.buf.len() as u64);
        }
        let Some(receiver) = slot.take() else {
            return ChunkOutcome::Gap(0);
        };
        ChunkOutcome::Complete(Snapshot {
            meta: receiver.meta,
            data: Bytes::from(receiver.buf),
        })
    }
}

/// Heartbeat intervals without an acknowledged chunk after which the leader resends
/// from the offset the follower last named (a lost chunk at the end of the window, or
/// lost answers). Two intervals, so a round trip of up to two heartbeat intervals
/// never triggers a needless resend.
const STALL_HEARTBEATS: u8 = 2;

/// The leader's state while sending a snapshot to one follower: a window of chunks in
/// flight, acknowledged by offset (Raft §7's chunks, pipelined as appends are).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SnapshotSend {
    /// Index of the snapshot being sent.
    pub(crate) index: LogIndex,
    /// Its size in bytes, known once the first chunk went out.
    len: u64,
    /// Bytes the follower is known to hold: the chunks before were acknowledged.
    acked: u64,
    /// Next byte to send: the chunks in `acked..next` are in flight.
    next: u64,
    /// The chunk that ends the snapshot was sent since the last rewind.
    sent_last: bool,
    /// The offset the follower named in its latest answer.
    heard: u64,
    /// Already went back to this offset on an out-of-order answer: the other chunks
    /// of the same window that overtook the lost one must not rewind again.
    rewound_to: Option<u64>,
    /// Heartbeat intervals since a chunk was last acknowledged.
    idle_heartbeats: u8,
    /// The window stalled and the follower has not answered since: one chunk at a
    /// time, so a crashed follower costs a chunk per resend, not a window.
    probing: bool,
    /// The follower refused this snapshot as too large: nothing more is sent.
    pub(crate) refused: bool,
}

impl SnapshotSend {
    /// Start sending the snapshot at `index` from its first byte.
    pub(crate) fn new(index: LogIndex) -> Self {
        SnapshotSend {
            index,
            len: 0,
            acked: 0,
            next: 0,
            sent_last: false,
            heard: 0,
            rewound_to: None,
            idle_heartbeats: 0,
            probing: false,
            refused: false,
        }
    }

    /// Whether a chunk of `chunk` bytes may go out now, with `window` in flight at
    /// most (checked before the snapshot's data is read from storage).
    pub(crate) fn has_room(&self, chunk: u64, window: usize) -> bool {
        let in_flight = (self.next - self.acked).div_ceil(chunk.max(1));
        let window = if self.probing { 1 } else { window as u64 };
        !self.refused && !self.sent_last && in_flight < window
    }

    /// The next chunk to send, `start..end` of a snapshot of `len` bytes, if the
    /// window of `window` chunks of `chunk` bytes has room; marks it sent.
    pub(crate) fn next_chunk(&mut self, len: u64, chunk: u64, window: usize) -> Option<(u64, u64)> {
        self.len = len;
        if !self.has_room(chunk, window) {
            return None;
        }
        let start = self.next.min(len);
        let end = start.saturating_add(chunk).min(len);
        self.next = end;
        self.sent_last = end == len;
        Some((start, end))
    }

    /// The follower holds `offset` bytes; `out_of_order` if the chunk it answers
    /// started beyond them.
    pub(crate) fn answered(&mut self, offset: u64, out_of_order: bool) {
        if offset > self.len {
            return; // more than there is: not an answer about this snapshot
        }
        self.heard = offset;
        self.probing = false; // it is alive: open the window again
        if offset > self.acked {
            self.acked = offset;
            self.next = self.next.max(offset);
            self.idle_heartbeats = 0;
            self.rewound_to = None;
        }
        if out_of_order
            && offset == self.acked
            && (self.next > offset || self.sent_last)
            && self.rewound_to != Some(offset)
        {
            // A chunk was lost or overtaken: resend from the gap, once per gap.
            self.next = offset;
            self.sent_last = false;
            self.rewound_to = Some(offset);
        }
    }

    /// A heartbeat interval passed. After [`STALL_HEARTBEATS`] with chunks in flight
    /// and none acknowledged, resend from where the follower last said it was — one
    /// chunk, until the follower answers again.
    pub(crate) fn heartbeat(&mut self) {
        if self.next == self.acked && !self.sent_last {
            return; // nothing in flight
        }
        self.idle_heartbeats = self.idle_heartbeats.saturating_add(1);
        if self.idle_heartbeats >= STALL_HEARTBEATS {
            self.acked = self.heard.min(self.len);
            self.next = self.acked;
            self.sent_last = false;
            self.rewound_to = None;
            self.idle_heartbeats = 0;
            self.probing = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u64 = 1 << 20;

    fn meta(index: u64) -> SnapshotMeta {
        SnapshotMeta {
            index: LogIndex(index),
            term: Term(1),
            membership: Membership::default(),
        }
    }

    // Raft §7 (offset field): chunks assemble only in order; duplicates are answered
    // with the bytes held, gaps and middle chunks of an unknown snapshot with the
    // offset to resend from.
    #[test]
    fn chunks_assemble_in_order_only() {
        let mut slot = None;
        let m = meta(5);
        let mut accept = |offset, data: &[u8], done| {
            SnapshotReceiver::accept(&mut slot, Term(1), &m, offset, data, done, MAX)
        };
        assert_eq!(accept(3, b"xyz", false), ChunkOutcome::Gap(0));
        assert_eq!(accept(0, b"abc", false), ChunkOutcome::Expect(3));
        assert_eq!(
            accept(0, b"abc", false),
            ChunkOutcome::Expect(3),
            "duplicate"
        );
        assert_eq!(accept(6, b"ghi", true), ChunkOutcome::Gap(3), "gap");
        assert_eq!(accept(u64::MAX, b"", true), ChunkOutcome::Gap(3));
        let done = accept(3, b"def", true);
        assert_eq!(
            done,
            ChunkOutcome::Complete(Snapshot {
                meta: m.clone(),
                data: Bytes::from_static(b"abcdef")
            })
        );
        assert!(slot.is_none());
    }

    // A newer snapshot's first chunk replaces a half-received older one.
    #[test]
    fn a_new_snapshot_restarts_assembly() {
        let mut slot = None;
        SnapshotReceiver::accept(&mut slot, Term(1), &meta(5), 0, b"old", false, MAX);
        assert_eq!(
            SnapshotReceiver::accept(&mut slot, Term(1), &meta(9), 0, b"n", false, MAX),
            ChunkOutcome::Expect(1)
        );
        assert_eq!(slot.map(|r| r.meta.index), Some(LogIndex(9)));
    }

    // A leader that took a newer snapshot mid-transfer restarts with it; a late
    // duplicate of the older snapshot's first chunk must not throw the newer buffer
    // away (it would restart the transfer from byte 0 for nothing).
    #[test]
    fn a_late_chunk_of_an_older_snapshot_keeps_the_newer_buffer() {
        let mut slot = None;
        SnapshotReceiver::accept(&mut slot, Term(1), &meta(9), 0, b"new", false, MAX);
        SnapshotReceiver::accept(&mut slot, Term(1), &meta(5), 0, b"old", false, MAX);
        assert_eq!(
            SnapshotReceiver::accept(&mut slot, Term(1), &meta(9), 3, b"er", true, MAX),
            ChunkOutcome::Complete(Snapshot {
                meta: meta(9),
                data: Bytes::from_static(b"newer")
            })
        );
    }

    // The follower's buffer is bounded: the chunk that would take it past the limit
    // drops the partial snapshot instead of growing it.
    #[test]
    fn a_snapshot_past_the_limit_is_dropped() {
        let mut slot = None;
        let m = meta(5);
        assert_eq!(
            SnapshotReceiver::accept(&mut slot, Term(1), &m, 0, b"abcd", false, 6),
            ChunkOutcome::Expect(4)
        );
        assert_eq!(
            SnapshotReceiver::accept(&mut slot, Term(1), &m, 4, b"efg", true, 6),
            ChunkOutcome::TooLarge
        );
        assert!(slot.is_none());
    }

    // The bound on the follower's buffer is a bound on its memory: growing the buffer
    // never reserves more than `max_snapshot_bytes` (a doubling vector would reserve up
    // to twice the bytes held).
    #[test]
    fn the_buffer_never_reserves_past_the_limit() {
        let mut slot = None;
        let m = meta(5);
        for offset in [0, 30, 60] {
            let outcome =
                SnapshotReceiver::accept(&mut slot, Term(1), &m, offset, &[7; 30], false, 100);
            assert_eq!(outcome, ChunkOutcome::Expect(offset + 30));
            let capacity = slot.as_ref().map_or(0, |r| r.buf.capacity());
            assert!(capacity <= 100, "reserved {capacity} bytes");
        }
    }

    /// Send every chunk the window allows; their starts.
    fn fill(send: &mut SnapshotSend, len: u64) -> Vec<u64> {
        std::iter::from_fn(|| send.next_chunk(len, 10, 3).map(|(start, _)| start)).collect()
    }

    // Pipelining: up to the window of chunks goes out at once; each acknowledgement
    // opens room for one more; the last chunk is sent once.
    #[test]
    fn the_window_bounds_chunks_in_flight() {
        let mut send = SnapshotSend::new(LogIndex(5));
        assert_eq!(fill(&mut send, 45), [0, 10, 20]);
        send.answered(10, false);
        assert_eq!(fill(&mut send, 45), [30]);
        send.answered(40, false);
        assert_eq!(fill(&mut send, 45), [40]);
        assert_eq!(
            fill(&mut send, 45),
            Vec::<u64>::new(),
            "the last chunk went"
        );
    }

    // Raft §7 offsets, pipelined: after a lost chunk the first out-of-order answer
    // rewinds to the gap; the other chunks that overtook it do not rewind again, and
    // duplicates' answers never rewind.
    #[test]
    fn a_gap_rewinds_once_and_duplicates_never() {
        let mut send = SnapshotSend::new(LogIndex(5));
        fill(&mut send, 100); // 0, 10, 20 in flight; 0 is lost
        send.answered(0, true);
        assert_eq!(fill(&mut send, 100), [0, 10, 20]);
        send.answered(0, true); // 20 overtook the lost chunk as well
        assert_eq!(fill(&mut send, 100), Vec::<u64>::new());
        send.answered(30, false);
        assert_eq!(fill(&mut send, 100), [30, 40, 50]);
        send.answered(30, false); // a duplicate's answer
        assert_eq!(fill(&mut send, 100), Vec::<u64>::new());
    }

    // A window whose chunks or answers were all lost is resent from the follower's
    // last word after two idle heartbeat intervals (a restarted follower says 0).
    #[test]
    fn a_stalled_window_is_resent_from_the_last_answer() {
        let mut send = SnapshotSend::new(LogIndex(5));
        fill(&mut send, 100);
        send.answered(20, false);
        fill(&mut send, 100);
        send.answered(0, true); // the follower restarted
        send.heartbeat();
        assert_eq!(fill(&mut send, 100), Vec::<u64>::new());
        send.heartbeat();
        assert_eq!(fill(&mut send, 100), [0], "one chunk until it answers");
        send.answered(10, false);
        assert_eq!(fill(&mut send, 100), [10, 20, 30]);
    }

    // A crashed follower costs the leader one chunk per resend, not a window of them:
    // after a stall the leader resends a single chunk, again at every stall, and opens
    // the window only once the follower answers (as appends fall back to one probe).
    #[test]
    fn a_silent_follower_gets_one_chunk_per_stall() {
        let mut send = SnapshotSend::new(LogIndex(5));
        assert_eq!(fill(&mut send, 100), [0, 10, 20]);
        for _ in 0..5 {
            send.heartbeat();
            send.heartbeat();
            assert_eq!(fill(&mut send, 100), [0]);
        }
        send.answered(0, true);
        assert_eq!(
            fill(&mut send, 100),
            [0, 10, 20],
            "it answered: the window opens"
        );
    }

    // Raft §7 chunks over a hostile link, sender and receiver together: with chunks
    // and answers lost, duplicated and reordered at random, the leader's acknowledged
    // offset never exceeds the snapshot's size, at most a window of chunks is in
    // flight, the follower only ever assembles exactly the leader's bytes, and every
    // transfer completes.
    #[test]
    fn sender_and_receiver_agree_over_a_hostile_link() {
        for seed in 0..300u64 {
            let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut next = |n: u64| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng % n
            };
            let len = 1 + next(200);
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + seed) as u8).collect();
            let (chunk, window) = (1 + next(16), 1 + next(4) as usize);
            let m = meta(5);
            let mut send = SnapshotSend::new(LogIndex(5));
            let mut slot = None;
            // Messages in flight: chunks (offset, end) and answers (offset, gap).
            let mut chunks: Vec<(u64, u64)> = Vec::new();
            let mut answers: Vec<(u64, bool)> = Vec::new();
            let mut done = None;
            for step in 0..20_000 {
                while let Some((start, end)) = send.next_chunk(len, chunk, window) {
                    chunks.push((start, end));
                }
                assert!(send.acked <= len && send.next <= len, "seed {seed}");
                assert!(
                    send.next - send.acked <= chunk * window as u64,
                    "seed {seed}"
                );
                if step % 10 == 0 {
                    send.heartbeat();
                }
                match next(4) {
                    0 | 1 if !chunks.is_empty() => {
                        let (start, end) = chunks.swap_remove(next(chunks.len() as u64) as usize);
                        if next(5) == 0 {
                            continue; // lost
                        }
                        if next(5) == 0 {
                            chunks.push((start, end)); // duplicated
                        }
                        let piece = &data[start as usize..end as usize];
                        match SnapshotReceiver::accept(
                            &mut slot,
                            Term(1),
                            &m,
                            start,
                            piece,
                            end == len,
                            MAX,
                        ) {
                            ChunkOutcome::Expect(o) => answers.push((o, false)),
                            ChunkOutcome::Gap(o) => answers.push((o, true)),
                            ChunkOutcome::Complete(s) => {
                                done = Some(s.data);
                                break;
                            }
                            ChunkOutcome::TooLarge => panic!("seed {seed}: too large"),
                        }
                    }
                    2 if !answers.is_empty() => {
                        let (offset, gap) =
                            answers.swap_remove(next(answers.len() as u64) as usize);
                        if next(5) != 0 {
                            send.answered(offset, gap);
                        }
                    }
                    _ => {}
                }
            }
            assert_eq!(
                done.as_deref(),
                Some(&data[..]),
                "seed {seed}: len {len} chunk {chunk} window {window}"
            );
        }
    }
}
