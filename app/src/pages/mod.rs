//! The portal's pages, one module per area.

mod account;
mod app_page;
mod apps;
mod new_app;
mod public;

pub use account::{
    CheckEmail, EmailChanged, ForgotPassword, Login, ResetPassword, Settings, Signup, UndoEmail,
    Verified,
};
pub use app_page::AppPage;
pub use apps::Apps;
pub use new_app::NewApp;
pub use public::{Landing, NotFound};
