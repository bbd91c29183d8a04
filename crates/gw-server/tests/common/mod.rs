//! Test harness: a server on a loopback port with a recording sink, and a minimal blocking
//! HTTP/1.1 client (one request per connection).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use gw_server::{
    Batch, ReadStore, RecordSink, Scope, ServeReport, Server, ServerConfig, SinkFailure,
    TokenConfig,
};

pub const INGEST_TOKEN: &str = "ingest-secret";
pub const READ_TOKEN: &str = "read-secret";
pub const ADMIN_TOKEN: &str = "admin-secret";

pub fn golden(rel: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../gw-ingest/tests/golden")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn golden_lines(rel: &str) -> usize {
    golden(rel)
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count()
}

pub fn config(spool: &Path) -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".into(),
        tokens: vec![
            TokenConfig {
                id: "shipper".into(),
                sha256: gw_server::hash_token(INGEST_TOKEN),
                scopes: vec![Scope::Ingest],
            },
            TokenConfig {
                id: "reader".into(),
                sha256: gw_server::hash_token(READ_TOKEN),
                scopes: vec![Scope::Read],
            },
            TokenConfig {
                id: "ops".into(),
                sha256: gw_server::hash_token(ADMIN_TOKEN),
                scopes: vec![Scope::Admin],
            },
        ],
        spool_dir: spool.to_path_buf(),
        rate_per_second: 10_000,
        rate_burst: 10_000,
        shutdown_grace_seconds: 5,
        ..ServerConfig::default()
    }
}

/// How durable the recording sink says batches are.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Every submitted batch at once.
    Immediate,
    /// Never (a pipeline that crashes before storing anything).
    Never,
}

/// Records every batch it gets; can be closed (blocks submits) to saturate the server.
pub struct RecordingSink {
    pub batches: Mutex<Vec<Batch>>,
    durable: AtomicU64,
    durability: Durability,
    open: Mutex<bool>,
    opened: Condvar,
    pub fail: AtomicBool,
}

impl RecordingSink {
    pub fn new(durability: Durability) -> Arc<RecordingSink> {
        Arc::new(RecordingSink {
            batches: Mutex::new(Vec::new()),
            durable: AtomicU64::new(0),
            durability,
            open: Mutex::new(true),
            opened: Condvar::new(),
            fail: AtomicBool::new(false),
        })
    }

    pub fn set_open(&self, open: bool) {
        *self.open.lock().unwrap() = open;
        self.opened.notify_all();
    }

    pub fn seqs(&self) -> Vec<u64> {
        self.batches.lock().unwrap().iter().map(|b| b.seq).collect()
    }

    pub fn record_ids(&self) -> Vec<String> {
        self.batches
            .lock()
            .unwrap()
            .iter()
            .flat_map(|b| b.records.iter().map(|r| r.id.clone()))
            .collect()
    }
}

impl RecordSink for RecordingSink {
    fn submit(&self, batch: Batch) -> Result<(), SinkFailure> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(SinkFailure {
                batch,
                reason: "store unavailable".into(),
            });
        }
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
        drop(open);
        let seq = batch.seq;
        self.batches.lock().unwrap().push(batch);
        if self.durability == Durability::Immediate {
            self.durable.store(seq, Ordering::SeqCst);
        }
        Ok(())
    }

    fn durable_through(&self) -> u64 {
        self.durable.load(Ordering::SeqCst)
    }

    fn drain(&self) -> Result<(), String> {
        Ok(())
    }

    fn render_metrics(&self, out: &mut String) {
        out.push_str("test_sink_batches ");
        out.push_str(&self.batches.lock().unwrap().len().to_string());
        out.push('\n');
    }
}

/// A server running on its own runtime thread.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<ServeReport, gw_server::ServerError>>>,
}

pub fn start(config: ServerConfig, sink: Arc<dyn RecordSink>) -> Running {
    start_with(config, sink, None)
}

/// A server with `read` behind the `/v1` read API.
pub fn start_with(
    config: ServerConfig,
    sink: Arc<dyn RecordSink>,
    read: Option<Arc<dyn ReadStore>>,
) -> Running {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let server = match Server::bind_with_read_store(config, sink, read).await {
                Ok(s) => s,
                Err(e) => {
                    addr_tx.send(None).unwrap();
                    return Err(e);
                }
            };
            addr_tx.send(Some(server.local_addr())).unwrap();
            server
                .run(async move {
                    let _ = stopped.await;
                })
                .await
        })
    });
    let addr = addr_rx.recv().unwrap().expect("server failed to start");
    Running {
        addr,
        stop: Some(stop),
        thread: Some(thread),
    }
}

impl Running {
    /// Graceful shutdown (SIGTERM path): returns the run report.
    pub fn stop(mut self) -> ServeReport {
        let _ = self.stop.take().unwrap().send(());
        self.thread.take().unwrap().join().unwrap().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request and reads the whole answer.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    // The server may answer (413, 401) without reading the body and close: ignore that.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_reply(&raw)
}

pub fn parse_reply(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 4 + size..];
    }
}

pub fn ingest(addr: SocketAddr, path: &str, content_type: &str, body: &[u8]) -> Reply {
    let auth = format!("Bearer {INGEST_TOKEN}");
    request(
        addr,
        "POST",
        path,
        &[("Authorization", &auth), ("Content-Type", content_type)],
        body,
    )
}

pub fn spool_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool");
    (dir, path)
}

/// Polls `f` until it holds (the forwarder runs on its own thread).
pub fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out waiting for: {what}");
}
