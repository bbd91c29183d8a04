//! The real-world samples in `/work/shared/data/traffic` (read in place, never copied): the
//! Apache combined log and the HAR exports of browsers, proxies and mitmproxy's test data,
//! including its deliberately broken files.

use std::path::{Path, PathBuf};

use gw_ingest::{DecodeError, Emit, FormatChoice, Limits, RejectReason, decode_input, open_input};
use gw_model::{BodyEncoding, Capture, Exchange, SourceKind};

fn traffic() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/traffic")
}

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

fn decode(
    path: &Path,
    choice: FormatChoice,
) -> Result<(SourceKind, Collected), gw_ingest::InputError> {
    let input = open_input(path.to_str().unwrap())?;
    let mut out = Collected::default();
    let stats = decode_input(input, choice, &Limits::default(), &mut out)?;
    Ok((stats.format, out))
}

#[test]
fn apache_combined_log_decodes_in_full() {
    let path = traffic().join("apache_logs/apache_logs.first2000.log");
    let (format, out) = decode(&path, FormatChoice::Auto).unwrap();
    assert_eq!(format, SourceKind::NginxCombined);
    println!(
        "apache_logs.first2000.log: {} records, {} rejects",
        out.records.len(),
        out.rejects.len()
    );
    assert_eq!(out.records.len(), 2000, "{:?}", out.rejects.first());
    assert!(out.rejects.is_empty());

    let first = &out.records[0];
    assert_eq!(first.observed_at.to_string(), "2015-05-17T10:05:03Z");
    assert_eq!(first.client.ip, Some("83.149.9.216".parse().unwrap()));
    assert_eq!(first.request.method, "GET");
    assert_eq!(
        first.request.path,
        "/presentations/logstash-monitorama-2013/images/kibana-search.png"
    );
    assert_eq!(first.request.http_version.as_deref(), Some("1.1"));
    assert_eq!(first.response.status, Some(200));
    assert_eq!(
        first.response.body.as_ref().and_then(|b| b.size),
        Some(203023)
    );
    assert_eq!(first.source.capture, Capture::AccessLog);
    assert_eq!(first.server.host, None);
    assert!(
        first
            .client
            .user_agent
            .as_deref()
            .unwrap()
            .starts_with("Mozilla/5.0 (Macintosh")
    );

    // Every record is complete enough for the pipeline, and ids never collide.
    let mut ids: Vec<&str> = out.records.iter().map(|x| x.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 2000);
    assert!(
        out.records
            .iter()
            .all(|x| x.client.ip.is_some() && x.response.status.is_some())
    );
    let methods: std::collections::BTreeSet<&str> = out
        .records
        .iter()
        .map(|x| x.request.method.as_str())
        .collect();
    assert_eq!(methods.into_iter().collect::<Vec<_>>(), ["GET", "HEAD"]);
    let v10 = out
        .records
        .iter()
        .filter(|x| x.request.http_version.as_deref() == Some("1.0"))
        .count();
    assert_eq!(v10, 255);
    let with_query = out
        .records
        .iter()
        .filter(|x| x.request.query.is_some())
        .count();
    println!("  HTTP/1.0: {v10}, with a query: {with_query}");
    // The same file read with the explicit format gives the same records.
    let (_, explicit) = decode(&path, FormatChoice::Kind(SourceKind::NginxCombined)).unwrap();
    assert_eq!(explicit.records, out.records);
}

/// (file, entries decoded, entries rejected)
const HAR_FILES: &[(&str, usize, usize)] = &[
    ("flows/corrupted_gzip_body.har", 1, 0),
    ("flows/diff_data.har", 5, 0),
    ("flows/error_log.har", 2, 0),
    ("flows/event_stream.har", 2, 0),
    ("flows/incomplete_log.har", 4, 0),
    ("flows/successful_log.har", 2, 0),
    ("flows/websocket.har", 3, 0),
    ("har_files/charles.har", 1, 0),
    ("har_files/chrome.har", 3, 0),
    ("har_files/firefox.har", 14, 0),
    ("har_files/head-content-length.har", 1, 0),
    ("har_files/insomnia.har", 1, 0),
    ("har_files/postdata.har", 1, 0),
    ("har_files/safari.har", 19, 0),
    ("har_files/with-bom.har", 1, 0),
];

