//! The business invariants a run must leave true, checked through the public APIs only.
//!
//! For every journey the checker reads the account's applied rates and bills from billing and compares them
//! with what the journey observed of its order ([`check_journey`], pure, so its own tests can feed it broken
//! billing data and see each violation reported):
//! - a **completed** order is billed exactly once: one installation charge (Fibre, once), and for each of
//!   its two products a run of monthly charges with no period twice, no gap, from the period the order
//!   completed in through the period of the account's last bill run; every period a full month's price ×
//!   quantity except a first period the product started inside (prorated, less than a month's price);
//! - anything else (**cancelled**, refused, failed, never placed) has no charge and no bill; an order that
//!   vanished without an accepted cancellation, or never became final, is a violation itself;
//! - every rate of a completed order is on a bill, and every **bill** adds up: tax-excluded total = Σ its rates,
//!   tax = the account's rate on that total (rounded half up, once per bill), Σ the rates' taxes = the bill's
//!   tax, each rate's tax-included amount = its amount + its tax, tax-included total = tax-excluded + tax,
//!   amount due = tax-included total.

use crate::client::{Api, BILL_API};
use crate::scenario::{
    FIBRE_MONTHLY_MINOR, FIBRE_SETUP_MINOR, Journey, OrderOutcome, TAX_RATE_BASIS_POINTS, TV_MONTHLY_MINOR,
};
use bss_tmf::money::Money;
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One broken invariant.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Violation {
    pub journey: u64,
    pub account: Option<String>,
    pub order: Option<String>,
    pub problem: String,
}

/// What the checker looked at and found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verification {
    pub journeys: u64,
    /// Journeys by how their order ended.
    pub outcomes: BTreeMap<String, u64>,
    pub bills: u64,
    pub rates: u64,
    pub billed_tax_included_minor: i64,
    pub violations: Vec<Violation>,
}

fn eur_minor(money: &Value) -> Result<i64, String> {
    let parsed = Money::from_tmf(money).map_err(|e| format!("bad money {money}: {e}"))?;
    if parsed.currency().code() != "EUR" {
        return Err(format!("money in {} on a EUR account: {money}", parsed.currency().code()));
    }
    Ok(parsed.minor())
}

/// The local date of a TMF date-time (the accounts are in UTC, so the date part).
fn date_of(value: &Value) -> Option<NaiveDate> {
    value.as_str()?.get(..10)?.parse().ok()
}

