//! From a request body to records: content negotiation, bounded decompression and the
//! gw-ingest decoder of the endpoint.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Read;

use gw_ingest::{DecodeError, Emit, FormatChoice, Limits, decode_bytes, is_gzip};
use gw_model::{Exchange, SourceKind};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use crate::error::ApiError;

/// The ingest endpoints and the formats they take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `/v1/ingest`: gatewatch.exchange/1 as NDJSON or a JSON array.
    Native,
    /// `/v1/ingest/kong`: Kong http-log payloads as Kong sends them.
    Kong,
    /// `/v1/ingest/apim`: the APIM log-to-eventhub policy payload or GatewayLogs records.
    Apim,
    /// `/v1/ingest/envoy`: Envoy / Istio JSON access log lines.
    Envoy,
}

impl Endpoint {
    pub const ALL: [Endpoint; 4] = [
        Endpoint::Native,
        Endpoint::Kong,
        Endpoint::Apim,
        Endpoint::Envoy,
    ];

    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Native => "/v1/ingest",
            Endpoint::Kong => "/v1/ingest/kong",
            Endpoint::Apim => "/v1/ingest/apim",
            Endpoint::Envoy => "/v1/ingest/envoy",
        }
    }

    /// The decoder for a body whose first bytes are `head`.
    fn format(self, head: &[u8]) -> SourceKind {
        match self {
            Endpoint::Native => SourceKind::Native,
            Endpoint::Kong => SourceKind::KongHttpLog,
            Endpoint::Envoy => SourceKind::EnvoyJson,
            Endpoint::Apim => {
                let sniff = |k| {
                    gw_ingest::decoder_for(k)
                        .map(|d| gw_ingest::sample_of(head, |s| d.sniff(s)))
                        .unwrap_or(0)
                };
                if sniff(SourceKind::AzureApimGatewayLogs) > sniff(SourceKind::AzureApimPolicy) {
                    SourceKind::AzureApimGatewayLogs
                } else {
                    SourceKind::AzureApimPolicy
                }
            }
        }
    }
}

/// Media types the ingest endpoints accept (parameters such as `charset` are ignored).
const ACCEPTED_TYPES: &[&str] = &[
    "application/json",
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonlines",
    "text/plain",
];

pub fn check_content_type(value: Option<&[u8]>) -> Result<(), ApiError> {
    let value = value.ok_or_else(|| {
        ApiError::unsupported_media(format!(
            "missing Content-Type; send one of: {}",
            ACCEPTED_TYPES.join(", ")
        ))
    })?;
    let text = String::from_utf8_lossy(value);
    let essence = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if ACCEPTED_TYPES.contains(&essence.as_str()) {
        Ok(())
    } else {
        Err(ApiError::unsupported_media(format!(
            "Content-Type \"{essence}\" is not accepted; send one of: {}",
            ACCEPTED_TYPES.join(", ")
        )))
    }
}

/// Request body compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Identity,
    Gzip,
    Zstd,
}

pub fn content_encoding(value: Option<&[u8]>) -> Result<Encoding, ApiError> {
    let Some(value) = value else {
        return Ok(Encoding::Identity);
    };
    match String::from_utf8_lossy(value)
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "" | "identity" => Ok(Encoding::Identity),
        "gzip" | "x-gzip" => Ok(Encoding::Gzip),
        "zstd" => Ok(Encoding::Zstd),
        other => Err(ApiError::unsupported_media(format!(
            "Content-Encoding \"{other}\" is not supported; use gzip, zstd or none"
        ))
        .with_code("unsupported_encoding")),
    }
}

/// Decompresses `body`, refusing (413) anything that grows past `max` bytes. An uncompressed
/// body is borrowed as it is. Gzip data sent without `Content-Encoding` (a gzipped log file
/// posted as it is) is unpacked as if the header said gzip, within the same bound.
pub fn decompress(body: &[u8], encoding: Encoding, max: usize) -> Result<Cow<'_, [u8]>, ApiError> {
    let encoding = match encoding {
        Encoding::Identity if is_gzip(body) => Encoding::Gzip,
        e => e,
    };
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        ApiError::bad_request(
            "bad_encoding",
            format!("request body is not valid {what}: {e}"),
        )
    };
    let reader: Box<dyn Read + '_> = match encoding {
        Encoding::Identity => {
            if body.len() > max {
                return Err(too_large(max));
            }
            return Ok(Cow::Borrowed(body));
        }
        Encoding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(body)),
        Encoding::Zstd => {
            Box::new(ruzstd::decoding::StreamingDecoder::new(body).map_err(|e| bad("zstd", &e))?)
        }
    };
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(max));
    reader
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            let what = if encoding == Encoding::Gzip {
                "gzip"
            } else {
                "zstd"
            };
            bad(what, &e)
        })?;
    if out.len() > max {
        return Err(too_large(max));
    }
    Ok(Cow::Owned(out))
}

