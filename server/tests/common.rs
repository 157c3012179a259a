//! `spawn_app()`: the real server on port 0 with a temporary data directory, and a client with
//! a cookie jar that does not follow redirects (so tests see them).

#![allow(dead_code)]

use kiln_auth::Clock;
use kiln_server::settings::{Secret, Settings, SignupMode};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub clock: Clock,
    pub data_dir: PathBuf,
    /// The running server's services (to set up what the API cannot, such as operators).
    pub state: kiln_server::state::AppState,
    _dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    pub server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub fn client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        // A hung request fails its test instead of hanging the whole run.
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .expect("client")
}

pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::for_data_dir(dir.path());
    if let Ok(tc) = std::env::var("KILN_TOOLCHAIN_DIR")
        && !tc.is_empty()
    {
        settings.toolchain_dir = tc.into();
    }
    configure(&mut settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let clock = Clock::default();
    let kiln = kiln_server::build(settings, addr, clock.clone()).await.expect("build");
    let state = kiln.state.clone();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(kiln_server::serve(listener, kiln, async move {
        let _ = rx.await;
    }));
    TestApp {
        base: format!("http://{addr}"),
        client: client(),
        clock,
        data_dir: dir.path().to_owned(),
        state,
        _dir: dir,
        stop: Some(tx),
        server: Some(server),
    }
}

pub fn closed_signup(s: &mut Settings) {
    s.signup = SignupMode::Closed;
}

pub fn with_database(url: String) -> impl FnOnce(&mut Settings) {
    move |s| s.database_url = Some(Secret::new(url))
}

pub const PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client.post(self.url(path)).json(body).send().await.expect("request")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }

    pub async fn signup(&self, email: &str) -> Response {
        self.post_json("/api/signup", &json!({"email": email, "password": PASSWORD})).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json("/api/login", &json!({"email": email, "password": password})).await
    }

    /// Waits (up to 5 s) for mail to `to` in the file outbox and returns the texts, oldest first.
    pub async fn mails_to(&self, to: &str, at_least: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut found = Vec::new();
            if let Ok(rd) = std::fs::read_dir(self.data_dir.join("outbox")) {
                let mut names: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
                names.sort();
                for p in names {
                    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                    if name.starts_with('.') || !name.ends_with(".eml") {
                        continue;
                    }
                    let text = std::fs::read_to_string(&p).unwrap_or_default();
                    if text.lines().any(|l| l.eq_ignore_ascii_case(&format!("To: {to}"))) {
                        found.push(text);
                    }
                }
            }
            if found.len() >= at_least {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no mail to {to} within 5 s (found {})",
                found.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The verification link in the newest mail to `to` (a line of its own).
    /// The status of job `job_id` once it has stopped (live, awaiting confirmation, failed or
    /// cancelled); fails the test after 120 s.
    pub async fn wait_finished(&self, job_id: i64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let s: Value =
                self.get(&format!("/api/status?job_id={job_id}")).await.json().await.expect("json");
            let state = s["state"].as_str().unwrap_or_default().to_owned();
            if kiln_core::is_final_state(&state) {
                return s;
            }
            assert!(Instant::now() < deadline, "still {state} after 120 s: {s}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn verification_link(&self, to: &str, nth_mail: usize) -> String {
        let mails = self.mails_to(to, nth_mail).await;
        let prefix = format!("{}/verify?token=", self.base);
        mails[nth_mail - 1]
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no link line in {}", mails[nth_mail - 1]))
            .to_owned()
    }

    /// Signs up and verifies `email`, leaving the client logged in.
    pub async fn verified_user(&self, email: &str) {
        assert_eq!(self.signup(email).await.status(), StatusCode::CREATED);
        let link = self.verification_link(email, 1).await;
        let res = self.client.get(&link).send().await.expect("verify");
        assert_eq!(res.headers()["location"], "/verified?status=ok");
    }

    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.server.take() {
            Some(h) => h.await?,
            None => Ok(()),
        }
    }
}

/// The value of cookie `name` set by a response.
pub fn set_cookie(res: &Response, name: &str) -> Option<String> {
    res.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        c.strip_prefix(&format!("{name}="))
            .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
    })
}
