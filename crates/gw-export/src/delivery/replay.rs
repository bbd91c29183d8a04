//! Replay of dead-letter files once the cause is fixed: each entry is sent again through its
//! sink's transport (the same format, signature and credentials as live delivery), one attempt
//! per entry. Accepted entries leave the file; the rest stay, in their place: entries that
//! failed again with their attempt count and reason updated, entries of sinks not configured
//! or not selected, and malformed lines byte for byte. The file is rewritten atomically (a
//! temporary file renamed over it) under the same advisory lock the dispatcher appends with,
//! and lines a running dispatcher appended meanwhile are carried over. Blank lines are dropped.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use gw_model::Finding;
use serde::Serialize;

use super::dead_letter::{DEAD_LETTER_SCHEMA, Entry, Line, is_current};
use super::{DeliveryConfig, Outcome, SinkConfig, build_transport, config::config_error};
use crate::{ExportError, Producer, Result};

/// What a replay sends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayOptions {
    /// Only entries of this sink; the others are kept as they are.
    pub sink: Option<String>,
    /// Read and report what would be sent; send nothing and leave the file alone.
    pub dry_run: bool,
}

/// A well-formed entry that stays in the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeptEntry {
    /// Line number (from 1) in the file as the replay read it.
    pub line: usize,
    pub sink: String,
    pub finding_id: String,
    /// Attempts the entry now records.
    pub attempts: u32,
    /// Why it stays: the new delivery error, or why it was not sent.
    pub reason: String,
}

/// A line that is not a `gatewatch.dead_letter/1` entry; it stays in the file as it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MalformedLine {
    /// Line number (from 1).
    pub line: usize,
    pub reason: String,
}

/// What a replay did with one dead-letter file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    pub path: PathBuf,
    pub dry_run: bool,
    /// Entries accepted by their receiver and removed from the file, by sink (in a dry run:
    /// the entries that would be sent).
    pub replayed: BTreeMap<String, usize>,
    /// Entries sent and refused again.
    pub failed: Vec<KeptEntry>,
    /// Entries of sinks that are not in the config.
    pub unknown_sink: Vec<KeptEntry>,
    /// Entries of configured sinks other than [`ReplayOptions::sink`].
    pub other_sinks: usize,
    pub malformed: Vec<MalformedLine>,
    /// Lines a running dispatcher appended while the replay sent; kept after the others.
    pub appended_meanwhile: usize,
}

impl ReplayReport {
    /// Entries accepted (or, in a dry run, to be sent) over all sinks.
    pub fn replayed_total(&self) -> usize {
        self.replayed.values().sum()
    }

    /// Whether the file still holds lines an operator must look at: entries that failed again,
    /// entries of unknown sinks, malformed lines.
    pub fn needs_attention(&self) -> bool {
        !(self.failed.is_empty() && self.unknown_sink.is_empty() && self.malformed.is_empty())
    }
}

/// The entries of one dead-letter file, counted without sending anything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DeadLetterScan {
    pub path: PathBuf,
    /// Well-formed entries by the sink they name.
    pub by_sink: BTreeMap<String, usize>,
    pub malformed: Vec<MalformedLine>,
}

