//! Group membership: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
//! DescribeGroups, ListGroups and DeleteGroups, as a consumer and an admin tool use them.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    BrokerId, DeleteGroupsRequest, DescribeGroupsRequest, FindCoordinatorRequest, GroupId, HeartbeatRequest,
    JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, ListGroupsRequest, SyncGroupRequest,
};
use kafka_protocol::protocol::StrBytes;

use super::super::groups;
use super::{broker, ctx};
use crate::broker::Broker;

fn group(id: &str) -> GroupId {
    GroupId(StrBytes::from_string(id.to_string()))
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

async fn join(broker: &Arc<Broker>, group_id: &str, member_id: &str) -> JoinGroupResponse {
    let req = JoinGroupRequest::default()
        .with_group_id(group(group_id))
        .with_member_id(text(member_id))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_protocol_type(text("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(text("range"))
            .with_metadata(Bytes::from_static(b"subscription"))]);
    groups::join(broker.groups(), &ctx(9), req).await.await.expect("a response")
}

async fn heartbeat(broker: &Arc<Broker>, group_id: &str, member_id: &str, generation: i32) -> i16 {
    let req = HeartbeatRequest::default()
        .with_group_id(group(group_id))
        .with_member_id(text(member_id))
        .with_generation_id(generation);
    groups::heartbeat(broker.groups(), &ctx(4), req).await.await.expect("a response").error_code
}

/// A member that joined `group_id` alone and got its assignment: (member id, generation).
pub(super) async fn stable_member(broker: &Arc<Broker>, group_id: &str) -> (String, i32) {
    let first = join(broker, group_id, "").await;
    assert_eq!(first.error_code, ResponseError::MemberIdRequired.code(), "v4+: the member id comes first");
    let member = first.member_id.to_string();
    let joined = join(broker, group_id, &member).await;
    assert_eq!((joined.error_code, joined.leader.as_str()), (0, member.as_str()), "a lone member leads");
    assert_eq!(joined.members.len(), 1, "the leader learns the subscriptions");
    let sync = SyncGroupRequest::default()
        .with_group_id(group(group_id))
        .with_member_id(text(&member))
        .with_generation_id(joined.generation_id)
        .with_assignments(vec![SyncGroupRequestAssignment::default()
            .with_member_id(text(&member))
            .with_assignment(Bytes::from_static(b"partitions"))]);
    let synced = groups::sync(broker.groups(), &ctx(5), sync).await.await.expect("a response");
    assert_eq!((synced.error_code, &synced.assignment[..]), (0, &b"partitions"[..]));
    assert_eq!(synced.protocol_name.as_deref(), Some("range"));
    (member, joined.generation_id)
}

#[tokio::test]
async fn find_coordinator_names_this_broker_for_groups_and_transactional_ids() {
    let broker = broker().await;
    let v3 = FindCoordinatorRequest::default().with_key(text("g")).with_key_type(0);
    let resp = groups::find_coordinator(&broker, &ctx(3), v3).await.await.unwrap();
    assert_eq!((resp.error_code, resp.node_id, resp.port), (0, BrokerId(broker.node_id()), 0));
    let v4 = FindCoordinatorRequest::default().with_key_type(0).with_coordinator_keys(vec![text("a"), text("b")]);
    let resp = groups::find_coordinator(&broker, &ctx(4), v4).await.await.unwrap();
    assert_eq!(resp.coordinators.len(), 2, "one answer per key");
    assert!(resp.coordinators.iter().all(|c| c.error_code == 0 && c.node_id == BrokerId(broker.node_id())));
    let txn = FindCoordinatorRequest::default().with_key_type(1).with_coordinator_keys(vec![text("tx")]);
    let resp = groups::find_coordinator(&broker, &ctx(4), txn).await.await.unwrap();
    assert_eq!((resp.coordinators[0].error_code, resp.coordinators[0].node_id), (0, BrokerId(broker.node_id())));
    let other = FindCoordinatorRequest::default().with_key_type(5).with_coordinator_keys(vec![text("x")]);
    let resp = groups::find_coordinator(&broker, &ctx(4), other).await.await.unwrap();
    assert_eq!(resp.coordinators[0].error_code, ResponseError::InvalidRequest.code());
}

#[tokio::test]
async fn a_member_joins_syncs_heartbeats_and_leaves() {
    let broker = broker().await;
    let (member, generation) = stable_member(&broker, "g").await;
    assert_eq!(heartbeat(&broker, "g", &member, generation).await, 0);
    assert_eq!(heartbeat(&broker, "g", &member, generation + 1).await, ResponseError::IllegalGeneration.code());
    assert_eq!(heartbeat(&broker, "g", "stranger", generation).await, ResponseError::UnknownMemberId.code());
    assert_eq!(heartbeat(&broker, "nobody", &member, generation).await, ResponseError::UnknownMemberId.code());

    let leave = LeaveGroupRequest::default().with_group_id(group("g")).with_members(vec![
        MemberIdentity::default().with_member_id(text(&member)),
        MemberIdentity::default().with_member_id(text("stranger")),
    ]);
    let left = groups::leave(broker.groups(), &ctx(5), leave).await.await.unwrap();
    let codes: Vec<i16> = left.members.iter().map(|m| m.error_code).collect();
    assert_eq!(codes, [0, ResponseError::UnknownMemberId.code()], "each member answered on its own");
    assert_eq!(heartbeat(&broker, "g", &member, generation).await, ResponseError::UnknownMemberId.code());
}

#[tokio::test]
async fn join_refuses_bad_groups_and_timeouts() {
    let broker = broker().await;
    assert_eq!(join(&broker, "", "").await.error_code, ResponseError::InvalidGroupId.code());
    let short = JoinGroupRequest::default()
        .with_group_id(group("g"))
        .with_session_timeout_ms(1)
        .with_rebalance_timeout_ms(1000)
        .with_protocol_type(text("consumer"));
    let resp = groups::join(broker.groups(), &ctx(9), short).await.await.unwrap();
    assert_eq!(resp.error_code, ResponseError::InvalidSessionTimeout.code());
    let sync = SyncGroupRequest::default().with_group_id(group("none")).with_member_id(text("m"));
    let resp = groups::sync(broker.groups(), &ctx(5), sync).await.await.unwrap();
    assert_eq!(resp.error_code, ResponseError::UnknownMemberId.code());
}

#[tokio::test]
async fn describe_list_and_delete_show_groups_as_admin_tools_expect() {
    let broker = broker().await;
    let (member, _) = stable_member(&broker, "busy").await;
    let described = DescribeGroupsRequest::default().with_groups(vec![group("busy"), group("ghost")]);
    let resp = groups::describe(broker.groups(), &ctx(5), described).await.await.unwrap();
    let busy = &resp.groups[0];
    assert_eq!(
        (busy.group_state.as_str(), busy.protocol_type.as_str(), busy.protocol_data.as_str()),
        ("Stable", "consumer", "range")
    );
    assert_eq!(busy.members.len(), 1);
    let m = &busy.members[0];
    assert_eq!(
        (m.member_id.as_str(), m.client_id.as_str(), m.client_host.as_str()),
        (member.as_str(), "handler-tests", "/127.0.0.1")
    );
    assert_eq!((&m.member_metadata[..], &m.member_assignment[..]), (&b"subscription"[..], &b"partitions"[..]));
    assert_eq!(resp.groups[1].group_state.as_str(), "Dead", "an unknown group is Dead, as in Kafka");

    let listed = groups::list(broker.groups(), &ctx(4), ListGroupsRequest::default()).await.await.unwrap();
    assert_eq!(listed.groups.len(), 1);
    assert_eq!((listed.groups[0].group_id.as_str(), listed.groups[0].group_state.as_str()), ("busy", "Stable"));
    let filtered = ListGroupsRequest::default().with_states_filter(vec![text("Empty")]);
    assert!(groups::list(broker.groups(), &ctx(4), filtered).await.await.unwrap().groups.is_empty());

    let delete = |ids: Vec<GroupId>| {
        let broker = broker.clone();
        async move {
            let resp =
                groups::delete(broker.groups(), &ctx(2), DeleteGroupsRequest::default().with_groups_names(ids)).await;
            resp.await.unwrap().results.into_iter().map(|r| r.error_code).collect::<Vec<i16>>()
        }
    };
    assert_eq!(
        delete(vec![group("busy"), group("ghost")]).await,
        [ResponseError::NonEmptyGroup.code(), ResponseError::GroupIdNotFound.code()]
    );
    let leave = LeaveGroupRequest::default()
        .with_group_id(group("busy"))
        .with_members(vec![MemberIdentity::default().with_member_id(text(&member))]);
    groups::leave(broker.groups(), &ctx(5), leave).await.await.unwrap();
    assert_eq!(delete(vec![group("busy")]).await, [0]);
    let after = groups::list(broker.groups(), &ctx(4), ListGroupsRequest::default()).await.await.unwrap();
    assert!(after.groups.is_empty(), "a deleted group is gone");
}
