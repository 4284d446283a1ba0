//! One consumer group's membership and the classic rebalance protocol, as a state machine with no
//! I/O: callers pass the current time and get replies now or through a waiter that the machine
//! completes when the rebalance moves on.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use tokio::sync::oneshot;

use super::records::{Committed, GroupRecord};

/// Group states, named as DescribeGroups and ListGroups report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    /// No members.
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Joined; waiting for the leader's assignment.
    CompletingRebalance,
    /// Members have their assignments.
    Stable,
}

impl GroupState {
    /// The name Kafka uses.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
        }
    }
}

/// What a JoinGroup asks.
#[derive(Debug, Clone)]
pub struct JoinParams {
    /// Member id, empty on first join.
    pub member_id: String,
    /// Static membership id.
    pub instance_id: Option<String>,
    /// Client id from the request header.
    pub client_id: String,
    /// Client address.
    pub client_host: String,
    /// Session timeout.
    pub session_timeout: Duration,
    /// Rebalance timeout.
    pub rebalance_timeout: Duration,
    /// Protocol type, e.g. `consumer`.
    pub protocol_type: String,
    /// Supported protocols in preference order, with their metadata.
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+: an unknown member must first get its id (KIP-394).
    pub require_known_member_id: bool,
}

/// A JoinGroup answer.
#[derive(Debug, Clone, Default)]
pub struct JoinResult {
    /// Error, if any.
    pub error: Option<ResponseError>,
    /// Generation.
    pub generation: i32,
    /// Protocol type.
    pub protocol_type: Option<String>,
    /// Chosen protocol.
    pub protocol: Option<String>,
    /// Leader member id.
    pub leader: String,
    /// The member's id.
    pub member_id: String,
    /// For the leader: every member, with its metadata for the chosen protocol.
    pub members: Vec<JoinedMember>,
}

/// A member of the group as JoinGroup shows it to the leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedMember {
    /// The member's id.
    pub member_id: String,
    /// Its static instance id, if it has one.
    pub instance_id: Option<String>,
    /// Its subscription metadata for the chosen protocol.
    pub metadata: Bytes,
}

impl JoinResult {
    fn error(e: ResponseError, member_id: &str) -> Self {
        JoinResult { error: Some(e), generation: -1, member_id: member_id.to_string(), ..Default::default() }
    }
}

/// A SyncGroup answer.
#[derive(Debug, Clone, Default)]
pub struct SyncResult {
    /// Error, if any.
    pub error: Option<ResponseError>,
    /// Protocol type.
    pub protocol_type: Option<String>,
    /// Chosen protocol.
    pub protocol: Option<String>,
    /// The member's assignment.
    pub assignment: Bytes,
}

/// A reply now, or later through a waiter.
pub enum Reply<T> {
    /// The answer is ready.
    Now(T),
    /// The answer comes when the rebalance moves on.
    Later(oneshot::Receiver<T>),
}

/// A member of the group.
#[derive(Debug)]
pub struct Member {
    /// Member id.
    pub id: String,
    /// Static membership id.
    pub instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client address.
    pub client_host: String,
    session_timeout: Duration,
    rebalance_timeout: Duration,
    /// Supported protocols and their metadata.
    pub protocols: Vec<(String, Bytes)>,
    /// The assignment the leader gave it.
    pub assignment: Bytes,
    last_seen: Instant,
    join_waiter: Option<oneshot::Sender<JoinResult>>,
    sync_waiter: Option<oneshot::Sender<SyncResult>>,
}

impl Member {
    /// Metadata for `protocol`.
    pub fn metadata(&self, protocol: Option<&str>) -> Bytes {
        protocol
            .and_then(|p| self.protocols.iter().find(|(name, _)| name == p))
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}

/// A consumer group.
pub struct Group {
    /// Group id.
    pub id: String,
    /// Current state.
    pub state: GroupState,
    /// Generation; bumped by every completed join.
    pub generation: i32,
    /// Protocol type of the members.
    pub protocol_type: Option<String>,
    /// Chosen protocol.
    pub protocol: Option<String>,
    /// Leader's member id.
    pub leader: Option<String>,
    /// Members in join order.
    pub members: Vec<Member>,
    /// Committed offsets by (topic, partition).
    pub offsets: HashMap<(String, i32), Committed>,
    /// When the group entered its current state.
    pub state_since: Instant,
    pending: HashMap<String, Instant>,
    join_deadline: Option<Instant>,
    delay_until: Option<Instant>,
    initial_delay: Duration,
    dirty: bool,
}

impl Group {
    /// A new, empty group.
    pub fn new(id: &str, initial_delay: Duration, now: Instant) -> Self {
        Group {
            id: id.to_string(),
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: Vec::new(),
            offsets: HashMap::new(),
            state_since: now,
            pending: HashMap::new(),
            join_deadline: None,
            delay_until: None,
            initial_delay,
            dirty: false,
        }
    }

