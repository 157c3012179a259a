//! Kiln as its real binary, in a child process: start it (again) on a data directory, wait for
//! it, kill it.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "correct horse battery staple";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A child process killed on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub async fn wait_for<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    secs: u64,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates an account with `kiln user add` (verified; an operator when asked).
pub fn add_user(dir: &Path, email: &str, operator: bool) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiln"));
    cmd.args(["user", "add", "--email", email]);
    if operator {
        cmd.arg("--operator");
    }
    let status = cmd
        .env("KILN_DATA_DIR", dir)
        .env("KILN_USER_PASSWORD", PASSWORD)
        .env("KILN_LOG", "warn")
        .stdout(Stdio::null())
        .status()
        .expect("kiln user add");
    assert!(status.success());
}

/// Starts `kiln serve` on `dir` with `env`; returns the process and its base URL once
/// `/healthz` answers.
pub async fn start_kiln_in(dir: &Path, env: &[(&str, String)]) -> (Proc, String) {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiln"));
    // An explicit, missing config file is an error: use an empty one.
    std::fs::write(dir.join("none.toml"), "").expect("config");
    cmd.arg("serve")
        .env("KILN_DATA_DIR", dir)
        .env("KILN_ADDR", format!("127.0.0.1:{port}"))
        .env("KILN_APPS_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("KILN_LOG", "warn")
        .env("KILN_CONFIG", dir.join("none.toml"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = Proc(cmd.spawn().expect("kiln"));
    let base = format!("http://127.0.0.1:{port}");
    let health = format!("{base}/healthz");
    wait_for("kiln to start", 15, || {
        let h = health.clone();
        async move { reqwest::get(&h).await.ok().filter(|r| r.status().is_success()).map(|_| ()) }
    })
    .await;
    (child, base)
}

/// Starts `kiln serve` on a new data directory (with an operator account first, when asked).
pub async fn start_kiln(
    env: &[(&str, String)],
    operator: Option<&str>,
) -> (Proc, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tmp");
    if let Some(email) = operator {
        add_user(dir.path(), email, true);
    }
    let (child, base) = start_kiln_in(dir.path(), env).await;
    (child, base, dir)
}

/// A client with a cookie jar, logged in as `email` (password `PASSWORD`).
pub async fn login(base: &str, email: &str) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let res = client
        .post(format!("{base}/api/login"))
        .json(&serde_json::json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    client
}
