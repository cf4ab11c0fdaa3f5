//! Every decoder survives hostile bytes: random input and corrupted valid encodings
//! give a typed `DecodeError` or — because encodings are canonical — a value that
//! re-encodes to exactly the input. Never a panic.

mod support;

use proptest::prelude::*;
use support::config;
use synod_clocks::{CausalContext, DecodeError, Dot, Dvv, DvvSet, Stamp, VersionVector};
use synod_core::NodeId;

/// `decode` on `bytes` either fails or gives a value whose encoding is `bytes`.
fn canonical<T: std::fmt::Debug>(
    bytes: &[u8],
    decode: impl Fn(&[u8]) -> Result<T, DecodeError>,
    encode: impl Fn(&T) -> Vec<u8>,
) -> Result<(), TestCaseError> {
    if let Ok(value) = decode(bytes) {
        prop_assert_eq!(
            encode(&value),
            bytes,
            "{:?} decoded from a non-canonical form",
            value
        );
    }
    Ok(())
}

fn all_decoders(bytes: &[u8]) -> Result<(), TestCaseError> {
    canonical(bytes, VersionVector::decode, VersionVector::encode)?;
    canonical(bytes, CausalContext::decode, CausalContext::encode)?;
    canonical(bytes, Dvv::decode, Dvv::encode)?;
    canonical(bytes, DvvSet::<Vec<u8>>::decode, DvvSet::encode)?;
    canonical(bytes, Stamp::decode, Stamp::encode)?;
    Ok(())
}

fn valid_encodings() -> impl Strategy<Value = Vec<u8>> {
    let vv = prop::collection::vec((0u64..1000, 1u64..u64::MAX), 0..5)
        .prop_map(|p| VersionVector::from_entries(p.into_iter().map(|(r, n)| (NodeId(r), n))));
    prop_oneof![
        vv.clone().prop_map(|v| v.encode()),
        prop::collection::vec((0u64..4, 1u64..20), 0..10).prop_map(|dots| {
            let mut cc = CausalContext::new();
            for (r, n) in dots {
                cc.insert(Dot::new(NodeId(r), n));
            }
            cc.encode()
        }),
        (vv.clone(), 0u64..5, 1u64..100).prop_map(|(v, r, n)| {
            Dvv::new(Dot::new(NodeId(r), n), v)
                .map(|d| d.encode())
                .unwrap_or_default()
        }),
        prop::collection::vec((0u64..3, prop::collection::vec(any::<u8>(), 0..4)), 0..6).prop_map(
            |writes| {
                let mut set = DvvSet::new_empty();
                for (r, value) in writes {
                    let ctx = if r == 0 {
                        VersionVector::new()
                    } else {
                        set.join()
                    };
                    set.update(&ctx, NodeId(r), value).unwrap();
                }
                set.encode()
            }
        ),
        prop::collection::vec(0u8..3, 0..30).prop_map(|steps| {
            let mut live = vec![Stamp::seed()];
            for (k, s) in steps.into_iter().enumerate() {
                let i = k % live.len();
                match s {
                    0 => live[i].event().unwrap(),
                    1 => {
                        let (a, b) = live.swap_remove(i).fork();
                        live.push(a);
                        live.push(b);
                    }
                    _ => {
                        let msg = live[(k + 1) % live.len()].peek();
                        let me = live.swap_remove(i);
                        live.push(me.join(msg).unwrap());
                    }
                }
            }
            live[0].encode()
        }),
    ]
}

proptest! {
    #![proptest_config(config(512))]

    // Random bytes never panic any decoder, and anything accepted is canonical.
    #[test]
    fn random_bytes_are_rejected_or_canonical(bytes in prop::collection::vec(any::<u8>(), 0..48)) {
        all_decoders(&bytes)?;
    }

    // Valid encodings with one bit flipped, truncated, or extended.
    #[test]
    fn corrupted_encodings_are_rejected_or_canonical(
        bytes in valid_encodings(),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
        cut in any::<prop::sample::Index>(),
        extra in any::<u8>(),
    ) {
        all_decoders(&bytes)?;
        if !bytes.is_empty() {
            let mut flipped = bytes.clone();
            flipped[flip.index(bytes.len())] ^= 1 << bit;
            all_decoders(&flipped)?;
            all_decoders(&bytes[..cut.index(bytes.len())])?;
        }
        let mut longer = bytes.clone();
        longer.push(extra);
        all_decoders(&longer)?;
    }
}

