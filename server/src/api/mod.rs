//! The public JSON API under `/api/` and the plain-HTTP endpoints beside it (emailed links, the
//! refresh endpoint, health and metrics). One resource per module; each is a thin layer over the
//! domain services.

pub mod account;
pub mod apps;
pub mod collab;
pub mod email;
pub mod links;
pub mod ops;
pub mod password;
pub mod plan;
pub mod session;
pub mod sessions;
pub mod tokens;
pub mod users;

use axum::http::{HeaderValue, header};
use axum::response::Response;

/// Adds `Set-Cookie` headers to a response.
pub fn with_cookies(mut res: Response, cookies: Vec<String>) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// A redirect target from a query parameter, kept on this site.
pub fn local_path(next: Option<&str>) -> &str {
    kiln_core::local_redirect(next, "/apps")
}
