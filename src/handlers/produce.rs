//! Produce: validate each partition's batch, append it, answer when the appends complete. From
//! v12 (transactions version 2) a transactional batch's partition joins the producer's
//! transaction here, before the batch is appended, instead of through the producer's own
//! AddPartitionsToTxn.

use futures::future::BoxFuture;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::produce_request::PartitionProduceData;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::{StrBytes, VersionRange};

use super::transactions::coordinator;
use super::{Pending, RequestContext};
use crate::broker::Transactions;
use crate::partition::{Partition, Topic};
use crate::protocol::batch::{self, BatchInfo};

/// Versions served (v13 addresses topics by id only).
pub const VERSIONS: VersionRange = VersionRange { min: 3, max: 12 };

/// The first version whose transactional batches join their transaction implicitly (KIP-890).
const IMPLICIT_JOIN_VERSION: i16 = 12;

enum Outcome {
    Done(PartitionProduceResponse),
    Appending {
        index: i32,
        start_offset: i64,
        /// The time the batch was stamped with on a `LogAppendTime` topic, else -1.
        log_append_time: i64,
        pending: BoxFuture<'static, Result<i64, ResponseError>>,
    },
}

/// Issues every append in request order, then waits for them in the returned future.
pub async fn handle(txns: &Transactions, ctx: &RequestContext, req: ProduceRequest) -> Pending<ProduceResponse> {
    let registry = txns.topics();
    let transactional_id = req.transactional_id.as_ref().map(|id| id.to_string());
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
            let id = transactional_id.as_deref();
            outcomes.push(append(version, txns, id, topic.as_deref(), &topic_data.name, data).await);
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
                    Outcome::Appending { index, start_offset, log_append_time, pending } => match pending.await {
                        Ok(base_offset) => PartitionProduceResponse::default()
                            .with_index(index)
                            .with_base_offset(base_offset)
                            .with_log_append_time_ms(log_append_time)
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

async fn append(
    version: i16,
    txns: &Transactions,
    transactional_id: Option<&str>,
    topic: Option<&Topic>,
    name: &str,
    data: PartitionProduceData,
) -> Outcome {
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
    let mut info = match checked {
        Err(e) => return Outcome::Done(failed(version, index, e.response_error(), Some(e.to_string()))),
        Ok(info) => info,
    };
    let (records, log_append_time) = if topic.config.log_append_time {
        let now = crate::clock::now_ms();
        info.max_timestamp = now;
        (batch::with_log_append_time(&records, now), now)
    } else {
        (records, -1)
    };
    if version >= IMPLICIT_JOIN_VERSION {
        if let Err(e) = join(txns, transactional_id, name, partition, &info).await {
            return Outcome::Done(failed(version, index, e, None));
        }
    }
    let start_offset = partition.start_offset();
    Outcome::Appending { index, start_offset, log_append_time, pending: partition.append(records, &info) }
}

/// Has the partition join the producer's transaction, unless it holds the transaction open
/// already (its first batch here joined it).
async fn join(
    txns: &Transactions,
    transactional_id: Option<&str>,
    topic: &str,
    partition: &Partition,
    info: &BatchInfo,
) -> Result<(), ResponseError> {
    if !info.transactional || partition.in_transaction(info.producer_id, info.producer_epoch) {
        return Ok(());
    }
    let Some(id) = transactional_id else { return Err(ResponseError::InvalidTxnState) };
    let joined = coordinator(txns)?
        .join(id, info.producer_id, info.producer_epoch, vec![(topic.to_string(), partition.index)])
        .await;
    joined.map_err(|e| match e {
        // A coordinator busy or elsewhere for now: the producer retries the batch, as Kafka has it.
        ResponseError::NotCoordinator
        | ResponseError::CoordinatorNotAvailable
        | ResponseError::CoordinatorLoadInProgress
        | ResponseError::ConcurrentTransactions => ResponseError::NotEnoughReplicas,
        ResponseError::ProducerFenced => ResponseError::InvalidProducerEpoch,
        other => other,
    })
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
