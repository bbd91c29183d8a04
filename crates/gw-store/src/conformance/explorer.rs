//! Conformance checks of the read-only SQL explorer: views, saved queries, refusals.

use serde_json::{Value, json};

use super::events::{detection, event, sensitive};
use super::{ConformanceHarness, DAY, HOUR, at, exchange, finding, open};
use crate::{
    ExchangeStorage, QueryResult, SAVED_QUERIES, SensitiveLocation, Store, StoreError,
    StoredEndpoint,
};
use gw_model::{FindingEndpoint, FindingKind, FindingStatus};

/// "Now" of the populated store: the event watermark.
const NOW: i64 = 100 * DAY;

/// An inventory endpoint in the shape gw-discover stores (`EndpointState` as JSON).
fn endpoint(id: &str, template: &str, last_seen: i64, state: Value) -> StoredEndpoint {
    let mut full = json!({
        "id": id, "api": "shop", "host": "api.example.com", "method": "GET",
        "template": template, "matched_by": "learned",
        "first_seen": at(0).to_string(), "last_seen": at(last_seen).to_string(), "calls": 10,
        "status_classes": {"1xx": 0, "2xx": 8, "3xx": 0, "4xx": 2, "5xx": 0, "unknown": 0},
        "status_codes": {"200": 8, "404": 2}, "params": [], "params_dropped": 0,
        "request_content_types": {}, "response_content_types": {"application/json": 10},
        "auth": {"bearer_jwt": 10}, "unauthenticated_success": 0,
        "exposure": {"public_calls": 0, "first_public_seen": null},
        "sensitive": {}, "gateway_api_ids": [], "gateway_routes": [], "response_schemas": {},
        "body_offers": 0
    });
    if let (Some(full), Value::Object(extra)) = (full.as_object_mut(), state) {
        full.extend(extra);
    }
    StoredEndpoint {
        id: id.into(),
        api: "shop".into(),
        host: "api.example.com".into(),
        method: "GET".into(),
        template: template.into(),
        first_seen: Some(at(0)),
        last_seen: Some(at(last_seen)),
        calls: 10,
        state: full,
    }
}

fn spec(deprecated: bool) -> Value {
    json!({
        "api": "shop", "host": null, "method": "GET", "template": "/v1/orders",
        "operation_id": "listOrders", "deprecated": deprecated, "requires_auth": true,
        "pointer": "/paths/~1v1~1orders/get", "source_file": "shop.yaml"
    })
}

fn alert(id: &str, rule: &str, endpoint_id: &str, status: FindingStatus) -> gw_model::Finding {
    let mut f = finding(id, &format!("fp-{id}"), NOW - HOUR, "203.0.113.7", "x1");
    f.rule.id = rule.into();
    f.status = status;
    f.count = 3;
    f.endpoint = Some(FindingEndpoint {
        id: endpoint_id.into(),
        host: "api.example.com".into(),
        method: "GET".into(),
        template: format!("/{endpoint_id}"),
    });
    f
}

