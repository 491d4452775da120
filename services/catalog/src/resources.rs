//! The five TMF620 v4.1 catalog resources: their body schemas, lifecycle and rules.
//!
//! Schemas are transcribed from the `*_Create` definitions of the official specification
//! (`TMF620-ProductCatalog-v4.1.0.swagger.json`); patchable attributes from the `*_Update` definitions.
//! The lifecycle and the sellability rule are this project's (TMF620 lists the statuses but draws no state
//! machine): see docs/adr/0010-catalog-lifecycle-and-sellability.md.

use bss_common::ApiError;
use bss_tmf::query::Paging;
use bss_tmf::schema::{Field, RELATED_PARTY, Schema, Ty, opt, req};
use bss_tmf::store::{Lifecycle, ResourceKind};
use serde_json::Value;

/// Page size of catalog lists: 100 by default, at most 1,000.
pub const PAGING: Paging = Paging { default_limit: 100, max_limit: 1_000 };

/// The catalog lifecycle shared by every catalog resource.
///
/// ```text
/// In study → In design → In test → Active → Launched → Retired → Obsolete
///     └──────────┴───────────┴──→ Rejected        Active ──────────→ Retired
/// ```
/// Work can step back during design (`In design → In study`, `In test → In design`); `Obsolete` and
/// `Rejected` are final.
pub static LIFECYCLE: Lifecycle = Lifecycle {
    attribute: "lifecycleStatus",
    initial: "In study",
    transitions: &[
        ("In study", &["In design", "Rejected"]),
        ("In design", &["In study", "In test", "Rejected"]),
        ("In test", &["In design", "Active", "Launched", "Rejected"]),
        ("Active", &["Launched", "Retired"]),
        ("Launched", &["Retired"]),
        ("Retired", &["Obsolete"]),
        ("Obsolete", &[]),
        ("Rejected", &[]),
    ],
};

pub use bss_tmf::sellable::{SELLABLE_STATUSES, is_sellable};

const REFS: Ty = Ty::Array(&Ty::Ref);

const CHARACTERISTIC_VALUE: &[Field] = &[
    opt("isDefault", Ty::Boolean),
    opt("rangeInterval", Ty::String),
    opt("regex", Ty::String),
    opt("unitOfMeasure", Ty::String),
    opt("valueFrom", Ty::Integer),
    opt("valueTo", Ty::Integer),
    opt("valueType", Ty::String),
    opt("validFor", Ty::TimePeriod),
    opt("value", Ty::Any),
];

const SPEC_CHARACTERISTIC: &[Field] = &[
    opt("id", Ty::String),
    opt("name", Ty::String),
    opt("description", Ty::String),
    opt("configurable", Ty::Boolean),
    opt("extensible", Ty::Boolean),
    opt("isUnique", Ty::Boolean),
    opt("maxCardinality", Ty::Integer),
    opt("minCardinality", Ty::Integer),
    opt("regex", Ty::String),
    opt("valueType", Ty::String),
    opt("productSpecCharRelationship", Ty::Array(&Ty::Any)),
    opt("productSpecCharacteristicValue", Ty::Array(&Ty::Object(CHARACTERISTIC_VALUE))),
    opt("validFor", Ty::TimePeriod),
    opt("@valueSchemaLocation", Ty::String),
];

const CHAR_VALUE_USE: &[Field] = &[
    opt("id", Ty::String),
    opt("name", Ty::String),
    opt("description", Ty::String),
    opt("maxCardinality", Ty::Integer),
    opt("minCardinality", Ty::Integer),
    opt("valueType", Ty::String),
    opt("productSpecCharacteristicValue", Ty::Array(&Ty::Object(CHARACTERISTIC_VALUE))),
    opt("productSpecification", Ty::Ref),
    opt("validFor", Ty::TimePeriod),
];

const ATTACHMENT: &[Field] = &[
    opt("attachmentType", Ty::String),
    opt("content", Ty::String),
    opt("description", Ty::String),
    opt("mimeType", Ty::String),
    opt("name", Ty::String),
    opt("url", Ty::String),
    opt("size", Ty::Quantity),
    opt("validFor", Ty::TimePeriod),
    opt("@referredType", Ty::String),
];

const TERM: &[Field] = &[
    opt("name", Ty::String),
    opt("description", Ty::String),
    opt("duration", Ty::Quantity),
    opt("validFor", Ty::TimePeriod),
];

const TAX_ITEM: &[Field] = &[opt("taxCategory", Ty::String), opt("taxRate", Ty::Number), opt("taxAmount", Ty::Money)];

const RELATIONSHIP: &[Field] = &[
    opt("name", Ty::String),
    opt("relationshipType", Ty::String),
    opt("role", Ty::String),
    opt("validFor", Ty::TimePeriod),
    opt("@referredType", Ty::String),
];

