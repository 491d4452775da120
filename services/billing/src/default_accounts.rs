//! Default billing accounts: where the products of an order that names no billing account are billed
//! (docs/adr/0015, "Default accounts").
//!
//! A customer has at most one default account **per currency**, recorded in `default_billing_account` (primary
//! key `(customer_id, currency)`). It is created on first need by the order-event consumer, inside the
//! transaction that records the event in `processed_event` and writes the products, so a crash or a replay
//! never creates a second one; two transactions needing it at once both `INSERT … ON CONFLICT DO NOTHING` the
//! mapping, the second waits for the first, finds the conflict and reads the winner back.
//!
//! The account itself is an ordinary `billingAccount` of the store (href, lastUpdate, `@type`, `state`
//! active, its BillingAccountCreateEvent in the outbox of the same transaction), with the documented defaults:
//! name "Default account", the currency of the item's prices (`BILLING_DEFAULT_CURRENCY` for an item without
//! prices), `BILLING_DEFAULT_TIME_ZONE`, bill cycle day 1, payment terms 30 days, `BILLING_DEFAULT_TAX_RATE`,
//! and the customer in `relatedParty`. The customer is not checked in the customer service here: the order
//! service checked it when the order was placed, and the consumer has no caller whose token it could relay.

use crate::accounts::{self, BILLING_ACCOUNT, DEFAULT_BILL_CYCLE_DAY, DEFAULT_PAYMENT_TERMS_DAYS};
use crate::calendar::AccountTimeZone;
use crate::charging::TaxRate;
use anyhow::Context as _;
use bss_common::config::{ConfigError, DefaultAccountSettings, Settings};
use bss_tmf::money::Currency;
use bss_tmf::store;
use serde_json::{Value, json};
use sqlx::PgConnection;

/// The name every default account is created with.
pub const DEFAULT_ACCOUNT_NAME: &str = "Default account";

/// The configured defaults, parsed into billing's types.
#[derive(Debug, Clone)]
pub struct DefaultTerms {
    /// For items without prices.
    pub currency: Currency,
    pub time_zone: AccountTimeZone,
    /// As configured (the account keeps the rate as written, like a POSTed one).
    pub tax_rate: String,
}

/// Parses the `BILLING_DEFAULT_*` settings; an error names the variable.
pub fn default_terms(settings: &DefaultAccountSettings) -> Result<DefaultTerms, ConfigError> {
    let currency = Currency::parse(&settings.currency).map_err(|e| {
        ConfigError::new(
            "BILLING_DEFAULT_CURRENCY",
            format!("{:?} is not a currency billing supports: {e}", settings.currency),
        )
    })?;
    let time_zone = AccountTimeZone::parse(&settings.time_zone).map_err(|_| {
        ConfigError::new("BILLING_DEFAULT_TIME_ZONE", format!("{:?} is not an IANA time zone name", settings.time_zone))
    })?;
    settings.tax_rate.parse::<TaxRate>().map_err(|_| {
        ConfigError::new(
            "BILLING_DEFAULT_TAX_RATE",
            format!("{:?} is not a decimal fraction from 0 to 1 with at most four decimals", settings.tax_rate),
        )
    })?;
    Ok(DefaultTerms { currency, time_zone, tax_rate: settings.tax_rate.clone() })
}

/// The billing [`bss_common::ServiceSpec::validate_settings`]: the default account terms must be billable.
pub fn validate_settings(settings: &Settings) -> Result<(), ConfigError> {
    default_terms(&settings.default_account).map(drop)
}

/// The body of a new default account of `customer_id` in `currency`.
pub fn account_body(terms: &DefaultTerms, customer_id: &str, currency: Currency) -> Value {
    json!({
        "name": DEFAULT_ACCOUNT_NAME,
        "description": "Created by billing for the customer's orders that name no billing account.",
        "currency": currency.code(),
        "timeZone": terms.time_zone.name(),
        "taxRate": terms.tax_rate,
        "billCycleDay": DEFAULT_BILL_CYCLE_DAY,
        "paymentTermsDays": DEFAULT_PAYMENT_TERMS_DAYS,
        "relatedParty": [{"id": customer_id, "@referredType": "Customer", "role": "customer"}],
    })
}

