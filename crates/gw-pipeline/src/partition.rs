//! Partitioned execution: one worker thread per partition, fed by a bounded channel.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gw_model::{Event, Exchange, Finding};
use xxhash_rust::xxh3::xxh3_64;

use crate::{Batch, ComponentMetrics, OpContext, Operator};

/// How the runtime is laid out.
#[derive(Clone, Copy, Debug)]
pub struct RuntimeConfig {
    /// Worker threads, one per partition (on one machine: the number of cores).
    pub partitions: usize,
    /// Records per batch handed to a worker.
    pub batch_size: usize,
    /// Batches that may wait in front of each worker before producers block (back-pressure).
    pub queue_batches: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            partitions: 2,
            batch_size: 512,
            queue_batches: 4,
        }
    }
}

/// The key records are partitioned by: the API, i.e. host + base path (first path segment).
/// All records of one API land in one partition, so per-endpoint state stays local.
#[derive(Debug, PartialEq, Eq)]
pub struct PartitionKey<'a> {
    pub host: &'a str,
    pub base_path: &'a str,
}

impl<'a> PartitionKey<'a> {
    pub fn of(x: &'a Exchange) -> Self {
        let path = x.request.path.as_str();
        let rest = path.strip_prefix('/').unwrap_or(path);
        let end = rest.find('/').unwrap_or(rest.len());
        PartitionKey {
            host: x.server.host.as_deref().unwrap_or(""),
            base_path: &rest[..end],
        }
    }
}

/// Stable partition of a key: the same in every process and version (xxh3, never a seeded
/// hasher), so the cluster transport can use the same function.
pub fn partition_of(key: &PartitionKey<'_>, partitions: usize) -> usize {
    let mut h = xxh3_64(key.host.as_bytes());
    h ^= xxh3_64(key.base_path.as_bytes()).rotate_left(17);
    (h % partitions.max(1) as u64) as usize
}

/// What a worker hands downstream for each batch it processed.
#[derive(Debug, Default)]
pub struct PartitionOutput {
    pub partition: usize,
    pub batch: Batch,
    pub findings: Vec<Finding>,
    /// Detection events raised on the batch's records.
    pub events: Vec<Event>,
    /// Set on the output a worker sends when a barrier passes it: everything this partition
    /// produced for records pushed before [`PartitionedRuntime::barrier`] was sent before it.
    pub barrier: Option<u64>,
}

/// What travels to a partition worker.
enum Input {
    Batch(Batch),
    Barrier(u64),
}

/// Counters of one operator in one partition, returned when the runtime finishes.
#[derive(Debug, Clone)]
pub struct OperatorReport {
    pub partition: usize,
    pub operator: &'static str,
    pub metrics: ComponentMetrics,
    /// Wall time the operator spent processing batches (for per-stage cost breakdowns).
    pub busy: Duration,
}

/// Runs operator chains on partition threads. Producers call [`push`](Self::push); the output
/// receiver must be drained by another thread (typically the store writer).
pub struct PartitionedRuntime {
    senders: Vec<SyncSender<Input>>,
    workers: Vec<JoinHandle<Vec<OperatorReport>>>,
    pending: Vec<Batch>,
    batch_size: usize,
}

impl PartitionedRuntime {
    /// Starts `config.partitions` workers; `make_operators(p)` builds partition `p`'s chain.
    /// Outputs go to `output` as any message type that can be made from a [`PartitionOutput`],
    /// so the consumer can share its channel with other producers.
    pub fn start<F, M>(config: RuntimeConfig, make_operators: F, output: SyncSender<M>) -> Self
    where
        F: Fn(usize) -> Vec<Box<dyn Operator>>,
        M: From<PartitionOutput> + Send + 'static,
    {
        let partitions = config.partitions.max(1);
        let mut senders = Vec::with_capacity(partitions);
        let mut workers = Vec::with_capacity(partitions);
        for p in 0..partitions {
            let (tx, rx) = sync_channel::<Input>(config.queue_batches.max(1));
            let ops = make_operators(p);
            let out = output.clone();
            let handle = std::thread::Builder::new()
                .name(format!("gw-partition-{p}"))
                .spawn(move || run_worker(p, rx, ops, out))
                .expect("spawning a partition thread");
            senders.push(tx);
            workers.push(handle);
        }
        PartitionedRuntime {
            senders,
            workers,
            pending: (0..partitions).map(|_| Vec::new()).collect(),
            batch_size: config.batch_size.max(1),
        }
    }