/// A store with four endpoints (public + unauthenticated + sensitive + shadow `ep_pub`,
/// declared `ep_decl`, deprecated `ep_zombie`, dormant `ep_dormant`), four findings, two
/// events and three sensitive fields.
pub fn populated<H: ConformanceHarness>(h: &H) -> Box<dyn Store> {
    let mut store = open(h);
    store
        .write_exchanges(
            &[exchange("x0", NOW, "203.0.113.1")],
            ExchangeStorage::Metadata,
        )
        .unwrap();
    let public = endpoint(
        "ep_pub",
        "/v1/users/{id}",
        NOW - DAY,
        json!({
            "params": [
                {"name": "id", "in": "path", "types": ["integer"], "calls": 10},
                {"name": "email", "in": "query", "types": ["email", "string"], "calls": 3}
            ],
            "auth": {"bearer_jwt": 6, "none": 4, "unknown": 1},
            "unauthenticated_success": 4,
            "exposure": {"public_calls": 7, "first_public_seen": at(5).to_string()},
            "sensitive": {"credit_card": ["response.body"], "email": ["query"]}
        }),
    );
    let declared = endpoint(
        "ep_decl",
        "/v1/orders",
        NOW - 2 * DAY,
        json!({"spec": spec(false)}),
    );
    let zombie = endpoint(
        "ep_zombie",
        "/v0/orders",
        NOW - HOUR,
        json!({"spec": spec(true)}),
    );
    let dormant = endpoint(
        "ep_dormant",
        "/v1/old",
        NOW - 40 * DAY,
        json!({"spec": spec(false)}),
    );
    store
        .save_endpoints(&[public, declared, zombie, dormant], &[])
        .unwrap();
    let mut posture = alert(
        "p-unauth",
        "GW-P-UNAUTHENTICATED",
        "ep_pub",
        FindingStatus::Open,
    );
    posture.kind = FindingKind::Posture;
    store
        .upsert_findings(&[
            alert("f-sqli", "GW-T-SQLI", "ep_pub", FindingStatus::Open),
            alert("f-xss", "GW-T-XSS", "ep_pub", FindingStatus::Acknowledged),
            alert("f-bola", "GW-T-BOLA", "ep_decl", FindingStatus::Open),
            posture,
        ])
        .unwrap();
    let mut both = event("x2", NOW - HOUR, "203.0.113.7", "GW-T-SQLI", "f-sqli");
    both.detections
        .push(detection("GW-T-XSS", "body:$.comment", 0.7));
    both.alert_ids.push("f-xss".into());
    store
        .write_events(&[
            event("x1", NOW - 2 * HOUR, "203.0.113.7", "GW-T-SQLI", "f-sqli"),
            both,
        ])
        .unwrap();
    let on_public = |mut o: crate::SensitiveFieldObservation| {
        o.endpoint_id = "ep_pub".into();
        o
    };
    let mut header = sensitive(
        SensitiveLocation::Header,
        "x-ssn",
        "ssn",
        None,
        (2, 10, 20),
        1,
    );
    header.endpoint_id = "ep_decl".into();
    store
        .merge_sensitive_fields(&[
            on_public(sensitive(
                SensitiveLocation::Query,
                "email",
                "email",
                None,
                (3, 10, 30),
                1,
            )),
            on_public(sensitive(
                SensitiveLocation::ResponseBody,
                "$.card.number",
                "credit_card",
                Some("2xx"),
                (5, 20, 40),
                3,
            )),
            header,
        ])
        .unwrap();
    store
}

fn run(store: &dyn Store, sql: &str) -> QueryResult {
    store
        .query(sql, 1000)
        .unwrap_or_else(|e| panic!("{sql}: {e}: {:?}", std::error::Error::source(&e)))
}

fn column(result: &QueryResult, name: &str) -> Vec<Value> {
    let i = result
        .columns
        .iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name} in {:?}", result.columns));
    result.rows.iter().map(|r| r[i].clone()).collect()
}

