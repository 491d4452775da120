//! Charges and tax: what a product costs in a billing period, and how a bill's tax is split over its lines.
//! Pure, integer-only (minor units, `i128` intermediates), no I/O.
//!
//! The rules (docs/adr/0015):
//! - Recurring charges are billed in advance, one per billing period. A period the product covers only in
//!   part (it starts inside the period) is prorated by calendar days:
//!   `round_half_up(price × days / days_in_that_period)`. 50.00 EUR a month from the 10th of a 31-day period
//!   `[1st, 1st)`: 22 days → 50.00 × 22/31 = 35.4838… → 35.48 EUR.
//! - Stopping a product inside a period it was charged for credits the unused days: the credit is the amount
//!   charged for that period minus `round_half_up(price × days used / days_in_that_period)`, as a negative
//!   charge. The customer therefore pays exactly the rounded price of the days used, to the minor unit; the
//!   credit differs from `round_half_up(price × unused days / period days)` by at most one minor unit (only
//!   when `price × used / days` ends in exactly one half).
//! - One-time charges are charged once.
//! - Every charge has a `charge_key` unique per product and what it charges for
//!   (`product:<id>:recurring:<period start>`, `product:<id>:onetime`, `product:<id>:credit:<stop date>`);
//!   storing it under a UNIQUE constraint makes writing the same charge twice impossible.
//! - Tax is computed per rate once on the bill's total of that rate, `round_half_up(total × basis points /
//!   10 000)`, then allocated to that rate's lines by the largest-remainder method so the lines sum exactly to it.
//! - `round_half_up` rounds halves away from zero, so a credit mirrors the charge it reverses exactly.

use crate::calendar::{BillCycleDay, BillingPeriod, CalendarError, days_between};
use bss_tmf::money::{Currency, Money};
use chrono::NaiveDate;
use std::fmt;
use std::str::FromStr;

/// Why a charge or a tax could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChargeError {
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error("{days} days do not fit in a period of {period_days} days")]
    Days { days: u32, period_days: u32 },
    #[error("the amount does not fit in 64-bit minor units")]
    Overflow,
    #[error("a tax rate is a decimal fraction from 0 to 1 with at most four decimals (e.g. \"0.20\")")]
    TaxRate,
    #[error("a product cannot stop before it starts")]
    StopBeforeStart,
}

/// `numerator / denominator` rounded to the nearest integer, halves away from zero. `denominator > 0`.
pub fn round_half_up(numerator: i128, denominator: i128) -> i128 {
    debug_assert!(denominator > 0);
    let (magnitude, divisor) = (numerator.unsigned_abs(), denominator.unsigned_abs().max(1));
    let (quotient, remainder) = (magnitude / divisor, magnitude % divisor);
    // remainder < divisor ≤ 2^127, so doubling it cannot overflow.
    let rounded = quotient + u128::from(remainder * 2 >= divisor);
    let rounded = i128::try_from(rounded).unwrap_or(i128::MAX);
    if numerator < 0 { -rounded } else { rounded }
}

/// `round_half_up(price × days / period_days)` in minor units; `days ≤ period_days`, `period_days > 0`.
pub fn prorate(price_minor: i64, days: u32, period_days: u32) -> Result<i64, ChargeError> {
    if period_days == 0 || days > period_days {
        return Err(ChargeError::Days { days, period_days });
    }
    let amount = round_half_up(i128::from(price_minor) * i128::from(days), i128::from(period_days));
    // |amount| ≤ |price|, so this only fails for nothing; kept checked rather than cast.
    i64::try_from(amount).map_err(|_| ChargeError::Overflow)
}

/// What a charge is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChargeKind {
    OneTime,
    Recurring,
    Credit,
}

impl ChargeKind {
    /// The TMF678 `AppliedCustomerBillingRate.type` of the charge.
    pub fn as_str(self) -> &'static str {
        match self {
            ChargeKind::OneTime => "oneTime",
            ChargeKind::Recurring => "recurring",
            ChargeKind::Credit => "credit",
        }
    }
}

