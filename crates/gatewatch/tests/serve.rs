//! `gatewatch serve` as a real process: records acknowledged before a `kill -9` are stored
//! after the restart, exactly once.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};

const SECRET: &str = "shipper-secret";

// The child is handed to the caller, which kills or terminates it and waits.
#[allow(clippy::zombie_processes)]
fn start(dir: &Path) -> (Child, SocketAddr, BufReader<ChildStderr>) {
    start_with(dir, &["--flush-seconds", "600"])
}

#[allow(clippy::zombie_processes)]
fn start_with(dir: &Path, extra: &[&str]) -> (Child, SocketAddr, BufReader<ChildStderr>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatewatch"))
        .args(["--config", "gatewatch.toml", "serve"])
        .args(extra)
        .current_dir(dir)
        .env_remove("GATEWATCH_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting gatewatch serve");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        if stderr.read_line(&mut line).unwrap() == 0 {
            let status = child.wait().unwrap();
            panic!("gatewatch serve exited ({status}) before serving");
        }
        if let Some(rest) = line.trim().strip_prefix("gatewatch: serving on http://") {
            let addr = rest.split_whitespace().next().unwrap().parse().unwrap();
            return (child, addr, stderr);
        }
    }
}

fn post(addr: SocketAddr, body: &[u8]) -> (u16, serde_json::Value) {
    let (status, body) = request(addr, "POST", "/v1/ingest/kong", SECRET, body);
    (status, serde_json::from_str(&body).unwrap())
}

/// One HTTP/1.1 request with a bearer token; the status and the body.
fn request(addr: SocketAddr, method: &str, path: &str, token: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw.split(' ').nth(1).unwrap().parse().unwrap();
    let body = raw.split_once("\r\n\r\n").unwrap().1;
    (status, body.to_string())
}

