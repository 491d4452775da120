//! The TMF678 document this service serves (`/openapi.json`), with the billing accounts (TMF666's base path)
//! and the bill runs beside it, and its differences from the official TMF678 contract.
//!
//! Bills and applied rates are rendered from billing's own tables rather than stored documents, so their
//! shapes are declared here, attribute by attribute, as [`crate::bills`] renders them.

use crate::{BASE_PATH, accounts, bills, ondemand};
use bss_tmf::openapi::contract::{Allowed, Contract};
use bss_tmf::openapi::{ApiDocument, ApiInfo, Method, Operation, RequestBody, Required, Success, list_parameters};
use bss_tmf::schema::{COMMON, Field, Schema, Ty, opt, req};
use serde_json::{Value, json};

const TAX_ITEM: &[Field] = &[opt("taxCategory", Ty::String), opt("taxRate", Ty::Number), opt("taxAmount", Ty::Money)];
const APPLIED_PAYMENT: &[Field] = &[opt("appliedAmount", Ty::Money), opt("payment", Ty::Ref)];
const ATTACHMENT_REF: &[Field] = &[
    req("id", Ty::String),
    opt("href", Ty::String),
    opt("name", Ty::String),
    opt("mimeType", Ty::String),
    opt("attachmentType", Ty::String),
];
const PARTY: &[Field] = &[req("id", Ty::String), opt("role", Ty::String), opt("@referredType", Ty::String)];

/// `CustomerBill` as [`bills::render`] writes it.
static CUSTOMER_BILL: Schema = Schema {
    type_name: "CustomerBill",
    fields: &[
        opt("billNo", Ty::String),
        opt("billDate", Ty::DateTime),
        opt("paymentDueDate", Ty::DateTime),
        opt("nextBillDate", Ty::DateTime),
        opt("billingPeriod", Ty::TimePeriod),
        opt("category", Ty::String),
        opt("runType", Ty::String),
        opt("state", Ty::String),
        opt("lastUpdate", Ty::DateTime),
        opt("amountDue", Ty::Money),
        opt("remainingAmount", Ty::Money),
        opt("taxExcludedAmount", Ty::Money),
        opt("taxIncludedAmount", Ty::Money),
        opt("taxItem", Ty::Array(&Ty::Object(TAX_ITEM))),
        opt("appliedPayment", Ty::Array(&Ty::Object(APPLIED_PAYMENT))),
        opt("billingAccount", Ty::Ref),
        opt("relatedParty", Ty::Array(&Ty::Object(PARTY))),
        opt("billDocument", Ty::Array(&Ty::Object(ATTACHMENT_REF))),
    ],
};

/// `AppliedCustomerBillingRate` as the rate listing renders it.
static APPLIED_RATE: Schema = Schema {
    type_name: "AppliedCustomerBillingRate",
    fields: &[
        opt("name", Ty::String),
        opt("type", Ty::String),
        opt("date", Ty::DateTime),
        opt("isBilled", Ty::Boolean),
        opt("chargeKey", Ty::String),
        opt("billingAccount", Ty::Ref),
        opt("product", Ty::Ref),
        opt("bill", Ty::Ref),
        opt("periodCoverage", Ty::TimePeriod),
        opt("taxExcludedAmount", Ty::Money),
        opt("taxIncludedAmount", Ty::Money),
        opt("appliedTax", Ty::Array(&Ty::Object(TAX_ITEM))),
    ],
};

static BILL_UPDATE: Schema = Schema { type_name: "CustomerBill_Update", fields: &[opt("state", Ty::String)] };

static PAYMENT_CREATE: Schema = Schema {
    type_name: "AppliedPayment_Create",
    fields: &[req("appliedAmount", Ty::Money), opt("payment", Ty::Ref), opt("paymentDate", Ty::DateTime)],
};

static BILL_RUN_CREATE: Schema = Schema {
    type_name: "BillRun_Create",
    fields: &[opt("billDate", Ty::String), opt("billingAccount", Ty::Array(&Ty::Ref))],
};

static BILL_RUN_SUMMARY: Schema = Schema {
    type_name: "BillRunSummary",
    fields: &[
        req("accounts", Ty::Integer),
        req("billsIssued", Ty::Integer),
        req("nothingToBill", Ty::Integer),
        req("alreadyRun", Ty::Integer),
        req("failed", Ty::Integer),
    ],
};

