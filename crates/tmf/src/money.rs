//! Money: integer minor units and an ISO 4217 currency inside, TMF `Money {unit, value}` at the API.
//!
//! TMF sends amounts as JSON numbers. They are never read as `f64` arithmetic: the number's decimal text (the
//! shortest text that reads back as the same number) is parsed digit by digit into minor units with the
//! currency's exponent, and a value with more decimals than the currency has (`1.005 EUR`) is refused rather
//! than rounded. On the way out the minor units become a JSON number whose text is exactly the decimal value.

use serde_json::{Number, Value, json};
use std::fmt;

/// An ISO 4217 currency this project knows the exponent of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    exponent: u32,
}

/// ISO 4217 codes and their minor-unit exponents (the currencies a European or American operator bills in,
/// plus the zero- and three-decimal ones that catch exponent bugs).
const CURRENCIES: &[(&str, u32)] = &[
    ("AED", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EGP", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("MAD", 2),
    ("MXN", 2),
    ("MYR", 2),
    ("NGN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PEN", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TND", 3),
    ("TRY", 2),
    ("TWD", 2),
    ("UAH", 2),
    ("USD", 2),
    ("UYU", 2),
    ("VND", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("ZAR", 2),
];

impl Currency {
    /// The currency for an ISO 4217 code (upper case), if known.
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        CURRENCIES
            .iter()
            .find(|(known, _)| *known == code)
            .map(|(code, exponent)| Currency { code, exponent: *exponent })
            .ok_or_else(|| MoneyError(format!("'{code}' is not an ISO 4217 currency code this service supports")))
    }

    pub fn code(self) -> &'static str {
        self.code
    }

    /// Digits after the decimal point (2 for EUR, 0 for JPY, 3 for KWD).
    pub fn exponent(self) -> u32 {
        self.exponent
    }
}

/// Why a value is not money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MoneyError(pub String);

/// An amount in minor units of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    pub fn minor(self) -> i64 {
        self.minor
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    /// Parses a TMF `Money` object: `{"unit": "EUR", "value": 19.99}`.
    pub fn from_tmf(value: &Value) -> Result<Self, MoneyError> {
        let unit = value.get("unit").and_then(Value::as_str).ok_or_else(|| MoneyError("unit is required".into()))?;
        let currency = Currency::parse(unit)?;
        let amount = value.get("value").ok_or_else(|| MoneyError("value is required".into()))?;
        let number = amount.as_number().ok_or_else(|| MoneyError("value must be a number".into()))?;
        Ok(Self { minor: parse_minor(&number.to_string(), currency)?, currency })
    }

    /// The TMF `Money` object for this amount.
    pub fn to_tmf(self) -> Value {
        json!({ "unit": self.currency.code, "value": self.decimal_number() })
    }

    /// The amount as a JSON number whose text is the exact decimal (e.g. 3548 EUR cents → 35.48).
    pub fn decimal_number(self) -> Number {
        let text = self.to_string();
        let amount = text.split(' ').next().unwrap_or("0");
        // Decimal text of at most 18 digits parses as the nearest double, which prints back as the same text.
        amount.parse::<f64>().ok().and_then(Number::from_f64).unwrap_or_else(|| Number::from(0))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scale = 10u64.pow(self.currency.exponent);
        let sign = if self.minor < 0 { "-" } else { "" };
        let magnitude = self.minor.unsigned_abs();
        if self.currency.exponent == 0 {
            write!(f, "{sign}{magnitude} {}", self.currency.code)
        } else {
            let width = self.currency.exponent as usize;
            write!(f, "{sign}{}.{:0width$} {}", magnitude / scale, magnitude % scale, self.currency.code)
        }
    }
}

