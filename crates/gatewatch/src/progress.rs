//! Progress reporting: a bar on a terminal, plain periodic log lines otherwise.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Seconds between plain log lines when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    bar: Option<ProgressBar>,
    name: String,
    started: Instant,
    last_log: Instant,
    bytes: Arc<AtomicU64>,
    quiet: bool,
}

impl Progress {
    /// Progress over one input of `size` bytes (unknown for stdin and pipes).
    pub fn new(name: &str, size: Option<u64>, bytes: Arc<AtomicU64>, quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = match size {
                Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            };
            let template = if size.is_some() {
                "{prefix} [{bar:30}] {bytes}/{total_bytes} {msg} ETA {eta}"
            } else {
                "{prefix} {spinner} {bytes} {msg}"
            };
            bar.set_style(
                ProgressStyle::with_template(template)
                    .expect("static template")
                    .progress_chars("=> "),
            );
            bar.set_prefix(name.to_string());
            bar
        });
        let now = Instant::now();
        Progress {
            bar,
            name: name.to_string(),
            started: now,
            last_log: now,
            bytes,
            quiet,
        }
    }

    /// Called every few thousand records with the running count.
    pub fn tick(&mut self, records: u64) {
        let rate = records as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        if let Some(bar) = &self.bar {
            bar.set_position(self.bytes.load(Ordering::Relaxed));
            bar.set_message(format!("{records} records, {rate:.0} records/s"));
        } else if !self.quiet && self.last_log.elapsed() >= LOG_EVERY {
            self.last_log = Instant::now();
            eprintln!(
                "gatewatch: {}: {records} records, {} bytes read, {rate:.0} records/s",
                self.name,
                self.bytes.load(Ordering::Relaxed)
            );
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
