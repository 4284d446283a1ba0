//! The requests of transactions version 2's implicit joins when the transaction's coordinator is
//! another broker: the client forms of AddPartitionsToTxn and AddOffsetsToTxn, which any broker
//! serves on any listener, and how their answers become one outcome.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, GroupId,
    ProducerId, TopicName, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;

use super::peer_link::LinkError;

/// The AddPartitionsToTxn version sent: the newest of the producer's own form.
pub const ADD_PARTITIONS_VERSION: i16 = 3;
/// The AddOffsetsToTxn version sent.
pub const ADD_OFFSETS_VERSION: i16 = 3;

/// AddPartitionsToTxn asking that `partitions` join the producer's transaction.
pub fn partitions_request(
    transactional_id: &str,
    producer_id: i64,
    epoch: i16,
    partitions: &[(String, i32)],
) -> AddPartitionsToTxnRequest {
    let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
    for (topic, partition) in partitions {
        match topics.iter_mut().find(|t| t.name.as_str() == topic) {
            Some(t) => t.partitions.push(*partition),
            None => topics.push(
                AddPartitionsToTxnTopic::default()
                    .with_name(TopicName(StrBytes::from_string(topic.clone())))
                    .with_partitions(vec![*partition]),
            ),
        }
    }
    AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(TransactionalId(StrBytes::from_string(transactional_id.to_string())))
        .with_v3_and_below_producer_id(ProducerId(producer_id))
        .with_v3_and_below_producer_epoch(epoch)
        .with_v3_and_below_topics(topics)
}

/// AddOffsetsToTxn asking that `group_id`'s offsets join the producer's transaction.
pub fn offsets_request(transactional_id: &str, producer_id: i64, epoch: i16, group_id: &str) -> AddOffsetsToTxnRequest {
    AddOffsetsToTxnRequest::default()
        .with_transactional_id(TransactionalId(StrBytes::from_string(transactional_id.to_string())))
        .with_producer_id(ProducerId(producer_id))
        .with_producer_epoch(epoch)
        .with_group_id(GroupId(StrBytes::from_string(group_id.to_string())))
}

/// The first error the coordinator gave any partition; a coordinator that could not be reached
/// is COORDINATOR_NOT_AVAILABLE, which the caller's client retries.
pub fn partitions_outcome(response: Result<AddPartitionsToTxnResponse, LinkError>) -> Result<(), ResponseError> {
    let response = unreachable_as_retriable(response)?;
    let codes = response.results_by_topic_v3_and_below.iter().flat_map(|t| &t.results_by_partition);
    match codes.map(|p| p.partition_error_code).find(|&c| c != 0) {
        Some(code) => Err(ResponseError::try_from_code(code).unwrap_or(ResponseError::UnknownServerError)),
        None => Ok(()),
    }
}

/// The coordinator's answer to AddOffsetsToTxn.
pub fn offsets_outcome(response: Result<AddOffsetsToTxnResponse, LinkError>) -> Result<(), ResponseError> {
    match ResponseError::try_from_code(unreachable_as_retriable(response)?.error_code) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn unreachable_as_retriable<T>(response: Result<T, LinkError>) -> Result<T, ResponseError> {
    response.map_err(|e| {
        tracing::warn!(error = %e, "transaction coordinator not reached for an implicit join");
        ResponseError::CoordinatorNotAvailable
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::add_partitions_to_txn_response::{
        AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
    };

    #[test]
    fn partitions_are_grouped_by_topic_in_the_producers_form() {
        let asked = [("b".to_string(), 1), ("a".to_string(), 0), ("b".to_string(), 2)];
        let req = partitions_request("tx", 7, 3, &asked);
        assert_eq!(req.v3_and_below_transactional_id.as_str(), "tx");
        assert_eq!((req.v3_and_below_producer_id.0, req.v3_and_below_producer_epoch), (7, 3));
        let topics: Vec<(&str, &[i32])> =
            req.v3_and_below_topics.iter().map(|t| (t.name.as_str(), t.partitions.as_slice())).collect();
        assert_eq!(topics, vec![("b", &[1, 2][..]), ("a", &[0][..])]);
    }

    #[test]
    fn any_partitions_error_fails_the_join() {
        let result = |p: i32, code: i16| {
            AddPartitionsToTxnPartitionResult::default().with_partition_index(p).with_partition_error_code(code)
        };
        let answer = |codes: &[i16]| {
            let results = codes.iter().enumerate().map(|(p, &c)| result(p as i32, c)).collect();
            Ok(AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(vec![
                AddPartitionsToTxnTopicResult::default().with_results_by_partition(results),
            ]))
        };
        assert_eq!(partitions_outcome(answer(&[0, 0])), Ok(()));
        let fenced = ResponseError::ProducerFenced.code();
        assert_eq!(partitions_outcome(answer(&[0, fenced])), Err(ResponseError::ProducerFenced));
        let gone = Err(LinkError::Timeout("peer".into()));
        assert_eq!(partitions_outcome(gone), Err(ResponseError::CoordinatorNotAvailable));
    }
}
