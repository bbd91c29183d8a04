//! The `/v1` read API over a real SQLite file: the server reads through its own connection
//! while the test keeps writing through another (as the pipeline does).

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use common::*;
use gw_model::{FindingEndpoint, FindingKind, Severity};
use gw_server::ReadStore;
use gw_store::{Store, StoredEndpoint};
use serde_json::{Value, json};

const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn at(s: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(T0 + s).unwrap()
}

fn endpoint(id: &str, api: &str, host: &str, method: &str, template: &str) -> StoredEndpoint {
    StoredEndpoint {
        id: id.into(),
        api: api.into(),
        host: host.into(),
        method: method.into(),
        template: template.into(),
        first_seen: Some(at(0)),
        last_seen: Some(at(60)),
        calls: 7,
        state: json!({"auth": "bearer"}),
    }
}

/// A finding of `kind` and `rule` about endpoint `ep`, last seen at `seconds`.
fn finding(
    id: &str,
    kind: FindingKind,
    rule: &str,
    severity: Severity,
    ep: Option<&str>,
    seconds: i64,
) -> gw_model::Finding {
    let mut f =
        gw_store::conformance::finding(id, &format!("fp-{id}"), seconds, "203.0.113.7", "x1");
    f.kind = kind;
    f.rule.id = rule.into();
    f.severity = severity;
    f.endpoint = ep.map(|e| FindingEndpoint {
        id: e.into(),
        host: "api.example.com".into(),
        method: "GET".into(),
        template: "/users/{id}".into(),
    });
    f
}

struct Fixture {
    _tmp: tempfile::TempDir,
    db: std::path::PathBuf,
    writer: Box<dyn Store>,
    server: Running,
}

impl Fixture {
    fn addr(&self) -> SocketAddr {
        self.server.addr
    }
}

fn fixture() -> Fixture {
    let (tmp, spool) = spool_dir();
    let db = tmp.path().join("gatewatch.db");
    let mut writer = gw_store::open_store(&db.display().to_string()).unwrap();
    writer
        .save_endpoints(
            &[
                endpoint("ep-users", "shop", "api.example.com", "GET", "/users/{id}"),
                endpoint("ep-orders", "shop", "api.example.com", "POST", "/orders"),
                endpoint("ep-cart", "shop", "cart.example.com", "GET", "/cart"),
                endpoint("ep-login", "auth", "login.example.com", "POST", "/login"),
                endpoint("ep-token", "auth", "login.example.com", "POST", "/token"),
            ],
            &[],
        )
        .unwrap();
    writer
        .upsert_findings(&[
            finding(
                "f-sqli",
                FindingKind::Threat,
                "GW-T-SQLI",
                Severity::High,
                Some("ep-users"),
                50,
            ),
            finding(
                "f-bola",
                FindingKind::Threat,
                "GW-T-BOLA",
                Severity::Critical,
                Some("ep-users"),
                40,
            ),
            finding(
                "f-scan",
                FindingKind::Threat,
                "GW-T-SCAN",
                Severity::Low,
                Some("ep-orders"),
                30,
            ),
            finding(
                "f-noauth",
                FindingKind::Posture,
                "GW-P-UNAUTHENTICATED",
                Severity::Medium,
                Some("ep-users"),
                20,
            ),
            finding(
                "f-shadow",
                FindingKind::Inventory,
                "GW-I-SHADOW",
                Severity::Info,
                None,
                10,
            ),
        ])
        .unwrap();
    let reader: Arc<dyn ReadStore> = Arc::new(Mutex::new(
        gw_store::open_store(&db.display().to_string()).unwrap(),
    ));
    let server = start_with(
        config(&spool),
        RecordingSink::new(Durability::Immediate),
        Some(reader),
    );
    Fixture {
        _tmp: tmp,
        db,
        writer,
        server,
    }
}

fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> Reply {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    request(addr, "GET", path, &headers, b"")
}

