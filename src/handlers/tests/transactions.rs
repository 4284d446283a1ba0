//! The transactional producer's APIs and the admin's view of transactions, and what a
//! read_committed fetch then sees.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::describe_producers_request::TopicRequest as DescribeTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, DescribeProducersRequest, DescribeTransactionsRequest,
    EndTxnRequest, FetchRequest, GroupId, InitProducerIdRequest, ListTransactionsRequest, ProduceRequest, ProducerId,
    TransactionalId, WriteTxnMarkersRequest,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;

use super::{broker, create, ctx, name};
use crate::broker::Broker;
use crate::handlers::{add_partitions, fetch, produce, producer_id, producers, sasl, transactions, txn_markers};

fn tid(s: &str) -> TransactionalId {
    TransactionalId(StrBytes::from_string(s.to_string()))
}

/// (error, producer id, epoch) of InitProducerId for `id`, retried while the coordinator loads.
async fn init(broker: &Arc<Broker>, id: &str, timeout_ms: i32) -> (i16, i64, i16) {
    for _ in 0..100 {
        let req = InitProducerIdRequest::default()
            .with_transactional_id(Some(tid(id)))
            .with_transaction_timeout_ms(timeout_ms)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
        let resp = producer_id::handle(broker.transactions(), &ctx(4), req).await.await.unwrap();
        if resp.error_code != ResponseError::CoordinatorLoadInProgress.code() {
            return (resp.error_code, resp.producer_id.0, resp.producer_epoch);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the transaction coordinator never loaded");
}

async fn add(broker: &Arc<Broker>, id: &str, pid: i64, epoch: i16, topic: &str) -> i16 {
    let req = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(tid(id))
        .with_v3_and_below_producer_id(ProducerId(pid))
        .with_v3_and_below_producer_epoch(epoch)
        .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
            .with_name(name(topic))
            .with_partitions(vec![0])]);
    let resp = add_partitions::handle(broker.transactions(), &ctx(3), req).await.await.unwrap();
    resp.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code
}

async fn end(broker: &Arc<Broker>, id: &str, pid: i64, epoch: i16, commit: bool) -> i16 {
    let req = EndTxnRequest::default()
        .with_transactional_id(tid(id))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_committed(commit);
    transactions::end_txn(broker.transactions(), &ctx(3), req).await.await.unwrap().error_code
}

/// A transactional batch of `values` from `pid` at `epoch`, sequences from `first`.
fn txn_batch(pid: i64, epoch: i16, first: i32, values: &[&str]) -> Bytes {
    let records: Vec<_> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut r = crate::protocol::batch::fixtures::record(i as i64, 1_700_000_000_000);
            (r.producer_id, r.producer_epoch, r.sequence, r.transactional) = (pid, epoch, first + i as i32, true);
            r.value = Some(Bytes::from(v.to_string()));
            r
        })
        .collect();
    crate::protocol::batch::fixtures::encode(&records, Compression::None)
}

async fn produce(broker: &Arc<Broker>, topic: &str, records: Bytes) -> i16 {
    let req =
        ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(1000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(name(topic))
                .with_partition_data(vec![PartitionProduceData::default().with_index(0).with_records(Some(records))])]);
    let resp = produce::handle(broker.transactions(), &ctx(8), req).await.await.unwrap();
    resp.responses[0].partition_responses[0].error_code
}

/// (last stable offset, aborted producer ids, batches) of a fetch from 0 at `isolation`.
async fn fetch_at(broker: &Arc<Broker>, topic: &str, isolation: i8) -> (i64, Vec<i64>, usize) {
    let req = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_isolation_level(isolation)
        .with_topics(vec![FetchTopic::default().with_topic(name(topic)).with_partitions(vec![
            FetchPartition::default().with_partition(0).with_fetch_offset(0).with_partition_max_bytes(1 << 20),
        ])]);
    let resp = fetch::handle(broker.topics(), &ctx(11), req).await.await.unwrap();
    let p = &resp.responses[0].partitions[0];
    let aborted = p.aborted_transactions.iter().flatten().map(|a| a.producer_id.0).collect();
    let batches = p.records.as_deref().map_or(0, |r| crate::protocol::batch::split(r).count());
    (p.last_stable_offset, aborted, batches)
}

