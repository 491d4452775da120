//! The scenario: what one simulated customer does, from browsing the catalog to being billed.
//!
//! [`setup`] creates the run's own offerings (so a run never depends on what a catalog holds). Each
//! [`journey`] then browses the catalog, registers a customer and a billing account (UTC, bill cycle day =
//! today, so the first period is a full month), places an order for a Fibre line (a monthly and a one-time
//! price) and a TV option (monthly, 1–3 of them), cancels some orders once they are in progress, and
//! follows the order to a final state. What the journey saw is its [`Journey`] record, which the invariant
//! checker later compares with what billing holds.

use crate::client::{ACCOUNT_API, Api, CATALOG_API, CUSTOMER_API, Call, CallError, ORDER_API, Policy};
use bss_tmf::money::{Currency, Money};
use chrono::{DateTime, NaiveDate, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The prices of the run's offerings, in EUR cents, and the accounts' tax rate in basis points.
pub const FIBRE_MONTHLY_MINOR: i64 = 2_999;
pub const FIBRE_SETUP_MINOR: i64 = 4_900;
pub const TV_MONTHLY_MINOR: i64 = 950;
pub const TAX_RATE_BASIS_POINTS: i64 = 2_000;
const TAX_RATE_TEXT: &str = "0.20";

/// The offerings a run orders.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub fibre_id: String,
    pub tv_id: String,
}

/// How an order ended, as the journey observed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderOutcome {
    /// `completed`, on this (UTC) date.
    Completed {
        completion_date: NaiveDate,
    },
    Cancelled,
    /// Another final state (`failed`, `partial`, `rejected`).
    OtherFinal(String),
    /// GET answered 404: the order is gone.
    Gone,
    /// Not final when the journey stopped waiting; the last state seen.
    Stuck(String),
    /// The order was refused (4xx): there is none.
    Refused,
    /// Creating the order never got an answer, so whether it exists is unknown.
    Unknown,
    /// The journey stopped before ordering (its customer or account could not be created).
    NotPlaced,
}

impl OrderOutcome {
    pub fn label(&self) -> &'static str {
        match self {
            OrderOutcome::Completed { .. } => "completed",
            OrderOutcome::Cancelled => "cancelled",
            OrderOutcome::OtherFinal(_) => "other final state",
            OrderOutcome::Gone => "gone (404)",
            OrderOutcome::Stuck(_) => "not final in time",
            OrderOutcome::Refused => "refused",
            OrderOutcome::Unknown => "create unanswered",
            OrderOutcome::NotPlaced => "not placed",
        }
    }
}

/// What one journey did.
#[derive(Debug, Clone)]
pub struct Journey {
    pub index: u64,
    pub account_id: Option<String>,
    pub order_id: Option<String>,
    pub tv_quantity: i64,
    /// Whether a cancellation was accepted (201) for the order.
    pub cancel_accepted: bool,
    pub outcome: OrderOutcome,
}

/// The limits of one journey.
#[derive(Debug, Clone, Copy)]
pub struct JourneyRules {
    /// Every n-th journey cancels its order (0: none).
    pub cancel_every: u64,
    /// How long a journey waits for its order to become final.
    pub order_timeout: Duration,
    /// The bill cycle day of the accounts (today's day of month, UTC, when the run started).
    pub bill_cycle_day: u32,
}

fn url(base: &str, api: &str, path: &str) -> String {
    format!("{base}{api}/{path}")
}

/// `minor` euro cents as a TMF Money object (a decimal number, never through a float).
fn eur(minor: i64) -> Value {
    Money::from_minor(minor, Currency::parse("EUR").expect("EUR is a known currency")).to_tmf()
}

fn id_of(answer: &Value) -> anyhow::Result<String> {
    answer["id"].as_str().map(str::to_owned).ok_or_else(|| anyhow::anyhow!("no id in {answer}"))
}

