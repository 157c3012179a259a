#![doc = include_str!("../README.md")]

mod templates;
mod transport;
mod worker;

pub use templates::{Mailer, Rendered, TemplateError};
pub use transport::{FileTransport, Transport, TransportError, build_message};
pub use worker::{Worker, backoff_ms};