pub fn explorer_views_show_the_stored_data<H: ConformanceHarness>() {
    let h = H::create();
    let store = populated(&h);
    let e = run(
        &*store,
        "SELECT id, template, external, public_calls, unauthenticated_success, auth_types,
                spec_status, sensitive_kinds, calls, calls_2xx, first_seen, last_seen,
                matched_by, operation_id
           FROM endpoints ORDER BY id",
    );
    assert_eq!(
        column(&e, "id"),
        [
            json!("ep_decl"),
            json!("ep_dormant"),
            json!("ep_pub"),
            json!("ep_zombie")
        ]
    );
    assert_eq!(
        column(&e, "spec_status"),
        [
            json!("declared"),
            json!("dormant"),
            json!("shadow"),
            json!("zombie")
        ]
    );
    assert_eq!(
        column(&e, "external"),
        [json!(0), json!(0), json!(1), json!(0)]
    );
    let public = &e.rows[2];
    assert_eq!(public[3], json!(7));
    assert_eq!(public[4], json!(4));
    assert_eq!(
        public[5],
        json!("bearer_jwt,none"),
        "`unknown` is not an auth type"
    );
    assert_eq!(public[7], json!("credit_card,email"));
    assert_eq!((&public[8], &public[9]), (&json!(10), &json!(8)));
    assert_eq!(public[10], json!(at(0).to_string()));
    assert_eq!(public[11], json!(at(NOW - DAY).to_string()));
    assert_eq!(column(&e, "operation_id")[0], json!("listOrders"));
    assert_eq!(column(&e, "sensitive_kinds")[0], Value::Null);

    let p = run(
        &*store,
        "SELECT endpoint_id, template, name, location, types, calls FROM parameters
          ORDER BY endpoint_id, name",
    );
    assert_eq!(
        p.rows,
        [
            vec![
                json!("ep_pub"),
                json!("/v1/users/{id}"),
                json!("email"),
                json!("query"),
                json!("email,string"),
                json!(3)
            ],
            vec![
                json!("ep_pub"),
                json!("/v1/users/{id}"),
                json!("id"),
                json!("path"),
                json!("integer"),
                json!(10)
            ],
        ]
    );

    let s = run(
        &*store,
        "SELECT endpoint_id, template, location, field, kind, status_class, count, first_seen,
                last_seen, sensitivity, sensitivity_name
           FROM sensitive_fields ORDER BY endpoint_id, field",
    );
    assert_eq!(
        s.rows[1],
        [
            json!("ep_pub"),
            json!("/v1/users/{id}"),
            json!("response_body"),
            json!("$.card.number"),
            json!("credit_card"),
            json!("2xx"),
            json!(5),
            json!(at(20).to_string()),
            json!(at(40).to_string()),
            json!(3),
            json!("critical")
        ]
    );
    assert_eq!(column(&s, "status_class")[0], Value::Null);
    assert_eq!(column(&s, "template")[0], json!("/v1/orders"));

    let f = run(
        &*store,
        "SELECT id, kind, rule_id, severity, status, endpoint_id, actor_ip, count, events,
                first_seen, title
           FROM findings ORDER BY id",
    );
    assert_eq!(
        column(&f, "id"),
        [
            json!("f-bola"),
            json!("f-sqli"),
            json!("f-xss"),
            json!("p-unauth")
        ]
    );
    assert_eq!(column(&f, "kind")[3], json!("posture"));
    assert_eq!(
        column(&f, "events"),
        [json!(0), json!(2), json!(1), json!(0)]
    );
    assert_eq!(
        f.rows[1][3..8],
        [
            json!("high"),
            json!("open"),
            json!("ep_pub"),
            json!("203.0.113.7"),
            json!(3)
        ]
    );
    assert_eq!(
        column(&f, "first_seen")[0],
        json!(at(NOW - HOUR).to_string())
    );
    let a = run(&*store, "SELECT id FROM alerts ORDER BY id");
    assert_eq!(
        column(&a, "id"),
        [json!("f-bola"), json!("f-sqli"), json!("f-xss")]
    );

    let ev = run(
        &*store,
        "SELECT exchange_id, observed_at, endpoint_id, actor_ip, rule_id, location, fragment,
                confidence, alert_ids
           FROM events ORDER BY exchange_id, rule_id",
    );
    assert_eq!(ev.rows.len(), 3, "one row per detection");
    assert_eq!(
        ev.rows[2],
        [
            json!("x2"),
            json!(at(NOW - HOUR).to_string()),
            json!("ep_1"),
            json!("203.0.113.7"),
            json!("GW-T-XSS"),
            json!("body:$.comment"),
            json!("body:$.comment=[masked]"),
            json!(0.7),
            json!("f-sqli,f-xss")
        ]
    );
    assert_eq!(column(&ev, "alert_ids")[0], json!("f-sqli"));
}

pub fn saved_queries_run_on_a_populated_store<H: ConformanceHarness>() {
    let h = H::create();
    let store = populated(&h);
    let expected: &[(&str, &[&str])] = &[
        ("exposed-unauthenticated-sensitive", &["ep_pub"]),
        ("unauthenticated-endpoints", &["ep_pub"]),
        ("sensitive-endpoints", &["ep_pub", "ep_decl"]),
        ("shadow-endpoints", &["ep_pub"]),
        ("dormant-endpoints", &["ep_dormant"]),
        ("top-alerted-endpoints", &["ep_pub", "ep_decl"]),
        ("open-alerts-by-rule", &["GW-T-BOLA", "GW-T-SQLI"]),
        ("sensitive-fields-in-url", &["ep_pub"]),
    ];
    for saved in SAVED_QUERIES {
        let Some((_, want)) = expected.iter().find(|(name, _)| *name == saved.name) else {
            panic!("saved query {} has no expectation here", saved.name);
        };
        let result = run(&*store, saved.sql);
        let first: Vec<&str> = result.rows.iter().filter_map(|r| r[0].as_str()).collect();
        assert_eq!(&first, want, "saved query {}", saved.name);
    }
    assert_eq!(SAVED_QUERIES.len(), expected.len());
    let url = run(
        &*store,
        crate::saved_query("sensitive-fields-in-url").unwrap().sql,
    );
    assert_eq!(column(&url, "field"), [json!("email")]);
    let top = run(
        &*store,
        crate::saved_query("top-alerted-endpoints").unwrap().sql,
    );
    assert_eq!(column(&top, "alerts"), [json!(2), json!(1)]);
}

