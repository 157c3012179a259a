//! `/api/` of a generated app: health, end-user accounts and REST for every entity, with the
//! spec's access rules enforced on every route.

use crate::accounts::{self, User};
use crate::records::{self, ListQuery, Scope};
use crate::storage::Val;
use crate::{Live, Runtime, empty};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use kiln_core::{Access, ApiError, Entity, ErrorCode, Feature, FieldType};
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Largest request body.
pub const MAX_BODY: usize = 64 * 1024;

/// A JSON answer already serialized (a kept list).
fn json_bytes(status: StatusCode, body: axum::body::Bytes) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    let mut r = (status, axum::Json(v)).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn error(e: ApiError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = json_response(status, &serde_json::to_value(&e).unwrap_or(Value::Null));
    if let Some(s) = e.retry_after {
        r.headers_mut().insert(header::RETRY_AFTER, s.into());
    }
    r
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "generated app's request failed");
    ApiError::new(ErrorCode::Internal, "Something went wrong on the server.")
}

fn not_found(what: &str) -> ApiError {
    ApiError::new(ErrorCode::NotFound, format!("No {what} here."))
}

fn sign_in_needed() -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, "Log in to see and change these records.")
}

struct Ctx<'a> {
    rt: &'a Runtime,
    live: &'a Live,
    user: Option<User>,
    ip: IpAddr,
}

impl Ctx<'_> {
    fn auth(&self) -> bool {
        self.live.spec.features.contains(&Feature::Auth)
    }

    fn access(&self, e: &Entity) -> Option<Access> {
        if self.auth() { Some(e.access.unwrap_or(Access::Private)) } else { None }
    }

    /// Which records of `e` the caller may read.
    fn read_scope(&self, e: &Entity) -> Result<Scope, ApiError> {
        match (self.access(e), &self.user) {
            (None | Some(Access::Public), _) => Ok(Scope::All),
            (Some(_), None) => Err(sign_in_needed()),
            (Some(Access::Private), Some(u)) => Ok(Scope::CreatedBy(u.id)),
            (Some(Access::Shared), Some(_)) => Ok(Scope::All),
        }
    }

    /// A write without a session: allowed (rate-limited) only when the app has no accounts.
    fn check_writer(&self) -> Result<(), ApiError> {
        if self.user.is_none() && self.auth() {
            return Err(ApiError::new(ErrorCode::Unauthorized, "Log in to add or change records."));
        }
        self.limit_anonymous()
    }

    fn limit_anonymous(&self) -> Result<(), ApiError> {
        if self.user.is_some() {
            return Ok(());
        }
        self.limit_address()
    }

    /// Counts one request against this address's budget, signed in or not (log-ins and
    /// sign-ups always count: a session must not buy unlimited password guesses).
    fn limit_address(&self) -> Result<(), ApiError> {
        let key = (self.live.app_id, self.ip);
        let limiter = &self.rt.inner.anonymous_writes;
        let n = self.rt.inner.limiter_checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n % 4096 == 4095 {
            // Addresses that went quiet are forgotten now and then.
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        match limiter.check_key(&key) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(governor::clock::Clock::now(
                    &governor::clock::DefaultClock::default(),
                ));
                let mut e = ApiError::new(
                    ErrorCode::RateLimited,
                    "Too many changes from this address; wait a moment and try again.",
                );
                e.retry_after = Some(wait.as_secs().max(1));
                Err(e)
            }
        }
    }
}

fn cookie_value(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        v.split(';').find_map(|pair| {
            let (k, val) = pair.trim().split_once('=')?;
            (k == name).then(|| val.to_owned())
        })
    })
}

impl Runtime {
    fn cookie_name(&self) -> &'static str {
        if self.production() { "__Host-kiln_session" } else { "kiln_session" }
    }

    fn session_cookie(&self, token: &str, max_age_secs: i64) -> HeaderValue {
        let secure = if self.production() { "; Secure" } else { "" };
        let v = format!(
            "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}",
            self.cookie_name()
        );
        HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static(""))
    }

    /// The scheme an app's own origin uses.
    fn scheme(&self) -> &'static str {
        if self.production() { "https" } else { "http" }
    }
}

pub async fn handle(rt: &Runtime, live: &Live, host: &str, req: Request) -> Response {
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD);
    let answer = route(rt, live, host, req).await;
    if writes {
        // Whatever it did, kept lists of this app are stale now (before the answer goes out).
        rt.inner.lists.bump(live.app_id);
    }
    match answer {
        Ok(r) => r,
        Err(Refusal::Api(e)) => error(e),
        Err(Refusal::Method(allow)) => {
            let mut r = error(ApiError::new(
                ErrorCode::MethodNotAllowed,
                format!("This route takes {allow}."),
            ));
            r.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
            r
        }
    }
}

