//! Who is calling: the `Authorization: Bearer <key>` header, checked once for every route.

use std::net::SocketAddr;

use axum::http::{header, HeaderMap};

use super::refusal::Refusal;
use super::{AppState, REQUEST_ID_HEADER};
use crate::error::ApiError;
use crate::messages::catalogue;
use crate::service::access::Principal;
use crate::service::audit::{self, Caller, RefusalScope};
use crate::service::auth;

/// The caller a request's `Authorization` header names; a key that does not hold is refused
/// with 401, and the refusal is logged.
pub async fn identify(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<Caller, Refusal> {
    let anonymous = Caller {
        principal: Principal::anonymous(state.public_read),
        client_address: Some(peer.ip()),
        request_id: headers
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        refusals: RefusalScope::for_request(state.refusals.clone()),
        committed: Default::default(),
    };
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        if anonymous.principal.role.is_none() {
            return Err(Refusal::from(&ApiError::Unauthenticated(crate::message!(
                KEY_REQUIRED
            ))));
        }
        return Ok(anonymous);
    };
    let address = peer.ip();
    let presented = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::Unauthenticated(crate::message!(KEY_AS_BEARER)));
    // Boxed, as the refusal's record below: keyed requests only, and their reads would make
    // every request's future larger.
    let authenticated = match &presented {
        Ok(key) => Box::pin(auth::authenticate(&state.db, key)).await,
        Err(error) => Err(error.clone()),
    };
    match authenticated {
        Ok(principal) => Ok(Caller {
            principal,
            ..anonymous
        }),
        Err(error) => {
            if error.is_refusal() {
                // Valid keys always pass; past its budget of refusals an address is only told
                // to slow down, and the audit log is not filled with its guesses.
                if let Err(wait) = state.rate_limiter.may_present_key(address) {
                    return Err(Refusal::rate_limited(
                        &catalogue::KEYS_REFUSED_LIMITED,
                        wait,
                    ));
                }
                state.rate_limiter.key_refused(address);
                let key_prefix = presented
                    .ok()
                    .and_then(|key| key.split('_').nth(1))
                    .map(|p| format!("key:{p}"));
                if let Err(log_error) = Box::pin(audit::record_refusal(
                    &state.db,
                    &anonymous,
                    audit::Action::Authenticate,
                    key_prefix,
                    &error,
                ))
                .await
                {
                    tracing::error!(error = %log_error, "could not log a refused key");
                }
            }
            Err(Refusal::from(&error))
        }
    }
}

/// The caller of a request, identified and within its budget: every route asks this.
pub async fn admitted(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<Caller, Refusal> {
    let caller = identify(state, headers, peer).await?;
    admit(state, &caller)?;
    Ok(caller)
}

/// Takes one request from the caller's budget (per key, or per address without one): every
/// route and every operation over a socket passes here.
fn admit(state: &AppState, caller: &Caller) -> Result<(), Refusal> {
    state
        .rate_limiter
        .admit(caller, &state.limits)
        .map_err(|wait| Refusal::rate_limited(&catalogue::RATE_LIMITED, wait))
}
