//! Every sink kind against a real receiver on 127.0.0.1, checking the exact bytes, headers and
//! bodies received, retries, dead letters, bounded queues, shutdown, the counters and the
//! replay of dead letters.

#[path = "../src/test_support.rs"]
mod fixtures;
mod receivers;

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use gw_export::delivery::{
    DeliveryConfig, Dispatcher, ElasticConfig, NdjsonFileConfig, OAuthConfig, ReplayOptions,
    ReplayReport, RetryPolicy, Secret, SentinelConfig, SinkConfig, SinkStats, SplunkHecConfig,
    SyslogConfig, SyslogProtocol, TransportConfig, WebhookConfig, replay_dead_letters,
    scan_dead_letters,
};
use gw_export::ecs::{BulkAction, write_bulk};
use gw_export::splunk::{HecEvent, HecOptions, to_hec_event};
use gw_export::syslog::{Facility, SyslogOptions, SyslogPayload, finding_message, octet_counted};
use gw_export::webhook::{SIGNATURE_HEADER, verify_webhook, webhook_body};
use gw_export::{Producer, sentinel};
use gw_model::Finding;
use receivers::{HttpReceiver, Reply, StreamReceiver, UdpReceiver, wait_for};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(10);

fn producer() -> Producer {
    Producer::new("0.1.0").with_hostname("gw-01")
}

/// Fast retries for tests.
fn quick_retry(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        attempts,
        base_ms: 5,
        cap_ms: 20,
    }
}

fn sink(name: &str, transport: TransportConfig) -> SinkConfig {
    let mut s = SinkConfig::new(name, transport);
    s.retry = quick_retry(3);
    s.flush_interval_ms = 20;
    s
}

fn start(dir: &Path, sinks: Vec<SinkConfig>) -> Dispatcher {
    let config = DeliveryConfig {
        dead_letter_dir: dir.join("dead"),
        enqueue_timeout_ms: 1_000,
        shutdown_timeout_ms: 5_000,
        sinks,
    };
    Dispatcher::start(&config, &producer()).unwrap()
}

/// Dead-letter lines of sink `name`.
fn dead_letters(dir: &Path, name: &str) -> Vec<Value> {
    let path = dir.join("dead").join(format!("{name}.dead-letter.ndjson"));
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn webhook(url: String, secret: Option<&str>) -> TransportConfig {
    TransportConfig::Webhook(WebhookConfig {
        url,
        secret: secret.map(Secret::new),
        timeout_ms: 2_000,
        ca_file: None,
    })
}

fn only(stats: &[SinkStats]) -> &SinkStats {
    assert_eq!(stats.len(), 1);
    &stats[0]
}

#[test]
fn webhook_posts_signed_json_of_every_finding() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = HttpReceiver::start(|_, _| Reply::status(200, "ok"));
    let secret = "whsec_test_5f2c";
    let d = start(
        dir.path(),
        vec![sink(
            "hook",
            webhook(format!("{}/hooks/gw", receiver.url()), Some(secret)),
        )],
    );
    assert_eq!(d.dispatch_all(&fixtures::all()).queued, 3);
    let stats = d.close();
    let s = only(&stats);
    assert_eq!((s.delivered, s.retried, s.dead_lettered), (3, 0, 0));

    let requests = receiver.requests();
    let mut received: Vec<Finding> = Vec::new();
    let now = jiff::Timestamp::now().as_second();
    for r in &requests {
        assert_eq!(
            (r.method.as_str(), r.target.as_str()),
            ("POST", "/hooks/gw")
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(r.header("user-agent").unwrap().starts_with("gatewatch/"));
        let signature = r.header(SIGNATURE_HEADER).unwrap();
        verify_webhook(secret.as_bytes(), signature, &r.body, now, 60).unwrap();
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        let findings: Vec<Finding> = serde_json::from_value(v["findings"].clone()).unwrap();
        // The exact bytes of the existing webhook format.
        assert_eq!(r.body, webhook_body(&findings).unwrap());
        received.extend(findings);
    }
    assert_eq!(received, fixtures::all());
}

#[test]
fn webhook_failing_twice_is_retried_then_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = HttpReceiver::start(|_, n| {
        if n < 2 {
            Reply::status(503, "busy")
        } else {
            Reply::status(204, "")
        }
    });
    let mut config = sink("hook", webhook(receiver.url(), Some("k")));
    config.retry = quick_retry(5);
    let d = start(dir.path(), vec![config]);
    d.dispatch(&fixtures::sqli());
    let stats = d.close();
    let s = only(&stats);
    assert_eq!((s.delivered, s.retried, s.dead_lettered), (1, 2, 0));
    let requests = receiver.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| r.body == requests[0].body));
    assert!(dead_letters(dir.path(), "hook").is_empty());
}

