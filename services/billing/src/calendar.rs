//! Billing calendars: bill cycle days, billing periods and the account's local date. Pure, no I/O.
//!
//! Every charge and bill is tied to a billing period, and the two complaints billing users raise most (double
//! billing and wrong proration) both start with a wrong period. The rules (docs/adr/0015):
//! - A bill cycle day is 1..=31 ([`BillCycleDay`], parsed once at the edge). Its bill date in a month is
//!   `min(day, days_in_month)`: day 31 bills on Jan 31, Feb 28 (29), Mar 31, Apr 30 — never skipped, never
//!   stopped, and back on the 31st as soon as a month has one.
//! - A [`BillingPeriod`] is a half-open range of local calendar dates `[start, end)` from one bill date to the
//!   next, so consecutive periods tile time with no gap and no overlap.
//! - Instants become dates in the account's IANA time zone ([`AccountTimeZone`]); periods and proration count
//!   calendar days, never hours, so a daylight-saving change (a 23- or 25-hour day) bills the same days.

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use std::fmt;
use std::str::FromStr;

/// Why a calendar value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("a bill cycle day must be an integer from 1 to 31")]
    CycleDay,
    #[error("'{0}' is not an IANA time zone name")]
    TimeZone(String),
    #[error("the date lies outside the range billing can represent")]
    OutOfRange,
}

/// The day of the month an account is billed on: 1..=31. Days 29–31 fall on the last day of shorter months.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BillCycleDay(u8);

impl BillCycleDay {
    /// The cycle day `day`, if it is 1..=31.
    pub fn new(day: i64) -> Result<Self, CalendarError> {
        u8::try_from(day).ok().filter(|d| (1..=31).contains(d)).map(Self).ok_or(CalendarError::CycleDay)
    }

    pub fn get(self) -> u32 {
        u32::from(self.0)
    }

    /// The bill date in `year`/`month` (1..=12): `min(day, days in that month)`.
    pub fn bill_date(self, year: i32, month: u32) -> Result<NaiveDate, CalendarError> {
        let last = days_in_month(year, month)?;
        NaiveDate::from_ymd_opt(year, month, self.get().min(last)).ok_or(CalendarError::OutOfRange)
    }

    /// The billing period that contains `date`.
    pub fn period_containing(self, date: NaiveDate) -> Result<BillingPeriod, CalendarError> {
        let (year, month) = (date.year(), date.month());
        let this_month = self.bill_date(year, month)?;
        let (start, end) = if date >= this_month {
            let (y, m) = next_month(year, month);
            (this_month, self.bill_date(y, m)?)
        } else {
            let (y, m) = previous_month(year, month);
            (self.bill_date(y, m)?, this_month)
        };
        Ok(BillingPeriod { start, end })
    }

    /// The period right after `period` (which must be a period of this cycle day; otherwise the period after
    /// `period.end`'s own period).
    pub fn next(self, period: BillingPeriod) -> Result<BillingPeriod, CalendarError> {
        self.period_containing(period.end)
    }
}

impl FromStr for BillCycleDay {
    type Err = CalendarError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.trim().parse::<i64>().map_err(|_| CalendarError::CycleDay).and_then(Self::new)
    }
}

impl fmt::Display for BillCycleDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Days in `month` (1..=12) of `year`.
pub fn days_in_month(year: i32, month: u32) -> Result<u32, CalendarError> {
    let first = NaiveDate::from_ymd_opt(year, month, 1).ok_or(CalendarError::OutOfRange)?;
    let (y, m) = next_month(year, month);
    let next_first = NaiveDate::from_ymd_opt(y, m, 1).ok_or(CalendarError::OutOfRange)?;
    u32::try_from(next_first.signed_duration_since(first).num_days()).map_err(|_| CalendarError::OutOfRange)
}

fn next_month(year: i32, month: u32) -> (i32, u32) {
    if month >= 12 { (year.saturating_add(1), 1) } else { (year, month + 1) }
}

fn previous_month(year: i32, month: u32) -> (i32, u32) {
    if month <= 1 { (year.saturating_sub(1), 12) } else { (year, month - 1) }
}

/// A half-open range of local calendar dates `[start, end)`, `start < end`: the days one recurring charge
/// covers. Built only by [`BillCycleDay`] (or [`BillingPeriod::new`]), so it is never empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BillingPeriod {
    start: NaiveDate,
    end: NaiveDate,
}

