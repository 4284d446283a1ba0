//! `PulsarLog`: one partition's ManagedLedger as a [`Log`].

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::{self, BoxFuture, FutureExt};

use super::calls::{BrokerCalls, Field, RawEntry, Reply};
use super::read_ahead::ReadAhead;
use super::{check, unexpected};
use crate::host::{Appended, BatchMeta, Entry, HostError, HostResult, Log, Position, ReadEntries};
use crate::protocol::pulsar_entry::{self, EntryInfo};

/// A partition stored in a Pulsar ManagedLedger.
///
/// Only the broker that owns the partition's bundle can load it, and ownership moves, so the log
/// opens on first use ([`Log::open`]) and closes itself again when the broker says another broker
/// owns it now; the next open loads it afresh and relearns its offsets.
pub struct PulsarLog {
    bridge: Arc<dyn BrokerCalls>,
    name: Arc<str>,
    state: Arc<State>,
}

struct State {
    open: AtomicBool,
    loads: AtomicU64,
    opening: tokio::sync::Mutex<()>,
    start: AtomicI64,
    end: AtomicI64,
    max_timestamp: Mutex<Option<(i64, i64)>>,
    // The producer-state snapshot as loaded with the partition, or as last saved here.
    snapshot: Mutex<Option<Bytes>>,
    ahead: ReadAhead,
}

impl State {
    /// Passes `result` on, closing the log when it says this broker lost the partition.
    fn seen<T>(&self, result: HostResult<T>) -> HostResult<T> {
        if matches!(result, Err(HostError::NotOwner(_))) {
            self.open.store(false, Ordering::Release);
            self.ahead.clear();
        }
        result
    }
}

fn bad_entry(name: &str) -> HostError {
    HostError::Corrupt(format!("an entry of {name} is not a Kafka batch with a broker index"))
}

fn not_open(name: &str) -> HostError {
    HostError::NotOwner(format!("{name} is not loaded on this broker"))
}

fn to_entry(name: &str, raw: RawEntry) -> HostResult<Entry> {
    let info = pulsar_entry::parse(&raw.data).ok_or_else(|| bad_entry(name))?;
    Ok(Entry {
        position: Position { ledger_id: raw.ledger_id, entry_id: raw.entry_id },
        base_offset: info.base_offset(),
        last_offset: info.last_offset,
        max_timestamp: pulsar_entry::max_timestamp(&raw.data, &info).unwrap_or(-1),
        data: raw.data.slice(info.payload_at..),
    })
}

/// The partitioned topic that `partition` belongs to, and the property of it that holds the offset
/// the partition's records were deleted up to (DeleteRecords).
fn parent_and_key(partition: &str) -> Option<(String, String)> {
    let (parent, index) = partition.rsplit_once("-partition-")?;
    Some((parent.to_string(), format!("kafka.deletedUpTo.partition-{index}")))
}

impl PulsarLog {
    /// The partition `name` (full Pulsar name), not loaded yet.
    pub fn new(bridge: Arc<dyn BrokerCalls>, name: String) -> Self {
        PulsarLog {
            bridge,
            name: name.into(),
            state: Arc::new(State {
                open: AtomicBool::new(false),
                loads: AtomicU64::new(0),
                opening: tokio::sync::Mutex::new(()),
                start: AtomicI64::new(0),
                end: AtomicI64::new(0),
                max_timestamp: Mutex::new(None),
                snapshot: Mutex::new(None),
                ahead: ReadAhead::default(),
            }),
        }
    }

    fn is_open(&self) -> bool {
        self.state.open.load(Ordering::Acquire)
    }

