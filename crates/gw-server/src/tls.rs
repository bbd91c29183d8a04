//! HTTPS: the certificate chain and key from `server.tls`, rustls with the `ring` provider, and
//! a listener that runs each TLS handshake on its own task so a slow client cannot hold up
//! accepting others.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::ServerError;

/// A handshake not finished in this time is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Completed handshakes waiting for the HTTP server to take them.
const READY_CONNECTIONS: usize = 64;

/// `[server.tls]`: serve HTTPS with this certificate chain and private key (PEM files).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the server certificate first, then any intermediate certificates.
    pub cert: std::path::PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 RSA or SEC1 EC) of the certificate.
    pub key: std::path::PathBuf,
}

fn tls_error(field: &str, path: &Path, why: impl std::fmt::Display) -> ServerError {
    ServerError::Tls(format!("server.tls.{field}: {}: {why}", path.display()))
}

fn read_pem(field: &str, path: &Path) -> Result<Vec<u8>, ServerError> {
    std::fs::read(path).map_err(|e| tls_error(field, path, format_args!("cannot read: {e}")))
}

/// Loads the certificate chain and key and builds the rustls server configuration (TLS 1.2
/// and 1.3, ALPN `http/1.1`).
pub(crate) fn load(config: &TlsConfig) -> Result<TlsAcceptor, ServerError> {
    let cert_pem = read_pem("cert", &config.cert)?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, pem::Error>>()
        .map_err(|e| tls_error("cert", &config.cert, format_args!("not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(tls_error(
            "cert",
            &config.cert,
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
        ));
    }
    let key_pem = read_pem("key", &config.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        pem::Error::NoItemsFound => tls_error(
            "key",
            &config.key,
            "holds no PEM private key (-----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY)",
        ),
        e => tls_error("key", &config.key, format_args!("not valid PEM: {e}")),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(format!("server.tls: no usable TLS version: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            ServerError::Tls(format!(
                "server.tls: the key {} does not fit the certificate {}: {e}",
                config.key.display(),
                config.cert.display()
            ))
        })?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(server)))
}

/// A listener whose connections are TLS streams whose handshake has completed. Failed or
/// timed-out handshakes are logged and dropped. Dropping it stops accepting.
pub(crate) struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    acceptor_task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub(crate) fn new(tcp: TcpListener, acceptor: TlsAcceptor) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(READY_CONNECTIONS);
        let acceptor_task = tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accepting a TCP connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        }
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener {
            ready,
            local,
            acceptor_task,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor_task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept task only ends when aborted by drop: nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn err(cert: &Path, key: &Path) -> String {
        match load(&TlsConfig {
            cert: cert.into(),
            key: key.into(),
        }) {
            Ok(_) => panic!("loaded"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn missing_and_invalid_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert = write(d, "cert.pem", &ck.cert.pem());
        let key = write(d, "key.pem", &ck.signing_key.serialize_pem());
        load(&TlsConfig {
            cert: cert.clone(),
            key: key.clone(),
        })
        .unwrap();

        let e = err(&d.join("nope.pem"), &key);
        assert!(
            e.contains("server.tls.cert") && e.contains("nope.pem") && e.contains("cannot read"),
            "{e}"
        );
        let e = err(&cert, &d.join("nokey.pem"));
        assert!(
            e.contains("server.tls.key") && e.contains("cannot read"),
            "{e}"
        );
        let junk = write(d, "junk.pem", "hello\n");
        let e = err(&junk, &key);
        assert!(
            e.contains("server.tls.cert") && e.contains("no PEM certificate"),
            "{e}"
        );
        let e = err(&cert, &junk);
        assert!(
            e.contains("server.tls.key") && e.contains("no PEM private key"),
            "{e}"
        );
        // The key in the cert field and the cert in the key field.
        let e = err(&key, &cert);
        assert!(e.contains("server.tls.cert"), "{e}");
        let other = rcgen::generate_simple_self_signed(vec!["other".into()]).unwrap();
        let other_key = write(d, "other.pem", &other.signing_key.serialize_pem());
        let e = err(&cert, &other_key);
        assert!(e.contains("does not fit the certificate"), "{e}");
    }
}
