#![doc = include_str!("../README.md")]

pub mod error;
pub mod spec;
pub mod text;
pub mod time;
pub mod validate;
pub mod wire;

pub use error::{ApiError, ErrorCode, FieldError};
pub use spec::{Access, AppSpec, Entity, Feature, Field, FieldType};
pub use validate::{Email, Password, TokenName, local_redirect};
pub use wire::{
    ApiTokenInfo, AppCreated, AppDetail, AppDraft, AppSummary, CreatedToken, Invite, JobEvent,
    JobStatus, Member, Members, OutboxEntry, SessionInfo, UserInfo, VersionInfo, is_final_state,
};