#[test]
fn har_exports_decode_every_entry() {
    let root = traffic().join("har");
    for (file, decoded, rejected) in HAR_FILES {
        let path = root.join(file);
        let (format, out) =
            decode(&path, FormatChoice::Auto).unwrap_or_else(|e| panic!("{file}: {e}"));
        println!(
            "{file}: {} decoded, {} rejected",
            out.records.len(),
            out.rejects.len()
        );
        assert_eq!(format, SourceKind::Har, "{file}");
        assert_eq!(
            (out.records.len(), out.rejects.len()),
            (*decoded, *rejected),
            "{file}: {:?}",
            out.rejects
        );
        for x in &out.records {
            assert_eq!(x.source.capture, Capture::Archive);
            assert!(
                x.request.path.starts_with('/'),
                "{file}: {}",
                x.request.path
            );
            assert!(x.server.host.is_some(), "{file}");
            for h in x
                .request
                .headers
                .iter()
                .flatten()
                .chain(x.response.headers.iter().flatten())
            {
                assert_eq!(h.name, h.name.to_ascii_lowercase());
            }
            for b in [&x.request.body, &x.response.body].into_iter().flatten() {
                assert_eq!(b.truncated, b.size.is_some_and(|s| b.captured < s));
            }
        }
    }
}

#[test]
fn har_quirks_are_read_as_documented() {
    let root = traffic().join("har");
    // Base64 bodies count decoded bytes; the stored gzip stream is not touched.
    let (_, out) = decode(
        &root.join("flows/corrupted_gzip_body.har"),
        FormatChoice::Auto,
    )
    .unwrap();
    let body = out.records[0].response.body.clone().unwrap();
    assert_eq!(
        (body.encoding, body.captured, body.size),
        (BodyEncoding::Base64, 24, Some(24))
    );
    // Requests that got no response: status 0 reads as unknown.
    let (_, out) = decode(&root.join("flows/incomplete_log.har"), FormatChoice::Auto).unwrap();
    assert!(out.records.iter().all(|x| x.response.status.is_none()));
    // WebSocket upgrades keep their messages in extra.
    let (_, out) = decode(&root.join("flows/websocket.har"), FormatChoice::Auto).unwrap();
    assert_eq!(out.records[0].response.status, Some(101));
    assert!(out.records[0].extra.contains_key("har._webSocketMessages"));
    // A BOM does not hide the document.
    let (_, out) = decode(&root.join("har_files/with-bom.har"), FormatChoice::Auto).unwrap();
    assert_eq!(out.records[0].request.method, "POST");
    assert!(
        out.records[0]
            .request
            .body
            .as_ref()
            .is_some_and(|b| b.captured > 0)
    );
    // Chrome's h3 and http/2.0 spellings.
    let (_, out) = decode(&root.join("har_files/chrome.har"), FormatChoice::Auto).unwrap();
    let versions: Vec<_> = out
        .records
        .iter()
        .map(|x| x.request.http_version.as_deref())
        .collect();
    assert_eq!(versions, [Some("2"), None, Some("3")]);
}

#[test]
fn corrupted_har_files_are_rejected_clearly() {
    let root = traffic().join("har");
    // Not JSON at all: auto-detection still sees a HAR (`{"log": ...`) and rejects it once,
    // naming the line where the document breaks.
    let (format, out) = decode(
        &root.join("corrupted_har/brokenfile.har"),
        FormatChoice::Auto,
    )
    .unwrap();
    assert_eq!(format, SourceKind::Har);
    assert!(out.records.is_empty());
    assert_eq!(out.rejects.len(), 1);
    let e = &out.rejects[0];
    println!("brokenfile.har: {e} (line {:?})", e.line);
    assert_eq!((e.reason, e.line), (RejectReason::InvalidJson, Some(5)));

    // JSON, but no HAR: not recognised automatically; read as HAR it is one reject naming `log`.
    let broken = root.join("corrupted_har/broken_headers.json");
    assert!(matches!(
        decode(&broken, FormatChoice::Auto),
        Err(gw_ingest::InputError::UnknownFormat { .. })
    ));
    let (_, out) = decode(&broken, FormatChoice::Kind(SourceKind::Har)).unwrap();
    let e = &out.rejects[0];
    println!("broken_headers.json: {e}");
    assert_eq!(
        (e.reason, e.field.as_deref()),
        (RejectReason::MissingField, Some("log"))
    );
    assert!(e.message.contains("found headers"), "{e}");

    // mitmproxy's test fixture wraps a HAR in {"test_response": ...}: not a HAR document.
    let (_, out) = decode(
        &root.join("har_extractor.har"),
        FormatChoice::Kind(SourceKind::Har),
    )
    .unwrap();
    println!("har_extractor.har: {}", out.rejects[0]);
    assert_eq!(out.rejects[0].field.as_deref(), Some("log"));
}
