//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs: topic configs are read and changed
//! (stored by the host, applied to the open logs); broker configs are read-only here, set in the
//! broker's configuration file.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{
    alter_configs_response, incremental_alter_configs_response, AlterConfigsRequest, AlterConfigsResponse,
    DescribeConfigsRequest, DescribeConfigsResponse, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::{StrBytes, VersionRange};

use super::{ready, Pending, RequestContext};
use crate::broker::Broker;
use crate::config::Config;
use crate::host::host_error;
use crate::host::HostError;
use crate::names::valid_topic_name;
use crate::topic_config::{Described, Kind, Source, TopicConfig};

/// DescribeConfigs versions served.
pub const DESCRIBE_VERSIONS: VersionRange = VersionRange { min: 1, max: 4 };
/// AlterConfigs versions served.
pub const ALTER_VERSIONS: VersionRange = VersionRange { min: 0, max: 2 };
/// IncrementalAlterConfigs versions served.
pub const INCREMENTAL_ALTER_VERSIONS: VersionRange = VersionRange { min: 0, max: 1 };

const TOPIC: i8 = 2;
const BROKER: i8 = 4;

/// IncrementalAlterConfigs operations.
const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

/// Why a resource's request failed, as the client is told.
type Failure = (ResponseError, String);

fn failure(error: ResponseError, message: impl Into<String>) -> Failure {
    (error, message.into())
}

fn from_host(e: HostError) -> Failure {
    (host_error(&e), e.to_string())
}

/// Describes topics (their own configs over the broker defaults) and this broker.
pub async fn describe(
    broker: &Arc<Broker>,
    _ctx: &RequestContext,
    req: DescribeConfigsRequest,
) -> Pending<DescribeConfigsResponse> {
    let mut results = Vec::with_capacity(req.resources.len());
    for resource in req.resources {
        // An empty list asks for every config, as null does (Kafka reads it so).
        let keys: Option<Vec<String>> = resource
            .configuration_keys
            .as_ref()
            .filter(|k| !k.is_empty())
            .map(|k| k.iter().map(|s| s.to_string()).collect());
        let keys: Option<Vec<&str>> = keys.as_ref().map(|k| k.iter().map(String::as_str).collect());
        let name = resource.resource_name.to_string();
        let described = match resource.resource_type {
            TOPIC => describe_topic(broker, &name, keys.as_deref()).await,
            BROKER => check_broker(broker, &name).map(|()| broker_configs(broker.config(), keys.as_deref())),
            other => Err(failure(ResponseError::InvalidRequest, format!("resource type {other} is not supported"))),
        };
        let result = DescribeConfigsResult::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name);
        results.push(match described {
            Ok(configs) => result.with_configs(
                configs.into_iter().map(|d| entry(d, req.include_synonyms, req.include_documentation)).collect(),
            ),
            Err((error, message)) => {
                result.with_error_code(error.code()).with_error_message(Some(StrBytes::from_string(message)))
            }
        });
    }
    ready(DescribeConfigsResponse::default().with_results(results))
}

async fn describe_topic(broker: &Broker, name: &str, keys: Option<&[&str]>) -> Result<Vec<Described>, Failure> {
    if !valid_topic_name(name) {
        return Err(failure(ResponseError::InvalidTopicException, format!("'{name}' is not a legal topic name")));
    }
    match broker.topics().with_current_configs(name).await {
        Ok(Some(topic)) => Ok(TopicConfig::describe(broker.config(), &topic.meta.configs, keys)),
        Ok(None) => Err(failure(ResponseError::UnknownTopicOrPartition, format!("topic {name} does not exist"))),
        Err(e) => Err(from_host(e)),
    }
}

/// A broker resource names this broker by id, or is empty for the cluster-wide defaults.
fn check_broker(broker: &Broker, name: &str) -> Result<(), Failure> {
    let id = broker.node_id();
    if name.is_empty() || name.parse::<i32>() == Ok(id) {
        Ok(())
    } else {
        Err(failure(ResponseError::InvalidRequest, format!("this is broker {id}, not broker '{name}'")))
    }
}

