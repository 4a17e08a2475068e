//! Relay-style page requests over a keyset (time, id): stable under inserts, no OFFSET.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::{ColumnTrait, Condition, QueryFilter, QueryOrder};

use crate::error::ApiError;

pub const DEFAULT_PAGE_SIZE: u64 = 20;
pub const MAX_PAGE_SIZE: u64 = 100;

/// A position in the order (observed at, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let text = format!(
            "{}|{}",
            self.at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            self.id
        );
        URL_SAFE_NO_PAD.encode(text)
    }

    pub fn decode(argument: &'static str, cursor: &str) -> Result<Self, ApiError> {
        let invalid = || ApiError::bad_input(argument, crate::message!(NOT_A_CURSOR));
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (at, id) = text.split_once('|').ok_or_else(invalid)?;
        Ok(Self {
            at: DateTime::parse_from_rfc3339(at)
                .map_err(|_| invalid())?
                .with_timezone(&Utc),
            id: id.parse().map_err(|_| invalid())?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `first` items after a cursor, oldest first.
    Forward,
    /// `last` items before a cursor, returned oldest first too.
    Backward,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageRequest {
    pub size: u64,
    pub direction: Direction,
    pub cursor: Option<Cursor>,
    /// Whether the page must tell if more lie beyond it (Relay's `pageInfo`): one row more is
    /// read to know.
    pub beyond_asked: bool,
}

impl PageRequest {
    /// Validates Relay's four arguments: one direction at a time, sizes within the maximum.
    pub fn new(
        first: Option<i32>,
        after: Option<&str>,
        last: Option<i32>,
        before: Option<&str>,
    ) -> Result<Self, ApiError> {
        if first.is_some() && last.is_some() {
            return Err(ApiError::bad_input("last", crate::message!(FIRST_OR_LAST)));
        }
        if last.is_some() && after.is_some() || first.is_some() && before.is_some() {
            return Err(ApiError::bad_input(
                if first.is_some() { "before" } else { "after" },
                crate::message!(PAGE_DIRECTION),
            ));
        }
        if after.is_some() && before.is_some() {
            return Err(ApiError::bad_input(
                "before",
                crate::message!(AFTER_OR_BEFORE),
            ));
        }
        let backward = last.is_some() || before.is_some();
        let (argument, size) = if backward {
            ("last", last)
        } else {
            ("first", first)
        };
        let size = match size {
            None => DEFAULT_PAGE_SIZE,
            Some(size) if size < 0 => {
                return Err(ApiError::bad_input(
                    argument,
                    crate::message!(PAGE_SIZE_NEGATIVE, size = size),
                ))
            }
            Some(size) if size as u64 > MAX_PAGE_SIZE => {
                return Err(ApiError::bad_input(
                    argument,
                    crate::message!(PAGE_SIZE_TOO_LARGE, max = MAX_PAGE_SIZE, size = size),
                ))
            }
            Some(size) => size as u64,
        };
        let cursor = match (after, before) {
            (Some(after), _) => Some(Cursor::decode("after", after)?),
            (_, Some(before)) => Some(Cursor::decode("before", before)?),
            _ => None,
        };
        Ok(Self {
            size,
            direction: if backward {
                Direction::Backward
            } else {
                Direction::Forward
            },
            cursor,
            beyond_asked: true,
        })
    }

    /// The request of a caller that does not ask whether more lie beyond the page: it is read
    /// without the extra row that would tell.
    pub fn beyond_not_asked(self) -> Self {
        Self {
            beyond_asked: false,
            ..self
        }
    }

    /// How many rows to read: the page, and one more when the caller asks what lies beyond.
    pub fn rows(&self) -> u64 {
        self.size + u64::from(self.beyond_asked)
    }
}

impl PageRequest {
    /// Orders `query` by (`at`, `id`) in the request's direction and keeps what lies beyond the
    /// cursor.
    pub fn apply<Q, C>(&self, mut query: Q, at: C, id: C) -> Q
    where
        Q: QueryFilter + QueryOrder,
        C: ColumnTrait,
    {
        if let Some(cursor) = self.cursor {
            let forward = self.direction == Direction::Forward;
            let (time, same_time_id) = if forward {
                (at.gt(cursor.at), id.gt(cursor.id))
            } else {
                (at.lt(cursor.at), id.lt(cursor.id))
            };
            query = query.filter(
                Condition::any()
                    .add(time)
                    .add(Condition::all().add(at.eq(cursor.at)).add(same_time_id)),
            );
        }
        match self.direction {
            Direction::Forward => query.order_by_asc(at).order_by_asc(id),
            Direction::Backward => query.order_by_desc(at).order_by_desc(id),
        }
    }
}

/// One page of items in ascending order, with whether more lie on either side.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<(Cursor, T)>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl<T> Page<T> {
    /// Builds a page from up to [`PageRequest::rows`] rows fetched in the request's direction:
    /// the extra row, if read, only says that more exist.
    pub fn from_fetched(request: &PageRequest, mut rows: Vec<(Cursor, T)>) -> Self {
        let more = rows.len() as u64 > request.size;
        rows.truncate(request.size as usize);
        let continued = request.cursor.is_some();
        match request.direction {
            Direction::Forward => Page {
                items: rows,
                has_next_page: more,
                has_previous_page: continued,
            },
            Direction::Backward => {
                rows.reverse();
                Page {
                    items: rows,
                    has_next_page: continued,
                    has_previous_page: more,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = Cursor {
            at: "2020-12-24T17:00:00Z".parse().unwrap(),
            id: 42,
        };
        assert_eq!(Cursor::decode("after", &cursor.encode()).unwrap(), cursor);
        let error = Cursor::decode("after", "not-a-cursor").unwrap_err();
        assert_eq!(error.code(), "BAD_USER_INPUT");
    }

    #[test]
    fn page_arguments_are_checked() {
        assert_eq!(
            PageRequest::new(None, None, None, None).unwrap().size,
            DEFAULT_PAGE_SIZE
        );
        assert_eq!(
            PageRequest::new(None, None, Some(5), None)
                .unwrap()
                .direction,
            Direction::Backward
        );
        for (first, last) in [(Some(-1), None), (Some(101), None), (None, Some(-3))] {
            let error = PageRequest::new(first, None, last, None).unwrap_err();
            assert_eq!(error.code(), "BAD_USER_INPUT", "{first:?} {last:?}");
        }
        assert!(PageRequest::new(Some(1), None, Some(1), None).is_err());
    }
}
