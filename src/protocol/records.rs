//! The records inside a v2 record batch, read without trusting any size in it.
//!
//! The broker reads records only where Kafka's rules need them (keys on compacted topics, the
//! first record at a timestamp). A batch is the client's bytes, so every count and length in it
//! is checked against what remains before it is used, and decompression stops at a cap instead
//! of growing with whatever the compressed bytes expand to (a few KiB of zeros can claim
//! gigabytes). Nothing here allocates more than the cap plus one entry per record present.

use std::io::Read;

/// What the broker reads of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordInfo {
    /// Offset relative to the batch's base offset.
    pub offset_delta: i32,
    /// Timestamp relative to the batch's base timestamp.
    pub timestamp_delta: i64,
    /// Whether the record has a key (a null key is none; an empty one is a key).
    pub has_key: bool,
}

/// One record as [`visit`] hands it over, borrowing from the (decompressed) records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// Offset relative to the batch's base offset.
    pub offset_delta: i32,
    /// Timestamp relative to the batch's base timestamp.
    pub timestamp_delta: i64,
    /// The key; `None` when it is null.
    pub key: Option<&'a [u8]>,
    /// The value; `None` when it is null (a tombstone).
    pub value: Option<&'a [u8]>,
}

/// Why a batch's records cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordsError {
    /// The batch is shorter than its header.
    #[error("the batch is shorter than its header")]
    Truncated,
    /// The attributes name no codec Kafka defines.
    #[error("unknown compression codec {0}")]
    Codec(u8),
    /// The records decompress to more than the cap.
    #[error("the records decompress to more than {0} bytes")]
    TooLarge(usize),
    /// The compressed bytes are not valid for their codec.
    #[error("the records do not decompress: {0}")]
    Decompress(String),
    /// A record's framing is inconsistent.
    #[error("malformed record: {0}")]
    Malformed(&'static str),
}

/// Where the records start in a v2 batch, and where its attributes and record count are.
const RECORDS_AT: usize = 61;
const ATTRIBUTES_AT: usize = 21;
const COUNT_AT: usize = 57;

/// The records of `batch` (a whole v2 batch, header included), decompressing at most
/// `max_uncompressed` bytes of them.
pub fn records(batch: &[u8], max_uncompressed: usize) -> Result<Vec<RecordInfo>, RecordsError> {
    let mut out = Vec::new();
    visit(batch, max_uncompressed, |r| {
        out.push(RecordInfo {
            offset_delta: r.offset_delta,
            timestamp_delta: r.timestamp_delta,
            has_key: r.key.is_some(),
        })
    })?;
    Ok(out)
}

/// Hands each record of `batch` to `f`, in order, decompressing at most `max_uncompressed`
/// bytes; stops at the first record that does not read (records before it were handed over).
pub fn visit(batch: &[u8], max_uncompressed: usize, mut f: impl FnMut(RecordView<'_>)) -> Result<(), RecordsError> {
    if batch.len() < RECORDS_AT {
        return Err(RecordsError::Truncated);
    }
    let codec = (u16::from_be_bytes([batch[ATTRIBUTES_AT], batch[ATTRIBUTES_AT + 1]]) & 0x7) as u8;
    let count = i32::from_be_bytes([batch[COUNT_AT], batch[COUNT_AT + 1], batch[COUNT_AT + 2], batch[COUNT_AT + 3]]);
    let count = usize::try_from(count).map_err(|_| RecordsError::Malformed("negative record count"))?;
    let compressed = &batch[RECORDS_AT..];
    let owned;
    let data: &[u8] = if codec == 0 {
        compressed
    } else {
        owned = decompress(codec, compressed, max_uncompressed)?;
        &owned
    };
    let mut at = Cursor { data, at: 0 };
    for _ in 0..count {
        let size = at.length("record size")?.ok_or(RecordsError::Malformed("null record size"))?;
        let mut record = Cursor { data: at.take(size)?, at: 0 };
        record.take(1)?; // attributes
        let timestamp_delta = record.varlong()?;
        let offset_delta = record.varint()?;
        let key = record.length("key length")?.map(|n| record.take(n)).transpose()?;
        let value = record.length("value length")?.map(|n| record.take(n)).transpose()?;
        let headers = record.length("header count")?.ok_or(RecordsError::Malformed("null header count"))?;
        for _ in 0..headers {
            let key = record.length("header key length")?.ok_or(RecordsError::Malformed("null header key"))?;
            record.take(key)?;
            if let Some(n) = record.length("header value length")? {
                record.take(n)?;
            }
        }
        f(RecordView { offset_delta, timestamp_delta, key, value });
    }
    Ok(())
}

/// The records' bytes, decompressed, or an error once they pass `cap`.
fn decompress(codec: u8, compressed: &[u8], cap: usize) -> Result<Vec<u8>, RecordsError> {
    let failed = |e: std::io::Error| RecordsError::Decompress(e.to_string());
    match codec {
        1 => read_capped(flate2::read::GzDecoder::new(compressed), cap).map_err(failed)?,
        2 => return snappy(compressed, cap),
        3 => read_capped(lz4::Decoder::new(compressed).map_err(failed)?, cap).map_err(failed)?,
        4 => read_capped(zstd::stream::read::Decoder::new(compressed).map_err(failed)?, cap).map_err(failed)?,
        other => return Err(RecordsError::Codec(other)),
    }
    .ok_or(RecordsError::TooLarge(cap))
}

/// Everything `reader` yields if it is at most `cap` bytes, else `None`.
fn read_capped(reader: impl Read, cap: usize) -> std::io::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    reader.take(cap as u64 + 1).read_to_end(&mut out)?;
    Ok((out.len() <= cap).then_some(out))
}

