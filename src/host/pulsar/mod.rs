//! The Pulsar host: Kafka topics as partitioned Pulsar topics, each partition's data in its
//! ManagedLedger, reached through the broker's calls ([`BrokerCalls`]: the Java shim in a real
//! broker).
//!
//! Kafka topic `foo` is `persistent://<kafkaTenant>/<kafkaNamespace>/foo`, partition N is
//! `...foo-partition-N`. Internal topics (`__consumer_offsets`) live in
//! `<kafkaMetadataTenant>/<kafkaMetadataNamespace>`, as KoP keeps them. One Kafka batch is one entry; its offsets come from the broker entry
//! metadata index that Pulsar's `AppendIndexMetadataInterceptor` assigns.

mod auth;
pub mod calls;
#[cfg(test)]
mod fake;
mod log;
mod read_ahead;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::{self, BoxFuture, FutureExt};
use uuid::Uuid;

use crate::config::{Config, ConfigError, Endpoint};
use crate::host::{HostError, HostResult, Log, OpenTopic, Owner, TopicMeta, TopicSpec, TopicStore};
use crate::topic_config::TopicConfig;
pub use auth::TokenAuthenticator;
use calls::{BrokerCalls, Failure, ListedTopic, Reply};
#[cfg(test)]
pub use fake::FakeBroker;
pub use log::PulsarLog;

