//! Delivery of findings to sinks (files, stdout, webhooks, syslog, Splunk HEC, Sentinel,
//! Elastic), with blocking I/O on one worker thread per sink.
//!
//! ```text
//! dispatch(finding) ──filter──▶ bounded queue ──▶ worker: batch ─▶ transport ─▶ receiver
//!                    (per sink)   (blocks the caller     │ retry with backoff + jitter
//!                                  up to a timeout, then  └▶ dead-letter file (with reason)
//!                                  dead-letters)
//! ```
//!
//! Every finding handed to [`Dispatcher::dispatch`] for a matching sink ends in exactly one of
//! the counters of [`SinkStats`]: `delivered`, `dead_lettered`, or `lost` (only when the
//! dead-letter file itself cannot be written, logged at error level). Secrets in the config
//! ([`Secret`]) never appear in `Debug`, logs or errors. [`Dispatcher::monitor`] hands those
//! counters to a metrics endpoint without keeping the sinks open; [`replay_dead_letters`]
//! sends dead letters again once a receiver is fixed.
//!
//! ```toml
//! [delivery]
//! dead_letter_dir = "/var/lib/gatewatch/dead-letter"
//!
//! [[delivery.sinks]]
//! name = "soc-webhook"
//! kind = "webhook"
//! url = "https://hooks.example.com/gatewatch"
//! secret = { env = "GATEWATCH_WEBHOOK_SECRET" }
//! filter = { min_severity = "high" }
//! retry = { attempts = 6, base_ms = 500, cap_ms = 60000 }
//! ```

mod config;
mod dead_letter;
mod elastic;
mod file;
mod http;
mod queue;
mod replay;
mod sentinel;
mod splunk;
mod syslog;
mod webhook;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gw_model::Finding;
use rand::SeedableRng;
use serde::Serialize;

pub use config::{
    DeliveryConfig, ElasticConfig, LineFormat, NdjsonFileConfig, OAuthConfig, RetryPolicy, Secret,
    SentinelConfig, SinkConfig, SplunkHecConfig, StdoutConfig, SyslogConfig, SyslogProtocol,
    TransportConfig, WebhookConfig,
};
pub use dead_letter::DEAD_LETTER_SCHEMA;
pub use replay::{
    DeadLetterScan, KeptEntry, MalformedLine, ReplayOptions, ReplayReport, dead_letter_files,
    replay_dead_letters, scan_dead_letters,
};

use crate::{ExportError, Producer, Result, SinkFilter};
use dead_letter::DeadLetterFile;
use queue::{Queue, Rejected};

/// Why a delivery (of a batch or of one finding) failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    pub reason: String,
    /// Worth trying again (network errors, 5xx, 429); else dead-lettered at once.
    pub retryable: bool,
    /// The server's `Retry-After`.
    pub retry_after: Option<Duration>,
}

impl Failure {
    pub(crate) fn retryable(reason: String) -> Failure {
        Failure {
            reason,
            retryable: true,
            retry_after: None,
        }
    }

    pub(crate) fn permanent(reason: String) -> Failure {
        Failure {
            reason,
            retryable: false,
            retry_after: None,
        }
    }
}

/// What a transport did with a batch.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Every finding was accepted.
    Delivered,
    /// These findings (positions in the batch) failed; all others were accepted.
    Failed(Vec<(usize, Failure)>),
}

impl Outcome {
    /// The whole batch of `len` findings failed for one reason.
    pub(crate) fn all_failed(len: usize, failure: &Failure) -> Outcome {
        Outcome::Failed((0..len).map(|i| (i, failure.clone())).collect())
    }

    pub(crate) fn from_failures(failures: Vec<(usize, Failure)>) -> Outcome {
        if failures.is_empty() {
            Outcome::Delivered
        } else {
            Outcome::Failed(failures)
        }
    }
}

/// Sends packed bodies in order and returns the failed findings by batch position (`positions`
/// maps a record index of `packed` to its batch position). After a retryable failure the later
/// bodies are not tried (the receiver is probably down) and fail with the same reason.
pub(crate) fn send_bodies(
    packed: crate::batch::IndexedBodies,
    positions: &[usize],
    limit: usize,
    format: &str,
    mut send: impl FnMut(&[u8]) -> std::result::Result<(), Failure>,
) -> Vec<(usize, Failure)> {
    let mut failures: Vec<(usize, Failure)> = packed
        .oversized
        .iter()
        .map(|&(record, size)| {
            let reason = format!(
                "{format} record is {size} bytes, larger than the {limit}-byte request limit"
            );
            (positions[record], Failure::permanent(reason))
        })
        .collect();
    let mut down: Option<Failure> = None;
    for (records, body) in &packed.bodies {
        let result = match &down {
            Some(failure) => Err(failure.clone()),
            None => send(body),
        };
        if let Err(failure) = result {
            if failure.retryable {
                down = Some(failure.clone());
            }
            failures.extend(records.iter().map(|&r| (positions[r], failure.clone())));
        }
    }
    failures.sort_by_key(|(position, _)| *position);
    failures
}

