//! `bss-load`: the load generator of bss-oss-rust.
//!
//! It drives the four services the way their clients do — over HTTP, with a bearer token — through a
//! realistic journey ([`scenario`]): browse the catalog, register a customer and a billing account, order,
//! follow the order until it is final (cancelling some), and have it billed by bill runs, at a set rate or
//! as fast as `concurrency` journeys in flight allow, for a set time or number of journeys. Every request is
//! measured ([`stats`]); a progress line is printed every second ([`progress`]). At the end the run
//! **settles** (waits for the orders, runs a final bill run one cycle ahead) and **verifies** the business
//! invariants through the APIs ([`invariants`]). The report ([`report`]) has throughput, latency percentiles
//! and errors per operation, and the violations — none, or the run failed.
//!
//! Bill runs: accounts whose order is final are billed in batches (`POST billRun`) for the period that
//! starts one month after the run's first day, so the month being billed is always a full one whatever the
//! billing service's own scheduler does; the final run bills the period after that for every account.

pub mod client;
pub mod invariants;
pub mod progress;
pub mod report;
pub mod scenario;
pub mod stats;

use crate::client::{Api, BILL_API, Policy, Targets};
use crate::scenario::{Journey, JourneyRules, OrderOutcome};
use crate::stats::Stats;
use chrono::{Datelike, Months, NaiveDate, Utc};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, mpsc};

/// Set by [`request_stop`]: no new journey starts; the run settles and verifies as if its time were up.
static STOP: AtomicBool = AtomicBool::new(false);

/// Ends the load phase early (the binary calls it on SIGINT or SIGTERM: the chaos runs stop the load once
/// their faults are over, and still get the verification).
pub fn request_stop() {
    STOP.store(true, Ordering::Relaxed);
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub targets: Targets,
    pub token: String,
    /// Journeys in flight at once.
    pub concurrency: usize,
    /// Journeys started per second (None: as fast as `concurrency` allows).
    pub rate: Option<f64>,
    /// Stop starting journeys after this long…
    pub duration: Option<Duration>,
    /// …or after this many (whichever comes first; at least one of the two is set).
    pub journeys: Option<u64>,
    /// Every n-th journey cancels its order (0: none).
    pub cancel_every: u64,
    /// Accounts per `billRun` during the run.
    pub bill_batch: usize,
    /// How long a journey waits for its order to become final.
    pub order_timeout: Duration,
    /// How long settling waits for billing to learn of completed orders it had not applied at the final run.
    pub settle_timeout: Duration,
    /// Print the progress line.
    pub progress: bool,
}

/// Counters the progress line shows.
#[derive(Debug, Default)]
pub struct Counters {
    pub started: AtomicU64,
    pub finished: AtomicU64,
    pub completed: AtomicU64,
    pub cancelled: AtomicU64,
    pub bills_issued: AtomicU64,
}

/// What the `billRun`s of a run reported, summed.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BillRunTotals {
    pub requests: u64,
    pub accounts: u64,
    pub bills_issued: u64,
    pub nothing_to_bill: u64,
    pub already_run: u64,
    pub failed: u64,
}

impl BillRunTotals {
    fn add(&mut self, summary: &Value) {
        let field = |name: &str| summary[name].as_u64().unwrap_or(0);
        self.requests += 1;
        self.accounts += field("accounts");
        self.bills_issued += field("billsIssued");
        self.nothing_to_bill += field("nothingToBill");
        self.already_run += field("alreadyRun");
        self.failed += field("failed");
    }
}

/// Everything a run produced.
#[derive(Debug)]
pub struct Outcome {
    pub elapsed_load: Duration,
    pub elapsed_total: Duration,
    pub stats: Arc<Stats>,
    pub journeys: Vec<Journey>,
    pub bill_runs: BillRunTotals,
    pub final_bill_runs: BillRunTotals,
    /// The repeat of every account's last bill run (must issue nothing).
    pub repeated_bill_runs: BillRunTotals,
    /// Accounts of completed orders that had nothing billed at the final run and were billed one cycle later.
    pub billed_late: u64,
    /// The date each account was last billed for (what [`invariants::verify`] checks the charges against).
    pub last_bill_dates: BTreeMap<String, NaiveDate>,
    pub verification: invariants::Verification,
}

impl Outcome {
    /// Whether the run proved what it should: no violation, and repeating the bill runs issued nothing.
    pub fn passed(&self) -> bool {
        self.verification.violations.is_empty()
            && self.repeated_bill_runs.bills_issued == 0
            && self.repeated_bill_runs.failed == 0
    }
}

