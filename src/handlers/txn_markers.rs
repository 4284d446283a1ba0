//! WriteTxnMarkers: another broker's transaction coordinator ends a transaction in partitions
//! this broker owns.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{WriteTxnMarkersRequest, WriteTxnMarkersResponse};
use kafka_protocol::protocol::VersionRange;

use super::{Pending, RequestContext};
use crate::broker::Transactions;
use crate::txn::markers::{self, Marker};

/// Versions served (v0 is gone from Kafka 4 and from kafka-protocol).
pub const VERSIONS: VersionRange = VersionRange { min: 1, max: 1 };

/// Writes each marker into the partitions it names; each partition answers on its own.
pub async fn handle(
    txns: &Transactions,
    ctx: &RequestContext,
    req: WriteTxnMarkersRequest,
) -> Pending<WriteTxnMarkersResponse> {
    // Kafka takes markers only from brokers (CLUSTER_ACTION).
    let refused = (!ctx.session.acts_for_brokers()).then_some(ResponseError::ClusterAuthorizationFailed);
    let (registry, groups) = (Arc::clone(txns.topics()), Arc::clone(txns.groups()));
    Box::pin(async move {
        let mut results = Vec::with_capacity(req.markers.len());
        for m in req.markers {
            let marker = Marker { producer_id: m.producer_id.0, epoch: m.producer_epoch, commit: m.transaction_result };
            let mut topics = Vec::with_capacity(m.topics.len());
            for topic in m.topics {
                let writes = topic.partition_indexes.iter().map(|&p| {
                    let (registry, groups, name) = (&registry, &groups, &topic.name);
                    async move {
                        let result = match refused {
                            Some(e) => Err(e),
                            None => markers::write_here(registry, groups, name, p, marker).await,
                        };
                        WritableTxnMarkerPartitionResult::default()
                            .with_partition_index(p)
                            .with_error_code(result.err().map_or(0, |e| e.code()))
                    }
                });
                let partitions = futures::future::join_all(writes).await;
                topics.push(WritableTxnMarkerTopicResult::default().with_name(topic.name).with_partitions(partitions));
            }
            results.push(WritableTxnMarkerResult::default().with_producer_id(m.producer_id).with_topics(topics));
        }
        Some(WriteTxnMarkersResponse::default().with_markers(results))
    })
}
