use sea_orm::entity::prelude::*;

use crate::values::Qualifier;

/// One recorded value of an observation. Revisions are appended, never edited: the current one
/// is the revision whose `superseded_at` is empty, and what was current at an instant `t` is the
/// one with `recorded_at <= t` and no `superseded_at` at or before `t`. A current revision that
/// is `retracted` hides the observation from current answers.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "observation_revision")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub observation_id: i32,
    /// 1 for the first value, then 2, 3… for each correction.
    pub revision: i32,
    /// In the metric's unit and scale.
    #[sea_orm(column_type = "Decimal(Some((21, 6)))")]
    pub value: Decimal,
    pub qualifier: Qualifier,
    /// For ratios: the total the value is out of (106 of 200).
    #[sea_orm(column_type = "Decimal(Some((21, 6)))", nullable)]
    pub denominator: Option<Decimal>,
    pub source_id: i32,
    /// The phrase of the source the value was read from, verbatim.
    #[sea_orm(column_type = "Text")]
    pub quote: String,
    /// Context an auditor needs that the value alone does not carry.
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
    pub recorded_at: DateTimeUtc,
    /// Who recorded the value: a person, an API key's name, or `seed`.
    pub recorded_by: String,
    /// Why this revision was made, for corrections.
    #[sea_orm(column_type = "Text", nullable)]
    pub reason: Option<String>,
    /// When a later revision replaced this one; empty while it is current.
    pub superseded_at: Option<DateTimeUtc>,
    /// True for a revision that withdraws the figure: it stays in history, out of current answers.
    pub retracted: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::observation::Entity",
        from = "Column::ObservationId",
        to = "super::observation::Column::Id"
    )]
    Observation,
    #[sea_orm(
        belongs_to = "super::source::Entity",
        from = "Column::SourceId",
        to = "super::source::Column::Id"
    )]
    Source,
}

impl Related<super::observation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Observation.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
