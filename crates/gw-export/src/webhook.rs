//! Generic JSON webhook payloads and their HMAC-SHA256 signatures.
//!
//! Signature scheme (header [`SIGNATURE_HEADER`]):
//!
//! ```text
//! Gatewatch-Signature: t=<unix seconds>,v1=<lower-case hex HMAC-SHA256(secret, "<t>.<body>")>
//! ```
//!
//! The receiver recomputes the HMAC over the exact body bytes it received, compares in constant
//! time, and rejects timestamps further than its tolerance from its own clock (replay guard).
//! Several `v1=` entries may appear (secret rotation); one match is enough.

use gw_model::Finding;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::{ExportError, Result};

/// Name of the signature header.
pub const SIGNATURE_HEADER: &str = "Gatewatch-Signature";
/// `schema` of the payload.
pub const WEBHOOK_SCHEMA: &str = "gatewatch.webhook/1";

type HmacSha256 = Hmac<Sha256>;

#[derive(Serialize)]
struct Payload<'a> {
    schema: &'static str,
    count: usize,
    findings: &'a [Finding],
}

/// The webhook body: `{"schema":"gatewatch.webhook/1","count":N,"findings":[…]}` with the
/// findings as `gatewatch.finding/1` records.
pub fn webhook_body(findings: &[Finding]) -> Result<Vec<u8>> {
    serde_json::to_vec(&Payload {
        schema: WEBHOOK_SCHEMA,
        count: findings.len(),
        findings,
    })
    .map_err(|e| {
        let id = findings.first().map_or("(none)", |f| f.id.as_str());
        ExportError::json(id, "webhook", e)
    })
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so construction cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The signature header value `t=<timestamp>,v1=<hex>` for `body` sent at `timestamp`.
pub fn sign_webhook(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex(&digest))
}

/// Checks a signature header against `body`: well-formed, timestamp within `tolerance_secs` of
/// `now`, and one `v1` HMAC matching (constant-time comparison).
pub fn verify_webhook(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<()> {
    let fail = |reason: String| ExportError::WebhookSignature { reason };
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => {
                let t = t
                    .parse::<i64>()
                    .map_err(|_| fail(format!("timestamp {t:?} is not an integer")))?;
                timestamp = Some(t);
            }
            Some(("v1", sig)) => signatures
                .push(unhex(sig).ok_or_else(|| fail(format!("v1 {sig:?} is not 64 hex digits")))?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(|| fail("no t= timestamp".to_string()))?;
    if signatures.is_empty() {
        return Err(fail("no v1= signature".to_string()));
    }
    if now.abs_diff(timestamp) > tolerance_secs.unsigned_abs() {
        return Err(fail(format!(
            "timestamp {timestamp} is more than {tolerance_secs}s from now ({now})"
        )));
    }
    let matched = signatures
        .iter()
        .any(|sig| mac(secret, timestamp, body).verify_slice(sig).is_ok());
    if matched {
        Ok(())
    } else {
        Err(fail(
            "no v1 signature matches the body and timestamp".to_string(),
        ))
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::all;

    const SECRET: &[u8] = b"whsec_test";
    const T: i64 = 1_718_011_400;

    #[test]
    fn signature_matches_a_known_hmac_sha256_vector() {
        // The signed message is "<t>.<body>".
        let header = sign_webhook(b"Jefe", 0, b"what do ya want for nothing?");
        assert!(header.starts_with("t=0,v1="));
        let mut mac = <HmacSha256 as Mac>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"0.what do ya want for nothing?");
        assert_eq!(
            header,
            format!("t=0,v1={}", hex(&mac.finalize().into_bytes()))
        );
        // The primitive against RFC 4231 test case 2.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signed_body_verifies_and_tampering_fails() {
        let body = webhook_body(&all()).unwrap();
        let header = sign_webhook(SECRET, T, &body);
        verify_webhook(SECRET, &header, &body, T + 10, 300).unwrap();

        let mut tampered = body.clone();
        tampered[20] ^= 1;
        assert!(verify_webhook(SECRET, &header, &tampered, T, 300).is_err());

        let moved = header.replacen(&format!("t={T}"), &format!("t={}", T + 1), 1);
        let err = verify_webhook(SECRET, &moved, &body, T, 300).unwrap_err();
        assert!(err.to_string().contains("no v1 signature matches"), "{err}");

        assert!(verify_webhook(b"other", &header, &body, T, 300).is_err());
        let stale = verify_webhook(SECRET, &header, &body, T + 301, 300).unwrap_err();
        assert!(stale.to_string().contains("more than 300s"), "{stale}");
    }

    #[test]
    fn malformed_headers_are_rejected_with_a_reason() {
        let body = b"{}";
        for (header, reason) in [
            ("v1=00", "not 64 hex digits"),
            ("t=x,v1=00", "not an integer"),
            (&format!("t={T}") as &str, "no v1="),
            (&format!("v1={}", "0".repeat(64)), "no t="),
        ] {
            let err = verify_webhook(SECRET, header, body, T, 300).unwrap_err();
            assert!(err.to_string().contains(reason), "{header}: {err}");
        }
    }

    #[test]
    fn rotated_secret_header_with_two_signatures_verifies() {
        let body = b"{\"a\":1}";
        let old = sign_webhook(b"old", T, body);
        let new = sign_webhook(SECRET, T, body);
        let both = format!("{old},{}", new.split_once(',').unwrap().1);
        verify_webhook(SECRET, &both, body, T, 0).unwrap();
        verify_webhook(b"old", &both, body, T, 0).unwrap();
    }

    #[test]
    fn payload_wraps_native_findings() {
        let v: serde_json::Value = serde_json::from_slice(&webhook_body(&all()).unwrap()).unwrap();
        assert_eq!(v["schema"], WEBHOOK_SCHEMA);
        assert_eq!(v["count"], 3);
        assert_eq!(v["findings"][0]["schema"], "gatewatch.finding/1");
    }
}