    /// Loads the partition on this broker and learns its offsets.
    fn load(&self) -> BoxFuture<'static, HostResult<()>> {
        let (bridge, name, state) = (Arc::clone(&self.bridge), Arc::clone(&self.name), Arc::clone(&self.state));
        async move {
            let _one_at_a_time = state.opening.lock().await;
            if state.open.load(Ordering::Acquire) {
                return Ok(());
            }
            let Reply::Opened { last_index, first, last, snapshot } = check(bridge.open_partition(&name).await)? else {
                return Err(bad_entry(&name));
            };
            let end = last_index + 1;
            let first_info: Option<EntryInfo> = first.as_deref().and_then(pulsar_entry::parse);
            let max_timestamp = last.as_deref().and_then(|head| {
                let info = pulsar_entry::parse(head)?;
                Some((pulsar_entry::max_timestamp(head, &info)?, info.last_offset))
            });
            let deleted_up_to = match parent_and_key(&name) {
                Some((parent, key)) => match check(bridge.describe_topic(&parent).await)? {
                    Reply::Topics(listed) => listed
                        .into_iter()
                        .next()
                        .and_then(|t| t.configs.get(&key).and_then(|v| v.parse::<i64>().ok()))
                        .unwrap_or(0),
                    other => return Err(unexpected(other)),
                },
                None => 0,
            };
            let physical = first_info.map_or(end, |i| i.base_offset());
            state.start.store(physical.max(deleted_up_to.min(end)), Ordering::Release);
            state.end.store(end, Ordering::Release);
            *state.max_timestamp.lock().unwrap_or_else(|e| e.into_inner()) = max_timestamp;
            *state.snapshot.lock().unwrap_or_else(|e| e.into_inner()) = snapshot.map(Bytes::from);
            state.loads.fetch_add(1, Ordering::AcqRel);
            state.open.store(true, Ordering::Release);
            tracing::debug!(partition = %name, end, "loaded partition");
            Ok(())
        }
        .boxed()
    }

    fn read_entries(
        &self,
        from: Position,
        max_entries: usize,
        max_bytes: usize,
    ) -> BoxFuture<'static, HostResult<ReadEntries>> {
        let max_entries = i32::try_from(max_entries).unwrap_or(i32::MAX).max(1);
        let max_bytes = i64::try_from(max_bytes).unwrap_or(i64::MAX).max(1);
        let read = self.bridge.read(&self.name, from.ledger_id, from.entry_id, max_entries, max_bytes);
        let (name, state) = (Arc::clone(&self.name), Arc::clone(&self.state));
        async move {
            match state.seen(check(read.await))? {
                Reply::Read(raw, next) => Ok(ReadEntries {
                    entries: raw.into_iter().map(|r| to_entry(&name, r)).collect::<HostResult<_>>()?,
                    next: next.map(|(ledger_id, entry_id)| Position { ledger_id, entry_id }),
                }),
                other => Err(unexpected(other)),
            }
        }
        .boxed()
    }

    fn find(&self, which: Field, value: i64) -> BoxFuture<'static, HostResult<Position>> {
        let found = self.bridge.find_position(&self.name, which, value);
        let state = Arc::clone(&self.state);
        async move {
            match state.seen(check(found.await))? {
                Reply::Position(ledger_id, entry_id) => Ok(Position { ledger_id, entry_id }),
                other => Err(unexpected(other)),
            }
        }
        .boxed()
    }
}

