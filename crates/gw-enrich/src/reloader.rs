//! A background thread that keeps an [`IntelHandle`] current: it polls the list files for
//! changes, downloads lists that have a `url` when they are due, and reloads at once when
//! asked ([`ReloaderHandle::trigger`], what the binary's SIGHUP handler calls).
//!
//! Failures never stop it and never replace a good set with a bad one: a failed download keeps
//! the previous file, a failed reload keeps the previous set; both are logged (`tracing`, at
//! `warn`) and kept in [`ReloaderStatus::last_error`].

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::download::download_list;
use crate::reload::{IntelHandle, ReloadOutcome};

/// How long one download may take.
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60);

enum Command {
    Trigger,
    Stop,
}

/// What the reloader has done so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReloaderStatus {
    /// Completed wake-ups (poll interval elapsed or triggered).
    pub cycles: u64,
    /// Times a new set was swapped in.
    pub reloads: u64,
    /// Lists downloaded and installed.
    pub downloads: u64,
    /// Failed downloads and reloads.
    pub failures: u64,
    /// The most recent failure, with its reason.
    pub last_error: Option<String>,
}

/// Controls a thread started by [`spawn_reloader`]. Dropping it stops the thread.
#[derive(Debug)]
pub struct ReloaderHandle {
    commands: mpsc::Sender<Command>,
    status: Arc<Mutex<ReloaderStatus>>,
    thread: Option<JoinHandle<()>>,
}

impl ReloaderHandle {
    /// Asks for a reload of every list now (without waiting for a file change); returns at
    /// once. Cheap and safe to call from a signal-handling thread.
    pub fn trigger(&self) {
        // A stopped thread has nothing to reload; ignoring the send error is correct.
        let _ = self.commands.send(Command::Trigger);
    }

    /// A copy of the current status.
    pub fn status(&self) -> ReloaderStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Stops the thread and waits for it (an ongoing download finishes first).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.commands.send(Command::Stop);
        if let Some(t) = self.thread.take() {
            // A panic in the reloader thread has already been reported by the panic hook.
            let _ = t.join();
        }
    }
}

impl Drop for ReloaderHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts the reloader thread for `handle`: every `interval` it reloads the lists whose file
/// changed ([`IntelHandle::reload_if_changed`], one `stat` per list), and it downloads each
/// list with a `url` once its `refresh_interval_secs` has passed since the file was last
/// written (at once when that is already the case). [`ReloaderHandle::trigger`] forces a full
/// reload. Fails only if the thread cannot be spawned.
pub fn spawn_reloader(
    handle: Arc<IntelHandle>,
    interval: Duration,
) -> std::io::Result<ReloaderHandle> {
    let (tx, rx) = mpsc::channel();
    let status = Arc::new(Mutex::new(ReloaderStatus::default()));
    let shared = Arc::clone(&status);
    let thread = std::thread::Builder::new()
        .name("gw-intel-reloader".into())
        .spawn(move || run(&handle, interval, &rx, &shared))?;
    Ok(ReloaderHandle {
        commands: tx,
        status,
        thread: Some(thread),
    })
}

/// When each downloadable list is next due (`None`: the list has no `url`).
fn first_due(handle: &IntelHandle, now: Instant) -> Vec<Option<Instant>> {
    handle
        .configs()
        .iter()
        .map(|c| {
            c.url.as_ref()?;
            let age = std::fs::metadata(&c.path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok());
            let wait = age.map_or(Duration::ZERO, |age| {
                c.effective_refresh_interval().saturating_sub(age)
            });
            Some(now + wait)
        })
        .collect()
}

fn run(
    handle: &IntelHandle,
    interval: Duration,
    commands: &mpsc::Receiver<Command>,
    status: &Mutex<ReloaderStatus>,
) {
    let mut due = first_due(handle, Instant::now());
    loop {
        let now = Instant::now();
        let next_download = due.iter().flatten().min().copied();
        let wait =
            next_download.map_or(interval, |t| interval.min(t.saturating_duration_since(now)));
        let forced = match commands.recv_timeout(wait) {
            Ok(Command::Trigger) => true,
            Err(RecvTimeoutError::Timeout) => false,
            Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut update = ReloaderStatus::default();
        let now = Instant::now();
        for (config, due) in handle.configs().iter().zip(due.iter_mut()) {
            let Some(at) = *due else { continue };
            if at > now {
                continue;
            }
            *due = Some(now + config.effective_refresh_interval());
            match download_list(config, DOWNLOAD_TIMEOUT) {
                Ok(report) => {
                    tracing::info!(
                        list = %config.name,
                        prefixes = report.prefixes,
                        bytes = report.bytes,
                        "intel list downloaded"
                    );
                    update.downloads += 1;
                }
                Err(e) => {
                    tracing::warn!(list = %config.name, "{e}");
                    update.failures += 1;
                    update.last_error = Some(e.to_string());
                }
            }
        }
        let result = if forced {
            handle.reload().map(|_| true)
        } else {
            handle
                .reload_if_changed()
                .map(|o| matches!(o, ReloadOutcome::Reloaded(_)))
        };
        match result {
            Ok(true) => {
                tracing::info!(lists = handle.configs().len(), "intel lists reloaded");
                update.reloads += 1;
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!("intel reload failed, keeping the previous set: {e}");
                update.failures += 1;
                update.last_error = Some(e.to_string());
            }
        }
        let mut s = status.lock().unwrap_or_else(|p| p.into_inner());
        s.cycles += 1;
        s.reloads += update.reloads;
        s.downloads += update.downloads;
        s.failures += update.failures;
        if update.last_error.is_some() {
            s.last_error = update.last_error;
        }
    }
}
