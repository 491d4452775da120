//! Per-operation measurements: every request's latency and outcome, kept exactly (a run of a few hundred
//! thousand requests fits in memory), so the percentiles reported are the real ones and not a histogram's
//! bucket bounds.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx, or a status the scenario expects (a cancellation refused with 409 because the order completed).
    Ok,
    /// Any other status.
    Status(u16),
    /// No HTTP answer: connection refused or reset, timeout.
    Transport(String),
}

#[derive(Debug, Default)]
struct OperationSamples {
    latencies_us: Vec<u64>,
    errors: BTreeMap<String, u64>,
}

/// Everything recorded so far, per operation name.
#[derive(Debug)]
pub struct Stats {
    started: Instant,
    operations: Mutex<BTreeMap<&'static str, OperationSamples>>,
}

/// The summary of one operation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OperationSummary {
    pub operation: String,
    pub requests: u64,
    pub errors: u64,
    /// Error counts by kind (`status 503`, `transport: connection refused`).
    pub error_kinds: BTreeMap<String, u64>,
    /// Requests per second over the whole run.
    pub per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Default for Stats {
    fn default() -> Self {
        Self { started: Instant::now(), operations: Mutex::new(BTreeMap::new()) }
    }
}

impl Stats {
    /// Records one request of `operation` that took `latency`.
    pub fn record(&self, operation: &'static str, latency: Duration, outcome: &Outcome) {
        let mut operations = self.operations.lock().expect("stats lock");
        let samples = operations.entry(operation).or_default();
        samples.latencies_us.push(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
        let kind = match outcome {
            Outcome::Ok => return,
            Outcome::Status(status) => format!("status {status}"),
            Outcome::Transport(reason) => format!("transport: {reason}"),
        };
        *samples.errors.entry(kind).or_default() += 1;
    }

    /// `(requests, errors)` over every operation so far (for the progress line).
    pub fn totals(&self) -> (u64, u64) {
        let operations = self.operations.lock().expect("stats lock");
        operations.values().fold((0, 0), |(requests, errors), s| {
            (requests + s.latencies_us.len() as u64, errors + s.errors.values().sum::<u64>())
        })
    }

    /// Time since the run started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Every operation's summary over `elapsed`, by name.
    pub fn summaries(&self, elapsed: Duration) -> Vec<OperationSummary> {
        let operations = self.operations.lock().expect("stats lock");
        let seconds = elapsed.as_secs_f64().max(1e-9);
        operations
            .iter()
            .map(|(name, samples)| {
                let mut sorted = samples.latencies_us.clone();
                sorted.sort_unstable();
                let requests = sorted.len() as u64;
                OperationSummary {
                    operation: (*name).to_owned(),
                    requests,
                    errors: samples.errors.values().sum(),
                    error_kinds: samples.errors.clone(),
                    per_second: requests as f64 / seconds,
                    p50_ms: percentile_ms(&sorted, 50.0),
                    p90_ms: percentile_ms(&sorted, 90.0),
                    p99_ms: percentile_ms(&sorted, 99.0),
                    max_ms: sorted.last().map_or(0.0, |us| *us as f64 / 1_000.0),
                }
            })
            .collect()
    }
}

/// The nearest-rank percentile `p` of `sorted` (microseconds), in milliseconds; 0 when there is no sample.
pub fn percentile_ms(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<u64> = (1..=100).map(|ms| ms * 1_000).collect();
        assert_eq!(percentile_ms(&sorted, 50.0), 50.0);
        assert_eq!(percentile_ms(&sorted, 99.0), 99.0);
        assert_eq!(percentile_ms(&sorted, 100.0), 100.0);
        assert_eq!(percentile_ms(&[7_000], 1.0), 7.0);
        assert_eq!(percentile_ms(&[], 50.0), 0.0);
    }

    #[test]
    fn errors_are_counted_by_kind_and_every_request_has_a_latency() {
        let stats = Stats::default();
        stats.record("op", Duration::from_millis(2), &Outcome::Ok);
        stats.record("op", Duration::from_millis(4), &Outcome::Status(503));
        stats.record("op", Duration::from_millis(6), &Outcome::Status(503));
        stats.record("op", Duration::from_millis(8), &Outcome::Transport("connection refused".into()));
        assert_eq!(stats.totals(), (4, 3));
        let summary = &stats.summaries(Duration::from_secs(2))[0];
        assert_eq!((summary.requests, summary.errors, summary.per_second), (4, 3, 2.0));
        assert_eq!(summary.error_kinds["status 503"], 2);
        assert_eq!(summary.error_kinds["transport: connection refused"], 1);
        assert_eq!((summary.p50_ms, summary.max_ms), (4.0, 8.0));
    }
}
