//! Links sent by email, opened by a plain GET (no script needed): `GET /verify?token=…`.

use crate::state::AppState;
use axum::extract::{Query, State};
use axum::response::Redirect;
use kiln_auth::{AuthError, LinkProblem};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// Verifies the account and redirects to the portal's result page.
pub async fn verify(State(state): State<AppState>, Query(q): Query<TokenQuery>) -> Redirect {
    let status = match state.accounts.verify_email(q.token.as_deref().unwrap_or_default()).await {
        Ok(_) => "ok",
        Err(AuthError::Link(LinkProblem::Used)) => "used",
        Err(AuthError::Link(LinkProblem::Expired)) => "expired",
        Err(AuthError::Link(LinkProblem::Unknown)) => "invalid",
        Err(e) => {
            tracing::error!(error = %e, "verification failed");
            "error"
        }
    };
    Redirect::to(&format!("/verified?status={status}"))
}
