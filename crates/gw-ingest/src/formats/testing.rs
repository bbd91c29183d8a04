//! What the decoders' unit tests share: a sink that keeps what a decoder emits, and a call
//! that decodes one unit into it.

use gw_model::Exchange;

use crate::{DecodeCtx, DecodeError, Decoder, Emit, Unit};

/// Records (`.0`) and rejects (`.1`) in the order the decoder emitted them.
#[derive(Debug, Default)]
pub(crate) struct Collect(pub Vec<Exchange>, pub Vec<DecodeError>);

impl Emit for Collect {
    fn record(&mut self, x: Exchange) {
        self.0.push(x);
    }

    fn reject(&mut self, err: DecodeError, _raw: &[u8]) {
        self.1.push(err);
    }
}

/// Decodes `input` as one unit that starts at input line `line` of a file named `input_name`.
pub(crate) fn decode_unit(d: &dyn Decoder, input: &str, line: u64, input_name: &str) -> Collect {
    let mut out = Collect::default();
    let unit = Unit {
        bytes: input.as_bytes(),
        line,
    };
    d.decode(unit, &DecodeCtx::new(input_name), &mut out);
    out
}
