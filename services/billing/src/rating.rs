//! Rating: an account's billable products become applied rates (TMF678 `AppliedCustomerBillingRate`), as of a
//! local date.
//!
//! What each product costs comes from the pure rules of [`crate::charging`]; this module only chooses which of
//! them are due and stores them. Storing is `INSERT … ON CONFLICT (charge_key) DO NOTHING`: rating the same
//! account twice, concurrently, or after a crash writes each charge once, because the charge key — not this
//! code — is unique (docs/adr/0016).
//!
//! As of date `as_of` (a cycle run's bill date, or today for an on-demand bill), a product is charged:
//! - every recurring price, for each billing period starting on or before `as_of` (billed in advance; the
//!   period the product starts in is prorated), never for a period starting on or after its stop date;
//! - every one-time price once, when the product started on or before `as_of`;
//! - a credit for the unused days of the period it stopped in, once its stop date is on or before `as_of`; and
//!   a full reversal of any later period already charged (a termination that arrived after that period was
//!   billed in advance).
//!
//! Prices are the order's snapshot (`billable_product_price`) times the product's quantity, in the account's
//! currency; a price in another currency, or a recurring period other than the account's monthly cycle, cannot
//! be rated and fails the run with a reason rather than billing something wrong.

use crate::calendar::{BillCycleDay, BillingPeriod};
use crate::charging::{self, Charge, ChargeError, ChargeKind, RecurringProduct};
use bss_tmf::money::{Currency, Money};
use chrono::NaiveDate;
use sqlx::PgConnection;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Why an account's products could not be rated. The message is shown as the run's reason.
#[derive(Debug, thiserror::Error)]
pub enum RatingError {
    #[error("product {product} is priced in {price}, but the account bills in {account}")]
    Currency { product: Uuid, price: String, account: &'static str },
    #[error(
        "product {product} has a recurring price every '{period}'; only monthly prices follow the account's bill cycle"
    )]
    RecurringPeriod { product: Uuid, period: String },
    #[error("product {product}: {source}")]
    Charge { product: Uuid, source: ChargeError },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// One price of a product's snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotPrice {
    pub position: i32,
    pub name: Option<String>,
    pub price_type: String,
    pub recurring_charge_period: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
}

/// A billable product as rating sees it: local start and stop dates, quantity, prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductToRate {
    pub id: Uuid,
    pub offering_name: Option<String>,
    pub quantity: i32,
    pub start: NaiveDate,
    /// The first date no longer charged.
    pub stop: Option<NaiveDate>,
    pub prices: Vec<SnapshotPrice>,
}

/// A charge ready to store: what [`charging`] computed, plus the product, a readable name and the date from
/// which it may be billed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatedCharge {
    pub charge: Charge,
    pub product: Uuid,
    pub name: String,
    pub chargeable_on: NaiveDate,
}

/// Whether a TMF `recurringChargePeriod` is the account's monthly cycle (absent means the cycle).
fn is_monthly(period: Option<&str>) -> bool {
    match period.map(|p| p.trim().to_ascii_lowercase()) {
        None => true,
        Some(p) => matches!(p.as_str(), "" | "month" | "monthly" | "1 month" | "months"),
    }
}

fn line_name(product: &ProductToRate, price: &SnapshotPrice) -> String {
    let offering = product.offering_name.as_deref().unwrap_or("Product");
    match price.name.as_deref() {
        Some(name) if !name.is_empty() => format!("{offering} — {name}"),
        _ => offering.to_owned(),
    }
}

