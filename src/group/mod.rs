//! The group coordinator: consumer groups, their rebalances and their committed offsets, kept
//! durable in `__consumer_offsets` through the same partitions and host log as any topic.
//!
//! Groups live in memory behind one lock that is never held across an await; JoinGroup and
//! SyncGroup replies that must wait for other members come through waiters the group completes.
//! A ticker expires silent members and ends rebalances whose time is up. On start the coordinator
//! replays the offsets log before the broker accepts clients.

pub mod records;
pub mod state;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::records::{
    Compression, Record as KafkaRecord, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use crate::clock::now_ms;
use crate::config::Config;
use crate::host::HostError;
use crate::names::OFFSETS_TOPIC;
use crate::partition::{Topic, TopicRegistry};
use crate::protocol::batch;
use records::{Committed, Record};
use state::{Group, GroupState, JoinParams, JoinResult, Reply, SyncResult};

/// How long a group with no members and no offsets is kept before it is forgotten.
const IDLE_GROUP_GRACE: Duration = Duration::from_secs(60);

/// How far one stored batch of the offsets log may decompress at replay: kop writes small
/// batches, so a batch that expands further was not written by a coordinator.
const REPLAY_DECOMPRESSED_MAX: usize = 64 << 20;

/// A record of the offsets log: key and value (`None` for a tombstone).
type LogEntry = (Bytes, Option<Bytes>);

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
    /// `(member id, instance id, client id, client host, metadata, assignment)`.
    pub members: Vec<(String, Option<String>, String, String, Bytes, Bytes)>,
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

/// The group coordinator.
pub struct GroupCoordinator {
    config: GroupConfig,
    groups: Mutex<HashMap<String, Group>>,
    offsets_topic: Arc<Topic>,
    // One per offsets partition: whether this broker coordinates its groups.
    loads: Mutex<Vec<Load>>,
    // Wakes the ticker when a request may have brought a group's next deadline closer.
    wake: Arc<tokio::sync::Notify>,
}

/// Whether this broker has an offsets partition's groups in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    /// Not tried yet, or given up after an error.
    Unloaded,
    /// Being replayed: its groups get COORDINATOR_LOAD_IN_PROGRESS.
    Loading,
    /// Replayed; this broker coordinates its groups.
    Loaded,
    /// Another broker owns it, as of this instant (asked again after [`OWNER_RECHECK`]).
    Elsewhere(Instant),
}

/// How long "another broker owns this offsets partition" is believed before asking again.
const OWNER_RECHECK: Duration = Duration::from_secs(5);

/// The ticker's bounds: deadlines are met to within the first; the second is a safety net for
/// a deadline no request announced.
const TICK_AT_LEAST: Duration = Duration::from_millis(100);
const TICK_AT_MOST: Duration = Duration::from_secs(5);