fn entry(d: Described, synonyms: bool, documentation: bool) -> DescribeConfigsResourceResult {
    let synonyms = if synonyms {
        d.synonyms
            .into_iter()
            .map(|(name, value, source)| {
                DescribeConfigsSynonym::default()
                    .with_name(StrBytes::from_string(name))
                    .with_value(Some(StrBytes::from_string(value)))
                    .with_source(source as i8)
            })
            .collect()
    } else {
        Vec::new()
    };
    DescribeConfigsResourceResult::default()
        .with_name(StrBytes::from_string(d.name))
        .with_value(Some(StrBytes::from_string(d.value)))
        .with_read_only(d.read_only)
        .with_config_source(d.source as i8)
        .with_synonyms(synonyms)
        .with_config_type(d.kind as i8)
        .with_documentation(documentation.then(|| StrBytes::from_static_str(d.doc)))
}

/// A broker setting under its Kafka name: type, how to read it, what it does.
type BrokerSetting = (&'static str, Kind, fn(&Config) -> String, &'static str);

/// This broker's settings under their Kafka names; all read-only.
fn broker_configs(config: &Config, keys: Option<&[&str]>) -> Vec<Described> {
    let builtin = Config::default();
    let settings: [BrokerSetting; 18] = [
        ("broker.id", Kind::Int, |c| c.broker_id.to_string(), "This broker's node id (brokerId)."),
        (
            "num.partitions",
            Kind::Int,
            |c| c.default_num_partitions.to_string(),
            "Partitions of a topic created without a count (defaultNumPartitions).",
        ),
        (
            "default.replication.factor",
            Kind::Int,
            |_| "1".into(),
            "Every partition has one replica; storage replicates (BookKeeper on Pulsar).",
        ),
        (
            "auto.create.topics.enable",
            Kind::Boolean,
            |c| c.allow_auto_topic_creation.to_string(),
            "Whether Metadata creates the topics clients ask for (allowAutoTopicCreation).",
        ),
        (
            "message.max.bytes",
            Kind::Int,
            |c| c.max_message_size.to_string(),
            "Default max.message.bytes (maxMessageSize).",
        ),
        (
            "socket.request.max.bytes",
            Kind::Int,
            |c| c.max_request_size.to_string(),
            "Largest request frame accepted (maxRequestSize).",
        ),
        (
            "log.segment.bytes",
            Kind::Int,
            |c| c.log_segment_bytes.to_string(),
            "Default segment.bytes (logSegmentBytes).",
        ),
        ("log.retention.ms", Kind::Long, |c| c.log_retention_ms.to_string(), "Default retention.ms (logRetentionMs)."),
        (
            "log.retention.bytes",
            Kind::Long,
            |c| c.log_retention_bytes.to_string(),
            "Default retention.bytes (logRetentionBytes).",
        ),
        (
            "log.retention.check.interval.ms",
            Kind::Long,
            |c| c.log_retention_check_interval_ms.to_string(),
            "How often retention runs (logRetentionCheckIntervalMs).",
        ),
        (
            "log.flush.interval.ms",
            Kind::Long,
            |c| c.log_flush_interval_ms.to_string(),
            "Period of the interval flush policy (logFlushIntervalMs).",
        ),
        (
            "log.index.interval.bytes",
            Kind::Int,
            |c| c.log_index_interval_bytes.to_string(),
            "Bytes between sparse index points (logIndexIntervalBytes).",
        ),
        (
            "offsets.topic.num.partitions",
            Kind::Int,
            |c| c.offsets_topic_num_partitions.to_string(),
            "Partitions of __consumer_offsets (offsetsTopicNumPartitions).",
        ),
        (
            "offsets.retention.minutes",
            Kind::Int,
            |c| c.offsets_retention_minutes.to_string(),
            "How long an empty group's offsets are kept (offsetsRetentionMinutes).",
        ),
        (
            "offset.metadata.max.bytes",
            Kind::Int,
            |c| c.offset_metadata_max_size.to_string(),
            "Largest metadata string on a committed offset (offsetMetadataMaxSize).",
        ),
        (
            "group.initial.rebalance.delay.ms",
            Kind::Int,
            |c| c.group_initial_rebalance_delay_ms.to_string(),
            "Delay before an empty group's first rebalance completes (groupInitialRebalanceDelayMs).",
        ),
        (
            "group.min.session.timeout.ms",
            Kind::Int,
            |c| c.group_min_session_timeout_ms.to_string(),
            "Smallest session timeout a member may ask for (groupMinSessionTimeoutMs).",
        ),
        (
            "group.max.session.timeout.ms",
            Kind::Int,
            |c| c.group_max_session_timeout_ms.to_string(),
            "Largest session timeout a member may ask for (groupMaxSessionTimeoutMs).",
        ),
    ];
    settings
        .into_iter()
        .filter(|(name, ..)| keys.is_none_or(|k| k.contains(name)))
        .map(|(name, kind, value_of, doc)| {
            let value = value_of(config);
            let source = if value == value_of(&builtin) { Source::Default } else { Source::StaticBroker };
            Described {
                name: name.to_string(),
                value: value.clone(),
                source,
                kind,
                doc,
                read_only: true,
                synonyms: vec![(name.to_string(), value, source)],
            }
        })
        .collect()
}

