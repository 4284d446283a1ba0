//! Committed offsets: OffsetCommit, OffsetFetch and OffsetDelete.

use std::sync::Arc;

use futures::future::FutureExt;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
use kafka_protocol::messages::offset_delete_response::{OffsetDeleteResponsePartition, OffsetDeleteResponseTopic};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions, OffsetFetchResponseTopic,
    OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetDeleteRequest, OffsetDeleteResponse, OffsetFetchRequest,
    OffsetFetchResponse, TopicName,
};
use kafka_protocol::protocol::{StrBytes, VersionRange};

use super::{ready, Pending, RequestContext};
use crate::group::records::Committed;
use crate::group::CommitItem;
use crate::group::GroupCoordinator;

/// OffsetCommit versions served (v10 names topics by id).
pub const COMMIT_VERSIONS: VersionRange = VersionRange { min: 2, max: 9 };
/// OffsetFetch versions served.
pub const FETCH_VERSIONS: VersionRange = VersionRange { min: 1, max: 9 };
/// OffsetDelete versions served.
pub const DELETE_VERSIONS: VersionRange = VersionRange { min: 0, max: 0 };

fn code(result: &Result<(), ResponseError>) -> i16 {
    result.as_ref().err().map_or(0, |e| e.code())
}

/// Stores offsets once they are durable in `__consumer_offsets`.
pub async fn commit(
    coordinator: &Arc<GroupCoordinator>,
    _ctx: &RequestContext,
    req: OffsetCommitRequest,
) -> Pending<OffsetCommitResponse> {
    let groups = Arc::clone(coordinator);
    let known: Vec<bool> = req.topics.iter().map(|t| coordinator.knows_topic(&t.name)).collect();
    async move {
        let mut items = Vec::new();
        for (topic, known) in req.topics.iter().zip(&known) {
            if !known {
                continue;
            }
            for p in &topic.partitions {
                items.push(CommitItem {
                    topic: topic.name.to_string(),
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    leader_epoch: p.committed_leader_epoch,
                    metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                });
            }
        }
        let instance = req.group_instance_id.as_ref().map(|s| s.to_string());
        let outcome = groups
            .commit(&req.group_id, &req.member_id, instance.as_deref(), req.generation_id_or_member_epoch, items)
            .await;
        let mut results = match &outcome {
            Ok(r) => r.clone().into_iter(),
            Err(_) => Vec::new().into_iter(),
        };
        let topics = req
            .topics
            .into_iter()
            .zip(known)
            .map(|(topic, known)| {
                let partitions = topic
                    .partitions
                    .iter()
                    .map(|p| {
                        let error = match (&outcome, known) {
                            (Err(e), _) => e.code(),
                            (Ok(_), false) => ResponseError::UnknownTopicOrPartition.code(),
                            (Ok(_), true) => results.next().map_or(0, |r| code(&r)),
                        };
                        OffsetCommitResponsePartition::default()
                            .with_partition_index(p.partition_index)
                            .with_error_code(error)
                    })
                    .collect();
                OffsetCommitResponseTopic::default().with_name(topic.name).with_partitions(partitions)
            })
            .collect();
        Some(OffsetCommitResponse::default().with_topics(topics))
    }
    .boxed()
}

fn committed_fields(c: &Option<Committed>) -> (i64, i32, String) {
    match c {
        Some(c) => (c.offset, c.leader_epoch, c.metadata.clone()),
        None => (-1, -1, String::new()),
    }
}

