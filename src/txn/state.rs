//! One transactional id's state, and the rules for moving it on, without I/O: the coordinator
//! calls these under the id's lock and then writes the result to its log.

use std::collections::BTreeSet;

use kafka_protocol::error::ResponseError;

/// Where a transactional id's current transaction stands, with Kafka's numbers for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnState {
    /// No transaction open.
    Empty,
    /// Partitions have been added: a transaction is open.
    Ongoing,
    /// Committing: the markers are being written.
    PrepareCommit,
    /// Aborting: the markers are being written.
    PrepareAbort,
    /// The last transaction committed.
    CompleteCommit,
    /// The last transaction aborted.
    CompleteAbort,
    /// The id expired.
    Dead,
    /// Fencing an older producer before aborting its transaction.
    PrepareEpochFence,
}

impl TxnState {
    /// Every state, in Kafka's numbering.
    pub const ALL: [TxnState; 8] = [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
        TxnState::Dead,
        TxnState::PrepareEpochFence,
    ];

    /// Kafka's number for the state in `__transaction_state`.
    pub fn code(self) -> i8 {
        TxnState::ALL.iter().position(|s| *s == self).unwrap_or(0) as i8
    }

    /// The state Kafka numbers `code`.
    pub fn from_code(code: i8) -> Option<TxnState> {
        usize::try_from(code).ok().and_then(|i| TxnState::ALL.get(i)).copied()
    }

    /// The name DescribeTransactions and ListTransactions give.
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    /// Whether markers are being written (the commit or abort is decided, not done).
    pub fn preparing(self) -> bool {
        matches!(self, TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence)
    }
}

/// A transactional id's producer and its current transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMeta {
    /// Producer id.
    pub producer_id: i64,
    /// Current epoch; older ones are fenced.
    pub epoch: i16,
    /// `transaction.timeout.ms`.
    pub timeout_ms: i32,
    /// Where the transaction stands.
    pub state: TxnState,
    /// The partitions in the transaction (`__consumer_offsets` ones for offsets sent to it).
    pub partitions: BTreeSet<(String, i32)>,
    /// When the state last changed.
    pub updated_ms: i64,
    /// When the open transaction started (-1 if none).
    pub started_ms: i64,
    /// The producer id and epoch the last end of transactions version 2 came with, while no
    /// other change followed it, so a retry of that end (which comes with them, not with the
    /// epoch the end moved to) is told it is done. The log keeps it in Kafka's version-1 record
    /// (see `records`), so a retry that reaches a restarted coordinator is recognised too.
    pub last_end: Option<(i64, i16)>,
}

/// The epoch a transactions-version-2 end moves to when the producer's epochs are used up: its
/// markers carry it, and the end hands out a new producer id (Kafka writes such markers at this
/// epoch too). No producer ever writes data at it.
pub const EXHAUSTED_EPOCH: i16 = i16::MAX;

/// What an EndTxn of transactions version 2 asks of the state (see [`TxnMeta::end_v2`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndV2 {
    /// Prepare the end at the next epoch and write the markers.
    Prepare,
    /// The same end already completed: a retry, answered with the current producer.
    Done,
}

impl TxnMeta {
    /// A new id's state: its producer at epoch 0, no transaction.
    pub fn new(producer_id: i64, timeout_ms: i32, now: i64) -> Self {
        TxnMeta {
            producer_id,
            epoch: 0,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            updated_ms: now,
            started_ms: -1,
            last_end: None,
        }
    }

    /// Checks that a request comes from the id's current producer.
    pub fn check_producer(&self, producer_id: i64, epoch: i16) -> Result<(), ResponseError> {
        if producer_id != self.producer_id {
            return Err(ResponseError::InvalidProducerIdMapping);
        }
        if epoch != self.epoch {
            return Err(ResponseError::ProducerFenced);
        }
        Ok(())
    }

    /// The next epoch of the producer; `None` when the epoch is used up and a new producer id
    /// must take over (Kafka's rule).
    pub fn bumped_epoch(&self) -> Option<i16> {
        (self.epoch < i16::MAX - 1).then_some(self.epoch + 1)
    }

    /// Whether the id may be forgotten at `now`: no transaction open or ending, and unchanged for
    /// `after` milliseconds (Kafka's `transactional.id.expiration.ms` rule).
    pub fn expired(&self, now: i64, after: i64) -> bool {
        let idle = matches!(self.state, TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort);
        idle && self.updated_ms.saturating_add(after) <= now
    }