/// Kafka's snappy: xerial's framing (a magic header, then length-prefixed blocks), or one raw
/// snappy block from clients that skip the framing. Each block's declared length is checked
/// against the cap before anything is allocated for it.
fn snappy(compressed: &[u8], cap: usize) -> Result<Vec<u8>, RecordsError> {
    const MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
    const HEADER: usize = 16;
    let mut out = Vec::new();
    let block = |bytes: &[u8], out: &mut Vec<u8>| -> Result<(), RecordsError> {
        let bad = |e: snap::Error| RecordsError::Decompress(e.to_string());
        let len = snap::raw::decompress_len(bytes).map_err(bad)?;
        if out.len().saturating_add(len) > cap {
            return Err(RecordsError::TooLarge(cap));
        }
        let start = out.len();
        out.resize(start + len, 0);
        snap::raw::Decoder::new().decompress(bytes, &mut out[start..]).map_err(bad)?;
        Ok(())
    };
    if !compressed.starts_with(MAGIC) {
        block(compressed, &mut out)?;
        return Ok(out);
    }
    let mut rest = compressed.get(HEADER..).ok_or(RecordsError::Truncated)?;
    while !rest.is_empty() {
        let len = rest.get(..4).ok_or(RecordsError::Malformed("snappy block length cut short"))?;
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let bytes = rest.get(4..4 + len).ok_or(RecordsError::Malformed("snappy block cut short"))?;
        block(bytes, &mut out)?;
        rest = &rest[4 + len..];
    }
    Ok(out)
}

