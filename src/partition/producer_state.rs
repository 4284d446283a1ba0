//! Idempotent-producer state of one partition: the latest epoch and the last few batches of each
//! producer id, so a retried batch is answered with its first offset instead of being stored twice,
//! and a gap in sequence numbers is refused.
//!
//! The state lives in memory and in the partition's snapshot ([`super::snapshot`]). When a
//! partition is first served it is rebuilt from the snapshot and the batches stored after it (or,
//! without a snapshot, from the batches at the log's tail), so a batch stored just before a crash
//! is recognised when its producer retries it. A producer not known then is unknown, and its next
//! batch is accepted whatever its sequence (as Kafka does for a producer whose state has expired).

use std::collections::{HashMap, VecDeque};

use futures::future::{self, BoxFuture, FutureExt, Shared};
use kafka_protocol::error::ResponseError;

use super::snapshot::ProducerSnapshot;
use crate::clock::now_ms;

/// Batches remembered per producer, as Kafka does (`max.in.flight.requests.per.connection` <= 5).
const REMEMBERED_BATCHES: usize = 5;

/// How long a producer that sends nothing is remembered unless `kafkaProducerIdExpirationMs` says
/// otherwise: Kafka's `producer.id.expiration.ms` default. Every producer session gets a new id, so
/// without this a partition written by short-lived producers would remember every one of them for
/// as long as it is served.
pub const PRODUCER_ID_EXPIRATION_MS: i64 = 24 * 3600 * 1000;

/// How often expired producers are looked for, at most (a shorter expiration sweeps as often).
const EXPIRY_SWEEP_MS: i64 = 60_000;

/// The outcome of an append shared between the original request and its retries: the base offset.
pub type SharedAppend = Shared<BoxFuture<'static, Result<i64, ResponseError>>>;

struct Batch {
    first_seq: i32,
    last_seq: i32,
    outcome: SharedAppend,
}

struct Producer {
    epoch: i16,
    batches: VecDeque<Batch>,
    // The largest timestamp of its latest batch, and the coordinator epoch of its latest
    // marker (-1 before one), as DescribeProducers shows them.
    last_timestamp: i64,
    coordinator_epoch: i32,
    // When this broker last stored a batch or marker of it (its own clock, not the producer's).
    seen_ms: i64,
}

impl Producer {
    fn new(epoch: i16) -> Self {
        Producer { epoch, batches: VecDeque::new(), last_timestamp: -1, coordinator_epoch: -1, seen_ms: now_ms() }
    }
}

/// One producer as DescribeProducers shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveProducer {
    /// Producer id.
    pub producer_id: i64,
    /// Its latest epoch.
    pub epoch: i16,
    /// The last sequence of its latest batch (-1 when only a marker is known).
    pub last_sequence: i32,
    /// The largest timestamp of its latest batch (-1 when unknown).
    pub last_timestamp: i64,
    /// The coordinator epoch of its latest marker (-1 before one).
    pub coordinator_epoch: i32,
    /// The first offset of its open transaction on this partition (the partition fills it in).
    pub txn_start_offset: Option<i64>,
}

/// What to do with an incoming idempotent batch.
pub enum Check {
    /// New and in sequence: append it, then [`ProducerStates::record`] it.
    Append,
    /// A retry of a batch already appended (or being appended): answer with its outcome.
    Duplicate(SharedAppend),
    /// Refuse it with this error.
    Reject(ResponseError),
}

/// Producer ids seen on one partition.
pub struct ProducerStates {
    producers: HashMap<i64, Producer>,
    swept_ms: i64,
    expiration_ms: i64,
}

impl Default for ProducerStates {
    fn default() -> Self {
        ProducerStates::expiring_after(PRODUCER_ID_EXPIRATION_MS)
    }
}

/// The sequence after `seq`, wrapping as Kafka does.
fn next_seq(seq: i32) -> i32 {
    if seq == i32::MAX {
        0
    } else {
        seq + 1
    }
}

/// The last sequence of a batch of `count` records starting at `first`.
pub fn last_seq(first: i32, count: u32) -> i32 {
    let last = i64::from(first) + i64::from(count) - 1;
    (last % (i64::from(i32::MAX) + 1)) as i32
}

impl ProducerStates {
    /// Classifies a batch from `producer_id` at `epoch` with sequences `first..=last`.
    pub fn check(&self, producer_id: i64, epoch: i16, first: i32, last: i32) -> Check {
        let Some(producer) = self.producers.get(&producer_id) else {
            return Check::Append;
        };
        if epoch < producer.epoch {
            return Check::Reject(ResponseError::InvalidProducerEpoch);
        }
        if epoch > producer.epoch {
            return if first == 0 { Check::Append } else { Check::Reject(ResponseError::OutOfOrderSequenceNumber) };
        }
        if let Some(dup) = producer.batches.iter().find(|b| b.first_seq == first && b.last_seq == last) {
            return Check::Duplicate(dup.outcome.clone());
        }
        match producer.batches.back() {
            Some(latest) if first != next_seq(latest.last_seq) => {
                Check::Reject(ResponseError::OutOfOrderSequenceNumber)
            }
            _ => Check::Append,
        }
    }

