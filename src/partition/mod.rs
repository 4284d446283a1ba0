//! Partitions and topics as the handlers see them: a log plus the Kafka rules around it
//! (offset ranges, base-offset patching on reads, waking long polls on appends).

pub mod internal_log;
pub mod ownership;
pub mod producer_state;
pub mod registry;
pub mod snapshot;
pub mod transactions;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use futures::future::{self, BoxFuture, FutureExt};
use kafka_protocol::error::ResponseError;
use tokio::sync::watch;

use crate::host::host_error;
use crate::host::{BatchMeta, Log, Position};
use crate::protocol::batch::{self, BatchInfo};
use crate::protocol::control::{self, TxnRole};
use crate::topic_config::TopicConfig;

pub use producer_state::ActiveProducer;
use producer_state::{last_seq, Check, ProducerStates};
pub use registry::{Topic, TopicRegistry};
use snapshot::Snapshot;
pub use transactions::Aborted;
use transactions::Transactions;

/// How many read calls one fetch of one partition may make while filling its byte budget.
const MAX_READS_PER_FETCH: usize = 16;

/// How many "next offset → position" hints a partition keeps, one per recent reader.
const POSITION_HINTS: usize = 64;

/// Where a transaction opened by a batch still on its way to the log starts, once it is placed.
struct Placement {
    txns: Arc<Mutex<Transactions>>,
    producer_id: i64,
    guess: i64,
}

impl Placement {
    fn placed(self, base: i64) {
        self.txns.lock().unwrap_or_else(|e| e.into_inner()).placed(self.producer_id, self.guess, base);
    }
}

/// How far back from the log end idempotent producers' batches are read when a partition is
/// first served: the batches a producer may still retry are the last few it sent before the
/// broker went down, so the tail of the log is enough, and reading it stays cheap.
const PRODUCER_RESTORE_RECORDS: i64 = 2_000;

/// How many records' batches one step of learning older transactions reads and holds.
const LEARN_RANGE_RECORDS: i64 = 20_000;

/// The most bytes a producer-state snapshot takes: on Pulsar it is a ManagedLedger property,
/// which lives in the metadata store with the ledger's other metadata.
const SNAPSHOT_MAX_BYTES: usize = 256 * 1024;

/// Bytes appended to a partition after which its next snapshot is due before the interval has
/// passed, so a partition written fast is not read back for a whole interval after a restart;
/// and the least time between two saves even then.
const SNAPSHOT_EVERY_BYTES: u64 = 256 << 20;
const SNAPSHOT_MIN_GAP_MS: i64 = 1_000;

/// The most aborted transactions a snapshot keeps; older ones are learned from the log again by
/// a reader that goes back to them.
const SNAPSHOT_MAX_ABORTED: usize = 4_096;

/// How a partition keeps its producers' state.
#[derive(Debug, Clone, Copy)]
pub struct ProducerStateSettings {
    /// How long an idle producer is remembered (`kafkaProducerIdExpirationMs`).
    pub expiration_ms: i64,
    /// How often a partition that is written saves its snapshot
    /// (`kafkaTxnProducerStateTopicSnapshotIntervalSeconds`).
    pub snapshot_interval_ms: i64,
    /// Bytes appended after which the next snapshot is due sooner than that.
    pub snapshot_bytes: u64,
}

impl Default for ProducerStateSettings {
    /// What the config's defaults give.
    fn default() -> Self {
        ProducerStateSettings::from_config(&crate::config::Config::default())
    }
}

impl ProducerStateSettings {
    /// The settings `config` gives.
    pub fn from_config(config: &crate::config::Config) -> Self {
        ProducerStateSettings {
            expiration_ms: i64::try_from(config.kafka_producer_id_expiration_ms).unwrap_or(i64::MAX),
            snapshot_interval_ms: i64::try_from(
                config.kafka_txn_producer_state_topic_snapshot_interval_seconds.saturating_mul(1000),
            )
            .unwrap_or(i64::MAX),
            snapshot_bytes: SNAPSHOT_EVERY_BYTES,
        }
    }
}

/// The end offsets seen when stateful appends (idempotent or transactional batches, markers)
/// still on their way were started: each lands at or above its own, so a snapshot that starts no
/// later than the lowest has every such batch read again when it is loaded.
#[derive(Default)]
struct InFlight(Mutex<BTreeMap<i64, usize>>);

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<i64, usize>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks an append started when the log ended at `end`, until the mark is dropped (after the
    /// append's effects on the state are applied).
    fn start(self: &Arc<Self>, end: i64) -> InFlightMark {
        *self.lock().entry(end).or_insert(0) += 1;
        InFlightMark { set: Arc::clone(self), end }
    }

    fn lowest(&self) -> Option<i64> {
        self.lock().keys().next().copied()
    }
}

struct InFlightMark {
    set: Arc<InFlight>,
    end: i64,
}

impl Drop for InFlightMark {
    fn drop(&mut self) {
        let mut set = self.set.lock();
        if let Some(n) = set.get_mut(&self.end) {
            *n -= 1;
            if *n == 0 {
                set.remove(&self.end);
            }
        }
    }
}

/// When the partition's next snapshot is due.
struct SnapshotClock {
    interval_ms: i64,
    every_bytes: u64,
    saved_ms: AtomicI64,
    bytes_since: AtomicU64,
    saving: AtomicBool,
}

/// One partition of a topic.
pub struct Partition {
    /// Partition number.
    pub index: i32,
    log: Arc<dyn Log>,
    // Bumped after each append to this partition: long polls waiting on it wake, and no other.
    appended: Arc<watch::Sender<u64>>,
    producers: Arc<Mutex<ProducerStates>>,
    txns: Arc<Mutex<Transactions>>,
    settings: ProducerStateSettings,
    in_flight: Arc<InFlight>,
    snapshots: Arc<SnapshotClock>,
    // The log generation the producers' state was rebuilt for (see `ready`), u64::MAX before
    // the first; and whether that rebuild was whole, so a snapshot of it may be saved.
    restored: AtomicU64,
    restoring: tokio::sync::Mutex<()>,
    state_whole: AtomicBool,
    // One reader at a time learns older transactions (see `learn_from`).
    learning: tokio::sync::Mutex<()>,
    // Where the entry holding each recently read "next offset" starts, so a consumer reading on
    // from where it stopped needs no search.
    hints: Mutex<HashMap<i64, Position>>,
}

/// Stored data handed to a fetch.
#[derive(Debug, Default)]
pub struct ReadResult {
    /// Whole record batches, base offsets set, ready for the wire.
    pub records: Bytes,
    /// The high watermark (log end offset: one replica).
    pub high_watermark: i64,
    /// The log start offset.
    pub log_start_offset: i64,
}