/// The reply as an error, or `Ok(reply)` when it is not a failure.
pub(crate) fn check(reply: Reply) -> HostResult<Reply> {
    match reply {
        Reply::Failed(failure, message) => Err(match failure {
            Failure::NotOwner => HostError::NotOwner(message),
            Failure::UnknownTopic => HostError::UnknownTopic(message),
            Failure::TopicExists => HostError::TopicExists(message),
            Failure::Invalid => HostError::Invalid(message),
            Failure::TooLarge => HostError::TooLarge(message),
            Failure::Terminated => HostError::Terminated(message),
            Failure::Storage => HostError::Storage(std::io::Error::other(message)),
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
    bridge: Arc<dyn BrokerCalls>,
    namespace: String,
    metadata_namespace: String,
    defaults: TopicConfig,
    advertised: Endpoint,
    listener_name: Option<String>,
}

impl PulsarHost {
    /// A host over the broker's calls for the namespace the config names.
    pub fn new(bridge: Arc<dyn BrokerCalls>, config: &Config) -> Result<Self, ConfigError> {
        Ok(PulsarHost {
            bridge,
            namespace: format!("{}/{}", config.kafka_tenant, config.kafka_namespace),
            metadata_namespace: format!("{}/{}", config.kafka_metadata_tenant, config.kafka_metadata_namespace),
            defaults: TopicConfig::defaults(config),
            advertised: config.advertised()?,
            listener_name: config.kafka_listener_name.clone(),
        })
    }

    /// Checks Kafka clients' tokens through the same broker.
    pub fn authenticator(&self) -> TokenAuthenticator {
        TokenAuthenticator::new(Arc::clone(&self.bridge))
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

    /// The topic with its partition logs, none of them loaded yet: each loads on first use, on
    /// the broker that owns it.
    fn open_topic(&self, name: String, partitions: u32, configs: BTreeMap<String, String>) -> OpenTopic {
        let full = self.full_name(&name);
        let logs = (0..partitions).map(|p| self.partition_log(&full, p)).collect();
        let id = Uuid::new_v5(&Uuid::NAMESPACE_URL, full.as_bytes());
        OpenTopic { meta: TopicMeta { name, id, partitions, configs }, logs }
    }

    fn partition_log(&self, full: &str, partition: u32) -> Arc<dyn Log> {
        Arc::new(PulsarLog::new(Arc::clone(&self.bridge), format!("{full}-partition-{partition}")))
    }

    /// A listed topic as a Kafka topic of ours, or `None` when it is not one.
    fn adopt(&self, listed: ListedTopic) -> Option<OpenTopic> {
        let name = listed.name.rsplit_once('/').map(|(_, n)| n)?;
        if self.full_name(name) != listed.name {
            return None; // an internal name in the Kafka namespace, or the reverse: not ours
        }
        if !crate::names::valid_topic_name(name) || listed.partitions <= 0 {
            return None;
        }
        // Properties that are not Kafka topic configs belong to Pulsar users; leave them.
        let configs = listed.configs.into_iter().filter(|(k, _)| TopicConfig::is_known(k)).collect();
        Some(self.open_topic(name.to_string(), listed.partitions as u32, configs))
    }

    /// The Kafka address of the broker at `url`, as a lookup returned it.
    fn endpoint_of(&self, url: &str) -> HostResult<Endpoint> {
        let bad = || HostError::Invalid(format!("the broker lookup returned '{url}', not a pulsar:// address"));
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        let (host, port) = rest.trim_end_matches('/').rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        // With a listener name the lookup answers the owner's Kafka listener itself; without one
        // it answers the owner's Pulsar address, and brokers are taken to share a Kafka port.
        let port = if self.listener_name.is_some() { port } else { self.advertised.port };
        Ok(Endpoint { host: host.to_string(), port })
    }
}

impl PulsarHost {
    /// The namespaces Kafka topics and internal topics live in.
    fn namespaces(&self) -> Vec<String> {
        let mut namespaces = vec![self.namespace.clone()];
        if self.metadata_namespace != self.namespace {
            namespaces.push(self.metadata_namespace.clone());
        }
        namespaces
    }

    /// Every Kafka topic of ours in the namespaces, as the broker lists them now.
    fn list(&self) -> BoxFuture<'static, HostResult<Vec<OpenTopic>>> {
        let this = self.clone();
        async move {
            let mut all = Vec::new();
            for ns in this.namespaces() {
                match check(this.bridge.list_topics(&ns).await)? {
                    Reply::Topics(listed) => all.extend(listed),
                    other => return Err(unexpected(other)),
                }
            }
            Ok(all.into_iter().filter_map(|listed| this.adopt(listed)).collect())
        }
        .boxed()
    }
}

impl TopicStore for PulsarHost {
    fn replicates(&self) -> bool {
        true
    }

    /// Creates the namespaces first when missing (a new cluster, or Pulsar standalone's first
    /// start), then lists them.
    fn load(&self) -> BoxFuture<'static, HostResult<Vec<OpenTopic>>> {
        let this = self.clone();
        async move {
            for ns in this.namespaces() {
                check(this.bridge.ensure_namespace(&ns).await)?;
            }
            this.list().await
        }
        .boxed()
    }

    fn refresh(&self) -> BoxFuture<'static, HostResult<Option<Vec<OpenTopic>>>> {
        self.list().map(|listed| listed.map(Some)).boxed()
    }

    fn find(&self, name: &str) -> BoxFuture<'static, HostResult<Option<OpenTopic>>> {
        let described = self.bridge.describe_topic(&self.full_name(name));
        let this = self.clone();
        async move {
            match check(described.await) {
                Ok(Reply::Topics(listed)) => Ok(listed.into_iter().next().and_then(|t| this.adopt(t))),
                Ok(other) => Err(unexpected(other)),
                Err(HostError::UnknownTopic(_)) => Ok(None),
                Err(e) => Err(e),
            }
        }
        .boxed()
    }

    fn owner(&self, name: &str, partition: u32) -> BoxFuture<'static, HostResult<Owner>> {
        let looked_up = self.bridge.lookup(&format!("{}-partition-{partition}", self.full_name(name)));
        let this = self.clone();
        async move {
            match check(looked_up.await)? {
                Reply::Owner { local: true, .. } => Ok(Owner::Local),
                Reply::Owner { url, .. } => {
                    let endpoint = this.endpoint_of(&url)?;
                    Ok(if endpoint == this.advertised { Owner::Local } else { Owner::Remote(endpoint) })
                }
                other => Err(unexpected(other)),
            }
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
                Reply::Done => Ok(this.open_topic(spec.name, spec.partitions, spec.configs)),
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
        let logs: Vec<Arc<dyn Log>> = (current..count).map(|p| self.partition_log(&full, p)).collect();
        async move {
            match check(updated.await)? {
                Reply::Done => Ok(logs),
                other => Err(unexpected(other)),
            }
        }
        .boxed()
    }

    fn alter_configs(&self, name: &str, configs: BTreeMap<String, String>) -> BoxFuture<'static, HostResult<()>> {
        if let Err(e) = TopicConfig::resolve(self.defaults, &configs) {
            return future::ready(Err(HostError::InvalidConfig(e.0))).boxed();
        }
        let full = self.full_name(name);
        let described = self.bridge.describe_topic(&full);
        let bridge = Arc::clone(&self.bridge);
        async move {
            let current = match check(described.await)? {
                Reply::Topics(listed) => listed.into_iter().next().map(|t| t.configs).unwrap_or_default(),
                other => return Err(unexpected(other)),
            };
            // Only Kafka configs are ours to remove; other properties belong to Pulsar users.
            let removed: Vec<String> =
                current.into_keys().filter(|k| TopicConfig::is_known(k) && !configs.contains_key(k)).collect();
            match check(bridge.alter_topic_configs(&full, &configs, &removed).await)? {
                Reply::Done => Ok(()),
                other => Err(unexpected(other)),
            }
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
