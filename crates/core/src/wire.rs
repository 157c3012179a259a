//! Shapes of the account API on the wire, shared with the browser.

use serde::{Deserialize, Serialize};

/// The signed-in user as the portal and `GET /api/me` see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub id: i64,
    pub email: String,
    pub verified: bool,
    /// Operators see the instance's mail outbox.
    #[serde(default)]
    pub operator: bool,
}

/// A personal API token as listed (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenInfo {
    pub id: i64,
    pub name: String,
    /// The first characters of the token, so a person can tell tokens apart.
    pub prefix: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds of the last request made with it.
    pub last_used_at: Option<i64>,
}

/// The answer to creating a token: the only time the secret is shown. `Debug` hides it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedToken {
    pub id: i64,
    pub name: String,
    pub token: String,
}

impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// One signed-in browser or device of the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: i64,
    /// A short description of the browser, e.g. "Firefox on Linux".
    pub device: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds of the last refresh.
    pub last_seen_at: i64,
    /// The session this request was made with.
    pub current: bool,
}

/// One email in the outbox, as an operator sees it (no bodies: they hold single-use links).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub id: i64,
    pub template: String,
    pub to: String,
    pub subject: String,
    pub created_at: i64,
    pub attempts: i64,
    /// `queued`, `sent` or `failing`.
    pub state: String,
    pub sent_at: Option<i64>,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
}

/// An app as "My apps" lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSummary {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub created_at: i64,
    /// The state of its newest job (`queued` … `packaged`, `failed`, `cancelled`).
    pub state: Option<String>,
    pub job_id: Option<i64>,
    /// Versions generated so far.
    pub versions: i64,
}
