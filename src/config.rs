//! The one typed configuration of the broker core.
//!
//! Standalone reads it from a TOML file and CLI flags; inside Pulsar the shim passes the broker's
//! `kafka*` properties. Key names follow KoP's (and Pulsar's) where one exists, in camelCase.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// When the embedded host forces written data to the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlushMode {
    /// fsync before acknowledging each produce: survives power loss, costs latency.
    Always,
    /// fsync every `logFlushIntervalMs`: a crash of the process loses nothing acknowledged (the
    /// data is in the OS page cache), a power loss at most one interval.
    Interval,
    /// Leave flushing to the OS: survives a process crash, not a power loss.
    Never,
}

/// Broker configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Config {
    /// Where to accept Kafka clients: `PLAINTEXT://host:port` (or plain `host:port`).
    pub kafka_listeners: String,
    /// The address given to clients in Metadata/FindCoordinator; defaults to the listener.
    pub kafka_advertised_listeners: Option<String>,
    /// The name of a Pulsar `advertisedListeners` entry whose address is each broker's Kafka
    /// listener (Pulsar host). Lookups then answer with the owner's Kafka address; without it the
    /// owner's host is taken with this broker's Kafka port.
    pub kafka_listener_name: Option<String>,
    /// Pulsar tenant of Kafka topics (Pulsar host).
    pub kafka_tenant: String,
    /// Pulsar namespace of Kafka topics (Pulsar host).
    pub kafka_namespace: String,
    /// Pulsar tenant of internal topics such as `__consumer_offsets` (Pulsar host).
    pub kafka_metadata_tenant: String,
    /// Pulsar namespace of internal topics (Pulsar host).
    pub kafka_metadata_namespace: String,
    /// Root directory of the embedded host's data.
    pub data_dir: PathBuf,
    /// Kafka cluster id reported in Metadata.
    pub cluster_id: String,
    /// This broker's Kafka node id.
    pub broker_id: i32,
    /// Whether Metadata may create topics clients ask for (KoP/Pulsar: `allowAutoTopicCreation`).
    pub allow_auto_topic_creation: bool,
    /// Partitions of an auto-created topic (Pulsar: `defaultNumPartitions`).
    pub default_num_partitions: u32,
    /// Most partitions a topic may have: CreateTopics and CreatePartitions asking for more get
    /// INVALID_PARTITIONS, since every partition costs the host a log (a directory and files, or
    /// a ManagedLedger) and one request could otherwise ask for billions.
    pub max_partitions_per_topic: u32,
    /// Largest request frame accepted; a larger one closes the connection.
    pub max_request_size: usize,
    /// Largest record batch accepted, the default of `max.message.bytes` (Pulsar: `maxMessageSize`).
    pub max_message_size: usize,
    /// Default `segment.bytes`.
    pub log_segment_bytes: u64,
    /// Default `retention.ms` (-1: forever).
    pub log_retention_ms: i64,
    /// Default `retention.bytes` (-1: no limit).
    pub log_retention_bytes: i64,
    /// How often retention is checked.
    pub log_retention_check_interval_ms: u64,
    /// When written data is forced to disk.
    pub log_flush_policy: FlushMode,
    /// Period of the `interval` flush policy.
    pub log_flush_interval_ms: u64,
    /// Bytes between two points of the sparse offset/time index.
    pub log_index_interval_bytes: u64,
    /// Partitions of `__consumer_offsets` (KoP's key and default).
    pub offsets_topic_num_partitions: u32,
    /// How long the offsets of an empty group are kept.
    pub offsets_retention_minutes: u64,
    /// Largest metadata string on a committed offset.
    pub offset_metadata_max_size: usize,
    /// Delay before an empty group's first rebalance completes.
    pub group_initial_rebalance_delay_ms: u64,
    /// Whether transactional producers are served (KoP's key; on by default here, because Kafka
    /// 3.2+ clients turn idempotence on by default and many applications use transactions).
    pub kafka_transaction_coordinator_enabled: bool,
    /// Partitions of `__transaction_state` (KoP's key and default).
    pub kafka_txn_log_topic_num_partitions: u32,
    /// Largest `transaction.timeout.ms` a producer may ask for (Kafka's
    /// `transaction.max.timeout.ms`).
    pub transaction_max_timeout_ms: u64,
    /// Whether idle transactional ids are forgotten (KoP's key and default).
    pub kafka_transactional_id_expiration_enable: bool,
    /// How long a transactional id with no transaction open is kept after its last change (KoP's
    /// key; Kafka's `transactional.id.expiration.ms`).
    pub kafka_transactional_id_expiration_ms: u64,
    /// How long a producer id that writes nothing is remembered by a partition (Kafka's
    /// `producer.id.expiration.ms`); one with a transaction open there is kept until it ends.
    pub kafka_producer_id_expiration_ms: u64,
    /// How often a partition that is written saves its producer-state snapshot (KoP's key): a
    /// restart or an ownership move reads the log from the last snapshot on.
    pub kafka_txn_producer_state_topic_snapshot_interval_seconds: u64,
    /// The transaction protocol announced to clients (Kafka's `transaction.version` feature):
    /// 2 lets Kafka 4 clients use transactions version 2 (KIP-890), 1 keeps every client on
    /// the first one. Both are served either way.
    pub kafka_transaction_version: u16,
    /// How often idle transactional ids are looked for (KoP's key; Kafka's
    /// `transaction.remove.expired.transaction.cleanup.interval.ms`).
    pub kafka_transactions_remove_expired_transactional_id_cleanup_interval_ms: u64,
    /// Smallest session timeout a member may ask for.
    pub group_min_session_timeout_ms: u64,
    /// Largest session timeout a member may ask for.
    pub group_max_session_timeout_ms: u64,
    /// Most client connections served at once; a connection past it is closed as soon as it is
    /// accepted, and existing clients carry on.
    pub max_connections: usize,
    /// Bytes of requests being read or waiting to be handled, across all connections (Kafka's
    /// `queued.max.request.bytes`). A connection whose next request does not fit waits, unread,
    /// until others finish. At least `maxRequestSize`.
    pub queued_max_request_bytes: usize,
    /// A connection with no request for this long is closed (KoP's key).
    pub connection_max_idle_ms: u64,
    /// A request must arrive in full within this long of its first byte; a client that stalls
    /// mid-request is cut off.
    pub kop_request_read_timeout_ms: u64,
    /// Requests a connection may have in progress before it stops reading more.
    pub max_queued_requests: usize,
    /// SASL mechanisms offered on a `SASL_PLAINTEXT` listener, comma-separated (KoP's key).
    pub sasl_allowed_mechanisms: String,
    /// Standalone host: SASL/PLAIN user names and their passwords. (The Pulsar host checks
    /// `token:<jwt>` passwords with the broker's token authentication instead.)
    pub sasl_plain_users: BTreeMap<String, String>,
    /// Standalone host: OAUTHBEARER bearer tokens and the principal each stands for. (The Pulsar
    /// host checks bearer tokens with the broker's token authentication instead.)
    pub sasl_oauthbearer_tokens: BTreeMap<String, String>,
    /// PEM file with the certificate chain an `SSL://` or `SASL_SSL://` listener presents, the
    /// server's own certificate first.
    pub kop_ssl_certificate_file: Option<PathBuf>,
    /// PEM file with the private key of that certificate (PKCS#8, PKCS#1 or SEC1).
    pub kop_ssl_key_file: Option<PathBuf>,
    /// Whether TLS clients present certificates: `none`, `requested` or `required`.
    pub kop_ssl_client_auth: ClientAuth,
    /// PEM file with the CA certificates that client certificates must chain to.
    pub kop_ssl_trusted_ca_file: Option<PathBuf>,
    /// Principals that act for the cluster's brokers (Pulsar's key; Kafka's `super.users`),
    /// comma-separated: on a listener that authenticates clients, only they may send the
    /// requests brokers send each other (WriteTxnMarkers, the batched AddPartitionsToTxn).
    pub super_user_roles: String,
    /// The SASL user name this broker authenticates with at the other brokers' listeners.
    pub kop_inter_broker_sasl_username: Option<String>,
    /// Its password (on Pulsar `token:<jwt>`; the shim takes the broker's own client token).
    pub kop_inter_broker_sasl_password: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            kafka_listeners: "PLAINTEXT://127.0.0.1:9092".into(),
            kafka_advertised_listeners: None,
            kafka_listener_name: None,
            kafka_tenant: "public".into(),
            kafka_namespace: "default".into(),
            kafka_metadata_tenant: "public".into(),
            kafka_metadata_namespace: "__kafka".into(),
            data_dir: PathBuf::from("./data"),
            cluster_id: "kop-standalone".into(),
            broker_id: 0,
            allow_auto_topic_creation: true,
            default_num_partitions: 1,
            max_partitions_per_topic: 10_000,
            max_request_size: 100 * 1024 * 1024,
            max_message_size: 5 * 1024 * 1024,
            log_segment_bytes: 1 << 30,
            log_retention_ms: 7 * 24 * 3600 * 1000,
            log_retention_bytes: -1,
            log_retention_check_interval_ms: 60_000,
            log_flush_policy: FlushMode::Interval,
            log_flush_interval_ms: 1000,
            log_index_interval_bytes: 4096,
            offsets_topic_num_partitions: 50,
            offsets_retention_minutes: 7 * 24 * 60,
            offset_metadata_max_size: 4096,
            group_initial_rebalance_delay_ms: 3000,
            kafka_transaction_coordinator_enabled: true,
            kafka_txn_log_topic_num_partitions: 50,
            transaction_max_timeout_ms: 900_000,
            kafka_transactional_id_expiration_enable: true,
            kafka_transactional_id_expiration_ms: 7 * 24 * 3600 * 1000,
            kafka_transactions_remove_expired_transactional_id_cleanup_interval_ms: 3600 * 1000,
            kafka_producer_id_expiration_ms: 24 * 3600 * 1000,
            kafka_txn_producer_state_topic_snapshot_interval_seconds: 60,
            kafka_transaction_version: 2,
            group_min_session_timeout_ms: 6000,
            group_max_session_timeout_ms: 1_800_000,
            max_connections: 10_000,
            queued_max_request_bytes: 256 * 1024 * 1024,
            connection_max_idle_ms: 600_000,
            kop_request_read_timeout_ms: 30_000,
            max_queued_requests: 64,
            sasl_allowed_mechanisms: "PLAIN".into(),
            sasl_plain_users: BTreeMap::new(),
            sasl_oauthbearer_tokens: BTreeMap::new(),
            kop_ssl_certificate_file: None,
            kop_ssl_key_file: None,
            kop_ssl_client_auth: ClientAuth::None,
            kop_ssl_trusted_ca_file: None,
            super_user_roles: String::new(),
            kop_inter_broker_sasl_username: None,
            kop_inter_broker_sasl_password: None,
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this struct.
    #[error("bad config file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Box<toml::de::Error>,
    },
    /// A value is out of range or malformed.
    #[error("invalid {key}: {reason}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// Why.
        reason: String,
    },
}