/// A sink's way of moving a batch to its receiver. Blocking; called from the sink's worker.
pub(crate) trait Transport: Send {
    fn deliver(&mut self, batch: &[Finding]) -> Outcome;
}

/// Counters of one sink, in findings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SinkStats {
    /// Sink name.
    pub name: String,
    /// Sink `kind`.
    pub kind: &'static str,
    /// Accepted by the receiver (or written, for files and stdout).
    pub delivered: u64,
    /// Re-sent after a retryable failure, once per finding per retry.
    pub retried: u64,
    /// Failed delivery attempts, once per finding per attempt (retryable or not).
    pub failed: u64,
    /// Written to the dead-letter file (failed, queue full, or still pending at shutdown).
    pub dead_lettered: u64,
    /// Of `dead_lettered`, those dead-lettered because the queue stayed full.
    pub queue_full: u64,
    /// Neither delivered nor dead-lettered because the dead-letter file could not be written.
    pub lost: u64,
    /// Waiting in the queue now.
    pub queued: usize,
    /// Most findings the queue holds (`queue_capacity`).
    pub queue_capacity: usize,
    /// When the receiver last accepted a batch; `None` before the first delivery.
    pub last_delivered_at: Option<jiff::Timestamp>,
}

#[derive(Default)]
struct Counters {
    delivered: AtomicU64,
    retried: AtomicU64,
    failed: AtomicU64,
    /// Unix milliseconds of the last accepted batch; 0 before the first.
    last_delivered_ms: AtomicI64,
    dead_lettered: AtomicU64,
    queue_full: AtomicU64,
    lost: AtomicU64,
}

/// State of one sink shared by the dispatcher and the worker.
struct SinkShared {
    name: String,
    kind: &'static str,
    counters: Counters,
    dead_letter: Mutex<DeadLetterFile>,
}

impl SinkShared {
    fn dead_letter(&self, entries: &[(&Finding, u32, &str)]) {
        if entries.is_empty() {
            return;
        }
        let n = entries.len() as u64;
        let written = self
            .dead_letter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .write(&self.name, self.kind, entries);
        match written {
            Ok(()) => {
                self.counters.dead_lettered.fetch_add(n, Ordering::Relaxed);
                tracing::warn!(sink = %self.name, findings = n, reason = entries[0].2, "findings dead-lettered");
            }
            Err(e) => {
                self.counters.lost.fetch_add(n, Ordering::Relaxed);
                tracing::error!(sink = %self.name, findings = n, error = %e, reason = entries[0].2, "findings lost: dead-letter file not writable");
            }
        }
    }

    fn stats(&self, queue: &Queue) -> SinkStats {
        let c = &self.counters;
        let last_ms = c.last_delivered_ms.load(Ordering::Relaxed);
        SinkStats {
            name: self.name.clone(),
            kind: self.kind,
            delivered: c.delivered.load(Ordering::Relaxed),
            retried: c.retried.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            dead_lettered: c.dead_lettered.load(Ordering::Relaxed),
            queue_full: c.queue_full.load(Ordering::Relaxed),
            lost: c.lost.load(Ordering::Relaxed),
            queued: queue.len(),
            queue_capacity: queue.capacity(),
            last_delivered_at: (last_ms > 0)
                .then(|| jiff::Timestamp::from_millisecond(last_ms).ok())
                .flatten(),
        }
    }
}

/// A read-only view of a [`Dispatcher`]'s counters for a metrics endpoint. It does not keep
/// the dispatcher open, so holding one never stands in the way of [`Dispatcher::close`]; after
/// the close it shows the final counters.
#[derive(Clone)]
pub struct DeliveryMonitor {
    sinks: Vec<(Arc<SinkShared>, Arc<Queue>)>,
}

