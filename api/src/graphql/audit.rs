use super::scalars::Instant;
use async_graphql::connection::EmptyFields;
use async_graphql::{Context, InputObject, Json, Object, Result, SimpleObject};
use entity::audit_entry;

use super::{caller, connection, database, page_cost, page_request, PageConnection};
use std::sync::Arc;

use super::written::WrittenFields;
use crate::error::{ApiError, GraphqlError};
use crate::service::access::Permission;
use crate::service::audit::anchor::Trust;
use crate::service::audit::anchor::{self, Anchor};
use crate::service::audit::verify::{Anchoring, Status, Verification};
use crate::service::audit::{self, AuditFilter};

/// An entry of the append-only audit log.
pub struct AuditEntry(pub audit_entry::Model);

/// Answered by its resolvers alone.
impl WrittenFields for AuditEntry {}

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

/// Where a verification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum AuditStatus {
    /// Every link, revision and checkpoint holds, and a signed checkpoint anchors the chain.
    Intact,
    /// Everything holds, but nothing signed with a trusted key pins the chain.
    Unanchored,
    /// A link, a revision or a checkpoint does not hold.
    Broken,
}

/// A revision that does not match what the audit log recorded.
#[derive(SimpleObject)]
pub struct RevisionProblem {
    /// The entry that recorded it (or should have).
    pub entry_sequence: Option<i64>,
    pub observation_id: Option<i32>,
    pub revision: Option<i32>,
    pub message: String,
}

/// The result of walking the audit chain, every revision and every checkpoint.
#[derive(SimpleObject)]
pub struct AuditVerification {
    pub status: AuditStatus,
    /// No link, revision or checkpoint is broken (whether or not the chain is anchored).
    pub intact: bool,
    /// A checkpoint signed with the server's key anchors the chain.
    pub anchored: bool,
    /// One line: what holds, or the first thing that does not.
    pub summary: String,
    pub entries_checked: u64,
    pub revisions_checked: u64,
    pub head_sequence: i64,
    pub head_hash: String,
    /// The first entry whose link is broken.
    pub first_broken_sequence: Option<i64>,
    /// The entry of the first checkpoint the chain does not pass through.
    pub broken_checkpoint_sequence: Option<i64>,
    /// The entry of the last signed checkpoint.
    pub last_checkpoint_sequence: Option<i64>,
    pub problem: Option<String>,
    /// The first 100 revisions that do not match the log, in the order they were written.
    pub revision_problems: Vec<RevisionProblem>,
    pub revision_problem_count: u64,
    /// Revisions written while the walk ran; the next walk checks them.
    pub revisions_after_head: u64,
}

impl From<Verification> for AuditVerification {
    fn from(v: Verification) -> Self {
        let status = match v.status() {
            Status::Intact => AuditStatus::Intact,
            Status::Unanchored => AuditStatus::Unanchored,
            Status::Broken => AuditStatus::Broken,
        };
        let (last_checkpoint_sequence, broken_checkpoint_sequence) = match &v.anchoring {
            Anchoring::Anchored { last_sequence, .. } => (Some(*last_sequence), None),
            Anchoring::Broken {
                checkpoint_sequence,
                ..
            } => (None, Some(*checkpoint_sequence)),
            Anchoring::Unanchored { .. } => (None, None),
        };
        let problem = (status == AuditStatus::Broken).then(|| v.summary());
        AuditVerification {
            status,
            intact: v.intact(),
            anchored: matches!(v.anchoring, Anchoring::Anchored { .. }),
            summary: v.summary(),
            entries_checked: v.entries_checked,
            revisions_checked: v.revisions_checked,
            head_sequence: v.head_sequence,
            head_hash: v.head_hash,
            first_broken_sequence: v.first_broken.map(|(sequence, _)| sequence),
            broken_checkpoint_sequence,
            last_checkpoint_sequence,
            problem,
            revision_problems: v
                .revision_problems
                .into_iter()
                .map(|p| RevisionProblem {
                    entry_sequence: p.entry,
                    observation_id: p.observation_id,
                    revision: p.revision,
                    message: p.message,
                })
                .collect(),
            revision_problem_count: v.revision_problem_count,
            revisions_after_head: v.revisions_after_head,
        }
    }
}

/// A signed checkpoint of the chain's head.
#[derive(SimpleObject)]
pub struct AuditCheckpoint {
    pub sequence: i64,
    pub hash: String,
    pub signed_at: Instant,
    /// The signing key's public half, hex.
    pub public_key: String,
    /// Ed25519 signature, hex, of the checkpoint statement (see the docs on auditing).
    pub signature: String,
}

/// What anchors the audit chain: the public key to check signatures with, and the last
/// checkpoint. Public, so that anyone can keep the key and check exports and receipts.
#[derive(SimpleObject)]
pub struct AuditAnchor {
    pub algorithm: &'static str,
    /// Hex; none when the server has no signing key (the chain is then unanchored).
    pub public_key: Option<String>,
    pub last_checkpoint: Option<AuditCheckpoint>,
}

fn anchor<'a>(ctx: &Context<'a>) -> Option<&'a Arc<Anchor>> {
    ctx.data_opt::<Option<Arc<Anchor>>>()
        .and_then(Option::as_ref)
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
    ) -> Result<PageConnection<AuditEntry, EmptyFields>> {
        let request = page_request(ctx, first, after.as_deref(), last, before.as_deref())?;
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
        let trust = match anchor(ctx) {
            Some(anchor) => anchor
                .trust()
                .map_err(|why| ApiError::from(sea_orm::DbErr::Custom(why)).extend())?,
            None => Trust::default(),
        };
        let verification = audit::verify(database(ctx)?, &trust)
            .await
            .map_err(|e| e.extend())?;
        Ok(verification.into())
    }

    /// The public key that signs the chain's checkpoints, exports and receipts, and the last
    /// checkpoint (anyone may read it).
    async fn audit_anchor(&self, ctx: &Context<'_>) -> Result<AuditAnchor> {
        let last = anchor::latest(database(ctx)?)
            .await
            .map_err(|e| e.extend())?;
        Ok(AuditAnchor {
            algorithm: anchor::ALGORITHM,
            public_key: anchor(ctx).map(|a| a.public_key_hex()),
            last_checkpoint: last.map(|c| AuditCheckpoint {
                sequence: c.sequence,
                hash: c.hash,
                signed_at: Instant(c.signed_at),
                public_key: c.public_key,
                signature: c.signature,
            }),
        })
    }
}
