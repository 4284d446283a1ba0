//! Read-ahead for partitions read through the broker. A consumer that keeps up reads where its
//! last fetch stopped; every read is a round trip through the broker's callback threads and the
//! bookie, and that round trip, not the bytes, is what a read costs. So when a fetch is answered
//! the next read is started at once, for several fetches' worth ([`FETCHES_PER_READ`]); the
//! consumer's next fetch finds it done or under way, takes what it asked for, and leaves the rest
//! for the fetch after it. A partition keeps reads ahead for a few readers at once (consumers at
//! different offsets), each for a while; all of them hold at most [`BUDGET`] bytes across the
//! broker, a read ahead shrinks to one fetch's worth when the budget is short, and beyond that
//! fetches read on demand as before.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::task::JoinHandle;

use crate::host::{HostError, HostResult, Position, ReadEntries};

/// Most bytes that reads ahead may claim at once, over every partition of the broker.
const BUDGET: usize = 64 * 1024 * 1024;

/// Fetches' worth of bytes one read ahead asks the broker for. Measured on the Pulsar host
/// (docs/performance.md): with reads of four fetches' worth instead of one, a consumer of one
/// partition asking the usual 1 MiB per fetch reads 25-30% faster for a quarter less broker CPU.
const FETCHES_PER_READ: usize = 4;

/// Readers of one partition served ahead at once.
const READERS: usize = 4;

/// How long a read ahead waits for its reader before it is dropped.
const PATIENCE: Duration = Duration::from_secs(30);

static CLAIMED: AtomicUsize = AtomicUsize::new(0);

/// A share of [`BUDGET`], returned when dropped.
struct Claim(usize);

impl Claim {
    fn take(bytes: usize) -> Option<Claim> {
        CLAIMED
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |claimed| {
                claimed.checked_add(bytes).filter(|total| *total <= BUDGET)
            })
            .ok()
            .map(|_| Claim(bytes))
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        CLAIMED.fetch_sub(self.0, Ordering::AcqRel);
    }
}

/// What a read ahead holds: the read under way, or what is left of it after a fetch took its part.
enum Source {
    Reading(JoinHandle<HostResult<ReadEntries>>),
    Left(ReadEntries),
}

/// A read started early: where it reads from, what it holds, and its share of the budget.
struct Ahead {
    from: Position,
    started: Instant,
    source: Source,
    claim: Claim,
}

impl Drop for Ahead {
    fn drop(&mut self) {
        // Unclaimed reads are not worth finishing; the broker's late callback finds no one waiting.
        if let Source::Reading(task) = &self.source {
            task.abort();
        }
    }
}

type Reads = Arc<Mutex<Vec<Ahead>>>;

/// One partition's reads ahead, oldest first.
#[derive(Default)]
pub struct ReadAhead(Reads);

fn lock(reads: &Reads) -> std::sync::MutexGuard<'_, Vec<Ahead>> {
    let mut reads = reads.lock().unwrap_or_else(|e| e.into_inner());
    reads.retain(|a| a.started.elapsed() < PATIENCE);
    reads
}

/// Whether a read ahead from `from` may be kept: not when the partition already holds one from
/// there. The oldest makes room (and gives its budget back) if the partition serves [`READERS`].
fn make_room(reads: &mut Vec<Ahead>, from: Position) -> bool {
    if reads.iter().any(|a| a.from == from) {
        return false;
    }
    if reads.len() >= READERS {
        reads.remove(0);
    }
    true
}

/// Splits `read` into what a fetch of `max_bytes` takes (whole entries, at least one) and what is
/// left for the next fetch. When not even the first entry fits, the fetch gets it and the rest
/// still starts at it: the fetch may take it (a batch larger than the fetch, KIP-74) or leave it
/// for the next fetch, and either finds it.
fn split(read: ReadEntries, max_bytes: usize) -> (ReadEntries, Option<ReadEntries>) {
    let mut total = 0usize;
    let fits = read
        .entries
        .iter()
        .take_while(|e| {
            total = total.saturating_add(e.data.len());
            total <= max_bytes
        })
        .count();
    if fits == read.entries.len() {
        return (read, None);
    }
    let ReadEntries { mut entries, next } = read;
    if fits == 0 {
        let after = entries.get(1).map(|e| e.position).or(next);
        let served = ReadEntries { entries: vec![entries[0].clone()], next: after };
        return (served, Some(ReadEntries { entries, next }));
    }
    let rest = entries.split_off(fits);
    let served = ReadEntries { next: Some(rest[0].position), entries };
    (served, Some(ReadEntries { entries: rest, next }))
}

