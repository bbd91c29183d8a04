//! HTTPS with a certificate generated here: a TLS client gets answers, a plain HTTP client on
//! the same port gets none, and unusable certificate files stop the server from starting.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use gw_server::{Server, ServerConfig, ServerError, TlsConfig};

struct Pki {
    cert_pem: String,
    tls: TlsConfig,
}

fn pki(dir: &Path) -> Pki {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    Pki {
        cert_pem: ck.cert.pem(),
        tls: TlsConfig { cert, key },
    }
}

/// One HTTPS request trusting only `ca_pem`.
fn https(
    addr: SocketAddr,
    ca_pem: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Reply {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let conn =
        rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap()).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\n"
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    tls.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    match tls.read_to_end(&mut raw) {
        Ok(_) => {}
        // A peer that closes the TCP connection without close_notify after a complete answer.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => panic!("reading the HTTPS answer: {e}"),
    }
    parse_reply(&raw)
}

#[test]
fn https_requests_work_and_plain_http_to_the_tls_port_gets_nothing() {
    let (tmp, spool) = spool_dir();
    let pki = pki(tmp.path());
    let mut cfg = config(&spool);
    cfg.tls = Some(pki.tls.clone());
    let sink = RecordingSink::new(Durability::Immediate);
    let server = start(cfg, sink.clone());

    let r = https(server.addr, &pki.cert_pem, "GET", "/healthz", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "ok");
    let auth = format!("Bearer {READ_TOKEN}");
    let r = https(
        server.addr,
        &pki.cert_pem,
        "GET",
        "/v1/findings",
        &[("Authorization", &auth)],
    );
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.json()["code"], "read_api_unavailable");
    let r = https(server.addr, &pki.cert_pem, "GET", "/v1/findings", &[]);
    assert_eq!(r.status, 401);

    // Plain HTTP to the TLS port: the handshake fails and no HTTP answer comes back.
    let mut plain = TcpStream::connect(server.addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    let _ = plain.read_to_end(&mut raw);
    assert!(
        !String::from_utf8_lossy(&raw).contains("HTTP/1.1 200"),
        "plain HTTP was answered: {:?}",
        String::from_utf8_lossy(&raw)
    );
    assert!(!raw.starts_with(b"HTTP/"), "{raw:?}");

    // A client that does not trust the certificate fails its handshake.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let untrusted = std::panic::catch_unwind(|| {
        https(server.addr, &other.cert.pem(), "GET", "/healthz", &[]);
    });
    assert!(
        untrusted.is_err(),
        "a certificate from another issuer was accepted"
    );

    // The server still serves after the failed handshakes.
    let r = https(server.addr, &pki.cert_pem, "GET", "/readyz", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    server.stop();
}

fn bind_error(cfg: ServerConfig) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sink = RecordingSink::new(Durability::Immediate);
    match rt.block_on(Server::bind(cfg, sink)) {
        Ok(_) => panic!("the server started"),
        Err(e) => {
            assert!(matches!(e, ServerError::Tls(_)), "{e}");
            e.to_string()
        }
    }
}

#[test]
fn missing_or_invalid_certificate_files_stop_the_start_with_the_file_named() {
    let (tmp, spool) = spool_dir();
    let pki = pki(tmp.path());
    let mut cfg = config(&spool);
    cfg.tls = Some(TlsConfig {
        cert: tmp.path().join("missing-cert.pem"),
        key: pki.tls.key.clone(),
    });
    let e = bind_error(cfg.clone());
    assert!(
        e.contains("server.tls.cert") && e.contains("missing-cert.pem"),
        "{e}"
    );
    let garbage = tmp.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    cfg.tls = Some(TlsConfig {
        cert: pki.tls.cert.clone(),
        key: garbage,
    });
    let e = bind_error(cfg);
    assert!(
        e.contains("server.tls.key") && e.contains("garbage.pem"),
        "{e}"
    );
}
