//! Format detection on arbitrary input: every decoder's `sniff` and `framing` see the sample.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = gw_ingest::detect_format(data);
    gw_ingest::sample_of(data, |sample| {
        for d in gw_ingest::DECODERS {
            let score = d.sniff(sample);
            assert!(score <= 100, "{} scored {score}", d.kind());
            let _ = d.framing(sample);
        }
    });
});
