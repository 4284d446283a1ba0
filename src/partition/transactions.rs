//! The transactions of one partition: which producers have a transaction open here and from
//! which offset (so the last stable offset stops before it), and which ended in an abort (so a
//! `read_committed` consumer is told which records to drop).

use std::collections::HashMap;

use super::snapshot::TxnSnapshot;
use crate::protocol::control::TxnRole;

/// An aborted transaction as Fetch reports it: its producer and its first offset here; the
/// marker at `last_offset` ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aborted {
    /// Producer id.
    pub producer_id: i64,
    /// Offset of the transaction's first batch in this partition.
    pub first_offset: i64,
    /// Offset of the abort marker.
    pub last_offset: i64,
}

/// Open and aborted transactions of one partition.
#[derive(Debug, Default)]
pub struct Transactions {
    open: HashMap<i64, i64>,
    // In marker order, so by `last_offset`.
    aborted: Vec<Aborted>,
    // Below this offset the log's batches have not been read since the partition was opened
    // (a restart reads only its tail); readers that go there have it learned first.
    known_from: i64,
    // The first marker of each producer in the range learned last whose transaction's data lies
    // further back: (marker offset, commit).
    unmatched: HashMap<i64, (i64, bool)>,
}

impl Transactions {
    /// A batch of `producer_id`'s transaction is being stored at `offset` or later; returns
    /// whether it opens the transaction here. An offset given before the log placed the batch
    /// may only be too low, which holds the stable offset back a little, never too far.
    pub fn data(&mut self, producer_id: i64, offset: i64) -> bool {
        match self.open.get_mut(&producer_id) {
            Some(first) => {
                *first = (*first).min(offset);
                false
            }
            None => {
                self.open.insert(producer_id, offset);
                true
            }
        }
    }

    /// The batch that opened `producer_id`'s transaction, given as `guess`, was placed at
    /// `actual`. Only the opening batch may move the start: later batches of the transaction
    /// land after it, and on a host that places batches when they are stored several can share
    /// one guess.
    pub fn placed(&mut self, producer_id: i64, guess: i64, actual: i64) {
        if let Some(first) = self.open.get_mut(&producer_id) {
            if *first == guess && actual > guess {
                *first = actual;
            }
        }
    }

    /// `producer_id`'s transaction ended with a marker at `offset`.
    pub fn ended(&mut self, producer_id: i64, offset: i64, commit: bool) {
        let first = self.open.remove(&producer_id);
        if let (false, Some(first_offset)) = (commit, first) {
            // A marker read again after a snapshot that had it already.
            let known = self
                .aborted
                .iter()
                .rev()
                .take_while(|a| a.last_offset >= offset)
                .any(|a| a.producer_id == producer_id && a.last_offset == offset);
            if !known {
                // Live markers come in offset order; one read again may come before a later one.
                let at = self.aborted.partition_point(|a| a.last_offset <= offset);
                self.aborted.insert(at, Aborted { producer_id, first_offset, last_offset: offset });
            }
        }
    }

    /// What a snapshot keeps: everything, but only the newest `max_aborted` aborted
    /// transactions; the older ones are learned from the log again by a reader that goes there.
    pub fn snapshot(&self, max_aborted: usize) -> TxnSnapshot {
        let dropped = self.aborted.len().saturating_sub(max_aborted);
        // Aborts below the newest one left out are learned from the log again.
        let known_from = dropped
            .checked_sub(1)
            .map_or(self.known_from, |i| self.known_from.max(self.aborted[i].last_offset.saturating_add(1)));
        let mut open: Vec<(i64, i64)> = self.open.iter().map(|(&p, &f)| (p, f)).collect();
        open.sort_unstable();
        let mut unmatched: Vec<(i64, i64, bool)> = self.unmatched.iter().map(|(&p, &(o, c))| (p, o, c)).collect();
        unmatched.sort_unstable();
        TxnSnapshot { known_from, open, aborted: self.aborted[dropped..].to_vec(), unmatched }
    }

    /// The transactions a snapshot kept.
    pub fn restore(snapshot: TxnSnapshot) -> Self {
        let mut aborted = snapshot.aborted;
        aborted.sort_by_key(|a| a.last_offset);
        Transactions {
            open: snapshot.open.into_iter().collect(),
            aborted,
            known_from: snapshot.known_from,
            unmatched: snapshot.unmatched.into_iter().map(|(p, o, c)| (p, (o, c))).collect(),
        }
    }

    /// A marker read from the log's tail at a restart. One that ends no transaction seen there
    /// ends one whose data lies further back: kept for `learn_older` to pair, should a reader go
    /// there. (Live markers are not kept so: one per producer would pile up with every retried
    /// marker.)
    pub fn ended_in_tail(&mut self, producer_id: i64, offset: i64, commit: bool) {
        if !self.open.contains_key(&producer_id) {
            self.unmatched.entry(producer_id).or_insert((offset, commit));
        }
        self.ended(producer_id, offset, commit);
    }

    /// The last stable offset: the first offset of the oldest open transaction, else `end`.
    pub fn last_stable_offset(&self, end: i64) -> i64 {
        self.open.values().copied().min().map_or(end, |first| first.min(end))
    }