#[tokio::test]
async fn a_transaction_commits_another_aborts_and_read_committed_sees_the_difference() {
    let broker = broker().await;
    assert_eq!(create(&broker, "ledger", 1).await, 0);
    let (error, pid, epoch) = init(&broker, "tx-a", 60_000).await;
    assert_eq!((error, epoch), (0, 0));

    assert_eq!(add(&broker, "tx-a", pid, epoch, "ledger").await, 0);
    assert_eq!(produce(&broker, "ledger", txn_batch(pid, epoch, 0, &["c1", "c2"])).await, 0);
    assert_eq!(fetch_at(&broker, "ledger", 1).await, (0, vec![], 0), "nothing stable while it is open");
    assert_eq!(end(&broker, "tx-a", pid, epoch, true).await, 0);
    assert_eq!(end(&broker, "tx-a", pid, epoch, true).await, 0, "a retried commit is answered again");
    assert_eq!(fetch_at(&broker, "ledger", 1).await, (3, vec![], 2), "the data and its marker");

    assert_eq!(add(&broker, "tx-a", pid, epoch, "ledger").await, 0);
    assert_eq!(produce(&broker, "ledger", txn_batch(pid, epoch, 2, &["a1"])).await, 0);
    assert_eq!(end(&broker, "tx-a", pid, epoch, false).await, 0);
    assert_eq!(fetch_at(&broker, "ledger", 1).await, (5, vec![pid], 4), "the abort is reported");
    assert_eq!(fetch_at(&broker, "ledger", 0).await.1, Vec::<i64>::new(), "read_uncommitted gets no list");
    assert_eq!(end(&broker, "tx-a", pid, epoch, true).await, ResponseError::InvalidTxnState.code());
}

#[tokio::test]
async fn a_new_producer_fences_the_old_one_and_aborts_its_transaction() {
    let broker = broker().await;
    assert_eq!(create(&broker, "ledger", 1).await, 0);
    let (_, pid, old) = init(&broker, "tx-f", 60_000).await;
    assert_eq!(add(&broker, "tx-f", pid, old, "ledger").await, 0);
    assert_eq!(produce(&broker, "ledger", txn_batch(pid, old, 0, &["x"])).await, 0);
    let (error, same_pid, new) = init(&broker, "tx-f", 60_000).await;
    assert_eq!((error, same_pid, new), (0, pid, old + 1));
    assert_eq!(fetch_at(&broker, "ledger", 1).await, (2, vec![pid], 2), "the open transaction was aborted");
    assert_eq!(end(&broker, "tx-f", pid, old, true).await, ResponseError::ProducerFenced.code());
    assert_eq!(add(&broker, "tx-f", pid, old, "ledger").await, ResponseError::ProducerFenced.code());
    assert_eq!(
        produce(&broker, "ledger", txn_batch(pid, old, 1, &["late"])).await,
        ResponseError::InvalidProducerEpoch.code(),
        "the partition refuses the fenced epoch too"
    );
    let v1 = EndTxnRequest::default()
        .with_transactional_id(tid("tx-f"))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(old)
        .with_committed(true);
    let resp = transactions::end_txn(broker.transactions(), &ctx(1), v1).await.await.unwrap();
    assert_eq!(resp.error_code, ResponseError::InvalidProducerEpoch.code(), "old clients read the old code");
}

/// Produce v12 (transactions version 2) from transactional producer `id`: its batch joins the
/// transaction on the way in.
async fn produce_v2(broker: &Arc<Broker>, id: &str, topic: &str, records: Bytes) -> i16 {
    let req = ProduceRequest::default()
        .with_transactional_id(Some(tid(id)))
        .with_acks(-1)
        .with_timeout_ms(1000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default().with_index(0).with_records(Some(records))])]);
    let resp = produce::handle(broker.transactions(), &ctx(12), req).await.await.unwrap();
    resp.responses[0].partition_responses[0].error_code
}

/// EndTxn v5: (error, producer id, epoch) to go on with.
async fn end_v2(broker: &Arc<Broker>, id: &str, pid: i64, epoch: i16, commit: bool) -> (i16, i64, i16) {
    let req = EndTxnRequest::default()
        .with_transactional_id(tid(id))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_committed(commit);
    let resp = transactions::end_txn(broker.transactions(), &ctx(5), req).await.await.unwrap();
    (resp.error_code, resp.producer_id.0, resp.producer_epoch)
}

