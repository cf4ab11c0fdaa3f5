//! The versioned encoding: golden vectors pin the byte layout of every type (a change
//! fails here and needs a new format version), values round-trip, and malformed input
//! — random bytes, truncations, unknown versions, trailing data, values that break
//! their type's invariants — yields a typed error, never a panic.

use proptest::prelude::*;
use synod_core::NodeId;
use synod_crdt::encoding::{DecodeError, decode, encode};
use synod_crdt::*;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One value of each kind the golden vectors pin.
type Golden = (
    GCounter,
    PNCounter,
    AWSet<u64>,
    MvReg<u64>,
    LwwReg<u64>,
    EWFlag,
    RWSet<u64>,
);

fn golden_values() -> Golden {
    let (a, b) = (NodeId(1), NodeId(2));
    let mut g = GCounter::new();
    g.increment(a, 3).unwrap();
    g.increment(b, 300).unwrap();
    let mut pn = PNCounter::new();
    pn.increment(a, 2).unwrap();
    pn.decrement(b, 1).unwrap();
    let mut aw = AWSet::new();
    aw.insert(a, 7).unwrap();
    aw.insert(b, 9).unwrap();
    aw.remove(&7);
    let mut mv = MvReg::new();
    mv.set(a, 5).unwrap();
    let mut other = MvReg::new();
    other.set(b, 6).unwrap();
    mv.join(&other);
    let mut lww = LwwReg::new();
    lww.set(b, 1000, 42);
    let mut ew = EWFlag::new();
    ew.enable(a).unwrap();
    let mut rw = RWSet::new();
    rw.insert(a, 1).unwrap();
    rw.remove(a, 2).unwrap();
    (g, pn, aw, mv, lww, ew, rw)
}

// Golden vectors: the format-1 bytes of one value of each kind.
#[test]
fn golden_vectors() {
    let (g, pn, aw, mv, lww, ew, rw) = golden_values();
    assert_eq!(hex(&encode(&g)), "0202010302ac02");
    assert_eq!(hex(&encode(&pn)), "02010102010201");
    assert_eq!(hex(&encode(&aw)), "020109000201020101020100");
    assert_eq!(hex(&encode(&mv)), "0202010105020106020101020100");
    assert_eq!(hex(&encode(&lww)), "0201e807022a");
    assert_eq!(hex(&encode(&ew)), "0201010101010100");
    assert_eq!(hex(&encode(&rw)), "020201010101010202000101020000");
}

// Every golden value decodes back to itself.
#[test]
fn golden_values_round_trip() {
    let (g, pn, aw, mv, lww, ew, rw) = golden_values();
    assert_eq!(decode::<GCounter>(&encode(&g)).unwrap(), g);
    assert_eq!(decode::<PNCounter>(&encode(&pn)).unwrap(), pn);
    assert_eq!(decode::<AWSet<u64>>(&encode(&aw)).unwrap(), aw);
    assert_eq!(decode::<MvReg<u64>>(&encode(&mv)).unwrap(), mv);
    assert_eq!(decode::<LwwReg<u64>>(&encode(&lww)).unwrap(), lww);
    assert_eq!(decode::<EWFlag>(&encode(&ew)).unwrap(), ew);
    assert_eq!(decode::<RWSet<u64>>(&encode(&rw)).unwrap(), rw);
}

// Unknown versions, empty input, truncation and trailing bytes are typed errors.
#[test]
fn malformed_framing_is_a_typed_error() {
    let (g, _, aw, ..) = golden_values();
    let bytes = encode(&g);
    assert_eq!(decode::<GCounter>(&[]), Err(DecodeError::Empty));
    // Version 1 (before the remove-wins floor) and a future version 3 are refused.
    for version in [1, 3] {
        let mut other = bytes.clone();
        other[0] = version;
        assert_eq!(
            decode::<GCounter>(&other),
            Err(DecodeError::UnknownVersion(version))
        );
    }
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(
        decode::<GCounter>(&trailing),
        Err(DecodeError::Malformed(_))
    ));
    let full = encode(&aw);
    for cut in 1..full.len() {
        assert!(
            decode::<AWSet<u64>>(&full[..cut]).is_err(),
            "truncated at {cut}"
        );
    }
}

