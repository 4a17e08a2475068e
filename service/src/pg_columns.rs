//! Columns of PostgreSQL rows decoded by hand from PostgreSQL's binary format.
//!
//! sqlx decodes each value through its general path: the value's type looked up and cloned, the
//! bytes checked, chrono types built one from another for an instant. For the rows dashboards read
//! most (figures and readings, twenty values a row) that was most of the cost of a page of twenty.
//! sqlx asks for the binary format on every prepared statement, and the migrations fix each
//! column's type, so the values are read here straight from their bytes; a value in any other
//! format, or bytes that are not what the column holds, go through sqlx's own decoding and its
//! errors.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use entity::values::Qualifier;
use rust_decimal::Decimal;
use sea_orm::sqlx::postgres::{PgRow, PgValueFormat, PgValueRef, Postgres};
use sea_orm::sqlx::{Decode, Error, Row, ValueRef};
use sea_orm::{ActiveEnum, Iterable};

/// A value read from the bytes of PostgreSQL's binary format.
pub trait FromBinary: Sized + for<'r> Decode<'r, Postgres> {
    /// The value the bytes encode; none when they are not one, for sqlx to explain.
    fn from_binary(bytes: &[u8]) -> Option<Self>;
}

impl FromBinary for i32 {
    fn from_binary(bytes: &[u8]) -> Option<Self> {
        Some(i32::from_be_bytes(bytes.try_into().ok()?))
    }
}

impl FromBinary for bool {
    fn from_binary(bytes: &[u8]) -> Option<Self> {
        match bytes {
            [byte] => Some(*byte != 0),
            _ => None,
        }
    }
}

impl FromBinary for String {
    fn from_binary(bytes: &[u8]) -> Option<Self> {
        std::str::from_utf8(bytes).ok().map(str::to_owned)
    }
}

/// 2000-01-01 00:00 UTC, from which PostgreSQL counts microseconds, in microseconds since 1970.
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A `timestamptz`: microseconds since 2000, by arithmetic.
impl FromBinary for DateTime<Utc> {
    fn from_binary(bytes: &[u8]) -> Option<Self> {
        let micros = i64::from_be_bytes(bytes.try_into().ok()?);
        DateTime::from_timestamp_micros(micros.checked_add(POSTGRES_EPOCH_MICROS)?)
    }
}

/// A `numeric`: its digits in base 10,000 from the most significant, the power of 10,000 of the
/// first (its weight) and the decimal places it is shown with. sqlx builds the value digit by
/// digit in `Decimal` arithmetic from a vector of the digits; here they are summed in an `i128`.
/// NaN, the infinities, and values a `Decimal` cannot hold as they are shown are left to sqlx.
impl FromBinary for Decimal {
    fn from_binary(bytes: &[u8]) -> Option<Self> {
        let word = |at: usize| -> Option<u16> {
            let pair = bytes.get(2 * at..2 * at + 2)?;
            Some(u16::from_be_bytes([pair[0], pair[1]]))
        };
        let digits = usize::from(word(0)?);
        // Two's complement: the weight is negative below 1.
        let weight = i32::from(word(1)? as i16);
        let negative = match word(2)? {
            0x0000 => false,
            0x4000 => true,
            _ => return None,
        };
        let places = u32::from(word(3)?);
        if bytes.len() != 8 + 2 * digits {
            return None;
        }
        if digits == 0 {
            return Some(Decimal::ZERO);
        }
        // The value is mantissa × 10^-digit_places; shown with `places` decimal places.
        let digit_places = 4 * (digits as i32 - 1 - weight);
        let shift = places as i32 - digit_places;
        if digits <= 4 {
            // Up to 16 decimal digits, every stored value: 64-bit arithmetic, where `i128`'s
            // checked multiplications were most of the cost of a reading.
            let mut small: u64 = 0;
            for at in 4..4 + digits {
                let digit = word(at)?;
                if digit >= 10_000 {
                    return None;
                }
                small = small * 10_000 + u64::from(digit);
            }
            if let Some(value) = shifted_u64(small, shift, negative, places) {
                return value;
            }
        }
        let mut mantissa: i128 = 0;
        for at in 4..4 + digits {
            let digit = word(at)?;
            if digit >= 10_000 {
                return None;
            }
            mantissa = mantissa
                .checked_mul(10_000)?
                .checked_add(i128::from(digit))?;
        }
        let power = 10_i128.checked_pow(shift.unsigned_abs())?;
        let mantissa = if shift >= 0 {
            mantissa.checked_mul(power)?
        } else if mantissa % power == 0 {
            mantissa / power
        } else {
            // Digits past the places shown: PostgreSQL never sends them, sqlx rounds them.
            return None;
        };
        let signed = if negative { -mantissa } else { mantissa };
        Decimal::try_from_i128_with_scale(signed, places).ok()
    }
}

