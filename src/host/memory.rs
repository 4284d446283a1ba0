//! The in-memory host: a [`Log`] and a [`TopicStore`] that keep everything in the process.
//!
//! Nothing survives the process, and nothing waits on a disk or a broker, so the whole core
//! (handlers, partitions, coordinators) runs over it in unit tests and under the fuzzer,
//! deterministically. It keeps the offset rules of the trait exactly as the durable hosts do.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use futures::future::{self, BoxFuture, FutureExt};
use uuid::Uuid;

use crate::config::Config;
use crate::host::{
    Appended, BatchMeta, Entry, HostError, HostResult, Log, OpenTopic, Position, ReadEntries, TopicMeta, TopicSpec,
    TopicStore,
};
use crate::topic_config::TopicConfig;

/// The entries of one log, oldest first; `first_entry` is the entry id of the front one, so
/// positions stay valid as the front is trimmed.
#[derive(Default)]
struct Entries {
    entries: VecDeque<Entry>,
    first_entry: u64,
    end_offset: i64,
    deleted_up_to: i64,
    closed: bool,
    snapshot: Option<Bytes>,
}

impl Entries {
    fn start_offset(&self) -> i64 {
        let stored = self.entries.front().map_or(self.end_offset, |e| e.base_offset);
        stored.max(self.deleted_up_to)
    }

    fn drop_below(&mut self, offset: i64) {
        while self.entries.front().is_some_and(|e| e.last_offset < offset) {
            self.entries.pop_front();
            self.first_entry += 1;
        }
    }
}

/// A partition log held in memory.
#[derive(Default)]
pub struct MemoryLog {
    state: Mutex<Entries>,
}

impl MemoryLog {
    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops accepting appends (the topic was deleted).
    pub fn close(&self) {
        self.lock().closed = true;
    }
}

impl Log for MemoryLog {
    fn append(&self, batch: Bytes, meta: BatchMeta) -> BoxFuture<'static, HostResult<Appended>> {
        let mut state = self.lock();
        if state.closed {
            return future::ready(Err(HostError::Closed)).boxed();
        }
        let base_offset = state.end_offset;
        let last_offset = base_offset + i64::from(meta.record_count.max(1)) - 1;
        let position = Position { ledger_id: 0, entry_id: state.first_entry + state.entries.len() as u64 };
        state.entries.push_back(Entry {
            position,
            base_offset,
            last_offset,
            max_timestamp: meta.max_timestamp,
            data: batch,
        });
        state.end_offset = last_offset + 1;
        future::ready(Ok(Appended { position, base_offset })).boxed()
    }

    fn read(
        &self,
        from: Position,
        max_entries: usize,
        max_bytes: usize,
    ) -> BoxFuture<'static, HostResult<ReadEntries>> {
        let state = self.lock();
        // A position trimmed away continues at the oldest entry still held, as on the other hosts.
        let skip = from.entry_id.saturating_sub(state.first_entry);
        let mut read = ReadEntries::default();
        let mut bytes = 0usize;
        for entry in state.entries.iter().skip(usize::try_from(skip).unwrap_or(usize::MAX)) {
            if read.entries.len() >= max_entries || (!read.entries.is_empty() && bytes + entry.data.len() > max_bytes) {
                break;
            }
            bytes += entry.data.len();
            read.next = Some(Position { ledger_id: 0, entry_id: entry.position.entry_id + 1 });
            read.entries.push(entry.clone());
        }
        future::ready(Ok(read)).boxed()
    }

    fn find_position(&self, offset: i64) -> BoxFuture<'static, HostResult<Option<Position>>> {
        let state = self.lock();
        let found = (offset >= state.start_offset() && offset < state.end_offset)
            .then(|| {
                let i = state.entries.partition_point(|e| e.last_offset < offset);
                state.entries.get(i).map(|e| e.position)
            })
            .flatten();
        future::ready(Ok(found)).boxed()
    }

    fn find_by_timestamp(&self, timestamp: i64) -> BoxFuture<'static, HostResult<Option<Entry>>> {
        let found = self.lock().entries.iter().find(|e| e.max_timestamp >= timestamp).cloned();
        future::ready(Ok(found)).boxed()
    }

    fn start_offset(&self) -> i64 {
        self.lock().start_offset()
    }

    fn end_offset(&self) -> i64 {
        self.lock().end_offset
    }

    fn max_timestamp(&self) -> Option<(i64, i64)> {
        let state = self.lock();
        state.entries.iter().fold(None, |best, e| match best {
            Some((ts, _)) if ts >= e.max_timestamp => best,
            _ => Some((e.max_timestamp, e.last_offset)),
        })
    }

    fn trim(&self, offset: i64) -> BoxFuture<'static, HostResult<i64>> {
        let mut state = self.lock();
        state.drop_below(offset);
        future::ready(Ok(state.start_offset())).boxed()
    }

    fn delete_records(&self, offset: i64) -> BoxFuture<'static, HostResult<i64>> {
        let mut state = self.lock();
        // The range is the partition's to check; this only keeps the start where it can be.
        let offset = offset.min(state.end_offset);
        state.deleted_up_to = state.deleted_up_to.max(offset);
        state.drop_below(offset);
        future::ready(Ok(state.start_offset())).boxed()
    }

    fn load_snapshot(&self) -> BoxFuture<'static, HostResult<Option<Bytes>>> {
        future::ready(Ok(self.lock().snapshot.clone())).boxed()
    }

    fn save_snapshot(&self, snapshot: Bytes) -> BoxFuture<'static, HostResult<()>> {
        self.lock().snapshot = Some(snapshot);
        future::ready(Ok(())).boxed()
    }
}