    /// A group restored from the offsets log: empty, at its stored generation.
    pub fn restore(&mut self, record: &GroupRecord) {
        self.generation = record.generation;
        self.protocol_type = Some(record.protocol_type.clone()).filter(|p| !p.is_empty());
        self.protocol = None;
        self.leader = None;
    }

    /// The durable part of the group, if it changed since the last call.
    pub fn take_dirty(&mut self, now_ms: i64) -> Option<GroupRecord> {
        if !std::mem::take(&mut self.dirty) {
            return None;
        }
        Some(GroupRecord {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol: self.protocol.clone(),
            leader: self.leader.clone(),
            state_timestamp: now_ms,
        })
    }

    fn set_state(&mut self, state: GroupState, now: Instant) {
        self.state = state;
        self.state_since = now;
    }

    fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    fn member_mut(&mut self, id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.id == id)
    }

    fn new_member_id(&mut self, client_id: &str) -> String {
        format!("{client_id}-{}", uuid::Uuid::new_v4())
    }

    /// Checks a member's identity for Heartbeat, SyncGroup, OffsetCommit and LeaveGroup.
    pub fn check_member(&self, member_id: &str, instance_id: Option<&str>) -> Result<(), ResponseError> {
        if let Some(instance) = instance_id {
            if let Some(m) = self.members.iter().find(|m| m.instance_id.as_deref() == Some(instance)) {
                if m.id != member_id {
                    return Err(ResponseError::FencedInstanceId);
                }
            }
        }
        match self.member(member_id) {
            Some(_) => Ok(()),
            None => Err(ResponseError::UnknownMemberId),
        }
    }

    fn supports(&self, p: &JoinParams) -> bool {
        if self.members.is_empty() {
            return !p.protocols.is_empty();
        }
        if self.protocol_type.as_deref().is_some_and(|t| t != p.protocol_type) {
            return false;
        }
        p.protocols.iter().any(|(name, _)| self.members.iter().all(|m| m.protocols.iter().any(|(n, _)| n == name)))
    }

    /// Handles JoinGroup.
    pub fn join(&mut self, p: JoinParams, now: Instant) -> Reply<JoinResult> {
        if !self.supports(&p) {
            return Reply::Now(JoinResult::error(ResponseError::InconsistentGroupProtocol, &p.member_id));
        }
        if p.member_id.is_empty() {
            // A static member coming back takes over its old place without a rebalance.
            if let Some(instance) = &p.instance_id {
                if let Some(pos) = self.members.iter().position(|m| m.instance_id.as_ref() == Some(instance)) {
                    let new_id = self.new_member_id(&p.client_id);
                    let old_id = std::mem::replace(&mut self.members[pos].id, new_id.clone());
                    if self.leader.as_deref() == Some(old_id.as_str()) {
                        self.leader = Some(new_id.clone());
                    }
                    let fenced = self.members[pos].join_waiter.take();
                    if let Some(w) = fenced {
                        let _ = w.send(JoinResult::error(ResponseError::FencedInstanceId, &old_id));
                    }
                    self.update_member(pos, &p, now);
                    if self.state == GroupState::Stable {
                        return Reply::Now(self.join_result_for(&new_id, false));
                    }
                    return self.wait_for_join(pos, now);
                }
            } else if p.require_known_member_id {
                let id = self.new_member_id(&p.client_id);
                self.pending.insert(id.clone(), now + p.session_timeout);
                return Reply::Now(JoinResult::error(ResponseError::MemberIdRequired, &id));
            }
            let id = self.new_member_id(&p.client_id);
            return self.add_member(id, p, now);
        }
        if self.pending.remove(&p.member_id).is_some() {
            let id = p.member_id.clone();
            return self.add_member(id, p, now);
        }
        if let Err(e) = self.check_member(&p.member_id, p.instance_id.as_deref()) {
            return Reply::Now(JoinResult::error(e, &p.member_id));
        }
        let pos = self.members.iter().position(|m| m.id == p.member_id).unwrap_or_default();
        let unchanged = self.members[pos].protocols == p.protocols;
        let is_leader = self.leader.as_deref() == Some(p.member_id.as_str());
        self.update_member(pos, &p, now);
        if self.state == GroupState::Stable && unchanged && !is_leader {
            return Reply::Now(self.join_result_for(&p.member_id, false));
        }
        self.wait_for_join(pos, now)
    }