impl ReadAhead {
    /// Starts the read that `read` issues (`read(bytes)` reads about that many bytes from `from`)
    /// in the background, for [`FETCHES_PER_READ`] fetches of `max_bytes` or, when the budget is
    /// short, for one; unless one from there is already under way or left over, the budget is
    /// spent or there is no runtime to run it on. `read` is only called, and the broker only
    /// asked, once all of that is settled.
    pub fn start(
        &self,
        from: Position,
        max_bytes: usize,
        read: impl FnOnce(usize) -> BoxFuture<'static, HostResult<ReadEntries>>,
    ) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let mut reads = lock(&self.0);
        if !make_room(&mut reads, from) {
            return;
        }
        let Some(claim) = Claim::take(max_bytes.saturating_mul(FETCHES_PER_READ)).or_else(|| Claim::take(max_bytes))
        else {
            return;
        };
        let task = runtime.spawn(read(claim.0));
        reads.push(Ahead { from, started: Instant::now(), source: Source::Reading(task), claim });
    }

    /// About `max_bytes` of entries from `from` (whole entries, at least one), if a read ahead
    /// from there was started; what the fetch does not take stays for the next one.
    pub fn take(&self, from: Position, max_bytes: usize) -> Option<BoxFuture<'static, HostResult<ReadEntries>>> {
        let mut ahead = {
            let mut reads = lock(&self.0);
            let i = reads.iter().position(|a| a.from == from)?;
            reads.remove(i)
        };
        let reads = Arc::clone(&self.0);
        Some(Box::pin(async move {
            let read = match &mut ahead.source {
                Source::Reading(task) => task
                    .await
                    .map_err(|e| HostError::Storage(std::io::Error::other(format!("read ahead failed: {e}"))))??,
                Source::Left(left) => std::mem::take(left),
            };
            // The leftover keeps the whole read's claim: its entries share the read's one buffer.
            let claim = std::mem::replace(&mut ahead.claim, Claim(0));
            drop(ahead);
            let (served, left) = split(read, max_bytes);
            if let Some(left) = left {
                if let Some(from) = left.entries.first().map(|e| e.position) {
                    let mut reads = lock(&reads);
                    if make_room(&mut reads, from) {
                        reads.push(Ahead { from, started: Instant::now(), source: Source::Left(left), claim });
                    }
                }
            }
            Ok(served)
        }))
    }

    /// Drops every read ahead (the partition was closed or moved).
    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use futures::FutureExt;
    use std::sync::atomic::AtomicU32;

    use crate::host::Entry;

    fn at(entry_id: u64) -> Position {
        Position { ledger_id: 1, entry_id }
    }

    /// A read of `count` entries of 100 bytes from `from`, counting the reads the broker is asked for.
    fn entries(
        from: u64,
        count: u64,
        asked: &'static AtomicU32,
    ) -> impl FnOnce(usize) -> BoxFuture<'static, HostResult<ReadEntries>> {
        move |_bytes| {
            asked.fetch_add(1, Ordering::SeqCst);
            let entries = (from..from + count)
                .map(|id| Entry {
                    position: at(id),
                    base_offset: id as i64,
                    last_offset: id as i64,
                    max_timestamp: 0,
                    data: Bytes::from(vec![0u8; 100]),
                })
                .collect();
            async move { Ok(ReadEntries { entries, next: Some(at(from + count)) }) }.boxed()
        }
    }

    fn ids(read: &ReadEntries) -> Vec<u64> {
        read.entries.iter().map(|e| e.position.entry_id).collect()
    }

    // One test: the budget is shared by the whole process.
    #[tokio::test]
    async fn reads_ahead_serve_several_fetches_and_stay_within_the_budget() {
        static ASKED: AtomicU32 = AtomicU32::new(0);
        let ahead = ReadAhead::default();
        ahead.start(at(5), 250, entries(5, 10, &ASKED));
        ahead.start(at(5), 250, |_| panic!("a read from there is under way"));
        assert!(ahead.take(at(6), 250).is_none(), "nothing started there");

        let first = ahead.take(at(5), 250).expect("started here").await.unwrap();
        assert_eq!(ids(&first), [5, 6], "whole entries within the fetch's bytes");
        assert_eq!(first.next, Some(at(7)));
        let second = ahead.take(at(7), 250).expect("the rest waits for the next fetch").await.unwrap();
        assert_eq!(ids(&second), [7, 8]);
        let small = ahead.take(at(9), 50).expect("left over").await.unwrap();
        assert_eq!(ids(&small), [9], "at least one entry, however small the fetch");
        assert_eq!(small.next, Some(at(10)), "after the entry served, which is where its reader goes on");
        let again = ahead.take(at(9), 1000).expect("a fetch may leave the entry it was given").await.unwrap();
        assert_eq!(ids(&again), [9, 10, 11, 12, 13, 14]);
        assert_eq!(again.next, Some(at(15)), "the end of the read");
        assert!(ahead.take(at(15), 1000).is_none(), "all taken");
        assert_eq!(ASKED.load(Ordering::SeqCst), 1, "one read served every fetch");

        for reader in 0..=READERS as u64 {
            ahead.start(at(100 + reader), 10, |_| async { Ok(ReadEntries::default()) }.boxed());
        }
        assert!(ahead.take(at(100), 10).is_none(), "the oldest made room");
        assert!(ahead.take(at(100 + READERS as u64), 10).is_some());
        ahead.clear();

        let (big, small) = (ReadAhead::default(), ReadAhead::default());
        let asked_for = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&asked_for);
        big.start(at(1), BUDGET, move |bytes| {
            seen.store(bytes, Ordering::SeqCst);
            async { Ok(ReadEntries::default()) }.boxed()
        });
        assert_eq!(asked_for.load(Ordering::SeqCst), BUDGET, "short of budget: one fetch's worth");
        small.start(at(1), 1, |_| panic!("over budget: the broker must not be asked"));
        assert!(small.take(at(1), 1).is_none(), "over budget: not started");
        big.clear();
        let asked_for = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&asked_for);
        small.start(at(1), 1000, move |bytes| {
            seen.store(bytes, Ordering::SeqCst);
            async { Ok(ReadEntries::default()) }.boxed()
        });
        assert_eq!(asked_for.load(Ordering::SeqCst), 1000 * FETCHES_PER_READ);
        assert!(small.take(at(1), 1000).is_some());
    }
}
