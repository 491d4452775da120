//! Bill runs: rate an account, attach its unbilled applied rates to a bill, compute tax and totals, and issue
//! the bill — all in ONE transaction (docs/adr/0016).
//!
//! A run is either a **cycle** run for the account's billing period that starts on a bill date (scheduled, or
//! asked for with `POST billRun`) or an **on-demand** run (TMF678 `customerBillOnDemand`, as of today). Each run
//! of an account holds a transaction-scoped advisory lock on the account, so two runs of one account take
//! turns; what makes a second run harmless is the database, not the lock:
//! - `bill_run_cycle_key` (UNIQUE per account and period among completed cycle runs): a cycle run repeated —
//!   by a replay, another replica, an operator — inserts nothing and reports `AlreadyRun`;
//! - `applied_rate_charge_key_key`: rating again writes no charge twice;
//! - a rate is attached with `UPDATE … WHERE bill_id IS NULL`, so it is on one bill only;
//! - `customer_bill_run_key`: one bill per run; the bill number comes from `bill_number_counter` inside the
//!   issuing transaction (unique, monotonic, gap-free: a rolled-back issue returns its number).
//!
//! Tax is computed per rate once on the bill (`charging::tax_for_rate`) and allocated to the lines so they sum
//! exactly; the tax-excluded total is the sum of the lines, the tax-included total that plus the tax. A bill
//! whose total is negative (only credits) is a `credit` bill with nothing due. The bill is inserted `new` and
//! issued (`validated`, with its number) before commit; its CreateEvent and StateChangeEvent are written to the
//! outbox in the same transaction.

use crate::accounts::{self, AccountTerms};
use crate::bills;
use crate::calendar::BillingPeriod;
use crate::charging::{self, ChargeError};
use crate::rating::{self, RatingError};
use actix_web::{HttpResponse, web};
use bss_common::metrics::{BILL_RUNS_TOTAL, BILLED_AMOUNT_MINOR_TOTAL, BILLS_ISSUED_TOTAL};
use bss_common::{ApiError, ServiceContext};
use bss_tmf::events::{self, NewEvent};
use chrono::{NaiveDate, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use std::sync::Arc;
use uuid::Uuid;

/// What kind of run, and what it bills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// The period starting on a bill date; charges rated through that date (billed in advance).
    Cycle,
    /// Everything due as of a date (today), on request.
    OnDemand,
}

impl RunKind {
    fn as_str(self) -> &'static str {
        match self {
            RunKind::Cycle => "cycle",
            RunKind::OnDemand => "onDemand",
        }
    }

    fn run_type(self) -> &'static str {
        match self {
            RunKind::Cycle => "onCycle",
            RunKind::OnDemand => "offCycle",
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// A bill was issued.
    Issued { run_id: Uuid, bill_id: Uuid, bill_no: i64 },
    /// The run completed; the account had nothing unbilled.
    NothingToBill { run_id: Uuid },
    /// A cycle run for this account and period had completed before: nothing was done.
    AlreadyRun,
}

impl RunOutcome {
    fn label(&self) -> &'static str {
        match self {
            RunOutcome::Issued { .. } => "issued",
            RunOutcome::NothingToBill { .. } => "nothing_to_bill",
            RunOutcome::AlreadyRun => "already_run",
        }
    }
}

/// Why a run could not bill. `reason()` is what a client or an operator is shown.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("No billing account with id '{0}'.")]
    UnknownAccount(String),
    #[error("Billing account '{id}' is {state}; only active accounts are billed.")]
    NotBillable { id: String, state: String },
    #[error("Billing account '{id}' cannot be billed: {reason}")]
    BadAccount { id: String, reason: String },
    #[error("{0}")]
    Rating(RatingError),
    #[error("the bill amounts do not fit: {0}")]
    Amounts(ChargeError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<RatingError> for RunError {
    fn from(error: RatingError) -> Self {
        match error {
            RatingError::Database(e) => RunError::Database(e),
            other => RunError::Rating(other),
        }
    }
}

impl RunError {
    /// Whether the run was refused for what was asked (`rejected`) rather than failed while billing
    /// (`terminatedWithError`).
    pub fn is_rejection(&self) -> bool {
        matches!(self, RunError::UnknownAccount(_) | RunError::NotBillable { .. })
    }

    /// Failures of the infrastructure: worth trying again unchanged.
    pub fn is_transient(&self) -> bool {
        matches!(self, RunError::Database(_))
    }

    /// The reason shown to clients: never internals of a database failure.
    pub fn reason(&self) -> String {
        match self {
            RunError::Database(_) => "The bill run failed on a database error; it will be tried again.".to_owned(),
            other => other.to_string(),
        }
    }
}

/// A billing account as a run needs it.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub state: String,
    pub terms: AccountTerms,
}