#[test]
fn webhook_always_failing_dead_letters_every_finding_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = HttpReceiver::start(|_, _| Reply::status(500, "database down"));
    let mut config = sink("hook", webhook(receiver.url(), Some("whsec_never_shown")));
    config.retry = quick_retry(3);
    config.batch_max = Some(2);
    let d = start(dir.path(), vec![config]);
    d.dispatch_all(&fixtures::all());
    let stats = d.close();
    let s = only(&stats);
    assert_eq!((s.delivered, s.dead_lettered, s.lost), (0, 3, 0));
    // Each finding was sent three times: two retries each.
    assert_eq!(s.retried, 6);
    let lines = dead_letters(dir.path(), "hook");
    let ids: Vec<&str> = lines
        .iter()
        .map(|l| l["finding"]["id"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = fixtures::all().into_iter().map(|f| f.id).collect();
    assert_eq!(ids, expected);
    for line in &lines {
        assert_eq!(line["schema"], "gatewatch.dead_letter/1");
        assert_eq!(line["sink"], "hook");
        assert_eq!(line["kind"], "webhook");
        assert_eq!(line["attempts"], 3);
        let reason = line["reason"].as_str().unwrap();
        assert!(
            reason.contains("HTTP 500")
                && reason.contains("database down")
                && reason.contains("gave up after 3 attempts"),
            "{reason}"
        );
        // The dead-lettered finding is complete, so it can be replayed.
        let f: Finding = serde_json::from_value(line["finding"].clone()).unwrap();
        assert!(fixtures::all().contains(&f));
    }
    let raw = std::fs::read_to_string(dir.path().join("dead/hook.dead-letter.ndjson")).unwrap();
    assert!(!raw.contains("whsec_never_shown"));
}

#[test]
fn client_errors_are_dead_lettered_without_retries() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = HttpReceiver::start(|_, _| Reply::status(400, "bad payload"));
    let d = start(
        dir.path(),
        vec![sink("hook", webhook(receiver.url(), None))],
    );
    d.dispatch(&fixtures::posture());
    let s = d.close().remove(0);
    assert_eq!((s.delivered, s.retried, s.dead_lettered), (0, 0, 1));
    assert_eq!(receiver.requests().len(), 1);
    assert!(receiver.requests()[0].header(SIGNATURE_HEADER).is_none());
    let lines = dead_letters(dir.path(), "hook");
    assert_eq!(lines[0]["attempts"], 1);
    assert!(lines[0]["reason"].as_str().unwrap().contains("HTTP 400"));
}

/// A gate the receiver waits on, so the sink worker stays busy.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    fn wait(&self) {
        let (open, cv) = &*self.0;
        let mut open = open.lock().unwrap();
        while !*open {
            open = cv.wait(open).unwrap();
        }
    }
    fn open(&self) {
        let (open, cv) = &*self.0;
        *open.lock().unwrap() = true;
        cv.notify_all();
    }
}

#[test]
fn full_queue_blocks_then_dead_letters_and_every_finding_is_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let gate = Gate::default();
    let held = gate.clone();
    let receiver = HttpReceiver::start(move |_, _| {
        held.wait();
        Reply::status(200, "")
    });
    let mut config = sink("hook", webhook(receiver.url(), None));
    config.queue_capacity = 2;
    config.batch_max = Some(1);
    config.flush_interval_ms = 0;
    let delivery = DeliveryConfig {
        dead_letter_dir: dir.path().join("dead"),
        enqueue_timeout_ms: 20,
        shutdown_timeout_ms: 5_000,
        sinks: vec![config],
    };
    let d = Dispatcher::start(&delivery, &producer()).unwrap();
    // The first finding is taken by the worker (blocked in its request), two fill the queue,
    // the others wait 20 ms each and are dead-lettered.
    d.dispatch(&fixtures::sqli());
    assert!(wait_for(WAIT, || receiver.requests().len() == 1));
    let start = Instant::now();
    let mut outcomes = Vec::new();
    for i in 0..6 {
        let mut f = fixtures::spike();
        f.id = format!("f-{i}");
        outcomes.push(d.dispatch(&f));
    }
    assert!(
        start.elapsed() >= Duration::from_millis(80),
        "the caller was blocked"
    );
    let queued: usize = outcomes.iter().map(|o| o.queued).sum();
    let dropped: usize = outcomes.iter().map(|o| o.dead_lettered).sum();
    assert_eq!((queued, dropped), (2, 4));
    assert_eq!(d.stats()[0].queued, 2);
    gate.open();
    let s = d.close().remove(0);
    assert_eq!(
        (s.delivered, s.dead_lettered, s.queue_full, s.lost),
        (3, 4, 4, 0)
    );
    let lines = dead_letters(dir.path(), "hook");
    assert_eq!(lines.len(), 4);
    assert!(
        lines
            .iter()
            .all(|l| l["reason"].as_str().unwrap().starts_with("queue full"))
    );
}

#[test]
fn close_stops_retrying_at_the_deadline_and_dead_letters_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = HttpReceiver::start(|_, _| Reply::status(503, "maintenance"));
    let mut config = sink("hook", webhook(receiver.url(), None));
    config.retry = RetryPolicy {
        attempts: 10,
        base_ms: 60_000,
        cap_ms: 60_000,
    };
    let d = start(dir.path(), vec![config]);
    d.dispatch_all(&fixtures::all());
    assert!(wait_for(WAIT, || !receiver.requests().is_empty()));
    let started = Instant::now();
    let s = d.close_within(Duration::from_millis(100)).remove(0);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(s.delivered + s.dead_lettered, 3);
    assert_eq!(s.dead_lettered, 3);
    let lines = dead_letters(dir.path(), "hook");
    assert!(
        lines
            .iter()
            .all(|l| l["reason"].as_str().unwrap().contains("shutdown deadline")),
        "{lines:?}"
    );
}

