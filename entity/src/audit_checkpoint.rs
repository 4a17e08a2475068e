use sea_orm::entity::prelude::*;

/// A signed statement that the audit chain's head was `hash` at `sequence`: signed with a key
/// kept outside the database, so that a chain rewritten without that key no longer passes
/// through its checkpoints.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_checkpoint")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub sequence: i64,
    pub hash: String,
    pub signed_at: DateTimeUtc,
    /// The Ed25519 public key that signed, hex: which key to check it with is the verifier's
    /// choice, never this column's.
    pub public_key: String,
    /// Ed25519 signature, hex, of the checkpoint's statement.
    pub signature: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
