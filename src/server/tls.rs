//! TLS for `SSL://` and `SASL_SSL://` listeners, optionally with client certificates (mutual TLS).
//! Certificates and keys are read from PEM files once, when the broker starts, so a bad file stops
//! it with a clear message.

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

use crate::config::{ClientAuth, TlsFiles};

/// Why the listener's TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file is missing, unreadable or holds nothing usable.
    #[error("cannot read {path}: {reason}")]
    Pem {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// Client certificates are asked for, but no CA to check them against is configured.
    #[error("kopSslClientAuth asks for client certificates but kopSslTrustedCaFile is not set")]
    NoTrustedCa,
    /// The key does not match the certificate, or they use something rustls refuses.
    #[error("unusable certificate or key: {0}")]
    Config(#[from] rustls::Error),
}

fn pem(path: &Path, reason: impl ToString) -> TlsError {
    TlsError::Pem { path: path.display().to_string(), reason: reason.to_string() }
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem(path, e))?;
    if certificates.is_empty() {
        return Err(pem(path, "no CERTIFICATE block"));
    }
    Ok(certificates)
}

/// Builds the acceptor that runs each client's handshake.
pub fn acceptor(files: TlsFiles<'_>) -> Result<TlsAcceptor, TlsError> {
    let chain = certificates(files.certificate)?;
    let key = PrivateKeyDer::from_pem_file(files.key).map_err(|e| pem(files.key, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider)).with_safe_default_protocol_versions()?;
    let builder = match (files.client_auth, files.trusted_ca) {
        (ClientAuth::None, _) => builder.with_no_client_auth(),
        (_, None) => return Err(TlsError::NoTrustedCa),
        (auth, Some(ca_file)) => {
            let mut roots = RootCertStore::empty();
            for ca in certificates(ca_file)? {
                roots.add(ca).map_err(|e| pem(ca_file, e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if auth == ClientAuth::Requested { verifier.allow_unauthenticated() } else { verifier };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| pem(ca_file, e))?)
        }
    };
    Ok(TlsAcceptor::from(Arc::new(builder.with_single_cert(chain, key)?)))
}
