//! Discovery end to end on hand-made traffic: templating rules, routing, inventory state.

use std::collections::BTreeSet;

use gw_discover::{
    Discovery, DiscoveryConfig, EndpointState, SpecStatus, render_csv, render_table,
};
use gw_model::{
    AuthType, Capture, EndpointMatch, Exchange, Identity, ParamLocation, SensitiveLabel, Source,
    SourceKind,
};
use jiff::{SignedDuration, Timestamp};

const HOST: &str = "api.example.com";

fn t0() -> Timestamp {
    "2024-06-03T00:00:00Z".parse().unwrap()
}

fn record(i: u64, method: &str, path: &str) -> Exchange {
    let source = Source {
        kind: SourceKind::Native,
        capture: Capture::Frontend,
        gateway: None,
        raw_ref: None,
    };
    let mut x = Exchange::new(
        format!("r{i}"),
        t0() + SignedDuration::from_secs(i as i64),
        source,
        method,
        path,
    );
    x.server.host = Some(HOST.into());
    x.response.status = Some(200);
    x.client.ip = Some("10.0.0.1".parse().unwrap());
    x
}

fn discovery() -> Discovery {
    Discovery::new(DiscoveryConfig::default(), Vec::new()).unwrap()
}

/// Feeds `paths` (GET) and returns the template each record was routed to.
fn feed(d: &mut Discovery, paths: &[String]) -> Vec<String> {
    let mut batch: Vec<Exchange> = paths
        .iter()
        .enumerate()
        .map(|(i, p)| record(i as u64, "GET", p))
        .collect();
    d.observe_batch(&mut batch);
    batch
        .into_iter()
        .map(|x| x.endpoint.unwrap().template.clone())
        .collect()
}

