use sea_orm::entity::prelude::*;

use crate::values::AgencyKind;

/// A body that operates platforms or reports figures: the Government, a ministry or
/// ministerial-level agency, a province or municipality. Agencies change: a unit merged into
/// another stops on `valid_to` and its successors are in `agency_succession`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agency")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub kind: AgencyKind,
    /// The body it answers to (the Government, for ministries and provinces).
    pub parent_id: Option<i32>,
    /// First day in force; none when it existed before the period the data covers.
    pub valid_from: Option<Date>,
    /// Last day in force (inclusive); none while it is.
    pub valid_to: Option<Date>,
}

impl Model {
    /// Whether the agency is in force on `day`.
    pub fn valid_on(&self, day: Date) -> bool {
        self.valid_from.is_none_or(|from| from <= day) && self.valid_to.is_none_or(|to| day <= to)
    }

    /// Whether the agency is in force on some day from `first` to `last` (inclusive).
    pub fn valid_during(&self, first: Date, last: Date) -> bool {
        self.valid_from.is_none_or(|from| from <= last)
            && self.valid_to.is_none_or(|to| first <= to)
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
