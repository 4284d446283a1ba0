//! Kafka record batches (magic v2) on the produce and fetch paths, without decoding records.
//!
//! Produce validates the header and the CRC32C and hands the bytes to the log unchanged (on a
//! `LogAppendTime` topic, with the header's timestamp type and max timestamp set, and the CRC
//! recomputed); the log assigns offsets. Fetch serves stored bytes; only the 8-byte base offset
//! (outside the CRC) may need patching when a host stores batches with the producer's base offset.

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::error::ResponseError;

use super::records::{self, RecordsError};

/// Bytes before the first record of a v2 batch.
pub const BATCH_HEADER_LEN: usize = 61;
const LENGTH_FIELD_END: usize = 12;
const MAGIC_AT: usize = 16;
const CRC_AT: usize = 17;
const ATTRIBUTES_AT: usize = 21;
const BASE_TIMESTAMP_AT: usize = 27;
const MAX_TIMESTAMP_AT: usize = 35;
/// The attribute bit of a batch whose records all read its max timestamp (LogAppendTime).
const LOG_APPEND_TIME: u8 = 0x08;

/// What produce needs to know about a batch, read from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchInfo {
    /// Records in the batch.
    pub record_count: u32,
    /// Largest record timestamp.
    pub max_timestamp: i64,
    /// Producer id, -1 for a plain producer.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// Sequence number of the first record, for idempotent producers.
    pub base_sequence: i32,
    /// Whether the batch belongs to a transaction.
    pub transactional: bool,
}

