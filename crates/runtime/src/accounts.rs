//! End users of one generated app: sign-up, log-in, sessions. Stored in the app's own storage,
//! so they survive every redeploy. Passwords are hashed with argon2id.

use crate::storage::{Class, Storage, StorageError, Val, read_val};
use kiln_core::{ApiError, ErrorCode};
use serde_json::{Value, json};
use sqlx::AnyConnection;

/// How long a session lasts.
pub const SESSION_MS: i64 = 30 * 24 * 3600 * 1000;
pub const MIN_PASSWORD: usize = 8;
const MAX_PASSWORD: usize = 256;

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub email: String,
}

impl User {
    pub fn json(&self) -> Value {
        json!({ "id": self.id, "email": self.email })
    }
}

/// Reads `{email, password}`; the email trimmed and lower-cased.
pub fn credentials(body: &Value, signup: bool) -> Result<(String, String), ApiError> {
    let email = body.get("email").and_then(Value::as_str).unwrap_or("").trim().to_lowercase();
    let password = body.get("password").and_then(Value::as_str).unwrap_or("").to_owned();
    let mut e = ApiError::new(ErrorCode::Invalid, "");
    let mut bad = |f: &str, m: &str| {
        e.fields.push(kiln_core::FieldError { field: f.into(), message: m.into() });
    };
    let valid_email = email.split_once('@').is_some_and(|(l, d)| {
        !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
    }) && !email.chars().any(char::is_whitespace)
        && email.len() <= 254;
    if email.is_empty() {
        bad("email", "Email is required.");
    } else if !valid_email {
        bad("email", "Email must look like ada@example.com.");
    }
    if password.is_empty() {
        bad("password", "Password is required.");
    } else if signup && password.chars().count() < MIN_PASSWORD {
        bad("password", "Password must be at least 8 characters.");
    } else if password.len() > MAX_PASSWORD {
        bad("password", "Password must be at most 256 characters.");
    }
    if let Some(first) = e.fields.first() {
        e.message = first.message.clone();
        return Err(e);
    }
    Ok((email, password))
}

pub fn random_token() -> String {
    kiln_auth::random_token("")
}

pub async fn find_by_email(
    s: &Storage,
    c: &mut AnyConnection,
    email: &str,
) -> Result<Option<(User, String)>, StorageError> {
    let mut q = s.sql(format!(
        "SELECT id, email, password_hash FROM {} WHERE email = ",
        s.table("_kiln_users")
    ));
    q.arg(Val::Text(email.into()));
    Ok(q.fetch_optional(c).await?.map(|r| {
        let id = match read_val(&r, 0, Class::Int) {
            Val::Int(i) => i,
            _ => 0,
        };
        let text = |i| match read_val(&r, i, Class::Text) {
            Val::Text(t) => t,
            _ => String::new(),
        };
        (User { id, email: text(1) }, text(2))
    }))
}

/// Inserts a user; `Ok(None)` when the email is taken.
pub async fn insert(
    s: &Storage,
    c: &mut AnyConnection,
    email: &str,
    hash: &str,
    now: i64,
) -> Result<Option<User>, StorageError> {
    let mut q = s.sql(format!(
        "INSERT INTO {} (email, password_hash, created_at) VALUES (",
        s.table("_kiln_users")
    ));
    q.arg(Val::Text(email.into()))
        .push(", ")
        .arg(Val::Text(hash.into()))
        .push(", ")
        .arg(Val::Int(now))
        .push(") RETURNING id");
    match q.scalar_i64(c).await {
        Ok(id) => Ok(Some(User { id, email: email.to_owned() })),
        Err(StorageError::Db(sqlx::Error::Database(d))) if d.is_unique_violation() => Ok(None),
        // The Any driver does not always classify the violation; ask again.
        Err(e) => match find_by_email(s, c, email).await {
            Ok(Some(_)) => Ok(None),
            _ => Err(e),
        },
    }
}

/// Starts a session; returns the token for the cookie (only its hash is stored).
pub async fn start_session(
    s: &Storage,
    c: &mut AnyConnection,
    user_id: i64,
    now: i64,
) -> Result<String, StorageError> {
    let token = random_token();
    let mut q = s.sql(format!(
        "INSERT INTO {} (token_hash, user_id, expires_at) VALUES (",
        s.table("_kiln_sessions")
    ));
    q.arg(Val::Text(kiln_auth::sha256_hex(&token)))
        .push(", ")
        .arg(Val::Int(user_id))
        .push(", ")
        .arg(Val::Int(now + SESSION_MS))
        .push(")");
    q.execute(c).await?;
    // Expired sessions go as new ones come.
    let mut gc = s.sql(format!("DELETE FROM {} WHERE expires_at < ", s.table("_kiln_sessions")));
    gc.arg(Val::Int(now));
    gc.execute(c).await?;
    Ok(token)
}

pub async fn session_user(
    s: &Storage,
    c: &mut AnyConnection,
    token: &str,
    now: i64,
) -> Result<Option<User>, StorageError> {
    let mut q = s.sql(format!(
        "SELECT u.id, u.email FROM {} s JOIN {} u ON u.id = s.user_id \
         WHERE s.token_hash = ",
        s.table("_kiln_sessions"),
        s.table("_kiln_users")
    ));
    q.arg(Val::Text(kiln_auth::sha256_hex(token)));
    q.push(" AND s.expires_at > ").arg(Val::Int(now));
    Ok(q.fetch_optional(c).await?.map(|r| User {
        id: match read_val(&r, 0, Class::Int) {
            Val::Int(i) => i,
            _ => 0,
        },
        email: match read_val(&r, 1, Class::Text) {
            Val::Text(t) => t,
            _ => String::new(),
        },
    }))
}

pub async fn end_session(
    s: &Storage,
    c: &mut AnyConnection,
    token: &str,
) -> Result<(), StorageError> {
    let mut q = s.sql(format!("DELETE FROM {} WHERE token_hash = ", s.table("_kiln_sessions")));
    q.arg(Val::Text(kiln_auth::sha256_hex(token)));
    q.execute(c).await?;
    Ok(())
}
