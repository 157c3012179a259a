//! The portal's pages, one module per area.

mod account;
mod apps;
mod public;

pub use account::{CheckEmail, Login, Settings, Signup, Verified};
pub use apps::Apps;
pub use public::{Landing, NotFound};