impl Partition {
    /// Wraps a host log.
    pub fn new(index: i32, log: Arc<dyn Log>) -> Self {
        Partition::with_settings(index, log, ProducerStateSettings::default())
    }

    /// Wraps a host log whose producers' state is kept as `settings` say.
    pub fn with_settings(index: i32, log: Arc<dyn Log>, settings: ProducerStateSettings) -> Self {
        Partition {
            index,
            log,
            appended: Arc::new(watch::channel(0).0),
            producers: Arc::new(Mutex::new(ProducerStates::expiring_after(settings.expiration_ms))),
            txns: Arc::default(),
            settings,
            in_flight: Arc::default(),
            snapshots: Arc::new(SnapshotClock {
                interval_ms: settings.snapshot_interval_ms,
                every_bytes: settings.snapshot_bytes,
                saved_ms: AtomicI64::new(crate::clock::now_ms()),
                bytes_since: AtomicU64::new(0),
                saving: AtomicBool::new(false),
            }),
            restored: AtomicU64::new(u64::MAX),
            restoring: tokio::sync::Mutex::new(()),
            state_whole: AtomicBool::new(false),
            learning: tokio::sync::Mutex::new(()),
            hints: Mutex::default(),
        }
    }

    /// Appends a validated batch and resolves to its base offset. The entry's place in the log is
    /// fixed before this returns. Batches of idempotent producers are checked for sequence gaps,
    /// and a retried batch resolves to the offset it got the first time instead of being stored
    /// again.
    pub fn append(&self, batch: Bytes, info: &BatchInfo) -> BoxFuture<'static, Result<i64, ResponseError>> {
        let meta = BatchMeta { record_count: info.record_count, max_timestamp: info.max_timestamp };
        let now = crate::clock::now_ms();
        self.snapshot_if_due(batch.len(), now);
        if info.producer_id < 0 {
            return self.append_to_log(batch, meta);
        }
        let (id, epoch, first) = (info.producer_id, info.producer_epoch, info.base_sequence);
        let last = last_seq(first, info.record_count);
        let mut producers = self.producers.lock().unwrap_or_else(|e| e.into_inner());
        producers.expire(now, |producer| self.txns().first_offset(producer).is_some());
        match producers.check(id, epoch, first, last) {
            Check::Reject(e) => future::ready(Err(e)).boxed(),
            Check::Duplicate(outcome) => outcome.boxed(),
            Check::Append => {
                let states = Arc::clone(&self.producers);
                let mark = self.in_flight.start(self.log.end_offset());
                let placement = self.open_transaction(info);
                let pending = self.append_to_log(batch, meta);
                let outcome = async move {
                    let result = pending.await;
                    match (&result, placement) {
                        (Err(_), _) => states.lock().unwrap_or_else(|e| e.into_inner()).forget(id),
                        (Ok(base), Some(placement)) => placement.placed(*base),
                        (Ok(_), None) => {}
                    }
                    drop(mark);
                    result
                }
                .boxed()
                .shared();
                producers.record(id, epoch, first, last, info.max_timestamp, outcome.clone());
                driven(outcome).boxed()
            }
        }
    }

    /// Appends a batch a coordinator wrote for a transactional producer (the offsets it sent to
    /// its transaction): no sequence checks, since the coordinator numbers these batches, not
    /// the producer; an older epoch than one seen here is refused (INVALID_PRODUCER_EPOCH); the
    /// transaction opens here as for the producer's own data.
    pub fn append_for_coordinator(
        &self,
        batch: Bytes,
        info: &BatchInfo,
    ) -> BoxFuture<'static, Result<i64, ResponseError>> {
        let meta = BatchMeta { record_count: info.record_count, max_timestamp: info.max_timestamp };
        self.snapshot_if_due(batch.len(), crate::clock::now_ms());
        let (mark, placement) = {
            // A fenced producer's offsets must not wait for its successor's commit.
            let mut producers = self.producers.lock().unwrap_or_else(|e| e.into_inner());
            if producers.fenced(info.producer_id, info.producer_epoch) {
                return future::ready(Err(ResponseError::InvalidProducerEpoch)).boxed();
            }
            producers.fence(info.producer_id, info.producer_epoch, None);
            (self.in_flight.start(self.log.end_offset()), self.open_transaction(info))
        };
        let pending = self.append_to_log(batch, meta);
        driven(
            async move {
                let base = pending.await;
                if let (Ok(base), Some(placement)) = (&base, placement) {
                    placement.placed(*base);
                }
                drop(mark);
                base
            }
            .boxed()
            .shared(),
        )
        .boxed()
    }

    /// Opens the producer's transaction here if `info`'s batch is the first of it, before the
    /// batch can be read, so the stable offset never passes it; the log's end is where the batch
    /// goes, or below, and the returned placement corrects the start once the batch is placed.
    fn open_transaction(&self, info: &BatchInfo) -> Option<Placement> {
        let (producer_id, guess) = (info.producer_id, self.log.end_offset());
        if !(info.transactional && self.txns().data(producer_id, guess)) {
            return None;
        }
        tracing::debug!(partition = self.index, producer_id, epoch = info.producer_epoch, guess, "transaction opened");
        Some(Placement { txns: Arc::clone(&self.txns), producer_id, guess })
    }

    /// Whether `producer_id` has a transaction open on this partition at `epoch`, so that its
    /// next batch here needs no join (transactions version 2).
    pub fn in_transaction(&self, producer_id: i64, epoch: i16) -> bool {
        // One lock at a time: `append` takes the producers' lock before the transactions'.
        let known = self.producers.lock().unwrap_or_else(|e| e.into_inner()).epoch_of(producer_id);
        known == Some(epoch) && self.txns().first_offset(producer_id).is_some()
    }

    fn txns(&self) -> std::sync::MutexGuard<'_, Transactions> {
        self.txns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends `producer_id`'s transaction here with a commit or abort marker (from the transaction
    /// coordinator), fencing older epochs of the producer; resolves to the marker's offset.
    pub fn write_marker(
        &self,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
    ) -> BoxFuture<'static, Result<i64, ResponseError>> {
        let now = crate::clock::now_ms();
        let Some(marker) = control::marker(producer_id, epoch, commit, coordinator_epoch, now) else {
            return future::ready(Err(ResponseError::UnknownServerError)).boxed();
        };
        self.snapshot_if_due(marker.len(), now);
        let mark = {
            let mut producers = self.producers.lock().unwrap_or_else(|e| e.into_inner());
            producers.fence(producer_id, epoch, Some(coordinator_epoch));
            self.in_flight.start(self.log.end_offset())
        };
        let pending = self.append_to_log(marker, BatchMeta { record_count: 1, max_timestamp: now });
        let txns = Arc::clone(&self.txns);
        driven(
            async move {
                let offset = pending.await;
                if let Ok(offset) = offset {
                    let mut txns = txns.lock().unwrap_or_else(|e| e.into_inner());
                    tracing::debug!(producer_id, epoch, commit, offset, open = ?txns.first_offset(producer_id), "marker written");
                    txns.ended(producer_id, offset, commit);
                }
                drop(mark);
                offset
            }
            .boxed()
            .shared(),
        )
        .boxed()
    }

    /// The producers known on this partition, each with the first offset of its open
    /// transaction here, if it has one (DescribeProducers).
    pub fn producers(&self) -> Vec<ActiveProducer> {
        let mut active = self.producers.lock().unwrap_or_else(|e| e.into_inner()).active();
        let txns = self.txns();
        for p in &mut active {
            p.txn_start_offset = txns.first_offset(p.producer_id);
        }
        active
    }

    /// The last stable offset: below it every transaction has ended.
    pub fn last_stable_offset(&self) -> i64 {
        self.txns().last_stable_offset(self.log.end_offset())
    }

    /// The aborted transactions with records in `from..to`, for `read_committed` fetches. A
    /// reader that starts below the log's tail read at start-up has the older batches read once
    /// first (see [`Partition::learn_from`]).
    pub async fn aborted_in(&self, from: i64, to: i64) -> Vec<Aborted> {
        self.learn_from(from).await;
        let mut txns = self.txns();
        txns.trim(self.log.start_offset());
        txns.aborted_in(from, to)
    }

    /// Reads the batches between `from` and where the transactions are known, newest range
    /// first, so aborts far behind the log's end stay hidden after a restart. Each range learned
    /// is kept, so a reader that gives up waiting leaves the work done for the next.
    async fn learn_from(&self, from: i64) {
        let from = from.max(self.log.start_offset());
        if from >= self.known_from() {
            return;
        }
        let _one = self.learning.lock().await;
        loop {
            let known = self.known_from();
            if from >= known {
                return;
            }
            let lower = from.max(known.saturating_sub(LEARN_RANGE_RECORDS));
            match self.stored_between(lower, known).await {
                Ok(older) => {
                    // A read may run on past `known`, into batches already learned.
                    let roles: Vec<(i64, TxnRole)> =
                        older.iter().filter(|s| s.base_offset < known).map(|s| (s.base_offset, s.role)).collect();
                    self.txns().learn_older(lower, &roles);
                }
                Err(e) => {
                    tracing::warn!(partition = self.index, from, error = %e, "cannot read older batches for their aborted transactions");
                    return;
                }
            }
        }
    }

    /// Below which offset the transactions are not known: never above the log's end, whatever
    /// a snapshot said, since nothing is there to learn.
    fn known_from(&self) -> i64 {
        self.txns().known_from().min(self.log.end_offset())
    }

    /// A receiver that changes after every append to this partition, for long polls.
    pub fn appends(&self) -> watch::Receiver<u64> {
        self.appended.subscribe()
    }

    fn append_to_log(&self, batch: Bytes, meta: BatchMeta) -> BoxFuture<'static, Result<i64, ResponseError>> {
        let pending = self.log.append(batch, meta);
        let appended = Arc::clone(&self.appended);
        let index = self.index;
        Box::pin(async move {
            match pending.await {
                Ok(done) => {
                    appended.send_modify(|n| *n = n.wrapping_add(1));
                    Ok(done.base_offset)
                }
                Err(e) => {
                    tracing::warn!(partition = index, error = %e, "append failed");
                    Err(host_error(&e))
                }
            }
        })
    }

    /// Loads the log on this broker if the host has not yet; Pulsar answers NOT_LEADER_OR_FOLLOWER
    /// here on a broker that does not own the partition. The producers' state is rebuilt the
    /// first time, and again whenever the host loaded the log afresh (on Pulsar, ownership came
    /// back after other brokers may have written it).
    pub async fn ready(&self) -> Result<(), ResponseError> {
        self.log.open().await.map_err(|e| host_error(&e))?;
        let generation = self.log.generation();
        if self.restored.load(Ordering::Acquire) == generation {
            return Ok(());
        }
        let _one = self.restoring.lock().await;
        if self.restored.load(Ordering::Acquire) == generation {
            return Ok(());
        }
        if self.restored.load(Ordering::Acquire) != u64::MAX {
            *self.producers.lock().unwrap_or_else(|e| e.into_inner()) =
                ProducerStates::expiring_after(self.settings.expiration_ms);
            *self.txns() = Transactions::default();
            self.hints.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
        // Best effort: a partition whose state cannot be read now is served as before the
        // rebuild existed (its producers unknown), rather than not at all; such a state is
        // never saved as a snapshot.
        let whole = match self.restore_producers().await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(partition = self.index, error = ?e, "cannot rebuild idempotent producers from the log");
                false
            }
        };
        self.state_whole.store(whole, Ordering::Release);
        self.restored.store(generation, Ordering::Release);
        Ok(())
    }

    /// Learns the idempotent producers and the open and aborted transactions of the log, so a
    /// batch that was stored before a crash but never acknowledged is recognised when its
    /// producer retries it instead of being stored twice, and a transaction still open keeps
    /// holding the stable offset back. From the saved snapshot on when there is one; else from
    /// the log's tail, grown until it holds the start of every transaction it sees (so it is
    /// bounded by the largest transaction, not by the log).
    async fn restore_producers(&self) -> Result<(), crate::host::HostError> {
        let (start, end) = (self.log.start_offset(), self.log.end_offset());
        if let Some(snapshot) = self.usable_snapshot(end).await {
            let after = self.stored_between(snapshot.offset.max(start), end).await?;
            let mut producers = self.producers.lock().unwrap_or_else(|e| e.into_inner());
            let mut txns = self.txns();
            producers.restore(snapshot.producers);
            *txns = Transactions::restore(snapshot.txns);
            tracing::debug!(partition = self.index, from = snapshot.offset, end, "producers restored from a snapshot");
            replay(&after, &mut producers, &mut txns, true);
            return Ok(());
        }
        let mut span = PRODUCER_RESTORE_RECORDS;
        let tail = loop {
            let from = start.max(end.saturating_sub(span));
            let tail = self.stored_between(from, end).await?;
            if from == start || !starts_before(&tail) {
                break tail;
            }
            span = span.saturating_mul(4);
        };
        let mut producers = self.producers.lock().unwrap_or_else(|e| e.into_inner());
        let mut txns = self.txns();
        txns.restored_from(tail.first().map_or(end, |s| s.base_offset));
        replay(&tail, &mut producers, &mut txns, false);
        Ok(())
    }

    /// The saved snapshot, if there is one this log can be read on from.
    async fn usable_snapshot(&self, end: i64) -> Option<Snapshot> {
        let bytes = match self.log.load_snapshot().await {
            Ok(bytes) => bytes?,
            Err(e) => {
                tracing::warn!(partition = self.index, error = %e, "cannot load the producer-state snapshot; reading the log's tail instead");
                return None;
            }
        };
        match Snapshot::decode(&bytes) {
            Ok(snapshot) if snapshot.offset <= end => Some(snapshot),
            Ok(snapshot) => {
                // The log lost its end since (a crash before the disk had it): the state is
                // ahead of the log.
                tracing::warn!(
                    partition = self.index,
                    snapshot = snapshot.offset,
                    end,
                    "the producer-state snapshot is past the log's end; reading the log's tail instead"
                );
                None
            }
            Err(e) => {
                tracing::warn!(partition = self.index, error = %e, "the producer-state snapshot is unreadable; reading the log's tail instead");
                None
            }
        }
    }

    /// Saves a snapshot when one is due as `bytes` more are appended at `now`: the interval has
    /// passed (or `snapshot_bytes` were appended since the last), the state is whole, and no save
    /// is under way. The state is taken now; the save runs on its own.
    fn snapshot_if_due(&self, bytes: usize, now: i64) {
        let clock = &self.snapshots;
        let written = clock.bytes_since.fetch_add(bytes as u64, Ordering::Relaxed) + bytes as u64;
        let since = now.saturating_sub(clock.saved_ms.load(Ordering::Relaxed));
        let due = since >= clock.interval_ms || (written >= clock.every_bytes && since >= SNAPSHOT_MIN_GAP_MS);
        if !due
            || !self.state_whole.load(Ordering::Acquire)
            || self.restored.load(Ordering::Acquire) != self.log.generation()
        {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        if clock.saving.swap(true, Ordering::AcqRel) {
            return;
        }
        clock.saved_ms.store(now, Ordering::Relaxed);
        clock.bytes_since.store(0, Ordering::Relaxed);
        let snapshot = self.snapshot();
        let offset = snapshot.offset;
        let save = self.log.save_snapshot(snapshot.encode(SNAPSHOT_MAX_BYTES));
        let (clock, index) = (Arc::clone(clock), self.index);
        runtime.spawn(async move {
            match save.await {
                Ok(()) => tracing::debug!(partition = index, offset, "producer-state snapshot saved"),
                Err(e) => tracing::warn!(partition = index, error = %e, "cannot save the producer-state snapshot"),
            }
            clock.saving.store(false, Ordering::Release);
        });
    }

    /// The producers' state now, as of the lowest offset whose batch it may not reflect yet.
    fn snapshot(&self) -> Snapshot {
        let producers = self.producers.lock().unwrap_or_else(|e| e.into_inner());
        let txns = self.txns();
        let end = self.log.end_offset();
        let offset = self.in_flight.lowest().map_or(end, |lowest| lowest.min(end));
        Snapshot { offset, producers: producers.snapshot(), txns: txns.snapshot(SNAPSHOT_MAX_ABORTED) }
    }

    /// What the batches stored in `from..end` say about their producers, oldest first.
    async fn stored_between(&self, from: i64, end: i64) -> Result<Vec<Stored>, crate::host::HostError> {
        let mut next = from;
        let mut seen = Vec::new();
        while next < end {
            let Some(position) = self.log.find_position(next).await? else { break };
            let read = self.log.read(position, usize::MAX, 1 << 20).await?;
            let Some(last) = read.entries.last() else { break };
            next = last.last_offset + 1;
            for entry in &read.entries {
                seen.push(Stored {
                    base_offset: entry.base_offset,
                    info: batch::validate(&entry.data, usize::MAX).ok(),
                    role: control::role(&entry.data),
                });
            }
        }
        Ok(seen)
    }

    /// Log start offset.
    pub fn start_offset(&self) -> i64 {
        self.log.start_offset()
    }

    /// Log end offset, which is also the high watermark.
    pub fn end_offset(&self) -> i64 {
        self.log.end_offset()
    }

    /// Reads whole batches from `offset`, about `max_bytes` of them (at least one batch if any).
    pub async fn read(&self, offset: i64, max_bytes: usize) -> Result<ReadResult, ResponseError> {
        self.read_below(offset, max_bytes, i64::MAX).await
    }

    /// Reads as [`Partition::read`] does, but no batch at or above `limit` (the last stable
    /// offset, for `read_committed`).
    pub async fn read_below(&self, offset: i64, max_bytes: usize, limit: i64) -> Result<ReadResult, ResponseError> {
        self.ready().await?;
        let (start, end) = (self.log.start_offset(), self.log.end_offset());
        let stop = end.min(limit);
        let mut result = ReadResult { records: Bytes::new(), high_watermark: end, log_start_offset: start };
        if offset < start || offset > end {
            return Err(ResponseError::OffsetOutOfRange);
        }
        let mut batches: Vec<(i64, Bytes)> = Vec::new();
        let mut total = 0usize;
        let mut next = offset;
        // Where a reader that keeps up continues: its next offset and that entry's position.
        let mut resume: Option<(i64, Position)> = None;
        for _ in 0..MAX_READS_PER_FETCH {
            if next >= stop || (total >= max_bytes && !batches.is_empty()) {
                break;
            }
            let hint = self.hints.lock().unwrap_or_else(|e| e.into_inner()).remove(&next);
            let position = match hint {
                Some(p) => p,
                None => match self.log.find_position(next).await.map_err(|e| host_error(&e))? {
                    Some(p) => p,
                    None => break,
                },
            };
            let budget = max_bytes.saturating_sub(total);
            let read = self.log.read(position, usize::MAX, budget).await.map_err(|e| host_error(&e))?;
            let Some(last) = read.entries.last() else { break };
            if hint.is_some() && read.entries[0].base_offset > next {
                // A stale hint (the log was trimmed under it): search instead.
                self.hints.lock().unwrap_or_else(|e| e.into_inner()).clear();
                continue;
            }
            next = last.last_offset + 1;
            resume = read.next.map(|after| (next, after));
            if let Some((offset, after)) = resume {
                self.hint(offset, after);
            }
            let mut spent = false;
            for entry in read.entries {
                if entry.base_offset >= stop || (!batches.is_empty() && total + entry.data.len() > max_bytes) {
                    // The client continues at this entry next time.
                    resume = Some((entry.base_offset, entry.position));
                    spent = true;
                    break;
                }
                total += entry.data.len();
                batches.push((entry.base_offset, entry.data));
            }
            if spent {
                break;
            }
        }
        if let Some((offset, position)) = resume.filter(|(offset, _)| *offset < self.log.end_offset()) {
            self.hint(offset, position);
            self.log.read_ahead(position, max_bytes);
        }
        result.records = concat_batches(batches, total);
        Ok(result)
    }

    /// Remembers that the entry holding `offset` starts at `position`.
    fn hint(&self, offset: i64, position: Position) {
        let mut hints = self.hints.lock().unwrap_or_else(|e| e.into_inner());
        if hints.len() >= POSITION_HINTS {
            hints.clear();
        }
        hints.insert(offset, position);
    }

    /// The earliest record with timestamp `>= timestamp` as `(offset, timestamp)`; the batch that
    /// holds it is decompressed to at most a multiple of `max_message_bytes`.
    pub async fn offset_for_time(
        &self,
        timestamp: i64,
        max_message_bytes: usize,
    ) -> Result<Option<(i64, i64)>, ResponseError> {
        self.ready().await?;
        let Some(entry) = self.log.find_by_timestamp(timestamp).await.map_err(|e| host_error(&e))? else {
            return Ok(None);
        };
        Ok(batch::first_record_at_or_after(&entry.data, entry.base_offset, timestamp, max_message_bytes)
            .or(Some((entry.base_offset, entry.max_timestamp))))
    }

    /// Drops stored data below `offset` where the host can (whole segments); returns the new
    /// start offset.
    pub async fn trim(&self, offset: i64) -> Result<i64, ResponseError> {
        self.log.trim(offset).await.map_err(|e| host_error(&e))
    }

    /// Deletes the records below `offset` (-1: every record up to the high watermark); returns the
    /// new log start offset. An offset beyond the high watermark is OFFSET_OUT_OF_RANGE.
    pub async fn delete_records(&self, offset: i64) -> Result<i64, ResponseError> {
        self.ready().await?;
        let end = self.log.end_offset();
        let offset = if offset == -1 { end } else { offset };
        if !(0..=end).contains(&offset) {
            return Err(ResponseError::OffsetOutOfRange);
        }
        // The start never moves back: deleting below it deletes nothing.
        let start = self.log.start_offset();
        if offset <= start {
            return Ok(start);
        }
        self.log.delete_records(offset).await.map_err(|e| host_error(&e))
    }

    /// The largest timestamp stored and the offset carrying it.
    pub fn max_timestamp(&self) -> Option<(i64, i64)> {
        self.log.max_timestamp()
    }
}

