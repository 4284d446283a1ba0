//! A partition's producer-state snapshot: what its idempotent producers and transactions were at
//! one offset, so a restart or an ownership move reads the log from that offset on instead of
//! guessing how far back the producers it must know reach.
//!
//! Kafka keeps the same state in `.snapshot` files beside its segments; here the host keeps one
//! snapshot per partition ([`crate::host::Log::save_snapshot`]): a file beside the segments, or a
//! property of the partition's ManagedLedger on Pulsar, where the next owner finds it.
//!
//! The bytes are the snapshot's own format, read back from disk or from the broker's metadata,
//! so decoding trusts nothing: a version byte, a CRC32C of the body, and every count checked
//! against the bytes that follow it before anything is sized by it.

use bytes::{BufMut, Bytes, BytesMut};

use super::transactions::Aborted;

/// The format written; a snapshot of another version is ignored (the log is read instead).
const VERSION: u8 = 1;

/// Version byte and CRC.
const HEADER_BYTES: usize = 5;

/// The encoded size of a producer without its batches, and of one batch.
const PRODUCER_BYTES: usize = 8 + 2 + 8 + 4 + 8 + 1;
const BATCH_BYTES: usize = 4 + 4 + 8;

/// One idempotent producer of the partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerSnapshot {
    /// Producer id.
    pub producer_id: i64,
    /// Its latest epoch.
    pub epoch: i16,
    /// The largest timestamp of its latest batch.
    pub last_timestamp: i64,
    /// The coordinator epoch of its latest marker (-1 before one).
    pub coordinator_epoch: i32,
    /// When this broker last stored a batch or marker of it (wall clock, ms).
    pub seen_ms: i64,
    /// Its last batches, oldest first: `(first sequence, last sequence, base offset)`.
    pub batches: Vec<(i32, i32, i64)>,
}

impl ProducerSnapshot {
    fn encoded_len(&self) -> usize {
        PRODUCER_BYTES + BATCH_BYTES * self.batches.len()
    }
}

/// The partition's transactions at the snapshot's offset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxnSnapshot {
    /// Below this offset the aborted transactions are not in the snapshot: readers that go there
    /// have the log read for them.
    pub known_from: i64,
    /// Open transactions: `(producer id, first offset)`.
    pub open: Vec<(i64, i64)>,
    /// Aborted transactions, by marker offset.
    pub aborted: Vec<Aborted>,
    /// Markers whose transaction's data lies below `known_from`: `(producer id, offset, commit)`.
    pub unmatched: Vec<(i64, i64, bool)>,
}

/// A partition's state at `offset`: every batch below it is reflected; batches at and above it
/// are read from the log when the snapshot is loaded (some may be reflected already, which
/// replaying them again must tolerate).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The offset the log is read from when the snapshot is loaded.
    pub offset: i64,
    /// Idempotent producers.
    pub producers: Vec<ProducerSnapshot>,
    /// Transactions.
    pub txns: TxnSnapshot,
}

