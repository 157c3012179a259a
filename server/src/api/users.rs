//! `POST /api/signup`, `GET /api/me`, `POST /api/verify/resend`.

use super::with_cookies;
use crate::error::HttpResult;
use crate::extract::{ApiJson, Client, CurrentUser};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kiln_core::UserInfo;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

/// Creates an account, queues the verification email and starts a session → 201 `UserInfo`.
#[tracing::instrument(skip_all)]
pub async fn signup(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<Credentials>,
) -> HttpResult<Response> {
    let done = state.accounts.signup(&body.email, &body.password, &client).await?;
    let res = (StatusCode::CREATED, Json(done.user)).into_response();
    Ok(with_cookies(res, state.cookies().set_session(&done.session)))
}

/// The caller → `UserInfo`.
pub async fn me(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
) -> HttpResult<Json<UserInfo>> {
    Ok(Json(state.accounts.user(id.user_id).await?))
}

/// Sends a new verification link → 202.
pub async fn resend_verification(
    State(state): State<AppState>,
    Client(client): Client,
    CurrentUser(id): CurrentUser,
) -> HttpResult<StatusCode> {
    state.accounts.resend_verification(id.user_id, &client).await?;
    Ok(StatusCode::ACCEPTED)
}