#[test]
fn filters_route_findings_to_matching_sinks_only() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = HttpReceiver::start(|_, _| Reply::status(200, ""));
    let mut threats = sink("threats", webhook(receiver.url(), None));
    threats.filter.kinds = vec![gw_model::FindingKind::Threat];
    threats.filter.min_severity = gw_model::Severity::Critical;
    let file = dir.path().join("all.ndjson");
    let all = sink(
        "file",
        TransportConfig::NdjsonFile(NdjsonFileConfig {
            path: file.clone(),
            max_bytes: 1 << 20,
            keep: 1,
            format: Default::default(),
        }),
    );
    let d = start(dir.path(), vec![threats, all]);
    let out = d.dispatch_all(&fixtures::all());
    assert_eq!(out.matched, 4);
    let stats = d.close();
    assert_eq!(stats[0].delivered, 1);
    assert_eq!(stats[1].delivered, 3);
    let v: Value = serde_json::from_slice(&receiver.requests()[0].body).unwrap();
    assert_eq!(v["findings"][0]["id"], "f-0192a3b4-spike");
    let expected: Vec<u8> = fixtures::all()
        .iter()
        .flat_map(|f| gw_export::ndjson::finding_line(f).unwrap())
        .collect();
    assert_eq!(std::fs::read(&file).unwrap(), expected);
}

fn syslog(address: String, protocol: SyslogProtocol, ca_file: Option<&Path>) -> TransportConfig {
    TransportConfig::Syslog(SyslogConfig {
        address,
        protocol,
        facility: 14,
        app_name: "gatewatch".into(),
        payload: SyslogPayload::Cef,
        utf8_bom: false,
        ca_file: ca_file.map(Path::to_path_buf),
        server_name: ca_file.map(|_| "localhost".to_string()),
        timeout_ms: 2_000,
    })
}

fn expected_messages() -> Vec<Vec<u8>> {
    let options = SyslogOptions {
        facility: Facility::LOG_ALERT,
        ..SyslogOptions::default()
    };
    fixtures::all()
        .iter()
        .map(|f| finding_message(f, &producer(), &options, SyslogPayload::Cef).unwrap())
        .collect()
}

#[test]
fn syslog_udp_sends_one_rfc5424_cef_datagram_per_finding() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = UdpReceiver::start();
    let d = start(
        dir.path(),
        vec![sink(
            "udp",
            syslog(receiver.addr.to_string(), SyslogProtocol::Udp, None),
        )],
    );
    d.dispatch_all(&fixtures::all());
    assert_eq!(d.close()[0].delivered, 3);
    assert!(wait_for(WAIT, || receiver.datagrams().len() == 3));
    let got = receiver.datagrams();
    assert_eq!(got, expected_messages());
    assert!(got[0].starts_with(b"<115>1 2024-06-10T09:23:20.500Z gw-01 gatewatch - FINDING ["));
}

#[test]
fn syslog_tcp_sends_octet_counted_frames() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = StreamReceiver::start_tcp();
    let d = start(
        dir.path(),
        vec![sink(
            "tcp",
            syslog(receiver.addr.to_string(), SyslogProtocol::Tcp, None),
        )],
    );
    d.dispatch_all(&fixtures::all());
    assert_eq!(d.close()[0].delivered, 3);
    let expected: Vec<u8> = expected_messages()
        .iter()
        .flat_map(|m| octet_counted(m))
        .collect();
    assert!(wait_for(WAIT, || receiver.bytes().len() >= expected.len()));
    assert_eq!(receiver.bytes(), expected);
}

#[test]
fn syslog_tls_verifies_the_collector_and_sends_octet_counted_frames() {
    let dir = tempfile::tempdir().unwrap();
    let (server_config, ca_pem) = receivers::self_signed_localhost();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let receiver = StreamReceiver::start_tls(server_config);
    let d = start(
        dir.path(),
        vec![sink(
            "tls",
            syslog(
                receiver.addr.to_string(),
                SyslogProtocol::Tls,
                Some(&ca_file),
            ),
        )],
    );
    d.dispatch_all(&fixtures::all());
    assert_eq!(d.close()[0].delivered, 3);
    let expected: Vec<u8> = expected_messages()
        .iter()
        .flat_map(|m| octet_counted(m))
        .collect();
    assert!(wait_for(WAIT, || receiver.bytes().len() >= expected.len()));
    assert_eq!(receiver.bytes(), expected);
}

#[test]
fn syslog_tls_with_an_untrusted_certificate_dead_letters_with_the_handshake_error() {
    let dir = tempfile::tempdir().unwrap();
    let (server_config, _) = receivers::self_signed_localhost();
    let (_, other_ca) = receivers::self_signed_localhost();
    let ca_file = dir.path().join("other.pem");
    std::fs::write(&ca_file, other_ca).unwrap();
    let receiver = StreamReceiver::start_tls(server_config);
    let mut config = sink(
        "tls",
        syslog(
            receiver.addr.to_string(),
            SyslogProtocol::Tls,
            Some(&ca_file),
        ),
    );
    config.retry = quick_retry(2);
    let d = start(dir.path(), vec![config]);
    d.dispatch(&fixtures::sqli());
    let s = d.close().remove(0);
    assert_eq!((s.delivered, s.dead_lettered), (0, 1));
    let reason = dead_letters(dir.path(), "tls")[0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("TLS handshake"), "{reason}");
    assert!(receiver.bytes().is_empty());
}