/// One charge (a future applied billing rate): a signed amount, the dates it covers, and its unique key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub charge_key: String,
    pub product_id: String,
    pub kind: ChargeKind,
    pub amount: Money,
    /// The dates charged (recurring) or credited (credit); `None` for a one-time charge.
    pub covers: Option<BillingPeriod>,
    /// The full billing period the dates belong to (the proration denominator).
    pub period: Option<BillingPeriod>,
}

/// A product with a recurring price: active from `start` (first billed date) until `stop` (first date no
/// longer used), in the account's local dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecurringProduct {
    pub product_id: String,
    /// The price of one full billing period.
    pub price: Money,
    pub start: NaiveDate,
    pub stop: Option<NaiveDate>,
}

impl RecurringProduct {
    /// The charge for `period`, billed in advance: the price, prorated when the product starts inside the
    /// period; `None` when the product had stopped by the period's start or starts after it. A stop inside the
    /// period does not reduce this charge: [`cancellation_credit`] credits it, so a charge already billed is
    /// never rewritten.
    pub fn charge_for(&self, period: BillingPeriod) -> Result<Option<Charge>, ChargeError> {
        if self.start >= period.end() || self.stop.is_some_and(|stop| stop <= period.start().max(self.start)) {
            return Ok(None);
        }
        let from = self.start.max(period.start());
        let covers = BillingPeriod::new(from, period.end())?;
        let minor = prorate(self.price.minor(), covers.days(), period.days())?;
        Ok(Some(Charge {
            charge_key: format!("product:{}:recurring:{}", self.product_id, period.start()),
            product_id: self.product_id.clone(),
            kind: ChargeKind::Recurring,
            amount: Money::from_minor(minor, self.price.currency()),
            covers: Some(covers),
            period: Some(period),
        }))
    }

    /// The recurring charges of every period from the one containing `start` to the one containing `through`
    /// (inclusive: billed in advance), in order.
    pub fn charges_through(&self, cycle: BillCycleDay, through: NaiveDate) -> Result<Vec<Charge>, ChargeError> {
        let mut charges = Vec::new();
        let mut period = cycle.period_containing(self.start)?;
        while period.start() <= through {
            if let Some(charge) = self.charge_for(period)? {
                charges.push(charge);
            } else if self.stop.is_some_and(|stop| stop <= period.start()) {
                break;
            }
            period = cycle.next(period)?;
        }
        Ok(charges)
    }
}

/// The credit for stopping `product` at its `stop` date inside a period it was charged for (see
/// [`RecurringProduct::charge_for`]): minus (that charge − the rounded price of the days used). `None` when
/// there is no stop, or the stop falls on a period start (nothing charged is unused).
pub fn cancellation_credit(product: &RecurringProduct, cycle: BillCycleDay) -> Result<Option<Charge>, ChargeError> {
    let Some(stop) = product.stop else { return Ok(None) };
    if stop < product.start {
        return Err(ChargeError::StopBeforeStart);
    }
    let period = cycle.period_containing(stop)?;
    if stop == period.start() {
        return Ok(None);
    }
    let Some(charged) = product.charge_for(period)? else { return Ok(None) };
    let from = product.start.max(period.start());
    let used = prorate(product.price.minor(), days_between(from, stop), period.days())?;
    let credit = used.checked_sub(charged.amount.minor()).ok_or(ChargeError::Overflow)?;
    if credit == 0 {
        return Ok(None);
    }
    Ok(Some(Charge {
        charge_key: format!("product:{}:credit:{stop}", product.product_id),
        product_id: product.product_id.clone(),
        kind: ChargeKind::Credit,
        amount: Money::from_minor(credit, product.price.currency()),
        covers: Some(BillingPeriod::new(stop, period.end())?),
        period: Some(period),
    }))
}