fn read(addr: SocketAddr, path: &str) -> Value {
    let r = get(addr, path, Some(READ_TOKEN));
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

/// The string `field` of every item of a page.
fn item_strings(page: &Value, field: &str) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {page}"))
        .iter()
        .map(|i| i[field].as_str().unwrap().to_string())
        .collect()
}

fn ids(page: &Value) -> Vec<String> {
    item_strings(page, "id")
}

fn post_status(addr: SocketAddr, id: &str, token: &str, ctype: &str, body: &str) -> Reply {
    let auth = format!("Bearer {token}");
    request(
        addr,
        "POST",
        &format!("/v1/alerts/{id}/status"),
        &[("Authorization", &auth), ("Content-Type", ctype)],
        body.as_bytes(),
    )
}

/// An alert status change as an admin, with a JSON body.
fn admin_action(addr: SocketAddr, id: &str, body: &str) -> Reply {
    post_status(addr, id, ADMIN_TOKEN, "application/json", body)
}

/// A 4xx with the JSON error body every error answer has.
fn assert_error(r: &Reply, status: u16, code: &str) -> Value {
    assert_eq!(r.status, status, "{}", r.text());
    let j = r.json();
    assert_eq!(j["code"], code, "{j}");
    assert!(j["error"].as_str().is_some_and(|e| !e.is_empty()), "{j}");
    j
}

#[test]
fn inventory_filters_and_pages() {
    let fx = fixture();
    let all = read(fx.addr(), "/v1/inventory");
    assert_eq!(
        ids(&all),
        ["ep-login", "ep-token", "ep-orders", "ep-users", "ep-cart"],
        "ordered by API, host, template, method"
    );
    assert_eq!(all["next_offset"], Value::Null);
    assert_eq!(all["items"][0]["state"], json!({"auth": "bearer"}));
    assert_eq!(all["items"][0]["calls"], 7);
    assert_eq!(
        ids(&read(fx.addr(), "/v1/inventory?api=auth")),
        ["ep-login", "ep-token"]
    );
    assert_eq!(
        ids(&read(fx.addr(), "/v1/inventory?host=API.example.com")),
        ["ep-orders", "ep-users"]
    );
    assert_eq!(
        ids(&read(
            fx.addr(),
            "/v1/inventory?api=shop&host=cart.example.com"
        )),
        ["ep-cart"]
    );
    // Pages of two, followed through next_offset, give everything once.
    let mut seen = Vec::new();
    let mut path = "/v1/inventory?limit=2".to_string();
    loop {
        let page = read(fx.addr(), &path);
        assert!(page["items"].as_array().unwrap().len() <= 2);
        seen.extend(ids(&page));
        match page["next_offset"].as_u64() {
            Some(next) => path = format!("/v1/inventory?limit=2&offset={next}"),
            None => break,
        }
    }
    assert_eq!(seen, ids(&all));
    assert!(ids(&read(fx.addr(), "/v1/inventory?offset=50")).is_empty());
}

#[test]
fn endpoint_detail_lists_its_findings() {
    let fx = fixture();
    let d = read(fx.addr(), "/v1/endpoints/ep-users");
    assert_eq!(d["endpoint"]["id"], "ep-users");
    assert_eq!(d["endpoint"]["template"], "/users/{id}");
    let fids: Vec<&str> = d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(fids, ["f-sqli", "f-bola", "f-noauth"], "newest first");
    assert_eq!(d["findings_truncated"], false);
    let r = get(fx.addr(), "/v1/endpoints/ep-nope", Some(READ_TOKEN));
    let j = assert_error(&r, 404, "not_found");
    assert!(j["error"].as_str().unwrap().contains("ep-nope"), "{j}");
}

