//! Digest of every finding on the benchmark bodies, to check that a performance change keeps
//! the output identical. Run before and after: `cargo run --release -p gw-classify --example
//! findings_digest` and compare the printed lines.

use gw_classify::{Classifier, Location, StatusClass};
#[path = "../benches/support/bodies.rs"]
mod bodies;
use bodies::{Lcg, body};

/// FNV-1a, fixed and dependency-free, so digests compare across builds.
fn fnv1a(hash: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        *hash ^= u64::from(b);
        *hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
}

fn main() {
    let c = Classifier::builtin();
    let mut rng = Lcg(42);
    for (name, pii) in [("json_no_pii", false), ("json_with_pii", true)] {
        let bodies: Vec<String> = (0..64).map(|_| body(&mut rng, pii)).collect();
        let (mut json, mut text) = (0xcbf2_9ce4_8422_2325u64, 0xcbf2_9ce4_8422_2325u64);
        let (mut n_json, mut n_text) = (0, 0);
        for b in &bodies {
            let scan = c.scan_json(b, Location::ResponseBody, StatusClass::from_status(200));
            n_json += scan.findings.len();
            fnv1a(&mut json, format!("{scan:?}").as_bytes());
            let matches = c.scan_text(b);
            n_text += matches.len();
            fnv1a(&mut text, format!("{matches:?}").as_bytes());
        }
        println!(
            "{name}: scan_json {n_json} findings {json:016x}; scan_text {n_text} matches {text:016x}"
        );
    }
}