#[tokio::test]
async fn transactions_version_2_joins_partitions_by_producing_and_moves_the_epoch_at_each_end() {
    let broker = broker().await;
    assert_eq!(create(&broker, "ledger", 1).await, 0);
    let (_, pid, e0) = init(&broker, "tx-2", 60_000).await;

    assert_eq!(produce_v2(&broker, "tx-2", "ledger", txn_batch(pid, e0, 0, &["c1", "c2"])).await, 0, "no add first");
    assert_eq!(produce_v2(&broker, "tx-2", "ledger", txn_batch(pid, e0, 2, &["c3"])).await, 0);
    assert_eq!(fetch_at(&broker, "ledger", 1).await, (0, vec![], 0), "the transaction is open");
    let e1 = e0 + 1;
    assert_eq!(end_v2(&broker, "tx-2", pid, e0, true).await, (0, pid, e1), "the commit hands out the next epoch");
    assert_eq!(end_v2(&broker, "tx-2", pid, e0, true).await, (0, pid, e1), "and so does its retry");
    assert_eq!(fetch_at(&broker, "ledger", 1).await, (4, vec![], 3), "the data and its marker");
    assert_eq!(
        produce_v2(&broker, "tx-2", "ledger", txn_batch(pid, e0, 3, &["zombie"])).await,
        ResponseError::InvalidProducerEpoch.code(),
        "the marker's epoch fences what the producer sent before the end"
    );

    assert_eq!(produce_v2(&broker, "tx-2", "ledger", txn_batch(pid, e1, 0, &["a1"])).await, 0, "sequences restart");
    assert_eq!(end_v2(&broker, "tx-2", pid, e1, false).await, (0, pid, e1 + 1));
    assert_eq!(fetch_at(&broker, "ledger", 1).await, (6, vec![pid], 5), "the abort is reported");
    assert_eq!(end_v2(&broker, "tx-2", pid, e1 + 1, false).await, (0, pid, e1 + 2), "an abort with nothing open");
    assert_eq!(end_v2(&broker, "tx-2", pid, e1 + 2, true).await.0, ResponseError::InvalidTxnState.code());
    let untagged = produce_v2(&broker, "", "ledger", txn_batch(pid, e1 + 2, 0, &["x"])).await;
    assert_eq!(untagged, ResponseError::InvalidRequest.code(), "a transactional batch names its transaction");
}

/// A version-2 end whose answer was lost is retried with the epoch it moved away from; the
/// coordinator that restarted in between reads from its log that the end was that one.
#[tokio::test]
async fn a_retried_version_2_end_is_recognised_after_the_coordinator_restarts() {
    let users = || crate::host::embedded::users::ConfiguredUsers::new(Default::default(), Default::default());
    let config = super::config("PLAINTEXT://127.0.0.1:0", |_| {});
    let host = crate::host::memory::MemoryHost::new(&config);
    let before = super::broker_over(config.clone(), host.clone(), users()).await;
    assert_eq!(create(&before, "ledger", 1).await, 0);
    let (_, pid, e0) = init(&before, "tx-r", 60_000).await;
    assert_eq!(produce_v2(&before, "tx-r", "ledger", txn_batch(pid, e0, 0, &["c1"])).await, 0);
    assert_eq!(end_v2(&before, "tx-r", pid, e0, true).await, (0, pid, e0 + 1));
    drop(before);

    let after = super::broker_over(config, host, users()).await;
    let mut answer = end_v2(&after, "tx-r", pid, e0, true).await;
    for _ in 0..100 {
        if answer.0 != ResponseError::CoordinatorLoadInProgress.code() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        answer = end_v2(&after, "tx-r", pid, e0, true).await;
    }
    assert_eq!(answer, (0, pid, e0 + 1), "the retry is told the commit is done");
    assert_eq!(
        end_v2(&after, "tx-r", pid, e0, false).await.0,
        ResponseError::ProducerFenced.code(),
        "an abort with the old epoch is not that end"
    );
    assert_eq!(end_v2(&after, "tx-r", pid, e0 + 1, false).await, (0, pid, e0 + 2), "the producer goes on");
}