proptest! {
    #![proptest_config(config(256))]

    // decode(encode(x)) == x for every type with an encoding.
    #[test]
    fn encode_then_decode_is_identity(
        pairs in prop::collection::vec((0u64..1_000, 1u64..u64::MAX), 0..6),
        dots in prop::collection::vec((0u64..4, 1u64..30), 0..12),
        writes in prop::collection::vec((0u64..3, any::<bool>(), prop::collection::vec(any::<u8>(), 0..5)), 0..8),
        dot in (0u64..5, 1u64..100),
    ) {
        let vv = VersionVector::from_entries(pairs.into_iter().map(|(r, n)| (NodeId(r), n)));
        prop_assert_eq!(VersionVector::decode(&vv.encode()), Ok(vv.clone()));
        let mut cc = CausalContext::new();
        for (r, n) in dots {
            cc.insert(Dot::new(NodeId(r), n));
        }
        prop_assert_eq!(CausalContext::decode(&cc.encode()), Ok(cc));
        if let Ok(dvv) = Dvv::new(Dot::new(NodeId(dot.0), dot.1), vv) {
            prop_assert_eq!(Dvv::decode(&dvv.encode()), Ok(dvv));
        }
        let mut set = DvvSet::new_empty();
        for (r, read_first, value) in writes {
            let ctx = if read_first { set.join() } else { VersionVector::new() };
            set.update(&ctx, NodeId(r), value).unwrap();
        }
        prop_assert_eq!(DvvSet::decode(&set.encode()), Ok(set));
    }
}

// Specific malformed inputs get the specific error.
#[test]
fn malformed_inputs_get_typed_errors() {
    // A length far beyond the input: rejected before allocating.
    assert_eq!(
        VersionVector::decode(&[0xff, 0xff, 0xff, 0xff, 0x0f]),
        Err(DecodeError::OutOfRange)
    );
    // Replicas out of order.
    assert!(matches!(
        VersionVector::decode(&[2, 5, 1, 3, 1]),
        Err(DecodeError::NotCanonical(_))
    ));
    // A zero counter.
    assert!(matches!(
        VersionVector::decode(&[1, 5, 0]),
        Err(DecodeError::NotCanonical(_))
    ));
    // Empty input.
    assert_eq!(Stamp::decode(&[]), Err(DecodeError::Truncated));
    // An ITC id nested beyond the limit: (0, (0, (0, ...))) as 2-bit tags "01".
    let deep = vec![0b0101_0101u8; 200];
    assert_eq!(
        Stamp::decode(&deep),
        Err(DecodeError::TooDeep(synod_clocks::itc::MAX_DEPTH))
    );
    // An unnormalized ITC id (1, 1) = <3,2> <0,2><1,1> <0,2><1,1>, event 0.
    let bits = "11".to_string() + "001" + "001" + "1" + "0" + "00";
    assert!(matches!(
        Stamp::decode(&pack(&bits)),
        Err(DecodeError::NotCanonical(_))
    ));
    // A DVV whose dot is already in its context.
    let mut bytes = vec![1, 2];
    bytes.extend(VersionVector::from_entries([(NodeId(1), 5)]).encode());
    assert!(matches!(
        Dvv::decode(&bytes),
        Err(DecodeError::NotCanonical(_))
    ));
}

fn pack(bits: &str) -> Vec<u8> {
    let mut out = vec![0u8; bits.len().div_ceil(8)];
    for (k, c) in bits.chars().enumerate() {
        if c == '1' {
            out[k / 8] |= 0x80 >> (k % 8);
        }
    }
    out
}
