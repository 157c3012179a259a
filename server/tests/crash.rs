//! A crash during generation loses nothing: `kill -9` of `kiln serve` while a job is in the check
//! stage, then a new start on the same data directory, ends with that job live exactly once.

mod process;

use process::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn status(client: &reqwest::Client, base: &str, job: i64) -> Value {
    client
        .get(format!("{base}/api/status?job_id={job}"))
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_the_check_stage_then_restart_packages_the_job_exactly_once() {
    let dir = tempfile::tempdir().expect("tmp");
    add_user(dir.path(), "crash@example.com", false);
    // A short lease, so the restarted worker takes the dead one's job over within seconds.
    let env = [("KILN_JOB_LEASE_SECS", "3".to_owned()), ("KILN_WORKERS", "1".to_owned())];
    let (mut kiln, base) = start_kiln_in(dir.path(), &env).await;
    let client = login(&base, "crash@example.com").await;
    let res = client
        .post(format!("{base}/api/createApp"))
        .json(&json!({"description": "A todo list: tasks with a title, a due date and notes."}))
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.expect("json");
    let (job, app_id) =
        (created["job_id"].as_i64().expect("job"), created["app_id"].as_i64().expect("app"));

    // Kill it the moment the job is in the check stage.
    wait_for("the check stage", 120, || {
        let (c, b) = (client.clone(), base.clone());
        async move { (status(&c, &b, job).await["state"] == "checking").then_some(()) }
    })
    .await;
    kiln.0.kill().expect("SIGKILL");
    let _ = kiln.0.wait();
    drop(kiln);

    let (_kiln, base) = start_kiln_in(dir.path(), &env).await;
    let client = login(&base, "crash@example.com").await;
    let s = wait_for("the job to finish after the restart", 180, || {
        let (c, b) = (client.clone(), base.clone());
        async move {
            let s = status(&c, &b, job).await;
            ["live", "failed", "cancelled"]
                .contains(&s["state"].as_str().unwrap_or(""))
                .then_some(s)
        }
    })
    .await;
    assert_eq!(s["state"], "live", "{s}");
    let events = s["events"].as_array().expect("events");
    let count =
        |state: &str| events.iter().filter(|e| e["kind"] == "state" && e["state"] == state).count();
    assert_eq!(count("live"), 1, "{s}");
    assert!(count("checking") >= 2, "the check stage ran again after the restart: {s}");
    let detail: Value = client
        .get(format!("{base}/api/apps/{app_id}"))
        .send()
        .await
        .expect("app")
        .json()
        .await
        .expect("json");
    assert_eq!(detail["versions"].as_array().map(Vec::len), Some(1), "exactly one version");
    // The app's own repository has exactly one commit.
    let log = std::process::Command::new("git")
        .arg("-C")
        .arg(dir.path().join("repos").join(app_id.to_string()))
        .args(["rev-list", "--count", "HEAD"])
        .output()
        .expect("git");
    assert_eq!(String::from_utf8_lossy(&log.stdout).trim(), "1");
}
