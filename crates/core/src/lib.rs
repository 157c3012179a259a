#![doc = include_str!("../README.md")]

pub mod error;
pub mod validate;
pub mod wire;

pub use error::{ApiError, ErrorCode, FieldError};
pub use validate::{Email, Password, TokenName};
pub use wire::{ApiTokenInfo, CreatedToken, OutboxEntry, SessionInfo, UserInfo};
