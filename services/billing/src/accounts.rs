//! Billing accounts: the part of TMF666 Account Management that billing needs, served at
//! `/tmf-api/accountManagement/v4/billingAccount` through the shared TMF resource store.
//!
//! An account says who is billed (its customer, in `relatedParty`), in which currency, on which local
//! calendar (IANA `timeZone`, `billCycleDay`), when bills fall due (`paymentTermsDays`) and at which `taxRate`.
//! TMF666 v4 has no first-level attributes for the last five: it puts the cycle under
//! `billStructure.cycleSpecification` (`billingDateShift`, `paymentDueDateOffset`) and has no currency, time
//! zone or tax rate at all. They are first-level extension attributes here (docs/adr/0015), validated into the
//! domain types of [`crate::calendar`] and [`crate::charging`] — the same parsers the bill runs use, so an
//! account that was accepted can always be billed. `billStructure` and the other TMF666 attributes round-trip
//! as sent and are not interpreted.
//!
//! The customer named in `relatedParty` must exist in the customer service and not be `Rejected` or
//! `Closed` ([`crate::customers`]): checked on POST and on a PATCH that changes the customer, before anything is
//! written (422 unknown or closed, 503 when the customer service cannot answer).

use crate::calendar::{AccountTimeZone, BillCycleDay};
use crate::charging::TaxRate;
use crate::customers::check_customer;
use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use bss_common::auth::Principal;
use bss_common::{ApiError, ServiceContext};
use bss_tmf::money::{Currency, Money};
use bss_tmf::patch;
use bss_tmf::query::Paging;
use bss_tmf::schema::{RELATED_PARTY, Schema, Ty, opt, req};
use bss_tmf::store::{self, Lifecycle, ResourceKind};
use serde_json::Value;

/// The TMF666 Account Management API base path.
pub const BASE_PATH: &str = "/tmf-api/accountManagement/v4";

/// Payment terms when an account is created without `paymentTermsDays`.
pub const DEFAULT_PAYMENT_TERMS_DAYS: i64 = 30;
/// Bill cycle day when an account is created without `billCycleDay`.
pub const DEFAULT_BILL_CYCLE_DAY: i64 = 1;
/// The longest payment terms accepted (a year).
pub const MAX_PAYMENT_TERMS_DAYS: i64 = 365;

/// Accounts per page: 100 by default, at most 1,000.
pub const PAGING: Paging = Paging { default_limit: 100, max_limit: 1_000 };

/// The billing account lifecycle (TMF666 names `state` but draws no state machine):
///
/// ```text
/// active ⇄ suspended
///   │          │
///   └──→ closed ←┘        closed is final
/// ```
/// A suspended account keeps being charged (its products still run) but is not billed until reactivated;
/// a closed account is billed no more. Only a closed account may be deleted.
pub static LIFECYCLE: Lifecycle = Lifecycle {
    attribute: "state",
    initial: "active",
    transitions: &[("active", &["suspended", "closed"]), ("suspended", &["active", "closed"]), ("closed", &[])],
};

static BILLING_ACCOUNT_SCHEMA: Schema = Schema {
    type_name: "BillingAccount",
    fields: &[
        req("name", Ty::String),
        req("relatedParty", Ty::Array(&Ty::Object(RELATED_PARTY))),
        req("currency", Ty::String),
        req("timeZone", Ty::String),
        req("taxRate", Ty::String),
        opt("billCycleDay", Ty::Integer),
        opt("paymentTermsDays", Ty::Integer),
        opt("state", Ty::String),
        opt("description", Ty::String),
        opt("accountType", Ty::String),
        opt("paymentStatus", Ty::String),
        opt("ratingType", Ty::String),
        opt("lastModified", Ty::DateTime),
        opt("lastUpdate", Ty::DateTime),
        opt("accountBalance", Ty::Array(&Ty::Any)),
        opt("accountRelationship", Ty::Array(&Ty::Any)),
        opt("billStructure", Ty::Any),
        opt("contact", Ty::Array(&Ty::Any)),
        opt("creditLimit", Ty::Money),
        opt("defaultPaymentMethod", Ty::Ref),
        opt("financialAccount", Ty::Ref),
        opt("paymentPlan", Ty::Array(&Ty::Any)),
        opt("taxExemption", Ty::Array(&Ty::Any)),
    ],
};

