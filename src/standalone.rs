//! Running the core on the embedded engine, as `kop serve` does: open the data directory, bind,
//! serve until told to stop, flush. (Inside Pulsar, `jni` starts the same core over the Pulsar
//! host instead.)

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;

use crate::broker::Broker;
use crate::config::Config;
use crate::host::embedded::users::ConfiguredUsers;
use crate::host::embedded::EmbeddedHost;
use crate::host::HostError;
use crate::server::{ListenError, Listener};

/// Why `kop serve` cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory cannot be opened.
    #[error("cannot open the data directory: {0}")]
    Storage(#[from] HostError),
    /// The broker cannot start over it.
    #[error(transparent)]
    Broker(#[from] crate::broker::StartError),
    /// The listener cannot open.
    #[error(transparent)]
    Listen(#[from] ListenError),
}

/// A broker that has bound its listener and opened its topics, ready to serve.
pub struct Ready {
    host: Arc<EmbeddedHost>,
    broker: Arc<Broker>,
    listener: Listener,
}

impl Ready {
    /// Opens the data directory and binds the listener, reporting either failure at once.
    pub async fn open(config: Config) -> Result<Self, StartError> {
        let host = EmbeddedHost::new(&config)?;
        let users =
            Arc::new(ConfiguredUsers::new(config.sasl_plain_users.clone(), config.sasl_oauthbearer_tokens.clone()));
        // Bound before the topics open, so a taken port or a bad certificate fails at once.
        let listener = Listener::bind(&config).await?;
        let broker = Broker::open(config, Arc::clone(&host) as _, users).await?;
        Ok(Ready { host, broker, listener })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then drains connections and flushes every log.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let Ready { host, broker, listener } = self;
        tracing::info!(listen = ?listener.local_addr(),
            advertised = %format!("{}:{}", broker.advertised().host, broker.advertised().port),
            data_dir = %broker.config().data_dir.display(), topics = broker.topics().all().len(), "kop is serving Kafka");
        let (stop, stopped) = watch::channel(false);
        let maintenance = tokio::spawn(Arc::clone(&host).run_maintenance(wait_for(stopped)));
        crate::server::run(listener, broker, shutdown).await;
        let _ = stop.send(true);
        if let Err(e) = maintenance.await {
            tracing::error!("maintenance task failed: {e}");
        }
        tracing::info!("stopped");
    }
}

async fn wait_for(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}
