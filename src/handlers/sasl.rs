//! SaslHandshake and SaslAuthenticate (PLAIN and OAUTHBEARER), and the per-connection state that
//! gates every other request on a `SASL_PLAINTEXT` or `SASL_SSL` listener until the client has
//! authenticated.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::{StrBytes, VersionRange};

use super::{ready, Pending, RequestContext};
use crate::config::Config;
use crate::host::Authenticator;

/// SaslHandshake versions served. v0 would be followed by raw SASL tokens outside Kafka framing;
/// every client since Kafka 1.0 uses v1 and SaslAuthenticate.
pub const HANDSHAKE_VERSIONS: VersionRange = VersionRange { min: 1, max: 1 };
/// SaslAuthenticate versions served.
pub const AUTHENTICATE_VERSIONS: VersionRange = VersionRange { min: 0, max: 2 };

#[derive(Debug, Clone, PartialEq, Eq)]
enum AuthState {
    /// The listener needs no authentication.
    Open,
    /// Waiting for SaslHandshake.
    Handshake,
    /// Waiting for SaslAuthenticate with the agreed mechanism.
    Authenticate(String),
    /// Authenticated as this principal.
    Done(String),
}

/// A connection's authentication progress.
#[derive(Debug)]
pub struct Session {
    state: Mutex<AuthState>,
    close: AtomicBool,
    super_users: Vec<String>,
}

impl Session {
    /// A new connection's session; `sasl_required` for a `SASL_PLAINTEXT` listener.
    pub fn new(sasl_required: bool) -> Self {
        let state = if sasl_required { AuthState::Handshake } else { AuthState::Open };
        Session { state: Mutex::new(state), close: AtomicBool::new(false), super_users: Vec::new() }
    }

    /// The same session, where `principals` act for the cluster's brokers (`superUserRoles`).
    pub fn with_super_users(mut self, principals: Vec<String>) -> Self {
        self.super_users = principals;
        self
    }

    /// A session on a SASL listener, authenticated as `principal` (handler tests).
    #[cfg(test)]
    pub(crate) fn authenticated(principal: &str, super_users: Vec<String>) -> Self {
        let session = Session::new(true).with_super_users(super_users);
        *session.state() = AuthState::Done(principal.into());
        session
    }