#[tokio::test]
async fn bad_requests_get_kafka_errors() {
    let broker = broker().await;
    assert_eq!(create(&broker, "ledger", 1).await, 0);
    assert_eq!(init(&broker, "tx-b", 3_600_000).await.0, ResponseError::InvalidTransactionTimeout.code());
    let (_, pid, epoch) = init(&broker, "tx-b", 60_000).await;
    assert_eq!(add(&broker, "tx-b", pid + 1, epoch, "ledger").await, ResponseError::InvalidProducerIdMapping.code());
    assert_eq!(add(&broker, "tx-b", pid, epoch, "missing").await, ResponseError::UnknownTopicOrPartition.code());
    assert_eq!(add(&broker, "tx-unknown", pid, epoch, "ledger").await, ResponseError::InvalidProducerIdMapping.code());
    assert_eq!(end(&broker, "tx-b", pid, epoch, true).await, ResponseError::InvalidTxnState.code(), "none open");
    let offsets = AddOffsetsToTxnRequest::default()
        .with_transactional_id(tid("tx-b"))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_group_id(GroupId(StrBytes::from_static_str("")));
    let resp = transactions::add_offsets(broker.transactions(), &ctx(2), offsets).await.await.unwrap();
    assert_eq!(resp.error_code, ResponseError::InvalidGroupId.code());
}

#[tokio::test]
async fn admins_list_and_describe_transactions() {
    let broker = broker().await;
    assert_eq!(create(&broker, "ledger", 1).await, 0);
    let (_, pid, epoch) = init(&broker, "tx-l", 60_000).await;
    assert_eq!(add(&broker, "tx-l", pid, epoch, "ledger").await, 0);
    let listed =
        transactions::list(broker.transactions(), &ctx(1), ListTransactionsRequest::default().with_duration_filter(-1))
            .await
            .await
            .unwrap();
    let states: Vec<_> =
        listed.transaction_states.iter().map(|t| (t.transactional_id.as_str(), t.transaction_state.as_str())).collect();
    assert_eq!(states, [("tx-l", "Ongoing")]);
    let filtered = ListTransactionsRequest::default()
        .with_duration_filter(-1)
        .with_state_filters(vec![StrBytes::from_static_str("CompleteCommit"), StrBytes::from_static_str("Bogus")]);
    let listed = transactions::list(broker.transactions(), &ctx(1), filtered).await.await.unwrap();
    assert!(listed.transaction_states.is_empty());
    assert_eq!(listed.unknown_state_filters, [StrBytes::from_static_str("Bogus")]);

    let req = DescribeTransactionsRequest::default().with_transactional_ids(vec![tid("tx-l"), tid("tx-none")]);
    let described = transactions::describe(broker.transactions(), &ctx(0), req).await.await.unwrap();
    let found = &described.transaction_states[0];
    assert_eq!((found.error_code, found.producer_id.0, found.transaction_state.as_str()), (0, pid, "Ongoing"));
    assert_eq!(found.topics[0].partitions, [0]);
    assert_eq!(described.transaction_states[1].error_code, ResponseError::TransactionalIdNotFound.code());
}

