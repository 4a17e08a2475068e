use std::sync::Weak;

use async_graphql::{Context, Object, Result, SimpleObject};

use super::scalars::Instant;
use super::{caller, database, Engine};
use crate::error::{ApiError, GraphqlError};
use crate::service::audit::anchor::Anchor;
use crate::service::receipts::{self, Receipt};

/// A figure recorded, corrected or retracted after a receipt's instant.
#[derive(SimpleObject)]
pub struct ReceiptChange {
    pub observation_id: i32,
    /// The revision it replaced; none for a new figure.
    pub revision_before: Option<i32>,
    pub revision_after: i32,
    pub reason: Option<String>,
    pub retracted: bool,
    pub recorded_at: Instant,
}

/// What a receipt's answer is worth today.
#[derive(SimpleObject)]
pub struct ReceiptVerification {
    /// The query the receipt covers.
    pub query: String,
    pub as_of: Instant,
    /// The audit chain's head (`sequence:hash`) when the answer was given.
    pub chain_head: String,
    pub answer_sha256: String,
    /// The same query, as of the receipt's instant, gives the same answer: false only if history
    /// was changed behind the API (or the query can no longer be answered).
    pub matches_as_of: bool,
    /// The same query gives the same answer now (fields that state the instant, such as
    /// `savingsComparison.asOf`, differ by nature: leave them out of a receipt's query).
    pub matches_now: bool,
    /// Why the query could not be answered again, if it could not.
    pub problem: Option<String>,
    /// The first 100 figures recorded, corrected or retracted since the receipt's instant.
    pub changes: Vec<ReceiptChange>,
    pub change_count: u64,
}

#[derive(Default)]
pub struct ReceiptQuery;

#[Object]
impl ReceiptQuery {
    /// Checks a receipt (from `"extensions": {"receipt": true}` on a query): its signature, its
    /// answer as of its instant and now, and what changed since. Anyone holding one may check it.
    async fn verify_receipt(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> Result<ReceiptVerification> {
        let anchor = ctx
            .data_opt::<Option<std::sync::Arc<Anchor>>>()
            .and_then(Option::as_ref)
            .ok_or_else(|| ApiError::ReceiptsUnavailable.extend())?;
        let receipt = Receipt::open(&token, &anchor.public_key()).map_err(|e| e.extend())?;
        let engine = ctx
            .data::<Weak<Engine>>()?
            .upgrade()
            .ok_or_else(|| ApiError::Stopping.extend())?;
        let then = engine
            .answer_digest_of(&receipt, Some(receipt.as_of), caller(ctx))
            .await;
        let now = engine.answer_digest_of(&receipt, None, caller(ctx)).await;
        let (changes, change_count) = receipts::changes_since(database(ctx)?, receipt.as_of)
            .await
            .map_err(|e| e.extend())?;
        Ok(ReceiptVerification {
            matches_as_of: then
                .as_ref()
                .is_ok_and(|digest| *digest == receipt.answer_sha256),
            matches_now: now
                .as_ref()
                .is_ok_and(|digest| *digest == receipt.answer_sha256),
            problem: then.err().or(now.err()),
            query: receipt.query,
            as_of: Instant(receipt.as_of),
            chain_head: receipt.chain_head,
            answer_sha256: receipt.answer_sha256,
            changes: changes
                .into_iter()
                .map(|c| ReceiptChange {
                    observation_id: c.observation_id,
                    revision_before: c.revision_before,
                    revision_after: c.revision_after,
                    reason: c.reason,
                    retracted: c.retracted,
                    recorded_at: Instant(c.recorded_at),
                })
                .collect(),
            change_count,
        })
    }
}
