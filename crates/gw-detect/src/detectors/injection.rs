//! `signature.injection`: the injection rule families on every input location.

use gw_model::{Exchange, Finding};

use super::{Detector, DetectorFactory, DetectorStats, findings_for_exchange};
use crate::rules::{RuleMeta, VALUE_RULES};
use crate::scan::{Scanner, SignatureHit};

pub struct InjectionDetectorFactory;

impl DetectorFactory for InjectionDetectorFactory {
    fn name(&self) -> &'static str {
        "signature.injection"
    }

    fn build(&self) -> Box<dyn Detector> {
        Box::new(InjectionDetector::default())
    }
}

/// Runs [`VALUE_RULES`] over each record; reuses one hit buffer across records.
#[derive(Default)]
pub struct InjectionDetector {
    scanner: Scanner,
    hits: Vec<SignatureHit>,
    stats: DetectorStats,
}

static RULES: std::sync::LazyLock<Vec<&'static RuleMeta>> =
    std::sync::LazyLock::new(|| VALUE_RULES.iter().map(|r| r.meta()).collect());

impl Detector for InjectionDetector {
    fn name(&self) -> &'static str {
        "signature.injection"
    }

    fn rules(&self) -> &'static [&'static RuleMeta] {
        RULES.as_slice()
    }

    fn detect(&mut self, batch: &[Exchange], out: &mut Vec<Finding>) {
        for x in batch {
            self.stats.received += 1;
            self.hits.clear();
            self.scanner.scan_injections(x, &mut self.hits);
            if self.hits.is_empty() {
                continue;
            }
            let before = out.len();
            findings_for_exchange(x, &self.hits, out);
            self.stats.findings += (out.len() - before) as u64;
        }
    }

    fn stats(&self) -> DetectorStats {
        self.stats
    }
}