impl Snapshot {
    /// The snapshot's bytes, at most about `max_bytes`: when its producers do not fit, those seen
    /// least recently are left out (they are then forgotten, as expired producers are).
    pub fn encode(mut self, max_bytes: usize) -> Bytes {
        let fixed = HEADER_BYTES
            + 8 * 2
            + 4 * 4
            + 16 * self.txns.open.len()
            + 24 * self.txns.aborted.len()
            + 17 * self.txns.unmatched.len();
        let mut room = max_bytes.saturating_sub(fixed);
        self.producers.sort_by_key(|p| std::cmp::Reverse(p.seen_ms));
        let kept = self
            .producers
            .iter()
            .take_while(|p| match room.checked_sub(p.encoded_len()) {
                Some(left) => {
                    room = left;
                    true
                }
                None => false,
            })
            .count();
        if kept < self.producers.len() {
            tracing::warn!(
                kept,
                left_out = self.producers.len() - kept,
                "the producer-state snapshot leaves out the producers seen least recently to stay small"
            );
            self.producers.truncate(kept);
        }
        self.producers.sort_by_key(|p| p.producer_id);

        let mut body = BytesMut::with_capacity(fixed + self.producers.iter().map(|p| p.encoded_len()).sum::<usize>());
        body.put_i64(self.offset);
        body.put_i64(self.txns.known_from);
        body.put_u32(self.producers.len() as u32);
        for p in &self.producers {
            body.put_i64(p.producer_id);
            body.put_i16(p.epoch);
            body.put_i64(p.last_timestamp);
            body.put_i32(p.coordinator_epoch);
            body.put_i64(p.seen_ms);
            body.put_u8(p.batches.len() as u8);
            for &(first, last, base) in &p.batches {
                body.put_i32(first);
                body.put_i32(last);
                body.put_i64(base);
            }
        }
        body.put_u32(self.txns.open.len() as u32);
        for &(producer_id, first) in &self.txns.open {
            body.put_i64(producer_id);
            body.put_i64(first);
        }
        body.put_u32(self.txns.aborted.len() as u32);
        for a in &self.txns.aborted {
            body.put_i64(a.producer_id);
            body.put_i64(a.first_offset);
            body.put_i64(a.last_offset);
        }
        body.put_u32(self.txns.unmatched.len() as u32);
        for &(producer_id, offset, commit) in &self.txns.unmatched {
            body.put_i64(producer_id);
            body.put_i64(offset);
            body.put_u8(u8::from(commit));
        }
        let mut out = BytesMut::with_capacity(HEADER_BYTES + body.len());
        out.put_u8(VERSION);
        out.put_u32(crc32c::crc32c(&body));
        out.put_slice(&body);
        out.freeze()
    }

    /// Reads a snapshot back; `Err` says why the bytes are not one.
    pub fn decode(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
        let mut r = Reader(bytes);
        match r.u8()? {
            VERSION => {}
            other => return Err(SnapshotError::Version(other)),
        }
        let crc = r.u32()?;
        if crc32c::crc32c(r.0) != crc {
            return Err(SnapshotError::Checksum);
        }
        let offset = r.i64()?;
        let known_from = r.i64()?;
        let mut producers = Vec::with_capacity(r.count(PRODUCER_BYTES)?);
        for _ in 0..producers.capacity() {
            let (producer_id, epoch, last_timestamp, coordinator_epoch, seen_ms) =
                (r.i64()?, r.i16()?, r.i64()?, r.i32()?, r.i64()?);
            let n = usize::from(r.u8()?);
            if n * BATCH_BYTES > r.0.len() {
                return Err(SnapshotError::Truncated);
            }
            let batches = (0..n).map(|_| Ok((r.i32()?, r.i32()?, r.i64()?))).collect::<Result<_, SnapshotError>>()?;
            producers.push(ProducerSnapshot {
                producer_id,
                epoch,
                last_timestamp,
                coordinator_epoch,
                seen_ms,
                batches,
            });
        }
        let open_count = r.count(16)?;
        let open = (0..open_count).map(|_| Ok((r.i64()?, r.i64()?))).collect::<Result<_, SnapshotError>>()?;
        let aborted_count = r.count(24)?;
        let aborted = (0..aborted_count)
            .map(|_| Ok(Aborted { producer_id: r.i64()?, first_offset: r.i64()?, last_offset: r.i64()? }))
            .collect::<Result<_, SnapshotError>>()?;
        let unmatched_count = r.count(17)?;
        let unmatched = (0..unmatched_count)
            .map(|_| Ok((r.i64()?, r.i64()?, r.u8()? != 0)))
            .collect::<Result<_, SnapshotError>>()?;
        if !r.0.is_empty() {
            return Err(SnapshotError::Trailing(r.0.len()));
        }
        Ok(Snapshot { offset, producers, txns: TxnSnapshot { known_from, open, aborted, unmatched } })
    }
}

