//! Decoding untrusted frames without letting a count read off the wire size an allocation.
//!
//! `kafka-protocol` (0.18) decodes an array by reading its element count (an `Int32`, or an
//! unsigned varint for compact arrays) and calling `Vec::with_capacity(count)` before it reads a
//! single element: a 20-byte frame that claims two billion elements asks for tens of gigabytes,
//! and a failed allocation aborts the process. Every other length it reads (strings, bytes,
//! records) is checked against the bytes that remain before use.
//!
//! So a frame is first decoded through [`Clamped`], a buffer that never lets the decoder see an
//! `Int32` or a varint larger than the bytes that remain after it, plus one. That bounds every
//! array's capacity by the frame's size. For a frame that decodes correctly, the clamp changes no
//! structure: every count and length in it is at most the bytes that remain (each element and
//! byte takes at least one byte), so only plain values (a `max_bytes`, a timeout) can be clamped,
//! and those steer nothing. A frame with a count larger than what remains fails this first pass,
//! since `remaining + 1` elements cannot fit in `remaining` bytes. When the first pass clamped
//! nothing, its result is the answer; when it clamped a value and succeeded, the frame is decoded
//! again as it is, which is now safe because every count in it is known to fit.

use std::ops::Range;

use bytes::{Buf, Bytes};
use kafka_protocol::protocol::buf::ByteBuf;
use kafka_protocol::protocol::Decodable;

/// Decodes `body` as a `T` of `version`, with every allocation bounded by the body's size.
pub fn decode<T: Decodable>(body: &Bytes, version: i16) -> anyhow::Result<T> {
    decode_prefix(&mut body.clone(), version)
}

/// Decodes a `T` of `version` from the front of `body` and advances `body` past it, with every
/// allocation bounded by the body's size.
pub fn decode_prefix<T: Decodable>(body: &mut Bytes, version: i16) -> anyhow::Result<T> {
    let mut clamped = Clamped::new(body.clone());
    let first = T::decode(&mut clamped, version);
    let value = match first {
        Ok(value) if !clamped.altered => value,
        Ok(_) => T::decode(&mut body.clone(), version)?,
        Err(e) => return Err(e),
    };
    body.advance(body.len() - clamped.remaining());
    Ok(value)
}

/// A buffer over a frame that caps every `Int32` and unsigned varint the decoder reads at the
/// bytes remaining after it, plus one, and remembers whether it had to.
pub struct Clamped {
    data: Bytes,
    /// A varint rewritten to its clamped value in the same number of bytes, served to the
    /// decoder's next byte reads instead of the frame's bytes at the same place.
    rewritten: [u8; 5],
    rewritten_len: usize,
    rewritten_at: usize,
    /// Continuation bytes left of a varint already inspected and found within the cap.
    varint_left: usize,
    /// Whether any value the decoder saw differs from the frame's.
    altered: bool,
}

impl Clamped {
    fn new(data: Bytes) -> Self {
        Clamped { data, rewritten: [0; 5], rewritten_len: 0, rewritten_at: 0, varint_left: 0, altered: false }
    }

    /// The largest count that still leaves the decoder a chance: one more than what remains.
    fn cap(&self, after: usize) -> u64 {
        (self.data.len().saturating_sub(after) as u64) + 1
    }

    /// Forgets any varint in progress: the decoder read something else, so the bytes were not
    /// one (a boolean of 0x80 or more, say), and from here on the frame's own bytes are served.
    fn reset(&mut self) {
        self.rewritten_len = 0;
        self.varint_left = 0;
    }

    /// Reads a varint the way `kafka-protocol` does (up to five bytes, seven bits each) starting
    /// at the next byte, and if its value exceeds the cap, prepares the clamped encoding of the
    /// same length to be served byte by byte. Returns the varint's length.
    fn inspect_varint(&mut self) -> usize {
        let (mut value, mut len) = (0u64, 0usize);
        for (i, b) in self.data.iter().take(5).enumerate() {
            value |= u64::from(b & 0x7f) << (7 * i);
            len = i + 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        let cap = self.cap(len);
        if value <= cap {
            return len;
        }
        // The same number of bytes, continuation bits kept, holding the capped value.
        let mut rest = cap;
        for i in 0..len {
            let last = i + 1 == len;
            self.rewritten[i] = (rest & 0x7f) as u8 | if last { 0 } else { 0x80 };
            rest >>= 7;
        }
        self.rewritten_len = len;
        self.rewritten_at = 0;
        self.altered = true;
        len
    }
}

impl Buf for Clamped {
    fn remaining(&self) -> usize {
        self.data.remaining()
    }

    fn chunk(&self) -> &[u8] {
        self.data.chunk()
    }

    fn advance(&mut self, cnt: usize) {
        if cnt != 1 {
            self.reset();
        }
        self.data.advance(cnt)
    }

    fn try_get_u8(&mut self) -> Result<u8, bytes::TryGetError> {
        if self.rewritten_at < self.rewritten_len {
            let b = self.rewritten[self.rewritten_at];
            self.data.try_get_u8()?;
            self.rewritten_at += 1;
            return Ok(b);
        }
        self.rewritten_len = 0;
        if self.varint_left > 0 {
            self.varint_left -= 1;
        } else if self.data.first().is_some_and(|b| b & 0x80 != 0) {
            let len = self.inspect_varint();
            if self.rewritten_len > 0 {
                return self.try_get_u8();
            }
            self.varint_left = len - 1;
        }
        self.data.try_get_u8()
    }

