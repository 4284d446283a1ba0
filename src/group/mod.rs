//! The group coordinator: consumer groups, their rebalances and their committed offsets, kept
//! durable in `__consumer_offsets` through the same partitions and host log as any topic.
//!
//! Groups live in memory behind one lock that is never held across an await; JoinGroup and
//! SyncGroup replies that must wait for other members come through waiters the group completes.
//! A ticker expires silent members and ends rebalances whose time is up. On start the coordinator
//! replays the offsets log before the broker accepts clients.

mod api;
mod offsets_log;
pub mod records;
pub mod state;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;

use crate::clock::now_ms;
use crate::config::Config;
use crate::host::HostError;
use crate::names::OFFSETS_TOPIC;
use crate::partition::ownership::{Coordinated, Ownership};
use crate::partition::TopicRegistry;
pub use offsets_log::{log_records, Logged};
use offsets_log::{LogEntry, OffsetsLog, WriteError};
use records::Record;
use state::{Group, GroupState};

/// How long a group with no members and no offsets is kept before it is forgotten.
const IDLE_GROUP_GRACE: Duration = Duration::from_secs(60);

/// Coordinator settings.
#[derive(Debug, Clone, Copy)]
pub struct GroupConfig {
    /// Partitions of `__consumer_offsets`.
    pub offsets_partitions: u32,
    /// Delay before the first rebalance of an empty group completes, so members starting together
    /// land in one generation.
    pub initial_rebalance_delay: Duration,
    /// Smallest and largest session timeouts accepted.
    pub min_session_timeout: Duration,
    /// Largest session timeout accepted.
    pub max_session_timeout: Duration,
    /// How long offsets of an empty group are kept.
    pub offsets_retention: Duration,
    /// Largest metadata string on a committed offset.
    pub max_metadata_size: usize,
}

/// One partition's commit request.
#[derive(Debug, Clone)]
pub struct CommitItem {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Leader epoch.
    pub leader_epoch: i32,
    /// Metadata string.
    pub metadata: Option<String>,
}

/// A group as DescribeGroups shows it.
pub struct GroupDescription {
    /// State name.
    pub state: &'static str,
    /// Protocol type.
    pub protocol_type: String,
    /// Chosen protocol.
    pub protocol: String,
    /// The members.
    pub members: Vec<MemberDescription>,
}

/// A member as DescribeGroups shows it.
pub struct MemberDescription {
    /// Member id.
    pub member_id: String,
    /// Static membership instance id.
    pub instance_id: Option<String>,
    /// The client's id.
    pub client_id: String,
    /// The client's address.
    pub client_host: String,
    /// Its subscription under the chosen protocol.
    pub metadata: Bytes,
    /// Its assignment.
    pub assignment: Bytes,
}

/// A group as ListGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupListing {
    /// Group id.
    pub group_id: String,
    /// Protocol type (`consumer`, or empty for offsets-only groups).
    pub protocol_type: String,
    /// State name.
    pub state: &'static str,
}

impl GroupConfig {
    /// The coordinator's settings from the broker's config.
    pub fn from_config(config: &Config) -> Self {
        GroupConfig {
            offsets_partitions: config.offsets_topic_num_partitions,
            initial_rebalance_delay: Duration::from_millis(config.group_initial_rebalance_delay_ms),
            min_session_timeout: Duration::from_millis(config.group_min_session_timeout_ms),
            max_session_timeout: Duration::from_millis(config.group_max_session_timeout_ms),
            offsets_retention: Duration::from_secs(config.offsets_retention_minutes * 60),
            max_metadata_size: config.offset_metadata_max_size,
        }
    }
}

/// The group coordinator: the client API (in `api`), over the groups in memory, the offsets
/// log that keeps them, and the ownership of its partitions.
pub struct GroupCoordinator {
    config: GroupConfig,
    groups: Mutex<HashMap<String, Group>>,
    log: OffsetsLog,
    ownership: Ownership,
    // Wakes the ticker when a request may have brought a group's next deadline closer.
    wake: Arc<tokio::sync::Notify>,
    // Offsets committed in transactions still open, by producer id: (group, topic, partition,
    // offset). Also in the log, in the producer's transaction, so a replay restores them.
    pending_txn: Mutex<HashMap<i64, Vec<PendingOffset>>>,
    // Offsets are kept only for topics that exist (OffsetCommit answers UNKNOWN_TOPIC_OR_PARTITION).
    topics: Arc<TopicRegistry>,
}