/// Reads and parses the account (`None` when there is none).
pub async fn load_account(conn: &mut PgConnection, id: &str) -> Result<Option<Account>, RunError> {
    let doc: Option<Value> =
        sqlx::query_scalar("SELECT doc FROM tmf_resource WHERE kind = 'billingAccount' AND id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(doc) = doc else { return Ok(None) };
    let terms = accounts::terms(&doc)
        .map_err(|e| RunError::BadAccount { id: id.to_owned(), reason: e.message().to_owned() })?;
    Ok(Some(Account {
        id: id.to_owned(),
        name: doc["name"].as_str().unwrap_or_default().to_owned(),
        state: doc["state"].as_str().unwrap_or("active").to_owned(),
        terms,
    }))
}

/// The period a run bills and the date it rates through: a cycle run the period containing `date` (rated
/// through its first day, its bill date); an on-demand run the period containing `date`, rated through `date`.
pub fn run_dates(account: &Account, kind: RunKind, date: NaiveDate) -> Result<(BillingPeriod, NaiveDate), RunError> {
    let period = account
        .terms
        .bill_cycle_day
        .period_containing(date)
        .map_err(|e| RunError::BadAccount { id: account.id.clone(), reason: e.to_string() })?;
    let as_of = match kind {
        RunKind::Cycle => period.start(),
        RunKind::OnDemand => date,
    };
    Ok((period, as_of))
}

/// Runs one account inside the caller's transaction. The caller commits (or rolls back on error).
pub async fn run_in(
    conn: &mut PgConnection,
    account: &Account,
    kind: RunKind,
    date: NaiveDate,
) -> Result<RunOutcome, RunError> {
    if account.state != "active" {
        return Err(RunError::NotBillable { id: account.id.clone(), state: account.state.clone() });
    }
    let (period, as_of) = run_dates(account, kind, date)?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('billing-account:' || $1, 0))")
        .bind(&account.id)
        .execute(&mut *conn)
        .await?;
    let run_id: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO bill_run (id, billing_account_id, kind, period_start, period_end, as_of_date, state)
         VALUES ($1, $2, $3, $4, $5, $6, 'done')
         ON CONFLICT (billing_account_id, period_start) WHERE kind = 'cycle' AND state = 'done' DO NOTHING
         RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(&account.id)
    .bind(kind.as_str())
    .bind(period.start())
    .bind(period.end())
    .bind(as_of)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(run_id) = run_id else { return Ok(RunOutcome::AlreadyRun) };

    let terms = &account.terms;
    rating::rate_account(conn, &account.id, terms.bill_cycle_day, terms.currency, as_of).await?;
    let unbilled: Vec<(Uuid, i64, String)> = sqlx::query_as(
        "SELECT id, amount_minor, currency::text FROM applied_rate
         WHERE billing_account_id = $1 AND bill_id IS NULL AND chargeable_on <= $2
         ORDER BY chargeable_on, charge_key
         FOR UPDATE",
    )
    .bind(&account.id)
    .bind(as_of)
    .fetch_all(&mut *conn)
    .await?;
    if unbilled.is_empty() {
        sqlx::query("UPDATE bill_run SET reason = 'nothing to bill' WHERE id = $1")
            .bind(run_id)
            .execute(&mut *conn)
            .await?;
        return Ok(RunOutcome::NothingToBill { run_id });
    }
    if let Some((_, _, other)) = unbilled.iter().find(|(_, _, currency)| currency != terms.currency.code()) {
        return Err(RunError::BadAccount {
            id: account.id.clone(),
            reason: format!("an unbilled charge is in {other}, the account bills in {}", terms.currency.code()),
        });
    }

    // One tax rate per account today; the bill keeps a tax row per rate all the same.
    let amounts: Vec<i64> = unbilled.iter().map(|(_, amount, _)| *amount).collect();
    let tax = charging::tax_for_rate(terms.tax_rate, &amounts).map_err(RunError::Amounts)?;
    let tax_excluded = tax.taxable;
    let tax_included = tax_excluded.checked_add(tax.tax).ok_or(RunError::Amounts(ChargeError::Overflow))?;
    let amount_due = tax_included.max(0);
    let category = if tax_included < 0 { "credit" } else { "normal" };
    let bill_date = match kind {
        RunKind::Cycle => period.start(),
        RunKind::OnDemand => date,
    };
    let due_date = bill_date
        .checked_add_days(chrono::Days::new(u64::from(terms.payment_terms_days)))
        .ok_or(RunError::Amounts(ChargeError::Overflow))?;
    let now = Utc::now();
    let bill_id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO customer_bill (id, bill_run_id, billing_account_id, customer_id, account_name, time_zone,
             run_type, category, state, currency, period_start, period_end, bill_date, payment_due_date,
             tax_excluded_minor, tax_minor, tax_included_minor, amount_due_minor, paid_minor, remaining_minor,
             last_update)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'new', $9, $10, $11, $12, $13, $14, $15, $16, $17, 0, $17, $18)",
    )
    .bind(bill_id)
    .bind(run_id)
    .bind(&account.id)
    .bind(&terms.customer_id)
    .bind(&account.name)
    .bind(terms.time_zone.name())
    .bind(kind.run_type())
    .bind(category)
    .bind(terms.currency.code())
    .bind(period.start())
    .bind(period.end())
    .bind(bill_date)
    .bind(due_date)
    .bind(tax_excluded)
    .bind(tax.tax)
    .bind(tax_included)
    .bind(amount_due)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let ids: Vec<Uuid> = unbilled.iter().map(|(id, _, _)| *id).collect();
    let attached = sqlx::query(
        "UPDATE applied_rate r SET bill_id = $1, tax_rate_basis_points = $2, tax_minor = t.tax
         FROM unnest($3::uuid[], $4::bigint[]) AS t(id, tax)
         WHERE r.id = t.id AND r.bill_id IS NULL",
    )
    .bind(bill_id)
    .bind(terms.tax_rate.basis_points() as i32)
    .bind(&ids)
    .bind(&tax.line_taxes)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if attached != ids.len() as u64 {
        // Locked FOR UPDATE above, so this cannot happen; if it did, the totals would be wrong: refuse.
        return Err(RunError::Database(sqlx::Error::Protocol(format!(
            "{attached} of {} rates attached to bill {bill_id}",
            ids.len()
        ))));
    }
    sqlx::query(
        "INSERT INTO customer_bill_tax (bill_id, tax_rate_basis_points, taxable_minor, tax_minor) VALUES ($1, $2, $3, $4)",
    )
    .bind(bill_id)
    .bind(terms.tax_rate.basis_points() as i32)
    .bind(tax.taxable)
    .bind(tax.tax)
    .execute(&mut *conn)
    .await?;
    let created = bills::bill_document(conn, bill_id).await?;
    enqueue(conn, "CustomerBillCreateEvent", bill_id, &created).await?;

    // Issue: the number is taken last, so the counter's row lock is held for as short a time as possible.
    let bill_no: i64 = sqlx::query_scalar(
        "UPDATE bill_number_counter SET last_number = last_number + 1 WHERE singleton RETURNING last_number",
    )
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE customer_bill SET state = 'validated', bill_no = $2, issued_at = $3, last_update = $3 WHERE id = $1",
    )
    .bind(bill_id)
    .bind(bill_no)
    .bind(Utc::now())
    .execute(&mut *conn)
    .await?;
    let issued = bills::bill_document(conn, bill_id).await?;
    enqueue(conn, "CustomerBillStateChangeEvent", bill_id, &issued).await?;
    metrics::counter!(BILLS_ISSUED_TOTAL, "service" => "billing", "category" => category).increment(1);
    metrics::counter!(BILLED_AMOUNT_MINOR_TOTAL, "service" => "billing", "currency" => terms.currency.code())
        .increment(amount_due.unsigned_abs());
    Ok(RunOutcome::Issued { run_id, bill_id, bill_no })
}

