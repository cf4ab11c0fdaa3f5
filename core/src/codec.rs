//! Turning messages into frames and back.

use bytes::Bytes;

/// A frame could not be turned back into a message. The driver drops such frames and
/// counts them; it never hands a half-decoded message to a node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("undecodable frame: {reason}")]
pub struct DecodeError {
    /// Why, in the codec's words.
    pub reason: String,
}

/// A message could not be encoded (for example it exceeds the codec's size limit).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unencodable message: {reason}")]
pub struct EncodeError {
    /// Why, in the codec's words.
    pub reason: String,
}

/// Encodes and decodes a protocol's messages for a byte transport.
///
/// `decode` receives whatever a peer (or an attacker) sent: it must reject anything
/// malformed with a [`DecodeError`], never panic, and bound what it allocates.
pub trait Codec<M>: Send + Sync {
    /// Encode one message into one frame.
    fn encode(&self, msg: &M) -> Result<Bytes, EncodeError>;
    /// Decode one frame into one message.
    fn decode(&self, frame: &[u8]) -> Result<M, DecodeError>;
}

/// A compact binary [`Codec`] for any serde type, built on `postcard`.
///
/// Frames larger than `max_frame_bytes` are rejected in both directions.
///
/// ```
/// use synod_core::{Codec, PostcardCodec};
/// let codec = PostcardCodec::<(u64, String)>::new(1024);
/// let frame = codec.encode(&(7, "hello".into())).unwrap();
/// assert_eq!(codec.decode(&frame).unwrap(), (7, "hello".to_string()));
/// assert!(codec.decode(&[0xff, 0xff, 0xff]).is_err());
/// ```
#[cfg(feature = "serde")]
pub struct PostcardCodec<M> {
    max_frame_bytes: usize,
    _message: core::marker::PhantomData<fn() -> M>,
}

#[cfg(feature = "serde")]
impl<M> PostcardCodec<M> {
    /// A codec that refuses frames over `max_frame_bytes`.
    pub const fn new(max_frame_bytes: usize) -> Self {
        PostcardCodec {
            max_frame_bytes,
            _message: core::marker::PhantomData,
        }
    }
}

#[cfg(feature = "serde")]
impl<M> Codec<M> for PostcardCodec<M>
where
    M: serde::Serialize + serde::de::DeserializeOwned,
{
    fn encode(&self, msg: &M) -> Result<Bytes, EncodeError> {
        let bytes = postcard::to_stdvec(msg).map_err(|e| EncodeError {
            reason: e.to_string(),
        })?;
        if bytes.len() > self.max_frame_bytes {
            return Err(EncodeError {
                reason: format!(
                    "{} bytes exceeds the {}-byte frame limit",
                    bytes.len(),
                    self.max_frame_bytes
                ),
            });
        }
        Ok(Bytes::from(bytes))
    }

    fn decode(&self, frame: &[u8]) -> Result<M, DecodeError> {
        if frame.len() > self.max_frame_bytes {
            return Err(DecodeError {
                reason: format!(
                    "{} bytes exceeds the {}-byte frame limit",
                    frame.len(),
                    self.max_frame_bytes
                ),
            });
        }
        // postcard bounds every length prefix by the bytes actually present, so a
        // hostile length cannot make it allocate more than the frame's size.
        let (msg, rest) = postcard::take_from_bytes(frame).map_err(|e| DecodeError {
            reason: e.to_string(),
        })?;
        if !rest.is_empty() {
            return Err(DecodeError {
                reason: format!("{} trailing bytes", rest.len()),
            });
        }
        Ok(msg)
    }
}
