//! The decoder contract every input format implements.

use std::fmt;

use gw_model::{Exchange, SourceKind};
use jiff::Timestamp;
use xxhash_rust::xxh3::xxh3_128;

/// How an input is cut into units for a decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Every line is one unit (one record, or one JSON envelope holding several).
    Lines,
    /// The whole input is one unit (HAR, a JSON array), read up to [`crate::Limits::max_document_bytes`].
    Document,
}

/// The start of an input, shown to every decoder for format detection.
#[derive(Debug)]
pub struct Sample<'a> {
    /// Up to 64 KiB from the start (after gzip and a UTF-8 BOM are removed).
    pub head: &'a [u8],
    /// The first non-empty line, without its line break.
    pub first_line: &'a [u8],
    /// The first non-empty line parsed as JSON, or the whole head when it is one complete
    /// JSON document; `None` when neither parses.
    pub json: Option<&'a serde_json::Value>,
    /// Whether the first non-whitespace byte is `[` or `{` and the first line alone is not a
    /// complete JSON value (a pretty-printed document).
    pub multiline_json: bool,
}

/// One unit of input handed to a decoder.
#[derive(Clone, Copy, Debug)]
pub struct Unit<'a> {
    pub bytes: &'a [u8],
    /// 1-based line of the input where the unit starts.
    pub line: u64,
}

/// What a decoder knows about the input it is decoding.
#[derive(Debug, Clone)]
pub struct DecodeCtx {
    /// Input name as the user gave it (`access.log`, `-`).
    pub file: String,
}

impl DecodeCtx {
    pub fn new(file: impl Into<String>) -> Self {
        DecodeCtx { file: file.into() }
    }

    /// A deterministic UUIDv7 for a record whose source has no id: the timestamp part is the
    /// record's event time, the rest a hash of input name, line, position in the unit and bytes.
    /// Ingesting the same file again therefore yields the same ids (and no duplicates), while two
    /// identical log lines still get distinct ids.
    pub fn exchange_id(
        &self,
        observed_at: Timestamp,
        line: u64,
        index: usize,
        raw: &[u8],
    ) -> String {
        let mut seed = Vec::with_capacity(self.file.len() + 24);
        seed.extend_from_slice(self.file.as_bytes());
        seed.extend_from_slice(&line.to_le_bytes());
        seed.extend_from_slice(&(index as u64).to_le_bytes());
        let h = xxh3_128(raw) ^ xxh3_128(&seed).rotate_left(64);
        let millis = observed_at.as_millisecond().max(0) as u64;
        let bytes = h.to_le_bytes();
        let mut rand = [0u8; 10];
        rand.copy_from_slice(&bytes[..10]);
        uuid::Builder::from_unix_timestamp_millis(millis, &rand)
            .into_uuid()
            .to_string()
    }

    /// `file:line`, the pointer back to the raw event kept in `source.raw_ref`.
    pub fn raw_ref(&self, line: u64) -> String {
        // Once per record: `format!` with two arguments cost several times as much.
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(line);
        let mut s = String::with_capacity(self.file.len() + 1 + digits.len());
        s.push_str(&self.file);
        s.push(':');
        s.push_str(digits);
        s
    }

    /// Fills what every decoder must: an id when the source had none, and `source.raw_ref`.
    pub fn finish_record(&self, x: &mut Exchange, line: u64, index: usize, raw: &[u8]) {
        if x.id.is_empty() {
            x.id = self.exchange_id(x.observed_at, line, index, raw);
        }
        if x.source.raw_ref.is_none() {
            x.source.raw_ref = Some(self.raw_ref(line));
        }
    }
}

/// Where decoded records and rejects go.
pub trait Emit {
    fn record(&mut self, x: Exchange);
    /// `raw` is the input of the refused record (the line, or the document entry).
    fn reject(&mut self, err: DecodeError, raw: &[u8]);
}

/// Reason classes rejects are counted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// Not valid JSON where JSON was expected.
    InvalidJson,
    /// Not valid UTF-8 where text was expected.
    InvalidUtf8,
    /// A required field is absent.
    MissingField,
    /// A field has the wrong type or an impossible value.
    BadField,
    /// The line does not have the shape of the format (wrong number of fields, ...).
    Malformed,
    /// The unit exceeds a size limit.
    TooLarge,
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::InvalidJson => "invalid_json",
            RejectReason::InvalidUtf8 => "invalid_utf8",
            RejectReason::MissingField => "missing_field",
            RejectReason::BadField => "bad_field",
            RejectReason::Malformed => "malformed",
            RejectReason::TooLarge => "too_large",
        }
    }
}

/// Why one record could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub reason: RejectReason,
    /// The field at fault (`status`, `request.headers`), when one is.
    pub field: Option<String>,
    /// What was expected and what was found.
    pub message: String,
    /// The 1-based input line of the record when it differs from the unit's start (documents).
    pub line: Option<u64>,
    /// The position inside a document (`log.entries[3]`).
    pub entry: Option<String>,
}

impl DecodeError {
    pub fn new(reason: RejectReason, message: impl Into<String>) -> Self {
        DecodeError {
            reason,
            field: None,
            message: message.into(),
            line: None,
            entry: None,
        }
    }

    pub fn field(
        reason: RejectReason,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        DecodeError {
            field: Some(field.into()),
            ..DecodeError::new(reason, message)
        }
    }

    pub fn missing(field: &str) -> Self {
        DecodeError::field(
            RejectReason::MissingField,
            field,
            "required field is missing",
        )
    }

    pub fn at_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    pub fn at_entry(mut self, entry: impl Into<String>) -> Self {
        self.entry = Some(entry.into());
        self
    }

