//! The TMF629 v4 Customer: its body schema, status lifecycle and contact checks.
//!
//! The schema is transcribed from `Customer_Create` of the official specification
//! (`TMF629-Customer-v4.0.0.swagger.json`); patchable attributes from `Customer_Update`. The status lifecycle
//! is this project's (TMF629 names `status` but draws no state machine): docs/adr/0012-customer-lifecycle.md.
//!
//! Contact media are checked by medium type: an e-mail address must look like one, a phone number must be
//! an international or national number. Error messages name the attribute's path and never repeat the value:
//! they are personal data, and error messages end up in places (client logs, support tickets) that should not
//! hold it.

use bss_common::ApiError;
use bss_tmf::query::Paging;
use bss_tmf::schema::{CHARACTERISTIC, Field, RELATED_PARTY, Schema, Ty, opt, req};
use bss_tmf::store::{Lifecycle, ResourceKind};
use serde_json::Value;

/// Customers per page: 100 by default, at most 1,000.
pub const PAGING: Paging = Paging { default_limit: 100, max_limit: 1_000 };

/// The customer status lifecycle.
///
/// ```text
/// Initialized → Validated → Approved ⇄ Suspended
///      │            │           │          │
///      └────────────┴──→ Rejected          └──→ Closed ←── Approved
/// Initialized → Approved (no separate validation step)
/// ```
/// `Rejected` and `Closed` are final.
pub static LIFECYCLE: Lifecycle = Lifecycle {
    attribute: "status",
    initial: "Initialized",
    transitions: &[
        ("Initialized", &["Validated", "Approved", "Rejected"]),
        ("Validated", &["Approved", "Rejected"]),
        ("Approved", &["Suspended", "Closed"]),
        ("Suspended", &["Approved", "Closed"]),
        ("Rejected", &[]),
        ("Closed", &[]),
    ],
};

const ACCOUNT_REF: &[Field] = &[
    req("name", Ty::String),
    opt("id", Ty::String),
    opt("href", Ty::String),
    opt("description", Ty::String),
    opt("@referredType", Ty::String),
];

const MEDIUM_CHARACTERISTIC: &[Field] = &[
    opt("city", Ty::String),
    opt("contactType", Ty::String),
    opt("country", Ty::String),
    opt("emailAddress", Ty::String),
    opt("faxNumber", Ty::String),
    opt("phoneNumber", Ty::String),
    opt("postCode", Ty::String),
    opt("socialNetworkId", Ty::String),
    opt("stateOrProvince", Ty::String),
    opt("street1", Ty::String),
    opt("street2", Ty::String),
];

const CONTACT_MEDIUM: &[Field] = &[
    req("mediumType", Ty::String),
    req("characteristic", Ty::Object(MEDIUM_CHARACTERISTIC)),
    opt("preferred", Ty::Boolean),
    opt("validFor", Ty::TimePeriod),
];

const CREDIT_PROFILE: &[Field] = &[
    req("creditProfileDate", Ty::DateTime),
    req("validFor", Ty::TimePeriod),
    opt("creditRiskRating", Ty::Integer),
    opt("creditScore", Ty::Integer),
];

static CUSTOMER_SCHEMA: Schema = Schema {
    type_name: "Customer",
    fields: &[
        req("name", Ty::String),
        req("engagedParty", Ty::Object(RELATED_PARTY)),
        opt("status", Ty::String),
        opt("statusReason", Ty::String),
        opt("lastUpdate", Ty::DateTime),
        opt("account", Ty::Array(&Ty::Object(ACCOUNT_REF))),
        opt("agreement", Ty::Array(&Ty::Ref)),
        opt("characteristic", Ty::Array(&Ty::Object(CHARACTERISTIC))),
        opt("contactMedium", Ty::Array(&Ty::Object(CONTACT_MEDIUM))),
        opt("creditProfile", Ty::Array(&Ty::Object(CREDIT_PROFILE))),
        opt("paymentMethod", Ty::Array(&Ty::Ref)),
        opt("relatedParty", Ty::Array(&Ty::Object(RELATED_PARTY))),
        opt("validFor", Ty::TimePeriod),
    ],
};

/// Medium types and the characteristic each one must carry (TMF629 leaves the list open; these are the
/// common ones, matched case-insensitively).
const EMAIL_MEDIA: [&str; 2] = ["email", "emailaddress"];
const PHONE_MEDIA: [&str; 5] = ["telephonenumber", "phone", "mobile", "mobilenumber", "fax"];
const POSTAL_MEDIA: [&str; 3] = ["postaladdress", "mailingaddress", "address"];

/// Whether `address` looks like a deliverable e-mail address: one `@`, a local part of allowed characters,
/// a domain of at least two labels. (Deliverability is for a confirmation e-mail to prove, not a regex.)
pub fn is_email(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else { return false };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels.last().is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
    address.len() <= 254 && local_ok && domain_ok
}

/// Whether `number` is a phone number: an optional leading `+`, then 6 to 15 digits (E.164's maximum), with
/// spaces, dots, dashes and parentheses allowed as separators.
pub fn is_phone_number(number: &str) -> bool {
    let body = number.strip_prefix('+').unwrap_or(number);
    let digits = body.chars().filter(char::is_ascii_digit).count();
    (6..=15).contains(&digits)
        && body.chars().all(|c| c.is_ascii_digit() || " .-()".contains(c))
        && body.chars().next().is_some_and(|c| c.is_ascii_digit() || c == '(')
}

