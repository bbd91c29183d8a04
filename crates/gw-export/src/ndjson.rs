//! Native NDJSON (`gatewatch.finding/1`, one finding per line) and a size-rotated file sink.
//!
//! Rotation: before a line would push the current file past `max_bytes`, the file is closed and
//! shifted to `path.1` (`path.1` → `path.2` …, the oldest beyond `keep` is deleted), and the line
//! starts a fresh `path`. Lines are never split across files; a single line longer than
//! `max_bytes` gets a file of its own. With `keep = 0` the old file is simply replaced.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use gw_model::Finding;
use serde::{Deserialize, Serialize};

use crate::{ExportError, Result};

/// One finding as one JSON line, `\n` included.
pub fn finding_line(finding: &Finding) -> Result<Vec<u8>> {
    let mut line =
        serde_json::to_vec(finding).map_err(|e| ExportError::json(&finding.id, "json", e))?;
    line.push(b'\n');
    Ok(line)
}

/// Writes findings as NDJSON.
pub fn write_ndjson<W: Write>(mut out: W, findings: &[Finding]) -> Result<()> {
    for f in findings {
        out.write_all(&finding_line(f)?)
            .map_err(|source| ExportError::Write {
                format: "json",
                source,
            })?;
    }
    Ok(())
}

/// Configuration of a size-rotated NDJSON file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotatingFile {
    pub path: PathBuf,
    /// Rotate before the file would exceed this many bytes.
    pub max_bytes: u64,
    /// Rotated files kept (`path.1` newest … `path.<keep>` oldest).
    pub keep: usize,
}

impl RotatingFile {
    /// Opens (appending to) `path`, creating it if needed.
    pub fn open(&self) -> Result<RotatingWriter> {
        let file = open_append(&self.path)?;
        let written = file
            .metadata()
            .map_err(|source| io_error(&self.path, "reading size", source))?
            .len();
        Ok(RotatingWriter {
            config: self.clone(),
            file: BufWriter::new(file),
            written,
        })
    }

    /// Path of the `n`-th rotated file (`path.n`).
    pub fn rotated_path(&self, n: usize) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }
}

/// An open [`RotatingFile`]. Call [`RotatingWriter::flush`] before dropping to see write errors.
pub struct RotatingWriter {
    config: RotatingFile,
    file: BufWriter<File>,
    written: u64,
}

impl RotatingWriter {
    /// Appends one finding as a line.
    pub fn write_finding(&mut self, finding: &Finding) -> Result<()> {
        self.write_line(&finding_line(finding)?)
    }

    /// Appends one complete line (the caller includes the trailing `\n`), rotating first if it
    /// would not fit.
    pub fn write_line(&mut self, line: &[u8]) -> Result<()> {
        let len = line.len() as u64;
        if self.written > 0 && self.written.saturating_add(len) > self.config.max_bytes {
            self.rotate()?;
        }
        self.file
            .write_all(line)
            .map_err(|source| io_error(&self.config.path, "writing", source))?;
        self.written += len;
        Ok(())
    }

    /// Bytes in the current file.
    pub fn current_len(&self) -> u64 {
        self.written
    }

    pub fn flush(&mut self) -> Result<()> {
        self.file
            .flush()
            .map_err(|source| io_error(&self.config.path, "flushing", source))
    }

    fn rotate(&mut self) -> Result<()> {
        self.flush()?;
        let config = &self.config;
        if config.keep == 0 {
            remove_if_exists(&config.path)?;
        } else {
            remove_if_exists(&config.rotated_path(config.keep))?;
            for n in (1..config.keep).rev() {
                rename_if_exists(&config.rotated_path(n), &config.rotated_path(n + 1))?;
            }
            rename_if_exists(&config.path, &config.rotated_path(1))?;
        }
        self.file = BufWriter::new(open_append(&config.path)?);
        self.written = 0;
        Ok(())
    }
}

fn io_error(path: &Path, action: &'static str, source: std::io::Error) -> ExportError {
    ExportError::Io {
        path: path.to_path_buf(),
        action,
        source,
    }
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| io_error(path, "opening for append", source))
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(io_error(path, "removing oldest rotated file", e))
        }
        _ => Ok(()),
    }
}

fn rename_if_exists(from: &Path, to: &Path) -> Result<()> {
    match std::fs::rename(from, to) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error(from, "rotating", e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::all;

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }

    #[test]
    fn ndjson_round_trips_one_finding_per_line() {
        let mut out = Vec::new();
        write_ndjson(&mut out, &all()).unwrap();
        let text = String::from_utf8(out).unwrap();
        let back: Vec<Finding> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(back, all());
    }

    #[test]
    fn rotation_keeps_every_line_and_the_newest_files() {
        let dir = tempfile::tempdir().unwrap();
        let config = RotatingFile {
            path: dir.path().join("findings.ndjson"),
            max_bytes: 20,
            keep: 2,
        };
        let mut w = config.open().unwrap();
        for i in 0..7 {
            // 9-byte lines: two per file.
            w.write_line(format!("line-{i:03}\n").as_bytes()).unwrap();
        }
        w.flush().unwrap();
        assert_eq!(read(&config.path), "line-006\n");
        assert_eq!(read(&config.rotated_path(1)), "line-004\nline-005\n");
        assert_eq!(read(&config.rotated_path(2)), "line-002\nline-003\n");
        assert!(!config.rotated_path(3).exists());
    }

    #[test]
    fn oversized_line_gets_its_own_file_and_reopen_appends() {
        let dir = tempfile::tempdir().unwrap();
        let config = RotatingFile {
            path: dir.path().join("f.ndjson"),
            max_bytes: 8,
            keep: 3,
        };
        let mut w = config.open().unwrap();
        w.write_line(b"a\n").unwrap();
        w.write_line(b"this line is long\n").unwrap();
        w.write_line(b"b\n").unwrap();
        w.flush().unwrap();
        drop(w);
        assert_eq!(read(&config.rotated_path(2)), "a\n");
        assert_eq!(read(&config.rotated_path(1)), "this line is long\n");
        assert_eq!(read(&config.path), "b\n");
        let mut again = config.open().unwrap();
        assert_eq!(again.current_len(), 2);
        again.write_line(b"c\n").unwrap();
        again.flush().unwrap();
        assert_eq!(read(&config.path), "b\nc\n");
    }

    #[test]
    fn keep_zero_replaces_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = RotatingFile {
            path: dir.path().join("f.ndjson"),
            max_bytes: 4,
            keep: 0,
        };
        let mut w = config.open().unwrap();
        for line in [b"1\n", b"2\n", b"3\n"] {
            w.write_line(line).unwrap();
        }
        w.flush().unwrap();
        assert_eq!(read(&config.path), "3\n");
        assert!(!config.rotated_path(1).exists());
    }

    #[test]
    fn open_error_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let config = RotatingFile {
            path: dir.path().join("missing-dir").join("f.ndjson"),
            max_bytes: 4,
            keep: 1,
        };
        let err = config.open().err().unwrap().to_string();
        assert!(
            err.contains("missing-dir") && err.contains("opening"),
            "{err}"
        );
    }
}
