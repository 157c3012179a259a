#![doc = include_str!("../README.md")]

use kiln_core::{ApiError, AppSpec, ErrorCode};
use kiln_sandbox::Sandbox;
use kiln_store::{Clock, Db, StoreError, apps, jobs};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

const LEASE_MS: i64 = 30_000;
const HEARTBEAT: Duration = Duration::from_secs(5);

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

/// What a generate job carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payload {
    pub description: String,
    #[serde(default)]
    pub spec: Option<AppSpec>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Created {
    pub app_id: i64,
    pub job_id: i64,
    pub slug: String,
}

/// The generate pipeline. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Pipeline {
    db: Db,
    clock: Clock,
    sandbox: Sandbox,
    data_dir: PathBuf,
}

impl Pipeline {
    pub fn new(db: Db, clock: Clock, sandbox: Sandbox, data_dir: PathBuf) -> Self {
        Self { db, clock, sandbox, data_dir }
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
        let name = name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .or_else(|| spec.as_ref().map(|s| s.name.clone()))
            .unwrap_or(planned.name);
        if name.chars().count() > 80 {
            return Err(PipelineError::Refused(ApiError::invalid(
                "name",
                "Use at most 80 characters.",
            )));
        }
        let slug = self.free_slug(&name).await?;
        let payload =
            serde_json::to_string(&Payload { description: description.trim().to_owned(), spec })
                .expect("payload serialises");
        let now = self.clock.now();
        let mut tx = self.db.begin_write().await?;
        let app_id = apps::insert(&mut tx, owner_id, &name, &slug, description.trim(), now).await?;
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
        let Some(job) = jobs::claim(&self.db, worker, self.clock.now(), LEASE_MS).await? else {
            return Ok(None);
        };
        let id = job.id;
        // Keep the lease while the stages run.
        let beat = {
            let (db, clock, w) = (self.db.clone(), self.clock.clone(), worker.to_owned());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(HEARTBEAT).await;
                    if !jobs::heartbeat(&db, id, &w, clock.now(), LEASE_MS).await.unwrap_or(false) {
                        return;
                    }
                }
            })
        };
        let result = self.run_stages(&job, worker).await;
        beat.abort();
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
                jobs::finish(&self.db, id, worker, "failed", Some(&why), self.clock.now()).await?;
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

    async fn run_stages(&self, job: &jobs::JobRow, worker: &str) -> Result<(), Stop> {
        let payload: Payload = serde_json::from_str(&job.payload)
            .map_err(|e| Stop::Failed(format!("the job's payload is unreadable: {e}")))?;

        self.stage(job, worker, "planning", 10, "reading the description").await?;
        let spec = match payload.spec {
            Some(s) => s,
            None => kiln_planner::plan(&payload.description),
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
        let work = work_root.join(format!("{}-job-{}", std::process::id(), job.id));
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).map_err(|e| Stop::Transient(e.to_string()))?;
        set_mode(&work, 0o755);
        tree.write(&work).map_err(|e| Stop::Transient(e.to_string()))?;

        self.stage(job, worker, "checking", 50, "Prettier, ESLint and node --test in the sandbox")
            .await?;
        let installed = self
            .sandbox
            .toolchain
            .as_ref()
            .is_some_and(|t| t.join("node_modules/.bin/eslint").exists());
        if !installed {
            // Retried later: an operator can install it (scripts/setup --test) meanwhile.
            return Err(Stop::Transient(format!(
                "the JS toolchain is not installed in {} (run scripts/setup --test)",
                self.sandbox
                    .toolchain
                    .as_ref()
                    .map(|t| t.display().to_string())
                    .unwrap_or_default()
            )));
        }
        let runs = kiln_codegen::check(&self.sandbox, &work)
            .await
            .map_err(|e| Stop::Transient(e.to_string()))?;
        for r in &runs {
            let _ = jobs::log(
                &self.db,
                job.id,
                &format!("{}: {}", r.tool, if r.passed { "passed" } else { "failed" }),
                self.clock.now(),
            )
            .await;
        }
        if let Some(bad) = runs.iter().find(|r| !r.passed) {
            return Err(Stop::Failed(format!("{} failed:\n{}", bad.tool, bad.output)));
        }

        self.stage(job, worker, "packaging", 80, "committing and archiving").await?;
        let repo = self.data_dir.join("repos").join(app.id.to_string());
        let commit = commit_tree(
            &repo,
            &tree,
            &format!("Generation {} — {}", job.id, first_line(&payload.description)),
        )
        .await
        .map_err(Stop::Transient)?;
        let archives = self.data_dir.join("archives").join(app.id.to_string());
        std::fs::create_dir_all(&archives).map_err(|e| Stop::Transient(e.to_string()))?;
        let archive = archives.join(format!("job-{}.zip", job.id));
        write_zip(&archive, &app.slug, &tree).map_err(|e| Stop::Transient(e.to_string()))?;
        let spec_json = serde_json::to_string(&spec).expect("spec serialises");
        let version = apps::record_version(
            &self.db,
            app.id,
            job.id,
            &spec_json,
            &commit,
            &archive.display().to_string(),
            tree.files.len() as i64,
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
        if !jobs::finish(&self.db, job.id, worker, "packaged", None, self.clock.now())
            .await
            .map_err(transient)?
        {
            return Err(Stop::LeaseLost);
        }
        tracing::info!(job_id = job.id, app_id = app.id, version, "packaged");
        Ok(())
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

    /// The apps of one owner with the state of their newest job, newest first.
    pub async fn list_apps(&self, owner_id: i64) -> Result<Vec<kiln_core::AppSummary>, StoreError> {
        let mut out = Vec::new();
        for a in apps::by_owner(&self.db, owner_id).await? {
            let job = jobs::latest_for_app(&self.db, a.id).await?;
            let versions = apps::versions(&self.db, a.id).await?.len() as i64;
            out.push(kiln_core::AppSummary {
                id: a.id,
                name: a.name,
                slug: a.slug,
                created_at: a.created_at,
                state: job.as_ref().map(|j| j.state.clone()),
                job_id: job.map(|j| j.id),
                versions,
            });
        }
        Ok(out)
    }

    /// The archive of an app's newest version.
    pub async fn latest_archive(&self, app_id: i64) -> Result<Option<PathBuf>, StoreError> {
        Ok(apps::versions(&self.db, app_id).await?.first().map(|v| PathBuf::from(&v.archive)))
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
/// returns the head commit.
async fn commit_tree(
    repo: &Path,
    tree: &kiln_codegen::Tree,
    message: &str,
) -> Result<String, String> {
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
    if !changed.is_empty() {
        git(vec!["commit".into(), "-q".into(), "-m".into(), message.to_owned()]).await?;
    }
    git(vec!["rev-parse".into(), "HEAD".into()]).await
}

fn write_zip(path: &Path, slug: &str, tree: &kiln_codegen::Tree) -> std::io::Result<()> {
    let tmp = path.with_extension("zip.tmp");
    let file = std::fs::File::create(&tmp)?;
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    for (rel, text) in &tree.files {
        zip.start_file(format!("{slug}/{rel}"), opts).map_err(std::io::Error::other)?;
        zip.write_all(text.as_bytes())?;
    }
    let file = zip.finish().map_err(std::io::Error::other)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}
