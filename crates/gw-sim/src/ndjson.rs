//! A direct NDJSON writer for the records the simulator produces: byte-identical to
//! `serde_json::to_writer` (a test holds it to that), without serde's per-field dispatch.
//! Records using members the simulator never fills go through serde_json unchanged.
//!
//! Every struct is destructured exhaustively, so a member added to `gw-model` fails to compile
//! here instead of silently going missing from the output.

use std::io::Write as _;
use std::net::IpAddr;

use gw_model::{
    AuthType, Body, BodyEncoding, Capture, Client, Exchange, Header, Identity, Request, Response,
    Server, Source,
};
use jiff::Timestamp;

/// Appends `x` as one JSON line (with the trailing newline) to `out`.
pub fn append_ndjson_line(x: &Exchange, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    let Exchange {
        schema,
        id,
        observed_at,
        duration_ms,
        upstream_duration_ms,
        source,
        request_id,
        trace_id,
        client,
        server,
        request,
        response,
        upstream,
        api,
        identity,
        gateway,
        labels,
        extra,
        endpoint,
        params,
        enrich,
        sensitive,
    } = x;
    let simple = upstream.is_none()
        && api.is_none()
        && gateway.is_none()
        && labels.is_empty()
        && extra.is_empty()
        && endpoint.is_none()
        && params.is_empty()
        && enrich.is_none()
        && sensitive.is_empty()
        && client.tls.is_none()
        && plain_timestamp(*observed_at);
    if !simple {
        serde_json::to_writer(&mut *out, x)?;
        out.push(b'\n');
        return Ok(());
    }
    out.extend_from_slice(b"{\"schema\":");
    string(out, schema);
    out.extend_from_slice(b",\"id\":");
    string(out, id);
    out.extend_from_slice(b",\"observed_at\":\"");
    timestamp(out, *observed_at);
    out.extend_from_slice(b"\",\"duration_ms\":");
    opt_f64(out, *duration_ms)?;
    out.extend_from_slice(b",\"upstream_duration_ms\":");
    opt_f64(out, *upstream_duration_ms)?;
    out.extend_from_slice(b",\"source\":");
    write_source(out, source);
    out.extend_from_slice(b",\"request_id\":");
    opt_string(out, request_id.as_deref());
    out.extend_from_slice(b",\"trace_id\":");
    opt_string(out, trace_id.as_deref());
    out.extend_from_slice(b",\"client\":");
    write_client(out, client);
    out.extend_from_slice(b",\"server\":");
    write_server(out, server);
    out.extend_from_slice(b",\"request\":");
    write_request(out, request);
    out.extend_from_slice(b",\"response\":");
    write_response(out, response);
    out.extend_from_slice(b",\"upstream\":null,\"api\":null,\"identity\":");
    match identity {
        Some(i) => write_identity(out, i),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"gateway\":null,\"labels\":{},\"extra\":{}}\n");
    Ok(())
}

fn write_source(out: &mut Vec<u8>, s: &Source) {
    let Source {
        kind,
        capture,
        gateway,
        raw_ref,
    } = s;
    out.extend_from_slice(b"{\"kind\":");
    string(out, kind.as_str());
    out.extend_from_slice(b",\"capture\":\"");
    out.extend_from_slice(match capture {
        Capture::Frontend => b"frontend".as_slice(),
        Capture::Backend => b"backend",
        Capture::Mirror => b"mirror",
        Capture::AccessLog => b"access_log",
        Capture::Archive => b"archive",
    });
    out.extend_from_slice(b"\",\"gateway\":");
    opt_string(out, gateway.as_deref());
    out.extend_from_slice(b",\"raw_ref\":");
    opt_string(out, raw_ref.as_deref());
    out.push(b'}');
}

fn write_client(out: &mut Vec<u8>, c: &Client) {
    let Client {
        ip,
        port,
        forwarded_for,
        resolved_ip,
        user_agent,
        tls: _,
    } = c;
    out.extend_from_slice(b"{\"ip\":");
    opt_ip(out, *ip);
    out.extend_from_slice(b",\"port\":");
    opt_u64(out, port.map(u64::from));
    out.extend_from_slice(b",\"forwarded_for\":[");
    for (i, hop) in forwarded_for.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        opt_ip(out, Some(*hop));
    }
    out.extend_from_slice(b"],\"resolved_ip\":");
    opt_ip(out, *resolved_ip);
    out.extend_from_slice(b",\"user_agent\":");
    opt_string(out, user_agent.as_deref());
    out.extend_from_slice(b",\"tls\":null}");
}

