//! End-to-end: the real binary, real files, a real SQLite store.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn gatewatch(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatewatch"))
        .args(args)
        .current_dir(dir)
        .env_remove("GATEWATCH_CONFIG")
        .output()
        .expect("running gatewatch")
}

fn record(i: u32, status: &str) -> String {
    format!(
        r#"{{"schema":"gatewatch.exchange/1","observed_at":"2024-06-10T09:13:{:02}Z","source":{{"kind":"native","capture":"frontend"}},"client":{{"ip":"203.0.113.{i}"}},"server":{{"host":"api.example.com"}},"request":{{"method":"GET","path":"/users/{i}"}},"response":{{"status":{status}}}}}"#,
        i % 60
    )
}

fn summary(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("--json prints one JSON document")
}

#[test]
fn bad_lines_are_rejected_with_place_and_reason_and_good_lines_survive() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        record(1, "200"),
        "not json at all".to_string(),
        record(2, "\"abc\""),
        String::new(),
        record(3, "404"),
        record(4, "999"),
        record(5, "201"),
    ];
    std::fs::write(dir.path().join("in.ndjson"), lines.join("\n")).unwrap();
    let out = gatewatch(
        dir.path(),
        &[
            "ingest",
            "in.ndjson",
            "--db",
            "g.db",
            "--rejects",
            "rejects.ndjson",
            "--alerts-out",
            "alerts.ndjson",
            "--json",
            "-q",
        ],
    );
    let s = summary(&out);
    assert_eq!(s["records_read"], 6);
    assert_eq!(s["accepted"], 3);
    assert_eq!(s["stored"], 3);
    assert_eq!(s["rejected"], 3);
    assert_eq!(s["rejected_by_reason"]["invalid_json"], 1);
    assert_eq!(s["rejected_by_reason"]["bad_field"], 2);
    assert_eq!(s["inputs"][0]["format"], "native");

    let rejects: Vec<serde_json::Value> =
        std::fs::read_to_string(dir.path().join("rejects.ndjson"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    let places: Vec<(u64, Option<&str>)> = rejects
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["field"].as_str()))
        .collect();
    assert_eq!(
        places,
        vec![
            (2, None),
            (3, Some("response.status")),
            (6, Some("response.status"))
        ]
    );
    assert_eq!(rejects[0]["raw"], "not json at all");
    assert!(
        rejects[2]["message"]
            .as_str()
            .unwrap()
            .contains("found 999")
    );
    assert!(
        dir.path().join("alerts.ndjson").exists(),
        "--alerts-out is created even when empty"
    );

    let store = gw_store::open_store(dir.path().join("g.db").to_str().unwrap()).unwrap();
    assert_eq!(store.count_exchanges().unwrap(), 3);
    let runs = store.list_runs(10).unwrap();
    assert_eq!(runs.len(), 1);
    let run = runs[0].summary.as_ref().expect("the run is finished");
    assert_eq!((run.accepted, run.rejected()), (3, 3));
}

#[test]
fn reingesting_the_same_file_stores_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let text: Vec<String> = (1..=20).map(|i| record(i, "200")).collect();
    std::fs::write(dir.path().join("in.ndjson"), text.join("\n")).unwrap();
    let first = summary(&gatewatch(
        dir.path(),
        &["ingest", "in.ndjson", "--db", "g.db", "--json", "-q"],
    ));
    let second = summary(&gatewatch(
        dir.path(),
        &["ingest", "in.ndjson", "--db", "g.db", "--json", "-q"],
    ));
    assert_eq!(first["stored"], 20);
    assert_eq!(second["stored"], 0);
    assert_eq!(second["already_stored"], 20);
}

#[test]
fn gzip_and_stdin_inputs_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let text: Vec<String> = (1..=5).map(|i| record(i, "200")).collect();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(text.join("\n").as_bytes()).unwrap();
    std::fs::write(dir.path().join("in.log"), enc.finish().unwrap()).unwrap();
    let s = summary(&gatewatch(
        dir.path(),
        &["ingest", "in.log", "--db", "g.db", "--json", "-q"],
    ));
    assert_eq!(s["accepted"], 5);
    assert_eq!(s["inputs"][0]["gzip"], true);

    let mut child = Command::new(env!("CARGO_BIN_EXE_gatewatch"))
        .args(["ingest", "-", "--db", "s.db", "--json", "-q"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.join("\n").as_bytes())
        .unwrap();
    let s = summary(&child.wait_with_output().unwrap());
    assert_eq!(s["accepted"], 5);
    assert_eq!(s["inputs"][0]["name"], "-");
}

