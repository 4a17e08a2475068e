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
