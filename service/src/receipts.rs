//! Receipts of answers: the query, the instant it was answered as of, the audit chain's head
//! then and a hash of the answer, signed with the server's key. Whoever holds a receipt can ask
//! later whether the same query as of that instant still gives the same answer (it must, unless
//! history was changed behind the API), whether it gives it now, and what was recorded since.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use entity::observation_revision;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::audit::anchor::{self, Anchor};
use crate::error::ApiError;
use crate::messages::{catalogue, Message};

/// Changes listed one by one in a verification; the rest are counted.
pub const MAX_CHANGES: u64 = 100;

/// What a receipt says; its token is this, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    pub query: String,
    pub variables: serde_json::Value,
    pub operation_name: Option<String>,
    /// The instant the answer describes: every figure as it was recorded by then.
    pub as_of: DateTime<Utc>,
    /// `sequence:hash` of the audit chain when the answer was given.
    pub chain_head: String,
    /// SHA-256 of the answer's `data`, as compact JSON in the order the query asked.
    pub answer_sha256: String,
}

const DOMAIN: &[u8] = b"egov-kpi receipt\n";

fn signed_bytes(payload: &[u8]) -> Vec<u8> {
    [DOMAIN, payload].concat()
}

/// The hash a receipt keeps of an answer's `data`.
pub fn answer_digest(data: &serde_json::Value) -> String {
    hex::encode(Sha256::digest(
        serde_json::to_vec(data).expect("JSON serialises"),
    ))
}

impl Receipt {
    /// The receipt as a token: its JSON in base64url, a dot, the signature in hex.
    pub fn sign(&self, anchor: &Anchor) -> String {
        let payload = serde_json::to_vec(self).expect("a receipt serialises");
        let signature = anchor.sign(&signed_bytes(&payload));
        format!(
            "{}.{signature}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload)
        )
    }

    /// Reads a token, refusing one that `key` did not sign.
    pub fn open(token: &str, key: &VerifyingKey) -> Result<Self, ApiError> {
        let refused = |why| ApiError::bad_input("token", Message::new(why));
        let (payload, signature) = token
            .trim()
            .split_once('.')
            .ok_or_else(|| refused(&catalogue::NOT_A_RECEIPT))?;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| refused(&catalogue::NOT_A_RECEIPT))?;
        if !anchor::verify_signature(key, &signed_bytes(&payload), signature) {
            return Err(refused(&catalogue::RECEIPT_NOT_SIGNED_HERE));
        }
        serde_json::from_slice(&payload).map_err(|_| refused(&catalogue::RECEIPT_MALFORMED))
    }

    /// The instant as the `DateTime` scalar writes it.
    pub fn as_of_text(&self) -> String {
        self.as_of.to_rfc3339()
    }
}

/// A revision recorded after a receipt's instant: a new figure, a correction or a retraction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub observation_id: i32,
    /// The revision it replaced; none for a new figure.
    pub revision_before: Option<i32>,
    pub revision_after: i32,
    pub reason: Option<String>,
    pub retracted: bool,
    pub recorded_at: DateTime<Utc>,
}

/// The revisions recorded after `as_of`, oldest first: the first [`MAX_CHANGES`], and how many
/// there are in all.
pub async fn changes_since(
    db: &DatabaseConnection,
    as_of: DateTime<Utc>,
) -> Result<(Vec<Change>, u64), ApiError> {
    let since = observation_revision::Entity::find()
        .filter(observation_revision::Column::RecordedAt.gt(as_of));
    let total = since.clone().count(db).await?;
    let listed = since
        .order_by_asc(observation_revision::Column::Id)
        .limit(MAX_CHANGES)
        .all(db)
        .await?
        .into_iter()
        .map(|revision| Change {
            observation_id: revision.observation_id,
            revision_before: (revision.revision > 1).then_some(revision.revision - 1),
            revision_after: revision.revision,
            reason: revision.reason,
            retracted: revision.retracted,
            recorded_at: revision.recorded_at,
        })
        .collect();
    Ok((listed, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_with_its_key_only_and_not_once_changed() {
        let directory =
            std::env::temp_dir().join(format!("egov-kpi-receipt-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join("key");
        let _ = std::fs::remove_file(&path);
        let public = anchor::generate_key(&path).unwrap();
        let anchor = Anchor::load(&path, None).unwrap();
        std::fs::remove_dir_all(&directory).unwrap();
        let receipt = Receipt {
            query: "{ savingsComparison { total } }".into(),
            variables: serde_json::json!({}),
            operation_name: None,
            as_of: "2026-12-03T00:00:00Z".parse().unwrap(),
            chain_head: "12:ab".into(),
            answer_sha256: answer_digest(
                &serde_json::json!({ "savingsComparison": { "total": "8529" } }),
            ),
        };
        let token = receipt.sign(&anchor);
        assert_eq!(Receipt::open(&token, &public).unwrap(), receipt);
        let other = ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key();
        assert!(Receipt::open(&token, &other).is_err());
        let (payload, signature) = token.split_once('.').unwrap();
        let mut forged = receipt.clone();
        forged.answer_sha256 = answer_digest(&serde_json::json!({}));
        let forged_payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&forged).unwrap());
        assert_ne!(forged_payload, payload);
        assert!(Receipt::open(&format!("{forged_payload}.{signature}"), &public).is_err());
    }
}