#[test]
fn unreadable_or_unrecognised_inputs_are_clear_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = gatewatch(dir.path(), &["ingest", "missing.log", "--db", "g.db", "-q"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing.log: cannot open"), "{err}");

    std::fs::write(
        dir.path().join("mystery.txt"),
        "\u{1}\u{2} nothing any gateway writes\n",
    )
    .unwrap();
    let out = gatewatch(dir.path(), &["ingest", "mystery.txt", "--db", "g.db", "-q"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mystery.txt: cannot tell the format") && err.contains("--format"),
        "{err}"
    );

    let out = gatewatch(
        dir.path(),
        &["ingest", "mystery.txt", "--format", "syslog", "-q"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown format \"syslog\""));
}

#[test]
fn schema_and_config_show_print_what_they_say() {
    let dir = tempfile::tempdir().unwrap();
    let out = gatewatch(dir.path(), &["schema", "exchange"]);
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["title"], "Exchange");
    assert!(schema["properties"]["observed_at"].is_object());
    let out = gatewatch(dir.path(), &["schema", "finding"]);
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(schema["properties"]["fingerprint"].is_object());

    let out = Command::new(env!("CARGO_BIN_EXE_gatewatch"))
        .args(["config", "show"])
        .current_dir(dir.path())
        .env("GATEWATCH_RETENTION_CLIENT_IP_DAYS", "7")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("client_ip_days = 7"), "{text}");
    assert!(text.contains("body_hours = 48"), "{text}");

    std::fs::write(
        dir.path().join("gatewatch.toml"),
        "[retention]\nbody_hours = 100\n",
    )
    .unwrap();
    let out = gatewatch(dir.path(), &["config", "show"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("gatewatch.toml") && err.contains("retention.body_hours: must be at most 48"),
        "{err}"
    );
}

#[test]
fn rejected_input_is_kept_masked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("in.ndjson"),
        "{\"broken\": \"mail jane.roe@example.org card 4111 1111 1111 1111\"\n",
    )
    .unwrap();
    let out = gatewatch(
        dir.path(),
        &[
            "ingest",
            "in.ndjson",
            "--format",
            "native",
            "--db",
            "g.db",
            "--rejects",
            "r.ndjson",
            "-q",
        ],
    );
    assert!(out.status.success());
    let text = std::fs::read_to_string(dir.path().join("r.ndjson")).unwrap();
    assert!(!text.contains("jane.roe@example.org"), "{text}");
    assert!(!text.contains("4111 1111 1111 1111"), "{text}");
    assert!(
        text.contains("@example.org") && text.contains("1111"),
        "masked, still recognisable: {text}"
    );
}

#[test]
fn classify_reports_byte_offsets_and_survives_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatewatch"))
        .arg("classify")
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let input =
        "{\"id\":\"a\",\"text\":\"é mail: a.b@example.com\"}\n{oops\nplain 4111-1111-1111-1111\n";
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["id"], "a");
    let f = &lines[0]["findings"][0];
    assert_eq!(f["kind"], "email");
    // "é" is two bytes: offsets are bytes, not characters.
    assert_eq!(
        (f["start"].as_u64(), f["end"].as_u64()),
        (Some(9), Some(24))
    );
    assert!(lines[1]["error"].as_str().unwrap().contains("line 2"));
    assert_eq!(lines[2]["id"], 3);
    assert_eq!(lines[2]["findings"][0]["kind"], "credit_card");
}