/// `mantissa` moved `shift` decimal places to be shown with `places`, in 64-bit arithmetic: none
/// when that overflows (the caller goes on in 128 bits), `Some(None)` when digits would be lost.
fn shifted_u64(mantissa: u64, shift: i32, negative: bool, places: u32) -> Option<Option<Decimal>> {
    let power = 10_u64.checked_pow(shift.unsigned_abs())?;
    let mantissa = if shift >= 0 {
        mantissa.checked_mul(power)?
    } else if mantissa.is_multiple_of(power) {
        mantissa / power
    } else {
        return Some(None);
    };
    let magnitude = i128::from(mantissa);
    let signed = if negative { -magnitude } else { magnitude };
    Some(Decimal::try_from_i128_with_scale(signed, places).ok())
}

/// The value in column `at` of a PostgreSQL row.
pub fn column<T: FromBinary>(row: &PgRow, at: usize) -> Result<T, Error> {
    let value = row.try_get_raw(at)?;
    from_bytes(&value).map_or_else(|| decoded(value, at), Ok)
}

/// The value, if any, in column `at` of a PostgreSQL row.
pub fn optional_column<T: FromBinary>(row: &PgRow, at: usize) -> Result<Option<T>, Error> {
    let value = row.try_get_raw(at)?;
    if value.is_null() {
        return Ok(None);
    }
    from_bytes(&value)
        .map_or_else(|| decoded(value, at), Ok)
        .map(Some)
}

/// The qualifier in column `at` of a PostgreSQL row, stored as its text.
pub fn qualifier(row: &PgRow, at: usize) -> Result<Qualifier, Error> {
    static STORED: LazyLock<Vec<(String, Qualifier)>> = LazyLock::new(|| {
        Qualifier::iter()
            .map(|qualifier| (qualifier.to_value(), qualifier))
            .collect()
    });
    let value = row.try_get_raw(at)?;
    let stored = |bytes: &[u8]| {
        STORED
            .iter()
            .find(|(stored, _)| stored.as_bytes() == bytes)
            .map(|(_, qualifier)| *qualifier)
    };
    if let Some(qualifier) = binary(&value).and_then(stored) {
        return Ok(qualifier);
    }
    let text: &str = binary(&value)
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .map_or_else(|| decoded(value, at), Ok)?;
    stored(text.as_bytes()).ok_or_else(|| Error::ColumnDecode {
        index: at.to_string(),
        source: format!("not a qualifier: {text:?}").into(),
    })
}

fn from_bytes<T: FromBinary>(value: &PgValueRef<'_>) -> Option<T> {
    binary(value).and_then(T::from_binary)
}

/// The bytes of a value sent in the binary format; none for NULL or a value sent as text.
fn binary<'r>(value: &PgValueRef<'r>) -> Option<&'r [u8]> {
    match value.format() {
        PgValueFormat::Binary => value.as_bytes().ok(),
        PgValueFormat::Text => None,
    }
}

