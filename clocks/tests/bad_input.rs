//! Bad input from the list, one by one: a counter at `u64::MAX` in every
//! clock, dense clocks of different memberships, misuse of ITC stamps. Each is a
//! typed error and leaves the clock unchanged — never a panic, never a wrap.

use synod_clocks::{
    CausalBuffer, CausalContext, CausalMessage, ClockError, DeliveryError, DenseVClock, Dot,
    LamportClock, Membership, SparseVClock, VectorClock, VersionVector,
};
use synod_core::NodeId;

const A: NodeId = NodeId(1);

// Lamport: an event at u64::MAX, and a peer's timestamp at u64::MAX.
#[test]
fn lamport_at_max() {
    let mut c = LamportClock::resume(A, u64::MAX);
    assert_eq!(c.event(), Err(ClockError::Overflow));
    assert_eq!(c.time(), u64::MAX);
    let mut c = LamportClock::new(A);
    assert_eq!(c.receive(u64::MAX), Err(ClockError::Overflow));
    assert_eq!(c.time(), 0, "unchanged");
}

// Version vectors, sparse and dense vector clocks, causal contexts at u64::MAX.
#[test]
fn vectors_at_max() {
    let mut vv = VersionVector::from_entries([(A, u64::MAX)]);
    assert_eq!(vv.increment(A), Err(ClockError::Overflow));
    assert_eq!(vv.next_dot(A), Err(ClockError::Overflow));
    assert_eq!(vv.get(A), u64::MAX);
    let mut sparse: SparseVClock = vv.clone();
    let before = sparse.clone();
    assert_eq!(sparse.receive(A, &before), Err(ClockError::Overflow));
    assert_eq!(sparse, before, "receive is all or nothing");
    let m = Membership::new([A]);
    let mut dense = DenseVClock::from_counters(&m, vec![u64::MAX]).unwrap();
    assert_eq!(dense.event(0), Err(ClockError::Overflow));
    let mut cc = CausalContext::from_version_vector(vv);
    assert_eq!(cc.make_dot(A), Err(ClockError::Overflow));
    let mut cc = CausalContext::new();
    cc.insert(Dot::new(A, u64::MAX));
    assert_eq!(cc.next_dot(A), Err(ClockError::Overflow));
}

// Merging or comparing dense clocks of different membership.
#[test]
fn dense_membership_mismatch() {
    let small = DenseVClock::new(&Membership::new([A]));
    let mut big = DenseVClock::new(&Membership::new([A, NodeId(2)]));
    assert_eq!(
        big.merge(&small),
        Err(ClockError::MembershipMismatch { left: 2, right: 1 })
    );
    assert_eq!(
        big.causality(&small),
        Err(ClockError::MembershipMismatch { left: 2, right: 1 })
    );
    assert!(DenseVClock::from_counters(&Membership::new([A]), vec![1, 2]).is_err());
}

// A peer's causal message claiming u64::MAX broadcasts is held (bounded), never
// delivered, and does not disturb delivery of real messages.
#[test]
fn forged_causal_clock_at_max() {
    let mut sender = CausalBuffer::new(A, 4);
    let mut receiver = CausalBuffer::new(NodeId(2), 1);
    let forged = CausalMessage {
        sender: A,
        clock: VersionVector::from_entries([(A, u64::MAX)]),
        payload: 0,
    };
    assert!(receiver.receive(forged.clone()).is_ok());
    assert!(receiver.pop_ready().is_none());
    // The buffer is full: another undeliverable message is refused ...
    let mut ahead = forged;
    ahead.clock = VersionVector::from_entries([(A, 5)]);
    assert_eq!(
        receiver.receive(ahead),
        Err(DeliveryError::Full { capacity: 1 })
    );
    // ... but a deliverable one still gets through.
    receiver.receive(sender.broadcast(7).unwrap()).unwrap();
    assert_eq!(receiver.pop_ready().map(|m| m.payload), Some(7));
}
