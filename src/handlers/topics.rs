//! CreateTopics and DeleteTopics.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{CreatableTopicConfigs, CreatableTopicResult};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest,
    DeleteTopicsResponse, TopicName,
};
use kafka_protocol::protocol::{StrBytes, VersionRange};
use uuid::Uuid;

use super::{ready, Pending, RequestContext};
use crate::broker::Broker;
use crate::host::host_error;
use crate::host::{HostError, TopicSpec};
use crate::topic_config::TopicConfig;

/// CreateTopics versions served.
pub const CREATE_VERSIONS: VersionRange = VersionRange { min: 2, max: 7 };

/// DeleteTopics versions served.
pub const DELETE_VERSIONS: VersionRange = VersionRange { min: 1, max: 6 };

/// CreatePartitions versions served.
pub const CREATE_PARTITIONS_VERSIONS: VersionRange = VersionRange { min: 0, max: 3 };

/// Grows topics to the requested partition counts.
pub async fn create_partitions(
    broker: &Arc<Broker>,
    _ctx: &RequestContext,
    req: CreatePartitionsRequest,
) -> Pending<CreatePartitionsResponse> {
    let node = broker.node_id();
    let mut results = Vec::with_capacity(req.topics.len());
    for topic in req.topics {
        let assignments_ok = topic
            .assignments
            .as_ref()
            .is_none_or(|list| list.iter().all(|a| a.broker_ids.len() == 1 && a.broker_ids[0].0 == node));
        let outcome = if !assignments_ok {
            Err((ResponseError::InvalidReplicaAssignment, format!("every replica must be broker {node}")))
        } else if topic.count < 1 {
            Err((ResponseError::InvalidPartitions, "the partition count must be positive".to_string()))
        } else if topic.count as u32 > broker.config().max_partitions_per_topic {
            let max = broker.config().max_partitions_per_topic;
            Err((ResponseError::PolicyViolation, format!("a topic may have at most {max} partitions")))
        } else {
            broker.topics().add_partitions(&topic.name, topic.count as u32, req.validate_only).await.map_err(|e| {
                let error = match e {
                    HostError::Invalid(_) => ResponseError::InvalidPartitions,
                    ref other => host_error(other),
                };
                (error, e.to_string())
            })
        };
        let result = CreatePartitionsTopicResult::default().with_name(topic.name);
        results.push(match outcome {
            Ok(()) => result,
            Err((error, message)) => {
                result.with_error_code(error.code()).with_error_message(Some(StrBytes::from_string(message)))
            }
        });
    }
    ready(CreatePartitionsResponse::default().with_results(results))
}

/// Creates (or with `validate_only`, checks) each topic.
pub async fn create(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: CreateTopicsRequest,
) -> Pending<CreateTopicsResponse> {
    let mut seen = HashSet::new();
    let duplicated: HashSet<TopicName> =
        req.topics.iter().filter(|t| !seen.insert(t.name.clone())).map(|t| t.name.clone()).collect();
    let mut results = Vec::with_capacity(req.topics.len());
    for topic in req.topics {
        let name = topic.name.clone();
        let result = if duplicated.contains(&name) {
            Err((ResponseError::InvalidRequest, "topic named more than once in one request".to_string()))
        } else {
            create_one(broker, topic, req.validate_only).await
        };
        results.push(match result {
            Ok(done) => done,
            Err((error, message)) => CreatableTopicResult::default()
                .with_name(name)
                .with_error_code(error.code())
                .with_error_message(Some(StrBytes::from_string(message))),
        });
        if let Some(last) = results.last_mut() {
            fit_create_result(last, ctx.version);
        }
    }
    ready(CreateTopicsResponse::default().with_topics(results))
}

