//! The transactional producer's APIs: AddOffsetsToTxn, TxnOffsetCommit and
//! EndTxn, and the admin's view of transactions: ListTransactions and DescribeTransactions.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::list_transactions_response::TransactionState as ListedState;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, DescribeTransactionsRequest, DescribeTransactionsResponse,
    EndTxnRequest, EndTxnResponse, ListTransactionsRequest, ListTransactionsResponse, ProducerId, TopicName,
    TransactionalId, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};
use kafka_protocol::protocol::{StrBytes, VersionRange};

use super::{ready, Pending, RequestContext};
use crate::broker::Transactions;
use crate::clock::now_ms;
use crate::group::CommitItem;
use crate::txn::state::TxnState;
use crate::txn::TransactionCoordinator;

/// Versions served.
pub const ADD_OFFSETS_VERSIONS: VersionRange = VersionRange { min: 0, max: 4 };
/// Versions served (v5: transactions version 2, the offsets join the transaction implicitly).
pub const TXN_OFFSET_COMMIT_VERSIONS: VersionRange = VersionRange { min: 0, max: 5 };
/// Versions served (v5: transactions version 2, every end moves the producer's epoch on).
pub const END_TXN_VERSIONS: VersionRange = VersionRange { min: 0, max: 5 };

/// The EndTxn version of transactions version 2 (KIP-890).
const TRANSACTIONS_V2_END: i16 = 5;
/// The TxnOffsetCommit version of transactions version 2: no AddOffsetsToTxn comes before it.
const TRANSACTIONS_V2_OFFSET_COMMIT: i16 = 5;
/// Versions served.
pub const DESCRIBE_VERSIONS: VersionRange = VersionRange { min: 0, max: 0 };
/// Versions served.
pub const LIST_VERSIONS: VersionRange = VersionRange { min: 0, max: 1 };

/// Clients of a version below `since` know no PRODUCER_FENCED and read INVALID_PRODUCER_EPOCH
/// for it, as Kafka answers them.
pub fn fenced_as(version: i16, since: i16, error: ResponseError) -> ResponseError {
    if error == ResponseError::ProducerFenced && version < since {
        ResponseError::InvalidProducerEpoch
    } else {
        error
    }
}

pub(super) fn coordinator(txns: &Transactions) -> Result<&Arc<TransactionCoordinator>, ResponseError> {
    txns.coordinator().ok_or(ResponseError::TransactionalIdAuthorizationFailed)
}

fn code(result: Result<(), ResponseError>) -> i16 {
    result.err().map_or(0, |e| e.code())
}

/// Adds a group's offsets to the producer's transaction.
pub async fn add_offsets(
    txns: &Transactions,
    ctx: &RequestContext,
    req: AddOffsetsToTxnRequest,
) -> Pending<AddOffsetsToTxnResponse> {
    let result = match coordinator(txns) {
        Ok(coordinator) => {
            coordinator.add_offsets(&req.transactional_id, req.producer_id.0, req.producer_epoch, &req.group_id).await
        }
        Err(e) => Err(e),
    };
    ready(AddOffsetsToTxnResponse::default().with_error_code(code(result.map_err(|e| fenced_as(ctx.version, 2, e)))))
}

/// Commits offsets inside the producer's transaction, at the group's coordinator.
pub async fn txn_offset_commit(
    txns: &Transactions,
    ctx: &RequestContext,
    req: TxnOffsetCommitRequest,
) -> Pending<TxnOffsetCommitResponse> {
    let mut items = Vec::new();
    let mut shape: Vec<(TopicName, Vec<i32>)> = Vec::with_capacity(req.topics.len());
    for topic in req.topics {
        let mut indexes = Vec::with_capacity(topic.partitions.len());
        for p in topic.partitions {
            indexes.push(p.partition_index);
            items.push(CommitItem {
                topic: topic.name.to_string(),
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: p.committed_leader_epoch,
                metadata: p.committed_metadata.map(|m| m.to_string()),
            });
        }
        shape.push((topic.name, indexes));
    }
    let groups = Arc::clone(txns.groups());
    let version = ctx.version;
    let joining = (version >= TRANSACTIONS_V2_OFFSET_COMMIT).then(|| coordinator(txns).cloned());
    Box::pin(async move {
        let producer = (req.producer_id.0, req.producer_epoch);
        let instance = req.group_instance_id.as_deref();
        let joined = match joining {
            Some(c) => join_offsets(c, &req.transactional_id, producer, &req.group_id).await,
            None => Ok(()),
        };
        let outcome = match joined {
            Ok(()) => {
                groups.txn_commit(&req.group_id, producer, &req.member_id, instance, req.generation_id, items).await
            }
            Err(e) => Err(e),
        };
        let mut results = match outcome {
            Ok(results) => results.into_iter(),
            Err(e) => {
                let count = shape.iter().map(|(_, ps)| ps.len()).sum();
                vec![Err(fenced_as(version, 3, e)); count].into_iter()
            }
        };
        let topics = shape
            .into_iter()
            .map(|(name, indexes)| {
                let partitions = indexes
                    .into_iter()
                    .map(|p| {
                        let result = results.next().unwrap_or(Err(ResponseError::UnknownServerError));
                        TxnOffsetCommitResponsePartition::default()
                            .with_partition_index(p)
                            .with_error_code(code(result))
                    })
                    .collect();
                TxnOffsetCommitResponseTopic::default().with_name(name).with_partitions(partitions)
            })
            .collect();
        Some(TxnOffsetCommitResponse::default().with_topics(topics))
    })
}

