//! The coordinator's client API: one method per group request, each checking first that this
//! broker coordinates the group.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;

use super::offsets_log::LogEntry;
use super::records::{self, Committed};
use super::state::{Group, GroupState, JoinParams, JoinResult, Reply, SyncResult};
use super::{CommitItem, GroupCoordinator, GroupDescription, GroupListing, MemberDescription, PendingOffset};
use crate::clock::now_ms;

/// A commit item that passed the checks: topic, partition and what is committed.
type Accepted = (String, i32, Committed);

impl GroupCoordinator {
    /// JoinGroup.
    pub async fn join(self: &Arc<Self>, group_id: &str, params: JoinParams) -> JoinResult {
        if group_id.is_empty() {
            return JoinResult { error: Some(ResponseError::InvalidGroupId), generation: -1, ..Default::default() };
        }
        if let Err(e) = self.check(group_id) {
            return JoinResult { error: Some(e), generation: -1, member_id: params.member_id, ..Default::default() };
        }
        if params.session_timeout < self.config.min_session_timeout
            || params.session_timeout > self.config.max_session_timeout
        {
            return JoinResult {
                error: Some(ResponseError::InvalidSessionTimeout),
                generation: -1,
                member_id: params.member_id,
                ..Default::default()
            };
        }
        let reply = {
            let mut groups = self.lock_changing();
            let delay = self.config.initial_rebalance_delay;
            let group =
                groups.entry(group_id.to_string()).or_insert_with(|| Group::new(group_id, delay, Instant::now()));
            group.join(params, Instant::now())
        };
        self.persist_dirty(group_id);
        let result = match reply {
            Reply::Now(r) => r,
            Reply::Later(rx) => rx.await.unwrap_or_else(|_| JoinResult {
                error: Some(ResponseError::UnknownMemberId),
                generation: -1,
                ..Default::default()
            }),
        };
        self.persist_dirty(group_id);
        result
    }

    /// SyncGroup.
    pub async fn sync(
        self: &Arc<Self>,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        assignments: Vec<(String, Bytes)>,
    ) -> SyncResult {
        if let Err(e) = self.check(group_id) {
            return SyncResult { error: Some(e), ..Default::default() };
        }
        let reply = match self.lock_changing().get_mut(group_id) {
            None => Reply::Now(SyncResult { error: Some(ResponseError::UnknownMemberId), ..Default::default() }),
            Some(g) => g.sync(member_id, instance_id, generation, assignments, Instant::now()),
        };
        self.persist_dirty(group_id);
        match reply {
            Reply::Now(r) => r,
            Reply::Later(rx) => {
                rx.await.unwrap_or(SyncResult { error: Some(ResponseError::RebalanceInProgress), ..Default::default() })
            }
        }
    }