    fn try_get_i32(&mut self) -> Result<i32, bytes::TryGetError> {
        self.reset();
        let value = self.data.try_get_i32()?;
        let cap = self.cap(0);
        if value >= 0 && value as u64 > cap {
            self.altered = true;
            return Ok(cap.min(i32::MAX as u64) as i32);
        }
        Ok(value)
    }
}

impl ByteBuf for Clamped {
    fn peek_bytes(&mut self, r: Range<usize>) -> Bytes {
        self.data.slice(r)
    }

    fn get_bytes(&mut self, size: usize) -> Bytes {
        self.reset();
        self.data.split_to(size)
    }
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, BytesMut};
    use kafka_protocol::messages::{FetchRequest, MetadataRequest, TopicName};
    use kafka_protocol::protocol::{Encodable, StrBytes};

    use super::*;
    use crate::handlers::{decode_only, default_request, supported_apis};

    const HUGE_INT32: [u8; 4] = [0x7f, 0xff, 0xff, 0xff];
    const HUGE_VARINT: [u8; 5] = [0xff, 0xff, 0xff, 0xff, 0x0f];

    fn encoded<T: Encodable>(message: &T, version: i16) -> Bytes {
        let mut out = BytesMut::new();
        message.encode(&mut out, version).expect("encodes");
        out.freeze()
    }

    #[test]
    fn an_array_that_claims_two_billion_elements_is_an_error() {
        // Fetch v4: replica id, max wait, min bytes, max bytes, isolation level, then the topics.
        let mut body = BytesMut::new();
        body.put_i32(-1);
        body.put_i32(500);
        body.put_i32(1);
        body.put_i32(1 << 20);
        body.put_i8(0);
        body.put_i32(i32::MAX);
        assert!(decode::<FetchRequest>(&body.freeze(), 4).is_err());
    }

    #[test]
    fn a_compact_array_that_claims_four_billion_elements_is_an_error() {
        // Metadata v9 (flexible): the topics are a compact array, their count a varint.
        let mut body = BytesMut::new();
        body.put_slice(&HUGE_VARINT);
        body.put_u8(1);
        body.put_u8(0);
        body.put_u8(0);
        assert!(decode::<MetadataRequest>(&body.freeze(), 9).is_err());
    }

    #[test]
    fn a_huge_count_inside_a_nested_array_is_an_error() {
        let mut fetch = FetchRequest::default();
        fetch.topics.push(Default::default());
        fetch.topics[0].topic = TopicName(StrBytes::from_static_str("t"));
        let body = encoded(&fetch, 4);
        // The partitions array count follows the topic name ("t": two length bytes and one byte).
        let at = 4 * 4 + 1 + 4 + 2 + 1;
        let mut crafted = BytesMut::from(&body[..]);
        crafted[at..at + 4].copy_from_slice(&HUGE_INT32);
        assert!(decode::<FetchRequest>(&crafted.freeze(), 4).is_err());
    }

    #[test]
    fn values_larger_than_the_frame_decode_exactly() {
        let mut fetch = FetchRequest::default();
        fetch.max_bytes = 52_428_800;
        fetch.max_wait_ms = 30_000;
        fetch.topics.push(Default::default());
        fetch.topics[0].topic = TopicName(StrBytes::from_static_str("orders"));
        fetch.topics[0].partitions.push(Default::default());
        fetch.topics[0].partitions[0].partition_max_bytes = 1 << 30;
        for version in [4, 12, 15] {
            let body = encoded(&fetch, version);
            let decoded = decode::<FetchRequest>(&body, version).expect("decodes");
            assert_eq!(encoded(&decoded, version), body, "v{version} changed in decoding");
        }
    }

    #[test]
    fn decode_prefix_leaves_what_follows() {
        let mut metadata = MetadataRequest::default();
        metadata.allow_auto_topic_creation = true;
        let mut body = BytesMut::from(&encoded(&metadata, 4)[..]);
        body.put_slice(b"rest");
        let mut body = body.freeze();
        let decoded: MetadataRequest = decode_prefix(&mut body, 4).expect("decodes");
        assert!(decoded.allow_auto_topic_creation);
        assert_eq!(&body[..], b"rest");
    }

    /// Every request the broker serves, at every version it serves, with a huge count written at
    /// every offset (as an `Int32` and as a varint): each decodes or fails, and none allocates by
    /// the count (which would abort this test).
    #[test]
    fn no_served_request_allocates_by_a_count_off_the_wire() {
        let mut tried = 0;
        for (api, range) in supported_apis() {
            for version in range.min..=range.max {
                let Some(body) = default_request(api, version) else { continue };
                for patch in [&HUGE_INT32[..], &HUGE_VARINT[..]] {
                    for at in 0..body.len() {
                        let mut crafted = BytesMut::from(&body[..]);
                        crafted.truncate(at);
                        crafted.put_slice(patch);
                        if at + patch.len() < body.len() {
                            crafted.put_slice(&body[at + patch.len()..]);
                        }
                        let outcome = decode_only(api, version, &crafted.freeze());
                        assert!(outcome.is_some());
                        tried += 1;
                    }
                }
            }
        }
        assert!(tried > 1000, "only {tried} frames tried");
    }
}
