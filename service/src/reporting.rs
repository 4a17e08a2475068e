//! Who reported a metric for a period, on time or late, and who did not: judged by the metric's
//! reporting calendar and the recording time of each report's first revision (a correction does
//! not make a report late; a retracted report is missing). Only the units in force during the
//! period are expected.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::values::ReportingPeriod;
use entity::{agency, metric};
use sea_orm::DatabaseConnection;

use crate::breakdown::AgencyGroup;
use crate::error::ApiError;
use crate::observations;
use crate::reference::ReferenceCache;
use crate::series::TimeBucket;
use crate::time::{start_of_day, within_calendar, VIETNAM};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportStatus {
    /// First recorded by the due time.
    OnTime,
    /// First recorded after it.
    Late,
    /// No report (or only a retracted one).
    Missing,
}

#[derive(Debug, Clone)]
pub struct AgencyReport {
    pub agency: agency::Model,
    pub status: ReportStatus,
    /// When the report's first revision was recorded.
    pub first_recorded_at: Option<DateTime<Utc>>,
    pub observation_id: Option<i32>,
}

#[derive(Debug, Clone)]
pub struct ReportingStatus {
    pub metric: metric::Model,
    pub period: ReportingPeriod,
    /// First and last local day of the period.
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    /// Reports first recorded before this instant are on time.
    pub due: DateTime<Utc>,
    /// Every unit expected, by code.
    pub reports: Vec<AgencyReport>,
}

impl ReportingStatus {
    pub fn count(&self, status: ReportStatus) -> usize {
        self.reports.iter().filter(|r| r.status == status).count()
    }
}

fn bucket(period: ReportingPeriod) -> TimeBucket {
    match period {
        ReportingPeriod::Month => TimeBucket::Month,
        ReportingPeriod::Quarter => TimeBucket::Quarter,
        ReportingPeriod::Year => TimeBucket::Year,
    }
}

/// The reporting status of `metric` for the period holding `day`, for every unit of `group`.
pub async fn reporting_status(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    metric_code: &str,
    day: NaiveDate,
    group: AgencyGroup,
    include_synthetic: bool,
) -> Result<ReportingStatus, ApiError> {
    within_calendar("period", day)?;
    let metric = reference
        .metric_by_code(metric_code)
        .await
        .map_err(|e| e.for_argument("metric"))?;
    let (Some(period), Some(due_days)) = (metric.reporting_period, metric.reporting_due_days)
    else {
        return Err(ApiError::bad_input(
            "metric",
            crate::message!(NO_REPORTING_CALENDAR, metric = &metric.code),
        ));
    };
    let bucket = bucket(period);
    let first_day = bucket.start_of(day);
    let next = bucket.next(first_day);
    let last_day = next - Duration::days(1);
    let due = start_of_day(next + Duration::days(i64::from(due_days)), VIETNAM);

    let snapshot = reference.current().await?;
    let members = group.members(&snapshot);
    let of = observations::OfAgencies {
        metric_id: metric.id,
        agencies: &members,
        include_synthetic,
    };
    let reports = observations::of_agencies_between::<observations::Reading>(
        db,
        of,
        start_of_day(first_day, VIETNAM),
        start_of_day(next, VIETNAM),
        None,
        None,
    )
    .await?;
    let first_recorded = observations::first_recorded(db, reports.iter().map(|r| r.id)).await?;
    // An agency's report: its earliest, if it sent several for the period.
    let mut by_agency: HashMap<i32, (i32, DateTime<Utc>)> = HashMap::new();
    for report in &reports {
        let (Some(agency), Some(&recorded)) = (report.agency_id, first_recorded.get(&report.id))
        else {
            continue;
        };
        let earliest = by_agency.entry(agency).or_insert((report.id, recorded));
        if recorded < earliest.1 {
            *earliest = (report.id, recorded);
        }
    }

    let mut expected: Vec<&agency::Model> = snapshot
        .group(group)
        .filter(|a| a.valid_during(first_day, last_day))
        .collect();
    expected.sort_by(|a, b| a.code.cmp(&b.code));
    let reports = expected
        .into_iter()
        .map(|agency| {
            let report = by_agency.get(&agency.id);
            AgencyReport {
                agency: agency.clone(),
                status: match report {
                    None => ReportStatus::Missing,
                    Some((_, recorded)) if *recorded < due => ReportStatus::OnTime,
                    Some(_) => ReportStatus::Late,
                },
                first_recorded_at: report.map(|(_, recorded)| *recorded),
                observation_id: report.map(|(id, _)| *id),
            }
        })
        .collect();
    Ok(ReportingStatus {
        metric,
        period,
        first_day,
        last_day,
        due,
        reports,
    })
}