    pub fn partitions(&self) -> usize {
        self.senders.len()
    }

    /// Routes one record to its partition; blocks when that partition is saturated.
    pub fn push(&mut self, x: Exchange) {
        let p = partition_of(&PartitionKey::of(&x), self.senders.len());
        self.pending[p].push(x);
        if self.pending[p].len() >= self.batch_size {
            self.send(p);
        }
    }

    /// Hands every partially filled batch to its worker.
    pub fn flush(&mut self) {
        for p in 0..self.pending.len() {
            if !self.pending[p].is_empty() {
                self.send(p);
            }
        }
    }

    fn send(&mut self, p: usize) {
        let batch = std::mem::replace(&mut self.pending[p], Vec::with_capacity(self.batch_size));
        // A worker only disappears by panicking; `finish` surfaces that panic.
        let _ = self.senders[p].send(Input::Batch(batch));
    }

    /// Flushes every partial batch, then sends barrier `token` through every partition: each
    /// worker lets its operators hand out held-back findings ([`Operator::on_barrier`]) and
    /// sends one output with `barrier: Some(token)` after everything it produced for the
    /// records pushed so far. A consumer that has seen the barrier from every partition has
    /// seen all of those outputs. Blocks like [`push`](Self::push) when a partition is full.
    pub fn barrier(&mut self, token: u64) {
        self.flush();
        for tx in &self.senders {
            let _ = tx.send(Input::Barrier(token));
        }
    }

