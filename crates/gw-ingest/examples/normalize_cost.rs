//! Fixed work for instruction counting of `Normalizer::normalize` on records shaped like the
//! simulator's: a few hundred clients, each sending the same credential (API-key header,
//! bearer JWT, opaque bearer token, basic auth or an API-key query parameter) on every request,
//! with the dozen headers a gateway logs.
//! Run: `valgrind --tool=callgrind target/release/examples/normalize_cost [records]`
//! and read the inclusive cost of `Normalizer::normalize` divided by the record count.

use std::hint::black_box;

use base64::Engine as _;
use gw_ingest::normalize::{NormalizeConfig, Normalizer};
use gw_model::Exchange;

/// Deterministic generator (no wall clock, no OS randomness).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn b64url(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

/// The headers and query one client sends on every request.
fn client_credential(client: u64) -> (String, String, Option<String>) {
    let key = format!("k{client:04}Zf3D0LXCM3EIMbgJpUNnkRtOq8");
    match client % 5 {
        0 => ("x-api-key".into(), key, None),
        1 => {
            let jwt = format!(
                "{}.{}.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtZm9yLWJlbmNo",
                b64url(r#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#),
                b64url(&format!(
                    r#"{{"sub":"user-{client}","iss":"https://idp.example.com/","aud":"api://orders","exp":1718000000,"iat":1717996400,"scope":"orders:read orders:write"}}"#
                ))
            );
            ("authorization".into(), format!("Bearer {jwt}"), None)
        }
        2 => ("authorization".into(), format!("Bearer opaque-{key}"), None),
        3 => {
            let basic =
                base64::engine::general_purpose::STANDARD.encode(format!("svc-{client}:pw-{key}"));
            ("authorization".into(), format!("Basic {basic}"), None)
        }
        _ => (
            "x-request-id".into(),
            format!("req-{client}"),
            Some(format!("api_key={key}&page=2")),
        ),
    }
}

fn record(rng: &mut Lcg, clients: u64) -> Exchange {
    let client = rng.next() % clients;
    let (cred_name, cred_value, query) = client_credential(client);
    let id = rng.next() % 100_000;
    let headers = [
        ("host", "api.example.com".to_string()),
        ("user-agent", "okhttp/4.12.0".to_string()),
        ("accept", "application/json".to_string()),
        ("accept-encoding", "gzip, deflate, br".to_string()),
        ("content-type", "application/json".to_string()),
        (cred_name.as_str(), cred_value),
        ("x-forwarded-for", format!("203.0.113.{}", client % 250)),
        ("x-forwarded-proto", "https".to_string()),
        ("x-request-id", format!("0190-{id}")),
        ("traceparent", format!("00-{id:032x}-{id:016x}-01")),
        ("cookie", format!("sid=s{client:08}; theme=dark")),
    ];
    let headers: Vec<serde_json::Value> = headers
        .iter()
        .map(|(n, v)| serde_json::json!({"name": n, "value": v}))
        .collect();
    let v = serde_json::json!({
        "schema": "gatewatch.exchange/1", "id": format!("0190-{id}"),
        "observed_at": "2024-06-10T09:00:00.123Z", "duration_ms": 38.5,
        "source": {"kind": "native", "capture": "frontend", "gateway": "gw-1", "raw_ref": null},
        "request_id": format!("req-{id}"),
        "client": {"ip": format!("10.0.{}.{}", client / 250, client % 250), "port": 51544,
                   "forwarded_for": [], "resolved_ip": null, "user_agent": null, "tls": null},
        "server": {"host": "api.example.com", "ip": null, "port": 443},
        "request": {"method": "GET", "scheme": "https", "path": format!("/v2/customers/{id}/orders"),
                    "query": query, "http_version": "1.1", "headers": headers, "body": null, "size": 412},
        "response": {"status": 200, "headers": [
                        {"name": "content-type", "value": "application/json"},
                        {"name": "cache-control", "value": "no-store"},
                        {"name": "set-cookie", "value": format!("sid=s{client:08}; Path=/; HttpOnly")}],
                     "body": null, "size": 301, "content_type": "application/json"},
        "upstream": null, "api": null, "identity": null, "gateway": null,
        "labels": {}, "extra": {}
    });
    serde_json::from_value(v).expect("bench record is a valid exchange")
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let normalizer = Normalizer::new(&NormalizeConfig::default(), &[7u8; 32]).unwrap();
    let mut rng = Lcg(42);
    let records: Vec<Exchange> = (0..n).map(|_| record(&mut rng, 300)).collect();
    let mut sum = 0usize;
    for mut x in records {
        normalizer.normalize(&mut x);
        sum += x
            .identity
            .as_ref()
            .and_then(|i| i.credential_fp.as_ref())
            .map_or(0, String::len);
    }
    println!("{n} records normalized, {sum} fingerprint bytes");
    black_box(sum);
}
