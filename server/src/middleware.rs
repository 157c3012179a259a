//! Request middleware: the cross-origin write check, authentication, the page guard that sends an
//! expired session through the refresh endpoint, and request metrics.

use crate::error::HttpError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use kiln_auth::cookies::{self, REFRESH_PATH};
use kiln_auth::{ClientInfo, RequestAuth};
use kiln_core::ErrorCode;

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Refuses state-changing requests made by another site: an `Origin` that is neither the public
/// origin nor the origin the request was addressed to, or `Sec-Fetch-Site: cross-site/same-site`.
/// Requests without these headers (scripts, curl) and Bearer-authenticated requests pass: they
/// carry no ambient credentials a page could ride on.
pub async fn refuse_cross_origin_writes(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let h = req.headers();
    if is_safe(req.method()) || bearer(h).is_some() {
        return next.run(req).await;
    }
    let scheme = if state.origin.starts_with("https://") { "https" } else { "http" };
    let own =
        h.get(header::HOST).and_then(|v| v.to_str().ok()).map(|host| format!("{scheme}://{host}"));
    let foreign = match h.get(header::ORIGIN).map(|v| v.to_str().unwrap_or("null")) {
        Some(origin) => origin != &*state.origin && Some(origin) != own.as_deref(),
        None => matches!(
            h.get("sec-fetch-site").and_then(|v| v.to_str().ok()),
            Some("cross-site" | "same-site")
        ),
    };
    if foreign {
        tracing::warn!(origin = ?h.get(header::ORIGIN), "cross-origin write refused");
        return HttpError::new(
            ErrorCode::Forbidden,
            "Cross-origin request refused: this endpoint only accepts writes from the Kiln portal itself.",
        )
        .into_response();
    }
    next.run(req).await
}

/// Works out who is calling and stores it as a `RequestAuth` extension. A Bearer token that is
/// not valid is a 401 at once (a script should know its token is wrong, not act anonymously).
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let cookie_cfg = state.cookies();
    let mut auth = RequestAuth { client: client_info(&state, &req), ..Default::default() };
    if let Some(token) = bearer(req.headers()) {
        match state.accounts.authenticate_api_token(token).await {
            Ok(id) => auth.identity = Some(id),
            Err(e) => return HttpError::from(e).into_response(),
        }
    } else {
        let cookie_headers: Vec<&str> =
            req.headers().get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).collect();
        if let Some(t) = cookies::read(cookie_headers.iter().copied(), cookie_cfg.access_name()) {
            auth.identity = state.accounts.authenticate_access(&t).await;
        }
        auth.refreshable = auth.identity.is_none()
            && cookies::read(cookie_headers.iter().copied(), cookie_cfg.marker_name()).is_some();
    }

    // A page load whose access token ran out goes through the refresh endpoint (the only path the
    // refresh cookie is sent to) and comes back, so sessions continue without any script.
    if auth.refreshable && *req.method() == Method::GET && is_page(&req) {
        let next_path = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let to = format!("{REFRESH_PATH}?next={}", urlencode(next_path));
        return Redirect::to(&to).into_response();
    }
    // Pages that need an account send anonymous visitors to the login form.
    if auth.identity.is_none() && *req.method() == Method::GET && needs_login(req.uri().path()) {
        let next_path = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
        return Redirect::to(&format!("/login?next={}", urlencode(next_path))).into_response();
    }
    req.extensions_mut().insert(auth);
    next.run(req).await
}

/// The caller's address (the peer, or the last `X-Forwarded-For` hop when a trusted proxy sets
/// it) and user agent.
fn client_info(state: &AppState, req: &Request) -> ClientInfo {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let forwarded = state
        .settings
        .trust_forwarded_for
        .then(|| req.headers().get("x-forwarded-for"))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|ip| ip.trim().parse().ok());
    ClientInfo { ip: forwarded.or(peer), user_agent: crate::extract::user_agent(req.headers()) }
}

/// Portal pages that only make sense signed in.
fn needs_login(path: &str) -> bool {
    matches!(path, "/apps" | "/settings") || path.starts_with("/apps/")
}

/// Whether this request loads a page (rather than an API call, asset or server function).
fn is_page(req: &Request) -> bool {
    let p = req.uri().path();
    let excluded = [
        "/api/",
        "/sfn/",
        "/pkg/",
        "/auth/",
        "/healthz",
        "/readyz",
        "/metrics",
        "/verify",
        "/email/confirm",
    ];
    let accepts_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    accepts_html && !excluded.iter().any(|e| p.starts_with(e))
}

/// Percent-encodes a path for use as a query value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Counts answered requests by method and status.
pub async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // A fixed set of label values: arbitrary methods must not create unbounded series.
    let method = match *req.method() {
        Method::GET
        | Method::POST
        | Method::PUT
        | Method::PATCH
        | Method::DELETE
        | Method::HEAD
        | Method::OPTIONS => req.method().as_str().to_owned(),
        _ => "other".to_owned(),
    };
    let res = next.run(req).await;
    state
        .metrics
        .http_requests
        .get_or_create(&crate::metrics::HttpLabels { method, status: res.status().as_u16() })
        .inc();
    res
}

#[cfg(test)]
mod tests {
    use super::urlencode;

    #[test]
    fn encodes_query_values() {
        assert_eq!(urlencode("/apps?x=1&y=2"), "/apps%3Fx%3D1%26y%3D2");
    }
}