/// A one-time charge: charged once, whatever the date.
pub fn one_time_charge(product_id: &str, price: Money) -> Charge {
    Charge {
        charge_key: format!("product:{product_id}:onetime"),
        product_id: product_id.to_owned(),
        kind: ChargeKind::OneTime,
        amount: price,
        covers: None,
        period: None,
    }
}

/// A tax rate in basis points (1/10 000): `"0.20"` → 2 000, `"0.055"` → 550. 0..=10 000 (0 % to 100 %).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaxRate(u32);

impl TaxRate {
    pub const BASIS: u32 = 10_000;

    pub fn from_basis_points(points: u32) -> Result<Self, ChargeError> {
        if points <= Self::BASIS { Ok(Self(points)) } else { Err(ChargeError::TaxRate) }
    }

    pub fn basis_points(self) -> u32 {
        self.0
    }

    /// The tax on `total` minor units at this rate: `round_half_up(total × points / 10 000)`.
    pub fn tax_on(self, total: i64) -> i64 {
        // |tax| ≤ |total| because the rate is at most 1, so the result fits.
        let tax = round_half_up(i128::from(total) * i128::from(self.0), i128::from(Self::BASIS));
        i64::try_from(tax).unwrap_or(if total < 0 { i64::MIN } else { i64::MAX })
    }
}

impl FromStr for TaxRate {
    type Err = ChargeError;

    /// Decimal text `0`, `0.2`, `0.20`, `0.0825`, `1`: no sign, no exponent, at most four decimals.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || whole.len() > 3 || !digits(whole) || !digits(fraction) || text.ends_with('.') {
            return Err(ChargeError::TaxRate);
        }
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > 4 {
            return Err(ChargeError::TaxRate);
        }
        let whole: u32 = whole.parse().map_err(|_| ChargeError::TaxRate)?;
        let fraction_points: u32 = if fraction.is_empty() {
            0
        } else {
            format!("{fraction:0<4}").parse().map_err(|_| ChargeError::TaxRate)?
        };
        Self::from_basis_points(whole.checked_mul(Self::BASIS).ok_or(ChargeError::TaxRate)? + fraction_points)
    }
}

impl fmt::Display for TaxRate {
    /// The shortest decimal: 2 000 → `0.2`, 550 → `0.055`, 0 → `0`, 10 000 → `1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / Self::BASIS;
        let fraction = self.0 % Self::BASIS;
        if fraction == 0 {
            write!(f, "{whole}")
        } else {
            let text = format!("{fraction:04}");
            write!(f, "{whole}.{}", text.trim_end_matches('0'))
        }
    }
}

/// The tax of one rate on a bill: the tax of the rate's total, and each line's share of it (same order as
/// the lines). `Σ line_taxes == tax` always.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateTax {
    pub rate: TaxRate,
    pub taxable: i64,
    pub tax: i64,
    pub line_taxes: Vec<i64>,
}

/// Tax for the lines of one rate: computed once on their total, then allocated to the lines by largest
/// remainder. Each line first gets `floor(line × rate)`; the minor units still missing to reach the bill's
/// tax go one each to the lines with the largest fractional remainders (ties: the earlier line). Every line's
/// tax is therefore within one minor unit of its exact share, and the lines sum exactly to the bill's tax.
pub fn tax_for_rate(rate: TaxRate, lines: &[i64]) -> Result<RateTax, ChargeError> {
    let total: i128 = lines.iter().map(|line| i128::from(*line)).sum();
    let taxable = i64::try_from(total).map_err(|_| ChargeError::Overflow)?;
    let tax = rate.tax_on(taxable);
    let basis = i128::from(TaxRate::BASIS);
    let scaled: Vec<i128> = lines.iter().map(|line| i128::from(*line) * i128::from(rate.0)).collect();
    let mut line_taxes: Vec<i128> = scaled.iter().map(|s| s.div_euclid(basis)).collect();
    let mut missing = i128::from(tax) - line_taxes.iter().sum::<i128>();
    // 0 ≤ missing ≤ number of lines with a remainder (see ADR 0015); the guard below never lets a line move
    // by more than one, and a leftover would be an arithmetic bug, refused rather than hidden.
    let mut order: Vec<usize> = (0..lines.len()).collect();
    order.sort_by(|a, b| scaled[*b].rem_euclid(basis).cmp(&scaled[*a].rem_euclid(basis)).then(a.cmp(b)));
    for index in order {
        if missing <= 0 {
            break;
        }
        line_taxes[index] += 1;
        missing -= 1;
    }
    if missing != 0 {
        return Err(ChargeError::Overflow);
    }
    let line_taxes = line_taxes
        .into_iter()
        .map(|t| i64::try_from(t).map_err(|_| ChargeError::Overflow))
        .collect::<Result<_, _>>()?;
    Ok(RateTax { rate, taxable, tax, line_taxes })
}

