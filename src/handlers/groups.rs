//! Consumer group membership: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
//! DescribeGroups, ListGroups and DeleteGroups, over the [`crate::group::GroupCoordinator`].

use std::sync::Arc;
use std::time::Duration;

use futures::future::FutureExt;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{
    BrokerId, DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse,
    FindCoordinatorRequest, FindCoordinatorResponse, GroupId, HeartbeatRequest, HeartbeatResponse, JoinGroupRequest,
    JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse, ListGroupsRequest, ListGroupsResponse, SyncGroupRequest,
    SyncGroupResponse,
};
use kafka_protocol::protocol::{StrBytes, VersionRange};

use super::{ready, Pending, RequestContext};
use crate::broker::Broker;
use crate::config::Endpoint;
use crate::group::state::JoinParams;
use crate::group::GroupCoordinator;
use crate::host::Owner;

/// FindCoordinator versions served.
pub const FIND_COORDINATOR_VERSIONS: VersionRange = VersionRange { min: 0, max: 5 };
/// JoinGroup versions served.
pub const JOIN_VERSIONS: VersionRange = VersionRange { min: 0, max: 9 };
/// SyncGroup versions served.
pub const SYNC_VERSIONS: VersionRange = VersionRange { min: 0, max: 5 };
/// Heartbeat versions served.
pub const HEARTBEAT_VERSIONS: VersionRange = VersionRange { min: 0, max: 4 };
/// LeaveGroup versions served.
pub const LEAVE_VERSIONS: VersionRange = VersionRange { min: 0, max: 5 };
/// DescribeGroups versions served.
pub const DESCRIBE_VERSIONS: VersionRange = VersionRange { min: 0, max: 5 };
/// ListGroups versions served.
pub const LIST_VERSIONS: VersionRange = VersionRange { min: 0, max: 5 };
/// DeleteGroups versions served.
pub const DELETE_VERSIONS: VersionRange = VersionRange { min: 0, max: 2 };

const GROUP_KEY: i8 = 0;
/// FindCoordinator key type of a transactional id.
const TRANSACTION_KEY: i8 = 1;

fn code(result: Result<(), ResponseError>) -> i16 {
    result.err().map_or(0, |e| e.code())
}

/// The coordinator of a group is the owner of its `__consumer_offsets` partition; transaction
/// coordinators do not exist yet.
pub async fn find_coordinator(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: FindCoordinatorRequest,
) -> Pending<FindCoordinatorResponse> {
    let keys = if ctx.version >= 4 { req.coordinator_keys } else { vec![req.key] };
    let mut coordinators = Vec::with_capacity(keys.len());
    for key in keys {
        let found = match req.key_type {
            GROUP_KEY => coordinator_of(broker, &key).await,
            TRANSACTION_KEY => txn_coordinator_of(broker, &key).await,
            _ => Err(ResponseError::InvalidRequest),
        };
        let base = Coordinator::default().with_key(key);
        coordinators.push(match found {
            Ok((node, endpoint)) => base
                .with_node_id(BrokerId(node))
                .with_host(StrBytes::from_string(endpoint.host))
                .with_port(i32::from(endpoint.port)),
            Err(e) => base.with_node_id(BrokerId(-1)).with_port(-1).with_error_code(e.code()),
        });
    }
    if ctx.version >= 4 {
        return ready(FindCoordinatorResponse::default().with_coordinators(coordinators));
    }
    let c = coordinators.pop().unwrap_or_default();
    ready(
        FindCoordinatorResponse::default()
            .with_node_id(c.node_id)
            .with_host(c.host)
            .with_port(c.port)
            .with_error_code(c.error_code),
    )
}

/// The node id and address of the broker coordinating `group`.
async fn coordinator_of(broker: &Arc<Broker>, group: &str) -> Result<(i32, Endpoint), ResponseError> {
    let index = broker.groups().partition_of(group);
    match broker.owner(crate::names::OFFSETS_TOPIC, index).await {
        Ok(Owner::Local) => {
            // Start loading the group's partition now, so it is ready when the client comes.
            let _ = broker.groups().check(group);
            Ok((broker.node_id(), broker.advertised().clone()))
        }
        Ok(Owner::Remote(endpoint)) => Ok((endpoint.node_id(), endpoint)),
        Err(e) => {
            tracing::debug!(group, error = %e, "no coordinator");
            Err(ResponseError::CoordinatorNotAvailable)
        }
    }
}

