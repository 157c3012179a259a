//! The account itself: `DELETE /api/account` (with the password), and the operator's
//! `GET /api/outbox`.

use super::with_cookies;
use crate::error::HttpResult;
use crate::extract::{ApiJson, CurrentUser};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kiln_core::OutboxEntry;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delete {
    pub password: String,
}

/// → 204; the account, its sessions and tokens are gone and the cookies cleared.
pub async fn delete(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiJson(body): ApiJson<Delete>,
) -> HttpResult<Response> {
    state.accounts.delete_account(id.user_id, &body.password).await?;
    Ok(with_cookies(StatusCode::NO_CONTENT.into_response(), state.cookies().clear_session()))
}

#[derive(Deserialize)]
pub struct Limit {
    limit: Option<i64>,
}

/// → 200 the newest outbox entries (operators only; 403 otherwise).
pub async fn outbox(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    Query(q): Query<Limit>,
) -> HttpResult<Json<Vec<OutboxEntry>>> {
    Ok(Json(state.accounts.outbox(id.user_id, q.limit.unwrap_or(100)).await?))
}