/// A `host:port` a listener binds or advertises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl Endpoint {
    /// A Kafka node id for the broker at this address that every broker computes alike, so
    /// brokers that share a Pulsar cluster name each other consistently without a registry.
    pub fn node_id(&self) -> i32 {
        let hashed = crc32c::crc32c(format!("{}:{}", self.host, self.port).as_bytes());
        (hashed & 0x7fff_ffff) as i32
    }
}

impl Config {
    /// Reads a TOML file; keys missing from it keep their defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse { path: path.into(), source: Box::new(source) })
    }

    /// Checks cross-field rules and value ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: &str| Err(ConfigError::Invalid { key, reason: reason.into() });
        self.listen_addr()?;
        self.advertised()?;
        if self.default_num_partitions == 0 {
            return invalid("defaultNumPartitions", "must be at least 1");
        }
        if self.default_num_partitions > self.max_partitions_per_topic {
            return invalid("maxPartitionsPerTopic", "must be at least defaultNumPartitions");
        }
        if self.max_request_size < 64 {
            return invalid("maxRequestSize", "must be at least 64 bytes");
        }
        if self.max_message_size == 0 || self.max_message_size > self.max_request_size {
            return invalid("maxMessageSize", "must be positive and at most maxRequestSize");
        }
        if self.log_segment_bytes < 1024 {
            return invalid("logSegmentBytes", "must be at least 1024");
        }
        if self.kafka_txn_log_topic_num_partitions == 0 {
            return invalid("kafkaTxnLogTopicNumPartitions", "must be at least 1");
        }
        if self.transaction_max_timeout_ms == 0 || self.transaction_max_timeout_ms > i32::MAX as u64 {
            return invalid("transactionMaxTimeoutMs", "must be between 1 and 2147483647");
        }
        if self.kafka_transactional_id_expiration_ms == 0 || self.kafka_transactional_id_expiration_ms > i64::MAX as u64
        {
            return invalid("kafkaTransactionalIdExpirationMs", "must be positive");
        }
        if self.kafka_producer_id_expiration_ms == 0 || self.kafka_producer_id_expiration_ms > i64::MAX as u64 {
            return invalid("kafkaProducerIdExpirationMs", "must be positive");
        }
        if !(1..=86_400).contains(&self.kafka_txn_producer_state_topic_snapshot_interval_seconds) {
            return invalid("kafkaTxnProducerStateTopicSnapshotIntervalSeconds", "must be 1 to 86400");
        }
        if !(1..=2).contains(&self.kafka_transaction_version) {
            return invalid("kafkaTransactionVersion", "must be 1 or 2");
        }
        if self.kafka_transactions_remove_expired_transactional_id_cleanup_interval_ms == 0 {
            return invalid("kafkaTransactionsRemoveExpiredTransactionalIdCleanupIntervalMs", "must be positive");
        }
        if self.offsets_topic_num_partitions == 0 {
            return invalid("offsetsTopicNumPartitions", "must be at least 1");
        }
        if self.group_min_session_timeout_ms > self.group_max_session_timeout_ms {
            return invalid("groupMinSessionTimeoutMs", "must not exceed groupMaxSessionTimeoutMs");
        }
        if self.max_connections == 0 || self.max_queued_requests == 0 {
            return invalid("maxConnections", "limits must be at least 1");
        }
        if self.queued_max_request_bytes < self.max_request_size {
            return invalid("queuedMaxRequestBytes", "must be at least maxRequestSize");
        }
        if self.connection_max_idle_ms == 0 || self.kop_request_read_timeout_ms == 0 {
            return invalid("connectionMaxIdleMs", "timeouts must be at least 1 ms");
        }
        if self.sasl_required() && self.sasl_mechanisms().is_empty() {
            return invalid("saslAllowedMechanisms", "a SASL listener needs at least one mechanism");
        }
        if self.tls_required() && self.kop_ssl_certificate_file.is_none() {
            return invalid("kopSslCertificateFile", "an SSL or SASL_SSL listener needs a certificate");
        }
        if self.tls_required() && self.kop_ssl_key_file.is_none() {
            return invalid("kopSslKeyFile", "an SSL or SASL_SSL listener needs the certificate's key");
        }
        if self.kop_ssl_client_auth != ClientAuth::None && self.kop_ssl_trusted_ca_file.is_none() {
            return invalid("kopSslTrustedCaFile", "client certificates are checked against it");
        }
        for mechanism in self.sasl_mechanisms() {
            if !SASL_MECHANISMS.contains(&mechanism.as_str()) {
                return Err(ConfigError::Invalid {
                    key: "saslAllowedMechanisms",
                    reason: format!("{mechanism} is not supported; {} are", SASL_MECHANISMS.join(" and ")),
                });
            }
        }
        if self.log_flush_interval_ms == 0 || self.log_retention_check_interval_ms == 0 {
            return invalid("logFlushIntervalMs", "intervals must be positive");
        }
        Ok(())
    }

    /// Whether clients must authenticate with SASL: the listener's scheme is `SASL_PLAINTEXT` or
    /// `SASL_SSL`.
    pub fn sasl_required(&self) -> bool {
        self.scheme().is_some_and(|s| s.starts_with("SASL_"))
    }

    /// The listener's TLS files, when it speaks TLS.
    pub fn tls_files(&self) -> Option<TlsFiles<'_>> {
        match (&self.kop_ssl_certificate_file, &self.kop_ssl_key_file) {
            (Some(certificate), Some(key)) if self.tls_required() => Some(TlsFiles {
                certificate,
                key,
                client_auth: self.kop_ssl_client_auth,
                trusted_ca: self.kop_ssl_trusted_ca_file.as_deref(),
            }),
            _ => None,
        }
    }

    /// Whether the listener speaks TLS: its scheme is `SSL` or `SASL_SSL`.
    pub fn tls_required(&self) -> bool {
        self.scheme().is_some_and(|s| s.ends_with("SSL"))
    }

    fn scheme(&self) -> Option<String> {
        listener_scheme(&self.kafka_listeners).map(|s| s.to_ascii_uppercase())
    }

    /// The principals that act for the cluster's brokers (`superUserRoles`).
    pub fn super_users(&self) -> Vec<String> {
        self.super_user_roles.split(',').map(str::trim).filter(|r| !r.is_empty()).map(String::from).collect()
    }

    /// The SASL mechanisms offered, upper-cased.
    pub fn sasl_mechanisms(&self) -> Vec<String> {
        self.sasl_allowed_mechanisms
            .split(',')
            .map(|m| m.trim().to_ascii_uppercase())
            .filter(|m| !m.is_empty())
            .collect()
    }

    /// The socket address to bind.
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        let endpoint = parse_listener(&self.kafka_listeners, "kafkaListeners")?;
        format!("{}:{}", endpoint.host, endpoint.port).parse().map_err(|_| ConfigError::Invalid {
            key: "kafkaListeners",
            reason: format!("'{}' is not an IP address and port", self.kafka_listeners),
        })
    }

    /// The endpoint announced to clients.
    pub fn advertised(&self) -> Result<Endpoint, ConfigError> {
        match &self.kafka_advertised_listeners {
            Some(adv) => parse_listener(adv, "kafkaAdvertisedListeners"),
            None => parse_listener(&self.kafka_listeners, "kafkaListeners"),
        }
    }

    /// The `interval` flush period.
    pub fn flush_interval(&self) -> Duration {
        Duration::from_millis(self.log_flush_interval_ms)
    }
}