/// Every charge of `product` due as of `as_of` on an account billing in `currency` on `cycle` (pure).
pub fn charges_as_of(
    product: &ProductToRate,
    cycle: BillCycleDay,
    currency: Currency,
    as_of: NaiveDate,
) -> Result<Vec<RatedCharge>, RatingError> {
    let mut rated = Vec::new();
    if product.start > as_of {
        return Ok(rated);
    }
    let charge_error = |source| RatingError::Charge { product: product.id, source };
    for price in &product.prices {
        if price.currency != currency.code() {
            return Err(RatingError::Currency {
                product: product.id,
                price: price.currency.clone(),
                account: currency.code(),
            });
        }
        let amount = price
            .amount_minor
            .checked_mul(i64::from(product.quantity))
            .ok_or(RatingError::Charge { product: product.id, source: ChargeError::Overflow })?;
        let amount = Money::from_minor(amount, currency);
        // One price of one product: the charge keys must tell the product's prices apart.
        let priced_product = format!("{}/{}", product.id, price.position);
        let name = line_name(product, price);
        let mut push = |charge: Charge, chargeable_on: NaiveDate| {
            rated.push(RatedCharge { charge, product: product.id, name: name.clone(), chargeable_on });
        };
        match price.price_type.as_str() {
            "recurring" => {
                if !is_monthly(price.recurring_charge_period.as_deref()) {
                    return Err(RatingError::RecurringPeriod {
                        product: product.id,
                        period: price.recurring_charge_period.clone().unwrap_or_default(),
                    });
                }
                let recurring = RecurringProduct {
                    product_id: priced_product,
                    price: amount,
                    start: product.start,
                    stop: product.stop,
                };
                for charge in recurring.charges_through(cycle, as_of).map_err(charge_error)? {
                    let from = charge.covers.map_or(product.start, BillingPeriod::start);
                    push(charge, from);
                }
                if let Some(stop) = product.stop.filter(|stop| *stop <= as_of)
                    && let Some(credit) = charging::cancellation_credit(&recurring, cycle).map_err(charge_error)?
                {
                    push(credit, stop);
                }
            }
            "oneTime" | "one time" | "onetime" => {
                push(charging::one_time_charge(&priced_product, amount), product.start)
            }
            // Usage and other price types are rated elsewhere (not by this service yet).
            _ => {}
        }
    }
    Ok(rated)
}

/// Loads the account's products that started on or before `as_of`, with their prices.
async fn products(
    conn: &mut PgConnection,
    account_id: &str,
    as_of: NaiveDate,
) -> Result<Vec<ProductToRate>, sqlx::Error> {
    type Row = (
        Uuid,
        Option<String>,
        i32,
        NaiveDate,
        Option<NaiveDate>,
        Option<i32>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT p.id, p.product_offering_name, p.quantity, p.start_date, p.end_date,
                pr.position, pr.name, pr.price_type, pr.recurring_charge_period, pr.amount_minor, pr.currency::text
         FROM billable_product p
         LEFT JOIN billable_product_price pr ON pr.billable_product_id = p.id
         WHERE p.billing_account_id = $1 AND p.start_date <= $2
         ORDER BY p.id, pr.position",
    )
    .bind(account_id)
    .bind(as_of)
    .fetch_all(&mut *conn)
    .await?;
    let mut products: BTreeMap<Uuid, ProductToRate> = BTreeMap::new();
    for (id, offering_name, quantity, start, stop, position, name, price_type, period, amount, currency) in rows {
        let product = products.entry(id).or_insert_with(|| ProductToRate {
            id,
            offering_name,
            quantity,
            start,
            stop,
            prices: Vec::new(),
        });
        if let (Some(position), Some(price_type), Some(amount_minor), Some(currency)) =
            (position, price_type, amount, currency)
        {
            product.prices.push(SnapshotPrice {
                position,
                name,
                price_type,
                recurring_charge_period: period,
                amount_minor,
                currency,
            });
        }
    }
    Ok(products.into_values().collect())
}

