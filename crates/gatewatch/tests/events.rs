//! Detection events end to end: the real binary, real files, a real SQLite store.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

fn gatewatch(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_gatewatch"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .env_remove("GATEWATCH_CONFIG")
        .output()
        .expect("running gatewatch");
    assert!(
        out.status.success(),
        "gatewatch {args:?}: exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("one JSON document per line"))
        .collect()
}

/// 5,000 SQL injection attempts by one client within one alert window (every half second
/// from 09:00:00), and 300 benign requests by another.
fn attack_file(dir: &Path) -> BTreeSet<String> {
    let mut lines = Vec::new();
    let mut attack_ids = BTreeSet::new();
    for i in 0..5000u32 {
        let id = format!("atk-{i:05}");
        let t = 9 * 3600 + i / 2;
        lines.push(format!(
            r#"{{"id":"{id}","observed_at":"2024-06-10T{:02}:{:02}:{:02}.{}Z","source":{{"kind":"native","capture":"frontend"}},"client":{{"ip":"203.0.113.66","user_agent":"Mozilla/5.0"}},"server":{{"host":"api.example.com"}},"request":{{"method":"GET","path":"/items","query":"id={i}%27%20OR%20%271%27%3D%271"}},"response":{{"status":200}}}}"#,
            t / 3600,
            t / 60 % 60,
            t % 60,
            if i % 2 == 0 { 0 } else { 5 }
        ));
        attack_ids.insert(id);
    }
    for i in 0..300u32 {
        lines.push(format!(
            r#"{{"id":"ok-{i}","observed_at":"2024-06-10T09:{:02}:00Z","source":{{"kind":"native","capture":"frontend"}},"client":{{"ip":"198.51.100.5"}},"server":{{"host":"api.example.com"}},"request":{{"method":"GET","path":"/items","query":"id={i}&sort=name"}},"response":{{"status":200}}}}"#,
            i % 40
        ));
    }
    std::fs::write(dir.join("in.ndjson"), lines.join("\n")).unwrap();
    attack_ids
}

fn sqli_alert(dir: &Path) -> serde_json::Value {
    let out = gatewatch(
        dir,
        &[
            "alerts",
            "--db",
            "g.db",
            "--rule",
            "GW-T-SQLI",
            "--format",
            "json",
        ],
        &[],
    );
    let alerts = json_lines(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(
        alerts.len(),
        1,
        "one alert for the whole attack: {alerts:?}"
    );
    alerts.into_iter().next().unwrap()
}

#[test]
fn every_attack_record_has_an_event_that_names_its_single_alert() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let attack_ids = attack_file(dir);
    gatewatch(
        dir,
        &[
            "ingest",
            "in.ndjson",
            "--db",
            "g.db",
            "--events-out",
            "events.ndjson",
            "-q",
        ],
        &[],
    );
    let alert = sqli_alert(dir);
    assert_eq!(alert["count"], 5000);
    assert!(
        alert["evidence"]["metrics"]["extra"]
            .get("events_seen")
            .is_none(),
        "nothing was sampled, so nothing is stated"
    );
    let alert_id = alert["id"].as_str().unwrap();

    // The --events-out file names every detected record, and nothing else.
    let streamed = json_lines(&std::fs::read_to_string(dir.join("events.ndjson")).unwrap());
    let named: BTreeSet<String> = streamed
        .iter()
        .filter(|e| {
            e["detections"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["rule_id"] == "GW-T-SQLI")
        })
        .map(|e| e["exchange_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        named, attack_ids,
        "--events-out names every detected record"
    );
    assert!(
        streamed
            .iter()
            .all(|e| !e["exchange_id"].as_str().unwrap().starts_with("ok-")),
        "benign records have no events"
    );
    let e = &streamed[0];
    assert_eq!(e["schema"], "gatewatch.event/1");
    assert_eq!(e["actor"]["ip"], "203.0.113.66");
    assert_eq!(e["endpoint"]["template"], "/items");
    let d = &e["detections"][0];
    assert_eq!(d["location"], "query:id");
    assert!(d["confidence"].as_f64().unwrap() > 0.5);

    // The stored events of the alert are its full evidence.
    let out = gatewatch(
        dir,
        &[
            "events", "--db", "g.db", "--alert", alert_id, "--format", "json", "--limit", "10000",
        ],
        &[],
    );
    let stored = json_lines(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(stored.len(), 5000);
    assert!(stored.iter().all(|e| {
        e["alert_ids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == alert_id)
    }));
    let ids: BTreeSet<String> = stored
        .iter()
        .map(|e| e["exchange_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, attack_ids);

    // Filters and the table.
    let out = gatewatch(
        dir,
        &["events", "--db", "g.db", "--ip", "198.51.100.5"],
        &[],
    );
    assert!(String::from_utf8(out.stdout).unwrap().contains("0 events"));
    let out = gatewatch(
        dir,
        &[
            "events",
            "--db",
            "g.db",
            "--rule",
            "GW-T-SQLI",
            "--limit",
            "3",
        ],
        &[],
    );
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("3 of 5000 events shown"), "{table}");
    assert!(table.contains("query:id"), "{table}");
    assert!(table.contains("203.0.113.66"), "{table}");
}

#[test]
fn a_flood_beyond_the_budget_is_sampled_and_the_alert_states_it() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    attack_file(dir);
    let env = [
        ("GATEWATCH_DETECT_EVENTS_PER_ALERT", "1000"),
        ("GATEWATCH_DETECT_EVENTS_SAMPLE_EVERY", "10"),
    ];
    gatewatch(
        dir,
        &[
            "ingest",
            "in.ndjson",
            "--db",
            "g.db",
            "--events-out",
            "events.ndjson",
            "-q",
        ],
        &env,
    );
    let alert = sqli_alert(dir);
    assert_eq!(alert["count"], 5000, "every hit is still counted");
    let extra = &alert["evidence"]["metrics"]["extra"];
    assert_eq!(extra["events_seen"], 5000.0);
    assert_eq!(extra["events_kept"], 1400.0, "1,000 in full, then 1 in 10");
    let streamed = std::fs::read_to_string(dir.join("events.ndjson")).unwrap();
    assert_eq!(streamed.lines().count(), 1400);
}

#[test]
fn events_expire_with_the_client_ip_retention() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    attack_file(dir);
    gatewatch(dir, &["ingest", "in.ndjson", "--db", "g.db", "-q"], &[]);
    let out = gatewatch(dir, &["events", "--db", "g.db", "--limit", "1"], &[]);
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("of 5000 events")
    );

    // 31 days later in event time: the retention run at the end of the ingest removes them.
    std::fs::write(
        dir.join("later.ndjson"),
        r#"{"id":"later","observed_at":"2024-07-11T09:00:00Z","source":{"kind":"native","capture":"frontend"},"client":{"ip":"198.51.100.5"},"server":{"host":"api.example.com"},"request":{"method":"GET","path":"/items"},"response":{"status":200}}"#,
    )
    .unwrap();
    gatewatch(dir, &["ingest", "later.ndjson", "--db", "g.db", "-q"], &[]);
    let out = gatewatch(dir, &["events", "--db", "g.db"], &[]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("0 events"), "{text}");
}
