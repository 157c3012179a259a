//! The public JSON API under `/api/` and the plain-HTTP endpoints beside it (emailed links, the
//! refresh endpoint, health and metrics). One resource per module; each is a thin layer over the
//! domain services.

pub mod account;
pub mod email;
pub mod links;
pub mod ops;
pub mod password;
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

/// A redirect target from a query parameter, kept on this site (no `//host` or absolute URLs).
pub fn local_path(next: Option<&str>) -> &str {
    match next {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.starts_with("/\\") => p,
        _ => "/apps",
    }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn redirects_stay_local() {
        assert_eq!(local_path(Some("/settings")), "/settings");
        assert_eq!(local_path(Some("//evil.example")), "/apps");
        assert_eq!(local_path(Some("/\\evil.example")), "/apps");
        assert_eq!(local_path(Some("https://evil.example")), "/apps");
        assert_eq!(local_path(None), "/apps");
    }
}
