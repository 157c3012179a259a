//! Collaboration on an app's description:
//! - `GET /collab/{app_id}` upgrades to a WebSocket speaking the y-sync protocol (what npm
//!   `y-websocket`'s `WebsocketProvider` connects to with server URL `ws://host/collab` and the
//!   app id as the room name). Authentication: the portal session cookie, only when the
//!   upgrade's `Origin` is the portal's own, or `?token=<personal API token>`. Anyone without a
//!   role on the app is refused before the upgrade, so no document data reach them.
//! - `GET /api/apps/{id}/members`, `POST /api/apps/{id}/invites`, `DELETE
//!   /api/apps/{id}/invites/{invite}`, `PATCH`/`DELETE /api/apps/{id}/members/{user}`,
//!   `POST /api/invites/accept`, and `GET /invites/{token}` (the emailed link).
//!
//! Each is a shim over `kiln_collab::Hub` and `kiln_pipeline::Pipeline`.

use crate::error::{HttpError, HttpResult};
use crate::extract::{ApiJson, ApiPath, CurrentUser};
use crate::middleware::urlencode;
use crate::state::AppState;
use axum::Json;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use futures_util::{SinkExt, StreamExt};
use kiln_auth::RequestAuth;
use kiln_collab::{Outgoing, Peer, close};
use kiln_core::ErrorCode;
use kiln_pipeline::PipelineError;
use serde::Deserialize;
use std::collections::HashMap;
use std::time::Duration;

fn refused(e: PipelineError) -> HttpError {
    HttpError(e.into())
}

/// How long a send to a client may take before it counts as gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages already queued for a client written before one flush (one system call).
const WRITE_BATCH: usize = 256;

/// `GET /collab/{app_id}` (WebSocket).
pub async fn connect(
    State(state): State<AppState>,
    Path(room): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    auth: Option<axum::Extension<RequestAuth>>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let refuse = |code: ErrorCode, m: &str| HttpError::new(code, m.to_owned()).into_response();
    let Ok(app_id) = room.parse::<i64>() else {
        return refuse(ErrorCode::NotFound, "No such document: the room name is the app's id.");
    };
    // Who: a personal API token in the query, else the portal's session cookie, which counts
    // only when the page asking is the portal's own (no other site, a generated app included,
    // may ride it).
    let user_id = match query.get("token") {
        Some(token) => match state.accounts.authenticate_api_token(token).await {
            Ok(id) => id.user_id,
            Err(_) => return refuse(ErrorCode::Unauthorized, "The token is not valid."),
        },
        None => {
            let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
            let scheme = if state.origin.starts_with("https://") { "https" } else { "http" };
            let own = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .map(|h| format!("{scheme}://{h}"));
            let portal = origin.is_some_and(|o| o == &*state.origin || Some(o) == own.as_deref());
            match auth.as_ref().and_then(|a| a.identity.as_ref()) {
                Some(id) if portal => id.user_id,
                Some(_) => {
                    return refuse(
                        ErrorCode::Forbidden,
                        "The session cookie is accepted only from the Kiln portal's own pages; \
                         scripts use ?token=.",
                    );
                }
                None => {
                    return refuse(
                        ErrorCode::Unauthorized,
                        "Log in, or pass a personal API token as ?token=.",
                    );
                }
            }
        }
    };
    let role = match state.pipeline.role_of(user_id, app_id).await {
        Ok(Some(r)) => r,
        Ok(None) => return refuse(ErrorCode::NotFound, "No such app."),
        Err(e) => return refused(e).into_response(),
    };
    let Ok(upgrade) = upgrade else {
        return refuse(ErrorCode::BadRequest, "This endpoint speaks WebSocket (y-sync) only.");
    };
    let name = match kiln_store::users::by_id(&state.db, user_id).await {
        Ok(Some(u)) => u.email,
        _ => format!("user {user_id}"),
    };
    let hub = state.collab.clone();
    // Frames a little over the limit still arrive, to be refused with a clear reason.
    let max = hub.limits().max_frame * 2;
    upgrade.max_message_size(max).max_frame_size(max).on_upgrade(move |socket| async move {
        tracing::info!(app_id, user_id, role = role.as_str(), "collaborator connected");
        serve_socket(hub, app_id, Peer { user_id, name, role }, socket).await;
        tracing::info!(app_id, user_id, "collaborator left");
    })
}

async fn close_with(
    ws: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    code: u16,
    why: &str,
) {
    let frame = CloseFrame { code, reason: why.chars().take(120).collect::<String>().into() };
    let _ = tokio::time::timeout(SEND_TIMEOUT, ws.send(Message::Close(Some(frame)))).await;
}

