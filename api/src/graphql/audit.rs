use super::scalars::Instant;
use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, ErrorExtensions, InputObject, Json, Object, Result, SimpleObject};
use entity::audit_entry;

use super::{caller, connection, database, page_cost};
use crate::service::audit::{self, AuditFilter};
use crate::service::auth::Permission;
use crate::service::pagination::PageRequest;

/// An entry of the append-only audit log.
pub struct AuditEntry(pub audit_entry::Model);

#[Object]
impl AuditEntry {
    /// 1, 2, 3… in the order entries were appended.
    async fn sequence(&self) -> i64 {
        self.0.sequence
    }

    async fn occurred_at(&self) -> Instant {
        Instant(self.0.occurred_at)
    }

    /// The key's name, `anonymous`, or `cli:<name>` for the command line.
    async fn actor(&self) -> &str {
        &self.0.actor
    }

    /// What was attempted, e.g. `observation.correct`.
    async fn action(&self) -> &str {
        &self.0.action
    }

    /// `applied` or `refused`.
    async fn outcome(&self) -> &str {
        &self.0.outcome
    }

    /// What it concerned, e.g. `observation:12`.
    async fn subject(&self) -> Option<&str> {
        self.0.subject.as_deref()
    }

    /// The particulars: values before and after, reasons, refusal codes.
    async fn detail(&self) -> Json<serde_json::Value> {
        Json(serde_json::from_str(&self.0.detail).unwrap_or_default())
    }

    async fn client_address(&self) -> Option<&str> {
        self.0.client_address.as_deref()
    }

    async fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    async fn previous_hash(&self) -> &str {
        &self.0.previous_hash
    }

    async fn hash(&self) -> &str {
        &self.0.hash
    }
}

#[derive(Debug, Default, InputObject)]
pub struct AuditFilterInput {
    pub actor: Option<String>,
    pub action: Option<String>,
    /// `applied` or `refused`.
    pub outcome: Option<String>,
    /// e.g. `observation:12`.
    pub subject: Option<String>,
    /// At or after this instant.
    pub from: Option<Instant>,
    /// Before this instant.
    pub before: Option<Instant>,
}

/// The result of walking the audit chain.
#[derive(SimpleObject)]
pub struct AuditVerification {
    /// Every link holds.
    pub intact: bool,
    pub entries_checked: u64,
    pub head_sequence: i64,
    pub head_hash: String,
    /// The first entry whose link is broken.
    pub first_broken_sequence: Option<i64>,
    pub problem: Option<String>,
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit log of every write and refused write, in append order (auditors and admins).
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<String, AuditEntry>> {
        let request = PageRequest::new(first, after.as_deref(), last, before.as_deref())
            .map_err(|e| e.extend())?;
        let filter = filter.unwrap_or_default();
        let filter = AuditFilter {
            actor: filter.actor,
            action: filter.action,
            outcome: filter.outcome,
            subject: filter.subject,
            from: filter.from.map(|at| at.0),
            before: filter.before.map(|at| at.0),
        };
        let page = audit::entries(database(ctx)?, &caller(ctx).principal, &filter, &request)
            .await
            .map_err(|e| e.extend())?;
        Ok(connection(page, EmptyFields, AuditEntry))
    }

    /// Walks the whole chain and reports the first broken link (auditors and admins).
    async fn verify_audit_chain(&self, ctx: &Context<'_>) -> Result<AuditVerification> {
        caller(ctx)
            .principal
            .require(Permission::Audit)
            .map_err(|e| e.extend())?;
        let verification = audit::verify(database(ctx)?)
            .await
            .map_err(|e| e.extend())?;
        Ok(AuditVerification {
            intact: verification.intact(),
            entries_checked: verification.entries_checked,
            head_sequence: verification.head_sequence,
            head_hash: verification.head_hash,
            first_broken_sequence: verification.first_broken.as_ref().map(|(s, _)| *s),
            problem: verification.first_broken.map(|(_, why)| why),
        })
    }
}
