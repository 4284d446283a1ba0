//! Decoding untrusted frames without letting a count read off the wire size an allocation.
//!
//! `kafka-protocol` (0.18) decodes an array by reading its element count (an `Int32`, or an
//! unsigned varint for compact arrays) and calling `Vec::with_capacity(count)` before it reads a
//! single element: a 20-byte frame that claims two billion elements asks for tens of gigabytes,
//! and a failed allocation aborts the process. Every other length it reads (strings, bytes,
//! records) is checked against the bytes that remain before use.
//!
//! So a frame is decoded through [`Guarded`], a buffer that never lets the decoder see a count
//! larger than the bytes that remain after it, plus one; that bounds every array's capacity by
//! the frame's size, since `remaining + 1` elements cannot fit in `remaining` bytes.
//!
//! Varints (compact arrays, compact strings, tags) are read a byte at a time, and a buffer cannot
//! tell a varint's first byte from a boolean's, so a multi-byte varint larger than the cap is an
//! error wherever it starts, and nothing is ever rewritten: a rewritten byte could be served to a
//! neighbouring read and hide the real count there. The error costs no valid frame: a count or
//! length that large cannot be right, no request has a tag number above 127, a boolean on the
//! wire is 0 or 1, and the tail of a varint within the cap is within it too. One-byte varints are
//! let through, as 127 elements are no threat.
//!
//! An `Int32` read as a count looks like any plain value (a `max_bytes`, a timeout), and those
//! legitimately exceed the frame. So the first pass clamps an `Int32` larger than the cap to the
//! cap and remembers where: had it been a count, the pass fails for want of elements. When the
//! first pass clamped nothing, its result is the answer; when it clamped and succeeded, the
//! frame is decoded again with the real values, allowed above the cap only where the first pass
//! clamped. Every request element kop serves takes at least one byte on the wire (Kafka gives
//! each a field), which is what makes a successful first pass proof that no clamped value was a
//! count.

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
    let mut first = Guarded::new(body.clone(), Pass::Clamp(Vec::new()));
    let value = T::decode(&mut first, version)?;
    let value = match first.pass {
        Pass::Clamp(clamped) if !clamped.is_empty() => {
            let mut again = Guarded::new(body.clone(), Pass::Exact(clamped));
            T::decode(&mut again, version)?
        }
        _ => value,
    };
    body.advance(body.len() - first.data.remaining());
    Ok(value)
}

/// What a [`Guarded`] buffer does with an `Int32` above the cap.
enum Pass {
    /// Serves the cap instead, and records the offset.
    Clamp(Vec<usize>),
    /// Serves the real value where the first pass clamped (these offsets, in order); anywhere
    /// else the frame is refused, as the decoding went another way than the first time.
    Exact(Vec<usize>),
}

/// A buffer over a frame that keeps every count the decoder reads within the bytes remaining
/// after it, plus one (see the module documentation).
struct Guarded {
    data: Bytes,
    len: usize,
    pass: Pass,
}

#[derive(Debug, thiserror::Error)]
#[error("a count of {value} at offset {at} exceeds the {remaining} bytes that follow it")]
struct CountTooLarge {
    value: u64,
    at: usize,
    remaining: usize,
}

impl Guarded {
    fn new(data: Bytes, pass: Pass) -> Self {
        Guarded { len: data.len(), data, pass }
    }

    fn offset(&self) -> usize {
        self.len - self.data.len()
    }

    /// The largest count that still leaves the decoder a chance: one more than what remains
    /// after the `size` bytes holding it.
    fn cap(&self, size: usize) -> u64 {
        (self.data.len().saturating_sub(size) as u64) + 1
    }

    /// The varint starting at the next byte, read the way `kafka-protocol` reads one (up to five
    /// bytes, seven bits each), with its length.
    fn varint_ahead(&self) -> (u64, usize) {
        let (mut value, mut len) = (0u64, 0usize);
        for (i, b) in self.data.iter().take(5).enumerate() {
            value |= u64::from(b & 0x7f) << (7 * i);
            len = i + 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        (value, len)
    }

    fn refuse(&self, value: u64) -> bytes::TryGetError {
        let error = CountTooLarge { value, at: self.offset(), remaining: self.data.len() };
        tracing::debug!(%error, "frame refused");
        // The decoder reports a short read as a truncated frame, which this is, in effect.
        bytes::TryGetError { requested: self.data.len() + 1, available: self.data.len() }
    }
}

impl Buf for Guarded {
    fn remaining(&self) -> usize {
        self.data.remaining()
    }

