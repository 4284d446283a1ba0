//! The persisted index of a sealed segment, so a restart reads a few KiB instead of the segment.
//!
//! Layout (big-endian): magic `KOPIDX01`, base offset, next offset, size, max timestamp, its
//! offset, point count, then `(offset, pos, max_ts_before)` per point, then a CRC32C of all before.
//! A file that fails any check is ignored and the segment is scanned instead.

use bytes::{Buf, BufMut, BytesMut};

use super::segment::IndexPoint;

const MAGIC: &[u8; 8] = b"KOPIDX01";

/// Everything a sealed segment needs to reopen without a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub base_offset: i64,
    pub next_offset: i64,
    pub size: u64,
    pub max_timestamp: i64,
    pub max_timestamp_offset: i64,
    pub points: Vec<IndexPoint>,
}

/// Serializes a summary.
pub fn encode(summary: &Summary) -> Vec<u8> {
    let mut out = BytesMut::with_capacity(56 + summary.points.len() * 24 + 4);
    out.put_slice(MAGIC);
    out.put_i64(summary.base_offset);
    out.put_i64(summary.next_offset);
    out.put_u64(summary.size);
    out.put_i64(summary.max_timestamp);
    out.put_i64(summary.max_timestamp_offset);
    out.put_u64(summary.points.len() as u64);
    for p in &summary.points {
        out.put_i64(p.offset);
        out.put_u64(p.pos);
        out.put_i64(p.max_ts_before);
    }
    let crc = crc32c::crc32c(&out);
    out.put_u32(crc);
    out.to_vec()
}

/// Parses a summary; `None` if the bytes are not a complete, intact index.
pub fn decode(raw: &[u8]) -> Option<Summary> {
    let (body, crc) = raw.split_at(raw.len().checked_sub(4)?);
    if crc32c::crc32c(body) != u32::from_be_bytes(crc.try_into().ok()?) {
        return None;
    }
    let mut buf = body;
    if buf.len() < 56 || &buf[..8] != MAGIC {
        return None;
    }
    buf.advance(8);
    let base_offset = buf.get_i64();
    let next_offset = buf.get_i64();
    let size = buf.get_u64();
    let max_timestamp = buf.get_i64();
    let max_timestamp_offset = buf.get_i64();
    let count = usize::try_from(buf.get_u64()).ok()?;
    if buf.len() != count.checked_mul(24)? {
        return None;
    }
    let points = (0..count)
        .map(|_| IndexPoint { offset: buf.get_i64(), pos: buf.get_u64(), max_ts_before: buf.get_i64() })
        .collect();
    let summary = Summary { base_offset, next_offset, size, max_timestamp, max_timestamp_offset, points };
    summary.consistent().then_some(summary)
}

impl Summary {
    /// Whether the summary could describe a segment kop wrote: offsets and positions inside the
    /// segment and strictly rising, the first point at the start. A checksum only proves the
    /// bytes are as written; this keeps an index from another segment, or a bug's, from steering
    /// reads to the wrong entries.
    fn consistent(&self) -> bool {
        let rising = self.points.windows(2).all(|w| w[0].offset < w[1].offset && w[0].pos < w[1].pos);
        let inside =
            self.points.iter().all(|p| p.pos < self.size && (self.base_offset..self.next_offset).contains(&p.offset));
        let starts = self.points.first().is_none_or(|p| p.pos == 0 && p.offset == self.base_offset);
        let empty = self.size == 0 && self.points.is_empty() && self.next_offset == self.base_offset;
        self.base_offset >= 0
            && (empty || self.base_offset < self.next_offset && !self.points.is_empty())
            && rising
            && inside
            && starts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary_for_test() -> Summary {
        Summary {
            base_offset: 10,
            next_offset: 42,
            size: 9000,
            max_timestamp: 1_700_000_000_000,
            max_timestamp_offset: 41,
            points: vec![
                IndexPoint { offset: 10, pos: 0, max_ts_before: i64::MIN },
                IndexPoint { offset: 30, pos: 4100, max_ts_before: 5 },
            ],
        }
    }

    #[test]
    fn round_trips_and_rejects_damage() {
        let summary = summary_for_test();
        let mut raw = encode(&summary);
        assert_eq!(decode(&raw), Some(summary));
        raw[20] ^= 1;
        assert_eq!(decode(&raw), None);
        // Intact bytes that cannot describe a segment are refused too.
        let mut backwards = decode(&encode(&summary_for_test())).expect("consistent");
        backwards.points.reverse();
        assert_eq!(decode(&encode(&backwards)), None);
        let mut outside = summary_for_test();
        outside.points[1].pos = outside.size;
        assert_eq!(decode(&encode(&outside)), None);
        assert_eq!(decode(&raw[..3]), None);
    }
}