/// A read position in a record's bytes.
struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordsError> {
        let end =
            self.at.checked_add(n).filter(|&e| e <= self.data.len()).ok_or(RecordsError::Malformed("cut short"))?;
        let bytes = &self.data[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    /// An unsigned varint of at most `max_bytes` bytes.
    fn unsigned(&mut self, max_bytes: usize) -> Result<u64, RecordsError> {
        let mut value = 0u64;
        for i in 0..max_bytes {
            let b = *self.take(1)?.first().ok_or(RecordsError::Malformed("cut short"))?;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(RecordsError::Malformed("varint too long"))
    }

    fn varint(&mut self) -> Result<i32, RecordsError> {
        let v = self.unsigned(5)?;
        let v = u32::try_from(v).map_err(|_| RecordsError::Malformed("varint out of range"))?;
        Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
    }

    fn varlong(&mut self) -> Result<i64, RecordsError> {
        let v = self.unsigned(10)?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    /// A length: `None` for -1 (null), else a size that fits in what remains.
    fn length(&mut self, what: &'static str) -> Result<Option<usize>, RecordsError> {
        match self.varint()? {
            -1 => Ok(None),
            n if n < 0 => Err(RecordsError::Malformed(what)),
            n if n as usize > self.data.len() - self.at => Err(RecordsError::Malformed(what)),
            n => Ok(Some(n as usize)),
        }
    }
}

#[cfg(test)]
mod tests {
    use kafka_protocol::records::{Compression, Record};

    use super::*;

    fn record(offset: i64, key: Option<&'static [u8]>) -> Record {
        let mut record = crate::protocol::batch::fixtures::record(offset, 1_700_000_000_000 + offset);
        record.key = key.map(bytes::Bytes::from_static);
        record.value = Some(bytes::Bytes::from(vec![b'v'; 100]));
        record
    }

    fn batch(compression: Compression, records: &[Record]) -> Vec<u8> {
        crate::protocol::batch::fixtures::encode(records, compression).to_vec()
    }

    #[test]
    fn reads_records_of_every_codec() {
        let records = [record(0, Some(b"k")), record(1, None), record(2, Some(b""))];
        for compression in
            [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd]
        {
            let read = super::records(&batch(compression, &records), 1 << 20).expect("reads");
            let keys: Vec<bool> = read.iter().map(|r| r.has_key).collect();
            assert_eq!(keys, [true, false, true], "{compression:?}");
            assert_eq!(read.iter().map(|r| r.offset_delta).collect::<Vec<_>>(), [0, 1, 2]);
            assert_eq!(read[2].timestamp_delta, 2);
        }
    }

    #[test]
    fn visits_keys_and_values() {
        let records = [record(0, Some(b"k")), record(1, None)];
        for compression in [Compression::None, Compression::Lz4] {
            let mut seen = Vec::new();
            visit(&batch(compression, &records), 1 << 20, |r| {
                seen.push((r.key.map(<[u8]>::to_vec), r.value.map(<[u8]>::len)))
            })
            .expect("reads");
            assert_eq!(seen, [(Some(b"k".to_vec()), Some(100)), (None, Some(100))], "{compression:?}");
        }
    }

    #[test]
    fn decompression_stops_at_the_cap() {
        // A thousand 100-byte values: about 100 KB once decompressed, far less compressed.
        let records: Vec<Record> = (0..1000).map(|i| record(i, Some(b"k"))).collect();
        for compression in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
            let bytes = batch(compression, &records);
            assert_eq!(super::records(&bytes, 10_000), Err(RecordsError::TooLarge(10_000)), "{compression:?}");
            assert_eq!(super::records(&bytes, 1 << 20).map(|r| r.len()), Ok(1000));
        }
    }

    #[test]
    fn a_record_that_claims_two_billion_headers_is_malformed() {
        let mut bytes = batch(Compression::None, &[record(0, Some(b"k"))]);
        // The record ends with its header count (zero headers: one zigzag byte, 0x00).
        let last = bytes.len() - 1;
        bytes.truncate(last);
        bytes.extend_from_slice(&[0xfe, 0xff, 0xff, 0xff, 0x0f]);
        let size_at = RECORDS_AT;
        bytes[size_at] += 8; // the record's size varint (one byte for this record) grows by 4 bytes, zigzagged
        assert!(matches!(super::records(&bytes, 1 << 20), Err(RecordsError::Malformed(_))));
    }

    #[test]
    fn counts_and_lengths_past_the_end_are_malformed() {
        let good = batch(Compression::None, &[record(0, Some(b"k"))]);
        let mut claims_more = good.clone();
        claims_more[COUNT_AT..COUNT_AT + 4].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(matches!(super::records(&claims_more, 1 << 20), Err(RecordsError::Malformed(_))));
        for cut in RECORDS_AT..good.len() {
            assert!(super::records(&good[..cut], 1 << 20).is_err(), "cut at {cut} read as whole");
        }
        assert_eq!(super::records(&good[..20], 1 << 20), Err(RecordsError::Truncated));
    }

    #[test]
    fn a_raw_snappy_block_claiming_gigabytes_is_refused_before_allocating() {
        let mut bytes = batch(Compression::None, &[record(0, None)]);
        bytes.truncate(RECORDS_AT);
        bytes[ATTRIBUTES_AT + 1] |= 2;
        bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]); // a declared length of 4 GiB
        assert_eq!(super::records(&bytes, 1 << 20), Err(RecordsError::TooLarge(1 << 20)));
    }
}
