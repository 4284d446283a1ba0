//! The broker core: configuration and the topics it serves, shared by every connection.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use crate::config::{Config, ConfigError, Endpoint};
use crate::group::GroupCoordinator;
use crate::host::{Authenticator, TopicStore};
use crate::partition::TopicRegistry;
use crate::topic_config::TopicConfig;

/// State shared by all connections and handlers.
pub struct Broker {
    /// The configuration the broker runs with.
    pub config: Config,
    /// The address clients are told to connect to.
    pub advertised: Endpoint,
    /// Open topics.
    pub topics: TopicRegistry,
    /// Consumer groups and their offsets.
    pub groups: Arc<GroupCoordinator>,
    /// Checks SASL credentials on a `SASL_PLAINTEXT` listener.
    pub auth: Arc<dyn Authenticator>,
    next_producer_id: AtomicI64,
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
    /// The listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
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
        let topics = TopicRegistry::load(store, TopicConfig::defaults(&config)).await?;
        let groups = GroupCoordinator::start(&topics, config.group_config()).await?;
        // Seeded from the clock (1024 ids per millisecond) so ids stay unique across restarts
        // without storing a counter.
        let next_producer_id = AtomicI64::new(crate::clock::now_ms() << 10);
        Ok(Arc::new(Broker { config, advertised, topics, groups, auth, next_producer_id }))
    }

    /// Opens the broker over `store` and binds its Kafka listener, so a bad config, unreadable
    /// storage or a taken port all fail here, before anything is served.
    pub async fn open_and_bind(
        config: Config,
        store: Arc<dyn TopicStore>,
        auth: Arc<dyn Authenticator>,
    ) -> Result<(Arc<Self>, tokio::net::TcpListener), StartError> {
        let addr = config.listen_addr()?;
        let broker = Broker::open(config, store, auth).await?;
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
        Ok((broker, listener))
    }

    /// A producer id never handed out before.
    pub fn next_producer_id(&self) -> i64 {
        self.next_producer_id.fetch_add(1, Ordering::Relaxed)
    }

    /// This broker's Kafka node id, the leader of every partition it serves.
    pub fn node_id(&self) -> i32 {
        self.config.broker_id
    }
}
