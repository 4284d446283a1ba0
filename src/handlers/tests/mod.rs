//! Handlers over the in-memory host: a request in, the response out, the error cases Kafka
//! clients rely on, for every API in the table. (The compat suite drives the same handlers with
//! real clients and sockets.) This file holds the helpers and the data path; the others hold the
//! APIs by group.

mod admin;
mod configs;
mod group_apis;
mod offsets;
mod sasl_exchange;
mod transactions;

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{CreateTopicsRequest, FetchRequest, ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;

use super::{fetch, produce, sasl, topics, RequestContext};
use crate::broker::Broker;
use crate::config::Config;
use crate::host::embedded::users::ConfiguredUsers;
use crate::host::memory::MemoryHost;

pub(super) async fn broker() -> Arc<Broker> {
    broker_on("PLAINTEXT://127.0.0.1:0", ConfiguredUsers::new(Default::default(), Default::default())).await
}

/// A broker on a listener of `listener`'s scheme whose authenticator knows `users`.
pub(super) async fn broker_on(listener: &str, users: ConfiguredUsers) -> Arc<Broker> {
    broker_with(listener, users, |_| {}).await
}

/// A broker as [`broker_on`] makes it, with settings changed by `adjust`.
pub(super) async fn broker_with(
    listener: &str,
    users: ConfiguredUsers,
    adjust: impl FnOnce(&mut Config),
) -> Arc<Broker> {
    let config = config(listener, adjust);
    let host = MemoryHost::new(&config);
    broker_over(config, host, users).await
}

/// The settings of [`broker_with`].
pub(super) fn config(listener: &str, adjust: impl FnOnce(&mut Config)) -> Config {
    let mut config = Config {
        kafka_listeners: listener.into(),
        sasl_allowed_mechanisms: "PLAIN,OAUTHBEARER".into(),
        offsets_topic_num_partitions: 1,
        max_partitions_per_topic: 16,
        // A lone member's first rebalance completes at once, not after three seconds.
        group_initial_rebalance_delay_ms: 0,
        ..Config::default()
    };
    adjust(&mut config);
    config
}

/// A broker over `host`: a second one over the same host is the first one restarted, as far as
/// what it reads back is concerned.
pub(super) async fn broker_over(config: Config, host: Arc<MemoryHost>, users: ConfiguredUsers) -> Arc<Broker> {
    Broker::open(config, host, Arc::new(users)).await.expect("a broker over the memory host")
}

pub(super) fn ctx(version: i16) -> RequestContext {
    RequestContext {
        version,
        client_id: Some("handler-tests".into()),
        client_host: "/127.0.0.1".into(),
        session: Arc::new(sasl::Session::new(false)),
    }
}

pub(super) fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

pub(super) fn batch(values: &[&str]) -> Bytes {
    let records: Vec<_> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut r = crate::protocol::batch::fixtures::record(i as i64, 1_700_000_000_000 + i as i64);
            r.value = Some(Bytes::from(v.to_string()));
            r
        })
        .collect();
    crate::protocol::batch::fixtures::encode(&records, Compression::Lz4)
}

pub(super) async fn create(broker: &Arc<Broker>, topic: &str, partitions: i32) -> i16 {
    create_replicated(broker, topic, partitions, 1).await
}

pub(super) async fn create_replicated(broker: &Arc<Broker>, topic: &str, partitions: i32, factor: i16) -> i16 {
    let req = CreateTopicsRequest::default().with_timeout_ms(1000).with_topics(vec![CreatableTopic::default()
        .with_name(name(topic))
        .with_num_partitions(partitions)
        .with_replication_factor(factor)]);
    let resp = topics::create(broker, &ctx(7), req).await.await.expect("a response");
    resp.topics[0].error_code
}

/// (error, base offset) of producing `records` to partition 0 of `topic`.
pub(super) async fn produce_to(broker: &Arc<Broker>, topic: &str, acks: i16, records: Bytes) -> (i16, i64) {
    let req = ProduceRequest::default().with_acks(acks).with_timeout_ms(1000).with_topic_data(vec![
        TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default().with_index(0).with_records(Some(records))]),
    ]);
    let resp = produce::handle(broker.transactions(), &ctx(8), req).await.await.expect("acks != 0 gets a response");
    let p = &resp.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

/// (error, high watermark, record bytes) of fetching partition 0 of `topic` from `offset`.
pub(super) async fn fetch_from(broker: &Arc<Broker>, topic: &str, offset: i64) -> (i16, i64, usize) {
    let req = FetchRequest::default().with_max_wait_ms(0).with_min_bytes(1).with_max_bytes(1 << 20).with_topics(vec![
        FetchTopic::default().with_topic(name(topic)).with_partitions(vec![FetchPartition::default()
            .with_partition(0)
            .with_fetch_offset(offset)
            .with_partition_max_bytes(1 << 20)]),
    ]);
    let resp = fetch::handle(broker.topics(), &ctx(11), req).await.await.expect("a response");
    let p = &resp.responses[0].partitions[0];
    (p.error_code, p.high_watermark, p.records.as_ref().map_or(0, Bytes::len))
}

