//! Collaboration interop: unmodified Yjs clients (npm `yjs` + `y-websocket`, run by Node from
//! `end2end/collab/peer.mjs`) edit an app's description through the real `kiln serve`; people
//! are invited by email; those without a role are refused before any document data; a viewer's
//! write is dropped; `kill -9` between edits loses nothing acknowledged. With
//! KILN_TEST_DATABASE_URL, the same across two processes on one Postgres database.

mod process;

use process::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn peer_script() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../end2end/collab/peer.mjs");
    let modules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../end2end/node_modules/y-websocket");
    assert!(
        modules.exists(),
        "npm y-websocket is missing from end2end/node_modules: run scripts/setup --test"
    );
    script
}

/// Runs a Node peer; its one JSON line.
async fn peer(args: &[&str]) -> Value {
    let out = tokio::process::Command::new("node")
        .arg(peer_script())
        .args(args)
        .output()
        .await
        .expect("node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let v: Value = serde_json::from_str(line).unwrap_or_else(|_| {
        panic!("peer {args:?}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr))
    });
    assert!(out.status.success() && v.get("error").is_none(), "peer {args:?}: {v}");
    v
}

async fn token(client: &reqwest::Client, base: &str) -> String {
    let res = client
        .post(format!("{base}/api/tokens"))
        .json(&json!({"name": "collab"}))
        .send()
        .await
        .expect("token");
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json::<Value>().await.expect("json")["token"].as_str().expect("token").to_owned()
}

/// The newest invitation link mailed to `to` (the file outbox of `dir`; the mail worker writes
/// it a moment after the request).
async fn invite_link(dir: &Path, to: &str) -> String {
    wait_for("the invitation email", 15, || async { find_invite(dir, to) }).await
}