fn too_large(max: usize) -> ApiError {
    ApiError::payload_too_large(
        "decompressed_too_large",
        format!(
            "request body decompresses to more than {max} bytes (server.max_decompressed_bytes)"
        ),
    )
}

/// One refused record, as reported to the client.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RejectReport {
    pub line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    pub reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

/// Rejects listed one by one in a response; the rest are only counted.
pub const MAX_REPORTED_REJECTS: usize = 100;

/// What decoding one body produced.
#[derive(Debug, Default)]
pub struct Decoded {
    pub format: Option<SourceKind>,
    pub records: Vec<Exchange>,
    pub rejected: u64,
    pub reasons: BTreeMap<&'static str, u64>,
    pub rejects: Vec<RejectReport>,
}

impl Emit for Decoded {
    fn record(&mut self, x: Exchange) {
        self.records.push(x);
    }

    fn reject(&mut self, err: DecodeError, _raw: &[u8]) {
        self.rejected += 1;
        *self.reasons.entry(err.reason.as_str()).or_insert(0) += 1;
        if self.rejects.len() < MAX_REPORTED_REJECTS {
            self.rejects.push(RejectReport {
                line: err.line,
                entry: err.entry,
                reason: err.reason.as_str(),
                field: err.field,
                message: err.message,
            });
        }
    }
}

/// The input name records of this body are decoded under: it seeds their ids (and
/// `source.raw_ref`), so a client that resends the same body after a lost answer produces the
/// same ids, which the store drops as duplicates.
pub fn input_name(endpoint: Endpoint, token_id: &str, body: &[u8]) -> String {
    let mut h = Xxh3::new();
    h.update(token_id.as_bytes());
    h.update(&[0]);
    h.update(body);
    format!("http:{}#{:016x}", endpoint.path(), h.digest())
}

/// Decodes a decompressed body with the endpoint's decoder, where it lies ([`decode_bytes`]:
/// no copy into read buffers). A body that is still gzip data was compressed twice: it is
/// refused rather than unpacked a second time, which no size bound would cover.
pub fn decode_body(endpoint: Endpoint, name: String, body: &[u8]) -> Result<Decoded, ApiError> {
    if is_gzip(body) {
        return Err(ApiError::bad_request(
            "bad_encoding",
            "request body is gzip data inside gzip; compress it once",
        ));
    }
    let format = endpoint.format(&body[..body.len().min(64 * 1024)]);
    let limits = Limits {
        max_line_bytes: body.len().max(1),
        max_document_bytes: body.len() as u64 + 1,
    };
    let mut decoded = Decoded {
        format: Some(format),
        records: Vec::with_capacity(expected_records(body)),
        ..Decoded::default()
    };
    decode_bytes(
        &name,
        body,
        FormatChoice::Kind(format),
        &limits,
        &mut decoded,
    )
    .map_err(|e| ApiError::bad_request("unreadable_body", e.to_string()))?;
    Ok(decoded)
}

