//! What can go wrong in the account service, and how each maps onto the API's error shape.

use kiln_core::{ApiError, ErrorCode};
use kiln_store::StoreError;

/// Why an emailed link did not work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkProblem {
    Unknown,
    Used,
    Expired,
    /// An email-change link whose new address was taken by another account meanwhile.
    Taken,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Input failed validation (422, naming the field).
    #[error("{0}")]
    Invalid(ApiError),
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("wrong email or password")]
    BadCredentials,
    /// No valid session or token.
    #[error("sign in first")]
    Unauthenticated,
    #[error("sign-up is closed on this Kiln")]
    SignupClosed,
    #[error("verify your email address first")]
    NotVerified,
    #[error("this email address is already verified")]
    AlreadyVerified,
    #[error("link problem: {0:?}")]
    Link(LinkProblem),
    #[error("not found")]
    NotFound,
    /// The current password given to confirm a change is wrong (names the field).
    #[error("wrong password")]
    WrongPassword { field: &'static str },
    #[error("not allowed: {0}")]
    Forbidden(&'static str),
    #[error("rate limited for {0} s")]
    RateLimited(u64),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AuthError::NotFound,
            other => AuthError::Internal(other.to_string()),
        }
    }
}

impl From<kiln_mail::TemplateError> for AuthError {
    fn from(e: kiln_mail::TemplateError) -> Self {
        AuthError::Internal(e.to_string())
    }
}

impl From<ApiError> for AuthError {
    fn from(e: ApiError) -> Self {
        AuthError::Invalid(e)
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        use ErrorCode as C;
        match e {
            AuthError::Invalid(api) => api,
            AuthError::EmailTaken => {
                let mut a = ApiError::invalid(
                    "email",
                    "An account with this email already exists. Log in instead?",
                );
                a.error = C::Conflict;
                a
            }
            AuthError::BadCredentials => ApiError::new(C::Unauthorized, "Wrong email or password."),
            AuthError::Unauthenticated => {
                ApiError::new(C::Unauthorized, "Your session has ended. Please log in.")
            }
            AuthError::SignupClosed => ApiError::new(
                C::Forbidden,
                "Sign-up is closed on this Kiln. Ask an operator for an account.",
            ),
            AuthError::NotVerified => ApiError::new(
                C::Forbidden,
                "Verify your email address first: open the link we sent you, or ask for a new one.",
            ),
            AuthError::AlreadyVerified => {
                ApiError::new(C::Conflict, "Your email address is already verified.")
            }
            AuthError::Link(p) => ApiError::new(
                C::BadRequest,
                match p {
                    LinkProblem::Unknown => "This link is not valid. Ask for a new one.",
                    LinkProblem::Used => "This link was already used.",
                    LinkProblem::Expired => "This link has expired. Ask for a new one.",
                    LinkProblem::Taken => {
                        "Another account uses this address now, so it cannot be yours."
                    }
                },
            ),
            AuthError::NotFound => ApiError::new(C::NotFound, "Not found."),
            AuthError::WrongPassword { field } => {
                ApiError::invalid(field, "That is not your current password.")
            }
            AuthError::Forbidden(why) => ApiError::new(C::Forbidden, why),
            AuthError::RateLimited(secs) => {
                let mut a = ApiError::new(
                    C::RateLimited,
                    format!("Too many attempts. Try again in {secs} seconds."),
                );
                a.retry_after = Some(secs);
                a
            }
            AuthError::Internal(_) => {
                ApiError::new(C::Internal, "Something went wrong on our side. Please try again.")
            }
        }
    }
}
