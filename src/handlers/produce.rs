//! Produce: validate each partition's batch, append it, answer when the appends complete.

use std::sync::Arc;

use futures::future::BoxFuture;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::produce_request::PartitionProduceData;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::{StrBytes, VersionRange};

use super::{Pending, RequestContext};
use crate::partition::{Topic, TopicRegistry};
use crate::protocol::batch;

/// Versions served (v13 addresses topics by id only).
pub const VERSIONS: VersionRange = VersionRange { min: 3, max: 12 };

enum Outcome {
    Done(PartitionProduceResponse),
    Appending { index: i32, start_offset: i64, pending: BoxFuture<'static, Result<i64, ResponseError>> },
}

/// Issues every append in request order, then waits for them in the returned future.
pub async fn handle(
    registry: &Arc<TopicRegistry>,
    ctx: &RequestContext,
    req: ProduceRequest,
) -> Pending<ProduceResponse> {
    let acks = req.acks;
    let version = ctx.version;
    let acks_valid = matches!(acks, -1..=1);
    let mut topics = Vec::with_capacity(req.topic_data.len());
    for topic_data in req.topic_data {
        let topic = registry.resolve(&topic_data.name).await;
        let mut outcomes = Vec::with_capacity(topic_data.partition_data.len());
        for data in topic_data.partition_data {
            if !acks_valid {
                outcomes.push(Outcome::Done(failed(version, data.index, ResponseError::InvalidRequiredAcks, None)));
                continue;
            }
            if crate::names::is_internal(&topic_data.name) {
                // The coordinators' own logs: only they write there, as in Kafka.
                let message = format!("Cannot append to internal topic {}", topic_data.name.as_str());
                outcomes.push(Outcome::Done(failed(
                    version,
                    data.index,
                    ResponseError::InvalidTopicException,
                    Some(message),
                )));
                continue;
            }
            if let Some(partition) = topic.as_deref().and_then(|t| t.partition(data.index)) {
                if let Err(e) = partition.ready().await {
                    outcomes.push(Outcome::Done(failed(version, data.index, e, None)));
                    continue;
                }
            }
            outcomes.push(append(version, topic.as_deref(), &topic_data.name, data));
        }
        topics.push((topic_data.name, outcomes));
    }
    Box::pin(async move {
        let mut responses = Vec::with_capacity(topics.len());
        for (name, outcomes) in topics {
            let mut partitions = Vec::with_capacity(outcomes.len());
            for outcome in outcomes {
                partitions.push(match outcome {
                    Outcome::Done(resp) => resp,
                    Outcome::Appending { index, start_offset, pending } => match pending.await {
                        Ok(base_offset) => PartitionProduceResponse::default()
                            .with_index(index)
                            .with_base_offset(base_offset)
                            .with_log_append_time_ms(-1)
                            .with_log_start_offset(if version >= 5 { start_offset } else { -1 }),
                        Err(e) => failed(version, index, e, None),
                    },
                });
            }
            responses.push(TopicProduceResponse::default().with_name(name).with_partition_responses(partitions));
        }
        (acks != 0).then(|| ProduceResponse::default().with_responses(responses))
    })
}

fn append(version: i16, topic: Option<&Topic>, name: &str, data: PartitionProduceData) -> Outcome {
    let index = data.index;
    let (Some(topic), Some(partition)) = (topic, topic.and_then(|t| t.partition(index))) else {
        return Outcome::Done(failed(version, index, ResponseError::UnknownTopicOrPartition, None));
    };
    let records = data.records.unwrap_or_default();
    let checked = batch::validate(&records, topic.config.max_message_bytes);
    if let (Ok(_), true) = (&checked, topic.config.compacted) {
        match batch::keyless_records(&records, topic.config.max_message_bytes) {
            Ok(keyless) if keyless.is_empty() => {}
            Ok(keyless) => return Outcome::Done(keyless_rejected(version, index, name, &keyless)),
            Err(e) => return Outcome::Done(failed(version, index, e.response_error(), Some(e.to_string()))),
        }
    }
    match checked {
        Err(e) => Outcome::Done(failed(version, index, e.response_error(), Some(e.to_string()))),
        Ok(info) => Outcome::Appending {
            index,
            start_offset: partition.start_offset(),
            pending: partition.append(records, &info),
        },
    }
}

/// A batch refused because a compacted topic got records without a key, naming each such record
/// (from v8; clients fail the batch's other records as collateral).
fn keyless_rejected(version: i16, index: i32, topic: &str, keyless: &[i32]) -> PartitionProduceResponse {
    let reason = format!("Compacted topic cannot accept message without key in topic partition {topic}-{index}.");
    let message =
        format!("One or more records have been rejected due to {} record errors in total: {reason}", keyless.len());
    let mut response = failed(version, index, ResponseError::InvalidRecord, Some(message));
    if version >= 8 {
        response.record_errors = keyless
            .iter()
            .map(|&i| {
                BatchIndexAndErrorMessage::default()
                    .with_batch_index(i)
                    .with_batch_index_error_message(Some(StrBytes::from_string(reason.clone())))
            })
            .collect();
    }
    response
}

/// A failed partition; the error message exists from v8.
fn failed(version: i16, index: i32, error: ResponseError, message: Option<String>) -> PartitionProduceResponse {
    PartitionProduceResponse::default()
        .with_index(index)
        .with_error_code(error.code())
        .with_base_offset(-1)
        .with_log_append_time_ms(-1)
        .with_log_start_offset(-1)
        .with_error_message(message.filter(|_| version >= 8).map(StrBytes::from_string))
}
