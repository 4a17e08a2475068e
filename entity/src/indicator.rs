use sea_orm::entity::prelude::*;

use crate::values::{Scale, Unit};

/// A named formula over metrics, e.g. the share of dossiers filed online. What it computes is
/// in its versions: a definition changes by adding a version, never by editing one.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "indicator")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub code: String,
    #[sea_orm(column_type = "Text")]
    pub name_vi: String,
    #[sea_orm(column_type = "Text")]
    pub name_en: String,
    pub unit: Unit,
    pub scale: Scale,
    /// The reported metric it computes from inputs: that metric's targets are judged on it.
    pub metric_id: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::metric::Entity",
        from = "Column::MetricId",
        to = "super::metric::Column::Id"
    )]
    Metric,
    #[sea_orm(has_many = "super::indicator_version::Entity")]
    IndicatorVersion,
}

impl Related<super::indicator_version::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::IndicatorVersion.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
