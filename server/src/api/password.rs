//! Passwords: `POST /api/password/forgot`, `POST /api/password/reset`,
//! `POST /api/password/change`.

use crate::error::HttpResult;
use crate::extract::{ApiJson, Client, CurrentUser};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kiln_core::UserInfo;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forgot {
    pub email: String,
}

#[derive(Serialize)]
pub struct Accepted {
    pub message: &'static str,
}

/// → 202, whether or not the address has an account (the same answer, the same work).
pub async fn forgot(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<Forgot>,
) -> HttpResult<(StatusCode, Json<Accepted>)> {
    state.accounts.forgot_password(&body.email, &client).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            message: "If an account uses this address, a link to reset its password is on its way.",
        }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reset {
    pub token: String,
    pub password: String,
}

/// → 200 `UserInfo`; every session of the account has ended: log in with the new password.
pub async fn reset(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<Reset>,
) -> HttpResult<Json<UserInfo>> {
    Ok(Json(state.accounts.reset_password(&body.token, &body.password, &client).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub current_password: String,
    pub password: String,
}

/// → 204; other sessions end, this one stays.
pub async fn change(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiJson(body): ApiJson<Change>,
) -> HttpResult<StatusCode> {
    state
        .accounts
        .change_password(id.user_id, id.session_id, &body.current_password, &body.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
