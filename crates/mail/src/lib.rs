#![doc = include_str!("../README.md")]

mod templates;
mod transport;
mod worker;

pub use templates::{Mailer, Rendered, TemplateError};
pub use transport::{
    FileTransport, SesTransport, SmtpSecurity, SmtpTransport, Transport, TransportError,
    build_message,
};
pub use worker::{Worker, backoff_ms};
