//! SaslHandshake and SaslAuthenticate: the exchange, and what a failed or skipped one does to the
//! connection.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{ApiKey, SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_protocol::protocol::StrBytes;

use super::super::{sasl, RequestContext};
use super::{broker_on, ctx};
use crate::host::embedded::users::ConfiguredUsers;

fn sasl_ctx() -> RequestContext {
    RequestContext { session: std::sync::Arc::new(sasl::Session::new(true)), ..ctx(1) }
}

fn users() -> ConfiguredUsers {
    ConfiguredUsers::new(
        BTreeMap::from([("alice".to_string(), "secret".to_string())]),
        BTreeMap::from([("tok".to_string(), "bob".to_string())]),
    )
}

async fn handshake(
    broker: &std::sync::Arc<crate::broker::Broker>,
    ctx: &RequestContext,
    mechanism: &str,
) -> (i16, Vec<String>) {
    let req = SaslHandshakeRequest::default().with_mechanism(StrBytes::from_string(mechanism.to_string()));
    let resp = sasl::handshake(broker.config(), ctx, req).await.await.expect("a response");
    (resp.error_code, resp.mechanisms.iter().map(|m| m.to_string()).collect())
}

async fn authenticate(
    broker: &std::sync::Arc<crate::broker::Broker>,
    ctx: &RequestContext,
    bytes: &'static [u8],
) -> i16 {
    let req = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from_static(bytes));
    sasl::authenticate(broker.auth(), ctx, req).await.await.expect("a response").error_code
}

#[tokio::test]
async fn plain_credentials_open_the_connection() {
    let broker = broker_on("SASL_PLAINTEXT://127.0.0.1:0", users()).await;
    let ctx = sasl_ctx();
    assert!(!ctx.session.allows(ApiKey::Metadata), "nothing but the exchange before it");
    assert!(ctx.session.allows(ApiKey::ApiVersions));
    assert_eq!(handshake(&broker, &ctx, "PLAIN").await.0, 0);
    assert_eq!(authenticate(&broker, &ctx, b"\0alice\0secret").await, 0);
    assert!(ctx.session.allows(ApiKey::Metadata) && !ctx.session.should_close());
}

#[tokio::test]
async fn bearer_tokens_name_their_principal() {
    let broker = broker_on("SASL_PLAINTEXT://127.0.0.1:0", users()).await;
    let ctx = sasl_ctx();
    assert_eq!(handshake(&broker, &ctx, "OAUTHBEARER").await.0, 0);
    assert_eq!(authenticate(&broker, &ctx, b"n,,\x01auth=Bearer tok\x01\x01").await, 0);
    assert!(ctx.session.allows(ApiKey::Produce));
}

#[tokio::test]
async fn a_failed_or_skipped_exchange_closes_the_connection() {
    let broker = broker_on("SASL_PLAINTEXT://127.0.0.1:0", users()).await;
    let ctx = sasl_ctx();
    let (error, mechanisms) = handshake(&broker, &ctx, "GSSAPI").await;
    assert_eq!(error, ResponseError::UnsupportedSaslMechanism.code());
    assert!(mechanisms.contains(&"PLAIN".to_string()), "the answer lists what is enabled");

    let wrong = sasl_ctx();
    assert_eq!(handshake(&broker, &wrong, "PLAIN").await.0, 0);
    assert_eq!(authenticate(&broker, &wrong, b"\0alice\0guess").await, ResponseError::SaslAuthenticationFailed.code());
    assert!(wrong.session.should_close() && !wrong.session.allows(ApiKey::Metadata));

    let impersonating = sasl_ctx();
    assert_eq!(handshake(&broker, &impersonating, "PLAIN").await.0, 0);
    assert_eq!(
        authenticate(&broker, &impersonating, b"bob\0alice\0secret").await,
        ResponseError::SaslAuthenticationFailed.code()
    );

    let skipped = sasl_ctx();
    assert_eq!(authenticate(&broker, &skipped, b"\0alice\0secret").await, ResponseError::IllegalSaslState.code());
    assert!(skipped.session.should_close());
}
