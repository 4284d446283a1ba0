//! The topics this broker serves, opened once and looked up by name or id on every request.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use tokio::sync::Mutex;
use uuid::Uuid;

use super::{Partition, ProducerStateSettings};
use futures::future::BoxFuture;

use crate::host::{HostError, HostResult, Log, OpenTopic, Owner, TopicMeta, TopicSpec, TopicStore};
use crate::names::{is_internal, valid_topic_name};
use crate::topic_config::TopicConfig;

/// An open topic.
pub struct Topic {
    /// Name, id, partition count, configs.
    pub meta: TopicMeta,
    /// Effective configs.
    pub config: TopicConfig,
    /// Partitions by index.
    pub partitions: Vec<Arc<Partition>>,
}

impl Topic {
    /// The partition with this index, if it exists.
    pub fn partition(&self, index: i32) -> Option<&Arc<Partition>> {
        usize::try_from(index).ok().and_then(|i| self.partitions.get(i))
    }
}

#[derive(Default)]
struct Maps {
    by_name: HashMap<String, Arc<Topic>>,
    by_id: HashMap<Uuid, Arc<Topic>>,
}

/// Every open topic, over the host's [`TopicStore`].
pub struct TopicRegistry {
    store: Arc<dyn TopicStore>,
    defaults: TopicConfig,
    settings: ProducerStateSettings,
    maps: RwLock<Maps>,
    // Creates and deletes run one at a time so "exists" checks and the host agree.
    admin: Mutex<()>,
}

impl TopicRegistry {
    /// Opens every topic the store has; their partitions keep their producers' state as
    /// `settings` say.
    pub async fn load(
        store: Arc<dyn TopicStore>,
        defaults: TopicConfig,
        settings: ProducerStateSettings,
    ) -> HostResult<Self> {
        let registry = TopicRegistry {
            store: Arc::clone(&store),
            defaults,
            settings,
            maps: RwLock::new(Maps::default()),
            admin: Mutex::new(()),
        };
        for open in store.load().await? {
            registry.insert(open);
        }
        Ok(registry)
    }

    fn partition(&self, index: i32, log: Arc<dyn Log>) -> Partition {
        Partition::with_settings(index, log, self.settings)
    }

    fn insert(&self, open: OpenTopic) -> Arc<Topic> {
        let config = super::resolve_config(self.defaults, &open.meta.configs);
        let partitions =
            open.logs.into_iter().enumerate().map(|(i, log)| Arc::new(self.partition(i as i32, log))).collect();
        self.replace(Topic { meta: open.meta, config, partitions })
    }

