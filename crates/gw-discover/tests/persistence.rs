//! The inventory survives a restart: save in batches to a real SQLite file, reopen, restore,
//! continue learning where it stopped.

use gw_discover::{Discovery, DiscoveryConfig, from_stored, to_stored};
use gw_model::{Capture, EndpointMatch, Exchange, Source, SourceKind};
use gw_store::{SqliteStore, Store};
use jiff::{SignedDuration, Timestamp};

fn record(i: u64, method: &str, path: &str) -> Exchange {
    let source = Source {
        kind: SourceKind::Native,
        capture: Capture::Frontend,
        gateway: None,
        raw_ref: None,
    };
    let t0: Timestamp = "2024-06-03T00:00:00Z".parse().unwrap();
    let mut x = Exchange::new(
        format!("r{i}"),
        t0 + SignedDuration::from_secs(i as i64),
        source,
        method,
        path,
    );
    x.server.host = Some("api.example.com".into());
    x.response.status = Some(200);
    x
}

const SPEC: &str = r#"{
  "openapi": "3.0.3", "info": {"title": "Shop", "version": "1"},
  "paths": {"/orders": {"get": {"operationId": "listOrders", "responses": {"200": {"description": "ok"}}}}}
}"#;

fn specs() -> Vec<gw_spec::ApiSpec> {
    vec![gw_spec::parse_spec(SPEC.as_bytes(), "shop.json").unwrap()]
}

#[test]
fn save_reopen_restore_continue() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatewatch.db");
    let mut d = Discovery::new(DiscoveryConfig::default(), specs()).unwrap();
    let mut store = SqliteStore::open(&path).unwrap();

    let mut batch: Vec<Exchange> = (0..30)
        .map(|i| record(i, "GET", &format!("/users/{i}")))
        .collect();
    batch.push(record(30, "GET", "/orders"));
    batch.push(record(31, "GET", "/users/me"));
    d.observe_batch(&mut batch);
    let first = d.save(&mut store).unwrap();
    assert_eq!(first.upserted, 3, "/orders, /users/{{userId}}, /users/me");
    assert_eq!(
        d.save(&mut store).unwrap().upserted,
        0,
        "nothing changed since"
    );
    let before: Vec<_> = d.inventory().cloned().collect();
    drop(d);
    drop(store);

    let store = SqliteStore::open(&path).unwrap();
    let mut d = Discovery::load(DiscoveryConfig::default(), specs(), &store, None).unwrap();
    let mut after: Vec<_> = d.inventory().cloned().collect();
    let mut before = before;
    before.sort_by(|a, b| a.id.cmp(&b.id));
    after.sort_by(|a, b| a.id.cmp(&b.id));
    for e in &mut after {
        e.learned = None;
    }
    for e in &mut before {
        e.learned = None;
    }
    assert_eq!(after, before, "the restored inventory equals the saved one");

    // Continue: same endpoints, counts go on; the declared endpoint keeps its spec.
    let mut batch = vec![
        record(100, "GET", "/users/77"),
        record(101, "GET", "/orders"),
    ];
    d.observe_batch(&mut batch);
    assert_eq!(
        batch[0].endpoint.as_ref().unwrap().template,
        "/users/{userId}"
    );
    assert_eq!(
        batch[1].endpoint.as_ref().unwrap().matched_by,
        EndpointMatch::Spec
    );
    let users = d
        .inventory()
        .find(|e| e.template == "/users/{userId}")
        .unwrap();
    assert_eq!(users.calls, 31);
    let orders = d.inventory().find(|e| e.template == "/orders").unwrap();
    assert_eq!(orders.calls, 2);
    assert_eq!(
        orders.spec.as_ref().unwrap().operation_id.as_deref(),
        Some("listOrders")
    );
}

#[test]
fn a_promoted_position_stays_promoted_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatewatch.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let mut d = Discovery::new(DiscoveryConfig::default(), Vec::new()).unwrap();
    // Word-like user names: promoted by cardinality, not by their look.
    let words = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliett", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
        "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu",
    ];
    let mut batch: Vec<Exchange> = Vec::new();
    for round in 0..3u64 {
        for (i, w) in words.iter().enumerate() {
            batch.push(record(
                round * 100 + i as u64,
                "GET",
                &format!("/team/{w}{}", if round == 0 { "" } else { "s" }),
            ));
        }
    }
    d.observe_batch(&mut batch);
    let templates: Vec<String> = d.inventory().map(|e| e.template.clone()).collect();
    assert_eq!(templates, ["/team/{teamId}"], "promoted before the restart");
    let report = d.save(&mut store).unwrap();
    assert_eq!(report.upserted, 1);
    drop(store);

    let store = SqliteStore::open(&path).unwrap();
    let mut d = Discovery::load(DiscoveryConfig::default(), Vec::new(), &store, None).unwrap();
    let mut batch = vec![record(1_000, "GET", "/team/newcomer")];
    d.observe_batch(&mut batch);
    assert_eq!(
        batch[0].endpoint.as_ref().unwrap().template,
        "/team/{teamId}"
    );
    assert_eq!(d.inventory().count(), 1);
}

#[test]
fn merged_endpoints_are_deleted_from_the_store() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let mut d = Discovery::new(DiscoveryConfig::default(), Vec::new()).unwrap();
    let mut batch: Vec<Exchange> = (0..5)
        .map(|i| record(i, "GET", &format!("/d/2024-01-0{}", i + 1)))
        .take(2)
        .collect();
    d.observe_batch(&mut batch);
    d.save(&mut store).unwrap();
    assert_eq!(
        store.load_endpoints(None).unwrap().len(),
        2,
        "two dates are still literal"
    );
    let mut batch = vec![record(9, "GET", "/d/2024-01-09")];
    d.observe_batch(&mut batch);
    let report = d.save(&mut store).unwrap();
    assert_eq!(report.removed, 2);
    let stored = store.load_endpoints(None).unwrap();
    assert_eq!(stored.len(), 1);
    let state = from_stored(stored[0].clone()).unwrap();
    assert_eq!(state.template, "/d/{date}");
    assert_eq!(state.calls, 3);
    assert_eq!(to_stored(&state).unwrap(), stored[0]);
}