#[test]
fn splunk_hec_posts_concatenated_events_with_the_token_in_batches_under_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = HttpReceiver::start(|_, _| Reply::status(200, r#"{"text":"Success","code":0}"#));
    let options = HecOptions {
        index: Some("security".into()),
        event: HecEvent::Ocsf,
        ..HecOptions::default()
    };
    let events: Vec<String> = fixtures::all()
        .iter()
        .map(|f| to_hec_event(f, &producer(), &options).unwrap())
        .collect();
    // Room for the two smallest events together, never all three.
    let mut sizes: Vec<usize> = events.iter().map(String::len).collect();
    sizes.sort_unstable();
    let limit = sizes[0] + sizes[1];
    let hec = TransportConfig::SplunkHec(SplunkHecConfig {
        url: format!("{}/", receiver.url()),
        token: Secret::new("11111111-2222-3333-4444-555555555555"),
        index: Some("security".into()),
        source: "gatewatch".into(),
        sourcetype: gw_export::splunk::SOURCETYPE.into(),
        event: HecEvent::Ocsf,
        max_body_bytes: limit.max(sizes[2]),
        timeout_ms: 2_000,
        ca_file: None,
    });
    let d = start(dir.path(), vec![sink("splunk", hec)]);
    d.dispatch_all(&fixtures::all());
    assert_eq!(d.close()[0].delivered, 3);
    let requests = receiver.requests();
    assert!(requests.len() >= 2, "split into bodies under the limit");
    let mut body = Vec::new();
    for r in &requests {
        assert_eq!(r.target, "/services/collector/event");
        assert_eq!(
            r.header("authorization"),
            Some("Splunk 11111111-2222-3333-4444-555555555555")
        );
        assert!(r.body.len() <= limit.max(sizes[2]));
        body.extend_from_slice(&r.body);
    }
    assert_eq!(body, events.concat().into_bytes());
}

fn sentinel_config(
    endpoint: String,
    bearer: Option<&str>,
    oauth: Option<OAuthConfig>,
) -> TransportConfig {
    TransportConfig::Sentinel(SentinelConfig {
        endpoint,
        dcr_immutable_id: "dcr-00000000000000000000000000000001".into(),
        stream: sentinel::STREAM_NAME.into(),
        bearer_token: bearer.map(Secret::new),
        oauth,
        max_body_bytes: sentinel::MAX_BODY_BYTES,
        timeout_ms: 2_000,
        ca_file: None,
    })
}

const INGEST_PATH: &str = "/dataCollectionRules/dcr-00000000000000000000000000000001/streams/Custom-GatewatchFindings_CL?api-version=2023-01-01";

#[test]
fn sentinel_with_a_fixed_bearer_token_posts_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = HttpReceiver::start(|_, _| Reply::status(204, ""));
    let d = start(
        dir.path(),
        vec![sink(
            "sentinel",
            sentinel_config(receiver.url(), Some("fixed-token"), None),
        )],
    );
    d.dispatch_all(&fixtures::all());
    assert_eq!(d.close()[0].delivered, 3);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.target, INGEST_PATH);
    assert_eq!(r.header("authorization"), Some("Bearer fixed-token"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let expected = sentinel::ingestion_bodies(&fixtures::all(), sentinel::MAX_BODY_BYTES).unwrap();
    assert_eq!(vec![r.body.clone()], expected);
}

#[test]
fn sentinel_client_credentials_token_is_fetched_once_cached_and_renewed_after_a_401() {
    let dir = tempfile::tempdir().unwrap();
    let refuse_once = Arc::new(Mutex::new(true));
    let tokens_issued = Arc::new(Mutex::new(0u32));
    let (refuse, issued) = (Arc::clone(&refuse_once), Arc::clone(&tokens_issued));
    let receiver = HttpReceiver::start(move |r, _| {
        if r.target == "/tenant-1/oauth2/v2.0/token" {
            let mut n = issued.lock().unwrap();
            *n += 1;
            return Reply::status(
                200,
                &format!(r#"{{"token_type":"Bearer","expires_in":3599,"access_token":"tok-{n}"}}"#),
            );
        }
        // The first token is revoked after one use.
        if r.header("authorization") == Some("Bearer tok-1") && !*refuse.lock().unwrap() {
            return Reply::status(401, r#"{"error":{"code":"InvalidToken"}}"#);
        }
        *refuse.lock().unwrap() = false;
        Reply::status(204, "")
    });
    let oauth = OAuthConfig {
        token_url: Some(format!("{}/tenant-1/oauth2/v2.0/token", receiver.url())),
        tenant_id: None,
        client_id: "app-1234".into(),
        client_secret: Secret::new("s3cr3t value&more"),
        scope: "https://monitor.azure.com//.default".into(),
    };
    let d = start(
        dir.path(),
        vec![sink(
            "sentinel",
            sentinel_config(receiver.url(), None, Some(oauth)),
        )],
    );
    d.dispatch(&fixtures::sqli());
    assert!(wait_for(WAIT, || d.stats()[0].delivered == 1));
    d.dispatch(&fixtures::posture());
    assert!(wait_for(WAIT, || d.stats()[0].delivered == 2));
    let s = d.close().remove(0);
    assert_eq!((s.delivered, s.retried, s.dead_lettered), (2, 1, 0));

    let requests = receiver.requests();
    let targets: Vec<&str> = requests.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "/tenant-1/oauth2/v2.0/token",
            INGEST_PATH,
            INGEST_PATH,
            "/tenant-1/oauth2/v2.0/token",
            INGEST_PATH
        ]
    );
    let token_request = &requests[0];
    assert_eq!(
        token_request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        String::from_utf8(token_request.body.clone()).unwrap(),
        "grant_type=client_credentials&client_id=app-1234&client_secret=s3cr3t+value%26more\
         &scope=https%3A%2F%2Fmonitor.azure.com%2F%2F.default"
    );
    assert_eq!(requests[1].header("authorization"), Some("Bearer tok-1"));
    assert_eq!(requests[2].header("authorization"), Some("Bearer tok-1"));
    assert_eq!(requests[4].header("authorization"), Some("Bearer tok-2"));
}

#[test]
fn sentinel_token_endpoint_errors_do_not_reveal_the_client_secret() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = HttpReceiver::start(|_, _| {
        Reply::status(
            401,
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#,
        )
    });
    let oauth = OAuthConfig {
        token_url: Some(format!("{}/token", receiver.url())),
        tenant_id: None,
        client_id: "app-1234".into(),
        client_secret: Secret::new("very-secret-client-secret"),
        scope: "https://monitor.azure.com//.default".into(),
    };
    let d = start(
        dir.path(),
        vec![sink(
            "sentinel",
            sentinel_config(receiver.url(), None, Some(oauth)),
        )],
    );
    d.dispatch(&fixtures::sqli());
    let s = d.close().remove(0);
    assert_eq!(s.dead_lettered, 1);
    let raw = std::fs::read_to_string(dir.path().join("dead/sentinel.dead-letter.ndjson")).unwrap();
    assert!(
        raw.contains("OAuth token request: HTTP 401") && raw.contains("invalid_client"),
        "{raw}"
    );
    assert!(!raw.contains("very-secret-client-secret"));
}

