//! The error type of the portal's server functions: the API's error shape, so a field error
//! shows next to its input whether the form was sent by script or by a plain POST.

use kiln_core::{ApiError, ErrorCode};
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}", .0.message)]
pub struct PortalError(pub ApiError);

impl PortalError {
    /// The message for `field`, if the error names it.
    pub fn field(&self, field: &str) -> Option<String> {
        self.0.field(field).map(str::to_owned)
    }

    /// The message when it names no field (shown above the submit button).
    pub fn general(&self) -> Option<String> {
        self.0.fields.is_empty().then(|| self.0.message.clone())
    }
}

impl FromServerFnError for PortalError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(e: ServerFnErrorErr) -> Self {
        let code = match e {
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_) => ErrorCode::BadRequest,
            _ => ErrorCode::Internal,
        };
        let message = match code {
            ErrorCode::BadRequest => "The form could not be read. Please reload and try again.",
            _ => "Kiln could not be reached. Check your connection and try again.",
        };
        PortalError(ApiError::new(code, message))
    }
}

impl From<ApiError> for PortalError {
    fn from(e: ApiError) -> Self {
        PortalError(e)
    }
}

#[cfg(feature = "ssr")]
impl From<kiln_auth::AuthError> for PortalError {
    fn from(e: kiln_auth::AuthError) -> Self {
        if let kiln_auth::AuthError::Internal(cause) = &e {
            leptos::logging::error!("account service failed: {cause}");
        }
        PortalError(e.into())
    }
}

#[cfg(feature = "ssr")]
impl From<kiln_pipeline::PipelineError> for PortalError {
    fn from(e: kiln_pipeline::PipelineError) -> Self {
        PortalError(e.into())
    }
}