fn write_server(out: &mut Vec<u8>, s: &Server) {
    let Server { host, ip, port } = s;
    out.extend_from_slice(b"{\"host\":");
    opt_string(out, host.as_deref());
    out.extend_from_slice(b",\"ip\":");
    opt_ip(out, *ip);
    out.extend_from_slice(b",\"port\":");
    opt_u64(out, port.map(u64::from));
    out.push(b'}');
}

fn write_request(out: &mut Vec<u8>, r: &Request) {
    let Request {
        method,
        scheme,
        path,
        query,
        http_version,
        headers,
        body,
        size,
    } = r;
    out.extend_from_slice(b"{\"method\":");
    string(out, method);
    out.extend_from_slice(b",\"scheme\":");
    opt_string(out, scheme.as_deref());
    out.extend_from_slice(b",\"path\":");
    string(out, path);
    out.extend_from_slice(b",\"query\":");
    opt_string(out, query.as_deref());
    out.extend_from_slice(b",\"http_version\":");
    opt_string(out, http_version.as_deref());
    out.extend_from_slice(b",\"headers\":");
    write_headers(out, headers.as_deref());
    out.extend_from_slice(b",\"body\":");
    write_body(out, body.as_ref());
    out.extend_from_slice(b",\"size\":");
    opt_u64(out, *size);
    out.push(b'}');
}

fn write_response(out: &mut Vec<u8>, r: &Response) {
    let Response {
        status,
        headers,
        body,
        size,
        content_type,
    } = r;
    out.extend_from_slice(b"{\"status\":");
    opt_u64(out, status.map(u64::from));
    out.extend_from_slice(b",\"headers\":");
    write_headers(out, headers.as_deref());
    out.extend_from_slice(b",\"body\":");
    write_body(out, body.as_ref());
    out.extend_from_slice(b",\"size\":");
    opt_u64(out, *size);
    out.extend_from_slice(b",\"content_type\":");
    opt_string(out, content_type.as_deref());
    out.push(b'}');
}

fn write_headers(out: &mut Vec<u8>, headers: Option<&[Header]>) {
    let Some(headers) = headers else {
        out.extend_from_slice(b"null");
        return;
    };
    out.push(b'[');
    for (i, h) in headers.iter().enumerate() {
        let Header { name, value } = h;
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"name\":");
        string(out, name);
        out.extend_from_slice(b",\"value\":");
        string(out, value);
        out.push(b'}');
    }
    out.push(b']');
}

fn write_body(out: &mut Vec<u8>, body: Option<&Body>) {
    let Some(Body {
        size,
        captured,
        truncated,
        encoding,
        content,
        redacted,
    }) = body
    else {
        out.extend_from_slice(b"null");
        return;
    };
    out.extend_from_slice(b"{\"size\":");
    opt_u64(out, *size);
    out.extend_from_slice(b",\"captured\":");
    u64_decimal(out, *captured);
    out.extend_from_slice(b",\"truncated\":");
    out.extend_from_slice(if *truncated {
        b"true".as_slice()
    } else {
        b"false"
    });
    out.extend_from_slice(b",\"encoding\":");
    out.extend_from_slice(match encoding {
        BodyEncoding::Utf8 => b"\"utf8\"".as_slice(),
        BodyEncoding::Base64 => b"\"base64\"",
    });
    out.extend_from_slice(b",\"content\":");
    opt_string(out, content.as_deref());
    out.extend_from_slice(b",\"redacted\":");
    out.extend_from_slice(if *redacted {
        b"true".as_slice()
    } else {
        b"false"
    });
    out.push(b'}');
}

fn write_identity(out: &mut Vec<u8>, i: &Identity) {
    let Identity {
        consumer_id,
        consumer_name,
        auth_type,
        principal,
        credential_fp,
    } = i;
    out.extend_from_slice(b"{\"consumer_id\":");
    opt_string(out, consumer_id.as_deref());
    out.extend_from_slice(b",\"consumer_name\":");
    opt_string(out, consumer_name.as_deref());
    out.extend_from_slice(b",\"auth_type\":");
    opt_string(out, auth_type.map(AuthType::as_str));
    out.extend_from_slice(b",\"principal\":");
    opt_string(out, principal.as_deref());
    out.extend_from_slice(b",\"credential_fp\":");
    opt_string(out, credential_fp.as_deref());
    out.push(b'}');
}

