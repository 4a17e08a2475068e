//! The scalars whose rules are the service's, checked where values enter: `Decimal` (exact
//! values as strings, in and out) and `DateTime` (instants both databases keep alike).
//!
//! async-graphql's own decimal scalar also accepts JSON floats, which have already lost digits
//! by the time they arrive; this one refuses them. Both scalars check values during validation
//! (`is_valid`), so a refusal names the argument.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
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
        Value::String(decimal_text(self.0))
    }
}

/// `value` as `Decimal`'s `Display` writes it (every digit of its scale, `-` on a negative, `0.`
/// before a fraction), written directly: a page of figures writes one per figure, and the
/// formatter's general path cost more than the rest of the field.
fn decimal_text(value: Decimal) -> String {
    ascii_text(|out| write_decimal(out, value))
}

/// [`decimal_text`], appended to `out`.
pub(crate) fn write_decimal(out: &mut Vec<u8>, value: Decimal) {
    let mut buffer = itoa::Buffer::new();
    let mantissa = value.mantissa().unsigned_abs();
    let digits = if mantissa == 0 {
        ""
    } else {
        buffer.format(mantissa)
    }
    .as_bytes();
    let scale = value.scale() as usize;
    if value.is_sign_negative() {
        out.push(b'-');
    }
    if digits.len() > scale {
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        out.extend_from_slice(whole);
        if scale > 0 {
            out.push(b'.');
            out.extend_from_slice(fraction);
        }
    } else if scale == 0 {
        out.push(b'0');
    } else {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', scale - digits.len()));
        out.extend_from_slice(digits);
    }
}

/// The text `write` appends, which is ASCII, as a `String`.
fn ascii_text(write: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::with_capacity(32);
    write(&mut out);
    String::from_utf8(out).unwrap_or_default()
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
        Value::String(instant_text(self.0))
    }
}

/// `instant` as chrono's `to_rfc3339` writes it (`2021-06-30T00:00:00+00:00`, a fraction in
/// milli-, micro- or nanoseconds when there is one), written directly for the years 0 to 9999;
/// any other instant by chrono itself.
fn instant_text(instant: DateTime<Utc>) -> String {
    ascii_text(|out| write_instant(out, instant))
}

/// [`instant_text`], appended to `out`: composed in a buffer of the longest such text and
/// appended at once.
pub(crate) fn write_instant(out: &mut Vec<u8>, instant: DateTime<Utc>) {
    let (date, time) = (instant.date_naive(), instant.time());
    let nanos = time.nanosecond();
    let year = date.year();
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        out.extend_from_slice(instant.to_rfc3339().as_bytes());
        return;
    }
    let mut text = Digits::default();
    text.number(year.unsigned_abs(), 4);
    text.byte(b'-');
    text.number(date.month(), 2);
    text.byte(b'-');
    text.number(date.day(), 2);
    text.byte(b'T');
    text.number(time.hour(), 2);
    text.byte(b':');
    text.number(time.minute(), 2);
    text.byte(b':');
    text.number(time.second(), 2);
    let fraction = match nanos {
        0 => None,
        _ if nanos % 1_000_000 == 0 => Some((nanos / 1_000_000, 3)),
        _ if nanos % 1_000 == 0 => Some((nanos / 1_000, 6)),
        _ => Some((nanos, 9)),
    };
    if let Some((fraction, places)) = fraction {
        text.byte(b'.');
        text.number(fraction, places);
    }
    for &byte in b"+00:00" {
        text.byte(byte);
    }
    out.extend_from_slice(text.written());
}

/// Room for `YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+00:00` (35 bytes).
struct Digits {
    bytes: [u8; 35],
    len: usize,
}

impl Default for Digits {
    fn default() -> Self {
        Self {
            bytes: [0; 35],
            len: 0,
        }
    }
}

impl Digits {
    fn byte(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    /// The last `places` decimal digits of `number`, most significant first.
    fn number(&mut self, number: u32, places: u32) {
        for place in (0..places).rev() {
            self.byte(b'0' + (number / 10_u32.pow(place) % 10) as u8);
        }
    }

    fn written(&self) -> &[u8] {
        &self.bytes[..self.len]
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn decimals_are_written_as_their_display_writes_them() {
        let mut values = vec![Decimal::ZERO, -Decimal::ZERO, Decimal::MAX, Decimal::MIN];
        for mantissa in [
            0_i64,
            1,
            5,
            9,
            10,
            42,
            100,
            1_200,
            123_456_789,
            999_999_999_999_999,
        ] {
            for scale in [0, 1, 2, 3, 6, 9, 15, 18, 28] {
                for sign in [1, -1] {
                    values.push(Decimal::new(sign * mantissa, scale));
                }
            }
        }
        values.push(Decimal::from_i128_with_scale(
            i128::from(u64::MAX) * 1_000,
            4,
        ));
        values.push(Decimal::new(6_700, 0).normalize());
        values.push(Decimal::new(12_000, 1));
        for value in values {
            assert_eq!(decimal_text(value), value.to_string(), "{value:?}");
        }
    }

    #[test]
    fn instants_are_written_as_chrono_writes_them_in_rfc_3339() {
        let mut instants = Vec::new();
        for (year, month, day, hour, minute, second) in [
            (1, 1, 1, 0, 0, 0),
            (2021, 6, 30, 0, 0, 0),
            (2025, 7, 1, 7, 5, 9),
            (9999, 12, 31, 23, 59, 59),
            (999, 2, 28, 12, 30, 1),
        ] {
            let whole = Utc
                .with_ymd_and_hms(year, month, day, hour, minute, second)
                .unwrap();
            for nanos in [
                0,
                1,
                999,
                1_000,
                120_000,
                5_000_000,
                999_999_000,
                999_999_999,
            ] {
                instants.push(whole + chrono::Duration::nanoseconds(nanos));
            }
        }
        instants.push(DateTime::<Utc>::MIN_UTC);
        instants.push(DateTime::<Utc>::MAX_UTC);
        instants.push(Utc.with_ymd_and_hms(-5, 3, 1, 0, 0, 0).unwrap());
        let leap_second = NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|day| day.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
            .unwrap();
        instants.push(Utc.from_utc_datetime(&leap_second));
        for instant in instants {
            assert_eq!(instant_text(instant), instant.to_rfc3339(), "{instant:?}");
        }
    }
}