    fn chunk(&self) -> &[u8] {
        self.data.chunk()
    }

    fn advance(&mut self, cnt: usize) {
        self.data.advance(cnt)
    }

    fn try_get_u8(&mut self) -> Result<u8, bytes::TryGetError> {
        if self.data.first().is_some_and(|b| b & 0x80 != 0) {
            let (value, len) = self.varint_ahead();
            if value > self.cap(len) {
                return Err(self.refuse(value));
            }
        }
        self.data.try_get_u8()
    }

    fn try_get_i32(&mut self) -> Result<i32, bytes::TryGetError> {
        let at = self.offset();
        let cap = self.cap(4);
        let value = self.data.try_get_i32()?;
        if value < 0 || value as u64 <= cap {
            return Ok(value);
        }
        match &mut self.pass {
            Pass::Clamp(clamped) => {
                clamped.push(at);
                Ok(cap.min(i32::MAX as u64) as i32)
            }
            Pass::Exact(clamped) => match clamped.binary_search(&at) {
                Ok(_) => Ok(value),
                Err(_) => Err(self.refuse(value as u64)),
            },
        }
    }
}

impl ByteBuf for Guarded {
    fn peek_bytes(&mut self, r: Range<usize>) -> Bytes {
        self.data.slice(r)
    }

    fn get_bytes(&mut self, size: usize) -> Bytes {
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
    /// A boolean of 0xfe and then a huge varint: the boolean's byte starts a varint too.
    const FLAG_THEN_HUGE_VARINT: [u8; 6] = [0xfe, 0xff, 0xff, 0xff, 0xff, 0x0f];

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

    /// Found by fuzzing (request_decode): an AddPartitionsToTxn v4 frame whose varint-looking
    /// bytes once hid a topics count from the first pass, which let the second allocate 64 GB.
    #[test]
    fn a_varint_looking_byte_does_not_hide_the_count_after_it() {
        use kafka_protocol::messages::{AddPartitionsToTxnRequest, RequestHeader};
        // The header (API key 24, version 4), then the body.
        let frame: &[u8] = &[
            0x00, 0x18, 0x00, 0x04, 0x00, 0x00, 0x00, 0x04, 0x00, 0x13, 0x6b, 0x61, 0x6f, 0x2f, 0x66, 0x61, 0x2d, 0x21,
            0x70, 0x79, 0x00, 0x70, 0x6f, 0x68, 0x6e, 0x2d, 0x33, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
            0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x00, 0x12, 0x00, 0x03,
            0x00, 0x00, 0x00, 0x01, 0x00, 0x07, 0x72, 0x7a, 0x6b, 0x61, 0x31, 0x2e, 0x31, 0x2e, 0x00, 0x66, 0x6b, 0x61,
            0x00, 0x0b, 0x6c, 0x69, 0x62, 0x72, 0x64, 0x6b, 0x61, 0x66, 0x6b, 0x61, 0x06, 0x32, 0x2e, 0x30, 0x61, 0x64,
            0x6b, 0x61, 0x00, 0x02, 0x02, 0x0d, 0x74, 0x2d, 0x33, 0x00, 0x02, 0x00, 0x09, 0x00, 0x00, 0x00, 0x03, 0x00,
            0x13, 0x6b, 0x61, 0x66, 0x6b, 0x61, 0x2d, 0x70, 0x79, 0x74, 0x68, 0x6f, 0x6e, 0x2d, 0x33, 0x2e, 0x30, 0x2e,
            0x31, 0x32, 0x00, 0xff, 0xff, 0xff, 0xff, 0x90, 0x00, 0x02, 0x0d, 0x74, 0x2d, 0x00, 0x01, 0x00, 0x10, 0x00,
            0x04, 0x00, 0x00, 0x00, 0x62, 0x79, 0x74, 0x65, 0x73, 0x08, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
            0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x04, 0x00,
        ];
        let mut body = Bytes::from_static(frame);
        decode_prefix::<RequestHeader>(&mut body, 2).expect("the header decodes");
        assert!(decode::<AddPartitionsToTxnRequest>(&body, 4).is_err());
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
                for patch in [&HUGE_INT32[..], &HUGE_VARINT[..], &FLAG_THEN_HUGE_VARINT[..]] {
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