/// The tax on `taxable` at the run's rate, rounded half away from zero (the rule of docs/adr/0015).
pub fn expected_tax(taxable: i64) -> i64 {
    let scaled = i128::from(taxable) * i128::from(TAX_RATE_BASIS_POINTS);
    let (quotient, remainder) = (scaled / 10_000, scaled % 10_000);
    let rounded = if remainder.abs() * 2 >= 10_000 { quotient + scaled.signum() } else { quotient };
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

/// A monthly charge as the checker reads it.
#[derive(Debug)]
struct PeriodCharge {
    start: NaiveDate,
    end: NaiveDate,
    amount: i64,
}

/// The violations of one journey, given the account's applied rates and bills as billing serves them and
/// the date of the last cycle bill run of the account.
pub fn check_journey(
    journey: &Journey,
    last_bill_date: Option<NaiveDate>,
    rates: &[Value],
    bills: &[Value],
) -> Vec<String> {
    let mut problems = Vec::new();
    match &journey.outcome {
        OrderOutcome::Completed { completion_date } => {
            check_charges(journey, *completion_date, last_bill_date, rates, &mut problems);
        }
        OrderOutcome::Gone if !journey.cancel_accepted => {
            problems.push("the order disappeared (404) although no cancellation was accepted".into());
            check_nothing_charged(rates, bills, &mut problems);
        }
        OrderOutcome::Stuck(state) => {
            problems.push(format!("the order was still '{state}' when the run stopped waiting"))
        }
        OrderOutcome::OtherFinal(state) if state == "partial" => {}
        OrderOutcome::Unknown => {}
        OrderOutcome::Cancelled
        | OrderOutcome::Gone
        | OrderOutcome::OtherFinal(_)
        | OrderOutcome::Refused
        | OrderOutcome::NotPlaced => check_nothing_charged(rates, bills, &mut problems),
    }
    check_bills(journey, rates, bills, &mut problems);
    problems
}

fn check_nothing_charged(rates: &[Value], bills: &[Value], problems: &mut Vec<String>) {
    if !rates.is_empty() {
        problems.push(format!("{} charge(s) for an order that was not completed", rates.len()));
    }
    if !bills.is_empty() {
        problems.push(format!("{} bill(s) for an order that was not completed", bills.len()));
    }
}

fn check_charges(
    journey: &Journey,
    completion_date: NaiveDate,
    last_bill_date: Option<NaiveDate>,
    rates: &[Value],
    problems: &mut Vec<String>,
) {
    let mut one_time = Vec::new();
    let mut recurring: BTreeMap<String, Vec<PeriodCharge>> = BTreeMap::new();
    for rate in rates {
        let id = rate["id"].as_str().unwrap_or("?");
        if rate["isBilled"] != Value::Bool(true) || rate["bill"]["id"].as_str().is_none() {
            problems.push(format!("charge {id} is not on a bill after the final bill run"));
        }
        let amount = match eur_minor(&rate["taxExcludedAmount"]) {
            Ok(amount) => amount,
            Err(e) => {
                problems.push(format!("charge {id}: {e}"));
                continue;
            }
        };
        let product = rate["product"]["id"].as_str().unwrap_or_default().to_owned();
        match rate["type"].as_str() {
            Some("oneTime") => one_time.push((product, amount)),
            Some("recurring") => {
                let coverage = &rate["periodCoverage"];
                match (date_of(&coverage["startDateTime"]), date_of(&coverage["endDateTime"])) {
                    (Some(start), Some(end)) => {
                        recurring.entry(product).or_default().push(PeriodCharge { start, end, amount })
                    }
                    _ => problems.push(format!("recurring charge {id} has no period")),
                }
            }
            other => problems.push(format!("unexpected charge {id} of type {other:?}")),
        }
    }

    // Which product is which: by the monthly price of its latest (never prorated) period.
    let expected_monthly = [("Fibre", FIBRE_MONTHLY_MINOR), ("TV", TV_MONTHLY_MINOR * journey.tv_quantity)];
    if recurring.len() != expected_monthly.len() {
        problems.push(format!("{} products charged monthly, expected 2 (Fibre and TV)", recurring.len()));
    }
    let mut fibre_product = None;
    for (product, charges) in &mut recurring {
        charges.sort_by_key(|c| c.start);
        let monthly = charges.last().map_or(0, |c| c.amount);
        let Some((name, _)) = expected_monthly.iter().find(|(_, minor)| *minor == monthly) else {
            problems.push(format!("product {product} is charged {monthly} a month, which no ordered item costs"));
            continue;
        };
        if *name == "Fibre" {
            fibre_product = Some(product.clone());
        }
        check_periods(name, charges, monthly, completion_date, last_bill_date, problems);
    }

    match one_time.as_slice() {
        [(product, amount)] => {
            if *amount != FIBRE_SETUP_MINOR {
                problems.push(format!("installation charged {amount}, expected {FIBRE_SETUP_MINOR}"));
            }
            if fibre_product.as_ref().is_some_and(|fibre| fibre != product) {
                problems.push("the installation is charged on a product other than the Fibre line".into());
            }
        }
        [] => problems.push("the installation (one-time price) was never charged".into()),
        many => problems.push(format!("the installation was charged {} times", many.len())),
    }
}

/// One product's monthly charges: contiguous, each period once, from the completion date's period through
/// the last bill run's, full price except a prorated first period.
fn check_periods(
    name: &str,
    charges: &[PeriodCharge],
    monthly: i64,
    completion_date: NaiveDate,
    last_bill_date: Option<NaiveDate>,
    problems: &mut Vec<String>,
) {
    let (Some(first), Some(last)) = (charges.first(), charges.last()) else { return };
    for pair in charges.windows(2) {
        if pair[0].start == pair[1].start {
            problems.push(format!("{name}: the period from {} is charged twice", pair[0].start));
        } else if pair[0].end != pair[1].start {
            problems.push(format!(
                "{name}: charges jump from the period ending {} to one starting {}",
                pair[0].end, pair[1].start
            ));
        }
    }
    if !(first.start <= completion_date && completion_date < first.end) {
        problems.push(format!(
            "{name}: the first charged period {}..{} does not contain the completion date {completion_date}",
            first.start, first.end
        ));
    }
    match last_bill_date {
        Some(date) if !(last.start <= date && date < last.end) => problems.push(format!(
            "{name}: charged through the period {}..{}, but the last bill run was for {date}",
            last.start, last.end
        )),
        None => problems.push(format!("{name}: charged although the account had no bill run")),
        Some(_) => {}
    }
    for (position, charge) in charges.iter().enumerate() {
        let prorated_start = position == 0 && charge.start < completion_date;
        let fine = if prorated_start { charge.amount > 0 && charge.amount < monthly } else { charge.amount == monthly };
        if !fine {
            problems.push(format!(
                "{name}: the period from {} is charged {}, expected {}",
                charge.start,
                charge.amount,
                if prorated_start { "a prorated part of the month".to_owned() } else { monthly.to_string() }
            ));
        }
    }
}

fn check_bills(journey: &Journey, rates: &[Value], bills: &[Value], problems: &mut Vec<String>) {
    let mut rates_by_bill: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for rate in rates {
        if let Some(bill) = rate["bill"]["id"].as_str() {
            rates_by_bill.entry(bill).or_default().push(rate);
        }
    }
    for bill in bills {
        let id = bill["id"].as_str().unwrap_or("?");
        if bill["billingAccount"]["id"].as_str() != journey.account_id.as_deref() {
            problems.push(format!("bill {id} belongs to another account"));
        }
        let on_bill = rates_by_bill.remove(id).unwrap_or_default();
        if on_bill.is_empty() {
            problems.push(format!("bill {id} has no charges"));
        }
        let amounts = (|| {
            let excluded = eur_minor(&bill["taxExcludedAmount"])?;
            let included = eur_minor(&bill["taxIncludedAmount"])?;
            let due = eur_minor(&bill["amountDue"])?;
            let mut lines = 0i64;
            let mut line_taxes = 0i64;
            for rate in &on_bill {
                let amount = eur_minor(&rate["taxExcludedAmount"])?;
                let tax = eur_minor(&rate["appliedTax"][0]["taxAmount"])?;
                if eur_minor(&rate["taxIncludedAmount"])? != amount + tax {
                    return Err(format!("charge {} on bill {id}: tax-included ≠ amount + tax", rate["id"]));
                }
                lines += amount;
                line_taxes += tax;
            }
            Ok::<_, String>((excluded, included, due, lines, line_taxes))
        })();
        match amounts {
            Err(e) => problems.push(format!("bill {id}: {e}")),
            Ok((excluded, included, due, lines, line_taxes)) => {
                let tax = included - excluded;
                if excluded != lines {
                    problems.push(format!("bill {id}: tax-excluded total {excluded} ≠ Σ its charges {lines}"));
                }
                if tax != expected_tax(excluded) {
                    problems.push(format!("bill {id}: tax {tax} ≠ 20% of {excluded} ({})", expected_tax(excluded)));
                }
                if line_taxes != tax {
                    problems.push(format!("bill {id}: Σ the charges' taxes {line_taxes} ≠ the bill's tax {tax}"));
                }
                if due != included {
                    problems.push(format!("bill {id}: amount due {due} ≠ tax-included total {included}"));
                }
            }
        }
    }
    for (bill, orphans) in rates_by_bill {
        problems.push(format!("{} charge(s) refer to bill {bill}, which the account does not list", orphans.len()));
    }
}

/// Every page of `path` on billing (an account's rates or bills are a handful; pages of 100, the most a
/// bill listing serves).
async fn list_all(api: &Api, operation: &'static str, path: &str) -> Result<Vec<Value>, String> {
    let mut items = Vec::new();
    loop {
        let separator = if path.contains('?') { '&' } else { '?' };
        let url = format!("{}{BILL_API}/{path}{separator}limit=100&offset={}", api.targets.billing, items.len());
        let answer = api.get(operation, url).await.map_err(|e| format!("{operation}: {e}"))?;
        let page = answer.body.as_array().cloned().ok_or_else(|| format!("{operation}: not a list"))?;
        let done = page.len() < 100;
        items.extend(page);
        if done {
            return Ok(items);
        }
    }
}

/// Checks every journey (16 at a time) and sums up what billing holds for them.
pub async fn verify(api: &Api, journeys: &[Journey], last_bill_dates: &BTreeMap<String, NaiveDate>) -> Verification {
    let mut verification = Verification { journeys: journeys.len() as u64, ..Verification::default() };
    for journey in journeys {
        *verification.outcomes.entry(journey.outcome.label().to_owned()).or_default() += 1;
    }
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
    let mut checks = tokio::task::JoinSet::new();
    for journey in journeys.iter().filter(|j| j.account_id.is_some()).cloned() {
        let (api, limit) = (api.clone(), limit.clone());
        let last = journey.account_id.as_ref().and_then(|a| last_bill_dates.get(a)).copied();
        checks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let account = journey.account_id.clone().unwrap_or_default();
            let rates =
                list_all(&api, "verify.rates", &format!("appliedCustomerBillingRate?billingAccount.id={account}"))
                    .await;
            let bills = list_all(&api, "verify.bills", &format!("customerBill?billingAccount.id={account}")).await;
            let evidence = rates.and_then(|r| bills.map(|b| (r, b)));
            (journey, last, evidence)
        });
    }
    while let Some(done) = checks.join_next().await {
        let Ok((journey, last, evidence)) = done else { continue };
        let violation = |problem: String| Violation {
            journey: journey.index,
            account: journey.account_id.clone(),
            order: journey.order_id.clone(),
            problem,
        };
        match evidence {
            Err(e) => verification.violations.push(violation(format!("could not read billing: {e}"))),
            Ok((rates, bills)) => {
                verification.rates += rates.len() as u64;
                verification.bills += bills.len() as u64;
                verification.billed_tax_included_minor +=
                    bills.iter().filter_map(|b| eur_minor(&b["taxIncludedAmount"]).ok()).sum::<i64>();
                for problem in check_journey(&journey, last, &rates, &bills) {
                    verification.violations.push(violation(problem));
                }
            }
        }
    }
    verification.violations.sort_by_key(|v| v.journey);
    verification
}

