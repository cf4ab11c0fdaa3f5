//! Bad input never panics and never silently diverges: overflows and over-spending
//! are typed errors that change nothing; the anti-entropy node ignores strangers,
//! rejects values that fail validation (without acknowledging them), and clamps
//! acknowledgements from the future.

use synod_core::{Action, Actions, Input, Node, NodeId};
use synod_crdt::sync::{AntiEntropy, SyncConfig, SyncEvent, SyncMessage};
use synod_crdt::*;

fn bump(c: &mut GCounter, at: NodeId, by: &u64) -> Result<GCounter, CrdtError> {
    c.increment(at, *by)
}

// A counter at u64::MAX refuses to wrap and is unchanged.
#[test]
fn counter_overflow_is_typed_and_changes_nothing() {
    let mut c = GCounter::new();
    c.increment(NodeId(1), u64::MAX).unwrap();
    let before = c.clone();
    assert_eq!(c.increment(NodeId(1), 1), Err(CrdtError::Overflow));
    assert_eq!(c, before);
    let mut pn = PNCounter::new();
    pn.decrement(NodeId(1), u64::MAX).unwrap();
    assert_eq!(pn.decrement(NodeId(1), 1), Err(CrdtError::Overflow));
    // The value cannot overflow: it is wider than any entry.
    c.increment(NodeId(2), u64::MAX).unwrap();
    assert_eq!(c.value(), 2 * u128::from(u64::MAX));
}

// A bounded counter never spends rights it does not hold, and never goes negative.
#[test]
fn bounded_counter_refuses_overspending() {
    let (a, b) = (NodeId(1), NodeId(2));
    let mut c = BoundedCounter::new();
    c.increment(a, 3).unwrap();
    let before = c.clone();
    assert!(matches!(
        c.decrement(a, 4),
        Err(CrdtError::InsufficientRights { available: 3, .. })
    ));
    assert!(matches!(
        c.transfer(a, b, 4),
        Err(CrdtError::InsufficientRights { .. })
    ));
    assert_eq!(c.transfer(a, a, 1), Err(CrdtError::SelfTransfer));
    assert_eq!(c, before);
}

// A message from a node that is not a peer is ignored, reported, and not acknowledged.
#[test]
fn sync_ignores_unknown_senders() {
    let (a, b, stranger) = (NodeId(1), NodeId(2), NodeId(99));
    let mut node = AntiEntropy::new(a, SyncConfig::new(vec![b]), bump);
    let mut delta = GCounter::new();
    delta.increment(stranger, 7).unwrap();
    let mut out = Actions::new();
    node.step(
        Input::Message {
            from: stranger,
            msg: SyncMessage::Deltas {
                group: delta,
                upto: 1,
            },
        },
        &mut out,
    );
    assert_eq!(node.state().value(), 0);
    assert_eq!(
        out.as_slice(),
        &[Action::Emit(SyncEvent::UnknownSender(stranger))]
    );
}

// A delta that fails validation (a dot outside its own context) is rejected, not
// joined and not acknowledged, so the sender keeps retrying a value nobody accepts
// rather than anyone diverging.
#[test]
fn sync_rejects_invalid_deltas() {
    fn add(s: &mut MvReg<u8>, at: NodeId, v: &u8) -> Result<MvReg<u8>, CrdtError> {
        s.set(at, *v)
    }
    let (a, b) = (NodeId(1), NodeId(2));
    let mut node = AntiEntropy::new(a, SyncConfig::new(vec![b]), add);
    // One entry, dot (2,3) → 5, context {2:1}: decoded with plain postcard, which
    // (unlike `encoding::decode`) does not validate — as a careless transport might.
    let bad: MvReg<u8> = postcard::from_bytes(&[1, 2, 3, 5, 1, 2, 1, 0]).unwrap();
    assert!(bad.validate().is_err());
    let mut out = Actions::new();
    node.step(
        Input::Message {
            from: b,
            msg: SyncMessage::Deltas {
                group: bad,
                upto: 1,
            },
        },
        &mut out,
    );
    assert!(node.state().values().next().is_none());
    assert!(
        matches!(out.as_slice(), [Action::Emit(SyncEvent::Rejected { from, .. })] if *from == b)
    );
}

// An acknowledgement beyond anything sent is clamped: the node still delivers the
// deltas it buffered after the bogus ack, and after a real ack sends nothing more.
#[test]
fn sync_clamps_acks_from_the_future() {
    let (a, b) = (NodeId(1), NodeId(2));
    let mut node = AntiEntropy::new(a, SyncConfig::new(vec![b]), bump);
    let mut out = Actions::new();
    node.step(Input::Request(1), &mut out);
    node.step(
        Input::Message {
            from: b,
            msg: SyncMessage::Ack {
                upto: 1_000,
                seen: synod_clocks::VersionVector::new(),
            },
        },
        &mut out,
    );
    node.step(Input::Request(1), &mut out);
    out.clear();
    node.step(Input::Tick, &mut out);
    // The future ack counted only as "up to 1": the second delta is still sent.
    assert!(matches!(
        out.as_slice(),
        [Action::Send {
            msg: SyncMessage::Deltas { upto: 2, .. },
            ..
        }]
    ));
    node.step(
        Input::Message {
            from: b,
            msg: SyncMessage::Ack {
                upto: 2,
                seen: synod_clocks::VersionVector::new(),
            },
        },
        &mut out,
    );
    out.clear();
    node.step(Input::Tick, &mut out);
    assert!(out.is_empty());
    assert_eq!(node.buffered(), 0, "acknowledged deltas are collected");
}
