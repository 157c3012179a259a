//! `POST /api/plan {description}` → the AppSpec the offline planner reads from a description
//! (what the create-app wizard shows for review).

use crate::error::{HttpError, HttpResult};
use crate::extract::{ApiJson, CurrentUser};
use axum::Json;
use kiln_core::AppSpec;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    pub description: String,
}

pub async fn plan(
    CurrentUser(_): CurrentUser,
    ApiJson(body): ApiJson<PlanRequest>,
) -> HttpResult<Json<AppSpec>> {
    // Planning is pure computation (milliseconds); keep it off the request threads anyway.
    let spec =
        tokio::task::spawn_blocking(move || kiln_planner::plan_description(&body.description))
            .await
            .map_err(|e| {
                HttpError::new(kiln_core::ErrorCode::Internal, format!("planner: {e}"))
            })??;
    Ok(Json(spec))
}
