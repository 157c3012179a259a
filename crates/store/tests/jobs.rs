//! The job queue on every backend: one active job per app, exclusive leases, reclaiming a dead
//! worker's job, fencing, retries and cancellation.

use kiln_store::testing::databases;
use kiln_store::{Db, StoreError, apps, jobs, users};

async fn app(db: &Db, slug: &str) -> anyhow::Result<i64> {
    let mut tx = db.begin_write().await?;
    let owner = users::insert(&mut tx, &format!("{slug}@example.com"), "h", 1).await?;
    let id = apps::insert(&mut tx, owner, "App", slug, "a todo list", 1).await?;
    tx.commit().await?;
    Ok(id)
}

async fn enqueue(db: &Db, app_id: i64, now: i64) -> Result<i64, StoreError> {
    let mut tx = db.begin_write().await?;
    let id = jobs::enqueue(&mut tx, app_id, "generate", "{}", 3, now).await?;
    tx.commit().await?;
    Ok(id)
}

#[tokio::test]
async fn one_active_job_per_app_and_slugs_are_unique() -> anyhow::Result<()> {
    for t in databases().await {
        let db = &t.db;
        let a = app(db, "todo").await?;
        let j = enqueue(db, a, 10).await?;
        let second = enqueue(db, a, 11).await;
        assert!(
            matches!(&second, Err(StoreError::Conflict(m)) if m.contains("active job")),
            "{}: {second:?}",
            t.label
        );
        assert_eq!(jobs::active_for_app(db, a).await?.map(|j| j.id), Some(j));
        let mut tx = db.begin_write().await?;
        let dup = apps::insert(&mut tx, 1, "Other", "todo", "x", 1).await;
        assert!(matches!(dup, Err(StoreError::Conflict(_))), "{}", t.label);
        drop(tx);
        assert!(apps::slug_taken(db, "todo").await?);
        // Once the job has finished, the app can have another.
        let claimed = jobs::claim(db, "w1", 20, 1_000).await?.expect("claim");
        assert!(jobs::finish(db, claimed.id, "w1", "packaged", None, 30).await?);
        enqueue(db, a, 40).await?;
    }
    Ok(())
}

#[tokio::test]
async fn leases_are_exclusive_and_a_dead_workers_job_is_reclaimed() -> anyhow::Result<()> {
    for t in databases().await {
        let db = &t.db;
        let a = app(db, "lease").await?;
        let j = enqueue(db, a, 10).await?;
        let first = jobs::claim(db, "w1", 20, 1_000).await?.expect("claim");
        assert_eq!((first.id, first.attempts), (j, 1));
        assert!(jobs::claim(db, "w2", 500, 1_000).await?.is_none(), "{}: held by w1", t.label);
        assert!(jobs::advance(db, j, "w1", "checking", 40, "linting", 600).await?);
        assert!(jobs::heartbeat(db, j, "w1", 900, 1_000).await?);
        assert!(jobs::claim(db, "w2", 1_500, 1_000).await?.is_none(), "{}: renewed", t.label);

        // w1 dies: after its lease runs out, w2 takes over, and w1 can no longer write.
        let second = jobs::claim(db, "w2", 2_000, 1_000).await?.expect("reclaimed");
        assert_eq!((second.id, second.attempts, second.state.as_str()), (j, 2, "checking"));
        assert!(!jobs::heartbeat(db, j, "w1", 2_100, 1_000).await?, "{}: fenced", t.label);
        assert!(!jobs::advance(db, j, "w1", "packaging", 90, "x", 2_100).await?);
        assert!(!jobs::finish(db, j, "w1", "packaged", None, 2_100).await?);
        assert!(jobs::finish(db, j, "w2", "packaged", None, 2_200).await?);

        let job = jobs::get(db, j).await?.expect("job");
        assert_eq!(
            (job.state.as_str(), job.progress, job.finished_at),
            ("packaged", 100, Some(2_200))
        );
        let states: Vec<String> =
            jobs::events(db, j, 0).await?.into_iter().map(|e| e.state).collect();
        assert_eq!(states, ["queued", "checking", "packaged"], "{}", t.label);
    }
    Ok(())
}

#[tokio::test]
async fn concurrent_claims_hand_each_job_to_one_worker() -> anyhow::Result<()> {
    for t in databases().await {
        let db = &t.db;
        for i in 0..4 {
            let a = app(db, &format!("c{i}")).await?;
            enqueue(db, a, 10).await?;
        }
        let mut handles = Vec::new();
        for w in 0..8 {
            let db = db.clone();
            handles.push(tokio::spawn(async move {
                jobs::claim(&db, &format!("w{w}"), 20, 10_000).await
            }));
        }
        let mut got = Vec::new();
        for h in handles {
            if let Some(j) = h.await?? {
                got.push(j.id);
            }
        }
        got.sort();
        let before = got.len();
        got.dedup();
        assert_eq!((before, got.len()), (4, 4), "{}: each job once", t.label);
    }
    Ok(())
}

