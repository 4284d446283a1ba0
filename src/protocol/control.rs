//! Transaction markers: the control batches a transaction coordinator has written into each of a
//! transaction's partitions to commit or abort it, and what a stored batch says about the
//! transaction it belongs to.
//!
//! A marker is a batch with the control and transactional bits set and one record, whose key is
//! `(version: i16 = 0, type: i16)` (0 abort, 1 commit) and whose value is
//! `(version: i16 = 0, coordinator_epoch: i32)`, as Kafka writes them.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

const ATTRIBUTES_AT: usize = 21;
const PRODUCER_AT: usize = 43;
const HEADER_LEN: usize = 61;
const TRANSACTIONAL: i16 = 0x10;
const CONTROL: i16 = 0x20;

/// A stored batch's place in a transaction, read from its header (and a marker's one record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnRole {
    /// Not part of a transaction.
    None,
    /// Data of an open transaction of this producer.
    Data {
        /// Producer id.
        producer_id: i64,
        /// Producer epoch.
        epoch: i16,
    },
    /// The marker that ends this producer's transaction.
    Marker {
        /// Producer id.
        producer_id: i64,
        /// Producer epoch.
        epoch: i16,
        /// Commit (`true`) or abort.
        commit: bool,
    },
}

/// One marker batch ending `producer_id`'s transaction, to append like any batch.
pub fn marker(producer_id: i64, epoch: i16, commit: bool, coordinator_epoch: i32, timestamp: i64) -> Option<Bytes> {
    let mut key = BytesMut::with_capacity(4);
    key.put_i16(0);
    key.put_i16(i16::from(commit));
    let mut value = BytesMut::with_capacity(6);
    value.put_i16(0);
    value.put_i32(coordinator_epoch);
    let record = Record {
        transactional: true,
        control: true,
        partition_leader_epoch: 0,
        producer_id,
        producer_epoch: epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp,
        key: Some(key.freeze()),
        value: Some(value.freeze()),
        headers: Default::default(),
        delete_horizon: false,
    };
    let mut out = BytesMut::new();
    let options = RecordEncodeOptions { version: 2, compression: Compression::None };
    RecordBatchEncoder::encode(&mut out, &[record], &options).ok()?;
    Some(out.freeze())
}

/// What the stored batch `batch` is to a transaction. Anything unreadable is [`TxnRole::None`]:
/// the bytes were checked when they were appended, and a reader must not fail on them now.
pub fn role(batch: &[u8]) -> TxnRole {
    let (Some(mut attributes), Some(mut producer)) =
        (batch.get(ATTRIBUTES_AT..ATTRIBUTES_AT + 2), batch.get(PRODUCER_AT..PRODUCER_AT + 10))
    else {
        return TxnRole::None;
    };
    let attributes = attributes.get_i16();
    let (producer_id, epoch) = (producer.get_i64(), producer.get_i16());
    if attributes & TRANSACTIONAL == 0 || producer_id < 0 {
        return TxnRole::None;
    }
    if attributes & CONTROL == 0 {
        return TxnRole::Data { producer_id, epoch };
    }
    // Control batches are never compressed: the one record follows the header directly.
    let mut marker_key = None;
    let _ = super::records::visit(batch, HEADER_LEN + 64, |r| {
        if marker_key.is_none() {
            marker_key = r.key.map(<[u8]>::to_vec);
        }
    });
    match marker_key.as_deref() {
        Some([_, _, 0, 1]) => TxnRole::Marker { producer_id, epoch, commit: true },
        Some([_, _, 0, 0]) => TxnRole::Marker { producer_id, epoch, commit: false },
        _ => TxnRole::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_read_back_as_what_they_end() {
        let commit = marker(42, 3, true, 0, 1_700_000_000_000).expect("encodes");
        assert_eq!(role(&commit), TxnRole::Marker { producer_id: 42, epoch: 3, commit: true });
        let abort = marker(42, 4, false, 0, 1_700_000_000_000).expect("encodes");
        assert_eq!(role(&abort), TxnRole::Marker { producer_id: 42, epoch: 4, commit: false });
        assert_eq!(role(&commit[..20]), TxnRole::None, "a cut batch is nothing");
    }

    #[test]
    fn data_batches_name_their_producer() {
        let mut record = crate::protocol::batch::fixtures::record(0, 1_700_000_000_000);
        (record.producer_id, record.producer_epoch, record.transactional) = (9, 1, true);
        let data = crate::protocol::batch::fixtures::encode(&[record.clone()], Compression::None);
        assert_eq!(role(&data), TxnRole::Data { producer_id: 9, epoch: 1 });
        record.transactional = false;
        let plain = crate::protocol::batch::fixtures::encode(&[record], Compression::None);
        assert_eq!(role(&plain), TxnRole::None);
    }
}