/// Applies the batches read back at a restore to the state, oldest first. After a snapshot the
/// state may know some of them already; from a bare tail, a marker whose transaction is not seen
/// ends one further back, kept for a reader that goes there.
fn replay(stored: &[Stored], producers: &mut ProducerStates, txns: &mut Transactions, after_snapshot: bool) {
    for s in stored {
        if let Some(info) = s.info.filter(|i| i.producer_id >= 0) {
            let last = last_seq(info.base_sequence, info.record_count);
            let (id, epoch, first, ts) =
                (info.producer_id, info.producer_epoch, info.base_sequence, info.max_timestamp);
            producers.replay(id, epoch, first, last, ts, s.base_offset);
        }
        match s.role {
            TxnRole::Data { producer_id, .. } => {
                txns.data(producer_id, s.base_offset);
            }
            TxnRole::Marker { producer_id, epoch, commit } => {
                producers.fence(producer_id, epoch, None);
                if after_snapshot {
                    txns.ended(producer_id, s.base_offset, commit);
                } else {
                    txns.ended_in_tail(producer_id, s.base_offset, commit);
                }
            }
            TxnRole::None => {}
        }
    }
}

/// Drives an append's completion to its end even when the request that started it is dropped
/// (its client went away): the completion applies the append's effects to the partition's state
/// and releases its in-flight mark, which snapshots wait on.
fn driven<F>(outcome: futures::future::Shared<F>) -> futures::future::Shared<F>
where
    F: std::future::Future + Send + 'static,
    F::Output: Clone + Send + Sync,
{
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(outcome.clone().map(drop));
    }
    outcome
}

