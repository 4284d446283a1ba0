//! Metadata: brokers, topics and partition leaders, creating topics on demand.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::{StrBytes, VersionRange};
use uuid::Uuid;

use super::{ready, Pending, RequestContext};
use crate::broker::Broker;
use crate::config::Endpoint;
use crate::host::host_error;
use crate::host::{HostError, Owner};
use crate::names::valid_topic_name;
use crate::partition::Topic;

/// Versions served.
pub const VERSIONS: VersionRange = VersionRange { min: 0, max: 12 };

/// Answers with the requested topics (all when the list is null, or empty at v0).
pub async fn handle(broker: &Arc<Broker>, ctx: &RequestContext, req: MetadataRequest) -> Pending<MetadataResponse> {
    let auto_create = broker.config().allow_auto_topic_creation && (ctx.version < 4 || req.allow_auto_topic_creation);
    broker.discover_peers().await;
    let mut brokers = Brokers::new(broker);
    let mut topics = Vec::new();
    match req.topics {
        Some(list) if !(list.is_empty() && ctx.version == 0) => {
            for wanted in list {
                topics.push(match wanted.name {
                    Some(name) => by_name(broker, &name, auto_create, ctx.version, &mut brokers).await,
                    None => match broker.topics().get_by_id(&wanted.topic_id) {
                        Some(topic) => describe(broker, &topic, ctx.version, &mut brokers).await,
                        None => MetadataResponseTopic::default()
                            .with_topic_id(wanted.topic_id)
                            .with_error_code(ResponseError::UnknownTopicId.code()),
                    },
                });
            }
        }
        _ => {
            if let Err(e) = broker.topics().refresh().await {
                tracing::warn!(error = %e, "cannot list the host's topics; answering with the known ones");
            }
            for topic in broker.topics().all() {
                topics.push(describe(broker, &topic, ctx.version, &mut brokers).await);
            }
        }
    }
    let node = broker.node_id();
    let mut response = MetadataResponse::default().with_brokers(brokers.into_response()).with_topics(topics);
    if ctx.version >= 1 {
        response.controller_id = BrokerId(node);
    }
    if ctx.version >= 2 {
        response.cluster_id = Some(StrBytes::from_string(broker.config().cluster_id.clone()));
    }
    ready(response)
}

/// The brokers a Metadata answer names: this one, every other broker lookups have named
/// lately (clients take the list as the whole cluster), and every owner of a partition in it.
pub struct Brokers(BTreeMap<i32, Endpoint>);

impl Brokers {
    /// This broker and its known peers.
    pub fn new(broker: &Broker) -> Self {
        let mut all: BTreeMap<i32, Endpoint> = broker.peers().live().into_iter().collect();
        all.insert(broker.node_id(), broker.advertised().clone());
        Brokers(all)
    }

    /// The node id of `owner`, remembering its address.
    pub fn node_of(&mut self, broker: &Broker, owner: &Owner) -> i32 {
        match owner {
            Owner::Local => broker.node_id(),
            Owner::Remote(endpoint) => {
                let id = endpoint.node_id();
                self.0.insert(id, endpoint.clone());
                id
            }
        }
    }

    fn into_response(self) -> Vec<MetadataResponseBroker> {
        self.0
            .into_iter()
            .map(|(id, endpoint)| {
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(id))
                    .with_host(StrBytes::from_string(endpoint.host))
                    .with_port(i32::from(endpoint.port))
            })
            .collect()
    }
}

async fn by_name(
    broker: &Broker,
    name: &str,
    auto_create: bool,
    version: i16,
    brokers: &mut Brokers,
) -> MetadataResponseTopic {
    let failed = |e: ResponseError| {
        MetadataResponseTopic::default()
            .with_name(Some(TopicName(StrBytes::from_string(name.to_string()))))
            .with_error_code(e.code())
    };
    if !valid_topic_name(name) {
        return failed(ResponseError::InvalidTopicException);
    }
    match broker.topics().find(name).await {
        Ok(Some(topic)) => return describe(broker, &topic, version, brokers).await,
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(topic = name, error = %e, "topic lookup failed");
            return failed(host_error(&e));
        }
    }
    if !auto_create {
        return failed(ResponseError::UnknownTopicOrPartition);
    }
    match broker.topics().get_or_create(name, broker.config().default_num_partitions, Default::default()).await {
        Ok(topic) => describe(broker, &topic, version, brokers).await,
        Err(HostError::Invalid(_)) => failed(ResponseError::InvalidTopicException),
        Err(e) => {
            tracing::warn!(topic = name, error = %e, "auto-create failed");
            failed(host_error(&e))
        }
    }
}

/// One topic as Metadata reports it at `version`: each partition led by its owner, epoch 0.
async fn describe(broker: &Broker, topic: &Topic, version: i16, brokers: &mut Brokers) -> MetadataResponseTopic {
    let owners =
        future::join_all(topic.partitions.iter().map(|p| broker.owner(&topic.meta.name, p.index as u32))).await;
    let partitions = topic
        .partitions
        .iter()
        .zip(owners)
        .map(|(p, owner)| {
            let base = MetadataResponsePartition::default()
                .with_partition_index(p.index)
                .with_leader_epoch(if version >= 7 { 0 } else { -1 });
            match owner {
                Ok(owner) => {
                    let node = BrokerId(brokers.node_of(broker, &owner));
                    base.with_leader_id(node).with_replica_nodes(vec![node]).with_isr_nodes(vec![node])
                }
                Err(e) => {
                    tracing::debug!(topic = %topic.meta.name, partition = p.index, error = %e, "no owner");
                    base.with_leader_id(BrokerId(-1)).with_error_code(ResponseError::LeaderNotAvailable.code())
                }
            }
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(topic.meta.name.clone()))))
        .with_topic_id(if version >= 10 { topic.meta.id } else { Uuid::nil() })
        .with_is_internal(version >= 1 && topic.meta.name.starts_with("__"))
        .with_partitions(partitions)
}