fn elastic(url: String, basic: Option<(&str, &str)>, api_key: Option<&str>) -> TransportConfig {
    TransportConfig::Elastic(ElasticConfig {
        url,
        index: "gatewatch-findings".into(),
        action: BulkAction::Create,
        username: basic.map(|(u, _)| u.to_string()),
        password: basic.map(|(_, p)| Secret::new(p)),
        api_key: api_key.map(Secret::new),
        timeout_ms: 2_000,
        ca_file: None,
    })
}

#[test]
fn elastic_bulk_with_basic_auth_sends_the_ecs_ndjson() {
    let dir = tempfile::tempdir().unwrap();
    let receiver =
        HttpReceiver::start(|_, _| Reply::status(200, r#"{"took":3,"errors":false,"items":[]}"#));
    let d = start(
        dir.path(),
        vec![sink(
            "es",
            elastic(receiver.url(), Some(("elastic", "changeme")), None),
        )],
    );
    d.dispatch_all(&fixtures::all());
    assert_eq!(d.close()[0].delivered, 3);
    let r = &receiver.requests()[0];
    assert_eq!(r.target, "/_bulk");
    // base64("elastic:changeme")
    assert_eq!(
        r.header("authorization"),
        Some("Basic ZWxhc3RpYzpjaGFuZ2VtZQ==")
    );
    assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    let mut expected = Vec::new();
    write_bulk(
        &mut expected,
        &fixtures::all(),
        "gatewatch-findings",
        BulkAction::Create,
    )
    .unwrap();
    assert_eq!(r.body, expected);
}

#[test]
fn elastic_api_key_and_per_document_errors_are_retried_or_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = HttpReceiver::start(|r, n| {
        let docs = r.body.iter().filter(|b| **b == b'\n').count() / 2;
        if n == 0 {
            assert_eq!(docs, 3);
            return Reply::status(
                200,
                r#"{"errors":true,"items":[
                {"create":{"status":201}},
                {"create":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [gatewatch.count]"}}},
                {"create":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected execution"}}}]}"#,
            );
        }
        assert_eq!(docs, 1);
        Reply::status(
            200,
            r#"{"errors":false,"items":[{"create":{"status":201}}]}"#,
        )
    });
    let d = start(
        dir.path(),
        vec![sink(
            "es",
            elastic(
                receiver.url(),
                None,
                Some("VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="),
            ),
        )],
    );
    d.dispatch_all(&fixtures::all());
    let s = d.close().remove(0);
    assert_eq!((s.delivered, s.retried, s.dead_lettered), (2, 1, 1));
    let requests = receiver.requests();
    assert_eq!(
        requests[0].header("authorization"),
        Some("ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==")
    );
    let mut retried = Vec::new();
    write_bulk(
        &mut retried,
        &[fixtures::spike()],
        "gatewatch-findings",
        BulkAction::Create,
    )
    .unwrap();
    assert_eq!(requests[1].body, retried);
    let lines = dead_letters(dir.path(), "es");
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["finding"]["id"], "f-0192a3b4-unauth");
    assert!(
        lines[0]["reason"]
            .as_str()
            .unwrap()
            .contains("mapper_parsing_exception")
    );
}

#[test]
fn config_toml_parses_every_kind_rejects_typos_and_hides_secrets() {
    let text = r#"
dead_letter_dir = "/var/lib/gatewatch/dead-letter"
enqueue_timeout_ms = 500

[[sinks]]
name = "archive"
kind = "ndjson_file"
path = "/var/log/gatewatch/findings.ndjson"
max_bytes = 104857600
keep = 3

[[sinks]]
name = "console"
kind = "stdout"
format = "cef"

[[sinks]]
name = "soc-webhook"
kind = "webhook"
url = "https://hooks.example.com/gatewatch"
secret = "whsec_inline_secret"
filter = { min_severity = "high", kinds = ["threat"] }
retry = { attempts = 6, base_ms = 250, cap_ms = 60000 }

[[sinks]]
name = "qradar"
kind = "syslog"
address = "siem.example.com:6514"
protocol = "tls"
ca_file = "/etc/gatewatch/siem-ca.pem"

[[sinks]]
name = "splunk"
kind = "splunk_hec"
url = "https://splunk.example.com:8088"
token = "hec-token-inline"
index = "security"
event = "ocsf"

[[sinks]]
name = "sentinel"
kind = "sentinel"
endpoint = "https://gw-dce.westeurope-1.ingest.monitor.azure.com"
dcr_immutable_id = "dcr-0123456789abcdef0123456789abcdef"
[sinks.oauth]
tenant_id = "00000000-0000-0000-0000-000000000000"
client_id = "11111111-1111-1111-1111-111111111111"
client_secret = "entra-client-secret"
[sinks.filter]
rule_ids = ["GW-T-*"]

[[sinks]]
name = "elastic"
kind = "elastic"
url = "https://es.example.com:9200"
action = "create"
api_key = "es-api-key"
"#;
    let config: DeliveryConfig = toml::from_str(text).unwrap();
    config.validate().unwrap();
    let kinds: Vec<&str> = config.sinks.iter().map(|s| s.transport.kind()).collect();
    assert_eq!(
        kinds,
        [
            "ndjson_file",
            "stdout",
            "webhook",
            "syslog",
            "splunk_hec",
            "sentinel",
            "elastic"
        ]
    );
    assert_eq!(config.sinks[2].retry.attempts, 6);
    assert_eq!(
        config.sinks[2].filter.min_severity,
        gw_model::Severity::High
    );
    assert_eq!(config.sinks[5].filter.rule_ids, ["GW-T-*"]);
    let TransportConfig::Sentinel(s) = &config.sinks[5].transport else {
        panic!("sentinel");
    };
    assert_eq!(
        s.oauth.as_ref().unwrap().token_url().unwrap(),
        "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/oauth2/v2.0/token"
    );
    assert_eq!(s.stream, "Custom-GatewatchFindings_CL");

    let secrets = [
        "whsec_inline_secret",
        "hec-token-inline",
        "entra-client-secret",
        "es-api-key",
    ];
    let debug = format!("{config:?}");
    let shown = toml::to_string(&config).unwrap();
    for secret in secrets {
        assert!(!debug.contains(secret), "Debug shows {secret}");
        assert!(!shown.contains(secret), "serialized config shows {secret}");
    }

    let typo = text.replace("max_bytes = 104857600", "max_byte = 104857600");
    let err = toml::from_str::<DeliveryConfig>(&typo)
        .unwrap_err()
        .to_string();
    assert!(err.contains("max_byte"), "{err}");
    let unknown = text.replace("kind = \"stdout\"", "kind = \"stdot\"");
    assert!(toml::from_str::<DeliveryConfig>(&unknown).is_err());
}

#[test]
fn invalid_configs_are_rejected_at_start_naming_the_sink() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(SinkConfig, &str)> = vec![
        (
            sink("a b", webhook("http://x".into(), None)),
            "letters, digits",
        ),
        (
            sink("w", webhook("ftp://x".into(), None)),
            "must start with http",
        ),
        (
            sink("s", sentinel_config("http://x".into(), None, None)),
            "exactly one of bearer_token",
        ),
        (
            sink(
                "tls",
                syslog(
                    "127.0.0.1:1".into(),
                    SyslogProtocol::Tls,
                    Some(&dir.path().join("none.pem")),
                ),
            ),
            "none.pem",
        ),
    ];
    for (config, expected) in cases {
        let name = config.name.clone();
        let delivery = DeliveryConfig {
            dead_letter_dir: dir.path().join("dead"),
            sinks: vec![config],
            ..DeliveryConfig::default()
        };
        let err = Dispatcher::start(&delivery, &producer())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains(&format!("sink {name:?}")) && err.contains(expected),
            "{err}"
        );
    }
    let twice = DeliveryConfig {
        dead_letter_dir: dir.path().join("dead"),
        sinks: vec![
            sink("same", webhook("http://x".into(), None)),
            sink("same", webhook("http://y".into(), None)),
        ],
        ..DeliveryConfig::default()
    };
    let err = Dispatcher::start(&twice, &producer())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("two sinks"), "{err}");
}

