//! API keys: made, listed, revoked and checked; what a key may do is `access`.
//!
//! A key reads `ekpi_<prefix>_<secret>`. The prefix names the key in lists and logs; only a
//! SHA-256 hash of the secret is stored, and the whole key is shown once, when it is created.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, SubsecRound, Utc};
use entity::api_key::{self, KeyState};
use entity::values::Role;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::access::{Permission, Principal};
use super::audit::{self, Action, Caller, Event, APPLIED};
use super::catalog;
use crate::error::ApiError;

const KEY_MARK: &str = "ekpi";

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn random_bytes<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| {
        ApiError::from(sea_orm::DbErr::Custom(format!(
            "no randomness for a key: {e}"
        )))
    })?;
    Ok(bytes)
}

/// A key as requested by an administrator.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub name: String,
    pub role: Role,
    /// Agency code a reporter key is limited to.
    pub agency: Option<String>,
    /// Platform code a reporter key is limited to.
    pub platform: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A newly created key: `secret` is the whole key, shown this once and never stored.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    pub secret: String,
    pub key: api_key::Model,
}

pub async fn create_key(
    db: &DatabaseConnection,
    caller: &Caller,
    request: NewKey,
) -> Result<IssuedKey, ApiError> {
    let result = issue_key(db, caller, request).await;
    audit::log_refusal(db, caller, Action::CreateKey, None, result).await
}

async fn issue_key(
    db: &DatabaseConnection,
    caller: &Caller,
    request: NewKey,
) -> Result<IssuedKey, ApiError> {
    let principal = &caller.principal;
    principal.require(Permission::Administer)?;
    let name = request.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::bad_input(
            "name",
            crate::message!(KEY_NAME_LENGTH),
        ));
    }
    // The audit log names callers by these: a key may not pass for the operator or for nobody.
    if name.starts_with("cli:") || name == "anonymous" {
        return Err(ApiError::bad_input(
            "name",
            crate::message!(KEY_NAME_RESERVED, name = name),
        ));
    }
    let now = Utc::now().trunc_subsecs(6);
    if request.expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::bad_input(
            "expiresAt",
            crate::message!(EXPIRY_IN_PAST),
        ));
    }
    if request.role != Role::Reporter && (request.agency.is_some() || request.platform.is_some()) {
        return Err(ApiError::bad_input(
            "role",
            crate::message!(SCOPE_ONLY_FOR_REPORTERS),
        ));
    }
    let txn = audit::begin_write(db).await?;
    let agency_id = super::look_up_optional(request.agency.as_deref(), "input.agency", |code| {
        catalog::load_agency(&txn, code)
    })
    .await?
    .map(|agency| agency.id);
    let platform_id =
        super::look_up_optional(request.platform.as_deref(), "input.platform", |code| {
            catalog::load_platform(&txn, code)
        })
        .await?
        .map(|platform| platform.id);
    let prefix = hex::encode(random_bytes::<6>()?);
    let secret = URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
    let key = api_key::ActiveModel {
        prefix: Set(prefix.clone()),
        secret_hash: Set(hash_secret(&secret)),
        name: Set(name.to_owned()),
        role: Set(request.role),
        agency_id: Set(agency_id),
        platform_id: Set(platform_id),
        created_at: Set(now),
        created_by: Set(principal.actor.clone()),
        expires_at: Set(request.expires_at.map(|at| at.trunc_subsecs(6))),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::append(
        &txn,
        caller,
        APPLIED,
        Event::new(
            Action::CreateKey,
            Some(format!("key:{}", key.prefix)),
            json!({
                "name": key.name,
                "role": key.role,
                "agency": request.agency,
                "platform": request.platform,
                "expiresAt": key.expires_at,
            }),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(IssuedKey {
        secret: format!("{KEY_MARK}_{prefix}_{secret}"),
        key,
    })
}

pub async fn keys(
    db: &DatabaseConnection,
    principal: &Principal,
) -> Result<Vec<api_key::Model>, ApiError> {
    principal.require(Permission::Administer)?;
    Ok(api_key::Entity::find()
        .order_by_asc(api_key::Column::Id)
        .all(db)
        .await?)
}

pub async fn revoke_key(
    db: &DatabaseConnection,
    caller: &Caller,
    prefix: &str,
) -> Result<api_key::Model, ApiError> {
    let subject = Some(format!("key:{prefix}"));
    let result = withdraw_key(db, caller, prefix).await;
    audit::log_refusal(db, caller, Action::RevokeKey, subject, result).await
}

async fn withdraw_key(
    db: &DatabaseConnection,
    caller: &Caller,
    prefix: &str,
) -> Result<api_key::Model, ApiError> {
    caller.principal.require(Permission::Administer)?;
    let txn = audit::begin_write(db).await?;
    let key = api_key::Entity::find()
        .filter(api_key::Column::Prefix.eq(prefix))
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            entity: "API key",
            key: "prefix",
            value: prefix.to_string(),
            argument: Some("prefix"),
        })?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    let mut active: api_key::ActiveModel = key.into();
    active.revoked_at = Set(Some(Utc::now().trunc_subsecs(6)));
    let key = active.update(&txn).await?;
    audit::append(
        &txn,
        caller,
        APPLIED,
        Event::new(
            Action::RevokeKey,
            Some(format!("key:{prefix}")),
            json!({ "name": key.name }),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(key)
}

/// The caller a presented key stands for; `UNAUTHENTICATED` for a malformed, unknown, revoked or
/// expired key.
pub async fn authenticate(db: &DatabaseConnection, presented: &str) -> Result<Principal, ApiError> {
    let refused = |why: &'static str| {
        ApiError::Unauthenticated(crate::message!(KEY_REFUSED).with_word("why", why))
    };
    let mut parts = presented.trim().splitn(3, '_');
    let (Some(KEY_MARK), Some(prefix), Some(secret)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(refused("malformed"));
    };
    // Asked on every request that carries a key: on a held connection, as the dashboards' reads.
    let by_prefix = api_key::Entity::find().filter(api_key::Column::Prefix.eq(prefix));
    let key = crate::held_connections::find_one(db, by_prefix)
        .await?
        .ok_or_else(|| refused("unknown"))?;
    if !constant_time_eq(hash_secret(secret).as_bytes(), key.secret_hash.as_bytes()) {
        return Err(refused("unknown"));
    }
    match key.state(Utc::now()) {
        KeyState::Active => Ok(Principal::from_key(&key)),
        inactive => Err(refused(inactive.as_str())),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
