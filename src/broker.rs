//! The broker core: configuration and the topics it serves, shared by every connection.

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::config::{Config, ConfigError, Endpoint};
use crate::group::{GroupConfig, GroupCoordinator};
use crate::host::{Authenticator, HostResult, Owner, TopicStore};
use crate::partition::{ProducerStateSettings, TopicRegistry};
use crate::peers::Peers;
use crate::topic_config::TopicConfig;
use crate::txn::{PeerLinks, PeerSecurity, ProducerIds, TransactionCoordinator, TxnConfig};

/// How often a broker on a host shared with other brokers lists the topics again, to notice
/// those deleted, grown or reconfigured through the others (a full Metadata request does too).
const TOPIC_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// State shared by all connections. Handlers are given the part they use (see
/// `handlers::parts`), never this whole struct unless they answer for the cluster as a whole
/// (Metadata, the admin APIs, FindCoordinator).
pub struct Broker {
    config: Config,
    advertised: Endpoint,
    topics: Arc<TopicRegistry>,
    groups: Arc<GroupCoordinator>,
    transactions: Transactions,
    auth: Arc<dyn Authenticator>,
    peers: Peers,
}

/// What the producer-id and transaction APIs use: the coordinator (absent when
/// `kafkaTransactionCoordinatorEnabled` is off) and the partitions and groups markers reach.
pub struct Transactions {
    coordinator: Option<Arc<TransactionCoordinator>>,
    topics: Arc<TopicRegistry>,
    groups: Arc<GroupCoordinator>,
    ids: Arc<ProducerIds>,
}

impl Transactions {
    /// The transaction coordinator, if this broker runs one.
    pub fn coordinator(&self) -> Option<&Arc<TransactionCoordinator>> {
        self.coordinator.as_ref()
    }

    /// Open topics, where markers are written.
    pub fn topics(&self) -> &Arc<TopicRegistry> {
        &self.topics
    }

    /// Consumer groups, whose transactional offsets markers settle.
    pub fn groups(&self) -> &Arc<GroupCoordinator> {
        &self.groups
    }

    /// A producer id never handed out before.
    pub fn next_producer_id(&self) -> i64 {
        self.ids.next()
    }
}

/// A broker that could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The host could not open its topics.
    #[error("cannot open topics: {0}")]
    Host(#[from] crate::host::HostError),
    /// The TLS the other brokers are reached with could not be set up.
    #[error("TLS to the other brokers: {0}")]
    PeerTls(#[from] crate::tls::TlsError),
}

impl Broker {
    /// Builds the broker over a host's topic store, opening every topic it has.
    pub async fn open(
        config: Config,
        store: Arc<dyn TopicStore>,
        auth: Arc<dyn Authenticator>,
    ) -> Result<Arc<Self>, StartError> {
        config.validate()?;
        let advertised = config.advertised()?;
        let topics = Arc::new(
            TopicRegistry::load(store, TopicConfig::defaults(&config), ProducerStateSettings::from_config(&config))
                .await?,
        );
        let groups = GroupCoordinator::start(&topics, GroupConfig::from_config(&config)).await?;
        let ids = Arc::new(ProducerIds::default());
        let coordinator = if config.kafka_transaction_coordinator_enabled {
            let txn_config = TxnConfig::from_config(&config);
            let (t, g, i) = (Arc::clone(&topics), Arc::clone(&groups), Arc::clone(&ids));
            let links = PeerLinks::new(PeerSecurity::from_config(&config)?);
            Some(TransactionCoordinator::start(t, g, i, txn_config, links).await?)
        } else {
            None
        };
        let transactions = Transactions { coordinator, topics: Arc::clone(&topics), groups: Arc::clone(&groups), ids };
        let peers = Peers::default();
        let broker = Arc::new(Broker { config, advertised, topics, groups, transactions, auth, peers });
        tokio::spawn(keep_topics_current(Arc::downgrade(&broker)));
        Ok(broker)
    }

    /// The configuration the broker runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The address clients are told to connect to.
    pub fn advertised(&self) -> &Endpoint {
        &self.advertised
    }

    /// Open topics and their partitions.
    pub fn topics(&self) -> &Arc<TopicRegistry> {
        &self.topics
    }

    /// Consumer groups and their offsets.
    pub fn groups(&self) -> &Arc<GroupCoordinator> {
        &self.groups
    }

    /// Producer ids and transactions.
    pub fn transactions(&self) -> &Transactions {
        &self.transactions
    }

    /// Checks SASL credentials on a `SASL_PLAINTEXT` listener.
    pub fn auth(&self) -> &Arc<dyn Authenticator> {
        &self.auth
    }

    /// The other brokers of the cluster that lookups have named.
    pub fn peers(&self) -> &Peers {
        &self.peers
    }

    /// This broker's Kafka node id, the leader of every partition it serves.
    pub fn node_id(&self) -> i32 {
        self.config.broker_id
    }

    /// Which broker serves a partition; remembers every other broker a lookup names.
    pub async fn owner(&self, topic: &str, partition: u32) -> HostResult<Owner> {
        let owner = self.topics.owner(topic, partition).await?;
        if let Owner::Remote(endpoint) = &owner {
            self.peers.saw(endpoint);
        }
        Ok(owner)
    }

    /// Looks for the cluster's other brokers, at most once per round (see [`Peers`]): the owners
    /// of the `__consumer_offsets` partitions, which Pulsar spreads over every broker.
    pub async fn discover_peers(&self) {
        if !self.peers.claim_discovery() {
            return;
        }
        let partitions = self.config.offsets_topic_num_partitions;
        let lookups = (0..partitions).map(|p| self.owner(crate::names::OFFSETS_TOPIC, p));
        let failed = futures::future::join_all(lookups).await.into_iter().filter(Result::is_err).count();
        if failed > 0 {
            tracing::debug!(failed, "some offsets partitions have no owner yet");
        }
    }
}

/// Refreshes the topic registry periodically while the broker lives, on hosts that share topics.
async fn keep_topics_current(broker: Weak<Broker>) {
    let mut tick = tokio::time::interval(TOPIC_REFRESH_INTERVAL);
    tick.tick().await; // the first tick is immediate; the registry was just loaded
    loop {
        tick.tick().await;
        let Some(broker) = broker.upgrade() else { return };
        match broker.topics().refresh().await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => tracing::warn!(error = %e, "cannot list the host's topics; will try again"),
        }
    }
}