/// Creates the run's offerings (Active, with their prices) and returns them.
pub async fn setup(api: &Api, run: &str) -> anyhow::Result<Catalogue> {
    let catalog = &api.targets.catalog;
    let price = |body: Value| {
        let api = api.clone();
        async move {
            let answer =
                api.post("setup", url(catalog, CATALOG_API, "productOfferingPrice"), &body, Policy::RETRY).await?;
            id_of(&answer.body)
        }
    };
    let monthly = |name: &str, minor: i64| {
        json!({"name": name, "lifecycleStatus": "Active", "priceType": "recurring",
               "recurringChargePeriodType": "month", "recurringChargePeriodLength": 1,
               "price": eur(minor)})
    };
    let fibre_monthly = price(monthly("Fibre 1G monthly", FIBRE_MONTHLY_MINOR)).await?;
    let fibre_setup =
        price(json!({"name": "Fibre 1G installation", "lifecycleStatus": "Active", "priceType": "oneTime",
                                   "price": eur(FIBRE_SETUP_MINOR)}))
        .await?;
    let tv_monthly = price(monthly("TV option monthly", TV_MONTHLY_MINOR)).await?;
    let offering = |name: String, prices: Vec<String>| {
        let api = api.clone();
        async move {
            let refs: Vec<Value> = prices.iter().map(|id| json!({"id": id})).collect();
            let body = json!({"name": name, "lifecycleStatus": "Active", "productOfferingPrice": refs});
            let answer = api.post("setup", url(catalog, CATALOG_API, "productOffering"), &body, Policy::RETRY).await?;
            id_of(&answer.body)
        }
    };
    let fibre_id = offering(format!("Fibre 1G ({run})"), vec![fibre_monthly, fibre_setup]).await?;
    let tv_id = offering(format!("TV option ({run})"), vec![tv_monthly]).await?;
    Ok(Catalogue { fibre_id, tv_id })
}

/// One customer's journey. Errors end it early; what it got to is in the returned record.
pub async fn journey(api: &Api, catalogue: &Catalogue, rules: JourneyRules, index: u64) -> Journey {
    let tv_quantity = 1 + (index % 3) as i64;
    let mut record = Journey {
        index,
        account_id: None,
        order_id: None,
        tv_quantity,
        cancel_accepted: false,
        outcome: OrderOutcome::NotPlaced,
    };
    let targets = api.targets.clone();

    // Browse: the active offerings, then the one to buy.
    let _ = api
        .get(
            "catalog.listOfferings",
            url(&targets.catalog, CATALOG_API, "productOffering?lifecycleStatus=Active&limit=20"),
        )
        .await;
    let _ = api
        .get(
            "catalog.getOffering",
            url(&targets.catalog, CATALOG_API, &format!("productOffering/{}", catalogue.fibre_id)),
        )
        .await;

    // Register. A create retried after a lost answer may leave a duplicate customer or account without an
    // order: harmless, and never billed.
    let name = format!("Load Customer {index}");
    let customer = json!({"name": name, "status": "Approved",
                          "engagedParty": {"id": format!("ind-{index}"), "@referredType": "Individual", "name": name}});
    let Ok(customer) =
        api.post("customer.create", url(&targets.customer, CUSTOMER_API, "customer"), &customer, Policy::RETRY).await
    else {
        return record;
    };
    let Ok(customer_id) = id_of(&customer.body) else { return record };
    let account = json!({"name": format!("{name} — main account"), "currency": "EUR", "timeZone": "UTC",
                         "taxRate": TAX_RATE_TEXT, "billCycleDay": rules.bill_cycle_day, "paymentTermsDays": 30,
                         "relatedParty": [{"id": customer_id, "@referredType": "Customer", "role": "customer"}]});
    let Ok(account) = api
        .post("billing.createAccount", url(&targets.billing, ACCOUNT_API, "billingAccount"), &account, Policy::RETRY)
        .await
    else {
        return record;
    };
    let Ok(account_id) = id_of(&account.body) else { return record };
    record.account_id = Some(account_id.clone());

    // Order, with an Idempotency-Key so a retry after a lost answer cannot order twice.
    let order = json!({
        "relatedParty": [{"id": customer_id, "@referredType": "Customer", "role": "Customer"}],
        "billingAccount": {"id": account_id, "@referredType": "BillingAccount"},
        "productOrderItem": [
            {"id": "1", "action": "add", "quantity": 1, "productOffering": {"id": catalogue.fibre_id}},
            {"id": "2", "action": "add", "quantity": tv_quantity, "productOffering": {"id": catalogue.tv_id}},
        ],
    });
    let key = uuid::Uuid::new_v4().to_string();
    let placed = Instant::now();
    let created = api
        .send(Call {
            operation: "order.create",
            method: Method::POST,
            url: url(&targets.order, ORDER_API, "productOrder"),
            body: Some(&order),
            idempotency_key: Some(&key),
            policy: Policy::IDEMPOTENT_CREATE,
        })
        .await;
    let order_id = match created {
        Ok(answer) => match id_of(&answer.body) {
            Ok(id) => id,
            Err(_) => {
                record.outcome = OrderOutcome::Unknown;
                return record;
            }
        },
        Err(CallError::Status(answer)) if answer.status.is_client_error() => {
            record.outcome = OrderOutcome::Refused;
            return record;
        }
        Err(_) => {
            record.outcome = OrderOutcome::Unknown;
            return record;
        }
    };
    record.order_id = Some(order_id.clone());

    let cancel = rules.cancel_every > 0 && index.is_multiple_of(rules.cancel_every);
    record.outcome = follow(api, &order_id, rules.order_timeout, cancel, &mut record.cancel_accepted).await;
    if matches!(record.outcome, OrderOutcome::Completed { .. } | OrderOutcome::Cancelled) {
        api.stats.record("journey.orderPlacedToFinal", placed.elapsed(), &crate::stats::Outcome::Ok);
    }
    record
}

