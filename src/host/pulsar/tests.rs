//! The Pulsar host over a fake broker: what it makes of the broker's names, properties, ownership
//! and failures. (The `Log` rules it shares with the other hosts are in `host::conformance`.)

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::executor::block_on;

use super::calls::Failure;
use super::{FakeBroker, PulsarHost, PulsarLog};
use crate::config::{Config, Endpoint};
use crate::host::{AuthError, Authenticator, BatchMeta, HostError, Log, Owner, TopicSpec, TopicStore};

const TOPIC: &str = "persistent://public/default/orders";

fn host_with(config: Config) -> (Arc<FakeBroker>, PulsarHost) {
    let broker = Arc::new(FakeBroker::default());
    let host = PulsarHost::new(broker.clone(), &config).expect("host");
    (broker, host)
}

fn host() -> (Arc<FakeBroker>, PulsarHost) {
    host_with(Config { kafka_listeners: "PLAINTEXT://10.0.0.1:9092".into(), ..Config::default() })
}

fn spec(name: &str, partitions: u32, configs: &[(&str, &str)]) -> TopicSpec {
    let configs = configs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    TopicSpec { name: name.into(), partitions, configs }
}

fn batch(max_timestamp: i64) -> Bytes {
    let mut b = vec![0u8; 70];
    b[35..43].copy_from_slice(&max_timestamp.to_be_bytes());
    Bytes::from(b)
}

fn append(log: &dyn Log, records: u32, ts: i64) -> i64 {
    block_on(log.append(batch(ts), BatchMeta { record_count: records, max_timestamp: ts })).expect("append").base_offset
}

#[test]
fn topics_live_in_the_kafka_namespace_and_internal_ones_in_the_metadata_namespace() {
    let (broker, host) = host();
    assert!(block_on(host.load()).expect("load").is_empty());
    let created = block_on(host.create(spec("orders", 3, &[("retention.ms", "1000")]))).expect("create");
    assert_eq!((created.meta.partitions, created.logs.len()), (3, 3));
    block_on(host.create(spec("__consumer_offsets", 1, &[]))).expect("create internal");
    assert!(broker.has_topic(TOPIC));
    assert!(broker.has_topic("persistent://public/__kafka/__consumer_offsets"));
    assert_eq!(broker.properties(TOPIC).unwrap().get("retention.ms").map(String::as_str), Some("1000"));

    let mut names: Vec<String> = block_on(host.load()).unwrap().into_iter().map(|t| t.meta.name).collect();
    names.sort();
    assert_eq!(names, ["__consumer_offsets", "orders"]);
    assert!(matches!(block_on(host.create(spec("orders", 1, &[]))), Err(HostError::TopicExists(_))));
}

#[test]
fn topics_of_pulsar_users_are_adopted_with_their_kafka_configs_only() {
    let (broker, host) = host();
    block_on(host.load()).unwrap();
    broker.add_topic("persistent://public/default/made-in-pulsar", 2, &[("cleanup.policy", "compact"), ("team", "a")]);
    broker.add_topic("persistent://public/default/__consumer_offsets", 1, &[]);
    broker.add_topic("persistent://public/default/bad name", 1, &[]);
    let found = block_on(host.find("made-in-pulsar")).unwrap().expect("adopted");
    assert_eq!(found.meta.partitions, 2);
    assert_eq!(found.meta.configs, BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())]));
    let listed: Vec<String> =
        block_on(host.refresh()).unwrap().expect("a shared host lists").into_iter().map(|t| t.meta.name).collect();
    assert_eq!(listed, ["made-in-pulsar"], "an internal name in the Kafka namespace and a bad name are not ours");
    assert!(block_on(host.find("missing")).unwrap().is_none());
    // The same name hashes to the same id on every broker.
    assert_eq!(found.meta.id, block_on(host.find("made-in-pulsar")).unwrap().unwrap().meta.id);
}