/// Why a produced batch was refused; each variant is one Kafka error code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BatchError {
    /// Structurally broken: too short, lengths disagree, CRC mismatch, unknown compression.
    #[error("corrupt record batch: {0}")]
    Corrupt(&'static str),
    /// Well-formed but not acceptable (old magic, several batches, bad counts, control batch).
    #[error("invalid record batch: {0}")]
    Invalid(&'static str),
    /// Larger than the topic's `max.message.bytes`.
    #[error("record batch of {size} bytes exceeds max.message.bytes {max}")]
    TooLarge {
        /// Batch size.
        size: usize,
        /// The limit.
        max: usize,
    },
}

impl BatchError {
    /// The Kafka error this becomes in a produce response.
    pub fn response_error(&self) -> ResponseError {
        match self {
            BatchError::Corrupt(_) => ResponseError::CorruptMessage,
            BatchError::Invalid(_) => ResponseError::InvalidRecord,
            BatchError::TooLarge { .. } => ResponseError::MessageTooLarge,
        }
    }
}

/// Checks that `records` is exactly one intact v2 batch of at most `max_size` bytes.
pub fn validate(records: &[u8], max_size: usize) -> Result<BatchInfo, BatchError> {
    if records.is_empty() {
        return Err(BatchError::Invalid("produce needs exactly one record batch per partition"));
    }
    if records.len() < BATCH_HEADER_LEN {
        return Err(BatchError::Invalid("shorter than a batch header"));
    }
    let mut h = records;
    let _base_offset = h.get_i64();
    let batch_length = h.get_i32();
    let declared = usize::try_from(batch_length).ok().and_then(|l| l.checked_add(LENGTH_FIELD_END));
    match declared {
        Some(total) if total == records.len() => {}
        Some(total) if total < records.len() => {
            return Err(BatchError::Invalid("produce needs exactly one record batch per partition"))
        }
        _ => return Err(BatchError::Invalid("batch length disagrees with the data")),
    }
    if records[MAGIC_AT] != 2 {
        return Err(BatchError::Invalid("only magic v2 record batches are accepted"));
    }
    if records.len() > max_size {
        return Err(BatchError::TooLarge { size: records.len(), max: max_size });
    }
    let mut crc_field = &records[CRC_AT..ATTRIBUTES_AT];
    if crc32c::crc32c(&records[ATTRIBUTES_AT..]) != crc_field.get_u32() {
        return Err(BatchError::Corrupt("CRC mismatch"));
    }
    let mut h = &records[ATTRIBUTES_AT..];
    let attributes = h.get_i16();
    let last_offset_delta = h.get_i32();
    let base_timestamp = h.get_i64();
    let max_timestamp = h.get_i64();
    let producer_id = h.get_i64();
    let producer_epoch = h.get_i16();
    let base_sequence = h.get_i32();
    let record_count = h.get_i32();
    if attributes & 0x07 > 4 {
        return Err(BatchError::Corrupt("unknown compression codec"));
    }
    if attributes & 0x20 != 0 {
        return Err(BatchError::Invalid("clients may not produce control batches"));
    }
    if record_count <= 0 || last_offset_delta != record_count - 1 {
        return Err(BatchError::Invalid("record count disagrees with the last offset delta"));
    }
    Ok(BatchInfo {
        record_count: record_count as u32,
        max_timestamp: max_timestamp.max(base_timestamp),
        producer_id,
        producer_epoch,
        base_sequence,
        transactional: attributes & 0x10 != 0,
    })
}

/// A validated batch stamped with the broker's append time, as Kafka stamps batches of a
/// `LogAppendTime` topic: the timestamp-type bit set and the max timestamp replaced (clients then
/// read it as every record's timestamp), the CRC recomputed over the changed header. The records
/// themselves, compressed or not, stay as they are.
pub fn with_log_append_time(batch: &[u8], now_ms: i64) -> Bytes {
    let mut out = BytesMut::from(batch);
    if out.len() < BATCH_HEADER_LEN {
        return out.freeze();
    }
    // The attributes are an Int16; the timestamp-type bit is in its low byte.
    out[ATTRIBUTES_AT + 1] |= LOG_APPEND_TIME;
    out[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8].copy_from_slice(&now_ms.to_be_bytes());
    let crc = crc32c::crc32c(&out[ATTRIBUTES_AT..]);
    out[CRC_AT..ATTRIBUTES_AT].copy_from_slice(&crc.to_be_bytes());
    out.freeze()
}

/// The base offset written in a stored batch.
pub fn base_offset_of(batch: &[u8]) -> Option<i64> {
    batch.get(..8).map(|mut b| b.get_i64())
}

/// The offset of the last record of a stored batch (base offset plus `lastOffsetDelta`).
pub fn last_offset_of(batch: &[u8]) -> Option<i64> {
    let delta = i32::from_be_bytes(batch.get(23..27)?.try_into().ok()?);
    base_offset_of(batch)?.checked_add(i64::from(delta))
}

/// The whole v2 batches in `bytes`, as a log read returns them back to back. A batch whose
/// length field is cut off, negative, shorter than a header or longer than what remains ends
/// the sequence.
pub fn split(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        let len = i32::from_be_bytes(rest.get(8..LENGTH_FIELD_END)?.try_into().ok()?);
        let total = LENGTH_FIELD_END.checked_add(usize::try_from(len).ok()?)?;
        if total < BATCH_HEADER_LEN {
            return None;
        }
        let batch = rest.get(..total)?;
        rest = &rest[total..];
        Some(batch)
    })
}

/// Appends `batch` to `out` with its base offset set to `base_offset`.
pub fn put_with_base_offset(out: &mut BytesMut, batch: &[u8], base_offset: i64) {
    if batch.len() < 8 {
        return;
    }
    out.extend_from_slice(&base_offset.to_be_bytes());
    out.extend_from_slice(&batch[8..]);
}

/// `batch` with its base offset set to `base_offset`, copying only if it differs.
pub fn with_base_offset(batch: Bytes, base_offset: i64) -> Bytes {
    if base_offset_of(&batch) == Some(base_offset) {
        return batch;
    }
    let mut out = BytesMut::with_capacity(batch.len());
    put_with_base_offset(&mut out, &batch, base_offset);
    out.freeze()
}

/// How many times `max.message.bytes` a batch's records may decompress to when the broker reads
/// them: well past what real producers compress (text rarely shrinks 16-fold), while a crafted
/// batch of zeros that claims gigabytes stops there.
pub const DECOMPRESSION_FACTOR: usize = 16;

