#![doc = include_str!("../README.md")]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// Resource limits of one run.
#[derive(Debug, Clone)]
pub struct Limits {
    /// CPU time, seconds (RLIMIT_CPU).
    pub cpu_secs: u64,
    /// Address space, bytes (RLIMIT_AS).
    pub address_space: u64,
    /// Node's heap, MiB (`--max-old-space-size`).
    pub node_heap_mib: u64,
    /// Processes and threads of the sandbox uid (RLIMIT_NPROC).
    pub processes: u64,
    /// Open files (RLIMIT_NOFILE).
    pub open_files: u64,
    /// Largest file the command may write, bytes (RLIMIT_FSIZE).
    pub file_size: u64,
    /// Wall-clock time before everything is killed.
    pub wall: Duration,
    /// Output kept per stream, bytes (the rest is dropped).
    pub output: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            cpu_secs: 30,
            address_space: 16 << 30,
            node_heap_mib: 512,
            processes: 128,
            open_files: 512,
            file_size: 64 << 20,
            wall: Duration::from_secs(60),
            output: 256 << 10,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the sandbox cannot start: {0}")]
    Unavailable(String),
    #[error("the app directory {0} does not exist")]
    NoAppDir(PathBuf),
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct Output {
    /// The exit code, if the command exited by itself.
    pub code: Option<i32>,
    /// True when the wall-clock limit killed it.
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    pub duration: Duration,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }

    /// stdout and stderr together, for a status page.
    pub fn combined(&self) -> String {
        match (self.stdout.trim().is_empty(), self.stderr.trim().is_empty()) {
            (false, false) => format!("{}\n{}", self.stdout.trim_end(), self.stderr.trim_end()),
            (false, true) => self.stdout.trim_end().to_owned(),
            _ => self.stderr.trim_end().to_owned(),
        }
    }
}

/// The sandbox runner.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub limits: Limits,
    /// Bound read-only at `/toolchain` (its `node_modules/.bin` is on `PATH`).
    pub toolchain: Option<PathBuf>,
    /// The uid/gid commands run as when Kiln runs as root.
    pub uid: u32,
    /// Also bind the toolchain's `node_modules` read-only at `/app/node_modules`, so a config
    /// file inside the app (`import js from "@eslint/js"`) resolves as after `npm install`.
    pub app_node_modules: bool,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self { limits: Limits::default(), toolchain: None, uid: 65534, app_node_modules: false }
    }
}

