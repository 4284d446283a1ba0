//! Which partitions of a coordinator's log (`__consumer_offsets`, `__transaction_state`) this
//! broker coordinates: each is loaded (its state is in memory), loading, unloaded, or owned by
//! another broker. On the Pulsar host ownership moves with the bundles; the coordinator learns of
//! it from the partition's answers, never by asking on every request.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kafka_protocol::error::ResponseError;

/// How long "another broker owns this offsets partition" is believed before asking again.
const OWNER_RECHECK: Duration = Duration::from_secs(5);

/// Whether this broker has an offsets partition's groups in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    /// Not tried yet, or given up after an error.
    Unloaded,
    /// Being replayed: its groups get COORDINATOR_LOAD_IN_PROGRESS.
    Loading,
    /// Replayed; this broker coordinates its groups.
    Loaded,
    /// Another broker owns it, as of this instant (asked again after [`OWNER_RECHECK`]).
    Elsewhere(Instant),
}

/// What a request for a group learns of its offsets partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coordinated {
    /// This broker coordinates the group now.
    Here,
    /// The partition is not in memory and nobody is loading it: the caller starts the load
    /// (marked as loading already) and answers COORDINATOR_LOAD_IN_PROGRESS.
    LoadNow,
}

/// The load state of each offsets partition.
pub struct Ownership {
    loads: Mutex<Vec<Load>>,
}

impl Ownership {
    /// `partitions` partitions, none loaded.
    pub fn new(partitions: u32) -> Self {
        Ownership { loads: Mutex::new(vec![Load::Unloaded; partitions as usize]) }
    }

    fn loads(&self) -> MutexGuard<'_, Vec<Load>> {
        self.loads.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, index: u32, load: Load) {
        if let Some(slot) = self.loads().get_mut(index as usize) {
            *slot = load;
        }
    }

    /// Whether a group stored in partition `index` can be served here, or the error to answer.
    pub fn check(&self, index: u32) -> Result<Coordinated, ResponseError> {
        let mut loads = self.loads();
        let Some(load) = loads.get_mut(index as usize) else { return Err(ResponseError::CoordinatorNotAvailable) };
        match *load {
            Load::Loaded => Ok(Coordinated::Here),
            Load::Loading => Err(ResponseError::CoordinatorLoadInProgress),
            Load::Elsewhere(since) if since.elapsed() < OWNER_RECHECK => Err(ResponseError::NotCoordinator),
            Load::Elsewhere(_) | Load::Unloaded => {
                *load = Load::Loading;
                Ok(Coordinated::LoadNow)
            }
        }
    }

    /// Partition `index` is being replayed.
    pub fn loading(&self, index: u32) {
        self.set(index, Load::Loading);
    }

    /// Partition `index` is in memory.
    pub fn loaded(&self, index: u32) {
        self.set(index, Load::Loaded);
    }

    /// Partition `index` failed to load; the next request tries again.
    pub fn failed(&self, index: u32) {
        self.set(index, Load::Unloaded);
    }

    /// Another broker owns partition `index`.
    pub fn elsewhere(&self, index: u32) {
        self.set(index, Load::Elsewhere(Instant::now()));
    }

    /// Whether partition `index` is in memory here.
    pub fn is_loaded(&self, index: u32) -> bool {
        self.loads().get(index as usize) == Some(&Load::Loaded)
    }

    /// How many partitions are loaded.
    pub fn loaded_count(&self) -> usize {
        self.loads().iter().filter(|l| **l == Load::Loaded).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_loads_once_and_ownership_elsewhere_is_believed_for_a_while() {
        let ownership = Ownership::new(2);
        assert_eq!(ownership.check(0), Ok(Coordinated::LoadNow));
        assert_eq!(ownership.check(0), Err(ResponseError::CoordinatorLoadInProgress), "one load at a time");
        ownership.loaded(0);
        assert_eq!(ownership.check(0), Ok(Coordinated::Here));
        ownership.elsewhere(1);
        assert_eq!(ownership.check(1), Err(ResponseError::NotCoordinator));
        ownership.failed(1);
        assert_eq!(ownership.check(1), Ok(Coordinated::LoadNow), "a failed load is tried again");
        assert_eq!(ownership.check(7), Err(ResponseError::CoordinatorNotAvailable));
        assert_eq!(ownership.loaded_count(), 1);
    }
}
