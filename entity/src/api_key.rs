use sea_orm::entity::prelude::*;

use crate::values::Role;

/// A credential for the API. Only a hash of its secret is stored; the key is shown once.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_key")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The public part of the key, which names it in logs and lists.
    #[sea_orm(unique)]
    pub prefix: String,
    /// SHA-256 of the secret part, hex.
    pub secret_hash: String,
    pub name: String,
    pub role: Role,
    /// A reporter key records only for this agency, when set.
    pub agency_id: Option<i32>,
    /// A reporter key records only for this platform's metrics, when set.
    pub platform_id: Option<i32>,
    pub created_at: DateTimeUtc,
    pub created_by: String,
    pub expires_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

/// Whether a key may be used now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    Active,
    Revoked,
    Expired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Revoked => "revoked",
            KeyState::Expired => "expired",
        }
    }
}

impl Model {
    /// The key's state at `now`: revocation first, then expiry.
    pub fn state(&self, now: DateTimeUtc) -> KeyState {
        if self.revoked_at.is_some() {
            KeyState::Revoked
        } else if self.expires_at.is_some_and(|at| at <= now) {
            KeyState::Expired
        } else {
            KeyState::Active
        }
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_active_until_it_expires_or_is_revoked_and_revocation_is_said_first() {
        let now: DateTimeUtc = "2026-12-03T00:00:00Z".parse().unwrap();
        let key = Model {
            id: 1,
            prefix: "abc".into(),
            secret_hash: String::new(),
            name: "office".into(),
            role: Role::Reporter,
            agency_id: None,
            platform_id: None,
            created_at: now,
            created_by: "cli:test".into(),
            expires_at: None,
            revoked_at: None,
        };
        assert_eq!(key.state(now), KeyState::Active);
        let expiring = Model {
            expires_at: Some(now),
            ..key.clone()
        };
        assert_eq!(
            expiring.state("2026-12-02T23:59:59Z".parse().unwrap()),
            KeyState::Active
        );
        assert_eq!(expiring.state(now), KeyState::Expired);
        let revoked = Model {
            revoked_at: Some(now),
            ..expiring
        };
        assert_eq!(revoked.state(now), KeyState::Revoked);
    }
}
