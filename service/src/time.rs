//! Calendar dates in a time zone, as the articles and dashboards speak of them.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::ApiError;
use crate::messages::{catalogue, Message, Template};

/// Vietnam's time zone: the default for dates in the sources and for chart buckets.
pub const VIETNAM: Tz = chrono_tz::Asia::Ho_Chi_Minh;

pub fn parse_time_zone(name: &str) -> Result<Tz, ApiError> {
    name.parse::<Tz>().map_err(|_| {
        ApiError::bad_input("timeZone", crate::message!(UNKNOWN_TIME_ZONE, name = name))
    })
}

/// Reads an RFC 3339 instant that both databases keep exactly: at most microseconds (PostgreSQL
/// keeps no finer), and no leap second (PostgreSQL has none).
pub fn parse_instant(text: &str) -> Result<DateTime<Utc>, Message> {
    let instant = DateTime::parse_from_rfc3339(text)
        .map_err(|_| crate::message!(NOT_AN_INSTANT, text = text))?
        .with_timezone(&Utc);
    storable_instant(instant).map_err(|why| Message::new(why).with("instant", text))
}

/// Refuses an instant that one of the databases would change: finer than a microsecond, or a
/// leap second; or one outside the years 1 to 9999 in UTC, which PostgreSQL reads back only when
/// it is bound, not written into a statement's text (a year 0, or 9999-12-31 at -01:00). The
/// refusal's template takes the instant as `{instant}`.
pub fn storable_instant(instant: DateTime<Utc>) -> Result<DateTime<Utc>, &'static Template> {
    if !(1..=9999).contains(&instant.year()) {
        return Err(&catalogue::OUTSIDE_YEARS);
    }
    let nanoseconds = instant.timestamp_subsec_nanos();
    if nanoseconds >= 1_000_000_000 {
        return Err(&catalogue::LEAP_SECOND);
    }
    if !nanoseconds.is_multiple_of(1_000) {
        return Err(&catalogue::FINER_THAN_MICROSECOND);
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
            crate::message!(
                OUTSIDE_CALENDAR,
                date = date,
                earliest = earliest,
                latest = latest
            ),
        ))
    }
}

/// Accepts the days `first` to `last` when both are in the calendar and in order; the refusal
/// names `first_argument` or `last_argument`, whichever holds the day at fault.
pub fn day_range(
    (first_argument, first): (&'static str, NaiveDate),
    (last_argument, last): (&'static str, NaiveDate),
) -> Result<(), ApiError> {
    within_calendar(first_argument, first)?;
    within_calendar(last_argument, last)?;
    if first > last {
        return Err(ApiError::bad_input(
            last_argument,
            crate::message!(RANGE_REVERSED, to = last, from = first),
        ));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_both_databases_write_alike_are_read_and_others_refused() {
        assert!(parse_instant("2021-06-30T00:00:00.123456+07:00").is_ok());
        assert!(parse_instant("0001-01-01T00:00:00Z").is_ok());
        for text in [
            "0000-06-01T00:00:00Z",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "2021-06-30T00:00:00.1234567Z",
            "2016-12-31T23:59:60Z",
        ] {
            assert!(parse_instant(text).is_err(), "{text} is refused");
        }
    }
}