fn templates(d: &Discovery) -> BTreeSet<String> {
    d.inventory()
        .map(|e| format!("{} {}", e.method.as_str(), e.template))
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn atrdf_like_numeric_ids_and_uuids() {
    let mut d = discovery();
    let paths: Vec<String> = (0..50)
        .flat_map(|i| {
            [
                format!(
                    "/api/v1/accounts/{}/transactions/{}",
                    1000 + i,
                    90_000 + i * 7
                ),
                format!(
                    "/api/v1/devices/{:08x}-4f89-11d3-9a0c-0305e82c{:04x}",
                    i * 7919,
                    i
                ),
            ]
        })
        .collect();
    feed(&mut d, &paths);
    assert_eq!(
        templates(&d),
        BTreeSet::from([
            "GET /api/v1/accounts/{accountId}/transactions/{transactionId}".to_string(),
            "GET /api/v1/devices/{deviceId}".to_string(),
        ])
    );
    let e = d
        .inventory()
        .find(|e| e.template.contains("devices"))
        .unwrap();
    let p = e
        .params
        .iter()
        .find(|p| p.location == ParamLocation::Path)
        .unwrap();
    assert_eq!(p.value_type().as_str(), "uuid");
}

#[test]
fn me_stays_literal_beside_numeric_ids() {
    let mut d = discovery();
    let mut paths = Vec::new();
    for i in 0..40 {
        paths.push(format!("/users/{}", 100 + i));
        paths.push("/users/me".to_string());
    }
    feed(&mut d, &paths);
    assert_eq!(
        templates(&d),
        BTreeSet::from([
            "GET /users/me".to_string(),
            "GET /users/{userId}".to_string()
        ])
    );
}

#[test]
fn version_segments_stay_literal() {
    let mut d = discovery();
    let mut paths = Vec::new();
    for i in 0..30 {
        paths.push(format!("/v1/items/{i}"));
        paths.push(format!("/v2/items/{i}"));
        paths.push(format!("/v2beta1/items/{i}"));
        paths.push("/2024-01-01/status".to_string());
    }
    feed(&mut d, &paths);
    assert_eq!(
        templates(&d),
        BTreeSet::from([
            "GET /2024-01-01/status".to_string(),
            "GET /v1/items/{itemId}".to_string(),
            "GET /v2/items/{itemId}".to_string(),
            "GET /v2beta1/items/{itemId}".to_string(),
        ])
    );
}

#[test]
fn usernames_become_a_parameter_by_cardinality_and_busy_words_stay() {
    let mut d = discovery();
    let names = [
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
        "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter",
        "yolanda", "zoe", "arthur", "bella", "cedric", "diana", "edgar", "fiona", "gideon",
    ];
    let mut paths = Vec::new();
    for (i, name) in names.iter().enumerate() {
        paths.push(format!("/users/{name}"));
        if i % 2 == 0 {
            paths.push(format!("/users/{name}/repos"));
        }
        for _ in 0..6 {
            paths.push("/users/me".to_string());
            paths.push("/users/search".to_string());
        }
    }
    let routed = feed(&mut d, &paths);
    assert_eq!(
        templates(&d),
        BTreeSet::from([
            "GET /users/me".to_string(),
            "GET /users/search".to_string(),
            "GET /users/{userId}".to_string(),
            "GET /users/{userId}/repos".to_string(),
        ])
    );
    // Once the position is a parameter, new names go straight to it.
    assert_eq!(routed.last().unwrap(), "/users/search");
    let later = feed(&mut d, &strings(&["/users/zelda", "/users/quentin/repos"]));
    assert_eq!(later, ["/users/{userId}", "/users/{userId}/repos"]);
    let e = d
        .inventory()
        .find(|e| e.template == "/users/{userId}")
        .unwrap();
    assert_eq!(
        e.calls,
        names.len() as u64 + 1,
        "literal endpoints were folded in"
    );
}

#[test]
fn a_small_fixed_set_of_resources_stays_literal_and_a_larger_one_becomes_a_parameter() {
    let mut d = discovery();
    let resources = [
        "accounts",
        "campaigns",
        "contacts",
        "deals",
        "events",
        "files",
        "forms",
        "lists",
        "notes",
        "orders",
    ];
    let paths: Vec<String> = (0..400)
        .map(|i| format!("/crm/{}", resources[(i * 7 + i / 3) % resources.len()]))
        .collect();
    feed(&mut d, &paths);
    assert_eq!(templates(&d).len(), resources.len(), "{:?}", templates(&d));
    // More leaf words without any sign of being values stay literal up to
    // `param_cardinality_without_evidence` (24) ...
    let more: Vec<String> = (0..14)
        .map(|i| format!("/crm/extra{}", "abcdefghijklmnop".chars().nth(i).unwrap()))
        .collect();
    feed(&mut d, &more);
    assert_eq!(templates(&d).len(), 24, "{:?}", templates(&d));
    // ... and one more makes the position a parameter; the ten busy ones stay literal.
    feed(&mut d, &strings(&["/crm/pipelines"]));
    let t = templates(&d);
    assert_eq!(t.len(), 11, "{t:?}");
    assert!(
        t.contains("GET /crm/{crmId}") && t.contains("GET /crm/accounts"),
        "{t:?}"
    );
    assert!(!t.contains("GET /crm/extrab"), "{t:?}");
}

#[test]
fn words_that_share_a_sub_path_become_a_parameter_early() {
    let mut d = discovery();
    let countries = [
        "BR", "DE", "FR", "US", "GB", "ES", "IT", "NL", "PL", "IN", "JP", "CA",
    ];
    let mut paths = Vec::new();
    for round in 0..3 {
        for (i, c) in countries.iter().enumerate() {
            paths.push(format!("/atms/country/{c}"));
            paths.push(format!(
                "/atms/country/{c}/town/{}",
                ["Berlin", "Lyon", "Oslo"][(i + round) % 3]
            ));
        }
    }
    feed(&mut d, &paths);
    let t = templates(&d);
    assert!(t.contains("GET /atms/country/{countryId}"), "{t:?}");
    assert!(
        t.contains("GET /atms/country/{countryId}/town/Berlin"),
        "three towns stay literal: {t:?}"
    );
    assert_eq!(t.len(), 4, "{t:?}");
}

#[test]
fn the_endpoint_cap_merges_a_scanners_random_paths() {
    let cfg = DiscoveryConfig {
        max_endpoints: 50,
        ..DiscoveryConfig::default()
    };
    let mut d = Discovery::new(cfg, Vec::new()).unwrap();
    let mut paths = Vec::new();
    for i in 0..2_000u64 {
        paths.push(format!("/users/{i}"));
        paths.push("/health".to_string());
        // Random words at random depths, as a content-discovery scanner sends them.
        let word = |k: u64| {
            let h = (i * 2_654_435_761 + k * 40_503) % 1_000_003;
            [
                "admin", "backup", "old", "test", "wp", "config", "db", "api", "dev", "tmp",
            ][(h % 10) as usize]
                .to_string()
                + &"xyz"[..(h % 3) as usize]
                + ["", "_bak", "-old", ".php"][(h / 10 % 4) as usize]
                + &"q".repeat((h / 40 % 5) as usize)
        };
        paths.push(format!("/{}/{}", word(1), word(2)));
    }
    feed(&mut d, &paths);
    assert!(d.learned_endpoints() <= 50, "{}", d.learned_endpoints());
    let t = templates(&d);
    assert!(t.contains("GET /users/{userId}"), "{t:?}");
    assert!(
        t.contains("GET /health"),
        "busy literals survive the merge: {t:?}"
    );
    let total: u64 = d.inventory().map(|e| e.calls).sum();
    assert_eq!(total, paths.len() as u64, "merging never loses calls");
}

#[test]
fn templates_do_not_flip_flop_once_stable() {
    let mut d = discovery();
    let first: Vec<String> = (0..200).map(|i| format!("/orders/{i}/items")).collect();
    feed(&mut d, &first);
    let stable = templates(&d);
    let ids: BTreeSet<String> = d.inventory().map(|e| e.id.clone()).collect();
    // New values of every kind arrive later at the same positions.
    let later: Vec<String> = (0..500)
        .map(|i| match i % 3 {
            0 => format!("/orders/{}/items", 10_000 + i),
            1 => format!("/orders/ord-{i:06}/items"),
            _ => format!("/orders/{:08x}-1111-2222-3333-444455556666/items", i),
        })
        .collect();
    let routed = feed(&mut d, &later);
    assert!(
        routed.iter().all(|t| t == "/orders/{orderId}/items"),
        "{routed:?}"
    );
    assert_eq!(templates(&d), stable);
    let ids_after: BTreeSet<String> = d.inventory().map(|e| e.id.clone()).collect();
    assert_eq!(ids_after, ids, "endpoint ids are stable");
}

const SPEC: &str = r#"{
  "openapi": "3.0.3",
  "info": {"title": "Shop", "version": "1"},
  "servers": [{"url": "https://api.example.com/v1"}],
  "paths": {
    "/users/{id}": {
      "get": {"operationId": "getUser", "responses": {"200": {"description": "ok"}}},
      "delete": {"operationId": "deleteUser", "deprecated": true, "responses": {"204": {"description": "gone"}}}
    },
    "/orders": {"get": {"operationId": "listOrders", "responses": {"200": {"description": "ok"}}}}
  }
}"#;

