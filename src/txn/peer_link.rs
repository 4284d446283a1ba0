//! Requests from this broker to another one of the cluster, over the other broker's Kafka
//! listener, as a Kafka client sends them: WriteTxnMarkers, which the transaction coordinator
//! sends to the owner of each partition it does not own, and the implicit joins of transactions
//! version 2 (AddPartitionsToTxn, AddOffsetsToTxn), which a partition's or a group's broker sends
//! to the transaction's coordinator.
//!
//! The other brokers listen as this one does, so a new connection speaks what this broker's
//! listener asks of its clients: TLS on an `SSL` or `SASL_SSL` listener, then on a SASL listener
//! a login with this broker's own credentials (`kopInterBrokerSaslUsername` and
//! `kopInterBrokerSaslPassword`; on Pulsar the broker's client token), a principal the peers
//! count among their `superUserRoles`.
//!
//! Connections are kept between requests (one per peer in use at a time; a second request to
//! the same peer in the meantime opens another) and dropped on any failure, so a connection
//! that returns to the pool has a clean frame boundary. Peers answer within ten seconds, or the
//! request counts as failed and the caller tries again later.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    RequestHeader, ResponseHeader, SaslAuthenticateRequest, SaslHandshakeRequest, WriteTxnMarkersRequest,
    WriteTxnMarkersResponse,
};
use kafka_protocol::protocol::{Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

use crate::config::{Config, Endpoint};
use crate::protocol::bounded;
use crate::tls::TlsError;

/// How long a peer may take to connect and answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from a peer: every answer sent for is a few bytes per partition.
const MAX_RESPONSE: usize = 16 << 20;
/// Idle connections kept in all.
const MAX_IDLE: usize = 16;
/// The WriteTxnMarkers version sent (the only one Kafka 4 and kafka-protocol know).
const MARKERS_VERSION: i16 = 1;
/// The client id peers see in their logs.
const CLIENT_ID: &str = "kop-broker";
/// The SaslHandshake and SaslAuthenticate versions sent (those kop and Kafka serve).
const SASL_HANDSHAKE_VERSION: i16 = 1;
const SASL_AUTHENTICATE_VERSION: i16 = 2;

/// Why a peer did not answer.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// No connection, or it broke.
    #[error("peer {endpoint}: {source}")]
    Io {
        /// The peer.
        endpoint: String,
        /// What failed.
        source: std::io::Error,
    },
    /// No answer in time.
    #[error("peer {0} did not answer in time")]
    Timeout(String),
    /// An answer that is not the one asked for.
    #[error("peer {endpoint} answered badly: {reason}")]
    BadAnswer {
        /// The peer.
        endpoint: String,
        /// What was wrong.
        reason: String,
    },
    /// The peer did not take this broker's login, or this broker has none to give.
    #[error("peer {endpoint} refused this broker's login: {reason}")]
    Login {
        /// The peer.
        endpoint: String,
        /// Why.
        reason: String,
    },
}

/// A connection to a peer: TCP, or TLS over it.
trait PeerStream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> PeerStream for T {}

type Stream = Box<dyn PeerStream>;

/// The SASL login this broker gives its peers.
#[derive(Clone)]
struct Login {
    mechanism: &'static str,
    auth_bytes: Bytes,
}

/// What a new connection to a peer must speak before its first request.
#[derive(Clone, Default)]
pub struct PeerSecurity {
    tls: Option<TlsConnector>,
    // `Some(None)`: the peers ask for a login this broker has no credentials for.
    sasl: Option<Option<Login>>,
}

impl PeerSecurity {
    /// What `config`'s listener asks of its clients, which the peers' listeners ask too.
    pub fn from_config(config: &Config) -> Result<Self, TlsError> {
        let tls = config.tls_files().map(crate::tls::connector).transpose()?;
        let sasl = config.sasl_required().then(|| {
            let (user, password) =
                (config.kop_inter_broker_sasl_username.as_deref(), config.kop_inter_broker_sasl_password.as_deref());
            let (Some(user), Some(password)) = (user, password) else {
                tracing::warn!("the listener asks clients for SASL, but kopInterBrokerSaslUsername and kopInterBrokerSaslPassword are not set: transactions that span brokers cannot end");
                return None;
            };
            Some(if config.sasl_mechanisms().iter().any(|m| m == "PLAIN") {
                Login { mechanism: "PLAIN", auth_bytes: Bytes::from(format!("\0{user}\0{password}")) }
            } else {
                // OAUTHBEARER (RFC 7628): the password is the bearer token (on Pulsar, the token
                // of a `token:` password).
                let token = password.strip_prefix("token:").unwrap_or(password);
                Login { mechanism: "OAUTHBEARER", auth_bytes: Bytes::from(format!("n,,\x01auth=Bearer {token}\x01\x01")) }
            })
        });
        Ok(PeerSecurity { tls, sasl })
    }
}

/// Connections to the cluster's other brokers.
#[derive(Default)]
pub struct PeerLinks {
    security: PeerSecurity,
    idle: Mutex<Vec<(Endpoint, Stream)>>,
    correlation: AtomicI32,
}

