//! Remembering the answer to a write sent with an idempotency key, so a retry is applied once.

use chrono::{SubsecRound, Utc};
use entity::idempotency_record;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::error::ApiError;

/// The longest idempotency key accepted.
pub const MAX_KEY_LENGTH: usize = 200;

pub async fn find(
    db: &impl ConnectionTrait,
    actor: &str,
    key: &str,
) -> Result<Option<idempotency_record::Model>, ApiError> {
    if key.is_empty() || key.len() > MAX_KEY_LENGTH {
        return Err(ApiError::bad_input(
            "idempotencyKey",
            crate::message!(IDEMPOTENCY_KEY_LENGTH, max = MAX_KEY_LENGTH),
        ));
    }
    Ok(idempotency_record::Entity::find()
        .filter(idempotency_record::Column::Actor.eq(actor))
        .filter(idempotency_record::Column::Key.eq(key))
        .one(db)
        .await?)
}

pub async fn remember(
    db: &impl ConnectionTrait,
    actor: &str,
    key: &str,
    request_hash: &str,
    observation_ids: &[i32],
) -> Result<(), ApiError> {
    idempotency_record::ActiveModel {
        actor: Set(actor.to_owned()),
        key: Set(key.to_owned()),
        request_hash: Set(request_hash.to_owned()),
        response: Set(serde_json::json!({ "observations": observation_ids }).to_string()),
        created_at: Set(Utc::now().trunc_subsecs(6)),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The observations an earlier request stored.
pub fn observation_ids(record: &idempotency_record::Model) -> Vec<i32> {
    serde_json::from_str::<serde_json::Value>(&record.response)
        .ok()
        .and_then(|response| {
            response["observations"].as_array().map(|ids| {
                ids.iter()
                    .filter_map(|id| id.as_i64())
                    .map(|id| id as i32)
                    .collect()
            })
        })
        .unwrap_or_default()
}