/// The bill runs of a run, and the date each account was last billed for.
#[derive(Debug, Default)]
struct Billing {
    totals: BillRunTotals,
    last_dates: BTreeMap<String, NaiveDate>,
}

/// `POST billRun` for `accounts` as of `date`, recording the summary (errors are counted by the stats; the
/// final verification then shows what was not billed).
async fn bill_run(api: &Api, operation: &'static str, date: NaiveDate, accounts: &[String], billing: &Mutex<Billing>) {
    let body = json!({"billDate": date.to_string(), "billingAccount": accounts.iter().map(|id| json!({"id": id})).collect::<Vec<_>>()});
    let url = format!("{}{BILL_API}/billRun", api.targets.billing);
    if let Ok(answer) = api.post(operation, url, &body, Policy::RETRY).await {
        let mut billing = billing.lock().await;
        billing.totals.add(&answer.body);
        for account in accounts {
            billing.last_dates.insert(account.clone(), date);
        }
    }
}

/// Runs the scenario, settles and verifies.
pub async fn run(options: Options) -> anyhow::Result<Outcome> {
    let stats = Arc::new(Stats::default());
    let api = Api::new(options.targets.clone(), options.token.clone(), stats.clone())?;
    let first_day = Utc::now().date_naive();
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let catalogue = scenario::setup(&api, &run_id).await?;
    let rules = JourneyRules {
        cancel_every: options.cancel_every,
        order_timeout: options.order_timeout,
        bill_cycle_day: first_day.day(),
    };
    let counters = Arc::new(Counters::default());
    let progress = options.progress.then(|| progress::start(stats.clone(), counters.clone()));

    // Final orders go to the bill-run task, which bills them in batches for the period one cycle ahead.
    let (final_tx, mut final_rx) = mpsc::unbounded_channel::<String>();
    let billing = Arc::new(Mutex::new(Billing::default()));
    let in_run_date = first_day + Months::new(1);
    let bill_task = {
        let (api, billing, counters, batch_size) = (api.clone(), billing.clone(), counters.clone(), options.bill_batch);
        tokio::spawn(async move {
            // A batch is billed when it is full, or two seconds after its first account arrived.
            const BATCH_WAIT: Duration = Duration::from_secs(2);
            let mut batch = Vec::new();
            let mut batch_due = Instant::now() + BATCH_WAIT;
            loop {
                let next = tokio::time::timeout_at(batch_due.into(), final_rx.recv()).await;
                let (closed, due) = (matches!(next, Ok(None)), next.is_err());
                if let Ok(Some(account)) = next {
                    if batch.is_empty() {
                        batch_due = Instant::now() + BATCH_WAIT;
                    }
                    batch.push(account);
                } else if due {
                    batch_due = Instant::now() + BATCH_WAIT;
                }
                if !batch.is_empty() && (batch.len() >= batch_size || due || closed) {
                    let before = billing.lock().await.totals.bills_issued;
                    bill_run(&api, "billing.billRun", in_run_date, &batch, &billing).await;
                    let after = billing.lock().await.totals.bills_issued;
                    counters.bills_issued.fetch_add(after - before, Ordering::Relaxed);
                    batch.clear();
                }
                if closed {
                    return;
                }
            }
        })
    };

    // The workers: each takes the next journey number until the time or the count is up.
    let started = Instant::now();
    let deadline = options.duration.map(|d| started + d);
    let next_index = Arc::new(AtomicU64::new(0));
    let pacer = options.rate.filter(|r| *r > 0.0).map(|rate| {
        let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Arc::new(Mutex::new(interval))
    });
    let journeys = Arc::new(Mutex::new(Vec::new()));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..options.concurrency.max(1) {
        let (api, catalogue, counters, journeys, next_index, pacer, final_tx) = (
            api.clone(),
            catalogue.clone(),
            counters.clone(),
            journeys.clone(),
            next_index.clone(),
            pacer.clone(),
            final_tx.clone(),
        );
        let limit = options.journeys;
        workers.spawn(async move {
            loop {
                if let Some(pacer) = &pacer {
                    pacer.lock().await.tick().await;
                }
                if STOP.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d) {
                    return;
                }
                let index = next_index.fetch_add(1, Ordering::Relaxed);
                if limit.is_some_and(|n| index >= n) {
                    return;
                }
                counters.started.fetch_add(1, Ordering::Relaxed);
                let journey = scenario::journey(&api, &catalogue, rules, index).await;
                match journey.outcome {
                    OrderOutcome::Completed { .. } => counters.completed.fetch_add(1, Ordering::Relaxed),
                    OrderOutcome::Cancelled => counters.cancelled.fetch_add(1, Ordering::Relaxed),
                    _ => 0,
                };
                counters.finished.fetch_add(1, Ordering::Relaxed);
                if let Some(account) = &journey.account_id
                    && !matches!(journey.outcome, OrderOutcome::Stuck(_) | OrderOutcome::Unknown)
                {
                    let _ = final_tx.send(account.clone());
                }
                journeys.lock().await.push(journey);
            }
        });
    }
    drop(final_tx);
    while workers.join_next().await.is_some() {}
    let elapsed_load = started.elapsed();
    let _ = bill_task.await;
    if let Some(progress) = progress {
        progress.stop().await;
    }
    let mut journeys = std::mem::take(&mut *journeys.lock().await);
    journeys.sort_by_key(|j| j.index);

    // Settle: bill every account for the cycle after the in-run one, then once more a cycle later for the
    // completed orders that had nothing billed yet (billing may learn of an order after a bill run asked).
    let in_run_totals = std::mem::take(&mut billing.lock().await.totals);
    let final_date = first_day + Months::new(2);
    let accounts: Vec<String> = journeys.iter().filter_map(|j| j.account_id.clone()).collect();
    for chunk in accounts.chunks(100) {
        bill_run(&api, "billing.billRun.final", final_date, chunk, &billing).await;
    }
    let billed_late = bill_late_accounts(&api, &journeys, final_date, options.settle_timeout, &billing).await;
    let (final_totals, last_dates) = {
        let mut billing = billing.lock().await;
        (std::mem::take(&mut billing.totals), billing.last_dates.clone())
    };

    // Exactly once: every account's last bill run, repeated, must bill nothing.
    let mut by_date: BTreeMap<NaiveDate, Vec<String>> = BTreeMap::new();
    for (account, date) in &last_dates {
        by_date.entry(*date).or_default().push(account.clone());
    }
    for (date, accounts) in &by_date {
        for chunk in accounts.chunks(100) {
            bill_run(&api, "billing.billRun.repeat", *date, chunk, &billing).await;
        }
    }
    let repeated_totals = std::mem::take(&mut billing.lock().await.totals);

    let verification = invariants::verify(&api, &journeys, &last_dates).await;
    Ok(Outcome {
        elapsed_load,
        elapsed_total: started.elapsed(),
        stats,
        journeys,
        bill_runs: in_run_totals,
        final_bill_runs: final_totals,
        repeated_bill_runs: repeated_totals,
        billed_late,
        last_bill_dates: last_dates,
        verification,
    })
}