const PRICE_VALUE: &[Field] = &[
    opt("percentage", Ty::Number),
    opt("taxCategory", Ty::String),
    opt("taxRate", Ty::Number),
    opt("dutyFreeAmount", Ty::Money),
    opt("taxIncludedAmount", Ty::Money),
];

/// `ProductOfferingPriceRefOrValue`: a reference to a price resource (`id`) or a price written inline.
const PRICE_REF_OR_VALUE: &[Field] = &[
    opt("name", Ty::String),
    opt("description", Ty::String),
    opt("lastUpdate", Ty::DateTime),
    opt("lifecycleStatus", Ty::String),
    opt("priceType", Ty::String),
    opt("recurringChargePeriod", Ty::String),
    opt("recurringChargePeriodLength", Ty::Integer),
    opt("version", Ty::String),
    opt("constraint", REFS),
    opt("price", Ty::Object(PRICE_VALUE)),
    opt("priceAlteration", Ty::Array(&Ty::Any)),
    opt("unitOfMeasure", Ty::Quantity),
    opt("validFor", Ty::TimePeriod),
    opt("@referredType", Ty::String),
];

const BUNDLED_OFFERING: &[Field] = &[
    req("id", Ty::String),
    opt("lifecycleStatus", Ty::String),
    opt("name", Ty::String),
    opt("bundledProductOfferingOption", Ty::Any),
];

static CATALOG_SCHEMA: Schema = Schema {
    type_name: "Catalog",
    fields: &[
        req("name", Ty::String),
        opt("catalogType", Ty::String),
        opt("description", Ty::String),
        opt("lastUpdate", Ty::DateTime),
        opt("lifecycleStatus", Ty::String),
        opt("version", Ty::String),
        opt("category", REFS),
        opt("relatedParty", Ty::Array(&Ty::Object(RELATED_PARTY))),
        opt("validFor", Ty::TimePeriod),
    ],
};

static CATEGORY_SCHEMA: Schema = Schema {
    type_name: "Category",
    fields: &[
        req("name", Ty::String),
        opt("description", Ty::String),
        opt("isRoot", Ty::Boolean),
        opt("lastUpdate", Ty::DateTime),
        opt("lifecycleStatus", Ty::String),
        opt("parentId", Ty::String),
        opt("version", Ty::String),
        opt("productOffering", REFS),
        opt("subCategory", REFS),
        opt("validFor", Ty::TimePeriod),
    ],
};

static SPECIFICATION_SCHEMA: Schema = Schema {
    type_name: "ProductSpecification",
    fields: &[
        req("name", Ty::String),
        opt("brand", Ty::String),
        opt("description", Ty::String),
        opt("isBundle", Ty::Boolean),
        opt("lastUpdate", Ty::DateTime),
        opt("lifecycleStatus", Ty::String),
        opt("productNumber", Ty::String),
        opt("version", Ty::String),
        opt("attachment", Ty::Array(&Ty::Object(ATTACHMENT))),
        opt("bundledProductSpecification", REFS),
        opt("productSpecCharacteristic", Ty::Array(&Ty::Object(SPEC_CHARACTERISTIC))),
        opt("productSpecificationRelationship", Ty::Array(&Ty::Object(RELATIONSHIP))),
        opt("relatedParty", Ty::Array(&Ty::Object(RELATED_PARTY))),
        opt("resourceSpecification", REFS),
        opt("serviceSpecification", REFS),
        opt("targetProductSchema", Ty::Any),
        opt("validFor", Ty::TimePeriod),
    ],
};

static OFFERING_SCHEMA: Schema = Schema {
    type_name: "ProductOffering",
    fields: &[
        req("name", Ty::String),
        opt("description", Ty::String),
        opt("isBundle", Ty::Boolean),
        opt("isSellable", Ty::Boolean),
        opt("lastUpdate", Ty::DateTime),
        opt("lifecycleStatus", Ty::String),
        opt("statusReason", Ty::String),
        opt("version", Ty::String),
        opt("agreement", REFS),
        opt("attachment", Ty::Array(&Ty::Object(ATTACHMENT))),
        opt("bundledProductOffering", Ty::Array(&Ty::Object(BUNDLED_OFFERING))),
        opt("category", REFS),
        opt("channel", REFS),
        opt("marketSegment", REFS),
        opt("place", REFS),
        opt("prodSpecCharValueUse", Ty::Array(&Ty::Object(CHAR_VALUE_USE))),
        opt("productOfferingPrice", Ty::Array(&Ty::Object(PRICE_REF_OR_VALUE))),
        opt("productOfferingRelationship", Ty::Array(&Ty::Object(RELATIONSHIP))),
        opt("productOfferingTerm", Ty::Array(&Ty::Object(TERM))),
        opt("productSpecification", Ty::Ref),
        opt("resourceCandidate", Ty::Ref),
        opt("serviceCandidate", Ty::Ref),
        opt("serviceLevelAgreement", Ty::Ref),
        opt("validFor", Ty::TimePeriod),
    ],
};

