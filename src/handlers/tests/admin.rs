//! Topics and partitions: Metadata, ApiVersions, DeleteTopics, CreatePartitions, DeleteRecords,
//! ListOffsets, OffsetForLeaderEpoch and InitProducerId.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_partitions_request::{CreatePartitionsAssignment, CreatePartitionsTopic};
use kafka_protocol::messages::delete_records_request::{DeleteRecordsPartition, DeleteRecordsTopic};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_for_leader_epoch_request::{OffsetForLeaderPartition, OffsetForLeaderTopic};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, BrokerId, CreatePartitionsRequest, DeleteRecordsRequest, DeleteTopicsRequest,
    InitProducerIdRequest, ListOffsetsRequest, MetadataRequest, OffsetForLeaderEpochRequest, ProducerId,
};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use crate::config::Config;

use super::super::{api_versions, delete_records, list_offsets, metadata, producer_id, supported_apis, topics};
use super::{batch, broker, create, ctx, fetch_from, name, produce_to};

#[tokio::test]
async fn metadata_names_this_broker_as_leader_and_creates_topics_only_when_allowed() {
    let broker = broker().await;
    assert_eq!(create(&broker, "orders", 2).await, 0);
    let ask = |topic: &str, auto: bool| {
        MetadataRequest::default()
            .with_topics(Some(vec![MetadataRequestTopic::default().with_name(Some(name(topic)))]))
            .with_allow_auto_topic_creation(auto)
    };
    let resp = metadata::handle(&broker, &ctx(12), ask("orders", false)).await.await.unwrap();
    assert_eq!(resp.brokers.len(), 1);
    assert_eq!((resp.brokers[0].port, resp.controller_id), (0, BrokerId(broker.node_id())));
    let t = &resp.topics[0];
    assert_eq!((t.error_code, t.partitions.len(), t.topic_id), (0, 2, broker.topics().get("orders").unwrap().meta.id));
    assert!(t.partitions.iter().all(|p| p.leader_id == BrokerId(broker.node_id()) && p.error_code == 0));

    let missing = metadata::handle(&broker, &ctx(12), ask("fresh", false)).await.await.unwrap();
    assert_eq!(missing.topics[0].error_code, ResponseError::UnknownTopicOrPartition.code());
    let created = metadata::handle(&broker, &ctx(12), ask("fresh", true)).await.await.unwrap();
    assert_eq!((created.topics[0].error_code, created.topics[0].partitions.len()), (0, 1), "auto-created");
    let bad = metadata::handle(&broker, &ctx(12), ask("no such/name", true)).await.await.unwrap();
    assert_eq!(bad.topics[0].error_code, ResponseError::InvalidTopicException.code());

    let by_id = MetadataRequest::default()
        .with_topics(Some(vec![MetadataRequestTopic::default().with_name(None).with_topic_id(Uuid::from_u128(7))]));
    let unknown = metadata::handle(&broker, &ctx(12), by_id).await.await.unwrap();
    assert_eq!(unknown.topics[0].error_code, ResponseError::UnknownTopicId.code());

    let all = metadata::handle(&broker, &ctx(12), MetadataRequest::default().with_topics(None)).await.await.unwrap();
    let mut names: Vec<(&str, bool)> =
        all.topics.iter().filter_map(|t| t.name.as_ref().map(|n| (n.0.as_str(), t.is_internal))).collect();
    names.sort();
    assert_eq!(
        names,
        [("__consumer_offsets", true), ("__transaction_state", true), ("fresh", false), ("orders", false)],
        "as Kafka lists them"
    );
}

#[tokio::test]
async fn api_versions_answers_the_table() {
    let config = Config::default();
    let resp = api_versions::handle(&config, &ctx(3), ApiVersionsRequest::default()).await.await.unwrap();
    assert_eq!(resp.error_code, 0);
    assert_eq!(resp.api_keys.len(), supported_apis().len());
    let produce = resp.api_keys.iter().find(|k| k.api_key == ApiKey::Produce as i16).expect("Produce is served");
    assert_eq!((produce.min_version, produce.max_version), (3, 12));
    // A version beyond ours is answered by the server before any handler runs (at v0, with
    // UNSUPPORTED_VERSION); what it sends is this table.
    let refusal = api_versions::response(ResponseError::UnsupportedVersion.code());
    assert_eq!(refusal.api_keys, resp.api_keys, "the table comes along, so the client can pick a version");
}

