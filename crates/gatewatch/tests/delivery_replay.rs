//! `gatewatch delivery replay` as a real process: findings dead-lettered by `gatewatch ingest`
//! against a failing webhook reach a working one after the replay, signed, exactly once, and
//! leave the dead-letter file.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::mpsc;
use std::time::Duration;

use gw_export::webhook::{SIGNATURE_HEADER, verify_webhook};
use gw_model::Finding;

const SECRET: &str = "hook-secret";

/// One request as received: lower-case header names with their values, and the body.
struct Request {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Answers every request with `status` (one request per connection) and hands each request to
/// the test.
fn receiver(status: u16) -> (String, mpsc::Receiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let (name, value) = line.split_once(':').unwrap();
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
            let length = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .map_or(0, |(_, v)| v.parse().unwrap());
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let _ = tx.send(Request { headers, body });
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (format!("http://{addr}/hook"), rx)
}

fn write_config(dir: &Path, url: &str) {
    std::fs::write(
        dir.join("gatewatch.toml"),
        format!(
            r#"[delivery]
dead_letter_dir = "dead"

[[delivery.sinks]]
name = "soc"
kind = "webhook"
url = "{url}"
secret = "{SECRET}"
retry = {{ attempts = 2, base_ms = 10, cap_ms = 20 }}
"#
        ),
    )
    .unwrap();
}

fn gatewatch(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatewatch"))
        .args(["--config", "gatewatch.toml"])
        .args(args)
        .current_dir(dir)
        .env_remove("GATEWATCH_CONFIG")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// SQL injection attempts from `ip`.
fn attacks(ip: &str, from: u32) -> Vec<String> {
    (from..from + 20)
        .map(|i| {
            format!(
                r#"{{"id":"a{i}","observed_at":"2024-06-10T09:{:02}:00Z","source":{{"kind":"native","capture":"frontend"}},"client":{{"ip":"{ip}"}},"server":{{"host":"api.example.com"}},"request":{{"method":"GET","path":"/items","query":"id=1%27%20OR%20%271%27%3D%271"}},"response":{{"status":200}}}}"#,
                i % 60
            )
        })
        .collect()
}

/// The findings of a dead-letter file, in order.
fn dead_lettered(path: &Path) -> Vec<Finding> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["sink"], "soc");
            serde_json::from_value(v["finding"].clone()).unwrap()
        })
        .collect()
}

#[test]
fn dead_letters_replayed_to_a_working_receiver_arrive_signed_once_and_leave_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (bad_url, _) = receiver(503);
    write_config(dir.path(), &bad_url);
    let mut lines = attacks("203.0.113.66", 0);
    lines.extend(attacks("198.51.100.7", 100));
    std::fs::write(dir.path().join("in.ndjson"), lines.join("\n")).unwrap();
    let out = gatewatch(dir.path(), &["ingest", "in.ndjson", "--db", "g.db"]);
    assert!(out.status.success(), "{}", text(&out));
    let dead_path = dir.path().join("dead/soc.dead-letter.ndjson");
    let expected = dead_lettered(&dead_path);
    assert!(!expected.is_empty(), "{}", text(&out));

    let (good_url, received) = receiver(200);
    write_config(dir.path(), &good_url);
    let out = gatewatch(dir.path(), &["delivery", "status"]);
    assert!(out.status.success(), "{}", text(&out));
    let status = String::from_utf8_lossy(&out.stdout);
    let row = status.lines().find(|l| l.starts_with("soc ")).unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    let count = expected.len().to_string();
    assert_eq!(cells[..3], ["soc", "webhook", count.as_str()]);

    let before = std::fs::read(&dead_path).unwrap();
    let out = gatewatch(dir.path(), &["delivery", "replay", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!(
            "dry run: {} to replay (soc {})",
            expected.len(),
            expected.len()
        )),
        "{}",
        text(&out)
    );
    assert!(received.recv_timeout(Duration::from_millis(300)).is_err());
    assert_eq!(std::fs::read(&dead_path).unwrap(), before);

    let out = gatewatch(dir.path(), &["delivery", "replay", "--sink", "soc"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!(
            "{} replayed (soc {}), 0 failed again, 0 skipped (unknown sink), 0 skipped (other sinks), 0 malformed",
            expected.len(),
            expected.len()
        )),
        "{}",
        text(&out)
    );
    let now = jiff::Timestamp::now().as_second();
    let mut replayed: Vec<Finding> = Vec::new();
    while let Ok(request) = received.recv_timeout(Duration::from_millis(500)) {
        let signature = request
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(SIGNATURE_HEADER))
            .map(|(_, v)| v.as_str())
            .expect("replayed requests are signed");
        verify_webhook(SECRET.as_bytes(), signature, &request.body, now, 120).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(v["schema"], "gatewatch.webhook/1");
        replayed.extend(serde_json::from_value::<Vec<Finding>>(v["findings"].clone()).unwrap());
    }
    assert_eq!(replayed, expected);
    assert_eq!(std::fs::read_to_string(&dead_path).unwrap(), "");

    // A line that is not a dead letter is kept and reported with its number; exit status 1.
    std::fs::write(&dead_path, "{\"half\": \n").unwrap();
    let file = dead_path.display().to_string();
    let out = gatewatch(dir.path(), &["delivery", "replay", "--dead-letters", &file]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("line 1: malformed, kept: "),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(&dead_path).unwrap(),
        "{\"half\": \n"
    );
}
