use sea_orm::entity::prelude::*;

/// One definition of an indicator, valid from a local day (Vietnam time) until the next
/// version's first day. Appended, never edited.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "indicator_version")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub indicator_id: i32,
    /// 1, 2, 3… in the order defined.
    pub version: i32,
    /// The first day it applies to; none: from the beginning.
    pub valid_from: Option<Date>,
    /// The formula, as JSON (see the service's `indicators::formula`).
    #[sea_orm(column_type = "Text")]
    pub formula: String,
    /// Why this version: the decision that set it, what changed.
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
    pub recorded_at: DateTimeUtc,
    pub recorded_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::indicator::Entity",
        from = "Column::IndicatorId",
        to = "super::indicator::Column::Id"
    )]
    Indicator,
}

impl Related<super::indicator::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Indicator.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
