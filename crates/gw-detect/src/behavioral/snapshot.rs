//! The snapshot format of the behavioural detectors: the 4 bytes `GWDS`, the format version
//! ([`SNAPSHOT_VERSION`], u16 little endian), then two CBOR items: a header (detector name and
//! the configuration values the state's layout depends on) and the detector's state.
//!
//! A snapshot of another detector, of another version or taken with another window length is
//! refused with a [`SnapshotError`] naming the reason; nothing is changed then.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::BehavioralConfig;
use crate::detectors::{SNAPSHOT_VERSION, SnapshotError};

const MAGIC: &[u8; 4] = b"GWDS";

#[derive(Serialize, Deserialize)]
struct Header {
    detector: String,
    window_secs: i64,
}

/// `state` of detector `name` as snapshot bytes.
pub(crate) fn encode<T: Serialize>(
    name: &'static str,
    cfg: &BehavioralConfig,
    state: &T,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
    let header = Header {
        detector: name.to_string(),
        window_secs: cfg.window_secs,
    };
    // Writing CBOR into a Vec fails only for types serde cannot describe (none here).
    ciborium::into_writer(&header, &mut out).expect("a detector header encodes");
    ciborium::into_writer(state, &mut out).expect("detector state encodes");
    out
}

/// The state of detector `name` from snapshot bytes, after checking header and version.
pub(crate) fn decode<T: DeserializeOwned>(
    name: &'static str,
    cfg: &BehavioralConfig,
    bytes: &[u8],
) -> Result<T, SnapshotError> {
    let Some(rest) = bytes.strip_prefix(MAGIC.as_slice()) else {
        return Err(SnapshotError::BadMagic { detector: name });
    };
    let (Some(&lo), Some(&hi)) = (rest.first(), rest.get(1)) else {
        return Err(SnapshotError::BadMagic { detector: name });
    };
    let version = u16::from_le_bytes([lo, hi]);
    if version != SNAPSHOT_VERSION {
        return Err(SnapshotError::UnknownVersion {
            detector: name,
            found: version,
            supported: SNAPSHOT_VERSION,
        });
    }
    let mut reader = &rest[2..];
    let decode_err = |what: &str, e: ciborium::de::Error<std::io::Error>| SnapshotError::Decode {
        detector: name,
        reason: format!("{what}: {e}"),
    };
    let header: Header = ciborium::from_reader(&mut reader).map_err(|e| decode_err("header", e))?;
    if header.detector != name {
        return Err(SnapshotError::WrongDetector {
            detector: name,
            found: header.detector,
        });
    }
    if header.window_secs != cfg.window_secs {
        return Err(SnapshotError::ConfigMismatch {
            detector: name,
            field: "window_secs",
            found: header.window_secs.to_string(),
            expected: cfg.window_secs.to_string(),
        });
    }
    let state: T = ciborium::from_reader(&mut reader).map_err(|e| decode_err("state", e))?;
    if !reader.is_empty() {
        return Err(SnapshotError::Decode {
            detector: name,
            reason: format!("{} bytes after the state", reader.len()),
        });
    }
    Ok(state)
}
