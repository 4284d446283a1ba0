//! SASL with Pulsar tokens, as KoP does it: PLAIN with the password `token:<jwt>`, or OAUTHBEARER
//! with the token as bearer, checked by the broker's `token` authentication provider; the token's
//! role is the principal.

use std::sync::Arc;

use futures::future::{self, BoxFuture, FutureExt};

use super::calls::{BrokerCalls, Failure, Reply};
use crate::host::{AuthError, Authenticator};

/// Checks tokens through the broker's authentication service.
pub struct TokenAuthenticator {
    broker: Arc<dyn BrokerCalls>,
}

impl TokenAuthenticator {
    /// Authenticates through `broker`.
    pub fn new(broker: Arc<dyn BrokerCalls>) -> Self {
        TokenAuthenticator { broker }
    }
}

impl Authenticator for TokenAuthenticator {
    fn authenticate(&self, _username: &str, password: &str) -> BoxFuture<'static, Result<String, AuthError>> {
        // The user name names a tenant/namespace in KoP; the token alone decides who this is.
        let Some(token) = password.strip_prefix("token:") else {
            return future::ready(Err(AuthError::Rejected("the password must be token:<token>".into()))).boxed();
        };
        self.authenticate_token(token)
    }

    fn authenticate_token(&self, token: &str) -> BoxFuture<'static, Result<String, AuthError>> {
        let checked = self.broker.authenticate(token);
        async move {
            match checked.await {
                Reply::Principal(role) => Ok(role),
                Reply::Failed(Failure::Invalid, message) => Err(AuthError::Rejected(message)),
                Reply::Failed(_, message) => Err(AuthError::Unavailable(message)),
                other => Err(AuthError::Unavailable(format!("unexpected reply from the broker: {other:?}"))),
            }
        }
        .boxed()
    }
}