// A dot from the future of its own causal context (element 9 tagged b:1 with an empty
// context) is rejected, as are non-canonical counters (unsorted or zero entries).
#[test]
fn invalid_values_are_rejected_after_decoding() {
    // version, 1 element, key 9, One, dot (2,1), empty vv, empty cloud
    let future_dot = [2, 1, 9, 0, 2, 1, 0, 0];
    assert!(matches!(
        decode::<AWSet<u64>>(&future_dot),
        Err(DecodeError::Invalid(InvalidState::DotNotInContext(_)))
    ));
    // version, 2 entries: (2, 1), (1, 1) — unsorted
    assert!(matches!(
        decode::<GCounter>(&[2, 2, 2, 1, 1, 1]),
        Err(DecodeError::Invalid(InvalidState::NotCanonical(_)))
    ));
    // version, 1 entry: (1, 0) — a zero entry
    assert!(matches!(
        decode::<GCounter>(&[2, 1, 1, 0]),
        Err(DecodeError::Invalid(InvalidState::NotCanonical(_)))
    ));
    // A multi-value register whose stored dot (1,3) its context (1:1) does not cover.
    assert!(matches!(
        decode::<MvReg<u64>>(&[2, 1, 1, 3, 5, 1, 1, 1, 0]),
        Err(DecodeError::Invalid(InvalidState::DotNotInContext(_)))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: synod_sim::proptest_cases(256), failure_persistence: None, ..ProptestConfig::default() })]

    // Random bytes never make a decoder panic (whatever the result).
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode::<GCounter>(&bytes);
        let _ = decode::<AWSet<u64>>(&bytes);
        let _ = decode::<MvReg<u64>>(&bytes);
        let _ = decode::<RWSet<u64>>(&bytes);
        let _ = decode::<BoundedCounter>(&bytes);
        let _ = decode::<LwwMap<u8, u8>>(&bytes);
    }

    // Sets built by random operations round-trip through the encoding.
    #[test]
    fn awset_round_trips(ops in proptest::collection::vec((1..4u64, 0..20u64, any::<bool>()), 0..40)) {
        let mut s = AWSet::new();
        for (r, e, add) in ops {
            if add { s.insert(NodeId(r), e).unwrap(); } else { s.remove(&e); }
        }
        prop_assert_eq!(decode::<AWSet<u64>>(&encode(&s)).unwrap(), s);
    }
}

// Golden vector of a nested observed-remove map: {1: {2: [dot a:1 → 9]}}, context {a:1}.
#[test]
fn ormap_golden_vector_and_round_trip() {
    use synod_crdt::ormap::{DotFun, DotMap, ORMap};
    let mut m: ORMap<u8, DotMap<u8, DotFun<u8>>> = ORMap::new();
    m.apply(NodeId(1), |map, dot| {
        map.update(1, |inner| inner.update(2, |r| r.write(dot, 9)))
    })
    .unwrap();
    let bytes = encode(&m);
    assert_eq!(hex(&bytes), "02010101020101010901010100");
    assert_eq!(
        decode::<ORMap<u8, DotMap<u8, DotFun<u8>>>>(&bytes).unwrap(),
        m
    );
}

// Golden vectors of the OR-map value kinds: an add-wins set nested two maps deep
// ({1: {0: {5}}}), a counter (+3 under a:1), an enable-wins flag, a disable token
// and a remove-wins remove token, each with the map's one context {a:1}.
#[test]
fn ormap_value_kinds_golden_vector() {
    use synod_crdt::ormap::{DotMap, ORMap};
    use synod_crdt::stores::{AWSetStore, CounterStore, DWFlagStore, DotSet, RWSetStore};
    let a = NodeId(1);
    let mut sets: ORMap<u8, DotMap<u8, AWSetStore<u8>>> = ORMap::new();
    sets.apply(a, |m, dot| {
        m.update(1, |i| i.update(0, |s| s.insert(dot, 5)))
    })
    .unwrap();
    assert_eq!(hex(&encode(&sets)), "0201010100010501010101010100");
    let mut counters: ORMap<u8, CounterStore> = ORMap::new();
    counters
        .try_apply(a, |m, dot| m.try_update(1, |c| c.increment(dot, 3)))
        .unwrap();
    assert_eq!(hex(&encode(&counters)), "020101010101030001010100");
    let mut flags: ORMap<u8, DotSet> = ORMap::new();
    flags
        .apply(a, |m, dot| m.update(2, |f| f.enable(dot)))
        .unwrap();
    assert_eq!(hex(&encode(&flags)), "02010201010101010100");
    let mut dw: ORMap<u8, DWFlagStore> = ORMap::new();
    dw.apply(a, |m, dot| m.update(2, |f| f.disable(dot)))
        .unwrap();
    assert_eq!(hex(&encode(&dw)), "0201020101010001010100");
    let mut rw: ORMap<u8, RWSetStore<u8>> = ORMap::new();
    rw.apply(a, |m, dot| m.update(2, |s| s.remove(dot, 4)))
        .unwrap();
    assert_eq!(hex(&encode(&rw)), "02010201040101010001010100");
    assert_eq!(
        decode::<ORMap<u8, DotMap<u8, AWSetStore<u8>>>>(&encode(&sets)).unwrap(),
        sets
    );
    assert_eq!(
        decode::<ORMap<u8, CounterStore>>(&encode(&counters)).unwrap(),
        counters
    );
    assert_eq!(decode::<ORMap<u8, DotSet>>(&encode(&flags)).unwrap(), flags);
    assert_eq!(decode::<ORMap<u8, DWFlagStore>>(&encode(&dw)).unwrap(), dw);
    assert_eq!(
        decode::<ORMap<u8, RWSetStore<u8>>>(&encode(&rw)).unwrap(),
        rw
    );
}