async fn serve_socket(hub: kiln_collab::Hub, app_id: i64, peer: Peer, socket: WebSocket) {
    let (mut tx, mut rx) = socket.split();
    let mut conn = match hub.connect(app_id, peer).await {
        Ok(c) => c,
        Err(e @ kiln_collab::CollabError::TooManyConnections(_)) => {
            return close_with(&mut tx, close::POLICY, &e.to_string()).await;
        }
        Err(e) => {
            tracing::error!(app_id, error = %e, "opening a description document");
            return close_with(&mut tx, close::SERVER_ERROR, "the document could not be opened")
                .await;
        }
    };
    loop {
        tokio::select! {
            out = conn.next() => match out {
                Some(Outgoing::Binary(b)) => {
                    // With what else is queued already: written together, flushed once.
                    let mut closing = None;
                    let write = async {
                        tx.feed(Message::Binary(b)).await?;
                        for _ in 0..WRITE_BATCH {
                            match conn.try_next() {
                                Some(Outgoing::Binary(b)) => tx.feed(Message::Binary(b)).await?,
                                Some(Outgoing::Close(code, why)) => {
                                    closing = Some((code, why));
                                    break;
                                }
                                None => break,
                            }
                        }
                        tx.flush().await
                    };
                    match tokio::time::timeout(SEND_TIMEOUT, write).await {
                        Ok(Ok(())) => {}
                        _ => break,
                    }
                    if let Some((code, why)) = closing {
                        return close_with(&mut tx, code, &why).await;
                    }
                }
                Some(Outgoing::Close(code, why)) => return close_with(&mut tx, code, &why).await,
                None => {
                    return close_with(&mut tx, close::TOO_SLOW, "not reading fast enough").await;
                }
            },
            inc = rx.next() => match inc {
                Some(Ok(Message::Binary(b))) => {
                    if let Err(Outgoing::Close(code, why)) = conn.receive(b.to_vec()).await {
                        tracing::info!(app_id, code, reason = %why, "closing a collaborator");
                        return close_with(&mut tx, code, &why).await;
                    }
                }
                Some(Ok(Message::Text(_))) => {
                    return close_with(&mut tx, close::UNSUPPORTED, "binary y-sync messages only").await;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | None => break,
                Some(Err(e)) => {
                    tracing::info!(app_id, error = %e, "a collaborator's connection failed");
                    let why = e.to_string();
                    if why.contains("too long") || why.contains("Space limit") {
                        return close_with(&mut tx, close::TOO_BIG, "message too large").await;
                    }
                    break;
                }
            },
        }
    }
}

/// `GET /api/apps/{id}/members` → `{members: [{user_id, email, role}], invites: [...]}`.
pub async fn members(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiPath(app_id): ApiPath<i64>,
) -> HttpResult<Json<kiln_pipeline::Members>> {
    Ok(Json(state.pipeline.members(id.user_id, app_id).await.map_err(refused)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    pub email: String,
    pub role: String,
}

/// `POST /api/apps/{id}/invites {email, role}` → 201 `{id, email, role, expires_at}`.
pub async fn invite(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiPath(app_id): ApiPath<i64>,
    ApiJson(body): ApiJson<InviteBody>,
) -> HttpResult<(StatusCode, Json<kiln_pipeline::Invite>)> {
    let invite = state
        .pipeline
        .invite(id.user_id, app_id, &body.email, &body.role)
        .await
        .map_err(refused)?;
    Ok((StatusCode::CREATED, Json(invite)))
}

/// `DELETE /api/apps/{id}/invites/{invite}` → 204.
pub async fn revoke_invite(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiPath((app_id, invite_id)): ApiPath<(i64, i64)>,
) -> HttpResult<StatusCode> {
    state.pipeline.revoke_invite(id.user_id, app_id, invite_id).await.map_err(refused)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    pub role: String,
}

/// `PATCH /api/apps/{id}/members/{user} {role}` → 204; their live connections close.
pub async fn set_role(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiPath((app_id, user_id)): ApiPath<(i64, i64)>,
    ApiJson(body): ApiJson<RoleBody>,
) -> HttpResult<StatusCode> {
    state
        .pipeline
        .set_member_role(id.user_id, app_id, user_id, &body.role)
        .await
        .map_err(refused)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/apps/{id}/members/{user}` → 204; their live connections close.
pub async fn remove_member(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiPath((app_id, user_id)): ApiPath<(i64, i64)>,
) -> HttpResult<StatusCode> {
    state.pipeline.remove_member(id.user_id, app_id, user_id).await.map_err(refused)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptBody {
    pub token: String,
}

/// `POST /api/invites/accept {token}` → 200 `{app_id, role}`.
pub async fn accept(
    State(state): State<AppState>,
    CurrentUser(id): CurrentUser,
    ApiJson(body): ApiJson<AcceptBody>,
) -> HttpResult<Json<serde_json::Value>> {
    let (app_id, role) =
        state.pipeline.accept_invite(id.user_id, &body.token).await.map_err(refused)?;
    Ok(Json(serde_json::json!({ "app_id": app_id, "role": role.as_str() })))
}

/// `GET /invites/{token}`, the emailed link: signed in, it accepts and opens the app page;
/// otherwise the log-in form comes first (and brings the person back here).
pub async fn accept_link(
    State(state): State<AppState>,
    Path(token): Path<String>,
    auth: Option<axum::Extension<RequestAuth>>,
) -> Response {
    let Some(user_id) = auth.as_ref().and_then(|a| a.identity.as_ref()).map(|i| i.user_id) else {
        return Redirect::to(&format!("/login?next={}", urlencode(&format!("/invites/{token}"))))
            .into_response();
    };
    match state.pipeline.accept_invite(user_id, &token).await {
        Ok((app_id, _)) => Redirect::to(&format!("/apps/{app_id}")).into_response(),
        Err(e) => {
            let e: kiln_core::ApiError = e.into();
            let esc = e.message.replace('&', "&amp;").replace('<', "&lt;");
            let html = format!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
                 <title>Invitation</title></head><body><h1>This invitation cannot be used</h1>\
                 <p>{esc}</p><p><a href=\"/apps\">Go to my apps</a></p></body></html>"
            );
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
        }
    }
}
