//! Email address changes: `POST /api/email/change`, `POST /api/email/undo`, and the emailed
//! confirmation link `GET /email/confirm?token=…`.

use crate::error::HttpResult;
use crate::extract::{ApiJson, Client, CurrentUser};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Redirect;
use kiln_auth::{AuthError, LinkProblem};
use kiln_core::UserInfo;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub email: String,
}

/// → 202: a link goes to the new address (the change happens when it is opened) and a notice
/// with an undo link to the current one.
pub async fn change(
    State(state): State<AppState>,
    Client(client): Client,
    CurrentUser(id): CurrentUser,
    ApiJson(body): ApiJson<Change>,
) -> HttpResult<StatusCode> {
    state.accounts.request_email_change(&id, &body.email, &client).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Undo {
    pub token: String,
}

/// → 200 `UserInfo` with the old address back; every session of the account has ended.
pub async fn undo(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Undo>,
) -> HttpResult<Json<UserInfo>> {
    Ok(Json(state.accounts.undo_email_change(&body.token).await?))
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// The link mailed to the new address: a plain GET changes the address and redirects to the
/// portal's result page.
pub async fn confirm(State(state): State<AppState>, Query(q): Query<TokenQuery>) -> Redirect {
    let status =
        match state.accounts.confirm_email_change(q.token.as_deref().unwrap_or_default()).await {
            Ok(_) => "ok",
            Err(AuthError::Link(LinkProblem::Used)) => "used",
            Err(AuthError::Link(LinkProblem::Expired)) => "expired",
            Err(AuthError::Link(LinkProblem::Taken)) => "taken",
            Err(AuthError::Link(LinkProblem::Unknown)) => "invalid",
            Err(e) => {
                tracing::error!(error = %e, "email change confirmation failed");
                "error"
            }
        };
    Redirect::to(&format!("/email-changed?status={status}"))
}
