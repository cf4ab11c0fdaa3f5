//! Decoders face hostile bytes: arbitrary frames never panic the codec, oversized
//! frames are refused, and every message survives encode then decode.

use proptest::prelude::*;
use synod_core::{Codec, PostcardCodec};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
enum Message {
    Vote { term: u64, granted: bool },
    Append { term: u64, entries: Vec<Vec<u8>> },
    Note(String),
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (any::<u64>(), any::<bool>()).prop_map(|(term, granted)| Message::Vote { term, granted }),
        (
            any::<u64>(),
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..32), 0..8)
        )
            .prop_map(|(term, entries)| Message::Append { term, entries }),
        ".{0,40}".prop_map(Message::Note),
    ]
}

fn cases() -> u32 {
    std::env::var("SYNOD_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases() * 4))]

    #[test]
    fn arbitrary_frames_never_panic(frame in prop::collection::vec(any::<u8>(), 0..256)) {
        // Any outcome is fine except a panic; a success is a real message that
        // round-trips.
        let codec = PostcardCodec::<Message>::new(1 << 16);
        if let Ok(msg) = codec.decode(&frame) {
            let again = codec.encode(&msg).unwrap();
            prop_assert_eq!(codec.decode(&again).unwrap(), msg);
        }
    }

    #[test]
    fn encode_then_decode_is_identity(msg in message()) {
        let codec = PostcardCodec::<Message>::new(1 << 16);
        let frame = codec.encode(&msg).unwrap();
        prop_assert_eq!(codec.decode(&frame).unwrap(), msg);
    }

    #[test]
    fn corrupted_frames_are_errors_or_other_messages(msg in message(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
        // Flipping a bit gives a typed error or some other valid message, never a panic.
        let codec = PostcardCodec::<Message>::new(1 << 16);
        let mut frame = codec.encode(&msg).unwrap().to_vec();
        let i = at.index(frame.len());
        frame[i] ^= 1 << bit;
        let _ = codec.decode(&frame);
    }
}

#[test]
fn oversized_frames_are_refused_both_ways() {
    // The frame limit holds on encode and on decode; a hostile length prefix cannot
    // make the decoder allocate beyond the frame.
    let codec = PostcardCodec::<Message>::new(64);
    let big = Message::Note("x".repeat(100));
    assert!(codec.encode(&big).is_err());
    assert!(codec.decode(&[0u8; 65]).is_err());
    // Variant 1 (Append) with a vector length prefix of about 2^35 in 6 bytes.
    let hostile = [1u8, 0, 0xff, 0xff, 0xff, 0xff, 0x7f];
    assert!(codec.decode(&hostile).is_err());
    // Trailing garbage after a valid message is refused, not ignored.
    let mut frame = codec.encode(&Message::Note("hi".into())).unwrap().to_vec();
    frame.push(0);
    assert!(codec.decode(&frame).is_err());
}
