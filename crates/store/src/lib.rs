#![doc = include_str!("../README.md")]

mod db;
pub mod outbox;
pub mod tokens;
pub mod users;

#[cfg(feature = "testing")]
pub mod testing;

pub use db::{Backend, Db, StoreError, Tx, redact_url};

/// Unix time in milliseconds.
pub type Millis = i64;