    fn update_member(&mut self, pos: usize, p: &JoinParams, now: Instant) {
        let m = &mut self.members[pos];
        m.protocols = p.protocols.clone();
        m.session_timeout = p.session_timeout;
        m.rebalance_timeout = p.rebalance_timeout;
        m.client_id = p.client_id.clone();
        m.client_host = p.client_host.clone();
        m.last_seen = now;
    }

    fn add_member(&mut self, id: String, p: JoinParams, now: Instant) -> Reply<JoinResult> {
        if self.members.is_empty() {
            self.protocol_type = Some(p.protocol_type.clone());
        }
        self.members.push(Member {
            id,
            instance_id: p.instance_id,
            client_id: p.client_id,
            client_host: p.client_host,
            session_timeout: p.session_timeout,
            rebalance_timeout: p.rebalance_timeout,
            protocols: p.protocols,
            assignment: Bytes::new(),
            last_seen: now,
            join_waiter: None,
            sync_waiter: None,
        });
        let pos = self.members.len() - 1;
        self.wait_for_join(pos, now)
    }

    fn wait_for_join(&mut self, pos: usize, now: Instant) -> Reply<JoinResult> {
        let (tx, rx) = oneshot::channel();
        self.members[pos].join_waiter = Some(tx);
        if self.state != GroupState::PreparingRebalance {
            self.prepare_rebalance(now);
        }
        self.maybe_complete_join(now);
        Reply::Later(rx)
    }

    fn prepare_rebalance(&mut self, now: Instant) {
        for m in &mut self.members {
            if let Some(w) = m.sync_waiter.take() {
                let _ = w.send(SyncResult { error: Some(ResponseError::RebalanceInProgress), ..Default::default() });
            }
        }
        let longest = self.members.iter().map(|m| m.rebalance_timeout).max().unwrap_or_default();
        self.join_deadline = Some(now + longest.max(Duration::from_millis(100)));
        self.delay_until = (self.state == GroupState::Empty).then(|| now + self.initial_delay.min(longest));
        self.set_state(GroupState::PreparingRebalance, now);
    }

    fn maybe_complete_join(&mut self, now: Instant) {
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        let all_joined = self.members.iter().all(|m| m.join_waiter.is_some()) && self.pending.is_empty();
        let delayed = self.delay_until.is_some_and(|d| now < d);
        let timed_out = self.join_deadline.is_some_and(|d| now >= d);
        if (all_joined && !delayed) || timed_out {
            self.complete_join(now);
        }
    }

    fn complete_join(&mut self, now: Instant) {
        self.members.retain(|m| m.join_waiter.is_some());
        self.pending.clear();
        self.generation += 1;
        self.dirty = true;
        if self.members.is_empty() {
            self.protocol = None;
            self.leader = None;
            self.set_state(GroupState::Empty, now);
            return;
        }
        self.protocol = self.members[0]
            .protocols
            .iter()
            .map(|(name, _)| name.clone())
            .find(|name| self.members.iter().all(|m| m.protocols.iter().any(|(n, _)| n == name)));
        if self.leader.as_ref().is_none_or(|l| self.member(l).is_none()) {
            self.leader = Some(self.members[0].id.clone());
        }
        self.set_state(GroupState::CompletingRebalance, now);
        let ids: Vec<String> = self.members.iter().map(|m| m.id.clone()).collect();
        for id in ids {
            let is_leader = self.leader.as_deref() == Some(id.as_str());
            let result = self.join_result_for(&id, is_leader);
            if let Some(m) = self.member_mut(&id) {
                m.last_seen = now;
                if let Some(w) = m.join_waiter.take() {
                    let _ = w.send(result);
                }
            }
        }
    }

