//! The state every handler shares.

use crate::metrics::Metrics;
use crate::settings::Settings;
use axum::extract::FromRef;
use kiln_auth::Accounts;
use kiln_auth::cookies::CookieConfig;
use kiln_store::Db;
use leptos::config::LeptosOptions;
use std::sync::Arc;

/// Shared by all requests; cheap to clone.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// Where the portal's built assets are and what they are called.
    pub leptos_options: LeptosOptions,
    /// The database (SQLite or Postgres).
    pub db: Db,
    /// Portal accounts: sign-up, sessions, tokens.
    pub accounts: Accounts,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// The resolved settings.
    pub settings: Arc<Settings>,
    /// App generation: creating apps and their jobs, and the workers' stages.
    pub pipeline: kiln_pipeline::Pipeline,
    /// Serves and deploys generated apps.
    pub runtime: kiln_runtime::Runtime,
    /// Live co-editing of apps' descriptions.
    pub collab: kiln_collab::Hub,
    /// The portal's public origin (`scheme://host[:port]`), for the cross-origin write check.
    pub origin: Arc<str>,
}

impl AppState {
    pub fn cookies(&self) -> CookieConfig {
        self.accounts.config().cookies()
    }
}