fn find_invite(dir: &Path, to: &str) -> Option<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir.join("outbox"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    names.sort();
    for p in names.iter().rev() {
        let mail =
            std::fs::read_to_string(p).expect("mail").replace("=\r\n", "").replace("=\n", "");
        if mail.contains(&format!("To: {to}")) && mail.contains("/invites/") {
            let at = mail.find("/invites/").expect("link");
            let token: String = mail[at + 9..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect();
            return Some(format!("/invites/{token}"));
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yjs_clients_co_edit_through_kiln_with_roles_invites_and_a_crash() {
    let dir = tempfile::tempdir().expect("tmp");
    for who in ["owner", "editor", "viewer", "stranger"] {
        add_user(dir.path(), &format!("{who}@example.com"), false);
    }
    let env = [("KILN_WORKERS", "0".to_owned())];
    let (kiln, base) = start_kiln_in(dir.path(), &env).await;
    let ws = base.replace("http://", "ws://");
    let owner = login(&base, "owner@example.com").await;
    let res = owner
        .post(format!("{base}/api/createApp"))
        .json(&json!({"description": "A reading list with books and authors."}))
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.expect("json");
    let (app_id, job) =
        (created["app_id"].as_i64().expect("id"), created["job_id"].as_i64().expect("job"));
    let room = app_id.to_string();

    // The owner invites an editor (who follows the emailed link) and a viewer.
    for (who, role) in [("editor", "editor"), ("viewer", "viewer")] {
        let res = owner
            .post(format!("{base}/api/apps/{app_id}/invites"))
            .json(&json!({"email": format!("{who}@example.com"), "role": role}))
            .send()
            .await
            .expect("invite");
        assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap_or_default());
    }
    let editor = login(&base, "editor@example.com").await;
    let link = invite_link(dir.path(), "editor@example.com").await;
    let res = editor.get(format!("{base}{link}")).send().await.expect("accept");
    assert!(res.url().path().ends_with(&format!("/apps/{app_id}")), "{}", res.url());
    let again = editor.get(format!("{base}{link}")).send().await.expect("again");
    assert_eq!(again.status(), StatusCode::CONFLICT, "the link works once");
    let viewer = login(&base, "viewer@example.com").await;
    let vlink = invite_link(dir.path(), "viewer@example.com").await;
    let stranger = login(&base, "stranger@example.com").await;
    let res = stranger
        .post(format!("{base}/api/invites/accept"))
        .json(&json!({"token": vlink.trim_start_matches("/invites/")}))
        .send()
        .await
        .expect("wrong person");
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "an invitation is for its address only");
    let res = viewer
        .post(format!("{base}/api/invites/accept"))
        .json(&json!({"token": vlink.trim_start_matches("/invites/")}))
        .send()
        .await
        .expect("accept");
    assert_eq!(res.status(), StatusCode::OK);
    let members: Value = owner
        .get(format!("{base}/api/apps/{app_id}/members"))
        .send()
        .await
        .expect("members")
        .json()
        .await
        .expect("json");
    let roles: Vec<&str> = members["members"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|m| m["role"].as_str())
        .collect();
    assert_eq!(roles, ["owner", "editor", "viewer"], "{members}");

    let (t_owner, t_editor, t_viewer, t_stranger) = (
        token(&owner, &base).await,
        token(&editor, &base).await,
        token(&viewer, &base).await,
        token(&stranger, &base).await,
    );

    // Refused before any document data: no token, a wrong one, one of someone without a role,
    // and the session cookie from a page that is not the portal's.
    for (token, want) in [("", 401), ("kiln_not-a-token", 401), (t_stranger.as_str(), 404)] {
        let r = peer(&["refused", &ws, &room, token]).await;
        assert_eq!((r["status"].as_i64(), r["frames"].as_i64()), (Some(want), Some(0)), "{r}");
    }
    let res = reqwest::Client::new()
        .post(format!("{base}/api/login"))
        .json(&json!({"email": "owner@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    let cookie: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect();
    let cookie = cookie.join("; ");
    let r = peer(&["refused", &ws, &room, "", "http://notes.localhost:3001", &cookie]).await;
    assert_eq!((r["status"].as_i64(), r["frames"].as_i64()), (Some(403), Some(0)), "{r}");
    let r = peer(&["refused", &ws, &room, "", &base, &cookie]).await;
    assert_eq!(r["status"].as_i64(), Some(101), "the portal's own page may use its cookie: {r}");

    // Two editors type at once and converge; each sees the other's presence.
    let r = peer(&["converge", &ws, &room, &t_owner, &t_editor]).await;
    assert_eq!(r["before"], "A reading list with books and authors.");
    assert_eq!(r["a"], r["b"]);
    assert_eq!(r["a"], "Alpha A reading list with books and authors. Omega");

    // A viewer's edit is dropped and they are told (y-websocket's permission-denied handler).
    let r = peer(&["viewer", &ws, &room, &t_viewer]).await;
    assert!(r["denied"].as_str().is_some_and(|d| d.contains("viewers cannot edit")), "{r}");
    let r = peer(&["read", &ws, &room, &t_owner]).await;
    assert_eq!(r["text"], "Alpha A reading list with books and authors. Omega");

    // Offline edits merge when the connection comes back.
    let r = peer(&["offline", &ws, &room, &t_owner, &t_editor]).await;
    let both = "Offline: Alpha A reading list with books and authors. Omega Online.";
    assert_eq!(r["whileAway"]["a"], "Offline: Alpha A reading list with books and authors. Omega");
    assert_eq!(
        r["whileAway"]["server"],
        "Alpha A reading list with books and authors. Omega Online."
    );
    assert_eq!((&r["a"], &r["b"], &r["c"]), (&json!(both), &json!(both), &json!(both)), "{r}");
    let r = peer(&["read", &ws, &room, &t_owner]).await;
    assert_eq!(r["text"], both);

    // The owner removes the viewer: from then on refused before any data.
    let viewer_id = members["members"]
        .as_array()
        .expect("list")
        .iter()
        .find(|m| m["role"] == "viewer")
        .and_then(|m| m["user_id"].as_i64())
        .expect("viewer");
    let res = editor
        .delete(format!("{base}/api/apps/{app_id}/members/{viewer_id}"))
        .send()
        .await
        .expect("not the owner");
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "only the owner manages people");
    let res = owner
        .delete(format!("{base}/api/apps/{app_id}/members/{viewer_id}"))
        .send()
        .await
        .expect("remove");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let r = peer(&["refused", &ws, &room, &t_viewer]).await;
    assert_eq!((r["status"].as_i64(), r["frames"].as_i64()), (Some(404), Some(0)), "{r}");

    // The description API is a server-side edit of the document; clients see it.
    let res = owner
        .post(format!("{base}/api/apps/{app_id}/description"))
        .json(&json!({"description": "A reading list with books, authors and ratings."}))
        .send()
        .await
        .expect("describe");
    assert_eq!(res.status(), StatusCode::CREATED);
    let r = peer(&["read", &ws, &room, &t_editor]).await;
    assert_eq!(r["text"], "A reading list with books, authors and ratings.");

    // An edit the server has relayed is written: kill -9 right after it, start again.
    let r = peer(&["edit", &ws, &room, &t_editor, " Loans too."]).await;
    assert_eq!(r["text"], "A reading list with books, authors and ratings. Loans too.");
    drop(kiln); // SIGKILL
    // (Now with a worker, to end the first generation job.)
    let (_kiln, base) = start_kiln_in(dir.path(), &[("KILN_WORKERS", "1".to_owned())]).await;
    let ws = base.replace("http://", "ws://");
    let r = peer(&["read", &ws, &room, &t_owner]).await;
    assert_eq!(r["text"], "A reading list with books, authors and ratings. Loans too.");

    // Generate reads the document (no workers here: the first job is cancelled first).
    let owner = login(&base, "owner@example.com").await;
    let res = owner.post(format!("{base}/api/jobs/{job}/cancel")).send().await.expect("cancel");
    assert!(res.status().is_success(), "{}", res.text().await.unwrap_or_default());
    wait_for("the first job to end", 60, || {
        let (owner, url) = (owner.clone(), format!("{base}/api/status?job_id={job}"));
        async move {
            let s: Value = owner.get(url).send().await.ok()?.json().await.ok()?;
            s["finished_at"].as_i64().map(|_| ())
        }
    })
    .await;
    let res =
        owner.post(format!("{base}/api/apps/{app_id}/generate")).send().await.expect("generate");
    assert_eq!(res.status(), StatusCode::ACCEPTED, "{}", res.text().await.unwrap_or_default());
    let detail: Value = owner
        .get(format!("{base}/api/apps/{app_id}"))
        .send()
        .await
        .expect("app")
        .json()
        .await
        .expect("json");
    assert_eq!(detail["description"], "A reading list with books, authors and ratings. Loans too.");
}

/// Two `kiln serve` processes on one Postgres database: a peer on each, typing at once,
/// converge (updates and presence relayed with LISTEN/NOTIFY and rows).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_on_two_replicas_of_one_postgres_database_converge() {
    let Ok(url) = std::env::var("KILN_TEST_DATABASE_URL") else {
        eprintln!("KILN_TEST_DATABASE_URL is not set: the replica test needs Postgres");
        return;
    };
    let (dir_a, dir_b) = (tempfile::tempdir().expect("a"), tempfile::tempdir().expect("b"));
    let env = [("DATABASE_URL", url.clone()), ("KILN_WORKERS", "0".to_owned())];
    let owner = format!("replica-owner-{}@example.com", kiln_store::system_now());
    let editor = format!("replica-editor-{}@example.com", kiln_store::system_now());
    for who in [&owner, &editor] {
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_kiln"))
            .args(["user", "add", "--email", who])
            .env("KILN_DATA_DIR", dir_a.path())
            .env("DATABASE_URL", &url)
            .env("KILN_USER_PASSWORD", PASSWORD)
            .env("KILN_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .status()
            .expect("kiln user add");
        assert!(status.success());
    }
    let (_a, base_a) = start_kiln_in(dir_a.path(), &env).await;
    let (_b, base_b) = start_kiln_in(dir_b.path(), &env).await;
    let on_a = login(&base_a, &owner).await;
    let res = on_a
        .post(format!("{base_a}/api/createApp"))
        .json(&json!({"description": "A shared shopping list."}))
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), StatusCode::CREATED);
    let app_id = res.json::<Value>().await.expect("json")["app_id"].as_i64().expect("id");
    let res = on_a
        .post(format!("{base_a}/api/apps/{app_id}/invites"))
        .json(&json!({"email": editor, "role": "editor"}))
        .send()
        .await
        .expect("invite");
    assert_eq!(res.status(), StatusCode::CREATED);
    // The invitation is accepted on the other replica (mail went to replica A's outbox).
    let link = invite_link(dir_a.path(), &editor).await;
    let on_b = login(&base_b, &editor).await;
    let res = on_b
        .post(format!("{base_b}/api/invites/accept"))
        .json(&json!({"token": link.trim_start_matches("/invites/")}))
        .send()
        .await
        .expect("accept");
    assert_eq!(res.status(), StatusCode::OK);
    let (t_a, t_b) = (token(&on_a, &base_a).await, token(&on_b, &base_b).await);
    let (ws_a, ws_b) = (base_a.replace("http://", "ws://"), base_b.replace("http://", "ws://"));
    let room = app_id.to_string();
    let r = peer(&["converge", &ws_a, &room, &t_a, &t_b, &ws_b]).await;
    assert_eq!(r["a"], r["b"], "{r}");
    assert_eq!(r["a"], "Alpha A shared shopping list. Omega");
    // And a peer arriving later on B reads what A wrote.
    let r = peer(&["edit", &ws_a, &room, &t_a, " Eggs."]).await;
    assert!(r["text"].as_str().is_some_and(|t| t.ends_with("Eggs.")), "{r}");
    let r = peer(&["read", &ws_b, &room, &t_b]).await;
    assert_eq!(r["text"], "Alpha A shared shopping list. Omega Eggs.");

    // The database drops both replicas' listening connections: they listen again and re-read,
    // and peers on the two keep converging.
    let pg = kiln_store::Db::open_postgres(&url).await.expect("pg");
    let kiln_store::Db::Postgres(pool) = &pg else { unreachable!("postgres") };
    let dropped: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()",
    )
    .fetch_all(pool)
    .await
    .expect("terminate");
    assert!(dropped.len() >= 2, "both replicas were listening: {dropped:?}");
    let r = peer(&["converge", &ws_a, &room, &t_a, &t_b, &ws_b]).await;
    assert_eq!(r["a"], r["b"], "{r}");
    assert_eq!(r["a"], "Alpha Alpha A shared shopping list. Omega Eggs. Omega");
}
