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
    let text: &str = binary(&value)
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .map_or_else(|| decoded(value, at), Ok)?;
    STORED
        .iter()
        .find(|(stored, _)| stored == text)
        .map(|(_, qualifier)| *qualifier)
        .ok_or_else(|| Error::ColumnDecode {
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
}