    /// The aborted transactions that hold records in `from..to`.
    pub fn aborted_in(&self, from: i64, to: i64) -> Vec<Aborted> {
        self.aborted.iter().filter(|a| a.last_offset >= from && a.first_offset < to).copied().collect()
    }

    /// Forgets aborted transactions wholly below the log start `start`.
    pub fn trim(&mut self, start: i64) {
        self.aborted.retain(|a| a.last_offset >= start);
    }

    /// Below which offset the transactions are not known yet.
    pub fn known_from(&self) -> i64 {
        self.known_from
    }

    /// The partition's state was rebuilt from the batches at `from` and after.
    pub fn restored_from(&mut self, from: i64) {
        self.known_from = from;
    }

    /// Learns the aborted transactions of `batches` (offset and role, oldest first), which are
    /// the log's batches from `from` up to where the transactions were known; that is then `from`.
    pub fn learn_older(&mut self, from: i64, batches: &[(i64, TxnRole)]) {
        if from >= self.known_from {
            return;
        }
        let mut first: HashMap<i64, i64> = HashMap::new();
        let mut unmatched: HashMap<i64, (i64, bool)> = HashMap::new();
        let mut found = Vec::new();
        for &(offset, role) in batches {
            match role {
                TxnRole::Data { producer_id, .. } => {
                    first.entry(producer_id).or_insert(offset);
                }
                TxnRole::Marker { producer_id, commit, .. } => match first.remove(&producer_id) {
                    Some(first_offset) if !commit => {
                        found.push(Aborted { producer_id, first_offset, last_offset: offset })
                    }
                    Some(_) => {}
                    None => {
                        unmatched.entry(producer_id).or_insert((offset, commit));
                    }
                },
                TxnRole::None => {}
            }
        }
        // Transactions whose data starts here and whose marker was in the range learned before.
        for (producer_id, first_offset) in first {
            if let Some((last_offset, false)) = self.unmatched.remove(&producer_id) {
                found.push(Aborted { producer_id, first_offset, last_offset });
            }
        }
        self.unmatched.extend(unmatched);
        self.aborted.extend(found);
        self.aborted.sort_by_key(|a| a.last_offset);
        self.known_from = from;
    }

    /// Where `producer_id`'s open transaction starts here, if it has one.
    pub fn first_offset(&self, producer_id: i64) -> Option<i64> {
        self.open.get(&producer_id).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stable_offset_stops_at_the_oldest_open_transaction() {
        let mut t = Transactions::default();
        assert_eq!(t.last_stable_offset(10), 10);
        assert!(t.data(1, 10));
        assert!(t.data(2, 12));
        assert!(!t.data(1, 14));
        assert_eq!(t.last_stable_offset(20), 10);
        t.ended(1, 20, true);
        assert_eq!(t.last_stable_offset(21), 12);
        t.ended(2, 21, false);
        assert_eq!(t.last_stable_offset(22), 22);
        assert_eq!(t.aborted_in(0, 22), vec![Aborted { producer_id: 2, first_offset: 12, last_offset: 21 }]);
        assert!(t.aborted_in(22, 30).is_empty(), "ended before the range");
        assert!(t.aborted_in(0, 12).is_empty(), "starts after the range");
        t.trim(22);
        assert!(t.aborted_in(0, 30).is_empty());
    }

    #[test]
    fn older_aborts_are_learned_backwards_across_ranges() {
        let data = |p| TxnRole::Data { producer_id: p, epoch: 0 };
        let mut t = Transactions::default();
        t.restored_from(100);
        // 40..100: producer 1 aborts at 60 a transaction started further back; producer 2
        // aborts 70..80; producer 3 commits 85..90.
        let marker = |p, commit| TxnRole::Marker { producer_id: p, epoch: 0, commit };
        t.learn_older(
            40,
            &[
                (60, marker(1, false)),
                (70, data(2)),
                (75, data(2)),
                (80, marker(2, false)),
                (85, data(3)),
                (90, marker(3, true)),
            ],
        );
        assert_eq!(t.known_from(), 40);
        assert_eq!(t.aborted_in(0, 100), vec![Aborted { producer_id: 2, first_offset: 70, last_offset: 80 }]);
        // 0..40: producer 1's data.
        t.learn_older(0, &[(10, data(1)), (30, data(1))]);
        assert_eq!(t.aborted_in(0, 20), vec![Aborted { producer_id: 1, first_offset: 10, last_offset: 60 }]);
        assert_eq!(t.aborted_in(0, 100).len(), 2);
        t.learn_older(0, &[(5, data(9)), (6, marker(9, false))]);
        assert_eq!(t.aborted_in(0, 100).len(), 2, "a range already known is not learned twice");
    }

    #[test]
    fn a_low_guess_is_corrected_once_the_batch_is_placed() {
        let mut t = Transactions::default();
        assert!(t.data(1, 5), "the first batch opens the transaction");
        assert!(!t.data(1, 5), "a second batch in flight shares the guess");
        t.placed(1, 5, 7);
        assert_eq!(t.last_stable_offset(9), 7);
        assert!(!t.data(1, 9));
        assert_eq!(t.last_stable_offset(12), 7, "later batches do not move the start");
        t.ended(1, 12, true);
        assert!(t.aborted_in(0, 20).is_empty(), "a commit is not reported");
    }
}
