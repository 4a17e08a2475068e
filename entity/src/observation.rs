use sea_orm::entity::prelude::*;

/// What a figure describes: a metric, optionally for one agency, at an instant or over a period.
/// Its values are the rows of `observation_revision`; this row never changes once written.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "observation")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub metric_id: i32,
    /// The agency the figure is about; none for a national figure.
    pub agency_id: Option<i32>,
    /// The instant the value describes; for a flow, the end of its period (exclusive).
    pub observed_at: DateTimeUtc,
    /// For a flow, the start of its period; none for readings at an instant.
    pub period_start: Option<DateTimeUtc>,
    /// True for generated demonstration data, which must never pass for reported figures.
    pub synthetic: bool,
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
        belongs_to = "super::agency::Entity",
        from = "Column::AgencyId",
        to = "super::agency::Column::Id"
    )]
    Agency,
    #[sea_orm(has_many = "super::observation_revision::Entity")]
    Revision,
}

impl Related<super::metric::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Metric.def()
    }
}

impl Related<super::observation_revision::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Revision.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