/// Why stored bytes are not a snapshot this broker can use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SnapshotError {
    /// Written in a format this version does not read.
    #[error("snapshot format {0} is not known")]
    Version(u8),
    /// The body does not match its CRC.
    #[error("snapshot checksum mismatch")]
    Checksum,
    /// It ends inside a field, or a count is larger than what follows it.
    #[error("snapshot is truncated")]
    Truncated,
    /// Bytes follow the last field.
    #[error("{0} bytes follow the snapshot")]
    Trailing(usize),
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        let (head, rest) = self.0.split_first_chunk::<N>().ok_or(SnapshotError::Truncated)?;
        self.0 = rest;
        Ok(*head)
    }

    fn u8(&mut self) -> Result<u8, SnapshotError> {
        Ok(self.take::<1>()?[0])
    }

    fn i16(&mut self) -> Result<i16, SnapshotError> {
        Ok(i16::from_be_bytes(self.take()?))
    }

    fn i32(&mut self) -> Result<i32, SnapshotError> {
        Ok(i32::from_be_bytes(self.take()?))
    }

    fn u32(&mut self) -> Result<u32, SnapshotError> {
        Ok(u32::from_be_bytes(self.take()?))
    }

    fn i64(&mut self) -> Result<i64, SnapshotError> {
        Ok(i64::from_be_bytes(self.take()?))
    }

    /// A count of elements at least `min_size` bytes each, refused when they cannot fit in what
    /// is left.
    fn count(&mut self, min_size: usize) -> Result<usize, SnapshotError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_size) > self.0.len() {
            return Err(SnapshotError::Truncated);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Snapshot {
        Snapshot {
            offset: 1_234,
            producers: vec![
                ProducerSnapshot {
                    producer_id: 7,
                    epoch: 3,
                    last_timestamp: 1_700_000_000_000,
                    coordinator_epoch: -1,
                    seen_ms: 20,
                    batches: vec![(0, 4, 100), (5, 9, 105)],
                },
                ProducerSnapshot {
                    producer_id: 9,
                    epoch: 0,
                    last_timestamp: -1,
                    coordinator_epoch: 2,
                    seen_ms: 10,
                    batches: vec![],
                },
            ],
            txns: TxnSnapshot {
                known_from: 17,
                open: vec![(9, 1_000)],
                aborted: vec![Aborted { producer_id: 7, first_offset: 50, last_offset: 60 }],
                unmatched: vec![(11, 30, true)],
            },
        }
    }

    #[test]
    fn round_trips() {
        let bytes = sample().encode(1 << 20);
        assert_eq!(Snapshot::decode(&bytes), Ok(sample()));
        assert_eq!(Snapshot::decode(&Snapshot::default().encode(64)), Ok(Snapshot::default()));
    }

    #[test]
    fn producers_seen_least_recently_are_left_out_when_over_the_size() {
        let full = sample().encode(1 << 20).len();
        let smaller = Snapshot::decode(&sample().encode(full - 1)).expect("decodes");
        assert_eq!(smaller.producers.iter().map(|p| p.producer_id).collect::<Vec<_>>(), vec![7], "9 was seen first");
        assert_eq!(smaller.txns, sample().txns, "transactions are all kept");
    }

    #[test]
    fn every_cut_and_every_flipped_byte_is_refused_without_a_panic() {
        let bytes = sample().encode(1 << 20);
        for cut in 0..bytes.len() {
            assert!(Snapshot::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for at in 0..bytes.len() {
            let mut bad = bytes.to_vec();
            bad[at] ^= 0x40;
            assert!(Snapshot::decode(&bad).is_err(), "byte {at} flipped");
        }
    }

    #[test]
    fn a_huge_count_behind_a_valid_checksum_is_refused_before_anything_is_sized_by_it() {
        let mut body = BytesMut::new();
        body.put_i64(0);
        body.put_i64(0);
        body.put_u32(u32::MAX);
        let mut bytes = vec![VERSION];
        bytes.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
        bytes.extend_from_slice(&body);
        assert_eq!(Snapshot::decode(&bytes), Err(SnapshotError::Truncated));
    }
}