    /// Whether the client may send the requests brokers send each other (Kafka's CLUSTER_ACTION):
    /// on a listener that authenticates, a principal of `superUserRoles`, as the other brokers of
    /// the cluster authenticate; on one that does not, anybody, as anybody may produce.
    pub fn acts_for_brokers(&self) -> bool {
        match &*self.state() {
            AuthState::Open => true,
            AuthState::Done(principal) => self.super_users.contains(principal),
            AuthState::Handshake | AuthState::Authenticate(_) => false,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, AuthState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a request for `api` may be served now: before authentication only ApiVersions and
    /// the SASL exchange itself.
    pub fn allows(&self, api: ApiKey) -> bool {
        matches!(*self.state(), AuthState::Open | AuthState::Done(_))
            || matches!(api, ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate)
    }

    /// Whether the connection must close once the responses so far are sent (failed SASL).
    pub fn should_close(&self) -> bool {
        self.close.load(Ordering::Acquire)
    }
}

/// Agrees on a mechanism.
pub async fn handshake(
    config: &Config,
    ctx: &RequestContext,
    req: SaslHandshakeRequest,
) -> Pending<SaslHandshakeResponse> {
    let offered = if config.sasl_required() { config.sasl_mechanisms() } else { Vec::new() };
    let asked = req.mechanism.to_ascii_uppercase();
    let error = {
        let mut state = ctx.session.state();
        if *state != AuthState::Handshake {
            Some(ResponseError::IllegalSaslState)
        } else if !offered.contains(&asked) {
            Some(ResponseError::UnsupportedSaslMechanism)
        } else {
            *state = AuthState::Authenticate(asked);
            None
        }
    };
    ready(
        SaslHandshakeResponse::default()
            .with_error_code(error.map_or(0, |e| e.code()))
            .with_mechanisms(offered.into_iter().map(StrBytes::from_string).collect()),
    )
}

/// Checks PLAIN credentials (`authzid NUL user NUL password`); a failure closes the connection
/// after its response.
pub async fn authenticate(
    auth: &Arc<dyn Authenticator>,
    ctx: &RequestContext,
    req: SaslAuthenticateRequest,
) -> Pending<SaslAuthenticateResponse> {
    let (mechanism, settled) = match &*ctx.session.state() {
        AuthState::Authenticate(m) => (Some(m.clone()), false),
        AuthState::Handshake => (None, false),
        AuthState::Open | AuthState::Done(_) => (None, true),
    };
    let outcome = match mechanism.as_deref() {
        Some("PLAIN") => match parse_plain(&req.auth_bytes) {
            Ok((user, password)) => match auth.authenticate(&user, &password).await {
                Ok(principal) => Ok(principal),
                Err(e) => {
                    tracing::info!(client = %ctx.client_host, user, error = %e, "SASL authentication failed");
                    Err((ResponseError::SaslAuthenticationFailed, format!("Authentication failed: {e}")))
                }
            },
            Err(message) => Err((ResponseError::SaslAuthenticationFailed, message.to_string())),
        },
        Some("OAUTHBEARER") => match parse_oauthbearer(&req.auth_bytes) {
            Ok(token) => match auth.authenticate_token(&token).await {
                Ok(principal) => Ok(principal),
                Err(e) => {
                    tracing::info!(client = %ctx.client_host, error = %e, "SASL authentication failed");
                    Err((ResponseError::SaslAuthenticationFailed, format!("Authentication failed: {e}")))
                }
            },
            Err(message) => Err((ResponseError::SaslAuthenticationFailed, message.to_string())),
        },
        _ => Err((ResponseError::IllegalSaslState, "SaslAuthenticate before a SaslHandshake".to_string())),
    };
    let response = SaslAuthenticateResponse::default().with_auth_bytes(Bytes::new());
    ready(match outcome {
        Ok(principal) => {
            tracing::debug!(client = %ctx.client_host, principal, "authenticated");
            *ctx.session.state() = AuthState::Done(principal);
            response
        }
        Err((error, message)) => {
            // A connection that is authenticated (or needs no authentication) stays usable, as
            // in Kafka; one that failed or skipped its exchange is closed.
            if !settled {
                ctx.session.close.store(true, Ordering::Release);
            }
            response.with_error_code(error.code()).with_error_message(Some(StrBytes::from_string(message)))
        }
    })
}

/// Splits a PLAIN message into user and password; an authorization id, if given, must be the
/// user (no impersonation).
pub fn parse_plain(bytes: &[u8]) -> Result<(String, String), &'static str> {
    let text = std::str::from_utf8(bytes).map_err(|_| "Authentication failed: credentials are not UTF-8")?;
    let mut parts = text.split('\0');
    let (Some(authzid), Some(user), Some(password), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("Authentication failed: invalid SASL/PLAIN message");
    };
    if user.is_empty() {
        return Err("Authentication failed: username not specified");
    }
    if !authzid.is_empty() && authzid != user {
        return Err("Authentication failed: the authorization id must be the username");
    }
    Ok((user.to_string(), password.to_string()))
}

/// The bearer token of an OAUTHBEARER client's first message (RFC 7628:
/// `gs2-header %x01 *(key=value %x01) %x01`, the token in `auth=Bearer <token>`).
pub fn parse_oauthbearer(bytes: &[u8]) -> Result<String, &'static str> {
    let text = std::str::from_utf8(bytes).map_err(|_| "Authentication failed: the message is not UTF-8")?;
    let invalid = "Authentication failed: invalid SASL/OAUTHBEARER message";
    let (gs2, rest) = text.split_once('\x01').ok_or(invalid)?;
    if !gs2.starts_with("n,") && !gs2.starts_with("y,") {
        return Err(invalid);
    }
    let pairs = rest.strip_suffix("\x01\x01").ok_or(invalid)?;
    let auth = pairs.split('\x01').find_map(|pair| pair.strip_prefix("auth=")).ok_or(invalid)?;
    let (scheme, token) = auth.split_once(' ').ok_or(invalid)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(invalid);
    }
    Ok(token.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_messages_split_into_user_and_password() {
        assert_eq!(parse_plain(b"\0alice\0pw").unwrap(), ("alice".into(), "pw".into()));
        assert_eq!(parse_plain(b"alice\0alice\0p\x01w").unwrap(), ("alice".into(), "p\x01w".into()));
        assert!(parse_plain(b"bob\0alice\0pw").is_err(), "impersonation");
        assert!(parse_plain(b"\0\0pw").is_err(), "no user");
        assert!(parse_plain(b"\0alice").is_err(), "no password field");
        assert!(parse_plain(b"\0alice\0pw\0extra").is_err());
        assert!(parse_plain(b"\0alice\0\xff").is_err(), "not UTF-8");
    }

    #[test]
    fn oauthbearer_messages_carry_a_bearer_token() {
        assert_eq!(parse_oauthbearer(b"n,,\x01auth=Bearer abc.def\x01\x01").unwrap(), "abc.def");
        let with_extension = b"n,a=svc,\x01host=kafka\x01auth=bearer t0k\x01traceId=1\x01\x01";
        assert_eq!(parse_oauthbearer(with_extension).unwrap(), "t0k");
        assert!(parse_oauthbearer(b"n,,\x01auth=Basic abc\x01\x01").is_err(), "not a bearer token");
        assert!(parse_oauthbearer(b"n,,\x01auth=Bearer abc\x01").is_err(), "unterminated");
        assert!(parse_oauthbearer(b"n,,\x01host=x\x01\x01").is_err(), "no auth");
        assert!(parse_oauthbearer(b"\x01").is_err());
    }

    #[test]
    fn only_sasl_and_api_versions_pass_before_authentication() {
        let session = Session::new(true);
        assert!(session.allows(ApiKey::ApiVersions) && session.allows(ApiKey::SaslHandshake));
        assert!(!session.allows(ApiKey::Metadata) && !session.allows(ApiKey::Produce));
        *session.state() = AuthState::Done("alice".into());
        assert!(!session.acts_for_brokers(), "alice is no broker");
        let broker = Session::new(true).with_super_users(vec!["admin".into()]);
        assert!(!broker.acts_for_brokers(), "not authenticated yet");
        *broker.state() = AuthState::Done("admin".into());
        assert!(broker.acts_for_brokers());
        assert!(Session::new(false).acts_for_brokers(), "a listener without authentication");
        assert!(session.allows(ApiKey::Produce));
        assert!(Session::new(false).allows(ApiKey::Fetch));
    }
}
