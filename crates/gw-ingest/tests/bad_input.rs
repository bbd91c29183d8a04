//! Every class of bad input, for every format of this file: the good records around a bad one
//! survive, each bad one is a reject with a reason, and nothing panics or aborts the input.

use gw_ingest::{DecodeError, Emit, FormatChoice, Input, Limits, RejectReason, decode_input};
use gw_model::{Exchange, SourceKind};

#[derive(Default)]
struct Collected {
    records: Vec<Exchange>,
    rejects: Vec<DecodeError>,
}

impl Emit for Collected {
    fn record(&mut self, x: Exchange) {
        self.records.push(x);
    }
    fn reject(&mut self, err: DecodeError, _raw: &[u8]) {
        self.rejects.push(err);
    }
}

fn run(kind: SourceKind, bytes: Vec<u8>, limits: &Limits) -> Collected {
    let input = Input::from_reader("bad.log", std::io::Cursor::new(bytes)).unwrap();
    let mut out = Collected::default();
    let stats = decode_input(input, FormatChoice::Kind(kind), limits, &mut out).unwrap();
    assert_eq!(stats.format, kind);
    out
}

const ENVOY: &str = r#"{"start_time":"2024-06-10T09:13:20.123Z","route_name":"orders","method":"POST","path":"/v1/orders","protocol":"HTTP/1.1","response_code":201,"response_flags":"-","bytes_received":27,"bytes_sent":96,"duration":38,"upstream_cluster":"orders","downstream_remote_address":"203.0.113.45:51544"}"#;
const NGINX_JSON: &str = r#"{"time":"2024-06-10T09:13:20+00:00","remote_addr":"10.0.0.12","method":"GET","request_uri":"/v1/orders/1042?expand=items","status":200,"body_bytes_sent":1877,"request_time":0.045,"upstream_addr":"10.1.4.17:8080"}"#;
const TRAEFIK: &str = r#"{"ClientHost":"203.0.113.45","DownstreamStatus":200,"Duration":45123000,"RequestMethod":"GET","RequestPath":"/v1/orders/1042?expand=items","RouterName":"orders@docker","StartUTC":"2024-06-10T09:13:20.123456789Z"}"#;
const COMBINED: &str = r#"203.0.113.45 - - [10/Jun/2024:09:13:20 +0000] "GET /v1/orders/1042?expand=items HTTP/1.1" 200 1877 "-" "okhttp/4.12.0""#;

/// A line of the format whose only fault is a field of the wrong type.
fn wrong_type(kind: SourceKind) -> (String, &'static str) {
    match kind {
        SourceKind::EnvoyJson => (
            ENVOY.replace("\"response_code\":201", "\"response_code\":\"abc\""),
            "response_code",
        ),
        SourceKind::NginxJson => (
            NGINX_JSON.replace("\"status\":200", "\"status\":[200]"),
            "status",
        ),
        SourceKind::TraefikJson => (
            TRAEFIK.replace("\"Duration\":45123000", "\"Duration\":{}"),
            "Duration",
        ),
        SourceKind::NginxCombined => (
            COMBINED.replace(" 200 1877 ", " 200 lots "),
            "body_bytes_sent",
        ),
        other => unreachable!("{other}"),
    }
}