/// Parses decimal text (`"19.99"`, `"20"`, `"1e2"`, `"-0.5"`) into minor units, exactly.
pub fn parse_minor(text: &str, currency: Currency) -> Result<i64, MoneyError> {
    let invalid = || MoneyError(format!("{text} is not an amount of {}", currency.code));
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().map_err(|_| invalid())?),
        None => (text, 0),
    };
    let (negative, digits) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(invalid());
    }
    // value = 0.<whole><fraction> shifted: digits × 10^(exponent − len(fraction)); minor = value × 10^currency.
    let all_digits = format!("{whole}{fraction}");
    let significant = all_digits.trim_start_matches('0');
    let shift = i64::from(exponent) - fraction.len() as i64 + i64::from(currency.exponent);
    let mut minor: i128 = 0;
    let (kept, dropped) = if shift >= 0 {
        (significant, "")
    } else {
        let cut = significant.len().saturating_sub(shift.unsigned_abs() as usize);
        significant.split_at(cut)
    };
    if dropped.bytes().any(|b| b != b'0') {
        return Err(MoneyError(format!(
            "{text} has more decimals than {} allows ({})",
            currency.code, currency.exponent
        )));
    }
    for b in kept.bytes() {
        minor = minor.checked_mul(10).and_then(|m| m.checked_add(i128::from(b - b'0'))).ok_or_else(invalid)?;
        if minor > i128::from(i64::MAX) {
            return Err(MoneyError(format!("{text} is too large")));
        }
    }
    if shift > 0 {
        for _ in 0..shift {
            minor = minor.checked_mul(10).ok_or_else(invalid)?;
            if minor > i128::from(i64::MAX) {
                return Err(MoneyError(format!("{text} is too large")));
            }
        }
    }
    let minor = i64::try_from(minor).map_err(|_| invalid())?;
    Ok(if negative { -minor } else { minor })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    #[test]
    fn decimal_text_becomes_exact_minor_units() {
        let cases = [
            ("19.99", "EUR", 1999),
            ("20", "EUR", 2000),
            ("20.0", "EUR", 2000),
            ("0.1", "EUR", 10),
            ("-0.5", "EUR", -50),
            ("1e2", "EUR", 10000),
            ("1.5E1", "EUR", 1500),
            ("1000", "JPY", 1000),
            ("1.234", "KWD", 1234),
            ("35.48", "USD", 3548),
            ("92233720368547758.07", "EUR", i64::MAX),
        ];
        for (text, code, minor) in cases {
            assert_eq!(parse_minor(text, Currency::parse(code).unwrap()), Ok(minor), "{text} {code}");
        }
    }

    #[test]
    fn values_that_are_not_exact_amounts_are_refused() {
        for (text, code) in [
            ("1.005", "EUR"),
            ("0.5", "JPY"),
            ("abc", "EUR"),
            ("", "EUR"),
            ("1e400", "EUR"),
            ("92233720368547758.08", "EUR"),
            ("1.2.3", "EUR"),
        ] {
            assert!(parse_minor(text, Currency::parse(code).unwrap()).is_err(), "{text} {code}");
        }
    }

    #[test]
    fn tmf_money_round_trips_through_minor_units() {
        for value in
            [serde_json::json!(19.99), serde_json::json!(35.48), serde_json::json!(0.1), serde_json::json!(1234567.89)]
        {
            let money = Money::from_tmf(&serde_json::json!({"unit": "EUR", "value": value})).unwrap();
            assert_eq!(money.to_tmf()["value"], value, "{value}");
        }
        assert_eq!(Money::from_minor(3548, eur()).to_string(), "35.48 EUR");
        assert_eq!(Money::from_minor(-5, eur()).to_string(), "-0.05 EUR");
        assert_eq!(Money::from_minor(1000, Currency::parse("JPY").unwrap()).to_string(), "1000 JPY");
    }

    #[test]
    fn unknown_currencies_and_missing_parts_are_refused() {
        for money in [
            serde_json::json!({"unit": "XXX", "value": 1}),
            serde_json::json!({"unit": "eur", "value": 1}),
            serde_json::json!({"value": 1}),
            serde_json::json!({"unit": "EUR", "value": "1.00"}),
            serde_json::json!({"unit": "EUR"}),
        ] {
            assert!(Money::from_tmf(&money).is_err(), "{money}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_minor_amount_survives_the_decimal_round_trip(minor in -1_000_000_000_000i64..1_000_000_000_000) {
            let money = Money::from_minor(minor, eur());
            let back = Money::from_tmf(&money.to_tmf()).unwrap();
            proptest::prop_assert_eq!(back, money);
        }
    }
}
