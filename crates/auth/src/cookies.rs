//! The portal's session cookies.
//!
//! - access: the JWT, `Path=/`, lives as long as the token (5 minutes);
//! - refresh: the rotating refresh token, `Path=/auth` so the browser sends it only to the
//!   refresh and logout endpoints (`/auth/refresh`, `/auth/logout`);
//! - session: a marker holding no secret, `Path=/`, telling the server that a refresh token exists
//!   (so an expired access token on a page load leads to `/auth/refresh` instead of the login form).
//!
//! All are `HttpOnly; SameSite=Lax`. Under https they are `Secure` and prefixed: `__Host-` for the
//! two on `/` (the prefix requires `Path=/`), `__Secure-` for the refresh cookie (its narrower
//! path rules out `__Host-`).

use crate::SessionTokens;

/// The path the refresh cookie is scoped to: the refresh and logout endpoints live under it.
pub const AUTH_PATH: &str = "/auth";
/// Where refresh tokens are exchanged.
pub const REFRESH_PATH: &str = "/auth/refresh";
/// Where a browser session ends (the refresh cookie reaches it even after the access token
/// expired, so the whole session family is revoked).
pub const LOGOUT_PATH: &str = "/auth/logout";

/// Cookie settings of this instance.
#[derive(Debug, Clone, Copy)]
pub struct CookieConfig {
    /// True when the portal is served over https.
    pub secure: bool,
    /// How long the refresh and marker cookies live, in seconds.
    pub session_max_age: i64,
}

impl CookieConfig {
    pub fn access_name(&self) -> &'static str {
        if self.secure { "__Host-kiln_access" } else { "kiln_access" }
    }
    pub fn refresh_name(&self) -> &'static str {
        if self.secure { "__Secure-kiln_refresh" } else { "kiln_refresh" }
    }
    pub fn marker_name(&self) -> &'static str {
        if self.secure { "__Host-kiln_session" } else { "kiln_session" }
    }

    fn build(&self, name: &str, value: &str, path: &str, max_age: i64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
    }

    /// The `Set-Cookie` values that start or continue a session.
    pub fn set_session(&self, t: &SessionTokens) -> Vec<String> {
        vec![
            self.build(self.access_name(), &t.access, "/", t.access_max_age),
            self.build(self.refresh_name(), &t.refresh, AUTH_PATH, self.session_max_age),
            self.build(self.marker_name(), "1", "/", self.session_max_age),
        ]
    }

    /// The `Set-Cookie` values that end a session in this browser.
    pub fn clear_session(&self) -> Vec<String> {
        vec![
            self.build(self.access_name(), "", "/", 0),
            self.build(self.refresh_name(), "", AUTH_PATH, 0),
            self.build(self.marker_name(), "", "/", 0),
        ]
    }
}

/// The value of cookie `name` in the `Cookie` header values given.
pub fn read<'a>(headers: impl IntoIterator<Item = &'a str>, name: &str) -> Option<String> {
    headers
        .into_iter()
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> SessionTokens {
        SessionTokens {
            access: "a.b.c".into(),
            access_max_age: 300,
            refresh: "r1.xyz".into(),
            session_id: 1,
            user_id: 2,
        }
    }

    #[test]
    fn plain_http_cookies() {
        let c = CookieConfig { secure: false, session_max_age: 100 };
        let v = c.set_session(&tokens());
        assert_eq!(v[0], "kiln_access=a.b.c; Path=/; Max-Age=300; HttpOnly; SameSite=Lax");
        assert_eq!(v[1], "kiln_refresh=r1.xyz; Path=/auth; Max-Age=100; HttpOnly; SameSite=Lax");
        assert!(v.iter().all(|s| !s.contains("Secure")));
    }

    #[test]
    fn https_cookies_are_secure_and_prefixed() {
        let c = CookieConfig { secure: true, session_max_age: 100 };
        let v = c.set_session(&tokens());
        assert!(v[0].starts_with("__Host-kiln_access=") && v[0].ends_with("; Secure"));
        assert!(v[1].starts_with("__Secure-kiln_refresh=") && v[1].contains("Path=/auth;"));
        assert!(v[2].starts_with("__Host-kiln_session=1; Path=/;"));
        assert!(c.clear_session().iter().all(|s| s.contains("Max-Age=0")));
    }

    #[test]
    fn reads_cookie_headers() {
        let h = ["a=1; kiln_access=tok; b=2", "kiln_refresh=r"];
        assert_eq!(read(h, "kiln_access").as_deref(), Some("tok"));
        assert_eq!(read(h, "kiln_refresh").as_deref(), Some("r"));
        assert_eq!(read(h, "missing"), None);
        assert_eq!(read(["kiln_access="], "kiln_access"), None);
    }
}
