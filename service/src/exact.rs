//! Exact decimal values that read back the same from SQLite and PostgreSQL.
//!
//! SQLite keeps a decimal as a double, which holds 15 significant digits exactly; PostgreSQL's
//! `numeric(21, 6)` pads to six decimal places. A value is accepted for storage only when both
//! can hold it exactly, and every value read back is rounded to those 15 digits and stripped of
//! trailing zeros, so both databases answer the same string.

use rust_decimal::Decimal;

use crate::error::ApiError;
use crate::messages::Message;

pub const MAX_SIGNIFICANT_DIGITS: u32 = 15;
pub const MAX_DECIMAL_PLACES: u32 = 6;

/// Reads a value written as digits with an optional sign and decimal point (`3700000`,
/// `-0.25`), exactly: no exponent, separator or rounding, so that what was sent is what is kept
/// or refused (a value too small to hold is an error, not zero).
pub fn parse(text: &str) -> Result<Decimal, Message> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    let well_formed = text.len() <= 64
        && !whole.is_empty()
        && !fraction.is_empty()
        && whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit());
    if !well_formed {
        return Err(crate::message!(NOT_A_DECIMAL, text = text));
    }
    Decimal::from_str_exact(text).map_err(|_| crate::message!(DECIMAL_TOO_LONG, text = text))
}

/// The canonical form of a value read from the database.
pub fn from_storage(value: Decimal) -> Decimal {
    canonical_small(value).unwrap_or_else(|| canonical(value))
}

/// As [`canonical`], in 64-bit arithmetic, for a value whose digits fit in 64 bits and need no
/// rounding: every stored value. PostgreSQL pads each to six places, and stripping them in
/// `Decimal`'s 96-bit arithmetic cost more than reading the value.
fn canonical_small(value: Decimal) -> Option<Decimal> {
    let mut digits = u64::try_from(value.mantissa().unsigned_abs()).ok()?;
    let mut scale = value.scale();
    while scale > 0 && digits % 10 == 0 {
        digits /= 10;
        scale -= 1;
    }
    if digits >= 10_u64.pow(MAX_SIGNIFICANT_DIGITS) {
        return None;
    }
    // A zero is positive once normalised, as `Decimal::normalize` leaves it.
    let magnitude = i128::from(digits);
    let signed = if value.is_sign_negative() {
        -magnitude
    } else {
        magnitude
    };
    Decimal::try_from_i128_with_scale(signed, scale).ok()
}

/// Stripped of trailing zeros and rounded to the digits SQLite's doubles hold exactly.
fn canonical(value: Decimal) -> Decimal {
    let value = value.normalize();
    // Only a double read from SQLite carries more digits than were stored.
    if significant_digits(value) <= MAX_SIGNIFICANT_DIGITS {
        return value;
    }
    value
        .round_sf(MAX_SIGNIFICANT_DIGITS)
        .unwrap_or(value)
        .normalize()
}

pub fn from_storage_opt(value: Option<Decimal>) -> Option<Decimal> {
    value.map(from_storage)
}

/// Accepts `value` when it can be stored and read back exactly; returns its canonical form.
pub fn storable(argument: &'static str, value: Decimal) -> Result<Decimal, ApiError> {
    let value = value.normalize();
    if value.scale() > MAX_DECIMAL_PLACES {
        return Err(ApiError::bad_input(
            argument,
            crate::message!(
                TOO_MANY_DECIMAL_PLACES,
                value = value,
                max = MAX_DECIMAL_PLACES
            ),
        ));
    }
    if significant_digits(value) > MAX_SIGNIFICANT_DIGITS {
        return Err(ApiError::bad_input(
            argument,
            crate::message!(
                TOO_MANY_SIGNIFICANT_DIGITS,
                value = value,
                max = MAX_SIGNIFICANT_DIGITS
            ),
        ));
    }
    Ok(value)
}

/// Digits from the first non-zero one to the last one written, for a normalised value.
fn significant_digits(value: Decimal) -> u32 {
    let mantissa = value.mantissa().unsigned_abs();
    if mantissa == 0 {
        return 1;
    }
    mantissa.ilog10() + 1
}

/// Decimals with mantissas of every length up to 96 bits, at every scale a `Decimal` has, with
/// both signs: what the tests of reading and canonical forms sweep.
#[cfg(test)]
pub(crate) fn decimals_of_every_shape() -> impl Iterator<Item = Decimal> {
    let mantissas =
        std::iter::successors(Some(7_i128), |m| Some(m * 9 + 7)).take_while(|m| *m < 1 << 96);
    mantissas.flat_map(|mantissa| {
        (0..=28).flat_map(move |scale| {
            [mantissa, -mantissa].map(|signed| Decimal::from_i128_with_scale(signed, scale))
        })
    })
}

/// An approximate float beside the exact value, for charting libraries.
pub fn approximate(value: Decimal) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    value.to_f64().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn only_plain_decimals_are_read_and_none_is_rounded() {
        assert_eq!(parse("3700000").unwrap(), Decimal::from(3_700_000));
        assert_eq!(parse("-0.25").unwrap().to_string(), "-0.25");
        for text in ["5_0", "1e3", " 5", "5.", ".5", "+5", "", "-", "0x10", "５"] {
            assert!(parse(text).is_err(), "{text:?} is refused");
        }
        assert!(parse("0.00000000000000000000000000001").is_err());
        assert!(storable("value", parse("0.0000001").unwrap()).is_err());
    }

    fn d(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    #[test]
    fn padded_and_float_readings_become_the_same_string() {
        // What PostgreSQL's numeric(21, 6) returns.
        assert_eq!(from_storage(d("3700000.000000")).to_string(), "3700000");
        // What a double in SQLite turns into.
        let from_double = Decimal::try_from(123456789.012345_f64).unwrap();
        assert_eq!(from_storage(from_double).to_string(), "123456789.012345");
        let from_double = Decimal::try_from(0.3_f64).unwrap();
        assert_eq!(from_storage(from_double).to_string(), "0.3");
    }

    #[test]
    fn stored_values_are_made_canonical_as_the_general_path_makes_them() {
        for value in decimals_of_every_shape() {
            let canonical = canonical(value).to_string();
            assert_eq!(from_storage(value).to_string(), canonical, "{value:?}");
            // The same value padded with zeros, as PostgreSQL returns it.
            let padded =
                Decimal::try_from_i128_with_scale(value.mantissa() * 1000, value.scale() + 3);
            if let Ok(padded) = padded {
                assert_eq!(from_storage(padded).to_string(), canonical, "{padded:?}");
            }
        }
        assert_eq!(from_storage(d("0.000")).to_string(), "0");
        assert_eq!(from_storage(d("-0.000000")).to_string(), "0");
        assert_eq!(
            from_storage(d("999999999999999.000000")).to_string(),
            "999999999999999"
        );
        assert_eq!(
            from_storage(d("1234567890123456")).to_string(),
            "1234567890123460"
        );
    }

    #[test]
    fn values_that_cannot_be_kept_exactly_are_refused() {
        assert_eq!(
            storable("value", d("1200.50")).unwrap().to_string(),
            "1200.5"
        );
        assert!(storable("value", d("999999999999999")).is_ok());
        let too_long = storable("value", d("1234567890123456")).unwrap_err();
        assert_eq!(too_long.code(), "BAD_USER_INPUT");
        assert!(too_long.to_string().contains("significant digits"));
        let too_fine = storable("value", d("0.0000001")).unwrap_err();
        assert!(too_fine.to_string().contains("decimal places"));
    }
}
