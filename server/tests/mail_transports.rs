//! Mail leaves through real servers: SMTP to aiosmtpd, Amazon SES v2 to moto's SES
//! implementation, both started here from the Python environment the test command prepares
//! (`KILN_TEST_PYTHON`). Kiln runs as its real binary, configured by environment variables.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod process;
use process::*;

fn python() -> PathBuf {
    let p = std::env::var("KILN_TEST_PYTHON").unwrap_or_default();
    assert!(
        !p.is_empty(),
        "KILN_TEST_PYTHON must name a Python with aiosmtpd and moto[server] installed; \
         scripts/test sets it up (python3 -m venv target/test-venv && \
         target/test-venv/bin/pip install aiosmtpd 'moto[server]')"
    );
    PathBuf::from(p)
}

fn start_smtp(port: u16, maildir: &Path) -> Proc {
    let py = python();
    let status = Command::new(&py)
        .args(["-c", "import mailbox, sys; mailbox.Maildir(sys.argv[1], create=True)"])
        .arg(maildir)
        .status()
        .expect("python");
    assert!(status.success());
    let child = Command::new(&py)
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("aiosmtpd");
    // Python starts slowly on a loaded machine: return once the server accepts connections, so
    // Kiln's first delivery attempt does not meet a closed port (and wait for its retry).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "aiosmtpd did not start within 30 s");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Proc(child)
}

async fn signup(base: &str, email: &str) -> reqwest::Client {
    let client = reqwest::Client::builder().cookie_store(true).build().expect("client");
    let res = client
        .post(format!("{base}/api/signup"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("signup");
    assert_eq!(res.status(), StatusCode::CREATED);
    client
}

fn maildir_messages(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir.join("new")) else { return Vec::new() };
    rd.filter_map(|e| e.ok()).filter_map(|e| std::fs::read_to_string(e.path()).ok()).collect()
}

fn assert_verification_mail(raw: &str, to: &str, base: &str) {
    assert!(raw.contains("Subject: Confirm your email address for Kiln"), "{raw}");
    assert!(raw.lines().any(|l| l.trim_end() == format!("To: {to}")), "{raw}");
    let prefix = format!("{base}/verify?token=");
    assert!(
        raw.lines()
            .any(|l| l.trim_end().starts_with(&prefix) && l.trim_end().len() > prefix.len() + 20),
        "{raw}"
    );
}

#[tokio::test]
async fn smtp_delivers_to_a_real_smtp_server() {
    let tmp = tempfile::tempdir().expect("tmp");
    let maildir = tmp.path().join("maildir");
    let port = free_port();
    let _smtp = start_smtp(port, &maildir);
    let (_kiln, base, _data) = start_kiln(
        &[
            ("KILN_MAIL_TRANSPORT", "smtp".into()),
            ("KILN_SMTP_HOST", "127.0.0.1".into()),
            ("KILN_SMTP_PORT", port.to_string()),
            ("KILN_SMTP_TLS", "none".into()),
            ("KILN_MAIL_FROM", "Kiln <kiln@example.com>".into()),
        ],
        None,
    )
    .await;
    signup(&base, "smtp-user@example.com").await;
    let msgs = wait_for("the message in the Maildir", 15, || {
        let m = maildir_messages(&maildir);
        async move { (!m.is_empty()).then_some(m) }
    })
    .await;
    assert_verification_mail(&msgs[0], "smtp-user@example.com", &base);
}

#[tokio::test]
async fn a_failing_smtp_server_keeps_mail_queued_with_its_error_until_it_comes_back() {
    let tmp = tempfile::tempdir().expect("tmp");
    let maildir = tmp.path().join("maildir");
    let port = free_port(); // nothing listens here yet
    let (_kiln, base, _data) = start_kiln(
        &[
            ("KILN_MAIL_TRANSPORT", "smtp".into()),
            ("KILN_SMTP_HOST", "127.0.0.1".into()),
            ("KILN_SMTP_PORT", port.to_string()),
            ("KILN_SMTP_TLS", "none".into()),
            ("KILN_MAIL_RETRY_SECS", "1".into()),
        ],
        Some("op@example.com"),
    )
    .await;
    let operator = login(&base, "op@example.com").await;
    signup(&base, "new@example.com").await;
    let failing = wait_for("the outbox to show the failure", 15, || {
        let (c, url) = (operator.clone(), format!("{base}/api/outbox"));
        async move {
            let list: Vec<Value> = c.get(&url).send().await.ok()?.json().await.ok()?;
            list.into_iter().find(|m| m["state"] == "failing")
        }
    })
    .await;
    assert!(failing["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{failing}");
    assert!(failing["attempts"].as_i64().expect("attempts") >= 1);

    // The server comes back: the retry delivers it.
    let _smtp = start_smtp(port, &maildir);
    let msgs = wait_for("the retried message", 30, || {
        let m = maildir_messages(&maildir);
        async move { (!m.is_empty()).then_some(m) }
    })
    .await;
    assert_verification_mail(&msgs[0], "new@example.com", &base);
    let list: Vec<Value> = operator
        .get(format!("{base}/api/outbox"))
        .send()
        .await
        .expect("outbox")
        .json()
        .await
        .expect("json");
    assert_eq!(list[0]["state"], "sent");
}

#[tokio::test]
async fn ses_delivers_to_an_ses_api() {
    let port = free_port();
    let moto = Proc(
        Command::new(python())
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto"),
    );
    let moto_url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait_for("moto to start", 20, || {
        let (h, u) = (http.clone(), format!("{moto_url}/moto-api/data.json"));
        async move { h.get(&u).send().await.ok().filter(|r| r.status().is_success()).map(|_| ()) }
    })
    .await;
    // SES only sends from verified identities.
    let res = http
        .post(format!("{moto_url}/v2/email/identities"))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ses/aws4_request, SignedHeaders=host, Signature=0",
        )
        .json(&json!({"EmailIdentity": "kiln@example.com"}))
        .send()
        .await
        .expect("identity");
    assert!(res.status().is_success(), "{:?}", res.text().await);

    let (_kiln, base, _data) = start_kiln(
        &[
            ("KILN_MAIL_TRANSPORT", "ses".into()),
            ("KILN_SES_ENDPOINT", moto_url.clone()),
            ("KILN_MAIL_FROM", "kiln@example.com".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ],
        None,
    )
    .await;
    signup(&base, "ses-user@example.com").await;
    let raw = wait_for("the message at the SES API", 20, || {
        let (h, u) = (http.clone(), format!("{moto_url}/moto-api/data.json"));
        async move {
            let data: Value = h.get(&u).send().await.ok()?.json().await.ok()?;
            let text = data["ses"].to_string();
            text.contains("ses-user@example.com").then_some(data["ses"].clone())
        }
    })
    .await;
    // The raw message is stored as sent: find its text and check it.
    let all = raw.to_string();
    assert!(all.contains("Confirm your email address for Kiln"), "{all}");
    assert!(all.contains(&format!("{base}/verify?token=")), "{all}");
    drop(moto);
}
