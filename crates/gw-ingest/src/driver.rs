//! Drives one input through framing and its decoder.

use std::io::{BufRead, Cursor, Read};

use gw_model::{Exchange, SourceKind};

use crate::sniff::{SAMPLE_BYTES, known_formats, sample_of};
use crate::{
    DecodeCtx, DecodeError, Decoder, Emit, Framing, Input, InputError, RejectReason, Unit,
};

/// Which decoder to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatChoice {
    /// Detect from the first records.
    Auto,
    Kind(SourceKind),
}

impl std::str::FromStr for FormatChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "auto" {
            return Ok(FormatChoice::Auto);
        }
        match SourceKind::from_name(s) {
            Some(k) if crate::decoder_for(k).is_some() => Ok(FormatChoice::Kind(k)),
            _ => Err(format!(
                "unknown format \"{s}\"; expected one of: {}",
                known_formats()
            )),
        }
    }
}

/// Size bounds: no unit of input is buffered beyond these.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Longest line kept; longer lines are rejected as `too_large` and skipped.
    pub max_line_bytes: usize,
    /// Largest single-document input (HAR, JSON array).
    pub max_document_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_bytes: 16 * 1024 * 1024,
            max_document_bytes: 1024 * 1024 * 1024,
        }
    }
}

/// What decoding one input produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeStats {
    pub format: SourceKind,
    /// Lines read (line formats) or 1 per document.
    pub units: u64,
    /// Decompressed bytes read.
    pub bytes: u64,
    pub records: u64,
    pub rejected: u64,
}

struct Counting<'a> {
    inner: &'a mut dyn Emit,
    records: u64,
    rejected: u64,
    /// Line of the unit being decoded: the default place of its rejects.
    line: u64,
}

impl Emit for Counting<'_> {
    fn record(&mut self, x: Exchange) {
        self.records += 1;
        self.inner.record(x);
    }

    fn reject(&mut self, mut err: DecodeError, raw: &[u8]) {
        self.rejected += 1;
        err.line.get_or_insert(self.line);
        self.inner.reject(err, raw);
    }
}

/// Reads `input` to the end, emitting every record and every reject. Only an input that cannot
/// be read or recognised at all is an error; bad records are rejects.
pub fn decode_input(
    mut input: Input,
    choice: FormatChoice,
    limits: &Limits,
    out: &mut dyn Emit,
) -> Result<DecodeStats, InputError> {
    let name = input.name.clone();
    let read_err = |offset: u64, source| InputError::Read {
        name: name.clone(),
        offset,
        source,
    };
    let mut head = Vec::with_capacity(SAMPLE_BYTES);
    (&mut input.reader)
        .take(SAMPLE_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| read_err(0, e))?;
    let Some(decoder) = choose_decoder(&name, &head, choice)? else {
        return Ok(empty_stats(head.len()));
    };
    let framing = sample_of(&head, |s| decoder.framing(s));
    let reader = Cursor::new(head).chain(input.reader);
    let ctx = DecodeCtx::new(name.clone());
    let mut counting = Counting::new(out);
    let (units, bytes) = match framing {
        Framing::Lines => decode_lines(reader, decoder, &ctx, limits, &mut counting, &read_err)?,
        Framing::Document => {
            decode_document(reader, decoder, &ctx, limits, &mut counting, &read_err)?
        }
    };
    Ok(counting.stats(decoder, units, bytes))
}

/// [`decode_input`] over an input already in memory, such as an HTTP request body: the same
/// records, rejects and statistics as over a reader of `bytes`, but lines are handed to the
/// decoder where they lie instead of being copied through read buffers (three copies of every
/// byte on the reader path). `bytes` must be uncompressed: unlike [`Input`], this does not
/// recognise gzip (see [`is_gzip`]).
pub fn decode_bytes(
    name: &str,
    bytes: &[u8],
    choice: FormatChoice,
    limits: &Limits,
    out: &mut dyn Emit,
) -> Result<DecodeStats, InputError> {
    let head = &bytes[..bytes.len().min(SAMPLE_BYTES)];
    let Some(decoder) = choose_decoder(name, head, choice)? else {
        return Ok(empty_stats(bytes.len()));
    };
    let ctx = DecodeCtx::new(name);
    let mut counting = Counting::new(out);
    let units = match sample_of(head, |s| decoder.framing(s)) {
        Framing::Lines => {
            let mut line_no = 0;
            let mut start = 0;
            while start < bytes.len() {
                // memchr, not `split_inclusive`: a byte-at-a-time scan cost 0.5 µs per
                // 1.9 KB record, more than the copies this function saves.
                let end =
                    memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i + 1);
                let line = &bytes[start..end];
                start = end;
                line_no += 1;
                let overflow = line.len() > limits.max_line_bytes;
                let kept = &line[..line.len().min(limits.max_line_bytes)];
                decode_line(
                    decoder,
                    &ctx,
                    limits,
                    &mut counting,
                    line_no,
                    kept,
                    line.len(),
                    overflow,
                );
            }
            line_no
        }
        Framing::Document => {
            if bytes.len() as u64 > limits.max_document_bytes {
                return Err(document_too_large(&ctx, decoder, limits));
            }
            decode_whole(decoder, &ctx, &mut counting, bytes);
            1
        }
    };
    Ok(counting.stats(decoder, units, bytes.len() as u64))
}