/// The dead-letter files of the configured sinks (of `sink` only, when given), each once, in
/// config order. A `sink` that is not configured is an error naming the configured ones.
pub fn dead_letter_files(config: &DeliveryConfig, sink: Option<&str>) -> Result<Vec<PathBuf>> {
    if let Some(name) = sink
        && !config.sinks.iter().any(|s| s.name == name)
    {
        let known: Vec<&str> = config.sinks.iter().map(|s| s.name.as_str()).collect();
        let reason = if known.is_empty() {
            "not configured: [delivery] has no sinks".to_string()
        } else {
            format!("not configured; configured sinks: {}", known.join(", "))
        };
        return Err(config_error(name, reason));
    }
    let mut paths: Vec<PathBuf> = Vec::new();
    for s in config
        .sinks
        .iter()
        .filter(|s| sink.is_none_or(|name| s.name == name))
    {
        let path = config.dead_letter_path(s);
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    Ok(paths)
}

/// Counts the entries of the dead-letter file at `path` by sink; a missing file has none.
pub fn scan_dead_letters(path: &Path) -> Result<DeadLetterScan> {
    let mut scan = DeadLetterScan {
        path: path.to_path_buf(),
        ..DeadLetterScan::default()
    };
    let Some((_, text)) = read_locked(path)? else {
        return Ok(scan);
    };
    for (number, raw) in lines(&text) {
        match parse(raw) {
            Ok(Some(entry)) => *scan.by_sink.entry(entry.sink).or_default() += 1,
            Ok(None) => {}
            Err(reason) => scan.malformed.push(MalformedLine {
                line: number,
                reason,
            }),
        }
    }
    Ok(scan)
}

/// Sends the entries of the dead-letter file at `path` again (see the module documentation).
/// Transports are built before anything is sent, so a config error changes nothing. A missing
/// file is an empty report.
pub fn replay_dead_letters(
    config: &DeliveryConfig,
    producer: &Producer,
    path: &Path,
    options: &ReplayOptions,
) -> Result<ReplayReport> {
    config.validate()?;
    if let Some(name) = &options.sink {
        dead_letter_files(config, Some(name))?;
    }
    let mut report = ReplayReport {
        path: path.to_path_buf(),
        dry_run: options.dry_run,
        ..ReplayReport::default()
    };
    let Some((file, text)) = read_locked(path)? else {
        return Ok(report);
    };
    let mut slots = Vec::new();
    // Per configured sink (config order): the slots of the entries to send.
    let mut to_send: Vec<Vec<usize>> = vec![Vec::new(); config.sinks.len()];
    for (number, raw) in lines(&text) {
        let entry = match parse(raw) {
            Ok(Some(entry)) => entry,
            Ok(None) => continue,
            Err(reason) => {
                report.malformed.push(MalformedLine {
                    line: number,
                    reason,
                });
                slots.push(Slot::Keep(raw.to_vec()));
                continue;
            }
        };
        match config.sinks.iter().position(|s| s.name == entry.sink) {
            None => {
                report.unknown_sink.push(KeptEntry {
                    line: number,
                    sink: entry.sink.clone(),
                    finding_id: entry.finding.id.clone(),
                    attempts: entry.attempts,
                    reason: "sink not configured".to_string(),
                });
                slots.push(Slot::Keep(raw.to_vec()));
            }
            Some(_) if options.sink.as_ref().is_some_and(|s| *s != entry.sink) => {
                report.other_sinks += 1;
                slots.push(Slot::Keep(raw.to_vec()));
            }
            Some(sink) => {
                to_send[sink].push(slots.len());
                slots.push(Slot::Send {
                    line: number,
                    raw: raw.to_vec(),
                    entry: Box::new(entry),
                });
            }
        }
    }
    if options.dry_run {
        for (sink, pending) in config.sinks.iter().zip(&to_send) {
            if !pending.is_empty() {
                report.replayed.insert(sink.name.clone(), pending.len());
            }
        }
        return Ok(report);
    }
    let mut transports = Vec::new();
    for (sink, pending) in config.sinks.iter().zip(&to_send) {
        if !pending.is_empty() {
            transports.push((sink, build_transport(sink, producer)?, pending));
        }
    }
    if transports.is_empty() {
        return Ok(report);
    }
    let failed_at = crate::taxonomy::rfc3339_ms(jiff::Timestamp::now());
    for (sink, mut transport, pending) in transports {
        for chunk in pending.chunks(sink.batch_size()) {
            let batch: Vec<Finding> = chunk
                .iter()
                .map(|&slot| match &slots[slot] {
                    Slot::Send { entry, .. } => entry.finding.clone(),
                    _ => unreachable!("only entries to send are queued"),
                })
                .collect();
            let mut reasons: Vec<Option<String>> = vec![None; batch.len()];
            if let Outcome::Failed(failures) = transport.deliver(&batch) {
                for (position, failure) in failures {
                    reasons[position] = Some(failure.reason);
                }
            }
            for (&slot, reason) in chunk.iter().zip(reasons) {
                settle(&mut slots[slot], sink, reason, &failed_at, &mut report);
            }
        }
    }
    let body: Vec<u8> = slots
        .into_iter()
        .flat_map(|slot| match slot {
            Slot::Keep(mut raw) => {
                raw.push(b'\n');
                raw
            }
            Slot::Delivered => Vec::new(),
            Slot::Send { .. } => unreachable!("every entry sent was settled"),
        })
        .collect();
    report.appended_meanwhile = rewrite(path, &file, text.len() as u64, &body)?;
    Ok(report)
}

/// One line of the file during a replay.
enum Slot {
    /// Written back as these bytes.
    Keep(Vec<u8>),
    /// To be sent.
    Send {
        line: usize,
        raw: Vec<u8>,
        entry: Box<Entry>,
    },
    /// Accepted by the receiver; dropped from the file.
    Delivered,
}

/// Records the outcome of a sent entry: gone when accepted, else kept with one more attempt
/// and the new reason.
fn settle(
    slot: &mut Slot,
    sink: &SinkConfig,
    failure: Option<String>,
    failed_at: &str,
    report: &mut ReplayReport,
) {
    let Slot::Send { line, raw, entry } = std::mem::replace(slot, Slot::Delivered) else {
        unreachable!("only entries to send are settled");
    };
    let Some(reason) = failure else {
        *report.replayed.entry(entry.sink).or_default() += 1;
        return;
    };
    let reason = format!("replay: {reason}");
    let attempts = entry.attempts.saturating_add(1);
    let rewritten = serde_json::to_vec(&Line {
        schema: DEAD_LETTER_SCHEMA,
        sink: &entry.sink,
        kind: sink.transport.kind(),
        failed_at: failed_at.to_string(),
        attempts,
        reason: &reason,
        finding: &entry.finding,
    });
    // A finding that was read from JSON serializes again; keep the old line if it ever did not.
    *slot = Slot::Keep(rewritten.unwrap_or(raw));
    report.failed.push(KeptEntry {
        line,
        sink: entry.sink,
        finding_id: entry.finding.id,
        attempts,
        reason,
    });
}

/// `Ok(None)` for a blank line, the entry, or why the line is not one.
fn parse(raw: &[u8]) -> std::result::Result<Option<Entry>, String> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let entry: Entry = serde_json::from_slice(raw).map_err(|e| {
        // The position serde_json gives is within this one line: keep the column only.
        let message = e.to_string();
        match message.rfind(" at line ") {
            Some(at) => format!("{} (column {})", &message[..at], e.column()),
            None => message,
        }
    })?;
    if entry.schema != DEAD_LETTER_SCHEMA {
        return Err(format!(
            "schema {:?}, expected {DEAD_LETTER_SCHEMA:?}",
            entry.schema
        ));
    }
    if entry.kind.is_empty() {
        return Err("empty kind".to_string());
    }
    Ok(Some(entry))
}

