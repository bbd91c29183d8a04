//! Fixed work for instruction counting of native `gatewatch.exchange/1` decoding: the first
//! `records` lines of an NDJSON file (e.g. the output of `gatewatch simulate`) are decoded
//! `rounds` times with [`Native`], exactly as the driver hands them over (one line per unit).
//! Run: `valgrind --tool=callgrind --dump-instr=no target/release/examples/native_decode_cost \
//! <file.ndjson> [records] [rounds]` and divide the inclusive cost of `Native::decode` by
//! `records × rounds`.
//!
//! That cost includes [`Tally`] dropping each record (≈2,400 instructions of ≈31,450 on
//! simulated traffic, mostly `free`), which `gatewatch serve` pays on another thread; it is
//! kept in so that numbers stay comparable with earlier measurements.
//!
//! With `body` as a fourth argument, those lines are instead decoded as one request body
//! through [`gw_ingest::decode_bytes`], as `gatewatch serve` decodes HTTP ingest; divide the
//! inclusive cost of `decode_bytes` by `records × rounds` (≈31,900 on simulated traffic).

use std::hint::black_box;

use gw_ingest::formats::native::Native;
use gw_ingest::{DecodeCtx, DecodeError, Decoder, Emit, FormatChoice, Limits, Unit};
use gw_model::{Exchange, SourceKind};

/// Counts what came out, so the decoded records are not optimised away.
#[derive(Default)]
struct Tally {
    records: u64,
    rejects: u64,
    bytes: u64,
}

impl Emit for Tally {
    fn record(&mut self, x: Exchange) {
        self.records += 1;
        self.bytes += x.request.path.len() as u64 + x.id.len() as u64;
        black_box(x);
    }

    fn reject(&mut self, err: DecodeError, _raw: &[u8]) {
        self.rejects += 1;
        black_box(err);
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: native_decode_cost <file.ndjson> [records] [rounds] [body]");
    let records: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let text = std::fs::read(&path).expect("input file is readable");
    let lines: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .take(records)
        .collect();
    let as_body = args.next().is_some_and(|a| a == "body");
    let mut tally = Tally::default();
    if as_body {
        let body = lines.join(&b'\n');
        let native = FormatChoice::Kind(SourceKind::Native);
        for _ in 0..rounds {
            gw_ingest::decode_bytes(&path, &body, native, &Limits::default(), &mut tally)
                .expect("the body decodes");
        }
    } else {
        let ctx = DecodeCtx::new(path.as_str());
        for _ in 0..rounds {
            for (i, line) in lines.iter().enumerate() {
                let unit = Unit {
                    bytes: line,
                    line: i as u64 + 1,
                };
                Native.decode(unit, &ctx, &mut tally);
            }
        }
    }
    println!(
        "{} lines × {rounds} rounds: {} records, {} rejects, {} bytes",
        lines.len(),
        tally.records,
        tally.rejects,
        tally.bytes
    );
}