/// The id of the default account of `customer_id` in `currency` (`None`: the default currency), created on
/// `tx` when there is none yet. Only the transaction whose mapping insert wins creates the account document
/// and its event; the others read the winner (after it commits, since the insert waits on its row).
pub async fn default_account(
    tx: &mut PgConnection,
    terms: &DefaultTerms,
    customer_id: &str,
    currency: Option<Currency>,
) -> anyhow::Result<String> {
    let currency = currency.unwrap_or(terms.currency);
    let existing: Option<String> = sqlx::query_scalar(
        "SELECT billing_account_id FROM default_billing_account WHERE customer_id = $1 AND currency = $2",
    )
    .bind(customer_id)
    .bind(currency.code())
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let new = store::prepare_new(&BILLING_ACCOUNT, accounts::BASE_PATH, account_body(terms, customer_id, currency))
        .map_err(|e| anyhow::anyhow!("default account terms refused: {e}"))?;
    let won: Option<String> = sqlx::query_scalar(
        "INSERT INTO default_billing_account (customer_id, currency, billing_account_id) VALUES ($1, $2, $3)
         ON CONFLICT ON CONSTRAINT default_billing_account_pkey DO NOTHING RETURNING billing_account_id",
    )
    .bind(customer_id)
    .bind(currency.code())
    .bind(new.id())
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = won {
        store::insert_in(tx, &BILLING_ACCOUNT, new)
            .await
            .map_err(|e| anyhow::anyhow!("creating the default account: {e}"))?;
        tracing::info!(customer = customer_id, currency = currency.code(), account = %id, "default billing account created");
        return Ok(id);
    }
    sqlx::query_scalar(
        "SELECT billing_account_id FROM default_billing_account WHERE customer_id = $1 AND currency = $2",
    )
    .bind(customer_id)
    .bind(currency.code())
    .fetch_optional(&mut *tx)
    .await?
    .context("the default account that won the insert is not visible")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(currency: &str, time_zone: &str, tax_rate: &str) -> DefaultAccountSettings {
        DefaultAccountSettings { currency: currency.into(), time_zone: time_zone.into(), tax_rate: tax_rate.into() }
    }

    #[test]
    fn each_unusable_default_names_its_variable() {
        assert!(default_terms(&settings("EUR", "UTC", "0")).is_ok());
        for (bad, variable) in [
            (settings("XYZ", "UTC", "0"), "BILLING_DEFAULT_CURRENCY"),
            (settings("EUR", "Mars/Olympus", "0"), "BILLING_DEFAULT_TIME_ZONE"),
            (settings("EUR", "UTC", "1.5"), "BILLING_DEFAULT_TAX_RATE"),
            (settings("EUR", "UTC", "20%"), "BILLING_DEFAULT_TAX_RATE"),
        ] {
            assert_eq!(default_terms(&bad).unwrap_err().variable, variable, "{bad:?}");
        }
    }

    #[test]
    fn the_default_account_body_is_a_valid_account_with_the_documented_terms() {
        let terms = default_terms(&settings("EUR", "Europe/Paris", "0.20")).unwrap();
        let body = account_body(&terms, "c-1", Currency::parse("USD").unwrap());
        let parsed = accounts::terms(&body).unwrap();
        assert_eq!(parsed.customer_id, "c-1");
        assert_eq!(parsed.currency.code(), "USD", "the item's currency wins over the default");
        assert_eq!(parsed.time_zone.name(), "Europe/Paris");
        assert_eq!((parsed.bill_cycle_day.get(), parsed.payment_terms_days), (1, 30));
        assert_eq!(parsed.tax_rate.basis_points(), 2000);
        assert_eq!(body["name"], DEFAULT_ACCOUNT_NAME);
    }
}