/// Replaces the whole config set of each topic (configs not named return to their defaults).
pub async fn alter(
    broker: &Arc<Broker>,
    _ctx: &RequestContext,
    req: AlterConfigsRequest,
) -> Pending<AlterConfigsResponse> {
    let mut responses = Vec::with_capacity(req.resources.len());
    for resource in req.resources {
        let name = resource.resource_name.to_string();
        let pairs = resource.configs.iter().map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())));
        let outcome = match resource.resource_type {
            TOPIC => match replacement(pairs) {
                Ok(configs) => alter_topic(broker, &name, configs, req.validate_only).await,
                Err(e) => Err(e),
            },
            BROKER => alter_broker(broker, &name, resource.configs.len()),
            other => Err(failure(ResponseError::InvalidRequest, format!("resource type {other} is not supported"))),
        };
        let (code, message) = outcome_parts(outcome);
        responses.push(
            alter_configs_response::AlterConfigsResourceResponse::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name)
                .with_error_code(code)
                .with_error_message(message),
        );
    }
    ready(AlterConfigsResponse::default().with_responses(responses))
}

/// Applies SET, DELETE, APPEND and SUBTRACT operations to each topic's current configs.
pub async fn incremental_alter(
    broker: &Arc<Broker>,
    _ctx: &RequestContext,
    req: IncrementalAlterConfigsRequest,
) -> Pending<IncrementalAlterConfigsResponse> {
    let mut responses = Vec::with_capacity(req.resources.len());
    for resource in req.resources {
        let name = resource.resource_name.to_string();
        let ops: Vec<(String, i8, Option<String>)> = resource
            .configs
            .iter()
            .map(|c| (c.name.to_string(), c.config_operation, c.value.as_ref().map(|v| v.to_string())))
            .collect();
        let outcome = match resource.resource_type {
            TOPIC => incremental_alter_topic(broker, &name, &ops, req.validate_only).await,
            BROKER => alter_broker(broker, &name, ops.len()),
            other => Err(failure(ResponseError::InvalidRequest, format!("resource type {other} is not supported"))),
        };
        let (code, message) = outcome_parts(outcome);
        responses.push(
            incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name)
                .with_error_code(code)
                .with_error_message(message),
        );
    }
    ready(IncrementalAlterConfigsResponse::default().with_responses(responses))
}