/// A stored batch as a partition's restore sees it.
struct Stored {
    base_offset: i64,
    info: Option<BatchInfo>,
    role: TxnRole,
}

/// Whether a transaction that matters to readers may have begun before `tail`: for some
/// producer, the first transaction seen there has a batch there that may not be its first, and
/// it is still open or ends in an abort. (One that commits needs nothing remembered; one that
/// only ends there is paired with its data when a reader goes there.)
fn starts_before(tail: &[Stored]) -> bool {
    // Per producer, whether its first transaction seen may hold records before the tail that the
    // restore must know: `Some(true)` when not (it started here, or it only ends here, which
    // `Transactions::learn_older` pairs with its data if a reader goes there).
    let mut first_seen: HashMap<i64, Option<bool>> = HashMap::new();
    for stored in tail {
        match stored.role {
            TxnRole::Data { producer_id, .. } => {
                // A producer epoch's first batch in a partition has sequence 0: its transaction
                // cannot have begun earlier.
                let opens = stored.info.is_some_and(|i| i.base_sequence == 0);
                first_seen.entry(producer_id).or_insert(opens.then_some(true));
            }
            TxnRole::Marker { producer_id, commit, .. } => {
                let first = first_seen.entry(producer_id).or_insert(Some(true));
                // The marker that ends the first transaction seen.
                if first.is_none() {
                    *first = Some(commit);
                }
            }
            TxnRole::None => {}
        }
    }
    first_seen.values().any(|ended| *ended != Some(true))
}