/// Recurring charges already stored for periods starting on or after their product's stop date: charged in
/// advance before the termination arrived. Each gets a full reversal (`…:reversal:<period start>`).
async fn reversals(conn: &mut PgConnection, stopped: &[(Uuid, NaiveDate)]) -> Result<Vec<RatedCharge>, sqlx::Error> {
    if stopped.is_empty() {
        return Ok(Vec::new());
    }
    let (ids, stops): (Vec<Uuid>, Vec<NaiveDate>) = stopped.iter().copied().unzip();
    type Row = (Uuid, String, String, i64, String, NaiveDate, NaiveDate, NaiveDate);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT r.billable_product_id, r.charge_key, r.name, r.amount_minor, r.currency::text, r.covers_start,
                r.covers_end, s.stop
         FROM applied_rate r
         JOIN unnest($1::uuid[], $2::date[]) AS s(product, stop) ON s.product = r.billable_product_id
         WHERE r.kind = 'recurring' AND r.covers_start >= s.stop
         ORDER BY r.charge_key",
    )
    .bind(&ids)
    .bind(&stops)
    .fetch_all(&mut *conn)
    .await?;
    let mut reversed = Vec::new();
    for (product, key, name, amount, currency, start, end, stop) in rows {
        let (Ok(currency), Ok(covers)) = (Currency::parse(&currency), BillingPeriod::new(start, end)) else { continue };
        let Some(price_key) = key.rsplit_once(":recurring:").map(|(head, _)| head.to_owned()) else { continue };
        reversed.push(RatedCharge {
            charge: Charge {
                charge_key: format!("{price_key}:reversal:{start}"),
                product_id: price_key.trim_start_matches("product:").to_owned(),
                kind: ChargeKind::Credit,
                amount: Money::from_minor(-amount, currency),
                covers: Some(covers),
                period: Some(covers),
            },
            product,
            name,
            chargeable_on: stop,
        });
    }
    Ok(reversed)
}

