use sea_orm::entity::prelude::*;

/// One entry of the append-only audit log. Each entry carries the hash of the one before it, and
/// its own hash covers every field, so an edited or removed entry breaks the chain.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_entry")]
pub struct Model {
    /// 1, 2, 3… in the order the entries were appended.
    #[sea_orm(primary_key, auto_increment = false)]
    pub sequence: i64,
    pub occurred_at: DateTimeUtc,
    /// Who acted: an API key's name, `anonymous`, or `cli` for the command line.
    pub actor: String,
    pub api_key_id: Option<i32>,
    /// What was attempted, e.g. `observation.record`.
    pub action: String,
    /// `applied` or `refused`.
    pub outcome: String,
    /// What it was done to, e.g. `observation:12`.
    pub subject: Option<String>,
    /// A JSON object with the particulars (values, reasons, refusal).
    #[sea_orm(column_type = "Text")]
    pub detail: String,
    pub client_address: Option<String>,
    pub request_id: Option<String>,
    pub previous_hash: String,
    pub hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