/// Joins batches into one buffer for the wire, setting each base offset; no copy for one batch
/// that is already right.
fn concat_batches(batches: Vec<(i64, Bytes)>, total: usize) -> Bytes {
    if batches.len() == 1 {
        let (base, data) = batches.into_iter().next().unwrap_or_default();
        return batch::with_base_offset(data, base);
    }
    let mut out = BytesMut::with_capacity(total);
    for (base, data) in batches {
        batch::put_with_base_offset(&mut out, &data, base);
    }
    out.freeze()
}

/// Effective topic configs for `meta`'s stored configs over `defaults`.
pub fn resolve_config(defaults: TopicConfig, configs: &std::collections::BTreeMap<String, String>) -> TopicConfig {
    TopicConfig::resolve(defaults, configs).unwrap_or(defaults)
}

#[cfg(test)]
mod tests {
    use kafka_protocol::records::Compression;

    use super::*;
    use crate::host::memory::MemoryLog;

    /// A batch of `count` records from idempotent producer 7 (epoch 0), sequences from `first`.
    fn idempotent(first: i32, count: i32) -> (Bytes, BatchInfo) {
        let records: Vec<_> = (0..count)
            .map(|i| {
                let mut r = batch::fixtures::record(i64::from(i), 1_700_000_000_000);
                (r.producer_id, r.producer_epoch, r.sequence) = (7, 0, first + i);
                r
            })
            .collect();
        let bytes = batch::fixtures::encode(&records, Compression::None);
        let info = batch::validate(&bytes, 1 << 20).expect("valid");
        (bytes, info)
    }

