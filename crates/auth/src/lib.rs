#![doc = include_str!("../README.md")]

mod accounts;
pub mod cookies;
mod crypto;
mod error;
mod jwt;
mod limits;
mod manage;
mod password;

pub use accounts::{
    Accounts, AuthConfig, ClientInfo, Identity, RequestAuth, SessionTokens, SignedUp,
};
pub use crypto::{MasterKey, random_token, sha256_hex};
pub use error::{AuthError, LinkProblem};
pub use kiln_store::Clock;
pub use limits::{Action, LimitConfig};
pub use password::PasswordHasher;