async fn enqueue(conn: &mut PgConnection, event_type: &str, bill_id: Uuid, bill: &Value) -> Result<(), sqlx::Error> {
    let id = bill_id.to_string();
    events::enqueue(
        conn,
        NewEvent { event_type: event_type.to_owned(), resource_type: "customerBill", resource_id: &id, resource: bill },
    )
    .await
    .map(drop)
}

/// A cycle run of one account for the period containing `date`, in its own transaction. A run that fails
/// while billing is recorded (`terminatedWithError`, with its reason) and may be run again.
pub async fn run_cycle(ctx: &ServiceContext, account_id: &str, date: NaiveDate) -> Result<RunOutcome, RunError> {
    let mut tx = ctx.db.begin().await?;
    let account =
        load_account(&mut tx, account_id).await?.ok_or_else(|| RunError::UnknownAccount(account_id.into()))?;
    let outcome = run_in(&mut tx, &account, RunKind::Cycle, date).await;
    match outcome {
        Ok(outcome) => {
            tx.commit().await?;
            count_run(RunKind::Cycle, outcome.label());
            Ok(outcome)
        }
        Err(error) => {
            tx.rollback().await?;
            count_run(RunKind::Cycle, "failed");
            if !error.is_transient() && !error.is_rejection() {
                record_failed_run(ctx, &account, RunKind::Cycle, date, &error).await?;
            }
            Err(error)
        }
    }
}

