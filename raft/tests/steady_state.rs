//! The leader's hot path in steady state: three nodes driven by hand (one FIFO queue,
//! background writes acknowledged at once, no ticks after the election), as the
//! replication benchmarks drive them.

use bytes::Bytes;
use synod_core::Input;
use synod_raft::Request;

mod lockstep;
use lockstep::Lockstep as Cluster;

// Followers apply a committed batch as soon as the messages settle, without waiting
// for the next heartbeat: the leader tells them the new commit index (etcd/raft's
// commit broadcast), and does so with one message per follower, not one per entry.
#[test]
fn followers_apply_a_batch_without_waiting_for_a_heartbeat() {
    let mut c = Cluster::elected();
    for round in 1..=3usize {
        let before = c.sent;
        let batch = (0..64).map(|i| Bytes::from(vec![i as u8; 128])).collect();
        c.step(0, Input::Request(Request::ProposeBatch(batch)));
        c.quiesce();
        assert_eq!(c.applied, [64 * round; 3], "round {round}");
        // Per follower: one append, its answer, one commit notice, its answer.
        assert_eq!(c.sent - before, 8, "round {round}");
    }
    for node in &c.nodes {
        assert_eq!(node.applied_index(), node.last_index());
    }
}

// The same with one request per command: every entry is applied everywhere once the
// messages settle, and the commit notice waits for the last answer of a burst — one
// per follower per burst, not one per entry.
#[test]
fn followers_apply_single_proposals_without_waiting_for_a_heartbeat() {
    let mut c = Cluster::elected();
    let mut before = c.sent;
    for i in 0..100usize {
        let command = Bytes::from(vec![i as u8; 16]);
        c.step(0, Input::Request(Request::Propose(command)));
        if i % 10 == 9 {
            c.quiesce();
            assert_eq!(c.applied, [i + 1; 3]);
            // Per follower: ten appends and answers, one notice and its answer.
            assert_eq!(c.sent - before, 2 * (2 * 10 + 2), "after {}", i + 1);
            before = c.sent;
        }
    }
}
