//! Opening inputs: files or stdin, gzip detected from the magic bytes, progress counted.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;

/// An input that cannot be read at all (as opposed to a bad record inside it).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{name}: cannot open: {source}")]
    Open { name: String, source: io::Error },
    #[error("{name}: read error after {offset} bytes: {source}")]
    Read {
        name: String,
        offset: u64,
        source: io::Error,
    },
    #[error(
        "{name}: cannot tell the format from the first records; pass --format (one of: {known})"
    )]
    UnknownFormat { name: String, known: String },
    #[error(
        "{name}: the document is larger than the {limit}-byte limit for {format} input; split it or raise ingest.max_document_bytes"
    )]
    DocumentTooLarge {
        name: String,
        format: String,
        limit: u64,
    },
}

/// An opened input.
pub struct Input {
    /// As the user named it (`-` for stdin).
    pub name: String,
    /// Size on disk, when known (for progress and ETA).
    pub size: Option<u64>,
    /// Whether the input was gzip-compressed.
    pub gzip: bool,
    pub(crate) reader: Box<dyn BufRead + Send>,
    consumed: Arc<AtomicU64>,
}

impl Input {
    /// An input over any reader (tests, HTTP bodies).
    pub fn from_reader(
        name: impl Into<String>,
        reader: impl Read + Send + 'static,
    ) -> io::Result<Input> {
        let consumed = Arc::new(AtomicU64::new(0));
        let counted = Counted {
            inner: reader,
            consumed: consumed.clone(),
        };
        let (reader, gzip) = maybe_gunzip(BufReader::with_capacity(256 * 1024, counted))?;
        Ok(Input {
            name: name.into(),
            size: None,
            gzip,
            reader,
            consumed,
        })
    }

    /// A shared counter of raw (possibly compressed) bytes read so far, for progress bars.
    pub fn progress(&self) -> Arc<AtomicU64> {
        self.consumed.clone()
    }
}

/// Opens a file, or stdin for `-`. Gzip is recognised by its magic bytes, whatever the name.
pub fn open_input(name: &str) -> Result<Input, InputError> {
    let open_err = |source| InputError::Open {
        name: name.to_string(),
        source,
    };
    if name == "-" {
        return Input::from_reader("-", io::stdin()).map_err(open_err);
    }
    let path = PathBuf::from(name);
    let file = File::open(&path).map_err(open_err)?;
    let meta = file.metadata().map_err(open_err)?;
    if meta.is_dir() {
        return Err(open_err(io::Error::other("is a directory")));
    }
    let mut input = Input::from_reader(name, file).map_err(open_err)?;
    input.size = Some(meta.len());
    Ok(input)
}

fn maybe_gunzip<R: BufRead + Send + 'static>(
    mut r: R,
) -> io::Result<(Box<dyn BufRead + Send>, bool)> {
    let head = r.fill_buf()?;
    if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        let gz = MultiGzDecoder::new(r);
        Ok((Box::new(BufReader::with_capacity(256 * 1024, gz)), true))
    } else {
        Ok((Box::new(r), false))
    }
}

struct Counted<R> {
    inner: R,
    consumed: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_is_read_transparently_and_progress_counts_raw_bytes() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"line one\nline two\n").unwrap();
        let gz = enc.finish().unwrap();
        let raw_len = gz.len() as u64;
        let mut input = Input::from_reader("x.gz", io::Cursor::new(gz)).unwrap();
        assert!(input.gzip);
        let mut text = String::new();
        input.reader.read_to_string(&mut text).unwrap();
        assert_eq!(text, "line one\nline two\n");
        assert_eq!(input.progress().load(Ordering::Relaxed), raw_len);
    }

    #[test]
    fn missing_files_and_directories_are_clear_errors() {
        let err = open_input("/nonexistent/access.log")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with("/nonexistent/access.log: cannot open"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let name = dir.path().to_str().unwrap().to_string();
        let err = open_input(&name).err().unwrap().to_string();
        assert!(err.contains("is a directory"), "{err}");
    }
}