fn count_run(kind: RunKind, outcome: &'static str) {
    metrics::counter!(BILL_RUNS_TOTAL, "service" => "billing", "kind" => kind.as_str(), "outcome" => outcome)
        .increment(1);
}

/// Writes a `terminatedWithError` run with its reason (outside the rolled-back transaction).
async fn record_failed_run(
    ctx: &ServiceContext,
    account: &Account,
    kind: RunKind,
    date: NaiveDate,
    error: &RunError,
) -> Result<(), sqlx::Error> {
    let Ok((period, as_of)) = run_dates(account, kind, date) else { return Ok(()) };
    tracing::error!(account = %account.id, reason = %error.reason(), "bill run terminated with an error");
    sqlx::query(
        "INSERT INTO bill_run (id, billing_account_id, kind, period_start, period_end, as_of_date, state, reason)
         VALUES ($1, $2, $3, $4, $5, $6, 'terminatedWithError', $7)",
    )
    .bind(Uuid::now_v7())
    .bind(&account.id)
    .bind(kind.as_str())
    .bind(period.start())
    .bind(period.end())
    .bind(as_of)
    .bind(error.reason())
    .execute(&ctx.db)
    .await
    .map(drop)
}

/// What a pass over many accounts did: every active account it looked at is counted in `accounts` and in
/// exactly one of the others. `alreadyRun` holds the accounts whose period (or a later one) was billed before,
/// `failed` the runs that failed now and, for the scheduler (which does not retry them), the period runs that
/// had failed before.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PassSummary {
    pub accounts: u64,
    pub bills_issued: u64,
    pub nothing_to_bill: u64,
    pub already_run: u64,
    pub failed: u64,
}

/// Which date a pass bills each account as of.
#[derive(Debug, Clone, Copy)]
pub enum PassDate {
    /// Each account's local today (the scheduler): its latest bill date on or before today.
    Today,
    /// A given date (an operator's `billRun`): each account's latest bill date on or before it.
    On(NaiveDate),
}

