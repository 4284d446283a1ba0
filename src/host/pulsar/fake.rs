//! A Pulsar broker in memory, answering [`BrokerCalls`] the way the shim does over a real one,
//! so the Pulsar host's own logic (names, adoption, offsets learned on load, ownership, the
//! failure table) is tested without a JVM.
//!
//! What it keeps of Pulsar: partitioned topics with properties in namespaces; each partition a
//! managed ledger of several ledgers (a new one every [`ENTRIES_PER_LEDGER`] entries, so
//! positions cross ledgers), whose entries carry the broker entry metadata index that
//! `AppendIndexMetadataInterceptor` assigns; bundle ownership that tests move between brokers; and
//! a token provider.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use futures::future::{self, BoxFuture, FutureExt};

use super::calls::{BrokerCalls, Failure, Field, ListedTopic, RawEntry, Reply};
use crate::protocol::pulsar_entry;

/// Entries per ledger before the fake rolls to a new one.
pub const ENTRIES_PER_LEDGER: usize = 2;

#[derive(Default)]
struct Topic {
    partitions: i32,
    properties: BTreeMap<String, String>,
}

#[derive(Default)]
struct ManagedLedger {
    /// `(ledger id, entries)`, oldest first.
    ledgers: Vec<(u64, Vec<Vec<u8>>)>,
    last_index: i64,
    loaded: bool,
    snapshot: Option<Vec<u8>>,
}

impl ManagedLedger {
    fn new() -> Self {
        ManagedLedger { ledgers: Vec::new(), last_index: -1, loaded: false, snapshot: None }
    }

    fn positions(&self) -> impl Iterator<Item = ((u64, u64), &Vec<u8>)> {
        self.ledgers.iter().flat_map(|(l, entries)| entries.iter().enumerate().map(move |(e, d)| ((*l, e as u64), d)))
    }

    /// The position after the last entry: where the next append goes.
    fn end(&self) -> (u64, u64) {
        self.ledgers.last().map_or((1, 0), |(l, entries)| (*l, entries.len() as u64))
    }

    fn append(&mut self, data: Vec<u8>) -> (u64, u64) {
        if self.ledgers.last().is_none_or(|(_, entries)| entries.len() >= ENTRIES_PER_LEDGER) {
            let next = self.ledgers.last().map_or(1, |(l, _)| l + 1);
            self.ledgers.push((next, Vec::new()));
        }
        let (ledger, entries) = self.ledgers.last_mut().expect("a ledger was just ensured");
        entries.push(data);
        (*ledger, entries.len() as u64 - 1)
    }
}

#[derive(Default)]
struct State {
    namespaces: BTreeSet<String>,
    topics: BTreeMap<String, Topic>,
    partitions: HashMap<String, ManagedLedger>,
    /// Partitions another broker owns, and its service URL.
    remote: HashMap<String, String>,
    tokens: HashMap<String, String>,
    /// When set, every call fails with this failure.
    failing: Option<Failure>,
}

/// The fake broker.
#[derive(Default)]
pub struct FakeBroker {
    state: Mutex<State>,
}

fn ready(reply: Reply) -> BoxFuture<'static, Reply> {
    future::ready(reply).boxed()
}

fn failed(failure: Failure, message: impl Into<String>) -> BoxFuture<'static, Reply> {
    ready(Reply::Failed(failure, message.into()))
}

/// The partitioned topic a partition belongs to.
fn parent_of(partition: &str) -> &str {
    partition.rsplit_once("-partition-").map_or(partition, |(parent, _)| parent)
}

/// The `tenant/namespace` of a full topic name.
fn namespace_of(topic: &str) -> &str {
    let rest = topic.split_once("://").map_or(topic, |(_, r)| r);
    rest.rsplit_once('/').map_or(rest, |(ns, _)| ns)
}

impl FakeBroker {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes another broker, at `url`, the owner of `partition` (the bundle moved away); the
    /// partition is unloaded here.
    pub fn move_away(&self, partition: &str, url: &str) {
        let mut state = self.lock();
        state.remote.insert(partition.to_string(), url.to_string());
        if let Some(ml) = state.partitions.get_mut(partition) {
            ml.loaded = false;
        }
    }

    /// Makes this broker the owner of `partition` again.
    pub fn move_back(&self, partition: &str) {
        self.lock().remote.remove(partition);
    }

    /// Accepts `token` as `role`.
    pub fn add_token(&self, token: &str, role: &str) {
        self.lock().tokens.insert(token.to_string(), role.to_string());
    }

