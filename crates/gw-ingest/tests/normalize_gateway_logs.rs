//! Decode + normalize end to end over the gateway-log golden inputs (Kong, Azure APIM, AWS API
//! Gateway, AWS ALB): every credential the inputs carry is gone from the normalized records,
//! the identity derived from it is there, and every record has an actor IP.

use std::fs;
use std::path::Path;

use gw_ingest::normalize::{NormalizeConfig, Normalizer};
use gw_ingest::{DecodeError, Emit, FormatChoice, Input, Limits, decode_input};
use gw_model::{AuthType, Exchange, SourceKind};

struct Normalized<'a> {
    normalizer: &'a Normalizer,
    records: Vec<Exchange>,
}

impl Emit for Normalized<'_> {
    fn record(&mut self, mut x: Exchange) {
        self.normalizer.normalize(&mut x);
        self.records.push(x);
    }
    fn reject(&mut self, _err: DecodeError, _raw: &[u8]) {}
}

fn decode(kind: SourceKind, case: &str, normalizer: &Normalizer) -> Vec<Exchange> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(kind.as_str())
        .join(format!("{case}.input"));
    let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let input =
        Input::from_reader(case.to_string(), std::io::Cursor::new(bytes)).expect("in-memory input");
    let mut out = Normalized {
        normalizer,
        records: Vec::new(),
    };
    decode_input(
        input,
        FormatChoice::Kind(kind),
        &Limits::default(),
        &mut out,
    )
    .expect("decodes");
    out.records
}

fn normalizer() -> Normalizer {
    let config = NormalizeConfig {
        trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
        ..NormalizeConfig::default()
    };
    Normalizer::new(&config, &[3; 32]).unwrap()
}

fn assert_absent(records: &[Exchange], secrets: &[&str]) {
    for x in records {
        let json = serde_json::to_string(x).unwrap();
        for s in secrets {
            assert!(
                !json.contains(s),
                "credential {s:?} survived normalization: {json}"
            );
        }
    }
}

#[test]
fn kong_keys_cookies_and_query_keys_are_fingerprinted_then_redacted() {
    let n = normalizer();
    let batch = decode(SourceKind::KongHttpLog, "batch", &n);
    assert_absent(&batch, &["k-live-51f0c2aa"]);
    let id = batch[1]
        .identity
        .as_ref()
        .expect("identity derived from x-api-key");
    assert_eq!(id.auth_type, Some(AuthType::ApiKey));
    assert_eq!(id.credential_fp, Some(n.fingerprint(b"k-live-51f0c2aa")));
    // Kong already removed the authorization value: a credential of unknown kind.
    assert_eq!(
        batch[0].identity.as_ref().unwrap().auth_type,
        Some(AuthType::Unknown)
    );
    assert_eq!(
        batch[0].request.header("authorization"),
        Some(gw_model::REDACTED)
    );

    let lines = decode(SourceKind::KongHttpLog, "lines", &n);
    assert_absent(&lines, &["k-live-77", "abc123"]);
    let put = lines.iter().find(|x| x.request.method == "PUT").unwrap();
    assert_eq!(
        put.request.query.as_deref(),
        Some("dry_run=true&api_key=[REDACTED]")
    );
    assert_eq!(put.request.header("cookie"), Some("session=[REDACTED]"));
    // Behind the trusted 10.0.0.12, the rightmost untrusted X-Forwarded-For hop is the client.
    let first = &lines[0];
    assert_eq!(
        first.client.resolved_ip,
        Some("198.51.100.2".parse().unwrap())
    );
}

#[test]
fn apim_subscription_keys_in_the_url_are_redacted() {
    let n = normalizer();
    let rows = decode(SourceKind::AzureApimGatewayLogs, "loganalytics", &n);
    assert_absent(&rows, &["0123456789abcdef"]);
    let id = rows[0].identity.as_ref().unwrap();
    assert_eq!(
        (id.auth_type, id.consumer_id.as_deref()),
        (Some(AuthType::ApiKey), Some("starter-sub-7"))
    );
    assert_eq!(id.credential_fp, Some(n.fingerprint(b"0123456789abcdef")));
    assert_eq!(rows[0].client.user_agent.as_deref(), Some("okhttp/4.12.0"));
    assert_eq!(
        rows[0].client.forwarded_for,
        vec!["192.0.2.44".parse::<std::net::IpAddr>().unwrap()]
    );
    // The caller 203.0.113.45 is not a trusted proxy, so its X-Forwarded-For is not believed.
    assert_eq!(
        rows[0].client.resolved_ip,
        Some("203.0.113.45".parse().unwrap())
    );

    let policy = decode(SourceKind::AzureApimPolicy, "policy", &n);
    assert_eq!(
        policy[1].identity.as_ref().unwrap().auth_type,
        Some(AuthType::ApiKey)
    );
}

#[test]
fn access_logs_without_headers_keep_what_the_gateway_said() {
    let n = normalizer();
    for (kind, case) in [
        (SourceKind::AwsApiGateway, "rest"),
        (SourceKind::AwsApiGateway, "http-api"),
        (SourceKind::AwsApiGateway, "cloudwatch"),
        (SourceKind::AwsAlb, "alb"),
        (SourceKind::AzureApimGatewayLogs, "eventhub"),
    ] {
        for x in decode(kind, case, &n) {
            assert!(x.actor_ip().is_some(), "{kind}/{case}: {x:?}");
            if x.request.headers.is_none() {
                let said = x.identity.as_ref().and_then(|i| i.auth_type);
                assert_ne!(
                    said,
                    Some(AuthType::None),
                    "no headers is not 'no credential'"
                );
            }
        }
    }
    let rest = decode(SourceKind::AwsApiGateway, "rest", &n);
    let mtls = rest.iter().find(|x| x.client.tls.is_some()).unwrap();
    let id = mtls.identity.as_ref().unwrap();
    assert_eq!(id.auth_type, Some(AuthType::Mtls));
    assert_eq!(
        id.principal.as_deref(),
        Some("CN=partner-42,O=Example Corp")
    );
}
