//! What tests arrange: keys, readings recorded as any writer records them (checked and sealed),
//! metrics of kinds the seed lacks, figures to send, and reads of the database itself.

use api::error::ApiError;
use api::service::audit::Caller;
use api::service::recording::{self, Mode, NewObservation};
use chrono::Utc;
use entity::values::{MetricKind, Qualifier, ReportingPeriod, Role, Unit};
use entity::{metric, observation, observation_revision, source};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::{json, Value};

use super::TestApp;

/// A figure to record: (agency, observed at, value, qualifier, period start, denominator); an
/// empty agency is the national figure.
pub type Figure<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
);

impl TestApp {
    /// Creates an API key as the operator at the command line would.
    pub async fn key(&self, role: Role, agency: Option<&str>) -> String {
        let request = api::service::auth::NewKey {
            name: format!("test {role:?} {}", uuid::Uuid::new_v4().simple()),
            role,
            agency: agency.map(str::to_owned),
            platform: None,
            expires_at: None,
        };
        api::service::auth::create_key(&self.db, &Caller::command_line("test"), request)
            .await
            .expect("a key")
            .secret
    }

    /// Records a reading through the service, as the command line does: checked against the
    /// rules of recording, sealed in the audit chain. Returns the observation's id.
    pub async fn store_reading(&self, reading: Reading<'_>) -> i32 {
        let item = NewObservation {
            metric: reading.metric.to_owned(),
            agency: None,
            observed_at: reading.observed_at.parse().unwrap(),
            period_start: reading.period_start.map(|t| t.parse().unwrap()),
            value: reading.value.parse().unwrap(),
            qualifier: reading.qualifier,
            denominator: None,
            source: "article-001".to_owned(),
            quote: "test reading".to_owned(),
            note: None,
            line: None,
        };
        let recorded = recording::record(
            &self.db,
            &Caller::command_line("test"),
            vec![item],
            None,
            Mode::Apply,
            &|_| {},
        )
        .await
        .unwrap_or_else(|refused| match refused {
            ApiError::InvalidItems { failures, .. } => {
                panic!("the reading is refused: {failures:?}")
            }
            other => panic!("the reading is refused: {other}"),
        });
        recorded.observations[0].observation.id
    }

