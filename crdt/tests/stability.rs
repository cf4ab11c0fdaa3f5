//! Causal stability and tombstone pruning: pruning stable remove tokens never changes
//! what any replica reads, also when the replicas that have not pruned are joined in
//! later; a dot is not stable while a concurrent update can still arrive (a broken
//! rule that ignores this is caught diverging); retired and unknown replicas are
//! refused.

use synod_clocks::VersionVector;
use synod_core::NodeId;
use synod_crdt::stability::Stability;
use synod_crdt::{InvalidState, Lattice, RWSet};

const A: NodeId = NodeId(1);
const B: NodeId = NodeId(2);

fn contents(s: &RWSet<u8>) -> Vec<u8> {
    s.iter().copied().collect()
}

/// A removes x while B concurrently adds x; B then sees the remove and reports.
fn concurrent_remove_and_add() -> (RWSet<u8>, RWSet<u8>, RWSet<u8>, Stability) {
    let mut ra = RWSet::new();
    let mut rb = RWSet::new();
    let base = ra.insert(A, 0).unwrap();
    rb.join(&base);
    let remove = ra.remove(A, 9).unwrap();
    let add = rb.insert(B, 9).unwrap();
    rb.join(&remove);
    let mut st = Stability::new([A, B]);
    st.observe(A, ra.context().version_vector()).unwrap();
    st.observe(B, rb.context().version_vector()).unwrap();
    (ra, rb, add, st)
}

// While B's concurrent add has not reached A, nothing at A is stable.
#[test]
fn not_stable_while_a_concurrent_update_can_arrive() {
    let (ra, _, _, st) = concurrent_remove_and_add();
    assert!(st.stable(ra.context().version_vector()).is_none());
}

// The rule with only the meet of the reports (no catch-up check) prunes the remove
// token at A too early; when B's concurrent add arrives, the remove no longer wins:
// the replicas read x although the same execution without pruning reads no x.
#[test]
fn meet_only_rule_is_caught_losing_a_remove() {
    let (mut ra, mut rb, add, _) = concurrent_remove_and_add();
    let mut reference = ra.clone();
    reference.join(&add);
    reference.join(&rb);
    assert!(!reference.contains(&9), "remove wins without pruning");
    // Test-local broken rule: the pointwise minimum of the reports, used regardless.
    let meet = VersionVector::from_entries([(A, 2)]);
    assert_eq!(ra.prune(&meet), 1);
    ra.join(&add);
    rb.join(&ra);
    ra.join(&rb);
    assert_ne!(
        contents(&ra),
        contents(&reference),
        "premature pruning must be visible"
    );
}

// With the correct rule, once everything has arrived, pruning keeps both replicas
// reading the same set, including after they join each other again.
#[test]
fn pruning_stable_tokens_preserves_reads() {
    let (mut ra, mut rb, add, mut st) = concurrent_remove_and_add();
    ra.join(&add);
    ra.join(&rb);
    rb.join(&ra);
    st.observe(A, ra.context().version_vector()).unwrap();
    st.observe(B, rb.context().version_vector()).unwrap();
    // x has a remove and a concurrent add: the remove must stay (remove wins).
    let stable = st.stable(ra.context().version_vector()).unwrap();
    assert_eq!(ra.prune(&stable), 0);
    // B removes x again, everyone syncs: now x's only tokens are removes.
    let again = rb.remove(B, 9).unwrap();
    ra.join(&again);
    st.observe(A, ra.context().version_vector()).unwrap();
    st.observe(B, rb.context().version_vector()).unwrap();
    let before = contents(&ra);
    let tokens = ra.tokens();
    let stable = st.stable(ra.context().version_vector()).unwrap();
    assert_eq!(ra.prune(&stable), 1);
    assert!(ra.tokens() < tokens);
    assert_eq!(contents(&ra), before);
    // The unpruned replica and the pruned one still agree after joining both ways.
    let mut ab = ra.clone();
    ab.join(&rb);
    let mut ba = rb.clone();
    ba.join(&ra);
    assert_eq!(contents(&ab), before);
    assert_eq!(contents(&ba), before);
    // And a later add of x is not masked by anything pruned.
    let late = rb.insert(B, 9).unwrap();
    ra.join(&late);
    assert!(ra.contains(&9));
}

// Reports from retired or unknown replicas are refused; retired ones stop counting.
#[test]
fn retired_and_unknown_replicas_are_refused() {
    let mut st = Stability::new([A, B]);
    st.observe(A, &VersionVector::from_entries([(A, 3)]))
        .unwrap();
    assert!(
        st.stable(&VersionVector::from_entries([(A, 3)]))
            .is_some_and(|v| v.get(A) == 0)
    );
    st.retire(B, &VersionVector::new());
    assert!(st.is_retired(B));
    assert_eq!(
        st.observe(B, &VersionVector::new()),
        Err(InvalidState::Retired(B))
    );
    assert_eq!(
        st.observe(NodeId(7), &VersionVector::new()),
        Err(InvalidState::UnknownReplica(NodeId(7)))
    );
    assert_eq!(
        st.stable(&VersionVector::from_entries([(A, 3)]))
            .map(|v| v.get(A)),
        Some(3)
    );
}

// Found by the simulator: a replica that pruned a remove token and then re-adds the
// element must not leave a replica that still holds the token reading "absent"
// forever — the re-add's delta carries the pruning floor, which drops the token there.
#[test]
fn re_add_after_pruning_reaches_unpruned_replicas() {
    let mut ra = RWSet::new();
    let mut rb = RWSet::new();
    rb.join(&ra.insert(A, 9).unwrap());
    rb.join(&ra.remove(A, 9).unwrap());
    let mut st = Stability::new([A, B]);
    st.observe(A, ra.context().version_vector()).unwrap();
    st.observe(B, rb.context().version_vector()).unwrap();
    let stable = st.stable(ra.context().version_vector()).unwrap();
    assert_eq!(ra.prune(&stable), 1);
    let re_add = ra.insert(A, 9).unwrap();
    rb.join(&re_add);
    assert!(ra.contains(&9) && rb.contains(&9));
    assert_eq!(contents(&ra), contents(&rb));
}

// A retired member's final updates hold stability back until they have arrived: an
// add it made concurrently with a remove may still be on its way.
#[test]
fn retired_members_last_updates_must_arrive_first() {
    let mut st = Stability::new([A, B, NodeId(3)]);
    st.observe(A, &VersionVector::from_entries([(A, 2)]))
        .unwrap();
    st.observe(B, &VersionVector::from_entries([(A, 2)]))
        .unwrap();
    st.retire(NodeId(3), &VersionVector::from_entries([(NodeId(3), 4)]));
    assert!(st.stable(&VersionVector::from_entries([(A, 2)])).is_none());
    let stable = st
        .stable(&VersionVector::from_entries([(A, 2), (NodeId(3), 4)]))
        .unwrap();
    assert_eq!(stable.get(A), 2);
}
