//! No input makes a decoder panic: arbitrary bytes, and arbitrary mutations (flips,
//! insertions, deletions, truncation) of the golden samples of every format, through
//! detection, framing and decoding. 256 cases per property, each run against every decoder in
//! `gw_ingest::DECODERS`, from a fixed seed so CI runs are reproducible
//! (`PROPTEST_RNG_SEED` overrides it to explore further).

use std::path::Path;

use gw_ingest::{
    DECODERS, DecodeCtx, DecodeError, Emit, FormatChoice, Input, Limits, Unit, decode_input,
    detect_format,
};
use gw_model::{Exchange, SourceKind};
use proptest::prelude::*;

struct Discard(u64);

impl Emit for Discard {
    fn record(&mut self, x: Exchange) {
        // Every record that comes out must serialize (no NaN durations and the like).
        serde_json::to_string(&x).expect("records serialize");
        self.0 += 1;
    }
    fn reject(&mut self, err: DecodeError, _raw: &[u8]) {
        assert!(!err.message.is_empty(), "rejects say why");
        self.0 += 1;
    }
}

fn limits() -> Limits {
    Limits {
        max_line_bytes: 4096,
        max_document_bytes: 1 << 20,
    }
}

/// Runs `bytes` through every decoder directly, through the driver with each explicit format,
/// and through auto-detection.
fn exercise(bytes: &[u8]) {
    let ctx = DecodeCtx::new("fuzz");
    for d in DECODERS {
        d.decode(Unit { bytes, line: 1 }, &ctx, &mut Discard(0));
        let input = Input::from_reader("fuzz", std::io::Cursor::new(bytes.to_vec())).unwrap();
        let _ = decode_input(
            input,
            FormatChoice::Kind(d.kind()),
            &limits(),
            &mut Discard(0),
        );
    }
    let _ = detect_format(bytes);
    let input = Input::from_reader("fuzz", std::io::Cursor::new(bytes.to_vec())).unwrap();
    let _ = decode_input(input, FormatChoice::Auto, &limits(), &mut Discard(0));
}

/// The golden inputs of every format, the valid samples mutations start from.
fn samples() -> &'static [(SourceKind, Vec<u8>)] {
    static SAMPLES: std::sync::OnceLock<Vec<(SourceKind, Vec<u8>)>> = std::sync::OnceLock::new();
    SAMPLES.get_or_init(read_samples)
}

fn read_samples() -> Vec<(SourceKind, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut out = Vec::new();
    let Ok(dirs) = std::fs::read_dir(&root) else {
        return out;
    };
    for dir in dirs.flatten() {
        let Some(kind) = dir.file_name().to_str().and_then(SourceKind::from_name) else {
            continue;
        };
        for f in std::fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if f.path().extension().is_some_and(|e| e == "input") {
                out.push((kind, std::fs::read(f.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    // Bytes that matter to the formats' syntax, plus anything at all.
    let interesting = prop_oneof![
        Just(b'"'),
        Just(b'{'),
        Just(b'}'),
        Just(b'['),
        Just(b']'),
        Just(b','),
        Just(b':'),
        Just(b'\\'),
        Just(b'\n'),
        Just(b' '),
        Just(b'-'),
        Just(b'0'),
        Just(0xFF),
        Just(0xC3),
        any::<u8>(),
    ];
    prop_oneof![
        (any::<usize>(), interesting).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Edit::Delete(i, n)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = bytes.len().max(1);
        match e {
            Edit::Flip(i, b) => {
                if !bytes.is_empty() {
                    let i = i % bytes.len();
                    bytes[i] = *b;
                }
            }
            Edit::Insert(i, b) => {
                let i = i % (bytes.len() + 1);
                bytes.splice(i..i, b.iter().copied());
            }
            Edit::Delete(i, n) => {
                let i = i % len;
                let end = (i + n).min(bytes.len());
                if i < end {
                    bytes.drain(i..end);
                }
            }
            Edit::Truncate(i) => bytes.truncate(i % len),
        }
    }
    bytes
}

fn seed() -> proptest::test_runner::RngSeed {
    let fixed = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x6761_7465_7761_7463);
    proptest::test_runner::RngSeed::Fixed(fixed)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        rng_seed: seed(),
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&bytes);
    }

    #[test]
    fn arbitrary_text_lines_never_panic(lines in prop::collection::vec("[ -~]{0,200}", 0..8)) {
        exercise(lines.join("\n").as_bytes());
    }

    #[test]
    fn mutated_samples_never_panic(pick in any::<usize>(), edits in prop::collection::vec(edit(), 1..8)) {
        let samples = samples();
        prop_assume!(!samples.is_empty());
        let (_, sample) = &samples[pick % samples.len()];
        exercise(&apply(sample.clone(), &edits));
    }
}
