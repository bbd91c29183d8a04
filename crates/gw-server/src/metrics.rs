//! Server counters in the Prometheus text format. A registry per server (not a process-wide
//! recorder), so several servers in one process (tests) keep separate counts.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Counters and gauges keyed by their full series name (`name{label="v"}`), rendered sorted.
#[derive(Default)]
pub struct Registry {
    counters: Mutex<BTreeMap<String, f64>>,
    gauges: Mutex<BTreeMap<String, f64>>,
}

/// `name{k="v",...}` with label values escaped.
pub fn series(name: &str, labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return name.to_string();
    }
    let mut s = String::with_capacity(name.len() + 32);
    s.push_str(name);
    s.push('{');
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let v = v
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        let _ = write!(s, "{k}=\"{v}\"");
    }
    s.push('}');
    s
}

const HELP: &[(&str, &str, &str)] = &[
    (
        "gatewatch_ingest_requests_total",
        "counter",
        "Ingest requests by endpoint and HTTP status.",
    ),
    (
        "gatewatch_ingest_records_accepted_total",
        "counter",
        "Records accepted (spooled and acknowledged) by source format.",
    ),
    (
        "gatewatch_ingest_records_rejected_total",
        "counter",
        "Records refused by source format and reason.",
    ),
    (
        "gatewatch_ingest_bytes_total",
        "counter",
        "Request body bytes received by endpoint (as sent).",
    ),
    (
        "gatewatch_rate_limited_total",
        "counter",
        "Requests refused with 429 by the per-token rate limit.",
    ),
    (
        "gatewatch_sink_batches_total",
        "counter",
        "Batches handed to the pipeline.",
    ),
    (
        "gatewatch_sink_failures_total",
        "counter",
        "Batches the pipeline failed to take (retried).",
    ),
    (
        "gatewatch_sink_submit_seconds_total",
        "counter",
        "Time spent handing batches to the pipeline.",
    ),
    (
        "gatewatch_spool_fsync_seconds_total",
        "counter",
        "Time spent writing and fsyncing spool entries.",
    ),
    (
        "gatewatch_api_store_seconds_total",
        "counter",
        "Time the read API spent in store calls, by call.",
    ),
    (
        "gatewatch_api_status_changes_total",
        "counter",
        "Alert status changes made through the API, by new status.",
    ),
    (
        "gatewatch_ingest_queue_batches",
        "gauge",
        "Acknowledged batches waiting for the pipeline.",
    ),
    (
        "gatewatch_spool_pending_bytes",
        "gauge",
        "Bytes of spooled batches the pipeline has not made durable yet.",
    ),
    (
        "gatewatch_pipeline_lag_batches",
        "gauge",
        "Batches acknowledged but not yet durable in the store (spool appended - committed).",
    ),
];

impl Registry {
    pub fn add(&self, series: String, by: f64) {
        let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        *c.entry(series).or_insert(0.0) += by;
    }

    pub fn set(&self, series: String, value: f64) {
        let mut g = self.gauges.lock().unwrap_or_else(|p| p.into_inner());
        g.insert(series, value);
    }

    /// The current value of a counter (tests, reports).
    pub fn counter(&self, series: &str) -> f64 {
        let c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        c.get(series).copied().unwrap_or(0.0)
    }

    /// Prometheus text exposition of every series.
    pub fn render(&self, out: &mut String) {
        let counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let gauges = self.gauges.lock().unwrap_or_else(|p| p.into_inner());
        for (name, kind, help) in HELP {
            let map = if *kind == "counter" {
                &*counters
            } else {
                &*gauges
            };
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (series, value) in map.iter().filter(|(s, _)| {
                s.strip_prefix(name)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('{'))
            }) {
                let _ = writeln!(out, "{series} {value}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_rendered_sorted_with_escaped_labels() {
        let r = Registry::default();
        r.add(
            series(
                "gatewatch_ingest_records_rejected_total",
                &[("source", "kong.http_log"), ("reason", "bad\"field")],
            ),
            2.0,
        );
        r.add(
            series(
                "gatewatch_ingest_records_accepted_total",
                &[("source", "native")],
            ),
            3.0,
        );
        r.add(
            series(
                "gatewatch_ingest_records_accepted_total",
                &[("source", "native")],
            ),
            1.0,
        );
        r.set(series("gatewatch_ingest_queue_batches", &[]), 5.0);
        let mut text = String::new();
        r.render(&mut text);
        assert!(text.contains("gatewatch_ingest_records_accepted_total{source=\"native\"} 4\n"));
        assert!(text.contains(
            "gatewatch_ingest_records_rejected_total{source=\"kong.http_log\",reason=\"bad\\\"field\"} 2\n"
        ));
        assert!(text.contains(
            "# TYPE gatewatch_ingest_queue_batches gauge\ngatewatch_ingest_queue_batches 5\n"
        ));
    }
}