    fn join_result_for(&self, member_id: &str, with_members: bool) -> JoinResult {
        let members = if with_members {
            self.members
                .iter()
                .map(|m| JoinedMember {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    metadata: m.metadata(self.protocol.as_deref()),
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinResult {
            error: None,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol: self.protocol.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            member_id: member_id.to_string(),
            members,
        }
    }

    /// Handles SyncGroup.
    pub fn sync(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        assignments: Vec<(String, Bytes)>,
        now: Instant,
    ) -> Reply<SyncResult> {
        let fail = |e| Reply::Now(SyncResult { error: Some(e), ..Default::default() });
        if let Err(e) = self.check_member(member_id, instance_id) {
            return fail(e);
        }
        if generation != self.generation {
            return fail(ResponseError::IllegalGeneration);
        }
        if let Some(m) = self.member_mut(member_id) {
            m.last_seen = now;
        }
        match self.state {
            GroupState::Empty | GroupState::PreparingRebalance => fail(ResponseError::RebalanceInProgress),
            GroupState::Stable => Reply::Now(self.sync_result(member_id)),
            GroupState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                if let Some(m) = self.member_mut(member_id) {
                    m.sync_waiter = Some(tx);
                }
                if self.leader.as_deref() == Some(member_id) {
                    for m in &mut self.members {
                        m.assignment =
                            assignments.iter().find(|(id, _)| *id == m.id).map(|(_, a)| a.clone()).unwrap_or_default();
                    }
                    self.set_state(GroupState::Stable, now);
                    self.dirty = true;
                    let ids: Vec<String> = self.members.iter().map(|m| m.id.clone()).collect();
                    for id in ids {
                        let result = self.sync_result(&id);
                        if let Some(w) = self.member_mut(&id).and_then(|m| m.sync_waiter.take()) {
                            let _ = w.send(result);
                        }
                    }
                }
                Reply::Later(rx)
            }
        }
    }

    fn sync_result(&self, member_id: &str) -> SyncResult {
        SyncResult {
            error: None,
            protocol_type: self.protocol_type.clone(),
            protocol: self.protocol.clone(),
            assignment: self.member(member_id).map(|m| m.assignment.clone()).unwrap_or_default(),
        }
    }

    /// Handles Heartbeat.
    pub fn heartbeat(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        now: Instant,
    ) -> Result<(), ResponseError> {
        self.check_member(member_id, instance_id)?;
        if let Some(m) = self.member_mut(member_id) {
            m.last_seen = now;
        }
        match self.state {
            GroupState::PreparingRebalance => Err(ResponseError::RebalanceInProgress),
            _ if generation != self.generation => Err(ResponseError::IllegalGeneration),
            _ => Ok(()),
        }
    }

    /// Notes that a member is alive (an offset commit counts).
    pub fn touch(&mut self, member_id: &str, now: Instant) {
        if let Some(m) = self.member_mut(member_id) {
            m.last_seen = now;
        }
    }

    /// Handles one member of a LeaveGroup; an empty member id with an instance id names a static member.
    pub fn leave(&mut self, member_id: &str, instance_id: Option<&str>, now: Instant) -> Result<(), ResponseError> {
        let pos = if member_id.is_empty() {
            self.members.iter().position(|m| m.instance_id.is_some() && m.instance_id.as_deref() == instance_id)
        } else {
            self.check_member(member_id, instance_id)?;
            self.members.iter().position(|m| m.id == member_id)
        };
        let Some(pos) = pos else { return Err(ResponseError::UnknownMemberId) };
        self.members.remove(pos);
        self.after_departure(now);
        Ok(())
    }

    fn after_departure(&mut self, now: Instant) {
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(now);
                self.maybe_complete_join(now);
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(now),
            GroupState::Empty => {}
        }
    }

    /// Expires silent members and moves a rebalance along when its time has come.
    pub fn tick(&mut self, now: Instant) {
        self.pending.retain(|_, deadline| *deadline > now);
        let before = self.members.len();
        let rebalancing = self.state == GroupState::PreparingRebalance;
        self.members.retain(|m| (rebalancing && m.join_waiter.is_some()) || now < m.last_seen + m.session_timeout);
        if self.members.len() != before {
            self.after_departure(now);
        }
        self.maybe_complete_join(now);
    }

    /// The earliest instant at which [`Group::tick`] has something to do: a pending member or a
    /// silent one expiring, a rebalance delay or timeout ending.
    pub fn next_deadline(&self) -> Option<Instant> {
        let rebalancing = self.state == GroupState::PreparingRebalance;
        let pending = self.pending.values().copied();
        let sessions = self
            .members
            .iter()
            .filter(|m| !(rebalancing && m.join_waiter.is_some()))
            .filter_map(|m| m.last_seen.checked_add(m.session_timeout));
        let rebalance = [self.join_deadline, self.delay_until].into_iter().flatten().filter(|_| rebalancing);
        pending.chain(sessions).chain(rebalance).min()
    }

    /// Whether the group holds nothing worth keeping: no members (not even ones asked to rejoin
    /// with their new id) and no committed offsets.
    pub fn is_idle(&self) -> bool {
        self.state == GroupState::Empty && self.members.is_empty() && self.pending.is_empty() && self.offsets.is_empty()
    }

    /// Whether `topic` is in any member's consumer subscription.
    pub fn subscribed_to(&self, topic: &str) -> bool {
        use kafka_protocol::messages::ConsumerProtocolSubscription;
        if self.protocol_type.as_deref() != Some("consumer") {
            return false;
        }
        self.members.iter().any(|m| {
            let mut meta = m.metadata(self.protocol.as_deref());
            if meta.len() < 2 {
                return false;
            }
            let version = i16::from_be_bytes([meta[0], meta[1]]);
            let _ = bytes::Buf::get_i16(&mut meta);
            // Member metadata is the client's own bytes: decoded with bounded allocations.
            crate::protocol::bounded::decode::<ConsumerProtocolSubscription>(&meta, version)
                .map(|s| s.topics.iter().any(|t| t.as_str() == topic))
                .unwrap_or(true)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(member_id: &str, protocols: &[&str]) -> JoinParams {
        JoinParams {
            member_id: member_id.into(),
            instance_id: None,
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout: Duration::from_secs(10),
            rebalance_timeout: Duration::from_secs(30),
            protocol_type: "consumer".into(),
            protocols: protocols.iter().map(|p| (p.to_string(), Bytes::from_static(b"meta"))).collect(),
            require_known_member_id: true,
        }
    }

    fn now_reply<T>(r: Reply<T>) -> T {
        match r {
            Reply::Now(t) => t,
            Reply::Later(mut rx) => rx.try_recv().expect("reply should be ready"),
        }
    }

    #[test]
    fn two_members_join_sync_and_one_leaves() {
        let t0 = Instant::now();
        let mut g = Group::new("g", Duration::ZERO, t0);
        let first = now_reply(g.join(params("", &["range"]), t0));
        assert_eq!(first.error, Some(ResponseError::MemberIdRequired));
        let a = first.member_id;
        let Reply::Later(mut rx_a) = g.join(params(&a, &["range"]), t0) else { panic!() };
        let joined_a = rx_a.try_recv().expect("alone, the join completes at once");
        assert_eq!((joined_a.generation, joined_a.leader.as_str(), joined_a.members.len()), (1, a.as_str(), 1));

        let b = now_reply(g.join(params("", &["roundrobin", "range"]), t0)).member_id;
        let Reply::Later(mut rx_b) = g.join(params(&b, &["roundrobin", "range"]), t0) else { panic!() };
        assert_eq!(g.state, GroupState::PreparingRebalance);
        assert_eq!(g.heartbeat(&a, None, 1, t0), Err(ResponseError::RebalanceInProgress));
        let Reply::Later(mut rx_a) = g.join(params(&a, &["range"]), t0) else { panic!() };
        let (ja, jb) = (rx_a.try_recv().unwrap(), rx_b.try_recv().unwrap());
        assert_eq!((ja.generation, ja.protocol.as_deref()), (2, Some("range")));
        assert_eq!((ja.members.len(), jb.members.len()), (2, 0), "only the leader gets the members");

        let Reply::Later(mut sync_b) = g.sync(&b, None, 2, vec![], t0) else { panic!("follower waits") };
        let assignments = vec![(a.clone(), Bytes::from_static(b"A")), (b.clone(), Bytes::from_static(b"B"))];
        let sync_a = now_reply(g.sync(&a, None, 2, assignments, t0));
        assert_eq!(sync_a.assignment, Bytes::from_static(b"A"));
        assert_eq!(sync_b.try_recv().unwrap().assignment, Bytes::from_static(b"B"));
        assert_eq!(g.state, GroupState::Stable);
        assert_eq!(g.heartbeat(&a, None, 1, t0), Err(ResponseError::IllegalGeneration));
        assert_eq!(g.heartbeat("nobody", None, 2, t0), Err(ResponseError::UnknownMemberId));

        g.leave(&b, None, t0).unwrap();
        assert_eq!(g.state, GroupState::PreparingRebalance);
        let Reply::Later(mut rx_a) = g.join(params(&a, &["range"]), t0) else { panic!() };
        assert_eq!(rx_a.try_recv().unwrap().generation, 3);
    }

    #[test]
    fn silent_members_expire_and_the_group_empties() {
        let t0 = Instant::now();
        let mut g = Group::new("g", Duration::ZERO, t0);
        let mut p = params("", &["range"]);
        p.require_known_member_id = false;
        let Reply::Later(mut rx) = g.join(p, t0) else { panic!() };
        let a = rx.try_recv().unwrap().member_id;
        now_reply(g.sync(&a, None, 1, vec![(a.clone(), Bytes::from_static(b"x"))], t0));
        g.tick(t0 + Duration::from_secs(11));
        assert_eq!(g.state, GroupState::Empty);
        assert!(g.members.is_empty());
    }

    #[test]
    fn the_next_deadline_is_the_delay_then_the_session() {
        let t0 = Instant::now();
        let mut g = Group::new("g", Duration::from_secs(3), t0);
        assert_eq!(g.next_deadline(), None, "an empty group has nothing to wait for");
        let mut p = params("", &["range"]);
        p.require_known_member_id = false;
        let Reply::Later(mut rx) = g.join(p, t0) else { panic!() };
        assert_eq!(g.next_deadline(), Some(t0 + Duration::from_secs(3)), "the initial delay, not the session");
        let t1 = t0 + Duration::from_secs(3);
        g.tick(t1);
        let a = rx.try_recv().expect("the join completes when the delay ends").member_id;
        now_reply(g.sync(&a, None, 1, vec![(a.clone(), Bytes::from_static(b"x"))], t1));
        assert_eq!(g.next_deadline(), Some(t1 + Duration::from_secs(10)), "a stable member's session");
        g.heartbeat(&a, None, 1, t1 + Duration::from_secs(4)).unwrap();
        assert_eq!(g.next_deadline(), Some(t1 + Duration::from_secs(14)), "a heartbeat moves it on");
    }

    #[test]
    fn a_static_member_rejoins_without_a_rebalance() {
        let t0 = Instant::now();
        let mut g = Group::new("g", Duration::ZERO, t0);
        let mut p = params("", &["range"]);
        p.instance_id = Some("i-1".into());
        let Reply::Later(mut rx) = g.join(p.clone(), t0) else { panic!() };
        let old = rx.try_recv().unwrap().member_id;
        now_reply(g.sync(&old, Some("i-1"), 1, vec![(old.clone(), Bytes::from_static(b"mine"))], t0));
        let again = now_reply(g.join(p, t0));
        assert_eq!((again.error, again.generation), (None, 1));
        assert_ne!(again.member_id, old);
        assert_eq!(g.state, GroupState::Stable);
        assert_eq!(
            now_reply(g.sync(&again.member_id, Some("i-1"), 1, vec![], t0)).assignment,
            Bytes::from_static(b"mine")
        );
        assert_eq!(g.heartbeat(&old, Some("i-1"), 1, t0), Err(ResponseError::FencedInstanceId));
    }
}
