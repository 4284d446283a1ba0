//! The transaction coordinator: transactional ids, their producers and their transactions, kept
//! durable in `__transaction_state` (partitioned by transactional id, as Kafka and KoP place it)
//! through the same partitions and host log as any topic.
//!
//! Each id's requests run one at a time under the id's own lock; the states in memory sit behind
//! one plain lock that is never held across an await. Ending a transaction writes the decision
//! (PrepareCommit / PrepareAbort) to the log, then a marker into each of its partitions (for
//! offsets sent to the transaction, the group coordinator commits or drops them; partitions of
//! other brokers get theirs through WriteTxnMarkers, see [`markers`]), then the outcome. A ticker aborts transactions past their timeout and finishes ends that a failure or
//! a restart left half done.

pub mod joins;
pub mod markers;
pub mod peer_link;
pub mod records;
pub mod state;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kafka_protocol::error::ResponseError;

use crate::clock::now_ms;
use crate::config::Config;
use crate::group::GroupCoordinator;
use crate::host::HostError;
use crate::names::{OFFSETS_TOPIC, TRANSACTION_TOPIC};
use crate::partition::internal_log::{Entry, InternalLog, WriteError};
use crate::partition::ownership::{Coordinated, Ownership};
use crate::partition::TopicRegistry;
use markers::Marker;
pub use peer_link::{PeerLinks, PeerSecurity};
use state::{EndV2, TxnMeta, TxnState, EXHAUSTED_EPOCH};

/// How often the ticker looks for timed-out transactions and unfinished ends.
const TICK: Duration = Duration::from_secs(1);

/// Coordinator settings.
#[derive(Debug, Clone, Copy)]
pub struct TxnConfig {
    /// Partitions of `__transaction_state`.
    pub log_partitions: u32,
    /// Largest transaction timeout a producer may ask for.
    pub max_timeout_ms: i32,
    /// How long an idle transactional id is kept (`None`: forever).
    pub id_expiration_ms: Option<i64>,
    /// How often idle ids are looked for.
    pub expiry_check: Duration,
}

impl TxnConfig {
    /// The coordinator's settings from the broker's config.
    pub fn from_config(config: &Config) -> Self {
        TxnConfig {
            log_partitions: config.kafka_txn_log_topic_num_partitions,
            max_timeout_ms: i32::try_from(config.transaction_max_timeout_ms).unwrap_or(i32::MAX),
            id_expiration_ms: config
                .kafka_transactional_id_expiration_enable
                .then(|| i64::try_from(config.kafka_transactional_id_expiration_ms).unwrap_or(i64::MAX)),
            expiry_check: Duration::from_millis(
                config.kafka_transactions_remove_expired_transactional_id_cleanup_interval_ms,
            ),
        }
    }
}

/// A transaction as DescribeTransactions and ListTransactions show it.
#[derive(Debug, Clone)]
pub struct TxnListing {
    /// The transactional id.
    pub transactional_id: String,
    /// Its state then.
    pub meta: TxnMeta,
}

/// Hands out producer ids that are never handed out twice, across restarts too: seeded from the
/// clock (1024 ids per millisecond), so no counter needs storing.
pub struct ProducerIds(AtomicI64);

impl Default for ProducerIds {
    fn default() -> Self {
        ProducerIds(AtomicI64::new(now_ms() << 10))
    }
}

