//! The files of the live version. Modules are not fingerprinted, so every file is revalidated
//! (`no-cache` with an ETag naming the version): a redeploy is seen on the next load.

use crate::{Live, empty, page};
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::{Method, StatusCode, header};

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("md" | "txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// A safe relative path: plain names only, none hidden, no `..`.
fn relative(path: &str) -> Option<String> {
    let rel = path.trim_start_matches('/');
    if rel.is_empty() {
        return Some("index.html".into());
    }
    let ok = rel.split('/').all(|seg| {
        !seg.is_empty()
            && !seg.starts_with('.')
            && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
    });
    ok.then(|| rel.to_owned())
}

pub async fn serve(live: &Live, req: Request) -> Response {
    let head = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head {
        let mut r = page(StatusCode::METHOD_NOT_ALLOWED, "Not allowed", "Pages are read with GET.");
        r.headers_mut().insert(header::ALLOW, http::HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let Some(rel) = relative(req.uri().path()) else {
        return page(StatusCode::NOT_FOUND, "Not found", "There is no such page in this app.");
    };
    let etag = format!("\"a{}-v{}\"", live.app_id, live.version);
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let path = live.dir.join(&rel);
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                || e.kind() == std::io::ErrorKind::IsADirectory =>
        {
            if rel == "favicon.ico" {
                // Browsers ask for it whether or not the app has one: not an error.
                let mut r = empty(StatusCode::NO_CONTENT);
                r.headers_mut()
                    .insert(header::CACHE_CONTROL, http::HeaderValue::from_static("max-age=3600"));
                return r;
            }
            if !live.dir.exists() {
                tracing::error!(
                    app_id = live.app_id,
                    version = live.version,
                    "the live version's files are missing"
                );
                return page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Unavailable",
                    "This app's files are missing on the server; its owner has been told.",
                );
            }
            return page(StatusCode::NOT_FOUND, "Not found", "There is no such page in this app.");
        }
        Err(e) => {
            tracing::error!(app_id = live.app_id, path = %path.display(), error = %e, "reading an app file");
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error",
                "This file could not be read.",
            );
        }
    };
    let mut resp = if fresh {
        empty(StatusCode::NOT_MODIFIED)
    } else if head {
        let mut r = empty(StatusCode::OK);
        r.headers_mut().insert(header::CONTENT_LENGTH, bytes.len().into());
        r
    } else {
        Response::new(Body::from(bytes))
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, http::HeaderValue::from_static(content_type(&rel)));
    h.insert(header::CACHE_CONTROL, http::HeaderValue::from_static("no-cache"));
    if let Ok(v) = http::HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_are_served() {
        assert_eq!(relative("/").as_deref(), Some("index.html"));
        assert_eq!(relative("/src/crud/view.js").as_deref(), Some("src/crud/view.js"));
        for bad in ["/../etc/passwd", "/src/../../x", "/.kiln-complete", "/a//b", "/a%2e%2e/b"] {
            assert_eq!(relative(bad), None, "{bad}");
        }
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("src/main.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("app.json"), "application/json");
    }
}