/// The document: billing accounts, bills and their documents, applied rates, payments, bills on demand,
/// bill runs and `/hub`, as [`crate::routes`] registers them.
pub fn document() -> Value {
    let info = ApiInfo {
        title: "TMF678 Customer Bill Management",
        version: env!("CARGO_PKG_VERSION"),
        service: "billing",
        local_port: 8678,
        description: "Bills (TMF678 v4) and what is behind them: billing accounts (under the TMF666 Account \
                      Management base path), the charges rated from completed orders (applied customer billing \
                      rates), bill runs, payments and bills on demand. Amounts are exact decimals in the \
                      currency's minor units.",
    };
    let account = json!({"name": "Jane Doe — main account", "currency": "EUR", "timeZone": "Europe/Paris",
        "taxRate": "20", "billCycleDay": 1, "paymentTermsDays": 30,
        "relatedParty": [{"id": "<customer id>", "@referredType": "Customer", "role": "customer"}]});
    let bill = format!("{BASE_PATH}/customerBill");
    let rate = format!("{BASE_PATH}/appliedCustomerBillingRate");
    let on_demand = format!("{BASE_PATH}/customerBillOnDemand");
    let state_enum = json!(bills::BILL_LIFECYCLE.statuses());
    let on_demand_fields: &[&[Field]] = &[COMMON, ondemand::ON_DEMAND_SCHEMA.fields];
    let every = |_: &Field| true;
    ApiDocument::new(info)
        .collection(accounts::BASE_PATH, &accounts::BILLING_ACCOUNT, bss_tmf::routes::Operations::ALL, account)
        .object(CUSTOMER_BILL.type_name, &[COMMON, CUSTOMER_BILL.fields], every, Required::ANSWER)
        .object(APPLIED_RATE.type_name, &[COMMON, APPLIED_RATE.fields], every, Required::ANSWER)
        .object(BILL_RUN_SUMMARY.type_name, &[COMMON, BILL_RUN_SUMMARY.fields], every, Required::Declared)
        .object(BILL_UPDATE.type_name, &[BILL_UPDATE.fields], every, Required::Declared)
        .object(PAYMENT_CREATE.type_name, &[PAYMENT_CREATE.fields], every, Required::Declared)
        .object(BILL_RUN_CREATE.type_name, &[BILL_RUN_CREATE.fields], every, Required::Declared)
        .object("CustomerBillOnDemand", on_demand_fields, every, Required::ANSWER)
        .object(
            "CustomerBillOnDemand_Create",
            on_demand_fields,
            // What the server sets: the bill it produces, its state and when that changed.
            |field| !matches!(field.name, "id" | "href" | "state" | "lastUpdate" | "customerBill"),
            Required::Declared,
        )
        .operation(
            Operation::new(
                Method::Get,
                bill.clone(),
                "listCustomerBill",
                "customerBill",
                "List or find CustomerBill objects",
            )
            .success(Success::Page("CustomerBill"))
            .errors(&[400])
            .parameters(list_parameters(bills::BILL_LISTING.paging.max_limit)),
        )
        .operation(
            Operation::new(
                Method::Get,
                format!("{bill}/{{id}}"),
                "retrieveCustomerBill",
                "customerBill",
                "Retrieves a CustomerBill by id",
            )
            .success(Success::Json(200, "CustomerBill"))
            .errors(&[400, 404]),
        )
        .operation(
            Operation::new(
                Method::Patch,
                format!("{bill}/{{id}}"),
                "patchCustomerBill",
                "customerBill",
                "Moves a CustomerBill to another state (validated, sent, onHold)",
            )
            .body(RequestBody::Patch("CustomerBill_Update".into(), json!({"state": "validated"})))
            .success(Success::Json(200, "CustomerBill"))
            .errors(&[400, 404, 409, 415]),
        )
        .operation(
            Operation::new(
                Method::Get,
                format!("{bill}/{{id}}/document.html"),
                "retrieveCustomerBillDocumentHtml",
                "customerBill",
                "The bill as an HTML document",
            )
            .success(Success::Binary("text/html"))
            .errors(&[404]),
        )
        .operation(
            Operation::new(
                Method::Get,
                format!("{bill}/{{id}}/document.pdf"),
                "retrieveCustomerBillDocumentPdf",
                "customerBill",
                "The bill as a PDF document",
            )
            .success(Success::Binary("application/pdf"))
            .errors(&[404]),
        )
        .operation(
            Operation::new(
                Method::Post,
                format!("{bill}/{{id}}/appliedPayment"),
                "createAppliedPayment",
                "customerBill",
                "Records a payment against a bill (partiallyPaid, then settled)",
            )
            .body(RequestBody::Json(
                "AppliedPayment_Create".into(),
                json!({"appliedAmount": {"unit": "EUR", "value": 36.0}, "payment": {"id": "PAY-2026-0001"}}),
            ))
            .success(Success::Created("CustomerBill"))
            .errors(&[400, 404, 409, 422]),
        )
        .operation(
            Operation::new(
                Method::Get,
                rate.clone(),
                "listAppliedCustomerBillingRate",
                "appliedCustomerBillingRate",
                "List or find AppliedCustomerBillingRate objects",
            )
            .success(Success::Page("AppliedCustomerBillingRate"))
            .errors(&[400])
            .parameters(list_parameters(bills::RATE_LISTING.paging.max_limit)),
        )
        .operation(
            Operation::new(
                Method::Get,
                format!("{rate}/{{id}}"),
                "retrieveAppliedCustomerBillingRate",
                "appliedCustomerBillingRate",
                "Retrieves an AppliedCustomerBillingRate by id",
            )
            .success(Success::Json(200, "AppliedCustomerBillingRate"))
            .errors(&[400, 404]),
        )
        .operation(
            Operation::new(
                Method::Get,
                on_demand.clone(),
                "listCustomerBillOnDemand",
                "customerBillOnDemand",
                "List or find CustomerBillOnDemand objects",
            )
            .success(Success::Page("CustomerBillOnDemand"))
            .errors(&[400])
            .parameters(list_parameters(ondemand::ON_DEMAND_LISTING.paging.max_limit)),
        )
        .operation(
            Operation::new(
                Method::Post,
                on_demand.clone(),
                "createCustomerBillOnDemand",
                "customerBillOnDemand",
                "Asks for a bill of an account now",
            )
            .body(RequestBody::Json(
                "CustomerBillOnDemand_Create".into(),
                json!({"billingAccount": {"id": "<billing account id>"}, "name": "Closing bill"}),
            ))
            .success(Success::Created("CustomerBillOnDemand"))
            .errors(&[400, 404, 409, 422]),
        )
        .operation(
            Operation::new(
                Method::Get,
                format!("{on_demand}/{{id}}"),
                "retrieveCustomerBillOnDemand",
                "customerBillOnDemand",
                "Retrieves a CustomerBillOnDemand by id",
            )
            .success(Success::Json(200, "CustomerBillOnDemand"))
            .errors(&[400, 404]),
        )
        .operation(
            Operation::new(
                Method::Post,
                format!("{BASE_PATH}/billRun"),
                "createBillRun",
                "billRun",
                "Runs the bill cycle now, as of billDate (YYYY-MM-DD, default today), for all or the listed accounts",
            )
            .body(RequestBody::Json(
                "BillRun_Create".into(),
                json!({"billDate": "2026-02-01", "billingAccount": [{"id": "<billing account id>"}]}),
            ))
            .success(Success::Json(200, "BillRunSummary"))
            .errors(&[400, 422]),
        )
        .hub(BASE_PATH)
        .build_with(|document| {
            document["components"]["schemas"]["CustomerBill"]["properties"]["state"]["enum"] = state_enum;
        })
}