impl BillingPeriod {
    /// `[start, end)`, refused when empty or reversed.
    pub fn new(start: NaiveDate, end: NaiveDate) -> Result<Self, CalendarError> {
        if start < end { Ok(Self { start, end }) } else { Err(CalendarError::OutOfRange) }
    }

    /// The first billed date.
    pub fn start(self) -> NaiveDate {
        self.start
    }

    /// The first date after the period (excluded).
    pub fn end(self) -> NaiveDate {
        self.end
    }

    /// Number of calendar days in the period (28..=31 for a monthly cycle).
    pub fn days(self) -> u32 {
        days_between(self.start, self.end)
    }

    pub fn contains(self, date: NaiveDate) -> bool {
        self.start <= date && date < self.end
    }

    /// The last date in the period (included), for documents that print closed ranges.
    pub fn last_day(self) -> NaiveDate {
        self.end.checked_sub_days(Days::new(1)).unwrap_or(self.start)
    }
}

impl fmt::Display for BillingPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {})", self.start, self.end)
    }
}

/// Whole calendar days from `from` to `to` (0 when `to <= from`).
pub fn days_between(from: NaiveDate, to: NaiveDate) -> u32 {
    u32::try_from(to.signed_duration_since(from).num_days()).unwrap_or(0)
}

/// An account's IANA time zone: turns instants into the local calendar dates billing counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountTimeZone(chrono_tz::Tz);

impl AccountTimeZone {
    /// The zone named `name` exactly as the IANA database spells it (`Europe/Paris`, `America/Los_Angeles`,
    /// `UTC`).
    pub fn parse(name: &str) -> Result<Self, CalendarError> {
        name.parse::<chrono_tz::Tz>().map(Self).map_err(|_| CalendarError::TimeZone(name.to_owned()))
    }

    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// The local calendar date of `instant` in this zone.
    pub fn local_date(self, instant: DateTime<Utc>) -> NaiveDate {
        instant.with_timezone(&self.0).date_naive()
    }

    /// The instant local `date` begins: local midnight, or — where a daylight-saving change skips midnight —
    /// the first local instant of that date that exists. `None` only outside chrono's range.
    pub fn start_of(self, date: NaiveDate) -> Option<DateTime<Utc>> {
        (0..24u32).find_map(|hour| {
            let local = date.and_time(NaiveTime::from_hms_opt(hour, 0, 0)?);
            self.0.from_local_datetime(&local).earliest().map(|at| at.with_timezone(&Utc))
        })
    }
}