/// Rates the account as of `as_of` inside the caller's transaction; returns how many new rates were stored.
pub async fn rate_account(
    conn: &mut PgConnection,
    account_id: &str,
    cycle: BillCycleDay,
    currency: Currency,
    as_of: NaiveDate,
) -> Result<u64, RatingError> {
    let mut charges = Vec::new();
    let mut stopped = Vec::new();
    for product in products(conn, account_id, as_of).await? {
        charges.extend(charges_as_of(&product, cycle, currency, as_of)?);
        if let Some(stop) = product.stop.filter(|stop| *stop <= as_of) {
            stopped.push((product.id, stop));
        }
    }
    charges.extend(reversals(conn, &stopped).await?);
    if charges.is_empty() {
        return Ok(0);
    }
    // Keys in one order, so two runs inserting the same keys never wait on each other in a cycle.
    charges.sort_by(|a, b| a.charge.charge_key.cmp(&b.charge.charge_key));
    let mut ids = Vec::with_capacity(charges.len());
    let mut keys = Vec::with_capacity(charges.len());
    let mut products = Vec::with_capacity(charges.len());
    let mut kinds = Vec::with_capacity(charges.len());
    let mut names = Vec::with_capacity(charges.len());
    let mut amounts = Vec::with_capacity(charges.len());
    let mut currencies = Vec::with_capacity(charges.len());
    let mut covers_start: Vec<Option<NaiveDate>> = Vec::with_capacity(charges.len());
    let mut covers_end: Vec<Option<NaiveDate>> = Vec::with_capacity(charges.len());
    let mut chargeable = Vec::with_capacity(charges.len());
    for rated in charges {
        ids.push(Uuid::now_v7());
        keys.push(rated.charge.charge_key);
        products.push(rated.product);
        kinds.push(rated.charge.kind.as_str());
        names.push(rated.name);
        amounts.push(rated.charge.amount.minor());
        currencies.push(rated.charge.amount.currency().code());
        covers_start.push(rated.charge.covers.map(BillingPeriod::start));
        covers_end.push(rated.charge.covers.map(BillingPeriod::end));
        chargeable.push(rated.chargeable_on);
    }
    let inserted = sqlx::query(
        "INSERT INTO applied_rate (id, charge_key, billable_product_id, billing_account_id, kind, name, amount_minor,
             currency, covers_start, covers_end, chargeable_on)
         SELECT id, key, product, $4, kind, name, amount, currency, covers_start, covers_end, chargeable_on
         FROM unnest($1::uuid[], $2::text[], $3::uuid[], $5::text[], $6::text[], $7::bigint[], $8::text[],
                     $9::date[], $10::date[], $11::date[])
              AS c(id, key, product, kind, name, amount, currency, covers_start, covers_end, chargeable_on)
         ON CONFLICT ON CONSTRAINT applied_rate_charge_key_key DO NOTHING",
    )
    .bind(&ids)
    .bind(&keys)
    .bind(&products)
    .bind(account_id)
    .bind(&kinds)
    .bind(&names)
    .bind(&amounts)
    .bind(&currencies)
    .bind(&covers_start)
    .bind(&covers_end)
    .bind(&chargeable)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    fn product(start: &str, stop: Option<&str>, prices: Vec<SnapshotPrice>) -> ProductToRate {
        ProductToRate {
            id: Uuid::nil(),
            offering_name: Some("Fibre".into()),
            quantity: 1,
            start: date(start),
            stop: stop.map(date),
            prices,
        }
    }

    fn price(position: i32, price_type: &str, minor: i64) -> SnapshotPrice {
        SnapshotPrice {
            position,
            name: Some("Monthly".into()),
            price_type: price_type.into(),
            recurring_charge_period: (price_type == "recurring").then(|| "month".into()),
            amount_minor: minor,
            currency: "EUR".into(),
        }
    }

    fn amounts(charges: &[RatedCharge]) -> Vec<(String, i64)> {
        charges.iter().map(|c| (c.charge.charge_key.clone(), c.charge.amount.minor())).collect()
    }

    #[test]
    fn a_product_started_on_the_tenth_is_prorated_then_billed_in_advance() {
        let cycle = BillCycleDay::new(1).unwrap();
        let p = product("2026-01-10", None, vec![price(0, "recurring", 5000), price(1, "oneTime", 4900)]);
        let charges = charges_as_of(&p, cycle, eur(), date("2026-02-01")).unwrap();
        let nil = Uuid::nil();
        assert_eq!(
            amounts(&charges),
            [
                (format!("product:{nil}/0:recurring:2026-01-01"), 3548),
                (format!("product:{nil}/0:recurring:2026-02-01"), 5000),
                (format!("product:{nil}/1:onetime"), 4900),
            ]
        );
        assert_eq!(charges[0].chargeable_on, date("2026-01-10"));
    }

    #[test]
    fn nothing_is_due_before_the_product_starts_and_quantity_multiplies() {
        let cycle = BillCycleDay::new(1).unwrap();
        let mut p = product("2026-03-05", None, vec![price(0, "recurring", 1000)]);
        assert!(charges_as_of(&p, cycle, eur(), date("2026-03-01")).unwrap().is_empty());
        p.quantity = 3;
        let charges = charges_as_of(&p, cycle, eur(), date("2026-03-05")).unwrap();
        // 30.00 × 27 of 31 days.
        assert_eq!(charges[0].charge.amount.minor(), 2613);
    }

    #[test]
    fn a_stop_inside_a_charged_period_credits_the_unused_days_once_it_is_due() {
        let cycle = BillCycleDay::new(1).unwrap();
        let p = product("2026-01-01", Some("2026-02-15"), vec![price(0, "recurring", 5000)]);
        let before = charges_as_of(&p, cycle, eur(), date("2026-02-01")).unwrap();
        assert_eq!(before.iter().map(|c| c.charge.amount.minor()).sum::<i64>(), 10_000);
        let after = charges_as_of(&p, cycle, eur(), date("2026-03-01")).unwrap();
        let credit = after.iter().find(|c| c.charge.kind == ChargeKind::Credit).unwrap();
        assert_eq!((credit.charge.amount.minor(), credit.chargeable_on), (-2500, date("2026-02-15")));
        assert_eq!(after.len(), 3, "January, February and the credit; nothing for March");
    }

    #[test]
    fn a_price_in_another_currency_or_period_is_refused_not_billed() {
        let cycle = BillCycleDay::new(1).unwrap();
        let mut usd = price(0, "recurring", 100);
        usd.currency = "USD".into();
        let p = product("2026-01-01", None, vec![usd]);
        assert!(matches!(charges_as_of(&p, cycle, eur(), date("2026-01-01")), Err(RatingError::Currency { .. })));
        let mut yearly = price(0, "recurring", 100);
        yearly.recurring_charge_period = Some("year".into());
        let p = product("2026-01-01", None, vec![yearly]);
        assert!(matches!(
            charges_as_of(&p, cycle, eur(), date("2026-01-01")),
            Err(RatingError::RecurringPeriod { .. })
        ));
    }
}
