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
    Some(Summary { base_offset, next_offset, size, max_timestamp, max_timestamp_offset, points })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_damage() {
        let summary = Summary {
            base_offset: 10,
            next_offset: 42,
            size: 9000,
            max_timestamp: 1_700_000_000_000,
            max_timestamp_offset: 41,
            points: vec![
                IndexPoint { offset: 10, pos: 0, max_ts_before: i64::MIN },
                IndexPoint { offset: 30, pos: 4100, max_ts_before: 5 },
            ],
        };
        let mut raw = encode(&summary);
        assert_eq!(decode(&raw), Some(summary));
        raw[20] ^= 1;
        assert_eq!(decode(&raw), None);
        assert_eq!(decode(&raw[..3]), None);
    }
}