#[test]
fn syslog_tcp_reconnects_when_the_collector_closed_the_connection() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let messages = expected_messages();
    let first = octet_counted(&messages[0]);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let dropped = Arc::new(Mutex::new(false));
    let flag = Arc::clone(&dropped);
    let expected_first = first.len();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut got = vec![0u8; expected_first];
        conn.read_exact(&mut got).unwrap();
        drop(conn);
        *flag.lock().unwrap() = true;
        let (mut conn, _) = listener.accept().unwrap();
        let mut rest = Vec::new();
        conn.read_to_end(&mut rest).unwrap();
        (got, rest)
    });
    let d = start(
        dir.path(),
        vec![sink(
            "tcp",
            syslog(addr.to_string(), SyslogProtocol::Tcp, None),
        )],
    );
    d.dispatch(&fixtures::sqli());
    assert!(wait_for(WAIT, || *dropped.lock().unwrap()));
    // Let the FIN arrive.
    std::thread::sleep(Duration::from_millis(50));
    d.dispatch(&fixtures::posture());
    let s = d.close().remove(0);
    assert_eq!((s.delivered, s.dead_lettered), (2, 0));
    // Unblocks the server's second accept if the sink never reconnected (then `rest` is empty).
    let _ = std::net::TcpStream::connect(addr);
    let (got, rest) = server.join().unwrap();
    assert_eq!(got, first);
    assert_eq!(rest, octet_counted(&messages[1]));
}

