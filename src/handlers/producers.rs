//! DescribeProducers: the idempotent and transactional producers each partition knows, as
//! `kafka-transactions describe-producers` and the admin clients' `describeProducers` show them.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_producers_response::{PartitionResponse, ProducerState, TopicResponse};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ProducerId};
use kafka_protocol::protocol::VersionRange;

use super::{Pending, RequestContext};
use crate::partition::{ActiveProducer, TopicRegistry};

/// Versions served.
pub const VERSIONS: VersionRange = VersionRange { min: 0, max: 0 };

/// Lists each asked partition's producers. A partition of no topic answers
/// UNKNOWN_TOPIC_OR_PARTITION; one this broker does not serve, NOT_LEADER_OR_FOLLOWER.
pub async fn describe(
    registry: &Arc<TopicRegistry>,
    _ctx: &RequestContext,
    req: DescribeProducersRequest,
) -> Pending<DescribeProducersResponse> {
    let registry = Arc::clone(registry);
    Box::pin(async move {
        let mut topics = Vec::with_capacity(req.topics.len());
        for wanted in req.topics {
            let topic = registry.resolve(&wanted.name).await;
            let mut partitions = Vec::with_capacity(wanted.partition_indexes.len());
            for index in wanted.partition_indexes {
                let found = match topic.as_deref().and_then(|t| t.partition(index)) {
                    None => Err(ResponseError::UnknownTopicOrPartition),
                    Some(partition) => partition.ready().await.map(|()| partition.producers()),
                };
                let response = PartitionResponse::default().with_partition_index(index);
                partitions.push(match found {
                    Ok(producers) => response.with_active_producers(producers.iter().map(state).collect()),
                    Err(e) => response.with_error_code(e.code()),
                });
            }
            topics.push(TopicResponse::default().with_name(wanted.name).with_partitions(partitions));
        }
        Some(DescribeProducersResponse::default().with_topics(topics))
    })
}

fn state(p: &ActiveProducer) -> ProducerState {
    ProducerState::default()
        .with_producer_id(ProducerId(p.producer_id))
        .with_producer_epoch(i32::from(p.epoch))
        .with_last_sequence(p.last_sequence)
        .with_last_timestamp(p.last_timestamp)
        .with_coordinator_epoch(p.coordinator_epoch)
        .with_current_txn_start_offset(p.txn_start_offset.unwrap_or(-1))
}