#[tokio::test]
async fn transactions_version_2_is_announced_where_clients_read_it() {
    let asking = |name: &str, version: &str| {
        ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_string(name.to_string()))
            .with_client_software_version(StrBytes::from_string(version.to_string()))
    };
    let level = |config: &Config, version: i16, req: ApiVersionsRequest| {
        let config = config.clone();
        async move {
            let resp = api_versions::handle(&config, &ctx(version), req).await.await.unwrap();
            let finalized: Vec<_> =
                resp.finalized_features.iter().map(|f| (f.name.to_string(), f.max_version_level)).collect();
            assert_eq!(finalized.is_empty(), resp.finalized_features_epoch < 0, "an epoch comes with features");
            finalized
        }
    };
    let on = Config::default();
    let java = || asking("apache-kafka-java", "4.4.0");
    assert_eq!(level(&on, 4, java()).await, vec![("transaction.version".to_string(), 2)]);
    assert!(level(&on, 2, java()).await.is_empty(), "no tagged fields before v3");
    assert!(level(&on, 3, asking("librdkafka", "2.0.2")).await.is_empty(), "librdkafka < 2.2 misreads them");
    let one = Config { kafka_transaction_version: 1, ..Config::default() };
    assert_eq!(level(&one, 4, java()).await, vec![("transaction.version".to_string(), 1)]);
    let off = Config { kafka_transaction_coordinator_enabled: false, ..Config::default() };
    assert!(level(&off, 4, java()).await.is_empty(), "no transactions, no transaction version");
}

#[tokio::test]
async fn delete_topics_by_name_and_by_id() {
    let broker = broker().await;
    assert_eq!(create(&broker, "a", 1).await, 0);
    assert_eq!(create(&broker, "b", 1).await, 0);
    let id_of_b = broker.topics().get("b").unwrap().meta.id;
    let req = DeleteTopicsRequest::default().with_topics(vec![
        DeleteTopicState::default().with_name(Some(name("a"))),
        DeleteTopicState::default().with_topic_id(id_of_b),
        DeleteTopicState::default().with_name(Some(name("missing"))),
        DeleteTopicState::default().with_topic_id(Uuid::from_u128(1)),
    ]);
    let resp = topics::delete(&broker, &ctx(6), req).await.await.unwrap();
    let codes: Vec<i16> = resp.responses.iter().map(|r| r.error_code).collect();
    assert_eq!(codes, [0, 0, ResponseError::UnknownTopicOrPartition.code(), ResponseError::UnknownTopicId.code()]);
    assert_eq!(resp.responses[1].name.as_ref().map(|n| n.0.as_str()), Some("b"), "an id is answered with its name");
    assert!(broker.topics().get("a").is_none() && broker.topics().get("b").is_none());
    assert_eq!(produce_to(&broker, "a", -1, batch(&["x"])).await.0, ResponseError::UnknownTopicOrPartition.code());
    assert_eq!(create(&broker, "a", 1).await, 0, "a deleted topic can be created anew");
    assert_eq!(fetch_from(&broker, "a", 0).await.1, 0, "with none of the old records");
}

#[tokio::test]
async fn create_partitions_grows_topics_within_the_rules() {
    let broker = broker().await;
    assert_eq!(create(&broker, "grow", 1).await, 0);
    let grow = |topic: &str, count: i32, validate_only: bool| {
        CreatePartitionsRequest::default()
            .with_validate_only(validate_only)
            .with_topics(vec![CreatePartitionsTopic::default().with_name(name(topic)).with_count(count)])
    };
    let code = |resp: kafka_protocol::messages::CreatePartitionsResponse| resp.results[0].error_code;
    let run = |req| {
        let broker = broker.clone();
        async move { topics::create_partitions(&broker, &ctx(3), req).await.await.unwrap() }
    };
    assert_eq!(code(run(grow("grow", 3, true)).await), 0);
    assert_eq!(broker.topics().get("grow").unwrap().partitions.len(), 1, "validate_only changes nothing");
    assert_eq!(code(run(grow("grow", 3, false)).await), 0);
    assert_eq!(broker.topics().get("grow").unwrap().partitions.len(), 3);
    assert_eq!(code(run(grow("grow", 2, false)).await), ResponseError::InvalidPartitions.code(), "no shrinking");
    assert_eq!(code(run(grow("grow", 17, false)).await), ResponseError::PolicyViolation.code(), "over the cap");
    assert_eq!(code(run(grow("missing", 2, false)).await), ResponseError::UnknownTopicOrPartition.code());
    let elsewhere = CreatePartitionsRequest::default().with_topics(vec![CreatePartitionsTopic::default()
        .with_name(name("grow"))
        .with_count(4)
        .with_assignments(Some(vec![CreatePartitionsAssignment::default().with_broker_ids(vec![BrokerId(42)])]))]);
    assert_eq!(code(run(elsewhere).await), ResponseError::InvalidReplicaAssignment.code());
}

#[tokio::test]
async fn delete_records_moves_the_log_start_and_fetch_follows() {
    let broker = broker().await;
    assert_eq!(create(&broker, "trim", 1).await, 0);
    for values in [&["a", "b"][..], &["c"], &["d", "e"]] {
        assert_eq!(produce_to(&broker, "trim", -1, batch(values)).await.0, 0);
    }
    let delete = |offset: i64, partition: i32| {
        DeleteRecordsRequest::default().with_topics(vec![DeleteRecordsTopic::default()
            .with_name(name("trim"))
            .with_partitions(vec![DeleteRecordsPartition::default()
                .with_partition_index(partition)
                .with_offset(offset)])])
    };
    let run = |req| {
        let broker = broker.clone();
        async move {
            let resp = delete_records::handle(broker.topics(), &ctx(2), req).await.await.unwrap();
            let p = &resp.topics[0].partitions[0];
            (p.error_code, p.low_watermark)
        }
    };
    assert_eq!(run(delete(3, 0)).await, (0, 3));
    assert_eq!(fetch_from(&broker, "trim", 1).await.0, ResponseError::OffsetOutOfRange.code());
    assert_eq!(run(delete(1, 0)).await, (0, 3), "the start never moves back");
    assert_eq!(run(delete(-1, 0)).await, (0, 5), "-1 means the high watermark");
    assert_eq!(run(delete(99, 0)).await.0, ResponseError::OffsetOutOfRange.code());
    assert_eq!(run(delete(1, 7)).await.0, ResponseError::UnknownTopicOrPartition.code());
}

