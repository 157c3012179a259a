//! `POST /api/plan {description}` → the AppSpec of a description (what the create-app wizard
//! shows for review): the configured model's, else the offline planner's.

use crate::error::{HttpError, HttpResult};
use crate::extract::{ApiJson, Client, CurrentUser};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    pub description: String,
}

/// → 200 AppSpec; the `X-Kiln-Plan` header says where the plan came from.
pub async fn plan(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    Client(client): Client,
    ApiJson(body): ApiJson<PlanRequest>,
) -> HttpResult<Response> {
    if state.pipeline.uses_model() {
        state.accounts.limit_model_plan(id.user_id, &client)?;
    }
    let planned = state.pipeline.plan(&body.description).await.map_err(|e| HttpError(e.into()))?;
    let mut res = Json(planned.spec).into_response();
    let note: String =
        planned.note.chars().filter(|c| c.is_ascii() && !c.is_ascii_control()).collect();
    if let Ok(v) = HeaderValue::from_str(&note) {
        res.headers_mut().insert("x-kiln-plan", v);
    }
    Ok(res)
}
