//! `POST /api/login`, `POST /api/logout`, and the refresh endpoint `/auth/refresh` (GET for page
//! loads, which redirects back; POST for scripts).

use super::users::Credentials;
use super::{local_path, with_cookies};
use crate::error::{HttpError, HttpResult};
use crate::extract::{ApiJson, Client};
use crate::middleware::urlencode;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use kiln_auth::{RequestAuth, cookies};
use serde::Deserialize;

/// Checks credentials and starts a session → 200 `UserInfo` with the session cookies.
#[tracing::instrument(skip_all)]
pub async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<Credentials>,
) -> HttpResult<Response> {
    let (user, session) = state.accounts.login(&body.email, &body.password, &client).await?;
    Ok(with_cookies(Json(user).into_response(), state.cookies().set_session(&session)))
}

/// Ends the caller's browser session (found by the refresh cookie, or the access token) and
/// clears its cookies: 303 to `/` for a form post, 204 for scripts. Idempotent.
pub async fn logout_browser(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Extension(auth): axum::Extension<RequestAuth>,
) -> HttpResult<Response> {
    let from_refresh = match refresh_cookie(&state, &headers) {
        Some(t) => state.accounts.session_of_refresh(&t).await?,
        None => None,
    };
    if let Some(sid) = from_refresh.or(auth.identity.and_then(|i| i.session_id)) {
        state.accounts.logout(sid).await?;
    }
    let wants_page = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let res = if wants_page {
        Redirect::to("/").into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    };
    Ok(with_cookies(res, state.cookies().clear_session()))
}

/// Ends the caller's session and clears its cookies → 204. Idempotent.
pub async fn logout(
    State(state): State<AppState>,
    axum::Extension(auth): axum::Extension<RequestAuth>,
) -> HttpResult<Response> {
    if let Some(sid) = auth.identity.and_then(|i| i.session_id) {
        state.accounts.logout(sid).await?;
    }
    Ok(with_cookies(StatusCode::NO_CONTENT.into_response(), state.cookies().clear_session()))
}

fn refresh_cookie(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let values = headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok());
    cookies::read(values, state.cookies().refresh_name())
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Page-load refresh: rotates the session and goes back to `next`; a dead session goes to the
/// login form with its cookies cleared (so this never loops).
pub async fn refresh_redirect(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = local_path(q.next.as_deref()).to_owned();
    let refreshed = match refresh_cookie(&state, &headers) {
        Some(t) => state.accounts.refresh(&t).await.ok(),
        None => None,
    };
    match refreshed {
        Some(tokens) => {
            with_cookies(Redirect::to(&next).into_response(), state.cookies().set_session(&tokens))
        }
        None => with_cookies(
            Redirect::to(&format!("/login?next={}", urlencode(&next))).into_response(),
            state.cookies().clear_session(),
        ),
    }
}

/// Script refresh → 204 with new cookies, or 401 with the cookies cleared.
pub async fn refresh(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let result: HttpResult<_> = match refresh_cookie(&state, &headers) {
        Some(t) => state.accounts.refresh(&t).await.map_err(HttpError::from),
        None => Err(kiln_auth::AuthError::Unauthenticated.into()),
    };
    match result {
        Ok(tokens) => with_cookies(
            StatusCode::NO_CONTENT.into_response(),
            state.cookies().set_session(&tokens),
        ),
        Err(e) => with_cookies(e.into_response(), state.cookies().clear_session()),
    }
}
