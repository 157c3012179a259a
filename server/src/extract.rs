//! Request extractors of the JSON API: a JSON body whose every failure is an `HttpError`, and the
//! signed-in user.

use crate::error::HttpError;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use kiln_auth::{Identity, RequestAuth};
use kiln_core::ErrorCode;
use serde::de::DeserializeOwned;

/// `axum::Json`, answering malformed bodies with the API's error shape.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(v) = axum::Json::<T>::from_request(req, state).await?;
        Ok(ApiJson(v))
    }
}

/// The authenticated caller (session cookie or API token); 401 otherwise.
pub struct CurrentUser(pub Identity);

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<RequestAuth>()
            .and_then(|a| a.identity.clone())
            .map(CurrentUser)
            .ok_or_else(|| {
                HttpError::new(ErrorCode::Unauthorized, "Log in, or send an API token as Bearer.")
            })
    }
}

/// `axum::extract::Path`, answering a bad path parameter with the API's error shape.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(e) => Err(HttpError::new(
                ErrorCode::NotFound,
                format!("No such resource: {}", e.body_text()),
            )),
        }
    }
}

/// The caller's address and browser, as the authentication middleware saw them.
pub struct Client(pub kiln_auth::ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Client(
            parts.extensions.get::<RequestAuth>().map(|a| a.client.clone()).unwrap_or_default(),
        ))
    }
}

/// The `User-Agent` of the request (for the session list), empty if absent.
pub fn user_agent(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}
