//! Optional periodic download of a list from its configured `url`.
//!
//! Off by default: only lists with `url` set are ever fetched, and nothing here runs unless the
//! binary starts a [`crate::spawn_reloader`] (or calls [`download_list`] itself). A download
//! never touches the live list until it is known to be good:
//!
//! 1. fetch `url` (HTTP or HTTPS, bounded time and size) into a temporary file beside `path`;
//! 2. check it: a 2xx status, not an HTML page (captive portals and error pages answer 200),
//!    and at least `min_entries` prefixes parse in the list's format;
//! 3. rename it over `path` (atomic on one file system), so readers and the change poller see
//!    either the old file or the new one, never a partial one.
//!
//! Any failure leaves the old file in place and is returned as [`EnrichError::Download`] with
//! the reason; the reloader logs it and keeps serving the previous set.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::IntelListConfig;
use crate::error::EnrichError;
use crate::format::parse_list;

/// Largest list body accepted (the biggest public feeds are a few MB).
pub const MAX_DOWNLOAD_BYTES: u64 = 256 * 1024 * 1024;

/// What a successful [`download_list`] installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DownloadReport {
    /// The list file that was replaced.
    pub path: PathBuf,
    /// Bytes written.
    pub bytes: usize,
    /// Prefixes that parsed (a range counts once per CIDR it splits into).
    pub prefixes: usize,
    /// Lines that did not parse (kept in the file; the loader skips them too).
    pub skipped: usize,
}

/// Fetches `config.url`, validates the body and atomically replaces `config.path` with it.
/// `timeout` bounds the whole request. Fails, leaving `config.path` untouched, when the list
/// has no URL, the request fails, the status is not 2xx, the body is HTML, too large, not
/// UTF-8, or holds fewer than [`IntelListConfig::effective_min_entries`] prefixes.
pub fn download_list(
    config: &IntelListConfig,
    timeout: Duration,
) -> Result<DownloadReport, EnrichError> {
    let fail = |reason: String| EnrichError::Download {
        name: config.name.clone(),
        url: config.url.clone().unwrap_or_default(),
        reason,
    };
    let url = config
        .url
        .as_deref()
        .ok_or_else(|| fail("the list has no `url`".into()))?;
    let body = fetch(url, timeout).map_err(&fail)?;
    let outcome = parse_list(&body, config.format, &config.path, |_| {});
    let min = config.effective_min_entries();
    if outcome.prefixes < min {
        return Err(fail(format!(
            "the download holds {} prefixes ({} lines skipped), fewer than the {min} required{}",
            outcome.prefixes,
            outcome.skipped,
            outcome
                .errors
                .first()
                .map(|e| format!("; first bad line: {e}"))
                .unwrap_or_default()
        )));
    }
    install(&config.path, body.as_bytes()).map_err(&fail)?;
    Ok(DownloadReport {
        path: config.path.clone(),
        bytes: body.len(),
        prefixes: outcome.prefixes,
        skipped: outcome.skipped,
    })
}

/// GET `url`; the body as text, or why not.
fn fetch(url: &str, timeout: Duration) -> Result<String, String> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err("only http:// and https:// URLs are supported".into());
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(url)
        .header(
            "user-agent",
            concat!("gatewatch/", env!("CARGO_PKG_VERSION")),
        )
        .call()
        .map_err(|e| format!("request failed: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP status {status}"));
    }
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_DOWNLOAD_BYTES)
        .read_to_string()
        .map_err(|e| format!("reading the body failed: {e}"))?;
    if content_type.starts_with("text/html") || looks_like_html(&body) {
        return Err(format!(
            "the response is an HTML page (content-type \"{content_type}\"), not a list"
        ));
    }
    Ok(body)
}

/// An HTML document rather than a list (error pages, captive portals, login walls).
fn looks_like_html(body: &str) -> bool {
    let head: String = body
        .trim_start_matches('\u{feff}')
        .trim_start()
        .chars()
        .take(64)
        .collect::<String>()
        .to_ascii_lowercase();
    head.starts_with("<!doctype html") || head.starts_with("<html") || head.starts_with("<head")
}

/// Writes `bytes` to a temporary file in `path`'s directory, syncs it and renames it over
/// `path`. The temporary file is removed on failure.
fn install(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| format!("{} has no file name", path.display()))?
        .to_string_lossy();
    let tmp = dir.join(format!(".{file_name}.download-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("installing {} via {}: {e}", path.display(), tmp.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_recognised() {
        assert!(looks_like_html("\n  <!DOCTYPE html><html>"));
        assert!(looks_like_html("<HTML><body>login</body>"));
        assert!(!looks_like_html("# FireHOL list\n1.2.3.0/24\n"));
    }

    #[test]
    fn non_http_urls_are_refused_without_touching_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.txt");
        std::fs::write(&path, "10.0.0.1\n").unwrap();
        let mut config = IntelListConfig::new("x", &path, crate::config::ListCategory::Malicious);
        config.url = Some("file:///etc/hosts".into());
        let err = download_list(&config, Duration::from_secs(1))
            .unwrap_err()
            .to_string();
        assert!(err.contains("only http") && err.contains("\"x\""), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "10.0.0.1\n");
    }
}