/// The positions (within the batch) of records that have no key. Decompresses the batch, to at
/// most [`DECOMPRESSION_FACTOR`] times `max_message_bytes`: only produce to a compacted topic,
/// where every record needs a key, calls this.
pub fn keyless_records(batch: &Bytes, max_message_bytes: usize) -> Result<Vec<i32>, BatchError> {
    let cap = max_message_bytes.saturating_mul(DECOMPRESSION_FACTOR);
    let read = records::records(batch, cap).map_err(|e| match e {
        RecordsError::TooLarge(max) => BatchError::TooLarge { size: max + 1, max },
        _ => BatchError::Corrupt("records do not decode"),
    })?;
    Ok(read.iter().enumerate().filter(|(_, r)| !r.has_key).map(|(i, _)| i as i32).collect())
}

/// The offset and timestamp of the first record at or after `timestamp` in a stored batch whose
/// first record has `base_offset`. Decompresses the batch (to at most
/// [`DECOMPRESSION_FACTOR`] times `max_message_bytes`): only ListOffsets by time calls this.
pub fn first_record_at_or_after(
    batch: &Bytes,
    base_offset: i64,
    timestamp: i64,
    max_message_bytes: usize,
) -> Option<(i64, i64)> {
    let base_timestamp = i64::from_be_bytes(batch.get(BASE_TIMESTAMP_AT..MAX_TIMESTAMP_AT)?.try_into().ok()?);
    let max_timestamp = i64::from_be_bytes(batch.get(MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8)?.try_into().ok()?);
    // With LogAppendTime (attribute bit 3) every record carries the batch's max timestamp.
    let log_append_time = batch.get(ATTRIBUTES_AT + 1)? & LOG_APPEND_TIME != 0;
    let read = records::records(batch, max_message_bytes.saturating_mul(DECOMPRESSION_FACTOR)).ok()?;
    read.iter()
        .map(|r| {
            let ts = if log_append_time { max_timestamp } else { base_timestamp + r.timestamp_delta };
            (base_offset + i64::from(r.offset_delta), ts)
        })
        .find(|&(_, ts)| ts >= timestamp)
}

/// Records for tests of code that reads batches.
#[cfg(test)]
pub(crate) mod fixtures {
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

    /// `records` as one v2 batch.
    pub fn encode(records: &[Record], compression: Compression) -> Bytes {
        let mut out = BytesMut::new();
        RecordBatchEncoder::encode(&mut out, records, &RecordEncodeOptions { version: 2, compression })
            .expect("encode");
        out.freeze()
    }

