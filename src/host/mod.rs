//! The seam between the Kafka core and whatever stores the data.
//!
//! A host gives the core two things: a [`Log`] per partition, shaped like Pulsar's ManagedLedger
//! (ordered entries, each one record batch, addressed by a [`Position`]), and a [`TopicStore`] that
//! creates, deletes and opens topics. The embedded host keeps segment files on local disk; the Pulsar
//! host (through the Java shim) maps the same calls onto ManagedLedgers. Handlers never know which.

#[cfg(test)]
mod conformance;
pub mod embedded;
mod errors;
pub mod memory;
pub mod pulsar;

pub use errors::host_error;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::{self, BoxFuture, FutureExt};
use uuid::Uuid;

use crate::config::Endpoint;

/// Where an entry sits in a log: `(ledger_id, entry_id)`, ordered by ledger then entry.
///
/// The core treats the pair as opaque and ordered; only the host knows what the numbers mean
/// (a Pulsar entry id, or a byte position in an embedded segment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// The ledger (Pulsar) or segment (embedded) holding the entry.
    pub ledger_id: u64,
    /// The entry within that ledger.
    pub entry_id: u64,
}

/// One stored record batch as read back from a log.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Where the entry is stored.
    pub position: Position,
    /// Kafka offset of the first record in the batch.
    pub base_offset: i64,
    /// Kafka offset of the last record in the batch.
    pub last_offset: i64,
    /// The largest record timestamp in the batch.
    pub max_timestamp: i64,
    /// The batch bytes exactly as stored. The batch header's base offset may still hold the value
    /// the producer sent; [`crate::protocol::batch::with_base_offset`] patches it for the wire.
    pub data: Bytes,
}

/// Entries read from a log, and where the entry after the last one starts, so a reader that
/// continues needs no search.
#[derive(Debug, Clone, Default)]
pub struct ReadEntries {
    /// The entries, in log order.
    pub entries: Vec<Entry>,
    /// The position after the last entry, when the host knows it.
    pub next: Option<Position>,
}

/// The facts about a batch that the log needs to index it, taken from its validated header.
#[derive(Debug, Clone, Copy)]
pub struct BatchMeta {
    /// Number of records in the batch (`lastOffsetDelta + 1`).
    pub record_count: u32,
    /// The largest record timestamp in the batch.
    pub max_timestamp: i64,
}

/// What an append returns once the entry is stored (and, for `acks`, as durable as the host
/// promises).
#[derive(Debug, Clone, Copy)]
pub struct Appended {
    /// Where the entry landed.
    pub position: Position,
    /// The Kafka offset assigned to the batch's first record.
    pub base_offset: i64,
}

/// Errors a host reports. Each maps to one Kafka error code in [`host_error`].
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The topic does not exist.
    #[error("unknown topic {0}")]
    UnknownTopic(String),
    /// The topic exists already.
    #[error("topic {0} already exists")]
    TopicExists(String),
    /// The request names a topic or partition count the host cannot accept.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A topic config is unknown or has a bad value.
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    /// The log is closed or deleted (the topic went away under the request).
    #[error("log closed")]
    Closed,
    /// This broker does not own the partition (Pulsar host: another broker owns the bundle).
    #[error("not the owner of {0}")]
    NotOwner(String),
    /// The batch is over the storage's size limit (on Pulsar, the broker's or the namespace's).
    #[error("record batch too large: {0}")]
    TooLarge(String),
    /// The partition takes no more writes (on Pulsar, the topic was terminated).
    #[error("partition is read-only: {0}")]
    Terminated(String),
    /// The storage failed to persist or read.
    #[error("storage error: {0}")]
    Storage(#[from] std::io::Error),
    /// Stored data failed a consistency check.
    #[error("corrupt data: {0}")]
    Corrupt(String),
}

/// Result alias for host calls.
pub type HostResult<T> = Result<T, HostError>;

