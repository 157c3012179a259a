//! Server-side helpers for the server functions: the services from context, the caller, cookies.

use crate::error::PortalError;
use http::HeaderValue;
use http::header::{ACCEPT, SET_COOKIE};
use http::request::Parts;
use kiln_auth::{Accounts, ClientInfo, Identity, RequestAuth};
use kiln_core::{ApiError, ErrorCode};
use leptos::prelude::*;

pub fn accounts() -> Result<Accounts, PortalError> {
    use_context::<Accounts>().ok_or_else(|| {
        PortalError(ApiError::new(ErrorCode::Internal, "The account service is not available."))
    })
}

fn parts() -> Option<Parts> {
    use_context::<Parts>()
}

/// The signed-in caller, if any.
pub fn identity() -> Option<Identity> {
    parts()?.extensions.get::<RequestAuth>()?.identity.clone()
}

/// The signed-in caller, or a 401 error.
pub fn require_user() -> Result<Identity, PortalError> {
    identity().ok_or_else(|| PortalError(kiln_auth::AuthError::Unauthenticated.into()))
}

/// The caller's address and browser, as the authentication middleware saw them.
pub fn client() -> ClientInfo {
    parts()
        .and_then(|p| p.extensions.get::<RequestAuth>().map(|a| a.client.clone()))
        .unwrap_or_default()
}

/// A cookie sent with the request.
pub fn cookie(name: &str) -> Option<String> {
    let p = parts()?;
    let values = p.headers.get_all(http::header::COOKIE).iter().filter_map(|v| v.to_str().ok());
    kiln_auth::cookies::read(values, name)
}

/// True when a form was posted by the browser itself (no script): the answer is a redirect.
pub fn is_plain_form_post() -> bool {
    parts()
        .and_then(|p| p.headers.get(ACCEPT).and_then(|v| v.to_str().ok()).map(str::to_owned))
        .is_some_and(|a| a.contains("text/html"))
}

pub fn set_cookies(values: Vec<String>) {
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        for v in values {
            if let Ok(v) = HeaderValue::from_str(&v) {
                res.append_header(SET_COOKIE, v);
            }
        }
    }
}