fn opt_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

fn opt_u64(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        Some(v) => u64_decimal(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

fn opt_f64(out: &mut Vec<u8>, v: Option<f64>) -> Result<(), serde_json::Error> {
    match v {
        Some(v) => serde_json::to_writer(&mut *out, &v),
        None => {
            out.extend_from_slice(b"null");
            Ok(())
        }
    }
}

fn opt_ip(out: &mut Vec<u8>, ip: Option<IpAddr>) {
    match ip {
        Some(IpAddr::V4(v4)) => {
            out.push(b'"');
            for (i, o) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                u64_decimal(out, u64::from(o));
            }
            out.push(b'"');
        }
        Some(ip @ IpAddr::V6(_)) => {
            let _ = write!(out, "\"{ip}\"");
        }
        None => out.extend_from_slice(b"null"),
    }
}

fn u64_decimal(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// True when the timestamp is in years 1970..=9999, the range [`timestamp`] formats itself.
fn plain_timestamp(t: Timestamp) -> bool {
    (0..253_402_300_800).contains(&t.as_second())
}

/// RFC 3339 in UTC with the fraction trimmed of trailing zeros, as jiff's `Display` writes it.
fn timestamp(out: &mut Vec<u8>, t: Timestamp) {
    let secs = t.as_second();
    let nanos = t.subsec_nanosecond();
    let mut date = String::with_capacity(20);
    crate::values::push_datetime(&mut date, secs);
    out.extend_from_slice(&date.as_bytes()[..date.len() - 1]); // without the `Z`
    if nanos > 0 {
        let mut digits = [b'0'; 9];
        let mut n = nanos as u32;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        let len = 9 - digits.iter().rev().take_while(|&&d| d == b'0').count();
        out.push(b'.');
        out.extend_from_slice(&digits[..len]);
    }
    out.push(b'Z');
}

/// Bytes that JSON strings must escape (serde_json's table: `"`, `\` and controls).
const fn escape_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0A] = b'n';
    t[0x0C] = b'f';
    t[0x0D] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
}

static ESCAPE: [u8; 256] = escape_table();

/// True when the 8 bytes of `w` may hold a byte JSON must escape (no false negatives).
fn may_need_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS != 0;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGHS != 0;
    below_space || has_zero(w ^ (ONES * u64::from(b'"'))) || has_zero(w ^ (ONES * u64::from(b'\\')))
}

fn string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Skip 8 clean bytes at a time; most strings (headers, tokens, ids) have none to escape.
        if let Some(chunk) = bytes.get(i..i + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            if !may_need_escape(u64::from_le_bytes(word)) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        let esc = ESCAPE[b as usize];
        if esc != 0 {
            out.extend_from_slice(&bytes[start..i]);
            if esc == b'u' {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xF) as usize]);
            } else {
                out.push(b'\\');
                out.push(esc);
            }
            start = i + 1;
        }
        i += 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_like_serde_json() {
        for s in [
            "plain",
            "a longer plain string without escapes",
            "12345678\"",
            "1234567\u{1}89",
            "quote\" back\\slash",
            "ctl\u{0}\u{1f}\n\r\t\u{8}\u{c}\u{7f}",
            "ünïcødé ✓",
            "",
        ] {
            let mut out = Vec::new();
            string(&mut out, s);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(s).unwrap()
            );
        }
    }

    #[test]
    fn timestamps_format_like_jiff() {
        for us in [
            0i64,
            1_717_372_800_000_000,
            1_717_372_801_044_850,
            1_717_372_801_000_001,
            4_102_444_799_999_999,
            951_782_400_500_000,
        ] {
            let t = Timestamp::from_microsecond(us).unwrap();
            let mut out = Vec::new();
            timestamp(&mut out, t);
            assert_eq!(String::from_utf8(out).unwrap(), t.to_string());
        }
        let t = Timestamp::from_nanosecond(1_717_372_801_123_456_789).unwrap();
        let mut out = Vec::new();
        timestamp(&mut out, t);
        assert_eq!(String::from_utf8(out).unwrap(), t.to_string());
    }
}