    /// Heartbeat.
    pub fn heartbeat(
        self: &Arc<Self>,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> Result<(), ResponseError> {
        self.check(group_id)?;
        // A heartbeat only moves its member's deadline later: the ticker need not wake.
        match self.lock().get_mut(group_id) {
            None => Err(ResponseError::UnknownMemberId),
            Some(g) => g.heartbeat(member_id, instance_id, generation, Instant::now()),
        }
    }

    /// LeaveGroup for each `(member id, instance id)`.
    pub fn leave(
        self: &Arc<Self>,
        group_id: &str,
        members: &[(String, Option<String>)],
    ) -> Result<Vec<Result<(), ResponseError>>, ResponseError> {
        self.check(group_id)?;
        let results = {
            let mut groups = self.lock_changing();
            let Some(g) = groups.get_mut(group_id) else { return Err(ResponseError::UnknownMemberId) };
            members.iter().map(|(m, i)| g.leave(m, i.as_deref(), Instant::now())).collect()
        };
        self.persist_dirty(group_id);
        Ok(results)
    }

    /// OffsetCommit; `generation < 0` with an empty member id is a commit by a simple consumer.
    pub async fn commit(
        self: &Arc<Self>,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        items: Vec<CommitItem>,
    ) -> Result<Vec<Result<(), ResponseError>>, ResponseError> {
        if group_id.is_empty() {
            return Err(ResponseError::InvalidGroupId);
        }
        self.check(group_id)?;
        {
            let mut groups = self.lock();
            let delay = self.config.initial_rebalance_delay;
            let g = groups.entry(group_id.to_string()).or_insert_with(|| Group::new(group_id, delay, Instant::now()));
            let simple = generation < 0 && member_id.is_empty();
            if !(simple && g.members.is_empty()) {
                if g.state == GroupState::CompletingRebalance {
                    return Err(ResponseError::RebalanceInProgress);
                }
                g.check_member(member_id, instance_id)?;
                if generation != g.generation {
                    return Err(ResponseError::IllegalGeneration);
                }
                g.touch(member_id, Instant::now());
            }
        }
        let (results, accepted) = self.accept(items);
        if let Err(e) = self.store_offsets(group_id, accepted).await {
            return Ok(results.into_iter().map(|r| r.and(Err(e))).collect());
        }
        Ok(results)
    }

    /// Offsets committed inside a transaction (TxnOffsetCommit): written to the group's offsets
    /// partition in a batch of the producer's transaction (`producer`: id and epoch), and held
    /// back until the transaction's marker commits them there, or dropped if it aborts. A broker
    /// that takes the partition over finds them in the log. The member checks are those of
    /// OffsetCommit, for members that name themselves (KIP-447).
    pub async fn txn_commit(
        self: &Arc<Self>,
        group_id: &str,
        producer: (i64, i16),
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        items: Vec<CommitItem>,
    ) -> Result<Vec<Result<(), ResponseError>>, ResponseError> {
        if group_id.is_empty() {
            return Err(ResponseError::InvalidGroupId);
        }
        self.check(group_id)?;
        if generation >= 0 && !member_id.is_empty() {
            let mut groups = self.lock();
            let Some(g) = groups.get_mut(group_id) else { return Err(ResponseError::UnknownMemberId) };
            g.check_member(member_id, instance_id)?;
            if generation != g.generation {
                return Err(ResponseError::IllegalGeneration);
            }
        }
        let (results, accepted) = self.accept(items);
        if accepted.is_empty() {
            return Ok(results);
        }
        let entries = accepted
            .iter()
            .map(|(t, p, c)| (records::offset_key(group_id, t, *p), Some(records::offset_value(c))))
            .collect();
        let index = self.partition_of(group_id);
        let written = self.log.write_in_transaction(index, entries, producer).await;
        self.written(index, written)?;
        let mut pending = self.pending_txn_offsets();
        let held = pending.entry(producer.0).or_default();
        held.extend(accepted.into_iter().map(|(t, p, c)| (group_id.to_string(), t, p, c)));
        Ok(results)
    }

    /// Ends the transaction of `producer` (id and epoch) for the groups stored in offsets
    /// partition `index` (that partition's transaction marker): the marker goes into the log,
    /// then the held offsets count, or are dropped.
    pub async fn end_txn(
        self: &Arc<Self>,
        producer: (i64, i16),
        index: u32,
        commit: bool,
    ) -> Result<(), ResponseError> {
        let (producer_id, epoch) = producer;
        let mine: Vec<PendingOffset> = {
            let mut pending = self.pending_txn_offsets();
            let held = pending.remove(&producer_id).unwrap_or_default();
            let (mine, rest): (Vec<_>, Vec<_>) = held.into_iter().partition(|(g, ..)| self.partition_of(g) == index);
            if !rest.is_empty() {
                pending.insert(producer_id, rest);
            }
            mine
        };
        // Written even with nothing held: it also tells the partition the producer's new epoch,
        // so offsets its fenced predecessor sends later are refused.
        let written = self.log.write_marker(index, producer_id, epoch, commit).await;
        if written.is_err() {
            // Held again for the coordinator's next try, unless the partition moved (then its new
            // owner replays them).
            self.pending_txn_offsets().entry(producer_id).or_default().extend(mine);
            return self.written(index, written);
        }
        if commit {
            self.apply_committed(mine);
        }
        Ok(())
    }

    /// The commit items that pass the checks, stamped with the commit time, and each item's
    /// result.
    fn accept(&self, items: Vec<CommitItem>) -> (Vec<Result<(), ResponseError>>, Vec<Accepted>) {
        let now = now_ms();
        let mut results = Vec::with_capacity(items.len());
        let mut accepted = Vec::new();
        for item in items {
            let metadata = item.metadata.unwrap_or_default();
            if metadata.len() > self.config.max_metadata_size {
                results.push(Err(ResponseError::OffsetMetadataTooLarge));
                continue;
            }
            let committed =
                Committed { offset: item.offset, leader_epoch: item.leader_epoch, metadata, commit_timestamp: now };
            accepted.push((item.topic, item.partition, committed));
            results.push(Ok(()));
        }
        (results, accepted)
    }

    /// Writes committed offsets to the group's log, then makes them the group's.
    async fn store_offsets(self: &Arc<Self>, group_id: &str, accepted: Vec<Accepted>) -> Result<(), ResponseError> {
        let entries = accepted
            .iter()
            .map(|(t, p, c)| (records::offset_key(group_id, t, *p), Some(records::offset_value(c))))
            .collect();
        self.persist(group_id, entries).await?;
        let mut groups = self.lock();
        let delay = self.config.initial_rebalance_delay;
        let g = groups.entry(group_id.to_string()).or_insert_with(|| Group::new(group_id, delay, Instant::now()));
        for (t, p, c) in accepted {
            g.offsets.insert((t, p), c);
        }
        Ok(())
    }

    /// Committed offsets of a group: all of them, or for the given partitions.
    pub fn fetch_offsets(
        self: &Arc<Self>,
        group_id: &str,
        wanted: Option<Vec<(String, i32)>>,
    ) -> Result<Vec<(String, i32, Option<Committed>)>, ResponseError> {
        self.check(group_id)?;
        let groups = self.lock();
        let offsets = groups.get(group_id).map(|g| &g.offsets);
        Ok(match wanted {
            Some(list) => list
                .into_iter()
                .map(|(t, p)| {
                    let c = offsets.and_then(|o| o.get(&(t.clone(), p))).cloned();
                    (t, p, c)
                })
                .collect(),
            None => {
                let mut all: Vec<_> = offsets
                    .map(|o| o.iter().map(|((t, p), c)| (t.clone(), *p, Some(c.clone()))).collect())
                    .unwrap_or_default();
                all.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
                all
            }
        })
    }

    /// The partitions of `group_id` with offsets committed in a transaction that has not ended:
    /// a reader that asks for stable offsets (KIP-447) is told to wait for them.
    pub fn unstable_offsets(&self, group_id: &str) -> std::collections::HashSet<(String, i32)> {
        self.pending_txn_offsets()
            .values()
            .flatten()
            .filter(|(g, ..)| g == group_id)
            .map(|(_, t, p, _)| (t.clone(), *p))
            .collect()
    }

    /// DescribeGroups for one group; `None` if it does not exist.
    pub fn describe(self: &Arc<Self>, group_id: &str) -> Result<Option<GroupDescription>, ResponseError> {
        self.check(group_id)?;
        let groups = self.lock();
        let Some(g) = groups.get(group_id) else { return Ok(None) };
        Ok(Some(GroupDescription {
            state: g.state.name(),
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            protocol: if g.state == GroupState::Stable {
                g.protocol.clone().unwrap_or_default()
            } else {
                String::new()
            },
            members: g
                .members
                .iter()
                .map(|m| MemberDescription {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: m.metadata(g.protocol.as_deref()),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }))
    }

    /// ListGroups, by group id.
    pub fn list(&self) -> Vec<GroupListing> {
        let mut all: Vec<_> = self
            .lock()
            .values()
            .map(|g| GroupListing {
                group_id: g.id.clone(),
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                state: g.state.name(),
            })
            .collect();
        all.sort();
        all
    }

    /// DeleteGroups for one group.
    pub async fn delete_group(self: &Arc<Self>, group_id: &str) -> Result<(), ResponseError> {
        self.check(group_id)?;
        let keys: Vec<(String, i32)> = {
            let groups = self.lock();
            let g = groups.get(group_id).ok_or(ResponseError::GroupIdNotFound)?;
            if !g.members.is_empty() {
                return Err(ResponseError::NonEmptyGroup);
            }
            g.offsets.keys().cloned().collect()
        };
        let mut tombstones: Vec<LogEntry> =
            keys.iter().map(|(t, p)| (records::offset_key(group_id, t, *p), None)).collect();
        tombstones.push((records::group_key(group_id), None));
        self.persist(group_id, tombstones).await?;
        self.lock().remove(group_id);
        Ok(())
    }

    /// OffsetDelete: drops committed offsets unless a member is subscribed to the topic.
    pub async fn delete_offsets(
        self: &Arc<Self>,
        group_id: &str,
        partitions: Vec<(String, i32)>,
    ) -> Result<Vec<Result<(), ResponseError>>, ResponseError> {
        self.check(group_id)?;
        let results: Vec<Result<(), ResponseError>> = {
            let groups = self.lock();
            let g = groups.get(group_id).ok_or(ResponseError::GroupIdNotFound)?;
            partitions
                .iter()
                .map(|(t, _)| if g.subscribed_to(t) { Err(ResponseError::GroupSubscribedToTopic) } else { Ok(()) })
                .collect()
        };
        let doomed: Vec<(String, i32)> =
            partitions.iter().zip(&results).filter(|(_, r)| r.is_ok()).map(|(k, _)| k.clone()).collect();
        let tombstones = doomed.iter().map(|(t, p)| (records::offset_key(group_id, t, *p), None)).collect();
        self.persist(group_id, tombstones).await?;
        if let Some(g) = self.lock().get_mut(group_id) {
            for k in &doomed {
                g.offsets.remove(k);
            }
        }
        Ok(results)
    }
}