#[test]
fn stats_count_failed_attempts_and_the_last_success_and_a_monitor_outlives_the_dispatcher() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = HttpReceiver::start(|_, n| {
        if n < 2 {
            Reply::status(503, "busy")
        } else {
            Reply::status(200, "")
        }
    });
    let mut config = sink("hook", webhook(receiver.url(), None));
    config.retry = quick_retry(5);
    config.queue_capacity = 64;
    let d = start(dir.path(), vec![config]);
    let monitor = d.monitor();
    let before = monitor.stats().remove(0);
    assert_eq!(
        (before.delivered, before.failed, before.queue_capacity),
        (0, 0, 64)
    );
    assert_eq!(before.last_delivered_at, None);
    let sent = jiff::Timestamp::now();
    d.dispatch_all(&fixtures::all());
    let closed = d.close().remove(0);
    // One batch of three findings failed twice, then went through.
    assert_eq!(
        (
            closed.delivered,
            closed.failed,
            closed.retried,
            closed.queued
        ),
        (3, 6, 6, 0)
    );
    let at = closed.last_delivered_at.expect("a delivery happened");
    assert!(at >= sent && at <= jiff::Timestamp::now(), "{at}");
    assert_eq!(
        monitor.stats(),
        vec![closed],
        "the monitor shows the final counters"
    );
}

#[test]
fn closing_a_shared_dispatcher_while_another_handle_lives_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = HttpReceiver::start(|_, _| Reply::status(200, ""));
    let d = Arc::new(start(
        dir.path(),
        vec![sink("hook", webhook(receiver.url(), None))],
    ));
    let session = Arc::clone(&d);
    let err = Dispatcher::close_shared(d).unwrap_err().to_string();
    assert!(
        err.contains("1 other handle(s)") && err.contains("still alive"),
        "{err}"
    );
    session.dispatch(&fixtures::sqli());
    let stats = Dispatcher::close_shared(session).unwrap();
    assert_eq!(only(&stats).delivered, 1);
}

/// Dead-letters `findings` for the webhook sink `hook` (whose receiver answers 500, two
/// attempts each) and returns the dead-letter file.
fn dead_letter_through_a_failing_webhook(dir: &Path, findings: &[Finding]) -> std::path::PathBuf {
    let failing = HttpReceiver::start(|_, _| Reply::status(500, "down"));
    let mut config = sink("hook", webhook(failing.url(), Some("whsec_replay")));
    config.retry = quick_retry(2);
    let d = start(dir, vec![config]);
    d.dispatch_all(findings);
    assert_eq!(only(&d.close()).dead_lettered, findings.len() as u64);
    dir.join("dead/hook.dead-letter.ndjson")
}

/// The delivery config of a replay: sink `hook` sending one finding per request to `url`.
fn replay_config(dir: &Path, url: String) -> DeliveryConfig {
    let mut config = sink("hook", webhook(url, Some("whsec_replay")));
    config.batch_max = Some(1);
    DeliveryConfig {
        dead_letter_dir: dir.join("dead"),
        sinks: vec![config],
        ..DeliveryConfig::default()
    }
}

fn replay(config: &DeliveryConfig, path: &Path, options: &ReplayOptions) -> ReplayReport {
    replay_dead_letters(config, &producer(), path, options).unwrap()
}

