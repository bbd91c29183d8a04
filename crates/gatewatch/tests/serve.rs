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
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatewatch"))
        .args([
            "--config",
            "gatewatch.toml",
            "serve",
            "--flush-seconds",
            "600",
        ])
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
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /v1/ingest/kong HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {SECRET}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw.split(' ').nth(1).unwrap().parse().unwrap();
    let body = raw.split_once("\r\n\r\n").unwrap().1;
    (status, serde_json::from_str(body).unwrap())
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
