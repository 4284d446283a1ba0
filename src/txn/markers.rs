//! The markers that end a transaction in each of its partitions. The coordinator writes those
//! of the partitions this broker owns; to each other broker that owns some it sends one
//! WriteTxnMarkers request, as Kafka's coordinator does, and that broker writes them through
//! [`write_here`] too. On `kop serve` every partition is here.
//!
//! The owner of a topic's partition is found by writing: a partition this broker does not own
//! refuses the marker, and only then is its owner looked up, so the common case costs no lookup.
//! A `__consumer_offsets` partition is looked up first: its marker writes nothing here (the
//! offsets it commits wait in the memory of the broker that took them), so a broker that has
//! not yet noticed the partition moving would take the marker and drop those offsets.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::write_txn_markers_request::{WritableTxnMarker, WritableTxnMarkerTopic};
use kafka_protocol::messages::{ProducerId, TopicName, WriteTxnMarkersRequest, WriteTxnMarkersResponse};
use kafka_protocol::protocol::StrBytes;

use super::peer_link::PeerLinks;
use crate::config::Endpoint;
use crate::group::GroupCoordinator;
use crate::host::Owner;
use crate::names::OFFSETS_TOPIC;
use crate::partition::TopicRegistry;

/// One transaction's end, as each of its partitions records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marker {
    /// The transaction's producer.
    pub producer_id: i64,
    /// Its epoch.
    pub epoch: i16,
    /// Commit, or abort.
    pub commit: bool,
}

/// Writes `marker` into partition `partition` of `topic`, which this broker must own
/// (NOT_LEADER_OR_FOLLOWER otherwise). For a `__consumer_offsets` partition the group
/// coordinator commits or drops the offsets sent to the transaction. A topic that no longer
/// exists is UNKNOWN_TOPIC_OR_PARTITION: it has nothing left to mark.
pub async fn write_here(
    topics: &TopicRegistry,
    groups: &Arc<GroupCoordinator>,
    topic: &str,
    partition: i32,
    marker: Marker,
) -> Result<(), ResponseError> {
    if topic == OFFSETS_TOPIC {
        let index = u32::try_from(partition).map_err(|_| ResponseError::UnknownTopicOrPartition)?;
        if !groups.holds(index) {
            return Err(ResponseError::NotLeaderOrFollower);
        }
        return groups.end_txn((marker.producer_id, marker.epoch), index, marker.commit).await;
    }
    // Asking the host too: on a shared host the topic may have been created through another broker.
    let found = topics.find(topic).await.map_err(|e| crate::host::host_error(&e))?;
    let Some(p) = found.and_then(|t| t.partition(partition).cloned()) else {
        return Err(ResponseError::UnknownTopicOrPartition);
    };
    p.ready().await?;
    p.write_marker(marker.producer_id, marker.epoch, marker.commit, 0).await.map(drop)
}

/// Writes `marker` into every one of `partitions`, here or through their owners; returns how
/// many could not be written now (the caller tries those again later, with the same marker:
/// a second marker for a transaction already ended changes nothing).
pub async fn write_all(
    topics: &TopicRegistry,
    groups: &Arc<GroupCoordinator>,
    links: &PeerLinks,
    partitions: &BTreeSet<(String, i32)>,
    marker: Marker,
) -> usize {
    let tries = partitions.iter().map(|(topic, partition)| async move {
        let partition = *partition;
        if topic == OFFSETS_TOPIC {
            if let Some(endpoint) = owner(topics, topic, partition).await {
                return (topic, partition, Tried::Elsewhere(endpoint));
            }
        }
        let tried = match write_here(topics, groups, topic, partition, marker).await {
            Ok(()) | Err(ResponseError::UnknownTopicOrPartition) => Tried::Written,
            Err(ResponseError::NotLeaderOrFollower) => match owner(topics, topic, partition).await {
                Some(endpoint) => Tried::Elsewhere(endpoint),
                None => Tried::NotNow,
            },
            Err(e) => {
                tracing::debug!(topic, partition, error = ?e, "transaction marker not written");
                Tried::NotNow
            }
        };
        (topic, partition, tried)
    });
    let mut failed = 0;
    let mut elsewhere: Vec<(Endpoint, Vec<(String, i32)>)> = Vec::new();
    for (topic, partition, tried) in futures::future::join_all(tries).await {
        match tried {
            Tried::Written => {}
            Tried::NotNow => failed += 1,
            Tried::Elsewhere(endpoint) => match elsewhere.iter_mut().find(|(e, _)| *e == endpoint) {
                Some((_, list)) => list.push((topic.clone(), partition)),
                None => elsewhere.push((endpoint, vec![(topic.clone(), partition)])),
            },
        }
    }
    let sends = elsewhere.iter().map(|(endpoint, list)| async move {
        let request = request(marker, list);
        match links.write_markers(endpoint, &request).await {
            Ok(response) => unwritten(&response, list),
            Err(e) => {
                tracing::warn!(error = %e, partitions = list.len(), "transaction markers not sent");
                list.len()
            }
        }
    });
    failed + futures::future::join_all(sends).await.into_iter().sum::<usize>()
}