/// Records reserved for up front: one per line of an NDJSON body, so that a 500-record body
/// does not grow its vector nine times (each growth moves every `Exchange` decoded so far:
/// ≈ 1,600 instructions per record, measured with callgrind under `serve`). Capped, because a
/// pretty-printed JSON array has many lines per record: past the cap the vector grows as usual.
fn expected_records(body: &[u8]) -> usize {
    const CAP: usize = 4096;
    memchr::memchr_iter(b'\n', body)
        .take(CAP)
        .count()
        .saturating_add(1)
        .min(CAP)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn records_are_reserved_by_lines_up_to_a_cap() {
        assert_eq!(expected_records(b""), 1);
        assert_eq!(expected_records(b"{}\n{}\n{}"), 3);
        assert_eq!(expected_records(&vec![b'\n'; 100_000]), 4096);
        let line = r#"{"observed_at":"2024-06-03T00:00:00Z","source":{"kind":"native","capture":"frontend"},"client":{},"server":{},"request":{"method":"GET","path":"/a"}}"#;
        let body = format!("{line}\n").repeat(7);
        let decoded = decode_body(Endpoint::Native, "t".into(), body.as_bytes()).unwrap();
        assert_eq!(decoded.records.len(), 7);
        assert_eq!(decoded.records.capacity(), 8);
    }

    #[test]
    fn content_types_and_encodings_are_negotiated() {
        check_content_type(Some(b"application/x-ndjson")).unwrap();
        check_content_type(Some(b"Application/JSON; charset=utf-8")).unwrap();
        assert_eq!(
            check_content_type(Some(b"text/html")).unwrap_err().code,
            "unsupported_media_type"
        );
        assert!(check_content_type(None).is_err());
        assert_eq!(content_encoding(None).unwrap(), Encoding::Identity);
        assert_eq!(content_encoding(Some(b"GZIP")).unwrap(), Encoding::Gzip);
        assert_eq!(content_encoding(Some(b"zstd")).unwrap(), Encoding::Zstd);
        assert_eq!(
            content_encoding(Some(b"br")).unwrap_err().code,
            "unsupported_encoding"
        );
    }

    /// A plain body is decoded where it lies; gzip data sent without `Content-Encoding` is
    /// unpacked as if the header said so, within the same bound; gzip inside gzip is refused.
    #[test]
    fn plain_and_gzip_magic_bodies_decode_to_the_same_records() {
        let line = r#"{"schema":"gatewatch.exchange/1","id":"a1","observed_at":"2024-06-03T00:00:00Z","source":{"kind":"native","capture":"frontend"},"client":{},"server":{},"request":{"method":"GET","path":"/a"},"response":{"status":200}}"#;
        let plain = format!("{line}\n{}\nnot json\n", line.replace("a1", "a2"));
        let raw = decompress(plain.as_bytes(), Encoding::Identity, 1 << 20).unwrap();
        assert!(
            matches!(raw, Cow::Borrowed(_)),
            "an uncompressed body is not copied"
        );
        let gzip = |bytes: &[u8]| {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(bytes).unwrap();
            enc.finish().unwrap()
        };
        let gz = gzip(plain.as_bytes());
        let unpacked = decompress(&gz, Encoding::Identity, 1 << 20).unwrap();
        let ids = |d: &Decoded| d.records.iter().map(|x| x.id.clone()).collect::<Vec<_>>();
        let a = decode_body(Endpoint::Native, "a".into(), &raw).unwrap();
        let b = decode_body(Endpoint::Native, "b".into(), &unpacked).unwrap();
        assert_eq!(ids(&a), ["a1", "a2"]);
        assert_eq!(ids(&b), ["a1", "a2"]);
        assert_eq!((a.rejected, b.rejected), (1, 1));
        // The bound holds without the header too (it did not before: the reader path unpacked
        // such a body without limit).
        let err = decompress(&gz, Encoding::Identity, 64).unwrap_err();
        assert_eq!(
            (err.status.as_u16(), err.code),
            (413, "decompressed_too_large")
        );
        let twice = gzip(&gz);
        let once = decompress(&twice, Encoding::Gzip, 1 << 20).unwrap();
        let err = decode_body(Endpoint::Native, "c".into(), &once).unwrap_err();
        assert_eq!((err.status.as_u16(), err.code), (400, "bad_encoding"));
    }

    #[test]
    fn a_zip_bomb_is_refused_at_the_cap() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![b'a'; 1 << 20]).unwrap();
        let gz = enc.finish().unwrap();
        assert!(gz.len() < 10_000);
        let err = decompress(&gz, Encoding::Gzip, 64 * 1024).unwrap_err();
        assert_eq!(
            (err.status.as_u16(), err.code),
            (413, "decompressed_too_large")
        );
        assert_eq!(
            decompress(&gz, Encoding::Gzip, 1 << 20).unwrap().len(),
            1 << 20
        );
    }

    #[test]
    fn zstd_round_trips_and_garbage_is_a_bad_encoding() {
        let z = ruzstd::encoding::compress_to_vec(
            &b"hello zstd"[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        assert_eq!(
            &*decompress(&z, Encoding::Zstd, 100).unwrap(),
            b"hello zstd"
        );
        let err = decompress(b"not zstd at all", Encoding::Zstd, 100).unwrap_err();
        assert_eq!((err.status.as_u16(), err.code), (400, "bad_encoding"));
        let err = decompress(b"\x1f\x8bnot gzip", Encoding::Gzip, 100).unwrap_err();
        assert_eq!((err.status.as_u16(), err.code), (400, "bad_encoding"));
    }

    #[test]
    fn resent_bodies_keep_their_input_name_and_others_differ() {
        let a = input_name(Endpoint::Kong, "t", b"{}");
        assert_eq!(a, input_name(Endpoint::Kong, "t", b"{}"));
        assert!(a.starts_with("http:/v1/ingest/kong#"));
        assert_ne!(a, input_name(Endpoint::Kong, "u", b"{}"));
        assert_ne!(a, input_name(Endpoint::Kong, "t", b"{ }"));
    }
}