#[tokio::test]
async fn create_topics_answers_each_kafka_error() {
    let broker = broker().await;
    assert_eq!(create(&broker, "orders", 3).await, 0);
    assert_eq!(create(&broker, "orders", 3).await, ResponseError::TopicAlreadyExists.code());
    assert_eq!(create(&broker, "bad name!", 1).await, ResponseError::InvalidTopicException.code());
    assert_eq!(create(&broker, "none", 0).await, ResponseError::InvalidPartitions.code());
    assert_eq!(create(&broker, "huge", i32::MAX).await, ResponseError::PolicyViolation.code());
    assert!(broker.topics().get("huge").is_none(), "nothing was created for a refused request");
}

#[tokio::test]
async fn replication_factors_are_those_the_host_can_keep() {
    let invalid = ResponseError::InvalidReplicationFactor.code();
    let one_copy = broker().await;
    for (factor, error) in [(-1, 0), (1, 0), (3, invalid), (0, invalid), (-2, invalid)] {
        assert_eq!(create_replicated(&one_copy, &format!("f{}", factor + 2), 1, factor).await, error, "{factor}");
    }
    // Over Pulsar the bookies keep the copies: a Kafka application's factor of 3 is taken.
    let config = Config {
        kafka_listeners: "PLAINTEXT://127.0.0.1:0".into(),
        offsets_topic_num_partitions: 1,
        kafka_txn_log_topic_num_partitions: 1,
        ..Config::default()
    };
    let fake = Arc::new(crate::host::pulsar::FakeBroker::default());
    let host = Arc::new(crate::host::pulsar::PulsarHost::new(fake, &config).expect("host"));
    let users = Arc::new(ConfiguredUsers::new(Default::default(), Default::default()));
    let bookies = Broker::open(config, host, users).await.expect("a broker over the fake Pulsar broker");
    for (factor, error) in [(3, 0), (1, 0), (0, invalid)] {
        assert_eq!(create_replicated(&bookies, &format!("f{}", factor + 2), 1, factor).await, error, "{factor}");
    }
}

#[tokio::test]
async fn produce_then_fetch_round_trips_and_refuses_bad_input() {
    let broker = broker().await;
    assert_eq!(create(&broker, "events", 1).await, 0);
    assert_eq!(produce_to(&broker, "events", -1, batch(&["a", "b"])).await, (0, 0));
    assert_eq!(produce_to(&broker, "events", 1, batch(&["c"])).await, (0, 2));
    let (error, high_watermark, bytes) = fetch_from(&broker, "events", 0).await;
    assert_eq!((error, high_watermark), (0, 3));
    assert!(bytes > 0, "records come back");
    assert_eq!(fetch_from(&broker, "events", 99).await.0, ResponseError::OffsetOutOfRange.code());

    let refused = [
        ("events", 5, batch(&["x"]), ResponseError::InvalidRequiredAcks),
        ("missing", -1, batch(&["x"]), ResponseError::UnknownTopicOrPartition),
        ("__consumer_offsets", -1, batch(&["x"]), ResponseError::InvalidTopicException),
        ("events", -1, Bytes::from_static(b"not a batch"), ResponseError::InvalidRecord),
        ("events", -1, Bytes::new(), ResponseError::InvalidRecord),
    ];
    for (topic, acks, records, error) in refused {
        assert_eq!(produce_to(&broker, topic, acks, records).await, (error.code(), -1), "{topic} acks={acks}");
    }
    assert_eq!(fetch_from(&broker, "events", 0).await.1, 3, "nothing refused was stored");
}

#[tokio::test]
async fn a_long_poll_wakes_on_an_append_to_any_partition_it_waits_on_and_no_other() {
    let broker = broker().await;
    for topic in ["first", "second", "elsewhere"] {
        assert_eq!(create(&broker, topic, 1).await, 0);
    }
    let poll = |wait_ms: i32| {
        let req =
            FetchRequest::default().with_max_wait_ms(wait_ms).with_min_bytes(1).with_max_bytes(1 << 20).with_topics(
                ["first", "second"]
                    .map(|t| {
                        FetchTopic::default().with_topic(name(t)).with_partitions(vec![FetchPartition::default()
                            .with_partition(0)
                            .with_fetch_offset(0)
                            .with_partition_max_bytes(1 << 20)])
                    })
                    .to_vec(),
            );
        let broker = Arc::clone(&broker);
        tokio::spawn(async move { fetch::handle(broker.topics(), &ctx(11), req).await.await.expect("a response") })
    };

    let started = tokio::time::Instant::now();
    let waiting = poll(300);
    assert_eq!(produce_to(&broker, "elsewhere", -1, batch(&["not for it"])).await.0, 0);
    let empty = waiting.await.expect("the fetch task");
    assert!(started.elapsed() >= std::time::Duration::from_millis(290), "an append elsewhere ended the wait");
    assert!(empty.responses.iter().all(|t| t.partitions[0].records.as_ref().is_none_or(Bytes::is_empty)));

    let started = tokio::time::Instant::now();
    let waiting = poll(30_000);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(produce_to(&broker, "second", -1, batch(&["wake up"])).await.0, 0);
    let woken = waiting.await.expect("the fetch task");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "the append to the second partition woke it");
    let second = woken.responses.iter().find(|t| t.topic.0.as_str() == "second").expect("second is answered");
    assert!(second.partitions[0].records.as_ref().is_some_and(|r| !r.is_empty()));
}
