//! The Pulsar host: Kafka topics as partitioned Pulsar topics, each partition's data in its
//! ManagedLedger, reached through the Java shim ([`crate::jni::bridge::Bridge`]).
//!
//! Kafka topic `foo` is `persistent://<kafkaTenant>/<kafkaNamespace>/foo`, partition N is
//! `...foo-partition-N`. Internal topics (`__consumer_offsets`) live in
//! `<kafkaMetadataTenant>/<kafkaMetadataNamespace>`, as KoP keeps them. One Kafka batch is one entry; its offsets come from the broker entry
//! metadata index that Pulsar's `AppendIndexMetadataInterceptor` assigns.

pub mod entry_format;
mod log;

use std::sync::Arc;

use futures::future::{self, BoxFuture, FutureExt};
use uuid::Uuid;

use crate::config::Config;
use crate::host::{HostError, HostResult, Log, OpenTopic, TopicMeta, TopicSpec, TopicStore};
use crate::jni::bridge::{kind, Bridge, Reply};
use crate::topic_config::TopicConfig;
pub use log::PulsarLog;

/// The reply as an error, or `Ok(reply)` when it is not a failure.
pub(crate) fn check(reply: Reply) -> HostResult<Reply> {
    match reply {
        Reply::Failed(k, message) => Err(match k {
            kind::NOT_OWNER => HostError::NotOwner(message),
            kind::UNKNOWN_TOPIC => HostError::UnknownTopic(message),
            kind::TOPIC_EXISTS => HostError::TopicExists(message),
            kind::INVALID => HostError::Invalid(message),
            _ => HostError::Storage(std::io::Error::other(message)),
        }),
        other => Ok(other),
    }
}

fn unexpected(reply: Reply) -> HostError {
    HostError::Storage(std::io::Error::other(format!("unexpected reply from the broker: {reply:?}")))
}

/// Kafka topics in a Pulsar namespace, internal topics in the metadata namespace.
#[derive(Clone)]
pub struct PulsarHost {
    bridge: Arc<Bridge>,
    namespace: String,
    metadata_namespace: String,
    defaults: TopicConfig,
}

impl PulsarHost {
    /// A host over `bridge` for the namespace the config names.
    pub fn new(bridge: Bridge, config: &Config) -> Self {
        PulsarHost {
            bridge: Arc::new(bridge),
            namespace: format!("{}/{}", config.kafka_tenant, config.kafka_namespace),
            metadata_namespace: format!("{}/{}", config.kafka_metadata_tenant, config.kafka_metadata_namespace),
            defaults: TopicConfig::defaults(config),
        }
    }

    /// The namespace a Kafka topic lives in.
    fn namespace_of(&self, name: &str) -> &str {
        if name.starts_with("__") {
            &self.metadata_namespace
        } else {
            &self.namespace
        }
    }

    /// The full Pulsar name of a Kafka topic.
    fn full_name(&self, name: &str) -> String {
        format!("persistent://{}/{name}", self.namespace_of(name))
    }

    fn open_topic(
        &self,
        name: String,
        partitions: u32,
        configs: std::collections::BTreeMap<String, String>,
    ) -> BoxFuture<'static, HostResult<OpenTopic>> {
        let full = self.full_name(&name);
        let opens: Vec<_> = (0..partitions)
            .map(|p| PulsarLog::open(Arc::clone(&self.bridge), format!("{full}-partition-{p}")))
            .collect();
        async move {
            let mut logs: Vec<Arc<dyn Log>> = Vec::with_capacity(opens.len());
            for log in future::join_all(opens).await {
                logs.push(Arc::new(log?));
            }
            let id = Uuid::new_v5(&Uuid::NAMESPACE_URL, full.as_bytes());
            Ok(OpenTopic { meta: TopicMeta { name, id, partitions, configs }, logs })
        }
        .boxed()
    }
}

impl TopicStore for PulsarHost {
    fn load(&self) -> BoxFuture<'static, HostResult<Vec<OpenTopic>>> {
        let mut namespaces = vec![self.namespace.clone()];
        if self.metadata_namespace != self.namespace {
            namespaces.push(self.metadata_namespace.clone());
        }
        let listings: Vec<_> = namespaces.iter().map(|ns| self.bridge.list_topics(ns)).collect();
        let this = self.clone();
        async move {
            let mut all = Vec::new();
            for listing in listings {
                match check(listing.await)? {
                    Reply::Topics(listed) => all.extend(listed),
                    other => return Err(unexpected(other)),
                }
            }
            let mut topics = Vec::new();
            for listed in all {
                let Some(name) = listed.name.rsplit_once('/').map(|(_, n)| n) else { continue };
                if this.full_name(name) != listed.name {
                    continue; // an internal name in the Kafka namespace, or the reverse: not ours
                }
                if !crate::partition::registry::valid_topic_name(name) || listed.partitions <= 0 {
                    continue;
                }
                // Properties that are not Kafka topic configs belong to Pulsar users; leave them.
                let configs = listed.configs.into_iter().filter(|(k, _)| TopicConfig::is_known(k)).collect();
                topics.push(this.open_topic(name.to_string(), listed.partitions as u32, configs).await?);
            }
            Ok(topics)
        }
        .boxed()
    }

    fn validate(&self, spec: &TopicSpec) -> HostResult<()> {
        if spec.partitions == 0 || spec.partitions > i32::MAX as u32 {
            return Err(HostError::Invalid("a topic needs at least one partition".into()));
        }
        TopicConfig::resolve(self.defaults, &spec.configs).map(|_| ()).map_err(|e| HostError::InvalidConfig(e.0))
    }

    fn create(&self, spec: TopicSpec) -> BoxFuture<'static, HostResult<OpenTopic>> {
        if let Err(e) = self.validate(&spec) {
            return future::ready(Err(e)).boxed();
        }
        let created = self.bridge.create_topic(&self.full_name(&spec.name), spec.partitions as i32, &spec.configs);
        let this = self.clone();
        async move {
            match check(created.await)? {
                Reply::Done => this.open_topic(spec.name, spec.partitions, spec.configs).await,
                other => Err(unexpected(other)),
            }
        }
        .boxed()
    }

    fn add_partitions(
        &self,
        name: &str,
        current: u32,
        count: u32,
    ) -> BoxFuture<'static, HostResult<Vec<Arc<dyn Log>>>> {
        let full = self.full_name(name);
        let updated = self.bridge.update_partitions(&full, count as i32);
        let bridge = Arc::clone(&self.bridge);
        async move {
            match check(updated.await)? {
                Reply::Done => {}
                other => return Err(unexpected(other)),
            }
            let opens = (current..count).map(|p| PulsarLog::open(Arc::clone(&bridge), format!("{full}-partition-{p}")));
            let mut logs: Vec<Arc<dyn Log>> = Vec::new();
            for log in future::join_all(opens).await {
                logs.push(Arc::new(log?));
            }
            Ok(logs)
        }
        .boxed()
    }

    fn delete(&self, name: &str) -> BoxFuture<'static, HostResult<()>> {
        let deleted = self.bridge.delete_topic(&self.full_name(name));
        async move {
            match check(deleted.await)? {
                Reply::Done => Ok(()),
                other => Err(unexpected(other)),
            }
        }
        .boxed()
    }
}