#[tokio::test]
async fn list_offsets_answers_each_kind_of_query() {
    let broker = broker().await;
    assert_eq!(create(&broker, "times", 1).await, 0);
    assert_eq!(produce_to(&broker, "times", -1, batch(&["a", "b", "c"])).await.0, 0);
    let query = |topic: &str, partition: i32, timestamp: i64| {
        ListOffsetsRequest::default().with_topics(vec![ListOffsetsTopic::default()
            .with_name(name(topic))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(partition)
                .with_timestamp(timestamp)])])
    };
    let run = |req| {
        let broker = broker.clone();
        async move {
            let resp = list_offsets::handle(broker.topics(), &ctx(7), req).await.await.unwrap();
            let p = &resp.topics[0].partitions[0];
            (p.error_code, p.offset, p.timestamp)
        }
    };
    // The fixture's records carry timestamps 1_700_000_000_000 + offset.
    assert_eq!(run(query("times", 0, -1)).await, (0, 3, -1), "latest");
    assert_eq!(run(query("times", 0, -2)).await, (0, 0, -1), "earliest");
    assert_eq!(run(query("times", 0, -3)).await, (0, 2, 1_700_000_000_002), "the max timestamp");
    assert_eq!(run(query("times", 0, 1_700_000_000_001)).await, (0, 1, 1_700_000_000_001), "by time");
    assert_eq!(run(query("times", 0, 1_800_000_000_000)).await, (0, -1, -1), "after every record");
    assert_eq!(run(query("times", 0, -9)).await.0, ResponseError::InvalidRequest.code());
    assert_eq!(run(query("times", 3, -1)).await.0, ResponseError::UnknownTopicOrPartition.code());
    assert_eq!(run(query("missing", 0, -1)).await.0, ResponseError::UnknownTopicOrPartition.code());
}

#[tokio::test]
async fn offset_for_leader_epoch_knows_only_epoch_zero() {
    let broker = broker().await;
    assert_eq!(create(&broker, "epochs", 1).await, 0);
    assert_eq!(produce_to(&broker, "epochs", -1, batch(&["a", "b"])).await.0, 0);
    let ask = |partition: i32, leader_epoch: i32, current: i32| {
        OffsetForLeaderEpochRequest::default().with_topics(vec![OffsetForLeaderTopic::default()
            .with_topic(name("epochs"))
            .with_partitions(vec![OffsetForLeaderPartition::default()
                .with_partition(partition)
                .with_leader_epoch(leader_epoch)
                .with_current_leader_epoch(current)])])
    };
    let run = |req| {
        let broker = broker.clone();
        async move {
            let resp = list_offsets::leader_epoch(broker.topics(), &ctx(4), req).await.await.unwrap();
            let p = &resp.topics[0].partitions[0];
            (p.error_code, p.leader_epoch, p.end_offset)
        }
    };
    assert_eq!(run(ask(0, 0, 0)).await, (0, 0, 2));
    assert_eq!(run(ask(0, 3, 0)).await, (0, -1, -1), "a later epoch is unknown");
    assert_eq!(run(ask(0, 0, 5)).await.0, ResponseError::UnknownLeaderEpoch.code());
    assert_eq!(run(ask(4, 0, 0)).await.0, ResponseError::UnknownTopicOrPartition.code());
}

#[tokio::test]
async fn init_producer_id_hands_out_ids_and_bumps_epochs() {
    let broker = broker().await;
    let run = |req| {
        let broker = broker.clone();
        async move { producer_id::handle(broker.transactions(), &ctx(4), req).await.await.unwrap() }
    };
    let first = run(InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1))
    .await;
    let second = run(InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1))
    .await;
    assert_eq!((first.error_code, first.producer_epoch), (0, 0));
    assert_ne!(first.producer_id, second.producer_id, "each producer gets its own id");
    let bumped = run(InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_producer_id(first.producer_id)
        .with_producer_epoch(0))
    .await;
    assert_eq!((bumped.producer_id, bumped.producer_epoch), (first.producer_id, 1), "KIP-360: same id, next epoch");
    let exhausted = run(InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_producer_id(first.producer_id)
        .with_producer_epoch(i16::MAX - 1))
    .await;
    assert_ne!(exhausted.producer_id, first.producer_id, "an exhausted epoch gets a new id");
}
