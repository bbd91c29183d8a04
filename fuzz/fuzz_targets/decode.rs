//! Every decoder on arbitrary input: the first byte picks the decoder (0xFF: auto-detection), the
//! rest is the input, decoded through the driver (framing, limits, BOM) and then once more
//! directly as a single unit. Any panic is a bug; records must serialize.

#![no_main]

use gw_ingest::{
    DECODERS, DecodeCtx, DecodeError, Emit, FormatChoice, Input, Limits, Unit, decode_input,
};
use gw_model::Exchange;
use libfuzzer_sys::fuzz_target;

struct Check;

impl Emit for Check {
    fn record(&mut self, x: Exchange) {
        // Every record must serialize as canonical JSON (no NaN durations and the like).
        let text = serde_json::to_string(&x).expect("records serialize");
        assert!(text.starts_with('{'));
    }
    fn reject(&mut self, err: DecodeError, _raw: &[u8]) {
        assert!(!err.message.is_empty(), "rejects say why");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    // 0xFF: auto-detection; any other byte: a decoder, round-robin over the list.
    let choice = match pick {
        0xFF => FormatChoice::Auto,
        p => FormatChoice::Kind(DECODERS[p as usize % DECODERS.len()].kind()),
    };
    let limits = Limits {
        max_line_bytes: 64 * 1024,
        max_document_bytes: 4 << 20,
    };
    let input =
        Input::from_reader("fuzz", std::io::Cursor::new(rest.to_vec())).expect("in-memory input");
    let _ = decode_input(input, choice, &limits, &mut Check);
    if let FormatChoice::Kind(kind) = choice {
        let d = gw_ingest::decoder_for(kind).expect("listed decoder");
        d.decode(
            Unit {
                bytes: rest,
                line: 1,
            },
            &DecodeCtx::new("fuzz"),
            &mut Check,
        );
    }
});