    /// A plain record at `offset` with timestamp `ts`, no key and a small value.
    pub fn record(offset: i64, ts: i64) -> Record {
        Record {
            transactional: false,
            control: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset,
            sequence: offset as i32,
            timestamp: ts,
            key: None,
            value: Some(Bytes::from(format!("v{offset}"))),
            headers: Default::default(),
            delete_horizon: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::record;
    use super::*;
    use kafka_protocol::records::Compression;

    fn batch(n: i64, compression: Compression) -> Bytes {
        let records: Vec<_> = (0..n).map(|i| record(i, 1000 + i * 10)).collect();
        super::fixtures::encode(&records, compression)
    }

    #[test]
    fn a_log_append_time_stamp_keeps_the_records_intact_and_the_crc_right() {
        use kafka_protocol::records::{RecordBatchDecoder, TimestampType};
        for compression in [Compression::None, Compression::Lz4] {
            let original = batch(3, compression);
            let stamped = with_log_append_time(&original, 1_700_000_000_123);
            let info = validate(&stamped, usize::MAX).expect("the CRC is recomputed");
            assert_eq!(info.max_timestamp, 1_700_000_000_123);
            assert_eq!(stamped.len(), original.len());
            assert_eq!(stamped[BATCH_HEADER_LEN..], original[BATCH_HEADER_LEN..], "records untouched");
            let decoded = RecordBatchDecoder::decode(&mut stamped.clone()).expect("a client decodes it");
            // (kafka-protocol reads each record's own timestamp; Kafka's clients read the max.)
            assert!(decoded.records.iter().all(|r| r.timestamp_type == TimestampType::LogAppend));
            assert_eq!(
                first_record_at_or_after(&stamped, 0, 1_700_000_000_000, 1 << 20),
                Some((0, 1_700_000_000_123)),
                "a search by time finds the first record at the append time"
            );
        }
    }

    #[test]
    fn accepts_a_valid_batch() {
        let info = validate(&batch(3, Compression::None), 1 << 20).unwrap();
        assert_eq!(info.record_count, 3);
        assert_eq!(info.max_timestamp, 1020);
        assert_eq!(info.producer_id, -1);
    }

    #[test]
    fn rejects_damage_with_the_right_error() {
        let good = batch(2, Compression::Gzip).to_vec();
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        assert_eq!(validate(&flipped, 1 << 20), Err(BatchError::Corrupt("CRC mismatch")));
        // Kafka answers INVALID_RECORD, not CORRUPT_MESSAGE, for a batch cut short.
        assert!(matches!(validate(&good[..40], 1 << 20), Err(BatchError::Invalid(_))));
        assert!(matches!(validate(&good[..good.len() - 1], 1 << 20), Err(BatchError::Invalid(_))));
        let mut two = good.clone();
        two.extend_from_slice(&good);
        assert!(matches!(validate(&two, 1 << 20), Err(BatchError::Invalid(_))));
        assert!(matches!(validate(&good, 10), Err(BatchError::TooLarge { .. }) | Err(BatchError::Corrupt(_))));
        assert!(matches!(validate(&good, good.len() - 1), Err(BatchError::TooLarge { .. })));
        let mut old_magic = good.clone();
        old_magic[MAGIC_AT] = 1;
        assert!(matches!(validate(&old_magic, 1 << 20), Err(BatchError::Invalid(_))));
        assert!(matches!(validate(&[], 1 << 20), Err(BatchError::Invalid(_))));
    }

    #[test]
    fn patches_base_offset_without_breaking_the_crc() {
        let original = batch(2, Compression::Lz4);
        let patched = with_base_offset(original.clone(), 4242);
        assert_eq!(base_offset_of(&patched), Some(4242));
        assert!(validate(&patched, 1 << 20).is_ok());
        let same = with_base_offset(patched.clone(), 4242);
        assert_eq!(same.as_ptr(), patched.as_ptr(), "no copy when already right");
    }

    #[test]
    fn splits_back_to_back_batches_and_stops_at_a_bad_length() {
        let (a, b) =
            (with_base_offset(batch(2, Compression::None), 10), with_base_offset(batch(3, Compression::Zstd), 12));
        let mut both = BytesMut::new();
        both.extend_from_slice(&a);
        both.extend_from_slice(&b);
        let batches: Vec<&[u8]> = split(&both).collect();
        assert_eq!(batches, [&a[..], &b[..]]);
        assert_eq!(batches.iter().map(|b| last_offset_of(b)).collect::<Vec<_>>(), [Some(11), Some(14)]);
        assert_eq!(split(&both[..both.len() - 1]).count(), 1, "a cut-off tail is not a batch");
        let mut negative = both.to_vec();
        negative[8..12].copy_from_slice(&(-5i32).to_be_bytes());
        assert_eq!(split(&negative).count(), 0);
        negative[8..12].copy_from_slice(&i32::MAX.to_be_bytes());
        assert_eq!(split(&negative).count(), 0);
    }

    #[test]
    fn finds_keyless_records_inside_compressed_batches() {
        let mut records: Vec<_> = (0..4).map(|i| record(i, 1000)).collect();
        records[1].key = Some(Bytes::from_static(b"k1"));
        records[3].key = Some(Bytes::from_static(b"k3"));
        assert_eq!(keyless_records(&super::fixtures::encode(&records, Compression::Snappy), 1 << 20), Ok(vec![0, 2]));
        assert!(keyless_records(&Bytes::from_static(b"nonsense"), 1 << 20).is_err());
    }

    #[test]
    fn finds_records_by_time_inside_compressed_batches() {
        let b = batch(5, Compression::Zstd);
        assert_eq!(first_record_at_or_after(&b, 100, 1015, 1 << 20), Some((102, 1020)));
        assert_eq!(first_record_at_or_after(&b, 100, 5000, 1 << 20), None);
    }
}
