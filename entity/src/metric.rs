use sea_orm::entity::prelude::*;

use crate::values::{MetricKind, ReportingPeriod, Scale, Unit};

/// Something a platform, or the e-government programme as a whole, measures, with the unit,
/// scale and kind that give its values meaning.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "metric")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The platform it measures; none for the programme's own outcomes (a national target, the
    /// United Nations' index).
    pub platform_id: Option<i32>,
    /// Stable identifier, e.g. `document-exchange-axis.documents-exchanged`.
    #[sea_orm(unique)]
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub unit: Unit,
    pub scale: Scale,
    pub kind: MetricKind,
    /// How often agencies report it; none when it has no reporting calendar.
    pub reporting_period: Option<ReportingPeriod>,
    /// Days after the end of each period by which a report is due.
    pub reporting_due_days: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::platform::Entity",
        from = "Column::PlatformId",
        to = "super::platform::Column::Id"
    )]
    Platform,
    #[sea_orm(has_many = "super::observation::Entity")]
    Observation,
}

impl Related<super::platform::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Platform.def()
    }
}

impl Related<super::observation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Observation.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