/// Transactions version 2: the group's offsets join the transaction before they are written,
/// with no AddOffsetsToTxn from the producer.
async fn join_offsets(
    coordinator: Result<Arc<TransactionCoordinator>, ResponseError>,
    transactional_id: &str,
    (producer_id, epoch): (i64, i16),
    group_id: &str,
) -> Result<(), ResponseError> {
    let joined = coordinator?.join_offsets(transactional_id, producer_id, epoch, group_id).await;
    joined.map_err(|e| match e {
        // The transaction's coordinator busy or elsewhere for now. NOT_COORDINATOR would send the
        // client looking for the group's coordinator, which is this broker: it retries instead.
        ResponseError::NotCoordinator
        | ResponseError::CoordinatorNotAvailable
        | ResponseError::CoordinatorLoadInProgress
        | ResponseError::ConcurrentTransactions => ResponseError::CoordinatorLoadInProgress,
        other => other,
    })
}

/// Commits or aborts the producer's transaction. From v5 (transactions version 2) the answer
/// names the producer id and epoch to go on with.
pub async fn end_txn(txns: &Transactions, ctx: &RequestContext, req: EndTxnRequest) -> Pending<EndTxnResponse> {
    let coordinator = coordinator(txns).cloned();
    let version = ctx.version;
    Box::pin(async move {
        let version2 = version >= TRANSACTIONS_V2_END;
        let result = match coordinator {
            Ok(c) => c.end(&req.transactional_id, req.producer_id.0, req.producer_epoch, req.committed, version2).await,
            Err(e) => Err(e),
        };
        let response = match result {
            Ok((producer_id, epoch)) if version2 => {
                EndTxnResponse::default().with_producer_id(ProducerId(producer_id)).with_producer_epoch(epoch)
            }
            Ok(_) => EndTxnResponse::default().with_producer_id(ProducerId(-1)).with_producer_epoch(-1),
            Err(e) => EndTxnResponse::default()
                .with_error_code(fenced_as(version, 2, e).code())
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        };
        Some(response)
    })
}

/// The transactions this broker coordinates, filtered as asked.
pub async fn list(
    txns: &Transactions,
    _ctx: &RequestContext,
    req: ListTransactionsRequest,
) -> Pending<ListTransactionsResponse> {
    let unknown: Vec<StrBytes> = req
        .state_filters
        .iter()
        .filter(|s| !TxnState::ALL.iter().any(|state| state.name() == s.as_str()))
        .cloned()
        .collect();
    let now = now_ms();
    let listed = txns.coordinator().map(|t| t.list()).unwrap_or_default();
    let states = listed
        .into_iter()
        .filter(|t| req.state_filters.is_empty() || req.state_filters.iter().any(|s| s.as_str() == t.meta.state.name()))
        .filter(|t| {
            req.producer_id_filters.is_empty() || req.producer_id_filters.contains(&ProducerId(t.meta.producer_id))
        })
        .filter(|t| {
            req.duration_filter < 0 || (t.meta.started_ms >= 0 && now - t.meta.started_ms >= req.duration_filter)
        })
        .map(|t| {
            ListedState::default()
                .with_transactional_id(TransactionalId(StrBytes::from_string(t.transactional_id)))
                .with_producer_id(ProducerId(t.meta.producer_id))
                .with_transaction_state(StrBytes::from_static_str(t.meta.state.name()))
        })
        .collect();
    ready(ListTransactionsResponse::default().with_unknown_state_filters(unknown).with_transaction_states(states))
}

/// Each asked-for transactional id's state, from this broker if it coordinates the id.
pub async fn describe(
    txns: &Transactions,
    _ctx: &RequestContext,
    req: DescribeTransactionsRequest,
) -> Pending<DescribeTransactionsResponse> {
    let states = req
        .transactional_ids
        .into_iter()
        .map(|id| {
            let base = TransactionState::default().with_transactional_id(id.clone()).with_producer_id(ProducerId(-1));
            let found = coordinator(txns).and_then(|c| c.describe(&id));
            match found {
                Ok(Some(meta)) => {
                    let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
                    for (topic, partition) in &meta.partitions {
                        by_topic.entry(topic.clone()).or_default().push(*partition);
                    }
                    let topics = by_topic
                        .into_iter()
                        .map(|(t, ps)| {
                            TopicData::default().with_topic(TopicName(StrBytes::from_string(t))).with_partitions(ps)
                        })
                        .collect();
                    base.with_transaction_state(StrBytes::from_static_str(meta.state.name()))
                        .with_transaction_timeout_ms(meta.timeout_ms)
                        .with_transaction_start_time_ms(meta.started_ms)
                        .with_producer_id(ProducerId(meta.producer_id))
                        .with_producer_epoch(meta.epoch)
                        .with_topics(topics)
                }
                Ok(None) => base.with_error_code(ResponseError::TransactionalIdNotFound.code()),
                Err(e) => base.with_error_code(e.code()),
            }
        })
        .collect();
    ready(DescribeTransactionsResponse::default().with_transaction_states(states))
}