pub fn explorer_results_are_bounded_and_typed<H: ConformanceHarness>() {
    let h = H::create();
    let store = populated(&h);
    let page = store
        .query("SELECT id FROM findings ORDER BY id", 2)
        .unwrap();
    assert_eq!(page.rows.len(), 2);
    assert!(page.truncated);
    let all = store
        .query("SELECT id FROM findings ORDER BY id", 4)
        .unwrap();
    assert_eq!((all.rows.len(), all.truncated), (4, false));
    let typed = store
        .query("SELECT 1 AS one, 'x' AS s, NULL AS n, 1.5 AS r", 1)
        .unwrap();
    assert_eq!(typed.columns, ["one", "s", "n", "r"]);
    assert_eq!(
        typed.rows,
        [vec![json!(1), json!("x"), Value::Null, json!(1.5)]]
    );
    let err = store
        .query("SELECT no_such_column FROM findings", 1)
        .unwrap_err();
    assert!(
        !matches!(err, StoreError::QueryRefused { .. }),
        "a mistake in a SELECT is an SQL error, not a refusal: {err}"
    );
}

/// Everything the explorer shows, for before/after comparisons.
fn snapshot(store: &dyn Store) -> Vec<QueryResult> {
    [
        "endpoints",
        "parameters",
        "sensitive_fields",
        "findings",
        "events",
    ]
    .iter()
    .map(|v| run(store, &format!("SELECT * FROM {v} ORDER BY 1, 2")))
    .collect()
}

pub fn explorer_refuses_writes_and_leaves_data_unchanged<H: ConformanceHarness>() {
    let h = H::create();
    let store = populated(&h);
    let before = snapshot(&*store);
    let counts = store.counts().unwrap();
    let refused = [
        "INSERT INTO findings (id) VALUES ('x')",
        "UPDATE findings SET status = 'resolved'",
        "DELETE FROM findings",
        "DELETE FROM events",
        "DROP VIEW endpoints",
        "DROP TABLE findings",
        "CREATE TABLE stolen AS SELECT * FROM findings",
        "ATTACH DATABASE 'other.db' AS other",
        "PRAGMA query_only = 0",
        "PRAGMA user_version = 7",
        "PRAGMA journal_mode = DELETE",
        "BEGIN",
        "VACUUM",
        "SELECT id FROM findings; DELETE FROM findings",
        "SELECT key, value FROM settings",
        "SELECT * FROM main.findings",
        "WITH gone AS (SELECT 1) DELETE FROM findings",
        "   ",
    ];
    for sql in refused {
        match store.query(sql, 10) {
            Err(StoreError::QueryRefused { reason, .. }) => assert!(!reason.is_empty(), "{sql}"),
            Err(other) => panic!("{sql}: expected QueryRefused, got {other}"),
            Ok(r) => panic!("{sql}: was run and returned {:?}", r.rows),
        }
    }
    let err = store
        .query("DELETE FROM findings", 10)
        .unwrap_err()
        .to_string();
    assert!(err.contains("read-only"), "{err}");
    let err = store
        .query("SELECT * FROM settings", 10)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not an explorer view"), "{err}");
    let err = store
        .query("SELECT 1; SELECT 2", 10)
        .unwrap_err()
        .to_string();
    assert!(err.contains("one statement"), "{err}");
    assert_eq!(snapshot(&*store), before, "the data is unchanged");
    assert_eq!(store.counts().unwrap(), counts);
    assert_eq!(
        run(&*store, "SELECT COUNT(*) AS n FROM findings").rows,
        [vec![json!(4)]]
    );
}
