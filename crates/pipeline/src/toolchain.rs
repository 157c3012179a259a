//! The JS toolchain generated apps are checked with (ESLint, Prettier at pinned versions),
//! installed into `KILN_TOOLCHAIN_DIR`. `kiln serve` installs it in the background when it is
//! missing or outdated; jobs that reach the check stage meanwhile wait, with an event saying so.
//! It is never installed during a check: the sandbox has no network.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The pinned toolchain, embedded so the binary can install it anywhere.
pub const PACKAGE_JSON: &str = include_str!("../../../toolchain/package.json");
pub const PACKAGE_LOCK: &str = include_str!("../../../toolchain/package-lock.json");

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Idle,
    Installing,
    Failed(String),
}

/// Where the toolchain is and whether it is being installed. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Toolchain {
    dir: Option<PathBuf>,
    state: Arc<Mutex<State>>,
}

impl Toolchain {
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self { dir, state: Arc::new(Mutex::new(State::Idle)) }
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    fn state(&self) -> State {
        self.state.lock().map(|s| s.clone()).unwrap_or(State::Idle)
    }

    fn set(&self, s: State) {
        if let Ok(mut g) = self.state.lock() {
            *g = s;
        }
    }

    /// Installed, and at the pinned versions.
    pub fn ready(&self) -> bool {
        let Some(dir) = &self.dir else { return false };
        // Another process may be installing into it right now.
        let installing = std::fs::metadata(dir.join(".kiln-installing"))
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().unwrap_or_default() < Duration::from_secs(1800));
        !installing
            && ["eslint", "prettier"].iter().all(|t| dir.join("node_modules/.bin").join(t).exists())
            && std::fs::read_to_string(dir.join("package-lock.json")).ok().as_deref()
                == Some(PACKAGE_LOCK)
    }

    pub fn installing(&self) -> bool {
        self.state() == State::Installing
    }

    /// Why the toolchain is not usable, for the job's events.
    pub fn problem(&self) -> String {
        let dir = self.dir.as_ref().map(|d| d.display().to_string()).unwrap_or_default();
        match self.state() {
            State::Failed(why) => format!("installing the JS toolchain into {dir} failed: {why}"),
            _ => format!(
                "the JS toolchain is not installed in {dir} (kiln serve installs it; or run \
                 scripts/setup --test)"
            ),
        }
    }

    /// Installs the toolchain in the background unless it is ready (or already installing).
    pub fn install_in_background(&self) -> Option<tokio::task::JoinHandle<()>> {
        if self.ready() || self.installing() {
            return None;
        }
        let dir = self.dir.clone()?;
        self.set(State::Installing);
        let me = self.clone();
        Some(tokio::spawn(async move {
            tracing::info!(dir = %dir.display(), "installing the JS toolchain for generated apps");
            match install(&dir).await {
                Ok(()) if me.ready() => {
                    tracing::info!(dir = %dir.display(), "JS toolchain installed");
                    me.set(State::Idle);
                }
                Ok(()) => me.set(State::Failed("npm finished but eslint is missing".into())),
                Err(why) => {
                    tracing::error!(%why, "installing the JS toolchain failed");
                    me.set(State::Failed(why));
                }
            }
        }))
    }

    /// Waits while an installation runs (at most `limit`); true when the toolchain is ready.
    pub async fn wait_ready(&self, limit: Duration) -> bool {
        let until = tokio::time::Instant::now() + limit;
        while self.installing() && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        self.ready()
    }
}

async fn install(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    // The sandbox's uid must be able to read it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
    }
    // Another process (a second `kiln serve` or `kiln worker`) may be installing: one at a time.
    let lock = dir.join(".kiln-installing");
    let stale = std::fs::metadata(&lock)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(1800));
    if stale {
        let _ = std::fs::remove_file(&lock);
    }
    if std::fs::OpenOptions::new().write(true).create_new(true).open(&lock).is_err() {
        // Wait for the other installer.
        for _ in 0..1800 {
            if !lock.exists() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        return Err("another installation did not finish within 30 minutes".into());
    }
    let result = async {
        std::fs::write(dir.join("package.json"), PACKAGE_JSON).map_err(|e| e.to_string())?;
        // `npm ci` needs the lock file first; `ready` stays false meanwhile because of the
        // `.kiln-installing` marker.
        let _ = std::fs::remove_file(dir.join("package-lock.json"));
        let staged = dir.join(".package-lock.json.kiln");
        std::fs::write(&staged, PACKAGE_LOCK).map_err(|e| e.to_string())?;
        std::fs::rename(&staged, dir.join("package-lock.json")).map_err(|e| e.to_string())?;
        let out = tokio::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(dir)
            .output()
            .await
            .map_err(|e| format!("running npm: {e} (is Node.js installed?)"))?;
        if out.status.success() {
            Ok(())
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            // npm left a partial tree: make sure `ready` says no.
            let _ = std::fs::remove_dir_all(dir.join("node_modules"));
            Err(format!("npm ci: {}", err.trim().lines().last().unwrap_or("failed")))
        }
    }
    .await;
    let _ = std::fs::remove_file(&lock);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_installed_at_the_pinned_versions() {
        let dir = tempfile::tempdir().expect("tmp");
        let t = Toolchain::new(Some(dir.path().to_owned()));
        assert!(!t.ready(), "empty directory");
        assert!(t.problem().contains("not installed"), "{}", t.problem());
        let bin = dir.path().join("node_modules/.bin");
        std::fs::create_dir_all(&bin).expect("bin");
        std::fs::write(bin.join("eslint"), "").expect("eslint");
        std::fs::write(bin.join("prettier"), "").expect("prettier");
        assert!(!t.ready(), "no lock file: an older or unknown install");
        std::fs::write(dir.path().join("package-lock.json"), "{}").expect("lock");
        assert!(!t.ready(), "another version's lock file");
        std::fs::write(dir.path().join("package-lock.json"), PACKAGE_LOCK).expect("lock");
        assert!(t.ready());
        std::fs::write(dir.path().join(".kiln-installing"), "").expect("marker");
        assert!(!t.ready(), "another process is installing");
        std::fs::remove_file(dir.path().join(".kiln-installing")).expect("rm");
        std::fs::remove_file(bin.join("prettier")).expect("rm");
        assert!(!t.ready(), "a tool is missing");
        assert!(!Toolchain::new(None).ready());
    }

    #[tokio::test]
    async fn a_ready_toolchain_is_not_reinstalled_and_waiting_returns_at_once() {
        let dir = tempfile::tempdir().expect("tmp");
        let bin = dir.path().join("node_modules/.bin");
        std::fs::create_dir_all(&bin).expect("bin");
        for tool in ["eslint", "prettier"] {
            std::fs::write(bin.join(tool), "").expect("tool");
        }
        std::fs::write(dir.path().join("package-lock.json"), PACKAGE_LOCK).expect("lock");
        let t = Toolchain::new(Some(dir.path().to_owned()));
        assert!(t.install_in_background().is_none());
        assert!(!t.installing());
        assert!(t.wait_ready(Duration::from_secs(5)).await);
    }
}
