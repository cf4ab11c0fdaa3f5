//! Byte- and bit-level helpers for the compact encodings. Every read is bounds-checked
//! and returns a `DecodeError` instead of panicking.

use crate::DecodeError;

/// Append `value` as an unsigned LEB128 varint (1 to 10 bytes).
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads varints from a byte slice.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    pub(crate) fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = *self.bytes.get(self.pos).ok_or(DecodeError::Truncated)?;
            self.pos += 1;
            let bits = u64::from(byte & 0x7f);
            // The tenth byte may carry only the top bit of a u64; a non-minimal
            // trailing zero byte is rejected so every value has one encoding.
            if shift == 63 && bits > 1 {
                return Err(DecodeError::OutOfRange);
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                if byte == 0 && shift > 0 {
                    return Err(DecodeError::NotCanonical("overlong varint"));
                }
                return Ok(value);
            }
        }
        Err(DecodeError::OutOfRange)
    }

    /// A length prefix for items that take at least `min_item_bytes` each, checked
    /// against what is left so a hostile length cannot trigger a huge allocation.
    pub(crate) fn length(&mut self, min_item_bytes: usize) -> Result<usize, DecodeError> {
        let len = self.varint()?;
        let left = (self.bytes.len() - self.pos) as u64;
        if len.saturating_mul(min_item_bytes as u64) > left {
            return Err(DecodeError::OutOfRange);
        }
        usize::try_from(len).map_err(|_| DecodeError::OutOfRange)
    }

    pub(crate) fn bytes(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(len).ok_or(DecodeError::OutOfRange)?;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(slice)
    }

    /// The bytes not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.bytes[self.pos..]
    }

    /// How many bytes were read.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(DecodeError::TrailingData)
        }
    }
}

/// Writes values of a given bit width, most significant bit first.
#[derive(Default)]
pub(crate) struct BitWriter {
    bytes: Vec<u8>,
    bits: u64,
}

impl BitWriter {
    /// Append the low `width` bits of `value` (width ≤ 64).
    pub(crate) fn put(&mut self, value: u64, width: u32) {
        for k in (0..width).rev() {
            let bit = (value >> k) & 1;
            if self.bits.is_multiple_of(8) {
                self.bytes.push(0);
            }
            if bit == 1 {
                let last = self.bytes.len() - 1;
                self.bytes[last] |= 0x80 >> (self.bits % 8);
            }
            self.bits += 1;
        }
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

/// Reads what [`BitWriter`] wrote.
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    bit: u64,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        BitReader { bytes, bit: 0 }
    }

    pub(crate) fn get(&mut self, width: u32) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for _ in 0..width {
            let byte = *self
                .bytes
                .get((self.bit / 8) as usize)
                .ok_or(DecodeError::Truncated)?;
            let bit = (byte >> (7 - (self.bit % 8))) & 1;
            value = (value << 1) | u64::from(bit);
            self.bit += 1;
        }
        Ok(value)
    }

    /// The rest of the last byte must be zero padding, and nothing may follow it.
    pub(crate) fn finish(&mut self) -> Result<(), DecodeError> {
        let total = self.bytes.len() as u64 * 8;
        if total.saturating_sub(self.bit) >= 8 {
            return Err(DecodeError::TrailingData);
        }
        while self.bit < total {
            if self.get(1)? != 0 {
                return Err(DecodeError::TrailingData);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Varints round-trip at the edges, and an eleventh byte is an error, not a panic.
    #[test]
    fn varint_edges() {
        for v in [0, 1, 127, 128, 300, u64::MAX - 1, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            let mut r = Reader::new(&out);
            assert_eq!(r.varint(), Ok(v));
            assert_eq!(r.finish(), Ok(()));
        }
        let mut r = Reader::new(&[0xff; 11]);
        assert!(r.varint().is_err());
        let mut r = Reader::new(&[0x80, 0x00]);
        assert!(r.varint().is_err());
    }

    // Bits written are read back in the same order and padding is checked.
    #[test]
    fn bits_roundtrip() {
        let mut w = BitWriter::default();
        w.put(0b101, 3);
        w.put(u64::MAX, 64);
        w.put(0, 2);
        let bytes = w.finish();
        let mut r = BitReader::new(&bytes);
        assert_eq!(r.get(3), Ok(0b101));
        assert_eq!(r.get(64), Ok(u64::MAX));
        assert_eq!(r.get(2), Ok(0));
        assert_eq!(r.finish(), Ok(()));
    }
}
