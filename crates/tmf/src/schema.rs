//! Declarative shape checks for TMF request bodies.
//!
//! Each resource declares its attributes and their types (transcribed from the official v4 specification of
//! its API) as a static [`Schema`]. A body is checked once, at the edge: wrong types, missing required
//! attributes, malformed dates, money or references are a 400 whose message names the attribute by its path
//! (`productOfferingPrice[0].id`). Attributes a schema does not list are refused for the base `@type`; a body
//! declaring another `@type` (a TMF630 extension, usually with `@schemaLocation`) may carry extra attributes,
//! which are kept as sent.

use bss_common::ApiError;
use serde_json::Value;

/// The type of one attribute.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    String,
    Boolean,
    Number,
    Integer,
    /// RFC 3339 date-time.
    DateTime,
    /// `{startDateTime, endDateTime}`, both optional date-times, start before end.
    TimePeriod,
    /// TMF `Money`: `{unit: ISO 4217, value: number}` (checked by [`crate::money`]).
    Money,
    /// TMF `Quantity`: `{amount: number, units: string}`.
    Quantity,
    /// A reference to another resource: `id` required, `href`, `name`, `@referredType` strings.
    Ref,
    /// A nested object with its own attributes.
    Object(&'static [Field]),
    /// An array whose elements have the given type.
    Array(&'static Ty),
    /// Any JSON (kept as sent).
    Any,
}

/// One attribute of a schema.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
}

/// An optional attribute.
pub const fn opt(name: &'static str, ty: Ty) -> Field {
    Field { name, ty, required: false }
}

/// A required attribute.
pub const fn req(name: &'static str, ty: Ty) -> Field {
    Field { name, ty, required: true }
}

/// The attributes every TMF resource may carry (`@type`, `@baseType`, `@schemaLocation`, `id`, `href`).
pub const COMMON: &[Field] = &[
    opt("id", Ty::String),
    opt("href", Ty::String),
    opt("@type", Ty::String),
    opt("@baseType", Ty::String),
    opt("@schemaLocation", Ty::String),
];

/// TMF `RelatedParty`: a party reference whose `@referredType` is required (Individual, Organization, …).
pub const RELATED_PARTY: &[Field] = &[
    req("id", Ty::String),
    req("@referredType", Ty::String),
    opt("href", Ty::String),
    opt("name", Ty::String),
    opt("role", Ty::String),
];

/// TMF `Characteristic`: a named value of any JSON type.
pub const CHARACTERISTIC: &[Field] = &[req("name", Ty::String), req("value", Ty::Any), opt("valueType", Ty::String)];

/// A resource's body shape.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// The base `@type` (e.g. `ProductOffering`); a body with another `@type` may add attributes.
    pub type_name: &'static str,
    pub fields: &'static [Field],
}

impl Schema {
    /// Checks `body` against the schema. A patched resource is checked whole, after the patch, with the same
    /// rules as a created one.
    pub fn check(&self, body: &Value) -> Result<(), ApiError> {
        let Some(object) = body.as_object() else {
            return Err(ApiError::bad_request("The request body must be a JSON object."));
        };
        let extended = object.get("@type").and_then(Value::as_str).is_some_and(|t| t != self.type_name);
        check_object(object, &[COMMON, self.fields], "", !extended)?;
        check_numbers(body, "")
    }
}

/// The largest magnitude of any number in a body. PostgreSQL keeps a JSON number as an exact decimal, and a
/// number near the limits of a double (1.79e308) does not read back into one: schemathesis found that 500
/// (in a reference, where any attribute is allowed). No amount, quantity or rate of a BSS comes near 10^15.
pub const MAX_NUMBER_MAGNITUDE: f64 = 1e15;

