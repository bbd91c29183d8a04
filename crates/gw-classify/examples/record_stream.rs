//! Fixed work for instruction counting of the per-record classification of a serve pipeline:
//! records of a `gatewatch simulate` NDJSON file, with credentials redacted as ingest does,
//! through one [`BodySampler`] (sampling on, default settings) for several rounds, so that
//! most bodies are skipped and the always-classified request parts dominate.
//! Run: `valgrind --tool=callgrind --toggle-collect='gw_classify::sampling::BodySampler::classify'
//! target/release/examples/record_stream FILE [records] [rounds]` and divide the collected
//! instructions by records × rounds.

use std::hint::black_box;
use std::io::BufRead;

use gw_classify::{BodySampler, BodySamplingConfig, Classifier};
use gw_model::{EndpointMatch, EndpointRef, Exchange, REDACTED};

/// Header values the ingest normalizer replaces by [`REDACTED`] before classification.
const CREDENTIAL_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
];

fn redact(x: &mut Exchange) {
    for h in x.request.headers.iter_mut().flatten() {
        if CREDENTIAL_HEADERS
            .iter()
            .any(|n| n.eq_ignore_ascii_case(&h.name))
        {
            h.value = REDACTED.to_string();
        }
    }
}

/// The endpoint discovery would assign: method, host and the path with id-like segments
/// (anything holding a digit) templated.
fn assign_endpoint(x: &mut Exchange) {
    let template: String = x
        .request
        .path
        .split('/')
        .map(|s| {
            if s.bytes().any(|b| b.is_ascii_digit()) && s.len() > 2 {
                "{id}"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    let host = x.server.host.clone().unwrap_or_default();
    x.endpoint = Some(std::sync::Arc::new(EndpointRef {
        id: format!("{} {host}{template}", x.request.method),
        host,
        method: x.request.method.to_string(),
        template,
        spec_operation_id: None,
        matched_by: EndpointMatch::Learned,
    }));
}

fn main() {
    let mut args = std::env::args().skip(1);
    let file = args
        .next()
        .expect("usage: record_stream FILE [records] [rounds]");
    let records: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let reader = std::io::BufReader::new(std::fs::File::open(&file).expect("open records"));
    let xs: Vec<Exchange> = reader
        .lines()
        .take(records)
        .map(|l| {
            let mut x: Exchange = serde_json::from_str(&l.expect("read line")).expect("record");
            redact(&mut x);
            assign_endpoint(&mut x);
            x
        })
        .collect();
    let c = Classifier::builtin();
    let mut sampler = BodySampler::new(&BodySamplingConfig::default()).expect("sampling config");
    let mut n = 0usize;
    // Order-dependent digest of every finding, to compare builds for identical output
    // (computed outside `BodySampler::classify`, so it does not count in its cost).
    let mut digest = 0u64;
    for _ in 0..rounds {
        for x in &xs {
            let findings = black_box(sampler.classify(c, black_box(x)));
            n += findings.len();
            let json = serde_json::to_vec(&findings).expect("findings serialize");
            digest = gw_sketch::mix64(digest ^ gw_sketch::stable_hash(&json));
        }
    }
    let st = sampler.stats();
    println!(
        "{} records x {rounds} rounds, {n} findings (digest {digest:016x}), bodies scanned {} skipped {}",
        xs.len(),
        st.bodies_scanned,
        st.bodies_skipped
    );
}