fn spec_discovery() -> Discovery {
    let spec = gw_spec::parse_spec(SPEC.as_bytes(), "shop.json").unwrap();
    Discovery::new(DiscoveryConfig::default(), vec![spec]).unwrap()
}

#[test]
fn spec_match_wins_and_the_rest_is_learned() {
    let mut d = spec_discovery();
    let mut batch = vec![
        record(1, "GET", "/v1/users/42"),
        record(2, "GET", "/v1/internal/export/7"),
        record(3, "PATCH", "/v1/users/42"),
    ];
    batch[0].request.query = Some("expand=orders&page=2".into());
    d.observe_batch(&mut batch);
    let e0 = batch[0].endpoint.as_ref().unwrap();
    assert_eq!(e0.matched_by, EndpointMatch::Spec);
    assert_eq!(e0.template, "/v1/users/{id}");
    assert_eq!(e0.spec_operation_id.as_deref(), Some("getUser"));
    assert_eq!(e0.host, HOST);
    let params: Vec<(String, ParamLocation, String)> = batch[0]
        .params
        .iter()
        .map(|p| (p.name.clone(), p.location, p.value_type.clone()))
        .collect();
    assert_eq!(
        params,
        [
            ("id".to_string(), ParamLocation::Path, "integer".to_string()),
            (
                "expand".to_string(),
                ParamLocation::Query,
                "string".to_string()
            ),
            (
                "page".to_string(),
                ParamLocation::Query,
                "integer".to_string()
            ),
        ]
    );
    let e1 = batch[1].endpoint.as_ref().unwrap();
    assert_eq!(e1.matched_by, EndpointMatch::Learned);
    assert_eq!(e1.template, "/v1/internal/export/{exportId}");
    let e2 = batch[2].endpoint.as_ref().unwrap();
    assert_eq!(
        e2.matched_by,
        EndpointMatch::Learned,
        "an undeclared method is shadow"
    );
    assert_ne!(e0.id, e2.id);
}

#[test]
fn declared_shadow_zombie_and_dormant() {
    let mut d = spec_discovery();
    let mut batch = vec![
        record(0, "GET", "/v1/users/1"),
        record(1, "DELETE", "/v1/users/2"),
        record(2, "GET", "/v1/debug/dump"),
    ];
    d.observe_batch(&mut batch);
    let now = t0() + SignedDuration::from_hours(24);
    let status = |d: &Discovery, t: &str, m: &str| {
        let e: &EndpointState = d
            .inventory()
            .find(|e| e.template == t && e.method.as_str() == m)
            .unwrap();
        e.spec_status(now, 30)
    };
    assert_eq!(status(&d, "/v1/users/{id}", "GET"), SpecStatus::Declared);
    assert_eq!(status(&d, "/v1/users/{id}", "DELETE"), SpecStatus::Zombie);
    assert_eq!(status(&d, "/v1/debug/dump", "GET"), SpecStatus::Shadow);
    assert_eq!(
        status(&d, "/v1/orders", "GET"),
        SpecStatus::Dormant,
        "declared, never called"
    );
    // 30 days of silence make every endpoint dormant.
    let later = t0() + SignedDuration::from_hours(24 * 31);
    let rows = d.finish(later);
    assert!(
        rows.iter().all(|r| r.spec_status == SpecStatus::Dormant),
        "{rows:?}"
    );
    assert_eq!(rows.len(), 4);
}

