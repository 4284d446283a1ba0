//! The bytes of requests being read or handled, across all connections (Kafka's
//! `queued.max.request.bytes`).

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// A pool of bytes that requests take from before their bodies are read. Unlike a fair
/// semaphore, a request that fits is never queued behind a larger one that does not: clients
/// that claim huge requests wait without holding up everyone else's small ones.
pub struct Budget {
    free: Mutex<usize>,
    released: Notify,
}

/// Bytes taken from a [`Budget`], given back when dropped.
pub struct Held {
    budget: Arc<Budget>,
    bytes: usize,
}

impl Budget {
    /// A budget of `bytes`.
    pub fn new(bytes: usize) -> Arc<Self> {
        Arc::new(Budget { free: Mutex::new(bytes), released: Notify::new() })
    }

    fn try_take(&self, bytes: usize) -> bool {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if *free >= bytes {
            *free -= bytes;
            true
        } else {
            false
        }
    }

    /// Takes `bytes`, waiting until that many are free. The caller keeps `bytes` within the
    /// budget's size (the config holds `maxRequestSize` under it), or this waits for ever.
    pub async fn take(self: &Arc<Self>, bytes: usize) -> Held {
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            // Registered before looking, so a release between the look and the wait is not lost.
            released.as_mut().enable();
            if self.try_take(bytes) {
                return Held { budget: Arc::clone(self), bytes };
            }
            released.await;
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        *self.budget.free.lock().unwrap_or_else(|e| e.into_inner()) += self.bytes;
        self.budget.released.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_small_request_passes_a_large_one_that_waits() {
        let budget = Budget::new(100);
        let first = budget.take(60).await;
        let big = tokio::spawn({
            let budget = Arc::clone(&budget);
            async move { budget.take(60).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let small = tokio::time::timeout(Duration::from_secs(1), budget.take(30)).await;
        assert!(small.is_ok(), "a request that fits waited behind one that does not");
        assert!(!big.is_finished());
        drop(first);
        let big = tokio::time::timeout(Duration::from_secs(1), big).await;
        assert!(big.is_ok(), "the large request was not woken when bytes came back");
    }
}