/// Sums amounts of one currency; `None` if a currency differs or the sum overflows.
pub fn total(amounts: &[Money], currency: Currency) -> Option<Money> {
    let mut sum: i64 = 0;
    for amount in amounts {
        if amount.currency() != currency {
            return None;
        }
        sum = sum.checked_add(amount.minor())?;
    }
    Some(Money::from_minor(sum, currency))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn cycle(day: i64) -> BillCycleDay {
        BillCycleDay::new(day).unwrap()
    }

    fn product(price: i64, start: &str, stop: Option<&str>) -> RecurringProduct {
        RecurringProduct {
            product_id: "p1".into(),
            price: Money::from_minor(price, eur()),
            start: date(start),
            stop: stop.map(date),
        }
    }

    #[test]
    fn fifty_euros_a_month_from_the_tenth_of_a_31_day_cycle_is_35_48() {
        let monthly = product(5000, "2026-01-10", None);
        let period = cycle(1).period_containing(date("2026-01-10")).unwrap();
        assert_eq!(period.days(), 31);
        let charge = monthly.charge_for(period).unwrap().unwrap();
        assert_eq!(charge.amount.to_string(), "35.48 EUR");
        assert_eq!(charge.covers.unwrap().days(), 22);
        assert_eq!(charge.charge_key, "product:p1:recurring:2026-01-01");
        assert_eq!(prorate(5000, 22, 31), Ok(3548));
    }

    #[test]
    fn rounding_is_half_up_away_from_zero() {
        assert_eq!(
            [round_half_up(5, 2), round_half_up(-5, 2), round_half_up(4, 3), round_half_up(5, 3)],
            [3, -3, 1, 2]
        );
        assert_eq!(round_half_up(0, 7), 0);
        // 1.00 × 1/8 = 0.125 → 0.13; 0.50 × 15/30 = 0.25 exactly.
        assert_eq!(prorate(100, 1, 8), Ok(13));
        assert_eq!(prorate(50, 15, 30), Ok(25));
        assert_eq!(prorate(1, 1, 2), Ok(1));
        assert_eq!(prorate(-1, 1, 2), Ok(-1));
    }

    #[test]
    fn proration_refuses_more_days_than_the_period_has() {
        assert_eq!(prorate(5000, 32, 31), Err(ChargeError::Days { days: 32, period_days: 31 }));
        assert!(prorate(5000, 0, 0).is_err());
        assert_eq!(prorate(i64::MAX, 31, 31), Ok(i64::MAX));
        assert_eq!(prorate(i64::MIN, 31, 31), Ok(i64::MIN));
    }

    #[test]
    fn recurring_charges_bill_each_period_in_advance_with_the_first_one_prorated() {
        let monthly = product(5000, "2026-01-10", None);
        let charges = monthly.charges_through(cycle(1), date("2026-03-01")).unwrap();
        let summary: Vec<(String, String)> =
            charges.iter().map(|c| (c.charge_key.clone(), c.amount.to_string())).collect();
        assert_eq!(
            summary,
            [
                ("product:p1:recurring:2026-01-01", "35.48 EUR"),
                ("product:p1:recurring:2026-02-01", "50.00 EUR"),
                ("product:p1:recurring:2026-03-01", "50.00 EUR"),
            ]
            .map(|(k, a)| (k.to_owned(), a.to_owned()))
        );
        assert!(charges.iter().all(|c| c.kind == ChargeKind::Recurring));
    }

    #[test]
    fn nothing_is_charged_for_periods_after_the_stop() {
        let stopped = product(5000, "2026-01-10", Some("2026-02-01"));
        let charges = stopped.charges_through(cycle(1), date("2026-12-01")).unwrap();
        assert_eq!(charges.len(), 1, "{charges:?}");
        assert_eq!(
            cancellation_credit(&stopped, cycle(1)).unwrap(),
            None,
            "a stop on a bill date leaves nothing unused"
        );
    }

    #[test]
    fn cancelling_mid_period_credits_the_unused_days() {
        // Charged 50.00 for [Feb 1, Mar 1) (28 days); stopped Feb 15: 14 days used = 25.00, credit −25.00.
        let stopped = product(5000, "2026-01-10", Some("2026-02-15"));
        let credit = cancellation_credit(&stopped, cycle(1)).unwrap().unwrap();
        assert_eq!(credit.amount.to_string(), "-25.00 EUR");
        assert_eq!(credit.kind, ChargeKind::Credit);
        assert_eq!(credit.charge_key, "product:p1:credit:2026-02-15");
        assert_eq!(credit.covers.unwrap().to_string(), "[2026-02-15, 2026-03-01)");
        // Started and stopped inside one period: charged 22/31, used 5/31 (Jan 10–14) → 8.06; credit 35.48 − 8.06.
        let brief = product(5000, "2026-01-10", Some("2026-01-15"));
        let charged = brief.charge_for(cycle(1).period_containing(date("2026-01-10")).unwrap()).unwrap().unwrap();
        let credit = cancellation_credit(&brief, cycle(1)).unwrap().unwrap();
        assert_eq!(charged.amount.minor() + credit.amount.minor(), prorate(5000, 5, 31).unwrap());
        assert_eq!(credit.amount.to_string(), "-27.42 EUR");
    }

    #[test]
    fn when_the_used_share_ends_in_exactly_a_half_the_credit_is_one_unit_off_the_unused_share_and_the_total_exact() {
        // 0.01 a month, charged in full for [Apr 1, May 1) (30 days), stopped Apr 16: 15 days used = 0.005 → 0.01.
        let tiny = product(1, "2026-03-01", Some("2026-04-16"));
        let period = cycle(1).period_containing(date("2026-04-16")).unwrap();
        assert_eq!(tiny.charge_for(period).unwrap().unwrap().amount.minor(), 1);
        assert_eq!(cancellation_credit(&tiny, cycle(1)).unwrap(), None, "0.01 − round(0.005) = 0: nothing to credit");
        // The unused 15 days are also worth round(0.005) = 0.01: crediting that would bill 0.00 for 15 used days.
        assert_eq!(prorate(1, 15, 30), Ok(1));
    }

    #[test]
    fn a_stop_before_the_start_is_refused() {
        let backwards = product(5000, "2026-01-10", Some("2026-01-09"));
        assert_eq!(cancellation_credit(&backwards, cycle(1)), Err(ChargeError::StopBeforeStart));
    }

    #[test]
    fn one_time_charges_have_one_key_per_product() {
        let charge = one_time_charge("p9", Money::from_minor(4999, eur()));
        assert_eq!((charge.charge_key.as_str(), charge.kind.as_str()), ("product:p9:onetime", "oneTime"));
        assert_eq!(charge, one_time_charge("p9", Money::from_minor(4999, eur())), "the same charge, the same key");
    }

    #[test]
    fn tax_rates_parse_into_basis_points() {
        for (text, points) in [("0.20", 2000), ("0.2", 2000), ("0.055", 550), ("0.0825", 825), ("0", 0), ("1", 10_000)]
        {
            assert_eq!(text.parse::<TaxRate>().map(TaxRate::basis_points), Ok(points), "{text}");
        }
        for bad in ["", "-0.2", "0.00001", "1.01", "20%", "0,2", ".2", "0.", "1e-1", " 0.2", "abc"] {
            assert_eq!(bad.parse::<TaxRate>(), Err(ChargeError::TaxRate), "{bad:?}");
        }
        assert_eq!(
            ["0.20", "0.055", "1", "0"].map(|t| t.parse::<TaxRate>().unwrap().to_string()),
            ["0.2", "0.055", "1", "0"]
        );
    }

    #[test]
    fn tax_is_computed_once_on_the_total_and_the_lines_add_up_to_it() {
        // Three lines of 0.05 at 20 %: each exact share is 0.01; the total 0.15 → 0.03.
        let tax = tax_for_rate("0.2".parse().unwrap(), &[5, 5, 5]).unwrap();
        assert_eq!((tax.taxable, tax.tax, tax.line_taxes.clone()), (15, 3, vec![1, 1, 1]));
        // Three lines of 0.03 at 20 %: shares 0.006 each; per-line rounding would say 0.03, the bill says 0.02.
        let tax = tax_for_rate("0.2".parse().unwrap(), &[3, 3, 3]).unwrap();
        assert_eq!((tax.tax, tax.line_taxes.clone()), (2, vec![1, 1, 0]), "largest remainder, earlier line first");
        // A credit line: 50.00 − 25.00 at 19 %.
        let tax = tax_for_rate("0.19".parse().unwrap(), &[5000, -2500]).unwrap();
        assert_eq!((tax.tax, tax.line_taxes), (475, vec![950, -475]));
        assert_eq!(tax_for_rate("0.2".parse().unwrap(), &[]).unwrap().tax, 0);
    }

    #[test]
    fn amounts_of_another_currency_do_not_total() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(
            total(&[Money::from_minor(1, eur()), Money::from_minor(2, eur())], eur()),
            Some(Money::from_minor(3, eur()))
        );
        assert_eq!(total(&[Money::from_minor(1, eur()), Money::from_minor(2, usd)], eur()), None);
        assert_eq!(total(&[Money::from_minor(i64::MAX, eur()), Money::from_minor(1, eur())], eur()), None);
    }

    fn any_start() -> impl Strategy<Value = NaiveDate> {
        (0i64..40_000).prop_map(|days| NaiveDate::from_ymd_opt(1980, 1, 1).unwrap() + chrono::Duration::days(days))
    }

    proptest! {
        #[test]
        fn prorated_charges_never_exceed_the_price_of_a_period(
            price in 0i64..=i64::MAX, start in any_start(), day in 1i64..=31, offset in 0i64..400
        ) {
            let product = RecurringProduct {
                product_id: "p".into(), price: Money::from_minor(price, eur()), start, stop: None,
            };
            let through = start + chrono::Duration::days(offset);
            let charges = product.charges_through(cycle(day), through).unwrap();
            prop_assert!(!charges.is_empty());
            for (index, charge) in charges.iter().enumerate() {
                prop_assert!(0 <= charge.amount.minor() && charge.amount.minor() <= price);
                if index > 0 {
                    prop_assert_eq!(charge.amount.minor(), price, "every period after the first is full");
                    prop_assert_eq!(charges[index - 1].period.unwrap().end(), charge.period.unwrap().start());
                }
            }
            let keys: std::collections::HashSet<_> = charges.iter().map(|c| &c.charge_key).collect();
            prop_assert_eq!(keys.len(), charges.len(), "charge keys are unique");
        }

        /// The customer pays exactly the rounded price of the days used: charge + credit ==
        /// round_half_up(price × used / period days), to the minor unit; and the credit differs from the rounded
        /// price of the unused days by at most one minor unit.
        #[test]
        fn charge_plus_cancellation_credit_is_exactly_the_days_used(
            price in 0i64..=i64::MAX, start in any_start(), day in 1i64..=31, used in 1i64..120
        ) {
            let stop = start + chrono::Duration::days(used);
            let product = RecurringProduct {
                product_id: "p".into(), price: Money::from_minor(price, eur()), start, stop: Some(stop),
            };
            let period = cycle(day).period_containing(stop).unwrap();
            let charged = product.charge_for(period).unwrap().map_or(0, |c| c.amount.minor());
            let credit = cancellation_credit(&product, cycle(day)).unwrap();
            let credited = credit.as_ref().map_or(0, |c| c.amount.minor());
            prop_assert!(credited <= 0, "a credit is never a charge");
            let from = start.max(period.start());
            let used_days = days_between(from, stop);
            if stop == period.start() {
                prop_assert_eq!((charged, credited), (0, 0));
            } else {
                prop_assert_eq!(charged + credited, prorate(price, used_days, period.days()).unwrap());
                let unused = prorate(price, days_between(stop, period.end()), period.days()).unwrap();
                prop_assert!((i128::from(-credited) - i128::from(unused)).abs() <= 1, "bound: one minor unit");
            }
        }

        #[test]
        fn line_taxes_always_sum_to_the_bills_tax_and_stay_within_one_unit_of_their_share(
            points in 0u32..=10_000, lines in proptest::collection::vec(-1_000_000_000_000i64..1_000_000_000_000, 0..40)
        ) {
            let rate = TaxRate::from_basis_points(points).unwrap();
            let tax = tax_for_rate(rate, &lines).unwrap();
            prop_assert_eq!(tax.line_taxes.iter().sum::<i64>(), tax.tax);
            prop_assert_eq!(tax.tax, rate.tax_on(lines.iter().sum()));
            for (line, line_tax) in lines.iter().zip(&tax.line_taxes) {
                let exact_times_basis = i128::from(*line) * i128::from(points);
                let allocated_times_basis = i128::from(*line_tax) * 10_000;
                prop_assert!((allocated_times_basis - exact_times_basis).abs() < 10_000, "within one unit");
            }
        }

        #[test]
        fn extreme_dates_are_errors_not_panics(
            start in any::<i32>(), stop in any::<i32>(), price in any::<i64>(), day in 1i64..=31
        ) {
            let (Some(start), Some(stop)) =
                (NaiveDate::from_num_days_from_ce_opt(start), NaiveDate::from_num_days_from_ce_opt(stop))
            else {
                return Ok(());
            };
            let product = RecurringProduct {
                product_id: "p".into(), price: Money::from_minor(price, eur()), start, stop: Some(stop),
            };
            if let Ok(period) = cycle(day).period_containing(start)
                && let Ok(Some(charge)) = product.charge_for(period)
            {
                prop_assert!(charge.amount.minor().unsigned_abs() <= price.unsigned_abs());
            }
            if let Ok(Some(credit)) = cancellation_credit(&product, cycle(day)) {
                prop_assert!(credit.amount.minor().unsigned_abs() <= price.unsigned_abs());
            }
            let _ = product.charges_through(cycle(day), start);
        }

        #[test]
        fn extreme_amounts_are_errors_not_panics(
            points in any::<u32>(), lines in proptest::collection::vec(any::<i64>(), 0..8),
            price in any::<i64>(), days in any::<u32>(), period_days in any::<u32>()
        ) {
            if let Ok(rate) = TaxRate::from_basis_points(points)
                && let Ok(tax) = tax_for_rate(rate, &lines)
            {
                prop_assert_eq!(tax.line_taxes.iter().sum::<i64>(), tax.tax);
            }
            if let Ok(amount) = prorate(price, days, period_days) {
                prop_assert!(amount.unsigned_abs() <= price.unsigned_abs());
            }
        }
    }
}