/// Why a request was not served: an API error, or a method the route does not take (405 with
/// `Allow`).
enum Refusal {
    Api(ApiError),
    Method(&'static str),
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Refusal::Api(e)
    }
}

const ANY_METHOD: &str = "GET, HEAD, POST, PATCH, PUT, DELETE";

async fn route(rt: &Runtime, live: &Live, host: &str, req: Request) -> Result<Response, Refusal> {
    let (parts, body) = req.into_parts();
    // HEAD is GET without the body (the server leaves the body out).
    let method = if parts.method == Method::HEAD { Method::GET } else { parts.method.clone() };
    if ![Method::GET, Method::POST, Method::PATCH, Method::PUT, Method::DELETE].contains(&method) {
        return Err(Refusal::Method(ANY_METHOD));
    }
    let writes = method != Method::GET;
    if writes {
        // A browser names the page's origin on every write: only the app's own may change it.
        if let Some(origin) = parts.headers.get(header::ORIGIN) {
            let own = format!("{}://{}", rt.scheme(), host.to_ascii_lowercase());
            if origin.to_str().ok().map(|o| o.to_ascii_lowercase()) != Some(own) {
                return Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "Changes are accepted only from the app's own pages.",
                )
                .into());
            }
        }
    }
    let ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |c| c.0.ip());
    let body = if writes { read_json(body, &parts.headers).await? } else { Value::Null };
    let segs: Vec<&str> =
        parts.uri.path().trim_start_matches("/api").split('/').filter(|s| !s.is_empty()).collect();
    let token = cookie_value(&parts.headers, rt.cookie_name());
    let auth = live.spec.features.contains(&Feature::Auth);
    if let (["auth", action], true) = (segs.as_slice(), auth) {
        // Password hashing is slow: it runs holding no storage connection.
        let ctx = Ctx { rt, live, user: None, ip };
        return auth_route(&ctx, action, &method, &body, token.as_deref()).await;
    }
    // A list: answered from memory when nothing was written since (see `lists`).
    let list_key = match segs.as_slice() {
        [c] if method == Method::GET && !["health", "chat", "auth"].contains(c) => {
            Some(crate::lists::Key {
                app: live.app_id,
                version: live.version,
                target: parts.uri.path_and_query().map_or("", |p| p.as_str()).to_owned(),
                viewer: None,
            })
        }
        _ => None,
    };
    let generation = rt.inner.lists.generation(live.app_id);
    if let (Some(key), None) = (&list_key, &token)
        && let Some(body) = rt.inner.lists.get(key)
    {
        return Ok(json_bytes(StatusCode::OK, body));
    }
    let mut conn = live.storage.acquire().await.map_err(internal)?;
    let user = match &token {
        Some(t) => {
            accounts::session_user(&live.storage, &mut conn, t, rt.now()).await.map_err(internal)?
        }
        None => None,
    };
    let ctx = Ctx { rt, live, user, ip };
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| {
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (decode(k), decode(v))
                })
                .collect()
        })
        .unwrap_or_default();
    let s = &live.storage;
    match (segs.as_slice(), &method) {
        (["health"], &Method::GET) => {
            s.ping().await.map_err(internal)?;
            Ok(json_response(
                StatusCode::OK,
                &json!({ "status": "ok", "app": live.slug, "version": live.version }),
            ))
        }
        (["health"], _) => Err(Refusal::Method("GET, HEAD")),
        (["chat"], &Method::POST) if live.spec.features.contains(&Feature::Chat) => {
            Ok(crate::chat::answer(rt, live, ctx.user.as_ref().map(|u| u.id), ip, &body).await?)
        }
        ([collection], m) => {
            let e = entity(live, collection)?;
            match *m {
                Method::GET => {
                    let scope = ctx.read_scope(e)?;
                    let lq = ListQuery::parse(e, &query)?;
                    let (items, total) =
                        records::list(s, &mut conn, e, scope, &lq).await.map_err(internal)?;
                    let answer = json!({ "items": items, "total": total, "limit": lq.limit, "offset": lq.offset });
                    let body =
                        axum::body::Bytes::from(serde_json::to_vec(&answer).map_err(internal)?);
                    if let Some(key) = list_key {
                        let viewer = ctx.user.as_ref().map(|u| u.id);
                        rt.inner.lists.put(
                            crate::lists::Key { viewer, ..key },
                            generation,
                            body.clone(),
                        );
                    }
                    Ok(json_bytes(StatusCode::OK, body))
                }
                Method::POST => {
                    ctx.check_writer()?;
                    let values = records::check_body(e, &body, true)?;
                    check_refs(&ctx, &mut conn, e, &values).await?;
                    let by = ctx.user.as_ref().map(|u| u.id);
                    let id = records::insert(s, &mut conn, e, &values, by, rt.now())
                        .await
                        .map_err(internal)?;
                    let row = records::get(s, &mut conn, e, id)
                        .await
                        .map_err(internal)?
                        .ok_or_else(|| internal("the new record vanished"))?;
                    let mut r = json_response(StatusCode::CREATED, &records::to_json(e, &row));
                    if let Ok(v) = HeaderValue::from_str(&format!("/api/{}/{id}", e.collection)) {
                        r.headers_mut().insert(header::LOCATION, v);
                    }
                    Ok(r)
                }
                _ => Err(Refusal::Method("GET, HEAD, POST")),
            }
        }
        ([collection, id], m) => {
            let e = entity(live, collection)?;
            let id: i64 = id
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| not_found(&e.label.to_lowercase()))?;
            let what = e.label.to_lowercase();
            // Visibility first: a record the caller may not read does not exist for them.
            let scope = ctx.read_scope(e)?;
            let creator =
                records::creator(s, &mut conn, &e.collection, id).await.map_err(internal)?;
            let visible = match (creator, scope) {
                (None, _) => false,
                (Some(_), Scope::All) => true,
                (Some(c), Scope::CreatedBy(u)) => c == Some(u),
            };
            if !visible {
                return Err(not_found(&what).into());
            }
            if *m != Method::GET {
                ctx.check_writer()?;
                if ctx.auth() && creator.flatten() != ctx.user.as_ref().map(|u| u.id) {
                    return Err(ApiError::new(
                        ErrorCode::Forbidden,
                        format!("Only the person who added this {what} can change it."),
                    )
                    .into());
                }
            }
            match *m {
                Method::GET => {
                    let row = records::get(s, &mut conn, e, id)
                        .await
                        .map_err(internal)?
                        .ok_or_else(|| not_found(&what))?;
                    Ok(json_response(StatusCode::OK, &records::to_json(e, &row)))
                }
                Method::PATCH | Method::PUT => {
                    let values = records::check_body(e, &body, *m == Method::PUT)?;
                    check_refs(&ctx, &mut conn, e, &values).await?;
                    if !records::update(s, &mut conn, e, id, &values, rt.now())
                        .await
                        .map_err(internal)?
                    {
                        return Err(not_found(&what).into());
                    }
                    let row = records::get(s, &mut conn, e, id)
                        .await
                        .map_err(internal)?
                        .ok_or_else(|| not_found(&what))?;
                    Ok(json_response(StatusCode::OK, &records::to_json(e, &row)))
                }
                Method::DELETE => {
                    if !records::delete(s, &mut conn, e, id).await.map_err(internal)? {
                        return Err(not_found(&what).into());
                    }
                    Ok(empty(StatusCode::NO_CONTENT))
                }
                _ => Err(Refusal::Method("GET, HEAD, PATCH, PUT, DELETE")),
            }
        }
        _ => Err(ApiError::new(ErrorCode::NotFound, "No such API route in this app.").into()),
    }
}

