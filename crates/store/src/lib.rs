#![doc = include_str!("../README.md")]

pub mod apps;
mod clock;
pub mod collab;
mod db;
pub mod jobs;
pub mod outbox;
pub mod tokens;
pub mod users;

#[cfg(feature = "testing")]
pub mod testing;

pub use clock::{Clock, system_now};
pub use db::{Backend, Db, StoreError, Tx, redact_url};

/// Unix time in milliseconds.
pub type Millis = i64;
