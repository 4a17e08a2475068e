//! Who may do what: the permissions each role grants and the scope a reporter key is held to.
//! Pure rules, no database: keys themselves live in `auth`.

use entity::api_key;
use entity::values::Role;

use crate::error::ApiError;

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
    /// Define indicators, scored indices and DHIS2 identifiers.
    Define,
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

    /// The holder of a key (already checked: see `auth::authenticate`).
    pub fn from_key(key: &api_key::Model) -> Self {
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
            _ if self.is_anonymous() => {
                Err(ApiError::Unauthenticated(crate::message!(KEY_REQUIRED)))
            }
            Some(role) => Err(ApiError::Forbidden(
                crate::message!(ROLE_MAY_NOT, role = role_name(role))
                    .with_word("action", describe(permission)),
            )),
            None => Err(ApiError::Unauthenticated(crate::message!(KEY_REQUIRED))),
        }
    }

    /// Checks that a figure of this agency and platform (none for the programme's own metrics,
    /// which no platform's key may record) is within the key's scope.
    pub fn require_scope(
        &self,
        agency_id: Option<i32>,
        platform_id: Option<i32>,
    ) -> Result<(), ApiError> {
        if self.role != Some(Role::Reporter) {
            return Ok(());
        }
        if let Some(own) = self.agency_id {
            if agency_id != Some(own) {
                return Err(ApiError::Forbidden(crate::message!(
                    OWN_AGENCY_ONLY,
                    key = &self.actor
                )));
            }
        }
        if let Some(own) = self.platform_id {
            if platform_id != Some(own) {
                return Err(ApiError::Forbidden(crate::message!(
                    OWN_PLATFORM_ONLY,
                    key = &self.actor
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
        Permission::Define => "define indicators, indices and DHIS2 identifiers",
    }
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
        assert!(reporter.require_scope(Some(7), Some(1)).is_ok());
        assert_eq!(
            reporter.require_scope(Some(8), Some(1)).unwrap_err().code(),
            "FORBIDDEN"
        );
        assert_eq!(
            reporter.require_scope(None, Some(1)).unwrap_err().code(),
            "FORBIDDEN"
        );
        assert!(with_role(Role::Admin)
            .require_scope(Some(8), Some(1))
            .is_ok());
        // A platform's key records that platform's metrics, not the programme's.
        let portal = Principal {
            platform_id: Some(1),
            ..with_role(Role::Reporter)
        };
        assert!(portal.require_scope(None, Some(1)).is_ok());
        for other in [Some(2), None] {
            assert_eq!(
                portal.require_scope(None, other).unwrap_err().code(),
                "FORBIDDEN"
            );
        }
        assert!(with_role(Role::Reporter).require_scope(None, None).is_ok());
    }
}