fn hash_token(dir: &Path, secret: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_gatewatch"))
        .args(["serve", "hash-token", secret])
        .current_dir(dir)
        .env_remove("GATEWATCH_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Sends SIGTERM and returns what the server printed on the way out.
fn terminate(mut child: Child, mut stderr: BufReader<ChildStderr>) -> String {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(child.wait().unwrap().success(), "{rest}");
    rest
}

#[test]
fn records_acknowledged_before_kill_9_are_stored_once_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let hash = Command::new(env!("CARGO_BIN_EXE_gatewatch"))
        .args(["serve", "hash-token", SECRET])
        .current_dir(dir.path())
        .env_remove("GATEWATCH_CONFIG")
        .output()
        .unwrap();
    assert!(hash.status.success());
    let hash = String::from_utf8(hash.stdout).unwrap();
    std::fs::write(
        dir.path().join("gatewatch.toml"),
        format!(
            "[store]\nurl = \"state.db\"\n\n[server]\nlisten = \"127.0.0.1:0\"\nspool_dir = \"spool\"\ntokens = [{{ id = \"shipper\", sha256 = \"{}\", scopes = [\"ingest\"] }}]\n",
            hash.trim()
        ),
    )
    .unwrap();
    let golden = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../gw-ingest/tests/golden/kong.http_log/lines.input");
    let body = std::fs::read(golden).unwrap();

    let (mut child, addr, _stderr) = start(dir.path());
    let mut acked = 0;
    for i in 0..3 {
        let mut b = body.clone();
        b.extend_from_slice(" ".repeat(i).as_bytes());
        let (status, answer) = post(addr, &b);
        assert_eq!(status, 200, "{answer}");
        acked += answer["accepted"].as_u64().unwrap();
    }
    assert!(acked > 0);
    // The pipeline flushes every 600 s: nothing acknowledged is in the store yet.
    child.kill().unwrap();
    child.wait().unwrap();

    let (child, _, stderr) = start(dir.path());
    let out = terminate(child, stderr);
    assert!(
        out.contains(&format!(
            "3 batches replayed from the spool at start, spool committed through 3 of 3; {acked} records stored, 0 already stored"
        )),
        "{out}"
    );

    let (child, _, stderr) = start(dir.path());
    let out = terminate(child, stderr);
    assert!(
        out.contains("0 batches replayed from the spool at start")
            && out.contains("0 records stored"),
        "{out}"
    );
}

const READER: &str = "analyst-secret";

/// The value of an unlabelled series in a Prometheus text page.
fn metric(page: &str, name: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

fn sqli_lines(from: u32, n: u32) -> Vec<u8> {
    let mut out = String::new();
    for i in from..from + n {
        out.push_str(&format!(
            r#"{{"id":"sqli-{i}","observed_at":"2024-06-10T09:{:02}:{:02}Z","source":{{"kind":"native","capture":"frontend"}},"client":{{"ip":"203.0.113.66"}},"server":{{"host":"api.example.com"}},"request":{{"method":"GET","path":"/items","query":"id={i}%27%20OR%20%271%27%3D%271"}},"response":{{"status":200}}}}"#,
            i / 60 % 60,
            i % 60
        ));
        out.push('\n');
    }
    out.into_bytes()
}

#[test]
fn a_running_server_keeps_alert_windows_across_flushes_and_serves_them() {
    let dir = tempfile::tempdir().unwrap();
    let ingest = hash_token(dir.path(), SECRET);
    let read = hash_token(dir.path(), READER);
    std::fs::write(
        dir.path().join("gatewatch.toml"),
        format!(
            "[store]\nurl = \"state.db\"\n\n[server]\nlisten = \"127.0.0.1:0\"\nspool_dir = \"spool\"\ntokens = [{{ id = \"shipper\", sha256 = \"{ingest}\", scopes = [\"ingest\"] }}, {{ id = \"analyst\", sha256 = \"{read}\", scopes = [\"read\"] }}]\n"
        ),
    )
    .unwrap();
    let (child, addr, stderr) = start_with(
        dir.path(),
        &[
            "--flush-seconds",
            "1",
            "--blocklist",
            "blocked.conf",
            "--blocklist-format",
            "nginx",
            "--blocklist-every",
            "1",
        ],
    );
    let wait_durable = |batch: f64| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let (_, page) = request(addr, "GET", "/metrics", READER, b"");
            if metric(&page, "gatewatch_pipeline_durable_batch").unwrap_or(0.0) >= batch {
                return page;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "batch {batch} never became durable:\n{page}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    // Two parts of one attack, stored by two different flushes of the same pipeline.
    let (status, body) = request(addr, "POST", "/v1/ingest", SECRET, &sqli_lines(0, 40));
    assert_eq!(status, 200, "{body}");
    wait_durable(1.0);
    let (_, page) = request(addr, "GET", "/v1/alerts?rule=GW-T-SQLI", READER, b"");
    let alerts: serde_json::Value = serde_json::from_str(&page).unwrap();
    assert_eq!(
        alerts["items"][0]["count"], 40,
        "an open alert is visible before its window closes: {page}"
    );

    let (status, body) = request(addr, "POST", "/v1/ingest", SECRET, &sqli_lines(40, 25));
    assert_eq!(status, 200, "{body}");
    let page = wait_durable(2.0);
    assert!(
        page.contains("gatewatch_detections_total{rule=\"GW-T-SQLI\"} 65"),
        "{page}"
    );

    let (status, page) = request(addr, "GET", "/v1/alerts?rule=GW-T-SQLI", READER, b"");
    assert_eq!(status, 200, "{page}");
    let alerts: serde_json::Value = serde_json::from_str(&page).unwrap();
    let items = alerts["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "one alert across both flushes: {page}");
    assert_eq!(items[0]["count"], 65);
    let id = items[0]["id"].as_str().unwrap();
    let (status, page) = request(
        addr,
        "GET",
        &format!("/v1/events?alert={id}&limit=1000"),
        READER,
        b"",
    );
    assert_eq!(status, 200, "{page}");
    let events: serde_json::Value = serde_json::from_str(&page).unwrap();
    assert_eq!(
        events["items"].as_array().unwrap().len(),
        65,
        "every record of the alert has its event"
    );

    // The gateway blocklist follows the open alerts.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(dir.path().join("blocked.conf")).unwrap_or_default();
        if text.contains("deny 203.0.113.66") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "blocklist never listed the attacker: {text:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    // The ingest token cannot read, the read token cannot ingest.
    assert_eq!(request(addr, "GET", "/v1/alerts", SECRET, b"").0, 403);
    assert_eq!(
        request(addr, "POST", "/v1/ingest", READER, &sqli_lines(99, 1)).0,
        403
    );
    let out = terminate(child, stderr);
    assert!(out.contains("65 records stored"), "{out}");
}
