//! `ndjson_file` (size-rotated) and `stdout` sinks: one line per finding.

use std::io::Write;

use gw_model::Finding;

use super::config::{LineFormat, NdjsonFileConfig, config_error};
use super::{Failure, Outcome, Transport};
use crate::ndjson::{RotatingFile, RotatingWriter, finding_line};
use crate::{Producer, Result, cef, ocsf};

/// One finding as one line in `format`, `\n` included.
pub(crate) fn line(finding: &Finding, format: LineFormat, producer: &Producer) -> Result<Vec<u8>> {
    match format {
        LineFormat::Json => finding_line(finding),
        LineFormat::Ocsf => {
            let mut text = ocsf::to_ocsf_json(finding, producer)?.into_bytes();
            text.push(b'\n');
            Ok(text)
        }
        LineFormat::Cef => {
            let mut text = cef::to_cef(finding, producer).into_bytes();
            text.push(b'\n');
            Ok(text)
        }
    }
}

pub(crate) struct FileTransport {
    writer: RotatingWriter,
    format: LineFormat,
    producer: Producer,
}

impl FileTransport {
    pub(crate) fn open(sink: &str, config: &NdjsonFileConfig, producer: &Producer) -> Result<Self> {
        let rotating = RotatingFile {
            path: config.path.clone(),
            max_bytes: config.max_bytes,
            keep: config.keep,
        };
        let writer = rotating
            .open()
            .map_err(|e| config_error(sink, format!("output file: {e}")))?;
        Ok(FileTransport {
            writer,
            format: config.format,
            producer: producer.clone(),
        })
    }
}

impl Transport for FileTransport {
    fn deliver(&mut self, batch: &[Finding]) -> Outcome {
        let mut failures = Vec::new();
        for (i, finding) in batch.iter().enumerate() {
            let written = line(finding, self.format, &self.producer)
                .map_err(|e| Failure::permanent(e.to_string()))
                .and_then(|l| {
                    self.writer
                        .write_line(&l)
                        .map_err(|e| Failure::retryable(e.to_string()))
                });
            if let Err(failure) = written {
                failures.push((i, failure));
            }
        }
        if let Err(e) = self.writer.flush() {
            // Buffered lines may be lost with the flush: none of this batch counts as written.
            return Outcome::all_failed(batch.len(), &Failure::retryable(e.to_string()));
        }
        Outcome::from_failures(failures)
    }
}

/// Lines to any writer (standard output in production).
pub(crate) struct WriterTransport {
    out: Box<dyn Write + Send>,
    format: LineFormat,
    producer: Producer,
}

impl WriterTransport {
    pub(crate) fn new(out: Box<dyn Write + Send>, format: LineFormat, producer: Producer) -> Self {
        WriterTransport {
            out,
            format,
            producer,
        }
    }
}

impl Transport for WriterTransport {
    fn deliver(&mut self, batch: &[Finding]) -> Outcome {
        let mut failures = Vec::new();
        let mut buf = Vec::new();
        for (i, finding) in batch.iter().enumerate() {
            match line(finding, self.format, &self.producer) {
                Ok(l) => buf.extend_from_slice(&l),
                Err(e) => failures.push((i, Failure::permanent(e.to_string()))),
            }
        }
        if let Err(e) = self.out.write_all(&buf).and_then(|()| self.out.flush()) {
            return Outcome::all_failed(
                batch.len(),
                &Failure::retryable(format!("writing to standard output: {e}")),
            );
        }
        Outcome::from_failures(failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::all;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn writer_sink_writes_one_line_per_finding_in_the_format() {
        let p = Producer::new("0.1.0");
        for format in [LineFormat::Json, LineFormat::Ocsf, LineFormat::Cef] {
            let out = Shared::default();
            let mut t = WriterTransport::new(Box::new(out.clone()), format, p.clone());
            assert!(matches!(t.deliver(&all()), Outcome::Delivered));
            let expected: Vec<u8> = all()
                .iter()
                .flat_map(|f| line(f, format, &p).unwrap())
                .collect();
            assert_eq!(*out.0.lock().unwrap(), expected);
        }
    }
}
