use super::scalars::Instant;
use async_graphql::{Context, InputObject, Object, Result};
use chrono::Utc;
use entity::api_key::KeyState;
use entity::values::Role;
use entity::{agency, api_key, platform};

use super::agencies::Agency;
use super::loaders::load_optional_row;
use super::platforms::Platform;
use super::{caller, database};
use crate::error::GraphqlError;
use crate::service::auth::{self, NewKey};

/// An API key as administrators see it; its secret is never shown again after creation.
pub struct ApiKey(pub api_key::Model);

#[Object]
impl ApiKey {
    /// The public part of the key (`ekpi_<prefix>_…`), which names it in logs.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn role(&self) -> Role {
        self.0.role
    }

    /// The only agency a reporter key records for, if limited.
    async fn agency(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        Ok(load_optional_row::<agency::Entity>(ctx, self.0.agency_id)
            .await?
            .map(Agency))
    }

    /// The only platform a reporter key records for, if limited.
    async fn platform(&self, ctx: &Context<'_>) -> Result<Option<Platform>> {
        Ok(
            load_optional_row::<platform::Entity>(ctx, self.0.platform_id)
                .await?
                .map(Platform),
        )
    }

    async fn created_at(&self) -> Instant {
        Instant(self.0.created_at)
    }

    async fn created_by(&self) -> &str {
        &self.0.created_by
    }

    async fn expires_at(&self) -> Option<Instant> {
        self.0.expires_at.map(Instant)
    }

    async fn revoked_at(&self) -> Option<Instant> {
        self.0.revoked_at.map(Instant)
    }

    /// Neither revoked nor expired.
    async fn active(&self) -> bool {
        self.0.state(Utc::now()) == KeyState::Active
    }
}

#[derive(Debug, InputObject)]
pub struct ApiKeyInput {
    /// Who or what will use the key; it names the key's writes in the audit log.
    pub name: String,
    pub role: Role,
    /// Limits a reporter key to one agency (by code).
    pub agency: Option<String>,
    /// Limits a reporter key to one platform's metrics (by code).
    pub platform: Option<String>,
    pub expires_at: Option<Instant>,
}

/// A new key: `key` is the secret, shown this once.
pub struct CreatedApiKey(pub auth::IssuedKey);

#[Object]
impl CreatedApiKey {
    /// The whole key, to send as `Authorization: Bearer <key>`. It is not stored and cannot be
    /// shown again.
    async fn key(&self) -> &str {
        &self.0.secret
    }

    async fn api_key(&self) -> ApiKey {
        ApiKey(self.0.key.clone())
    }
}

#[derive(Default)]
pub struct KeyQuery;

#[Object]
impl KeyQuery {
    /// Every API key (admins only).
    async fn api_keys(&self, ctx: &Context<'_>) -> Result<Vec<ApiKey>> {
        let keys = auth::keys(database(ctx)?, &caller(ctx).principal)
            .await
            .map_err(|e| e.extend())?;
        Ok(keys.into_iter().map(ApiKey).collect())
    }
}

#[derive(Default)]
pub struct KeyMutation;

#[Object]
impl KeyMutation {
    /// Creates a key (admins only); the answer carries the secret, once.
    async fn create_api_key(&self, ctx: &Context<'_>, input: ApiKeyInput) -> Result<CreatedApiKey> {
        let request = NewKey {
            name: input.name,
            role: input.role,
            agency: input.agency,
            platform: input.platform,
            expires_at: input.expires_at.map(|at| at.0),
        };
        auth::create_key(database(ctx)?, &caller(ctx), request)
            .await
            .map(CreatedApiKey)
            .map_err(|e| e.extend())
    }

    /// Revokes a key by its prefix (admins only); its requests are refused from then on.
    async fn revoke_api_key(&self, ctx: &Context<'_>, prefix: String) -> Result<ApiKey> {
        auth::revoke_key(database(ctx)?, &caller(ctx), &prefix)
            .await
            .map(ApiKey)
            .map_err(|e| e.extend())
    }
}
