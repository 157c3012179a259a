//! The error shape every Kiln endpoint answers with: `{error, message, fields?}`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A machine-readable error code; each maps to one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the body could not be read (malformed JSON, wrong content type).
    BadRequest,
    /// 401: no valid credentials.
    Unauthorized,
    /// 403: authenticated, but not allowed (or a cross-origin write).
    Forbidden,
    /// 404.
    NotFound,
    /// 405: the path exists, the method does not.
    MethodNotAllowed,
    /// 409: the request conflicts with existing state (an email already taken).
    Conflict,
    /// 413: the body is larger than the limit.
    PayloadTooLarge,
    /// 422: the body was read but a field is invalid; see `fields`.
    Invalid,
    /// 429: too many requests.
    RateLimited,
    /// 500: something failed on the server; details are in the server log only.
    Internal,
    /// 503: a dependency (the database) is unavailable.
    Unavailable,
}

impl ErrorCode {
    /// The HTTP status code of this error.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Conflict => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::Invalid => 422,
            ErrorCode::RateLimited => 429,
            ErrorCode::Internal => 500,
            ErrorCode::Unavailable => 503,
        }
    }
}

/// One invalid field and why, shown next to the input in the portal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// The JSON body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// For 429: seconds until a retry can succeed (also sent as `Retry-After`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(error: ErrorCode, message: impl Into<String>) -> Self {
        Self { error, message: message.into(), fields: Vec::new(), retry_after: None }
    }

    /// A 422 naming one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            error: ErrorCode::Invalid,
            message: message.clone(),
            fields: vec![FieldError { field: field.to_owned(), message }],
            retry_after: None,
        }
    }

    /// The message for `field`, if this error names it.
    pub fn field(&self, field: &str) -> Option<&str> {
        self.fields.iter().find(|f| f.field == field).map(|f| f.message.as_str())
    }

    pub fn status(&self) -> u16 {
        self.error.status()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_without_empty_fields() {
        let e = ApiError::new(ErrorCode::Unauthorized, "wrong email or password");
        let json = serde_json::to_string(&e).expect("serialize");
        assert_eq!(json, r#"{"error":"unauthorized","message":"wrong email or password"}"#);
    }

    #[test]
    fn invalid_names_its_field() {
        let e = ApiError::invalid("password", "too short");
        assert_eq!(e.status(), 422);
        assert_eq!(e.field("password"), Some("too short"));
        assert_eq!(e.field("email"), None);
        let back: ApiError =
            serde_json::from_str(&serde_json::to_string(&e).expect("ser")).expect("de");
        assert_eq!(back, e);
    }
}