#[test]
fn findings_filter_by_every_field_and_page() {
    let fx = fixture();
    let a = fx.addr();
    assert_eq!(
        ids(&read(a, "/v1/findings")),
        ["f-sqli", "f-bola", "f-scan", "f-noauth", "f-shadow"]
    );
    assert_eq!(ids(&read(a, "/v1/findings?kind=posture")), ["f-noauth"]);
    assert_eq!(ids(&read(a, "/v1/findings?rule=GW-T-BOLA")), ["f-bola"]);
    assert_eq!(
        ids(&read(a, "/v1/findings?severity=high")),
        ["f-sqli", "f-bola"]
    );
    assert_eq!(
        ids(&read(a, "/v1/findings?status=resolved")),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&read(a, "/v1/findings?endpoint=ep-users")),
        ["f-sqli", "f-bola", "f-noauth"]
    );
    assert_eq!(
        ids(&read(
            a,
            "/v1/findings?endpoint=ep-users&kind=threat&severity=critical"
        )),
        ["f-bola"]
    );
    let p1 = read(a, "/v1/findings?endpoint=ep-users&limit=2");
    assert_eq!(ids(&p1), ["f-sqli", "f-bola"]);
    assert_eq!(p1["next_offset"], 2);
    let p2 = read(a, "/v1/findings?endpoint=ep-users&limit=2&offset=2");
    assert_eq!(ids(&p2), ["f-noauth"]);
    assert_eq!(p2["next_offset"], Value::Null);
    let p = read(a, "/v1/findings?limit=3&offset=3");
    assert_eq!(ids(&p), ["f-noauth", "f-shadow"]);

    let f = read(a, "/v1/findings/f-noauth");
    assert_eq!(f["finding"]["id"], "f-noauth");
    assert_eq!(f["finding"]["kind"], "posture");
    assert_eq!(f["status_reason"], Value::Null);
    assert_error(
        &get(a, "/v1/findings/f-nope", Some(READ_TOKEN)),
        404,
        "not_found",
    );
}

#[test]
fn alerts_are_threat_findings_only() {
    let fx = fixture();
    let a = fx.addr();
    assert_eq!(ids(&read(a, "/v1/alerts")), ["f-sqli", "f-bola", "f-scan"]);
    assert_eq!(
        ids(&read(a, "/v1/alerts?severity=medium&endpoint=ep-users")),
        ["f-sqli", "f-bola"]
    );
    assert_eq!(
        ids(&read(a, "/v1/alerts?rule=GW-P-UNAUTHENTICATED")),
        Vec::<String>::new()
    );
    assert_eq!(
        read(a, "/v1/alerts/f-scan")["finding"]["rule"]["id"],
        "GW-T-SCAN"
    );
    // A posture finding is not an alert, and alerts take no `kind`.
    let j = assert_error(
        &get(a, "/v1/alerts/f-noauth", Some(READ_TOKEN)),
        404,
        "not_found",
    );
    assert!(j["error"].as_str().unwrap().contains("no alert"), "{j}");
    let j = assert_error(
        &get(a, "/v1/alerts?kind=posture", Some(READ_TOKEN)),
        400,
        "bad_parameter",
    );
    assert_eq!(j["parameter"], "kind");
}

#[test]
fn bad_filter_values_name_the_parameter() {
    let fx = fixture();
    for (path, parameter) in [
        ("/v1/findings?severity=urgent", "severity"),
        ("/v1/findings?kind=alert", "kind"),
        ("/v1/findings?status=closed", "status"),
        ("/v1/findings?limit=0", "limit"),
        ("/v1/findings?limit=abc", "limit"),
        ("/v1/findings?offset=-3", "offset"),
        ("/v1/findings?sort=asc", "sort"),
        ("/v1/findings?rule=a&rule=b", "rule"),
        ("/v1/alerts?limit=5000", "limit"),
        ("/v1/alerts?status=open%FF", "status"),
        ("/v1/inventory?limit=1001", "limit"),
        ("/v1/inventory?method=GET", "method"),
        ("/v1/endpoints/ep-users?verbose=1", "verbose"),
        ("/v1/findings/f-sqli?x=1", "x"),
    ] {
        let r = get(fx.addr(), path, Some(READ_TOKEN));
        let j = assert_error(&r, 400, "bad_parameter");
        assert_eq!(j["parameter"], parameter, "{path}: {j}");
        assert!(
            j["error"].as_str().unwrap().contains(parameter),
            "{path}: {j}"
        );
    }
}