impl PeerLinks {
    /// Links that speak what `security` says.
    pub fn new(security: PeerSecurity) -> Self {
        PeerLinks { security, idle: Mutex::default(), correlation: AtomicI32::new(0) }
    }

    /// Sends WriteTxnMarkers to the broker at `to` and returns its answer.
    pub async fn write_markers(
        &self,
        to: &Endpoint,
        request: &WriteTxnMarkersRequest,
    ) -> Result<WriteTxnMarkersResponse, LinkError> {
        self.send(to, request, MARKERS_VERSION).await
    }

    /// Sends `request` at `version` to the broker at `to` and returns its answer.
    pub async fn send<R: Request>(&self, to: &Endpoint, request: &R, version: i16) -> Result<R::Response, LinkError> {
        let mut stream = match self.take_idle(to) {
            Some(stream) => stream,
            None => tokio::time::timeout(TIMEOUT, self.connect(to))
                .await
                .map_err(|_| LinkError::Timeout(endpoint_name(to)))??,
        };
        let response = self.request_on(&mut stream, to, request, version).await?;
        self.put_idle(to, stream);
        Ok(response)
    }

    /// One request and its answer over `stream`.
    async fn request_on<R: Request>(
        &self,
        stream: &mut Stream,
        to: &Endpoint,
        request: &R,
        version: i16,
    ) -> Result<R::Response, LinkError> {
        let correlation_id = self.correlation.fetch_add(1, Ordering::Relaxed);
        let frame = encode_request(request, version, correlation_id).map_err(|reason| bad(to, reason))?;
        let name = endpoint_name(to);
        let body = tokio::time::timeout(TIMEOUT, exchange(stream, &frame))
            .await
            .map_err(|_| LinkError::Timeout(name.clone()))?
            .map_err(|source| LinkError::Io { endpoint: name, source })?;
        decode_response::<R>(body, version, correlation_id).map_err(|reason| bad(to, reason))
    }

    /// A new connection to `to`, through TLS and the SASL login where the listeners ask for them.
    async fn connect(&self, to: &Endpoint) -> Result<Stream, LinkError> {
        let io = |source| LinkError::Io { endpoint: endpoint_name(to), source };
        let tcp = TcpStream::connect((to.host.as_str(), to.port)).await.map_err(io)?;
        let _ = tcp.set_nodelay(true);
        let mut stream: Stream = match &self.security.tls {
            None => Box::new(tcp),
            Some(connector) => {
                let name = ServerName::try_from(to.host.clone()).map_err(|e| bad(to, e.to_string()))?;
                Box::new(connector.connect(name, tcp).await.map_err(io)?)
            }
        };
        match &self.security.sasl {
            None => {}
            Some(None) => {
                return Err(login(to, "kopInterBrokerSaslUsername and kopInterBrokerSaslPassword are not set"))
            }
            Some(Some(credentials)) => self.log_in(&mut stream, to, credentials).await?,
        }
        Ok(stream)
    }

    async fn log_in(&self, stream: &mut Stream, to: &Endpoint, credentials: &Login) -> Result<(), LinkError> {
        let handshake =
            SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(credentials.mechanism));
        let answer = self.request_on(stream, to, &handshake, SASL_HANDSHAKE_VERSION).await?;
        if answer.error_code != 0 {
            let offered: Vec<&str> = answer.mechanisms.iter().map(|m| m.as_str()).collect();
            return Err(login(to, &format!("{} is not offered (only {offered:?})", credentials.mechanism)));
        }
        let authenticate = SaslAuthenticateRequest::default().with_auth_bytes(credentials.auth_bytes.clone());
        let answer = self.request_on(stream, to, &authenticate, SASL_AUTHENTICATE_VERSION).await?;
        if answer.error_code != 0 {
            return Err(login(to, answer.error_message.as_deref().unwrap_or("no reason given")));
        }
        Ok(())
    }

    fn take_idle(&self, to: &Endpoint) -> Option<Stream> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let at = idle.iter().position(|(e, _)| e == to)?;
        Some(idle.swap_remove(at).1)
    }

    fn put_idle(&self, to: &Endpoint, stream: Stream) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push((to.clone(), stream));
        }
    }
}

fn endpoint_name(e: &Endpoint) -> String {
    format!("{}:{}", e.host, e.port)
}

fn bad(to: &Endpoint, reason: String) -> LinkError {
    LinkError::BadAnswer { endpoint: endpoint_name(to), reason }
}

fn login(to: &Endpoint, reason: &str) -> LinkError {
    LinkError::Login { endpoint: endpoint_name(to), reason: reason.to_string() }
}

/// Writes one request frame and reads one response frame's body.
async fn exchange(stream: &mut Stream, frame: &[u8]) -> std::io::Result<Bytes> {
    stream.write_all(frame).await?;
    let size = stream.read_i32().await?;
    let size = usize::try_from(size)
        .ok()
        .filter(|s| *s <= MAX_RESPONSE)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("a {size}-byte answer")))?;
    let mut body = vec![0u8; size];
    stream.read_exact(&mut body).await?;
    Ok(Bytes::from(body))
}

