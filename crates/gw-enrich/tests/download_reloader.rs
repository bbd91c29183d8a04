//! List download against a local HTTP server (no outside network), and the reloader thread:
//! change polling, on-demand trigger, scheduled download, and failures that keep the old list.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gw_enrich::{
    IntelHandle, IntelListConfig, ListCategory, ReloaderStatus, download_list, spawn_reloader,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A one-route-per-path HTTP/1.1 server on 127.0.0.1 answering every request with
/// `Connection: close`; returns the base URL.
fn serve(routes: Vec<(&'static str, u16, &'static str, String)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("/");
            let (status, ctype, body) = routes.iter().find(|(p, ..)| *p == path).map_or(
                (404, "text/plain", "not found".to_string()),
                |(_, s, c, b)| (*s, *c, b.clone()),
            );
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    base
}

fn list_config(path: &Path, url: String) -> IntelListConfig {
    let mut c = IntelListConfig::new("feed", path, ListCategory::Malicious);
    c.url = Some(url);
    c
}

const OLD: &str = "# old\n198.51.100.1\n";

#[test]
fn a_good_download_replaces_the_list_and_bad_ones_keep_it() {
    let base = serve(vec![
        (
            "/good",
            200,
            "text/plain",
            "# feed\n203.0.113.0/24\n192.0.2.7\n".into(),
        ),
        (
            "/portal",
            200,
            "text/html; charset=utf-8",
            "<!DOCTYPE html><html><body>Sign in</body></html>".into(),
        ),
        (
            "/html-as-text",
            200,
            "text/plain",
            "\n<html><body>oops</body></html>".into(),
        ),
        ("/garbage", 200, "text/plain", "hello\nworld\n".into()),
        ("/error", 503, "text/plain", "busy".into()),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feed.ipset");

    for (route, why) in [
        ("/portal", "HTML page"),
        ("/html-as-text", "HTML page"),
        ("/garbage", "fewer than the 1 required"),
        ("/error", "HTTP status 503"),
        ("/missing", "HTTP status 404"),
    ] {
        std::fs::write(&path, OLD).unwrap();
        let err = download_list(
            &list_config(&path, format!("{base}{route}")),
            Duration::from_secs(5),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(why) && err.contains("\"feed\""),
            "{route}: {err}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), OLD, "{route}");
    }
    // Nothing listens on port 9 of localhost: a connection failure keeps the file too.
    let err = download_list(
        &list_config(&path, "http://127.0.0.1:9/x".into()),
        Duration::from_secs(5),
    )
    .unwrap_err();
    assert!(err.to_string().contains("request failed"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), OLD);

    // A minimum above what the feed holds rejects it.
    let mut strict = list_config(&path, format!("{base}/good"));
    strict.min_entries = Some(3);
    assert!(download_list(&strict, Duration::from_secs(5)).is_err());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), OLD);

    let report = download_list(
        &list_config(&path, format!("{base}/good")),
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(report.prefixes, 2);
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("192.0.2.7")
    );
    // No temporary file is left beside the list.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_reloader_polls_for_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c2.ipset");
    std::fs::write(&path, OLD).unwrap();
    let handle = Arc::new(
        IntelHandle::load(vec![IntelListConfig::new(
            "c2",
            &path,
            ListCategory::Malicious,
        )])
        .unwrap(),
    );
    let reloader = spawn_reloader(Arc::clone(&handle), Duration::from_millis(20)).unwrap();
    std::fs::write(&path, "# new\n203.0.113.0/24\n203.0.113.9\n").unwrap();
    wait_for("the change to be loaded", || {
        handle.current().lookup(ip("203.0.113.9")).is_some()
    });
    assert!(handle.current().lookup(ip("198.51.100.1")).is_none());
    // The new set is published before the reloader thread counts the reload.
    wait_for("the reload to be counted", || {
        reloader.status().reloads >= 1
    });

    // A broken file (now unreadable: removed) keeps the previous set and records why.
    std::fs::remove_file(&path).unwrap();
    wait_for("the failure to be recorded", || {
        reloader.status().failures >= 1
    });
    assert!(handle.current().lookup(ip("203.0.113.9")).is_some());
    let ReloaderStatus { last_error, .. } = reloader.status();
    assert!(last_error.unwrap().contains("c2"));
    reloader.stop();
}

#[test]
fn trigger_reloads_at_once_and_due_downloads_run() {
    let base = serve(vec![(
        "/list",
        200,
        "text/plain",
        "# feed\n192.0.2.0/24\n".into(),
    )]);
    let dir = tempfile::tempdir().unwrap();
    let polled = dir.path().join("polled.ipset");
    std::fs::write(&polled, OLD).unwrap();
    let feed = dir.path().join("feed.ipset");
    std::fs::write(&feed, OLD).unwrap();
    // Backdate the feed file past its refresh interval so its download is due at start.
    let old = std::time::SystemTime::now() - Duration::from_secs(2 * 24 * 3600);
    std::fs::File::options()
        .write(true)
        .open(&feed)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let mut feed_config = list_config(&feed, format!("{base}/list"));
    feed_config.name = "feed".into();
    let handle = Arc::new(
        IntelHandle::load(vec![
            IntelListConfig::new("polled", &polled, ListCategory::Custom),
            feed_config,
        ])
        .unwrap(),
    );
    // A long poll interval: only the due download and `trigger` can cause reloads.
    let reloader = spawn_reloader(Arc::clone(&handle), Duration::from_secs(3600)).unwrap();
    wait_for("the due download and its reload", || {
        handle.current().lookup(ip("192.0.2.55")).is_some()
    });
    // Counted after the new set is published: wait for the cycle to be recorded too.
    wait_for("the first cycle to be counted", || {
        reloader.status().downloads == 1
    });

    // A change the 1 h poll would not see for a long time is loaded by `trigger`.
    std::fs::write(&polled, "10.9.8.7\n").unwrap();
    let before = reloader.status().cycles;
    reloader.trigger();
    wait_for("the triggered cycle", || reloader.status().cycles > before);
    assert!(handle.current().lookup(ip("10.9.8.7")).is_some());
    // The feed is not due again for 24 h: still one download.
    assert_eq!(reloader.status().downloads, 1);
    drop(reloader);
}