    /// A batch of `count` records of no producer.
    fn plain_batch(count: i64) -> (Bytes, BatchInfo) {
        let records: Vec<_> = (0..count).map(|i| batch::fixtures::record(i, 1_700_000_000_000)).collect();
        let bytes = batch::fixtures::encode(&records, Compression::None);
        let info = batch::validate(&bytes, 1 << 20).expect("valid");
        (bytes, info)
    }

    /// A batch of `count` records of transactional producer `pid` (epoch 0), sequences from `first`.
    fn transactional(pid: i64, first: i32, count: i32) -> (Bytes, BatchInfo) {
        let records: Vec<_> = (0..count)
            .map(|i| {
                let mut r = batch::fixtures::record(i64::from(i), 1_700_000_000_000);
                (r.producer_id, r.producer_epoch, r.sequence, r.transactional) = (pid, 0, first + i, true);
                r
            })
            .collect();
        let bytes = batch::fixtures::encode(&records, Compression::None);
        let info = batch::validate(&bytes, 1 << 20).expect("valid");
        (bytes, info)
    }

    #[tokio::test]
    async fn open_transactions_hold_the_stable_offset_and_aborts_are_remembered_across_restarts() {
        let log: Arc<dyn Log> = Arc::new(MemoryLog::default());
        let before = Partition::new(0, Arc::clone(&log));
        before.ready().await.unwrap();
        let (a, info) = transactional(1, 0, 2);
        assert_eq!(before.append(a, &info).await, Ok(0));
        let (b, info) = transactional(2, 0, 3);
        assert_eq!(before.append(b, &info).await, Ok(2));
        assert_eq!(before.last_stable_offset(), 0, "producer 1's transaction is open");
        let committed = before.read_below(0, 1 << 20, before.last_stable_offset()).await.unwrap();
        assert!(committed.records.is_empty(), "nothing stable to read yet");
        assert_eq!(before.write_marker(1, 0, false, 0).await, Ok(5));
        assert_eq!(before.last_stable_offset(), 2, "now producer 2's is the oldest open one");
        let stable = before.read_below(0, 1 << 20, before.last_stable_offset()).await.unwrap();
        assert_eq!(batch::split(&stable.records).count(), 1, "only the aborted batch is below it");
        assert_eq!(before.aborted_in(0, 6).await, vec![Aborted { producer_id: 1, first_offset: 0, last_offset: 5 }]);

        // A restart over the same log relearns both from its tail.
        let after = Partition::new(0, Arc::clone(&log));
        after.ready().await.unwrap();
        assert_eq!(after.last_stable_offset(), 2);
        assert_eq!(after.aborted_in(0, 6).await, vec![Aborted { producer_id: 1, first_offset: 0, last_offset: 5 }]);
        assert_eq!(after.write_marker(2, 0, true, 0).await, Ok(6));
        assert_eq!(after.last_stable_offset(), 7);
        assert_eq!(after.aborted_in(0, 7).await.len(), 1, "a commit is no abort");
        // The marker fenced nothing at the same epoch, but an older epoch is refused.
        let (late, mut info) = transactional(1, 2, 1);
        info.producer_epoch = -1;
        assert_eq!(after.append(late, &info).await, Err(ResponseError::InvalidProducerEpoch));
    }

    #[tokio::test]
    async fn an_abort_behind_the_restart_tail_is_learned_when_a_reader_goes_there() {
        let log: Arc<dyn Log> = Arc::new(MemoryLog::default());
        let before = Partition::new(0, Arc::clone(&log));
        before.ready().await.unwrap();
        let (a, info) = transactional(1, 0, 2);
        assert_eq!(before.append(a, &info).await, Ok(0));
        assert_eq!(before.write_marker(1, 0, false, 0).await, Ok(2));
        let filler = PRODUCER_RESTORE_RECORDS + LEARN_RANGE_RECORDS;
        for _ in 0..filler / 500 {
            let (plain, info) = plain_batch(500);
            before.append(plain, &info).await.unwrap();
        }
        let (late, info) = transactional(2, 0, 1);
        let late_at = before.append(late, &info).await.unwrap();
        let late_marker = before.write_marker(2, 0, false, 0).await.unwrap();
        let abort = vec![Aborted { producer_id: 1, first_offset: 0, last_offset: 2 }];
        let after = Partition::new(0, Arc::clone(&log));
        after.ready().await.unwrap();
        assert!(after.txns().known_from() > 2, "the restart read only the tail");
        let late = Aborted { producer_id: 2, first_offset: late_at, last_offset: late_marker };
        assert_eq!(
            after.aborted_in(late_at, late_marker + 1).await,
            vec![late],
            "a reader at the end reads nothing back"
        );
        assert!(after.txns().known_from() > 2);
        assert_eq!(after.aborted_in(0, 10).await, abort, "one at the start has the old batches read");
        assert_eq!(after.txns().known_from(), 0);
        let both = after.aborted_in(0, late_marker + 1).await;
        assert_eq!(both, vec![abort[0], late], "each abort once, though reads ran into the tail");
    }

    #[tokio::test]
    async fn a_long_abort_whose_marker_alone_is_in_the_tail_is_paired_when_read() {
        let log: Arc<dyn Log> = Arc::new(MemoryLog::default());
        let before = Partition::new(0, Arc::clone(&log));
        before.ready().await.unwrap();
        let (a, info) = transactional(3, 0, 2);
        assert_eq!(before.append(a, &info).await, Ok(0));
        for _ in 0..(PRODUCER_RESTORE_RECORDS + LEARN_RANGE_RECORDS) / 500 {
            let (plain, info) = plain_batch(500);
            before.append(plain, &info).await.unwrap();
        }
        let marker = before.write_marker(3, 0, false, 0).await.unwrap();
        let after = Partition::new(0, Arc::clone(&log));
        after.ready().await.unwrap();
        assert!(after.txns().known_from() > 2, "the restart did not read back to the transaction's data");
        let abort = Aborted { producer_id: 3, first_offset: 0, last_offset: marker };
        assert_eq!(after.aborted_in(0, 10).await, vec![abort]);
    }