/// An offset committed in a transaction: group, topic, partition and the offset.
type PendingOffset = (String, String, i32, records::Committed);

/// The ticker's bounds: deadlines are met to within the first; the second is a safety net for
/// a deadline no request announced.
const TICK_AT_LEAST: Duration = Duration::from_millis(100);
const TICK_AT_MOST: Duration = Duration::from_secs(5);

impl GroupCoordinator {
    /// Whether offsets may be committed for `topic`: it exists.
    pub fn knows_topic(&self, topic: &str) -> bool {
        self.topics.get(topic).is_some()
    }

    /// Opens (creating if needed) `__consumer_offsets` and replays it.
    pub async fn start(topics: &Arc<TopicRegistry>, config: GroupConfig) -> Result<Arc<Self>, HostError> {
        let log = OffsetsLog::open(topics, config.offsets_partitions).await?;
        let partitions = log.partitions();
        let coordinator = Arc::new(GroupCoordinator {
            config,
            groups: Mutex::new(HashMap::new()),
            log,
            ownership: Ownership::new(partitions),
            wake: Arc::new(tokio::sync::Notify::new()),
            pending_txn: Mutex::new(HashMap::new()),
            topics: Arc::clone(topics),
        });
        // Replayed before the listener opens, so clients of a single broker never see a load in
        // progress; partitions another broker owns are left to it.
        for index in 0..partitions {
            match coordinator.load(index).await {
                Ok(()) | Err(HostError::NotOwner(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let loaded = coordinator.ownership.loaded_count();
        tracing::info!(partitions = loaded, groups = coordinator.lock().len(), "loaded {OFFSETS_TOPIC}");
        let ticker = Arc::downgrade(&coordinator);
        let wake = Arc::clone(&coordinator.wake);
        tokio::spawn(async move {
            // The ticker sleeps until the earliest deadline of any group, not on a fixed period:
            // ten thousand idle groups cost nothing between their deadlines.
            while let Some(c) = ticker.upgrade() {
                let now = Instant::now();
                let next = c.tick().map_or(TICK_AT_MOST, |at| at.saturating_duration_since(now));
                drop(c);
                tokio::select! {
                    () = tokio::time::sleep(next.clamp(TICK_AT_LEAST, TICK_AT_MOST)) => {}
                    () = wake.notified() => tokio::time::sleep(TICK_AT_LEAST).await,
                }
            }
        });
        Ok(coordinator)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Group>> {
        self.groups.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn pending_txn_offsets(&self) -> MutexGuard<'_, HashMap<i64, Vec<PendingOffset>>> {
        self.pending_txn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The groups, for a change that may bring a deadline closer than the ticker's next wake
    /// (a join, a sync, a departure). Offsets only set deadlines far past the ticker's longest
    /// sleep, so their changes take the plain lock.
    fn lock_changing(&self) -> MutexGuard<'_, HashMap<String, Group>> {
        self.wake.notify_one();
        self.lock()
    }

    /// The `__consumer_offsets` partition that stores `group_id`.
    pub fn partition_of(&self, group_id: &str) -> u32 {
        self.log.partition_of(group_id)
    }

    /// Whether this broker has offsets partition `index` in memory, so a transaction marker for
    /// it is this broker's to apply.
    pub fn holds(&self, index: u32) -> bool {
        self.ownership.is_loaded(index)
    }

    /// Whether this broker coordinates `group_id` now. A group whose offsets partition is not in
    /// memory starts loading it (COORDINATOR_LOAD_IN_PROGRESS until done), unless another broker
    /// owns the partition (NOT_COORDINATOR: the client asks FindCoordinator again).
    pub fn check(self: &Arc<Self>, group_id: &str) -> Result<(), ResponseError> {
        let index = self.partition_of(group_id);
        if self.ownership.check(index)? == Coordinated::Here {
            return Ok(());
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(e) = this.load(index).await {
                tracing::debug!(partition = index, error = %e, "offsets partition not loaded");
            }
        });
        Err(ResponseError::CoordinatorLoadInProgress)
    }

    /// Loads offsets partition `index` on this broker and replays its groups into memory.
    async fn load(&self, index: u32) -> Result<(), HostError> {
        self.ownership.loading(index);
        // Offsets sent to transactions, by producer, until their marker commits or drops them;
        // those whose transaction is still open at the end are pending again.
        let mut open: HashMap<i64, Vec<PendingOffset>> = HashMap::new();
        let outcome = self
            .log
            .replay(index, |logged| match logged {
                Logged::Record(record, None) => self.apply(record),
                Logged::Record(Record::Offset { group, topic, partition, value: Some(v) }, Some(producer_id)) => {
                    open.entry(producer_id).or_default().push((group, topic, partition, v));
                }
                Logged::Record(_, Some(_)) => {}
                Logged::Marker { producer_id, commit } => {
                    let ended = open.remove(&producer_id).unwrap_or_default();
                    if commit {
                        self.apply_committed(ended);
                    }
                }
            })
            .await;
        match &outcome {
            Ok(records) => {
                self.replace_pending(index, open);
                self.compact(index, *records).await;
                self.ownership.loaded(index);
                tracing::debug!(partition = index, records, "replayed {OFFSETS_TOPIC}");
            }
            Err(HostError::NotOwner(_)) => self.ownership.elsewhere(index),
            Err(_) => self.ownership.failed(index),
        }
        outcome.map(drop)
    }

    /// Makes offsets held in a transaction that committed count.
    fn apply_committed(&self, offsets: Vec<PendingOffset>) {
        for (group, topic, partition, v) in offsets {
            self.apply(Record::Offset { group, topic, partition, value: Some(v) });
        }
    }

    /// Makes `open` the offsets pending in transactions for the groups of partition `index`.
    fn replace_pending(&self, index: u32, open: HashMap<i64, Vec<PendingOffset>>) {
        let mut pending = self.pending_txn_offsets();
        for held in pending.values_mut() {
            held.retain(|(g, ..)| self.partition_of(g) != index);
        }
        for (producer_id, offsets) in open {
            pending.entry(producer_id).or_default().extend(offsets);
        }
        pending.retain(|_, held| !held.is_empty());
    }

    /// Forgets the groups of offsets partition `index` after another broker took it over (it
    /// replays them, and the offsets pending in transactions, from the log).
    fn unload(&self, index: u32) {
        self.ownership.elsewhere(index);
        self.lock().retain(|id, _| self.log.partition_of(id) != index);
        self.replace_pending(index, HashMap::new());
        tracing::info!(partition = index, "another broker owns this {OFFSETS_TOPIC} partition now");
    }

    fn apply(&self, record: Record) {
        let now = Instant::now();
        let mut groups = self.lock();
        match record {
            Record::Offset { group, topic, partition, value } => {
                let g = groups
                    .entry(group.clone())
                    .or_insert_with(|| Group::new(&group, self.config.initial_rebalance_delay, now));
                match value {
                    Some(v) => g.offsets.insert((topic, partition), v),
                    None => g.offsets.remove(&(topic, partition)),
                };
            }
            Record::Group { group, value: Some(v) } => {
                groups
                    .entry(group.clone())
                    .or_insert_with(|| Group::new(&group, self.config.initial_rebalance_delay, now))
                    .restore(&v);
            }
            Record::Group { group, value: None } => {
                groups.remove(&group);
            }
        }
    }

    /// Writes records for `group` to its offsets partition and waits until they are stored.
    async fn persist(&self, group: &str, entries: Vec<LogEntry>) -> Result<(), ResponseError> {
        let index = self.partition_of(group);
        let written = self.log.write(index, entries).await;
        self.written(index, written)
    }

    /// The Kafka error for a write to offsets partition `index`; a partition another broker
    /// owns now is unloaded.
    fn written(&self, index: u32, result: Result<(), WriteError>) -> Result<(), ResponseError> {
        match result {
            Ok(()) => Ok(()),
            Err(WriteError::NotOwner) => {
                self.unload(index);
                Err(ResponseError::NotCoordinator)
            }
            Err(WriteError::Unavailable) => Err(ResponseError::CoordinatorNotAvailable),
            Err(WriteError::Fenced) => Err(ResponseError::ProducerFenced),
        }
    }

    /// Rewrites a partition's live state after its end and trims what came before, when the log
    /// holds far more records than live state, so replay time stays bounded by the live state.
    async fn compact(&self, index: u32, replayed: usize) {
        // Offsets pending in a transaction live only in the log, before its marker: the rewrite
        // waits until no transaction holds any here.
        if self.pending_txn_offsets().values().flatten().any(|(g, ..)| self.partition_of(g) == index) {
            return;
        }
        let live: Vec<LogEntry> = {
            let groups = self.lock();
            groups
                .values()
                .filter(|g| self.log.partition_of(&g.id) == index)
                .flat_map(|g| {
                    let mut entries: Vec<LogEntry> = g
                        .offsets
                        .iter()
                        .map(|((t, p), c)| (records::offset_key(&g.id, t, *p), Some(records::offset_value(c))))
                        .collect();
                    let record = records::GroupRecord {
                        protocol_type: g.protocol_type.clone().unwrap_or_default(),
                        generation: g.generation,
                        protocol: None,
                        leader: None,
                        state_timestamp: now_ms(),
                    };
                    entries.push((records::group_key(&g.id), Some(records::group_value(&record))));
                    entries
                })
                .collect()
        };
        if replayed < 1000 || replayed < live.len() * 4 {
            return;
        }
        self.log.rewrite(index, live).await;
    }

    /// Persists the group's metadata if it changed (after joins, syncs, departures).
    fn persist_dirty(self: &Arc<Self>, group_id: &str) {
        let record = self.lock().get_mut(group_id).and_then(|g| g.take_dirty(now_ms()));
        if let Some(record) = record {
            self.spawn_group_record(group_id.to_string(), record);
        }
    }

    fn spawn_group_record(self: &Arc<Self>, id: String, record: records::GroupRecord) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let entry = (records::group_key(&id), Some(records::group_value(&record)));
            if let Err(e) = this.persist(&id, vec![entry]).await {
                tracing::warn!(group = %id, error = ?e, "cannot store group metadata");
            }
        });
    }

    /// Moves every group along to `now`; returns the earliest instant at which one of them has
    /// something to do next.
    fn tick(self: &Arc<Self>) -> Option<Instant> {
        let now = Instant::now();
        let mut changed = Vec::new();
        let mut expired = Vec::new();
        let mut idle = Vec::new();
        let mut next: Option<Instant> = None;
        let mut at = |deadline: Option<Instant>| next = next.into_iter().chain(deadline).min();
        {
            let mut groups = self.lock();
            for (id, g) in groups.iter_mut() {
                g.tick(now);
                at(g.next_deadline());
                if g.is_idle() {
                    if now.duration_since(g.state_since) > IDLE_GROUP_GRACE {
                        idle.push(id.clone());
                        continue;
                    }
                    at(g.state_since.checked_add(IDLE_GROUP_GRACE));
                }
                if let Some(record) = g.take_dirty(now_ms()) {
                    changed.push((id.clone(), record));
                }
                if g.state == GroupState::Empty && g.members.is_empty() && !g.offsets.is_empty() {
                    if now.duration_since(g.state_since) > self.config.offsets_retention {
                        expired.push(id.clone());
                    } else {
                        at(g.state_since.checked_add(self.config.offsets_retention));
                    }
                }
            }
            groups.retain(|id, _| !idle.contains(id));
        }
        for (id, record) in changed {
            self.spawn_group_record(id, record);
        }
        // Empty groups without offsets are forgotten, as Kafka forgets them (Dead), with a
        // tombstone so a replay does not bring them back.
        for id in idle {
            let this = Arc::clone(self);
            tokio::spawn(async move {
                if let Err(e) = this.persist(&id, vec![(records::group_key(&id), None)]).await {
                    tracing::warn!(group = %id, error = ?e, "cannot store the removal of an idle group");
                }
            });
        }
        for id in expired {
            let this = Arc::clone(self);
            tokio::spawn(async move {
                let keys: Vec<(String, i32)> =
                    this.lock().get(&id).map(|g| g.offsets.keys().cloned().collect()).unwrap_or_default();
                let tombstones = keys.iter().map(|(t, p)| (records::offset_key(&id, t, *p), None)).collect();
                if this.persist(&id, tombstones).await.is_ok() {
                    if let Some(g) = this.lock().get_mut(&id) {
                        keys.iter().for_each(|k| {
                            g.offsets.remove(k);
                        });
                    }
                    tracing::info!(group = %id, "expired the offsets of an empty group");
                }
            });
        }
        next
    }
}
