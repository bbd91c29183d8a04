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
    let decoder: &dyn Decoder = match choice {
        FormatChoice::Kind(k) => {
            crate::decoder_for(k).expect("FormatChoice only names known decoders")
        }
        FormatChoice::Auto if head.iter().all(u8::is_ascii_whitespace) => {
            // An empty input has no records to get wrong.
            return Ok(DecodeStats {
                format: SourceKind::Native,
                units: 0,
                bytes: head.len() as u64,
                records: 0,
                rejected: 0,
            });
        }
        FormatChoice::Auto => {
            crate::detect_format(&head).ok_or_else(|| InputError::UnknownFormat {
                name: name.clone(),
                known: known_formats(),
            })?
        }
    };
    let framing = sample_of(&head, |s| decoder.framing(s));
    let reader = Cursor::new(head).chain(input.reader);
    let ctx = DecodeCtx::new(name.clone());
    let mut counting = Counting {
        inner: out,
        records: 0,
        rejected: 0,
        line: 1,
    };
    let (units, bytes) = match framing {
        Framing::Lines => decode_lines(reader, decoder, &ctx, limits, &mut counting, &read_err)?,
        Framing::Document => {
            decode_document(reader, decoder, &ctx, limits, &mut counting, &read_err)?
        }
    };
    Ok(DecodeStats {
        format: decoder.kind(),
        units,
        bytes,
        records: counting.records,
        rejected: counting.rejected,
    })
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
        out.line = line_no;
        let mut text: &[u8] = &line;
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
            continue;
        }
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
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
    Ok((line_no, bytes))
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
        return Err(InputError::DocumentTooLarge {
            name: ctx.file.clone(),
            format: decoder.kind().to_string(),
            limit: limits.max_document_bytes,
        });
    }
    let text = doc.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&doc);
    decoder.decode(
        Unit {
            bytes: text,
            line: 1,
        },
        ctx,
        out,
    );
    Ok((1, doc.len() as u64))
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
