//! `syslog` sink: RFC 5424 messages (CEF or OCSF JSON) over UDP (one datagram each), TCP or
//! TLS (RFC 6587 octet counting). Stream connections are kept open and re-made after an error.

use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use gw_model::Finding;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::config::{SyslogConfig, SyslogProtocol, config_error};
use super::http::load_pem_certs;
use super::{Failure, Outcome, Transport};
use crate::syslog::{Facility, SyslogOptions, finding_message, octet_counted};
use crate::{Producer, Result};

/// Largest UDP payload over IPv4.
const MAX_DATAGRAM: usize = 65_507;

pub(crate) struct SyslogTransport {
    address: String,
    protocol: SyslogProtocol,
    options: SyslogOptions,
    payload: crate::syslog::SyslogPayload,
    producer: Producer,
    timeout: Duration,
    tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    connection: Option<Connection>,
}

enum Connection {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl SyslogTransport {
    pub(crate) fn new(sink: &str, config: &SyslogConfig, producer: &Producer) -> Result<Self> {
        let facility = Facility::new(config.facility).ok_or_else(|| {
            config_error(sink, format!("facility {} is above 23", config.facility))
        })?;
        let tls = match config.protocol {
            SyslogProtocol::Tls => Some(tls_config(sink, config)?),
            SyslogProtocol::Udp | SyslogProtocol::Tcp => None,
        };
        Ok(SyslogTransport {
            address: config.address.clone(),
            protocol: config.protocol,
            options: SyslogOptions {
                facility,
                app_name: Some(config.app_name.clone()),
                proc_id: None,
                utf8_bom: config.utf8_bom,
            },
            payload: config.payload,
            producer: producer.clone(),
            timeout: Duration::from_millis(config.timeout_ms),
            tls,
            connection: None,
        })
    }

    fn resolve(&self) -> std::result::Result<SocketAddr, Failure> {
        self.address
            .to_socket_addrs()
            .map_err(|e| {
                Failure::retryable(format!("resolving syslog address {}: {e}", self.address))
            })?
            .next()
            .ok_or_else(|| {
                Failure::retryable(format!(
                    "syslog address {} resolves to nothing",
                    self.address
                ))
            })
    }

    fn connect(&self) -> std::result::Result<Connection, Failure> {
        let addr = self.resolve()?;
        let fail = |what: &str, e: std::io::Error| {
            Failure::retryable(format!("syslog {what} {}: {e}", self.address))
        };
        match self.protocol {
            SyslogProtocol::Udp => {
                let local: SocketAddr = if addr.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                let socket =
                    UdpSocket::bind(local).map_err(|e| fail("binding a UDP socket for", e))?;
                socket
                    .connect(addr)
                    .map_err(|e| fail("connecting UDP to", e))?;
                Ok(Connection::Udp(socket))
            }
            SyslogProtocol::Tcp | SyslogProtocol::Tls => {
                let stream = TcpStream::connect_timeout(&addr, self.timeout)
                    .map_err(|e| fail("connecting to", e))?;
                stream
                    .set_write_timeout(Some(self.timeout))
                    .and_then(|()| stream.set_read_timeout(Some(self.timeout)))
                    .and_then(|()| stream.set_nodelay(true))
                    .map_err(|e| fail("configuring the connection to", e))?;
                let Some((config, name)) = &self.tls else {
                    return Ok(Connection::Tcp(stream));
                };
                let session =
                    ClientConnection::new(Arc::clone(config), name.clone()).map_err(|e| {
                        Failure::permanent(format!("syslog TLS to {}: {e}", self.address))
                    })?;
                let mut tls = StreamOwned::new(session, stream);
                // Complete the handshake now so certificate errors name the handshake.
                while tls.conn.is_handshaking() {
                    tls.conn
                        .complete_io(&mut tls.sock)
                        .map_err(|e| fail("TLS handshake with", e))?;
                }
                Ok(Connection::Tls(Box::new(tls)))
            }
        }
    }

    fn send(&mut self, message: &[u8]) -> std::result::Result<(), Failure> {
        if self
            .connection
            .as_ref()
            .is_some_and(Connection::closed_by_peer)
        {
            self.connection = None;
        }
        if self.connection.is_none() {
            self.connection = Some(self.connect()?);
        }
        let address = &self.address;
        let result = match self.connection.as_mut() {
            Some(Connection::Udp(socket)) => socket.send(message).map(|_| ()),
            Some(Connection::Tcp(stream)) => stream
                .write_all(&octet_counted(message))
                .and_then(|()| stream.flush()),
            Some(Connection::Tls(stream)) => stream
                .write_all(&octet_counted(message))
                .and_then(|()| stream.flush()),
            None => Ok(()),
        };
        result.map_err(|e| {
            self.connection = None;
            Failure::retryable(format!("syslog sending to {address}: {e}"))
        })
    }
}

impl Connection {
    /// Whether a stream connection was closed by the collector (idle timeout, restart). A
    /// write to such a socket often succeeds locally and is lost, so it is checked first.
    fn closed_by_peer(&self) -> bool {
        let stream = match self {
            Connection::Udp(_) => return false,
            Connection::Tcp(stream) => stream,
            Connection::Tls(tls) => &tls.sock,
        };
        if stream.set_nonblocking(true).is_err() {
            return true;
        }
        let mut byte = [0u8; 1];
        let closed = match stream.peek(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
        };
        closed || stream.set_nonblocking(false).is_err()
    }
}

fn tls_config(
    sink: &str,
    config: &SyslogConfig,
) -> Result<(Arc<ClientConfig>, ServerName<'static>)> {
    let mut roots = RootCertStore::empty();
    match &config.ca_file {
        Some(path) => {
            for cert in load_pem_certs(sink, path)? {
                roots
                    .add(cert)
                    .map_err(|e| config_error(sink, format!("ca_file {}: {e}", path.display())))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(sink, format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let host = match &config.server_name {
        Some(name) => name.clone(),
        None => {
            let (host, _) = config
                .address
                .rsplit_once(':')
                .unwrap_or((&config.address, ""));
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_string()
        }
    };
    let name = ServerName::try_from(host.clone())
        .map_err(|e| config_error(sink, format!("TLS server name {host:?}: {e}")))?;
    Ok((Arc::new(client), name))
}

impl Transport for SyslogTransport {
    fn deliver(&mut self, batch: &[Finding]) -> Outcome {
        let mut failures = Vec::new();
        for (i, finding) in batch.iter().enumerate() {
            let message =
                match finding_message(finding, &self.producer, &self.options, self.payload) {
                    Ok(m) => m,
                    Err(e) => {
                        failures.push((i, Failure::permanent(e.to_string())));
                        continue;
                    }
                };
            if self.protocol == SyslogProtocol::Udp && message.len() > MAX_DATAGRAM {
                let reason = format!(
                    "syslog message is {} bytes, larger than a UDP datagram ({MAX_DATAGRAM}); use tcp or tls",
                    message.len()
                );
                failures.push((i, Failure::permanent(reason)));
                continue;
            }
            if let Err(failure) = self.send(&message) {
                // The connection is gone: this and every later message of the batch are retried.
                failures.extend((i..batch.len()).map(|j| (j, failure.clone())));
                break;
            }
        }
        Outcome::from_failures(failures)
    }
}
