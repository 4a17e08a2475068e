use sea_orm::entity::prelude::*;

/// One definition of a scored index, valid from a local day (Vietnam time) until the next
/// version's first day. Appended, never edited.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scored_index_version")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub scored_index_id: i32,
    /// 1, 2, 3… in the order defined.
    pub version: i32,
    /// The first day it applies to; none: from the beginning.
    pub valid_from: Option<Date>,
    /// The components, as JSON (see the service's `indices`).
    #[sea_orm(column_type = "Text")]
    pub components: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
    pub recorded_at: DateTimeUtc,
    pub recorded_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::scored_index::Entity",
        from = "Column::ScoredIndexId",
        to = "super::scored_index::Column::Id"
    )]
    ScoredIndex,
}

impl Related<super::scored_index::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ScoredIndex.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