    /// Writes a reading straight into the tables, past the rules and with no audit entry: what
    /// an intruder with database access does, for the tests that must find it.
    pub async fn store_reading_behind_the_api(&self, reading: Reading<'_>) -> i32 {
        let metric = metric::Entity::find()
            .filter(metric::Column::Code.eq(reading.metric))
            .one(&self.db)
            .await
            .unwrap()
            .expect("known metric");
        let source = source::Entity::find()
            .filter(source::Column::Code.eq("article-001"))
            .one(&self.db)
            .await
            .unwrap()
            .expect("seeded source");
        let stored = observation::ActiveModel {
            metric_id: Set(metric.id),
            agency_id: Set(None),
            observed_at: Set(reading.observed_at.parse().unwrap()),
            period_start: Set(reading.period_start.map(|t| t.parse().unwrap())),
            synthetic: Set(false),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .unwrap();
        observation_revision::ActiveModel {
            observation_id: Set(stored.id),
            revision: Set(1),
            value: Set(reading.value.parse().unwrap()),
            qualifier: Set(reading.qualifier),
            denominator: Set(None),
            source_id: Set(source.id),
            quote: Set("test reading".to_owned()),
            note: Set(None),
            recorded_at: Set(Utc::now()),
            recorded_by: Set("test".to_owned()),
            reason: Set(None),
            superseded_at: Set(None),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .unwrap();
        stored.id
    }

    /// Records figures through the API as a reporter would, all of them or the test fails.
    pub async fn record_as_reporter(&self, metric: &str, figures: &[Figure<'_>]) {
        const RECORD: &str = "mutation Record($input: [ObservationInput!]!) { recordObservations(input: $input) { checked } }";
        let reporter = self.key(Role::Reporter, None).await;
        let input: Vec<Value> = figures
            .iter()
            .map(|(agency, observed_at, value, qualifier, period_start, denominator)| {
                let agency = (!agency.is_empty()).then_some(agency);
                json!({ "metric": metric, "agency": agency, "observedAt": observed_at, "periodStart": period_start,
                        "value": value, "qualifier": qualifier, "denominator": denominator,
                        "source": "article-001", "quote": "trích dẫn" })
            })
            .collect();
        let (_, body) = self
            .graphql_as(&reporter, RECORD, json!({ "input": input }))
            .await;
        assert_eq!(
            body["data"]["recordObservations"]["checked"],
            figures.len(),
            "{body}"
        );
    }

    /// Adds a metric to a seeded platform, for kinds the seed figures do not have.
    pub async fn add_metric(&self, code: &str, kind: MetricKind, unit: Unit) {
        self.add_reported_metric(code, kind, unit, None).await
    }

    /// The same, reported on a calendar: each period's report due so many days after it.
    pub async fn add_reported_metric(
        &self,
        code: &str,
        kind: MetricKind,
        unit: Unit,
        calendar: Option<(ReportingPeriod, i32)>,
    ) {
        let platform = entity::platform::Entity::find()
            .one(&self.db)
            .await
            .unwrap()
            .unwrap();
        metric::ActiveModel {
            platform_id: Set(Some(platform.id)),
            code: Set(code.to_owned()),
            name_vi: Set(code.to_owned()),
            name_en: Set(code.to_owned()),
            unit: Set(unit),
            scale: Set(entity::values::Scale::One),
            kind: Set(kind),
            reporting_period: Set(calendar.map(|(period, _)| period)),
            reporting_due_days: Set(calendar.map(|(_, days)| days)),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .unwrap();
    }

    /// The one integer a query of the server's database gives (a count, an id, a sequence).
    pub async fn scalar(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                sql,
            ))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .unwrap_or_else(|| panic!("a row for {sql}"));
        row.try_get_by_index::<i64>(0)
            .or_else(|_| row.try_get_by_index::<i32>(0).map(i64::from))
            .unwrap_or_else(|e| panic!("an integer from {sql}: {e}"))
    }

    /// The text a query of the database returns.
    pub async fn scalar_text(&self, sql: &str) -> String {
        self.db
            .query_one_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                sql,
            ))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .unwrap_or_else(|| panic!("a row for {sql}"))
            .try_get_by_index::<String>(0)
            .unwrap_or_else(|e| panic!("text from {sql}: {e}"))
    }
}

pub struct Reading<'a> {
    pub metric: &'a str,
    pub observed_at: &'a str,
    pub period_start: Option<&'a str>,
    pub value: &'a str,
    pub qualifier: Qualifier,
}

impl<'a> Reading<'a> {
    pub fn at(metric: &'a str, observed_at: &'a str, value: &'a str) -> Self {
        Self {
            metric,
            observed_at,
            period_start: None,
            value,
            qualifier: Qualifier::Exact,
        }
    }

    pub fn qualified(self, qualifier: Qualifier) -> Self {
        Self { qualifier, ..self }
    }

    pub fn since(self, period_start: &'a str) -> Self {
        Self {
            period_start: Some(period_start),
            ..self
        }
    }
}

/// One figure to record, citing a seeded source.
/// How many figures the seed file holds: what a freshly seeded database has stored.
pub fn seeded_figures() -> usize {
    api::service::seed::parse(api::service::seed::SEED_FILE)
        .expect("the seed file parses")
        .observation
        .len()
}

pub fn figure(metric: &str, observed_at: &str, value: &str) -> Value {
    serde_json::json!({ "metric": metric, "observedAt": observed_at, "value": value, "source": "article-003", "quote": "trích dẫn" })
}
