use sea_orm::entity::prelude::*;

/// A DHIS2 instance's identifier for a metric (a data element) or an agency (an organisation
/// unit; `VN` for the national level). One per code and one per identifier, for each kind.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dhis2_identifier")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// `data_element` or `org_unit`.
    pub kind: String,
    /// DHIS2's UID: 11 letters and digits, starting with a letter.
    pub uid: String,
    /// The metric's or agency's code.
    pub code: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
