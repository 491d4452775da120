//! Process lifecycle: readiness state, background workers and the signal that starts a graceful stop.
//!
//! The sequence on SIGTERM or SIGINT (DESIGN.md §4), driven by [`crate::server::Application`]:
//! 1. readiness turns 503 at once ([`Lifecycle::begin_shutdown`]);
//! 2. the listener stays open for `SHUTDOWN_DRAIN_SECS` so endpoints are removed from load balancers, and
//!    every response in that time carries `Connection: close` (`server::close_connections_when_draining`), so
//!    clients holding keep-alive connections to this instance move to new ones — which the balancer sends to
//!    a ready replica — instead of sending requests here until the moment it stops (`make chaos` saw those
//!    requests fail in a rolling restart before this);
//! 3. the server stops accepting and waits for in-flight requests;
//! 4. background workers are told to stop, finish their batch and are awaited;
//! 5. telemetry is flushed and the process exits 0 — all within `SHUTDOWN_TIMEOUT_SECS`.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Shared state of one running service instance.
#[derive(Debug)]
pub struct Lifecycle {
    started: Instant,
    shutting_down: AtomicBool,
    migrated: AtomicBool,
    migrated_signal: tokio::sync::watch::Sender<bool>,
    stop: CancellationToken,
    workers: TaskTracker,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self::new()
    }
}

impl Lifecycle {
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            shutting_down: AtomicBool::new(false),
            migrated: AtomicBool::new(false),
            migrated_signal: tokio::sync::watch::channel(false).0,
            stop: CancellationToken::new(),
            workers: TaskTracker::new(),
        }
    }

    pub fn uptime(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Readiness turns 503 from now on.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    pub fn migrations_done(&self) -> bool {
        self.migrated.load(Ordering::SeqCst)
    }

    pub fn mark_migrated(&self) {
        self.migrated.store(true, Ordering::SeqCst);
        self.migrated_signal.send_replace(true);
    }

    /// Resolves once migrations are applied (at once if they are); workers that need tables await it.
    pub async fn migrated(&self) {
        let mut signal = self.migrated_signal.subscribe();
        let _ = signal.wait_for(|done| *done).await;
    }

    /// The token background workers watch; cancelled at step 4 of the shutdown.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Starts a background worker that is awaited at shutdown. It must return soon after the stop token fires.
    pub fn spawn_worker<F>(&self, name: &'static str, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        tracing::debug!(worker = name, "background worker started");
        self.workers.spawn(work);
    }

    /// The body of a polling worker: waits for the migrations, then runs `round` every `period` until the stop
    /// token fires. A round in progress is abandoned at once when it does (its transaction rolls back and the
    /// next start does the work again), so a stalled database never holds up a shutdown; a round that must
    /// finish what it started keeps that part outside `round`.
    pub async fn every<F, Fut>(&self, worker: &'static str, period: std::time::Duration, mut round: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = ()>,
    {
        let stop = self.stop_token();
        tokio::select! {
            _ = self.migrated() => {}
            _ = stop.cancelled() => return,
        }
        let mut tick = tokio::time::interval(period);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.cancelled() => break,
            }
            tokio::select! {
                _ = round() => {}
                _ = stop.cancelled() => break,
            }
        }
        tracing::info!(worker, "background worker stopped");
    }

    /// Cancels the workers and waits for them, at most `limit`. Returns whether all finished in time.
    pub async fn stop_workers(&self, limit: std::time::Duration) -> bool {
        self.stop.cancel();
        self.workers.close();
        tokio::time::timeout(limit, self.workers.wait()).await.is_ok()
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM; only Ctrl-C will stop the service");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = term.recv() => tracing::info!(signal = "SIGTERM", "shutdown requested"),
            _ = tokio::signal::ctrl_c() => tracing::info!(signal = "SIGINT", "shutdown requested"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
