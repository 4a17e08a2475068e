use sea_orm::entity::prelude::*;

use crate::values::{DatePrecision, EventKind};

/// A launch or milestone, dated as precisely as its source allows.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub code: String,
    pub platform_id: Option<i32>,
    pub agency_id: Option<i32>,
    pub kind: EventKind,
    /// The first day of the period `date_precision` names.
    pub occurred_on: Date,
    pub date_precision: DatePrecision,
    #[sea_orm(column_type = "Text")]
    pub name_vi: String,
    #[sea_orm(column_type = "Text")]
    pub name_en: String,
    pub source_id: i32,
    #[sea_orm(column_type = "Text")]
    pub quote: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::platform::Entity",
        from = "Column::PlatformId",
        to = "super::platform::Column::Id"
    )]
    Platform,
    #[sea_orm(
        belongs_to = "super::source::Entity",
        from = "Column::SourceId",
        to = "super::source::Column::Id"
    )]
    Source,
}

impl ActiveModelBehavior for ActiveModel {}