/// Whether `bytes` start with the gzip magic number, which [`Input`] unpacks transparently and
/// [`decode_bytes`] does not.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// The decoder for an input starting with `head`; `None` for an input with nothing but
/// whitespace when the format is to be detected (it has no records to get wrong).
fn choose_decoder(
    name: &str,
    head: &[u8],
    choice: FormatChoice,
) -> Result<Option<&'static dyn Decoder>, InputError> {
    match choice {
        FormatChoice::Kind(k) => Ok(Some(
            crate::decoder_for(k).expect("FormatChoice only names known decoders"),
        )),
        FormatChoice::Auto if head.iter().all(u8::is_ascii_whitespace) => Ok(None),
        FormatChoice::Auto => {
            crate::detect_format(head)
                .map(Some)
                .ok_or_else(|| InputError::UnknownFormat {
                    name: name.to_string(),
                    known: known_formats(),
                })
        }
    }
}

fn empty_stats(bytes: usize) -> DecodeStats {
    DecodeStats {
        format: SourceKind::Native,
        units: 0,
        bytes: bytes as u64,
        records: 0,
        rejected: 0,
    }
}

impl<'a> Counting<'a> {
    fn new(inner: &'a mut dyn Emit) -> Self {
        Counting {
            inner,
            records: 0,
            rejected: 0,
            line: 1,
        }
    }

    fn stats(&self, decoder: &dyn Decoder, units: u64, bytes: u64) -> DecodeStats {
        DecodeStats {
            format: decoder.kind(),
            units,
            bytes,
            records: self.records,
            rejected: self.rejected,
        }
    }
}

fn decode_lines<R: BufRead>(
    mut reader: R,
    decoder: &dyn Decoder,
    ctx: &DecodeCtx,
    limits: &Limits,
    out: &mut Counting<'_>,
    read_err: &dyn Fn(u64, std::io::Error) -> InputError,
) -> Result<(u64, u64), InputError> {
    let mut line = Vec::with_capacity(4096);
    let mut line_no = 0u64;
    let mut bytes = 0u64;
    loop {
        line.clear();
        let (read, overflow) = read_bounded_line(&mut reader, &mut line, limits.max_line_bytes)
            .map_err(|e| read_err(bytes, e))?;
        if read == 0 {
            break;
        }
        bytes += read as u64;
        line_no += 1;
        decode_line(decoder, ctx, limits, out, line_no, &line, read, overflow);
    }
    Ok((line_no, bytes))
}

/// One line of a line-framed input: `kept` is at most `max_line_bytes` of it, `read` its full
/// length with the newline, `overflow` whether it was longer than the limit (then rejected).
#[allow(clippy::too_many_arguments)]
fn decode_line(
    decoder: &dyn Decoder,
    ctx: &DecodeCtx,
    limits: &Limits,
    out: &mut Counting<'_>,
    line_no: u64,
    kept: &[u8],
    read: usize,
    overflow: bool,
) {
    out.line = line_no;
    let mut text = kept;
    if line_no == 1 {
        text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    }
    while let Some((&last, rest)) = text.split_last() {
        if last == b'\n' || last == b'\r' {
            text = rest;
        } else {
            break;
        }
    }
    if overflow {
        let err = DecodeError::new(
            RejectReason::TooLarge,
            format!(
                "line is {read} bytes, longer than the {}-byte limit (ingest.max_line_bytes); skipped",
                limits.max_line_bytes
            ),
        );
        out.reject(err, text);
        return;
    }
    if text.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    decoder.decode(
        Unit {
            bytes: text,
            line: line_no,
        },
        ctx,
        out,
    );
}

/// Reads one line into `buf`, keeping at most `max` bytes; returns the bytes consumed and
/// whether the line was longer than `max` (the rest is consumed and discarded).
fn read_bounded_line<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<(usize, bool)> {
    let mut consumed = 0;
    let mut overflow = false;
    loop {
        let available = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok((consumed, overflow));
        }
        let (chunk, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let room = max.saturating_sub(buf.len());
        if chunk.len() > room {
            overflow = true;
            buf.extend_from_slice(&chunk[..room]);
        } else {
            buf.extend_from_slice(chunk);
        }
        let n = chunk.len();
        consumed += n;
        r.consume(n);
        if done {
            return Ok((consumed, overflow));
        }
    }
}

fn decode_document<R: BufRead>(
    reader: R,
    decoder: &dyn Decoder,
    ctx: &DecodeCtx,
    limits: &Limits,
    out: &mut dyn Emit,
    read_err: &dyn Fn(u64, std::io::Error) -> InputError,
) -> Result<(u64, u64), InputError> {
    let mut doc = Vec::new();
    reader
        .take(limits.max_document_bytes.saturating_add(1))
        .read_to_end(&mut doc)
        .map_err(|e| read_err(0, e))?;
    if doc.len() as u64 > limits.max_document_bytes {
        return Err(document_too_large(ctx, decoder, limits));
    }
    decode_whole(decoder, ctx, out, &doc);
    Ok((1, doc.len() as u64))
}

