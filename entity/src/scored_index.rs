use sea_orm::entity::prelude::*;

/// A score of every province or every ministry, made of components whose definition is in its
/// versions: a definition changes by adding a version, never by editing one.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scored_index")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub code: String,
    #[sea_orm(column_type = "Text")]
    pub name_vi: String,
    #[sea_orm(column_type = "Text")]
    pub name_en: String,
    /// The units it scores: `provinces` or `ministries`.
    pub agency_group: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::scored_index_version::Entity")]
    ScoredIndexVersion,
}

impl Related<super::scored_index_version::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ScoredIndexVersion.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