/// What became of one partition's marker on this broker.
enum Tried {
    /// Written, or its partition is gone and has nothing left to mark.
    Written,
    /// Not written now; the coordinator tries again later.
    NotNow,
    /// Owned by this other broker, which is sent the marker.
    Elsewhere(Endpoint),
}

/// The broker that owns a partition this one does not, if a lookup names one.
async fn owner(topics: &TopicRegistry, topic: &str, partition: i32) -> Option<Endpoint> {
    let index = u32::try_from(partition).ok()?;
    match topics.owner(topic, index).await {
        Ok(Owner::Remote(endpoint)) => Some(endpoint),
        // Ownership is moving here, or this broker is still loading the partition.
        Ok(Owner::Local) => None,
        Err(e) => {
            tracing::debug!(topic, partition, error = %e, "no owner for a transaction marker");
            None
        }
    }
}

/// One WriteTxnMarkers request that writes `marker` into `partitions`.
fn request(marker: Marker, partitions: &[(String, i32)]) -> WriteTxnMarkersRequest {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (topic, partition) in partitions {
        by_topic.entry(topic).or_default().push(*partition);
    }
    let topics = by_topic
        .into_iter()
        .map(|(name, indexes)| {
            WritableTxnMarkerTopic::default()
                .with_name(TopicName(StrBytes::from_string(name.to_string())))
                .with_partition_indexes(indexes)
        })
        .collect();
    WriteTxnMarkersRequest::default().with_markers(vec![WritableTxnMarker::default()
        .with_producer_id(ProducerId(marker.producer_id))
        .with_producer_epoch(marker.epoch)
        .with_transaction_result(marker.commit)
        .with_topics(topics)])
}

/// How many of `partitions` a peer's answer does not report written (or gone).
fn unwritten(response: &WriteTxnMarkersResponse, partitions: &[(String, i32)]) -> usize {
    let done = |topic: &str, partition: i32| {
        response.markers.iter().flat_map(|m| &m.topics).filter(|t| t.name.as_str() == topic).any(|t| {
            t.partitions.iter().any(|p| {
                p.partition_index == partition
                    && (p.error_code == 0 || p.error_code == ResponseError::UnknownTopicOrPartition.code())
            })
        })
    };
    partitions.iter().filter(|(topic, partition)| !done(topic, *partition)).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::write_txn_markers_response::{
        WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
    };

    #[test]
    fn one_request_per_peer_groups_partitions_by_topic() {
        let marker = Marker { producer_id: 9, epoch: 3, commit: false };
        let list = vec![("b".to_string(), 1), ("a".to_string(), 2), ("b".to_string(), 0)];
        let req = request(marker, &list);
        assert_eq!(req.markers.len(), 1);
        let m = &req.markers[0];
        assert_eq!((m.producer_id.0, m.producer_epoch, m.transaction_result), (9, 3, false));
        let topics: Vec<(&str, &[i32])> =
            m.topics.iter().map(|t| (t.name.as_str(), t.partition_indexes.as_slice())).collect();
        assert_eq!(topics, vec![("a", &[2][..]), ("b", &[1, 0][..])]);
    }

    #[test]
    fn a_partition_counts_as_written_only_when_the_answer_says_so() {
        let result = |p: i32, code: i16| {
            WritableTxnMarkerPartitionResult::default().with_partition_index(p).with_error_code(code)
        };
        let topic = WritableTxnMarkerTopicResult::default()
            .with_name(TopicName(StrBytes::from_static_str("t")))
            .with_partitions(vec![
                result(0, 0),
                result(1, ResponseError::NotLeaderOrFollower.code()),
                result(2, ResponseError::UnknownTopicOrPartition.code()),
            ]);
        let response = WriteTxnMarkersResponse::default()
            .with_markers(vec![WritableTxnMarkerResult::default().with_topics(vec![topic])]);
        let asked: Vec<(String, i32)> = (0..4).map(|p| ("t".to_string(), p)).collect();
        assert_eq!(unwritten(&response, &asked), 2, "partition 1 refused, partition 3 missing from the answer");
    }
}
