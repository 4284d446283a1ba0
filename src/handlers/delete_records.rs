//! DeleteRecords: moves partitions' log start offsets forward, as the admin clients'
//! `delete_records` asks.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_records_response::{DeleteRecordsPartitionResult, DeleteRecordsTopicResult};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
use kafka_protocol::protocol::VersionRange;

use super::{ready, Pending, RequestContext};
use crate::partition::TopicRegistry;

/// Versions served.
pub const VERSIONS: VersionRange = VersionRange { min: 0, max: 2 };

/// Deletes, per partition, the records below the requested offset; partitions of a topic whose
/// `cleanup.policy` does not include `delete` are refused (POLICY_VIOLATION), as Kafka refuses them.
pub async fn handle(
    registry: &Arc<TopicRegistry>,
    _ctx: &RequestContext,
    req: DeleteRecordsRequest,
) -> Pending<DeleteRecordsResponse> {
    let mut topics = Vec::with_capacity(req.topics.len());
    for wanted in req.topics {
        let topic = registry.resolve(&wanted.name).await;
        let mut partitions = Vec::with_capacity(wanted.partitions.len());
        for p in wanted.partitions {
            let outcome = match topic.as_deref().and_then(|t| t.partition(p.partition_index).map(|part| (t, part))) {
                None => Err(ResponseError::UnknownTopicOrPartition),
                Some((t, _)) if !t.config.deletes => Err(ResponseError::PolicyViolation),
                Some((_, partition)) => partition.delete_records(p.offset).await,
            };
            let result = DeleteRecordsPartitionResult::default().with_partition_index(p.partition_index);
            partitions.push(match outcome {
                Ok(low_watermark) => result.with_low_watermark(low_watermark),
                Err(e) => result.with_low_watermark(-1).with_error_code(e.code()),
            });
        }
        topics.push(DeleteRecordsTopicResult::default().with_name(wanted.name).with_partitions(partitions));
    }
    ready(DeleteRecordsResponse::default().with_topics(topics))
}
