//! Exchange with DHIS2, which many ministries and provinces run: a series or every unit's series
//! written as a `dataValueSets` JSON document, and such a document recorded under the same rules
//! as any batch (checked in full, all or nothing, audited). Only the metrics and agencies given
//! a DHIS2 identifier are exchanged (`VN` stands for the national level).
//!
//! A value's qualifier travels in its `comment` (`MORE_THAN`, `ABOUT`…; none for an exact
//! value), since DHIS2 keeps numbers only. Periods are DHIS2's: `2025`, `2025Q2`, `202506`,
//! `2025W26`, `20250615`, in Vietnam's calendar.

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate};
use entity::dhis2_identifier;
use entity::values::{MetricKind, Qualifier};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::access::Permission;
use crate::audit::{self, Action, Caller, Event, APPLIED};
use crate::breakdown::AgencyGroup;
use crate::error::{ApiError, ItemFailure, MAX_ITEM_FAILURES};
use crate::recording::{self, Mode, NewObservation, Recorded};
use crate::reference::ReferenceCache;
use crate::sdmx::NATIONAL;
use crate::series::{self, SeriesPoint, SeriesRequest, TimeBucket};
use crate::time::{local_date, start_of_day, VIETNAM};
use crate::{exact, import, kinds, message};

/// What a DHIS2 identifier stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A metric.
    DataElement,
    /// An agency, or `VN` for the national level.
    OrgUnit,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::DataElement => "data_element",
            Kind::OrgUnit => "org_unit",
        }
    }
}

/// The parts of DHIS2's `dataValueSets` JSON that egov-kpi reads and writes; other fields are
/// ignored on import.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataValueSet {
    /// The period and organisation unit of every value that does not name its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_unit: Option<String>,
    #[serde(default)]
    pub data_values: Vec<DataValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataValue {
    pub data_element: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_unit: Option<String>,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// DHIS2's name of the period of a bucket starting on `start`.
pub fn period_name(bucket: TimeBucket, start: NaiveDate) -> String {
    match bucket {
        TimeBucket::Day => start.format("%Y%m%d").to_string(),
        TimeBucket::Week => {
            let week = start.iso_week();
            format!("{}W{}", week.year(), week.week())
        }
        TimeBucket::Month => start.format("%Y%m").to_string(),
        TimeBucket::Quarter => format!("{}Q{}", start.year(), start.month0() / 3 + 1),
        TimeBucket::Year => start.year().to_string(),
    }
}

/// The first and last day of a DHIS2 period.
pub fn period_days(name: &str) -> Option<(NaiveDate, NaiveDate)> {
    let number = |text: &str| text.parse::<u32>().ok();
    let (first, bucket) = if let Some((year, quarter)) = name.split_once('Q') {
        let quarter = number(quarter).filter(|q| (1..=4).contains(q))?;
        let year = year.parse().ok()?;
        (
            NaiveDate::from_ymd_opt(year, quarter * 3 - 2, 1)?,
            TimeBucket::Quarter,
        )
    } else if let Some((year, week)) = name.split_once('W') {
        let day =
            NaiveDate::from_isoywd_opt(year.parse().ok()?, number(week)?, chrono::Weekday::Mon)?;
        (day, TimeBucket::Week)
    } else if !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    } else {
        match name.len() {
            4 => (
                NaiveDate::from_ymd_opt(name.parse().ok()?, 1, 1)?,
                TimeBucket::Year,
            ),
            6 => (
                NaiveDate::from_ymd_opt(name[..4].parse().ok()?, number(&name[4..])?, 1)?,
                TimeBucket::Month,
            ),
            8 => (
                NaiveDate::parse_from_str(name, "%Y%m%d").ok()?,
                TimeBucket::Day,
            ),
            _ => return None,
        }
    };
    Some((first, bucket.next(first) - Duration::days(1)))
}

