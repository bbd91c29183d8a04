//! Format auto-detection from the first records of an input.

use crate::{DECODERS, Decoder, Sample};

/// Bytes of an input shown to the decoders for detection.
pub const SAMPLE_BYTES: usize = 64 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Builds the sample of an input's head and calls `f` with it.
pub fn sample_of<T>(head: &[u8], f: impl FnOnce(&Sample<'_>) -> T) -> T {
    let head = head.strip_prefix(BOM).unwrap_or(head);
    let first_line = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .find(|l| !l.iter().all(u8::is_ascii_whitespace))
        .unwrap_or(b"");
    let line_json = serde_json::from_slice::<serde_json::Value>(first_line).ok();
    let starts_json = head
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'[' || b == b'{');
    let multiline_json = starts_json && line_json.is_none();
    let json = match line_json {
        Some(v) => Some(v),
        None if starts_json => serde_json::from_slice::<serde_json::Value>(head).ok(),
        None => None,
    };
    f(&Sample {
        head,
        first_line,
        json: json.as_ref(),
        multiline_json,
    })
}

/// The decoder most sure of the sample, if any is at all.
pub fn detect_format(head: &[u8]) -> Option<&'static dyn Decoder> {
    sample_of(head, |sample| {
        let mut best: Option<(&'static dyn Decoder, u8)> = None;
        for d in DECODERS.iter().copied() {
            let score = d.sniff(sample);
            if score > 0 && best.is_none_or(|(_, s)| score > s) {
                best = Some((d, score));
            }
        }
        best.map(|(d, _)| d)
    })
}

/// Names accepted by `--format`.
pub fn known_formats() -> String {
    let mut names: Vec<&str> = DECODERS.iter().map(|d| d.kind().as_str()).collect();
    names.insert(0, "auto");
    names.join(", ")
}