/// Active accounts whose cycle run for the period containing their pass date has not completed, run
/// `BILLING_RUN_CONCURRENCY` at a time. `only` restricts the pass to those accounts. With [`PassDate::Today`],
/// an account whose run for that period already failed is left for an operator's `billRun`.
pub async fn run_pass(
    ctx: &Arc<ServiceContext>,
    date: PassDate,
    only: Option<&[String]>,
) -> Result<PassSummary, sqlx::Error> {
    let rows: Vec<(String, Option<String>, Option<i64>)> = sqlx::query_as(
        "SELECT id, doc->>'timeZone', (doc->>'billCycleDay')::bigint FROM tmf_resource
         WHERE kind = 'billingAccount' AND status = 'active' AND ($1::text[] IS NULL OR id = ANY($1))
         ORDER BY id",
    )
    .bind(only)
    .fetch_all(&ctx.db)
    .await?;
    let skip_failed = matches!(date, PassDate::Today);
    let latest: Vec<(String, NaiveDate, bool)> = sqlx::query_as(
        "SELECT DISTINCT ON (billing_account_id) billing_account_id, period_start, state = 'done'
         FROM bill_run WHERE kind = 'cycle' AND ($1::text[] IS NULL OR billing_account_id = ANY($1))
         ORDER BY billing_account_id, period_start DESC, (state = 'done') DESC",
    )
    .bind(only)
    .fetch_all(&ctx.db)
    .await?;
    let latest: std::collections::HashMap<String, (NaiveDate, bool)> =
        latest.into_iter().map(|(id, start, done)| (id, (start, done))).collect();
    let mut due = Vec::new();
    let (mut already_run, mut still_failed) = (0, 0);
    for (id, time_zone, cycle_day) in rows {
        let (Some(zone), Some(day)) =
            (time_zone.and_then(|z| crate::calendar::AccountTimeZone::parse(&z).ok()), cycle_day)
        else {
            continue;
        };
        let Ok(cycle) = crate::calendar::BillCycleDay::new(day) else { continue };
        let on = match date {
            PassDate::Today => zone.local_date(Utc::now()),
            PassDate::On(date) => date,
        };
        let Ok(period) = cycle.period_containing(on) else { continue };
        // An account not run again is still counted, under what it already is.
        match latest.get(&id) {
            Some((start, _)) if *start > period.start() => already_run += 1,
            Some((start, true)) if *start == period.start() => already_run += 1,
            Some((start, false)) if *start == period.start() && skip_failed => still_failed += 1,
            _ => due.push((id, period.start())),
        }
    }
    let mut summary = PassSummary {
        accounts: already_run + still_failed,
        already_run,
        failed: still_failed,
        ..PassSummary::default()
    };
    let limit = Arc::new(tokio::sync::Semaphore::new(ctx.settings.bill_runs.concurrency));
    let mut runs = tokio::task::JoinSet::new();
    for (id, bill_date) in due {
        let permit = limit.clone().acquire_owned().await.map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        let ctx = ctx.clone();
        runs.spawn(async move {
            let _permit = permit;
            let outcome = run_cycle(&ctx, &id, bill_date).await;
            if let Err(e) = &outcome {
                tracing::warn!(account = %id, reason = %e, "cycle bill run failed");
            }
            outcome
        });
        while let Some(done) = runs.try_join_next() {
            tally(&mut summary, done);
        }
    }
    while let Some(done) = runs.join_next().await {
        tally(&mut summary, done);
    }
    Ok(summary)
}

fn tally(summary: &mut PassSummary, done: Result<Result<RunOutcome, RunError>, tokio::task::JoinError>) {
    summary.accounts += 1;
    match done {
        Ok(Ok(RunOutcome::Issued { .. })) => summary.bills_issued += 1,
        Ok(Ok(RunOutcome::NothingToBill { .. })) => summary.nothing_to_bill += 1,
        Ok(Ok(RunOutcome::AlreadyRun)) => summary.already_run += 1,
        Ok(Err(_)) | Err(_) => summary.failed += 1,
    }
}