/// The official TMF678 v4 contract and where this service differs on purpose.
pub const CONTRACT: Contract = Contract { official_file: "TMF678-CustomerBill-v4.0.0.swagger.json", allowed: ALLOWED };

const ALLOWED: &[Allowed] = &[
    Allowed {
        at: "GET /billingAccount",
        reason: "billing accounts are TMF666 Account Management, served beside TMF678 at /tmf-api/accountManagement/v4",
    },
    Allowed { at: "GET /billingAccount/{id}", reason: "TMF666 billing accounts" },
    Allowed { at: "POST /billingAccount", reason: "TMF666 billing accounts" },
    Allowed { at: "PATCH /billingAccount/{id}", reason: "TMF666 billing accounts" },
    Allowed { at: "DELETE /billingAccount/{id}", reason: "TMF666 billing accounts" },
    Allowed { at: "GET /customerBill/{id}/document.html", reason: "the bill document (billDocument[] links to it)" },
    Allowed { at: "GET /customerBill/{id}/document.pdf", reason: "the bill document (billDocument[] links to it)" },
    Allowed {
        at: "POST /customerBill/{id}/appliedPayment",
        reason: "payments are recorded against the bill here until a TMF676 Payment service exists",
    },
    Allowed { at: "POST /billRun", reason: "an operator's bill run now, as of a date (the scheduler runs it daily)" },
    Allowed {
        at: "POST /customerBillOnDemand request",
        reason: "a bill on demand is for one billing account, which must be named",
    },
];
