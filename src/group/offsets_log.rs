//! `__consumer_offsets` as the coordinator's log: records written as Kafka batches through the
//! topic's partitions (so each host keeps them as durable as any topic), read back at replay,
//! and rewritten shorter when the log holds far more than the live state.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::records::{
    Compression, Record as KafkaRecord, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::records::{self, Record};
use crate::clock::now_ms;
use crate::host::HostError;
use crate::names::OFFSETS_TOPIC;
use crate::partition::{Partition, Topic, TopicRegistry};
use crate::protocol::batch;

/// How far one stored batch of the offsets log may decompress at replay: kop writes small
/// batches, so a batch that expands further was not written by a coordinator.
const REPLAY_DECOMPRESSED_MAX: usize = 64 << 20;

/// A record of the offsets log: key and value (`None` for a tombstone).
pub type LogEntry = (Bytes, Option<Bytes>);

/// Why records could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteError {
    /// Another broker owns the offsets partition now.
    NotOwner,
    /// The partition could not store them.
    Unavailable,
}

/// Hands each record the coordinator knows, at offset `from` or later, in the stored batches
/// `bytes` of its log to `f`; returns the offset after the last batch seen. Anyone who can
/// write to the topic (any Pulsar client, on that host) can put bytes there, so a batch that
/// does not read is skipped with a warning, and nothing is allocated by a size it claims.
pub fn log_records(bytes: &[u8], from: i64, mut f: impl FnMut(Record)) -> i64 {
    let mut next = from;
    for stored in batch::split(bytes) {
        let (Some(base), Some(last)) = (batch::base_offset_of(stored), batch::last_offset_of(stored)) else {
            continue;
        };
        next = next.max(last.saturating_add(1));
        let visited = crate::protocol::records::visit(stored, REPLAY_DECOMPRESSED_MAX, |r| {
            if base.saturating_add(i64::from(r.offset_delta)) >= from {
                if let Some(decoded) = r.key.and_then(|k| records::decode(k, r.value)) {
                    f(decoded);
                }
            }
        });
        if let Err(e) = visited {
            tracing::warn!(base, error = %e, "skipped an unreadable {OFFSETS_TOPIC} batch");
        }
    }
    next
}

/// The offsets topic, seen as the coordinator's log.
pub struct OffsetsLog {
    topic: Arc<Topic>,
}

impl OffsetsLog {
    /// Opens `__consumer_offsets`, creating it with `partitions` partitions if needed.
    pub async fn open(topics: &TopicRegistry, partitions: u32) -> Result<Self, HostError> {
        // Never expired by time or size: compaction keeps it small instead.
        let configs = [("retention.ms", "-1"), ("retention.bytes", "-1"), ("segment.bytes", "104857600")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Ok(OffsetsLog { topic: topics.get_or_create(OFFSETS_TOPIC, partitions, configs).await? })
    }

    /// How many partitions the log has (fixed when it was first created).
    pub fn partitions(&self) -> u32 {
        self.topic.partitions.len() as u32
    }

    /// The partition that stores `group_id`.
    pub fn partition_of(&self, group_id: &str) -> u32 {
        records::partition_for(group_id, self.partitions())
    }

    fn partition(&self, index: u32) -> Option<&Arc<Partition>> {
        self.topic.partition(index as i32)
    }

    /// Writes `entries` to partition `index` in one batch and waits until they are stored.
    pub async fn write(&self, index: u32, entries: Vec<LogEntry>) -> Result<(), WriteError> {
        if entries.is_empty() {
            return Ok(());
        }
        let partition = self.partition(index).ok_or(WriteError::Unavailable)?;
        let bytes = encode(entries).ok_or(WriteError::Unavailable)?;
        let info = batch::validate(&bytes, usize::MAX).map_err(|_| WriteError::Unavailable)?;
        match partition.append(bytes, &info).await {
            Ok(_) => Ok(()),
            Err(ResponseError::NotLeaderOrFollower) => Err(WriteError::NotOwner),
            Err(_) => Err(WriteError::Unavailable),
        }
    }

    /// Hands every record of partition `index` to `f`, oldest first; returns how many there were.
    pub async fn replay(&self, index: u32, mut f: impl FnMut(Record)) -> Result<usize, HostError> {
        let corrupt = |e: String| HostError::Corrupt(format!("cannot replay {OFFSETS_TOPIC}-{index}: {e}"));
        let Some(partition) = self.partition(index) else { return Ok(0) };
        match partition.ready().await {
            Ok(()) => {}
            Err(ResponseError::NotLeaderOrFollower) => {
                return Err(HostError::NotOwner(format!("{OFFSETS_TOPIC}-{index}")))
            }
            Err(e) => return Err(corrupt(format!("{e:?}"))),
        }
        let mut replayed = 0usize;
        let mut offset = partition.start_offset();
        while offset < partition.end_offset() {
            let read = partition.read(offset, 1 << 20).await.map_err(|e| corrupt(format!("{e:?}")))?;
            let next = log_records(&read.records, offset, |record| {
                f(record);
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
        let Some(partition) = self.partition(index) else { return };
        let snapshot_start = partition.end_offset();
        for chunk in live.chunks(500) {
            if let Err(e) = self.write(index, chunk.to_vec()).await {
                tracing::warn!(partition = index, error = ?e, "compaction stopped; the log stays as it was");
                return;
            }
        }
        match partition.trim(snapshot_start).await {
            Ok(start) => tracing::info!(partition = index, live = live.len(), start, "compacted {OFFSETS_TOPIC}"),
            Err(e) => tracing::warn!(partition = index, error = ?e, "cannot trim {OFFSETS_TOPIC}"),
        }
    }
}

/// One uncompressed batch of `entries`, as the coordinator writes them.
fn encode(entries: Vec<LogEntry>) -> Option<Bytes> {
    let now = now_ms();
    let kafka_records: Vec<KafkaRecord> = entries
        .into_iter()
        .enumerate()
        .map(|(i, (key, value))| KafkaRecord {
            transactional: false,
            control: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
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