impl DeliveryMonitor {
    /// Current counters of every sink, in config order.
    pub fn stats(&self) -> Vec<SinkStats> {
        self.sinks
            .iter()
            .map(|(shared, queue)| shared.stats(queue))
            .collect()
    }
}

struct Sink {
    filter: SinkFilter,
    queue: Arc<Queue>,
    shared: Arc<SinkShared>,
    worker: Option<JoinHandle<()>>,
}

/// Where one [`Dispatcher::dispatch`] call put a finding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dispatched {
    /// Sinks whose filter matched.
    pub matched: usize,
    /// Of those, sinks that queued it.
    pub queued: usize,
    /// Of those, sinks that dead-lettered it (queue full or closing).
    pub dead_lettered: usize,
}

/// Routes findings to the sinks whose filter matches and runs one worker thread per sink.
/// Dropping it closes it as [`Dispatcher::close`] does.
pub struct Dispatcher {
    sinks: Vec<Sink>,
    enqueue_timeout: Duration,
    shutdown_timeout: Duration,
}

impl Dispatcher {
    /// Validates `config`, opens every sink's dead-letter file (and output file, CA file) and
    /// starts the workers. Network connections are made on first delivery, so an unreachable
    /// receiver does not stop the start (its findings are retried, then dead-lettered).
    pub fn start(config: &DeliveryConfig, producer: &Producer) -> Result<Dispatcher> {
        config.validate()?;
        let mut prepared = Vec::with_capacity(config.sinks.len());
        for sink in &config.sinks {
            let transport = build_transport(sink, producer)?;
            let dead_letter = DeadLetterFile::open(&config.dead_letter_path(sink))?;
            prepared.push((sink, transport, dead_letter));
        }
        let mut sinks = Vec::with_capacity(prepared.len());
        for (position, (sink, transport, dead_letter)) in prepared.into_iter().enumerate() {
            let queue = Arc::new(Queue::new(sink.queue_capacity));
            let shared = Arc::new(SinkShared {
                name: sink.name.clone(),
                kind: sink.transport.kind(),
                counters: Counters::default(),
                dead_letter: Mutex::new(dead_letter),
            });
            let worker = Worker {
                transport,
                queue: Arc::clone(&queue),
                shared: Arc::clone(&shared),
                retry: sink.retry.clone(),
                batch_max: sink.batch_size(),
                linger: Duration::from_millis(sink.flush_interval_ms),
                rng: rand::rngs::StdRng::seed_from_u64(jitter_seed(position)),
            };
            let handle = std::thread::Builder::new()
                .name(format!("gw-sink-{}", sink.name))
                .spawn(move || worker.run())
                .map_err(|e| {
                    config::config_error(&sink.name, format!("starting the worker thread: {e}"))
                })?;
            sinks.push(Sink {
                filter: sink.filter.clone(),
                queue,
                shared,
                worker: Some(handle),
            });
        }
        Ok(Dispatcher {
            sinks,
            enqueue_timeout: Duration::from_millis(config.enqueue_timeout_ms),
            shutdown_timeout: Duration::from_millis(config.shutdown_timeout_ms),
        })
    }

    /// Queues `finding` for every sink whose filter matches. A full queue blocks the caller up
    /// to the enqueue timeout (per sink), then the finding is dead-lettered for that sink.
    pub fn dispatch(&self, finding: &Finding) -> Dispatched {
        let mut out = Dispatched::default();
        for sink in self.sinks.iter().filter(|s| s.filter.matches(finding)) {
            out.matched += 1;
            match sink.queue.push(finding, self.enqueue_timeout) {
                Ok(()) => out.queued += 1,
                Err(why) => {
                    let reason = match why {
                        Rejected::Full => {
                            sink.shared
                                .counters
                                .queue_full
                                .fetch_add(1, Ordering::Relaxed);
                            format!(
                                "queue full: {} findings waiting for {} ms",
                                sink.queue.len(),
                                self.enqueue_timeout.as_millis()
                            )
                        }
                        Rejected::Closed => "dispatcher is closing".to_string(),
                    };
                    sink.shared.dead_letter(&[(finding, 0, &reason)]);
                    out.dead_lettered += 1;
                }
            }
        }
        out
    }

    /// [`Dispatcher::dispatch`] for each finding.
    pub fn dispatch_all(&self, findings: &[Finding]) -> Dispatched {
        findings.iter().fold(Dispatched::default(), |acc, f| {
            let d = self.dispatch(f);
            Dispatched {
                matched: acc.matched + d.matched,
                queued: acc.queued + d.queued,
                dead_lettered: acc.dead_lettered + d.dead_lettered,
            }
        })
    }

