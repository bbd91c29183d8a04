//! The dead-letter file of a sink: one JSON line per finding that could not be delivered, with
//! the reason, so an operator can fix the cause and replay the `finding` members.
//!
//! ```json
//! {"schema":"gatewatch.dead_letter/1","sink":"soc-webhook","kind":"webhook","failed_at":"2026-01-05T10:00:00.123Z","attempts":5,"reason":"HTTP 503 from https://hooks.example.com/x: busy","finding":{…}}
//! ```

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use gw_model::Finding;
use serde::Serialize;

use crate::{ExportError, Result};

/// `schema` of a dead-letter line.
pub const DEAD_LETTER_SCHEMA: &str = "gatewatch.dead_letter/1";

#[derive(Serialize)]
struct Line<'a> {
    schema: &'static str,
    sink: &'a str,
    kind: &'a str,
    failed_at: String,
    attempts: u32,
    reason: &'a str,
    finding: &'a Finding,
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
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| ExportError::Io {
                path: path.to_path_buf(),
                action: "opening the dead-letter file",
                source,
            })?;
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
        let io = |source| ExportError::Io {
            path: self.path.clone(),
            action: "appending to the dead-letter file",
            source,
        };
        self.file.write_all(&buf).map_err(io)?;
        self.file.sync_data().map_err(|source| ExportError::Io {
            path: self.path.clone(),
            action: "syncing the dead-letter file",
            source,
        })
    }
}
