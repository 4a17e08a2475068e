//! SDMX-CSV (version 1.0), the exchange format of statistical offices, for a series or a
//! breakdown: one row per value, its qualifier kept.
//!
//! Columns: `DATAFLOW` (`EGOVKPI:DF_KPI(1.0)`), `REF_AREA` (the agency's code, `VN` for the
//! national figures), `INDICATOR` (the metric's code), `TIME_PERIOD` (`2025`, `2025-Q2`,
//! `2025-06`, `2025-W26`, `2025-06-30`, or an ISO 8601 interval), `OBS_VALUE` (exact, as stored),
//! `OBS_STATUS` (`A` for an exact figure, `E` for anything else: an estimate or a bound is not the
//! true value), `OBS_QUALIFIER` (`EXACT`, `MORE_THAN`, …: what `E` stands for), `UNIT_MEASURE`
//! and `UNIT_MULT` (the power of ten of the scale).

use chrono::{Datelike, Duration, NaiveDate};
use entity::metric;
use entity::values::{Qualifier, Scale};
use rust_decimal::Decimal;
use serde::Serialize;

pub const DATAFLOW: &str = "EGOVKPI:DF_KPI(1.0)";
/// The header row: the names of [`Row`]'s fields.
const COLUMNS: [&str; 9] = [
    "DATAFLOW",
    "REF_AREA",
    "INDICATOR",
    "TIME_PERIOD",
    "OBS_VALUE",
    "OBS_STATUS",
    "OBS_QUALIFIER",
    "UNIT_MEASURE",
    "UNIT_MULT",
];
/// `REF_AREA` of national figures: Viet Nam's ISO 3166 code.
pub const NATIONAL: &str = "VN";

/// One value to write.
pub struct Value {
    pub area: String,
    pub period: String,
    pub value: Decimal,
    pub qualifier: Qualifier,
}

#[derive(Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
struct Row<'a> {
    dataflow: &'a str,
    ref_area: &'a str,
    indicator: &'a str,
    time_period: &'a str,
    obs_value: String,
    obs_status: &'static str,
    obs_qualifier: String,
    unit_measure: String,
    unit_mult: u32,
}

fn unit_multiplier(scale: Scale) -> u32 {
    match scale {
        Scale::One => 0,
        Scale::Thousand => 3,
        Scale::Million => 6,
        Scale::Billion => 9,
    }
}

/// The SDMX-CSV text of `values` of `metric`.
pub fn write(metric: &metric::Model, values: &[Value]) -> Result<String, csv::Error> {
    let unit = code(metric.unit);
    let mut writer = csv::Writer::from_writer(Vec::new());
    for value in values {
        writer.serialize(Row {
            dataflow: DATAFLOW,
            ref_area: &value.area,
            indicator: &metric.code,
            time_period: &value.period,
            obs_value: value.value.to_string(),
            obs_status: if value.qualifier == Qualifier::Exact {
                "A"
            } else {
                "E"
            },
            obs_qualifier: code(value.qualifier),
            unit_measure: unit.clone(),
            unit_mult: unit_multiplier(metric.scale),
        })?;
    }
    if values.is_empty() {
        // The header alone, so that an empty export still says what it would hold.
        writer.write_record(COLUMNS)?;
    }
    let bytes = writer.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8(bytes).unwrap_or_default())
}

/// The code of a value as the GraphQL API writes it: `more_than` → `MORE_THAN`.
fn code(value: impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_uppercase))
        .unwrap_or_default()
}

/// How SDMX names the days `first` to `last`: a year, a quarter, a month, or an interval.
pub fn period(first: NaiveDate, last: NaiveDate) -> String {
    let next = last + Duration::days(1);
    let months = (next.year() - first.year()) * 12 + next.month() as i32 - first.month() as i32;
    let whole = first.day() == 1 && next.day() == 1;
    match (whole, months) {
        (true, 12) if first.month() == 1 => first.year().to_string(),
        (true, 3) if first.month0().is_multiple_of(3) => {
            format!("{}-Q{}", first.year(), first.month0() / 3 + 1)
        }
        (true, 1) => first.format("%Y-%m").to_string(),
        _ if first == last => first.to_string(),
        _ => format!("{first}/{last}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_named_as_sdmx_names_them() {
        let day = |text: &str| text.parse::<NaiveDate>().unwrap();
        assert_eq!(period(day("2025-01-01"), day("2025-12-31")), "2025");
        assert_eq!(period(day("2025-04-01"), day("2025-06-30")), "2025-Q2");
        assert_eq!(period(day("2025-06-01"), day("2025-06-30")), "2025-06");
        assert_eq!(period(day("2025-06-30"), day("2025-06-30")), "2025-06-30");
        assert_eq!(
            period(day("2025-06-10"), day("2025-07-09")),
            "2025-06-10/2025-07-09"
        );
    }
}
