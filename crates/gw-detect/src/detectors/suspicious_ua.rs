//! `signature.user_agent`: attack tools, scanners and script-like or garbled user agents.

use gw_model::{Exchange, Finding};

use super::{Detector, DetectorFactory, DetectorStats, finding_from_hits};
use crate::rules::RuleMeta;
use crate::scan::Scanner;
use crate::user_agent::SUSPICIOUS_UA;

pub struct SuspiciousUserAgentFactory;

impl DetectorFactory for SuspiciousUserAgentFactory {
    fn name(&self) -> &'static str {
        "signature.user_agent"
    }

    fn build(&self) -> Box<dyn Detector> {
        Box::new(SuspiciousUserAgentDetector::default())
    }
}

#[derive(Default)]
pub struct SuspiciousUserAgentDetector {
    scanner: Scanner,
    stats: DetectorStats,
}

static RULES: [&RuleMeta; 1] = [&SUSPICIOUS_UA];

impl Detector for SuspiciousUserAgentDetector {
    fn name(&self) -> &'static str {
        "signature.user_agent"
    }

    fn rules(&self) -> &'static [&'static RuleMeta] {
        &RULES
    }

    fn detect(&mut self, batch: &[Exchange], out: &mut Vec<Finding>) {
        for x in batch {
            self.stats.received += 1;
            if let Some(hit) = self.scanner.scan_user_agent(x) {
                out.push(finding_from_hits(x, &SUSPICIOUS_UA, &[&hit]));
                self.stats.findings += 1;
            }
        }
    }

    fn stats(&self) -> DetectorStats {
        self.stats
    }
}
