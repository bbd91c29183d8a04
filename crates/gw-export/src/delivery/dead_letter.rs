//! The dead-letter file of a sink: one JSON line per finding that could not be delivered, with
//! the reason, so an operator can fix the cause and replay the `finding` members.
//!
//! ```json
//! {"schema":"gatewatch.dead_letter/1","sink":"soc-webhook","kind":"webhook","failed_at":"2026-01-05T10:00:00.123Z","attempts":5,"reason":"HTTP 503 from https://hooks.example.com/x: busy","finding":{…}}
//! ```
//!
//! Appends hold an exclusive advisory lock on the file, and a writer whose path now names
//! another file (a replay renamed its rewrite over it) reopens the path first, so a replay
//! running next to `gatewatch serve` loses no line.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use gw_model::Finding;
use serde::{Deserialize, Serialize};

use crate::{ExportError, Result};

/// `schema` of a dead-letter line.
pub const DEAD_LETTER_SCHEMA: &str = "gatewatch.dead_letter/1";

#[derive(Serialize)]
pub(crate) struct Line<'a> {
    pub schema: &'static str,
    pub sink: &'a str,
    pub kind: &'a str,
    pub failed_at: String,
    pub attempts: u32,
    pub reason: &'a str,
    pub finding: &'a Finding,
}

/// A dead-letter line as read back.
#[derive(Deserialize)]
pub(crate) struct Entry {
    pub schema: String,
    pub sink: String,
    pub kind: String,
    pub attempts: u32,
    pub finding: Finding,
}

/// Whether `file` is the file `path` names now.
#[cfg(unix)]
pub(crate) fn is_current(file: &File, path: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let open = file.metadata()?;
    match std::fs::metadata(path) {
        Ok(now) => Ok(open.dev() == now.dev() && open.ino() == now.ino()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether `file` is the file `path` names now: not known here, so assumed.
#[cfg(not(unix))]
pub(crate) fn is_current(_file: &File, _path: &Path) -> std::io::Result<bool> {
    Ok(true)
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| ExportError::Io {
            path: path.to_path_buf(),
            action: "opening the dead-letter file",
            source,
        })
}

pub(crate) struct DeadLetterFile {
    path: PathBuf,
    file: File,
}

impl DeadLetterFile {
    /// Opens `path` for appending, creating its directory.
    pub(crate) fn open(path: &Path) -> Result<DeadLetterFile> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| ExportError::Io {
                path: dir.to_path_buf(),
                action: "creating the dead-letter directory",
                source,
            })?;
        }
        let file = open_append(path)?;
        Ok(DeadLetterFile {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Appends one line per finding and syncs the file.
    pub(crate) fn write(
        &mut self,
        sink: &str,
        kind: &str,
        entries: &[(&Finding, u32, &str)],
    ) -> Result<()> {
        let failed_at = crate::taxonomy::rfc3339_ms(jiff::Timestamp::now());
        let mut buf = Vec::new();
        for (finding, attempts, reason) in entries {
            let line = Line {
                schema: DEAD_LETTER_SCHEMA,
                sink,
                kind,
                failed_at: failed_at.clone(),
                attempts: *attempts,
                reason,
                finding,
            };
            serde_json::to_writer(&mut buf, &line)
                .map_err(|e| ExportError::json(&finding.id, "dead-letter", e))?;
            buf.push(b'\n');
        }
        self.lock_current()?;
        let written = self.append(&buf);
        // Closing would release the lock too; the file stays open for the next append.
        let _ = self.file.unlock();
        written
    }

    /// Locks the file `path` names now, reopening it when it was replaced or removed.
    fn lock_current(&mut self) -> Result<()> {
        let io = |action, source| ExportError::Io {
            path: self.path.clone(),
            action,
            source,
        };
        loop {
            self.file
                .lock()
                .map_err(|e| io("locking the dead-letter file", e))?;
            if is_current(&self.file, &self.path)
                .map_err(|e| io("checking the dead-letter file", e))?
            {
                return Ok(());
            }
            let _ = self.file.unlock();
            self.file = open_append(&self.path)?;
        }
    }

    fn append(&mut self, buf: &[u8]) -> Result<()> {
        let io = |action, source| ExportError::Io {
            path: self.path.clone(),
            action,
            source,
        };
        self.file
            .write_all(buf)
            .map_err(|e| io("appending to the dead-letter file", e))?;
        self.file
            .sync_data()
            .map_err(|e| io("syncing the dead-letter file", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{posture, sqli};

    #[test]
    fn a_writer_whose_file_was_replaced_appends_to_the_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.dead-letter.ndjson");
        let mut file = DeadLetterFile::open(&path).unwrap();
        file.write("s", "webhook", &[(&sqli(), 1, "down")]).unwrap();
        let replacement = dir.path().join("rewrite.tmp");
        std::fs::write(&replacement, "").unwrap();
        std::fs::rename(&replacement, &path).unwrap();
        file.write("s", "webhook", &[(&posture(), 2, "still down")])
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Entry> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 1, "{text}");
        assert_eq!(lines[0].finding, posture());
        assert_eq!((lines[0].sink.as_str(), lines[0].attempts), ("s", 2));
        std::fs::remove_file(&path).unwrap();
        file.write("s", "webhook", &[(&sqli(), 1, "down")]).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().contains(&sqli().id));
    }
}
