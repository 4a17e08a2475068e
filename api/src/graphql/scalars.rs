//! The scalars whose rules are the service's, checked where values enter: `Decimal` (exact
//! values as strings, in and out) and `DateTime` (instants both databases keep alike).
//!
//! async-graphql's own decimal scalar also accepts JSON floats, which have already lost digits
//! by the time they arrive; this one refuses them. Both scalars check values during validation
//! (`is_valid`), so a refusal names the argument.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::service::{exact, time};

/// An exact decimal number, written as a string (`"3700000"`, `"0.25"`); whole numbers may also be
/// sent as JSON integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exact(pub Decimal);

/// An exact decimal number, written as a JSON string of digits with an optional sign and decimal
/// point ("3700000", "-0.25"), never a float; whole numbers may also be sent as JSON integers.
/// Values are stored when both databases keep them exactly: at most 15 significant digits and 6
/// decimal places. Answers carry the canonical form (no trailing zeros).
#[Scalar(name = "Decimal")]
impl ScalarType for Exact {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => exact::parse(text)
                .map(Exact)
                .map_err(InputValueError::custom),
            Value::Number(number) => number
                .as_i64()
                .map(|n| Exact(Decimal::from(n)))
                .ok_or_else(|| InputValueError::custom(crate::message!(FRACTIONS_AS_STRINGS))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        match value {
            Value::String(text) => exact::parse(text).is_ok(),
            // `parse` says why a fractional number is refused.
            Value::Number(_) => true,
            _ => false,
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

impl From<Decimal> for Exact {
    fn from(value: Decimal) -> Self {
        Self(value)
    }
}

/// An instant, written in RFC 3339 (`2021-06-30T00:00:00Z`, `2021-06-30T07:00:00+07:00`), with
/// at most microseconds, no leap second, in the years 1 to 9999 UTC: PostgreSQL keeps no finer
/// instant, so both databases keep the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instant(pub DateTime<Utc>);

/// An instant in RFC 3339 ("2021-06-30T00:00:00Z", "2021-06-30T07:00:00+07:00"), with at most
/// microseconds and no leap second, in the years 1 to 9999 UTC.
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339"
)]
impl ScalarType for Instant {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => time::parse_instant(text)
                .map(Instant)
                .map_err(InputValueError::custom),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(text) if time::parse_instant(text).is_ok())
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339())
    }
}

impl From<DateTime<Utc>> for Instant {
    fn from(value: DateTime<Utc>) -> Self {
        Self(value)
    }
}

/// A calendar day, written `YYYY-MM-DD` ("2021-06-30").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day(pub NaiveDate);

impl Day {
    fn read(text: &str) -> Result<NaiveDate, crate::messages::Message> {
        let well_formed =
            text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-';
        well_formed
            .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
            .flatten()
            .ok_or_else(|| crate::message!(NOT_A_DAY, text = text))
    }
}

/// A calendar day, written YYYY-MM-DD ("2021-06-30").
#[Scalar(
    name = "NaiveDate",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
)]
impl ScalarType for Day {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => Self::read(text).map(Day).map_err(InputValueError::custom),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(text) if Self::read(text).is_ok())
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

impl From<NaiveDate> for Day {
    fn from(value: NaiveDate) -> Self {
        Self(value)
    }
}