    #[tokio::test]
    async fn an_aborted_transaction_starts_at_its_first_batch_when_batches_in_flight_share_a_guess() {
        // The Pulsar log learns where a batch went only when the broker answers, so batches in
        // flight together are all guessed at the same end offset.
        let broker = Arc::new(crate::host::pulsar::FakeBroker::default());
        broker.add_topic("persistent://public/default/t", 1, &[]);
        let log: Arc<dyn Log> =
            Arc::new(crate::host::pulsar::PulsarLog::new(broker, "persistent://public/default/t-partition-0".into()));
        let p = Partition::new(0, log);
        p.ready().await.unwrap();
        let (plain, info) = idempotent(0, 2);
        assert_eq!(p.append(plain, &info).await, Ok(0));
        let (first, first_info) = transactional(1, 0, 3);
        let (second, second_info) = transactional(1, 3, 3);
        let in_flight = (p.append(first, &first_info), p.append(second, &second_info));
        assert_eq!((in_flight.0.await, in_flight.1.await), (Ok(2), Ok(5)));
        assert_eq!(p.last_stable_offset(), 2);
        assert_eq!(p.write_marker(1, 0, false, 0).await, Ok(8));
        assert_eq!(
            p.aborted_in(0, 9).await,
            vec![Aborted { producer_id: 1, first_offset: 2, last_offset: 8 }],
            "the abort covers the first batch too"
        );
    }

    #[test]
    fn a_tail_that_may_miss_a_transactions_start_reads_further_back() {
        let data = |producer_id| Stored { base_offset: 0, info: None, role: TxnRole::Data { producer_id, epoch: 0 } };
        let marker = |producer_id, commit| Stored {
            base_offset: 0,
            info: None,
            role: TxnRole::Marker { producer_id, epoch: 0, commit },
        };
        let opening = |producer_id| {
            let (_, info) = transactional(producer_id, 0, 1);
            Stored { base_offset: 0, info: Some(info), role: TxnRole::Data { producer_id, epoch: 0 } }
        };
        assert!(!starts_before(&[]));
        assert!(!starts_before(&[marker(1, true), data(1)]), "the first one seen committed");
        assert!(!starts_before(&[data(1), marker(1, true), data(1)]), "its start does not matter");
        assert!(starts_before(&[data(1), marker(1, false)]), "an abort whose start may be earlier");
        assert!(!starts_before(&[marker(1, false)]), "an abort whose data is all earlier is learned when read");
        assert!(starts_before(&[data(1)]), "open, maybe since earlier");
        assert!(!starts_before(&[opening(1), marker(1, false)]), "sequence 0: the epoch's first batch here");
        assert!(!starts_before(&[opening(1)]), "open, but since here");
    }

    /// Settings that save a snapshot at every append.
    fn snapshot_always() -> ProducerStateSettings {
        ProducerStateSettings { snapshot_interval_ms: 0, ..ProducerStateSettings::default() }
    }

    /// Appends plain records until more than a restart's tail read lies after what came before.
    async fn bury(p: &Partition) {
        for _ in 0..(PRODUCER_RESTORE_RECORDS * 2) / 500 {
            let (plain, info) = plain_batch(500);
            p.append(plain, &info).await.unwrap();
        }
    }