impl GroupCoordinator {
    /// Opens (creating if needed) `__consumer_offsets` and replays it.
    pub async fn start(topics: &TopicRegistry, config: GroupConfig) -> Result<Arc<Self>, HostError> {
        // Never expired by time or size: compaction below keeps it small instead.
        let configs = [("retention.ms", "-1"), ("retention.bytes", "-1"), ("segment.bytes", "104857600")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let offsets_topic = topics.get_or_create(OFFSETS_TOPIC, config.offsets_partitions, configs).await?;
        let partitions = offsets_topic.partitions.len();
        let coordinator = Arc::new(GroupCoordinator {
            config,
            groups: Mutex::new(HashMap::new()),
            offsets_topic: Arc::clone(&offsets_topic),
            loads: Mutex::new(vec![Load::Unloaded; partitions]),
            wake: Arc::new(tokio::sync::Notify::new()),
        });
        // Replayed before the listener opens, so clients of a single broker never see a load in
        // progress; partitions another broker owns are left to it.
        for index in 0..partitions as u32 {
            match coordinator.load(index).await {
                Ok(()) | Err(HostError::NotOwner(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let loaded = coordinator.loads().iter().filter(|l| **l == Load::Loaded).count();
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

    /// The groups, for a change that may bring a deadline closer than the ticker's next wake
    /// (a join, a sync, a departure). Offsets only set deadlines far past the ticker's longest
    /// sleep, so their changes take the plain lock.
    fn lock_changing(&self) -> MutexGuard<'_, HashMap<String, Group>> {
        self.wake.notify_one();
        self.lock()
    }

    fn loads(&self) -> MutexGuard<'_, Vec<Load>> {
        self.loads.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_load(&self, index: u32, load: Load) {
        if let Some(slot) = self.loads().get_mut(index as usize) {
            *slot = load;
        }
    }

    /// The `__consumer_offsets` partition that stores `group_id`.
    pub fn partition_of(&self, group_id: &str) -> u32 {
        records::partition_for(group_id, self.offsets_topic.partitions.len() as u32)
    }

    /// Whether this broker coordinates `group_id` now. A group whose offsets partition is not in
    /// memory starts loading it (COORDINATOR_LOAD_IN_PROGRESS until done), unless another broker
    /// owns the partition (NOT_COORDINATOR: the client asks FindCoordinator again).
    pub fn check(self: &Arc<Self>, group_id: &str) -> Result<(), ResponseError> {
        let index = self.partition_of(group_id);
        {
            let mut loads = self.loads();
            let Some(load) = loads.get_mut(index as usize) else { return Err(ResponseError::CoordinatorNotAvailable) };
            match *load {
                Load::Loaded => return Ok(()),
                Load::Loading => return Err(ResponseError::CoordinatorLoadInProgress),
                Load::Elsewhere(since) if since.elapsed() < OWNER_RECHECK => return Err(ResponseError::NotCoordinator),
                Load::Elsewhere(_) | Load::Unloaded => *load = Load::Loading,
            }
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
        self.set_load(index, Load::Loading);
        let outcome = self.replay(index).await;
        match &outcome {
            Ok(records) => {
                self.compact(index, *records).await;
                self.set_load(index, Load::Loaded);
                tracing::debug!(partition = index, records, "replayed {OFFSETS_TOPIC}");
            }
            Err(HostError::NotOwner(_)) => self.set_load(index, Load::Elsewhere(Instant::now())),
            Err(_) => self.set_load(index, Load::Unloaded),
        }
        outcome.map(drop)
    }

    /// Forgets the groups of offsets partition `index` after another broker took it over.
    fn unload(&self, index: u32) {
        self.set_load(index, Load::Elsewhere(Instant::now()));
        let partitions = self.offsets_topic.partitions.len() as u32;
        self.lock().retain(|id, _| records::partition_for(id, partitions) != index);
        tracing::info!(partition = index, "another broker owns this {OFFSETS_TOPIC} partition now");
    }

    /// Applies every record of offsets partition `index`; returns how many there were.
    async fn replay(&self, index: u32) -> Result<usize, HostError> {
        let corrupt = |e: String| HostError::Corrupt(format!("cannot replay {OFFSETS_TOPIC}-{index}: {e}"));
        let Some(partition) = self.offsets_topic.partition(index as i32) else { return Ok(0) };
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
                self.apply(record);
                replayed += 1;
            });
            if next <= offset {
                break;
            }
            offset = next;
        }
        Ok(replayed)
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
        if entries.is_empty() {
            return Ok(());
        }
        let index = records::partition_for(group, self.offsets_topic.partitions.len() as u32);
        let Some(partition) = self.offsets_topic.partition(index as i32) else {
            return Err(ResponseError::CoordinatorNotAvailable);
        };
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
        RecordBatchEncoder::encode(
            &mut buf,
            &kafka_records,
            &RecordEncodeOptions { version: 2, compression: Compression::None },
        )
        .map_err(|_| ResponseError::UnknownServerError)?;
        let bytes = buf.freeze();
        let info = batch::validate(&bytes, usize::MAX).map_err(|_| ResponseError::UnknownServerError)?;
        match partition.append(bytes, &info).await {
            Ok(_) => Ok(()),
            Err(ResponseError::NotLeaderOrFollower) => {
                self.unload(index);
                Err(ResponseError::NotCoordinator)
            }
            Err(_) => Err(ResponseError::CoordinatorNotAvailable),
        }
    }

    /// Rewrites a partition's live state after its end and trims what came before, when the log
    /// holds far more records than live state, so replay time stays bounded by the live state.
    async fn compact(&self, index: u32, replayed: usize) {
        let partitions = self.offsets_topic.partitions.len() as u32;
        let live: Vec<(String, Vec<LogEntry>)> = {
            let groups = self.lock();
            groups
                .values()
                .filter(|g| records::partition_for(&g.id, partitions) == index)
                .map(|g| {
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
                    (g.id.clone(), entries)
                })
                .collect()
        };
        let live_records: usize = live.iter().map(|(_, e)| e.len()).sum();
        if replayed < 1000 || replayed < live_records * 4 {
            return;
        }
        let Some(partition) = self.offsets_topic.partition(index as i32) else { return };
        let snapshot_start = partition.end_offset();
        for (group, entries) in live {
            for chunk in entries.chunks(500) {
                if let Err(e) = self.persist(&group, chunk.to_vec()).await {
                    tracing::warn!(partition = index, error = ?e, "compaction stopped; the log stays as it was");
                    return;
                }
            }
        }
        match partition.trim(snapshot_start).await {
            Ok(start) => tracing::info!(partition = index, replayed, live_records, start, "compacted {OFFSETS_TOPIC}"),
            Err(e) => tracing::warn!(partition = index, error = ?e, "cannot trim {OFFSETS_TOPIC}"),
        }
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

    /// JoinGroup.
    pub async fn join(self: &Arc<Self>, group_id: &str, params: JoinParams) -> JoinResult {
        if group_id.is_empty() {
            return JoinResult { error: Some(ResponseError::InvalidGroupId), generation: -1, ..Default::default() };
        }
        if let Err(e) = self.check(group_id) {
            return JoinResult { error: Some(e), generation: -1, member_id: params.member_id, ..Default::default() };
        }
        if params.session_timeout < self.config.min_session_timeout
            || params.session_timeout > self.config.max_session_timeout
        {
            return JoinResult {
                error: Some(ResponseError::InvalidSessionTimeout),
                generation: -1,
                member_id: params.member_id,
                ..Default::default()
            };
        }
        let reply = {
            let mut groups = self.lock_changing();
            let delay = self.config.initial_rebalance_delay;
            let group =
                groups.entry(group_id.to_string()).or_insert_with(|| Group::new(group_id, delay, Instant::now()));
            group.join(params, Instant::now())
        };
        self.persist_dirty(group_id);
        let result = match reply {
            Reply::Now(r) => r,
            Reply::Later(rx) => rx.await.unwrap_or_else(|_| JoinResult {
                error: Some(ResponseError::UnknownMemberId),
                generation: -1,
                ..Default::default()
            }),
        };
        self.persist_dirty(group_id);
        result
    }

    /// SyncGroup.
    pub async fn sync(
        self: &Arc<Self>,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        assignments: Vec<(String, Bytes)>,
    ) -> SyncResult {
        if let Err(e) = self.check(group_id) {
            return SyncResult { error: Some(e), ..Default::default() };
        }
        let reply = match self.lock_changing().get_mut(group_id) {
            None => Reply::Now(SyncResult { error: Some(ResponseError::UnknownMemberId), ..Default::default() }),
            Some(g) => g.sync(member_id, instance_id, generation, assignments, Instant::now()),
        };
        self.persist_dirty(group_id);
        match reply {
            Reply::Now(r) => r,
            Reply::Later(rx) => {
                rx.await.unwrap_or(SyncResult { error: Some(ResponseError::RebalanceInProgress), ..Default::default() })
            }
        }
    }

    /// Heartbeat.
    pub fn heartbeat(
        self: &Arc<Self>,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> Result<(), ResponseError> {
        self.check(group_id)?;
        // A heartbeat only moves its member's deadline later: the ticker need not wake.
        match self.lock().get_mut(group_id) {
            None => Err(ResponseError::UnknownMemberId),
            Some(g) => g.heartbeat(member_id, instance_id, generation, Instant::now()),
        }
    }

    /// LeaveGroup for each `(member id, instance id)`.
    pub fn leave(
        self: &Arc<Self>,
        group_id: &str,
        members: &[(String, Option<String>)],
    ) -> Result<Vec<Result<(), ResponseError>>, ResponseError> {
        self.check(group_id)?;
        let results = {
            let mut groups = self.lock_changing();
            let Some(g) = groups.get_mut(group_id) else { return Err(ResponseError::UnknownMemberId) };
            members.iter().map(|(m, i)| g.leave(m, i.as_deref(), Instant::now())).collect()
        };
        self.persist_dirty(group_id);
        Ok(results)
    }

    /// OffsetCommit; `generation < 0` with an empty member id is a commit by a simple consumer.
    pub async fn commit(
        self: &Arc<Self>,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        items: Vec<CommitItem>,
    ) -> Result<Vec<Result<(), ResponseError>>, ResponseError> {
        if group_id.is_empty() {
            return Err(ResponseError::InvalidGroupId);
        }
        self.check(group_id)?;
        {
            let mut groups = self.lock();
            let delay = self.config.initial_rebalance_delay;
            let g = groups.entry(group_id.to_string()).or_insert_with(|| Group::new(group_id, delay, Instant::now()));
            let simple = generation < 0 && member_id.is_empty();
            if !(simple && g.members.is_empty()) {
                if g.state == GroupState::CompletingRebalance {
                    return Err(ResponseError::RebalanceInProgress);
                }
                g.check_member(member_id, instance_id)?;
                if generation != g.generation {
                    return Err(ResponseError::IllegalGeneration);
                }
                g.touch(member_id, Instant::now());
            }
        }
        let now = now_ms();
        let mut results = Vec::with_capacity(items.len());
        let mut accepted = Vec::new();
        for item in &items {
            let metadata = item.metadata.clone().unwrap_or_default();
            if metadata.len() > self.config.max_metadata_size {
                results.push(Err(ResponseError::OffsetMetadataTooLarge));
                continue;
            }
            let committed =
                Committed { offset: item.offset, leader_epoch: item.leader_epoch, metadata, commit_timestamp: now };
            accepted.push((item.topic.clone(), item.partition, committed));
            results.push(Ok(()));
        }
        let entries = accepted
            .iter()
            .map(|(t, p, c)| (records::offset_key(group_id, t, *p), Some(records::offset_value(c))))
            .collect();
        if let Err(e) = self.persist(group_id, entries).await {
            return Ok(results.into_iter().map(|r| r.and(Err(e))).collect());
        }
        if let Some(g) = self.lock().get_mut(group_id) {
            for (t, p, c) in accepted {
                g.offsets.insert((t, p), c);
            }
        }
        Ok(results)
    }

    /// Committed offsets of a group: all of them, or for the given partitions.
    pub fn fetch_offsets(
        self: &Arc<Self>,
        group_id: &str,
        wanted: Option<Vec<(String, i32)>>,
    ) -> Result<Vec<(String, i32, Option<Committed>)>, ResponseError> {
        self.check(group_id)?;
        let groups = self.lock();
        let offsets = groups.get(group_id).map(|g| &g.offsets);
        Ok(match wanted {
            Some(list) => list
                .into_iter()
                .map(|(t, p)| {
                    let c = offsets.and_then(|o| o.get(&(t.clone(), p))).cloned();
                    (t, p, c)
                })
                .collect(),
            None => {
                let mut all: Vec<_> = offsets
                    .map(|o| o.iter().map(|((t, p), c)| (t.clone(), *p, Some(c.clone()))).collect())
                    .unwrap_or_default();
                all.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
                all
            }
        })
    }

    /// DescribeGroups for one group; `None` if it does not exist.
    pub fn describe(self: &Arc<Self>, group_id: &str) -> Result<Option<GroupDescription>, ResponseError> {
        self.check(group_id)?;
        let groups = self.lock();
        let Some(g) = groups.get(group_id) else { return Ok(None) };
        Ok(Some(GroupDescription {
            state: g.state.name(),
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            protocol: if g.state == GroupState::Stable {
                g.protocol.clone().unwrap_or_default()
            } else {
                String::new()
            },
            members: g
                .members
                .iter()
                .map(|m| {
                    (
                        m.id.clone(),
                        m.instance_id.clone(),
                        m.client_id.clone(),
                        m.client_host.clone(),
                        m.metadata(g.protocol.as_deref()),
                        m.assignment.clone(),
                    )
                })
                .collect(),
        }))
    }

    /// ListGroups: `(group id, protocol type, state)`.
    pub fn list(&self) -> Vec<(String, String, &'static str)> {
        let mut all: Vec<_> = self
            .lock()
            .values()
            .map(|g| (g.id.clone(), g.protocol_type.clone().unwrap_or_default(), g.state.name()))
            .collect();
        all.sort();
        all
    }

    /// DeleteGroups for one group.
    pub async fn delete_group(self: &Arc<Self>, group_id: &str) -> Result<(), ResponseError> {
        self.check(group_id)?;
        let keys: Vec<(String, i32)> = {
            let groups = self.lock();
            let g = groups.get(group_id).ok_or(ResponseError::GroupIdNotFound)?;
            if !g.members.is_empty() {
                return Err(ResponseError::NonEmptyGroup);
            }
            g.offsets.keys().cloned().collect()
        };
        let mut tombstones: Vec<LogEntry> =
            keys.iter().map(|(t, p)| (records::offset_key(group_id, t, *p), None)).collect();
        tombstones.push((records::group_key(group_id), None));
        self.persist(group_id, tombstones).await?;
        self.lock().remove(group_id);
        Ok(())
    }

    /// OffsetDelete: drops committed offsets unless a member is subscribed to the topic.
    pub async fn delete_offsets(
        self: &Arc<Self>,
        group_id: &str,
        partitions: Vec<(String, i32)>,
    ) -> Result<Vec<Result<(), ResponseError>>, ResponseError> {
        self.check(group_id)?;
        let results: Vec<Result<(), ResponseError>> = {
            let groups = self.lock();
            let g = groups.get(group_id).ok_or(ResponseError::GroupIdNotFound)?;
            partitions
                .iter()
                .map(|(t, _)| if g.subscribed_to(t) { Err(ResponseError::GroupSubscribedToTopic) } else { Ok(()) })
                .collect()
        };
        let doomed: Vec<(String, i32)> =
            partitions.iter().zip(&results).filter(|(_, r)| r.is_ok()).map(|(k, _)| k.clone()).collect();
        let tombstones = doomed.iter().map(|(t, p)| (records::offset_key(group_id, t, *p), None)).collect();
        self.persist(group_id, tombstones).await?;
        if let Some(g) = self.lock().get_mut(group_id) {
            for k in &doomed {
                g.offsets.remove(k);
            }
        }
        Ok(results)
    }
}
