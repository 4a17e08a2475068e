use sea_orm::entity::prelude::*;

use crate::values::Comparator;

/// A goal set for a metric in a year, e.g. at least 30% of dossiers filed online in 2021.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "target")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub code: String,
    pub metric_id: i32,
    pub year: i32,
    pub comparator: Comparator,
    /// In the metric's unit and scale.
    #[sea_orm(column_type = "Decimal(Some((21, 6)))")]
    pub value: Decimal,
    #[sea_orm(column_type = "Text")]
    pub description_vi: String,
    #[sea_orm(column_type = "Text")]
    pub description_en: String,
    pub source_id: i32,
    #[sea_orm(column_type = "Text")]
    pub quote: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::metric::Entity",
        from = "Column::MetricId",
        to = "super::metric::Column::Id"
    )]
    Metric,
    #[sea_orm(
        belongs_to = "super::source::Entity",
        from = "Column::SourceId",
        to = "super::source::Column::Id"
    )]
    Source,
}

impl ActiveModelBehavior for ActiveModel {}
