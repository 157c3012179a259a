//! Proves the sandbox: it runs code, and that code cannot reach the network, write outside its
//! directory, run forever, fork without bound, or leave anything running.

use kiln_sandbox::{Limits, Sandbox};
use std::time::Duration;

fn app_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tmp");
    // The sandbox uid must be able to reach the directory.
    let _ = std::process::Command::new("chmod").arg("755").arg(d.path()).status();
    d
}

fn sandbox(limits: Limits) -> Sandbox {
    Sandbox { limits, ..Default::default() }
}

#[tokio::test]
async fn runs_a_command_in_the_app_directory() {
    let dir = app_dir();
    std::fs::write(dir.path().join("hello.js"), "console.log('hi from', process.cwd())")
        .expect("write");
    let out = Sandbox::default().run(dir.path(), &["node", "hello.js"]).await.expect("run");
    assert!(out.success(), "{out:?}");
    assert_eq!(out.stdout.trim(), "hi from /app");
}

#[tokio::test]
async fn the_network_is_unreachable() {
    let dir = app_dir();
    let js = "const s=require('net').connect(80,'1.1.1.1');s.on('connect',()=>{console.log('CONNECTED');process.exit(0)});s.on('error',e=>{console.log('ERR',e.code);process.exit(3)});setTimeout(()=>{console.log('TIMEOUT');process.exit(4)},3000)";
    let out = Sandbox::default().run(dir.path(), &["node", "-e", js]).await.expect("run");
    assert_eq!(out.code, Some(3), "{out:?}");
    assert!(out.stdout.contains("ERR"), "{out:?}");
    let dns = "require('dns').lookup('example.com',e=>{console.log(e?'DNSFAIL':'RESOLVED');process.exit(e?3:0)})";
    let out = Sandbox::default().run(dir.path(), &["node", "-e", dns]).await.expect("run");
    assert_eq!(out.stdout.trim(), "DNSFAIL", "{out:?}");
}

#[tokio::test]
async fn writes_outside_the_app_directory_are_refused() {
    let dir = app_dir();
    let outside = tempfile::tempdir().expect("tmp");
    let target = outside.path().join("escaped");
    let script = format!(
        "for p in /usr/escaped /etc/escaped {} /escaped; do echo x > $p && echo WROTE $p; done; echo ok > inside.txt",
        target.display()
    );
    let out = Sandbox::default().run(dir.path(), &["sh", "-c", &script]).await.expect("run");
    assert!(!out.stdout.contains("WROTE"), "{out:?}");
    assert!(!target.exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("inside.txt")).expect("inside").trim(),
        "ok"
    );
}

#[tokio::test]
async fn commands_do_not_run_as_root_and_see_no_kiln_environment() {
    let dir = app_dir();
    let out = Sandbox::default().run(dir.path(), &["sh", "-c", "id -u; env"]).await.expect("run");
    let mut lines = out.stdout.lines();
    assert_ne!(lines.next(), Some("0"), "{out:?}");
    assert!(!out.stdout.contains("KILN_"), "{out:?}");
    assert!(!out.stdout.contains("CARGO"), "{out:?}");
}

#[tokio::test]
async fn an_infinite_loop_is_killed() {
    let dir = app_dir();
    let limits = Limits { cpu_secs: 2, wall: Duration::from_secs(5), ..Limits::default() };
    let out = sandbox(limits).run(dir.path(), &["node", "-e", "for(;;){}"]).await.expect("run");
    assert!(!out.success(), "{out:?}");
    assert!(out.duration < Duration::from_secs(8), "{out:?}");
}

#[tokio::test]
async fn a_sleeper_is_killed_at_the_wall_limit_and_nothing_is_left_running() {
    let dir = app_dir();
    let marker = "kiln-sandbox-sleeper-marker";
    let limits = Limits { wall: Duration::from_secs(2), ..Limits::default() };
    let script = format!("(sleep 300 & exec -a {marker} sleep 301) ");
    let out = sandbox(limits).run(dir.path(), &["bash", "-c", &script]).await.expect("run");
    assert!(out.timed_out, "{out:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ps = std::process::Command::new("ps").args(["-eo", "args"]).output().expect("ps");
    let ps = String::from_utf8_lossy(&ps.stdout);
    assert!(!ps.contains(marker), "still running:\n{ps}");
    assert!(!ps.lines().any(|l| l.trim() == "sleep 300"), "still running:\n{ps}");
}

#[tokio::test]
async fn a_fork_bomb_is_contained() {
    let dir = app_dir();
    let limits = Limits { processes: 64, wall: Duration::from_secs(5), ..Limits::default() };
    let bomb = "b() { b | b & }; b";
    // Its own uid: RLIMIT_NPROC counts every process of a uid, and the other tests run at once.
    let bomber = Sandbox { limits, uid: 60_999, ..Default::default() };
    let out = bomber.run(dir.path(), &["bash", "-c", bomb]).await.expect("run");
    assert!(out.duration < Duration::from_secs(8), "{out:?}");
    // The machine is still fine: a new sandboxed command runs normally.
    let out = Sandbox::default().run(dir.path(), &["sh", "-c", "echo alive"]).await.expect("run");
    assert_eq!(out.stdout.trim(), "alive");
}
