//! The Government, its ministries and ministerial-level agencies, and the provinces and
//! municipalities, with the dates each is in force and what succeeded what: from
//! `seeds/reference/` (its README cites the sources of every row).

use chrono::{Duration, NaiveDate};
use entity::values::AgencyKind;
use entity::{agency, agency_succession};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, Set,
};
use serde::Deserialize;

use super::{insert_missing, Codes, SeedError};

const PROVINCES: &str = include_str!("../../../seeds/reference/provinces.csv");
const MINISTRIES: &str = include_str!("../../../seeds/reference/ministries.csv");

/// The root of the hierarchy: ministries and provinces answer to it.
pub const GOVERNMENT: &str = "chinh-phu";
const GOVERNMENT_OFFICE: &str = "van-phong-chinh-phu";

/// One row of the reference files (their columns are described in their README).
#[derive(Debug, Deserialize)]
pub struct ReferenceAgency {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    kind: String,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    /// The unit it became (part of); its own code when it continues.
    pub successor: Option<String>,
}

impl ReferenceAgency {
    pub fn kind(&self) -> Result<AgencyKind, SeedError> {
        match (self.kind.as_str(), self.code.as_str()) {
            (_, GOVERNMENT_OFFICE) => Ok(AgencyKind::GovernmentOffice),
            ("province", _) => Ok(AgencyKind::Province),
            ("municipality", _) => Ok(AgencyKind::Municipality),
            ("ministry", _) => Ok(AgencyKind::Ministry),
            ("ministerial-agency", _) => Ok(AgencyKind::MinisterialAgency),
            (other, _) => Err(SeedError::UnknownReference {
                kind: "agency kind",
                code: other.to_owned(),
            }),
        }
    }

    /// The unit that took this one over, if another did.
    fn taken_over_by(&self) -> Option<&str> {
        self.successor
            .as_deref()
            .filter(|successor| !successor.is_empty() && *successor != self.code)
    }
}

/// Every row of both files: ministries first, then provinces.
pub fn rows() -> Result<Vec<ReferenceAgency>, SeedError> {
    let mut rows = Vec::new();
    for text in [MINISTRIES, PROVINCES] {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        for row in reader.deserialize::<ReferenceAgency>() {
            rows.push(row.map_err(|error| SeedError::Reference(error.to_string()))?);
        }
    }
    Ok(rows)
}

/// Stores the Government and every reference agency not yet stored; an agency stored before
/// (by an older seed) gets the parent and dates it lacks. Then every succession.
pub(super) async fn load(
    db: &impl ConnectionTrait,
    agencies: &mut Codes,
    count: &mut impl FnMut(bool),
) -> Result<(), SeedError> {
    let inserted = insert_missing(db, agencies, GOVERNMENT, || agency::ActiveModel {
        code: Set(GOVERNMENT.to_owned()),
        name_vi: Set("Chính phủ".to_owned()),
        name_en: Set("Government of Vietnam".to_owned()),
        kind: Set(AgencyKind::Government),
        ..Default::default()
    })
    .await?;
    count(inserted);
    let government = agencies.id(GOVERNMENT)?;

    let rows = rows()?;
    for row in &rows {
        let kind = row.kind()?;
        let inserted = insert_missing(db, agencies, &row.code, || agency::ActiveModel {
            code: Set(row.code.clone()),
            name_vi: Set(row.name_vi.clone()),
            name_en: Set(row.name_en.clone()),
            kind: Set(kind),
            parent_id: Set(Some(government)),
            valid_from: Set(row.valid_from),
            valid_to: Set(row.valid_to),
            ..Default::default()
        })
        .await?;
        if !inserted {
            complete(db, agencies.id(&row.code)?, row, government).await?;
        }
        count(inserted);
    }

    for row in &rows {
        let Some(successor) = row.taken_over_by() else {
            continue;
        };
        let (predecessor_id, successor_id) = (agencies.id(&row.code)?, agencies.id(successor)?);
        let known = agency_succession::Entity::find()
            .filter(agency_succession::Column::PredecessorId.eq(predecessor_id))
            .filter(agency_succession::Column::SuccessorId.eq(successor_id))
            .one(db)
            .await?;
        if known.is_some() {
            count(false);
            continue;
        }
        let effective_on = row
            .valid_to
            .map(|last| last + Duration::days(1))
            .ok_or_else(|| {
                SeedError::Reference(format!("{} has a successor but no end", row.code))
            })?;
        agency_succession::ActiveModel {
            predecessor_id: Set(predecessor_id),
            successor_id: Set(successor_id),
            effective_on: Set(effective_on),
            ..Default::default()
        }
        .insert(db)
        .await?;
        count(true);
    }
    Ok(())
}

/// Gives an agency stored before the reference data its parent and dates, where it has none.
async fn complete(
    db: &impl ConnectionTrait,
    id: i32,
    row: &ReferenceAgency,
    government: i32,
) -> Result<(), DbErr> {
    let Some(stored) = agency::Entity::find_by_id(id).one(db).await? else {
        return Ok(());
    };
    let missing_dates = (stored.valid_from.is_none() && row.valid_from.is_some())
        || (stored.valid_to.is_none() && row.valid_to.is_some());
    if stored.parent_id.is_some() && !missing_dates {
        return Ok(());
    }
    let mut completed = stored.clone().into_active_model();
    if stored.parent_id.is_none() {
        completed.parent_id = Set(Some(government));
    }
    if stored.valid_from.is_none() {
        completed.valid_from = Set(row.valid_from);
    }
    if stored.valid_to.is_none() {
        completed.valid_to = Set(row.valid_to);
    }
    completed.update(db).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(day: &str) -> NaiveDate {
        day.parse().unwrap()
    }

    fn in_force(rows: &[ReferenceAgency], day: NaiveDate, kinds: &[AgencyKind]) -> usize {
        rows.iter()
            .filter(|r| kinds.contains(&r.kind().unwrap()))
            .filter(|r| {
                r.valid_from.is_none_or(|f| f <= day) && r.valid_to.is_none_or(|t| day <= t)
            })
            .count()
    }

    #[test]
    fn the_reference_counts_63_provinces_then_34_and_22_ministries_then_17() {
        let rows = rows().expect("the reference files parse");
        let provincial = [AgencyKind::Province, AgencyKind::Municipality];
        assert_eq!(in_force(&rows, on("2024-12-31"), &provincial), 63);
        assert_eq!(in_force(&rows, on("2025-06-30"), &provincial), 63);
        assert_eq!(in_force(&rows, on("2025-07-01"), &provincial), 34);
        let central = [
            AgencyKind::Ministry,
            AgencyKind::MinisterialAgency,
            AgencyKind::GovernmentOffice,
        ];
        assert_eq!(in_force(&rows, on("2025-02-28"), &central), 22);
        assert_eq!(in_force(&rows, on("2025-03-01"), &central), 17);
        // Every successor is a unit of the files, in force the day after its predecessor ends.
        for row in &rows {
            if let Some(successor) = row.taken_over_by() {
                let next = rows.iter().find(|r| r.code == successor).expect(successor);
                let first = row.valid_to.unwrap() + Duration::days(1);
                assert!(next.valid_from.is_none_or(|f| f <= first), "{}", row.code);
            }
        }
    }
}