/// The partition log: a ManagedLedger-shaped, append-only sequence of record batches.
///
/// Offsets are assigned by the log in append order: the batch's first record gets
/// [`Log::end_offset`] at the time of the call. Calls return futures so a host can complete them
/// later (the Pulsar host from a broker callback); the order of entries is the order of the
/// `append` calls, not of completion.
pub trait Log: Send + Sync {
    /// Makes the log ready to serve on this broker and learns its offsets. The Pulsar host loads
    /// the partition here, which only its owner broker can do ([`HostError::NotOwner`] elsewhere),
    /// and again after ownership moved away and back. Hosts whose logs are always open need not
    /// override it.
    fn open(&self) -> BoxFuture<'static, HostResult<()>> {
        future::ready(Ok(())).boxed()
    }

    /// How many times this broker has loaded the log: a load after ownership came back may find
    /// what other brokers wrote meanwhile, so what the core keeps about the log is rebuilt when
    /// this changes. Hosts whose logs are always open keep 0.
    fn generation(&self) -> u64 {
        0
    }

    /// Appends one batch. The entry's order is fixed when this returns, before the future resolves.
    fn append(&self, batch: Bytes, meta: BatchMeta) -> BoxFuture<'static, HostResult<Appended>>;

    /// Reads whole entries starting at `from`, up to `max_entries` and about `max_bytes`; the first
    /// entry is returned even when it alone is larger than `max_bytes`.
    fn read(&self, from: Position, max_entries: usize, max_bytes: usize)
        -> BoxFuture<'static, HostResult<ReadEntries>>;

    /// Hints that the next read will likely be from `from` with budget `max_bytes` (a consumer
    /// that keeps up), so a host whose reads are round trips may start it now. Others ignore it.
    fn read_ahead(&self, _from: Position, _max_bytes: usize) {}

    /// The position of the entry holding `offset`, or `None` if no stored entry holds it.
    fn find_position(&self, offset: i64) -> BoxFuture<'static, HostResult<Option<Position>>>;

    /// The first entry whose max timestamp is at least `timestamp`, or `None`.
    fn find_by_timestamp(&self, timestamp: i64) -> BoxFuture<'static, HostResult<Option<Entry>>>;

    /// The offset of the oldest record still stored (Kafka's log start offset).
    fn start_offset(&self) -> i64;

    /// The offset the next appended record will get (Kafka's log end offset).
    fn end_offset(&self) -> i64;

    /// The largest timestamp in the log and the offset that carries it, if the log has records.
    fn max_timestamp(&self) -> Option<(i64, i64)>;

    /// Drops stored data below `offset` in whole storage units (segments, ledgers), so the new
    /// start offset, which is returned, may stay below `offset`.
    fn trim(&self, offset: i64) -> BoxFuture<'static, HostResult<i64>>;

    /// Makes `offset` the log start offset, durably: records below it are gone for readers at
    /// once, even inside a stored batch or unit; their storage is freed in whole units where the
    /// host can. Returns the new start offset. The range is the caller's (the partition's) to
    /// check: an offset past the end is taken as the end, one below the start changes nothing.
    fn delete_records(&self, offset: i64) -> BoxFuture<'static, HostResult<i64>>;

    /// The partition's producer-state snapshot as last saved, if one was; opaque to the host.
    /// Where ownership moves (Pulsar), the next owner finds the snapshot the last one saved.
    fn load_snapshot(&self) -> BoxFuture<'static, HostResult<Option<Bytes>>>;

    /// Replaces the partition's producer-state snapshot, durably: a crash leaves the old one or
    /// the new one, never a mix.
    fn save_snapshot(&self, snapshot: Bytes) -> BoxFuture<'static, HostResult<()>>;
}

/// A topic's durable description.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicMeta {
    /// Kafka topic name.
    pub name: String,
    /// Kafka topic id (Metadata v10+, Fetch v13+).
    pub id: Uuid,
    /// Number of partitions.
    pub partitions: u32,
    /// Topic-level configs as given at creation (`retention.ms`, ...).
    pub configs: BTreeMap<String, String>,
}