#[test]
fn altering_configs_keeps_the_properties_of_pulsar_users() {
    let (broker, host) = host();
    block_on(host.load()).unwrap();
    broker.add_topic(TOPIC, 1, &[("retention.ms", "1000"), ("segment.bytes", "2048"), ("team", "a")]);
    let wanted = BTreeMap::from([("retention.ms".to_string(), "5000".to_string())]);
    block_on(host.alter_configs("orders", wanted)).expect("alter");
    let properties = broker.properties(TOPIC).unwrap();
    assert_eq!(properties.get("retention.ms").map(String::as_str), Some("5000"));
    assert!(!properties.contains_key("segment.bytes"), "a Kafka config left out is removed");
    assert_eq!(properties.get("team").map(String::as_str), Some("a"));
    let bad = BTreeMap::from([("retention.ms".to_string(), "soon".to_string())]);
    assert!(matches!(block_on(host.alter_configs("orders", bad)), Err(HostError::InvalidConfig(_))));
}

#[test]
fn partitions_grow_and_topics_go() {
    let (broker, host) = host();
    block_on(host.load()).unwrap();
    block_on(host.create(spec("orders", 1, &[]))).unwrap();
    let logs = block_on(host.add_partitions("orders", 1, 3)).expect("grow");
    assert_eq!(logs.len(), 2);
    block_on(logs[1].open()).expect("the new partition 2 loads");
    assert_eq!(block_on(host.find("orders")).unwrap().unwrap().meta.partitions, 3);
    block_on(host.delete("orders")).expect("delete");
    assert!(!broker.has_topic(TOPIC));
    assert!(matches!(block_on(host.delete("orders")), Err(HostError::UnknownTopic(_))));
    assert!(matches!(host.validate(&spec("x", 0, &[])), Err(HostError::Invalid(_))));
}

#[test]
fn owners_are_named_by_their_kafka_address() {
    let (broker, host) = host();
    block_on(host.load()).unwrap();
    block_on(host.create(spec("orders", 2, &[]))).unwrap();
    assert_eq!(block_on(host.owner("orders", 0)).unwrap(), Owner::Local);
    // Without a listener name, brokers share the Kafka port and the lookup names the host.
    broker.move_away(&format!("{TOPIC}-partition-1"), "pulsar://10.0.0.2:6650");
    let remote = Owner::Remote(Endpoint { host: "10.0.0.2".into(), port: 9092 });
    assert_eq!(block_on(host.owner("orders", 1)).unwrap(), remote);
    // A lookup that names this broker's own Kafka address is local.
    broker.move_away(&format!("{TOPIC}-partition-1"), "pulsar://10.0.0.1:6650");
    assert_eq!(block_on(host.owner("orders", 1)).unwrap(), Owner::Local);
    broker.move_away(&format!("{TOPIC}-partition-1"), "no-port");
    assert!(matches!(block_on(host.owner("orders", 1)), Err(HostError::Invalid(_))));

    // With a listener name, the lookup answers the owner's Kafka listener itself.
    let named = Config {
        kafka_listeners: "PLAINTEXT://10.0.0.1:9092".into(),
        kafka_listener_name: Some("kafka".into()),
        ..Config::default()
    };
    let (broker, host) = host_with(named);
    block_on(host.load()).unwrap();
    block_on(host.create(spec("orders", 1, &[]))).unwrap();
    broker.move_away(&format!("{TOPIC}-partition-0"), "pulsar://10.0.0.3:19092");
    assert_eq!(
        block_on(host.owner("orders", 0)).unwrap(),
        Owner::Remote(Endpoint { host: "10.0.0.3".into(), port: 19092 })
    );
}