/// A topic as the memory host holds it.
type Held = (TopicMeta, Vec<Arc<MemoryLog>>);

/// Topics held in memory, with the broker's topic-config rules.
pub struct MemoryHost {
    defaults: TopicConfig,
    topics: Mutex<HashMap<String, Held>>,
}

impl MemoryHost {
    /// An empty host whose topic configs default as `config` says.
    pub fn new(config: &Config) -> Arc<Self> {
        Arc::new(MemoryHost { defaults: TopicConfig::defaults(config), topics: Mutex::default() })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Held>> {
        self.topics.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check_configs(&self, configs: &BTreeMap<String, String>) -> HostResult<()> {
        TopicConfig::resolve(self.defaults, configs).map(drop).map_err(|e| HostError::InvalidConfig(e.0))
    }
}

fn opened(meta: &TopicMeta, logs: &[Arc<MemoryLog>]) -> OpenTopic {
    OpenTopic { meta: meta.clone(), logs: logs.iter().map(|l| Arc::clone(l) as Arc<dyn Log>).collect() }
}

fn new_logs(count: u32) -> Vec<Arc<MemoryLog>> {
    (0..count).map(|_| Arc::new(MemoryLog::default())).collect()
}

impl TopicStore for MemoryHost {
    fn load(&self) -> BoxFuture<'static, HostResult<Vec<OpenTopic>>> {
        let topics = self.lock().values().map(|(meta, logs)| opened(meta, logs)).collect();
        future::ready(Ok(topics)).boxed()
    }

    fn validate(&self, spec: &TopicSpec) -> HostResult<()> {
        if spec.partitions == 0 {
            return Err(HostError::Invalid("a topic needs at least one partition".into()));
        }
        self.check_configs(&spec.configs)
    }

    fn create(&self, spec: TopicSpec) -> BoxFuture<'static, HostResult<OpenTopic>> {
        let result = self.validate(&spec).and_then(|()| {
            let mut topics = self.lock();
            if topics.contains_key(&spec.name) {
                return Err(HostError::TopicExists(spec.name));
            }
            let meta = TopicMeta {
                name: spec.name.clone(),
                id: Uuid::new_v4(),
                partitions: spec.partitions,
                configs: spec.configs,
            };
            let logs = new_logs(spec.partitions);
            let open = opened(&meta, &logs);
            topics.insert(spec.name, (meta, logs));
            Ok(open)
        });
        future::ready(result).boxed()
    }

    fn delete(&self, name: &str) -> BoxFuture<'static, HostResult<()>> {
        let result = match self.lock().remove(name) {
            Some((_, logs)) => {
                logs.iter().for_each(|l| l.close());
                Ok(())
            }
            None => Err(HostError::UnknownTopic(name.to_string())),
        };
        future::ready(result).boxed()
    }

    fn add_partitions(
        &self,
        name: &str,
        current: u32,
        count: u32,
    ) -> BoxFuture<'static, HostResult<Vec<Arc<dyn Log>>>> {
        let mut topics = self.lock();
        let result = match topics.get_mut(name) {
            None => Err(HostError::UnknownTopic(name.to_string())),
            Some((meta, _)) if meta.partitions != current => {
                Err(HostError::Invalid(format!("{name} has {} partitions, not {current}", meta.partitions)))
            }
            Some((meta, logs)) => {
                let added = new_logs(count.saturating_sub(current));
                meta.partitions = count;
                logs.extend(added.iter().cloned());
                Ok(added.into_iter().map(|l| l as Arc<dyn Log>).collect())
            }
        };
        future::ready(result).boxed()
    }

    fn alter_configs(&self, name: &str, configs: BTreeMap<String, String>) -> BoxFuture<'static, HostResult<()>> {
        let result = self.check_configs(&configs).and_then(|()| match self.lock().get_mut(name) {
            Some((meta, _)) => {
                meta.configs = configs;
                Ok(())
            }
            None => Err(HostError::UnknownTopic(name.to_string())),
        });
        future::ready(result).boxed()
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;

    fn meta(records: u32, ts: i64) -> BatchMeta {
        BatchMeta { record_count: records, max_timestamp: ts }
    }

    #[test]
    fn offsets_positions_and_deletes_follow_the_log_rules() {
        let log = MemoryLog::default();
        for (records, ts) in [(2, 10), (3, 30), (1, 20)] {
            block_on(log.append(Bytes::from_static(b"batch-bytes"), meta(records, ts))).unwrap();
        }
        assert_eq!((log.start_offset(), log.end_offset()), (0, 6));
        let at = block_on(log.find_position(3)).unwrap().expect("offset 3 is stored");
        let read = block_on(log.read(at, 10, 1 << 20)).unwrap();
        assert_eq!(read.entries.iter().map(|e| e.base_offset).collect::<Vec<_>>(), [2, 5]);
        assert_eq!(block_on(log.find_position(6)).unwrap(), None);
        assert_eq!(block_on(log.find_by_timestamp(25)).unwrap().map(|e| e.base_offset), Some(2));
        assert_eq!(log.max_timestamp(), Some((30, 4)));

        assert_eq!(block_on(log.delete_records(3)).unwrap(), 3, "inside a batch");
        assert_eq!(block_on(log.find_position(1)).unwrap(), None);
        assert_eq!(block_on(log.delete_records(1)).unwrap(), 3, "never moves back");
        // A position trimmed away reads from the oldest entry left.
        let first = block_on(log.read(Position { ledger_id: 0, entry_id: 0 }, 1, 0)).unwrap();
        assert_eq!(first.entries[0].base_offset, 2);
        assert_eq!(block_on(log.delete_records(6)).unwrap(), 6);
        assert_eq!((log.start_offset(), log.end_offset()), (6, 6));
    }
}
