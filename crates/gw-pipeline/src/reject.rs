//! The rejects quarantine: every record refused anywhere is counted by reason and kept, with its
//! place and the original input, where the user can inspect it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Longest original input kept per reject; longer inputs are cut and flagged.
pub const MAX_REJECT_RAW_BYTES: usize = 64 * 1024;

/// One refused input: where it was, what was wrong, and what it was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reject {
    /// Input name (`access.log`, `-` for stdin).
    pub file: String,
    /// 1-based line of the input where the refused record starts.
    pub line: u64,
    /// Position inside a document, e.g. `log.entries[3]` (document formats only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// The field at fault, when one is (`status`, `request.headers[2].name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Stable, short reason class used for counting (`invalid_json`, `bad_field`, ...).
    pub reason: String,
    /// What was expected and what was found.
    pub message: String,
    /// The original input (masked), cut at [`MAX_REJECT_RAW_BYTES`].
    pub raw: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub raw_truncated: bool,
}

impl Reject {
    /// `file:line[: entry]: field "x": message` — the form used in logs and summaries.
    pub fn location(&self) -> String {
        let mut s = format!("{}:{}", self.file, self.line);
        if let Some(e) = &self.entry {
            s.push_str(": ");
            s.push_str(e);
        }
        s
    }
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: ", self.location())?;
        if let Some(field) = &self.field {
            write!(f, "field \"{field}\": ")?;
        }
        f.write_str(&self.message)
    }
}

/// Counts of rejects by reason, sorted for stable output.
pub type RejectCounts = BTreeMap<String, u64>;

/// Masks sensitive values in raw input before it is written anywhere.
pub type RawMasker = Box<dyn Fn(&str) -> String + Send>;

/// Where rejects go: always counted; written as NDJSON when a file is configured.
pub struct RejectSink {
    writer: Option<(PathBuf, BufWriter<File>)>,
    counts: RejectCounts,
    total: u64,
    masker: Option<RawMasker>,
}

impl RejectSink {
    /// Counts rejects without keeping them (the summary still shows every reason).
    pub fn counting_only() -> Self {
        RejectSink {
            writer: None,
            counts: RejectCounts::new(),
            total: 0,
            masker: None,
        }
    }

    /// Counts rejects and writes each as one JSON line to `path` (created or truncated).
    pub fn to_file(path: &Path) -> io::Result<Self> {
        let file = File::create(path)?;
        Ok(RejectSink {
            writer: Some((path.to_path_buf(), BufWriter::new(file))),
            ..RejectSink::counting_only()
        })
    }

    /// Applies `masker` to every raw input before it is written.
    pub fn with_masker(mut self, masker: RawMasker) -> Self {
        self.masker = Some(masker);
        self
    }

    /// Builds a reject from raw bytes (lossy UTF-8, bounded, masked) and records it.
    #[allow(clippy::too_many_arguments)]
    pub fn reject_raw(
        &mut self,
        file: &str,
        line: u64,
        entry: Option<String>,
        field: Option<String>,
        reason: &str,
        message: String,
        raw: &[u8],
    ) -> io::Result<()> {
        let truncated = raw.len() > MAX_REJECT_RAW_BYTES;
        let kept = &raw[..raw.len().min(MAX_REJECT_RAW_BYTES)];
        let text = String::from_utf8_lossy(kept);
        let raw = match &self.masker {
            Some(m) => m(&text),
            None => text.into_owned(),
        };
        self.record(Reject {
            file: file.to_string(),
            line,
            entry,
            field,
            reason: reason.to_string(),
            message,
            raw,
            raw_truncated: truncated,
        })
    }

    /// Records one reject. An I/O error writing the rejects file is returned (the caller must
    /// stop: losing rejects silently is not allowed); the reject is counted either way.
    pub fn record(&mut self, reject: Reject) -> io::Result<()> {
        *self.counts.entry(reject.reason.clone()).or_insert(0) += 1;
        self.total += 1;
        if let Some((_, w)) = &mut self.writer {
            serde_json::to_writer(&mut *w, &reject)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn counts(&self) -> &RejectCounts {
        &self.counts
    }

    pub fn path(&self) -> Option<&Path> {
        self.writer.as_ref().map(|(p, _)| p.as_path())
    }

    /// Flushes the rejects file.
    pub fn flush(&mut self) -> io::Result<()> {
        if let Some((_, w)) = &mut self.writer {
            w.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_are_counted_by_reason_and_written_with_place_and_input() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rejects.ndjson");
        let mut sink = RejectSink::to_file(&path)
            .unwrap()
            .with_masker(Box::new(|s| s.replace("secret", "s****t")));
        sink.reject_raw(
            "access.log",
            1042,
            None,
            Some("status".into()),
            "bad_field",
            "expected an integer, found \"abc\"".into(),
            b"GET / secret abc",
        )
        .unwrap();
        sink.reject_raw(
            "access.log",
            7,
            None,
            None,
            "invalid_json",
            "eof".into(),
            &[0xff, b'x'],
        )
        .unwrap();
        sink.reject_raw(
            "a",
            9,
            None,
            None,
            "bad_field",
            "m".into(),
            &[b'a'; MAX_REJECT_RAW_BYTES + 10],
        )
        .unwrap();
        sink.flush().unwrap();
        assert_eq!(sink.total(), 3);
        assert_eq!(sink.counts()["bad_field"], 2);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["line"], 1042);
        assert_eq!(lines[0]["field"], "status");
        assert_eq!(lines[0]["raw"], "GET / s****t abc", "raw input is masked");
        assert_eq!(
            lines[1]["raw"], "\u{fffd}x",
            "invalid UTF-8 is kept lossily"
        );
        assert_eq!(lines[2]["raw_truncated"], true);
        assert_eq!(
            lines[2]["raw"].as_str().unwrap().len(),
            MAX_REJECT_RAW_BYTES
        );
    }

    #[test]
    fn display_names_file_line_field_and_reason() {
        let r = Reject {
            file: "access.log".into(),
            line: 1042,
            entry: None,
            field: Some("status".into()),
            reason: "bad_field".into(),
            message: "expected an integer, found \"abc\"".into(),
            raw: String::new(),
            raw_truncated: false,
        };
        assert_eq!(
            r.to_string(),
            "access.log:1042: field \"status\": expected an integer, found \"abc\""
        );
    }
}
