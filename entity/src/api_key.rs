use sea_orm::entity::prelude::*;

use crate::values::Role;

/// A credential for the API. Only a hash of its secret is stored; the key is shown once.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_key")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The public part of the key, which names it in logs and lists.
    #[sea_orm(unique)]
    pub prefix: String,
    /// SHA-256 of the secret part, hex.
    pub secret_hash: String,
    pub name: String,
    pub role: Role,
    /// A reporter key records only for this agency, when set.
    pub agency_id: Option<i32>,
    /// A reporter key records only for this platform's metrics, when set.
    pub platform_id: Option<i32>,
    pub created_at: DateTimeUtc,
    pub created_by: String,
    pub expires_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
