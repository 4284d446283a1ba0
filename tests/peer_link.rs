//! A broker reaches another over a `SASL_SSL` listener as its transaction coordinator does: TLS,
//! then a SASL login with its own credentials; the other takes WriteTxnMarkers only from a
//! principal of its `superUserRoles`. The peer here is a real `kop serve` core on a socket.
//!
//! Certificates in `tests/fixtures` (made once with openssl, valid for a century): `self-*`, one
//! self-signed certificate for 127.0.0.1 that both brokers share, as `openssl req -x509` makes it;
//! `broker-a-*` and `broker-b-*`, one per broker, signed by the CA in `ca-cert.pem` (whose key was
//! thrown away).

use std::collections::BTreeMap;
use std::path::PathBuf;

use kafka_protocol::messages::write_txn_markers_request::{WritableTxnMarker, WritableTxnMarkerTopic};
use kafka_protocol::messages::{ProducerId, TopicName, WriteTxnMarkersRequest};
use kafka_protocol::protocol::StrBytes;
use kop::config::{Config, Endpoint};
use kop::standalone::Ready;
use kop::txn::peer_link::LinkError;
use kop::txn::{PeerLinks, PeerSecurity};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// The listener's config, as every broker of the cluster has it, with this broker's `certificate`
/// and key.
fn cluster_config(data_dir: PathBuf, certificate: &str, key: &str, trusted_ca: Option<&str>) -> Config {
    Config {
        kafka_listeners: "SASL_SSL://127.0.0.1:0".into(),
        data_dir,
        sasl_plain_users: BTreeMap::from([
            ("broker".to_string(), "broker-secret".to_string()),
            ("alice".to_string(), "alice-secret".to_string()),
        ]),
        super_user_roles: "broker".into(),
        kop_ssl_certificate_file: Some(fixture(certificate)),
        kop_ssl_key_file: Some(fixture(key)),
        kop_ssl_trusted_ca_file: trusted_ca.map(fixture),
        ..Config::default()
    }
}

fn links(config: &Config, user: &str, password: &str) -> PeerLinks {
    let login = Config {
        kop_inter_broker_sasl_username: Some(user.into()),
        kop_inter_broker_sasl_password: Some(password.into()),
        ..config.clone()
    };
    PeerLinks::new(PeerSecurity::from_config(&login).expect("TLS to peers"))
}

fn markers() -> WriteTxnMarkersRequest {
    let topic = WritableTxnMarkerTopic::default()
        .with_name(TopicName(StrBytes::from_static_str("no-such-topic")))
        .with_partition_indexes(vec![0]);
    WriteTxnMarkersRequest::default().with_markers(vec![WritableTxnMarker::default()
        .with_producer_id(ProducerId(7))
        .with_producer_epoch(0)
        .with_transaction_result(true)
        .with_topics(vec![topic])])
}

/// The error code of the one partition the markers name.
async fn marker_error(links: &PeerLinks, to: &Endpoint) -> Result<i16, LinkError> {
    let answer = links.write_markers(to, &markers()).await?;
    Ok(answer.markers[0].topics[0].partitions[0].error_code)
}

#[tokio::test]
async fn markers_reach_a_sasl_ssl_peer_that_shares_the_certificate_as_a_super_user_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = cluster_config(dir.path().to_path_buf(), "self-cert.pem", "self-key.pem", None);
    markers_reach_the_peer(config.clone(), config).await;
}

#[tokio::test]
async fn markers_reach_a_sasl_ssl_peer_whose_certificate_the_trusted_ca_signed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_path_buf();
    let peer = cluster_config(path.clone(), "broker-b-cert.pem", "broker-b-key.pem", Some("ca-cert.pem"));
    let here = cluster_config(path.clone(), "broker-a-cert.pem", "broker-a-key.pem", Some("ca-cert.pem"));
    markers_reach_the_peer(peer, here).await;
    // Without the CA, broker a's own certificate vouches for nobody else's.
    let untrusting = cluster_config(path, "broker-a-cert.pem", "broker-a-key.pem", None);
    let dir = tempfile::tempdir().expect("temp dir");
    let peer = cluster_config(dir.path().to_path_buf(), "broker-b-cert.pem", "broker-b-key.pem", None);
    let (to, stop) = serve(peer).await;
    let links = links(&untrusting, "broker", "broker-secret");
    assert!(matches!(marker_error(&links, &to).await, Err(LinkError::Io { .. })), "an untrusted peer certificate");
    stop().await.expect("stops");
}

/// Runs a broker of `config` until the returned stop is awaited.
async fn serve(config: Config) -> (Endpoint, impl FnOnce() -> tokio::task::JoinHandle<()>) {
    let peer = Ready::open(config).await.expect("peer starts");
    let port = peer.local_addr().expect("bound").port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(peer.serve(async move {
        let _ = stopped.await;
    }));
    let to = Endpoint { host: "127.0.0.1".into(), port };
    (to, move || {
        let _ = stop.send(());
        serving
    })
}

/// Markers sent from a broker of config `here` to one of config `peer`.
async fn markers_reach_the_peer(peer: Config, here: Config) {
    let (to, stop) = serve(peer).await;
    let unknown = kafka_protocol::error::ResponseError::UnknownTopicOrPartition.code();
    let refused = kafka_protocol::error::ResponseError::ClusterAuthorizationFailed.code();
    let broker = links(&here, "broker", "broker-secret");
    assert_eq!(marker_error(&broker, &to).await.expect("served"), unknown, "taken, and the topic looked for");
    assert_eq!(marker_error(&broker, &to).await.expect("served again"), unknown, "over the kept connection");
    let client = links(&here, "alice", "alice-secret");
    assert_eq!(marker_error(&client, &to).await.expect("answered"), refused, "alice is no broker");
    let wrong = links(&here, "broker", "guess");
    assert!(matches!(marker_error(&wrong, &to).await, Err(LinkError::Login { .. })), "a wrong password");
    let none = PeerLinks::new(PeerSecurity::from_config(&here).expect("TLS to peers"));
    assert!(matches!(marker_error(&none, &to).await, Err(LinkError::Login { .. })), "no credentials");
    let plaintext = PeerLinks::default();
    assert!(marker_error(&plaintext, &to).await.is_err(), "a peer that speaks TLS is not reached without it");

    stop().await.expect("stops");
}
