//! Topic and broker configs: DescribeConfigs, AlterConfigs (the whole set) and
//! IncrementalAlterConfigs (SET, DELETE, APPEND, SUBTRACT).

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_configs_request::{AlterConfigsResource, AlterableConfig};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource as IncrementalResource, AlterableConfig as Op,
};
use kafka_protocol::messages::{AlterConfigsRequest, DescribeConfigsRequest, IncrementalAlterConfigsRequest};
use kafka_protocol::protocol::StrBytes;

use super::super::configs;
use super::{broker, create, ctx};
use crate::broker::Broker;

const TOPIC: i8 = 2;
const BROKER: i8 = 4;

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// The error and the `(name, value, read-only)` of the named configs of one resource.
async fn describe(
    broker: &Arc<Broker>,
    kind: i8,
    name: &str,
    keys: &[&str],
) -> (i16, Vec<(String, Option<String>, bool)>) {
    let req = DescribeConfigsRequest::default().with_resources(vec![DescribeConfigsResource::default()
        .with_resource_type(kind)
        .with_resource_name(text(name))
        .with_configuration_keys(Some(keys.iter().map(|k| text(k)).collect()))]);
    let resp = configs::describe(broker, &ctx(4), req).await.await.expect("a response");
    let r = &resp.results[0];
    let found =
        r.configs.iter().map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string()), c.read_only)).collect();
    (r.error_code, found)
}

async fn value(broker: &Arc<Broker>, topic: &str, key: &str) -> Option<String> {
    describe(broker, TOPIC, topic, &[key]).await.1.into_iter().next().and_then(|(_, v, _)| v)
}

async fn incremental(broker: &Arc<Broker>, topic: &str, ops: &[(&str, i8, Option<&str>)], validate_only: bool) -> i16 {
    let configs = ops
        .iter()
        .map(|(name, op, v)| Op::default().with_name(text(name)).with_config_operation(*op).with_value(v.map(text)))
        .collect();
    let req = IncrementalAlterConfigsRequest::default().with_validate_only(validate_only).with_resources(vec![
        IncrementalResource::default().with_resource_type(TOPIC).with_resource_name(text(topic)).with_configs(configs),
    ]);
    configs::incremental_alter(broker, &ctx(1), req).await.await.expect("a response").responses[0].error_code
}

#[tokio::test]
async fn describe_configs_answers_topics_and_this_broker() {
    let broker = broker().await;
    assert_eq!(create(&broker, "orders", 1).await, 0);
    let (error, found) = describe(&broker, TOPIC, "orders", &["retention.ms", "cleanup.policy"]).await;
    assert_eq!(error, 0);
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|(_, v, _)| v.is_some()), "defaults are shown with their values");
    assert_eq!(describe(&broker, TOPIC, "missing", &[]).await.0, ResponseError::UnknownTopicOrPartition.code());
    assert_eq!(describe(&broker, TOPIC, "bad/name", &[]).await.0, ResponseError::InvalidTopicException.code());
    let id = broker.node_id().to_string();
    let (error, found) = describe(&broker, BROKER, &id, &[]).await;
    assert_eq!(error, 0);
    assert!(found.iter().any(|(name, v, _)| name == "num.partitions" && v.as_deref() == Some("1")), "{found:?}");
    assert_eq!(describe(&broker, BROKER, "99", &[]).await.0, ResponseError::InvalidRequest.code());
    assert_eq!(describe(&broker, 9, "x", &[]).await.0, ResponseError::InvalidRequest.code());
}

#[tokio::test]
async fn alter_configs_replaces_the_whole_set() {
    let broker = broker().await;
    assert_eq!(create(&broker, "orders", 1).await, 0);
    let alter = |pairs: &[(&str, &str)], validate_only: bool| {
        let configs = pairs
            .iter()
            .map(|(k, v)| AlterableConfig::default().with_name(text(k)).with_value(Some(text(v))))
            .collect();
        AlterConfigsRequest::default().with_validate_only(validate_only).with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(TOPIC)
                .with_resource_name(text("orders"))
                .with_configs(configs),
        ])
    };
    let run = |req| {
        let broker = broker.clone();
        async move { configs::alter(&broker, &ctx(2), req).await.await.unwrap().responses[0].error_code }
    };
    assert_eq!(run(alter(&[("retention.ms", "1000")], true)).await, 0);
    assert_ne!(
        value(&broker, "orders", "retention.ms").await.as_deref(),
        Some("1000"),
        "validate_only changes nothing"
    );
    assert_eq!(run(alter(&[("retention.ms", "1000"), ("segment.bytes", "1048576")], false)).await, 0);
    assert_eq!(value(&broker, "orders", "retention.ms").await.as_deref(), Some("1000"));
    assert_eq!(run(alter(&[("segment.bytes", "1048576")], false)).await, 0);
    assert_ne!(
        value(&broker, "orders", "retention.ms").await.as_deref(),
        Some("1000"),
        "left out: back to the default"
    );
    assert_eq!(run(alter(&[("retention.ms", "soon")], false)).await, ResponseError::InvalidConfig.code());
    assert_eq!(run(alter(&[("no.such.config", "1")], false)).await, ResponseError::InvalidConfig.code());
}

#[tokio::test]
async fn incremental_alter_configs_applies_each_operation() {
    const SET: i8 = 0;
    const DELETE: i8 = 1;
    const APPEND: i8 = 2;
    const SUBTRACT: i8 = 3;
    let broker = broker().await;
    assert_eq!(create(&broker, "orders", 1).await, 0);
    assert_eq!(incremental(&broker, "orders", &[("retention.ms", SET, Some("5000"))], false).await, 0);
    assert_eq!(value(&broker, "orders", "retention.ms").await.as_deref(), Some("5000"));
    assert_eq!(incremental(&broker, "orders", &[("cleanup.policy", APPEND, Some("compact"))], false).await, 0);
    assert_eq!(value(&broker, "orders", "cleanup.policy").await.as_deref(), Some("delete,compact"));
    assert_eq!(incremental(&broker, "orders", &[("cleanup.policy", SUBTRACT, Some("delete"))], false).await, 0);
    assert_eq!(value(&broker, "orders", "cleanup.policy").await.as_deref(), Some("compact"));
    assert_eq!(incremental(&broker, "orders", &[("retention.ms", DELETE, None)], false).await, 0);
    assert_ne!(value(&broker, "orders", "retention.ms").await.as_deref(), Some("5000"), "deleted: the default again");
    assert_eq!(incremental(&broker, "orders", &[("retention.ms", SET, Some("1"))], true).await, 0);
    assert_ne!(value(&broker, "orders", "retention.ms").await.as_deref(), Some("1"), "validate_only changes nothing");

    let refused = [
        (vec![("retention.ms", 7, Some("1"))], ResponseError::InvalidRequest),
        (vec![("retention.ms", SET, None)], ResponseError::InvalidRequest),
        (vec![("retention.ms", SET, Some("1")), ("retention.ms", SET, Some("2"))], ResponseError::InvalidRequest),
        (vec![("retention.ms", APPEND, Some("1"))], ResponseError::InvalidConfig),
        (vec![("no.such.config", SET, Some("1"))], ResponseError::InvalidConfig),
    ];
    for (ops, error) in refused {
        assert_eq!(incremental(&broker, "orders", &ops, false).await, error.code(), "{ops:?}");
    }
    assert_eq!(
        incremental(&broker, "missing", &[("retention.ms", SET, Some("1"))], false).await,
        ResponseError::UnknownTopicOrPartition.code()
    );
}
