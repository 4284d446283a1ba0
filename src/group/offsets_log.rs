//! `__consumer_offsets` as the group coordinator's log: the group records of `records`, kept
//! in an [`InternalLog`].

use crate::host::HostError;
use crate::names::OFFSETS_TOPIC;
use crate::partition::internal_log::Entry;
use crate::partition::internal_log::{self, InternalLog};
pub use crate::partition::internal_log::{LogEntry, WriteError};
use crate::partition::TopicRegistry;

use super::records::{self, Record};

/// What the offsets log holds, as replay hands it over.
#[derive(Debug, Clone, PartialEq)]
pub enum Logged {
    /// A group record, and the transactional producer it was written for, if any (offsets sent
    /// to a transaction, which count once its commit marker follows).
    Record(Record, Option<i64>),
    /// The end of `producer_id`'s transaction in this partition.
    Marker {
        /// Producer id.
        producer_id: i64,
        /// Commit (`true`) or abort.
        commit: bool,
    },
}

/// Hands each group record and marker at offset `from` or later in the stored batches `bytes`
/// of the offsets log to `f`; returns the offset after the last batch seen. Records that do not
/// decode as one are skipped.
pub fn log_records(bytes: &[u8], from: i64, mut f: impl FnMut(Logged)) -> i64 {
    internal_log::log_entries(OFFSETS_TOPIC, bytes, from, |entry| {
        if let Some(logged) = logged(entry) {
            f(logged);
        }
    })
}

fn logged(entry: Entry<'_>) -> Option<Logged> {
    match entry {
        Entry::Record { key, value, producer_id } => {
            records::decode(key, value).map(|r| Logged::Record(r, producer_id))
        }
        Entry::Marker { producer_id, commit } => Some(Logged::Marker { producer_id, commit }),
    }
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

    /// Writes `entries` to partition `index` in one batch of `producer`'s transaction (id and
    /// epoch), and waits until they are stored.
    pub async fn write_in_transaction(
        &self,
        index: u32,
        entries: Vec<LogEntry>,
        producer: (i64, i16),
    ) -> Result<(), WriteError> {
        self.log.write_in_transaction(index, entries, producer).await
    }

    /// Ends `producer_id`'s transaction in partition `index` with a marker.
    pub async fn write_marker(&self, index: u32, producer_id: i64, epoch: i16, commit: bool) -> Result<(), WriteError> {
        self.log.write_marker(index, producer_id, epoch, commit).await
    }

    /// Hands every group record and marker of partition `index` to `f`, oldest first; returns how
    /// many entries there were.
    pub async fn replay(&self, index: u32, mut f: impl FnMut(Logged)) -> Result<usize, HostError> {
        self.log
            .replay(index, |entry| {
                if let Some(logged) = logged(entry) {
                    f(logged);
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
