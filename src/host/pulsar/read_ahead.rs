//! Read-ahead for partitions read through the broker. A consumer that keeps up reads where its
//! last fetch stopped; every read is a round trip through the broker's callback threads, so the
//! next read is started as soon as a fetch is answered, and the consumer's next fetch finds it
//! done or under way. A partition keeps reads ahead for a few readers at once (consumers at
//! different offsets), each for a while; all of them hold at most [`BUDGET`] bytes across the
//! broker, and beyond that fetches read on demand as before.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::task::JoinHandle;

use crate::host::{HostError, HostResult, Position, ReadEntries};

/// Most bytes that reads ahead may claim at once, over every partition of the broker.
const BUDGET: usize = 64 * 1024 * 1024;

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

/// A read started early: where it reads from, with what budget, and the task doing it.
struct Ahead {
    from: Position,
    max_bytes: usize,
    started: Instant,
    task: JoinHandle<HostResult<ReadEntries>>,
    _claim: Claim,
}

impl Drop for Ahead {
    fn drop(&mut self) {
        // Unclaimed reads are not worth finishing; the broker's late callback finds no one waiting.
        self.task.abort();
    }
}

/// One partition's reads ahead, oldest first.
#[derive(Default)]
pub struct ReadAhead(Mutex<Vec<Ahead>>);

impl ReadAhead {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Ahead>> {
        let mut reads = self.0.lock().unwrap_or_else(|e| e.into_inner());
        reads.retain(|a| a.started.elapsed() < PATIENCE);
        reads
    }

    /// Starts the read that `read` issues (about `max_bytes` from `from`) in the background,
    /// unless one from there is already under way, the budget is spent or there is no runtime to
    /// run it on; `read` is only called, and the broker only asked, once all of that is settled.
    /// The oldest read ahead of the partition makes room if it already serves [`READERS`].
    pub fn start(
        &self,
        from: Position,
        max_bytes: usize,
        read: impl FnOnce() -> BoxFuture<'static, HostResult<ReadEntries>>,
    ) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let mut reads = self.lock();
        if reads.iter().any(|a| a.from == from) {
            return;
        }
        if reads.len() >= READERS {
            reads.remove(0);
        }
        let Some(claim) = Claim::take(max_bytes) else { return };
        reads.push(Ahead { from, max_bytes, started: Instant::now(), task: runtime.spawn(read()), _claim: claim });
    }

    /// The read ahead from `from` with budget `max_bytes`, if one was started.
    pub fn take(&self, from: Position, max_bytes: usize) -> Option<BoxFuture<'static, HostResult<ReadEntries>>> {
        let ahead = {
            let mut reads = self.lock();
            let i = reads.iter().position(|a| a.from == from)?;
            reads.remove(i)
        };
        if ahead.max_bytes != max_bytes {
            return None;
        }
        Some(Box::pin(async move {
            let mut ahead = ahead;
            let joined = (&mut ahead.task).await;
            joined.map_err(|e| HostError::Storage(std::io::Error::other(format!("read ahead failed: {e}"))))?
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
    use futures::FutureExt;

    fn at(entry_id: u64) -> Position {
        Position { ledger_id: 1, entry_id }
    }

    // One test: the budget is shared by the whole process.
    #[tokio::test]
    async fn reads_ahead_are_taken_where_started_and_stay_within_the_budget() {
        let ahead = ReadAhead::default();
        let read = || || async { Ok(ReadEntries::default()) }.boxed();
        ahead.start(at(5), 1000, read());
        ahead.start(at(9), 1000, read());
        assert!(ahead.take(at(6), 1000).is_none(), "nothing started there");
        assert!(ahead.take(at(5), 1000).expect("started here").await.is_ok());
        assert!(ahead.take(at(5), 1000).is_none(), "taken once");
        assert!(ahead.take(at(9), 500).is_none(), "another budget: read again");
        for reader in 0..=READERS as u64 {
            ahead.start(at(100 + reader), 10, read());
        }
        assert!(ahead.take(at(100), 10).is_none(), "the oldest made room");
        assert!(ahead.take(at(100 + READERS as u64), 10).is_some());
        ahead.clear();

        let (big, small) = (ReadAhead::default(), ReadAhead::default());
        big.start(at(1), BUDGET, read());
        small.start(at(1), 1, || panic!("over budget: the broker must not be asked"));
        assert!(small.take(at(1), 1).is_none(), "over budget: not started");
        big.clear();
        small.start(at(1), 1, read());
        assert!(small.take(at(1), 1).is_some());
    }
}