impl ProducerIds {
    /// A producer id never handed out before.
    pub fn next(&self) -> i64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

/// The transaction coordinator.
pub struct TransactionCoordinator {
    config: TxnConfig,
    txns: Mutex<HashMap<String, TxnMeta>>,
    // One lock per id, so one id's requests (and the ticker's work on it) never interleave.
    turns: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    log: InternalLog,
    ownership: Ownership,
    topics: Arc<TopicRegistry>,
    groups: Arc<GroupCoordinator>,
    ids: Arc<ProducerIds>,
    links: PeerLinks,
}

impl TransactionCoordinator {
    /// Opens (creating if needed) `__transaction_state` and starts loading it in the background:
    /// a transactional producer that comes first is told to retry (COORDINATOR_LOAD_IN_PROGRESS).
    pub async fn start(
        topics: Arc<TopicRegistry>,
        groups: Arc<GroupCoordinator>,
        ids: Arc<ProducerIds>,
        config: TxnConfig,
        links: PeerLinks,
    ) -> Result<Arc<Self>, HostError> {
        let log = InternalLog::open(&topics, TRANSACTION_TOPIC, config.log_partitions).await?;
        let ownership = Ownership::new(log.partitions());
        let coordinator = Arc::new(TransactionCoordinator {
            config,
            txns: Mutex::new(HashMap::new()),
            turns: Mutex::new(HashMap::new()),
            log,
            ownership,
            topics,
            groups,
            ids,
            links,
        });
        let loader = Arc::clone(&coordinator);
        tokio::spawn(async move {
            for index in 0..loader.log.partitions() {
                if loader.ownership.check(index) == Ok(Coordinated::LoadNow) {
                    let _ = loader.load(index).await;
                }
            }
        });
        let ticker = Arc::downgrade(&coordinator);
        tokio::spawn(async move {
            let mut swept = tokio::time::Instant::now();
            loop {
                tokio::time::sleep(TICK).await;
                let Some(c) = ticker.upgrade() else { return };
                c.tick().await;
                if swept.elapsed() >= c.config.expiry_check {
                    c.expire_idle_ids().await;
                    swept = tokio::time::Instant::now();
                }
            }
        });
        Ok(coordinator)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, TxnMeta>> {
        self.txns.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn turn(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut turns = self.turns.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(turns.entry(id.to_string()).or_default())
    }

    /// The `__transaction_state` partition that stores `transactional_id`.
    pub fn partition_of(&self, transactional_id: &str) -> u32 {
        self.log.partition_of(transactional_id)
    }

    /// Whether this broker coordinates `transactional_id` now; a partition not in memory starts
    /// loading (COORDINATOR_LOAD_IN_PROGRESS until done).
    pub fn check(self: &Arc<Self>, transactional_id: &str) -> Result<(), ResponseError> {
        if transactional_id.is_empty() {
            return Err(ResponseError::InvalidRequest);
        }
        let index = self.partition_of(transactional_id);
        if self.ownership.check(index)? == Coordinated::Here {
            return Ok(());
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(e) = this.load(index).await {
                tracing::debug!(partition = index, error = %e, "{TRANSACTION_TOPIC} partition not loaded");
            }
        });
        Err(ResponseError::CoordinatorLoadInProgress)
    }

    async fn load(&self, index: u32) -> Result<(), HostError> {
        self.ownership.loading(index);
        let mut found: HashMap<String, Option<TxnMeta>> = HashMap::new();
        let outcome = self
            .log
            .replay(index, |entry| {
                // The coordinator's own records only: nothing here is written in a transaction.
                if let Entry::Record { key, value, producer_id: None } = entry {
                    if let Some(id) = records::decode_key(key) {
                        found.insert(id, value.and_then(records::decode_value));
                    }
                }
            })
            .await;
        match &outcome {
            Ok(records) => {
                let mut txns = self.lock();
                for (id, meta) in found {
                    match meta {
                        Some(meta) => txns.insert(id, meta),
                        None => txns.remove(&id),
                    };
                }
                drop(txns);
                self.ownership.loaded(index);
                tracing::debug!(partition = index, records, "replayed {TRANSACTION_TOPIC}");
            }
            Err(HostError::NotOwner(_)) => self.ownership.elsewhere(index),
            Err(_) => self.ownership.failed(index),
        }
        outcome.map(drop)
    }

    /// Writes `meta` as `id`'s state and makes it current.
    async fn persist(&self, id: &str, meta: TxnMeta) -> Result<(), ResponseError> {
        let index = self.partition_of(id);
        let entry = (records::key(id), Some(records::value(&meta)));
        match self.log.write(index, vec![entry]).await {
            Ok(()) => {
                self.lock().insert(id.to_string(), meta);
                Ok(())
            }
            Err(WriteError::NotOwner) => {
                self.moved_away(index);
                Err(ResponseError::NotCoordinator)
            }
            // (Fenced is for writes in a producer's transaction, which this log never makes.)
            Err(WriteError::Unavailable | WriteError::Fenced) => Err(ResponseError::CoordinatorNotAvailable),
        }
    }

    /// InitProducerId for a transactional producer: a producer id and epoch for
    /// `transactional_id`, fencing any older producer of it. An open transaction of the old
    /// producer is aborted first; `expected` is the producer a restarting client names (KIP-360).
    pub async fn init_producer(
        self: &Arc<Self>,
        transactional_id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<(i64, i16), ResponseError> {
        self.check(transactional_id)?;
        if timeout_ms <= 0 || timeout_ms > self.config.max_timeout_ms {
            return Err(ResponseError::InvalidTransactionTimeout);
        }
        let turn = self.turn(transactional_id);
        let _turn = turn.lock().await;
        let now = now_ms();
        let current = self.lock().get(transactional_id).cloned();
        let mut meta = match current {
            None => TxnMeta::new(self.ids.next(), timeout_ms, now),
            Some(mut meta) => {
                if let Some((id, epoch)) = expected {
                    if id != meta.producer_id || epoch != meta.epoch {
                        return Err(ResponseError::ProducerFenced);
                    }
                }
                if meta.state.preparing() {
                    meta = self.finish(transactional_id, meta).await?;
                }
                let next_epoch = meta.bumped_epoch();
                if meta.state == TxnState::Ongoing {
                    // The old producer's transaction ends in an abort at the next epoch, which
                    // fences the old producer in every partition it wrote to.
                    let epoch = next_epoch.unwrap_or(meta.epoch);
                    let aborting = TxnMeta { state: TxnState::PrepareAbort, epoch, updated_ms: now, ..meta };
                    self.persist(transactional_id, aborting.clone()).await?;
                    meta = self.finish(transactional_id, aborting).await?;
                }
                match next_epoch {
                    Some(epoch) => TxnMeta { epoch, ..meta },
                    None => TxnMeta::new(self.ids.next(), timeout_ms, now),
                }
            }
        };
        meta.state = TxnState::Empty;
        meta.partitions.clear();
        meta.timeout_ms = timeout_ms;
        meta.started_ms = -1;
        meta.updated_ms = now;
        meta.last_end = None;
        let (id, epoch) = (meta.producer_id, meta.epoch);
        self.persist(transactional_id, meta).await?;
        tracing::debug!(transactional_id, producer_id = id, epoch, "producer initialized");
        Ok((id, epoch))
    }

    /// AddPartitionsToTxn: `partitions` join the producer's transaction, opening it if needed.
    pub async fn add_partitions(
        self: &Arc<Self>,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: Vec<(String, i32)>,
    ) -> Result<(), ResponseError> {
        self.check(transactional_id)?;
        let turn = self.turn(transactional_id);
        let _turn = turn.lock().await;
        let Some(mut meta) = self.lock().get(transactional_id).cloned() else {
            return Err(ResponseError::InvalidProducerIdMapping);
        };
        meta.check_producer(producer_id, epoch)?;
        if meta.add(partitions, now_ms())? {
            self.persist(transactional_id, meta).await?;
        }
        Ok(())
    }

    /// Transactions version 2 (KIP-890): `partitions` join the producer's transaction when it
    /// first writes to them (Produce v12), with no AddPartitionsToTxn from the producer. The
    /// id's coordinator may be another broker of the cluster: then it is asked over its Kafka
    /// listener, as the producer would have asked it.
    pub async fn join(
        self: &Arc<Self>,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: Vec<(String, i32)>,
    ) -> Result<(), ResponseError> {
        match self.elsewhere(transactional_id).await {
            Some(endpoint) => {
                let request = joins::partitions_request(transactional_id, producer_id, epoch, &partitions);
                joins::partitions_outcome(self.links.send(&endpoint, &request, joins::ADD_PARTITIONS_VERSION).await)
            }
            None => self.add_partitions(transactional_id, producer_id, epoch, partitions).await,
        }
    }

    /// Transactions version 2: the offsets partition of `group_id` joins the producer's
    /// transaction when it commits offsets in it (TxnOffsetCommit v5), with no AddOffsetsToTxn
    /// from the producer; the group's broker asks the id's coordinator, wherever it is.
    pub async fn join_offsets(
        self: &Arc<Self>,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        group_id: &str,
    ) -> Result<(), ResponseError> {
        match self.elsewhere(transactional_id).await {
            Some(endpoint) => {
                let request = joins::offsets_request(transactional_id, producer_id, epoch, group_id);
                joins::offsets_outcome(self.links.send(&endpoint, &request, joins::ADD_OFFSETS_VERSION).await)
            }
            None => self.add_offsets(transactional_id, producer_id, epoch, group_id).await,
        }
    }

    /// The broker that coordinates `transactional_id`, when a lookup names another one. The
    /// producer found its coordinator by lookup, but this broker may still hold the id's
    /// partition in memory from before the partition moved (a move is noticed at the next write
    /// here, and nothing of that id is written here): the lookup decides, and such a stale copy
    /// is dropped.
    async fn elsewhere(&self, transactional_id: &str) -> Option<crate::config::Endpoint> {
        let index = self.partition_of(transactional_id);
        match self.topics.owner(TRANSACTION_TOPIC, index).await {
            Ok(crate::host::Owner::Remote(endpoint)) => {
                if self.ownership.is_loaded(index) {
                    self.moved_away(index);
                }
                Some(endpoint)
            }
            Ok(crate::host::Owner::Local) => None,
            Err(e) => {
                tracing::debug!(transactional_id, error = %e, "no coordinator found for a join");
                None
            }
        }
    }

    /// Forgets the ids of `__transaction_state` partition `index`, which another broker owns now.
    fn moved_away(&self, index: u32) {
        self.ownership.elsewhere(index);
        self.lock().retain(|k, _| self.partition_of(k) != index);
    }

    /// Verification (AddPartitionsToTxn v4+ with `verify_only`): which of `partitions` are in the
    /// producer's open transaction. Nothing is written.
    pub fn verify(
        self: &Arc<Self>,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
    ) -> Result<Vec<bool>, ResponseError> {
        self.check(transactional_id)?;
        let txns = self.lock();
        let meta = txns.get(transactional_id).ok_or(ResponseError::InvalidProducerIdMapping)?;
        meta.verify(producer_id, epoch, partitions)
    }

    /// AddOffsetsToTxn: the offsets partition of `group_id` joins the transaction, so the
    /// offsets sent to it commit or abort with it.
    pub async fn add_offsets(
        self: &Arc<Self>,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        group_id: &str,
    ) -> Result<(), ResponseError> {
        if group_id.is_empty() {
            return Err(ResponseError::InvalidGroupId);
        }
        let index = self.groups.partition_of(group_id) as i32;
        self.add_partitions(transactional_id, producer_id, epoch, vec![(OFFSETS_TOPIC.to_string(), index)]).await
    }

    /// EndTxn: commits or aborts the producer's transaction; done when every partition has its
    /// marker. Returns the producer id and epoch the producer goes on with: the same ones, or
    /// with transactions version 2 (`version2`, EndTxn v5) the next epoch, which the markers carry
    /// so that nothing the producer sent before the end can land after it (KIP-890).
    pub async fn end(
        self: &Arc<Self>,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        version2: bool,
    ) -> Result<(i64, i16), ResponseError> {
        self.check(transactional_id)?;
        let turn = self.turn(transactional_id);
        let _turn = turn.lock().await;
        let Some(meta) = self.lock().get(transactional_id).cloned() else {
            return Err(ResponseError::InvalidProducerIdMapping);
        };
        let marker_epoch = if version2 {
            if meta.end_v2(producer_id, epoch, commit)? == EndV2::Done {
                return Ok((meta.producer_id, meta.epoch));
            }
            meta.end_epoch()
        } else {
            meta.check_producer(producer_id, epoch)?;
            if !meta.end(commit)? {
                return Ok((meta.producer_id, meta.epoch));
            }
            meta.epoch
        };
        let state = if commit { TxnState::PrepareCommit } else { TxnState::PrepareAbort };
        tracing::debug!(transactional_id, producer_id, epoch, commit, version2, partitions = ?meta.partitions, "ending");
        let last_end = version2.then_some((producer_id, epoch));
        let preparing = TxnMeta { state, epoch: marker_epoch, last_end, updated_ms: now_ms(), ..meta };
        self.persist(transactional_id, preparing.clone()).await?;
        let done = self.finish(transactional_id, preparing).await?;
        Ok((done.producer_id, done.epoch))
    }

    /// Writes the markers of a decided transaction and then its outcome; returns the completed
    /// state. On a failed marker the decision stays in the log and the ticker tries again.
    async fn finish(&self, id: &str, meta: TxnMeta) -> Result<TxnMeta, ResponseError> {
        let commit = meta.state == TxnState::PrepareCommit;
        let marker = Marker { producer_id: meta.producer_id, epoch: meta.epoch, commit };
        let failed = markers::write_all(&self.topics, &self.groups, &self.links, &meta.partitions, marker).await;
        if failed > 0 {
            tracing::warn!(transactional_id = id, failed, "transaction markers not all written; will retry");
            return Err(ResponseError::ConcurrentTransactions);
        }
        let state = if commit { TxnState::CompleteCommit } else { TxnState::CompleteAbort };
        let mut done = TxnMeta { state, partitions: Default::default(), started_ms: -1, updated_ms: now_ms(), ..meta };
        if done.epoch == EXHAUSTED_EPOCH {
            // A version-2 end used the epochs up: the producer goes on under a new id.
            done.producer_id = self.ids.next();
            done.epoch = 0;
        }
        self.persist(id, done.clone()).await?;
        Ok(done)
    }

    /// Aborts transactions past their timeout (fencing their producer, as Kafka does) and
    /// finishes ends left half done.
    async fn tick(&self) {
        let now = now_ms();
        let due: Vec<(String, TxnMeta)> = self
            .lock()
            .iter()
            .filter(|(_, m)| m.timed_out(now) || m.state.preparing())
            .map(|(id, m)| (id.clone(), m.clone()))
            .collect();
        for (id, _) in due {
            let turn = self.turn(&id);
            let _turn = turn.lock().await;
            let Some(meta) = self.lock().get(&id).cloned() else { continue };
            let result = if meta.timed_out(now_ms()) {
                let bumped = meta.bumped_epoch().unwrap_or(meta.epoch);
                let aborting = TxnMeta {
                    state: TxnState::PrepareAbort,
                    epoch: bumped,
                    last_end: None,
                    updated_ms: now_ms(),
                    ..meta
                };
                tracing::info!(transactional_id = %id, "aborting a transaction past its timeout");
                match self.persist(&id, aborting.clone()).await {
                    Ok(()) => self.finish(&id, aborting).await.map(drop),
                    Err(e) => Err(e),
                }
            } else if meta.state.preparing() {
                self.finish(&id, meta).await.map(drop)
            } else {
                Ok(())
            };
            if let Err(e) = result {
                tracing::debug!(transactional_id = %id, error = ?e, "transaction not ended yet");
            }
        }
    }

    /// Forgets the transactional ids idle past `kafkaTransactionalIdExpirationMs` with no
    /// transaction open, as Kafka does: a tombstone in `__transaction_state`, so a replay forgets
    /// them too, and the id's next producer gets a new producer id. Also drops the turn locks of
    /// ids no longer coordinated here (moved to another broker, or never known).
    async fn expire_idle_ids(&self) {
        if let Some(after) = self.config.id_expiration_ms {
            let now = now_ms();
            let idle: Vec<String> =
                self.lock().iter().filter(|(_, m)| m.expired(now, after)).map(|(id, _)| id.clone()).collect();
            for id in idle {
                let turn = self.turn(&id);
                let _turn = turn.lock().await;
                // A producer may have come back while this waited for the id's turn.
                if !self.lock().get(&id).is_some_and(|m| m.expired(now_ms(), after)) {
                    continue;
                }
                match self.log.write(self.partition_of(&id), vec![(records::key(&id), None)]).await {
                    Ok(()) => {
                        self.lock().remove(&id);
                        tracing::info!(transactional_id = %id, "transactional id expired");
                    }
                    Err(e) => tracing::debug!(transactional_id = %id, error = ?e, "cannot expire the id now"),
                }
            }
        }
        let known: std::collections::HashSet<String> = self.lock().keys().cloned().collect();
        let mut turns = self.turns.lock().unwrap_or_else(|e| e.into_inner());
        turns.retain(|id, turn| Arc::strong_count(turn) > 1 || known.contains(id));
    }

    /// The transactions this broker coordinates, for ListTransactions and DescribeTransactions.
    pub fn list(&self) -> Vec<TxnListing> {
        let mut all: Vec<TxnListing> = self
            .lock()
            .iter()
            .map(|(id, meta)| TxnListing { transactional_id: id.clone(), meta: meta.clone() })
            .collect();
        all.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        all
    }

    /// One transactional id's state, if this broker coordinates it and knows it.
    pub fn describe(self: &Arc<Self>, transactional_id: &str) -> Result<Option<TxnMeta>, ResponseError> {
        self.check(transactional_id)?;
        Ok(self.lock().get(transactional_id).cloned())
    }
}