#[test]
fn a_reloaded_partition_relearns_its_offsets_and_deleted_records() {
    let broker = Arc::new(FakeBroker::default());
    broker.add_topic(TOPIC, 1, &[]);
    let name = format!("{TOPIC}-partition-0");
    let log = PulsarLog::new(broker.clone(), name.clone());
    block_on(log.open()).unwrap();
    for ts in [10, 40, 20] {
        append(&log, 3, ts);
    }
    assert_eq!(block_on(log.delete_records(4)).unwrap(), 4);
    assert_eq!(broker.properties(TOPIC).unwrap().get("kafka.deletedUpTo.partition-0").map(String::as_str), Some("4"));

    // Another broker (or this one after a restart) loads the same ledger.
    let again = PulsarLog::new(broker.clone(), name);
    block_on(again.open()).unwrap();
    assert_eq!((again.start_offset(), again.end_offset()), (4, 9));
    assert_eq!(again.max_timestamp(), Some((20, 8)), "the last entry's timestamp, as far as a load can tell");
    assert_eq!(append(&again, 1, 50), 9);
}

#[test]
fn losing_the_partition_closes_the_log_until_it_is_opened_again() {
    let broker = Arc::new(FakeBroker::default());
    broker.add_topic(TOPIC, 1, &[]);
    let name = format!("{TOPIC}-partition-0");
    let log = PulsarLog::new(broker.clone(), name.clone());
    assert!(
        matches!(
            block_on(log.append(batch(1), BatchMeta { record_count: 1, max_timestamp: 1 })),
            Err(HostError::NotOwner(_))
        ),
        "appends before the open are refused, so none overtakes another"
    );
    block_on(log.open()).unwrap();
    append(&log, 2, 1);
    broker.move_away(&name, "pulsar://10.0.0.2:6650");
    assert!(matches!(
        block_on(log.read(crate::host::Position { ledger_id: 1, entry_id: 0 }, 1, 1)),
        Err(HostError::NotOwner(_))
    ));
    assert!(matches!(block_on(log.find_position(0)), Err(HostError::NotOwner(_))), "the log closed itself");
    assert!(matches!(block_on(log.open()), Err(HostError::NotOwner(_))));
    broker.move_back(&name);
    block_on(log.open()).expect("loads afresh");
    assert_eq!(append(&log, 1, 2), 2, "offsets continue where the ledger ends");
}

#[test]
fn every_broker_failure_becomes_its_host_error() {
    type Is = fn(&HostError) -> bool;
    let cases: [(Failure, Is); 7] = [
        (Failure::Storage, |e| matches!(e, HostError::Storage(_))),
        (Failure::NotOwner, |e| matches!(e, HostError::NotOwner(_))),
        (Failure::UnknownTopic, |e| matches!(e, HostError::UnknownTopic(_))),
        (Failure::TopicExists, |e| matches!(e, HostError::TopicExists(_))),
        (Failure::Invalid, |e| matches!(e, HostError::Invalid(_))),
        (Failure::TooLarge, |e| matches!(e, HostError::TooLarge(_))),
        (Failure::Terminated, |e| matches!(e, HostError::Terminated(_))),
    ];
    let (broker, host) = host();
    for (failure, is) in cases {
        broker.fail_with(Some(failure));
        let error = block_on(host.delete("orders")).expect_err("the broker fails");
        assert!(is(&error), "{failure:?} became {error:?}");
        assert_eq!(Failure::from_code(failure.code()), Some(failure));
    }
    assert_eq!(Failure::from_code(99), None);
}

#[test]
fn tokens_are_checked_by_the_broker() {
    let (broker, host) = host();
    broker.add_token("good", "alice");
    let auth = host.authenticator();
    assert_eq!(block_on(auth.authenticate("any", "token:good")).unwrap(), "alice");
    assert!(matches!(block_on(auth.authenticate("any", "good")), Err(AuthError::Rejected(_))), "no token: prefix");
    assert!(matches!(block_on(auth.authenticate_token("bad")), Err(AuthError::Rejected(_))));
    broker.fail_with(Some(Failure::Storage));
    assert!(matches!(block_on(auth.authenticate_token("good")), Err(AuthError::Unavailable(_))));
}
