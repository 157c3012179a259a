#![doc = include_str!("../README.md")]

mod members;
pub mod toolchain;

pub use members::{INVITE_TTL_MS, Invite, Member, Members};

use kiln_core::{ApiError, AppDetail, AppSpec, ErrorCode, JobEvent, JobStatus, VersionInfo};
use kiln_sandbox::Sandbox;
use kiln_store::{Clock, Db, StoreError, Tx, apps, jobs, users};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("{0}")]
    Refused(ApiError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<PipelineError> for ApiError {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::Refused(a) => a,
            PipelineError::Store(StoreError::Conflict(m)) => ApiError::new(ErrorCode::Conflict, m),
            PipelineError::Store(e) => {
                tracing::error!(error = %e, "pipeline storage failed");
                ApiError::new(ErrorCode::Internal, "Something went wrong on our side.")
            }
        }
    }
}

/// A version's files, `(path, text)`, shared.
type Files = Arc<Vec<(String, String)>>;

/// What a generate job carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payload {
    pub description: String,
    #[serde(default)]
    pub spec: Option<AppSpec>,
    /// The owner accepted what the new plan loses (see `awaiting_confirmation`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub confirm_data_loss: bool,
    /// Deploy this existing version instead of generating a new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_version: Option<i64>,
    /// A rollback: nothing is cleared, what the older plan cannot show is kept hidden.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rollback: bool,
}

impl Payload {
    fn policy(&self) -> kiln_runtime::Policy {
        if self.rollback {
            kiln_runtime::Policy::KeepAll
        } else if self.confirm_data_loss {
            kiln_runtime::Policy::Confirmed
        } else {
            kiln_runtime::Policy::Ask
        }
    }
}

/// Per-owner limits; a request beyond them answers 429.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Apps one person may own.
    pub max_apps: i64,
    /// Jobs one person may have queued or running at once.
    pub max_active_jobs: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_apps: 50, max_active_jobs: 2 }
    }
}

/// A draft app: described, not generated yet.
pub type Draft = kiln_core::AppDraft;

/// A queued generation.
pub type Created = kiln_core::AppCreated;

/// The generate pipeline. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Pipeline {
    db: Db,
    clock: Clock,
    sandbox: Sandbox,
    data_dir: PathBuf,
    limits: Limits,
    toolchain: toolchain::Toolchain,
    /// How long a claim lasts without a heartbeat.
    lease: Duration,
    /// The model that plans descriptions, when one is configured.
    llm: Option<kiln_llm::LlmPlanner>,
    /// Where version archives are kept (object storage; local disk by default).
    archives: Arc<dyn ObjectStore>,
    /// Deploys versions and serves them; without it jobs end at `packaged`.
    runtime: Option<kiln_runtime::Runtime>,
    /// The files of the live versions' archives, by archive key (archives never change), so
    /// that self-healing reads each archive once, not on every pass.
    healing_files: Arc<std::sync::Mutex<HashMap<String, Files>>>,
    /// The shared description documents, when collaboration is on.
    collab: Option<kiln_collab::Hub>,
    /// Tells owners that their app is live or that a generation failed.
    mail: Option<Mail>,
}

/// The emails the pipeline sends, and where the portal is (for links to the app page).
#[derive(Clone)]
pub struct Mail {
    pub mailer: Arc<kiln_mail::Mailer>,
    pub portal_url: String,
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail").field("portal_url", &self.portal_url).finish_non_exhaustive()
    }
}

impl Pipeline {
    pub fn new(db: Db, clock: Clock, sandbox: Sandbox, data_dir: PathBuf) -> Self {
        let toolchain = toolchain::Toolchain::new(sandbox.toolchain.clone());
        let dir = data_dir.join("archives");
        let _ = std::fs::create_dir_all(&dir);
        let archives: Arc<dyn ObjectStore> = match LocalFileSystem::new_with_prefix(&dir) {
            Ok(fs) => Arc::new(fs),
            // Unreachable in practice (the directory was just created); keep working in memory
            // and say so loudly rather than refusing to start.
            Err(e) => {
                tracing::error!(error = %e, dir = %dir.display(), "archive directory unusable; archives kept in memory");
                Arc::new(object_store::memory::InMemory::new())
            }
        };
        Self {
            db,
            clock,
            sandbox,
            data_dir,
            limits: Limits::default(),
            toolchain,
            lease: Duration::from_secs(30),
            llm: None,
            archives,
            runtime: None,
            healing_files: Arc::default(),
            collab: None,
            mail: None,
        }
    }

    /// Deploys every packaged version through `runtime` (jobs then end at `live`).
    /// The description is a shared document: saving one replaces its text (connected editors
    /// see it), and generating without a description reads it.
    pub fn with_collab(mut self, hub: kiln_collab::Hub) -> Self {
        self.collab = Some(hub);
        self
    }

    pub fn collab(&self) -> Option<&kiln_collab::Hub> {
        self.collab.as_ref()
    }

    pub fn with_runtime(mut self, runtime: kiln_runtime::Runtime) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// Emails the owner when an app goes live or a generation fails.
    pub fn with_mail(mut self, mail: Mail) -> Self {
        self.mail = Some(mail);
        self
    }

    /// The URL an app is served at, when a runtime serves apps.
    pub fn url_for(&self, slug: &str) -> Option<String> {
        self.runtime.as_ref().map(|r| r.url_for(slug))
    }

    /// How long a worker's claim lasts without a heartbeat (heartbeats come 6 times as often).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Keeps version archives in `store` instead of `$KILN_DATA_DIR/archives`.
    pub fn with_archive_store(mut self, store: Arc<dyn ObjectStore>) -> Self {
        self.archives = store;
        self
    }

    /// Plans through this model (falling back to the offline planner).
    pub fn with_llm(mut self, llm: Option<kiln_llm::LlmPlanner>) -> Self {
        self.llm = llm;
        self
    }

    /// The plan of a description: empty → 422, too long → 413; the model's plan when one is
    /// configured and answers validly, else the offline planner's.
    pub async fn plan(&self, description: &str) -> Result<kiln_llm::Planned, PipelineError> {
        kiln_planner::plan_description(description).map_err(PipelineError::Refused)?;
        Ok(self.planned(description.trim()).await)
    }

    /// The model's plan or the offline one. When the model failed, its details (the endpoint's
    /// address, its error text) go to the server log, not to the person.
    async fn planned(&self, description: &str) -> kiln_llm::Planned {
        let mut planned = kiln_llm::plan(self.llm.as_ref(), description).await;
        if planned.source == kiln_llm::PlanSource::Fallback {
            tracing::warn!(note = %planned.note, "the model could not plan a description");
            planned.note = "the model could not plan this description (the server log says why); \
                            planned offline"
                .to_owned();
        }
        planned
    }

    /// Whether plans come from a model (whose calls are rate-limited per person).
    pub fn uses_model(&self) -> bool {
        self.llm.is_some()
    }