fn encode_request<R: Request>(request: &R, version: i16, correlation_id: i32) -> Result<Bytes, String> {
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str(CLIENT_ID)));
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    header.encode(&mut buf, R::header_version(version)).map_err(|e| e.to_string())?;
    request.encode(&mut buf, version).map_err(|e| e.to_string())?;
    let size = i32::try_from(buf.len() - 4).map_err(|_| "request too large".to_string())?;
    buf[..4].copy_from_slice(&size.to_be_bytes());
    Ok(buf.freeze())
}

fn decode_response<R: Request>(mut body: Bytes, version: i16, correlation_id: i32) -> Result<R::Response, String> {
    let header: ResponseHeader =
        bounded::decode_prefix(&mut body, R::Response::header_version(version)).map_err(|e| e.to_string())?;
    if header.correlation_id != correlation_id {
        return Err(format!("correlation id {} for {correlation_id}", header.correlation_id));
    }
    // Through the bound like any frame off the network: a peer is another process.
    bounded::decode(&body, version).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::write_txn_markers_request::{WritableTxnMarker, WritableTxnMarkerTopic};
    use kafka_protocol::messages::write_txn_markers_response::{
        WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
    };
    use kafka_protocol::messages::{ApiKey, ProducerId, TopicName};
    use kafka_protocol::protocol::Decodable;
    use tokio::net::TcpListener;

    fn request() -> WriteTxnMarkersRequest {
        let topic = WritableTxnMarkerTopic::default()
            .with_name(TopicName(StrBytes::from_static_str("t")))
            .with_partition_indexes(vec![0, 3]);
        WriteTxnMarkersRequest::default().with_markers(vec![WritableTxnMarker::default()
            .with_producer_id(ProducerId(7))
            .with_producer_epoch(2)
            .with_transaction_result(true)
            .with_topics(vec![topic])])
    }

    /// A peer that reads one request per connection turn and answers each partition with
    /// `error`, checking what it was sent; returns how many connections it accepted.
    async fn peer(listener: TcpListener, answers: usize, error: i16) -> usize {
        let mut connections = 0;
        let mut served = 0;
        while served < answers {
            let (mut s, _) = listener.accept().await.unwrap();
            connections += 1;
            while served < answers {
                let Ok(size) = s.read_i32().await else { break };
                let mut frame = vec![0u8; size as usize];
                s.read_exact(&mut frame).await.unwrap();
                let mut frame = Bytes::from(frame);
                let header = RequestHeader::decode(&mut frame, 2).unwrap();
                assert_eq!(header.request_api_key, ApiKey::WriteTxnMarkers as i16);
                let req = WriteTxnMarkersRequest::decode(&mut frame, 1).unwrap();
                assert_eq!(req, request());
                let results = WritableTxnMarkerTopicResult::default()
                    .with_name(req.markers[0].topics[0].name.clone())
                    .with_partitions(
                        vec![0, 3]
                            .into_iter()
                            .map(|p| {
                                WritableTxnMarkerPartitionResult::default()
                                    .with_partition_index(p)
                                    .with_error_code(error)
                            })
                            .collect(),
                    );
                let resp = WriteTxnMarkersResponse::default().with_markers(vec![WritableTxnMarkerResult::default()
                    .with_producer_id(ProducerId(7))
                    .with_topics(vec![results])]);
                let mut out = BytesMut::new();
                out.put_i32(0);
                ResponseHeader::default().with_correlation_id(header.correlation_id).encode(&mut out, 1).unwrap();
                resp.encode(&mut out, 1).unwrap();
                let n = (out.len() - 4) as i32;
                out[..4].copy_from_slice(&n.to_be_bytes());
                s.write_all(&out).await.unwrap();
                served += 1;
            }
        }
        connections
    }

    #[tokio::test]
    async fn sends_markers_and_reuses_the_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let served = tokio::spawn(peer(listener, 2, 0));
        let links = PeerLinks::default();
        let to = Endpoint { host: "127.0.0.1".into(), port };
        for _ in 0..2 {
            let resp = links.write_markers(&to, &request()).await.unwrap();
            let codes: Vec<i16> = resp.markers[0].topics[0].partitions.iter().map(|p| p.error_code).collect();
            assert_eq!(codes, vec![0, 0]);
        }
        assert_eq!(served.await.unwrap(), 1, "the second request went over the first connection");
    }

    #[tokio::test]
    async fn a_peer_that_is_gone_is_an_error_not_a_hang() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let to = Endpoint { host: "127.0.0.1".into(), port };
        assert!(matches!(PeerLinks::default().write_markers(&to, &request()).await, Err(LinkError::Io { .. })));
    }

    #[tokio::test]
    async fn an_answer_that_claims_too_many_bytes_is_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let size = s.read_i32().await.unwrap();
            let mut frame = vec![0u8; size as usize];
            s.read_exact(&mut frame).await.unwrap();
            s.write_all(&i32::MAX.to_be_bytes()).await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let to = Endpoint { host: "127.0.0.1".into(), port };
        assert!(matches!(PeerLinks::default().write_markers(&to, &request()).await, Err(LinkError::Io { .. })));
    }
}
