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
    /// The state of its newest job (`queued` … `live`, `failed`, `cancelled`, …).
    pub state: Option<String>,
    pub job_id: Option<i64>,
    /// Versions generated so far.
    pub versions: i64,
    /// Where its live version is served, once one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// For an app someone shared with you: your role on it (`editor` or `viewer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// One line of a job's history: a state change or a log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEvent {
    pub id: i64,
    /// Unix milliseconds.
    pub at: i64,
    /// `state` or `log`.
    pub kind: String,
    pub state: String,
    pub progress: i64,
    pub message: String,
}

/// A generation job as the status page and `GET /api/status` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStatus {
    pub job_id: i64,
    pub app_id: i64,
    /// queued, planning, generating, checking, packaging, deploying, then live, failed, cancelled
    /// or awaiting_confirmation (the new plan would lose data; `error` says what).
    pub state: String,
    /// 0–100.
    pub progress: i64,
    pub events: Vec<JobEvent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<i64>,
}

impl JobStatus {
    /// Whether the job has stopped (successfully or not).
    pub fn finished(&self) -> bool {
        is_final_state(&self.state)
    }
}

/// Whether a job in `state` has stopped for good.
pub fn is_final_state(state: &str) -> bool {
    matches!(state, "packaged" | "live" | "failed" | "cancelled" | "awaiting_confirmation")
}

/// One generated version of an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    pub version: i64,
    pub job_id: i64,
    pub git_commit: String,
    /// Files in the generated tree.
    pub files: i64,
    /// The description it was generated from.
    pub description: String,
    /// What changed against the previous version, e.g. "3 files changed".
    pub changes: String,
    /// When it first went live (a rollback can return only to such a version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_at: Option<i64>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// An app with its versions and its newest job: the app page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppDetail {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub created_at: i64,
    pub versions: Vec<VersionInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<JobStatus>,
    /// The plan of the newest version, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<crate::AppSpec>,
    /// The version the runtime serves, once one is live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_version: Option<i64>,
    /// Where the live version is served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The caller's role on the app: `owner`, `editor` or `viewer` (only the owner generates,
    /// rolls back, invites and deletes; editors change the shared description).
    #[serde(default = "owner_role")]
    pub role: String,
    /// The shared description document is served at `/collab/{id}`.
    #[serde(default)]
    pub collaborative: bool,
    /// How the caller is shown to the others in the shared description (their email).
    #[serde(default)]
    pub you: String,
}

fn owner_role() -> String {
    "owner".to_owned()
}

/// The answer to creating or generating an app: its queued job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppCreated {
    pub app_id: i64,
    pub job_id: i64,
    pub slug: String,
}

/// The answer to creating a draft app (no job yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppDraft {
    pub app_id: i64,
    pub slug: String,
}

/// A person with a role on an app (`owner`, `editor` or `viewer`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: i64,
    pub email: String,
    pub role: String,
}

/// An invitation not yet accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    pub id: i64,
    pub email: String,
    pub role: String,
    pub expires_at: i64,
}

/// The people of an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Members {
    pub members: Vec<Member>,
    /// Open invitations (shown to the owner only).
    pub invites: Vec<Invite>,
}
