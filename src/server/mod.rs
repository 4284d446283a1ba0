//! The Kafka listener: accepts clients, bounds how many are served, and shuts down cleanly.

pub mod connection;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::broker::Broker;
use crate::config::{Config, ConfigError};
use crate::protocol::frame::ReadLimits;

/// How long shutdown waits for connections to finish their in-flight requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client may take to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The Kafka listener: its socket, and on an `SSL://` or `SASL_SSL://` listener the TLS handshake
/// each client goes through first.
pub struct Listener {
    socket: TcpListener,
    tls: Option<TlsAcceptor>,
}

/// Why the listener cannot open.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The listener is not configured right.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The listener's certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

impl Listener {
    /// Binds the configured address with the configured TLS.
    pub async fn bind(config: &Config) -> Result<Self, ListenError> {
        let tls = Self::tls(config)?;
        let addr = config.listen_addr()?;
        let socket = TcpListener::bind(addr).await.map_err(|source| ListenError::Bind { addr, source })?;
        Ok(Listener { socket, tls })
    }

    /// The TLS acceptor the config asks for, or none on a plaintext listener.
    pub fn tls(config: &Config) -> Result<Option<TlsAcceptor>, crate::tls::TlsError> {
        config.tls_files().map(crate::tls::acceptor).transpose()
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.socket.local_addr().ok()
    }
}

/// Accepts connections on `listener` until `shutdown` resolves, then lets open connections finish
/// their current requests (up to a timeout) and returns.
pub async fn run(listener: Listener, broker: Arc<Broker>, shutdown: impl Future<Output = ()>) {
    let Listener { socket: listener, tls } = listener;
    let slots = Arc::new(Semaphore::new(broker.config().max_connections));
    let limits = ReadLimits {
        max_size: broker.config().max_request_size,
        budget: crate::protocol::budget::Budget::new(broker.config().queued_max_request_bytes),
        idle: Duration::from_millis(broker.config().connection_max_idle_ms),
        read: Duration::from_millis(broker.config().kop_request_read_timeout_ms),
    };
    let (stop, stopped) = watch::channel(false);
    // Each connection holds a clone; when all are dropped, every connection has ended.
    let (alive, mut all_done) = mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    let mut backoff = Duration::from_millis(10);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (socket, peer) = match accepted {
            Ok(pair) => {
                backoff = Duration::from_millis(10);
                pair
            }
            Err(e) => {
                // Usually out of file descriptors: wait for some connections to close.
                tracing::error!(error = %e, "accept failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        // Past the limit a new connection is closed at once: clients retry, and the ones being
        // served are not slowed by a queue of others.
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(%peer, limit = broker.config().max_connections, "connection refused: maxConnections reached");
            drop(socket);
            continue;
        };
        tracing::debug!(%peer, "client connected");
        let broker = Arc::clone(&broker);
        let limits = limits.clone();
        let stopped = stopped.clone();
        let alive = alive.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            if let Err(e) = socket.set_nodelay(true) {
                tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
            }
            match tls {
                None => {
                    let (read, write) = socket.into_split();
                    connection::serve(broker, read, write, peer, limits, stopped).await;
                }
                Some(tls) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(socket)).await {
                    Ok(Ok(stream)) => {
                        let (read, write) = tokio::io::split(stream);
                        connection::serve(broker, read, write, peer, limits, stopped).await;
                    }
                    Ok(Err(e)) => tracing::info!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
                },
            }
            drop(permit);
            drop(alive);
        });
    }
    tracing::info!("shutting down: no new connections");
    let _ = stop.send(true);
    drop(alive);
    if tokio::time::timeout(DRAIN_TIMEOUT, all_done.recv()).await.is_err() {
        tracing::warn!("some connections did not finish in time");
    }
}
