//! Apps and their generation jobs: `POST /api/createApp`, `GET /api/status?job_id=`,
//! `GET /api/apps`, `GET /api/apps/{id}`, `GET /api/apps/{id}/download`,
//! `POST /api/jobs/{id}/cancel`.

use crate::error::{HttpError, HttpResult};
use crate::extract::{ApiJson, ApiPath, CurrentUser};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use kiln_core::{AppSpec, ErrorCode};
use kiln_store::{apps, jobs};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApp {
    pub description: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub spec: Option<AppSpec>,
}

/// → 201 `{app_id, job_id, slug}`; verified accounts only.
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiJson(body): ApiJson<CreateApp>,
) -> HttpResult<(StatusCode, Json<kiln_pipeline::Created>)> {
    state.accounts.require_verified(id.user_id).await?;
    let created = state
        .pipeline
        .create_app(id.user_id, &body.description, body.name.as_deref(), body.spec)
        .await
        .map_err(|e| HttpError(e.into()))?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn owned_app(state: &AppState, user_id: i64, app_id: i64) -> HttpResult<apps::AppRow> {
    match apps::get(&state.db, app_id).await? {
        Some(a) if a.owner_id == user_id => Ok(a),
        _ => Err(HttpError::new(ErrorCode::NotFound, "No such app.")),
    }
}

#[derive(Deserialize)]
pub struct StatusQuery {
    job_id: Option<i64>,
}

#[derive(Serialize)]
pub struct Status {
    pub job_id: i64,
    pub app_id: i64,
    pub state: String,
    pub progress: i64,
    pub events: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// → `{job_id, app_id, state, progress, events, url?, error?}`.
pub async fn status(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    Query(q): Query<StatusQuery>,
) -> HttpResult<Json<Status>> {
    let job_id = q
        .job_id
        .ok_or_else(|| HttpError(kiln_core::ApiError::invalid("job_id", "Give the job_id.")))?;
    let job = jobs::get(&state.db, job_id)
        .await?
        .ok_or_else(|| HttpError::new(ErrorCode::NotFound, "No such job."))?;
    owned_app(&state, id.user_id, job.app_id).await?;
    let events = jobs::events(&state.db, job_id, 0)
        .await?
        .into_iter()
        .map(|e| json!({"at": e.at, "kind": e.kind, "state": e.state, "progress": e.progress, "message": e.message}))
        .collect();
    Ok(Json(Status {
        job_id,
        app_id: job.app_id,
        state: job.state,
        progress: job.progress,
        events,
        url: None,
        error: job.error,
    }))
}

/// → 200 `[{id, name, slug, created_at, state, job_id, versions}]`, newest first.
pub async fn list(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
) -> HttpResult<Json<Vec<kiln_core::AppSummary>>> {
    Ok(Json(state.pipeline.list_apps(id.user_id).await?))
}

/// → 200 `{id, name, slug, description, created_at, versions: [{version, job_id, git_commit, files, created_at}]}`.
pub async fn get(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiPath(app_id): ApiPath<i64>,
) -> HttpResult<Json<Value>> {
    let a = owned_app(&state, id.user_id, app_id).await?;
    let versions: Vec<Value> = apps::versions(&state.db, app_id)
        .await?
        .into_iter()
        .map(|v| json!({"version": v.version, "job_id": v.job_id, "git_commit": v.git_commit, "files": v.files, "created_at": v.created_at}))
        .collect();
    Ok(Json(json!({
        "id": a.id, "name": a.name, "slug": a.slug, "description": a.description,
        "created_at": a.created_at, "versions": versions,
    })))
}

/// → the zip of the newest version.
pub async fn download(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiPath(app_id): ApiPath<i64>,
) -> HttpResult<Response> {
    let a = owned_app(&state, id.user_id, app_id).await?;
    let path = state.pipeline.latest_archive(app_id).await?.ok_or_else(|| {
        HttpError::new(ErrorCode::NotFound, "This app has no generated version yet.")
    })?;
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| HttpError::new(ErrorCode::Internal, format!("reading the archive: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}.zip\"", a.slug)),
        ],
        bytes,
    )
        .into_response())
}

/// → 202: the job stops at its next stage boundary.
pub async fn cancel(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiPath(job_id): ApiPath<i64>,
) -> HttpResult<StatusCode> {
    let job = jobs::get(&state.db, job_id)
        .await?
        .ok_or_else(|| HttpError::new(ErrorCode::NotFound, "No such job."))?;
    owned_app(&state, id.user_id, job.app_id).await?;
    if !jobs::request_cancel(&state.db, job_id, state.accounts.clock().now()).await? {
        return Err(HttpError::new(ErrorCode::Conflict, "The job has already finished."));
    }
    Ok(StatusCode::ACCEPTED)
}