    /// Which of `partitions` are in the open transaction. While a commit or abort is being
    /// prepared the answer would be stale at once: CONCURRENT_TRANSACTIONS, as Kafka answers.
    pub fn verify(
        &self,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
    ) -> Result<Vec<bool>, ResponseError> {
        self.check_producer(producer_id, epoch)?;
        if self.state.preparing() {
            return Err(ResponseError::ConcurrentTransactions);
        }
        let open = self.state == TxnState::Ongoing;
        Ok(partitions.iter().map(|p| open && self.partitions.contains(p)).collect())
    }

    /// Adds `partitions`, opening the transaction if none is; `false` if nothing changed.
    pub fn add(
        &mut self,
        partitions: impl IntoIterator<Item = (String, i32)>,
        now: i64,
    ) -> Result<bool, ResponseError> {
        if self.state.preparing() {
            return Err(ResponseError::ConcurrentTransactions);
        }
        if self.state == TxnState::Dead {
            return Err(ResponseError::InvalidTxnState);
        }
        let before = self.partitions.len();
        if self.state != TxnState::Ongoing {
            self.partitions.clear();
        }
        self.partitions.extend(partitions);
        let opened = self.state != TxnState::Ongoing;
        if opened {
            self.state = TxnState::Ongoing;
            self.started_ms = now;
            // The producer heard how its last end went: that end is no longer retried.
            self.last_end = None;
        }
        let changed = opened || self.partitions.len() != before;
        if changed {
            self.updated_ms = now;
        }
        Ok(changed)
    }