// A decoded map whose key holds a bottom value, or a counter part of zero, is not
// canonical and is rejected.
#[test]
fn ormap_value_kinds_non_canonical_rejected() {
    use synod_crdt::ormap::ORMap;
    use synod_crdt::stores::{CounterStore, DotSet};
    // {2: DotSet{}} with context {a:1}.
    let bytes = [2u8, 1, 2, 0, 1, 1, 1, 0];
    assert!(matches!(
        decode::<ORMap<u8, DotSet>>(&bytes),
        Err(DecodeError::Invalid(InvalidState::NotCanonical(_)))
    ));
    // {1: counter {a:1 → (0, 0)}} with context {a:1}.
    let bytes = [2u8, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0];
    assert!(matches!(
        decode::<ORMap<u8, CounterStore>>(&bytes),
        Err(DecodeError::Invalid(InvalidState::NotCanonical(_)))
    ));
}

/// Decodes `bytes` as `T` and expects a `NotCanonical` rejection.
fn rejected<T: serde::de::DeserializeOwned + Lattice>(bytes: &[u8], what: &str) {
    match decode::<T>(bytes) {
        Err(DecodeError::Invalid(InvalidState::NotCanonical(_))) => {}
        other => panic!("{what}: expected a NotCanonical rejection, got {other:?}"),
    }
}

// Crafted encodings of the synod-clocks values the crdt puts on the wire (Dot,
// VersionVector, CausalContext): serde accepts any field values, so the decode path
// validates them — zero dots, zero or unsorted vector entries, unsorted clouds, cloud
// dots the vector covers or should have absorbed — and each is a typed error.
#[test]
fn invalid_clock_values_are_rejected() {
    // AWSet: element 9 supported by dot 1:0 (every context "contains" counter 0).
    rejected::<AWSet<u8>>(&[2, 1, 9, 0, 1, 0, 0, 0], "zero dot in a set");
    // MvReg: value 5 under dot 1:0.
    rejected::<MvReg<u8>>(&[2, 1, 1, 0, 5, 0, 0], "zero dot in a register");
    // Empty sets whose context is broken: cloud unsorted (2:5 before 1:5) ...
    rejected::<AWSet<u8>>(&[2, 0, 0, 2, 2, 5, 1, 5], "unsorted cloud");
    // ... a vector with a zero counter ...
    rejected::<AWSet<u8>>(&[2, 0, 1, 1, 0, 0], "zero vector entry");
    // ... a vector with replicas out of order ...
    rejected::<AWSet<u8>>(&[2, 0, 2, 2, 1, 1, 1, 0], "unsorted vector");
    // ... a cloud dot the vector already covers, or one right after it.
    rejected::<AWSet<u8>>(&[2, 0, 1, 1, 3, 1, 1, 2], "covered cloud dot");
    rejected::<AWSet<u8>>(&[2, 0, 1, 1, 3, 1, 1, 4], "uncompacted cloud dot");
    // RWSet: no tokens, empty context, a floor with replicas out of order.
    rejected::<RWSet<u8>>(&[2, 0, 0, 0, 2, 2, 1, 1, 1], "unsorted floor");
    // An OR-map value under a zero dot.
    rejected::<synod_crdt::ORMap<u8, synod_crdt::DotSet>>(
        &[2, 1, 7, 1, 1, 0, 0, 0],
        "zero dot in a map",
    );
}
