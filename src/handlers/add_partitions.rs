//! AddPartitionsToTxn in both its forms: the producer's (v0-v3: one transaction, its partitions
//! join it) and the brokers' (v4+: a batch of transactions, each either joined or, with
//! `verify_only`, only checked, as a Kafka 3.6+ partition leader checks a transactional batch
//! before appending it).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, TransactionalId};
use kafka_protocol::protocol::VersionRange;

use super::transactions::{coordinator, fenced_as};
use super::{ready, Pending, RequestContext};
use crate::broker::Transactions;

/// Versions served: v0-v3 from producers, v4-v5 from brokers.
pub const VERSIONS: VersionRange = VersionRange { min: 0, max: 5 };

/// The first version of the brokers' batched form.
const BATCHED_VERSION: i16 = 4;

/// The first version whose callers know TRANSACTION_ABORTABLE (KIP-890); older ones read a
/// failed verification as INVALID_TXN_STATE, which they also abort on.
const ABORTABLE_VERSION: i16 = 5;

/// One transaction's partitions, as either form names them.
struct Ask {
    transactional_id: TransactionalId,
    producer_id: i64,
    epoch: i16,
    verify_only: bool,
    topics: Vec<AddPartitionsToTxnTopic>,
}

/// Adds partitions to transactions, or verifies they are in them.
pub async fn handle(
    txns: &Transactions,
    ctx: &RequestContext,
    req: AddPartitionsToTxnRequest,
) -> Pending<AddPartitionsToTxnResponse> {
    let version = ctx.version;
    if version < BATCHED_VERSION {
        let ask = Ask {
            transactional_id: req.v3_and_below_transactional_id,
            producer_id: req.v3_and_below_producer_id.0,
            epoch: req.v3_and_below_producer_epoch,
            verify_only: false,
            topics: req.v3_and_below_topics,
        };
        let results = answer(txns, version, ask).await;
        return ready(AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results));
    }
    // The batched form is the brokers' own (CLUSTER_ACTION in Kafka), as WriteTxnMarkers is.
    if !ctx.session.acts_for_brokers() {
        return ready(
            AddPartitionsToTxnResponse::default().with_error_code(ResponseError::ClusterAuthorizationFailed.code()),
        );
    }
    let mut results = Vec::with_capacity(req.transactions.len());
    for t in req.transactions {
        let id = t.transactional_id.clone();
        let ask = Ask {
            transactional_id: t.transactional_id,
            producer_id: t.producer_id.0,
            epoch: t.producer_epoch,
            verify_only: t.verify_only,
            topics: t.topics,
        };
        let topic_results = answer(txns, version, ask).await;
        results.push(AddPartitionsToTxnResult::default().with_transactional_id(id).with_topic_results(topic_results));
    }
    ready(AddPartitionsToTxnResponse::default().with_results_by_transaction(results))
}

/// Each partition's error for one transaction. A partition of no topic fails with
/// UNKNOWN_TOPIC_OR_PARTITION, and then the others with OPERATION_NOT_ATTEMPTED, as in Kafka.
async fn answer(txns: &Transactions, version: i16, ask: Ask) -> Vec<AddPartitionsToTxnTopicResult> {
    let mut partitions: Vec<(String, i32)> = Vec::new();
    let mut unknown: Vec<bool> = Vec::new();
    for topic in &ask.topics {
        let known = txns.topics().resolve(&topic.name).await;
        for &p in &topic.partitions {
            let missing =
                known.as_ref().and_then(|t| t.partition(p)).is_none() || crate::names::is_internal(&topic.name);
            unknown.push(missing);
            partitions.push((topic.name.to_string(), p));
        }
    }
    let errors: Vec<Option<ResponseError>> = if unknown.iter().any(|&u| u) {
        let error =
            |u: bool| if u { ResponseError::UnknownTopicOrPartition } else { ResponseError::OperationNotAttempted };
        unknown.iter().map(|&u| Some(error(u))).collect()
    } else {
        let everywhere = |e: ResponseError| vec![Some(fenced_as(version, 2, e)); partitions.len()];
        let id = &ask.transactional_id;
        match coordinator(txns) {
            Err(e) => everywhere(e),
            Ok(c) if ask.verify_only => match c.verify(id, ask.producer_id, ask.epoch, &partitions) {
                Ok(joined) => joined.into_iter().map(|j| (!j).then(|| not_in_transaction(version))).collect(),
                Err(e) => everywhere(e),
            },
            Ok(c) => match c.add_partitions(id, ask.producer_id, ask.epoch, partitions.clone()).await {
                Ok(()) => vec![None; partitions.len()],
                Err(e) => everywhere(e),
            },
        }
    };
    let mut errors = errors.into_iter();
    ask.topics
        .into_iter()
        .map(|topic| {
            let results = topic
                .partitions
                .iter()
                .map(|&p| {
                    let error = errors.next().flatten();
                    AddPartitionsToTxnPartitionResult::default()
                        .with_partition_index(p)
                        .with_partition_error_code(error.map_or(0, |e| e.code()))
                })
                .collect();
            AddPartitionsToTxnTopicResult::default().with_name(topic.name).with_results_by_partition(results)
        })
        .collect()
}

fn not_in_transaction(version: i16) -> ResponseError {
    if version >= ABORTABLE_VERSION {
        ResponseError::TransactionAbortable
    } else {
        ResponseError::InvalidTxnState
    }
}
