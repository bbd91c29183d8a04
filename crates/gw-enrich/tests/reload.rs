//! Hot reload: a rewritten file is picked up by `reload_if_changed`, readers keep answering
//! during swaps, and a failed reload keeps the previous set.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gw_enrich::{IntelHandle, IntelListConfig, ListCategory, ReloadOutcome};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Replaces the file the way feed updaters do: write a sibling, then rename over.
fn replace(path: &Path, content: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn a_rewritten_file_is_reloaded_and_answers_the_new_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c2.ipset");
    std::fs::write(&path, "# c2\n198.51.100.1\n").unwrap();
    let handle = IntelHandle::load(vec![IntelListConfig::new(
        "c2",
        &path,
        ListCategory::Malicious,
    )])
    .unwrap();
    assert!(handle.current().lookup(ip("198.51.100.1")).is_some());
    assert!(matches!(
        handle.reload_if_changed().unwrap(),
        ReloadOutcome::Unchanged
    ));

    // In-place rewrite with a different size.
    std::fs::write(&path, "# c2\n203.0.113.0/24\n203.0.113.77\n").unwrap();
    let ReloadOutcome::Reloaded(new) = handle.reload_if_changed().unwrap() else {
        panic!("the rewrite was not noticed");
    };
    assert!(new.lookup(ip("203.0.113.9")).is_some());
    assert!(handle.current().lookup(ip("198.51.100.1")).is_none());
    assert!(handle.current().lookup(ip("203.0.113.77")).is_some());
    assert!(matches!(
        handle.reload_if_changed().unwrap(),
        ReloadOutcome::Unchanged
    ));

    // Atomic replace by rename.
    replace(&path, "192.0.2.5\n");
    assert!(matches!(
        handle.reload_if_changed().unwrap(),
        ReloadOutcome::Reloaded(_)
    ));
    assert!(handle.current().lookup(ip("192.0.2.5")).is_some());
    assert!(handle.current().lookup(ip("203.0.113.9")).is_none());
}

#[test]
fn a_failed_reload_keeps_the_previous_set() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tor.txt");
    std::fs::write(&path, "185.220.101.1\n").unwrap();
    let handle =
        IntelHandle::load(vec![IntelListConfig::new("tor", &path, ListCategory::Tor)]).unwrap();
    std::fs::remove_file(&path).unwrap();
    let err = handle.reload_if_changed().unwrap_err().to_string();
    assert!(err.contains("tor") && err.contains("tor.txt"), "{err}");
    assert!(handle.reload().is_err());
    assert!(handle.current().is_tor_exit(ip("185.220.101.1")));
    // Once the file is back, the next poll recovers.
    std::fs::write(&path, "185.220.101.2\n185.220.101.3\n").unwrap();
    assert!(matches!(
        handle.reload_if_changed().unwrap(),
        ReloadOutcome::Reloaded(_)
    ));
    assert!(handle.current().is_tor_exit(ip("185.220.101.3")));
}

#[test]
fn readers_keep_answering_while_the_set_is_swapped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feed.netset");
    // Version A lists 10.0.0.0/8 only, version B lists 10.0.0.0/8 and 192.0.2.0/24; either way
    // 10.1.2.3 is listed and 8.8.8.8 is not, so a reader must never see anything else.
    let version_a = "10.0.0.0/8\n";
    let version_b = "10.0.0.0/8\n192.0.2.0/24\n";
    std::fs::write(&path, version_a).unwrap();
    let handle = Arc::new(
        IntelHandle::load(vec![IntelListConfig::new(
            "feed",
            &path,
            ListCategory::Custom,
        )])
        .unwrap(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (handle, stop) = (Arc::clone(&handle), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut lookups = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let set = handle.current();
                    assert!(set.lookup(ip("10.1.2.3")).is_some());
                    assert!(set.lookup(ip("8.8.8.8")).is_none());
                    lookups += 1;
                }
                lookups
            })
        })
        .collect();
    for round in 0..40 {
        replace(&path, if round % 2 == 0 { version_b } else { version_a });
        handle.reload().unwrap();
    }
    replace(&path, version_b);
    handle.reload().unwrap();
    stop.store(true, Ordering::Relaxed);
    let lookups: usize = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(lookups > 0);
    // After the last swap every new reader sees version B.
    assert!(handle.current().lookup(ip("192.0.2.1")).is_some());
}
