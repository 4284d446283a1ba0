//! `__consumer_offsets` as the group coordinator's log: the group records of `records`, kept
//! in an [`InternalLog`].

use crate::host::HostError;
use crate::names::OFFSETS_TOPIC;
use crate::partition::internal_log::{self, InternalLog};
pub use crate::partition::internal_log::{LogEntry, WriteError};
use crate::partition::TopicRegistry;

use super::records::{self, Record};

/// Hands each group record at offset `from` or later in the stored batches `bytes` of the
/// offsets log to `f`; returns the offset after the last batch seen. Records that do not decode
/// as one are skipped.
pub fn log_records(bytes: &[u8], from: i64, mut f: impl FnMut(Record)) -> i64 {
    internal_log::log_entries(OFFSETS_TOPIC, bytes, from, |key, value| {
        if let Some(decoded) = records::decode(key, value) {
            f(decoded);
        }
    })
}

/// The offsets topic, seen as the coordinator's log.
pub struct OffsetsLog {
    log: InternalLog,
}

impl OffsetsLog {
    /// Opens `__consumer_offsets`, creating it with `partitions` partitions if needed.
    pub async fn open(topics: &TopicRegistry, partitions: u32) -> Result<Self, HostError> {
        Ok(OffsetsLog { log: InternalLog::open(topics, OFFSETS_TOPIC, partitions).await? })
    }

    /// How many partitions the log has (fixed when it was first created).
    pub fn partitions(&self) -> u32 {
        self.log.partitions()
    }

    /// The partition that stores `group_id`.
    pub fn partition_of(&self, group_id: &str) -> u32 {
        self.log.partition_of(group_id)
    }

    /// Writes `entries` to partition `index` in one batch and waits until they are stored.
    pub async fn write(&self, index: u32, entries: Vec<LogEntry>) -> Result<(), WriteError> {
        self.log.write(index, entries).await
    }

    /// Hands every group record of partition `index` to `f`, oldest first; returns how many
    /// records there were.
    pub async fn replay(&self, index: u32, mut f: impl FnMut(Record)) -> Result<usize, HostError> {
        self.log
            .replay(index, |key, value| {
                if let Some(decoded) = records::decode(key, value) {
                    f(decoded);
                }
            })
            .await
    }

    /// Writes the live state `live` of partition `index` after its end and trims what came
    /// before.
    pub async fn rewrite(&self, index: u32, live: Vec<LogEntry>) {
        self.log.rewrite(index, live).await
    }
}