#[tokio::test]
async fn offsets_sent_to_a_transaction_show_only_when_it_commits() {
    use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
    use kafka_protocol::messages::txn_offset_commit_request::{
        TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
    };
    use kafka_protocol::messages::{OffsetFetchRequest, TxnOffsetCommitRequest};

    let broker = broker().await;
    assert_eq!(create(&broker, "input", 1).await, 0);
    let (_, pid, epoch) = init(&broker, "tx-o", 60_000).await;
    let group = GroupId(StrBytes::from_static_str("g-o"));
    let offsets = AddOffsetsToTxnRequest::default()
        .with_transactional_id(tid("tx-o"))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_group_id(group.clone());
    assert_eq!(transactions::add_offsets(broker.transactions(), &ctx(2), offsets).await.await.unwrap().error_code, 0);
    let commit = TxnOffsetCommitRequest::default()
        .with_transactional_id(tid("tx-o"))
        .with_group_id(group.clone())
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_generation_id(-1)
        .with_topics(vec![TxnOffsetCommitRequestTopic::default().with_name(name("input")).with_partitions(vec![
            TxnOffsetCommitRequestPartition::default().with_partition_index(0).with_committed_offset(42),
        ])]);
    let resp = transactions::txn_offset_commit(broker.transactions(), &ctx(3), commit).await.await.unwrap();
    assert_eq!(resp.topics[0].partitions[0].error_code, 0);

    let ask = |stable: bool| {
        OffsetFetchRequest::default().with_group_id(group.clone()).with_require_stable(stable).with_topics(Some(vec![
            OffsetFetchRequestTopic::default().with_name(name("input")).with_partition_indexes(vec![0]),
        ]))
    };
    let fetched = |broker: Arc<Broker>, req: OffsetFetchRequest| async move {
        let resp = crate::handlers::offsets::fetch(broker.groups(), &ctx(7), req).await.await.unwrap();
        let p = &resp.topics[0].partitions[0];
        (p.error_code, p.committed_offset)
    };
    assert_eq!(fetched(broker.clone(), ask(false)).await, (0, -1), "not committed yet");
    assert_eq!(
        fetched(broker.clone(), ask(true)).await,
        (ResponseError::UnstableOffsetCommit.code(), -1),
        "a reader asking for stable offsets waits"
    );
    assert_eq!(end(&broker, "tx-o", pid, epoch, true).await, 0);
    assert_eq!(fetched(broker.clone(), ask(true)).await, (0, 42), "committed with the transaction");
}

/// The error codes a WriteTxnMarkers request from another broker's coordinator gets, by
/// partition, sent over `session`.
async fn write_markers(
    broker: &Arc<Broker>,
    session: Arc<sasl::Session>,
    pid: i64,
    epoch: i16,
    commit: bool,
) -> Vec<i16> {
    use kafka_protocol::messages::write_txn_markers_request::{WritableTxnMarker, WritableTxnMarkerTopic};
    let req = WriteTxnMarkersRequest::default().with_markers(vec![WritableTxnMarker::default()
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_transaction_result(commit)
        .with_topics(vec![
            WritableTxnMarkerTopic::default().with_name(name("ledger")).with_partition_indexes(vec![0, 5]),
            WritableTxnMarkerTopic::default().with_name(name("gone")).with_partition_indexes(vec![0]),
        ])]);
    let ctx = crate::handlers::RequestContext { session, ..ctx(1) };
    let resp = txn_markers::handle(broker.transactions(), &ctx, req).await.await.unwrap();
    assert_eq!(resp.markers[0].producer_id.0, pid);
    resp.markers[0].topics.iter().flat_map(|t| t.partitions.iter().map(|p| p.error_code)).collect()
}

#[tokio::test]
async fn markers_from_another_brokers_coordinator_end_the_transaction_here() {
    let broker = broker().await;
    assert_eq!(create(&broker, "ledger", 1).await, 0);
    // A producer whose coordinator is elsewhere: its transactional batch is all this broker knows.
    let (pid, epoch) = (4242, 3);
    assert_eq!(produce(&broker, "ledger", txn_batch(pid, epoch, 0, &["r1", "r2"])).await, 0);
    assert_eq!(fetch_at(&broker, "ledger", 1).await.0, 0, "open");

    let admins = || vec!["admin".to_string()];
    let refused = ResponseError::ClusterAuthorizationFailed.code();
    let unauthenticated = Arc::new(sasl::Session::new(true).with_super_users(admins()));
    assert_eq!(write_markers(&broker, unauthenticated, pid, epoch, true).await, vec![refused; 3]);
    let client = Arc::new(sasl::Session::authenticated("alice", admins()));
    assert_eq!(write_markers(&broker, client, pid, epoch, true).await, vec![refused; 3], "alice is no broker");
    assert_eq!(fetch_at(&broker, "ledger", 1).await.0, 0, "still open");

    let peer = Arc::new(sasl::Session::authenticated("admin", admins()));
    let unknown = ResponseError::UnknownTopicOrPartition.code();
    assert_eq!(write_markers(&broker, peer, pid, epoch, true).await, vec![0, unknown, unknown], "a super user is");
    assert_eq!(fetch_at(&broker, "ledger", 1).await, (3, vec![], 2), "committed: the data and its marker");
    assert_eq!(
        produce(&broker, "ledger", txn_batch(pid, epoch - 1, 2, &["late"])).await,
        ResponseError::InvalidProducerEpoch.code(),
        "the marker fenced older epochs"
    );
}