/// Parses `PLAINTEXT://host:port` or `host:port`; only the first of a comma-separated list is used.
fn listener_scheme(value: &str) -> Option<&str> {
    value.split(',').next().unwrap_or_default().trim().split_once("://").map(|(scheme, _)| scheme)
}

/// SASL mechanisms served.
pub const SASL_MECHANISMS: [&str; 2] = ["PLAIN", "OAUTHBEARER"];

/// Listener schemes served: Kafka's security protocols.
const SCHEMES: [&str; 4] = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];

fn parse_listener(value: &str, key: &'static str) -> Result<Endpoint, ConfigError> {
    let first = value.split(',').next().unwrap_or_default().trim();
    let addr = match first.split_once("://") {
        Some((scheme, rest)) if SCHEMES.iter().any(|s| scheme.eq_ignore_ascii_case(s)) => rest,
        Some((scheme, _)) => {
            return Err(ConfigError::Invalid { key, reason: format!("listener scheme {scheme} is not supported yet") })
        }
        None => first,
    };
    let bad = || ConfigError::Invalid { key, reason: format!("'{value}' is not host:port") };
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = port.parse().map_err(|_| bad())?;
    if host.is_empty() {
        return Err(bad());
    }
    Ok(Endpoint { host: host.to_string(), port })
}