fn entity<'a>(live: &'a Live, collection: &str) -> Result<&'a Entity, ApiError> {
    live.spec
        .entities
        .iter()
        .find(|e| e.collection == collection)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "No such API route in this app."))
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn read_json(body: Body, headers: &http::HeaderMap) -> Result<Value, ApiError> {
    let too_big = || {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("The request is larger than {} KiB.", MAX_BODY / 1024),
        )
    };
    if headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > MAX_BODY)
    {
        return Err(too_big());
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| too_big())?;
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/json"));
    if !json_type {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "Send JSON (Content-Type: application/json).",
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(ErrorCode::BadRequest, format!("The body is not valid JSON: {e}."))
    })
}

/// Every `ref` value must name a record of its entity that the caller can see.
async fn check_refs(
    ctx: &Ctx<'_>,
    conn: &mut sqlx::AnyConnection,
    e: &Entity,
    values: &[(String, Val)],
) -> Result<(), ApiError> {
    let mut problems = Vec::new();
    for (name, v) in values {
        let Some(f) = e.fields.iter().find(|f| &f.name == name) else { continue };
        let (FieldType::Ref { entity: target }, Val::Int(id)) = (&f.ty, v) else { continue };
        let Some(t) = ctx.live.spec.entities.iter().find(|x| &x.name == target) else { continue };
        let scope = match (ctx.access(t), &ctx.user) {
            (Some(Access::Private), Some(u)) => Scope::CreatedBy(u.id),
            (Some(Access::Private), None) => Scope::CreatedBy(-1),
            _ => Scope::All,
        };
        if !records::exists(&ctx.live.storage, conn, &t.collection, *id, scope)
            .await
            .map_err(internal)?
        {
            problems.push(kiln_core::FieldError {
                field: name.clone(),
                message: format!("There is no {} number {id}.", t.label.to_lowercase()),
            });
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(ApiError {
        error: ErrorCode::Invalid,
        message: problems[0].message.clone(),
        fields: problems,
        retry_after: None,
    })
}

async fn auth_route(
    ctx: &Ctx<'_>,
    action: &str,
    method: &Method,
    body: &Value,
    token: Option<&str>,
) -> Result<Response, Refusal> {
    let (rt, s) = (ctx.rt, &ctx.live.storage);
    // A connection only for each short step, none while a password is hashed.
    let conn = || async { s.acquire().await.map_err(internal) };
    match (action, method) {
        ("me", &Method::GET) => {
            let user = match token {
                Some(t) => accounts::session_user(s, &mut *conn().await?, t, rt.now())
                    .await
                    .map_err(internal)?,
                None => None,
            };
            match user {
                Some(u) => Ok(json_response(StatusCode::OK, &u.json())),
                None => Err(ApiError::new(ErrorCode::Unauthorized, "Not logged in.").into()),
            }
        }
        ("signup", &Method::POST) => {
            ctx.limit_address()?;
            let (email, password) = accounts::credentials(body, true)?;
            if accounts::find_by_email(s, &mut *conn().await?, &email)
                .await
                .map_err(internal)?
                .is_some()
            {
                return Err(taken().into());
            }
            let hash = {
                let _permit = rt.inner.hashing.acquire().await.map_err(internal)?;
                rt.inner.passwords.hash(password).await
            };
            let mut c = conn().await?;
            let Some(user) =
                accounts::insert(s, &mut c, &email, &hash, rt.now()).await.map_err(internal)?
            else {
                return Err(taken().into());
            };
            Ok(signed_in(ctx, &mut c, user, StatusCode::CREATED).await?)
        }
        ("login", &Method::POST) => {
            ctx.limit_address()?;
            let (email, password) = accounts::credentials(body, false)?;
            let found =
                accounts::find_by_email(s, &mut *conn().await?, &email).await.map_err(internal)?;
            let (user, hash) = match found {
                Some((u, h)) => (Some(u), Some(h)),
                None => (None, None),
            };
            let ok = {
                let _permit = rt.inner.hashing.acquire().await.map_err(internal)?;
                rt.inner.passwords.verify(password, hash).await
            };
            match user.filter(|_| ok) {
                Some(u) => Ok(signed_in(ctx, &mut *conn().await?, u, StatusCode::OK).await?),
                None => {
                    Err(ApiError::new(ErrorCode::Unauthorized, "Wrong email or password.").into())
                }
            }
        }
        ("logout", &Method::POST) => {
            if let Some(t) = token {
                accounts::end_session(s, &mut *conn().await?, t).await.map_err(internal)?;
            }
            let mut r = empty(StatusCode::NO_CONTENT);
            r.headers_mut().insert(header::SET_COOKIE, rt.session_cookie("", 0));
            Ok(r)
        }
        // Who is signed in, without a 401 for nobody: what an app asks when it starts.
        ("session", &Method::GET) => {
            let user = match token {
                Some(t) => accounts::session_user(s, &mut *conn().await?, t, rt.now())
                    .await
                    .map_err(internal)?,
                None => None,
            };
            Ok(json_response(StatusCode::OK, &json!({ "user": user.map(|u| u.json()) })))
        }
        ("me" | "session", _) => Err(Refusal::Method("GET, HEAD")),
        ("signup" | "login" | "logout", _) => Err(Refusal::Method("POST")),
        _ => Err(ApiError::new(ErrorCode::NotFound, "No such API route in this app.").into()),
    }
}

fn taken() -> ApiError {
    let mut e =
        ApiError::invalid("email", "An account with this email already exists; log in instead.");
    e.error = ErrorCode::Conflict;
    e
}

async fn signed_in(
    ctx: &Ctx<'_>,
    conn: &mut sqlx::AnyConnection,
    user: User,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let token = accounts::start_session(&ctx.live.storage, conn, user.id, ctx.rt.now())
        .await
        .map_err(internal)?;
    let mut r = json_response(status, &user.json());
    r.headers_mut()
        .insert(header::SET_COOKIE, ctx.rt.session_cookie(&token, accounts::SESSION_MS / 1000));
    Ok(r)
}