fn document_too_large(ctx: &DecodeCtx, decoder: &dyn Decoder, limits: &Limits) -> InputError {
    InputError::DocumentTooLarge {
        name: ctx.file.clone(),
        format: decoder.kind().to_string(),
        limit: limits.max_document_bytes,
    }
}

/// A whole-document input (HAR, JSON array) as one unit.
fn decode_whole(decoder: &dyn Decoder, ctx: &DecodeCtx, out: &mut dyn Emit, doc: &[u8]) {
    let text = doc.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(doc);
    decoder.decode(
        Unit {
            bytes: text,
            line: 1,
        },
        ctx,
        out,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_lines_skip_the_overflow_and_keep_the_next_line() {
        let data = b"short\nthis line is far too long\nok\nlast-without-newline";
        let mut r = std::io::BufReader::with_capacity(4, &data[..]);
        let mut buf = Vec::new();
        let mut lines = Vec::new();
        loop {
            buf.clear();
            let (n, overflow) = read_bounded_line(&mut r, &mut buf, 8).unwrap();
            if n == 0 {
                break;
            }
            lines.push((String::from_utf8(buf.clone()).unwrap(), n, overflow));
        }
        assert_eq!(
            lines,
            vec![
                ("short\n".to_string(), 6, false),
                ("this lin".to_string(), 26, true),
                ("ok\n".to_string(), 3, false),
                ("last-wit".to_string(), 20, true),
            ]
        );
    }

    /// Everything `decode_bytes` reports (records, rejects with their places and messages,
    /// statistics) next to what `decode_input` reports for a reader of the same bytes.
    fn both_paths(bytes: &[u8], choice: FormatChoice, limits: &Limits) -> [String; 2] {
        use crate::formats::testing::Collect;
        let show = |stats: Result<DecodeStats, InputError>, out: Collect| {
            format!("{stats:?}\n{:?}\n{:?}", out.0, out.1)
        };
        let mut from_bytes = Collect::default();
        let stats = decode_bytes("body", bytes, choice, limits, &mut from_bytes);
        let a = show(stats, from_bytes);
        let mut from_reader = Collect::default();
        let input = Input::from_reader("body", Cursor::new(bytes.to_vec())).unwrap();
        let stats = decode_input(input, choice, limits, &mut from_reader);
        [a, show(stats, from_reader)]
    }

    #[test]
    fn bytes_in_memory_decode_exactly_as_a_reader_of_them() {
        let record = |id: &str| {
            format!(
                r#"{{"schema":"gatewatch.exchange/1","id":"{id}","observed_at":"2024-06-03T00:00:00Z","source":{{"kind":"native","capture":"frontend"}},"client":{{}},"server":{{}},"request":{{"method":"GET","path":"/a"}},"response":{{"status":200}}}}"#
            )
        };
        let ndjson = format!(
            "\u{feff}{}\r\n\n   \n{}\nnot json\n{}\n{}",
            record("a"),
            record("b"),
            record(&"x".repeat(400)),
            record("last-without-newline")
        );
        let array = format!("[{},{}]", record("c"), record("d"));
        let native = FormatChoice::Kind(SourceKind::Native);
        let narrow = Limits {
            max_line_bytes: 300,
            max_document_bytes: 200,
        };
        let cases: [(&[u8], FormatChoice, Limits); 7] = [
            (ndjson.as_bytes(), native, Limits::default()),
            (ndjson.as_bytes(), FormatChoice::Auto, Limits::default()),
            // The long record is rejected as too large, the lines around it are kept.
            (ndjson.as_bytes(), native, narrow),
            (array.as_bytes(), FormatChoice::Auto, Limits::default()),
            // A document over the limit is an error on both paths.
            (array.as_bytes(), FormatChoice::Auto, narrow),
            (b" \n\t", FormatChoice::Auto, Limits::default()),
            (b"", native, Limits::default()),
        ];
        for (i, (bytes, choice, limits)) in cases.iter().enumerate() {
            let [a, b] = both_paths(bytes, *choice, limits);
            assert_eq!(a, b, "case {i}");
        }
        let [a, _] = both_paths(ndjson.as_bytes(), native, &narrow);
        assert!(a.contains("records: 3, rejected: 2"), "{a}");
        assert!(a.contains("longer than the 300-byte limit"), "{a}");
        assert!(is_gzip(b"\x1f\x8b\x08") && !is_gzip(ndjson.as_bytes()));
    }

    #[test]
    fn format_names_parse_or_list_the_choices() {
        assert_eq!("auto".parse::<FormatChoice>(), Ok(FormatChoice::Auto));
        assert_eq!(
            "native".parse::<FormatChoice>(),
            Ok(FormatChoice::Kind(SourceKind::Native))
        );
        let err = "syslog".parse::<FormatChoice>().unwrap_err();
        assert!(
            err.contains("unknown format \"syslog\"") && err.contains("native"),
            "{err}"
        );
    }
}
