//! The blocking HTTP client of the HTTP sinks (`ureq` over rustls) and the mapping of
//! responses to retryable or permanent failures.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ureq::tls::{Certificate, RootCerts, TlsConfig};

use super::Failure;
use super::config::config_error;
use crate::Result;

/// Response bodies read at most (Elastic `_bulk` item lists are the largest).
const MAX_RESPONSE_BYTES: u64 = 32 << 20;

/// An HTTP client for one sink.
pub(crate) struct HttpClient {
    agent: ureq::Agent,
    user_agent: String,
}

/// A response the caller inspects further (2xx only).
pub(crate) struct Reply {
    pub body: String,
}

impl HttpClient {
    /// A client with `timeout` per request, trusting the PEM CA certificates in `ca_file`
    /// (or the Mozilla roots), never following redirects (a redirect would re-send the body
    /// and credentials somewhere else).
    pub(crate) fn new(sink: &str, timeout: Duration, ca_file: Option<&Path>) -> Result<HttpClient> {
        let roots = match ca_file {
            Some(path) => RootCerts::Specific(Arc::new(load_ureq_certs(sink, path)?)),
            None => RootCerts::WebPki,
        };
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .build();
        Ok(HttpClient {
            agent: config.into(),
            user_agent: format!("gatewatch/{}", env!("CARGO_PKG_VERSION")),
        })
    }

    /// POSTs `body`; `Ok` for 2xx, else a failure naming the URL (without query), the status
    /// and the start of the response body.
    pub(crate) fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::result::Result<Reply, Failure> {
        let mut request = self
            .agent
            .post(url)
            .header("User-Agent", self.user_agent.as_str());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let shown = url.split('?').next().unwrap_or(url);
        let mut response = request
            .send(body)
            .map_err(|e| Failure::retryable(format!("POST {shown}: {e}")))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_string()
            .unwrap_or_default();
        if (200..300).contains(&status) {
            return Ok(Reply { body: text });
        }
        let snippet: String = text.chars().take(300).collect();
        let mut failure = Failure {
            reason: format!("HTTP {status} from {shown}: {}", snippet.trim()),
            retryable: is_retryable_status(status),
            retry_after: None,
        };
        if failure.retryable {
            failure.retry_after = retry_after;
        }
        Err(failure)
    }

    /// POSTs an `application/x-www-form-urlencoded` form; returns the 2xx body.
    pub(crate) fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
    ) -> std::result::Result<Reply, Failure> {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.post(
            url,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        )
    }
}

/// Statuses that may succeed later: timeouts, throttling, server errors.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 425 | 429) || (500..600).contains(&status)
}

/// `application/x-www-form-urlencoded` encoding of one key or value.
pub(crate) fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// DER certificates of a PEM file, for rustls.
pub(crate) fn load_pem_certs(
    sink: &str,
    path: &Path,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| {
            config_error(
                sink,
                format!("ca_file {}: reading PEM certificates: {e}", path.display()),
            )
        })?;
    if certs.is_empty() {
        return Err(config_error(
            sink,
            format!("ca_file {}: no CERTIFICATE block", path.display()),
        ));
    }
    Ok(certs)
}

fn load_ureq_certs(sink: &str, path: &Path) -> Result<Vec<Certificate<'static>>> {
    Ok(load_pem_certs(sink, path)?
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()).to_owned())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_follows_the_html_rules() {
        assert_eq!(
            form_encode("https://monitor.azure.com//.default"),
            "https%3A%2F%2Fmonitor.azure.com%2F%2F.default"
        );
        assert_eq!(form_encode("a b+c&d=é"), "a+b%2Bc%26d%3D%C3%A9");
    }

    #[test]
    fn only_transient_statuses_are_retried() {
        for s in [408, 425, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(s), "{s}");
        }
        for s in [400, 401, 403, 404, 413, 422] {
            assert!(!is_retryable_status(s), "{s}");
        }
    }

    #[test]
    fn missing_or_empty_ca_file_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let err = load_pem_certs("s", &missing).unwrap_err().to_string();
        assert!(
            err.contains("nope.pem") && err.contains("sink \"s\""),
            "{err}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let err = load_pem_certs("s", &empty).unwrap_err().to_string();
        assert!(err.contains("no CERTIFICATE"), "{err}");
    }
}
