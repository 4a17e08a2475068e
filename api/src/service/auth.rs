//! Who may do what: API keys, roles and the permissions they grant.
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

use super::audit::{self, Action, Caller, Event, APPLIED};
use super::catalog;
use crate::error::ApiError;

const KEY_MARK: &str = "ekpi";

/// What a request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read current figures.
    Read,
    /// Record new figures (within the key's scope).
    Record,
    /// Correct or retract recorded figures (within the key's scope, for reporters).
    Amend,
    /// Read revision history and the audit log, export, verify the chain.
    Audit,
    /// Create and revoke keys.
    Administer,
}

fn grants(role: Role, permission: Permission) -> bool {
    use Permission::*;
    match role {
        Role::Admin => true,
        Role::Auditor => matches!(permission, Read | Amend | Audit),
        Role::Reporter => matches!(permission, Read | Record | Amend),
        Role::Viewer => permission == Read,
    }
}

/// The caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// How the audit log names the caller: the key's name, `anonymous`, or `cli`.
    pub actor: String,
    pub key_id: Option<i32>,
    /// None for an anonymous caller when reads are not public.
    pub role: Option<Role>,
    pub agency_id: Option<i32>,
    pub platform_id: Option<i32>,
}

impl Principal {
    /// A caller without a key: a viewer when reads are public.
    pub fn anonymous(public_read: bool) -> Self {
        Self {
            actor: "anonymous".to_owned(),
            key_id: None,
            role: public_read.then_some(Role::Viewer),
            agency_id: None,
            platform_id: None,
        }
    }

    /// Whose idempotency keys these are: the API key itself (names need not be unique), or the
    /// operator at the command line.
    pub fn idempotency_scope(&self) -> String {
        match self.key_id {
            Some(id) => format!("key:{id}"),
            None => self.actor.clone(),
        }
    }

    /// The operator at the command line, who already holds the database's credentials.
    pub fn command_line(name: &str) -> Self {
        Self {
            actor: format!("cli:{name}"),
            key_id: None,
            role: Some(Role::Admin),
            agency_id: None,
            platform_id: None,
        }
    }

    fn from_key(key: &api_key::Model) -> Self {
        Self {
            actor: key.name.clone(),
            key_id: Some(key.id),
            role: Some(key.role),
            agency_id: key.agency_id,
            platform_id: key.platform_id,
        }
    }

    pub fn is_anonymous(&self) -> bool {
        self.key_id.is_none() && self.actor == "anonymous"
    }

    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        match self.role {
            Some(role) if grants(role, permission) => Ok(()),
            // A caller without a key is told that a key would help, not that it is forbidden.
            _ if self.is_anonymous() => Err(ApiError::Unauthenticated(
                "an API key is required: send `Authorization: Bearer <key>`".to_owned(),
            )),
            Some(role) => Err(ApiError::Forbidden(format!(
                "a {} key may not {}",
                role_name(role),
                describe(permission)
            ))),
            None => Err(ApiError::Unauthenticated(
                "an API key is required".to_owned(),
            )),
        }
    }

    /// Checks that a figure of this agency and platform is within the key's scope.
    pub fn require_scope(&self, agency_id: Option<i32>, platform_id: i32) -> Result<(), ApiError> {
        if self.role != Some(Role::Reporter) {
            return Ok(());
        }
        if let Some(own) = self.agency_id {
            if agency_id != Some(own) {
                return Err(ApiError::Forbidden(format!(
                    "the key `{}` records only for its own agency",
                    self.actor
                )));
            }
        }
        if let Some(own) = self.platform_id {
            if platform_id != own {
                return Err(ApiError::Forbidden(format!(
                    "the key `{}` records only for its own platform",
                    self.actor
                )));
            }
        }
        Ok(())
    }
}

/// The role's name, as keys store it and the command line takes it.
pub fn role_name(role: Role) -> String {
    sea_orm::ActiveEnum::to_value(&role)
}