static PRICE_SCHEMA: Schema = Schema {
    type_name: "ProductOfferingPrice",
    fields: &[
        req("name", Ty::String),
        opt("description", Ty::String),
        opt("isBundle", Ty::Boolean),
        opt("lastUpdate", Ty::DateTime),
        opt("lifecycleStatus", Ty::String),
        opt("percentage", Ty::Number),
        opt("priceType", Ty::String),
        opt("recurringChargePeriodLength", Ty::Integer),
        opt("recurringChargePeriodType", Ty::String),
        opt("version", Ty::String),
        opt("bundledPopRelationship", Ty::Array(&Ty::Object(RELATIONSHIP))),
        opt("constraint", REFS),
        opt("place", REFS),
        opt("popRelationship", Ty::Array(&Ty::Object(RELATIONSHIP))),
        opt("price", Ty::Money),
        opt("pricingLogicAlgorithm", Ty::Array(&Ty::Any)),
        opt("prodSpecCharValueUse", Ty::Array(&Ty::Object(CHAR_VALUE_USE))),
        opt("productOfferingTerm", Ty::Array(&Ty::Object(TERM))),
        opt("tax", Ty::Array(&Ty::Object(TAX_ITEM))),
        opt("unitOfMeasure", Ty::Quantity),
        opt("validFor", Ty::TimePeriod),
    ],
};

/// `priceType` values this catalog prices with (TMF620 leaves the list open; these are the ones the order and
/// billing services understand).
pub const PRICE_TYPES: [&str; 3] = ["recurring", "oneTime", "usage"];
/// `recurringChargePeriodType` values billing can cycle on.
pub const RECURRING_PERIODS: [&str; 4] = ["day", "week", "month", "year"];

/// A price must say how it charges: a recurring price needs its period, every price a non-negative amount.
fn validate_price(price: &Value) -> Result<(), ApiError> {
    let price_type = price.get("priceType").and_then(Value::as_str);
    if let Some(price_type) = price_type
        && !PRICE_TYPES.contains(&price_type)
    {
        return Err(ApiError::bad_request(format!("'priceType' must be one of {PRICE_TYPES:?}.")));
    }
    if price_type == Some("recurring") {
        match price.get("recurringChargePeriodType").and_then(Value::as_str) {
            Some(period) if RECURRING_PERIODS.contains(&period) => {}
            _ => {
                return Err(ApiError::bad_request(format!(
                    "'recurringChargePeriodType' must be one of {RECURRING_PERIODS:?} for a recurring price."
                )));
            }
        }
        if let Some(length) = price.get("recurringChargePeriodLength").and_then(Value::as_i64)
            && !(1..=120).contains(&length)
        {
            return Err(ApiError::bad_request("'recurringChargePeriodLength' must be between 1 and 120."));
        }
    }
    if let Some(amount) = price.get("price")
        && let Ok(money) = bss_tmf::money::Money::from_tmf(amount)
        && money.minor() < 0
    {
        return Err(ApiError::bad_request("'price.value' must not be negative."));
    }
    Ok(())
}

/// A bundle lists what it bundles.
fn validate_offering(offering: &Value) -> Result<(), ApiError> {
    let is_bundle = offering.get("isBundle").and_then(Value::as_bool).unwrap_or(false);
    let bundled = offering.get("bundledProductOffering").and_then(Value::as_array).map_or(0, Vec::len);
    if is_bundle && bundled == 0 {
        return Err(ApiError::bad_request("A bundle ('isBundle': true) needs 'bundledProductOffering'."));
    }
    if !is_bundle && bundled > 0 {
        return Err(ApiError::bad_request("'bundledProductOffering' is only for bundles ('isBundle': true)."));
    }
    Ok(())
}

/// An offering or price that can still be sold must be retired before it is deleted: orders refer to it.
fn deletable_unless_sellable(resource: &Value) -> Result<(), ApiError> {
    match resource.get("lifecycleStatus").and_then(Value::as_str) {
        Some(status) if SELLABLE_STATUSES.contains(&status) => {
            Err(ApiError::conflict(format!("A resource in '{status}' cannot be deleted; retire it first.")))
        }
        _ => Ok(()),
    }
}

/// First-level attributes of `*_Update` common to every catalog resource.
macro_rules! patchable {
    ($($extra:literal),* $(,)?) => {
        &["name", "description", "lifecycleStatus", "version", "validFor", "@schemaLocation", $($extra),*]
    };
}

