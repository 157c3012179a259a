//! Benchmark: description → live, for each description of the development set, through the
//! real pipeline (offline planner, templates, the three checks in the bubblewrap sandbox, git
//! commit, zip, then the deploy: unpack, migrate the app's own SQLite file, smoke check, switch).
//! Prints each run, p50/p95 of the totals, and the share of time in each stage.
//!
//!     KILN_TOOLCHAIN_DIR=/var/cache/kiln/toolchain \
//!       cargo run --release -p kiln-pipeline --example bench_generate [-- ROUNDS]
//!
//! The development set is `../shared/dev-descriptions.json` (a copy lives in
//! `crates/planner/tests/`). Every run is a new app, so no checked tree is reused.

use kiln_pipeline::Pipeline;
use kiln_sandbox::Sandbox;
use kiln_store::{Clock, Db, jobs, users};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn descriptions() -> Vec<(String, String)> {
    kiln_planner::quality::dev_set().into_iter().map(|c| (c.id, c.description)).collect()
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1);
    let toolchain = PathBuf::from(
        std::env::var("KILN_TOOLCHAIN_DIR").unwrap_or_else(|_| "/var/cache/kiln/toolchain".into()),
    );
    anyhow::ensure!(
        toolchain.join("node_modules/.bin/eslint").exists(),
        "no toolchain in {} (scripts/setup --test installs it)",
        toolchain.display()
    );
    let dir = tempfile::tempdir()?;
    let db = Db::open(None, &dir.path().join("bench.db")).await?;
    db.migrate().await?;
    let clock = Clock::default();
    let mut tx = db.begin_write().await?;
    let owner = users::insert(&mut tx, "bench@example.com", "x", clock.now()).await?;
    tx.commit().await?;
    let sandbox = Sandbox { toolchain: Some(toolchain), ..Default::default() };
    let runtime = kiln_runtime::Runtime::new(
        db.clone(),
        clock.clone(),
        kiln_runtime::Config::local(dir.path().to_owned(), 3001),
    );
    let pipeline = Pipeline::new(db.clone(), clock, sandbox, dir.path().to_owned())
        .with_limits(kiln_pipeline::Limits { max_apps: 10_000, max_active_jobs: 10_000 })
        .with_runtime(runtime);

    let mut totals = Vec::new();
    let mut per_stage: BTreeMap<String, i64> = BTreeMap::new();
    println!("{:<12} {:>9}  stages (ms)", "case", "total ms");
    for _ in 0..rounds {
        for (id, description) in descriptions() {
            let created = pipeline.create_app(owner, &description, None, None).await?;
            pipeline.run_next("bench").await?;
            let events = jobs::events(&db, created.job_id, 0).await?;
            let job = jobs::get(&db, created.job_id).await?.expect("job");
            anyhow::ensure!(job.state == "live", "{id}: {} ({:?})", job.state, job.error);
            let states: Vec<_> = events.iter().filter(|e| e.kind == "state").collect();
            let mut line = String::new();
            for w in states.windows(2) {
                let ms = w[1].at - w[0].at;
                *per_stage.entry(w[0].state.clone()).or_default() += ms;
                line.push_str(&format!("{}={} ", w[0].state, ms));
            }
            // From the moment the job was queued (the request) to live.
            let total = states.last().map(|e| e.at).unwrap_or(0) - job.created_at;
            totals.push(total);
            println!("{id:<12} {total:>9}  {line}");
        }
    }
    totals.sort_unstable();
    let sum: i64 = per_stage.values().sum();
    println!(
        "\n{} runs: p50 {} ms, p95 {} ms, min {} ms, max {} ms",
        totals.len(),
        percentile(&totals, 0.5),
        percentile(&totals, 0.95),
        totals[0],
        totals[totals.len() - 1]
    );
    println!("share of time per stage:");
    for (stage, ms) in &per_stage {
        println!("  {stage:<11} {:>5.1}%", *ms as f64 * 100.0 / sum.max(1) as f64);
    }
    Ok(())
}