/// The lines of `text` numbered from 1, without their `\n` (a last line without one included).
fn lines(text: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let body = (!text.is_empty()).then(|| text.strip_suffix(b"\n").unwrap_or(text));
    body.into_iter()
        .flat_map(|body| body.split(|&b| b == b'\n'))
        .enumerate()
        .map(|(i, line)| (i + 1, line))
}

fn io_error(path: &Path, action: &'static str) -> impl FnOnce(std::io::Error) -> ExportError {
    let path = path.to_path_buf();
    move |source| ExportError::Io {
        path,
        action,
        source,
    }
}

/// Opens the file and reads it whole under its lock (so no half-appended line is read);
/// `None` when it does not exist.
fn read_locked(path: &Path) -> Result<Option<(File, Vec<u8>)>> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(path, "opening the dead-letter file")(e)),
    };
    file.lock()
        .map_err(io_error(path, "locking the dead-letter file"))?;
    let mut text = Vec::new();
    let read = file.read_to_end(&mut text);
    let _ = file.unlock();
    read.map_err(io_error(path, "reading the dead-letter file"))?;
    Ok(Some((file, text)))
}

/// Replaces the file at `path` (still `file`, read up to `read_len`) with `body` followed by
/// whatever was appended since; returns the number of lines appended since.
fn rewrite(path: &Path, file: &File, read_len: u64, body: &[u8]) -> Result<usize> {
    file.lock()
        .map_err(io_error(path, "locking the dead-letter file"))?;
    let done = rewrite_locked(path, file, read_len, body);
    let _ = file.unlock();
    done
}

