//! TLS for `SSL://` and `SASL_SSL://` listeners, optionally with client certificates (mutual TLS),
//! and for this broker's own connections to the other brokers of its cluster, which listen the
//! same way. Certificates and keys are read from PEM files once, when the broker starts, so a bad
//! file stops it with a clear message.

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use tokio_rustls::{TlsAcceptor, TlsConnector};

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

/// Builds the connector this broker reaches the other brokers' listeners with. A peer that
/// presents this broker's own certificate (brokers that share one, self-signed or not) is
/// trusted as that certificate; any other must chain to `kopSslTrustedCaFile` when it is set,
/// else to a certificate of this broker's own chain (its CA). Where listeners ask for client
/// certificates, this broker presents its own.
pub fn connector(files: TlsFiles<'_>) -> Result<TlsConnector, TlsError> {
    let chain = certificates(files.certificate)?;
    let (anchors, anchors_file) = match files.trusted_ca {
        Some(ca_file) => (certificates(ca_file)?, ca_file),
        None => (chain.clone(), files.certificate),
    };
    let mut roots = RootCertStore::empty();
    for ca in anchors {
        roots.add(ca).map_err(|e| pem(anchors_file, e))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
        .build()
        .map_err(|e| pem(anchors_file, e))?;
    let verifier = PeerVerifier { own: chain[0].clone(), webpki };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let config = match files.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        _ => {
            let key = PrivateKeyDer::from_pem_file(files.key).map_err(|e| pem(files.key, e))?;
            builder.with_client_auth_cert(chain, key)?
        }
    };
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Checks a peer broker's certificate: its own certificate, or one the roots vouch for. The
/// handshake's signatures are checked as for any server, so a peer must hold the key.
#[derive(Debug)]
struct PeerVerifier {
    own: CertificateDer<'static>,
    webpki: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for PeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.own.as_ref() {
            return Ok(ServerCertVerified::assertion());
        }
        self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
