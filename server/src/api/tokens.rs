//! Personal API tokens: `POST /api/tokens`, `GET /api/tokens`, `DELETE /api/tokens/{id}`.

use crate::error::HttpResult;
use crate::extract::{ApiJson, ApiPath, CurrentUser};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kiln_core::{ApiTokenInfo, CreatedToken};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub name: String,
}

/// → 201 `{id, name, token}`; the token is shown this once.
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiJson(body): ApiJson<NewToken>,
) -> HttpResult<(StatusCode, Json<CreatedToken>)> {
    let created = state.accounts.create_api_token(id.user_id, &body.name).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// → 200 `[{id, name, prefix, created_at, last_used_at}]`.
pub async fn list(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
) -> HttpResult<Json<Vec<ApiTokenInfo>>> {
    Ok(Json(state.accounts.list_api_tokens(id.user_id).await?))
}

/// → 204; 404 if the caller has no such live token.
pub async fn revoke(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiPath(token_id): ApiPath<i64>,
) -> HttpResult<StatusCode> {
    state.accounts.revoke_api_token(id.user_id, token_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