#[test]
fn auth_exposure_sensitive_and_gateway_ids_are_inventoried() {
    let mut d = discovery();
    let mut a = record(0, "GET", "/pay/1");
    a.identity = Some(Identity {
        auth_type: Some(AuthType::BearerJwt),
        ..Identity::default()
    });
    a.client.ip = Some("10.1.1.1".parse().unwrap());
    let mut b = record(5, "GET", "/pay/2");
    b.identity = Some(Identity {
        auth_type: Some(AuthType::None),
        ..Identity::default()
    });
    b.client.resolved_ip = Some("8.8.8.8".parse().unwrap());
    b.sensitive.push(SensitiveLabel {
        kind: "credit_card".into(),
        location: "response.body".into(),
    });
    b.api = Some(gw_model::ApiRef {
        gateway_api_id: Some("payments".into()),
        route: Some("pay-route".into()),
        ..gw_model::ApiRef::default()
    });
    b.response.content_type = Some("application/json; charset=utf-8".into());
    b.response.body = Some(gw_model::Body::utf8(
        r#"{"id":2,"card":"4111111111111111"}"#,
    ));
    let mut batch = vec![a, b];
    d.observe_batch(&mut batch);
    let e = d.inventory().next().unwrap();
    assert_eq!(e.template, "/pay/{payId}");
    assert_eq!(e.auth_labels(), ["bearer_jwt", "none", "unauthenticated"]);
    assert!(e.is_external());
    assert_eq!(
        e.exposure.first_public_seen,
        Some(t0() + SignedDuration::from_secs(5))
    );
    assert!(e.sensitive.contains_key("credit_card"));
    assert!(e.gateway_api_ids.contains("payments"));
    assert!(e.gateway_routes.contains("pay-route"));
    assert_eq!(e.response_content_types.get("application/json"), Some(&1));
    let schema = e.response_schemas.get(&200).unwrap().to_json_schema();
    assert_eq!(schema["properties"]["card"]["type"], "string");
    let rows = d.finish(t0());
    let table = render_table(&rows);
    assert!(
        table.contains("/pay/{payId}") && table.contains("yes"),
        "{table}"
    );
    assert!(render_csv(&rows).contains("credit_card"));
}

#[test]
fn records_without_a_host_or_with_odd_methods_are_still_routed() {
    let mut d = discovery();
    let mut x = record(0, "FOO", "/x/1");
    x.server.host = None;
    let mut batch = vec![x];
    d.observe_batch(&mut batch);
    let e = batch[0].endpoint.as_ref().unwrap();
    assert_eq!(e.host, "-");
    assert_eq!(e.method, "OTHER");
    assert_eq!(e.template, "/x/{xId}");
}

/// Records of one endpoint share one endpoint reference (no copy of its strings per record);
/// another endpoint gets its own.
#[test]
fn records_of_an_endpoint_share_its_reference() {
    let mut d = discovery();
    let mut batch = vec![
        record(1, "GET", "/v1/orders"),
        record(2, "GET", "/v1/orders"),
        record(3, "POST", "/v1/orders"),
        record(4, "GET", "/v1/orders"),
    ];
    d.observe_batch(&mut batch);
    let refs: Vec<_> = batch.iter().map(|x| x.endpoint.clone().unwrap()).collect();
    assert!(std::sync::Arc::ptr_eq(&refs[0], &refs[1]));
    assert!(std::sync::Arc::ptr_eq(&refs[0], &refs[3]));
    assert!(!std::sync::Arc::ptr_eq(&refs[0], &refs[2]));
    assert_eq!(
        (refs[0].method.as_str(), refs[2].method.as_str()),
        ("GET", "POST")
    );
    assert_eq!(refs[0].template, "/v1/orders");
    let ids: Vec<String> = (0..3).map(|i| format!("/v1/users/{}", 1000 + i)).collect();
    let mut users: Vec<Exchange> = ids.iter().map(|p| record(9, "GET", p)).collect();
    d.observe_batch(&mut users);
    let user = users[2].endpoint.clone().unwrap();
    assert_eq!(user.template, "/v1/users/{userId}");
    assert!(std::sync::Arc::ptr_eq(
        &user,
        users[1].endpoint.as_ref().unwrap()
    ));
}