    /// Remembers an appended batch (its outcome may still be pending).
    pub fn record(
        &mut self,
        producer_id: i64,
        epoch: i16,
        first: i32,
        last: i32,
        timestamp: i64,
        outcome: SharedAppend,
    ) {
        let producer = self.producers.entry(producer_id).or_insert_with(|| Producer::new(epoch));
        if epoch != producer.epoch {
            producer.epoch = epoch;
            producer.batches.clear();
        }
        if producer.batches.len() == REMEMBERED_BATCHES {
            producer.batches.pop_front();
        }
        producer.batches.push_back(Batch { first_seq: first, last_seq: last, outcome });
        producer.last_timestamp = timestamp;
        producer.seen_ms = now_ms();
    }

    /// A transaction marker of `producer_id` at `epoch` was written: batches of older epochs are
    /// refused from now on, and a newer epoch starts its sequences afresh. `coordinator_epoch` is
    /// the marker's, when known.
    pub fn fence(&mut self, producer_id: i64, epoch: i16, coordinator_epoch: Option<i32>) {
        let producer = self.producers.entry(producer_id).or_insert_with(|| Producer::new(epoch));
        if epoch > producer.epoch {
            producer.epoch = epoch;
            producer.batches.clear();
        }
        if let Some(c) = coordinator_epoch {
            producer.coordinator_epoch = c;
        }
        producer.seen_ms = now_ms();
    }

    /// The latest epoch known of `producer_id`.
    pub fn epoch_of(&self, producer_id: i64) -> Option<i16> {
        self.producers.get(&producer_id).map(|p| p.epoch)
    }

    /// No producer known yet; an idle one is forgotten after `expiration_ms`.
    pub fn expiring_after(expiration_ms: i64) -> Self {
        ProducerStates { producers: HashMap::new(), swept_ms: 0, expiration_ms }
    }

    /// Forgets the producers not seen for the expiration time at `now`, at most once a
    /// minute, except those `busy` names (a producer with a transaction open here is kept until
    /// it ends, as Kafka keeps it). A forgotten producer's next batch is accepted whatever its
    /// sequence, as for any producer not known here.
    pub fn expire(&mut self, now: i64, busy: impl Fn(i64) -> bool) {
        if now.saturating_sub(self.swept_ms) < EXPIRY_SWEEP_MS.min(self.expiration_ms) {
            return;
        }
        self.swept_ms = now;
        let expiration_ms = self.expiration_ms;
        self.producers.retain(|&id, p| now.saturating_sub(p.seen_ms) < expiration_ms || busy(id));
    }

    /// Every producer known here, by producer id.
    pub fn active(&self) -> Vec<ActiveProducer> {
        let mut all: Vec<ActiveProducer> = self
            .producers
            .iter()
            .map(|(&producer_id, p)| ActiveProducer {
                producer_id,
                epoch: p.epoch,
                last_sequence: p.batches.back().map_or(-1, |b| b.last_seq),
                last_timestamp: p.last_timestamp,
                coordinator_epoch: p.coordinator_epoch,
                txn_start_offset: None,
            })
            .collect();
        all.sort_by_key(|p| p.producer_id);
        all
    }

    /// Whether `epoch` is older than the latest epoch known of `producer_id`.
    pub fn fenced(&self, producer_id: i64, epoch: i16) -> bool {
        self.producers.get(&producer_id).is_some_and(|p| epoch < p.epoch)
    }

    /// Forgets a producer whose append failed, so its retry is judged afresh.
    pub fn forget(&mut self, producer_id: i64) {
        self.producers.remove(&producer_id);
    }

    /// Every producer as a snapshot keeps it: only batches whose place in the log is known (one
    /// still being appended lies at or above the snapshot's offset, where the log is read again).
    pub fn snapshot(&self) -> Vec<ProducerSnapshot> {
        self.producers
            .iter()
            .map(|(&producer_id, p)| ProducerSnapshot {
                producer_id,
                epoch: p.epoch,
                last_timestamp: p.last_timestamp,
                coordinator_epoch: p.coordinator_epoch,
                seen_ms: p.seen_ms,
                batches: p
                    .batches
                    .iter()
                    .filter_map(|b| match b.outcome.peek() {
                        Some(Ok(base)) => Some((b.first_seq, b.last_seq, *base)),
                        _ => None,
                    })
                    .collect(),
            })
            .collect()
    }