#[test]
fn status_changes_need_admin_and_are_stored_with_their_reason() {
    let mut fx = fixture();
    let a = fx.addr();
    let r = admin_action(a, "f-sqli", r#"{"action":"acknowledge","reason":"on it"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["finding"]["status"], "acknowledged");
    assert_eq!(j["status_reason"], "on it");
    assert_eq!(
        read(a, "/v1/alerts?status=acknowledged")["items"][0]["id"],
        "f-sqli"
    );

    let r = post_status(
        a,
        "f-scan",
        ADMIN_TOKEN,
        "application/json; charset=utf-8",
        r#"{"action":"suppress","reason":"internal scanner"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let stored = fx.writer.get_finding("f-scan").unwrap().unwrap();
    assert_eq!(stored.finding.status, gw_model::FindingStatus::Suppressed);
    assert_eq!(stored.status_reason.as_deref(), Some("internal scanner"));

    // Resolve, then a new hit of the same fingerprint opens a new alert: reopening the old one
    // conflicts with it.
    let r = admin_action(a, "f-bola", r#"{"action":"resolve"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["finding"]["status"], "resolved");
    let mut again = finding(
        "f-bola-2",
        FindingKind::Threat,
        "GW-T-BOLA",
        Severity::Critical,
        Some("ep-users"),
        90,
    );
    again.fingerprint = "fp-f-bola".into();
    fx.writer.upsert_findings(&[again]).unwrap();
    let r = admin_action(a, "f-bola", r#"{"action":"reopen"}"#);
    let j = assert_error(&r, 409, "conflict");
    assert!(j["error"].as_str().unwrap().contains("f-bola-2"), "{j}");
    // The writer's new finding is visible to the server's connection.
    assert_eq!(ids(&read(a, "/v1/alerts?limit=1")), ["f-bola-2"]);
    let r = admin_action(a, "f-bola-2", r#"{"action":"resolve"}"#);
    assert_eq!(r.status, 200);
    let r = admin_action(a, "f-bola", r#"{"action":"reopen"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["finding"]["status"], "open");
    drop(fx.db);
}

#[test]
fn bad_status_requests_get_json_errors_and_change_nothing() {
    let fx = fixture();
    let a = fx.addr();
    let json = "application/json";
    let cases: Vec<(Reply, u16, &str, Option<&str>)> = vec![
        (
            post_status(a, "f-sqli", READ_TOKEN, json, r#"{"action":"resolve"}"#),
            403,
            "forbidden",
            None,
        ),
        (
            post_status(a, "f-sqli", INGEST_TOKEN, json, r#"{"action":"resolve"}"#),
            403,
            "forbidden",
            None,
        ),
        (
            admin_action(a, "f-sqli", r#"{"action":"suppress"}"#),
            400,
            "bad_parameter",
            Some("reason"),
        ),
        (
            admin_action(a, "f-sqli", r#"{"action":"suppress","reason":"   "}"#),
            400,
            "bad_parameter",
            Some("reason"),
        ),
        (
            admin_action(
                a,
                "f-sqli",
                &format!(r#"{{"action":"resolve","reason":"{}"}}"#, "x".repeat(1001)),
            ),
            400,
            "bad_parameter",
            Some("reason"),
        ),
        (
            admin_action(a, "f-sqli", r#"{"action":"#),
            400,
            "malformed_json",
            None,
        ),
        (
            admin_action(a, "f-sqli", r#"{"action":"close"}"#),
            400,
            "invalid_body",
            Some("action"),
        ),
        (
            admin_action(a, "f-sqli", r#"{"action":"resolve","by":"me"}"#),
            400,
            "invalid_body",
            Some("by"),
        ),
        (
            admin_action(a, "f-sqli", r#"{}"#),
            400,
            "invalid_body",
            Some("action"),
        ),
        (
            post_status(
                a,
                "f-sqli",
                ADMIN_TOKEN,
                "text/plain",
                r#"{"action":"resolve"}"#,
            ),
            415,
            "unsupported_media_type",
            None,
        ),
        (
            admin_action(a, "f-nope", r#"{"action":"resolve"}"#),
            404,
            "not_found",
            None,
        ),
        (
            admin_action(a, "f-noauth", r#"{"action":"resolve"}"#),
            404,
            "not_found",
            None,
        ),
        (
            admin_action(
                a,
                "f-sqli",
                &format!(
                    r#"{{"action":"resolve","reason":"{}"}}"#,
                    "x".repeat(70_000)
                ),
            ),
            413,
            "body_too_large",
            None,
        ),
    ];
    for (i, (reply, status, code, parameter)) in cases.iter().enumerate() {
        let j = assert_error(reply, *status, code);
        if let Some(p) = parameter {
            assert_eq!(j["parameter"], *p, "case {i}: {j}");
        }
    }
    let no_type = request(
        a,
        "POST",
        "/v1/alerts/f-sqli/status",
        &[("Authorization", &format!("Bearer {ADMIN_TOKEN}"))],
        br#"{"action":"resolve"}"#,
    );
    assert_error(&no_type, 415, "unsupported_media_type");
    let statuses: Vec<Value> = ["f-sqli", "f-noauth"]
        .iter()
        .map(|id| read(a, &format!("/v1/findings/{id}"))["finding"]["status"].clone())
        .collect();
    assert_eq!(statuses, ["open", "open"], "nothing was changed");
}

const READ_ROUTES: &[&str] = &[
    "/v1/inventory",
    "/v1/endpoints/ep-users",
    "/v1/findings",
    "/v1/findings/f-sqli",
    "/v1/alerts",
    "/v1/alerts/f-sqli",
    "/v1/events",
    "/v1/queries/unauthenticated-endpoints",
];

#[test]
fn every_read_route_wants_a_read_token() {
    let fx = fixture();
    for path in READ_ROUTES {
        let r = get(fx.addr(), path, None);
        assert_error(&r, 401, "unauthorized");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{path}");
        assert_error(
            &get(fx.addr(), path, Some("not-a-token")),
            401,
            "unauthorized",
        );
        let j = assert_error(&get(fx.addr(), path, Some(INGEST_TOKEN)), 403, "forbidden");
        assert!(j["error"].as_str().unwrap().contains("\"read\""), "{j}");
        assert_eq!(
            get(fx.addr(), path, Some(ADMIN_TOKEN)).status,
            200,
            "{path}"
        );
    }
    let r = post_status(
        fx.addr(),
        "f-sqli",
        "",
        "application/json",
        r#"{"action":"resolve"}"#,
    );
    assert_error(&r, 401, "unauthorized");
    // The ingest routes still refuse read tokens.
    let auth = format!("Bearer {READ_TOKEN}");
    let r = request(
        fx.addr(),
        "POST",
        "/v1/ingest",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/x-ndjson"),
        ],
        b"{}",
    );
    assert_error(&r, 403, "forbidden");
}

#[test]
fn without_a_read_store_the_read_api_says_so() {
    let (_tmp, spool) = spool_dir();
    let server = start(config(&spool), RecordingSink::new(Durability::Immediate));
    for path in READ_ROUTES {
        assert_error(
            &get(server.addr, path, Some(READ_TOKEN)),
            503,
            "read_api_unavailable",
        );
        assert_error(&get(server.addr, path, None), 401, "unauthorized");
    }
}

#[test]
fn the_openapi_document_describes_the_routes_the_server_answers() {
    let fx = fixture();
    let r = get(fx.addr(), "/v1/openapi.json", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let doc = r.json();
    assert_eq!(doc, gw_server::openapi_document());
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
    let ops = gw_server::documented_operations(&doc);
    assert!(ops.len() >= 15, "{ops:?}");
    // Every documented operation reaches a handler on the running server (the fallbacks answer
    // `not_found` "no such endpoint" and `method_not_allowed`).
    for (method, path) in ops {
        let concrete = path
            .replace("{id}", "f-sqli")
            .replace("{name}", "unauthenticated-endpoints");
        assert!(!concrete.contains('{'), "{path}: unknown path parameter");
        let auth = format!("Bearer {ADMIN_TOKEN}");
        let r = request(
            fx.addr(),
            &method,
            &concrete,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            b"{\"action\":\"acknowledge\"}",
        );
        assert_ne!(r.status, 405, "{method} {path}: {}", r.text());
        if r.status == 404 {
            assert!(
                !r.text().contains("no such endpoint"),
                "{method} {path} is not routed"
            );
        }
    }
    // And the fallbacks are what the check above relies on.
    let r = get(fx.addr(), "/v1/nothing-here", Some(READ_TOKEN));
    assert_eq!(r.status, 404);
    assert!(r.text().contains("no such endpoint"));
    let r = request(fx.addr(), "DELETE", "/v1/findings", &[], b"");
    assert_error(&r, 405, "method_not_allowed");
}

#[test]
fn api_store_time_shows_in_metrics() {
    let fx = fixture();
    read(fx.addr(), "/v1/findings");
    let r = admin_action(fx.addr(), "f-sqli", r#"{"action":"acknowledge"}"#);
    assert_eq!(r.status, 200);
    let text = get(fx.addr(), "/metrics", None).text();
    assert!(
        text.contains("gatewatch_api_store_seconds_total{call=\"list_findings\"} "),
        "{text}"
    );
    assert!(
        text.contains("gatewatch_api_status_changes_total{status=\"acknowledged\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "# TYPE gatewatch_ingest_queue_batches gauge\ngatewatch_ingest_queue_batches 0\n"
        ),
        "{text}"
    );
}

fn event(
    exchange: &str,
    seconds: i64,
    ip: &str,
    rules: &[&str],
    alerts: &[&str],
) -> gw_model::Event {
    let mut e = gw_model::Event::new(exchange, at(seconds));
    e.actor.ip = Some(ip.parse().unwrap());
    e.endpoint = Some(gw_model::EventEndpoint {
        id: "ep-users".into(),
        host: "api.example.com".into(),
        method: "GET".into(),
        template: "/users/{id}".into(),
    });
    for rule in rules {
        e.detections.push(gw_model::Detection {
            rule_id: (*rule).into(),
            location: "query:id".into(),
            fragment: Some("' OR [masked]".into()),
            confidence: 0.9,
        });
    }
    e.alert_ids = alerts.iter().map(|a| (*a).to_string()).collect();
    e.normalize();
    e
}

fn exchange_ids(page: &Value) -> Vec<String> {
    item_strings(page, "exchange_id")
}

#[test]
fn events_filter_by_alert_rule_ip_and_time() {
    let mut fx = fixture();
    fx.writer
        .write_events(&[
            event("x1", 10, "203.0.113.7", &["GW-T-SQLI"], &["f-sqli"]),
            event(
                "x2",
                20,
                "203.0.113.7",
                &["GW-T-SQLI", "GW-T-BOLA"],
                &["f-sqli", "f-bola"],
            ),
            event("x3", 30, "198.51.100.4", &["GW-T-SCAN"], &["f-scan"]),
        ])
        .unwrap();
    let a = fx.addr();
    let all = read(a, "/v1/events");
    assert_eq!(exchange_ids(&all), ["x1", "x2", "x3"]);
    assert_eq!(all["items"][1]["detections"].as_array().unwrap().len(), 2);
    assert_eq!(exchange_ids(&read(a, "/v1/events?alert=f-bola")), ["x2"]);
    assert_eq!(
        exchange_ids(&read(a, "/v1/events?rule=GW-T-SQLI")),
        ["x1", "x2"]
    );
    assert_eq!(exchange_ids(&read(a, "/v1/events?ip=198.51.100.4")), ["x3"]);
    assert_eq!(
        exchange_ids(&read(a, "/v1/events?since=2026-01-01T00:00:20Z")),
        ["x2", "x3"]
    );
    assert_eq!(
        exchange_ids(&read(
            a,
            "/v1/events?since=2026-01-01T00:00:15Z&until=2026-01-01T00:00:30Z&ip=203.0.113.7"
        )),
        ["x2"]
    );
    let p = read(a, "/v1/events?limit=2");
    assert_eq!(exchange_ids(&p), ["x1", "x2"]);
    assert_eq!(p["next_offset"], 2);
    assert_eq!(
        exchange_ids(&read(a, "/v1/events?limit=2&offset=2")),
        ["x3"]
    );
    for (path, parameter) in [
        ("/v1/events?ip=300.1.1.1", "ip"),
        ("/v1/events?since=yesterday", "since"),
        ("/v1/events?until=2026-13-01T00:00:00Z", "until"),
        ("/v1/events?limit=0", "limit"),
        ("/v1/events?kind=threat", "kind"),
    ] {
        let j = assert_error(&get(a, path, Some(READ_TOKEN)), 400, "bad_parameter");
        assert_eq!(j["parameter"], parameter, "{path}: {j}");
    }
    assert_error(&get(a, "/v1/events", None), 401, "unauthorized");
    assert_error(&get(a, "/v1/events", Some(INGEST_TOKEN)), 403, "forbidden");
}

#[test]
fn saved_queries_are_listed_and_run_through_the_store() {
    let fx = fixture();
    let a = fx.addr();
    let list = read(a, "/v1/queries");
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = gw_store::SAVED_QUERIES.iter().map(|q| q.name).collect();
    assert_eq!(names, expected);
    assert!(list[0]["sql"].as_str().unwrap().contains("SELECT"));
    for saved in gw_store::SAVED_QUERIES {
        let answer = read(a, &format!("/v1/queries/{}?limit=3", saved.name));
        let direct = fx.writer.query(saved.sql, 3).unwrap();
        assert_eq!(answer["name"], saved.name);
        assert_eq!(answer["columns"], json!(direct.columns), "{}", saved.name);
        assert_eq!(answer["rows"], json!(direct.rows), "{}", saved.name);
        assert_eq!(answer["truncated"], direct.truncated, "{}", saved.name);
    }
    let j = assert_error(
        &get(a, "/v1/queries/drop-tables", Some(READ_TOKEN)),
        404,
        "not_found",
    );
    assert!(j["error"].as_str().unwrap().contains("drop-tables"), "{j}");
    let name = gw_store::SAVED_QUERIES[0].name;
    for (path, parameter) in [
        (format!("/v1/queries/{name}?limit=0"), "limit"),
        (format!("/v1/queries/{name}?sql=SELECT%201"), "sql"),
        ("/v1/queries?limit=1".to_string(), "limit"),
    ] {
        let j = assert_error(&get(a, &path, Some(READ_TOKEN)), 400, "bad_parameter");
        assert_eq!(j["parameter"], parameter, "{path}: {j}");
    }
    assert_error(&get(a, "/v1/queries", None), 401, "unauthorized");
    assert_error(
        &get(a, &format!("/v1/queries/{name}"), Some(INGEST_TOKEN)),
        403,
        "forbidden",
    );
}