fn check_numbers(value: &Value, path: &str) -> Result<(), ApiError> {
    match value {
        Value::Number(n) if n.as_f64().is_none_or(|f| !f.is_finite() || f.abs() > MAX_NUMBER_MAGNITUDE) => {
            Err(ApiError::bad_request(format!(
                "'{}' is out of range: numbers must be at most 10^15 in magnitude.",
                if path.is_empty() { "(body)" } else { path }
            )))
        }
        Value::Array(items) => items.iter().try_for_each(|item| check_numbers(item, path)),
        Value::Object(map) => map.iter().try_for_each(|(key, item)| check_numbers(item, &join(path, key))),
        _ => Ok(()),
    }
}

fn check_object(
    object: &serde_json::Map<String, Value>,
    field_sets: &[&[Field]],
    prefix: &str,
    closed: bool,
) -> Result<(), ApiError> {
    let fields = || field_sets.iter().flat_map(|set| set.iter());
    for field in fields() {
        match object.get(field.name) {
            None | Some(Value::Null) if field.required => {
                return Err(ApiError::bad_request(format!("'{}' is required.", join(prefix, field.name))));
            }
            None | Some(Value::Null) => {}
            Some(value) => check_value(value, &field.ty, &join(prefix, field.name))?,
        }
    }
    if closed && let Some(unknown) = object.keys().find(|key| !fields().any(|f| f.name == key.as_str())) {
        return Err(ApiError::bad_request(format!(
            "'{}' is not an attribute of this resource (declare an extension @type to add attributes).",
            join(prefix, unknown)
        )));
    }
    Ok(())
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_owned() } else { format!("{prefix}.{name}") }
}

fn wrong(path: &str, expected: &str) -> ApiError {
    ApiError::bad_request(format!("'{path}' must be {expected}."))
}