    /// Takes the producers of a snapshot as the known ones.
    pub fn restore(&mut self, snapshot: Vec<ProducerSnapshot>) {
        self.producers = snapshot
            .into_iter()
            .map(|p| {
                let batches = p
                    .batches
                    .into_iter()
                    .rev()
                    .take(REMEMBERED_BATCHES)
                    .rev()
                    .map(|(first_seq, last_seq, base)| Batch { first_seq, last_seq, outcome: stored_at(base) })
                    .collect();
                let producer = Producer {
                    epoch: p.epoch,
                    batches,
                    last_timestamp: p.last_timestamp,
                    coordinator_epoch: p.coordinator_epoch,
                    seen_ms: p.seen_ms,
                };
                (p.producer_id, producer)
            })
            .collect();
    }

    /// Learns a batch read back from the log at `base`, in log order, after a snapshot that may
    /// know it already: a batch the producer is known to have sent is moved to the latest place
    /// instead of being remembered twice, and one of an epoch older than the known one (the
    /// snapshot saw a later marker) changes nothing.
    pub fn replay(&mut self, producer_id: i64, epoch: i16, first: i32, last: i32, timestamp: i64, base: i64) {
        if let Some(known) = self.producers.get_mut(&producer_id) {
            if epoch < known.epoch {
                return;
            }
            if epoch == known.epoch {
                known.batches.retain(|b| !(b.first_seq == first && b.last_seq == last));
            }
        }
        self.record(producer_id, epoch, first, last, timestamp, stored_at(base));
    }
}

/// The outcome of a batch already stored at `base`.
fn stored_at(base: i64) -> SharedAppend {
    future::ready(Ok(base)).boxed().shared()
}

#[cfg(test)]
mod tests {
    use futures::future::FutureExt;

    use super::*;

    fn done(offset: i64) -> SharedAppend {
        futures::future::ready(Ok(offset)).boxed().shared()
    }

    #[test]
    fn idle_producers_are_forgotten_unless_busy() {
        let mut s = ProducerStates::default();
        s.record(1, 0, 0, 4, 0, done(0));
        s.record(2, 0, 0, 4, 0, done(5));
        let later = now_ms() + PRODUCER_ID_EXPIRATION_MS + 1;
        s.expire(now_ms(), |_| false);
        assert_eq!(s.active().len(), 2, "both seen just now");
        s.expire(later, |id| id == 2);
        assert_eq!(s.active().iter().map(|p| p.producer_id).collect::<Vec<_>>(), vec![2], "2 has a transaction open");
        assert!(matches!(s.check(1, 0, 9, 9), Check::Append), "a forgotten producer starts afresh");
    }

    #[test]
    fn a_configured_expiration_is_kept_and_swept_as_often() {
        let mut s = ProducerStates::expiring_after(2_000);
        s.record(1, 0, 0, 0, 0, done(0));
        let now = now_ms();
        s.expire(now, |_| false);
        s.expire(now + 1_000, |_| false);
        assert_eq!(s.active().len(), 1, "idle for less than the expiration");
        s.expire(now + 2_500, |_| false);
        assert!(s.active().is_empty(), "idle past it, and swept although a minute has not passed");
    }

    #[test]
    fn sequences_are_checked_and_retries_answered() {
        let mut s = ProducerStates::default();
        assert!(matches!(s.check(7, 0, 0, 4), Check::Append));
        s.record(7, 0, 0, 4, 0, done(100));
        match s.check(7, 0, 0, 4) {
            Check::Duplicate(outcome) => assert_eq!(outcome.now_or_never(), Some(Ok(100))),
            _ => panic!("a retry must be a duplicate"),
        }
        assert!(matches!(s.check(7, 0, 6, 6), Check::Reject(ResponseError::OutOfOrderSequenceNumber)));
        assert!(matches!(s.check(7, 0, 5, 9), Check::Append));
        assert!(matches!(s.check(7, 1, 3, 3), Check::Reject(ResponseError::OutOfOrderSequenceNumber)));
        assert!(matches!(s.check(7, 1, 0, 0), Check::Append));
        s.record(7, 1, 0, 0, 0, done(200));
        assert!(matches!(s.check(7, 0, 5, 9), Check::Reject(ResponseError::InvalidProducerEpoch)));
    }

    #[test]
    fn sequence_numbers_wrap() {
        assert_eq!(last_seq(i32::MAX, 2), 0);
        assert_eq!(next_seq(i32::MAX), 0);
        let mut s = ProducerStates::default();
        s.record(1, 0, i32::MAX - 1, i32::MAX, 0, done(0));
        assert!(matches!(s.check(1, 0, 0, 3), Check::Append));
    }
}
