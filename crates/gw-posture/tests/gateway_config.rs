//! Golden tests: realistic gateway configurations (written from each gateway's documented
//! schema), one insecure and one hardened variant each, asserting exactly which rules fire where.

use std::path::{Path, PathBuf};

use gw_model::{Analytic, FindingKind, Severity};
use gw_posture::{GatewayKind, check_gateway_config, split_location};

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// (rule id, pointer, line) of every finding, in output order.
fn fired(name: &str, kind: Option<GatewayKind>) -> Vec<(String, String, u64)> {
    let findings =
        check_gateway_config(&golden(name), kind).unwrap_or_else(|e| panic!("{name}: {e}"));
    for f in &findings {
        assert_eq!(f.kind, FindingKind::Posture);
        assert_eq!(f.rule.analytic, Analytic::Config);
        assert!(f.remediation.as_deref().is_some_and(|r| !r.is_empty()));
        assert!(!f.owasp.is_empty() && !f.references.is_empty());
    }
    let got: Vec<(String, String, u64)> = findings
        .iter()
        .map(|f| {
            let loc = f.evidence.samples[0].location.as_deref().unwrap();
            let (file, pointer) = split_location(loc);
            assert!(file.ends_with(name), "{file}");
            let line = f
                .evidence
                .metrics
                .extra
                .get(gw_posture::EXTRA_SOURCE_LINE)
                .copied()
                .unwrap_or(0.0) as u64;
            (f.rule.id.clone(), pointer.to_owned(), line)
        })
        .collect();
    println!("{name}:");
    for (id, p, l) in &got {
        println!("  {id:<16} {l:>4}  {p}");
    }
    got
}

fn ids_and_pointers(got: &[(String, String, u64)]) -> Vec<(&str, &str)> {
    got.iter()
        .map(|(i, p, _)| (i.as_str(), p.as_str()))
        .collect()
}

#[test]
fn apim_insecure_template_fires_every_defender_check() {
    let got = fired("apim-insecure.json", None);
    assert_eq!(
        ids_and_pointers(&got),
        vec![
            ("GW-C-APIM-001", "/resources/6/properties/scope"),
            ("GW-C-APIM-002", "/resources/2/properties/tls"),
            ("GW-C-APIM-003", "/resources/9/properties/enabled"),
            ("GW-C-APIM-004", "/resources/1/properties/protocols"),
            ("GW-C-APIM-005", "/resources/4"),
            ("GW-C-APIM-006", "/resources/0"),
            ("GW-C-APIM-006", "/resources/10/properties/enabled"),
            (
                "GW-C-APIM-007",
                "/resources/0/properties/apiVersionConstraint/minApiVersion"
            ),
            ("GW-C-APIM-008", "/resources/2"),
            ("GW-C-APIM-009", "/resources/1/properties/serviceUrl"),
            (
                "GW-C-APIM-010",
                "/resources/7/properties/subscriptionRequired"
            ),
        ]
    );
    // lines point into the JSON source
    let line = |id: &str| got.iter().find(|g| g.0 == id).map(|g| g.2);
    assert_eq!(line("GW-C-APIM-004"), Some(30));
    assert_eq!(line("GW-C-APIM-002"), Some(42));
}

#[test]
fn apim_hardened_template_with_nested_resources_is_clean() {
    assert_eq!(fired("apim-hardened.json", Some(GatewayKind::Apim)), vec![]);
}

#[test]
fn kong_insecure_config_fires_expected_rules() {
    let got = fired("kong-insecure.yml", None);
    assert_eq!(
        ids_and_pointers(&got),
        vec![
            ("GW-C-KONG-001", "/services/0/routes/0"),
            ("GW-C-KONG-001", "/services/2/routes/0"),
            ("GW-C-KONG-001", "/services/3/routes/0"),
            ("GW-C-KONG-002", "/services/0/routes/0/protocols"),
            ("GW-C-KONG-002", "/services/3/routes/0"),
            ("GW-C-KONG-003", "/services/0/tls_verify"),
            ("GW-C-KONG-003", "/services/1"),
            ("GW-C-KONG-004", "/services/2/routes/0"),
            ("GW-C-KONG-005", "/services/0/routes/0"),
            ("GW-C-KONG-005", "/services/2/routes/0"),
            ("GW-C-KONG-005", "/services/3/routes/0"),
            ("GW-C-KONG-006", "/consumers/0/keyauth_credentials/0/key"),
            (
                "GW-C-KONG-006",
                "/consumers/1/basicauth_credentials/0/password"
            ),
            ("GW-C-KONG-007", "/services/3"),
        ]
    );
    let findings = check_gateway_config(&golden("kong-insecure.yml"), None).unwrap();
    let admin = findings
        .iter()
        .find(|f| f.rule.id == "GW-C-KONG-004")
        .unwrap();
    assert_eq!(
        admin.severity,
        Severity::Critical,
        "unauthenticated admin API route"
    );
    let line = |id: &str, p: &str| got.iter().find(|g| g.0 == id && g.1 == p).map(|g| g.2);
    assert_eq!(line("GW-C-KONG-003", "/services/0/tls_verify"), Some(8));
    assert_eq!(
        line(
            "GW-C-KONG-006",
            "/consumers/1/basicauth_credentials/0/password"
        ),
        Some(62)
    );
}

#[test]
fn kong_hardened_config_is_clean() {
    assert_eq!(fired("kong-hardened.yml", Some(GatewayKind::Kong)), vec![]);
}

