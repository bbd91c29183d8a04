//! Findings delivered while `gatewatch ingest` runs: a file sink and a webhook to a real local
//! HTTP receiver, configured in `gatewatch.toml`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::mpsc;

/// Answers every request with `status` and hands each request's body to the test.
fn receiver(status: u16) -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let _ = tx.send(String::from_utf8(body).unwrap());
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (format!("http://{addr}/hook"), rx)
}

fn attack(i: u32) -> String {
    format!(
        r#"{{"id":"a{i}","observed_at":"2024-06-10T09:{:02}:00Z","source":{{"kind":"native","capture":"frontend"}},"client":{{"ip":"203.0.113.66"}},"server":{{"host":"api.example.com"}},"request":{{"method":"GET","path":"/items","query":"id=1%27%20OR%20%271%27%3D%271"}},"response":{{"status":200}}}}"#,
        i % 60
    )
}

#[test]
fn findings_reach_every_configured_sink_and_failures_are_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let (ok_url, ok_bodies) = receiver(200);
    let (bad_url, _) = receiver(500);
    std::fs::write(
        dir.path().join("gatewatch.toml"),
        format!(
            r#"[delivery]
dead_letter_dir = "dead"

[[delivery.sinks]]
name = "archive"
kind = "ndjson_file"
path = "delivered.ndjson"

[[delivery.sinks]]
name = "soc"
kind = "webhook"
url = "{ok_url}"
secret = "hook-secret"
filter = {{ min_severity = "high" }}

[[delivery.sinks]]
name = "broken"
kind = "webhook"
url = "{bad_url}"
secret = "hook-secret"
retry = {{ attempts = 2, base_ms = 10, cap_ms = 20 }}
"#
        ),
    )
    .unwrap();
    let lines: Vec<String> = (0..20).map(attack).collect();
    std::fs::write(dir.path().join("in.ndjson"), lines.join("\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gatewatch"))
        .args([
            "--config",
            "gatewatch.toml",
            "ingest",
            "in.ndjson",
            "--db",
            "g.db",
        ])
        .current_dir(dir.path())
        .env_remove("GATEWATCH_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("delivery archive (ndjson_file): 1 delivered"),
        "{stdout}"
    );
    assert!(
        stdout.contains("delivery soc (webhook): 1 delivered"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "delivery broken (webhook): 0 delivered, 2 failed attempts, 1 retried, 1 dead-lettered"
        ),
        "{stdout}"
    );

    let archived = std::fs::read_to_string(dir.path().join("delivered.ndjson")).unwrap();
    assert!(archived.contains("GW-T-SQLI"), "{archived}");
    let body = ok_bodies
        .recv_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    assert!(body.contains("GW-T-SQLI"), "{body}");
    let dead = std::fs::read_to_string(dir.path().join("dead/broken.dead-letter.ndjson")).unwrap();
    assert!(dead.contains("GW-T-SQLI") && dead.contains("500"), "{dead}");
    assert!(
        !dead.contains("hook-secret"),
        "the signing secret never reaches a file"
    );
}