    /// Asks a job of `owner_id`'s to stop at its next stage boundary; 409 when it has finished.
    pub async fn cancel(&self, owner_id: i64, job_id: i64) -> Result<(), PipelineError> {
        self.job_status(owner_id, job_id, i64::MAX).await?;
        if !jobs::request_cancel(&self.db, job_id, self.clock.now()).await? {
            return Err(PipelineError::Refused(ApiError::new(
                ErrorCode::Conflict,
                "The job has already finished.",
            )));
        }
        Ok(())
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The JS toolchain the checks use (installed in the background when missing).
    pub fn toolchain(&self) -> &toolchain::Toolchain {
        &self.toolchain
    }

    /// In the transaction that adds the app, after `users::lock`: concurrent requests of one
    /// person are counted one after the other.
    async fn check_app_limit(&self, tx: &mut Tx, owner_id: i64) -> Result<(), PipelineError> {
        if apps::count_by_owner_tx(tx, owner_id).await? >= self.limits.max_apps {
            return Err(PipelineError::Refused(ApiError::new(
                ErrorCode::RateLimited,
                format!(
                    "You have reached the limit of {} apps on this instance.",
                    self.limits.max_apps
                ),
            )));
        }
        Ok(())
    }

    async fn check_job_limit(&self, tx: &mut Tx, owner_id: i64) -> Result<(), PipelineError> {
        let active = jobs::active_count_for_owner_tx(tx, owner_id).await?;
        if active >= self.limits.max_active_jobs {
            let mut e = ApiError::new(
                ErrorCode::RateLimited,
                format!(
                    "You already have {active} generation(s) running; at most {} may run at once. \
                     Try again when one has finished.",
                    self.limits.max_active_jobs
                ),
            );
            e.retry_after = Some(10);
            return Err(PipelineError::Refused(e));
        }
        Ok(())
    }

    fn checked_name(
        name: Option<&str>,
        spec: Option<&AppSpec>,
        planned: impl FnOnce() -> String,
    ) -> Result<String, PipelineError> {
        let name = name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .or_else(|| spec.map(|s| s.name.clone()))
            .unwrap_or_else(planned);
        if name.chars().count() > 80 {
            return Err(PipelineError::Refused(ApiError::invalid(
                "name",
                "Use at most 80 characters.",
            )));
        }
        Ok(name)
    }

    /// Stores a draft app (no job): people can describe it before generating.
    pub async fn create_draft(
        &self,
        owner_id: i64,
        description: &str,
        name: Option<&str>,
    ) -> Result<Draft, PipelineError> {
        let named = name.is_some_and(|n| !n.trim().is_empty());
        // A named draft may start empty; otherwise the description is what names it.
        let planned = if named && description.trim().is_empty() {
            None
        } else {
            Some(kiln_planner::plan_description(description).map_err(PipelineError::Refused)?)
        };
        let name = Self::checked_name(name, None, || {
            planned.as_ref().map(|p| p.name.clone()).unwrap_or_default()
        })?;
        let slug = self.free_slug(&name).await?;
        let mut tx = self.db.begin_write().await?;
        users::lock(&mut tx, owner_id).await?;
        self.check_app_limit(&mut tx, owner_id).await?;
        let app_id =
            apps::insert(&mut tx, owner_id, &name, &slug, description.trim(), self.clock.now())
                .await?;
        apps::add_description(
            &mut tx,
            app_id,
            description.trim(),
            Some(owner_id),
            self.clock.now(),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(app_id, %slug, "draft app created");
        Ok(Draft { app_id, slug })
    }

    /// Queues a generation of an existing app: with `description`, that becomes the app's
    /// description; with `spec`, the reviewed plan is used as is. 409 naming the running job
    /// when the app already has one.
    pub async fn generate(
        &self,
        owner_id: i64,
        app_id: i64,
        description: Option<&str>,
        spec: Option<AppSpec>,
        confirm_data_loss: bool,
    ) -> Result<Created, PipelineError> {
        let app = self.owned_app(owner_id, app_id).await?;
        if let Some(running) = jobs::active_for_app(&self.db, app_id).await? {
            return Err(Self::busy(&running));
        }
        let given = description.is_some() && !confirm_data_loss;
        let payload = if confirm_data_loss {
            // Deploy the version that stopped, exactly as it was planned.
            let waiting = jobs::latest_for_app(&self.db, app_id)
                .await?
                .filter(|j| j.state == "awaiting_confirmation")
                .ok_or_else(|| {
                    PipelineError::Refused(ApiError::new(
                        ErrorCode::Conflict,
                        "No generation of this app is waiting for a confirmation.",
                    ))
                })?;
            let version = apps::versions(&self.db, app_id)
                .await?
                .into_iter()
                .find(|v| v.job_id == waiting.id)
                .map(|v| v.version)
                // Never re-plan under a confirmation: only the version the owner was shown.
                .ok_or_else(|| {
                    PipelineError::Refused(ApiError::new(
                        ErrorCode::Conflict,
                        "The version waiting for confirmation is gone; generate again.",
                    ))
                })?;
            let old: Payload = serde_json::from_str(&waiting.payload).map_err(|e| {
                PipelineError::Refused(ApiError::new(
                    ErrorCode::Internal,
                    format!("The waiting job's payload is unreadable: {e}"),
                ))
            })?;
            Payload { confirm_data_loss: true, deploy_version: Some(version), ..old }
        } else {
            // Without a description given: what the shared document says now.
            let shared = match (&self.collab, description) {
                (Some(hub), None) => match hub.text(app_id).await {
                    Ok(t) => Some(t),
                    Err(e) => {
                        tracing::warn!(app_id, error = %e, "reading the shared description");
                        None
                    }
                },
                _ => None,
            };
            let description = description
                .or(shared.as_deref())
                .map(str::trim)
                .unwrap_or(app.description.as_str());
            kiln_planner::plan_description(description).map_err(PipelineError::Refused)?;
            if let Some(s) = &spec {
                s.validate().map_err(PipelineError::Refused)?;
            }
            Payload {
                description: description.to_owned(),
                spec,
                confirm_data_loss: false,
                deploy_version: None,
                rollback: false,
            }
        };
        let description = payload.description.clone();
        let description = description.as_str();
        let payload = serde_json::to_string(&payload).expect("payload serialises");
        let now = self.clock.now();
        let mut tx = self.db.begin_write().await?;
        users::lock(&mut tx, owner_id).await?;
        self.check_job_limit(&mut tx, owner_id).await?;
        if description != app.description {
            apps::add_description(&mut tx, app_id, description, Some(owner_id), now).await?;
        }
        let job_id = match jobs::enqueue(&mut tx, app_id, "generate", &payload, 3, now).await {
            Ok(id) => id,
            // Raced with another request: name the job that won.
            Err(StoreError::Conflict(_)) => {
                drop(tx);
                return Err(match jobs::active_for_app(&self.db, app_id).await? {
                    Some(j) => Self::busy(&j),
                    None => PipelineError::Refused(ApiError::new(
                        ErrorCode::Conflict,
                        "Another generation of this app has just started.",
                    )),
                });
            }
            Err(e) => return Err(e.into()),
        };
        tx.commit().await?;
        tracing::info!(app_id, job_id, "generation queued");
        if given {
            self.share_description(app_id, description).await;
        }
        Ok(Created { app_id, job_id, slug: app.slug })
    }

    /// Self-healing, one pass over the live apps (see [`Pipeline::heal_pass`]).
    pub async fn heal(&self) -> Result<usize, StoreError> {
        self.heal_pass(false).await
    }

    /// Self-healing, one pass over the live apps. A live version whose files are missing,
    /// unreadable or changed is written again from its archive; storage that does not answer
    /// is reopened (or, if its file or schema is gone or unreadable, started again empty with
    /// the old file set aside); with `thorough` (at start-up) every live version is also
    /// smoke-checked in place. Whatever was wrong, the version is then deployed again in place
    /// (migration, which recreates missing tables, and the smoke check); if that fails, the
    /// previous version that was live is rolled back to. Each repair is recorded as a finished
    /// `heal` job (its lines are events on the app page) and emailed to the owner. Apps with a
    /// job in progress are left to it. Returns how many apps were repaired.
    pub async fn heal_pass(&self, thorough: bool) -> Result<usize, StoreError> {
        let Some(rt) = &self.runtime else { return Ok(0) };
        let mut healed = 0;
        let mut seen = Vec::new();
        for app in apps::live_apps(&self.db).await? {
            let Some(v) = app.live_version else { continue };
            if jobs::active_for_app(&self.db, app.id).await?.is_some() {
                continue;
            }
            let Some(row) = apps::version(&self.db, app.id, v).await? else { continue };
            seen.push(row.archive.clone());
            let spec = serde_json::from_str::<AppSpec>(&row.spec).map_err(|e| e.to_string());
            let files = self.live_files(&row.archive).await;
            let damaged = match &files {
                Ok(f) => rt.damaged_files(app.id, v, f),
                Err(_) => rt.damaged_basics(app.id, v),
            };
            let storage = rt.heal_storage(app.id, &app.slug).await;
            let smoke = match (&spec, thorough && damaged.is_empty() && storage == Ok(None)) {
                (Ok(spec), true) => rt.check_live(app.id, v, spec).await,
                _ => Ok(()),
            };
            if damaged.is_empty() && storage == Ok(None) && smoke.is_ok() {
                continue;
            }
            // Still this version, still live, and no job started meanwhile (a deletion clears
            // the live version first)?
            let current = apps::get(&self.db, app.id).await?;
            if current.and_then(|a| a.live_version) != Some(v)
                || jobs::active_for_app(&self.db, app.id).await?.is_some()
            {
                continue;
            }
            let mut lines = Vec::new();
            let mut failed = None;
            if !damaged.is_empty() {
                let shown: Vec<&str> = damaged.iter().take(5).map(String::as_str).collect();
                lines.push(format!(
                    "the live version {v} was damaged: {} file(s) missing or changed ({}{})",
                    damaged.len(),
                    shown.join(", "),
                    if damaged.len() > shown.len() { ", …" } else { "" }
                ));
                match &files {
                    Ok(f) => match rt.restore_files(app.id, v, f) {
                        Ok(()) => lines
                            .push(format!("version {v}'s files were restored from its archive")),
                        Err(e) => failed = Some(format!("version {v} could not be restored ({e})")),
                    },
                    Err(e) => failed = Some(format!("version {v} could not be restored ({e})")),
                }
            }
            match &storage {
                Ok(None) => {}
                Ok(Some(what)) => lines.push(format!("the app's storage: {what}")),
                Err(e) => {
                    tracing::error!(app_id = app.id, error = %e, "an app's storage does not answer");
                    failed.get_or_insert(format!("the app's storage: {e}"));
                }
            }
            if let Err(e) = &smoke {
                lines.push(format!("version {v} failed its smoke check at start-up ({e})"));
            }
            if failed.is_none() {
                // Deploy the same version again in place: files, tables, smoke check.
                let again = match (&spec, &files) {
                    (Ok(spec), Ok(f)) => rt
                        .deploy(app.id, v, spec, f, kiln_runtime::Policy::Ask)
                        .await
                        .map_err(|e| e.to_string()),
                    (Err(e), _) => Err(format!("its plan is unreadable: {e}")),
                    (_, Err(e)) => Err(e.clone()),
                };
                match again {
                    Ok(_) => lines.push(format!("version {v} was checked again and serves")),
                    Err(e) => failed = Some(format!("version {v} still fails ({e})")),
                }
            }
            if let Some(why) = failed {
                lines.push(why);
                let previous = apps::versions(&self.db, app.id)
                    .await?
                    .into_iter()
                    .find(|o| o.version != v && o.live_at.is_some());
                match previous {
                    Some(p) => match self.rollback(app.owner_id, app.id, p.version).await {
                        Ok(c) => lines.push(format!(
                            "rolling back to version {} (job {})",
                            p.version, c.job_id
                        )),
                        Err(e) => lines.push(format!("rolling back failed: {e}")),
                    },
                    None => lines.push("no earlier version to roll back to".into()),
                }
            }
            rt.invalidate(&app.slug);
            tracing::warn!(app_id = app.id, ?lines, "healed an app");
            let now = self.clock.now();
            let mut tx = self.db.begin_write().await?;
            jobs::record_done(&mut tx, app.id, "heal", "live", &lines, now).await?;
            let ctx = serde_json::json!({
                "app": app.name, "url": rt.url_for(&app.slug), "lines": lines,
                "link": self.app_link(app.id),
            });
            self.queue_mail(&mut tx, app.owner_id, "app_healed", &ctx).await;
            tx.commit().await?;
            healed += 1;
        }
        // Archives of versions no longer live are forgotten.
        if let Ok(mut cache) = self.healing_files.lock() {
            cache.retain(|key, _| seen.contains(key));
        }
        Ok(healed)
    }

    /// Start-up recovery, before any worker runs: on SQLite (one process) jobs the previous run
    /// held are released at once instead of when their leases run out, so an interrupted
    /// deployment is finished by a worker now; what interrupted work left on disk is removed
    /// (half-written version directories, versions unpacked but never switched to whose job has
    /// ended, directories of deleted apps). Returns how many jobs and paths it recovered.
    pub async fn recover_at_start(&self) -> Result<(usize, usize), StoreError> {
        let released = if self.db.backend() == kiln_store::Backend::Sqlite {
            jobs::release_all_leases(&self.db, self.clock.now()).await?
        } else {
            0
        };
        let Some(rt) = &self.runtime else { return Ok((released as usize, 0)) };
        let mut keep = HashMap::new();
        for app in apps::all_ids(&self.db).await? {
            let busy = jobs::active_for_app(&self.db, app.0).await?.is_some();
            let versions = if busy {
                apps::versions(&self.db, app.0).await?.into_iter().map(|v| v.version).collect()
            } else {
                app.1.into_iter().collect()
            };
            // A half-written directory may belong to a job running on another replica; with
            // SQLite (one process) nothing else is running yet.
            let shared = self.db.backend() != kiln_store::Backend::Sqlite;
            keep.insert(app.0, (versions, busy && shared));
        }
        let removed = rt.sweep(|id| keep.get(&id).cloned());
        if released > 0 || !removed.is_empty() {
            tracing::warn!(released, removed = ?removed, "recovered interrupted work at start-up");
        }
        Ok((released as usize, removed.len()))
    }

    /// A live version's files from its archive, read once and then kept (see `healing_files`).
    async fn live_files(&self, key: &str) -> Result<Files, String> {
        if let Some(f) = self.healing_files.lock().ok().and_then(|c| c.get(key).cloned()) {
            return Ok(f);
        }
        let files = Arc::new(self.archive_files(key).await?);
        if let Ok(mut cache) = self.healing_files.lock() {
            cache.insert(key.to_owned(), files.clone());
        }
        Ok(files)
    }

    /// Runs [`Pipeline::heal`] now and then every `every` until `stop` turns true.
    /// The first pass (at start-up) is thorough: it smoke-checks every live version too.
    pub async fn heal_loop(self, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut thorough = true;
        loop {
            if let Err(e) = self.heal_pass(std::mem::take(&mut thorough)).await {
                tracing::error!(error = %e, "self-healing pass failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Deletes an app: undeploys it, then removes its end-user data, files, history (the git
    /// repository), archives and database rows. 409 while a job runs (cancel it first). A crash
    /// part-way leaves the app listed, so deleting it again finishes the work.
    pub async fn delete_app(&self, owner_id: i64, app_id: i64) -> Result<(), PipelineError> {
        let app = self.owned_app(owner_id, app_id).await?;
        if let Some(running) = jobs::active_for_app(&self.db, app_id).await? {
            return Err(Self::busy(&running));
        }
        let failed = |what: &str, e: String| {
            tracing::error!(app_id, error = %e, "deleting an app: {what}");
            PipelineError::Refused(ApiError::new(
                ErrorCode::Internal,
                format!("The app could not be deleted completely ({what}); try again."),
            ))
        };
        apps::clear_live(&self.db, app_id).await?;
        if let Some(rt) = &self.runtime {
            rt.undeploy(app_id, &app.slug).await.map_err(|e| failed("its data", e.0))?;
        }
        let repo = self.data_dir.join("repos").join(app_id.to_string());
        match std::fs::remove_dir_all(&repo) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(failed("its history", e.to_string())),
        }
        for v in apps::versions(&self.db, app_id).await? {
            let gone = if v.archive.starts_with('/') {
                match std::fs::remove_file(&v.archive) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
                    _ => Ok(()),
                }
            } else {
                match self.archives.delete(&ObjPath::from(v.archive.as_str())).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(e.to_string()),
                }
            };
            gone.map_err(|e| failed("its archives", e))?;
        }
        // The archives' folder, now empty, on the default local store.
        let _ = std::fs::remove_dir(self.data_dir.join("archives").join(app_id.to_string()));
        apps::delete(&self.db, app_id).await?;
        if let Some(hub) = &self.collab {
            hub.close_app(app_id, "this app was deleted").await;
        }
        tracing::info!(app_id, slug = %app.slug, "app deleted");
        Ok(())
    }

    /// Rolls the app back (or forward) to `version`, one that has been live before: a job that
    /// deploys it as it was. End-user data is never deleted: what the older plan cannot show
    /// is kept hidden and comes back with a later version.
    pub async fn rollback(
        &self,
        owner_id: i64,
        app_id: i64,
        version: i64,
    ) -> Result<Created, PipelineError> {
        let app = self.owned_app(owner_id, app_id).await?;
        let refuse = |code, m: String| PipelineError::Refused(ApiError::new(code, m));
        let row = apps::version(&self.db, app_id, version).await?.ok_or_else(|| {
            refuse(ErrorCode::NotFound, format!("This app has no version {version}."))
        })?;
        if row.live_at.is_none() {
            return Err(refuse(
                ErrorCode::Conflict,
                format!(
                    "Version {version} was never live; only versions that were can be rolled back to."
                ),
            ));
        }
        if app.live_version == Some(version) {
            return Err(refuse(ErrorCode::Conflict, format!("Version {version} is already live.")));
        }
        if let Some(running) = jobs::active_for_app(&self.db, app_id).await? {
            return Err(Self::busy(&running));
        }
        let payload = serde_json::to_string(&Payload {
            description: row.description.clone(),
            spec: None,
            confirm_data_loss: false,
            deploy_version: Some(version),
            rollback: true,
        })
        .expect("payload serialises");
        let now = self.clock.now();
        let mut tx = self.db.begin_write().await?;
        users::lock(&mut tx, owner_id).await?;
        self.check_job_limit(&mut tx, owner_id).await?;
        let job_id = match jobs::enqueue(&mut tx, app_id, "rollback", &payload, 3, now).await {
            Ok(id) => id,
            Err(StoreError::Conflict(_)) => {
                drop(tx);
                return Err(match jobs::active_for_app(&self.db, app_id).await? {
                    Some(j) => Self::busy(&j),
                    None => refuse(
                        ErrorCode::Conflict,
                        "Another job of this app has just started.".into(),
                    ),
                });
            }
            Err(e) => return Err(e.into()),
        };
        tx.commit().await?;
        tracing::info!(app_id, job_id, version, "rollback queued");
        Ok(Created { app_id, job_id, slug: app.slug })
    }

    /// Stores a new description version of an app (`POST /api/apps/{id}/description`); returns
    /// its number. Empty → 422, too long → 413, as for generating.
    pub async fn set_description(
        &self,
        owner_id: i64,
        app_id: i64,
        description: &str,
    ) -> Result<i64, PipelineError> {
        self.owned_app(owner_id, app_id).await?;
        let description = description.trim();
        kiln_planner::plan_description(description).map_err(PipelineError::Refused)?;
        let mut tx = self.db.begin_write().await?;
        let n =
            apps::add_description(&mut tx, app_id, description, Some(owner_id), self.clock.now())
                .await?;
        tx.commit().await?;
        self.share_description(app_id, description).await;
        Ok(n)
    }

    /// Makes the shared document say `description` (a server-side edit its editors see).
    async fn share_description(&self, app_id: i64, description: &str) {
        if let Some(hub) = &self.collab
            && let Err(e) = hub.replace_text(app_id, description).await
        {
            tracing::warn!(app_id, error = %e, "updating the shared description");
        }
    }

    fn busy(job: &jobs::JobRow) -> PipelineError {
        PipelineError::Refused(ApiError::new(
            ErrorCode::Conflict,
            format!(
                "Job {} is already {} for this app; wait for it or cancel it \
                 (POST /api/jobs/{}/cancel).",
                job.id,
                if job.state == "queued" {
                    "queued".to_owned()
                } else {
                    format!("running ({})", job.state)
                },
                job.id
            ),
        ))
    }

    /// The app if `owner_id` owns it; 404 otherwise (another person's app does not exist).
    pub async fn owned_app(
        &self,
        owner_id: i64,
        app_id: i64,
    ) -> Result<apps::AppRow, PipelineError> {
        match apps::get(&self.db, app_id).await? {
            Some(a) if a.owner_id == owner_id => Ok(a),
            _ => Err(PipelineError::Refused(ApiError::new(ErrorCode::NotFound, "No such app."))),
        }
    }

    /// A job of one of `owner_id`'s apps, with its events after `after_event`.
    pub async fn job_status(
        &self,
        owner_id: i64,
        job_id: i64,
        after_event: i64,
    ) -> Result<JobStatus, PipelineError> {
        let job = jobs::get(&self.db, job_id).await?.ok_or_else(|| {
            PipelineError::Refused(ApiError::new(ErrorCode::NotFound, "No such job."))
        })?;
        self.owned_app(owner_id, job.app_id).await?;
        self.status_of(job, after_event).await
    }

    async fn status_of(
        &self,
        job: jobs::JobRow,
        after_event: i64,
    ) -> Result<JobStatus, PipelineError> {
        let events = jobs::events(&self.db, job.id, after_event)
            .await?
            .into_iter()
            .map(|e| JobEvent {
                id: e.id,
                at: e.at,
                kind: e.kind,
                state: e.state,
                progress: e.progress,
                message: e.message,
            })
            .collect();
        // A job that failed keeps the reason in `error` (one awaiting confirmation, what would be
        // lost); one still retrying shows it in events.
        let error = if job.state == "failed" || job.state == "awaiting_confirmation" {
            job.error
        } else {
            None
        };
        let url = if job.state == "live" {
            match apps::get(&self.db, job.app_id).await? {
                Some(a) => self.url_for(&a.slug),
                None => None,
            }
        } else {
            None
        };
        Ok(JobStatus {
            job_id: job.id,
            app_id: job.app_id,
            state: job.state,
            progress: job.progress,
            events,
            url,
            error,
            created_at: job.created_at,
            finished_at: job.finished_at,
        })
    }

    /// The app page: the app, its versions (newest first) and its newest job.
    /// An app as its page shows it, to anyone with a role on it.
    pub async fn app_detail(&self, user_id: i64, app_id: i64) -> Result<AppDetail, PipelineError> {
        let role =
            kiln_store::collab::role_of(&self.db, app_id, user_id).await?.ok_or_else(|| {
                PipelineError::Refused(ApiError::new(ErrorCode::NotFound, "No such app."))
            })?;
        let a = apps::get(&self.db, app_id).await?.ok_or_else(|| {
            PipelineError::Refused(ApiError::new(ErrorCode::NotFound, "No such app."))
        })?;
        let rows = apps::versions(&self.db, app_id).await?;
        let spec = rows.first().and_then(|v| serde_json::from_str(&v.spec).ok());
        let versions = rows
            .into_iter()
            .map(|v| VersionInfo {
                version: v.version,
                job_id: v.job_id,
                git_commit: v.git_commit,
                files: v.files,
                description: v.description,
                changes: v.changes,
                created_at: v.created_at,
                live_at: v.live_at,
            })
            .collect();
        let job = match jobs::latest_for_app(&self.db, app_id).await? {
            Some(j) => Some(self.status_of(j, 0).await?),
            None => None,
        };
        let url = a.live_version.and_then(|_| self.url_for(&a.slug));
        Ok(AppDetail {
            id: a.id,
            name: a.name,
            slug: a.slug,
            description: a.description,
            created_at: a.created_at,
            versions,
            job,
            spec,
            url,
            live_version: a.live_version,
            role: role.as_str().to_owned(),
            collaborative: self.collab.is_some(),
            you: users::by_id(&self.db, user_id).await?.map(|u| u.email).unwrap_or_default(),
        })
    }

    /// The archive of one version (the newest when `version` is `None`): the app's slug, the
    /// version and the zip.
    pub async fn archive(
        &self,
        owner_id: i64,
        app_id: i64,
        version: Option<i64>,
    ) -> Result<(String, i64, Vec<u8>), PipelineError> {
        let a = self.owned_app(owner_id, app_id).await?;
        let row = match version {
            Some(v) => apps::version(&self.db, app_id, v).await?,
            None => apps::versions(&self.db, app_id).await?.into_iter().next(),
        };
        let row = row.ok_or_else(|| {
            PipelineError::Refused(ApiError::new(
                ErrorCode::NotFound,
                match version {
                    Some(v) => format!("This app has no version {v}."),
                    None => "This app has no generated version yet.".to_owned(),
                },
            ))
        })?;
        // Versions stored before archives moved to the object store name a file path.
        let bytes = if row.archive.starts_with('/') {
            tokio::fs::read(&row.archive).await.map_err(|e| e.to_string())
        } else {
            match self.archives.get(&ObjPath::from(row.archive.as_str())).await {
                Ok(got) => got.bytes().await.map(|b| b.to_vec()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
        .map_err(|e| {
            tracing::error!(error = %e, key = %row.archive, "reading an archive failed");
            PipelineError::Refused(ApiError::new(
                ErrorCode::Internal,
                "The archive of this version could not be read.",
            ))
        })?;
        Ok((a.slug, row.version, bytes))
    }

    /// Stores a new app with its queued generate job, in one transaction.
    pub async fn create_app(
        &self,
        owner_id: i64,
        description: &str,
        name: Option<&str>,
        spec: Option<AppSpec>,
    ) -> Result<Created, PipelineError> {
        // The same checks as planning: empty → 422, too long → 413.
        let planned =
            kiln_planner::plan_description(description).map_err(PipelineError::Refused)?;
        if let Some(s) = &spec {
            s.validate().map_err(PipelineError::Refused)?;
        }
        let name = Self::checked_name(name, spec.as_ref(), || planned.name)?;
        let slug = self.free_slug(&name).await?;
        let payload = serde_json::to_string(&Payload {
            description: description.trim().to_owned(),
            spec,
            confirm_data_loss: false,
            deploy_version: None,
            rollback: false,
        })
        .expect("payload serialises");
        let now = self.clock.now();
        let mut tx = self.db.begin_write().await?;
        users::lock(&mut tx, owner_id).await?;
        self.check_app_limit(&mut tx, owner_id).await?;
        self.check_job_limit(&mut tx, owner_id).await?;
        let app_id = apps::insert(&mut tx, owner_id, &name, &slug, description.trim(), now).await?;
        apps::add_description(&mut tx, app_id, description.trim(), Some(owner_id), now).await?;
        let job_id = jobs::enqueue(&mut tx, app_id, "generate", &payload, 3, now).await?;
        tx.commit().await?;
        tracing::info!(app_id, job_id, %slug, "app created, generation queued");
        Ok(Created { app_id, job_id, slug })
    }

    async fn free_slug(&self, name: &str) -> Result<String, StoreError> {
        let mut base = kiln_core::spec::slugify(name);
        if base.is_empty() || kiln_core::spec::RESERVED_SLUGS.contains(&base.as_str()) {
            base = format!("app-{base}").trim_end_matches('-').to_owned();
        }
        base.truncate(55);
        let mut slug = base.clone();
        let mut n = 2;
        while apps::slug_taken(&self.db, &slug).await? {
            slug = format!("{base}-{n}");
            n += 1;
        }
        Ok(slug)
    }

    /// Claims and runs the next due job; `Ok(None)` when there is none.
    pub async fn run_next(&self, worker: &str) -> Result<Option<i64>, StoreError> {
        let lease_ms = self.lease.as_millis() as i64;
        let Some(job) = jobs::claim(&self.db, worker, self.clock.now(), lease_ms).await? else {
            return Ok(None);
        };
        let id = job.id;
        // Keep the lease while the stages run.
        // Keep the lease while the stages run; the guard stops the heartbeat however this
        // function ends (a panic included), so a stuck job's lease runs out.
        let _beat = AbortOnDrop({
            let (db, clock, w) = (self.db.clone(), self.clock.clone(), worker.to_owned());
            let every = self.lease / 6;
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    match jobs::heartbeat(&db, id, &w, clock.now(), lease_ms).await {
                        Ok(true) => {}
                        // Another worker has the job now.
                        Ok(false) => return,
                        // A storage hiccup: try again at the next beat (the lease has 5 more).
                        Err(e) => tracing::warn!(job_id = id, error = %e, "heartbeat failed"),
                    }
                }
            })
        });
        let result = self.run_stages(&job, worker).await;
        drop(_beat);
        match result {
            Ok(()) => {}
            Err(Stop::Cancelled) => {
                jobs::finish(
                    &self.db,
                    id,
                    worker,
                    "cancelled",
                    Some("cancelled by the owner"),
                    self.clock.now(),
                )
                .await?;
            }
            Err(Stop::Failed(why)) => {
                tracing::warn!(job_id = id, %why, "generation failed");
                let mut tx = self.db.begin_write().await?;
                if jobs::finish_tx(&mut tx, id, worker, "failed", Some(&why), self.clock.now())
                    .await?
                    && let Some(app) = apps::get(&self.db, job.app_id).await?
                {
                    let ctx = serde_json::json!({
                        "app": app.name, "reason": why, "hint": hint_for(&why),
                        "link": self.app_link(app.id),
                    });
                    self.queue_mail(&mut tx, app.owner_id, "generation_failed", &ctx).await;
                }
                tx.commit().await?;
            }
            Err(Stop::Transient(why)) => {
                let delay = 5_000 * (1 << job.attempts.clamp(0, 6));
                jobs::retry_later(
                    &self.db,
                    id,
                    worker,
                    &why,
                    self.clock.now() + delay,
                    self.clock.now(),
                )
                .await?;
            }
            Err(Stop::LeaseLost) => {
                tracing::warn!(job_id = id, "lease lost; another worker has the job")
            }
        }
        Ok(Some(id))
    }

    async fn stage(
        &self,
        job: &jobs::JobRow,
        worker: &str,
        state: &str,
        progress: i64,
        message: &str,
    ) -> Result<(), Stop> {
        let current =
            jobs::get(&self.db, job.id).await.map_err(transient)?.ok_or(Stop::LeaseLost)?;
        if current.cancel_requested != 0 {
            return Err(Stop::Cancelled);
        }
        if !jobs::advance(&self.db, job.id, worker, state, progress, message, self.clock.now())
            .await
            .map_err(transient)?
        {
            return Err(Stop::LeaseLost);
        }
        Ok(())
    }

    async fn log(&self, job: &jobs::JobRow, message: &str) {
        if let Err(e) = jobs::log(&self.db, job.id, message, self.clock.now()).await {
            tracing::warn!(job_id = job.id, error = %e, "could not record a job event");
        }
    }

    /// Prettier, ESLint and `node --test` in the sandbox, once the toolchain is there.
    async fn run_checks(&self, job: &jobs::JobRow, work: &Path) -> Result<(), Stop> {
        if !self.toolchain.ready() {
            if self.toolchain.installing() {
                self.log(job, "waiting for the JS toolchain to finish installing").await;
            }
            if !self.toolchain.wait_ready(Duration::from_secs(20 * 60)).await {
                // Retried later: the installation may still finish, or an operator fix it.
                return Err(Stop::Transient(self.toolchain.problem()));
            }
        }
        let runs = kiln_codegen::check(&self.sandbox, work)
            .await
            .map_err(|e| Stop::Transient(e.to_string()))?;
        for r in &runs {
            self.log(job, &format!("{}: {}", r.tool, if r.passed { "passed" } else { "failed" }))
                .await;
        }
        if let Some(bad) = runs.iter().find(|r| !r.passed) {
            return Err(Stop::Failed(format!("{} failed:\n{}", bad.tool, bad.output)));
        }
        Ok(())
    }

    async fn run_stages(&self, job: &jobs::JobRow, worker: &str) -> Result<(), Stop> {
        let payload: Payload = serde_json::from_str(&job.payload)
            .map_err(|e| Stop::Failed(format!("the job's payload is unreadable: {e}")))?;
        if let Some(version) = payload.deploy_version {
            let what = if payload.rollback {
                format!("rolling back to version {version} (end users' data is kept)")
            } else {
                format!("deploying version {version}")
            };
            self.stage(job, worker, "deploying", 90, &what).await?;
            let app = apps::get(&self.db, job.app_id)
                .await
                .map_err(transient)?
                .ok_or(Stop::Failed("the app is gone".into()))?;
            let row = apps::version(&self.db, app.id, version)
                .await
                .map_err(transient)?
                .ok_or_else(|| Stop::Failed(format!("version {version} is gone")))?;
            let spec: AppSpec = serde_json::from_str(&row.spec).map_err(|e| {
                Stop::Failed(format!("version {version}'s plan is unreadable: {e}"))
            })?;
            let files = self.archive_files(&row.archive).await.map_err(Stop::Transient)?;
            return self
                .deploy_stage(job, worker, &app, version, &spec, &files, payload.policy())
                .await;
        }

        self.stage(job, worker, "planning", 10, "reading the description").await?;
        let policy = payload.policy();
        let spec = match payload.spec {
            Some(s) => {
                self.log(job, "using the reviewed plan").await;
                s
            }
            None => {
                let planned = self.planned(&payload.description).await;
                self.log(job, &planned.note).await;
                planned.spec
            }
        };
        let app = apps::get(&self.db, job.app_id)
            .await
            .map_err(transient)?
            .ok_or(Stop::Failed("the app is gone".into()))?;
        // The app's own name and slug are what it is known by.
        let spec = AppSpec { name: app.name.clone(), slug: app.slug.clone(), ..spec };
        spec.validate()
            .map_err(|e| Stop::Failed(format!("the plan is not valid: {}", e.message)))?;
        let _ = jobs::log(
            &self.db,
            job.id,
            &format!(
                "plan: {} entities ({})",
                spec.entities.len(),
                spec.entities.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", ")
            ),
            self.clock.now(),
        )
        .await;

        self.stage(job, worker, "generating", 30, "writing the files").await?;
        let tree = kiln_codegen::generate(&spec).map_err(|e| Stop::Failed(e.to_string()))?;
        // A scratch directory the sandbox's uid can reach (the data directory may be private).
        let work_root = std::env::temp_dir().join("kiln-work");
        let _ = std::fs::create_dir_all(&work_root);
        set_mode(&work_root, 0o711);
        // Named by instance and job (not process): a run after a crash replaces the dead one's.
        let instance = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            self.data_dir.hash(&mut h);
            h.finish()
        };
        let work = work_root.join(format!("{instance:016x}-job-{}", job.id));
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).map_err(|e| Stop::Transient(e.to_string()))?;
        set_mode(&work, 0o755);
        tree.write(&work).map_err(|e| Stop::Transient(e.to_string()))?;

        self.stage(job, worker, "checking", 50, "Prettier, ESLint and node --test in the sandbox")
            .await?;
        let cached = apps::has_tree(&self.db, app.id, &tree.key).await.map_err(transient)?;
        if cached {
            self.log(
                job,
                "the same plan and templates as an earlier version: its checked tree is reused",
            )
            .await;
        } else {
            self.run_checks(job, &work).await?;
        }

        self.stage(job, worker, "packaging", 80, "committing and archiving").await?;
        let repo = self.data_dir.join("repos").join(app.id.to_string());
        let (commit, changes) = commit_tree(
            &repo,
            &tree,
            &format!(
                "Generation {} — {}\n\nDescription:\n{}\n\nPlan: {} (template version {})",
                job.id,
                first_line(&payload.description),
                payload.description,
                spec.entities.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", "),
                kiln_codegen::TEMPLATE_VERSION
            ),
        )
        .await
        .map_err(Stop::Transient)?;
        let archive_path = format!("{}/job-{}.zip", app.id, job.id);
        let zip = zip_tree(&app.slug, &tree).map_err(|e| Stop::Transient(e.to_string()))?;
        // Written whole or not at all (the local store writes a temporary file and renames it).
        self.archives
            .put(&ObjPath::from(archive_path.as_str()), PutPayload::from(zip))
            .await
            .map_err(|e| Stop::Transient(format!("storing the archive: {e}")))?;
        let spec_json = serde_json::to_string(&spec).expect("spec serialises");
        let version = apps::record_version(
            &self.db,
            &apps::NewVersion {
                app_id: app.id,
                job_id: job.id,
                spec: &spec_json,
                git_commit: &commit,
                archive: &archive_path,
                files: tree.files.len() as i64,
                description: &payload.description,
                changes: &changes,
                tree_key: &tree.key,
            },
            self.clock.now(),
        )
        .await
        .map_err(transient)?;
        let _ = std::fs::remove_dir_all(&work);
        let _ = jobs::log(
            &self.db,
            job.id,
            &format!("version {version}: commit {commit}"),
            self.clock.now(),
        )
        .await;
        if self.runtime.is_none() {
            if !jobs::finish(&self.db, job.id, worker, "packaged", None, self.clock.now())
                .await
                .map_err(transient)?
            {
                return Err(Stop::LeaseLost);
            }
            tracing::info!(job_id = job.id, app_id = app.id, version, "packaged");
            return Ok(());
        }
        self.stage(
            job,
            worker,
            "deploying",
            90,
            "migrating the data, smoke-checking the new version, switching it live",
        )
        .await?;
        let files: Vec<(String, String)> = tree.files.into_iter().collect();
        self.deploy_stage(job, worker, &app, version, &spec, &files, policy).await
    }

    /// Unpacks, migrates and smoke-checks `version`, then switches it live, finishes the job and
    /// queues the owner's email in one transaction. A plan that would lose data stops the job in
    /// `awaiting_confirmation`; a failed check keeps the previous version live.
    #[allow(clippy::too_many_arguments)]
    async fn deploy_stage(
        &self,
        job: &jobs::JobRow,
        worker: &str,
        app: &apps::AppRow,
        version: i64,
        spec: &AppSpec,
        files: &[(String, String)],
        policy: kiln_runtime::Policy,
    ) -> Result<(), Stop> {
        let Some(runtime) = &self.runtime else {
            return Err(Stop::Failed("this Kiln has no runtime to deploy to".into()));
        };
        match runtime.deploy(app.id, version, spec, files, policy).await {
            Ok(report) => {
                for step in &report.steps {
                    self.log(job, &format!("migration: {step}")).await;
                }
                for lost in &report.lost {
                    self.log(job, &format!("confirmed data loss: {lost}")).await;
                }
                self.log(job, "smoke check passed: index page, health, create/read/delete on every collection").await;
                let url = runtime.url_for(&app.slug);
                // The storage is migrated for this version: switch to it now, on its own (a
                // storage hiccup is retried here rather than leaving the old version serving
                // migrated data until the whole job runs again).
                let mut tries = 0;
                loop {
                    match apps::set_live(&self.db, app.id, version, self.clock.now()).await {
                        Ok(()) => break,
                        Err(e) if tries < 5 => {
                            tries += 1;
                            tracing::warn!(app_id = app.id, error = %e, "switching the live version; retrying");
                            tokio::time::sleep(Duration::from_millis(200 << tries)).await;
                        }
                        Err(e) => return Err(transient(e)),
                    }
                }
                runtime.invalidate(&app.slug);
                let now = self.clock.now();
                let mut tx = self.db.begin_write().await.map_err(transient)?;
                if !jobs::finish_tx(&mut tx, job.id, worker, "live", None, now)
                    .await
                    .map_err(transient)?
                {
                    return Err(Stop::LeaseLost);
                }
                let ctx = serde_json::json!({
                    "app": app.name, "url": url, "version": version,
                    "link": self.app_link(app.id),
                });
                self.queue_mail(&mut tx, app.owner_id, "app_live", &ctx).await;
                tx.commit().await.map_err(transient)?;
                tracing::info!(job_id = job.id, app_id = app.id, version, %url, "live");
                Ok(())
            }
            Err(kiln_runtime::DeployError::DataLoss(losses)) => {
                for l in &losses {
                    self.log(job, &format!("would lose: {l}")).await;
                }
                let why = format!(
                    "The new plan would lose data: {}. Version {} stays live. Confirm to go ahead, \
                     or edit the plan.",
                    losses.join("; "),
                    app.live_version.map_or("none".to_owned(), |v| v.to_string())
                );
                let now = self.clock.now();
                let mut tx = self.db.begin_write().await.map_err(transient)?;
                if !jobs::finish_tx(
                    &mut tx,
                    job.id,
                    worker,
                    "awaiting_confirmation",
                    Some(&why),
                    now,
                )
                .await
                .map_err(transient)?
                {
                    return Err(Stop::LeaseLost);
                }
                let ctx = serde_json::json!({
                    "app": app.name, "losses": losses, "link": self.app_link(app.id),
                });
                self.queue_mail(&mut tx, app.owner_id, "app_needs_confirmation", &ctx).await;
                tx.commit().await.map_err(transient)?;
                Ok(())
            }
            Err(kiln_runtime::DeployError::Failed(why)) => Err(Stop::Failed(format!(
                "deploying version {version} failed ({why}); {}",
                match app.live_version {
                    Some(v) => format!("version {v} stays live"),
                    None => "nothing is live yet".to_owned(),
                }
            ))),
        }
    }

    fn app_link(&self, app_id: i64) -> String {
        match &self.mail {
            Some(m) => format!("{}/apps/{app_id}", m.portal_url.trim_end_matches('/')),
            None => format!("/apps/{app_id}"),
        }
    }

    /// Queues an email to the owner inside `tx`; a problem is logged, never fatal to the job.
    async fn queue_mail(
        &self,
        tx: &mut Tx,
        owner_id: i64,
        template: &str,
        ctx: &serde_json::Value,
    ) {
        let Some(mail) = &self.mail else { return };
        let owner = match users::by_id_tx(tx, owner_id).await {
            Ok(Some(u)) => u,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(owner_id, error = %e, "could not read the owner for an email");
                return;
            }
        };
        if let Err(e) = mail.mailer.enqueue(tx, &owner.email, template, ctx, self.clock.now()).await
        {
            tracing::error!(owner_id, template, error = %e, "could not queue an email");
        }
    }

    /// The files of an archived version (`<slug>/<path>` entries, the slug folder removed).
    async fn archive_files(&self, key: &str) -> Result<Vec<(String, String)>, String> {
        let bytes = if key.starts_with('/') {
            tokio::fs::read(key).await.map_err(|e| format!("reading {key}: {e}"))?
        } else {
            let got = self.archives.get(&ObjPath::from(key)).await.map_err(|e| e.to_string())?;
            got.bytes().await.map_err(|e| e.to_string())?.to_vec()
        };
        let mut zip =
            zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for i in 0..zip.len() {
            let mut f = zip.by_index(i).map_err(|e| e.to_string())?;
            if f.is_dir() {
                continue;
            }
            let name = f.name().map_err(|e| e.to_string())?.to_string();
            let rel = name.split_once('/').map_or(name.as_str(), |(_, r)| r).to_owned();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut f, &mut text).map_err(|e| format!("{name}: {e}"))?;
            out.push((rel, text));
        }
        Ok(out)
    }

    /// Runs jobs until `stop` turns true.
    pub async fn work(self, worker: String, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            let ran = match self.run_next(&worker).await {
                Ok(r) => r.is_some(),
                Err(e) => {
                    tracing::error!(error = %e, "worker could not read the job queue");
                    false
                }
            };
            if *stop.borrow() {
                return;
            }
            if !ran {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stop.changed() => return,
                }
            }
        }
    }

    /// The apps of one person with the state of their newest job, newest first: their own,
    /// then those shared with them (with their role).
    pub async fn list_apps(&self, owner_id: i64) -> Result<Vec<kiln_core::AppSummary>, StoreError> {
        let mut listed: Vec<(apps::AppRow, Option<String>)> =
            apps::by_owner(&self.db, owner_id).await?.into_iter().map(|a| (a, None)).collect();
        for (app_id, role) in kiln_store::collab::memberships(&self.db, owner_id).await? {
            if let Some(a) = apps::get(&self.db, app_id).await? {
                listed.push((a, Some(role.as_str().to_owned())));
            }
        }
        let mut out = Vec::new();
        for (a, role) in listed {
            let job = jobs::latest_for_app(&self.db, a.id).await?;
            let versions = apps::versions(&self.db, a.id).await?.len() as i64;
            let url = a.live_version.and_then(|_| self.url_for(&a.slug));
            out.push(kiln_core::AppSummary {
                url,
                id: a.id,
                name: a.name,
                slug: a.slug,
                created_at: a.created_at,
                state: job.as_ref().map(|j| j.state.clone()),
                job_id: job.map(|j| j.id),
                versions,
                role,
            });
        }
        Ok(out)
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

enum Stop {
    Cancelled,
    Failed(String),
    Transient(String),
    LeaseLost,
}

fn transient(e: StoreError) -> Stop {
    Stop::Transient(e.to_string())
}

/// What to try after a failure, in the owner's words.
fn hint_for(why: &str) -> &'static str {
    if why.contains("smoke check") {
        "The previous version is still live. Generate again; if it fails the same way, simplify the plan (fewer entities or fields) and report the build log."
    } else if why.contains("plan is not valid") {
        "Edit the plan on the app page so that every entity and field has a valid name, then generate again."
    } else {
        "Open the app page for the build log, adjust the description or the plan, and generate again."
    }
}

fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or("").trim();
    line.chars().take(72).collect()
}

fn set_mode(dir: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode));
    }
}

/// Replaces the repository's tree with `tree` and commits it (no commit when nothing changed);
/// returns the head commit and what changed against the previous commit.
async fn commit_tree(
    repo: &Path,
    tree: &kiln_codegen::Tree,
    message: &str,
) -> Result<(String, String), String> {
    std::fs::create_dir_all(repo).map_err(|e| e.to_string())?;
    let git = |args: Vec<String>| {
        let repo = repo.to_owned();
        async move {
            let out = tokio::process::Command::new("git")
                .arg("-C")
                .arg(&repo)
                .args([
                    "-c",
                    "user.name=Kiln",
                    "-c",
                    "user.email=kiln@localhost",
                    "-c",
                    "commit.gpgsign=false",
                ])
                .args(&args)
                .output()
                .await
                .map_err(|e| format!("git: {e}"))?;
            if out.status.success() {
                Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
            } else {
                Err(format!(
                    "git {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        }
    };
    // A process killed during `git add`/`commit` leaves the index lock behind. This job holds
    // the app's only active lease, so no other git process works on this repository.
    let _ = std::fs::remove_file(repo.join(".git/index.lock"));
    if !repo.join(".git").exists() {
        git(vec!["init".into(), "-q".into(), "-b".into(), "main".into()]).await?;
    }
    // Remove what the previous version had, then write this one.
    for entry in std::fs::read_dir(repo).map_err(|e| e.to_string())?.flatten() {
        if entry.file_name() != ".git" {
            let p = entry.path();
            let _ = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
        }
    }
    tree.write(repo).map_err(|e| e.to_string())?;
    git(vec!["add".into(), "-A".into()]).await?;
    let changed = git(vec!["status".into(), "--porcelain".into()]).await?;
    let first =
        git(vec!["rev-parse".into(), "-q".into(), "--verify".into(), "HEAD".into()]).await.is_err();
    let changes = if changed.is_empty() {
        "no files changed".to_owned()
    } else if first {
        format!("{} files added", tree.files.len())
    } else {
        git(vec!["diff".into(), "--cached".into(), "--shortstat".into()]).await?
    };
    if !changed.is_empty() {
        // The message says what was described and, last, what changed.
        let message = format!("{message}\nChanges: {}", changes.trim());
        git(vec!["commit".into(), "-q".into(), "-m".into(), message]).await?;
    }
    Ok((git(vec!["rev-parse".into(), "HEAD".into()]).await?, changes))
}

fn zip_tree(slug: &str, tree: &kiln_codegen::Tree) -> std::io::Result<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    for (rel, text) in &tree.files {
        zip.start_file(format!("{slug}/{rel}"), opts).map_err(std::io::Error::other)?;
        zip.write_all(text.as_bytes())?;
    }
    Ok(zip.finish().map_err(std::io::Error::other)?.into_inner())
}
