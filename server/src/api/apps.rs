//! Apps and their generation jobs: `POST /api/apps` (a draft), `POST /api/createApp`,
//! `POST /api/apps/{id}/generate`, `GET /api/status?job_id=`, `GET /api/jobs/{id}/events`
//! (server-sent events), `GET /api/apps`, `GET /api/apps/{id}`, `GET /api/apps/{id}/download`,
//! `GET /api/apps/{id}/versions/{version}/download`, `POST /api/jobs/{id}/cancel`.
//! Each is a shim over `kiln_pipeline::Pipeline`.

use crate::error::{HttpError, HttpResult};
use crate::extract::{ApiJson, ApiPath, CurrentUser};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use kiln_core::{AppDetail, AppSpec, ErrorCode, JobStatus};
use kiln_pipeline::PipelineError;
use kiln_store::jobs;
use serde::Deserialize;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

fn refused(e: PipelineError) -> HttpError {
    HttpError(e.into())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApp {
    pub description: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub spec: Option<AppSpec>,
}

/// `DELETE /api/apps/{id}` → 204: undeploys the app and removes its end-user data, files,
/// history, archives and rows; 409 while a job runs.
pub async fn delete(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiPath(app_id): ApiPath<i64>,
) -> HttpResult<StatusCode> {
    state.pipeline.delete_app(id.user_id, app_id).await.map_err(refused)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    pub version: i64,
}

/// `POST /api/apps/{id}/rollback {version}` → 202 `{app_id, job_id, slug}`: deploys an earlier
/// (or later) version that has been live before; 409 when it never was, is live already, or a
/// job runs.
pub async fn rollback(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiPath(app_id): ApiPath<i64>,
    ApiJson(body): ApiJson<Rollback>,
) -> HttpResult<(StatusCode, Json<kiln_pipeline::Created>)> {
    state.accounts.require_verified(id.user_id).await?;
    let created =
        state.pipeline.rollback(id.user_id, app_id, body.version).await.map_err(refused)?;
    Ok((StatusCode::ACCEPTED, Json(created)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Describe {
    pub description: String,
}

/// `POST /api/apps/{id}/description {description}` → 201 `{app_id, description_version}`.
pub async fn describe(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiPath(app_id): ApiPath<i64>,
    ApiJson(body): ApiJson<Describe>,
) -> HttpResult<(StatusCode, Json<serde_json::Value>)> {
    let n = state
        .pipeline
        .set_description(id.user_id, app_id, &body.description)
        .await
        .map_err(refused)?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "app_id": app_id, "description_version": n })),
    ))
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
        .map_err(refused)?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDraft {
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// → 201 `{app_id, slug}`: a draft app, no job.
pub async fn create_draft(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiJson(body): ApiJson<CreateDraft>,
) -> HttpResult<(StatusCode, Json<kiln_pipeline::Draft>)> {
    state.accounts.require_verified(id.user_id).await?;
    let draft = state
        .pipeline
        .create_draft(id.user_id, &body.description, body.name.as_deref())
        .await
        .map_err(refused)?;
    Ok((StatusCode::CREATED, Json(draft)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Generate {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub spec: Option<AppSpec>,
    /// Deploy the version that stopped in `awaiting_confirmation`, losing what it listed.
    #[serde(default)]
    pub confirm_data_loss: bool,
}

/// → 202 `{job_id, app_id, slug}`; 409 naming the running job.
pub async fn generate(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiPath(app_id): ApiPath<i64>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> HttpResult<(StatusCode, Json<kiln_pipeline::Created>)> {
    state.accounts.require_verified(id.user_id).await?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            HttpError::new(ErrorCode::PayloadTooLarge, "The body is larger than the limit.")
        } else {
            HttpError::new(ErrorCode::BadRequest, format!("The body could not be read: {e}"))
        }
    })?;
    // The body is optional: without one, the app's current description is generated.
    let body: Generate = if body.iter().all(u8::is_ascii_whitespace) {
        Generate::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            // As the other endpoints: malformed JSON is 400, a wrong field 422.
            let code = if e.is_data() { ErrorCode::Invalid } else { ErrorCode::BadRequest };
            HttpError::new(code, format!("The body is not valid for this endpoint: {e}"))
        })?
    };
    let created = state
        .pipeline
        .generate(
            id.user_id,
            app_id,
            body.description.as_deref(),
            body.spec,
            body.confirm_data_loss,
        )
        .await
        .map_err(refused)?;
    Ok((StatusCode::ACCEPTED, Json(created)))
}

#[derive(Deserialize)]
pub struct StatusQuery {
    job_id: Option<i64>,
}