async fn create_one(
    broker: &Broker,
    topic: CreatableTopic,
    validate_only: bool,
) -> Result<CreatableTopicResult, (ResponseError, String)> {
    let name = topic.name.0.to_string();
    let partitions = match (topic.num_partitions, topic.assignments.len()) {
        (-1, 0) => broker.config().default_num_partitions,
        (-1, n) => n as u32,
        (n, 0) if n > 0 => n as u32,
        _ => {
            return Err((ResponseError::InvalidPartitions, "partitions must be positive, or -1 for the default".into()))
        }
    };
    let max = broker.config().max_partitions_per_topic;
    if partitions > max {
        return Err((ResponseError::PolicyViolation, format!("a topic may have at most {max} partitions")));
    }
    let node = broker.node_id();
    let factor = topic.replication_factor;
    if factor == 0 || factor < -1 {
        let why = "replication factor must be larger than 0, or -1 for the default";
        return Err((ResponseError::InvalidReplicationFactor, why.into()));
    }
    // On Pulsar the bookies keep the copies, whatever a Kafka application asks for (Kafka
    // Connect asks for 3 by default); one broker with one copy can keep no more, as in Kafka.
    if factor > 1 && topic.assignments.is_empty() && !broker.topics().host_replicates() {
        return Err((
            ResponseError::InvalidReplicationFactor,
            format!("replication factor {factor} is larger than the 1 broker available"),
        ));
    }
    if topic.assignments.iter().any(|a| a.broker_ids.iter().any(|b| b.0 != node) || a.broker_ids.len() != 1) {
        return Err((ResponseError::InvalidReplicaAssignment, format!("every replica must be broker {node}")));
    }
    let mut configs = BTreeMap::new();
    for c in &topic.configs {
        match &c.value {
            Some(v) => configs.insert(c.name.to_string(), v.to_string()),
            None => configs.remove(c.name.as_str()),
        };
    }
    let spec = TopicSpec { name: name.clone(), partitions, configs };
    let outcome = if validate_only {
        broker.topics().validate(&spec).map(|()| Uuid::nil())
    } else {
        broker.topics().create(spec.clone()).await.map(|t| t.meta.id)
    };
    let id = outcome.map_err(|e| {
        let error = match e {
            HostError::Invalid(_) => ResponseError::InvalidTopicException,
            ref other => host_error(other),
        };
        (error, e.to_string())
    })?;
    let config_list = spec
        .configs
        .iter()
        .filter(|(k, _)| TopicConfig::is_known(k))
        .map(|(k, v)| {
            CreatableTopicConfigs::default()
                .with_name(StrBytes::from_string(k.clone()))
                .with_value(Some(StrBytes::from_string(v.clone())))
                .with_config_source(1)
        })
        .collect();
    Ok(CreatableTopicResult::default()
        .with_name(topic.name)
        .with_topic_id(id)
        .with_num_partitions(partitions as i32)
        .with_replication_factor(1)
        .with_configs(Some(config_list)))
}

/// Clears what `version` cannot carry: details from v5, topic id from v7.
fn fit_create_result(result: &mut CreatableTopicResult, version: i16) {
    if version >= 5 && result.error_code != 0 {
        result.num_partitions = -1;
        result.replication_factor = -1;
    }
    if version < 5 {
        result.num_partitions = -1;
        result.replication_factor = -1;
        result.configs = None;
    }
    if version < 7 {
        result.topic_id = Uuid::nil();
    }
}

/// Deletes each named topic (by name, or by id from v6).
pub async fn delete(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: DeleteTopicsRequest,
) -> Pending<DeleteTopicsResponse> {
    let mut wanted: Vec<(Option<TopicName>, Uuid)> =
        req.topic_names.into_iter().map(|n| (Some(n), Uuid::nil())).collect();
    wanted.extend(req.topics.into_iter().map(|t| (t.name, t.topic_id)));
    let mut responses = Vec::with_capacity(wanted.len());
    for (name, id) in wanted {
        let topic = match &name {
            Some(n) => broker.topics().get(n),
            None => broker.topics().get_by_id(&id),
        };
        let base = DeletableTopicResult::default().with_name(name.clone()).with_topic_id(id);
        let Some(topic) = topic else {
            let error =
                if name.is_some() { ResponseError::UnknownTopicOrPartition } else { ResponseError::UnknownTopicId };
            responses.push(base.with_error_code(error.code()));
            continue;
        };
        let base = base
            .with_name(Some(TopicName(StrBytes::from_string(topic.meta.name.clone()))))
            .with_topic_id(topic.meta.id);
        responses.push(match broker.topics().delete(&topic.meta.name).await {
            Ok(_) => base,
            Err(e) => base
                .with_error_code(host_error(&e).code())
                .with_error_message(Some(StrBytes::from_string(e.to_string()))),
        });
    }
    for r in &mut responses {
        if ctx.version < 5 {
            r.error_message = None;
        }
        if ctx.version < 6 {
            r.topic_id = Uuid::nil();
        }
    }
    ready(DeleteTopicsResponse::default().with_responses(responses))
}