    /// Maps a serde_json error into a reject, keeping serde's field path and position.
    pub fn from_json(err: &serde_json::Error) -> Self {
        let reason = match err.classify() {
            serde_json::error::Category::Data => {
                if err.to_string().starts_with("missing field") {
                    RejectReason::MissingField
                } else {
                    RejectReason::BadField
                }
            }
            _ => RejectReason::InvalidJson,
        };
        let msg = err.to_string();
        let field = json_error_field(&msg);
        DecodeError {
            field,
            ..DecodeError::new(reason, msg)
        }
    }
}

impl DecodeError {
    /// The slow path after a failed fast parse: parses `bytes` again as `T` while tracking the
    /// path, so the reject names the nested field (`response.status`) and what was wrong there.
    pub fn from_json_with_path<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Self {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Ok(_) => DecodeError::new(RejectReason::BadField, "record could not be decoded"),
            Err(e) => {
                let path = e.path().to_string();
                let mut err = DecodeError::from_json(e.inner());
                if path != "." && err.reason != RejectReason::InvalidJson {
                    err.field = Some(match &err.field {
                        Some(f) if err.reason == RejectReason::MissingField => {
                            format!("{path}.{f}")
                        }
                        _ => path,
                    });
                }
                err
            }
        }
    }
}

/// serde's messages name the field as `missing field \`x\`` or `unknown field \`x\``.
fn json_error_field(msg: &str) -> Option<String> {
    let start = msg.find('`')? + 1;
    let len = msg[start..].find('`')?;
    Some(msg[start..start + len].to_string())
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(field) = &self.field {
            write!(f, "field \"{field}\": ")?;
        }
        f.write_str(&self.message)
    }
}

/// An input format: how to recognise it and how to decode it.
pub trait Decoder: Sync {
    /// The `source.kind` of the records it produces.
    fn kind(&self) -> SourceKind;

    /// How the input is cut into units. Called once per input with its sample.
    fn framing(&self, sample: &Sample<'_>) -> Framing;

    /// How sure the decoder is that the sample is its format: 0 (no) to 100 (certain).
    fn sniff(&self, sample: &Sample<'_>) -> u8;

    /// Decodes one unit, emitting every record and every reject it contains.
    fn decode(&self, unit: Unit<'_>, ctx: &DecodeCtx, out: &mut dyn Emit);
}

/// 1-based line number of byte `offset` in `doc` (for errors and raw_ref in documents).
pub fn line_of(doc: &[u8], offset: usize) -> u64 {
    1 + memchr::memchr_iter(b'\n', &doc[..offset.min(doc.len())]).count() as u64
}

/// Byte offset of `part` inside `whole` when `part` is a sub-slice of it (serde_json's
/// `RawValue` borrows from the input, so this finds where a document entry starts).
pub fn offset_in(whole: &[u8], part: &[u8]) -> Option<usize> {
    let start = whole.as_ptr() as usize;
    let p = part.as_ptr() as usize;
    (p >= start && p + part.len() <= start + whole.len()).then(|| p - start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_v7_and_distinct_per_line() {
        let ctx = DecodeCtx::new("a.log");
        let t: Timestamp = "2024-06-10T09:13:20Z".parse().unwrap();
        let a = ctx.exchange_id(t, 1, 0, b"same");
        assert_eq!(a, ctx.exchange_id(t, 1, 0, b"same"));
        assert_ne!(a, ctx.exchange_id(t, 2, 0, b"same"));
        assert_ne!(a, ctx.exchange_id(t, 1, 1, b"same"));
        let u = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(u.get_version_num(), 7);
        let (secs, _) = u.get_timestamp().unwrap().to_unix();
        assert_eq!(secs as i64, t.as_second());
    }

    #[test]
    fn raw_refs_name_the_file_and_the_line() {
        let ctx = DecodeCtx::new("access.log");
        for line in [0, 1, 9, 10, 99, 1042, 1_000_000, u64::MAX] {
            assert_eq!(ctx.raw_ref(line), format!("access.log:{line}"));
        }
        assert_eq!(DecodeCtx::new("").raw_ref(7), ":7");
    }

    #[test]
    fn json_errors_name_their_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct S {
            status: u16,
        }
        let e = serde_json::from_str::<S>("{}").unwrap_err();
        let d = DecodeError::from_json(&e);
        assert_eq!(d.reason, RejectReason::MissingField);
        assert_eq!(d.field.as_deref(), Some("status"));
        let e = serde_json::from_str::<S>("{\"status\":\"abc\"}").unwrap_err();
        assert_eq!(DecodeError::from_json(&e).reason, RejectReason::BadField);
        let e = serde_json::from_str::<S>("{\"status\":").unwrap_err();
        assert_eq!(DecodeError::from_json(&e).reason, RejectReason::InvalidJson);
    }

    #[test]
    fn slow_path_names_the_nested_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Inner {
            status: u16,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Outer {
            response: Inner,
        }
        let d = DecodeError::from_json_with_path::<Outer>(br#"{"response":{"status":"abc"}}"#);
        assert_eq!(d.field.as_deref(), Some("response.status"));
        assert_eq!(d.reason, RejectReason::BadField);
        let d = DecodeError::from_json_with_path::<Outer>(br#"{"response":{}}"#);
        assert_eq!(d.field.as_deref(), Some("response.status"));
        assert_eq!(d.reason, RejectReason::MissingField);
    }

    #[test]
    fn line_and_offset_helpers() {
        let doc = b"[\n {\"a\":1},\n {\"b\":2}\n]";
        assert_eq!(line_of(doc, 0), 1);
        assert_eq!(line_of(doc, 13), 3);
        assert_eq!(offset_in(doc, &doc[3..5]), Some(3));
        assert_eq!(offset_in(doc, b"elsewhere"), None);
    }
}