fn outcome_parts(outcome: Result<(), Failure>) -> (i16, Option<StrBytes>) {
    match outcome {
        Ok(()) => (0, None),
        Err((error, message)) => (error.code(), Some(StrBytes::from_string(message))),
    }
}

/// The config set an AlterConfigs resource asks for; a config named twice is refused.
fn replacement(pairs: impl Iterator<Item = (String, Option<String>)>) -> Result<BTreeMap<String, String>, Failure> {
    let mut configs = BTreeMap::new();
    for (name, value) in pairs {
        let Some(value) = value else {
            return Err(failure(ResponseError::InvalidRequest, format!("config '{name}' has no value")));
        };
        if configs.insert(name.clone(), value).is_some() {
            return Err(failure(ResponseError::InvalidRequest, format!("config '{name}' is named more than once")));
        }
    }
    Ok(configs)
}

async fn incremental_alter_topic(
    broker: &Broker,
    name: &str,
    ops: &[(String, i8, Option<String>)],
    validate_only: bool,
) -> Result<(), Failure> {
    let current = describe_topic(broker, name, None).await?;
    let mut configs: BTreeMap<String, String> =
        current.iter().filter(|d| d.source == Source::Topic).map(|d| (d.name.clone(), d.value.clone())).collect();
    let mut seen = std::collections::HashSet::new();
    for (key, op, value) in ops {
        if !seen.insert(key) {
            return Err(failure(ResponseError::InvalidRequest, format!("config '{key}' is named more than once")));
        }
        if !TopicConfig::is_known(key) {
            return Err(failure(ResponseError::InvalidConfig, format!("unknown topic config '{key}'")));
        }
        let effective = current.iter().find(|d| &d.name == key).map(|d| d.value.as_str()).unwrap_or_default();
        match (*op, value) {
            (DELETE, _) => {
                configs.remove(key);
            }
            (SET | APPEND | SUBTRACT, None) => {
                return Err(failure(ResponseError::InvalidRequest, format!("config '{key}' has no value")))
            }
            (SET, Some(value)) => {
                configs.insert(key.clone(), value.clone());
            }
            (APPEND | SUBTRACT, Some(_)) if !TopicConfig::is_list(key) => {
                return Err(failure(ResponseError::InvalidConfig, format!("config '{key}' is not a list")))
            }
            (APPEND, Some(value)) => {
                let mut items = list(effective);
                items.extend(list(value).into_iter().filter(|v| !list(effective).contains(v)));
                configs.insert(key.clone(), items.join(","));
            }
            (SUBTRACT, Some(value)) => {
                let gone = list(value);
                let items: Vec<&str> = list(effective).into_iter().filter(|v| !gone.contains(v)).collect();
                configs.insert(key.clone(), items.join(","));
            }
            (other, _) => {
                return Err(failure(ResponseError::InvalidRequest, format!("unknown config operation {other}")))
            }
        }
    }
    alter_topic(broker, name, configs, validate_only).await
}

fn list(value: &str) -> Vec<&str> {
    value.split(',').map(str::trim).filter(|v| !v.is_empty()).collect()
}

async fn alter_topic(
    broker: &Broker,
    name: &str,
    configs: BTreeMap<String, String>,
    validate_only: bool,
) -> Result<(), Failure> {
    if !valid_topic_name(name) {
        return Err(failure(ResponseError::InvalidTopicException, format!("'{name}' is not a legal topic name")));
    }
    broker.topics().alter_configs(name, configs, validate_only).await.map_err(from_host)
}

/// Broker configs come from the broker's configuration file; none can change at run time.
fn alter_broker(broker: &Broker, name: &str, changes: usize) -> Result<(), Failure> {
    check_broker(broker, name)?;
    if changes == 0 {
        return Ok(());
    }
    Err(failure(
        ResponseError::InvalidRequest,
        "broker configs cannot be changed at run time; set them in the broker's configuration file",
    ))
}
