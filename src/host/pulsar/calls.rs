//! What the Pulsar host asks of the broker it runs in, as a trait: the JNI transport
//! (`jni::bridge::Bridge`) answers it from the Java shim in a real broker, and a fake
//! broker answers it in unit tests, so the host's logic runs without a JVM.
//!
//! Every call returns at once with a future of the broker's [`Reply`]; the broker completes it
//! later from its own threads.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::future::BoxFuture;

/// Why a broker call failed, as the shim classifies the broker's exception by its type. The
/// numbers are the shim's (`NativeCore`), checked against it when the handler starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The broker failed to store or read.
    Storage = 0,
    /// Another broker owns the topic, or it is fenced or closed here.
    NotOwner = 1,
    /// No such topic.
    UnknownTopic = 2,
    /// The topic exists.
    TopicExists = 3,
    /// The broker refused the request as invalid (or a token as not valid).
    Invalid = 4,
    /// The entry is over the broker's size limit (its `maxMessageSize` or a namespace policy).
    TooLarge = 5,
    /// The topic was terminated: it takes no more writes.
    Terminated = 6,
}

impl Failure {
    /// Every kind with the name `NativeCore` gives it.
    pub const ALL: [(&'static str, Failure); 7] = [
        ("STORAGE", Failure::Storage),
        ("NOT_OWNER", Failure::NotOwner),
        ("UNKNOWN_TOPIC", Failure::UnknownTopic),
        ("TOPIC_EXISTS", Failure::TopicExists),
        ("INVALID", Failure::Invalid),
        ("TOO_LARGE", Failure::TooLarge),
        ("TERMINATED", Failure::Terminated),
    ];

    /// The shim's number for this kind.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The kind the shim numbered `code`, if it is one.
    pub fn from_code(code: i32) -> Option<Failure> {
        Failure::ALL.iter().map(|&(_, f)| f).find(|f| f.code() == code)
    }
}

/// Which field of a stored entry a position search compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The offset of the entry's last record.
    LastOffset = 0,
    /// The entry's max timestamp.
    MaxTimestamp = 1,
}

impl Field {
    /// The number the shim passes back when it reads the field of an entry.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The field numbered `code`, if it is one.
    pub fn from_code(code: i32) -> Option<Field> {
        [Field::LastOffset, Field::MaxTimestamp].into_iter().find(|f| f.code() == code)
    }

    /// This field of a stored entry (or of its first bytes), if it is a kop entry.
    pub fn of(self, entry: &[u8]) -> Option<i64> {
        let info = crate::protocol::pulsar_entry::parse(entry)?;
        match self {
            Field::LastOffset => Some(info.last_offset),
            Field::MaxTimestamp => crate::protocol::pulsar_entry::max_timestamp(entry, &info),
        }
    }
}

/// One entry read from a managed ledger, with its Pulsar headers.
#[derive(Debug, Clone)]
pub struct RawEntry {
    /// Ledger id.
    pub ledger_id: u64,
    /// Entry id.
    pub entry_id: u64,
    /// The stored bytes.
    pub data: Bytes,
}

/// A topic as the broker lists it.
#[derive(Debug, Clone)]
pub struct ListedTopic {
    /// Full Pulsar name.
    pub name: String,
    /// Partition count.
    pub partitions: i32,
    /// Kafka topic configs, kept as the topic's properties.
    pub configs: BTreeMap<String, String>,
}

/// What the broker answers.
#[derive(Debug)]
pub enum Reply {
    /// The call succeeded with nothing to report.
    Done,
    /// The namespace's topics.
    Topics(Vec<ListedTopic>),
    /// An opened partition: the interceptor index and the heads of its first and last entries.
    Opened {
        /// Offset of the last record stored, -1 if none.
        last_index: i64,
        /// First bytes of the first entry.
        first: Option<Vec<u8>>,
        /// First bytes of the last entry.
        last: Option<Vec<u8>>,
        /// The producer-state snapshot kept with the ManagedLedger, if one was saved.
        snapshot: Option<Vec<u8>>,
    },
    /// An entry was stored.
    Appended {
        /// Ledger id.
        ledger_id: u64,
        /// Entry id.
        entry_id: u64,
        /// First bytes of the stored entry, broker entry metadata included.
        head: Vec<u8>,
    },
    /// Entries read, and the cursor's next read position.
    Read(Vec<RawEntry>, Option<(u64, u64)>),
    /// A position.
    Position(u64, u64),
    /// Who owns a topic: this broker, or the broker at `url`.
    Owner {
        /// Whether the owner is this broker.
        local: bool,
        /// The owner's address as the lookup returned it (`pulsar://host:port`).
        url: String,
    },
    /// The role an authentication established.
    Principal(String),
    /// The call failed.
    Failed(Failure, String),
}