    /// What EndTxn asks of this state: `Ok(true)` to prepare and write markers, `Ok(false)`
    /// when the same end is already complete (a retry), or the error.
    pub fn end(&self, commit: bool) -> Result<bool, ResponseError> {
        match (self.state, commit) {
            (TxnState::Ongoing, _) => Ok(true),
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => Ok(false),
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                Err(ResponseError::ConcurrentTransactions)
            }
            (TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence, _) => {
                Err(ResponseError::ConcurrentTransactions)
            }
            _ => Err(ResponseError::InvalidTxnState),
        }
    }

    /// What an EndTxn of transactions version 2 (KIP-890, EndTxn v5) asks of this state. Every
    /// such end moves the producer to a new epoch (or, with the epochs used up, a new producer
    /// id), so a retry of the last end comes with what the end moved away from. An epoch moved
    /// on by anything else (a new producer's InitProducerId) fences the old one. An abort with
    /// nothing open is allowed: the producer cannot know whether its first records reached a
    /// partition, and the abort still fences them.
    pub fn end_v2(&self, producer_id: i64, epoch: i16, commit: bool) -> Result<EndV2, ResponseError> {
        if self.last_end == Some((producer_id, epoch)) {
            return match (self.state, commit) {
                (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => Ok(EndV2::Done),
                (state, _) if state.preparing() => Err(ResponseError::ConcurrentTransactions),
                _ => Err(ResponseError::ProducerFenced),
            };
        }
        self.check_producer(producer_id, epoch)?;
        match (self.state, commit) {
            (TxnState::Ongoing, _) => Ok(EndV2::Prepare),
            (TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort, false) => Ok(EndV2::Prepare),
            (state, _) if state.preparing() => Err(ResponseError::ConcurrentTransactions),
            _ => Err(ResponseError::InvalidTxnState),
        }
    }

    /// The epoch a transactions-version-2 end writes its markers at: the next one, or
    /// [`EXHAUSTED_EPOCH`] when the producer's epochs are used up.
    pub fn end_epoch(&self) -> i16 {
        self.bumped_epoch().unwrap_or(EXHAUSTED_EPOCH)
    }

    /// Whether the open transaction has outlived its timeout at `now`.
    pub fn timed_out(&self, now: i64) -> bool {
        self.state == TxnState::Ongoing && now.saturating_sub(self.started_ms) > i64::from(self.timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_keep_kafkas_numbers() {
        assert_eq!(TxnState::PrepareCommit.code(), 2);
        assert_eq!(TxnState::PrepareEpochFence.code(), 7);
        for code in 0..8 {
            assert_eq!(TxnState::from_code(code).map(TxnState::code), Some(code));
        }
        assert_eq!(TxnState::from_code(8), None);
        assert_eq!(TxnState::from_code(-1), None);
    }

    #[test]
    fn only_ids_idle_with_nothing_open_expire() {
        let mut m = TxnMeta::new(5, 60_000, 1_000);
        assert!(!m.expired(1_999, 1_000) && m.expired(2_000, 1_000), "Empty, once unchanged long enough");
        assert_eq!(m.add([("t".into(), 0)], 3_000), Ok(true));
        assert!(!m.expired(i64::MAX, 1_000), "an open transaction never expires; it times out");
        m.state = TxnState::PrepareAbort;
        assert!(!m.expired(i64::MAX, 1_000), "nor one being ended");
        m.state = TxnState::CompleteAbort;
        assert!(m.expired(4_000, 1_000) && !m.expired(i64::MAX - 1, i64::MAX), "no overflow");
    }

    #[test]
    fn a_transaction_opens_with_its_first_partition_and_ends_once() {
        let mut m = TxnMeta::new(5, 60_000, 0);
        assert_eq!(m.end(true), Err(ResponseError::InvalidTxnState), "nothing to end");
        assert_eq!(m.add([("t".into(), 0)], 10), Ok(true));
        assert_eq!((m.state, m.started_ms), (TxnState::Ongoing, 10));
        assert_eq!(m.add([("t".into(), 0)], 11), Ok(false), "already in it");
        assert_eq!(m.end(true), Ok(true));
        m.state = TxnState::PrepareCommit;
        assert_eq!(m.add([("u".into(), 0)], 12), Err(ResponseError::ConcurrentTransactions));
        m.state = TxnState::CompleteCommit;
        assert_eq!(m.end(true), Ok(false), "a retried commit");
        assert_eq!(m.end(false), Err(ResponseError::InvalidTxnState));
        assert_eq!(m.add([("u".into(), 1)], 20), Ok(true), "the next transaction");
        assert_eq!(m.partitions.len(), 1, "starts without the last one's partitions");
    }

    #[test]
    fn only_the_current_producer_is_heard() {
        let m = TxnMeta { epoch: 3, ..TxnMeta::new(5, 60_000, 0) };
        assert_eq!(m.check_producer(5, 3), Ok(()));
        assert_eq!(m.check_producer(5, 2), Err(ResponseError::ProducerFenced));
        assert_eq!(m.check_producer(6, 3), Err(ResponseError::InvalidProducerIdMapping));
        assert!(TxnMeta { epoch: i16::MAX - 1, ..m.clone() }.bumped_epoch().is_none());
    }

    #[test]
    fn a_version_2_end_moves_the_epoch_and_knows_its_retry() {
        let mut m = TxnMeta { epoch: 4, ..TxnMeta::new(5, 60_000, 0) };
        assert_eq!(m.end_v2(5, 4, true), Err(ResponseError::InvalidTxnState), "no commit with nothing open");
        assert_eq!(m.end_v2(5, 4, false), Ok(EndV2::Prepare), "an abort with nothing open still fences");
        m.add([("t".into(), 0)], 10).unwrap();
        assert_eq!(m.end_v2(5, 3, true), Err(ResponseError::ProducerFenced), "an older epoch, not a retry");
        assert_eq!(m.end_v2(5, 4, true), Ok(EndV2::Prepare));
        assert_eq!(m.end_epoch(), 5);
        (m.epoch, m.last_end) = (5, Some((5, 4)));
        m.state = TxnState::PrepareCommit;
        assert_eq!(m.end_v2(5, 4, true), Err(ResponseError::ConcurrentTransactions), "a retry while the markers go");
        m.state = TxnState::CompleteCommit;
        assert_eq!(m.end_v2(5, 4, true), Ok(EndV2::Done), "a retry of the commit");
        assert_eq!(m.end_v2(5, 4, false), Err(ResponseError::ProducerFenced), "not a retry of what was done");
        assert_eq!(m.end_v2(5, 5, true), Err(ResponseError::InvalidTxnState), "the new epoch has nothing open");
        m.epoch = i16::MAX - 1;
        assert_eq!(m.end_epoch(), EXHAUSTED_EPOCH, "epochs used up");
        let rotated = TxnMeta { producer_id: 6, epoch: 0, last_end: Some((5, i16::MAX - 1)), ..m.clone() };
        assert_eq!(rotated.end_v2(5, i16::MAX - 1, true), Ok(EndV2::Done), "retried after a new producer id");
        let fenced = TxnMeta { epoch: 6, last_end: None, ..m.clone() };
        assert_eq!(fenced.end_v2(5, 5, true), Err(ResponseError::ProducerFenced), "moved on by another producer");
    }

    #[test]
    fn an_open_transaction_times_out() {
        let mut m = TxnMeta::new(5, 1_000, 0);
        assert!(!m.timed_out(5_000), "none open");
        m.add([("t".into(), 0)], 100).unwrap();
        assert!(!m.timed_out(1_100));
        assert!(m.timed_out(1_101));
    }
}