#[test]
fn credentials_never_reach_the_store_and_identity_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    // header {"alg":"HS256"}, payload {"sub":"user-42","iss":"https://idp.example.com"}
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIiwiaXNzIjoiaHR0cHM6Ly9pZHAuZXhhbXBsZS5jb20ifQ.c2lnbmF0dXJlLXNlY3JldC14eXo";
    let api_key = "sk_test_4eC39HqLyjWDarjtT1zdp7dc";
    let line = format!(
        r#"{{"observed_at":"2024-06-10T09:13:20Z","source":{{"kind":"native","capture":"frontend"}},"client":{{"ip":"198.51.100.7"}},"server":{{"host":"api.example.com"}},"request":{{"method":"GET","path":"/orders","query":"api_key={api_key}&page=2","headers":[{{"name":"authorization","value":"Bearer {jwt}"}},{{"name":"cookie","value":"session=s3cr3t-cookie-value"}}],"body":{{"captured":9,"content":"{{\"a\":1}}"}}}},"response":{{"status":200}}}}"#
    );
    std::fs::write(dir.path().join("in.ndjson"), format!("{line}\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gatewatch"))
        .args(["ingest", "in.ndjson", "--db", "g.db", "--json", "-q"])
        .current_dir(dir.path())
        .env("GATEWATCH_STORE_EXCHANGES", "metadata_and_bodies")
        .output()
        .unwrap();
    assert_eq!(summary(&out)["stored"], 1);
    let mut bytes = Vec::new();
    for f in ["g.db", "g.db-wal"] {
        if let Ok(b) = std::fs::read(dir.path().join(f)) {
            bytes.extend(b);
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    for secret in [
        jwt,
        api_key,
        "s3cr3t-cookie-value",
        "c2lnbmF0dXJlLXNlY3JldC14eXo",
    ] {
        assert!(!text.contains(secret), "{secret} reached the store");
    }
    let store = gw_store::open_store(dir.path().join("g.db").to_str().unwrap()).unwrap();
    let export = store.export_by_ip("198.51.100.7".parse().unwrap()).unwrap();
    let exported = serde_json::to_string(&export).unwrap();
    assert!(
        exported.contains("user-42@https://idp.example.com"),
        "{exported}"
    );
    assert!(exported.contains("hmac-sha256:"), "{exported}");
    assert!(
        exported.contains("page=2"),
        "the rest of the query is kept: {exported}"
    );
}

fn attack(i: u32, ip: &str, query: &str) -> String {
    format!(
        r#"{{"observed_at":"2024-06-10T09:{:02}:00Z","source":{{"kind":"native","capture":"frontend"}},"client":{{"ip":"{ip}"}},"server":{{"host":"api.example.com"}},"request":{{"method":"GET","path":"/items","query":"{query}"}},"response":{{"status":200}}}}"#,
        i % 60
    )
}

#[test]
fn injection_becomes_one_alert_that_can_be_handled_and_blocked() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines: Vec<String> = (0..30)
        .map(|i| attack(i, "203.0.113.66", "id=1%27%20OR%20%271%27%3D%271"))
        .collect();
    lines.extend((0..30).map(|i| attack(i, "198.51.100.5", "id=42&sort=name")));
    std::fs::write(dir.path().join("in.ndjson"), lines.join("\n")).unwrap();
    let s = summary(&gatewatch(
        dir.path(),
        &[
            "ingest",
            "in.ndjson",
            "--db",
            "g.db",
            "--alerts-out",
            "alerts.ndjson",
            "--json",
            "-q",
        ],
    ));
    assert_eq!(s["accepted"], 60);

    let out = gatewatch(dir.path(), &["alerts", "--db", "g.db", "--format", "json"]);
    assert!(out.status.success());
    let alerts: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        alerts.len(),
        1,
        "30 hits of one rule by one actor on one endpoint = one alert: {alerts:?}"
    );
    let a = &alerts[0];
    assert_eq!(a["rule"]["id"], "GW-T-SQLI");
    assert_eq!(a["count"], 30);
    assert_eq!(a["actor"]["ip"], "203.0.113.66");
    let streamed = std::fs::read_to_string(dir.path().join("alerts.ndjson")).unwrap();
    assert!(
        streamed.contains("GW-T-SQLI"),
        "--alerts-out carries the alert"
    );

    let id = a["id"].as_str().unwrap();
    let out = gatewatch(dir.path(), &["alerts", "ack", id, "--db", "g.db"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = gatewatch(
        dir.path(),
        &[
            "alerts",
            "--db",
            "g.db",
            "--status",
            "acknowledged",
            "--format",
            "json",
        ],
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 1);

    let out = gatewatch(
        dir.path(),
        &["blocklist", "export", "--format", "plain", "--db", "g.db"],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("203.0.113.66"), "{text}");
    assert!(
        !text.contains("198.51.100.5"),
        "the benign client is not blocked: {text}"
    );

    let out = gatewatch(dir.path(), &["alerts", "--db", "g.db", "--format", "cef"]);
    assert!(String::from_utf8(out.stdout).unwrap().starts_with("CEF:0|"));
    let out = gatewatch(dir.path(), &["alerts", "suppress", id, "--db", "g.db"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "suppressing without a reason is refused"
    );
}

fn shared(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel)
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn posture_audits_a_real_spec_as_sarif_and_gates_ci() {
    let dir = tempfile::tempdir().unwrap();
    let spec = shared("specs/vampi/openapi3.yml");
    let out = gatewatch(
        dir.path(),
        &["posture", "--spec", &spec, "--format", "sarif"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(
        results.iter().any(|r| r["message"]["text"]
            .as_str()
            .unwrap_or("")
            .contains("/users/v1/_debug")),
        "VAmPI's unauthenticated debug endpoint is found"
    );
    assert!(results.iter().all(|r| {
        r["locations"][0]["physicalLocation"]["region"]["startLine"]
            .as_u64()
            .is_some()
    }));

    let out = gatewatch(
        dir.path(),
        &[
            "posture",
            "--spec",
            &spec,
            "--fail-on",
            "high",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "a high finding fails the gate");
    let out = gatewatch(
        dir.path(),
        &[
            "posture",
            "--spec",
            &spec,
            "--fail-on",
            "critical",
            "--format",
            "json",
            "--save",
            "--db",
            "g.db",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let stored = gatewatch(
        dir.path(),
        &[
            "findings", "--db", "g.db", "--format", "json", "--limit", "1000",
        ],
    );
    let n = String::from_utf8(stored.stdout).unwrap().lines().count();
    assert_eq!(
        n,
        String::from_utf8(out.stdout).unwrap().lines().count(),
        "--save stores every finding"
    );

    // Without files, posture assesses the inventory, which needs a store.
    let out = gatewatch(dir.path(), &["posture", "--db", "missing.db"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no store here yet"));
}

#[test]
fn posture_ranks_inventory_risks_and_the_explorer_answers_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = gatewatch(
        dir.path(),
        &[
            "simulate",
            "--duration",
            "30m",
            "--rps",
            "5",
            "--out",
            "t.ndjson",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    summary(&gatewatch(
        dir.path(),
        &["ingest", "t.ndjson", "--db", "g.db", "--json", "-q"],
    ));

    let out = gatewatch(dir.path(), &["posture", "--db", "g.db", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let findings: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let rules: std::collections::BTreeSet<&str> = findings
        .iter()
        .map(|f| f["rule"]["id"].as_str().unwrap())
        .collect();
    for expected in [
        "GW-P-UNAUTHENTICATED",
        "GW-P-EXTERNAL-SENSITIVE",
        "GW-P-ATTACK-PATH",
    ] {
        assert!(
            rules.contains(expected),
            "{expected} missing from {rules:?}"
        );
    }
    assert!(
        findings
            .iter()
            .all(|f| f["kind"] == "posture" && f["endpoint"]["id"].is_string()),
        "inventory findings name their endpoint"
    );
    let out = gatewatch(dir.path(), &["posture", "--db", "g.db"]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("risk"), "{table}");

    let out = gatewatch(
        dir.path(),
        &[
            "query",
            "--db",
            "g.db",
            "--saved",
            "exposed-unauthenticated-sensitive",
            "--format",
            "json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = String::from_utf8(out.stdout).unwrap();
    assert!(
        rows.lines().count() >= 1,
        "the simulated APIs have such endpoints: {rows}"
    );
    let out = gatewatch(
        dir.path(),
        &[
            "query",
            "--db",
            "g.db",
            "SELECT count(*) AS n FROM endpoints",
            "--format",
            "csv",
        ],
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(csv.starts_with("n\n"), "{csv}");
    let out = gatewatch(
        dir.path(),
        &["query", "--db", "g.db", "DELETE FROM findings"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("read-only"));
}

#[test]
fn imported_specs_route_traffic_and_the_inventory_reports_declared_and_shadow() {
    let dir = tempfile::tempdir().unwrap();
    let spec = shared("specs/vampi/openapi3.yml");
    let out = gatewatch(
        dir.path(),
        &["spec", "import", &spec, "--api", "vampi", "--db", "g.db"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported \"vampi\": 14 operations"));
    let line = |i: u32, path: &str| {
        format!(
            r#"{{"observed_at":"2024-06-10T09:13:{:02}Z","source":{{"kind":"native","capture":"frontend"}},"client":{{"ip":"203.0.113.{i}"}},"server":{{"host":"localhost","port":5000}},"request":{{"method":"GET","path":"{path}"}},"response":{{"status":200,"content_type":"application/json","body":{{"captured":30,"content":"{{\"email\":\"mail{i}@example.com\"}}"}}}}}}"#,
            i % 60
        )
    };
    let mut lines: Vec<String> = (1..=12)
        .map(|i| line(i, &format!("/users/v1/user{i}")))
        .collect();
    lines.push(line(40, "/internal/backup"));
    std::fs::write(dir.path().join("in.ndjson"), lines.join("\n")).unwrap();
    let s = summary(&gatewatch(
        dir.path(),
        &["ingest", "in.ndjson", "--db", "g.db", "--json", "-q"],
    ));
    assert_eq!(s["accepted"], 13);

    let out = gatewatch(
        dir.path(),
        &["inventory", "--db", "g.db", "--format", "json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    // VAmPI's spec declares its server as http://localhost:5000: traffic to that host matches.
    let find = |template: &str| {
        rows.iter()
            .find(|r| r["template"] == template && r["method"] == "GET")
            .unwrap_or_else(|| panic!("{template} missing: {rows:?}"))
    };
    let user = find("/users/v1/{username}");
    assert_eq!(user["spec_status"], "declared");
    assert_eq!(user["calls"], 12);
    assert!(
        user["sensitive"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k == "email"),
        "{user}"
    );
    assert_eq!(find("/internal/backup")["spec_status"], "shadow");
    for key in [
        "host",
        "method",
        "api",
        "first_seen",
        "last_seen",
        "auth",
        "external",
    ] {
        assert!(user.get(key).is_some(), "{key} missing from {user}");
    }
    let out = gatewatch(dir.path(), &["inventory", "export-openapi", "--db", "g.db"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
}