/// The account attributes billing computes with, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountTerms {
    pub customer_id: String,
    pub currency: Currency,
    pub time_zone: AccountTimeZone,
    pub bill_cycle_day: BillCycleDay,
    pub payment_terms_days: u16,
    pub tax_rate: TaxRate,
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message.into())
}

fn integer(account: &Value, name: &str, default: i64) -> Result<i64, ApiError> {
    match account.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(value) => value.as_i64().ok_or_else(|| bad(format!("'{name}' must be an integer."))),
    }
}

fn text<'a>(account: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    account.get(name).and_then(Value::as_str).ok_or_else(|| bad(format!("'{name}' is required.")))
}

/// The customer reference: exactly one `relatedParty` entry with `role` or `@referredType` "Customer" (any
/// case, as the order service reads it).
pub fn customer_id(account: &Value) -> Result<String, ApiError> {
    let parties = account.get("relatedParty").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let customers: Vec<&Value> = parties
        .iter()
        .filter(|party| {
            party.get("role").and_then(Value::as_str).is_some_and(|role| role.eq_ignore_ascii_case("customer"))
                || party
                    .get("@referredType")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case("customer"))
        })
        .collect();
    match customers.as_slice() {
        [customer] => customer
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| bad("'relatedParty' customer entry needs an id.")),
        [] => Err(bad("'relatedParty' must name the customer (role \"customer\" or @referredType \"Customer\").")),
        _ => Err(bad("'relatedParty' must name exactly one customer.")),
    }
}

/// Parses the billing terms of an account document (a created or patched one, or one read back).
pub fn terms(account: &Value) -> Result<AccountTerms, ApiError> {
    let customer_id = customer_id(account)?;
    let currency = Currency::parse(text(account, "currency")?)
        .map_err(|_| bad("'currency' must be an ISO 4217 code this service supports (e.g. EUR)."))?;
    let time_zone = AccountTimeZone::parse(text(account, "timeZone")?)
        .map_err(|_| bad("'timeZone' must be an IANA time zone name (e.g. Europe/Paris)."))?;
    let bill_cycle_day = BillCycleDay::new(integer(account, "billCycleDay", DEFAULT_BILL_CYCLE_DAY)?)
        .map_err(|_| bad("'billCycleDay' must be an integer from 1 to 31."))?;
    let payment_terms_days = u16::try_from(integer(account, "paymentTermsDays", DEFAULT_PAYMENT_TERMS_DAYS)?)
        .ok()
        .filter(|days| i64::from(*days) <= MAX_PAYMENT_TERMS_DAYS)
        .ok_or_else(|| bad(format!("'paymentTermsDays' must be an integer from 0 to {MAX_PAYMENT_TERMS_DAYS}.")))?;
    let tax_rate = text(account, "taxRate")?.parse::<TaxRate>().map_err(|_| {
        bad("'taxRate' must be a decimal fraction from 0 to 1 with at most four decimals (e.g. \"0.20\").")
    })?;
    if let Some(limit) = account.get("creditLimit").filter(|v| !v.is_null()) {
        let limit = Money::from_tmf(limit).map_err(|e| bad(format!("'creditLimit': {e}.")))?;
        if limit.currency() != currency {
            return Err(bad("'creditLimit.unit' must be the account's currency."));
        }
    }
    Ok(AccountTerms { customer_id, currency, time_zone, bill_cycle_day, payment_terms_days, tax_rate })
}

fn validate(account: &Value) -> Result<(), ApiError> {
    terms(account).map(|_| ())
}