/// Returns committed offsets (-1 where none), for one group before v8 and several from v8.
pub async fn fetch(
    coordinator: &Arc<GroupCoordinator>,
    ctx: &RequestContext,
    req: OffsetFetchRequest,
) -> Pending<OffsetFetchResponse> {
    let version = ctx.version;
    // KIP-447: a reader asking for stable offsets is not given one a transaction may still change.
    let unstable =
        |group: &str| if req.require_stable { coordinator.unstable_offsets(group) } else { Default::default() };
    if version >= 8 {
        let groups = req
            .groups
            .into_iter()
            .map(|g| {
                let wanted = g.topics.map(|ts| {
                    ts.into_iter()
                        .flat_map(|t| t.partition_indexes.into_iter().map(move |p| (t.name.to_string(), p)))
                        .collect()
                });
                let offsets = match coordinator.fetch_offsets(&g.group_id, wanted) {
                    Ok(offsets) => offsets,
                    Err(e) => {
                        return OffsetFetchResponseGroup::default().with_group_id(g.group_id).with_error_code(e.code())
                    }
                };
                let unstable = unstable(&g.group_id);
                let mut topics: Vec<OffsetFetchResponseTopics> = Vec::new();
                for (topic, partition, c) in offsets {
                    let (offset, epoch, metadata) = committed_fields(&c);
                    let mut p = OffsetFetchResponsePartitions::default()
                        .with_partition_index(partition)
                        .with_committed_offset(offset)
                        .with_committed_leader_epoch(epoch)
                        .with_metadata(Some(StrBytes::from_string(metadata)));
                    if unstable.contains(&(topic.clone(), partition)) {
                        p = p.with_committed_offset(-1).with_error_code(ResponseError::UnstableOffsetCommit.code());
                    }
                    match topics.iter_mut().find(|t| t.name.as_str() == topic) {
                        Some(t) => t.partitions.push(p),
                        None => topics.push(
                            OffsetFetchResponseTopics::default()
                                .with_name(TopicName(StrBytes::from_string(topic)))
                                .with_partitions(vec![p]),
                        ),
                    }
                }
                OffsetFetchResponseGroup::default().with_group_id(g.group_id).with_topics(topics)
            })
            .collect();
        return ready(OffsetFetchResponse::default().with_groups(groups));
    }
    let wanted = req.topics.map(|ts| {
        ts.into_iter().flat_map(|t| t.partition_indexes.into_iter().map(move |p| (t.name.to_string(), p))).collect()
    });
    let (offsets, error) = match coordinator.fetch_offsets(&req.group_id, wanted.clone()) {
        Ok(offsets) => (offsets, None),
        // Before v2 there is no top-level error: each asked partition carries it.
        Err(e) => (wanted.unwrap_or_default().into_iter().map(|(t, p)| (t, p, None)).collect(), Some(e)),
    };
    let unstable = unstable(&req.group_id);
    let mut topics: Vec<OffsetFetchResponseTopic> = Vec::new();
    for (topic, partition, c) in offsets {
        let (offset, epoch, metadata) = committed_fields(&c);
        let mut p = OffsetFetchResponsePartition::default()
            .with_error_code(error.map_or(0, |e| e.code()))
            .with_partition_index(partition)
            .with_committed_offset(offset)
            .with_committed_leader_epoch(if version >= 5 { epoch } else { -1 })
            .with_metadata(Some(StrBytes::from_string(metadata)));
        if unstable.contains(&(topic.clone(), partition)) {
            p = p.with_committed_offset(-1).with_error_code(ResponseError::UnstableOffsetCommit.code());
        }
        match topics.iter_mut().find(|t| t.name.as_str() == topic) {
            Some(t) => t.partitions.push(p),
            None => topics.push(
                OffsetFetchResponseTopic::default()
                    .with_name(TopicName(StrBytes::from_string(topic)))
                    .with_partitions(vec![p]),
            ),
        }
    }
    let mut response = OffsetFetchResponse::default().with_topics(topics);
    if version >= 2 {
        response.error_code = error.map_or(0, |e| e.code());
    }
    ready(response)
}

/// Deletes a group's offsets for partitions no member is subscribed to.
pub async fn delete(
    coordinator: &Arc<GroupCoordinator>,
    _ctx: &RequestContext,
    req: OffsetDeleteRequest,
) -> Pending<OffsetDeleteResponse> {
    let partitions: Vec<(String, i32)> = req
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(move |p| (t.name.to_string(), p.partition_index)))
        .collect();
    let outcome = coordinator.delete_offsets(&req.group_id, partitions).await;
    ready(match outcome {
        Err(e) => OffsetDeleteResponse::default().with_error_code(e.code()),
        Ok(results) => {
            let mut results = results.into_iter();
            let topics = req
                .topics
                .into_iter()
                .map(|t| {
                    let partitions = t
                        .partitions
                        .iter()
                        .map(|p| {
                            OffsetDeleteResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(results.next().map_or(0, |r| code(&r)))
                        })
                        .collect();
                    OffsetDeleteResponseTopic::default().with_name(t.name).with_partitions(partitions)
                })
                .collect();
            OffsetDeleteResponse::default().with_topics(topics)
        }
    })
}