fn check_value(value: &Value, ty: &Ty, path: &str) -> Result<(), ApiError> {
    match ty {
        Ty::String => value.as_str().map(|_| ()).ok_or_else(|| wrong(path, "a string")),
        Ty::Boolean => value.as_bool().map(|_| ()).ok_or_else(|| wrong(path, "true or false")),
        Ty::Number => value.as_number().map(|_| ()).ok_or_else(|| wrong(path, "a number")),
        Ty::Integer => value.as_i64().map(|_| ()).ok_or_else(|| wrong(path, "an integer")),
        Ty::DateTime => value
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|_| ())
            .ok_or_else(|| wrong(path, "an RFC 3339 date-time such as 2026-01-31T00:00:00Z")),
        Ty::TimePeriod => {
            const PERIOD: &[Field] = &[opt("startDateTime", Ty::DateTime), opt("endDateTime", Ty::DateTime)];
            let object = value.as_object().ok_or_else(|| wrong(path, "a time period object"))?;
            check_object(object, &[PERIOD], path, true)?;
            let at = |key: &str| {
                object.get(key).and_then(Value::as_str).and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            };
            if let (Some(start), Some(end)) = (at("startDateTime"), at("endDateTime"))
                && end < start
            {
                return Err(ApiError::bad_request(format!("'{path}.endDateTime' is before its startDateTime.")));
            }
            Ok(())
        }
        Ty::Money => {
            crate::money::Money::from_tmf(value).map_err(|e| ApiError::bad_request(format!("'{path}': {e}.")))?;
            const MONEY: &[Field] = &[req("unit", Ty::String), req("value", Ty::Number)];
            check_object(value.as_object().ok_or_else(|| wrong(path, "a Money object"))?, &[MONEY], path, true)
        }
        Ty::Quantity => {
            const QUANTITY: &[Field] = &[opt("amount", Ty::Number), opt("units", Ty::String)];
            check_object(value.as_object().ok_or_else(|| wrong(path, "a Quantity object"))?, &[QUANTITY], path, true)
        }
        Ty::Ref => {
            const REFERENCE: &[Field] = &[
                req("id", Ty::String),
                opt("href", Ty::String),
                opt("name", Ty::String),
                opt("version", Ty::String),
                opt("role", Ty::String),
                opt("@referredType", Ty::String),
            ];
            let object = value.as_object().ok_or_else(|| wrong(path, "a reference object with an id"))?;
            check_object(object, &[COMMON, REFERENCE], path, false)
        }
        Ty::Object(fields) => {
            let object = value.as_object().ok_or_else(|| wrong(path, "an object"))?;
            let extended = object.get("@type").is_some();
            check_object(object, &[COMMON, fields], path, !extended)
        }
        Ty::Array(element) => {
            let items = value.as_array().ok_or_else(|| wrong(path, "an array"))?;
            for (index, item) in items.iter().enumerate() {
                check_value(item, element, &format!("{path}[{index}]"))?;
            }
            Ok(())
        }
        Ty::Any => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_beyond_ten_to_the_fifteen_are_refused_anywhere_in_a_body() {
        static OPEN: Schema = Schema { type_name: "Thing", fields: &[opt("account", Ty::Ref)] };
        let huge = serde_json::json!({"account": {"id": "a", "extra": [1.7976931348623155e308]}});
        let error = OPEN.check(&huge).unwrap_err();
        assert!(error.message().contains("account.extra"), "{}", error.message());
        assert!(OPEN.check(&serde_json::json!({"account": {"id": "a", "extra": [-1e15, 12.5]}})).is_ok());
    }
    use serde_json::json;

    const PRICE: &[Field] = &[opt("name", Ty::String), opt("price", Ty::Money)];
    const OFFERING: Schema = Schema {
        type_name: "ProductOffering",
        fields: &[
            req("name", Ty::String),
            opt("isBundle", Ty::Boolean),
            opt("validFor", Ty::TimePeriod),
            opt("category", Ty::Array(&Ty::Ref)),
            opt("price", Ty::Array(&Ty::Object(PRICE))),
        ],
    };

    #[test]
    fn a_well_formed_body_passes() {
        let body = json!({
            "name": "Fibre", "isBundle": false, "@type": "ProductOffering",
            "validFor": {"startDateTime": "2026-01-01T00:00:00Z"},
            "category": [{"id": "c1", "name": "Broadband"}],
            "price": [{"name": "monthly", "price": {"unit": "EUR", "value": 30.0}}]
        });
        OFFERING.check(&body).unwrap();
    }

    #[test]
    fn each_defect_is_named_by_its_path() {
        let cases = [
            (json!({}), "'name' is required"),
            (json!({"name": 5}), "'name' must be a string"),
            (json!({"name": "x", "isBundle": "no"}), "'isBundle' must be true or false"),
            (json!({"name": "x", "validFor": {"startDateTime": "yesterday"}}), "'validFor.startDateTime'"),
            (
                json!({"name": "x", "validFor": {"startDateTime": "2026-02-01T00:00:00Z", "endDateTime": "2026-01-01T00:00:00Z"}}),
                "before its startDateTime",
            ),
            (json!({"name": "x", "category": [{"name": "no id"}]}), "'category[0].id' is required"),
            (json!({"name": "x", "price": [{"price": {"unit": "EUR", "value": 1.005}}]}), "'price[0].price'"),
            (json!({"name": "x", "price": [{"price": {"unit": "ZZZ", "value": 1}}]}), "'price[0].price'"),
            (json!({"name": "x", "colour": "red"}), "'colour' is not an attribute"),
            (json!([1, 2]), "must be a JSON object"),
        ];
        for (body, expected) in cases {
            let error = OFFERING.check(&body).expect_err(&body.to_string());
            assert!(error.message().contains(expected), "{body}: {}", error.message());
        }
    }

    #[test]
    fn an_extension_type_may_add_attributes() {
        let body =
            json!({"name": "x", "@type": "FibreOffering", "@schemaLocation": "https://x/schema.json", "colour": "red"});
        OFFERING.check(&body).unwrap();
    }
}