/// Contact media carry what their type promises, in a valid form.
fn validate_customer(customer: &Value) -> Result<(), ApiError> {
    let media = customer.get("contactMedium").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for (index, medium) in media.iter().enumerate() {
        let kind = medium.get("mediumType").and_then(Value::as_str).unwrap_or("").to_ascii_lowercase();
        let characteristic = &medium["characteristic"];
        let field = |name: &str| characteristic.get(name).and_then(Value::as_str);
        let path = |name: &str| format!("contactMedium[{index}].characteristic.{name}");
        if EMAIL_MEDIA.contains(&kind.as_str()) {
            match field("emailAddress") {
                Some(address) if is_email(address) => {}
                Some(_) => {
                    return Err(ApiError::bad_request(format!(
                        "'{}' is not a valid e-mail address.",
                        path("emailAddress")
                    )));
                }
                None => {
                    return Err(ApiError::bad_request(format!(
                        "'{}' is required for an e-mail medium.",
                        path("emailAddress")
                    )));
                }
            }
        } else if PHONE_MEDIA.contains(&kind.as_str()) {
            let name = if kind == "fax" { "faxNumber" } else { "phoneNumber" };
            match field(name) {
                Some(number) if is_phone_number(number) => {}
                Some(_) => return Err(ApiError::bad_request(format!("'{}' is not a valid phone number.", path(name)))),
                None => {
                    return Err(ApiError::bad_request(format!("'{}' is required for a {kind} medium.", path(name))));
                }
            }
        } else if POSTAL_MEDIA.contains(&kind.as_str()) {
            if field("city").is_none() && field("postCode").is_none() {
                return Err(ApiError::bad_request(format!(
                    "'{}' or postCode is required for a postal address.",
                    path("city")
                )));
            }
        } else {
            return Err(ApiError::bad_request(format!(
                "'contactMedium[{index}].mediumType' must be one of Email, TelephoneNumber, Mobile, Fax, PostalAddress."
            )));
        }
        // An e-mail or phone field on a medium of another type is still checked: it is a contact point too.
        if let Some(address) = field("emailAddress")
            && !is_email(address)
        {
            return Err(ApiError::bad_request(format!("'{}' is not a valid e-mail address.", path("emailAddress"))));
        }
        if let Some(number) = field("phoneNumber")
            && !is_phone_number(number)
        {
            return Err(ApiError::bad_request(format!("'{}' is not a valid phone number.", path("phoneNumber"))));
        }
    }
    Ok(())
}

/// A customer with a live relationship must be closed before it is deleted (its orders and bills refer to
/// it); a customer that never became active (Initialized, Validated, Rejected) or is Closed may be deleted.
fn deletable(customer: &Value) -> Result<(), ApiError> {
    match customer.get("status").and_then(Value::as_str) {
        Some(status @ ("Approved" | "Suspended")) => {
            Err(ApiError::conflict(format!("A customer in '{status}' cannot be deleted; close it first.")))
        }
        _ => Ok(()),
    }
}

pub static CUSTOMER: ResourceKind = ResourceKind {
    name: "customer",
    schema: &CUSTOMER_SCHEMA,
    lifecycle: Some(&LIFECYCLE),
    patchable: &[
        "name",
        "status",
        "statusReason",
        "account",
        "agreement",
        "characteristic",
        "contactMedium",
        "creditProfile",
        "engagedParty",
        "paymentMethod",
        "relatedParty",
        "validFor",
        "@baseType",
        "@schemaLocation",
        "@type",
    ],
    paging: PAGING,
    cached: true,
    validate: validate_customer,
    deletable,
    check_change: bss_tmf::store::accept_change,
    derive: bss_tmf::store::derive_nothing,
    extra_events: bss_tmf::store::no_extra_events,
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn email_addresses_are_told_apart_from_lookalikes() {
        for good in ["jane@example.com", "jane.doe+bills@mail.example.co.uk", "x@a-b.io"] {
            assert!(is_email(good), "{good}");
        }
        for bad in [
            "",
            "jane",
            "jane@",
            "@example.com",
            "jane@example",
            "jane@@example.com",
            "ja ne@example.com",
            ".jane@example.com",
            "jane..doe@example.com",
            "jane@-example.com",
            "jane@example.c0m",
            "jane@exa_mple.com",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn phone_numbers_accept_common_notations() {
        for good in ["+44 20 7946 0958", "020 7946 0958", "(020) 7946-0958", "+33.1.09.75.83.51", "0109758351"] {
            assert!(is_phone_number(good), "{good}");
        }
        for bad in
            ["", "12345", "+", "call me", "+44 20 7946 0958 ext 12", "1234567890123456", "++4420794609", "-1234567"]
        {
            assert!(!is_phone_number(bad), "{bad}");
        }
    }

    #[test]
    fn invalid_contacts_are_named_by_path_without_the_value() {
        let customer = json!({"contactMedium": [
            {"mediumType": "Email", "characteristic": {"emailAddress": "jane@example.com"}},
            {"mediumType": "TelephoneNumber", "characteristic": {"phoneNumber": "not-a-number-jane"}}
        ]});
        let error = validate_customer(&customer).unwrap_err();
        assert!(error.message().contains("contactMedium[1].characteristic.phoneNumber"), "{}", error.message());
        assert!(!error.message().contains("jane"), "the value is not echoed");
    }
}