/// The node id and address of the broker coordinating `transactional_id`.
async fn txn_coordinator_of(broker: &Arc<Broker>, transactional_id: &str) -> Result<(i32, Endpoint), ResponseError> {
    let Some(txns) = broker.transactions().coordinator() else {
        return Err(ResponseError::TransactionalIdAuthorizationFailed);
    };
    let index = txns.partition_of(transactional_id);
    match broker.owner(crate::names::TRANSACTION_TOPIC, index).await {
        Ok(Owner::Local) => {
            // Start loading its partition now, so it is ready when the producer comes.
            let _ = txns.check(transactional_id);
            Ok((broker.node_id(), broker.advertised().clone()))
        }
        Ok(Owner::Remote(endpoint)) => Ok((endpoint.node_id(), endpoint)),
        Err(e) => {
            tracing::debug!(transactional_id, error = %e, "no transaction coordinator");
            Err(ResponseError::CoordinatorNotAvailable)
        }
    }
}

/// Joins a member; the response waits until the rebalance completes.
pub async fn join(
    coordinator: &Arc<GroupCoordinator>,
    ctx: &RequestContext,
    req: JoinGroupRequest,
) -> Pending<JoinGroupResponse> {
    let groups = Arc::clone(coordinator);
    let version = ctx.version;
    let params = JoinParams {
        member_id: req.member_id.to_string(),
        instance_id: req.group_instance_id.map(|s| s.to_string()),
        client_id: ctx.client_id.clone().unwrap_or_default(),
        client_host: ctx.client_host.clone(),
        session_timeout: Duration::from_millis(req.session_timeout_ms.max(0) as u64),
        // v0 has no rebalance timeout: it is the session timeout.
        rebalance_timeout: Duration::from_millis(
            if version >= 1 { req.rebalance_timeout_ms } else { req.session_timeout_ms }.max(0) as u64,
        ),
        protocol_type: req.protocol_type.to_string(),
        protocols: req.protocols.into_iter().map(|p| (p.name.to_string(), p.metadata)).collect(),
        require_known_member_id: version >= 4,
    };
    let group_id = req.group_id.0.to_string();
    async move {
        let r = groups.join(&group_id, params).await;
        let members = r
            .members
            .into_iter()
            .map(|m| {
                JoinGroupResponseMember::default()
                    .with_member_id(StrBytes::from_string(m.member_id))
                    .with_group_instance_id(m.instance_id.filter(|_| version >= 5).map(StrBytes::from_string))
                    .with_metadata(m.metadata)
            })
            .collect();
        let mut response = JoinGroupResponse::default()
            .with_error_code(r.error.map_or(0, |e| e.code()))
            .with_generation_id(r.generation)
            .with_protocol_name(Some(StrBytes::from_string(r.protocol.unwrap_or_default())))
            .with_leader(StrBytes::from_string(r.leader))
            .with_member_id(StrBytes::from_string(r.member_id))
            .with_members(members);
        if version >= 7 {
            response.protocol_type = r.protocol_type.map(StrBytes::from_string);
        }
        Some(response)
    }
    .boxed()
}

/// Receives (from the leader) or hands out a member's assignment.
pub async fn sync(
    coordinator: &Arc<GroupCoordinator>,
    ctx: &RequestContext,
    req: SyncGroupRequest,
) -> Pending<SyncGroupResponse> {
    let groups = Arc::clone(coordinator);
    let version = ctx.version;
    async move {
        let assignments = req.assignments.into_iter().map(|a| (a.member_id.to_string(), a.assignment)).collect();
        let instance = req.group_instance_id.map(|s| s.to_string());
        let r = groups.sync(&req.group_id, &req.member_id, instance.as_deref(), req.generation_id, assignments).await;
        let mut response =
            SyncGroupResponse::default().with_error_code(r.error.map_or(0, |e| e.code())).with_assignment(r.assignment);
        if version >= 5 {
            response.protocol_type = r.protocol_type.map(StrBytes::from_string);
            response.protocol_name = r.protocol.map(StrBytes::from_string);
        }
        Some(response)
    }
    .boxed()
}

/// Keeps a member alive and tells it when to rejoin.
pub async fn heartbeat(
    coordinator: &Arc<GroupCoordinator>,
    _ctx: &RequestContext,
    req: HeartbeatRequest,
) -> Pending<HeartbeatResponse> {
    let instance = req.group_instance_id.map(|s| s.to_string());
    let result = coordinator.heartbeat(&req.group_id, &req.member_id, instance.as_deref(), req.generation_id);
    ready(HeartbeatResponse::default().with_error_code(code(result)))
}