const FINAL_STATES: &[&str] = &["completed", "cancelled", "failed", "partial", "rejected"];

/// Polls the order until it is final (cancelling it first, once it has left `acknowledged`, when `cancel`).
async fn follow(
    api: &Api,
    order_id: &str,
    timeout: Duration,
    cancel: bool,
    cancel_accepted: &mut bool,
) -> OrderOutcome {
    let order_url = url(&api.targets.order, ORDER_API, &format!("productOrder/{order_id}"));
    let deadline = Instant::now() + timeout;
    let mut cancel_pending = cancel;
    let mut last_state = String::from("unknown");
    loop {
        let polled = api
            .send(Call {
                operation: "order.poll",
                method: Method::GET,
                url: order_url.clone(),
                body: None,
                idempotency_key: None,
                policy: Policy::RETRY.accepting(&[404]),
            })
            .await;
        if let Ok(answer) = polled {
            if answer.status == reqwest::StatusCode::NOT_FOUND {
                return OrderOutcome::Gone;
            }
            let state = answer.body["state"].as_str().unwrap_or_default().to_owned();
            match state.as_str() {
                "completed" => {
                    let completion_date = answer.body["completionDate"]
                        .as_str()
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                        .map_or_else(|| Utc::now().date_naive(), |t| t.with_timezone(&Utc).date_naive());
                    return OrderOutcome::Completed { completion_date };
                }
                "cancelled" => return OrderOutcome::Cancelled,
                other if FINAL_STATES.contains(&other) => return OrderOutcome::OtherFinal(state),
                _ => {}
            }
            if cancel_pending && state != "acknowledged" {
                cancel_pending = false;
                let body = json!({"productOrder": {"id": order_id, "@referredType": "ProductOrder"},
                                  "cancellationReason": "load test: customer changed their mind"});
                // 409: the order moved on (completed) before the cancellation: an expected race.
                let cancelled = api
                    .post(
                        "order.cancel",
                        url(&api.targets.order, ORDER_API, "cancelProductOrder"),
                        &body,
                        Policy::RETRY.accepting(&[409]),
                    )
                    .await;
                *cancel_accepted = matches!(cancelled, Ok(ref a) if a.status == reqwest::StatusCode::CREATED);
                continue;
            }
            last_state = state;
        }
        if Instant::now() >= deadline {
            return OrderOutcome::Stuck(last_state);
        }
        // An order to cancel is watched closely: automatic fulfilment leaves it in progress only briefly.
        let pause = if cancel_pending { Duration::from_millis(20) } else { Duration::from_millis(250) };
        tokio::time::sleep(pause).await;
    }
}
