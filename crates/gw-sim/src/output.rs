//! Writing a simulation: NDJSON records (gzip when the file name ends in `.gz`) and the
//! ground-truth JSONL.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use jiff::Timestamp;

use crate::error::SimError;
use crate::ndjson::append_ndjson_line;
use crate::sim::Simulator;

/// A file opened for records: plain, or gzip when its name ends in `.gz`.
pub enum OutputFile {
    Plain(BufWriter<File>),
    Gzip(GzEncoder<BufWriter<File>>),
}

impl OutputFile {
    /// Flushes and, for gzip, writes the trailer. Dropping without `finish` may lose data.
    pub fn finish(self) -> Result<(), SimError> {
        let done = match self {
            OutputFile::Plain(mut w) => w.flush(),
            OutputFile::Gzip(g) => g.finish().and_then(|mut w| w.flush()),
        };
        done.map_err(|source| SimError::Write {
            what: "output file",
            source,
        })
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            OutputFile::Plain(w) => w.write(buf),
            OutputFile::Gzip(w) => w.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            OutputFile::Plain(w) => w.write_all(buf),
            OutputFile::Gzip(w) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            OutputFile::Plain(w) => w.flush(),
            OutputFile::Gzip(w) => w.flush(),
        }
    }
}

/// Creates `path` for writing; gzip-compressed when the name ends in `.gz`.
pub fn open_output(path: &Path) -> Result<OutputFile, SimError> {
    let file = File::create(path).map_err(|source| SimError::Io {
        path: PathBuf::from(path),
        source,
    })?;
    let buffered = BufWriter::with_capacity(1 << 20, file);
    if path.extension().is_some_and(|e| e == "gz") {
        Ok(OutputFile::Gzip(GzEncoder::new(
            buffered,
            Compression::fast(),
        )))
    } else {
        Ok(OutputFile::Plain(buffered))
    }
}

/// What a run produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SimStats {
    pub records: u64,
    pub attack_records: u64,
    /// NDJSON bytes written (uncompressed).
    pub ndjson_bytes: u64,
    /// Sum of `request.size + response.size`: the traffic volume the records describe.
    pub traffic_bytes: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    pub truth_entries: usize,
}

/// Runs the simulator to the end, writing one record per line to `out` and, when given, the
/// ground truth (one [`crate::TruthEntry`] per line) to `truth`. Writers are flushed, not
/// finished: call [`OutputFile::finish`] on files from [`open_output`].
pub fn write_ndjson<W: Write, T: Write>(
    sim: &mut Simulator,
    mut out: W,
    truth: Option<T>,
) -> Result<SimStats, SimError> {
    let mut stats = SimStats::default();
    let mut line = Vec::with_capacity(4096);
    for x in sim.by_ref() {
        line.clear();
        append_ndjson_line(&x, &mut line).map_err(|source| SimError::Serialize {
            index: stats.records,
            source,
        })?;
        out.write_all(&line).map_err(|source| SimError::Write {
            what: "records",
            source,
        })?;
        stats.records += 1;
        stats.ndjson_bytes += line.len() as u64;
        stats.traffic_bytes += x.request.size.unwrap_or(0) + x.response.size.unwrap_or(0);
        stats.first.get_or_insert(x.observed_at);
        stats.last = Some(x.observed_at);
    }
    out.flush().map_err(|source| SimError::Write {
        what: "records",
        source,
    })?;
    stats.attack_records = sim.emitted().1;
    stats.truth_entries = sim.truth().len();
    if let Some(mut t) = truth {
        write_truth(sim, &mut t)?;
    }
    Ok(stats)
}

/// Writes the ground truth as JSONL.
pub fn write_truth<T: Write>(sim: &Simulator, out: &mut T) -> Result<(), SimError> {
    for entry in sim.truth() {
        serde_json::to_writer(&mut *out, entry).map_err(|e| SimError::Write {
            what: "truth",
            source: std::io::Error::from(e),
        })?;
        out.write_all(b"\n").map_err(|source| SimError::Write {
            what: "truth",
            source,
        })?;
    }
    out.flush().map_err(|source| SimError::Write {
        what: "truth",
        source,
    })
}