pub static CATALOG: ResourceKind = ResourceKind {
    name: "catalog",
    schema: &CATALOG_SCHEMA,
    lifecycle: Some(&LIFECYCLE),
    patchable: patchable!["catalogType", "category", "relatedParty"],
    paging: PAGING,
    cached: false,
    validate: bss_tmf::store::accept,
    deletable: bss_tmf::store::accept,
    check_change: bss_tmf::store::accept_change,
    derive: bss_tmf::store::derive_nothing,
    extra_events: bss_tmf::store::no_extra_events,
};

pub static CATEGORY: ResourceKind = ResourceKind {
    name: "category",
    schema: &CATEGORY_SCHEMA,
    lifecycle: Some(&LIFECYCLE),
    patchable: patchable!["isRoot", "parentId", "productOffering", "subCategory"],
    paging: PAGING,
    cached: false,
    validate: bss_tmf::store::accept,
    deletable: bss_tmf::store::accept,
    check_change: bss_tmf::store::accept_change,
    derive: bss_tmf::store::derive_nothing,
    extra_events: bss_tmf::store::no_extra_events,
};

pub static PRODUCT_SPECIFICATION: ResourceKind = ResourceKind {
    name: "productSpecification",
    schema: &SPECIFICATION_SCHEMA,
    lifecycle: Some(&LIFECYCLE),
    patchable: patchable![
        "brand",
        "isBundle",
        "productNumber",
        "attachment",
        "bundledProductSpecification",
        "productSpecCharacteristic",
        "productSpecificationRelationship",
        "relatedParty",
        "resourceSpecification",
        "serviceSpecification",
        "targetProductSchema",
    ],
    paging: PAGING,
    cached: false,
    validate: bss_tmf::store::accept,
    deletable: bss_tmf::store::accept,
    check_change: bss_tmf::store::accept_change,
    derive: bss_tmf::store::derive_nothing,
    extra_events: bss_tmf::store::no_extra_events,
};

pub static PRODUCT_OFFERING: ResourceKind = ResourceKind {
    name: "productOffering",
    schema: &OFFERING_SCHEMA,
    lifecycle: Some(&LIFECYCLE),
    patchable: patchable![
        "isBundle",
        "isSellable",
        "statusReason",
        "agreement",
        "attachment",
        "bundledProductOffering",
        "category",
        "channel",
        "marketSegment",
        "place",
        "prodSpecCharValueUse",
        "productOfferingPrice",
        "productOfferingRelationship",
        "productOfferingTerm",
        "productSpecification",
        "resourceCandidate",
        "serviceCandidate",
        "serviceLevelAgreement",
    ],
    paging: PAGING,
    cached: true,
    validate: validate_offering,
    deletable: deletable_unless_sellable,
    check_change: bss_tmf::store::accept_change,
    derive: bss_tmf::store::derive_nothing,
    extra_events: bss_tmf::store::no_extra_events,
};

pub static PRODUCT_OFFERING_PRICE: ResourceKind = ResourceKind {
    name: "productOfferingPrice",
    schema: &PRICE_SCHEMA,
    lifecycle: Some(&LIFECYCLE),
    patchable: patchable![
        "isBundle",
        "percentage",
        "priceType",
        "recurringChargePeriodLength",
        "recurringChargePeriodType",
        "bundledPopRelationship",
        "constraint",
        "place",
        "popRelationship",
        "price",
        "pricingLogicAlgorithm",
        "prodSpecCharValueUse",
        "productOfferingTerm",
        "tax",
        "unitOfMeasure",
    ],
    paging: PAGING,
    cached: true,
    validate: validate_price,
    deletable: deletable_unless_sellable,
    check_change: bss_tmf::store::accept_change,
    derive: bss_tmf::store::derive_nothing,
    extra_events: bss_tmf::store::no_extra_events,
};

/// Every catalog resource, in dependency order (what an export lists first is what an import needs first).
pub static ALL: [&ResourceKind; 5] =
    [&CATALOG, &CATEGORY, &PRODUCT_SPECIFICATION, &PRODUCT_OFFERING_PRICE, &PRODUCT_OFFERING];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn recurring_prices_need_a_period() {
        let ok = json!({"name": "m", "priceType": "recurring", "recurringChargePeriodType": "month", "price": {"unit": "EUR", "value": 50}});
        validate_price(&ok).unwrap();
        for bad in [
            json!({"priceType": "recurring"}),
            json!({"priceType": "recurring", "recurringChargePeriodType": "fortnight"}),
            json!({"priceType": "recurring", "recurringChargePeriodType": "month", "recurringChargePeriodLength": 0}),
            json!({"priceType": "sometimes"}),
            json!({"priceType": "oneTime", "price": {"unit": "EUR", "value": -1}}),
        ] {
            assert!(validate_price(&bad).is_err(), "{bad}");
        }
    }
}
