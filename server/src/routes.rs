//! The router: the JSON API, emailed links, operations endpoints, the portal's pages and server
//! functions (Leptos), static assets, and the middleware around them.

use crate::api::{
    account, apps, collab, email, links, ops, password, plan, session, sessions, tokens, users,
};
use crate::error::HttpError;
use crate::middleware;
use crate::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::routing::{delete, get, patch, post};
use kiln_core::ErrorCode;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

/// Largest request body accepted anywhere (the API's bodies are small JSON documents).
pub const BODY_LIMIT: usize = 64 * 1024;

fn api() -> Router<AppState> {
    Router::new()
        .route("/signup", post(users::signup))
        .route("/login", post(session::login))
        .route("/logout", post(session::logout))
        .route("/me", get(users::me))
        .route("/verify/resend", post(users::resend_verification))
        .route("/tokens", post(tokens::create).get(tokens::list))
        .route("/tokens/{id}", delete(tokens::revoke))
        .route("/password/forgot", post(password::forgot))
        .route("/password/reset", post(password::reset))
        .route("/password/change", post(password::change))
        .route("/email/change", post(email::change))
        .route("/email/undo", post(email::undo))
        .route("/sessions", get(sessions::list))
        .route("/sessions/revoke-all", post(sessions::revoke_all))
        .route("/sessions/{id}", delete(sessions::revoke))
        .route("/account", delete(account::delete))
        .route("/outbox", get(account::outbox))
        .route("/plan", post(plan::plan))
        .route("/createApp", post(apps::create))
        .route("/status", get(apps::status))
        .route("/apps", get(apps::list).post(apps::create_draft))
        .route("/apps/{id}", get(apps::get).delete(apps::delete))
        .route("/apps/{id}/generate", post(apps::generate))
        .route("/apps/{id}/description", post(apps::describe))
        .route("/apps/{id}/rollback", post(apps::rollback))
        .route("/apps/{id}/download", get(apps::download))
        .route("/apps/{id}/versions/{version}/download", get(apps::download_version))
        .route("/jobs/{id}/events", get(apps::events))
        .route("/jobs/{id}/cancel", post(apps::cancel))
        .route("/apps/{id}/members", get(collab::members))
        .route("/apps/{id}/members/{user}", patch(collab::set_role).delete(collab::remove_member))
        .route("/apps/{id}/invites", post(collab::invite))
        .route("/apps/{id}/invites/{invite}", delete(collab::revoke_invite))
        .route("/invites/accept", post(collab::accept))
        .fallback(|| async { HttpError::new(ErrorCode::NotFound, "No such API endpoint.") })
        .method_not_allowed_fallback(|| async {
            HttpError::new(ErrorCode::MethodNotAllowed, "This endpoint does not take that method.")
        })
}

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(app::App);
    let accounts = state.accounts.clone();
    let pipeline = state.pipeline.clone();
    let shell_options = state.leptos_options.clone();
    let request_id = axum::http::HeaderName::from_static("x-request-id");

    Router::new()
        .nest("/api", api())
        .route("/verify", get(links::verify))
        .route("/collab/{room}", get(collab::connect))
        .route("/invites/{token}", get(collab::accept_link))
        .route("/email/confirm", get(email::confirm))
        .route(
            kiln_auth::cookies::REFRESH_PATH,
            get(session::refresh_redirect).post(session::refresh),
        )
        .route(kiln_auth::cookies::LOGOUT_PATH, post(session::logout_browser))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(accounts.clone());
                provide_context(pipeline.clone());
            },
            move || app::shell(shell_options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(app::shell))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::authenticate))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::refuse_cross_origin_writes,
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::count_requests))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(|req: &Request<_>| {
                            let id = req
                                .headers()
                                .get("x-request-id")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("-");
                            tracing::info_span!("request", request_id = %id,
                                method = %req.method(), path = %req.uri().path())
                        })
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                ),
        )
        .with_state(state)
}