    /// The topic called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.maps.read().unwrap_or_else(|e| e.into_inner()).by_name.get(name).cloned()
    }

    /// The topic called `name`, asking the host when this broker has not seen it: on a host
    /// shared by several brokers another one may have created it.
    pub async fn find(&self, name: &str) -> HostResult<Option<Arc<Topic>>> {
        if let Some(topic) = self.get(name) {
            return Ok(Some(topic));
        }
        let found = self.store.find(name).await?;
        Ok(found.map(|open| self.get(&open.meta.name).unwrap_or_else(|| self.insert(open))))
    }

    /// Like [`TopicRegistry::find`], for request paths that answer a failed lookup as an unknown
    /// topic (logged).
    pub async fn resolve(&self, name: &str) -> Option<Arc<Topic>> {
        self.find(name).await.unwrap_or_else(|e| {
            tracing::warn!(topic = name, error = %e, "topic lookup failed");
            None
        })
    }

    /// Catches up with topics created, grown, reconfigured or deleted through other brokers
    /// sharing the host. Returns whether the host is shared (others answer nothing to catch up on).
    pub async fn refresh(&self) -> HostResult<bool> {
        // Holding the admin lock keeps a create or delete of this broker from racing the listing.
        let _admin = self.admin.lock().await;
        // Only topics known before the listing can be missing from it: one found meanwhile
        // (a request for a topic created elsewhere) is newer than the listing, not deleted.
        let known_before: HashSet<String> = self.all().into_iter().map(|t| t.meta.name.clone()).collect();
        let Some(listed) = self.store.refresh().await? else {
            return Ok(false);
        };
        let mut present = HashSet::with_capacity(listed.len());
        for open in listed {
            present.insert(open.meta.name.clone());
            match self.get(&open.meta.name) {
                None => {
                    tracing::info!(topic = %open.meta.name, "learned of a topic created elsewhere");
                    self.insert(open);
                }
                Some(topic) => self.catch_up(&topic, open),
            }
        }
        let gone: Vec<Arc<Topic>> = self
            .all()
            .into_iter()
            .filter(|t| known_before.contains(&t.meta.name) && !present.contains(&t.meta.name))
            .filter(|t| !is_internal(&t.meta.name))
            .collect();
        let mut maps = self.maps.write().unwrap_or_else(|e| e.into_inner());
        for topic in gone {
            tracing::info!(topic = %topic.meta.name, "topic was deleted elsewhere");
            maps.by_name.remove(&topic.meta.name);
            maps.by_id.remove(&topic.meta.id);
        }
        Ok(true)
    }

    /// Takes on partitions and configs that another broker gave the topic.
    fn catch_up(&self, topic: &Topic, listed: OpenTopic) {
        let known = topic.partitions.len();
        let grown = listed.logs.len() > known;
        if !grown && topic.meta.configs == listed.meta.configs {
            return;
        }
        let mut partitions = topic.partitions.clone();
        partitions.extend(
            listed.logs.into_iter().enumerate().skip(known).map(|(i, log)| Arc::new(self.partition(i as i32, log))),
        );
        let config = super::resolve_config(self.defaults, &listed.meta.configs);
        let meta = TopicMeta { partitions: partitions.len() as u32, ..listed.meta };
        tracing::info!(topic = %meta.name, partitions = meta.partitions, "took on changes made elsewhere");
        self.replace(Topic { meta, config, partitions });
    }

    /// Which broker serves a partition.
    pub fn owner(&self, name: &str, partition: u32) -> BoxFuture<'static, HostResult<Owner>> {
        self.store.owner(name, partition)
    }

    /// The topic with id `id`.
    pub fn get_by_id(&self, id: &Uuid) -> Option<Arc<Topic>> {
        self.maps.read().unwrap_or_else(|e| e.into_inner()).by_id.get(id).cloned()
    }

    /// All topics, sorted by name.
    pub fn all(&self) -> Vec<Arc<Topic>> {
        let mut all: Vec<_> = self.maps.read().unwrap_or_else(|e| e.into_inner()).by_name.values().cloned().collect();
        all.sort_by(|a, b| a.meta.name.cmp(&b.meta.name));
        all
    }

    /// Whether the host keeps its own copies of every log (see [`TopicStore::replicates`]).
    pub fn host_replicates(&self) -> bool {
        self.store.replicates()
    }

    /// Checks a create without doing it.
    pub fn validate(&self, spec: &TopicSpec) -> HostResult<()> {
        if !valid_topic_name(&spec.name) {
            return Err(HostError::Invalid(format!("'{}' is not a legal topic name", spec.name)));
        }
        if self.get(&spec.name).is_some() {
            return Err(HostError::TopicExists(spec.name.clone()));
        }
        self.store.validate(spec)
    }

    /// Creates a topic.
    pub async fn create(&self, spec: TopicSpec) -> HostResult<Arc<Topic>> {
        let _admin = self.admin.lock().await;
        self.validate(&spec)?;
        let open = self.store.create(spec).await?;
        tracing::info!(topic = %open.meta.name, partitions = open.meta.partitions, "created topic");
        Ok(self.insert(open))
    }

    /// Returns the topic, creating it with `configs` if it does not exist.
    pub async fn get_or_create(
        &self,
        name: &str,
        partitions: u32,
        configs: std::collections::BTreeMap<String, String>,
    ) -> HostResult<Arc<Topic>> {
        if let Some(topic) = self.get(name) {
            return Ok(topic);
        }
        let spec = TopicSpec { name: name.to_string(), partitions, configs };
        match self.create(spec).await {
            // Created meanwhile, perhaps through another broker sharing the host.
            Err(HostError::TopicExists(_)) => {
                self.find(name).await?.ok_or_else(|| HostError::UnknownTopic(name.into()))
            }
            other => other,
        }
    }

    /// Grows a topic to `count` partitions.
    pub async fn add_partitions(&self, name: &str, count: u32, validate_only: bool) -> HostResult<()> {
        let _admin = self.admin.lock().await;
        let topic = self.get(name).ok_or_else(|| HostError::UnknownTopic(name.to_string()))?;
        let current = topic.meta.partitions;
        if count <= current {
            return Err(HostError::Invalid(format!("{name} has {current} partitions; the count can only grow")));
        }
        if validate_only {
            return Ok(());
        }
        let logs = self.store.add_partitions(name, current, count).await?;
        let mut partitions = topic.partitions.clone();
        partitions.extend(
            logs.into_iter().enumerate().map(|(i, log)| Arc::new(self.partition((current as usize + i) as i32, log))),
        );
        let meta = TopicMeta { partitions: count, ..topic.meta.clone() };
        self.replace(Topic { meta, config: topic.config, partitions });
        tracing::info!(topic = name, from = current, to = count, "added partitions");
        Ok(())
    }

    /// The topic called `name` with its configs as the host has them now: on a host shared by
    /// several brokers another one may have altered them.
    pub async fn with_current_configs(&self, name: &str) -> HostResult<Option<Arc<Topic>>> {
        let Some(found) = self.store.find(name).await? else {
            return self.find(name).await;
        };
        match self.get(name) {
            Some(topic) if topic.meta.configs == found.meta.configs => Ok(Some(topic)),
            Some(topic) => Ok(Some(self.replace_configs(&topic, found.meta.configs))),
            None => Ok(Some(self.insert(found))),
        }
    }

    /// Replaces a topic's configs with `configs` (all of them: names left out return to their
    /// defaults), or with `validate_only` only checks them.
    pub async fn alter_configs(
        &self,
        name: &str,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> HostResult<()> {
        let _admin = self.admin.lock().await;
        let topic = self.find(name).await?.ok_or_else(|| HostError::UnknownTopic(name.to_string()))?;
        TopicConfig::resolve(self.defaults, &configs).map_err(|e| HostError::InvalidConfig(e.0))?;
        if validate_only {
            return Ok(());
        }
        self.store.alter_configs(name, configs.clone()).await?;
        self.replace_configs(&topic, configs);
        tracing::info!(topic = name, "altered topic configs");
        Ok(())
    }

    fn replace_configs(&self, topic: &Topic, configs: BTreeMap<String, String>) -> Arc<Topic> {
        let config = super::resolve_config(self.defaults, &configs);
        let meta = TopicMeta { configs, ..topic.meta.clone() };
        self.replace(Topic { meta, config, partitions: topic.partitions.clone() })
    }

    fn replace(&self, topic: Topic) -> Arc<Topic> {
        let topic = Arc::new(topic);
        let mut maps = self.maps.write().unwrap_or_else(|e| e.into_inner());
        maps.by_id.insert(topic.meta.id, Arc::clone(&topic));
        maps.by_name.insert(topic.meta.name.clone(), Arc::clone(&topic));
        topic
    }

    /// Deletes a topic and its data.
    pub async fn delete(&self, name: &str) -> HostResult<TopicMeta> {
        let _admin = self.admin.lock().await;
        let topic = self.get(name).ok_or_else(|| HostError::UnknownTopic(name.to_string()))?;
        self.store.delete(name).await?;
        let mut maps = self.maps.write().unwrap_or_else(|e| e.into_inner());
        maps.by_name.remove(name);
        maps.by_id.remove(&topic.meta.id);
        tracing::info!(topic = name, "deleted topic");
        Ok(topic.meta.clone())
    }
}