#[test]
fn replay_resends_signed_keeps_what_fails_again_and_never_drops_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dead_letter_through_a_failing_webhook(dir.path(), &fixtures::all());
    let original = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    assert_eq!(lines.len(), 3);
    // Line 4 names a sink that is no longer configured; line 5 is blank (dropped); line 6 is
    // not JSON; line 7 lacks its newline.
    let gone = lines[0].replace(r#""sink":"hook""#, r#""sink":"gone""#);
    let truncated = &lines[1][..40];
    std::fs::write(
        &path,
        format!("{original}{gone}\n\nnot json at all\n{truncated}"),
    )
    .unwrap();

    let spike_id = fixtures::spike().id;
    let receiver = HttpReceiver::start(move |r, _| {
        if String::from_utf8_lossy(&r.body).contains(&spike_id) {
            Reply::status(503, "spike sink full")
        } else {
            Reply::status(204, "")
        }
    });
    let config = replay_config(dir.path(), receiver.url());
    let report = replay(&config, &path, &ReplayOptions::default());

    assert_eq!(
        report.replayed,
        std::collections::BTreeMap::from([("hook".to_string(), 2)])
    );
    assert_eq!(report.failed.len(), 1);
    let failed = &report.failed[0];
    assert_eq!(
        (failed.line, failed.finding_id.as_str(), failed.attempts),
        (3, "f-0192a3b4-spike", 3)
    );
    assert!(
        failed.reason.starts_with("replay: HTTP 503") && failed.reason.contains("spike sink full"),
        "{}",
        failed.reason
    );
    assert_eq!(report.unknown_sink.len(), 1);
    assert_eq!(
        (
            report.unknown_sink[0].line,
            report.unknown_sink[0].sink.as_str()
        ),
        (4, "gone")
    );
    let malformed: Vec<usize> = report.malformed.iter().map(|m| m.line).collect();
    assert_eq!(malformed, [6, 7]);
    assert!(report.needs_attention());

    // Every finding was sent, one per request, in the live format and signed.
    let requests = receiver.requests();
    let now = jiff::Timestamp::now().as_second();
    let mut sent = Vec::new();
    for r in &requests {
        verify_webhook(
            b"whsec_replay",
            r.header(SIGNATURE_HEADER).unwrap(),
            &r.body,
            now,
            60,
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        let findings: Vec<Finding> = serde_json::from_value(v["findings"].clone()).unwrap();
        assert_eq!(r.body, webhook_body(&findings).unwrap());
        sent.extend(findings);
    }
    assert_eq!(sent, fixtures::all());

    // What stays: the spike with one more attempt, then the other lines byte for byte.
    let after = std::fs::read_to_string(&path).unwrap();
    let kept: Vec<&str> = after.lines().collect();
    assert_eq!(kept.len(), 4, "{after}");
    let spike: Value = serde_json::from_str(kept[0]).unwrap();
    assert_eq!(spike["attempts"], 3);
    assert_eq!(spike["sink"], "hook");
    assert_eq!(spike["kind"], "webhook");
    assert!(
        spike["reason"]
            .as_str()
            .unwrap()
            .contains("spike sink full")
    );
    let spike_finding: Finding = serde_json::from_value(spike["finding"].clone()).unwrap();
    assert_eq!(spike_finding, fixtures::spike());
    assert_eq!(&kept[1..], [gone.as_str(), "not json at all", truncated]);
    assert!(after.ends_with('\n'));

    // Once the receiver takes it, the spike leaves too; the lines that need a look stay.
    let healthy = HttpReceiver::start(|_, _| Reply::status(200, ""));
    let report = replay(
        &replay_config(dir.path(), healthy.url()),
        &path,
        &ReplayOptions::default(),
    );
    assert_eq!(report.replayed_total(), 1);
    assert!(report.failed.is_empty());
    let left = std::fs::read_to_string(&path).unwrap();
    assert_eq!(left, format!("{gone}\nnot json at all\n{truncated}\n"));
    let scan = scan_dead_letters(&path).unwrap();
    assert_eq!(
        scan.by_sink,
        std::collections::BTreeMap::from([("gone".to_string(), 1)])
    );
    assert_eq!(scan.malformed.len(), 2);
}

#[test]
fn replay_dry_run_and_sink_selection_send_only_what_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dead_letter_through_a_failing_webhook(dir.path(), &fixtures::all());
    let before = std::fs::read(&path).unwrap();
    let receiver = HttpReceiver::start(|_, _| Reply::status(200, ""));
    let mut config = replay_config(dir.path(), receiver.url());
    config
        .sinks
        .push(sink("other", webhook(receiver.url(), None)));

    let dry = ReplayOptions {
        sink: None,
        dry_run: true,
    };
    let report = replay(&config, &path, &dry);
    assert_eq!(
        report.replayed,
        std::collections::BTreeMap::from([("hook".to_string(), 3)])
    );
    assert!(receiver.requests().is_empty());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "a dry run changes nothing"
    );

    let only_other = ReplayOptions {
        sink: Some("other".into()),
        dry_run: false,
    };
    let report = replay(&config, &path, &only_other);
    assert_eq!((report.replayed_total(), report.other_sinks), (0, 3));
    assert!(receiver.requests().is_empty());
    assert_eq!(std::fs::read(&path).unwrap(), before);

    let unknown = ReplayOptions {
        sink: Some("nope".into()),
        dry_run: false,
    };
    let err = replay_dead_letters(&config, &producer(), &path, &unknown)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"nope\"") && err.contains("hook, other"),
        "{err}"
    );

    let missing = replay(
        &config,
        &dir.path().join("none.ndjson"),
        &ReplayOptions::default(),
    );
    assert_eq!(missing.replayed_total(), 0);
}

#[test]
fn lines_dead_lettered_while_a_replay_sends_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dead_letter_through_a_failing_webhook(dir.path(), &[fixtures::sqli()]);
    let late = dead_letters(dir.path(), "hook")[0]
        .to_string()
        .replace("sqli", "late");
    let file = path.clone();
    let appended = late.clone();
    // The receiver appends a line the way a running dispatcher would, while the replay waits
    // for its answer.
    let receiver = HttpReceiver::start(move |_, _| {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .unwrap();
        writeln!(f, "{appended}").unwrap();
        Reply::status(200, "")
    });
    let report = replay(
        &replay_config(dir.path(), receiver.url()),
        &path,
        &ReplayOptions::default(),
    );
    assert_eq!((report.replayed_total(), report.appended_meanwhile), (1, 1));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{late}\n"));
}