fn well_formed_uid(uid: &str) -> bool {
    uid.len() == 11
        && uid.starts_with(|c: char| c.is_ascii_alphabetic())
        && uid.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Gives a metric (`DataElement`) or an agency or `VN` (`OrgUnit`) its DHIS2 identifier.
pub async fn identify(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    caller: &Caller,
    kind: Kind,
    uid: &str,
    code: &str,
) -> Result<dhis2_identifier::Model, ApiError> {
    let result = store_identifier(db, reference, caller, kind, uid, code).await;
    let subject = Some(format!("dhis2:{}:{uid}", kind.as_str()));
    audit::log_refusal(db, caller, Action::IdentifyForDhis2, subject, result).await
}

async fn store_identifier(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    caller: &Caller,
    kind: Kind,
    uid: &str,
    code: &str,
) -> Result<dhis2_identifier::Model, ApiError> {
    caller.principal.require(Permission::Define)?;
    if !well_formed_uid(uid) {
        return Err(ApiError::bad_input(
            "uid",
            message!(DHIS2_UID_FORMAT, uid = uid),
        ));
    }
    match kind {
        Kind::DataElement => {
            let metric = reference
                .metric_by_code(code)
                .await
                .map_err(|e| e.for_argument("code"))?;
            if metric.kind == MetricKind::Ratio {
                return Err(ApiError::bad_input(
                    "code",
                    message!(DHIS2_NO_DENOMINATOR, metric = code),
                ));
            }
        }
        Kind::OrgUnit if code == NATIONAL => {}
        Kind::OrgUnit => {
            reference
                .agency_by_code(code)
                .await
                .map_err(|e| e.for_argument("code"))?;
        }
    }
    let txn = audit::begin_write(db).await?;
    let taken = dhis2_identifier::Entity::find()
        .filter(dhis2_identifier::Column::Kind.eq(kind.as_str()))
        .filter(
            sea_orm::Condition::any()
                .add(dhis2_identifier::Column::Uid.eq(uid))
                .add(dhis2_identifier::Column::Code.eq(code)),
        )
        .one(&txn)
        .await?;
    if let Some(taken) = taken {
        return Err(ApiError::Conflict(message!(
            DHIS2_IDENTIFIER_TAKEN,
            uid = taken.uid,
            code = taken.code
        )));
    }
    let stored = dhis2_identifier::ActiveModel {
        kind: Set(kind.as_str().to_owned()),
        uid: Set(uid.to_owned()),
        code: Set(code.to_owned()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let detail = json!({ "kind": kind.as_str(), "uid": uid, "code": code });
    let subject = Some(format!("dhis2:{}:{uid}", kind.as_str()));
    audit::append(
        &txn,
        caller,
        APPLIED,
        Event::new(Action::IdentifyForDhis2, subject, detail),
    )
    .await?;
    txn.commit().await?;
    Ok(stored)
}

/// The identifiers of one kind, from code to DHIS2's UID.
async fn identifiers(
    db: &DatabaseConnection,
    kind: Kind,
) -> Result<HashMap<String, String>, ApiError> {
    Ok(dhis2_identifier::Entity::find()
        .filter(dhis2_identifier::Column::Kind.eq(kind.as_str()))
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.code, row.uid))
        .collect())
}

/// What to export: a series (national, or an agency's), or every unit of a group.
pub struct ExportRequest {
    pub series: SeriesRequest,
    pub group: Option<AgencyGroup>,
}

/// The exported document, and the units that had values but no DHIS2 identifier (left out).
pub struct Exported {
    pub set: DataValueSet,
    pub unidentified: Vec<String>,
}

pub async fn export(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    request: &ExportRequest,
) -> Result<Exported, ApiError> {
    let elements = identifiers(db, Kind::DataElement).await?;
    let units = identifiers(db, Kind::OrgUnit).await?;
    let code = &request.series.metric;
    let element = elements
        .get(code)
        .ok_or_else(|| ApiError::bad_input("metric", message!(DHIS2_UNIDENTIFIED, code = code)))?;
    let lines: Vec<(String, Vec<SeriesPoint>)> = match request.group {
        Some(group) => series::time_series_by_agency(db, reference, &request.series, group)
            .await?
            .1
            .into_iter()
            .map(|(unit, points)| (unit.code, points))
            .collect(),
        None => {
            let line = series::time_series(db, reference, &request.series).await?;
            let unit = request
                .series
                .agency
                .clone()
                .unwrap_or_else(|| NATIONAL.to_owned());
            vec![(unit, line.points)]
        }
    };
    let mut exported = Exported {
        set: DataValueSet::default(),
        unidentified: Vec::new(),
    };
    for (unit, points) in lines {
        let values: Vec<&SeriesPoint> = points.iter().filter(|p| p.value.is_some()).collect();
        if values.is_empty() {
            continue;
        }
        let Some(org_unit) = units.get(&unit) else {
            exported.unidentified.push(unit);
            continue;
        };
        for point in values {
            let (Some(value), Some(qualifier)) = (point.value, point.qualifier) else {
                continue;
            };
            let start = local_date(point.start, request.series.time_zone);
            exported.set.data_values.push(DataValue {
                data_element: element.clone(),
                period: Some(period_name(request.series.bucket, start)),
                org_unit: Some(org_unit.clone()),
                value: exact::from_storage(value).to_string(),
                comment: (qualifier != Qualifier::Exact).then(|| qualifier_name(qualifier)),
            });
        }
    }
    Ok(exported)
}

/// The qualifier as the GraphQL API names it (`MORE_THAN`).
pub fn qualifier_name(qualifier: Qualifier) -> String {
    serde_json::to_value(qualifier)
        .ok()
        .and_then(|v| v.as_str().map(str::to_ascii_uppercase))
        .unwrap_or_default()
}

/// Records a document's values as one batch. `source` is the registered source the values
/// are cited from; each value's quote is the data value itself, as received.
pub async fn import(
    db: &DatabaseConnection,
    caller: &Caller,
    set: DataValueSet,
    source: &str,
    mode: Mode,
) -> Result<Recorded, ApiError> {
    let items = match caller.principal.require(Permission::Record) {
        Ok(()) => observations_of(db, set, source).await,
        Err(refused) => Err(refused),
    };
    match items {
        Ok(items) => recording::record(db, caller, items, None, mode, &|_| {}).await,
        Err(error) => {
            let subject = Some("dhis2:dataValueSets".to_owned());
            audit::log_refusal(db, caller, Action::ImportObservations, subject, Err(error)).await
        }
    }
}

/// The document's values as figures to record; every value that cannot be read is a failure.
async fn observations_of(
    db: &DatabaseConnection,
    set: DataValueSet,
    source: &str,
) -> Result<Vec<NewObservation>, ApiError> {
    if set.data_values.len() > import::MAX_ROWS {
        return Err(ApiError::bad_input(
            "dataValueSet",
            message!(FILE_TOO_MANY_ROWS, max = import::MAX_ROWS),
        ));
    }
    let by_uid = |codes: HashMap<String, String>| -> HashMap<String, String> {
        codes.into_iter().map(|(code, uid)| (uid, code)).collect()
    };
    let metrics = by_uid(identifiers(db, Kind::DataElement).await?);
    let units = by_uid(identifiers(db, Kind::OrgUnit).await?);
    let kinds: HashMap<String, MetricKind> = entity::metric::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|m| (m.code, m.kind))
        .collect();
    let (mut items, mut failures, mut total) = (Vec::new(), Vec::new(), 0);
    for (index, mut data_value) in set.data_values.into_iter().enumerate() {
        data_value.period = data_value.period.or_else(|| set.period.clone());
        data_value.org_unit = data_value.org_unit.or_else(|| set.org_unit.clone());
        let mut fail = |field: &'static str, message| {
            total += 1;
            if failures.len() < MAX_ITEM_FAILURES {
                failures.push(ItemFailure {
                    index,
                    line: None,
                    field,
                    message,
                });
            }
        };
        let metric = metrics.get(&data_value.data_element);
        if metric.is_none() {
            fail(
                "dataElement",
                message!(DHIS2_UNKNOWN_UID, uid = &data_value.data_element),
            );
        }
        let org_unit = data_value.org_unit.as_deref().unwrap_or_default();
        let unit = units.get(org_unit);
        if unit.is_none() {
            fail("orgUnit", message!(DHIS2_UNKNOWN_UID, uid = org_unit));
        }
        let period_name = data_value.period.as_deref().unwrap_or_default();
        let days = period_days(period_name);
        if days.is_none() {
            fail("period", message!(DHIS2_PERIOD, period = period_name));
        }
        let value: Option<Decimal> = exact::parse(&data_value.value)
            .map_err(|m| fail("value", m))
            .ok();
        let (qualifier, note) = match data_value.comment.as_deref().map(import::qualifier) {
            Some(Ok(qualifier)) => (qualifier, None),
            Some(Err(_)) => (Qualifier::Exact, data_value.comment.clone()),
            None => (Qualifier::Exact, None),
        };
        let (Some(metric), Some(unit), Some((first, last)), Some(value)) =
            (metric, unit, days, value)
        else {
            continue;
        };
        let flow = kinds
            .get(metric)
            .is_some_and(|&kind| kinds::covers_period(kind));
        items.push(NewObservation {
            metric: metric.clone(),
            agency: (unit != NATIONAL).then(|| unit.clone()),
            // A flow covers the whole period; any other figure is read on its last day.
            observed_at: start_of_day(if flow { last + Duration::days(1) } else { last }, VIETNAM),
            period_start: flow.then(|| start_of_day(first, VIETNAM)),
            value,
            qualifier,
            denominator: None,
            source: source.to_owned(),
            quote: serde_json::to_string(&data_value).expect("a data value serialises"),
            note,
            line: None,
        });
    }
    if failures.is_empty() {
        Ok(items)
    } else {
        Err(ApiError::InvalidItems { failures, total })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn periods_are_named_and_read_as_dhis2_does() {
        for (bucket, start, name, last) in [
            (TimeBucket::Year, "2025-01-01", "2025", "2025-12-31"),
            (TimeBucket::Quarter, "2025-04-01", "2025Q2", "2025-06-30"),
            (TimeBucket::Month, "2025-06-01", "202506", "2025-06-30"),
            (TimeBucket::Week, "2025-06-23", "2025W26", "2025-06-29"),
            (TimeBucket::Day, "2025-06-15", "20250615", "2025-06-15"),
        ] {
            assert_eq!(period_name(bucket, day(start)), name);
            assert_eq!(period_days(name), Some((day(start), day(last))), "{name}");
        }
        for bad in ["2025Q5", "202513", "2025W54", "25", "2025-06", "", "2025X1"] {
            assert_eq!(period_days(bad), None, "{bad}");
        }
        assert!(
            well_formed_uid("a1B2c3D4e5F")
                && !well_formed_uid("1abcdefghij")
                && !well_formed_uid("short")
        );
    }
}