    /// Waits until the log holds a snapshot taken at `offset` or later.
    async fn snapshot_at(log: &Arc<dyn Log>, offset: i64) -> Snapshot {
        for _ in 0..1_000 {
            if let Some(bytes) = log.load_snapshot().await.unwrap() {
                let snapshot = Snapshot::decode(&bytes).expect("a snapshot kop wrote");
                if snapshot.offset >= offset {
                    return snapshot;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        panic!("no snapshot at {offset} was saved");
    }

    #[tokio::test]
    async fn a_transaction_open_far_behind_the_end_still_holds_readers_back_after_a_restart() {
        let log: Arc<dyn Log> = Arc::new(MemoryLog::default());
        let before = Partition::with_settings(0, Arc::clone(&log), snapshot_always());
        before.ready().await.unwrap();
        let (open, info) = transactional(1, 0, 2);
        assert_eq!(before.append(open, &info).await, Ok(0));
        bury(&before).await;
        let end = before.end_offset();
        // The saves started meanwhile run, so the next append finds none under way.
        tokio::task::yield_now().await;
        let (last, info) = plain_batch(1);
        before.append(last, &info).await.unwrap();
        assert_eq!(snapshot_at(&log, end).await.txns.open, vec![(1, 0)]);

        let after = Partition::with_settings(0, Arc::clone(&log), snapshot_always());
        after.ready().await.unwrap();
        assert_eq!(after.last_stable_offset(), 0, "the transaction is still open");
        let marker = after.write_marker(1, 0, false, 0).await.unwrap();
        assert_eq!(after.last_stable_offset(), after.end_offset());
        assert_eq!(
            after.aborted_in(0, 10).await,
            vec![Aborted { producer_id: 1, first_offset: 0, last_offset: marker }]
        );
    }

    #[tokio::test]
    async fn a_partition_written_fast_saves_its_snapshot_before_the_interval() {
        let log: Arc<dyn Log> = Arc::new(MemoryLog::default());
        let settings =
            ProducerStateSettings { snapshot_interval_ms: 3_600_000, snapshot_bytes: 10_000, ..Default::default() };
        let p = Partition::with_settings(0, Arc::clone(&log), settings);
        p.ready().await.unwrap();
        // Past the byte count, but not yet a second after the partition opened.
        bury(&p).await;
        tokio::task::yield_now().await;
        assert_eq!(log.load_snapshot().await.unwrap(), None, "not twice in a second");
        tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
        let end = p.end_offset();
        let (last, info) = plain_batch(1);
        p.append(last, &info).await.unwrap();
        assert_eq!(snapshot_at(&log, end).await.offset, end);
    }

    #[tokio::test]
    async fn a_retry_of_a_batch_far_behind_the_end_is_answered_after_a_restart() {
        let log: Arc<dyn Log> = Arc::new(MemoryLog::default());
        let before = Partition::with_settings(0, Arc::clone(&log), snapshot_always());
        before.ready().await.unwrap();
        let (first, info) = idempotent(0, 3);
        assert_eq!(before.append(first, &info).await, Ok(0));
        bury(&before).await;
        let end = before.end_offset();
        // The saves started meanwhile run, so the next append finds none under way.
        tokio::task::yield_now().await;
        let (last, info) = plain_batch(1);
        before.append(last, &info).await.unwrap();
        snapshot_at(&log, end).await;

        let after = Partition::with_settings(0, Arc::clone(&log), snapshot_always());
        after.ready().await.unwrap();
        let (retry, info) = idempotent(0, 3);
        assert_eq!(after.append(retry, &info).await, Ok(0), "answered with where it was stored");
        let (gap, info) = idempotent(5, 1);
        assert_eq!(after.append(gap, &info).await, Err(ResponseError::OutOfOrderSequenceNumber));
        let (next, info) = idempotent(3, 1);
        assert_eq!(after.append(next, &info).await, Ok(end + 1));
    }

    #[tokio::test]
    async fn batches_after_the_snapshot_and_ones_it_knew_are_replayed_once() {
        let log: Arc<dyn Log> = Arc::new(MemoryLog::default());
        let before = Partition::new(0, Arc::clone(&log));
        before.ready().await.unwrap();
        for first in [0, 3] {
            let (bytes, info) = idempotent(first, 3);
            before.append(bytes, &info).await.unwrap();
        }
        let (a, info) = transactional(2, 0, 1);
        before.append(a, &info).await.unwrap();
        let aborted = before.write_marker(2, 0, false, 0).await.unwrap();
        // A snapshot from before all of it: the restart replays every batch over it.
        let mut early = before.snapshot();
        early.offset = 0;
        log.save_snapshot(early.encode(SNAPSHOT_MAX_BYTES)).await.unwrap();
        let (b, info) = transactional(3, 0, 1);
        let open_at = before.append(b, &info).await.unwrap();

        let after = Partition::new(0, Arc::clone(&log));
        after.ready().await.unwrap();
        assert_eq!(
            after.aborted_in(0, 100).await,
            vec![Aborted { producer_id: 2, first_offset: 6, last_offset: aborted }]
        );
        assert_eq!(after.last_stable_offset(), open_at);
        let (retry, info) = idempotent(3, 3);
        assert_eq!(after.append(retry, &info).await, Ok(3), "the newest batch is known once, at the back");
        let (next, info) = idempotent(6, 1);
        assert!(after.append(next, &info).await.is_ok(), "the sequence goes on from the last batch");
    }

    #[tokio::test]
    async fn a_snapshot_past_the_end_or_unreadable_is_ignored() {
        for bad in [
            Snapshot { offset: 1_000, ..Snapshot::default() }.encode(SNAPSHOT_MAX_BYTES),
            Bytes::from_static(b"\x01 not a snapshot"),
        ] {
            let log: Arc<dyn Log> = Arc::new(MemoryLog::default());
            let (bytes, info) = idempotent(0, 3);
            log.append(bytes, BatchMeta { record_count: info.record_count, max_timestamp: 0 }).await.unwrap();
            log.save_snapshot(bad).await.unwrap();
            let p = Partition::new(0, Arc::clone(&log));
            p.ready().await.unwrap();
            let (retry, info) = idempotent(0, 3);
            assert_eq!(p.append(retry, &info).await, Ok(0), "the tail was read instead");
        }
    }

    #[tokio::test]
    async fn a_snapshot_that_claims_transactions_known_far_above_the_end_is_read_from_the_end() {
        let log: Arc<dyn Log> = Arc::new(MemoryLog::default());
        let before = Partition::new(0, Arc::clone(&log));
        before.ready().await.unwrap();
        let (a, info) = transactional(1, 0, 2);
        assert_eq!(before.append(a, &info).await, Ok(0));
        let marker = before.write_marker(1, 0, false, 0).await.unwrap();
        // Fuzzing found it: a CRC-valid snapshot whose known-from lies near i64::MAX had the first
        // read_committed reader step down from there 20,000 offsets at a time.
        let mut bad = Snapshot { offset: log.end_offset(), ..Snapshot::default() };
        bad.txns.known_from = i64::MAX - 5;
        log.save_snapshot(bad.encode(SNAPSHOT_MAX_BYTES)).await.unwrap();
        // On a thread of its own: over the memory log the old loop never yields, so only a
        // deadline outside it can tell a hang.
        let (done, learned) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
            let aborts = runtime.block_on(async {
                let after = Partition::new(0, Arc::clone(&log));
                after.ready().await.unwrap();
                after.aborted_in(0, 10).await
            });
            let _ = done.send(aborts);
        });
        let learned = learned.recv_timeout(std::time::Duration::from_secs(10)).expect("learned from the log's end");
        assert_eq!(learned, vec![Aborted { producer_id: 1, first_offset: 0, last_offset: marker }]);
    }

    #[tokio::test]
    async fn a_partition_whose_ownership_comes_back_rebuilds_what_others_wrote() {
        let broker = Arc::new(crate::host::pulsar::FakeBroker::default());
        broker.add_topic("persistent://public/default/t", 1, &[]);
        let name = "persistent://public/default/t-partition-0";
        let pulsar_log =
            || -> Arc<dyn Log> { Arc::new(crate::host::pulsar::PulsarLog::new(broker.clone(), name.into())) };
        let here = Partition::with_settings(0, pulsar_log(), snapshot_always());
        here.ready().await.unwrap();
        let (open, info) = transactional(1, 0, 2);
        assert_eq!(here.append(open, &info).await, Ok(0));
        assert_eq!(here.last_stable_offset(), 0);

        // Another broker owns it for a while and ends the transaction there.
        broker.move_away(name, "pulsar://other:6650");
        assert!(here.read(0, 1 << 20).await.is_err(), "not served here any more");
        broker.move_back(name);
        let there = Partition::with_settings(0, pulsar_log(), snapshot_always());
        there.ready().await.unwrap();
        let marker = there.write_marker(1, 0, false, 0).await.unwrap();
        broker.move_away(name, "pulsar://other:6650");
        assert!(there.read(0, 1 << 20).await.is_err());
        broker.move_back(name);

        here.ready().await.unwrap();
        assert_eq!(here.last_stable_offset(), here.end_offset(), "the end written elsewhere is known here");
        assert_eq!(
            here.aborted_in(0, 10).await,
            vec![Aborted { producer_id: 1, first_offset: 0, last_offset: marker }]
        );
    }

    #[tokio::test]
    async fn a_batch_stored_before_a_restart_is_not_stored_again_when_retried() {
        let log: Arc<dyn Log> = Arc::new(MemoryLog::default());
        let before = Partition::new(0, Arc::clone(&log));
        before.ready().await.unwrap();
        for (first, offset) in [(0, 0), (3, 3)] {
            let (bytes, info) = idempotent(first, 3);
            assert_eq!(before.append(bytes, &info).await, Ok(offset));
        }
        // The broker restarts over the same stored log; the producer never saw its last ack.
        let after = Partition::new(0, Arc::clone(&log));
        after.ready().await.unwrap();
        let (retry, info) = idempotent(3, 3);
        assert_eq!(after.append(retry, &info).await, Ok(3), "answered with the first offset");
        assert_eq!(log.end_offset(), 6, "not stored twice");
        let (gap, info) = idempotent(9, 1);
        assert_eq!(after.append(gap, &info).await, Err(ResponseError::OutOfOrderSequenceNumber));
        let (next, info) = idempotent(6, 1);
        assert_eq!(after.append(next, &info).await, Ok(6));
    }
}