#[cfg(test)]
mod tests {
    //! The checker must see each kind of damage: a correct account passes, and every mutation of it —
    //! a period charged twice, a gap, a missing or doubled installation, a wrong amount, an unbilled charge,
    //! a bill that does not add up, a charge for a cancelled order — is reported.
    use super::*;
    use serde_json::json;

    const ACCOUNT: &str = "acc-1";

    fn eur(minor: i64) -> Value {
        Money::from_minor(minor, bss_tmf::money::Currency::parse("EUR").unwrap()).to_tmf()
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn rate(
        id: &str,
        kind: &str,
        product: &str,
        amount: i64,
        period: Option<(&str, &str)>,
        bill: &str,
        tax: i64,
    ) -> Value {
        let mut rate = json!({
            "id": id, "type": kind, "isBilled": true, "product": {"id": product},
            "billingAccount": {"id": ACCOUNT}, "taxExcludedAmount": eur(amount),
            "taxIncludedAmount": eur(amount + tax), "appliedTax": [{"taxAmount": eur(tax)}],
            "bill": {"id": bill},
        });
        if let Some((start, end)) = period {
            rate["periodCoverage"] =
                json!({"startDateTime": format!("{start}T00:00:00Z"), "endDateTime": format!("{end}T00:00:00Z")});
        }
        rate
    }

    /// A bill over `rates` whose totals are right.
    fn bill_for(id: &str, rates: &[&Value]) -> Value {
        let excluded: i64 = rates.iter().map(|r| eur_minor(&r["taxExcludedAmount"]).unwrap()).sum();
        let tax: i64 = rates.iter().map(|r| eur_minor(&r["appliedTax"][0]["taxAmount"]).unwrap()).sum();
        json!({"id": id, "billingAccount": {"id": ACCOUNT}, "taxExcludedAmount": eur(excluded),
               "taxIncludedAmount": eur(excluded + tax), "amountDue": eur(excluded + tax)})
    }

    fn completed(tv_quantity: i64) -> Journey {
        Journey {
            index: 7,
            account_id: Some(ACCOUNT.into()),
            order_id: Some("ord-1".into()),
            tv_quantity,
            cancel_accepted: false,
            outcome: OrderOutcome::Completed { completion_date: day("2026-12-03") },
        }
    }

    /// What billing holds for a Fibre + 2 TV order completed on 3 Dec, billed on 3 Jan and 3 Feb: the first
    /// bill covers Dec and Jan (with the installation), the second Feb. Taxes are allocated so each bill's
    /// lines sum to 20 % of its total.
    fn healthy() -> (Vec<Value>, Vec<Value>) {
        let (dec, jan, feb, mar) = ("2026-12-03", "2027-01-03", "2027-02-03", "2027-03-03");
        let rates = vec![
            rate("r1", "oneTime", "fibre", 4_900, None, "b1", 980),
            rate("r2", "recurring", "fibre", 2_999, Some((dec, jan)), "b1", 600),
            rate("r3", "recurring", "fibre", 2_999, Some((jan, feb)), "b1", 600),
            rate("r4", "recurring", "tv", 1_900, Some((dec, jan)), "b1", 380),
            rate("r5", "recurring", "tv", 1_900, Some((jan, feb)), "b1", 380),
            rate("r6", "recurring", "fibre", 2_999, Some((feb, mar)), "b2", 600),
            rate("r7", "recurring", "tv", 1_900, Some((feb, mar)), "b2", 380),
        ];
        let first: Vec<&Value> = rates.iter().take(5).collect();
        let second: Vec<&Value> = rates.iter().skip(5).collect();
        let bills = vec![bill_for("b1", &first), bill_for("b2", &second)];
        (rates, bills)
    }

    fn problems(journey: &Journey, rates: &[Value], bills: &[Value]) -> Vec<String> {
        check_journey(journey, Some(day("2027-02-03")), rates, bills)
    }

    #[test]
    fn a_correctly_billed_order_passes() {
        let (rates, bills) = healthy();
        assert_eq!(problems(&completed(2), &rates, &bills), Vec::<String>::new());
        // 20 % of 14,698 is 2,939.6: 2,940; the lines of bill 1 sum to exactly that.
        assert_eq!(expected_tax(14_698), 2_940);
        assert_eq!(expected_tax(25), 5);
        assert_eq!(expected_tax(-25), -5);
    }

    fn assert_reported(problems: Vec<String>, needle: &str) {
        assert!(problems.iter().any(|p| p.contains(needle)), "expected a problem with {needle:?}, got {problems:#?}");
    }

    #[test]
    fn a_period_charged_twice_or_skipped_is_reported() {
        let (mut rates, bills) = healthy();
        let mut twice = rates[2].clone();
        twice["id"] = json!("r3bis");
        rates.push(twice);
        assert_reported(problems(&completed(2), &rates, &bills), "charged twice");

        let (mut rates, bills) = healthy();
        rates.remove(2); // Fibre's January
        assert_reported(problems(&completed(2), &rates, &bills), "charges jump");
    }

    #[test]
    fn installation_missing_doubled_or_wrong_is_reported() {
        let (mut rates, bills) = healthy();
        rates.remove(0);
        assert_reported(problems(&completed(2), &rates, &bills), "never charged");

        let (mut rates, bills) = healthy();
        rates.push(rates[0].clone());
        assert_reported(problems(&completed(2), &rates, &bills), "charged 2 times");

        let (mut rates, bills) = healthy();
        rates[0]["product"]["id"] = json!("tv");
        assert_reported(problems(&completed(2), &rates, &bills), "other than the Fibre line");
    }

    #[test]
    fn wrong_quantity_missing_months_and_unbilled_charges_are_reported() {
        let (rates, bills) = healthy();
        // The journey ordered 3 TV options, billing charged 2.
        assert_reported(problems(&completed(3), &rates, &bills), "which no ordered item costs");

        let (rates, bills) = healthy();
        let journey = completed(2);
        assert_reported(check_journey(&journey, Some(day("2027-03-05")), &rates, &bills), "last bill run was for");

        let (mut rates, bills) = healthy();
        rates[6]["isBilled"] = json!(false);
        assert_reported(problems(&completed(2), &rates, &bills), "not on a bill");

        let (mut rates, bills) = healthy();
        rates[3]["taxExcludedAmount"] = eur(1_000); // TV's December at half price, not a prorated start
        assert_reported(problems(&completed(2), &rates, &bills), "expected 1900");
    }

    #[test]
    fn bills_that_do_not_add_up_are_reported() {
        let (rates, mut bills) = healthy();
        bills[0]["taxExcludedAmount"] = eur(14_699);
        bills[0]["taxIncludedAmount"] = eur(14_699 + 2_940);
        bills[0]["amountDue"] = eur(14_699 + 2_940);
        assert_reported(problems(&completed(2), &rates, &bills), "≠ Σ its charges");

        let (rates, mut bills) = healthy();
        bills[1]["amountDue"] = eur(0);
        assert_reported(problems(&completed(2), &rates, &bills), "amount due");

        let (mut rates, mut bills) = healthy();
        // Line taxes that sum to the bill's tax, but the bill's tax is not 20 % of its total.
        rates[1]["appliedTax"][0]["taxAmount"] = eur(700);
        rates[1]["taxIncludedAmount"] = eur(2_999 + 700);
        let first: Vec<&Value> = rates.iter().take(5).collect();
        bills[0] = bill_for("b1", &first);
        assert_reported(problems(&completed(2), &rates, &bills), "≠ 20% of");

        let (rates, mut bills) = healthy();
        bills.remove(1);
        assert_reported(problems(&completed(2), &rates, &bills), "which the account does not list");
    }

    #[test]
    fn charges_for_orders_that_did_not_complete_are_reported() {
        let (rates, bills) = healthy();
        let mut cancelled = completed(2);
        cancelled.outcome = OrderOutcome::Cancelled;
        assert_reported(problems(&cancelled, &rates, &bills), "not completed");
        assert!(problems(&cancelled, &[], &[]).is_empty());

        let mut vanished = completed(2);
        vanished.outcome = OrderOutcome::Gone;
        assert_reported(problems(&vanished, &[], &[]), "disappeared");
        vanished.cancel_accepted = true;
        assert!(problems(&vanished, &[], &[]).is_empty());

        let mut stuck = completed(2);
        stuck.outcome = OrderOutcome::Stuck("inProgress".into());
        assert_reported(problems(&stuck, &[], &[]), "still 'inProgress'");
    }

    #[test]
    fn a_prorated_first_period_is_accepted_only_below_a_full_month() {
        let (mut rates, mut bills) = healthy();
        let mut journey = completed(2);
        journey.outcome = OrderOutcome::Completed { completion_date: day("2026-12-20") };
        // Started on 20 Dec inside the period from 3 Dec: the first month is prorated.
        rates[1]["taxExcludedAmount"] = eur(1_500);
        rates[1]["taxIncludedAmount"] = eur(1_800);
        rates[1]["appliedTax"][0]["taxAmount"] = eur(300);
        rates[3]["taxExcludedAmount"] = eur(950);
        rates[3]["taxIncludedAmount"] = eur(1_140);
        rates[3]["appliedTax"][0]["taxAmount"] = eur(190);
        let first: Vec<&Value> = rates.iter().take(5).collect();
        bills[0] = bill_for("b1", &first);
        assert_eq!(problems(&journey, &rates, &bills), Vec::<String>::new());

        rates[1]["taxExcludedAmount"] = eur(2_999 + 1);
        assert_reported(problems(&journey, &rates, &bills), "prorated part");
    }
}
