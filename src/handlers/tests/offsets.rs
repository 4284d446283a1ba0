//! Committed offsets: OffsetCommit, OffsetFetch (one group before v8, several from v8) and
//! OffsetDelete.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::offset_delete_request::{OffsetDeleteRequestPartition, OffsetDeleteRequestTopic};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{GroupId, OffsetCommitRequest, OffsetDeleteRequest, OffsetFetchRequest};
use kafka_protocol::protocol::StrBytes;

use super::super::offsets;
use super::group_apis::stable_member;
use super::{broker, create, ctx, name};
use crate::broker::Broker;

fn group(id: &str) -> GroupId {
    GroupId(StrBytes::from_string(id.to_string()))
}

/// Error codes of committing `offset` to partitions 0 and 1 of `topic`.
async fn commit(
    broker: &Arc<Broker>,
    group_id: &str,
    member: &str,
    generation: i32,
    topic: &str,
    offset: i64,
) -> Vec<i16> {
    let partitions = (0..2)
        .map(|p| {
            OffsetCommitRequestPartition::default()
                .with_partition_index(p)
                .with_committed_offset(offset + i64::from(p))
                .with_committed_metadata(Some(StrBytes::from_string(format!("m{p}"))))
        })
        .collect();
    let req = OffsetCommitRequest::default()
        .with_group_id(group(group_id))
        .with_member_id(StrBytes::from_string(member.to_string()))
        .with_generation_id_or_member_epoch(generation)
        .with_topics(vec![OffsetCommitRequestTopic::default().with_name(name(topic)).with_partitions(partitions)]);
    let resp = offsets::commit(broker.groups(), &ctx(8), req).await.await.expect("a response");
    resp.topics[0].partitions.iter().map(|p| p.error_code).collect()
}

/// `(partition, committed offset, metadata)` of a group, fetched with OffsetFetch v7.
async fn fetched(broker: &Arc<Broker>, group_id: &str) -> (i16, Vec<(i32, i64, String)>) {
    let req = OffsetFetchRequest::default().with_group_id(group(group_id)).with_topics(Some(vec![
        OffsetFetchRequestTopic::default().with_name(name("orders")).with_partition_indexes(vec![0, 1, 2]),
    ]));
    let resp = offsets::fetch(broker.groups(), &ctx(7), req).await.await.expect("a response");
    let found = resp
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter())
        .map(|p| (p.partition_index, p.committed_offset, p.metadata.as_deref().unwrap_or_default().to_string()))
        .collect();
    (resp.error_code, found)
}

#[tokio::test]
async fn commits_are_fetched_back_and_unknown_partitions_are_minus_one() {
    let broker = broker().await;
    assert_eq!(create(&broker, "orders", 3).await, 0);
    assert_eq!(commit(&broker, "simple", "", -1, "orders", 10).await, [0, 0], "a simple consumer commits");
    let (error, found) = fetched(&broker, "simple").await;
    assert_eq!(error, 0);
    assert_eq!(found, [(0, 10, "m0".into()), (1, 11, "m1".into()), (2, -1, String::new())]);
    assert_eq!(
        commit(&broker, "simple", "", -1, "missing", 1).await,
        [ResponseError::UnknownTopicOrPartition.code(); 2]
    );

    // From v8 several groups are asked at once; all of a group's offsets when no topics are named.
    let req = OffsetFetchRequest::default().with_groups(vec![
        OffsetFetchRequestGroup::default().with_group_id(group("simple")).with_topics(None),
        OffsetFetchRequestGroup::default().with_group_id(group("none")).with_topics(Some(vec![
            OffsetFetchRequestTopics::default().with_name(name("orders")).with_partition_indexes(vec![0]),
        ])),
    ]);
    let resp = offsets::fetch(broker.groups(), &ctx(8), req).await.await.unwrap();
    let simple: Vec<i64> =
        resp.groups[0].topics.iter().flat_map(|t| t.partitions.iter().map(|p| p.committed_offset)).collect();
    assert_eq!(simple, [10, 11]);
    assert_eq!(resp.groups[1].topics[0].partitions[0].committed_offset, -1);
}

#[tokio::test]
async fn a_group_member_commits_only_in_its_generation() {
    let broker = broker().await;
    assert_eq!(create(&broker, "orders", 2).await, 0);
    let (member, generation) = stable_member(&broker, "members").await;
    assert_eq!(commit(&broker, "members", &member, generation, "orders", 5).await, [0, 0]);
    let stale = commit(&broker, "members", &member, generation - 1, "orders", 6).await;
    assert_eq!(stale, [ResponseError::IllegalGeneration.code(); 2]);
    let stranger = commit(&broker, "members", "stranger", generation, "orders", 6).await;
    assert_eq!(stranger, [ResponseError::UnknownMemberId.code(); 2]);
    assert_eq!(fetched(&broker, "members").await.1[0].1, 5, "refused commits change nothing");
    assert_eq!(commit(&broker, "", "", -1, "orders", 1).await, [ResponseError::InvalidGroupId.code(); 2]);
}

#[tokio::test]
async fn offset_delete_drops_the_offsets_of_a_group_without_members() {
    let broker = broker().await;
    assert_eq!(create(&broker, "orders", 2).await, 0);
    assert_eq!(commit(&broker, "idle", "", -1, "orders", 3).await, [0, 0]);
    let delete = |group_id: &str| {
        OffsetDeleteRequest::default().with_group_id(group(group_id)).with_topics(vec![
            OffsetDeleteRequestTopic::default()
                .with_name(name("orders"))
                .with_partitions(vec![OffsetDeleteRequestPartition::default().with_partition_index(0)]),
        ])
    };
    let resp = offsets::delete(broker.groups(), &ctx(0), delete("idle")).await.await.unwrap();
    assert_eq!((resp.error_code, resp.topics[0].partitions[0].error_code), (0, 0));
    assert_eq!(fetched(&broker, "idle").await.1[..2], [(0, -1, String::new()), (1, 4, "m1".into())]);
    let resp = offsets::delete(broker.groups(), &ctx(0), delete("ghost")).await.await.unwrap();
    assert_eq!(resp.error_code, ResponseError::GroupIdNotFound.code());
}