/// Removes members (one before v3, a batch from v3).
pub async fn leave(
    coordinator: &Arc<GroupCoordinator>,
    ctx: &RequestContext,
    req: LeaveGroupRequest,
) -> Pending<LeaveGroupResponse> {
    let members: Vec<(String, Option<String>)> = if ctx.version >= 3 {
        req.members
            .iter()
            .map(|m| (m.member_id.to_string(), m.group_instance_id.as_ref().map(|s| s.to_string())))
            .collect()
    } else {
        vec![(req.member_id.to_string(), None)]
    };
    ready(match coordinator.leave(&req.group_id, &members) {
        Err(e) => LeaveGroupResponse::default().with_error_code(e.code()),
        Ok(results) if ctx.version >= 3 => LeaveGroupResponse::default().with_members(
            members
                .into_iter()
                .zip(results)
                .map(|((id, instance), r)| {
                    MemberResponse::default()
                        .with_member_id(StrBytes::from_string(id))
                        .with_group_instance_id(instance.map(StrBytes::from_string))
                        .with_error_code(code(r))
                })
                .collect(),
        ),
        Ok(results) => LeaveGroupResponse::default().with_error_code(results.into_iter().next().map_or(0, code)),
    })
}

/// Describes each group; an unknown group is reported `Dead`, as Kafka does.
pub async fn describe(
    coordinator: &Arc<GroupCoordinator>,
    ctx: &RequestContext,
    req: DescribeGroupsRequest,
) -> Pending<DescribeGroupsResponse> {
    let groups = req
        .groups
        .into_iter()
        .map(|id| {
            let base = DescribedGroup::default().with_group_id(id.clone());
            let d = match coordinator.describe(&id) {
                Ok(Some(d)) => d,
                Ok(None) => return base.with_group_state(StrBytes::from_static_str("Dead")),
                Err(e) => return base.with_error_code(e.code()),
            };
            let members = d
                .members
                .into_iter()
                .map(|m| {
                    DescribedGroupMember::default()
                        .with_member_id(StrBytes::from_string(m.member_id))
                        .with_group_instance_id(m.instance_id.filter(|_| ctx.version >= 4).map(StrBytes::from_string))
                        .with_client_id(StrBytes::from_string(m.client_id))
                        .with_client_host(StrBytes::from_string(m.client_host))
                        .with_member_metadata(m.metadata)
                        .with_member_assignment(m.assignment)
                })
                .collect();
            base.with_group_state(StrBytes::from_static_str(d.state))
                .with_protocol_type(StrBytes::from_string(d.protocol_type))
                .with_protocol_data(StrBytes::from_string(d.protocol))
                .with_members(members)
        })
        .collect();
    ready(DescribeGroupsResponse::default().with_groups(groups))
}

/// Lists groups, filtered by state (v4+) and type (v5+).
pub async fn list(
    coordinator: &Arc<GroupCoordinator>,
    ctx: &RequestContext,
    req: ListGroupsRequest,
) -> Pending<ListGroupsResponse> {
    let groups = coordinator
        .list()
        .into_iter()
        .filter(|g| req.states_filter.is_empty() || req.states_filter.iter().any(|s| s.eq_ignore_ascii_case(g.state)))
        .filter(|_| req.types_filter.is_empty() || req.types_filter.iter().any(|t| t.eq_ignore_ascii_case("classic")))
        .map(|listing| {
            let mut g = ListedGroup::default()
                .with_group_id(GroupId(StrBytes::from_string(listing.group_id)))
                .with_protocol_type(StrBytes::from_string(listing.protocol_type));
            if ctx.version >= 4 {
                g.group_state = StrBytes::from_static_str(listing.state);
            }
            if ctx.version >= 5 {
                g.group_type = StrBytes::from_static_str("classic");
            }
            g
        })
        .collect();
    ready(ListGroupsResponse::default().with_groups(groups))
}

/// Deletes empty groups and their offsets.
pub async fn delete(
    coordinator: &Arc<GroupCoordinator>,
    _ctx: &RequestContext,
    req: DeleteGroupsRequest,
) -> Pending<DeleteGroupsResponse> {
    let mut results = Vec::with_capacity(req.groups_names.len());
    for id in req.groups_names {
        let r = coordinator.delete_group(&id).await;
        results.push(DeletableGroupResult::default().with_group_id(id).with_error_code(code(r)));
    }
    ready(DeleteGroupsResponse::default().with_results(results))
}