/// Only a closed account may be deleted (409 otherwise): bills and charges refer to the others.
fn deletable(account: &Value) -> Result<(), ApiError> {
    match account.get("state").and_then(Value::as_str) {
        Some("closed") => Ok(()),
        Some(state) => {
            Err(ApiError::conflict(format!("A billing account in '{state}' cannot be deleted; close it first.")))
        }
        None => Ok(()),
    }
}

/// The `billingAccount` resource. `currency`, `timeZone` and `billCycleDay` are not patchable: periods already
/// billed were cut on that calendar, and an account bills in one currency (docs/adr/0015).
pub static BILLING_ACCOUNT: ResourceKind = ResourceKind {
    name: "billingAccount",
    schema: &BILLING_ACCOUNT_SCHEMA,
    lifecycle: Some(&LIFECYCLE),
    patchable: &[
        "name",
        "state",
        "description",
        "relatedParty",
        "paymentTermsDays",
        "taxRate",
        "accountType",
        "paymentStatus",
        "ratingType",
        "accountBalance",
        "accountRelationship",
        "billStructure",
        "contact",
        "creditLimit",
        "defaultPaymentMethod",
        "financialAccount",
        "paymentPlan",
        "taxExemption",
        "@baseType",
        "@schemaLocation",
        "@type",
    ],
    paging: PAGING,
    cached: false,
    validate,
    deletable,
    check_change: bss_tmf::store::accept_change,
    derive: bss_tmf::store::derive_nothing,
    extra_events: bss_tmf::store::no_extra_events,
};

/// POST handler: fills the documented defaults (`billCycleDay` 1, `paymentTermsDays` 30) so the stored
/// document states the terms it is billed on, checks the body, then the customer in the customer service (so a
/// malformed body is a 400 without a network call), then creates through the store.
async fn create(
    req: HttpRequest,
    ctx: web::Data<ServiceContext>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let mut body = body.into_inner();
    if let Some(object) = body.as_object_mut() {
        for (name, default) in
            [("billCycleDay", DEFAULT_BILL_CYCLE_DAY), ("paymentTermsDays", DEFAULT_PAYMENT_TERMS_DAYS)]
        {
            if object.get(name).is_none_or(Value::is_null) {
                object.insert(name.into(), Value::from(default));
            }
        }
    }
    BILLING_ACCOUNT.schema.check(&body)?;
    let terms = terms(&body)?;
    let caller = req.extensions().get::<Principal>().cloned();
    check_customer(&ctx, caller.as_ref(), &terms.customer_id).await?;
    let created = store::create(&ctx, &BILLING_ACCOUNT, BASE_PATH, body).await?;
    let location = created["href"].as_str().unwrap_or_default().to_owned();
    Ok(HttpResponse::Created().insert_header((header::LOCATION, location)).json(created))
}

/// The PATCH of the store, plus the customer check when the patch changes the account's customer.
///
/// The patch is tried on the current document first; when its customer differs, that customer is checked in
/// the customer service before the store applies the patch under its row lock. Should a concurrent PATCH have
/// changed the customer in between, so that this patch would now move the account to a customer that was not
/// checked, it is refused with 409 (retry) rather than written unchecked.
async fn patch_account(
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
    ctx: web::Data<ServiceContext>,
) -> Result<HttpResponse, ApiError> {
    let format = bss_tmf::routes::patch_format(&req)?;
    let current = store::get(&ctx, &BILLING_ACCOUNT, &id).await?;
    let proposed = patch::apply(&current, format, &body)?;
    patch::ensure_patchable(&patch::changed_attributes(&current, &proposed), BILLING_ACCOUNT.patchable)?;
    BILLING_ACCOUNT.schema.check(&proposed)?;
    let new_customer = terms(&proposed)?.customer_id;
    let checked = if customer_id(&current).ok().as_deref() == Some(new_customer.as_str()) {
        None
    } else {
        let caller = req.extensions().get::<Principal>().cloned();
        check_customer(&ctx, caller.as_ref(), &new_customer).await?;
        Some(new_customer)
    };
    let patched = store::update_with(&ctx, &BILLING_ACCOUNT, &id, |before| {
        let after = patch::apply(before, format, &body)?;
        patch::ensure_patchable(&patch::changed_attributes(before, &after), BILLING_ACCOUNT.patchable)?;
        let (was, is) = (customer_id(before).ok(), customer_id(&after).ok());
        if is.is_some() && is != was && is != checked {
            return Err(ApiError::conflict(
                "The billing account's customer changed while this PATCH was checked; retry it.",
            ));
        }
        Ok(after)
    })
    .await?;
    Ok(HttpResponse::Ok().json(patched))
}