#[test]
fn kong_json_config_is_detected_and_checked() {
    let json = br#"{"_format_version":"3.0","services":[{"name":"s","url":"https://s.example","tls_verify":false,
        "routes":[{"name":"r","paths":["/"],"protocols":["https"]}]}],
        "plugins":[{"name":"key-auth"},{"name":"rate-limiting","config":{"second":5}}]}"#;
    let findings = check_gateway_config(
        gw_posture::ConfigSource::Bytes {
            bytes: json,
            file_name: "kong.json",
        },
        None,
    )
    .unwrap();
    let ids: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| {
            (
                f.rule.id.as_str(),
                split_location(f.evidence.samples[0].location.as_deref().unwrap()).1,
            )
        })
        .collect();
    assert_eq!(ids, vec![("GW-C-KONG-003", "/services/0/tls_verify")]);
}

#[test]
fn nginx_insecure_config_fires_expected_rules() {
    let got = fired("nginx-insecure.conf", None);
    assert_eq!(
        got.iter()
            .map(|(i, p, l)| (i.as_str(), p.as_str(), *l))
            .collect::<Vec<_>>(),
        vec![
            ("GW-C-NGINX-001", "/http/0/server/0/listen/0", 20),
            ("GW-C-NGINX-001", "/http/0/server/0/listen/1", 21),
            (
                "GW-C-NGINX-002",
                "/http/0/server/0/location/0/proxy_pass/0",
                25
            ),
            (
                "GW-C-NGINX-002",
                "/http/0/server/0/location/1/proxy_ssl_verify/0",
                30
            ),
            ("GW-C-NGINX-003", "/http/0/server/0/location/0", 24),
            ("GW-C-NGINX-003", "/http/0/server/0/location/1", 29),
            ("GW-C-NGINX-003", "/http/0/server/1/location/0", 42),
            ("GW-C-NGINX-004", "/http/0/server/1/ssl_protocols/0", 40),
            ("GW-C-NGINX-005", "/http/0/client_max_body_size/0", 11),
        ]
    );
}

#[test]
fn nginx_hardened_config_is_clean() {
    assert_eq!(
        fired("nginx-hardened.conf", Some(GatewayKind::Nginx)),
        vec![]
    );
}

#[test]
fn fingerprints_are_stable_across_runs_and_unique() {
    let a = check_gateway_config(&golden("kong-insecure.yml"), None).unwrap();
    let b = check_gateway_config(&golden("kong-insecure.yml"), None).unwrap();
    assert_eq!(a, b);
    let mut fps: Vec<&str> = a.iter().map(|f| f.fingerprint.as_str()).collect();
    fps.sort_unstable();
    fps.dedup();
    assert_eq!(fps.len(), a.len());
}

#[test]
fn wrong_kind_is_a_clear_error() {
    let err = check_gateway_config(&golden("nginx-insecure.conf"), Some(GatewayKind::Kong))
        .unwrap_err()
        .to_string();
    assert!(err.contains("nginx-insecure.conf"), "{err}");
    let err = check_gateway_config(&golden("kong-insecure.yml"), Some(GatewayKind::Apim))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("kong-insecure.yml") && err.contains("JSON"),
        "{err}"
    );
}

#[test]
fn envoy_insecure_bootstrap_fires_expected_rules() {
    let got = fired("envoy-insecure.yaml", None);
    assert_eq!(
        ids_and_pointers(&got),
        vec![
            (
                "GW-C-ENVOY-001",
                "/static_resources/listeners/0/filter_chains/0"
            ),
            (
                "GW-C-ENVOY-001",
                "/static_resources/listeners/2/filter_chains/0"
            ),
            (
                "GW-C-ENVOY-002",
                "/static_resources/clusters/0/transport_socket/typed_config"
            ),
            (
                "GW-C-ENVOY-002",
                "/static_resources/clusters/1/transport_socket/typed_config/common_tls_context/validation_context"
            ),
            (
                "GW-C-ENVOY-002",
                "/static_resources/clusters/3/transport_socket_matches/0/transport_socket/typed_config/common_tls_context/validation_context"
            ),
            (
                "GW-C-ENVOY-003",
                "/static_resources/listeners/0/filter_chains/0/filters/0"
            ),
            (
                "GW-C-ENVOY-003",
                "/static_resources/listeners/1/filter_chains/0/filters/0"
            ),
            ("GW-C-ENVOY-004", "/admin/address/socket_address/address"),
        ]
    );
    let findings = check_gateway_config(&golden("envoy-insecure.yaml"), None).unwrap();
    let by = |id: &str, n: usize| {
        findings
            .iter()
            .filter(|f| f.rule.id == id)
            .nth(n)
            .unwrap()
            .clone()
    };
    assert_eq!(by("GW-C-ENVOY-002", 0).severity, Severity::Medium);
    assert_eq!(
        by("GW-C-ENVOY-002", 1).severity,
        Severity::Low,
        "chain verified, name not matched"
    );
    assert!(
        by("GW-C-ENVOY-002", 2)
            .description
            .contains("ACCEPT_UNTRUSTED")
    );
    assert!(by("GW-C-ENVOY-003", 1).title.contains("enforces nothing"));
    assert!(by("GW-C-ENVOY-004", 0).title.contains("0.0.0.0:9901"));
    let line = |id: &str, p: &str| got.iter().find(|g| g.0 == id && g.1 == p).map(|g| g.2);
    assert_eq!(
        line("GW-C-ENVOY-004", "/admin/address/socket_address/address"),
        Some(13)
    );
    assert_eq!(
        line(
            "GW-C-ENVOY-001",
            "/static_resources/listeners/0/filter_chains/0"
        ),
        Some(20)
    );
}

#[test]
fn envoy_hardened_json_bootstrap_is_clean() {
    assert_eq!(fired("envoy-hardened.json", None), vec![]);
    assert_eq!(
        fired("envoy-hardened.json", Some(GatewayKind::Envoy)),
        vec![]
    );
}