/// Whether clients present certificates of their own (mutual TLS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// Clients are not asked for a certificate.
    None,
    /// Clients are asked; one that sends a certificate must send a trusted one.
    Requested,
    /// Every client must present a certificate signed by a trusted CA.
    Required,
}

/// What the listener's TLS is made of.
#[derive(Debug, Clone, Copy)]
pub struct TlsFiles<'a> {
    /// PEM certificate chain, the broker's own certificate first.
    pub certificate: &'a Path,
    /// PEM private key of that certificate.
    pub key: &'a Path,
    /// Whether clients present certificates.
    pub client_auth: ClientAuth,
    /// PEM CA certificates that client certificates must chain to.
    pub trusted_ca: Option<&'a Path>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_parse_with_and_without_scheme() {
        let e = parse_listener("PLAINTEXT://0.0.0.0:9092", "k").unwrap();
        assert_eq!(e, Endpoint { host: "0.0.0.0".into(), port: 9092 });
        assert_eq!(parse_listener("localhost:19092", "k").unwrap().port, 19092);
        assert_eq!(parse_listener("SSL://a:1", "k").unwrap().port, 1);
        assert!(parse_listener("QUIC://a:1", "k").is_err());
        assert_eq!(parse_listener("SASL_PLAINTEXT://a:1", "k").unwrap().port, 1);
        assert!(parse_listener("nohost", "k").is_err());
    }

    #[test]
    fn toml_uses_kop_key_names() {
        let c: Config =
            toml::from_str("kafkaListeners = \"PLAINTEXT://127.0.0.1:1234\"\ndefaultNumPartitions = 3").unwrap();
        assert_eq!(c.listen_addr().unwrap().port(), 1234);
        assert_eq!(c.default_num_partitions, 3);
        assert!(toml::from_str::<Config>("noSuchKey = 1").is_err());
        let c: Config = toml::from_str("kafkaProducerIdExpirationMs = 5000").unwrap();
        assert_eq!(c.kafka_producer_id_expiration_ms, 5000);
        assert!(toml::from_str::<Config>("kafkaProducerIdExpirationMs = 0").unwrap().validate().is_err());
        assert_eq!(Config::default().kafka_transaction_version, 2);
        assert!(toml::from_str::<Config>("kafkaTransactionVersion = 1").unwrap().validate().is_ok());
        assert!(toml::from_str::<Config>("kafkaTransactionVersion = 3").unwrap().validate().is_err());
    }

    #[test]
    fn tls_listeners_need_a_certificate_and_key() {
        let mut c = Config { kafka_listeners: "SASL_SSL://127.0.0.1:9093".into(), ..Config::default() };
        assert!(c.tls_required() && c.sasl_required());
        assert!(c.validate().is_err());
        c.kop_ssl_certificate_file = Some("cert.pem".into());
        c.kop_ssl_key_file = Some("key.pem".into());
        assert!(c.validate().is_ok());
        let plain = Config { kafka_listeners: "SSL://127.0.0.1:9093".into(), ..c };
        assert!(plain.tls_required() && !plain.sasl_required());
    }
}