fn describe(permission: Permission) -> &'static str {
    match permission {
        Permission::Read => "read",
        Permission::Record => "record figures",
        Permission::Amend => "correct or retract figures",
        Permission::Audit => "read history or the audit log",
        Permission::Administer => "manage keys",
    }
}

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
            "give the key a name of 1 to 100 characters",
        ));
    }
    // The audit log names callers by these: a key may not pass for the operator or for nobody.
    if name.starts_with("cli:") || name == "anonymous" {
        return Err(ApiError::bad_input(
            "name",
            format!(
                "`{name}` is how the audit log names callers without a key; choose another name"
            ),
        ));
    }
    let now = Utc::now().trunc_subsecs(6);
    if request.expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::bad_input(
            "expiresAt",
            "the expiry must lie in the future",
        ));
    }
    if request.role != Role::Reporter && (request.agency.is_some() || request.platform.is_some()) {
        return Err(ApiError::bad_input(
            "role",
            "only reporter keys are scoped to an agency or platform",
        ));
    }
    let txn = audit::begin_write(db).await?;
    let agency_id = match &request.agency {
        Some(code) => Some(
            catalog::load_agency(&txn, code)
                .await
                .map_err(|e| e.for_argument("input.agency"))?
                .id,
        ),
        None => None,
    };
    let platform_id = match &request.platform {
        Some(code) => Some(
            catalog::load_platform(&txn, code)
                .await
                .map_err(|e| e.for_argument("input.platform"))?
                .id,
        ),
        None => None,
    };
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
    let refused = |why: &str| ApiError::Unauthenticated(format!("the API key is {why}"));
    let mut parts = presented.trim().splitn(3, '_');
    let (Some(KEY_MARK), Some(prefix), Some(secret)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(refused("malformed"));
    };
    let key = api_key::Entity::find()
        .filter(api_key::Column::Prefix.eq(prefix))
        .one(db)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with_role(role: Role) -> Principal {
        Principal {
            actor: "a key".to_owned(),
            key_id: Some(1),
            role: Some(role),
            agency_id: None,
            platform_id: None,
        }
    }

    #[test]
    fn roles_grant_what_their_names_say() {
        assert!(with_role(Role::Reporter)
            .require(Permission::Record)
            .is_ok());
        assert_eq!(
            with_role(Role::Viewer)
                .require(Permission::Record)
                .unwrap_err()
                .code(),
            "FORBIDDEN"
        );
        assert_eq!(
            with_role(Role::Auditor)
                .require(Permission::Record)
                .unwrap_err()
                .code(),
            "FORBIDDEN"
        );
        assert!(with_role(Role::Auditor).require(Permission::Audit).is_ok());
        assert_eq!(
            with_role(Role::Reporter)
                .require(Permission::Audit)
                .unwrap_err()
                .code(),
            "FORBIDDEN"
        );
        assert!(with_role(Role::Admin)
            .require(Permission::Administer)
            .is_ok());
        assert_eq!(
            Principal::anonymous(false)
                .require(Permission::Read)
                .unwrap_err()
                .code(),
            "UNAUTHENTICATED"
        );
        assert!(Principal::anonymous(true).require(Permission::Read).is_ok());
        assert_eq!(
            Principal::anonymous(true)
                .require(Permission::Record)
                .unwrap_err()
                .code(),
            "UNAUTHENTICATED"
        );
    }

    #[test]
    fn a_scoped_reporter_stays_in_its_scope() {
        let reporter = Principal {
            agency_id: Some(7),
            ..with_role(Role::Reporter)
        };
        assert!(reporter.require_scope(Some(7), 1).is_ok());
        assert_eq!(
            reporter.require_scope(Some(8), 1).unwrap_err().code(),
            "FORBIDDEN"
        );
        assert_eq!(
            reporter.require_scope(None, 1).unwrap_err().code(),
            "FORBIDDEN"
        );
        assert!(with_role(Role::Admin).require_scope(Some(8), 1).is_ok());
    }
}
