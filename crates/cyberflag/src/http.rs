//! Serving HTTP (the API, the push endpoint, every role's `/metrics` and `/healthz`) with
//! limits a hostile client cannot outwait.
//!
//! `axum::serve` waits for a request's headers as long as the client likes, so a slow-loris
//! client holding many connections open would exhaust the process. Here every connection must
//! send its headers within [`HEADER_TIMEOUT`], and at most [`MAX_CONNECTIONS`] are served at once
//! (the rest wait in the kernel's backlog).
//!
//! With a certificate and key configured, connections are TLS (rustls, TLS 1.2 and 1.3): the
//! handshake must also finish within [`HEADER_TIMEOUT`], and a client that does not speak TLS is
//! dropped after its first bytes.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;

/// Time a client has to send a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 1024;

/// Why a TLS certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no PEM item of the expected kind.
    #[error("cannot read the TLS {what} from {path}: {reason}")]
    Read {
        /// `certificate chain` or `private key`.
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// rustls refused the pair (for example, the key does not match the certificate).
    #[error("the TLS certificate in {cert} and key in {key} cannot be used: {source}")]
    Config {
        /// Certificate file.
        cert: String,
        /// Key file.
        key: String,
        /// rustls's reason.
        #[source]
        source: rustls::Error,
    },
}

/// TLS from PEM files: `cert` holds the server certificate then its chain, `key` its private
/// key (PKCS#8, PKCS#1 or SEC1).
pub fn tls_acceptor(cert: &str, key: &str) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let read_error = |what, path: &str, reason: String| TlsError::Read {
        what,
        path: path.to_owned(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|items| items.collect::<Result<Vec<_>, _>>())
        .map_err(|e| read_error("certificate chain", cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(read_error(
            "certificate chain",
            cert,
            "no CERTIFICATE block".into(),
        ));
    }
    let private_key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| read_error("private key", key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| {
            builder
                .with_no_client_auth()
                .with_single_cert(chain, private_key)
        })
        .map_err(|source| TlsError::Config {
            cert: cert.to_owned(),
            key: key.to_owned(),
            source,
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The acceptor for an optional certificate and key pair: both set means TLS, neither plain
/// HTTP (configuration validation rejects one without the other).
pub fn optional_tls(cert: &str, key: &str) -> Result<Option<tokio_rustls::TlsAcceptor>, TlsError> {
    if cert.is_empty() && key.is_empty() {
        return Ok(None);
    }
    tls_acceptor(cert, key).map(Some)
}

/// Serves `router` on `listener` until `shutdown` resolves, over TLS when `tls` is given.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => permit.map_err(std::io::Error::other)?,
            () = &mut shutdown => return Ok(()),
        };
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => return Ok(()),
        };
        let service = TowerToHyperService::new(router.clone());
        let tls = tls.clone();
        tokio::spawn(async move {
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            let served = match tls {
                None => {
                    builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                }
                Some(acceptor) => {
                    match tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await
                        }
                        Ok(Err(error)) => Err(error.into()),
                        Err(_) => Err("TLS handshake timed out".into()),
                    }
                }
            };
            if let Err(error) = served {
                tracing::debug!(%error, "connection closed");
            }
            drop(permit);
        });
    }
}
