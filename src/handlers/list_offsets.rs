//! ListOffsets (earliest, latest, by time, max timestamp) and OffsetForLeaderEpoch.
//! Every partition has had one leader epoch, 0, so epochs reduce to offsets.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
use kafka_protocol::messages::offset_for_leader_epoch_response::{EpochEndOffset, OffsetForLeaderTopicResult};
use kafka_protocol::messages::{
    ListOffsetsRequest, ListOffsetsResponse, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse,
};
use kafka_protocol::protocol::VersionRange;

use super::{ready, Pending, RequestContext};
use crate::partition::{Partition, TopicRegistry};

/// ListOffsets versions served.
pub const VERSIONS: VersionRange = VersionRange { min: 1, max: 9 };

/// OffsetForLeaderEpoch versions served.
pub const EPOCH_VERSIONS: VersionRange = VersionRange { min: 2, max: 4 };

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;

/// Answers each partition's offset query.
pub async fn handle(
    registry: &Arc<TopicRegistry>,
    ctx: &RequestContext,
    req: ListOffsetsRequest,
) -> Pending<ListOffsetsResponse> {
    let read_committed = req.isolation_level == 1;
    let mut topics = Vec::with_capacity(req.topics.len());
    for wanted in req.topics {
        let topic = registry.resolve(&wanted.name).await;
        let mut partitions = Vec::with_capacity(wanted.partitions.len());
        for p in wanted.partitions {
            let base = ListOffsetsPartitionResponse::default().with_partition_index(p.partition_index);
            let found = topic.as_ref().and_then(|t| t.partition(p.partition_index));
            partitions.push(match found {
                None => base
                    .with_error_code(ResponseError::UnknownTopicOrPartition.code())
                    .with_timestamp(-1)
                    .with_offset(-1),
                Some(partition) => {
                    let max_message_bytes = topic.as_ref().map_or(0, |t| t.config.max_message_bytes);
                    match lookup(partition, p.timestamp, max_message_bytes, read_committed).await {
                        Ok((timestamp, offset)) => base
                            .with_timestamp(timestamp)
                            .with_offset(offset)
                            .with_leader_epoch(if ctx.version >= 4 { 0 } else { -1 }),
                        Err(e) => base.with_error_code(e.code()).with_timestamp(-1).with_offset(-1),
                    }
                }
            });
        }
        topics.push(ListOffsetsTopicResponse::default().with_name(wanted.name).with_partitions(partitions));
    }
    ready(ListOffsetsResponse::default().with_topics(topics))
}

/// `(timestamp, offset)` for one query; `(-1, -1)` when no record matches. The latest offset of
/// a `read_committed` reader is the last stable offset.
async fn lookup(
    partition: &Partition,
    timestamp: i64,
    max_message_bytes: usize,
    read_committed: bool,
) -> Result<(i64, i64), ResponseError> {
    partition.ready().await?;
    Ok(match timestamp {
        LATEST if read_committed => (-1, partition.last_stable_offset()),
        LATEST => (-1, partition.end_offset()),
        EARLIEST | EARLIEST_LOCAL => (-1, partition.start_offset()),
        LATEST_TIERED => (-1, -1),
        MAX_TIMESTAMP => partition.max_timestamp().unwrap_or((-1, -1)),
        t if t >= 0 => match partition.offset_for_time(t, max_message_bytes).await? {
            Some((offset, ts)) => (ts, offset),
            None => (-1, -1),
        },
        _ => return Err(ResponseError::InvalidRequest),
    })
}

/// The end offset of each asked epoch: the log end for epoch 0, unknown for any later one.
pub async fn leader_epoch(
    registry: &Arc<TopicRegistry>,
    _ctx: &RequestContext,
    req: OffsetForLeaderEpochRequest,
) -> Pending<OffsetForLeaderEpochResponse> {
    let mut topics = Vec::with_capacity(req.topics.len());
    for wanted in req.topics {
        let topic = registry.resolve(&wanted.topic).await;
        let mut partitions = Vec::with_capacity(wanted.partitions.len());
        for p in &wanted.partitions {
            let base = EpochEndOffset::default().with_partition(p.partition);
            partitions.push(match topic.as_ref().and_then(|t| t.partition(p.partition)) {
                None => base.with_error_code(ResponseError::UnknownTopicOrPartition.code()),
                Some(_) if p.current_leader_epoch > 0 => base.with_error_code(ResponseError::UnknownLeaderEpoch.code()),
                Some(partition) if p.leader_epoch <= 0 => match partition.ready().await {
                    Ok(()) => base.with_leader_epoch(0).with_end_offset(partition.end_offset()),
                    Err(e) => base.with_error_code(e.code()),
                },
                Some(_) => base.with_leader_epoch(-1).with_end_offset(-1),
            });
        }
        topics.push(OffsetForLeaderTopicResult::default().with_topic(wanted.topic).with_partitions(partitions));
    }
    ready(OffsetForLeaderEpochResponse::default().with_topics(topics))
}