fn rewrite_locked(path: &Path, mut file: &File, read_len: u64, body: &[u8]) -> Result<usize> {
    if !is_current(file, path).map_err(io_error(path, "checking the dead-letter file"))? {
        return Err(ExportError::DeadLetterChanged {
            path: path.to_path_buf(),
            reason: "replaced or removed while the replay was sending (another replay?); it still holds the entries just delivered, so a new replay would send them again".to_string(),
        });
    }
    let mut tail = Vec::new();
    file.seek(SeekFrom::Start(read_len))
        .and_then(|_| file.read_to_end(&mut tail))
        .map_err(io_error(path, "reading the dead-letter file"))?;
    let name = path
        .file_name()
        .map_or_else(|| "dead-letter".into(), |n| n.to_string_lossy());
    let temp = path.with_file_name(format!(".{name}.replay-{}.tmp", std::process::id()));
    let written = write_file(&temp, file, &[body, &tail]);
    if let Err(e) = written.and_then(|()| {
        std::fs::rename(&temp, path).map_err(io_error(
            path,
            "renaming the rewritten dead-letter file over",
        ))
    }) {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    sync_dir(path);
    Ok(tail.iter().filter(|&&b| b == b'\n').count())
}

/// Writes `parts` to a new file at `temp` with the permissions of `like`, synced.
fn write_file(temp: &Path, like: &File, parts: &[&[u8]]) -> Result<()> {
    let mut out =
        File::create(temp).map_err(io_error(temp, "creating the rewritten dead-letter file"))?;
    for part in parts {
        out.write_all(part)
            .map_err(io_error(temp, "writing the rewritten dead-letter file"))?;
    }
    if let Ok(meta) = like.metadata() {
        let _ = out.set_permissions(meta.permissions());
    }
    out.sync_all()
        .map_err(io_error(temp, "syncing the rewritten dead-letter file"))
}

/// Makes the rename durable where directories can be synced; a failure only weakens that.
fn sync_dir(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_numbered_from_one_and_a_missing_last_newline_keeps_the_line() {
        let got: Vec<(usize, &[u8])> = lines(b"a\n\nb").collect();
        assert_eq!(got, [(1, &b"a"[..]), (2, &b""[..]), (3, &b"b"[..])]);
        assert_eq!(lines(b"a\n").count(), 1);
        assert_eq!(lines(b"").count(), 0);
    }

    #[test]
    fn malformed_lines_say_why() {
        assert!(parse(b"  ").unwrap().is_none());
        let err = parse(b"{not json").err().unwrap();
        assert_eq!(err, "key must be a string (column 2)");
        let mut line = serde_json::json!({
            "schema": "gatewatch.dead_letter/9", "sink": "s", "kind": "webhook",
            "failed_at": "2026-01-05T10:00:00.123Z", "attempts": 1, "reason": "x",
            "finding": crate::test_support::sqli(),
        });
        let err = parse(line.to_string().as_bytes()).err().unwrap();
        assert!(err.contains("\"gatewatch.dead_letter/9\""), "{err}");
        line["schema"] = DEAD_LETTER_SCHEMA.into();
        assert_eq!(
            parse(line.to_string().as_bytes())
                .unwrap()
                .unwrap()
                .attempts,
            1
        );
        line["finding"]["severity"] = "apocalyptic".into();
        let err = parse(line.to_string().as_bytes()).err().unwrap();
        assert!(err.contains("apocalyptic"), "{err}");
    }

    #[test]
    fn naming_an_unconfigured_sink_lists_the_configured_ones() {
        let mut config = DeliveryConfig::default();
        config.sinks.push(SinkConfig::new(
            "archive",
            super::super::TransportConfig::Stdout(Default::default()),
        ));
        let err = dead_letter_files(&config, Some("soc"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"soc\"") && err.contains("archive"), "{err}");
        let paths = dead_letter_files(&config, None).unwrap();
        assert_eq!(
            paths,
            [PathBuf::from("dead-letter/archive.dead-letter.ndjson")]
        );
    }
}