/// The value by sqlx's own decoding, which explains what it cannot read.
fn decoded<'r, T: Decode<'r, Postgres>>(value: PgValueRef<'r>, at: usize) -> Result<T, Error> {
    T::decode(value).map_err(|source| Error::ColumnDecode {
        index: at.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn binary_values_read_as_postgresql_writes_them() {
        assert_eq!(i32::from_binary(&(-7_i32).to_be_bytes()), Some(-7));
        assert_eq!(i32::from_binary(&[0, 1]), None);
        assert_eq!(bool::from_binary(&[1]), Some(true));
        assert_eq!(bool::from_binary(&[0]), Some(false));
        assert_eq!(bool::from_binary(&[]), None);
        assert_eq!(
            String::from_binary("Hà Nội".as_bytes()).as_deref(),
            Some("Hà Nội")
        );
        assert_eq!(String::from_binary(&[0xff]), None);
        // 2025-06-30 17:00:00.000001 UTC is 804,618,000,000,001 microseconds after 2000.
        let instant = Utc.with_ymd_and_hms(2025, 6, 30, 17, 0, 0).unwrap()
            + chrono::Duration::microseconds(1);
        assert_eq!(
            DateTime::<Utc>::from_binary(&804_618_000_000_001_i64.to_be_bytes()),
            Some(instant)
        );
        assert_eq!(
            DateTime::<Utc>::from_binary(&(-POSTGRES_EPOCH_MICROS).to_be_bytes()),
            Some(DateTime::UNIX_EPOCH)
        );
        assert_eq!(DateTime::<Utc>::from_binary(&i64::MAX.to_be_bytes()), None);
    }

    /// PostgreSQL's binary `numeric`: digit count, weight, sign, places shown, digits.
    fn numeric(weight: i16, sign: u16, places: u16, digits: &[u16]) -> Vec<u8> {
        let header = [digits.len() as u16, weight as u16, sign, places];
        header
            .iter()
            .chain(digits)
            .flat_map(|w| w.to_be_bytes())
            .collect()
    }

    #[test]
    fn numerics_read_with_their_value_and_places() {
        let read = |bytes: Vec<u8>| Decimal::from_binary(&bytes).map(|d| d.to_string());
        let shown = |text: &str| Some(text.to_owned());
        // The figures of the articles: 1,200 billion, 106 of 200, a rate of 30.5%.
        assert_eq!(read(numeric(0, 0, 0, &[1200])), shown("1200"));
        assert_eq!(read(numeric(1, 0, 0, &[6, 7000])), shown("67000"));
        assert_eq!(read(numeric(0, 0, 1, &[30, 5000])), shown("30.5"));
        assert_eq!(read(numeric(-1, 0, 2, &[5000])), shown("0.50"));
        assert_eq!(read(numeric(-2, 0, 5, &[1000])), shown("0.00001"));
        assert_eq!(read(numeric(0, 0x4000, 2, &[3, 1400])), shown("-3.14"));
        assert_eq!(read(numeric(2, 0, 0, &[1])), shown("100000000"));
        assert_eq!(read(numeric(0, 0, 2, &[])), shown("0"));
        // 28 decimal places and 96 bits are a Decimal's bounds; past them sqlx explains.
        assert_eq!(
            read(numeric(
                7,
                0,
                0,
                &[7, 9228, 1625, 1426, 4337, 5935, 4395, 335]
            )),
            shown("79228162514264337593543950335")
        );
        assert_eq!(read(numeric(7, 0, 0, &[8])), None);
        assert_eq!(read(numeric(-8, 0, 29, &[10])), None);
        // NaN, an infinity, a digit out of base, digits past the places shown, a short value.
        assert_eq!(read(numeric(0, 0xC000, 0, &[])), None);
        assert_eq!(read(numeric(0, 0xD000, 0, &[])), None);
        assert_eq!(read(numeric(0, 0, 0, &[10_000])), None);
        assert_eq!(read(numeric(0, 0, 1, &[1, 2345])), None);
        assert_eq!(read(numeric(0, 0, 0, &[1])[..9].to_vec()), None);
    }

    #[test]
    fn numerics_read_as_sqlx_writes_them() {
        use sea_orm::sqlx::postgres::PgArgumentBuffer;
        use sea_orm::sqlx::Encode;
        for value in crate::exact::decimals_of_every_shape() {
            let mut bytes = PgArgumentBuffer::default();
            let _ = Encode::<Postgres>::encode_by_ref(&value, &mut bytes).unwrap();
            let read = Decimal::from_binary(&bytes).expect("a Decimal reads back");
            assert_eq!(read.to_string(), value.to_string(), "{value:?}");
        }
    }
}