impl fmt::Display for AccountTimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use proptest::prelude::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn day(d: i64) -> BillCycleDay {
        BillCycleDay::new(d).unwrap()
    }

    #[test]
    fn a_cycle_day_outside_one_to_thirty_one_is_refused() {
        for bad in [0, 32, -1, 255, 256, i64::MIN, i64::MAX] {
            assert_eq!(BillCycleDay::new(bad), Err(CalendarError::CycleDay), "{bad}");
        }
        for good in [1, 15, 28, 29, 30, 31] {
            assert_eq!(BillCycleDay::new(good).unwrap().get(), u32::try_from(good).unwrap());
        }
        assert_eq!("31".parse::<BillCycleDay>(), Ok(day(31)));
        for bad in ["", "x", "1.5", "32", "0"] {
            assert!(bad.parse::<BillCycleDay>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn day_thirty_one_bills_on_the_last_day_of_short_months_and_returns_to_the_thirty_first() {
        let bills: Vec<NaiveDate> = (1..=5)
            .map(|month| day(31).bill_date(2026, month).unwrap())
            .chain([day(31).bill_date(2028, 2).unwrap()])
            .collect();
        assert_eq!(
            bills,
            ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31", "2028-02-29"].map(date).to_vec()
        );
        assert_eq!(day(29).bill_date(2027, 2).unwrap(), date("2027-02-28"));
        assert_eq!(day(30).bill_date(2028, 2).unwrap(), date("2028-02-29"));
        assert_eq!(day(15).bill_date(2026, 2).unwrap(), date("2026-02-15"));
    }

    #[test]
    fn consecutive_periods_of_cycle_day_thirty_one_run_jan_31_feb_28_mar_31_apr_30() {
        let first = day(31).period_containing(date("2026-01-31")).unwrap();
        assert_eq!((first.start(), first.end()), (date("2026-01-31"), date("2026-02-28")));
        let second = day(31).next(first).unwrap();
        assert_eq!((second.start(), second.end()), (date("2026-02-28"), date("2026-03-31")));
        let third = day(31).next(second).unwrap();
        assert_eq!((third.start(), third.end()), (date("2026-03-31"), date("2026-04-30")));
        assert_eq!((first.days(), second.days(), third.days()), (28, 31, 30));
    }

    #[test]
    fn a_date_before_this_months_bill_date_belongs_to_the_period_that_began_last_month() {
        let period = day(10).period_containing(date("2026-03-09")).unwrap();
        assert_eq!(period, BillingPeriod::new(date("2026-02-10"), date("2026-03-10")).unwrap());
        let period = day(10).period_containing(date("2026-03-10")).unwrap();
        assert_eq!(period, BillingPeriod::new(date("2026-03-10"), date("2026-04-10")).unwrap());
        let january = day(1).period_containing(date("2026-12-31")).unwrap();
        assert_eq!(january, BillingPeriod::new(date("2026-12-01"), date("2027-01-01")).unwrap());
        assert!(january.contains(date("2026-12-01")) && !january.contains(date("2027-01-01")));
        assert_eq!(january.last_day(), date("2026-12-31"));
        assert_eq!(january.to_string(), "[2026-12-01, 2027-01-01)");
    }

    #[test]
    fn an_empty_or_reversed_period_cannot_be_built() {
        assert!(BillingPeriod::new(date("2026-01-01"), date("2026-01-01")).is_err());
        assert!(BillingPeriod::new(date("2026-01-02"), date("2026-01-01")).is_err());
    }

    #[test]
    fn periods_at_the_edges_of_the_calendar_are_errors_not_panics() {
        for cycle in [1, 31] {
            assert_eq!(day(cycle).period_containing(NaiveDate::MAX), Err(CalendarError::OutOfRange));
        }
        // The first representable day starts a period of cycle day 1; for day 31 the period began before it.
        assert_eq!(day(1).period_containing(NaiveDate::MIN).unwrap().start(), NaiveDate::MIN);
        assert_eq!(day(31).period_containing(NaiveDate::MIN), Err(CalendarError::OutOfRange));
        assert!(days_in_month(2026, 13).is_err());
        assert!(days_in_month(2026, 0).is_err());
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(AccountTimeZone::parse("America/Los_Angeles").unwrap().name(), "America/Los_Angeles");
        assert_eq!(AccountTimeZone::parse("UTC").unwrap().to_string(), "UTC");
        for bad in ["", "PST8PDT/Nowhere", "Mars/Olympus_Mons", "europe/paris ", "+02:00"] {
            assert!(AccountTimeZone::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_instant_is_billed_on_the_accounts_local_date() {
        let la = AccountTimeZone::parse("America/Los_Angeles").unwrap();
        let paris = AccountTimeZone::parse("Europe/Paris").unwrap();
        let instant: DateTime<Utc> = "2026-03-10T05:30:00Z".parse().unwrap();
        assert_eq!(la.local_date(instant), date("2026-03-09"), "22:30 PDT the evening before");
        assert_eq!(paris.local_date(instant), date("2026-03-10"));
        // Hence the same instant falls in different periods for cycle day 10.
        assert_eq!(day(10).period_containing(la.local_date(instant)).unwrap().start(), date("2026-02-10"));
        assert_eq!(day(10).period_containing(paris.local_date(instant)).unwrap().start(), date("2026-03-10"));
    }

    #[test]
    fn daylight_saving_changes_in_los_angeles_do_not_change_the_billed_days() {
        let la = AccountTimeZone::parse("America/Los_Angeles").unwrap();
        // 2026-03-08 has 23 hours (PST→PDT), 2026-11-01 has 25 (PDT→PST); both are one billed day.
        for (cycle, start, end, days) in [(8, "2026-03-08", "2026-04-08", 31), (1, "2026-11-01", "2026-12-01", 30)] {
            let period = day(cycle).period_containing(date(start)).unwrap();
            assert_eq!((period.start(), period.end(), period.days()), (date(start), date(end), days));
            let begins = la.start_of(period.start()).unwrap();
            let ends = la.start_of(period.end()).unwrap();
            let hours = ends.signed_duration_since(begins).num_hours();
            assert_eq!(hours, i64::from(days) * 24 + if cycle == 8 { -1 } else { 1 }, "the absolute length differs");
            // Every instant of the period maps to a local date inside it; the instant before and at the end do not.
            assert!(period.contains(la.local_date(begins)));
            assert!(period.contains(la.local_date(ends - Duration::seconds(1))));
            assert!(!period.contains(la.local_date(ends)));
            assert!(!period.contains(la.local_date(begins - Duration::seconds(1))));
        }
        assert_eq!(la.start_of(date("2026-03-08")).unwrap(), "2026-03-08T08:00:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(la.start_of(date("2026-03-09")).unwrap(), "2026-03-09T07:00:00Z".parse::<DateTime<Utc>>().unwrap());
    }

    #[test]
    fn every_hour_of_two_years_in_los_angeles_lands_on_a_day_of_twenty_three_to_twenty_five_hours() {
        let la = AccountTimeZone::parse("America/Los_Angeles").unwrap();
        let mut hours_per_day = std::collections::BTreeMap::<NaiveDate, u32>::new();
        let first: DateTime<Utc> = "2026-01-01T08:00:00Z".parse().unwrap();
        let mut previous = la.local_date(first);
        for hour in 0..(2 * 365 * 24) {
            let local = la.local_date(first + Duration::hours(hour));
            assert!(local == previous || local == previous.succ_opt().unwrap(), "dates advance one at a time");
            previous = local;
            *hours_per_day.entry(local).or_default() += 1;
        }
        let short: Vec<_> = hours_per_day.iter().filter(|(_, h)| **h == 23).map(|(d, _)| d.to_string()).collect();
        let long: Vec<_> = hours_per_day.iter().filter(|(_, h)| **h == 25).map(|(d, _)| d.to_string()).collect();
        assert_eq!(short, ["2026-03-08", "2027-03-14"]);
        assert_eq!(long, ["2026-11-01", "2027-11-07"]);
        assert!(hours_per_day.values().all(|h| (23..=25).contains(h)));
    }

    proptest! {
        #[test]
        fn periods_tile_ten_years_for_every_cycle_day(cycle in 1i64..=31, start_year in 1990i32..2100) {
            let cycle = day(cycle);
            let mut period = cycle.period_containing(NaiveDate::from_ymd_opt(start_year, 1, 1).unwrap()).unwrap();
            let mut february_29_seen = false;
            for _ in 0..120 {
                let next = cycle.next(period).unwrap();
                prop_assert_eq!(next.start(), period.end(), "no gap and no overlap");
                prop_assert!(next.start() < next.end());
                prop_assert!((28..=31).contains(&next.days()));
                let expected_day = cycle.get().min(days_in_month(next.start().year(), next.start().month()).unwrap());
                prop_assert_eq!(next.start().day(), expected_day, "the bill date is min(day, month length)");
                prop_assert_eq!(cycle.period_containing(next.last_day()).unwrap(), next);
                february_29_seen |= next.start().month() == 2 && next.start().day() == 29;
                period = next;
            }
            // Ten years always include a leap February; cycle days 29–31 bill on its 29th.
            prop_assert_eq!(february_29_seen, cycle.get() >= 29);
        }

        #[test]
        fn every_date_lies_in_exactly_the_period_that_contains_it(
            days in 0i64..80_000, cycle in 1i64..=31
        ) {
            let date = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + Duration::days(days);
            let period = day(cycle).period_containing(date).unwrap();
            prop_assert!(period.contains(date));
            prop_assert!(!day(cycle).next(period).unwrap().contains(date));
        }

        #[test]
        fn no_date_and_no_cycle_day_panics(days in i64::from(i32::MIN)..i64::from(i32::MAX), cycle in any::<i64>()) {
            let Some(date) = NaiveDate::from_num_days_from_ce_opt(i32::try_from(days).unwrap()) else { return Ok(()) };
            if let Ok(cycle) = BillCycleDay::new(cycle)
                && let Ok(period) = cycle.period_containing(date)
            {
                prop_assert!(period.contains(date));
            }
        }
    }
}
