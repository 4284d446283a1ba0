//! A coordinator's own topic (`__consumer_offsets`, `__transaction_state`) as its log: keyed
//! records written as Kafka batches through the topic's partitions (so each host keeps them as
//! durable as any topic), read back at replay, and rewritten shorter when the log holds far more
//! than the live state. What the keys and values mean is the coordinator's business.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::records::{
    Compression, Record as KafkaRecord, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::{Partition, Topic, TopicRegistry};
use crate::clock::now_ms;
use crate::host::HostError;
use crate::protocol::batch;
use crate::protocol::control::{self, TxnRole};

/// How far one stored batch of a coordinator's log may decompress at replay: coordinators write
/// small batches, so a batch that expands further was not written by one.
const REPLAY_DECOMPRESSED_MAX: usize = 64 << 20;

/// A record of the log: key and value (`None` for a tombstone).
pub type LogEntry = (Bytes, Option<Bytes>);

/// Why records could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteError {
    /// Another broker owns the partition now.
    NotOwner,
    /// The partition could not store them.
    Unavailable,
    /// The transactional producer they were written for has a newer epoch.
    Fenced,
}

/// The partition of `key` among `partitions`: Java's `String.hashCode`, sign-safe, modulo the
/// partition count, as Kafka and KoP place groups and transactional ids.
pub fn partition_for(key: &str, partitions: u32) -> u32 {
    let hash = key.encode_utf16().fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)));
    // Kafka's Utils.abs: Integer.MIN_VALUE maps to 0.
    let positive = if hash == i32::MIN { 0 } else { hash.abs() };
    positive as u32 % partitions.max(1)
}

/// What a coordinator's log holds, as replay hands it over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry<'a> {
    /// A record: its key, its value (`None`: a tombstone), and the transactional producer it was
    /// written for, if any (a group's offsets sent to a transaction count once it commits).
    Record {
        /// The record's key.
        key: &'a [u8],
        /// Its value.
        value: Option<&'a [u8]>,
        /// The producer whose transaction it belongs to.
        producer_id: Option<i64>,
    },
    /// The end of `producer_id`'s transaction in this partition.
    Marker {
        /// Producer id.
        producer_id: i64,
        /// Commit (`true`) or abort.
        commit: bool,
    },
}