/// Completed orders whose account has no charge after the final run: billing had not applied the order yet
/// (its consumer was behind, or re-reads an entry it could not acknowledge only after `BILLING_CLAIM_IDLE_MS`).
/// They are billed one cycle later, after 2 s, then 4 s, 8 s… until `timeout`. Returns how many were billed
/// that way.
async fn bill_late_accounts(
    api: &Api,
    journeys: &[Journey],
    final_date: NaiveDate,
    timeout: Duration,
    billing: &Mutex<Billing>,
) -> u64 {
    let mut waiting: Vec<String> = Vec::new();
    for journey in journeys {
        if let (OrderOutcome::Completed { .. }, Some(account)) = (&journey.outcome, &journey.account_id)
            && !has_charges(api, account).await
        {
            waiting.push(account.clone());
        }
    }
    let mut late = 0;
    let mut date = final_date;
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_secs(2);
    while !waiting.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
        pause *= 2;
        date = date + Months::new(1);
        bill_run(api, "billing.billRun.late", date, &waiting, billing).await;
        let mut still = Vec::new();
        for account in waiting {
            if has_charges(api, &account).await {
                late += 1;
            } else {
                still.push(account);
            }
        }
        waiting = still;
    }
    late
}

async fn has_charges(api: &Api, account: &str) -> bool {
    let url =
        format!("{}{BILL_API}/appliedCustomerBillingRate?billingAccount.id={account}&limit=1", api.targets.billing);
    matches!(api.get("verify.rates", url).await, Ok(answer) if answer.body.as_array().is_some_and(|a| !a.is_empty()))
}