    /// Current counters of every sink, in config order.
    pub fn stats(&self) -> Vec<SinkStats> {
        self.sinks
            .iter()
            .map(|s| s.shared.stats(&s.queue))
            .collect()
    }

    /// A view of the counters that outlives this dispatcher without keeping it open.
    pub fn monitor(&self) -> DeliveryMonitor {
        DeliveryMonitor {
            sinks: self
                .sinks
                .iter()
                .map(|s| (Arc::clone(&s.shared), Arc::clone(&s.queue)))
                .collect(),
        }
    }

    /// [`Dispatcher::close`] of a shared dispatcher. Fails with
    /// [`ExportError::DispatcherInUse`] when other handles still exist: closing then would
    /// return counters from before the drain, and the drain would happen later, unreported,
    /// when the last handle is dropped.
    pub fn close_shared(dispatcher: Arc<Dispatcher>) -> Result<Vec<SinkStats>> {
        match Arc::try_unwrap(dispatcher) {
            Ok(d) => Ok(d.close()),
            Err(shared) => Err(ExportError::DispatcherInUse {
                others: Arc::strong_count(&shared) - 1,
            }),
        }
    }

    /// Stops accepting findings, lets the workers drain their queues for the configured
    /// shutdown timeout, dead-letters what is left, and returns the final counters.
    pub fn close(mut self) -> Vec<SinkStats> {
        let timeout = self.shutdown_timeout;
        self.shutdown(timeout)
    }

    /// [`Dispatcher::close`] with an explicit drain deadline.
    pub fn close_within(mut self, timeout: Duration) -> Vec<SinkStats> {
        self.shutdown(timeout)
    }

    fn shutdown(&mut self, timeout: Duration) -> Vec<SinkStats> {
        let deadline = Instant::now() + timeout;
        for sink in &self.sinks {
            sink.queue.close(deadline);
        }
        // A worker blocked in a request returns within that request's timeout; wait for it a
        // little past the deadline, then leave it detached rather than hang the caller.
        let grace = deadline + Duration::from_secs(2);
        for sink in &mut self.sinks {
            let Some(handle) = sink.worker.take() else {
                continue;
            };
            while !handle.is_finished() && Instant::now() < grace {
                std::thread::sleep(Duration::from_millis(5));
            }
            if handle.is_finished() {
                if handle.join().is_err() {
                    tracing::error!(sink = %sink.shared.name, "sink worker panicked");
                }
            } else {
                tracing::error!(sink = %sink.shared.name, "sink worker still busy after the shutdown deadline; detached");
            }
            let rest = sink.queue.drain();
            let entries: Vec<(&Finding, u32, &str)> = rest
                .iter()
                .map(|f| (f, 0, "shutdown deadline passed before delivery"))
                .collect();
            sink.shared.dead_letter(&entries);
        }
        self.stats()
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        if self.sinks.iter().any(|s| s.worker.is_some()) {
            let timeout = self.shutdown_timeout;
            self.shutdown(timeout);
        }
    }
}