    /// Flushes, closes the inputs, lets every operator finish and returns their counters.
    /// A panic in a worker is propagated here, never swallowed.
    pub fn finish(mut self) -> Vec<OperatorReport> {
        self.flush();
        self.senders.clear();
        let mut reports = Vec::new();
        for w in self.workers.drain(..) {
            match w.join() {
                Ok(r) => reports.extend(r),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        reports
    }
}

fn run_worker<M: From<PartitionOutput>>(
    partition: usize,
    input: Receiver<Input>,
    mut ops: Vec<Box<dyn Operator>>,
    output: SyncSender<M>,
) -> Vec<OperatorReport> {
    let mut busy = vec![Duration::ZERO; ops.len()];
    for message in input {
        let mut ctx = OpContext::default();
        let out = match message {
            Input::Batch(mut batch) => {
                for (op, busy) in ops.iter_mut().zip(busy.iter_mut()) {
                    let started = Instant::now();
                    op.process(&mut batch, &mut ctx);
                    *busy += started.elapsed();
                }
                PartitionOutput {
                    partition,
                    batch,
                    findings: ctx.findings,
                    events: ctx.events,
                    barrier: None,
                }
            }
            Input::Barrier(token) => {
                for op in ops.iter_mut() {
                    op.on_barrier(&mut ctx);
                }
                PartitionOutput {
                    partition,
                    batch: Vec::new(),
                    findings: ctx.findings,
                    events: ctx.events,
                    barrier: Some(token),
                }
            }
        };
        if output.send(M::from(out)).is_err() {
            break; // downstream is gone: stop consuming so producers see it
        }
    }
    let mut ctx = OpContext::default();
    for op in ops.iter_mut() {
        op.finish(&mut ctx);
    }
    if !ctx.findings.is_empty() || !ctx.events.is_empty() {
        let _ = output.send(M::from(PartitionOutput {
            partition,
            batch: Vec::new(),
            findings: ctx.findings,
            events: ctx.events,
            barrier: None,
        }));
    }
    ops.iter()
        .zip(busy)
        .map(|(op, busy)| OperatorReport {
            partition,
            operator: op.name(),
            metrics: op.metrics(),
            busy,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PassThrough;
    use gw_model::{Capture, Source, SourceKind};
    use jiff::Timestamp;

    fn record(i: usize, host: &str, path: &str) -> Exchange {
        let source = Source {
            kind: SourceKind::Native,
            capture: Capture::Frontend,
            gateway: None,
            raw_ref: None,
        };
        let mut x = Exchange::new(format!("r{i}"), Timestamp::UNIX_EPOCH, source, "GET", path);
        x.server.host = Some(host.to_string());
        x
    }

    #[test]
    fn partition_key_is_host_and_first_segment() {
        let x = record(0, "api.example.com", "/shop/items/1");
        let k = PartitionKey::of(&x);
        assert_eq!(k.host, "api.example.com");
        assert_eq!(k.base_path, "shop");
        assert_eq!(PartitionKey::of(&record(0, "h", "/")).base_path, "");
        assert_eq!(
            PartitionKey::of(&record(0, "h", "noslash")).base_path,
            "noslash"
        );
    }

    const PINNED_PARTITION: usize = 25;

    #[test]
    fn partition_of_is_stable_across_runs() {
        // Pinned values: a change here would re-shard a running cluster.
        let k = PartitionKey {
            host: "api.example.com",
            base_path: "shop",
        };
        let p = partition_of(&k, 32);
        assert_eq!(p, PINNED_PARTITION);
        assert_eq!(partition_of(&k, 1), 0);
        assert_eq!(partition_of(&k, 0), 0);
    }

    #[test]
    fn every_record_comes_out_once_and_one_api_stays_in_one_partition() {
        let (tx, rx) = sync_channel::<PartitionOutput>(2);
        let mut rt = PartitionedRuntime::start(
            RuntimeConfig {
                partitions: 3,
                batch_size: 7,
                queue_batches: 1,
            },
            |_| vec![Box::new(PassThrough::default()) as Box<dyn Operator>],
            tx,
        );
        let collector = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for out in rx {
                for x in out.batch {
                    seen.push((x.id, out.partition, x.request.path));
                }
            }
            seen
        });
        for i in 0..1000 {
            let api = ["a", "b", "c", "d", "e"][i % 5];
            rt.push(record(i, "h", &format!("/{api}/{i}")));
        }
        let reports = rt.finish();
        let seen = collector.join().unwrap();
        assert_eq!(seen.len(), 1000);
        let mut ids: Vec<_> = seen.iter().map(|s| s.0.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 1000, "no record duplicated");
        for api in ["a", "b", "c", "d", "e"] {
            let parts: std::collections::BTreeSet<_> = seen
                .iter()
                .filter(|s| s.2.starts_with(&format!("/{api}/")))
                .map(|s| s.1)
                .collect();
            assert_eq!(parts.len(), 1, "API {api} spread over {parts:?}");
        }
        let mut total = ComponentMetrics::default();
        for r in &reports {
            r.metrics.assert_balanced(r.operator);
            total.merge(&r.metrics);
        }
        assert_eq!(total.received, 1000);
    }

    /// Counts records and hands the count out as a finding at each barrier.
    #[derive(Default)]
    struct BarrierCounter {
        seen: u64,
    }
    impl Operator for BarrierCounter {
        fn name(&self) -> &'static str {
            "barrier_counter"
        }
        fn process(&mut self, batch: &mut Batch, _: &mut OpContext) {
            self.seen += batch.len() as u64;
        }
        fn on_barrier(&mut self, ctx: &mut OpContext) {
            let f: gw_model::Finding = serde_json::from_value(serde_json::json!({
                "schema": "gatewatch.finding/1", "id": "f", "fingerprint": "f",
                "kind": "threat", "title": "t", "description": "d",
                "rule": {"id": "R", "name": "r", "version": 1, "analytic": "signature"},
                "severity": "low", "confidence": "low", "status": "open",
                "first_seen": "2026-01-01T00:00:00Z", "last_seen": "2026-01-01T00:00:00Z",
                "count": self.seen,
            }))
            .expect("a valid finding");
            self.seen = 0;
            ctx.findings.push(f);
        }
        fn metrics(&self) -> ComponentMetrics {
            ComponentMetrics::default()
        }
    }

    #[test]
    fn a_barrier_follows_everything_pushed_before_it_in_every_partition() {
        let (tx, rx) = sync_channel::<PartitionOutput>(1);
        let mut rt = PartitionedRuntime::start(
            RuntimeConfig {
                partitions: 3,
                batch_size: 64,
                queue_batches: 1,
            },
            |_| vec![Box::new(BarrierCounter::default()) as Box<dyn Operator>],
            tx,
        );
        let collector = std::thread::spawn(move || {
            // (records seen so far, per barrier token: partitions passed, counted records)
            let mut records = 0u64;
            let mut barriers: std::collections::BTreeMap<u64, (usize, u64, u64)> =
                Default::default();
            for out in rx {
                records += out.batch.len() as u64;
                if let Some(token) = out.barrier {
                    let b = barriers.entry(token).or_insert((0, 0, 0));
                    b.0 += 1;
                    b.1 += out.findings.iter().map(|f| f.count).sum::<u64>();
                    // records out at the moment the last partition passed the barrier
                    b.2 = records;
                }
            }
            barriers
        });
        for i in 0..250 {
            let api = ["a", "b", "c", "d", "e"][i % 5];
            rt.push(record(i, "h", &format!("/{api}/{i}")));
        }
        rt.barrier(1);
        for i in 250..400 {
            rt.push(record(i, "h", &format!("/x{}/{i}", i % 7)));
        }
        rt.barrier(2);
        rt.finish();
        let barriers = collector.join().unwrap();
        assert_eq!(barriers.len(), 2);
        let (passed, counted, out_before) = barriers[&1];
        assert_eq!(passed, 3, "barrier 1 passes every partition once");
        assert_eq!(
            counted, 250,
            "operators hand out their state at the barrier"
        );
        assert!(
            out_before >= 250,
            "all 250 records came out before barrier 1 completed"
        );
        let (passed, counted, out_before) = barriers[&2];
        assert_eq!((passed, counted, out_before), (3, 150, 400));
    }

    struct Flusher;
    impl Operator for Flusher {
        fn name(&self) -> &'static str {
            "flusher"
        }
        fn process(&mut self, _: &mut Batch, _: &mut OpContext) {}
        fn finish(&mut self, ctx: &mut OpContext) {
            ctx.findings.clear();
        }
        fn metrics(&self) -> ComponentMetrics {
            ComponentMetrics::default()
        }
    }

    #[test]
    #[should_panic(expected = "operator bug")]
    fn a_worker_panic_is_propagated_not_swallowed() {
        struct Boom;
        impl Operator for Boom {
            fn name(&self) -> &'static str {
                "boom"
            }
            fn process(&mut self, _: &mut Batch, _: &mut OpContext) {
                panic!("operator bug");
            }
            fn metrics(&self) -> ComponentMetrics {
                ComponentMetrics::default()
            }
        }
        let (tx, rx) = sync_channel::<PartitionOutput>(8);
        let mut rt = PartitionedRuntime::start(
            RuntimeConfig {
                partitions: 1,
                batch_size: 1,
                queue_batches: 1,
            },
            |_| vec![Box::new(Flusher) as Box<dyn Operator>, Box::new(Boom)],
            tx,
        );
        let drain = std::thread::spawn(move || rx.into_iter().count());
        rt.push(record(0, "h", "/x"));
        rt.finish();
        drain.join().unwrap();
    }
}