fn line_formats() -> [(SourceKind, &'static str); 4] {
    [
        (SourceKind::EnvoyJson, ENVOY),
        (SourceKind::NginxJson, NGINX_JSON),
        (SourceKind::TraefikJson, TRAEFIK),
        (SourceKind::NginxCombined, COMBINED),
    ]
}

#[test]
fn every_bad_line_is_rejected_alone() {
    let limits = Limits {
        max_line_bytes: 4096,
        ..Limits::default()
    };
    for (kind, good) in line_formats() {
        let (typed, field) = wrong_type(kind);
        let mut input = Vec::new();
        input.extend_from_slice(good.as_bytes());
        input.push(b'\n');
        // 2: truncated mid-record
        input.extend_from_slice(&good.as_bytes()[..good.len() / 2]);
        input.push(b'\n');
        // 3: wrong type
        input.extend_from_slice(typed.as_bytes());
        input.push(b'\n');
        // 4: garbage bytes, invalid UTF-8
        input.extend_from_slice(b"\x00\xff\xfe\x16\x03\x01garbage\xc3\x28");
        input.push(b'\n');
        // 5: valid record with invalid UTF-8 inside a string
        input.extend_from_slice(
            &good
                .as_bytes()
                .iter()
                .map(|&b| if b == b'T' { 0xC0 } else { b })
                .collect::<Vec<u8>>(),
        );
        input.extend_from_slice(b"\r\n");
        // 6: longer than the line limit
        input.extend_from_slice(good.as_bytes());
        input.extend(std::iter::repeat_n(b' ', 5000));
        input.push(b'\n');
        // 7: blank, skipped
        input.extend_from_slice(b"   \n");
        // 8: good again, without a final newline
        input.extend_from_slice(good.as_bytes());

        let out = run(kind, input, &limits);
        assert_eq!(out.records.len(), 2, "{kind}: {:?}", out.rejects);
        let refs: Vec<_> = out
            .records
            .iter()
            .map(|x| x.source.raw_ref.clone().unwrap())
            .collect();
        assert_eq!(refs, ["bad.log:1", "bad.log:8"], "{kind}");
        assert_eq!(out.rejects.len(), 5, "{kind}: {:?}", out.rejects);
        assert_eq!(
            out.rejects[1].field.as_deref(),
            Some(field),
            "{kind}: {}",
            out.rejects[1]
        );
        assert_eq!(out.rejects[1].reason, RejectReason::BadField, "{kind}");
        let utf8 = [RejectReason::InvalidUtf8, RejectReason::InvalidJson];
        assert!(
            utf8.contains(&out.rejects[2].reason),
            "{kind}: {}",
            out.rejects[2]
        );
        assert!(
            utf8.contains(&out.rejects[3].reason),
            "{kind}: {}",
            out.rejects[3]
        );
        assert_eq!(out.rejects[4].reason, RejectReason::TooLarge, "{kind}");
        for (e, line) in out.rejects[..4].iter().zip([2, 3, 4, 5]) {
            assert_eq!(e.line, Some(line), "{kind}: {e}");
            assert!(!e.message.is_empty());
        }
        // Records of a line format all have distinct ids.
        assert_ne!(out.records[0].id, out.records[1].id);
    }
}

#[test]
fn empty_inputs_decode_to_nothing() {
    for kind in [
        SourceKind::EnvoyJson,
        SourceKind::NginxJson,
        SourceKind::TraefikJson,
        SourceKind::NginxCombined,
        SourceKind::Har,
    ] {
        for empty in [&b""[..], b"\n\n", b"\xEF\xBB\xBF"] {
            let out = run(kind, empty.to_vec(), &Limits::default());
            assert!(
                out.records.is_empty() && out.rejects.is_empty(),
                "{kind}: {:?}",
                out.rejects
            );
        }
    }
}

const HAR_ENTRY: &str = r#"{"startedDateTime":"2024-06-10T09:13:20.123Z","time":45,"request":{"method":"GET","url":"https://api.example.com/v1/orders?x=1","httpVersion":"HTTP/1.1","headers":[{"name":"Accept","value":"*/*"}],"headersSize":-1,"bodySize":0},"response":{"status":200,"headers":[],"content":{"size":2,"mimeType":"application/json","text":"{}"},"headersSize":-1,"bodySize":2}}"#;

fn har(entries: &[&str]) -> Vec<u8> {
    format!(
        r#"{{"log":{{"version":"1.2","creator":{{"name":"t","version":"1"}},"entries":[{}]}}}}"#,
        entries.join(",\n")
    )
    .into_bytes()
}

#[test]
fn a_bad_har_entry_loses_only_itself() {
    // (A truncated entry makes the whole document invalid JSON: see the next test.)
    let wrong_type = HAR_ENTRY.replace("\"status\":200", "\"status\":\"OK\"");
    let bad_time = HAR_ENTRY.replace("2024-06-10T09:13:20.123Z", "yesterday");
    let no_method = HAR_ENTRY.replace("\"method\":\"GET\",", "");
    let binary_method = HAR_ENTRY.replace("\"method\":\"GET\"", "\"method\":\"\\u0016\\u0003\"");
    let doc = har(&[
        HAR_ENTRY,
        &wrong_type,
        "null",
        &bad_time,
        "[]",
        &no_method,
        &binary_method,
        HAR_ENTRY,
    ]);
    let out = run(SourceKind::Har, doc, &Limits::default());
    assert_eq!(out.records.len(), 2);
    let entries: Vec<_> = out
        .rejects
        .iter()
        .map(|e| e.entry.clone().unwrap())
        .collect();
    assert_eq!(
        entries,
        [
            "log.entries[1]",
            "log.entries[2]",
            "log.entries[3]",
            "log.entries[4]",
            "log.entries[5]",
            "log.entries[6]"
        ]
    );
    let fields: Vec<_> = out.rejects.iter().map(|e| e.field.as_deref()).collect();
    assert_eq!(
        fields,
        [
            Some("response.status"),
            None,
            Some("startedDateTime"),
            None,
            Some("request.method"),
            Some("request.method")
        ]
    );
    for (e, line) in out.rejects.iter().zip(2..) {
        assert_eq!(e.line, Some(line), "{e}");
    }
}

#[test]
fn broken_har_documents_are_one_reject_each() {
    let limits = Limits::default();
    let cases: [(Vec<u8>, RejectReason); 5] = [
        (har(&[HAR_ENTRY])[..200].to_vec(), RejectReason::InvalidJson),
        (
            b"\x00\xff\xfe garbage \xc3\x28".to_vec(),
            RejectReason::InvalidJson,
        ),
        (
            br#"{"log":{"entries":{}}}"#.to_vec(),
            RejectReason::BadField,
        ),
        (
            br#"{"log":{"version":"1.2"}}"#.to_vec(),
            RejectReason::MissingField,
        ),
        (b"[1,2,3]".to_vec(), RejectReason::Malformed),
    ];
    for (doc, reason) in cases {
        let out = run(SourceKind::Har, doc, &limits);
        assert!(out.records.is_empty());
        assert_eq!(out.rejects.len(), 1);
        assert_eq!(out.rejects[0].reason, reason, "{}", out.rejects[0]);
    }
    // A document over the limit is an input error, not a panic or a partial read.
    let limits = Limits {
        max_document_bytes: 100,
        ..Limits::default()
    };
    let input = Input::from_reader(
        "big.har",
        std::io::Cursor::new(har(&[HAR_ENTRY, HAR_ENTRY])),
    )
    .unwrap();
    let err = decode_input(
        input,
        FormatChoice::Kind(SourceKind::Har),
        &limits,
        &mut Collected::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("100-byte limit"), "{err}");
}
