//! The HTTP boundary's error: maps to a status and the `{error, message, fields?}` body, logs
//! server-side failures with their cause, and never shows internals to the client.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kiln_auth::AuthError;
use kiln_core::{ApiError, ErrorCode};

/// An error answered as JSON.
#[derive(Debug)]
pub struct HttpError(pub ApiError);

impl HttpError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self(ApiError::new(code, message))
    }
}

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<AuthError> for HttpError {
    fn from(e: AuthError) -> Self {
        if let AuthError::Internal(cause) = &e {
            tracing::error!(%cause, "account service failed");
        }
        Self(e.into())
    }
}

impl From<kiln_store::StoreError> for HttpError {
    fn from(e: kiln_store::StoreError) -> Self {
        AuthError::from(e).into()
    }
}

impl From<JsonRejection> for HttpError {
    fn from(r: JsonRejection) -> Self {
        let (code, message) = match &r {
            JsonRejection::JsonDataError(e) => (
                ErrorCode::Invalid,
                format!("The JSON does not have the expected fields: {}", e.body_text()),
            ),
            JsonRejection::JsonSyntaxError(_) => {
                (ErrorCode::BadRequest, "The body is not valid JSON.".to_owned())
            }
            JsonRejection::MissingJsonContentType(_) => (
                ErrorCode::BadRequest,
                "Send a JSON body with the header Content-Type: application/json.".to_owned(),
            ),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                (ErrorCode::PayloadTooLarge, "The body is too large.".to_owned())
            }
            _ => (ErrorCode::BadRequest, "The body could not be read.".to_owned()),
        };
        Self::new(code, message)
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = ?self.0.error, message = %self.0.message, "request failed");
        }
        let retry_after = self.0.retry_after;
        let mut res = (status, Json(self.0)).into_response();
        if let Some(secs) = retry_after {
            res.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        res
    }
}

pub type HttpResult<T> = Result<T, HttpError>;
