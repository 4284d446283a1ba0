//! Fetch: stored batches from each requested partition, long-polling until `min_bytes` are there
//! or `max_wait_ms` passes. Waiting is woken by appends, never by a sleep loop.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_request::FetchTopic;
use kafka_protocol::messages::fetch_response::{AbortedTransaction, FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, ProducerId};
use kafka_protocol::protocol::VersionRange;
use tokio::sync::watch;
use tokio::time::Instant;

use super::{Pending, RequestContext};
use crate::partition::{Topic, TopicRegistry};

/// Versions served.
pub const VERSIONS: VersionRange = VersionRange { min: 4, max: 17 };

/// The first version that names topics by id.
const TOPIC_ID_VERSION: i16 = 13;

/// Starts the fetch; the returned future holds the long poll.
pub async fn handle(registry: &Arc<TopicRegistry>, ctx: &RequestContext, req: FetchRequest) -> Pending<FetchResponse> {
    let registry = Arc::clone(registry);
    let version = ctx.version;
    Box::pin(async move { Some(fetch(&registry, req, version).await) })
}

async fn fetch(registry: &TopicRegistry, req: FetchRequest, version: i16) -> FetchResponse {
    if version >= 7 && req.session_id != 0 {
        // We never hand out fetch sessions, so any id a client names is unknown.
        return FetchResponse::default().with_error_code(ResponseError::FetchSessionIdNotFound.code());
    }
    let mut topics: Vec<(Option<Arc<Topic>>, FetchTopic)> = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let found = if version >= TOPIC_ID_VERSION {
            registry.get_by_id(&t.topic_id)
        } else {
            registry.resolve(&t.topic).await
        };
        topics.push((found, t));
    }
    let wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0));
    let deadline = Instant::now() + wait;
    let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0);
    let max_bytes = usize::try_from(req.max_bytes).unwrap_or(0);
    let read_committed = req.isolation_level == 1;
    // Only the partitions asked for wake this fetch: appends elsewhere cost it nothing.
    let mut appends: Vec<watch::Receiver<u64>> = topics
        .iter()
        .filter_map(|(topic, wanted)| Some((topic.as_ref()?, wanted)))
        .flat_map(|(topic, wanted)| wanted.partitions.iter().filter_map(|p| topic.partition(p.partition)))
        .map(|p| p.appends())
        .collect();
    loop {
        appends.iter_mut().for_each(|a| {
            a.borrow_and_update();
        });
        let round = read_round(&topics, version, max_bytes, read_committed).await;
        let timed_out = Instant::now() >= deadline;
        if round.bytes >= min_bytes.max(1) || round.errors || timed_out {
            return FetchResponse::default().with_responses(round.responses);
        }
        // Nothing yet: sleep until one of its partitions gets an append, or until the deadline;
        // either way, read again.
        if appends.is_empty() {
            tokio::time::sleep_until(deadline).await;
        } else {
            let any = futures::future::select_all(appends.iter_mut().map(|a| Box::pin(a.changed())));
            let _ = tokio::time::timeout_at(deadline, any).await;
        }
    }
}

/// The aborted transactions with records in `from..to`, as Fetch lists them.
async fn aborted(partition: &crate::partition::Partition, from: i64, to: i64) -> Vec<AbortedTransaction> {
    partition
        .aborted_in(from, to)
        .await
        .into_iter()
        .map(|a| {
            AbortedTransaction::default().with_producer_id(ProducerId(a.producer_id)).with_first_offset(a.first_offset)
        })
        .collect()
}

struct Round {
    responses: Vec<FetchableTopicResponse>,
    bytes: usize,
    errors: bool,
}

async fn read_round(
    topics: &[(Option<Arc<Topic>>, FetchTopic)],
    version: i16,
    max_bytes: usize,
    read_committed: bool,
) -> Round {
    let mut round = Round { responses: Vec::with_capacity(topics.len()), bytes: 0, errors: false };
    for (topic, wanted) in topics {
        let missing = if version >= TOPIC_ID_VERSION {
            ResponseError::UnknownTopicId
        } else {
            ResponseError::UnknownTopicOrPartition
        };
        let mut partitions = Vec::with_capacity(wanted.partitions.len());
        for p in &wanted.partitions {
            let base = PartitionData::default()
                .with_partition_index(p.partition)
                .with_preferred_read_replica(BrokerId(-1))
                .with_aborted_transactions(read_committed.then(Vec::new));
            let Some(partition) = topic.as_ref().and_then(|t| t.partition(p.partition)) else {
                round.errors = true;
                partitions.push(base.with_error_code(missing.code()).with_high_watermark(-1));
                continue;
            };
            let budget = usize::try_from(p.partition_max_bytes).unwrap_or(0).min(max_bytes.saturating_sub(round.bytes));
            // A read_committed reader gets nothing past the last stable offset, and is told which
            // of the records it gets belong to aborted transactions.
            let stable = partition.last_stable_offset();
            let limit = if read_committed { stable } else { i64::MAX };
            let result = if budget == 0 && round.bytes > 0 {
                Ok(Default::default())
            } else {
                partition.read_below(p.fetch_offset, budget, limit).await
            };
            let (hw, start) = (partition.end_offset(), partition.start_offset());
            let mut base = base.with_high_watermark(hw).with_last_stable_offset(stable);
            if version >= 5 {
                base.log_start_offset = start;
            }
            partitions.push(match result {
                Ok(read) => {
                    round.bytes += read.records.len();
                    if read_committed && !read.records.is_empty() {
                        base.aborted_transactions = Some(aborted(partition, p.fetch_offset, stable).await);
                    }
                    base.with_records(Some(read.records))
                }
                Err(e) => {
                    round.errors = true;
                    // As Kafka answers a partition in error: no offsets, only the code.
                    base.with_error_code(e.code())
                        .with_high_watermark(-1)
                        .with_last_stable_offset(-1)
                        .with_log_start_offset(-1)
                }
            });
        }
        let mut response = FetchableTopicResponse::default().with_partitions(partitions);
        if version >= TOPIC_ID_VERSION {
            response.topic_id = wanted.topic_id;
        } else {
            response.topic = wanted.topic.clone();
        }
        round.responses.push(response);
    }
    round
}
