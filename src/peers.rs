//! The other brokers of the cluster, as far as this one has heard of them.
//!
//! Kafka clients take a Metadata answer's broker list as the whole cluster: librdkafka drops the
//! connections to brokers missing from it, failing the requests in flight there. So every answer
//! names every broker known to be alive, not only the owners of the partitions it describes.
//! Brokers are learned from topic lookups (any owner a lookup names), and looked for by looking
//! up the owners of every `__consumer_offsets` partition, which Pulsar spreads over the cluster.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::Endpoint;

/// A broker no lookup has named for this long is left out of Metadata answers.
const FORGET_AFTER: Duration = Duration::from_secs(600);
/// How often the offsets partitions' owners are looked up again.
const DISCOVER_EVERY: Duration = Duration::from_secs(30);

/// Brokers other than this one, by node id, with when a lookup last named them.
#[derive(Default)]
pub struct Peers {
    seen: Mutex<BTreeMap<i32, (Endpoint, Instant)>>,
    discovered: Mutex<Option<Instant>>,
}

impl Peers {
    /// Notes that a lookup named `endpoint` as an owner.
    pub fn saw(&self, endpoint: &Endpoint) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.insert(endpoint.node_id(), (endpoint.clone(), Instant::now()));
    }

    /// The brokers named recently.
    pub fn live(&self) -> Vec<(i32, Endpoint)> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.retain(|_, (_, at)| at.elapsed() < FORGET_AFTER);
        seen.iter().map(|(id, (endpoint, _))| (*id, endpoint.clone())).collect()
    }

    /// Whether it is time to look for brokers again; claims the round for the caller if so.
    pub fn claim_discovery(&self) -> bool {
        let mut last = self.discovered.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|at| at.elapsed() < DISCOVER_EVERY) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_brokers_by_node_id_and_discovers_once_per_round() {
        let peers = Peers::default();
        let a = Endpoint { host: "10.0.0.1".into(), port: 9092 };
        peers.saw(&a);
        peers.saw(&a);
        peers.saw(&Endpoint { host: "10.0.0.2".into(), port: 9092 });
        let live = peers.live();
        assert_eq!(live.len(), 2);
        assert!(live.contains(&(a.node_id(), a)));
        assert!(peers.claim_discovery());
        assert!(!peers.claim_discovery(), "a second caller in the same round does not look again");
    }
}
