//! The portal's pages, one module per area.

mod account;
mod apps;
mod public;

pub use account::{
    CheckEmail, EmailChanged, ForgotPassword, Login, ResetPassword, Settings, Signup, UndoEmail,
    Verified,
};
pub use apps::Apps;
pub use public::{Landing, NotFound};
