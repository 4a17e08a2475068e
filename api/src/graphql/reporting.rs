use async_graphql::{Context, Enum, Object, Result};
use entity::values::ReportingPeriod;

use super::agencies::Agency;
use super::breakdown::AgencyGroup;
use super::metrics::Metric;
use super::scalars::{Day, Instant};
use super::{database, reference};
use crate::error::GraphqlError;
use crate::service::reporting::{self, ReportStatus as Status};

/// Whether a unit reported for a period, and in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::reporting::ReportStatus")]
pub enum ReportStatus {
    /// First recorded by the due time (a later correction does not change it).
    OnTime,
    /// First recorded after the due time.
    Late,
    /// No report, or only a retracted one.
    Missing,
}

/// Who reported a metric for one period of its reporting calendar.
pub struct ReportingStatus(reporting::ReportingStatus);

#[Object]
impl ReportingStatus {
    async fn metric(&self) -> Metric {
        Metric(self.0.metric.clone())
    }

    async fn period(&self) -> ReportingPeriod {
        self.0.period
    }

    /// First local day of the period.
    async fn first_day(&self) -> Day {
        Day(self.0.first_day)
    }

    /// Last local day of the period.
    async fn last_day(&self) -> Day {
        Day(self.0.last_day)
    }

    /// Reports first recorded before this instant are on time.
    async fn due(&self) -> Instant {
        Instant(self.0.due)
    }

    /// The units in force during the period.
    async fn expected_count(&self) -> usize {
        self.0.reports.len()
    }

    async fn on_time_count(&self) -> usize {
        self.0.count(Status::OnTime)
    }

    async fn late_count(&self) -> usize {
        self.0.count(Status::Late)
    }

    async fn missing_count(&self) -> usize {
        self.0.count(Status::Missing)
    }

    /// Every unit expected, by code.
    async fn reports(&self) -> Vec<UnitReport> {
        self.0.reports.iter().cloned().map(UnitReport).collect()
    }
}

/// One unit's report for the period.
pub struct UnitReport(reporting::AgencyReport);

#[Object]
impl UnitReport {
    async fn agency(&self) -> Agency {
        Agency(self.0.agency.clone())
    }

    async fn status(&self) -> ReportStatus {
        self.0.status.into()
    }

    /// When the report's first revision was recorded.
    async fn first_recorded_at(&self) -> Option<Instant> {
        self.0.first_recorded_at.map(Instant)
    }

    /// The id of the observation reported.
    async fn observation_id(&self) -> Option<async_graphql::ID> {
        self.0.observation_id.map(async_graphql::ID::from)
    }
}

#[derive(Default)]
pub struct ReportingQuery;

#[Object]
impl ReportingQuery {
    /// Who reported `metric` for the period of its reporting calendar holding `period` (any day
    /// of it), on time or late, and who did not.
    async fn reporting_status(
        &self,
        ctx: &Context<'_>,
        metric: String,
        period: Day,
        of: AgencyGroup,
        #[graphql(
            default,
            desc = "Count generated demonstration reports too (left out by default)."
        )]
        include_synthetic: bool,
    ) -> Result<ReportingStatus> {
        reporting::reporting_status(
            database(ctx)?,
            reference(ctx)?,
            &metric,
            period.0,
            of.into(),
            include_synthetic,
        )
        .await
        .map(ReportingStatus)
        .map_err(|e| e.extend())
    }
}