/// The calls into the broker. Topic names are full Pulsar names (`persistent://t/ns/name`,
/// partitions `...-partition-N`); namespaces are `tenant/namespace`.
pub trait BrokerCalls: Send + Sync {
    /// The partitioned topics of `namespace` with their partition counts and properties.
    fn list_topics(&self, namespace: &str) -> BoxFuture<'static, Reply>;

    /// One partitioned topic as a one-element [`Reply::Topics`]; an unknown topic fails with
    /// [`Failure::UnknownTopic`].
    fn describe_topic(&self, topic: &str) -> BoxFuture<'static, Reply>;

    /// Creates `namespace`, and its tenant, unless they exist.
    fn ensure_namespace(&self, namespace: &str) -> BoxFuture<'static, Reply>;

    /// The broker that owns `partition`, as [`Reply::Owner`].
    fn lookup(&self, partition: &str) -> BoxFuture<'static, Reply>;

    /// Authenticates `token` with the broker's `token` provider, as [`Reply::Principal`]; a
    /// rejected token fails with [`Failure::Invalid`].
    fn authenticate(&self, token: &str) -> BoxFuture<'static, Reply>;

    /// Creates a partitioned topic with its Kafka configs as topic properties.
    fn create_topic(
        &self,
        topic: &str,
        partitions: i32,
        configs: &BTreeMap<String, String>,
    ) -> BoxFuture<'static, Reply>;

    /// Sets a partitioned topic's Kafka configs (topic properties) to `configs` and removes the
    /// properties named in `removed`.
    fn alter_topic_configs(
        &self,
        topic: &str,
        configs: &BTreeMap<String, String>,
        removed: &[String],
    ) -> BoxFuture<'static, Reply>;

    /// Sets one property of a partitioned topic.
    fn set_topic_property(&self, topic: &str, key: &str, value: &str) -> BoxFuture<'static, Reply>;

    /// Grows a partitioned topic to `partitions`.
    fn update_partitions(&self, topic: &str, partitions: i32) -> BoxFuture<'static, Reply>;

    /// Deletes a partitioned topic and its partitions.
    fn delete_topic(&self, topic: &str) -> BoxFuture<'static, Reply>;

    /// Loads a partition on this broker, as [`Reply::Opened`].
    fn open_partition(&self, partition: &str) -> BoxFuture<'static, Reply>;

    /// Keeps `snapshot` as the producer-state snapshot of a partition loaded here (a property of
    /// its ManagedLedger, which the next owner loads with it).
    fn save_snapshot(&self, partition: &str, snapshot: &[u8]) -> BoxFuture<'static, Reply>;

    /// Publishes one frame ([`crate::protocol::pulsar_entry::publish_frame`]) holding `records`
    /// records, as [`Reply::Appended`]; the broker copies `frame` before the call returns.
    fn append(&self, partition: &str, frame: &[u8], records: i32) -> BoxFuture<'static, Reply>;

    /// Reads up to `max_entries` entries (about `max_bytes`, at least one) from
    /// `(ledger_id, entry_id)` on, as [`Reply::Read`].
    fn read(
        &self,
        partition: &str,
        ledger_id: u64,
        entry_id: u64,
        max_entries: i32,
        max_bytes: i64,
    ) -> BoxFuture<'static, Reply>;

    /// The position of the first entry whose `field` is at least `value`, as [`Reply::Position`].
    fn find_position(&self, partition: &str, field: Field, value: i64) -> BoxFuture<'static, Reply>;
}