/// Hands each record and transaction marker at offset `from` or later in the stored batches
/// `bytes` to `f`; returns the offset after the last batch seen. Anyone who can write to the
/// topic (any Pulsar client, on that host) can put bytes there, so a batch that does not read is
/// skipped with a warning, and nothing is allocated by a size it claims.
pub fn log_entries(topic: &str, bytes: &[u8], from: i64, mut f: impl FnMut(Entry<'_>)) -> i64 {
    let mut next = from;
    for stored in batch::split(bytes) {
        let (Some(base), Some(last)) = (batch::base_offset_of(stored), batch::last_offset_of(stored)) else {
            continue;
        };
        next = next.max(last.saturating_add(1));
        let producer_id = match control::role(stored) {
            TxnRole::Marker { producer_id, commit, .. } => {
                if base >= from {
                    f(Entry::Marker { producer_id, commit });
                }
                continue;
            }
            TxnRole::Data { producer_id, .. } => Some(producer_id),
            TxnRole::None => None,
        };
        let visited = crate::protocol::records::visit(stored, REPLAY_DECOMPRESSED_MAX, |r| {
            if base.saturating_add(i64::from(r.offset_delta)) >= from {
                if let Some(key) = r.key {
                    f(Entry::Record { key, value: r.value, producer_id });
                }
            }
        });
        if let Err(e) = visited {
            tracing::warn!(base, error = %e, "skipped an unreadable {topic} batch");
        }
    }
    next
}

/// A coordinator's topic, seen as its log.
pub struct InternalLog {
    topic: Arc<Topic>,
}

impl InternalLog {
    /// Opens the topic `name`, creating it with `partitions` partitions if needed.
    pub async fn open(topics: &TopicRegistry, name: &str, partitions: u32) -> Result<Self, HostError> {
        // Never expired by time or size: compaction keeps it small instead.
        let configs = [("retention.ms", "-1"), ("retention.bytes", "-1"), ("segment.bytes", "104857600")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Ok(InternalLog { topic: topics.get_or_create(name, partitions, configs).await? })
    }

    /// The topic's name.
    pub fn name(&self) -> &str {
        &self.topic.meta.name
    }

    /// How many partitions the log has (fixed when it was first created).
    pub fn partitions(&self) -> u32 {
        self.topic.partitions.len() as u32
    }

    /// The partition that stores `key`'s records.
    pub fn partition_of(&self, key: &str) -> u32 {
        partition_for(key, self.partitions())
    }

    /// Partition `index` of the log.
    pub fn partition(&self, index: u32) -> Option<&Arc<Partition>> {
        self.topic.partition(index as i32)
    }

    /// Writes `entries` to partition `index` in one batch and waits until they are stored.
    pub async fn write(&self, index: u32, entries: Vec<LogEntry>) -> Result<(), WriteError> {
        self.write_as(index, entries, None).await
    }

    /// Writes `entries` to partition `index` in one batch of `producer`'s transaction (its id and
    /// epoch): they count once a commit marker follows them (see [`Entry`]).
    pub async fn write_in_transaction(
        &self,
        index: u32,
        entries: Vec<LogEntry>,
        producer: (i64, i16),
    ) -> Result<(), WriteError> {
        self.write_as(index, entries, Some(producer)).await
    }

    /// Ends `producer_id`'s transaction in partition `index` with a marker.
    pub async fn write_marker(&self, index: u32, producer_id: i64, epoch: i16, commit: bool) -> Result<(), WriteError> {
        let partition = self.partition(index).ok_or(WriteError::Unavailable)?;
        partition.ready().await.map_err(write_error)?;
        partition.write_marker(producer_id, epoch, commit, 0).await.map(drop).map_err(write_error)
    }

    async fn write_as(
        &self,
        index: u32,
        entries: Vec<LogEntry>,
        producer: Option<(i64, i16)>,
    ) -> Result<(), WriteError> {
        if entries.is_empty() {
            return Ok(());
        }
        let partition = self.partition(index).ok_or(WriteError::Unavailable)?;
        let bytes = encode(entries, producer).ok_or(WriteError::Unavailable)?;
        let info = batch::validate(&bytes, usize::MAX).map_err(|_| WriteError::Unavailable)?;
        let appended = match producer {
            None => partition.append(bytes, &info).await,
            Some(_) => partition.append_for_coordinator(bytes, &info).await,
        };
        appended.map(drop).map_err(write_error)
    }

    /// Hands every record and marker of partition `index` to `f`, oldest first; returns how many
    /// there were.
    pub async fn replay(&self, index: u32, mut f: impl FnMut(Entry<'_>)) -> Result<usize, HostError> {
        let name = self.name();
        let corrupt = |e: String| HostError::Corrupt(format!("cannot replay {name}-{index}: {e}"));
        let Some(partition) = self.partition(index) else { return Ok(0) };
        match partition.ready().await {
            Ok(()) => {}
            Err(ResponseError::NotLeaderOrFollower) => return Err(HostError::NotOwner(format!("{name}-{index}"))),
            Err(e) => return Err(corrupt(format!("{e:?}"))),
        }
        let mut replayed = 0usize;
        let mut offset = partition.start_offset();
        while offset < partition.end_offset() {
            let read = partition.read(offset, 1 << 20).await.map_err(|e| corrupt(format!("{e:?}")))?;
            let next = log_entries(name, &read.records, offset, |entry| {
                f(entry);
                replayed += 1;
            });
            if next <= offset {
                break;
            }
            offset = next;
        }
        Ok(replayed)
    }

    /// Writes the live state `live` of partition `index` after its end and trims what came
    /// before, so a replay reads only the live state. On a failed write the log stays as it was.
    pub async fn rewrite(&self, index: u32, live: Vec<LogEntry>) {
        let name = self.name();
        let Some(partition) = self.partition(index) else { return };
        let snapshot_start = partition.end_offset();
        for chunk in live.chunks(500) {
            if let Err(e) = self.write(index, chunk.to_vec()).await {
                tracing::warn!(partition = index, error = ?e, "compaction of {name} stopped; the log stays as it was");
                return;
            }
        }
        match partition.trim(snapshot_start).await {
            Ok(start) => tracing::info!(partition = index, live = live.len(), start, "compacted {name}"),
            Err(e) => tracing::warn!(partition = index, error = ?e, "cannot trim {name}"),
        }
    }
}

fn write_error(e: ResponseError) -> WriteError {
    match e {
        ResponseError::NotLeaderOrFollower => WriteError::NotOwner,
        ResponseError::InvalidProducerEpoch => WriteError::Fenced,
        _ => WriteError::Unavailable,
    }
}

/// One uncompressed batch of `entries`, as a coordinator writes them, in `producer`'s
/// transaction if one is given.
fn encode(entries: Vec<LogEntry>, producer: Option<(i64, i16)>) -> Option<Bytes> {
    let now = now_ms();
    let (producer_id, producer_epoch) = producer.unwrap_or((-1, -1));
    let kafka_records: Vec<KafkaRecord> = entries
        .into_iter()
        .enumerate()
        .map(|(i, (key, value))| KafkaRecord {
            transactional: producer.is_some(),
            control: false,
            partition_leader_epoch: 0,
            producer_id,
            producer_epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32,
            timestamp: now,
            key: Some(key),
            value,
            headers: Default::default(),
            delete_horizon: false,
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions { version: 2, compression: Compression::None };
    RecordBatchEncoder::encode(&mut buf, &kafka_records, &options).ok()?;
    Some(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_placed_as_kafka_places_them() {
        assert_eq!(partition_for("my-group", 50), 12);
        assert_eq!(partition_for("", 50), 0);
        // "polygenelubricants".hashCode() is Integer.MIN_VALUE.
        assert_eq!(partition_for("polygenelubricants", 50), 0);
    }
}