    /// Makes every call fail with `failure` (or succeed again, with `None`).
    pub fn fail_with(&self, failure: Option<Failure>) {
        self.lock().failing = failure;
    }

    /// Creates a partitioned topic the way a Pulsar user would, with any properties.
    pub fn add_topic(&self, topic: &str, partitions: i32, properties: &[(&str, &str)]) {
        let mut state = self.lock();
        state.namespaces.insert(namespace_of(topic).to_string());
        let properties = properties.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        state.topics.insert(topic.to_string(), Topic { partitions, properties });
    }

    /// The topic's properties now.
    pub fn properties(&self, topic: &str) -> Option<BTreeMap<String, String>> {
        self.lock().topics.get(topic).map(|t| t.properties.clone())
    }

    /// Whether `topic` exists.
    pub fn has_topic(&self, topic: &str) -> bool {
        self.lock().topics.contains_key(topic)
    }

    /// Runs `f` on the state unless the broker is failing every call.
    fn with(&self, f: impl FnOnce(&mut State) -> Reply) -> BoxFuture<'static, Reply> {
        let mut state = self.lock();
        match state.failing {
            Some(failure) => failed(failure, "the fake broker fails every call"),
            None => ready(f(&mut state)),
        }
    }

    /// Runs `f` on a partition loaded on this broker.
    fn loaded(&self, partition: &str, f: impl FnOnce(&mut ManagedLedger) -> Reply) -> BoxFuture<'static, Reply> {
        self.with(|state| match state.partitions.get_mut(partition) {
            Some(ml) if ml.loaded => f(ml),
            _ => Reply::Failed(Failure::NotOwner, format!("{partition} is not loaded on this broker")),
        })
    }
}

fn listed(name: &str, topic: &Topic) -> ListedTopic {
    ListedTopic { name: name.to_string(), partitions: topic.partitions, configs: topic.properties.clone() }
}