impl Log for PulsarLog {
    fn open(&self) -> BoxFuture<'static, HostResult<()>> {
        if self.is_open() {
            return future::ready(Ok(())).boxed();
        }
        self.load()
    }

    fn generation(&self) -> u64 {
        self.state.loads.load(Ordering::Acquire)
    }

    fn append(&self, batch: Bytes, meta: BatchMeta) -> BoxFuture<'static, HostResult<Appended>> {
        // Opening here would let a later append overtake this one; the caller opens first.
        if !self.is_open() {
            return future::ready(Err(not_open(&self.name))).boxed();
        }
        let now = crate::clock::now_ms().max(0) as u64;
        let frame = pulsar_entry::publish_frame(&batch, meta.record_count, now);
        let records = i32::try_from(meta.record_count).unwrap_or(i32::MAX);
        let appended = self.bridge.append(&self.name, &frame, records);
        let (state, name) = (Arc::clone(&self.state), Arc::clone(&self.name));
        async move {
            let Reply::Appended { ledger_id, entry_id, head } = state.seen(check(appended.await))? else {
                return Err(bad_entry(&name));
            };
            let info = pulsar_entry::parse(&head).ok_or_else(|| bad_entry(&name))?;
            state.end.fetch_max(info.last_offset + 1, Ordering::AcqRel);
            let mut max = state.max_timestamp.lock().unwrap_or_else(|e| e.into_inner());
            if max.is_none_or(|(ts, _)| meta.max_timestamp > ts) {
                *max = Some((meta.max_timestamp, info.last_offset));
            }
            Ok(Appended { position: Position { ledger_id, entry_id }, base_offset: info.base_offset() })
        }
        .boxed()
    }

    fn read(
        &self,
        from: Position,
        max_entries: usize,
        max_bytes: usize,
    ) -> BoxFuture<'static, HostResult<ReadEntries>> {
        match self.state.ahead.take(from, max_bytes) {
            Some(started) => started,
            None => self.read_entries(from, max_entries, max_bytes),
        }
    }

    fn read_ahead(&self, from: Position, max_bytes: usize) {
        if self.is_open() {
            self.state.ahead.start(from, max_bytes, |bytes| self.read_entries(from, usize::MAX, bytes));
        }
    }

    fn find_position(&self, offset: i64) -> BoxFuture<'static, HostResult<Option<Position>>> {
        if !self.is_open() {
            return future::ready(Err(not_open(&self.name))).boxed();
        }
        if offset < self.start_offset() || offset >= self.end_offset() {
            return future::ready(Ok(None)).boxed();
        }
        self.find(Field::LastOffset, offset).map(|r| r.map(Some)).boxed()
    }

    fn find_by_timestamp(&self, timestamp: i64) -> BoxFuture<'static, HostResult<Option<Entry>>> {
        if !self.is_open() {
            return future::ready(Err(not_open(&self.name))).boxed();
        }
        if self.end_offset() <= self.start_offset() {
            return future::ready(Ok(None)).boxed();
        }
        let found = self.find(Field::MaxTimestamp, timestamp);
        let (bridge, name, state) = (Arc::clone(&self.bridge), Arc::clone(&self.name), Arc::clone(&self.state));
        async move {
            let position = found.await?;
            let read = bridge.read(&name, position.ledger_id, position.entry_id, 1, 1);
            let entry = match state.seen(check(read.await))? {
                Reply::Read(raw, _) => raw.into_iter().next().map(|r| to_entry(&name, r)).transpose()?,
                other => return Err(unexpected(other)),
            };
            Ok(entry.filter(|e| e.position == position && e.max_timestamp >= timestamp))
        }
        .boxed()
    }

    fn start_offset(&self) -> i64 {
        self.state.start.load(Ordering::Acquire)
    }

    fn end_offset(&self) -> i64 {
        self.state.end.load(Ordering::Acquire)
    }

    fn max_timestamp(&self) -> Option<(i64, i64)> {
        *self.state.max_timestamp.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn delete_records(&self, offset: i64) -> BoxFuture<'static, HostResult<i64>> {
        if !self.is_open() {
            return future::ready(Err(not_open(&self.name))).boxed();
        }
        // The range is the partition's to check; this only keeps the start where it can be.
        let offset = offset.min(self.end_offset());
        if offset <= self.start_offset() {
            return future::ready(Ok(self.start_offset())).boxed();
        }
        let Some((parent, key)) = parent_and_key(&self.name) else {
            return future::ready(Err(HostError::Invalid(format!("{} is not a partition", self.name)))).boxed();
        };
        // Pulsar frees the ledgers by its retention policies; the start offset is ours to keep.
        let stored = self.bridge.set_topic_property(&parent, &key, &offset.to_string());
        let state = Arc::clone(&self.state);
        async move {
            match check(stored.await)? {
                Reply::Done => Ok(state.start.fetch_max(offset, Ordering::AcqRel).max(offset)),
                other => Err(unexpected(other)),
            }
        }
        .boxed()
    }

    fn load_snapshot(&self) -> BoxFuture<'static, HostResult<Option<Bytes>>> {
        if !self.is_open() {
            return future::ready(Err(not_open(&self.name))).boxed();
        }
        future::ready(Ok(self.state.snapshot.lock().unwrap_or_else(|e| e.into_inner()).clone())).boxed()
    }

    fn save_snapshot(&self, snapshot: Bytes) -> BoxFuture<'static, HostResult<()>> {
        if !self.is_open() {
            return future::ready(Err(not_open(&self.name))).boxed();
        }
        let saved = self.bridge.save_snapshot(&self.name, &snapshot);
        let state = Arc::clone(&self.state);
        async move {
            match state.seen(check(saved.await))? {
                Reply::Done => {
                    *state.snapshot.lock().unwrap_or_else(|e| e.into_inner()) = Some(snapshot);
                    Ok(())
                }
                other => Err(unexpected(other)),
            }
        }
        .boxed()
    }

    fn trim(&self, _offset: i64) -> BoxFuture<'static, HostResult<i64>> {
        // Pulsar trims ledgers by its own retention policies.
        future::ready(Ok(self.start_offset())).boxed()
    }
}