#[tokio::test]
async fn retries_back_off_then_give_up_and_cancel_is_recorded() -> anyhow::Result<()> {
    for t in databases().await {
        let db = &t.db;
        let a = app(db, "retry").await?;
        let j = enqueue(db, a, 10).await?;
        for attempt in 1..=2 {
            let now = attempt * 1_000;
            let c = jobs::claim(db, "w", now, 100).await?.expect("claim");
            assert_eq!(c.attempts, attempt);
            let left = jobs::retry_later(db, j, "w", "disk full", now + 500, now).await?;
            assert_eq!(left.as_deref(), Some("queued"), "{}", t.label);
            assert!(jobs::claim(db, "w", now + 100, 100).await?.is_none(), "backing off");
        }
        let c = jobs::claim(db, "w", 3_000, 100).await?.expect("third attempt");
        assert_eq!(c.attempts, 3);
        let left = jobs::retry_later(db, j, "w", "disk full", 3_500, 3_000).await?;
        assert_eq!(left.as_deref(), Some("failed"), "{}: max_attempts is 3", t.label);
        let job = jobs::get(db, j).await?.expect("job");
        assert!(job.error.as_deref().is_some_and(|e| e.contains("gave up after 3 attempts")));

        let b = app(db, "cancel").await?;
        let k = enqueue(db, b, 10).await?;
        assert!(jobs::request_cancel(db, k, 11).await?);
        assert_eq!(jobs::get(db, k).await?.expect("job").cancel_requested, 1);
        assert!(!jobs::request_cancel(db, j, 12).await?, "{}: a finished job", t.label);
        jobs::log(db, k, "hello", 13).await?;
        let ev = jobs::events(db, k, 0).await?;
        assert_eq!(
            ev.last().map(|e| (e.kind.as_str(), e.message.as_str())),
            Some(("log", "hello"))
        );
    }
    Ok(())
}

#[tokio::test]
async fn deleting_a_user_removes_their_apps_and_jobs() -> anyhow::Result<()> {
    for t in databases().await {
        let db = &t.db;
        let a = app(db, "gone").await?;
        let j = enqueue(db, a, 10).await?;
        let owner = apps::get(db, a).await?.expect("app").owner_id;
        let mut tx = db.begin_write().await?;
        users::delete(&mut tx, owner).await?;
        tx.commit().await?;
        assert!(apps::get(db, a).await?.is_none(), "{}", t.label);
        assert!(jobs::get(db, j).await?.is_none());
        assert!(jobs::events(db, j, 0).await?.is_empty());
    }
    Ok(())
}

#[tokio::test]
async fn versions_are_numbered_once_per_job_and_owners_are_counted() -> anyhow::Result<()> {
    for t in databases().await {
        let db = &t.db;
        let a = app(db, "counted").await?;
        let owner = apps::get(db, a).await?.expect("app").owner_id;
        assert_eq!(apps::count_by_owner(db, owner).await?, 1, "{}", t.label);
        assert_eq!(jobs::active_count_for_owner(db, owner).await?, 0);
        let j = enqueue(db, a, 10).await?;
        assert_eq!(jobs::active_count_for_owner(db, owner).await?, 1, "{}", t.label);
        let v = apps::NewVersion {
            app_id: a,
            job_id: j,
            spec: "{}",
            git_commit: "abc",
            archive: "a.zip",
            files: 3,
            description: "a todo list",
            changes: "3 files added",
            tree_key: "k1",
        };
        assert_eq!(apps::record_version(db, &v, 20).await?, 1);
        // The same job again (its worker died after recording) keeps its number.
        assert_eq!(apps::record_version(db, &v, 21).await?, 1, "{}", t.label);
        let claimed = jobs::claim(db, "w1", 30, 1_000).await?.expect("claim");
        assert!(jobs::finish(db, claimed.id, "w1", "packaged", None, 31).await?);
        let j2 = enqueue(db, a, 40).await?;
        let v2 = apps::NewVersion { job_id: j2, tree_key: "k2", ..v };
        assert_eq!(apps::record_version(db, &v2, 50).await?, 2, "{}", t.label);
        let listed: Vec<i64> = apps::versions(db, a).await?.iter().map(|v| v.version).collect();
        assert_eq!(listed, vec![2, 1]);
        let one = apps::version(db, a, 1).await?.expect("v1");
        assert_eq!((one.description.as_str(), one.tree_key.as_str()), ("a todo list", "k1"));
        assert!(apps::version(db, a, 3).await?.is_none());
        assert!(apps::has_tree(db, a, "k2").await? && !apps::has_tree(db, a, "k3").await?);
    }
    Ok(())
}