/// An open topic: its description and one log per partition.
#[derive(Clone)]
pub struct OpenTopic {
    /// What the topic is.
    pub meta: TopicMeta,
    /// Partition logs, indexed by partition number.
    pub logs: Vec<Arc<dyn Log>>,
}

/// What it takes to create a topic.
#[derive(Debug, Clone)]
pub struct TopicSpec {
    /// Kafka topic name, already validated by the core.
    pub name: String,
    /// Number of partitions (at least 1).
    pub partitions: u32,
    /// Topic-level configs.
    pub configs: BTreeMap<String, String>,
}

/// Which broker serves a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// This broker.
    Local,
    /// Another broker, at this Kafka address.
    Remote(Endpoint),
}

/// Topic lifecycle on the host.
pub trait TopicStore: Send + Sync {
    /// All topics the host knows, opened.
    fn load(&self) -> BoxFuture<'static, HostResult<Vec<OpenTopic>>>;

    /// The topic `name` as the host stores it now, if it exists. Hosts shared by several brokers
    /// (Pulsar) answer for topics that another broker or a Pulsar client created; a host whose
    /// topics all go through this broker has nothing to add to [`TopicStore::load`].
    fn find(&self, _name: &str) -> BoxFuture<'static, HostResult<Option<OpenTopic>>> {
        future::ready(Ok(None)).boxed()
    }

    /// Every topic the host has now, for hosts shared by several brokers, so a broker learns of
    /// topics created, grown, reconfigured or deleted through the others; `None` from hosts whose
    /// topics change only through this broker.
    fn refresh(&self) -> BoxFuture<'static, HostResult<Option<Vec<OpenTopic>>>> {
        future::ready(Ok(None)).boxed()
    }

    /// Which broker serves partition `partition` of `name`.
    fn owner(&self, _name: &str, _partition: u32) -> BoxFuture<'static, HostResult<Owner>> {
        future::ready(Ok(Owner::Local)).boxed()
    }

    /// Whether the host keeps copies of every log itself (Pulsar: the bookies of each ledger's
    /// write quorum), so a topic's Kafka replication factor asks nothing more of it; a host that
    /// keeps one copy (the embedded one) is a one-broker cluster, which refuses more replicas.
    fn replicates(&self) -> bool {
        false
    }

    /// Checks a spec the way `create` would, without creating anything (CreateTopics validate_only).
    fn validate(&self, spec: &TopicSpec) -> HostResult<()>;

    /// Creates and opens a topic.
    fn create(&self, spec: TopicSpec) -> BoxFuture<'static, HostResult<OpenTopic>>;

    /// Deletes a topic and its data.
    fn delete(&self, name: &str) -> BoxFuture<'static, HostResult<()>>;

    /// Grows a topic from `current` to `count` partitions; returns the new partitions' logs.
    fn add_partitions(&self, name: &str, current: u32, count: u32)
        -> BoxFuture<'static, HostResult<Vec<Arc<dyn Log>>>>;

    /// Replaces a topic's configs with `configs` (checked by the core) and applies them to its
    /// open logs.
    fn alter_configs(&self, name: &str, configs: BTreeMap<String, String>) -> BoxFuture<'static, HostResult<()>>;
}

/// Why a client's credentials were not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The credentials are wrong.
    #[error("{0}")]
    Rejected(String),
    /// They could not be checked (the broker's authentication is not set up, or failed).
    #[error("authentication unavailable: {0}")]
    Unavailable(String),
}

/// Checks SASL credentials and names the principal they belong to.
pub trait Authenticator: Send + Sync {
    /// The principal `username`/`password` authenticate as (PLAIN).
    fn authenticate(&self, username: &str, password: &str) -> BoxFuture<'static, Result<String, AuthError>>;

    /// The principal a bearer token authenticates as (OAUTHBEARER).
    fn authenticate_token(&self, token: &str) -> BoxFuture<'static, Result<String, AuthError>>;
}
