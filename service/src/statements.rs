//! Shaping statements so that PostgreSQL plans them once.

use std::fmt::Write as _;
use std::hash::Hash;
use std::mem::Discriminant;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{PostgresQueryBuilder, SelectStatement};
use sea_orm::{DbBackend, Statement, Value, Values};

use crate::kept::Kept;

/// Past this many questions a [`StatementMemo`] empties and fills again.
const MAX_KEPT_STATEMENTS: usize = 1024;

/// Statements kept by the question they ask, for the small reads every dashboard repeats with
/// the same values: building one with sea-query took a sixth of a savings comparison's time. A
/// statement's text and values follow from its question and the backend alone, so a kept one
/// is never stale: the data it reads is read again every time.
pub struct StatementMemo<K> {
    kept: Kept<(Discriminant<DbBackend>, K), Statement>,
}

impl<K: Hash + Eq> Default for StatementMemo<K> {
    fn default() -> Self {
        Self {
            kept: Kept::new(MAX_KEPT_STATEMENTS),
        }
    }
}

impl<K: Hash + Eq> StatementMemo<K> {
    /// The statement that asks `question` on `backend`: the kept one, or `build`'s, then kept.
    pub fn statement(
        &self,
        backend: DbBackend,
        question: K,
        build: impl FnOnce() -> Statement,
    ) -> Statement {
        let key = (std::mem::discriminant(&backend), question);
        if let Some(kept) = self.kept.get(&key) {
            return kept;
        }
        let statement = build();
        self.kept.insert(key, statement.clone());
        statement
    }

    /// As [`Self::statement`], for a question asked up to an instant that moves with every
    /// request (now): kept without it, and `at` bound where `build` bound the instant it was
    /// given. A statement that does not bind that instant is built for each request.
    pub fn statement_at(
        &self,
        backend: DbBackend,
        question: K,
        at: DateTime<Utc>,
        build: impl Fn(DateTime<Utc>) -> Statement,
    ) -> Statement {
        // No request carries this instant: those of clients lie within the years 1 to 9999.
        let slot = Value::from(DateTime::<Utc>::MIN_UTC);
        let mut statement = self.statement(backend, question, || build(DateTime::<Utc>::MIN_UTC));
        let mut bound = false;
        if let Some(Values(values)) = statement.values.as_mut() {
            for value in values.iter_mut().filter(|value| **value == slot) {
                *value = Value::from(at);
                bound = true;
            }
        }
        if bound {
            statement
        } else {
            build(at)
        }
    }
}

/// Writes every value of a PostgreSQL `SELECT` into its text instead of binding it.
///
/// With bound values PostgreSQL plans a statement again on every run whenever a plan for the
/// values at hand looks cheaper than its generic plan, and for a read of many units' figures it
/// always does: a breakdown over the provinces spent 0.4 ms planning to run for 0.25 ms. A
/// statement without values keeps its one plan for the connection, and dashboards ask the same
/// question again and again (last month's breakdown, this year's lines): written out, each
/// distinct question is planned once per connection. For statements whose values are ids,
/// flags and instants (a client's only within the years 1 to 9999, which PostgreSQL reads back
/// from text: `time::storable_instant`), never text; other backends bind them.
pub fn with_written_values(query: &SelectStatement, backend: DbBackend) -> Statement {
    match backend {
        DbBackend::Postgres => {
            Statement::from_string(backend, query.to_string(PostgresQueryBuilder))
        }
        _ => backend.build(query),
    }
}