/// → `{job_id, app_id, state, progress, events, url?, error?, created_at, finished_at?}`.
pub async fn status(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    Query(q): Query<StatusQuery>,
) -> HttpResult<Json<JobStatus>> {
    let job_id = q
        .job_id
        .ok_or_else(|| HttpError(kiln_core::ApiError::invalid("job_id", "Give the job_id.")))?;
    Ok(Json(state.pipeline.job_status(id.user_id, job_id, 0).await.map_err(refused)?))
}

/// `text/event-stream` of a job: an `event` per job event (JSON of `JobEvent`, with its id, so
/// a reconnecting client resumes after `Last-Event-ID`), then one `end` with the final status.
pub async fn events(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiPath(job_id): ApiPath<i64>,
    headers: HeaderMap,
) -> HttpResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    // Ownership is checked once, before anything is streamed.
    state.pipeline.job_status(id.user_id, job_id, i64::MAX).await.map_err(refused)?;
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    struct Follow {
        db: kiln_store::Db,
        pipeline: kiln_pipeline::Pipeline,
        owner: i64,
        job_id: i64,
        after: i64,
        queue: VecDeque<Event>,
        done: bool,
        /// A stream ends after a while; the browser's EventSource reconnects with
        /// `Last-Event-ID` (and its access cookie is checked again).
        until: tokio::time::Instant,
    }
    let start = Follow {
        db: state.db.clone(),
        pipeline: state.pipeline.clone(),
        owner: id.user_id,
        job_id,
        after,
        queue: VecDeque::new(),
        done: false,
        until: tokio::time::Instant::now() + Duration::from_secs(300),
    };
    let stream = futures_util::stream::unfold(start, |mut f| async move {
        loop {
            if let Some(e) = f.queue.pop_front() {
                return Some((Ok(e), f));
            }
            if f.done || tokio::time::Instant::now() > f.until {
                return None;
            }
            // Events are rows: polling the database follows workers in other processes too.
            match jobs::events(&f.db, f.job_id, f.after).await {
                Ok(rows) => {
                    for r in rows {
                        f.after = r.id;
                        let ev = kiln_core::JobEvent {
                            id: r.id,
                            at: r.at,
                            kind: r.kind,
                            state: r.state,
                            progress: r.progress,
                            message: r.message,
                        };
                        let data = serde_json::to_string(&ev).unwrap_or_default();
                        f.queue.push_back(Event::default().id(r.id.to_string()).data(data));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "following a job's events"),
            }
            if f.queue.is_empty() {
                match f.pipeline.job_status(f.owner, f.job_id, i64::MAX).await {
                    Ok(s) if s.finished() => {
                        // Anything written between the two reads comes first.
                        if let Ok(rows) = jobs::events(&f.db, f.job_id, f.after).await
                            && !rows.is_empty()
                        {
                            continue;
                        }
                        let data = serde_json::to_string(&s).unwrap_or_default();
                        f.queue.push_back(Event::default().event("end").data(data));
                        f.done = true;
                        continue;
                    }
                    Ok(_) => {}
                    // The app was deleted meanwhile: end the stream.
                    Err(_) => return None,
                }
                tokio::time::sleep(Duration::from_millis(400)).await;
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// → 200 `[{id, name, slug, created_at, state, job_id, versions}]`, newest first.
pub async fn list(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
) -> HttpResult<Json<Vec<kiln_core::AppSummary>>> {
    Ok(Json(state.pipeline.list_apps(id.user_id).await?))
}

/// → 200 `{id, name, slug, description, created_at, versions: [...], job?, spec?}`.
pub async fn get(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiPath(app_id): ApiPath<i64>,
) -> HttpResult<Json<AppDetail>> {
    Ok(Json(state.pipeline.app_detail(id.user_id, app_id).await.map_err(refused)?))
}

async fn zip(
    state: &AppState,
    user: i64,
    app_id: i64,
    version: Option<i64>,
) -> HttpResult<Response> {
    let (slug, v, bytes) = state.pipeline.archive(user, app_id, version).await.map_err(refused)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{slug}-v{v}.zip\"")),
        ],
        bytes,
    )
        .into_response())
}

/// → the zip of the newest version.
pub async fn download(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiPath(app_id): ApiPath<i64>,
) -> HttpResult<Response> {
    zip(&state, id.user_id, app_id, None).await
}

/// → the zip of one version.
pub async fn download_version(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiPath((app_id, version)): ApiPath<(i64, i64)>,
) -> HttpResult<Response> {
    zip(&state, id.user_id, app_id, Some(version)).await
}

/// → 202: the job stops at its next stage boundary.
pub async fn cancel(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiPath(job_id): ApiPath<i64>,
) -> HttpResult<StatusCode> {
    state.pipeline.cancel(id.user_id, job_id).await.map_err(refused)?;
    Ok(StatusCode::ACCEPTED)
}