/// The scheduler: every `BILLING_RUN_INTERVAL_SECS`, a pass over the accounts whose bill date has come.
pub fn start_scheduler(ctx: &web::Data<ServiceContext>) {
    if !ctx.settings.bill_runs.scheduler {
        return;
    }
    let ctx = ctx.clone().into_inner();
    let lifecycle = ctx.lifecycle.clone();
    let interval = ctx.settings.bill_runs.interval;
    ctx.lifecycle.clone().spawn_worker("bill-run-scheduler", async move {
        lifecycle
            .every("bill-run-scheduler", interval, || {
                let ctx = ctx.clone();
                async move {
                    match run_pass(&ctx, PassDate::Today, None).await {
                        Ok(summary) if summary.bills_issued + summary.nothing_to_bill > 0 => {
                            tracing::info!(?summary, "scheduled bill runs")
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "scheduled bill runs could not start"),
                    }
                }
            })
            .await;
    });
}

/// `POST {base}/billRun` (an operator's extension, scope `billing:write`): a cycle pass now, as of `billDate`
/// (`YYYY-MM-DD`, default each account's local today), over the accounts in `billingAccount` (`[{"id": …}]`,
/// default every active account; a listed one that is unknown or not active is a 422). Answers 200 with the
/// [`PassSummary`] once the pass is over. Accounts whose run for that period completed are skipped (counted as
/// `alreadyRun`); failed runs are tried again.
async fn post_bill_run(ctx: web::Data<ServiceContext>, body: web::Json<Value>) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    if !body.is_object() {
        return Err(ApiError::bad_request("The body must be a JSON object."));
    }
    let date = match body.get("billDate") {
        None | Some(Value::Null) => PassDate::Today,
        Some(Value::String(text)) => PassDate::On(
            text.parse::<NaiveDate>().map_err(|_| ApiError::bad_request("'billDate' must be a date (YYYY-MM-DD)."))?,
        ),
        Some(_) => return Err(ApiError::bad_request("'billDate' must be a date (YYYY-MM-DD).")),
    };
    let only = match body.get("billingAccount") {
        None | Some(Value::Null) => None,
        Some(Value::Array(refs)) => Some(
            refs.iter()
                .map(|r| r.get("id").and_then(Value::as_str).map(str::to_owned))
                .collect::<Option<Vec<String>>>()
                .ok_or_else(|| ApiError::bad_request("'billingAccount' must be a list of references with an id."))?,
        ),
        Some(_) => return Err(ApiError::bad_request("'billingAccount' must be a list of references with an id.")),
    };
    if let Some(listed) = &only {
        refuse_accounts_a_pass_would_skip(&ctx.db, listed).await?;
    }
    let summary = run_pass(&ctx.clone().into_inner(), date, only.as_deref()).await?;
    Ok(HttpResponse::Ok().json(summary))
}

/// A listed account that does not exist or is not active would be passed over in silence (a typo would read
/// as "nothing due"), so the request is refused, naming them, before anything runs.
async fn refuse_accounts_a_pass_would_skip(db: &sqlx::PgPool, listed: &[String]) -> Result<(), ApiError> {
    let found: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT id, status FROM tmf_resource WHERE kind = 'billingAccount' AND id = ANY($1)")
            .bind(listed)
            .fetch_all(db)
            .await?;
    let status: std::collections::HashMap<&str, Option<&str>> =
        found.iter().map(|(id, status)| (id.as_str(), status.as_deref())).collect();
    let problems: Vec<String> = listed
        .iter()
        .filter_map(|id| match status.get(id.as_str()) {
            None => Some(format!("'{id}' does not exist")),
            Some(Some("active")) => None,
            Some(state) => Some(format!("'{id}' is {} (only active accounts are billed)", state.unwrap_or("unknown"))),
        })
        .collect();
    if problems.is_empty() {
        return Ok(());
    }
    Err(ApiError::unprocessable(format!("billingAccount {}; nothing was run.", problems.join(", "))))
}

/// Registers `POST {base}/billRun`.
pub fn configure(config: &mut web::ServiceConfig) {
    config.service(
        bss_common::server::resource(&format!("{}/billRun", crate::BASE_PATH)).route(web::post().to(post_bill_run)),
    );
}