fn jitter_seed(position: usize) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (position as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

pub(crate) fn build_transport(
    sink: &SinkConfig,
    producer: &Producer,
) -> Result<Box<dyn Transport>> {
    let name = sink.name.as_str();
    Ok(match &sink.transport {
        TransportConfig::NdjsonFile(c) => Box::new(file::FileTransport::open(name, c, producer)?),
        TransportConfig::Stdout(c) => Box::new(file::WriterTransport::new(
            Box::new(std::io::stdout()),
            c.format,
            producer.clone(),
        )),
        TransportConfig::Webhook(c) => Box::new(webhook::WebhookTransport::new(name, c)?),
        TransportConfig::Syslog(c) => Box::new(syslog::SyslogTransport::new(name, c, producer)?),
        TransportConfig::SplunkHec(c) => Box::new(splunk::HecTransport::new(name, c, producer)?),
        TransportConfig::Sentinel(c) => Box::new(sentinel::SentinelTransport::new(name, c)?),
        TransportConfig::Elastic(c) => Box::new(elastic::ElasticTransport::new(name, c)?),
    })
}

struct Worker {
    transport: Box<dyn Transport>,
    queue: Arc<Queue>,
    shared: Arc<SinkShared>,
    retry: RetryPolicy,
    batch_max: usize,
    linger: Duration,
    rng: rand::rngs::StdRng,
}

impl Worker {
    fn run(mut self) {
        while let Some(batch) = self.queue.next_batch(self.batch_max, self.linger) {
            self.deliver(batch);
        }
    }

    /// Delivers `batch`, retrying what failed retryably, and dead-letters the rest.
    fn deliver(&mut self, batch: Vec<Finding>) {
        let mut pending = batch;
        let mut attempt: u32 = 1;
        loop {
            if self.queue.past_deadline() {
                self.dead_letter_all(
                    &pending,
                    attempt - 1,
                    "shutdown deadline passed before delivery",
                );
                return;
            }
            let failures = match self.transport.deliver(&pending) {
                Outcome::Delivered => Vec::new(),
                Outcome::Failed(failures) => failures,
            };
            let delivered = pending.len() - failures.len();
            let counters = &self.shared.counters;
            counters
                .delivered
                .fetch_add(delivered as u64, Ordering::Relaxed);
            counters
                .failed
                .fetch_add(failures.len() as u64, Ordering::Relaxed);
            if delivered > 0 {
                let now = jiff::Timestamp::now().as_millisecond();
                counters.last_delivered_ms.fetch_max(now, Ordering::Relaxed);
            }
            let (retry, permanent): (Vec<_>, Vec<_>) =
                failures.into_iter().partition(|(_, f)| f.retryable);
            let entries: Vec<(&Finding, u32, &str)> = permanent
                .iter()
                .map(|(i, f)| (&pending[*i], attempt, f.reason.as_str()))
                .collect();
            self.shared.dead_letter(&entries);
            if retry.is_empty() {
                return;
            }
            if attempt >= self.retry.attempts {
                let entries: Vec<(&Finding, u32, String)> = retry
                    .iter()
                    .map(|(i, f)| {
                        let reason = format!("{} (gave up after {attempt} attempts)", f.reason);
                        (&pending[*i], attempt, reason)
                    })
                    .collect();
                let borrowed: Vec<(&Finding, u32, &str)> = entries
                    .iter()
                    .map(|(f, a, r)| (*f, *a, r.as_str()))
                    .collect();
                self.shared.dead_letter(&borrowed);
                return;
            }
            let retry_after = retry.iter().filter_map(|(_, f)| f.retry_after).max();
            let delay = self.retry.delay(attempt, retry_after, &mut self.rng);
            let last_reason = retry[0].1.reason.clone();
            tracing::warn!(sink = %self.shared.name, findings = retry.len(), attempt, delay_ms = delay.as_millis() as u64, reason = %last_reason, "delivery failed; retrying");
            let next: Vec<Finding> = retry.iter().map(|(i, _)| pending[*i].clone()).collect();
            pending = next;
            if !self.queue.sleep(delay) {
                let reason = format!(
                    "shutdown deadline passed while waiting to retry; last error: {last_reason}"
                );
                self.dead_letter_all(&pending, attempt, &reason);
                return;
            }
            self.shared
                .counters
                .retried
                .fetch_add(pending.len() as u64, Ordering::Relaxed);
            attempt += 1;
        }
    }

    fn dead_letter_all(&self, findings: &[Finding], attempts: u32, reason: &str) {
        let entries: Vec<(&Finding, u32, &str)> =
            findings.iter().map(|f| (f, attempts, reason)).collect();
        self.shared.dead_letter(&entries);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatcher_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Dispatcher>();
    }

    #[test]
    fn send_bodies_stops_after_a_retryable_failure_and_maps_positions() {
        let packed = crate::batch::IndexedBodies {
            bodies: vec![
                (vec![0], b"a".to_vec()),
                (vec![1, 2], b"b".to_vec()),
                (vec![3], b"c".to_vec()),
            ],
            oversized: vec![(4, 99)],
        };
        let positions = [0, 2, 3, 5, 6];
        let mut sent = Vec::new();
        let failures = send_bodies(packed, &positions, 10, "t", |body| {
            sent.push(body.to_vec());
            match body {
                b"a" => Ok(()),
                _ => Err(Failure::retryable("down".into())),
            }
        });
        assert_eq!(sent, [b"a".to_vec(), b"b".to_vec()], "c is not tried");
        let failed: Vec<(usize, bool)> = failures.iter().map(|(p, f)| (*p, f.retryable)).collect();
        assert_eq!(failed, [(2, true), (3, true), (5, true), (6, false)]);
        assert!(failures[3].1.reason.contains("99 bytes"));
    }
}