/// Each producer of partition 0 of `topic` as (id, epoch, last sequence, open transaction's start).
async fn producers_of(broker: &Arc<Broker>, topic: &str) -> Result<Vec<(i64, i32, i32, i64)>, i16> {
    let req = DescribeProducersRequest::default()
        .with_topics(vec![DescribeTopic::default().with_name(name(topic)).with_partition_indexes(vec![0])]);
    let resp = producers::describe(broker.topics(), &ctx(0), req).await.await.unwrap();
    let p = &resp.topics[0].partitions[0];
    if p.error_code != 0 {
        return Err(p.error_code);
    }
    Ok(p.active_producers
        .iter()
        .map(|s| (s.producer_id.0, s.producer_epoch, s.last_sequence, s.current_txn_start_offset))
        .collect())
}

#[tokio::test]
async fn describe_producers_shows_sequences_and_open_transactions() {
    let broker = broker().await;
    assert_eq!(create(&broker, "described", 1).await, 0);
    assert_eq!(producers_of(&broker, "described").await, Ok(vec![]));
    assert_eq!(producers_of(&broker, "nowhere").await, Err(ResponseError::UnknownTopicOrPartition.code()));

    let (_, pid, epoch) = init(&broker, "tx-described", 60_000).await;
    assert_eq!(add(&broker, "tx-described", pid, epoch, "described").await, 0);
    assert_eq!(produce(&broker, "described", txn_batch(pid, epoch, 0, &["a", "b", "c"])).await, 0);
    assert_eq!(producers_of(&broker, "described").await, Ok(vec![(pid, i32::from(epoch), 2, 0)]));
    let resp = {
        let req = DescribeProducersRequest::default()
            .with_topics(vec![DescribeTopic::default().with_name(name("described")).with_partition_indexes(vec![0])]);
        producers::describe(broker.topics(), &ctx(0), req).await.await.unwrap()
    };
    let state = &resp.topics[0].partitions[0].active_producers[0];
    assert_eq!((state.last_timestamp, state.coordinator_epoch), (1_700_000_000_000, -1));

    assert_eq!(end(&broker, "tx-described", pid, epoch, true).await, 0);
    let after = producers_of(&broker, "described").await.expect("described");
    assert_eq!(after, vec![(pid, i32::from(epoch), 2, -1)], "the commit closed the transaction");
}

/// One transaction of a batched AddPartitionsToTxn: id, producer id, epoch, `verify_only` and
/// its partitions.
type Ask<'a> = (&'a str, i64, i16, bool, &'a [(&'a str, i32)]);

/// A brokers' AddPartitionsToTxn (v4+) at `version` over `session`: the top-level error, then
/// each transaction's partition errors in request order.
async fn batched(
    broker: &Arc<Broker>,
    version: i16,
    session: Arc<sasl::Session>,
    asks: &[Ask<'_>],
) -> (i16, Vec<Vec<i16>>) {
    use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTransaction;
    let transactions = asks
        .iter()
        .map(|&(id, pid, epoch, verify_only, partitions)| {
            let topics = partitions
                .iter()
                .map(|&(topic, p)| AddPartitionsToTxnTopic::default().with_name(name(topic)).with_partitions(vec![p]))
                .collect();
            AddPartitionsToTxnTransaction::default()
                .with_transactional_id(tid(id))
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch)
                .with_verify_only(verify_only)
                .with_topics(topics)
        })
        .collect();
    let req = AddPartitionsToTxnRequest::default().with_transactions(transactions);
    let ctx = crate::handlers::RequestContext { session, ..ctx(version) };
    let resp = add_partitions::handle(broker.transactions(), &ctx, req).await.await.unwrap();
    let errors = resp
        .results_by_transaction
        .iter()
        .map(|t| {
            t.topic_results.iter().flat_map(|r| r.results_by_partition.iter().map(|p| p.partition_error_code)).collect()
        })
        .collect();
    (resp.error_code, errors)
}