impl BrokerCalls for FakeBroker {
    fn list_topics(&self, namespace: &str) -> BoxFuture<'static, Reply> {
        self.with(|state| {
            if !state.namespaces.contains(namespace) {
                return Reply::Failed(Failure::UnknownTopic, format!("namespace {namespace} does not exist"));
            }
            let topics =
                state.topics.iter().filter(|(name, _)| namespace_of(name) == namespace).map(|(n, t)| listed(n, t));
            Reply::Topics(topics.collect())
        })
    }

    fn describe_topic(&self, topic: &str) -> BoxFuture<'static, Reply> {
        self.with(|state| match state.topics.get(topic) {
            Some(t) => Reply::Topics(vec![listed(topic, t)]),
            None => Reply::Failed(Failure::UnknownTopic, format!("{topic} does not exist")),
        })
    }

    fn ensure_namespace(&self, namespace: &str) -> BoxFuture<'static, Reply> {
        self.with(|state| {
            state.namespaces.insert(namespace.to_string());
            Reply::Done
        })
    }

    fn lookup(&self, partition: &str) -> BoxFuture<'static, Reply> {
        self.with(|state| {
            if !state.topics.contains_key(parent_of(partition)) {
                return Reply::Failed(Failure::UnknownTopic, format!("{partition} does not exist"));
            }
            match state.remote.get(partition) {
                Some(url) => Reply::Owner { local: false, url: url.clone() },
                None => Reply::Owner { local: true, url: "pulsar://127.0.0.1:6650".into() },
            }
        })
    }

    fn authenticate(&self, token: &str) -> BoxFuture<'static, Reply> {
        self.with(|state| match state.tokens.get(token) {
            Some(role) => Reply::Principal(role.clone()),
            None => Reply::Failed(Failure::Invalid, "token is not valid".into()),
        })
    }

    fn create_topic(
        &self,
        topic: &str,
        partitions: i32,
        configs: &BTreeMap<String, String>,
    ) -> BoxFuture<'static, Reply> {
        self.with(|state| {
            if !state.namespaces.contains(namespace_of(topic)) {
                return Reply::Failed(Failure::Invalid, format!("namespace of {topic} does not exist"));
            }
            if state.topics.contains_key(topic) {
                return Reply::Failed(Failure::TopicExists, format!("{topic} exists"));
            }
            state.topics.insert(topic.to_string(), Topic { partitions, properties: configs.clone() });
            Reply::Done
        })
    }

    fn alter_topic_configs(
        &self,
        topic: &str,
        configs: &BTreeMap<String, String>,
        removed: &[String],
    ) -> BoxFuture<'static, Reply> {
        self.with(|state| match state.topics.get_mut(topic) {
            Some(t) => {
                t.properties.extend(configs.iter().map(|(k, v)| (k.clone(), v.clone())));
                removed.iter().for_each(|k| drop(t.properties.remove(k)));
                Reply::Done
            }
            None => Reply::Failed(Failure::UnknownTopic, format!("{topic} does not exist")),
        })
    }

    fn set_topic_property(&self, topic: &str, key: &str, value: &str) -> BoxFuture<'static, Reply> {
        self.with(|state| match state.topics.get_mut(topic) {
            Some(t) => {
                t.properties.insert(key.to_string(), value.to_string());
                Reply::Done
            }
            None => Reply::Failed(Failure::UnknownTopic, format!("{topic} does not exist")),
        })
    }

    fn update_partitions(&self, topic: &str, partitions: i32) -> BoxFuture<'static, Reply> {
        self.with(|state| match state.topics.get_mut(topic) {
            Some(t) if partitions > t.partitions => {
                t.partitions = partitions;
                Reply::Done
            }
            Some(_) => Reply::Failed(Failure::Invalid, "partitions can only grow".into()),
            None => Reply::Failed(Failure::UnknownTopic, format!("{topic} does not exist")),
        })
    }

    fn delete_topic(&self, topic: &str) -> BoxFuture<'static, Reply> {
        self.with(|state| {
            if state.topics.remove(topic).is_none() {
                return Reply::Failed(Failure::UnknownTopic, format!("{topic} does not exist"));
            }
            state.partitions.retain(|p, _| parent_of(p) != topic);
            Reply::Done
        })
    }

    fn open_partition(&self, partition: &str) -> BoxFuture<'static, Reply> {
        self.with(|state| {
            let Some(topic) = state.topics.get(parent_of(partition)) else {
                return Reply::Failed(Failure::UnknownTopic, format!("{partition} does not exist"));
            };
            let index = partition.rsplit_once("-partition-").and_then(|(_, i)| i.parse::<i32>().ok());
            if index.is_none_or(|i| i >= topic.partitions) {
                return Reply::Failed(Failure::UnknownTopic, format!("{partition} does not exist"));
            }
            if state.remote.contains_key(partition) {
                return Reply::Failed(Failure::NotOwner, format!("{partition} is owned by another broker"));
            }
            let ml = state.partitions.entry(partition.to_string()).or_insert_with(ManagedLedger::new);
            ml.loaded = true;
            let mut entries = ml.positions().map(|(_, d)| d.clone());
            let first = entries.next();
            let last = entries.last().or_else(|| first.clone());
            Reply::Opened { last_index: ml.last_index, first, last, snapshot: ml.snapshot.clone() }
        })
    }

    fn save_snapshot(&self, partition: &str, snapshot: &[u8]) -> BoxFuture<'static, Reply> {
        self.loaded(partition, |ml| {
            ml.snapshot = Some(snapshot.to_vec());
            Reply::Done
        })
    }

    fn append(&self, partition: &str, frame: &[u8], records: i32) -> BoxFuture<'static, Reply> {
        self.loaded(partition, |ml| {
            let index = ml.last_index + i64::from(records.max(1));
            let stored = pulsar_entry::stored(frame, index);
            let (ledger_id, entry_id) = ml.append(stored.clone());
            ml.last_index = index;
            Reply::Appended { ledger_id, entry_id, head: stored }
        })
    }

    fn read(
        &self,
        partition: &str,
        ledger_id: u64,
        entry_id: u64,
        max_entries: i32,
        max_bytes: i64,
    ) -> BoxFuture<'static, Reply> {
        self.loaded(partition, |ml| {
            let mut out = Vec::new();
            let mut bytes = 0i64;
            let mut next = None;
            for ((l, e), data) in ml.positions().filter(|(p, _)| *p >= (ledger_id, entry_id)) {
                let full = out.len() >= max_entries.max(1) as usize;
                if full || (!out.is_empty() && bytes + data.len() as i64 > max_bytes) {
                    next = Some((l, e));
                    break;
                }
                bytes += data.len() as i64;
                out.push(RawEntry { ledger_id: l, entry_id: e, data: Bytes::from(data.clone()) });
            }
            Reply::Read(out, Some(next.unwrap_or_else(|| ml.end())))
        })
    }

    fn find_position(&self, partition: &str, field: Field, value: i64) -> BoxFuture<'static, Reply> {
        self.loaded(partition, |ml| {
            let matched = ml.positions().find(|(_, data)| field.of(data).is_some_and(|v| v >= value));
            // As the managed ledger's search does: past the last entry when none matches.
            let (l, e) = matched.map_or_else(|| ml.end(), |(p, _)| p);
            Reply::Position(l, e)
        })
    }
}
