//! A stable, versioned binary encoding: one format-version byte, then the value in
//! postcard (serde's compact, non-self-describing varint format). Decoding checks the
//! version, rejects malformed or trailing bytes, and validates the value
//! ([`Lattice::validate`]) so what comes out is safe to join.
//!
//! The format is pinned by golden vectors in `tests/encoding.rs`: changing the layout
//! of any type breaks them, and must come with a new [`FORMAT_VERSION`]. Version 2
//! added the remove-wins set's pruning floor (a version vector after the tokens);
//! version-1 bytes are refused as an unknown version.
//!
//! ```
//! use synod_crdt::encoding::{decode, encode};
//! use synod_crdt::GCounter;
//! use synod_core::NodeId;
//! let mut c = GCounter::new();
//! c.increment(NodeId(1), 5)?;
//! let bytes = encode(&c);
//! assert_eq!(bytes, [2, 1, 1, 5]);      // version 2; one entry: replica 1, count 5
//! assert_eq!(decode::<GCounter>(&bytes).unwrap(), c);
//! # Ok::<(), synod_crdt::CrdtError>(())
//! ```

use crate::{InvalidState, Lattice};

/// The version byte every encoding starts with.
pub const FORMAT_VERSION: u8 = 2;

/// Bytes that could not be decoded into a valid value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// No bytes at all.
    #[error("empty input")]
    Empty,
    /// A format version this build does not know.
    #[error("unknown format version {0}")]
    UnknownVersion(u8),
    /// The bytes are not a value of the type (truncated, out of range, trailing data).
    #[error("malformed encoding: {0}")]
    Malformed(String),
    /// The value decoded but breaks an invariant of its type.
    #[error("invalid value: {0}")]
    Invalid(#[from] InvalidState),
}

/// Encode `value` with the version byte.
pub fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let out = vec![FORMAT_VERSION];
    // Serializing our own types into a Vec cannot fail: every field is plain data.
    match postcard::to_extend(value, out) {
        Ok(bytes) => bytes,
        Err(_) => vec![FORMAT_VERSION],
    }
}

/// Decode and validate what [`encode`] produced.
///
/// # Errors
/// [`DecodeError`]; never panics, whatever the bytes.
pub fn decode<T: serde::de::DeserializeOwned + Lattice>(bytes: &[u8]) -> Result<T, DecodeError> {
    let (&version, rest) = bytes.split_first().ok_or(DecodeError::Empty)?;
    if version != FORMAT_VERSION {
        return Err(DecodeError::UnknownVersion(version));
    }
    let (value, trailing): (T, &[u8]) =
        postcard::take_from_bytes(rest).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if !trailing.is_empty() {
        return Err(DecodeError::Malformed(format!(
            "{} trailing bytes",
            trailing.len()
        )));
    }
    value.validate()?;
    Ok(value)
}
