//! What the gw-ingest benches share: sinks that keep the decoded records observable (so the
//! optimizer cannot drop the work) and refuse rejects (a bench input must decode cleanly), and
//! the per-line loop the driver runs for line-oriented formats.

use gw_ingest::{DecodeCtx, DecodeError, Decoder, Emit, Unit};
use gw_model::Exchange;

/// Adds up the records' path lengths.
pub struct Sink(pub u64);

impl Emit for Sink {
    fn record(&mut self, x: Exchange) {
        self.0 += x.request.path.len() as u64;
    }
    fn reject(&mut self, err: DecodeError, _raw: &[u8]) {
        panic!("bench input rejected: {err}");
    }
}

/// Keeps the records.
#[allow(dead_code)] // not every bench that includes this module collects
pub struct Collect(pub Vec<Exchange>);

impl Emit for Collect {
    fn record(&mut self, x: Exchange) {
        self.0.push(x);
    }
    fn reject(&mut self, err: DecodeError, _raw: &[u8]) {
        panic!("bench input rejected: {err}");
    }
}

/// Decodes each line as one unit, numbered from 1, as the driver hands lines over.
pub fn decode_lines<D: Decoder + ?Sized>(
    decoder: &D,
    lines: &[String],
    ctx: &DecodeCtx,
    sink: &mut dyn Emit,
) {
    for (i, l) in lines.iter().enumerate() {
        decoder.decode(
            Unit {
                bytes: l.as_bytes(),
                line: i as u64 + 1,
            },
            ctx,
            sink,
        );
    }
}
