//! Metadata: brokers, topics and partition leaders, creating topics on demand.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::{StrBytes, VersionRange};
use uuid::Uuid;

use super::{ready, Pending, RequestContext};
use crate::broker::Broker;
use crate::host::HostError;
use crate::partition::registry::valid_topic_name;
use crate::partition::Topic;
use crate::protocol::errors::host_error;

/// Versions served.
pub const VERSIONS: VersionRange = VersionRange { min: 0, max: 12 };

/// Answers with the requested topics (all when the list is null, or empty at v0).
pub async fn handle(broker: &Arc<Broker>, ctx: &RequestContext, req: MetadataRequest) -> Pending<MetadataResponse> {
    let auto_create = broker.config.allow_auto_topic_creation && (ctx.version < 4 || req.allow_auto_topic_creation);
    let topics = match req.topics {
        None => all_topics(broker, ctx.version),
        Some(list) if list.is_empty() && ctx.version == 0 => all_topics(broker, ctx.version),
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            for wanted in list {
                out.push(match wanted.name {
                    Some(name) => by_name(broker, &name, auto_create, ctx.version).await,
                    None => by_id(broker, wanted.topic_id, ctx.version),
                });
            }
            out
        }
    };
    let node = broker.node_id();
    let mut response = MetadataResponse::default()
        .with_brokers(vec![MetadataResponseBroker::default()
            .with_node_id(BrokerId(node))
            .with_host(StrBytes::from_string(broker.advertised.host.clone()))
            .with_port(i32::from(broker.advertised.port))])
        .with_topics(topics);
    if ctx.version >= 1 {
        response.controller_id = BrokerId(node);
    }
    if ctx.version >= 2 {
        response.cluster_id = Some(StrBytes::from_string(broker.config.cluster_id.clone()));
    }
    ready(response)
}

fn all_topics(broker: &Broker, version: i16) -> Vec<MetadataResponseTopic> {
    broker.topics.all().iter().map(|t| describe(broker, t, version)).collect()
}

async fn by_name(broker: &Broker, name: &str, auto_create: bool, version: i16) -> MetadataResponseTopic {
    let failed = |e: ResponseError| {
        MetadataResponseTopic::default()
            .with_name(Some(TopicName(StrBytes::from_string(name.to_string()))))
            .with_error_code(e.code())
    };
    if !valid_topic_name(name) {
        return failed(ResponseError::InvalidTopicException);
    }
    if let Some(topic) = broker.topics.get(name) {
        return describe(broker, &topic, version);
    }
    if !auto_create {
        return failed(ResponseError::UnknownTopicOrPartition);
    }
    match broker.topics.get_or_create(name, broker.config.default_num_partitions, Default::default()).await {
        Ok(topic) => describe(broker, &topic, version),
        Err(HostError::Invalid(_)) => failed(ResponseError::InvalidTopicException),
        Err(e) => {
            tracing::warn!(topic = name, error = %e, "auto-create failed");
            failed(host_error(&e))
        }
    }
}

fn by_id(broker: &Broker, id: Uuid, version: i16) -> MetadataResponseTopic {
    match broker.topics.get_by_id(&id) {
        Some(topic) => describe(broker, &topic, version),
        None => {
            MetadataResponseTopic::default().with_topic_id(id).with_error_code(ResponseError::UnknownTopicId.code())
        }
    }
}

/// One topic as Metadata reports it at `version`: this broker leads every partition, epoch 0.
fn describe(broker: &Broker, topic: &Topic, version: i16) -> MetadataResponseTopic {
    let node = BrokerId(broker.node_id());
    let partitions = topic
        .partitions
        .iter()
        .map(|p| {
            MetadataResponsePartition::default()
                .with_partition_index(p.index)
                .with_leader_id(node)
                .with_leader_epoch(if version >= 7 { 0 } else { -1 })
                .with_replica_nodes(vec![node])
                .with_isr_nodes(vec![node])
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(topic.meta.name.clone()))))
        .with_topic_id(if version >= 10 { topic.meta.id } else { Uuid::nil() })
        .with_is_internal(version >= 1 && topic.meta.name.starts_with("__"))
        .with_partitions(partitions)
}
