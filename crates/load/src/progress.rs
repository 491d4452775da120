//! The progress line: once a second on stderr — elapsed time, journeys started and finished, orders
//! completed and cancelled, bills issued, requests per second over the last second, errors. On a terminal
//! the line is rewritten in place; in a log (CI) a line is printed every five seconds.

use crate::Counters;
use crate::stats::Stats;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::oneshot;

/// The running progress printer.
#[derive(Debug)]
pub struct Progress {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Progress {
    /// Stops printing (a terminal gets its final line ended).
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Starts printing.
pub fn start(stats: Arc<Stats>, counters: Arc<Counters>) -> Progress {
    let (stop, mut stopped) = oneshot::channel();
    let terminal = std::io::stderr().is_terminal();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut last_requests = 0;
        let mut seconds = 0u64;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = &mut stopped => break,
            }
            let (requests, errors) = stats.totals();
            let line = format!(
                "[{:>5.0}s] journeys {} started, {} finished | orders {} completed, {} cancelled | bills {} | {} req/s | {} requests, {} errors",
                stats.elapsed().as_secs_f64(),
                counters.started.load(Ordering::Relaxed),
                counters.finished.load(Ordering::Relaxed),
                counters.completed.load(Ordering::Relaxed),
                counters.cancelled.load(Ordering::Relaxed),
                counters.bills_issued.load(Ordering::Relaxed),
                requests - last_requests,
                requests,
                errors,
            );
            last_requests = requests;
            seconds += 1;
            let mut err = std::io::stderr().lock();
            if terminal {
                let _ = write!(err, "\r{line}\x1b[K");
            } else if seconds.is_multiple_of(5) {
                let _ = writeln!(err, "{line}");
            }
            let _ = err.flush();
        }
        if terminal {
            let _ = writeln!(std::io::stderr());
        }
    });
    Progress { stop, task }
}
