//! SASL users of the standalone broker, from its configuration: PLAIN users and passwords, and
//! OAUTHBEARER bearer tokens.

use std::collections::BTreeMap;

use futures::future::{self, BoxFuture, FutureExt};

use crate::host::{AuthError, Authenticator};

/// Users and passwords listed in `saslPlainUsers`, bearer tokens in `saslOauthbearerTokens`.
pub struct ConfiguredUsers {
    users: BTreeMap<String, String>,
    tokens: BTreeMap<String, String>,
}

impl ConfiguredUsers {
    /// The users of `users` (name → password) and the principals of `tokens` (token → principal).
    pub fn new(users: BTreeMap<String, String>, tokens: BTreeMap<String, String>) -> Self {
        ConfiguredUsers { users, tokens }
    }
}

/// Compares without stopping at the first difference, so the time taken does not tell an
/// attacker how much of a guess was right.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

impl Authenticator for ConfiguredUsers {
    fn authenticate(&self, username: &str, password: &str) -> BoxFuture<'static, Result<String, AuthError>> {
        let known = self.users.get(username).is_some_and(|p| same_secret(p.as_bytes(), password.as_bytes()));
        let outcome = if known {
            Ok(username.to_string())
        } else {
            // One message for an unknown user and a wrong password: neither is revealed.
            Err(AuthError::Rejected("invalid username or password".into()))
        };
        future::ready(outcome).boxed()
    }

    fn authenticate_token(&self, token: &str) -> BoxFuture<'static, Result<String, AuthError>> {
        // Every configured token is compared, so the time taken says nothing about which is close.
        let principal = self
            .tokens
            .iter()
            .fold(
                None,
                |found, (known, principal)| {
                    if same_secret(known.as_bytes(), token.as_bytes()) {
                        Some(principal)
                    } else {
                        found
                    }
                },
            )
            .cloned();
        future::ready(principal.ok_or_else(|| AuthError::Rejected("invalid token".into()))).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_listed_users_with_their_password_pass() {
        let users = ConfiguredUsers::new(
            BTreeMap::from([("alice".to_string(), "s3cret".to_string())]),
            BTreeMap::from([("t0ken".to_string(), "svc-orders".to_string())]),
        );
        assert_eq!(users.authenticate("alice", "s3cret").await.unwrap(), "alice");
        assert!(users.authenticate("alice", "s3cre").await.is_err());
        assert!(users.authenticate("alice", "s3cret!").await.is_err());
        assert!(users.authenticate("bob", "s3cret").await.is_err());
        assert!(users.authenticate("", "").await.is_err());
        assert_eq!(users.authenticate_token("t0ken").await.unwrap(), "svc-orders");
        assert!(users.authenticate_token("t0ke").await.is_err());
        assert!(users.authenticate_token("").await.is_err());
    }
}