#[tokio::test]
async fn brokers_verify_and_add_partitions_in_batches() {
    let broker = broker().await;
    assert_eq!(create(&broker, "ledger", 2).await, 0);
    let (_, pid, epoch) = init(&broker, "tx-v", 60_000).await;
    let (_, other, other_epoch) = init(&broker, "tx-w", 60_000).await;
    assert_eq!(add(&broker, "tx-v", pid, epoch, "ledger").await, 0);
    let open = || Arc::new(sasl::Session::new(false));

    let checked: &[(&str, i32)] = &[("ledger", 0), ("ledger", 1)];
    let abortable = ResponseError::TransactionAbortable.code();
    assert_eq!(
        batched(&broker, 5, open(), &[("tx-v", pid, epoch, true, checked)]).await,
        (0, vec![vec![0, abortable]]),
        "partition 0 joined; partition 1 did not"
    );
    let invalid = ResponseError::InvalidTxnState.code();
    assert_eq!(
        batched(&broker, 4, open(), &[("tx-v", pid, epoch, true, checked)]).await.1,
        vec![vec![0, invalid]],
        "v4 callers know no TRANSACTION_ABORTABLE"
    );
    let fenced = ResponseError::ProducerFenced.code();
    let mapping = ResponseError::InvalidProducerIdMapping.code();
    assert_eq!(
        batched(
            &broker,
            5,
            open(),
            &[
                ("tx-v", pid, epoch + 1, true, checked),
                ("tx-nobody", 1, 0, true, checked),
                ("tx-w", other, other_epoch, false, &[("ledger", 1)]),
            ]
        )
        .await,
        (0, vec![vec![fenced, fenced], vec![mapping, mapping], vec![0]]),
        "each transaction answers on its own, and one without verify_only joins"
    );
    assert_eq!(
        batched(&broker, 5, open(), &[("tx-w", other, other_epoch, true, &[("ledger", 1)])]).await.1,
        vec![vec![0]]
    );
    let unknown = ResponseError::UnknownTopicOrPartition.code();
    let not_attempted = ResponseError::OperationNotAttempted.code();
    assert_eq!(
        batched(&broker, 5, open(), &[("tx-v", pid, epoch, true, &[("ledger", 0), ("gone", 0)])]).await.1,
        vec![vec![not_attempted, unknown]]
    );

    let refused = batched(&broker, 5, Arc::new(sasl::Session::new(true)), &[("tx-v", pid, epoch, true, checked)]).await;
    assert_eq!(refused, (ResponseError::ClusterAuthorizationFailed.code(), vec![]), "not authenticated as a broker");

    assert_eq!(end(&broker, "tx-v", pid, epoch, true).await, 0);
    assert_eq!(
        batched(&broker, 5, open(), &[("tx-v", pid, epoch, true, &[("ledger", 0)])]).await.1,
        vec![vec![abortable]],
        "a committed transaction holds no partitions"
    );
}

#[tokio::test]
async fn an_idle_transactional_id_expires_and_its_next_producer_starts_afresh() {
    let users = crate::host::embedded::users::ConfiguredUsers::new(Default::default(), Default::default());
    let broker = super::broker_with("PLAINTEXT://127.0.0.1:0", users, |c| {
        c.kafka_transactional_id_expiration_ms = 300;
        c.kafka_transactions_remove_expired_transactional_id_cleanup_interval_ms = 100;
    })
    .await;
    assert_eq!(create(&broker, "ledger", 1).await, 0);
    let (_, idle, _) = init(&broker, "tx-idle", 60_000).await;
    let (_, open, epoch) = init(&broker, "tx-open", 60_000).await;
    assert_eq!(add(&broker, "tx-open", open, epoch, "ledger").await, 0);
    let listed = || broker.transactions().coordinator().expect("on").list().into_iter().map(|t| t.transactional_id);
    let mut waited = 0;
    while listed().any(|id| id == "tx-idle") {
        assert!(waited < 50, "the idle id never expired");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    assert_eq!(listed().collect::<Vec<_>>(), vec!["tx-open".to_string()], "an open transaction is kept");
    let (error, again, epoch) = init(&broker, "tx-idle", 60_000).await;
    assert_eq!(error, 0);
    assert!(again != idle && epoch == 0, "a new producer id at epoch 0, not the old one bumped");
}
