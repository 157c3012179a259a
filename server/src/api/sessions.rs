//! The caller's sessions: `GET /api/sessions`, `DELETE /api/sessions/{id}`,
//! `POST /api/sessions/revoke-all` (log out everywhere).

use super::with_cookies;
use crate::error::HttpResult;
use crate::extract::{ApiPath, CurrentUser};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kiln_core::SessionInfo;

/// → 200 `[{id, device, created_at, last_seen_at, current}]`.
pub async fn list(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
) -> HttpResult<Json<Vec<SessionInfo>>> {
    Ok(Json(state.accounts.list_sessions(id.user_id, id.session_id).await?))
}

/// → 204; that browser is signed out at its next request.
pub async fn revoke(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiPath(session_id): ApiPath<i64>,
) -> HttpResult<Response> {
    state.accounts.revoke_session(id.user_id, session_id).await?;
    let res = StatusCode::NO_CONTENT.into_response();
    Ok(if id.session_id == Some(session_id) {
        with_cookies(res, state.cookies().clear_session())
    } else {
        res
    })
}

/// → 204; every session ends, this one included.
pub async fn revoke_all(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
) -> HttpResult<Response> {
    state.accounts.revoke_all_sessions(id.user_id).await?;
    Ok(with_cookies(StatusCode::NO_CONTENT.into_response(), state.cookies().clear_session()))
}
