//! Calendar dates in a time zone, as the articles and dashboards speak of them.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::ApiError;

/// Vietnam's time zone: the default for dates in the sources and for chart buckets.
pub const VIETNAM: Tz = chrono_tz::Asia::Ho_Chi_Minh;

pub fn parse_time_zone(name: &str) -> Result<Tz, ApiError> {
    name.parse::<Tz>().map_err(|_| {
        ApiError::bad_input(
            "timeZone",
            format!("`{name}` is not an IANA time zone name such as Asia/Ho_Chi_Minh"),
        )
    })
}

/// Reads an RFC 3339 instant that both databases keep exactly: at most microseconds (PostgreSQL
/// keeps no finer), and no leap second (PostgreSQL has none).
pub fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    let instant = DateTime::parse_from_rfc3339(text)
        .map_err(|_| format!("`{text}` is not an RFC 3339 instant such as 2021-06-30T00:00:00Z"))?
        .with_timezone(&Utc);
    storable_instant(instant).map_err(|why| format!("`{text}` {why}"))
}

/// Refuses an instant that one of the databases would change: finer than a microsecond, or a
/// leap second.
pub fn storable_instant(instant: DateTime<Utc>) -> Result<DateTime<Utc>, &'static str> {
    let nanoseconds = instant.timestamp_subsec_nanos();
    if nanoseconds >= 1_000_000_000 {
        return Err("is a leap second, which the databases cannot keep");
    }
    if nanoseconds % 1_000 != 0 {
        return Err("has digits finer than a microsecond, which the databases cannot keep");
    }
    Ok(instant)
}

/// The days a time series may span: wide enough for any history, far enough from the
/// calendar's ends that bucket arithmetic never runs out of dates.
pub fn within_calendar(argument: &'static str, date: NaiveDate) -> Result<NaiveDate, ApiError> {
    let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).expect("a date");
    let latest = NaiveDate::from_ymd_opt(2999, 12, 31).expect("a date");
    if (earliest..=latest).contains(&date) {
        Ok(date)
    } else {
        Err(ApiError::bad_input(
            argument,
            format!("{date} is outside the calendar served, {earliest} to {latest}"),
        ))
    }
}

/// The instant a local calendar day starts in `zone`.
pub fn start_of_day(date: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    // A zone may skip midnight on a daylight-saving change: take the first instant of the day.
    zone.from_local_datetime(&midnight)
        .earliest()
        .unwrap_or_else(|| zone.from_utc_datetime(&midnight))
        .with_timezone(&Utc)
}

pub fn local_date(instant: DateTime<Utc>, zone: Tz) -> NaiveDate {
    instant.with_timezone(&zone).date_naive()
}