/// Writes each `LIMIT` of a PostgreSQL statement into its text instead of binding it.
///
/// PostgreSQL keeps one plan for a prepared statement only when that generic plan is no worse
/// than planning for the values at hand. A generic plan cannot know that `LIMIT $2` is small, so it
/// sorts, and the statement is planned again on every run: 0.4 ms for a page of 20 observations
/// that then takes 0.08 ms to read. With the limit in the text, it is planned once per connection.
/// Limits are numbers the service sets, never text from a client. Other backends are unchanged.
pub fn with_literal_limits(statement: Statement) -> Statement {
    if statement.db_backend != DbBackend::Postgres {
        return statement;
    }
    let Some(Values(values)) = &statement.values else {
        return statement;
    };
    let mut sql = String::with_capacity(statement.sql.len());
    let mut kept = Vec::with_capacity(values.len());
    let mut rest = statement.sql.as_str();
    let mut expected = 1;
    while let Some(at) = rest.find('$') {
        let digits = rest[at + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        let number = rest[at + 1..at + 1 + digits].parse::<usize>().ok();
        // Parameters numbered in order, each once, as sea-query writes them; anything else is
        // left as it is.
        let Some(value) = number
            .filter(|&n| n == expected)
            .and_then(|n| values.get(n - 1))
        else {
            return statement;
        };
        expected += 1;
        let before = &rest[..at];
        sql.push_str(before);
        match limit_literal(before, value) {
            Some(literal) => sql.push_str(&literal),
            None => {
                kept.push(value.clone());
                write!(sql, "${}", kept.len()).expect("writing to a string");
            }
        }
        rest = &rest[at + 1 + digits..];
    }
    if expected != values.len() + 1 {
        return statement;
    }
    sql.push_str(rest);
    Statement {
        sql,
        values: Some(Values(kept)),
        db_backend: statement.db_backend,
    }
}

fn limit_literal(before: &str, value: &Value) -> Option<String> {
    if !before.ends_with(" LIMIT ") {
        return None;
    }
    match value {
        Value::BigUnsigned(Some(n)) => Some(n.to_string()),
        Value::Unsigned(Some(n)) => Some(n.to_string()),
        Value::BigInt(Some(n)) => Some(n.to_string()),
        Value::Int(Some(n)) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use entity::observation;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait};

    use super::*;

    fn page(backend: DbBackend) -> Statement {
        let newest = observation::Entity::find()
            .select_only()
            .column(observation::Column::Id)
            .filter(observation::Column::MetricId.eq(7))
            .order_by_desc(observation::Column::ObservedAt)
            .limit(1)
            .into_query();
        observation::Entity::find()
            .filter(observation::Column::Synthetic.eq(false))
            .filter(observation::Column::Id.in_subquery(newest))
            .filter(observation::Column::AgencyId.eq(3))
            .order_by_desc(observation::Column::Id)
            .limit(21)
            .build(backend)
    }

    #[test]
    fn written_values_leave_postgresql_nothing_to_plan_again() {
        use chrono::{TimeZone, Utc};
        let june = Utc.with_ymd_and_hms(2025, 5, 31, 17, 0, 0).unwrap();
        let query = observation::Entity::find()
            .filter(observation::Column::MetricId.eq(15))
            .filter(observation::Column::AgencyId.is_in([30, 31]))
            .filter(observation::Column::ObservedAt.gte(june))
            .into_query();
        let written = with_written_values(&query, DbBackend::Postgres);
        assert_eq!(written.values, None, "{}", written.sql);
        assert!(!written.sql.contains('$'), "{}", written.sql);
        assert!(written.sql.contains("IN (30, 31)"), "{}", written.sql);
        // The instant keeps its microseconds and offset: the same moment whatever the session's zone.
        assert!(
            written.sql.contains("'2025-05-31 17:00:00.000000 +00:00'"),
            "{}",
            written.sql
        );
        let bound = with_written_values(&query, DbBackend::Sqlite);
        assert_eq!(bound.values.map(|v| v.0.len()), Some(4));
    }

    #[test]
    fn limits_are_written_into_the_text_and_other_parameters_renumbered() {
        let statement = with_literal_limits(page(DbBackend::Postgres));
        assert!(
            statement.sql.contains("\"metric_id\" = $2"),
            "{}",
            statement.sql
        );
        assert!(statement.sql.contains("LIMIT 1)"), "{}", statement.sql);
        assert!(
            statement.sql.contains("\"agency_id\" = $3"),
            "{}",
            statement.sql
        );
        assert!(statement.sql.ends_with(" LIMIT 21"), "{}", statement.sql);
        assert!(!statement.sql.contains("$4"), "{}", statement.sql);
        assert_eq!(
            statement.values,
            Some(Values(vec![false.into(), 7.into(), 3.into()]))
        );
    }

    #[test]
    fn other_backends_and_unusual_statements_are_left_alone() {
        let sqlite = page(DbBackend::Sqlite);
        assert_eq!(with_literal_limits(sqlite.clone()), sqlite);
        let repeated = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT $1 LIMIT $1",
            [Value::BigUnsigned(Some(5))],
        );
        assert_eq!(with_literal_limits(repeated.clone()), repeated);
    }

    fn observed_up_to(
        backend: DbBackend,
        at: DateTime<Utc>,
        builds: &std::cell::Cell<u32>,
    ) -> Statement {
        builds.set(builds.get() + 1);
        observation::Entity::find()
            .filter(observation::Column::MetricId.eq(7))
            .filter(observation::Column::ObservedAt.lte(at))
            .build(backend)
    }

    #[test]
    fn a_question_is_built_once_per_backend_and_asked_up_to_each_instant_given() {
        use chrono::TimeZone;
        let memo = StatementMemo::<i32>::default();
        let builds = std::cell::Cell::new(0);
        let june = Utc.with_ymd_and_hms(2025, 5, 31, 17, 0, 0).unwrap();
        let july = Utc.with_ymd_and_hms(2025, 6, 30, 17, 0, 0).unwrap();
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            for at in [june, july, june] {
                let asked =
                    memo.statement_at(backend, 7, at, |at| observed_up_to(backend, at, &builds));
                let fresh = observed_up_to(backend, at, &std::cell::Cell::new(0));
                assert_eq!(asked, fresh);
            }
        }
        assert_eq!(builds.get(), 2, "built once for each backend");
        // Another question is built on its own.
        let other = memo.statement(DbBackend::Postgres, 8, || page(DbBackend::Postgres));
        assert_eq!(other, page(DbBackend::Postgres));
    }

    #[test]
    fn a_statement_that_binds_no_instant_is_built_for_each_instant() {
        use chrono::TimeZone;
        let memo = StatementMemo::<i32>::default();
        let builds = std::cell::Cell::new(0);
        let written = |at: DateTime<Utc>| {
            builds.set(builds.get() + 1);
            let query = observation::Entity::find()
                .filter(observation::Column::ObservedAt.lte(at))
                .into_query();
            with_written_values(&query, DbBackend::Postgres)
        };
        let june = Utc.with_ymd_and_hms(2025, 5, 31, 17, 0, 0).unwrap();
        let july = Utc.with_ymd_and_hms(2025, 6, 30, 17, 0, 0).unwrap();
        for at in [june, july] {
            assert_eq!(
                memo.statement_at(DbBackend::Postgres, 1, at, written),
                written(at)
            );
        }
        // Once to find it binds no instant (kept), once for each instant, and this test's own two.
        assert_eq!(builds.get(), 5, "each instant written into its own text");
    }
}
