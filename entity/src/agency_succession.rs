use sea_orm::entity::prelude::*;

/// One agency taken over by another on a date: a province merged into a new one, a ministry
/// into a new ministry. A merger of three units is three rows with one successor.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agency_succession")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub predecessor_id: i32,
    pub successor_id: i32,
    /// The successor's first day.
    pub effective_on: Date,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