/// Registers `billingAccount` (list, create, read, PATCH, DELETE) under [`BASE_PATH`].
pub fn configure(config: &mut web::ServiceConfig) {
    bss_tmf::routes::configure_with_create_and_patch(config, BASE_PATH, &BILLING_ACCOUNT, create, patch_account);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn account() -> Value {
        json!({"name": "Jane's account", "currency": "EUR", "timeZone": "Europe/Paris", "taxRate": "0.20",
               "relatedParty": [{"id": "c1", "@referredType": "Customer", "role": "customer"}]})
    }

    fn message(account: &Value) -> String {
        validate(account).unwrap_err().message().to_owned()
    }

    #[test]
    fn a_valid_account_parses_into_its_billing_terms_with_defaults() {
        let terms = terms(&account()).unwrap();
        assert_eq!(terms.customer_id, "c1");
        assert_eq!(terms.currency.code(), "EUR");
        assert_eq!(terms.time_zone.name(), "Europe/Paris");
        assert_eq!((terms.bill_cycle_day.get(), terms.payment_terms_days), (1, 30));
        assert_eq!(terms.tax_rate.basis_points(), 2000);
    }

    #[test]
    fn each_invalid_term_is_refused_naming_its_attribute() {
        let cases = [
            ("currency", json!("EURO")),
            ("timeZone", json!("Europe/Atlantis")),
            ("billCycleDay", json!(0)),
            ("billCycleDay", json!(32)),
            ("paymentTermsDays", json!(-1)),
            ("paymentTermsDays", json!(366)),
            ("taxRate", json!("20%")),
            ("taxRate", json!("1.5")),
        ];
        for (attribute, value) in cases {
            let mut body = account();
            body[attribute] = value.clone();
            assert!(message(&body).contains(&format!("'{attribute}'")), "{attribute} = {value}: {}", message(&body));
        }
    }

    #[test]
    fn the_customer_must_be_named_exactly_once() {
        let mut body = account();
        body["relatedParty"] = json!([{"id": "u1", "@referredType": "Individual", "role": "contact"}]);
        assert!(message(&body).contains("'relatedParty'"));
        body["relatedParty"] = json!([{"id": "c1", "@referredType": "Customer"}, {"id": "c2", "@referredType": "Organization", "role": "Customer"}]);
        assert!(message(&body).contains("exactly one"));
        body["relatedParty"] = json!([{"id": "c2", "@referredType": "Organization", "role": "Customer"}]);
        assert_eq!(terms(&body).unwrap().customer_id, "c2", "role alone is enough");
    }

    #[test]
    fn a_credit_limit_in_another_currency_is_refused() {
        let mut body = account();
        body["creditLimit"] = json!({"unit": "USD", "value": 100});
        assert!(message(&body).contains("'creditLimit.unit'"));
        body["creditLimit"] = json!({"unit": "EUR", "value": 100});
        assert!(validate(&body).is_ok());
    }

    #[test]
    fn only_a_closed_account_may_be_deleted() {
        assert!(deletable(&json!({"state": "closed"})).is_ok());
        for state in ["active", "suspended"] {
            assert_eq!(deletable(&json!({"state": state})).unwrap_err().status().as_u16(), 409, "{state}");
        }
    }
}