/// Whether this process runs as root (then sandboxed commands run as another uid, which must be
/// able to reach the directories bound into the sandbox).
pub fn running_as_root() -> bool {
    // The effective uid, read without unsafe code: /proc/self/status "Uid: real effective ...".
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

impl Sandbox {
    /// Checks that the tools the sandbox needs are installed.
    pub fn check_available() -> Result<(), SandboxError> {
        for tool in ["bwrap", "setpriv", "prlimit", "timeout"] {
            let found = std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
                .unwrap_or(false);
            if !found {
                return Err(SandboxError::Unavailable(format!(
                    "{tool} is not installed (Debian: apt-get install bubblewrap util-linux coreutils)"
                )));
            }
        }
        Ok(())
    }

    /// The full command line of a run (for logs and tests).
    pub fn command_line(&self, app_dir: &Path, argv: &[&str]) -> Vec<String> {
        let l = &self.limits;
        let mut c: Vec<String> = vec![
            "timeout".into(),
            "-s".into(),
            "KILL".into(),
            format!("{}", l.wall.as_secs_f64().max(0.1)),
        ];
        if running_as_root() {
            c.extend([
                "setpriv".into(),
                format!("--reuid={}", self.uid),
                format!("--regid={}", self.uid),
                "--clear-groups".into(),
                "--inh-caps=-all".into(),
            ]);
        }
        c.extend([
            "prlimit".into(),
            format!("--cpu={}", l.cpu_secs),
            format!("--as={}", l.address_space),
            format!("--nproc={}", l.processes),
            format!("--nofile={}", l.open_files),
            format!("--fsize={}", l.file_size),
            "--core=0".into(),
            "--".into(),
            "bwrap".into(),
            "--unshare-all".into(),
            "--die-with-parent".into(),
            "--new-session".into(),
            "--ro-bind".into(),
            "/usr".into(),
            "/usr".into(),
            "--symlink".into(),
            "usr/bin".into(),
            "/bin".into(),
            "--symlink".into(),
            "usr/lib".into(),
            "/lib".into(),
            "--symlink".into(),
            "usr/lib64".into(),
            "/lib64".into(),
            "--proc".into(),
            "/proc".into(),
            "--dev".into(),
            "/dev".into(),
            "--tmpfs".into(),
            "/tmp".into(),
        ]);
        if let Some(t) = &self.toolchain {
            c.extend(["--ro-bind".into(), t.display().to_string(), "/toolchain".into()]);
        }
        c.extend(["--bind".into(), app_dir.display().to_string(), "/app".into()]);
        if let (Some(t), true) = (&self.toolchain, self.app_node_modules) {
            c.extend([
                "--ro-bind".into(),
                t.join("node_modules").display().to_string(),
                "/app/node_modules".into(),
            ]);
        }
        c.extend([
            "--remount-ro".into(),
            "/".into(),
            "--chdir".into(),
            "/app".into(),
            "--clearenv".into(),
            "--setenv".into(),
            "PATH".into(),
            "/toolchain/node_modules/.bin:/usr/bin".into(),
            "--setenv".into(),
            "HOME".into(),
            "/tmp".into(),
            "--setenv".into(),
            "NODE_OPTIONS".into(),
            format!("--max-old-space-size={}", l.node_heap_mib),
        ]);
        c.extend(argv.iter().map(|s| (*s).to_owned()));
        c
    }

    /// Runs `argv` inside the sandbox on `app_dir` and waits for it (at most the wall limit).
    pub async fn run(&self, app_dir: &Path, argv: &[&str]) -> Result<Output, SandboxError> {
        Self::check_available()?;
        if !app_dir.is_dir() {
            return Err(SandboxError::NoAppDir(app_dir.to_owned()));
        }
        if running_as_root() {
            make_writable_for(app_dir, self.uid)?;
        }
        let line = self.command_line(app_dir, argv);
        let started = Instant::now();
        let mut child = Command::new(&line[0])
            .args(&line[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| SandboxError::Unavailable(format!("starting {}: {e}", line[0])))?;
        let cap = self.limits.output;
        let mut out = child.stdout.take().expect("piped stdout");
        let mut err = child.stderr.take().expect("piped stderr");
        let read_out = async move { read_capped(&mut out, cap).await };
        let read_err = async move { read_capped(&mut err, cap).await };
        let (stdout, stderr, status) = tokio::join!(read_out, read_err, child.wait());
        let status = status.map_err(|e| SandboxError::Unavailable(e.to_string()))?;
        let duration = started.elapsed();
        // When the wall limit strikes, `timeout` kills the command and ends with 124/137 or by
        // the same signal, depending on its version.
        let timed_out =
            duration >= self.limits.wall && matches!(status.code(), None | Some(124) | Some(137));
        tracing::debug!(?argv, code = ?status.code(), timed_out, ?duration, "sandboxed run");
        Ok(Output { code: status.code(), timed_out, stdout, stderr, duration })
    }
}

/// Hands the app directory to the sandbox uid (Kiln runs as root here).
fn make_writable_for(dir: &Path, uid: u32) -> Result<(), SandboxError> {
    let status = std::process::Command::new("chown")
        .args(["-R", &format!("{uid}:{uid}")])
        .arg(dir)
        .status()
        .map_err(|e| SandboxError::Unavailable(format!("chown: {e}")))?;
    if !status.success() {
        return Err(SandboxError::Unavailable(format!("chown of {} failed", dir.display())));
    }
    Ok(())
}

async fn read_capped(r: &mut (impl AsyncReadExt + Unpin), cap: usize) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if buf.len() < cap {
                    let take = n.min(cap - buf.len());
                    buf.extend_from_slice(&chunk[..take]);
                }
            }
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}
